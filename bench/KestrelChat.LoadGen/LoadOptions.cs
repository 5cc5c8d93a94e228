using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace KestrelChat.LoadGen;

/// <summary>The command line: where the server is and what load to put on it.</summary>
internal sealed record LoadOptions
{
    public const string Usage = """
        Usage: KestrelChat.LoadGen [options]

          --host HOST                server address (default 127.0.0.1)
          --port PORT[,PORT…]        chat port (default 55555); several ports = a cluster of instances on
                                     HOST: client i connects to port i mod N, and deliveries from a
                                     sender on another instance are also reported on their own
          --transport tcp|ws         tcp: a line per LF on the chat port (default); ws: the web chat's
                                     WebSocket (--port is Chat:Web:Url's), one text frame per line
          --clients C                clients that connect and name themselves (default 100)
          --senders S                how many of them send (default 10; 0..C)
          --messages M               messages each sender sends (default 2000)
          --bytes B                  bytes per message as typed, without LF (default 64; 1..4000);
                                     never less than its header "SENDER SEQ MICROS" (15-40 bytes)
          --rate R                   messages per second per sender; 0 = as fast as possible (default 0)
          --source ADDR[,ADDR…]      bind client i to source address i mod N before it connects: each
                                     address has its own ephemeral ports (about 28,000), so many
                                     clients need several (127.0.0.2, 127.0.0.3, … on loopback)
          --shard K/N                this process runs only clients i with i mod N = K of the C clients
                                     (several processes, each under its own open-files limit, make one
                                     run); needs --name-prefix and --start-file
          --name-prefix P            nicknames are P + client number (default: new for every run)
          --start-file F             once every client of this process is in the chat, say "ready" on
                                     stderr and wait until F exists before the senders start: the
                                     barrier across the processes of one run
          --connect-concurrency N    handshakes in flight at once; 0 = all clients at once (default 0)
          --timeout-seconds T        limit for the connect phase and again for the message phase (default 60)
          --send-timeout-seconds T   limit for the message phase alone (default: --timeout-seconds)
          --server-pid PID           the server's process on this machine: report its peak RSS, its CPU
                                     (and per delivery), and its RSS before the load
          --settle-seconds N         with --server-pid: after the load, close every client, wait N seconds and
                                     report the server's RSS then: what it gives back (default 0: not measured)
          --hold-seconds N           after the load, keep every client connected N seconds before closing them
                                     (says "holding" on stderr when it starts): time to look at the server
                                     with all of them in (bench/census.sh); default 0
          --json                     print the report as one JSON object instead of text
          --help                     show this help

        Exit code: 0 when every client received every message in order; 1 on loss, disorder,
        a failed client or a timeout; 2 on a bad command line.
        """;

    public string Host { get; init; } = "127.0.0.1";

    public IReadOnlyList<int> Ports { get; init; } = [55555];

    /// <summary>"tcp" or "ws".</summary>
    public string Transport { get; init; } = "tcp";

    public bool WebSocket => Transport == "ws";

    public int Clients { get; init; } = 100;

    public int Senders { get; init; } = 10;

    public int Messages { get; init; } = 2000;

    public int Bytes { get; init; } = 64;

    public double Rate { get; init; }

    public int ConnectConcurrency { get; init; }

    public IReadOnlyList<System.Net.IPAddress> Sources { get; init; } = [];

    public int ShardIndex { get; init; }

    /// <summary>Processes that share the run; 1 = this one runs every client.</summary>
    public int ShardCount { get; init; } = 1;

    public string? NamePrefix { get; init; }

    public string? StartFile { get; init; }

    public int TimeoutSeconds { get; init; } = 60;

    public int? SendTimeoutSeconds { get; init; }

    public int? ServerPid { get; init; }

    public int SettleSeconds { get; init; }

    public int HoldSeconds { get; init; }

    public bool Json { get; init; }

    public bool ShowHelp { get; init; }

    /// <summary>Parses <paramref name="args"/>; never throws (a bad command line is a usage error).</summary>
    public static bool TryParse(IReadOnlyList<string> args, [NotNullWhen(true)] out LoadOptions? options, [NotNullWhen(false)] out string? error)
    {
        var o = new LoadOptions();
        options = null;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name is "--help" or "-h" or "--json")
            {
                o = name == "--json" ? o with { Json = true } : o with { ShowHelp = true };
                continue;
            }
            if (i + 1 >= args.Count)
            {
                error = name.StartsWith("--", StringComparison.Ordinal) ? $"{name} needs a value" : $"unknown argument '{name}'";
                return false;
            }
            var value = args[++i];
            var number = 0;
            var parsed = name is "--host" or "--rate" or "--port" or "--transport" or "--source" or "--shard" or "--name-prefix" or "--start-file" || int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out number);
            if (!parsed)
            {
                error = $"{name} needs a whole number, not '{value}'";
                return false;
            }
            switch (name)
            {
                case "--host": o = o with { Host = value }; break;
                case "--port":
                    var ports = value.Split(',').Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : -1).ToArray();
                    o = o with { Ports = ports };
                    break;
                case "--transport" when value is "tcp" or "ws": o = o with { Transport = value }; break;
                case "--transport":
                    error = $"--transport is tcp or ws, not '{value}'";
                    return false;
                case "--source":
                    var sources = new List<System.Net.IPAddress>();
                    foreach (var text in value.Split(','))
                    {
                        if (!System.Net.IPAddress.TryParse(text, out var source))
                        {
                            error = $"--source needs IP addresses, not '{text}'";
                            return false;
                        }
                        sources.Add(source);
                    }
                    o = o with { Sources = sources };
                    break;
                case "--shard" when value.Split('/') is [var k, var n]
                    && int.TryParse(k, NumberStyles.None, CultureInfo.InvariantCulture, out var shard)
                    && int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var shards) && shards >= 1 && shard < shards:
                    o = o with { ShardIndex = shard, ShardCount = shards };
                    break;
                case "--shard":
                    error = $"--shard is K/N with 0 <= K < N, not '{value}'";
                    return false;
                case "--name-prefix": o = o with { NamePrefix = value }; break;
                case "--start-file": o = o with { StartFile = value }; break;
                case "--clients": o = o with { Clients = number }; break;
                case "--senders": o = o with { Senders = number }; break;
                case "--messages": o = o with { Messages = number }; break;
                case "--bytes": o = o with { Bytes = number }; break;
                case "--connect-concurrency": o = o with { ConnectConcurrency = number }; break;
                case "--timeout-seconds": o = o with { TimeoutSeconds = number }; break;
                case "--send-timeout-seconds": o = o with { SendTimeoutSeconds = number }; break;
                case "--server-pid": o = o with { ServerPid = number }; break;
                case "--settle-seconds": o = o with { SettleSeconds = number }; break;
                case "--hold-seconds": o = o with { HoldSeconds = number }; break;
                case "--rate" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate >= 0:
                    o = o with { Rate = rate };
                    break;
                case "--rate":
                    error = $"--rate needs a number of messages per second, 0 or more, not '{value}'";
                    return false;
                default:
                    error = $"unknown argument '{name}'";
                    return false;
            }
        }
        error = o.Validate();
        options = error is null ? o : null;
        return error is null;
    }

    private string? Validate() => this switch
    {
        { Host.Length: 0 } => "--host must not be empty",
        _ when Ports.Count == 0 || Ports.Any(p => p is < 1 or > 65535) => "--port must be 1..65535 (or a comma-separated list of them)",
        { Clients: < 1 } => "--clients must be at least 1",
        _ when Senders > Clients => "--senders must be 0..clients",
        { Bytes: < 1 or > 4000 } => "--bytes must be 1..4000 (KestrelChat's line limit is 4096 bytes)",
        { TimeoutSeconds: < 1 } => "--timeout-seconds must be at least 1",
        { SendTimeoutSeconds: < 1 } => "--send-timeout-seconds must be at least 1",
        { SettleSeconds: < 0 } => "--settle-seconds must be 0 or more",
        { SettleSeconds: > 0, ServerPid: null } => "--settle-seconds needs --server-pid",
        { ShardCount: > 1, NamePrefix: null } or { ShardCount: > 1, StartFile: null } => "--shard needs --name-prefix and --start-file",
        { NamePrefix.Length: 0 } => "--name-prefix must not be empty",
        _ => null,
    };
}
