using System.Globalization;

namespace KestrelChat.LoadGen;

/// <summary>
/// What /proc says about the server process when it runs on this machine: its peak resident set
/// (VmHWM, the kernel's high-water mark since the process started), its resident set now (VmRSS)
/// and the CPU time it has used.
/// </summary>
internal sealed record ServerProcessStats(long PeakRssBytes, TimeSpan CpuTime, long RssBytes)
{
    /// <summary>USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux we run on.</summary>
    private const double ClockTicksPerSecond = 100;

    /// <summary>Null when there is no such process or no /proc (not Linux).</summary>
    public static ServerProcessStats? Read(int pid)
    {
        try
        {
            var status = File.ReadAllLines($"/proc/{pid}/status");
            var hwm = status.FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            // "VmHWM:    123456 kB"
            var peakKb = hwm is null ? 0 : long.Parse(hwm.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            var rss = status.FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            var rssKb = rss is null ? 0 : long.Parse(rss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

            // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return new ServerProcessStats(peakKb * 1024, TimeSpan.FromSeconds(ticks / ClockTicksPerSecond), rssKb * 1024);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
