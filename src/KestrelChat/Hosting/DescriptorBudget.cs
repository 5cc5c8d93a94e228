using System.Globalization;

namespace KestrelChat.Hosting;

/// <summary>
/// How many sockets this process may hold: the open-files limit (RLIMIT_NOFILE, which .NET raises
/// from the soft to the hard limit at start), less what was open at start and a reserve for files,
/// Redis, logs and assemblies loaded later. Every listener's cap comes out of it (<see cref="ChatConnections"/>,
/// <see cref="AdminConnections"/>), and the accept gates (<see cref="ConnectionGate"/>) never take more,
/// so accepting can never run the process into EMFILE.
/// </summary>
internal sealed class DescriptorBudget
{
    /// <summary>Connections over a chat cap are accepted, told "the server is full" and closed: that many may be in flight at once.</summary>
    public const int RefusalsInFlight = 32;

    /// <summary>The chat cap when Chat:Limits:MaxConnections is not set, if it fits.</summary>
    public const int DefaultChatConnections = 10000;

    private DescriptorBudget(int? limit, int openAtStart, int? configuredChat, int admin)
    {
        Limit = limit;
        OpenAtStart = openAtStart;
        Reserve = limit is { } l ? Math.Max(64, l / 50) : 0;
        AdminConnections = admin;
        ChatConfigured = configuredChat;
        var available = limit is null ? 1_000_000 : Math.Max(0, limit.Value - openAtStart - Reserve - 2 * RefusalsInFlight - admin);
        ChatFits = configuredChat switch
        {
            null or 0 => true,
            var n => n <= available,
        };
        ChatConnections = configuredChat switch
        {
            null => Math.Min(DefaultChatConnections, available),
            0 => limit is null ? 1_000_000 : available,
            var n => Math.Min(n.Value, available),
        };
        ChatAvailable = available;
    }

    /// <summary>The open-files limit in force; null where the platform does not say (then nothing is derived).</summary>
    public int? Limit { get; }

    /// <summary>Descriptors open when the budget was taken (the runtime's own, the log, the listeners' sockets are not yet).</summary>
    public int OpenAtStart { get; }

    /// <summary>Kept free for everything that is not an accepted socket.</summary>
    public int Reserve { get; }

    /// <summary>Chat connections (plain and TLS together, handshakes included) the server takes at once.</summary>
    public int ChatConnections { get; }

    /// <summary>The most chat connections that fit beside the admin API and the reserve.</summary>
    public int ChatAvailable { get; }

    /// <summary>Chat:Limits:MaxConnections as configured (null = the default).</summary>
    public int? ChatConfigured { get; }

    /// <summary>Whether an explicitly configured chat cap fits the descriptor limit.</summary>
    public bool ChatFits { get; }

    /// <summary>Admin API connections the server takes at once (Admin:MaxConnections).</summary>
    public int AdminConnections { get; }

    /// <summary>The open-files limit that would fit the configured caps.</summary>
    public int LimitNeeded => OpenAtStart + Reserve + 2 * RefusalsInFlight + AdminConnections + (ChatConfigured ?? DefaultChatConnections);

    /// <summary>
    /// Whether the process is within <see cref="RefusalsInFlight"/> descriptors of its limit: the accept gates'
    /// last line of defence against descriptors opened elsewhere. Descriptors are numbered lowest-free-first,
    /// so the number a probe gets is at least the count already open; a probe that fails is EMFILE itself.
    /// One open and close (microseconds), where counting /proc/self/fd takes tens of milliseconds at 10,000.
    /// </summary>
    public bool NearLimit()
    {
        if (Limit is not { } limit)
        {
            return false;
        }
        try
        {
            using var probe = File.OpenHandle("/dev/null");
            return probe.DangerousGetHandle() >= limit - RefusalsInFlight;
        }
        catch (IOException)
        {
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The budget for these caps (Chat:Limits:MaxConnections, Admin:MaxConnections) under the limit in force now.</summary>
    public static DescriptorBudget Measure(int? chatConnections, int adminConnections) =>
        new(ReadOpenFilesLimit(), CountOpenDescriptors() ?? 0, chatConnections, adminConnections);

    /// <summary>What start-up says when Chat:Limits:MaxConnections cannot fit: the numbers, and what to raise.</summary>
    public string DoesNotFit() =>
        $"Chat:Limits:MaxConnections is {ChatConfigured}, but this process may open only {Limit} files (ulimit -n): " +
        $"{OpenAtStart} are open at start, {Reserve} are kept for files, Redis and logs, {AdminConnections} for the admin API " +
        $"(Admin:MaxConnections) and {2 * RefusalsInFlight} for refusals, which leaves {ChatAvailable} for the chat. " +
        $"Raise the limit to at least {LimitNeeded} (ulimit -n {LimitNeeded}; systemd: LimitNOFILE={LimitNeeded}; " +
        $"Docker: ulimits nofile {LimitNeeded}) or set Chat:Limits:MaxConnections to {ChatAvailable} or less.";

    /// <summary>The soft RLIMIT_NOFILE as /proc/self/limits shows it ("Max open files  SOFT  HARD  files").</summary>
    internal static int? ReadOpenFilesLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var soft = line["Max open files".Length..].TrimStart().Split(' ', 2)[0];
                    return int.TryParse(soft, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    /// <summary>Open descriptors now (the entries of /proc/self/fd); null where there is no /proc.</summary>
    internal static int? CountOpenDescriptors()
    {
        try
        {
            var count = 0;
            foreach (var _ in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
            {
                count++;
            }
            return count;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
