using System.Buffers;
using System.IO.Pipelines;
using KestrelChat.Codecs;
using KestrelChat.Protocol;
using Microsoft.AspNetCore.Connections;

namespace KestrelChat.Chat;

/// <summary>
/// One client's output, written the way SignalR's HubConnectionContext writes: whoever sends a line
/// (usually another client's read loop, fanning out) copies it straight into this connection's pipe
/// under a per-connection lock and flushes without waiting. No queue, no task and no thread hop while
/// the client keeps up; Kestrel's transport sends whatever has piled up in one syscall.
/// A fan-out may also defer the flush: a sender's read loop writes every line of one read to every
/// recipient and then flushes each recipient once (<see cref="FlushDeferred"/>), as the C relay writes
/// once per receiver per epoll round. A flush (a lock in the pipe and a wake-up of the transport) costs
/// more than copying a line. What is written is whole lines: one, or a sender's batch of them (FanOutBatch).
/// When a flush does not complete at once (the peer is slow and the pipe is over Kestrel's write
/// buffer threshold), lines go by reference to a backlog bounded by bytes instead, and one drain task feeds the pipe
/// as the socket takes it. A sender therefore never waits: a slow client only grows its own backlog
/// until <see cref="Write(ReadOnlyMemory{byte}, int, List{ConnectionWriter}?)"/> refuses (IRC's "SendQ exceeded"), and the session disconnects it.
/// </summary>
internal sealed class ConnectionWriter(PipeWriter output, long capacityBytes)
{
    /// <summary>Flush at least this often while draining a long backlog, so the pipe's own buffer stays small.</summary>
    private const int MaxBatchBytes = 64 * 1024;

    /// <summary>
    /// A deferred flush waits for at most this many bytes. One read of a fast sender can hold up to
    /// Kestrel's 1 MiB input buffer of lines; copying all of them into every recipient's pipe before the
    /// flush would rent that much pinned memory per recipient (100 MB in the room workload). Past this, the
    /// flush goes out at once, and a peer that is behind gets the rest through its backlog (by reference, not copied).
    /// </summary>
    private const int MaxDeferredBytes = 16 * 1024;

    private readonly Lock _sync = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ChunkQueue? _backlog; // senders add here; only for a client that fell behind (or one with a framing)
    private ChunkQueue? _batch;   // the drain's: taken from the backlog in one swap, copied into the pipe outside the lock
    private long _backlogBytes;      // both queues
    private bool _draining;   // a drain task owns the pipe; new lines go to the backlog
    private bool _completing; // Complete() was called: the farewell is the last line
    private bool _gone;       // the transport stopped taking bytes (peer gone, aborted)
    private bool _flushDeferred; // unflushed bytes in the pipe; a fan-out's FlushDeferred will flush them
    private bool _lineOpen;   // the last bytes written ("NICK") left a line open: the next write starts with LF
    private int _unflushedBytes;
    private long _bytesOut, _messagesOut;
    private Exception? _fault;
    private IMessageFraming? _framing;

    /// <summary>
    /// Null: lines go into the pipe as they are. Otherwise the codec's shape (the lesson client: one message
    /// per write, without LF, paced): every line takes the backlog, and the drain writes and flushes them one
    /// by one. Set by the session when its codec changes.
    /// </summary>
    public IMessageFraming? Framing
    {
        get => Volatile.Read(ref _framing);
        set
        {
            lock (_sync)
            {
                _framing = value;
            }
        }
    }

    /// <summary>Bytes waiting in the backlog (not yet in the pipe).</summary>
    public long QueuedBytes => Interlocked.Read(ref _backlogBytes);

    /// <summary>Bytes handed to the transport.</summary>
    public long BytesOut => Volatile.Read(ref _bytesOut);

    public long MessagesOut => Volatile.Read(ref _messagesOut);

    /// <summary>What ended the output other than the peer going away (an exception in the drain); null normally.</summary>
    public Exception? Fault
    {
        get => Volatile.Read(ref _fault);
        private set => Volatile.Write(ref _fault, value);
    }

    /// <summary>Completes once <see cref="Complete"/> was called and everything before it is flushed, or the peer is gone.</summary>
    public Task Drained => _drained.Task;

    /// <summary>Writes one line; see <see cref="Write(ReadOnlyMemory{byte}, int, List{ConnectionWriter}?)"/>.</summary>
    public WriteResult Write(byte[] line, List<ConnectionWriter>? deferFlushTo = null) => Write(line, 1, deferFlushTo);

    /// <summary>
    /// Writes <paramref name="lines"/> whole lines (<paramref name="bytes"/>, each ending in LF); with
    /// <paramref name="deferFlushTo"/>, leaves the flush to its owner (this writer is added to it once)
    /// instead of flushing now. <see cref="WriteResult.Queued"/> means the backlog keeps a reference to
    /// <paramref name="bytes"/>: the caller must not reuse that memory.
    /// </summary>
    public WriteResult Write(ReadOnlyMemory<byte> bytes, int lines, List<ConnectionWriter>? deferFlushTo = null)
    {
        lock (_sync)
        {
            return WriteLocked(bytes, lines, deferFlushTo);
        }
    }

    // Under _sync.
    private WriteResult WriteLocked(ReadOnlyMemory<byte> bytes, int lines, List<ConnectionWriter>? deferFlushTo)
    {
        if (_completing || _gone)
        {
            return WriteResult.Closed;
        }
        if (_lineOpen)
        {
            EndOpenLine(bytes.Span);
        }
        if (!_draining && _framing is null)
        {
            WriteToPipe(bytes.Span, lines, deferFlushTo);
            return WriteResult.Written;
        }
        if (Interlocked.Read(ref _backlogBytes) + bytes.Length > capacityBytes)
        {
            return WriteResult.Overflow;
        }
        Enqueue(bytes, lines);
        return WriteResult.Queued;
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> ("NICK", which has no LF: the lesson's client wants it alone) and leaves
    /// the line open: whatever is written next starts with an LF, so a program reading lines reads "NICK" and
    /// then the welcome, never "NICK* Welcome…". Decided under this writer's lock, with the write that follows,
    /// so no sender can get its line in between. With a framing (messages, not lines) no LF is added.
    /// </summary>
    public void WriteOpenLine(byte[] bytes)
    {
        lock (_sync)
        {
            if (WriteLocked(bytes, 1, deferFlushTo: null) is WriteResult.Written or WriteResult.Queued)
            {
                _lineOpen = true;
            }
        }
    }

    /// <summary>Writes a last line past the capacity (a farewell must not be refused); nothing is accepted after it.</summary>
    public void Complete(byte[]? lastLine)
    {
        lock (_sync)
        {
            if (_completing)
            {
                return;
            }
            _completing = true;
            if (_gone)
            {
                _drained.TrySetResult();
                return;
            }
            if (lastLine is not null)
            {
                if (_lineOpen)
                {
                    EndOpenLine(lastLine);
                }
                (_backlog ??= new ChunkQueue()).Enqueue(new Chunk(lastLine, 1));
                Interlocked.Add(ref _backlogBytes, lastLine.Length);
            }
            StartDrain(pendingFlush: null);
        }
    }

    /// <summary>Flushes what a fan-out wrote with a deferred flush, unless a later write flushed it already.</summary>
    public void FlushDeferred()
    {
        lock (_sync)
        {
            if (_flushDeferred && !_draining && !_gone)
            {
                FlushLocked();
            }
            _flushDeferred = false;
        }
    }

    // Under _sync: the LF that ends the open line goes before the next bytes, flushed with them.
    private void EndOpenLine(ReadOnlySpan<byte> next)
    {
        _lineOpen = false;
        if (_framing is not null || next.IsEmpty || next[0] == (byte)'\n')
        {
            return;
        }
        if (_draining)
        {
            Enqueue(ServerLines.LineEnd, 0);
            return;
        }
        try
        {
            output.Write(ServerLines.LineEnd);
            Count(ServerLines.LineEnd.Length, 0);
            _unflushedBytes += ServerLines.LineEnd.Length;
        }
        catch (Exception ex) when (IsPeerGone(ex))
        {
            SetGone();
        }
    }

    // Under _sync, with no drain running: the pipe is ours.
    private void WriteToPipe(ReadOnlySpan<byte> bytes, int lines, List<ConnectionWriter>? deferFlushTo)
    {
        try
        {
            output.Write(bytes);
            Count(bytes.Length, lines);
        }
        catch (Exception ex) when (IsPeerGone(ex))
        {
            SetGone();
            return;
        }
        _unflushedBytes += bytes.Length;
        if (deferFlushTo is null || _unflushedBytes >= MaxDeferredBytes)
        {
            FlushLocked();
        }
        else if (!_flushDeferred)
        {
            _flushDeferred = true;
            deferFlushTo.Add(this);
        }
    }

    // Under _sync, with no drain running. A flush commits every byte written so far, deferred ones included.
    private void FlushLocked()
    {
        _flushDeferred = false;
        _unflushedBytes = 0;
        try
        {
            var flush = output.FlushAsync();
            if (!flush.IsCompleted)
            {
                StartDrain(flush); // over the write buffer threshold: wait for the socket, queue meanwhile
            }
            else if (IsEnd(flush.Result))
            {
                SetGone();
            }
        }
        catch (Exception ex) when (IsPeerGone(ex))
        {
            SetGone();
        }
    }

    private void Enqueue(ReadOnlyMemory<byte> bytes, int lines)
    {
        var backlog = _backlog ??= new ChunkQueue();
        if (_framing is not null && lines > 1)
        {
            // One message per line: split a sender's batch into its lines.
            var rest = bytes;
            while (rest.Length > 0)
            {
                var end = rest.Span.IndexOf((byte)'\n') + 1;
                end = end == 0 ? rest.Length : end;
                backlog.Enqueue(new Chunk(rest[..end], 1));
                rest = rest[end..];
            }
        }
        else
        {
            backlog.Enqueue(new Chunk(bytes, lines));
        }
        Interlocked.Add(ref _backlogBytes, bytes.Length);
        StartDrain(pendingFlush: null);
    }

    // Under _sync. Without a pending flush the drain starts on the thread pool: the caller holds the lock.
    private void StartDrain(ValueTask<FlushResult>? pendingFlush)
    {
        if (!_draining)
        {
            _draining = true;
            _ = pendingFlush is { } flush ? DrainAsync(flush) : DrainAsync(YieldedFlushAsync());
        }
    }

    private static async ValueTask<FlushResult> YieldedFlushAsync()
    {
        await Task.Yield();
        return default;
    }

    /// <summary>
    /// Owns the pipe until the backlog is empty: waits for the socket, then moves the next batch in.
    /// Nobody awaits it, so it never throws: whatever ends it, the writer is marked gone in
    /// <c>finally</c> (<see cref="Drained"/> completes) and an unexpected exception is kept in <see cref="Fault"/>.
    /// </summary>
    private async Task DrainAsync(ValueTask<FlushResult> pendingFlush)
    {
        var caughtUp = false;
        try
        {
            if (!IsEnd(await pendingFlush.ConfigureAwait(false)))
            {
                while (true)
                {
                    ChunkQueue batch;
                    lock (_sync)
                    {
                        if (_batch is not { Count: > 0 })
                        {
                            if (_backlog is not { Count: > 0 })
                            {
                                if (_completing)
                                {
                                    break;
                                }
                                _backlog?.Clear(); // caught up: back to direct writes, holding no segment
                                _batch?.Clear();
                                _draining = false;
                                caughtUp = true;
                                return;
                            }
                            (_batch, _backlog) = (_backlog, _batch); // O(1) under the lock; senders go on adding
                        }
                        batch = _batch;
                    }
                    var framing = WriteBatch(batch);
                    // Only this task writes to the pipe while _draining, so the flush needs no lock.
                    if (IsEnd(await output.FlushAsync().ConfigureAwait(false)))
                    {
                        break;
                    }
                    if (framing is not null)
                    {
                        await framing.AfterMessageAsync(BytesOut).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (Exception ex) when (IsPeerGone(ex))
        {
            // The read loop sees the same and ends the session.
        }
        catch (Exception ex)
        {
            Fault = ex; // not the peer: a bug or the transport; the session closes and the handler logs it
        }
        finally
        {
            if (!caughtUp)
            {
                lock (_sync)
                {
                    SetGone();
                    _draining = false;
                }
            }
        }
    }

    // Drain only, outside the lock: copies up to MaxBatchBytes into the pipe, or with a codec's framing
    // one message, which it returns (the next waits for it).
    private IMessageFraming? WriteBatch(ChunkQueue backlog)
    {
        if (Framing is { } framing)
        {
            var line = backlog.Dequeue();
            Interlocked.Add(ref _backlogBytes, -line.Bytes.Length);
            Count(framing.Write(line.Bytes.Span, output), 1);
            return framing;
        }
        var bytes = 0;
        var messages = 0;
        while (bytes < MaxBatchBytes && backlog.TryDequeue(out var next))
        {
            output.Write(next.Bytes.Span);
            bytes += next.Bytes.Length;
            messages += next.Lines;
        }
        Interlocked.Add(ref _backlogBytes, -bytes);
        Count(bytes, messages);
        return null;
    }

    private void Count(int bytes, int messages)
    {
        Volatile.Write(ref _bytesOut, _bytesOut + bytes);
        Volatile.Write(ref _messagesOut, _messagesOut + messages);
    }

    // Under _sync. Nothing more will be written: drop the backlog and release whoever waits for the drain.
    private void SetGone()
    {
        _gone = true;
        _backlog?.Clear();
        _batch?.Clear();
        Interlocked.Exchange(ref _backlogBytes, 0);
        if (_completing)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Whole lines waiting in the backlog: one line, or a sender's batch of them.</summary>
    private readonly record struct Chunk(ReadOnlyMemory<byte> Bytes, int Lines);

    /// <summary>
    /// The backlog's FIFO, in segments of <see cref="SegmentSize"/> chunks: it grows without copying and never
    /// into the large-object heap. When 5,000 clients talk at once every sender's read is one line, and a
    /// reader that is behind queues one chunk per line — 5,000 of them; a <see cref="Queue{T}"/> doubled its
    /// array to get there, copying and zeroing twice what it held.
    /// </summary>
    private sealed class ChunkQueue
    {
        private const int SegmentSize = 256;
        private Segment? _head, _tail;
        private int _headIndex, _tailIndex;

        public int Count { get; private set; }

        public void Enqueue(Chunk chunk)
        {
            if (_tail is null || _tailIndex == SegmentSize)
            {
                var segment = new Segment();
                if (_tail is null)
                {
                    _head = segment;
                }
                else
                {
                    _tail.Next = segment;
                }
                _tail = segment;
                _tailIndex = 0;
            }
            _tail.Items[_tailIndex++] = chunk;
            Count++;
        }

        public bool TryDequeue(out Chunk chunk)
        {
            if (Count == 0)
            {
                chunk = default;
                return false;
            }
            if (_headIndex == SegmentSize)
            {
                _head = _head!.Next;
                _headIndex = 0;
            }
            chunk = _head!.Items[_headIndex];
            _head.Items[_headIndex++] = default; // the sender's arena is not kept alive by a written line
            if (--Count == 0)
            {
                _tail = _head; // empty: start over in the same segment
                _head.Next = null;
                _headIndex = _tailIndex = 0;
            }
            return true;
        }

        public Chunk Dequeue() => TryDequeue(out var chunk) ? chunk : throw new InvalidOperationException("The backlog is empty.");

        /// <summary>Drops everything, segments included.</summary>
        public void Clear()
        {
            _head = _tail = null;
            _headIndex = _tailIndex = 0;
            Count = 0;
        }

        private sealed class Segment
        {
            public readonly Chunk[] Items = new Chunk[SegmentSize];
            public Segment? Next;
        }
    }

    private static bool IsEnd(FlushResult result) => result.IsCompleted || result.IsCanceled;

    private static bool IsPeerGone(Exception ex) => PeerGone.IsOnWrite(ex);
}

internal enum WriteResult
{
    /// <summary>Copied into the pipe.</summary>
    Written,

    /// <summary>Kept by reference in the backlog (the client is behind, or its codec frames each message).</summary>
    Queued,

    /// <summary>Refused: the backlog would pass its capacity (SendQ exceeded).</summary>
    Overflow,

    /// <summary>Dropped: the connection is closing or gone.</summary>
    Closed,
}
