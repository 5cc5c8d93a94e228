using System.Numerics;

namespace KestrelChat.LoadGen;

/// <summary>
/// Latencies in microseconds, bucketed like HdrHistogram: exact below 256 µs, then 128 buckets per
/// power of two (each within 0.8 %). Fixed size, so recording allocates nothing; each receive
/// thread records into its own (<see cref="LatencyRecorder"/>) and the shards are merged at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int Exact = 256;
    private const int SubBuckets = 128;
    private const int MaxPower = 40; // 2^40 µs ≈ 12 days: nothing is longer
    private readonly long[] _counts = new long[Exact + ((MaxPower - 8) * SubBuckets)];

    public long Count { get; private set; }

    public long MaxMicroseconds { get; private set; }

    public void Record(long microseconds)
    {
        microseconds = Math.Clamp(microseconds, 0, (1L << MaxPower) - 1);
        _counts[Index(microseconds)]++;
        Count++;
        if (microseconds > MaxMicroseconds)
        {
            MaxMicroseconds = microseconds;
        }
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }
        Count += other.Count;
        MaxMicroseconds = Math.Max(MaxMicroseconds, other.MaxMicroseconds);
    }

    /// <summary>The value at or below which <paramref name="percent"/> % of the recorded values lie (a bucket's upper end).</summary>
    public long Percentile(double percent)
    {
        if (Count == 0)
        {
            return 0;
        }
        var rank = (long)Math.Ceiling(Count * percent / 100);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= Math.Max(rank, 1))
            {
                return Math.Min(UpperBound(i), MaxMicroseconds);
            }
        }
        return MaxMicroseconds;
    }

    /// <summary>The non-empty buckets as [upper bound in µs, count]: what another process needs to merge percentiles.</summary>
    public IReadOnlyList<long[]> Buckets()
    {
        var buckets = new List<long[]>();
        for (var i = 0; i < _counts.Length; i++)
        {
            if (_counts[i] > 0)
            {
                buckets.Add([Math.Min(UpperBound(i), MaxMicroseconds), _counts[i]]);
            }
        }
        return buckets;
    }

    private static int Index(long value)
    {
        if (value < Exact)
        {
            return (int)value;
        }
        var power = BitOperations.Log2((ulong)value); // 8 and up
        return Exact + ((power - 8) * SubBuckets) + (int)((value >> (power - 7)) & (SubBuckets - 1));
    }

    private static long UpperBound(int index)
    {
        if (index < Exact)
        {
            return index;
        }
        var power = ((index - Exact) / SubBuckets) + 8;
        var sub = (index - Exact) % SubBuckets;
        return ((SubBuckets + sub + 1L) << (power - 7)) - 1;
    }
}

/// <summary>One <see cref="LatencyHistogram"/> per receiving thread: no locks, no shared cache lines.</summary>
internal sealed class LatencyRecorder : IDisposable
{
    private readonly ThreadLocal<LatencyHistogram> _shards = new(() => new LatencyHistogram(), trackAllValues: true);

    /// <summary>The calling thread's histogram; use it only until the next await.</summary>
    public LatencyHistogram Current => _shards.Value!;

    public LatencyHistogram Merge()
    {
        var all = new LatencyHistogram();
        foreach (var shard in _shards.Values)
        {
            all.Add(shard);
        }
        return all;
    }

    public void Dispose() => _shards.Dispose();
}
