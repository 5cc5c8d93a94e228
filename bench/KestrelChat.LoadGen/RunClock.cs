using System.Diagnostics;

namespace KestrelChat.LoadGen;

/// <summary>
/// Microseconds since the generator started: the time stamp inside every message. Senders and
/// receivers share this process and so this clock; a small number is quick to write and parse,
/// and a latency is one subtraction (no division per message).
/// </summary>
internal static class RunClock
{
    private static readonly long Start = Stopwatch.GetTimestamp();

    public static long Microseconds => Stopwatch.GetElapsedTime(Start).Ticks / TimeSpan.TicksPerMicrosecond;

    public static double Seconds(long fromMicroseconds, long toMicroseconds) => (toMicroseconds - fromMicroseconds) / 1e6;
}
