using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>
/// What the process says before it serves: <c>--help</c> and <c>--version</c>, and one plain line for
/// each way a start can fail that an operator can fix (a setting of the wrong type, a port in use),
/// instead of a stack trace. The caller prints it after "KestrelChat cannot start: " and exits 1.
/// </summary>
internal static partial class StartupProblems
{
    /// <summary>Answers --help, -h and --version; returns the exit code, or null to start the server.</summary>
    public static int? AnswerCommandLine(string[] args, TextWriter output)
    {
        if (args.Any(a => a is "--version" or "-v"))
        {
            output.WriteLine($"KestrelChat {Version} (.NET {Environment.Version})");
            return 0;
        }
        if (args.Any(a => a is "--help" or "-h" or "-?"))
        {
            output.Write(Help());
            return 0;
        }
        return null;
    }

    public static string Version =>
        typeof(StartupProblems).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "unknown";

    /// <summary>The usage text: how to run it, the two ports, every setting with its default (read from the code), where to read more.</summary>
    public static string Help()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"KestrelChat {Version}: a TCP chat server (plain UTF-8 lines: nc, telnet, Wireshark) with an HTTP admin API.");
        text.AppendLine();
        text.AppendLine("Usage: KestrelChat [--Section:Key=value ...]     (or dotnet KestrelChat.dll, dotnet run --project src/KestrelChat --)");
        text.AppendLine("       KestrelChat --help | --version");
        text.AppendLine();
        text.AppendLine("Ports: the chat on tcp 55555 (Chat:Port), the web chat on http://0.0.0.0:8000 (Chat:Web:Url), the admin API on");
        text.AppendLine("       http://127.0.0.1:8080 (Admin:Url); the chat over UDP when Chat:Udp:Port is set (the lesson: 55555).");
        text.AppendLine("Chat with: nc 127.0.0.1 55555. Stop with Ctrl+C, SIGTERM, `curl -X POST http://127.0.0.1:8080/stop` or the chat command стоп.");
        text.AppendLine();
        text.AppendLine("Settings (defaults shown; set as --Chat:Port=6000, as environment Chat__Port=6000, or in appsettings.json):");
        foreach (var (section, options, properties) in new[]
        {
            Defaults<ChatOptions>(ChatOptions.Section),
            Defaults<ChatLimitsOptions>(ChatLimitsOptions.Section),
            Defaults<HistoryOptions>(HistoryOptions.Section),
            Defaults<ChatTlsOptions>(ChatTlsOptions.Section),
            Defaults<WebOptions>(WebOptions.Section),
            Defaults<UdpOptions>(UdpOptions.Section),
            Defaults<RedisOptions>(RedisOptions.Section),
            Defaults<AdminOptions>(AdminOptions.Section),
        })
        {
            foreach (var property in properties.Where(p => p.CanWrite))
            {
                var value = property.GetValue(options);
                var shown = value switch
                {
                    null => "unset",
                    bool b => b ? "true" : "false",
                    string[] list => list.Length == 0 ? "none" : string.Join(",", list),
                    IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                    _ => value.ToString(),
                };
                text.AppendLine(CultureInfo.InvariantCulture, $"  {section}:{property.Name,-28} {shown}");
            }
        }
        text.AppendLine("  Serilog:MinimumLevel:Default         Information");
        text.AppendLine();
        text.AppendLine("What each setting means: README.md (Configuration); the wire protocol: docs/protocol.md.");
        return text.ToString();
    }

    /// <summary>A section's defaults and its settings; the type named here, so the Native AOT build keeps its properties.</summary>
    private static (string Section, object Options, PropertyInfo[] Properties) Defaults<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(string section)
        where T : new() =>
        (section, new T(), typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance));

    /// <summary>
    /// The operator's side of an exception thrown while the server starts, or null when it is not one of
    /// theirs (then it propagates with its stack trace, as a bug should).
    /// </summary>
    public static string? Describe(Exception exception, IConfiguration configuration) => exception switch
    {
        OptionsValidationException invalid => string.Join(" ", invalid.Failures),
        InvalidOperationException when ConversionFailure().Match(exception.Message) is { Success: true } match =>
            WrongType(match.Groups["key"].Value, match.Groups["type"].Value, configuration),
        PortInUseException inUse => inUse.Message,
        Cluster.InstanceNameTakenException taken => taken.Message,
        IOException { InnerException: Microsoft.AspNetCore.Connections.AddressInUseException } => $"{exception.Message} Is another server using the port?",
        _ => null,
    };

    private static string WrongType(string key, string type, IConfiguration configuration)
    {
        var kind = type switch
        {
            _ when type.Contains("Int32", StringComparison.Ordinal) || type.Contains("Int64", StringComparison.Ordinal) => "a whole number",
            _ when type.Contains("Boolean", StringComparison.Ordinal) => "true or false",
            _ when type.Contains("Double", StringComparison.Ordinal) => "a number",
            _ => $"a {type}",
        };
        return $"{key} must be {kind}; it is '{configuration[key]}'.";
    }

    [GeneratedRegex(@"Failed to convert configuration value (?:'[^']*' )?at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex ConversionFailure();

    /// <summary>
    /// Tries each listener's address before Kestrel binds it, so a port in use is one line that names the
    /// setting, not Kestrel's stack trace (which would also call the chat port "http://").
    /// </summary>
    public static void EnsurePortsFree(IServiceProvider services)
    {
        var chat = services.GetRequiredService<IOptions<ChatOptions>>().Value;
        var tls = services.GetRequiredService<IOptions<ChatTlsOptions>>().Value;
        var admin = services.GetRequiredService<IOptions<AdminOptions>>().Value;
        Try(new IPEndPoint(chat.BindIPAddress(), chat.Port), "the chat port", "Chat:Port", "tcp");
        if (tls.Port is { } tlsPort)
        {
            Try(new IPEndPoint(chat.BindIPAddress(), tlsPort), "the TLS chat port", "Chat:Tls:Port", "tls");
        }
        Try(admin.EndPoint(), "the admin API's port", "Admin:Url", "http");
        if (services.GetRequiredService<IOptions<WebOptions>>().Value is { Enabled: true } web)
        {
            Try(web.EndPoint(), "the web chat's port", "Chat:Web:Url", web.IsHttps ? "https" : "http");
        }

        static void Try(IPEndPoint endPoint, string what, string setting, string scheme)
        {
            if (endPoint.Port == 0)
            {
                return;
            }
            using var probe = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                probe.DualMode = true;
            }
            try
            {
                probe.Bind(endPoint);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw new PortInUseException(
                    $"{what} {endPoint.Port} ({setting}) is in use: {scheme}://{endPoint} is taken by another program. " +
                    $"See which with: ss -ltnp 'sport = :{endPoint.Port}'. Stop it, or choose another port ({setting}).");
            }
        }
    }
}

/// <summary>A listener's address is taken; the message says which setting and what to do.</summary>
internal sealed class PortInUseException(string message) : Exception(message);
