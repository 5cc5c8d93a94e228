using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;

namespace KestrelChat.Chat;

/// <summary>
/// The dashboard's wire view of one connection: its bytes both ways as they pass, from the moment someone
/// watches (nothing is kept before), to each watcher through a bounded queue (a watcher that falls behind
/// loses the oldest and is told how many bytes it missed). A connection nobody watches has no tap: the read
/// loop and the writer check one field and go on.
/// </summary>
internal sealed class WireTap
{
    /// <summary>Chunks a watcher may have waiting before the oldest go.</summary>
    internal const int WatcherQueue = 1024;

    /// <summary>The most of one read or write a chunk carries (the rest is counted as missed).</summary>
    internal const int MaxChunkBytes = 4096;

    private readonly Lock _gate = new();
    private Channel<WireChunk>[] _watchers = [];

    /// <summary>A new watcher's queue; <see cref="Stop"/> when it goes.</summary>
    public ChannelReader<WireChunk> Watch()
    {
        var channel = Channel.CreateBounded<WireChunk>(new BoundedChannelOptions(WatcherQueue)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_gate)
        {
            _watchers = [.. _watchers, channel];
        }
        return channel.Reader;
    }

    /// <summary>Removes a watcher; true when none is left (the session then drops the tap).</summary>
    public bool Stop(ChannelReader<WireChunk> reader)
    {
        lock (_gate)
        {
            _watchers = [.. _watchers.Where(w => w.Reader != reader)];
            return _watchers.Length == 0;
        }
    }

    public void Passed(bool fromClient, ReadOnlySequence<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }
        var kept = (int)Math.Min(bytes.Length, MaxChunkBytes);
        var chunk = new WireChunk(fromClient, DateTimeOffset.UtcNow, bytes.Slice(0, kept).ToArray(), bytes.Length - kept);
        foreach (var watcher in Volatile.Read(ref _watchers))
        {
            watcher.Writer.TryWrite(chunk);
        }
    }

    public void Passed(bool fromClient, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }
        var kept = Math.Min(bytes.Length, MaxChunkBytes);
        var chunk = new WireChunk(fromClient, DateTimeOffset.UtcNow, bytes[..kept].ToArray(), bytes.Length - kept);
        foreach (var watcher in Volatile.Read(ref _watchers))
        {
            watcher.Writer.TryWrite(chunk);
        }
    }
}

/// <summary>One read (FromClient) or write of a connection, as it passed; Cut: bytes of it not kept.</summary>
internal sealed record WireChunk(bool FromClient, DateTimeOffset At, byte[] Bytes, long Cut);

/// <summary>
/// The connection's output as the session's writer sees it, passed on unchanged; while the connection is
/// watched, what each write put in the pipe also goes to its <see cref="WireTap"/>.
/// </summary>
internal sealed class TappedPipeWriter(PipeWriter inner, Func<WireTap?> tap) : PipeWriter
{
    private Memory<byte> _lastMemory; // between GetSpan/GetMemory and Advance only

    public override void Advance(int bytes)
    {
        if (tap() is { } watching && bytes > 0)
        {
            watching.Passed(fromClient: false, _lastMemory.Span[..bytes]);
        }
        // Not kept past the write: the block goes back to the pool with the flush, and a reference here would keep
        // its array alive after the pool let it go — 4 KiB held by every idle connection (bench/census.sh).
        _lastMemory = default;
        inner.Advance(bytes);
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => _lastMemory = inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        _lastMemory = inner.GetMemory(sizeHint);
        return _lastMemory.Span;
    }

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;
}
