using System.Diagnostics;

namespace KestrelChat.Chat;

/// <summary>
/// A token bucket per client (Chat:Limits:MessagesPerSecond and Burst): each line takes a token;
/// tokens come back at the rate, up to the burst. Over the rate the read loop waits for the next
/// token instead of dropping the line (ergo's "fakelag"), so a fast paster is slowed, never loses
/// a line, and the lines keep their order. Refilled lazily from timestamps: no timer per client.
/// </summary>
internal sealed class FloodControl
{
    private readonly double _ticksPerToken;
    private readonly long _burstTicks;
    private long _emptyAt; // the timestamp at which the bucket would be exactly empty

    /// <summary>Null when <paramref name="messagesPerSecond"/> is 0 (flood control off).</summary>
    public static FloodControl? Create(double messagesPerSecond, int burst, long now) =>
        messagesPerSecond > 0 ? new FloodControl(messagesPerSecond, burst, now) : null;

    private FloodControl(double messagesPerSecond, int burst, long now)
    {
        _ticksPerToken = Stopwatch.Frequency / messagesPerSecond;
        _burstTicks = (long)(_ticksPerToken * burst);
        _emptyAt = now - _burstTicks; // starts full
    }

    /// <summary>
    /// Takes a token for one line at <paramref name="now"/> (a <see cref="Stopwatch"/> timestamp).
    /// Returns <see cref="TimeSpan.Zero"/> if the line may go now, else how long to wait before
    /// asking again.
    /// </summary>
    public TimeSpan TryTake(long now)
    {
        // "Empty at" never lags more than a full bucket behind now: unused time beyond the burst is lost.
        var emptyAt = Math.Max(_emptyAt, now - _burstTicks);
        var next = emptyAt + (long)_ticksPerToken;
        if (next > now)
        {
            return Stopwatch.GetElapsedTime(now, next);
        }
        _emptyAt = next;
        return TimeSpan.Zero;
    }
}
