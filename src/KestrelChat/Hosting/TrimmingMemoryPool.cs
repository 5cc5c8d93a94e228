using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace KestrelChat.Hosting;

/// <summary>
/// The blocks Kestrel reads sockets into and writes them from: 4 KiB arrays, reused as in Kestrel's own
/// pool, but given back after a burst. Kestrel's pool keeps every block it ever made and lets go of 5 % of
/// the idle ones every 10 s; after a storm of 2,000 talking clients that is 160 MB still held a minute
/// later. This one keeps what the last <see cref="DemandWindow"/> seconds needed at their peak, and
/// <see cref="MemoryTrimmer"/> drops the rest each second.
/// The arrays are ordinary, not pinned: Linux sockets pin a buffer only for the system call, and an
/// ordinary array can be moved when the GC compacts. Pinned ones live in the pinned object heap, which is
/// never compacted: a few blocks still in use, scattered over it, kept the whole burst's heap committed.
/// </summary>
internal sealed class TrimmingMemoryPool(int blockSize = TrimmingMemoryPool.DefaultBlockSize) : MemoryPool<byte>
{
    /// <summary>Kestrel's block: a page.</summary>
    public const int DefaultBlockSize = 4096;

    /// <summary>Seconds of peak demand a pool keeps blocks for: a burst's blocks stay while it lasts, and go 10 s after it ends.</summary>
    public const int DemandWindow = 10;

    /// <summary>Idle bytes kept whatever the demand: a quiet chat does not allocate on every read.</summary>
    public const int MinimumIdleBytes = 1024 * 1024;

    private readonly ConcurrentQueue<Block> _idle = new();
    private readonly int[] _peaks = new int[DemandWindow]; // peak blocks in use, one entry per trim (second)
    private int _peakIndex;
    private int _inUse;
    private int _peak; // since the last trim
    private long _created;
    private long _dropped;
    private volatile bool _disposed;

    public int BlockSize { get; } = blockSize;

    public override int MaxBufferSize => BlockSize;

    /// <summary>Bytes in blocks rented out now.</summary>
    public long InUseBytes => (long)Volatile.Read(ref _inUse) * BlockSize;

    /// <summary>Bytes in blocks waiting to be rented.</summary>
    public long IdleBytes => (long)_idle.Count * BlockSize;

    /// <summary>Blocks this pool has allocated, and dropped to the GC, since it was made.</summary>
    public (long Created, long Dropped) Totals => (Interlocked.Read(ref _created), Interlocked.Read(ref _dropped));

    public override IMemoryOwner<byte> Rent(int size = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, BlockSize);
        if (!_idle.TryDequeue(out var block))
        {
            block = new Block(this, BlockSize);
            Interlocked.Increment(ref _created);
        }
        var inUse = Interlocked.Increment(ref _inUse);
        if (inUse > Volatile.Read(ref _peak))
        {
            RaisePeak(inUse);
        }
        return block;
    }

    private void RaisePeak(int inUse)
    {
        var peak = Volatile.Read(ref _peak);
        while (inUse > peak && Interlocked.CompareExchange(ref _peak, inUse, peak) is var seen && seen != peak)
        {
            peak = seen;
        }
    }

    private void Return(Block block)
    {
        Interlocked.Decrement(ref _inUse);
        if (!_disposed)
        {
            _idle.Enqueue(block);
        }
    }

    /// <summary>
    /// Called once a second: keeps as many idle blocks as the busiest second of the last
    /// <see cref="DemandWindow"/> had beyond what is in use now (at least <see cref="MinimumIdleBytes"/>),
    /// and drops the rest. Returns the bytes dropped.
    /// </summary>
    public long Trim()
    {
        var inUse = Volatile.Read(ref _inUse);
        _peaks[_peakIndex] = Interlocked.Exchange(ref _peak, inUse);
        _peakIndex = (_peakIndex + 1) % _peaks.Length;
        var keep = Math.Max(MinimumIdleBytes / BlockSize, _peaks.Max() - inUse);
        var excess = _idle.Count - keep;
        long dropped = 0;
        while (excess-- > 0 && _idle.TryDequeue(out _))
        {
            dropped++;
        }
        Interlocked.Add(ref _dropped, dropped);
        return dropped * BlockSize;
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _idle.Clear();
    }

    /// <summary>One block; disposing it (the pipe is done with it) puts it back in its pool.</summary>
    private sealed class Block(TrimmingMemoryPool pool, int size) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory { get; } = GC.AllocateUninitializedArray<byte>(size);

        public void Dispose() => pool.Return(this);
    }
}

/// <summary>
/// Kestrel asks this for its pools (the socket transport makes one per I/O queue): registered in place of
/// Kestrel's own factory, it makes <see cref="TrimmingMemoryPool"/>s and keeps them for <see cref="MemoryTrimmer"/>.
/// </summary>
internal sealed class TrimmingMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    private readonly Lock _sync = new();
    private readonly List<TrimmingMemoryPool> _pools = [];

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => Create(TrimmingMemoryPool.DefaultBlockSize);

    /// <summary>A pool of blocks of <paramref name="blockSize"/> bytes.</summary>
    public MemoryPool<byte> Create(int blockSize)
    {
        var pool = new TrimmingMemoryPool(blockSize);
        lock (_sync)
        {
            _pools.Add(pool);
        }
        return pool;
    }

    public TrimmingMemoryPool[] Pools
    {
        get
        {
            lock (_sync)
            {
                return [.. _pools];
            }
        }
    }
}
