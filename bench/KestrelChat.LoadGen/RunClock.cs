using System.Diagnostics;

namespace KestrelChat.LoadGen;

/// <summary>
/// The machine's monotonic clock in microseconds (CLOCK_MONOTONIC on Linux: the time since boot): the
/// time stamp inside every message. Every process on the machine reads the same clock, so a sender in
/// one generator process and a receiver in another (--shard) measure one latency; a latency is one
/// subtraction (no division per message).
/// </summary>
internal static class RunClock
{
    private static readonly long TicksPerMicrosecond = Math.Max(Stopwatch.Frequency / 1_000_000, 1);

    public static long Microseconds => Stopwatch.GetTimestamp() / TicksPerMicrosecond;

    public static double Seconds(long fromMicroseconds, long toMicroseconds) => (toMicroseconds - fromMicroseconds) / 1e6;
}
