using System.Diagnostics;

namespace KestrelChat.Cluster;

/// <summary>
/// What this instance says to the whole cluster, on its way to the rooms' Redis streams: in order, numbered per
/// room (<see cref="RoomStreamEntry"/>), kept while Redis is away and published when it is back. One loop sends;
/// consecutive messages of one room go as one entry, and the entries of a round are pipelined. A round that
/// fails is sent again from its first unconfirmed entry: an entry Redis took although the answer was lost is
/// then in the stream twice, and the receivers drop the copy by its numbers (<see cref="ClusterInbox"/>).
/// Bounded by <see cref="Window"/> and <see cref="MaxBytes"/>: past either the oldest lines are dropped, said in
/// the log, and the receivers learn of the hole from a number-only entry (they tell their members).
/// </summary>
internal sealed partial class ClusterOutbox(TimeSpan window, long maxBytes, ILogger logger) : IDisposable
{
    /// <summary>Messages of one room per entry, and bytes, at most: an entry is one Redis call and one PUBLISH.</summary>
    internal const int MaxEntryMessages = 512, MaxEntryBytes = 64 * 1024, MaxRoundEntries = 64;

    private const int MessageOverhead = 64; // the message object and its fields, roughly: what the byte bound counts beside the line

    private readonly Lock _gate = new(); // a leaf: taken under the registry's membership lock (Room.Notify), calls nothing
    private readonly Queue<Pending> _queue = new();             // _gate: not yet in an entry
    private readonly Dictionary<string, long> _nextSequence = []; // _gate: by room key, the number the next message gets
    private readonly HashSet<string> _markerQueued = [];         // _gate: rooms whose hole is to be told
    private long _queuedBytes;                                   // _gate
    private long _sendingBytes;                                  // the loop writes, Enqueue reads
    private readonly List<Formed> _sending = [];                 // the loop only: formed, not yet confirmed
    private readonly SemaphoreSlim _signal = new(0, 1);
    private int _signalled;
    private long _dropped;                                       // the loop and Enqueue under _gate

    public Guid Origin { get; } = Guid.NewGuid();

    public TimeSpan Window { get; } = window;

    public long MaxBytes { get; } = maxBytes;

    /// <summary>Messages dropped since the start (Redis away past the window or the bound).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Messages and entries not yet confirmed by Redis.</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count + Volatile.Read(ref _sendingCount);
            }
        }
    }

    private int _sendingCount;

    /// <summary>The room's key in Redis: its name's key, or "*" for what is for every room (announcements, instances gone).</summary>
    public static string RoomKey(string? room) => string.IsNullOrEmpty(room) ? "*" : Protocol.RoomNames.Key(room);

    /// <summary>
    /// Until <see cref="Release"/>, what is queued is not put in an entry: a member's change and the notice that
    /// tells it, queued one after the other, go in one entry, so a crash between the two cannot separate them.
    /// </summary>
    public void Hold()
    {
        lock (_gate)
        {
            _holds++;
        }
    }

    public void Release()
    {
        bool signal;
        lock (_gate)
        {
            signal = --_holds == 0 && _queue.Count > 0;
        }
        if (signal)
        {
            Signal();
        }
    }

    private int _holds; // _gate

    private void Signal()
    {
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            _signal.Release();
        }
    }

    /// <summary>Queues <paramref name="message"/>; never waits and never fails (past the bound the oldest go).</summary>
    public void Enqueue(ClusterMessage message)
    {
        var bytes = message.Line.Length + MessageOverhead;
        var key = RoomKey(message.Room);
        bool held;
        lock (_gate)
        {
            held = _holds > 0;
            ref var next = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_nextSequence, key, out var exists);
            if (!exists)
            {
                next = 1;
            }
            _queue.Enqueue(new Pending(message, key, next++, Stopwatch.GetTimestamp(), bytes));
            _queuedBytes += bytes;
            if (_queuedBytes + Volatile.Read(ref _sendingBytes) > MaxBytes)
            {
                DropOldestQueued(_ => _queue.Count > 1 && _queuedBytes + Volatile.Read(ref _sendingBytes) > MaxBytes);
            }
        }
        if (!held)
        {
            Signal();
        }
    }

    /// <summary>
    /// Sends until <paramref name="stopping"/>, then what it can within <paramref name="drainOnStop"/>.
    /// <paramref name="send"/> sends entries in order, pipelined, and returns how many from the first were confirmed
    /// (it throws nothing); <paramref name="available"/> says whether Redis answers now (bounded).
    /// </summary>
    public async Task RunAsync(Func<IReadOnlyList<(RoomStreamEntry Entry, byte[] Payload)>, Task<int>> send, Func<Task<bool>> available,
        TimeSpan drainOnStop, CancellationToken stopping)
    {
        try
        {
            while (true)
            {
                await _signal.WaitAsync(stopping).ConfigureAwait(false);
                Volatile.Write(ref _signalled, 0);
                await SendAllAsync(send, available, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The stop: what was said just before it goes out if Redis takes it in time.
            using var drain = new CancellationTokenSource(drainOnStop);
            try
            {
                await SendAllAsync(send, available, drain.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Redis did not take it in time.
            }
        }
    }

    private async Task SendAllAsync(Func<IReadOnlyList<(RoomStreamEntry Entry, byte[] Payload)>, Task<int>> send, Func<Task<bool>> available, CancellationToken stopping)
    {
        var failed = false;
        while (Form())
        {
            if (failed)
            {
                // Redis is away or frozen: wait until it answers, without piling copies into a frozen socket.
                do
                {
                    await Task.Delay(RetryDelay, stopping).ConfigureAwait(false);
                    if (await available().ConfigureAwait(false))
                    {
                        break; // nothing is dropped that Redis can take now
                    }
                    DropExpired();
                }
                while (_sending.Count > 0);
                if (_sending.Count == 0)
                {
                    continue;
                }
            }
            var confirmed = await send([.. _sending.Select(f => (f.Entry, f.Payload))]).ConfigureAwait(false);
            for (var i = 0; i < confirmed; i++)
            {
                Interlocked.Add(ref _sendingBytes, -_sending[i].Bytes);
            }
            _sending.RemoveRange(0, confirmed);
            Volatile.Write(ref _sendingCount, _sending.Count);
            failed = _sending.Count > 0;
            if (_heldSince != 0 && !failed)
            {
                LogSentAfterOutage(Stopwatch.GetElapsedTime(_heldSince).TotalSeconds);
                _heldSince = 0;
            }
            else if (failed && _heldSince == 0)
            {
                _heldSince = Stopwatch.GetTimestamp();
            }
        }
    }

    private long _heldSince; // the loop: when Redis stopped taking entries (0: it takes them)

    internal static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>Moves queued messages into entries (up to a round's worth); true if anything is to be sent.</summary>
    private bool Form()
    {
        lock (_gate)
        {
            while (_holds == 0 && _sending.Count < MaxRoundEntries && _queue.Count > 0)
            {
                var first = _queue.Dequeue();
                var messages = new List<ClusterMessage>();
                var bytes = first.Bytes;
                if (first.Message is null)
                {
                    _markerQueued.Remove(first.RoomKey); // a hole to tell: the number the room's next message will have
                }
                else
                {
                    messages.Add(first.Message);
                    while (_queue.TryPeek(out var next) && next.Message is not null && next.RoomKey == first.RoomKey
                        && messages.Count < MaxEntryMessages && bytes + next.Bytes <= MaxEntryBytes)
                    {
                        messages.Add(_queue.Dequeue().Message!);
                        bytes += next.Bytes;
                    }
                }
                _queuedBytes -= bytes;
                var entry = new RoomStreamEntry(Origin, first.Sequence, first.Message?.Room ?? first.Room ?? "", messages);
                _sending.Add(new Formed(entry, entry.Serialize(), first.RoomKey, first.EnqueuedAt, bytes));
                Interlocked.Add(ref _sendingBytes, bytes);
            }
            Volatile.Write(ref _sendingCount, _sending.Count);
            return _sending.Count > 0;
        }
    }

    /// <summary>Past the window or the bound, the oldest go: formed ones first, then queued ones.</summary>
    private void DropExpired()
    {
        var tooOld = Stopwatch.GetTimestamp() - (long)(Window.TotalSeconds * Stopwatch.Frequency);
        lock (_gate)
        {
            // Oldest first; a hole's entry stays (it is what tells the receivers), and keeps its place.
            _sending.RemoveAll(formed =>
            {
                if (formed.Entry.Messages.Count == 0 || formed.EnqueuedAt >= tooOld && _queuedBytes + Volatile.Read(ref _sendingBytes) <= MaxBytes)
                {
                    return false;
                }
                Interlocked.Add(ref _sendingBytes, -formed.Bytes);
                CountDropped(formed.Entry.Messages.Count, formed.RoomKey, formed.Entry.Room);
                return true;
            });
            DropOldestQueued(oldest => oldest.EnqueuedAt < tooOld || _queuedBytes + Volatile.Read(ref _sendingBytes) > MaxBytes);
            Volatile.Write(ref _sendingCount, _sending.Count);
        }
    }

    // Under _gate. A hole's entry met on the way goes to the end of the queue, which keeps it behind everything of
    // its room; it is never dropped (it is what tells the receivers).
    private void DropOldestQueued(Func<Pending, bool> drop)
    {
        for (var markers = 0; markers < _queue.Count && _queue.TryPeek(out var oldest);)
        {
            if (oldest.Message is null)
            {
                _queue.Enqueue(_queue.Dequeue());
                markers++;
                continue;
            }
            if (!drop(oldest))
            {
                return;
            }
            _queue.Dequeue();
            _queuedBytes -= oldest.Bytes;
            CountDropped(1, oldest.RoomKey, oldest.Message.Room);
        }
    }

    // Under _gate. The receivers see the hole when the room's next entry comes; a number-only entry at the end of
    // the queue makes sure one comes (after everything of the room still queued, so nothing is mistaken for a copy).
    private void CountDropped(int messages, string roomKey, string? room)
    {
        Interlocked.Add(ref _dropped, messages);
        if (_markerQueued.Count == 0)
        {
            LogDropping(Window.TotalSeconds, MaxBytes / (1024 * 1024)); // once per outage: until its holes are told
        }
        if (_markerQueued.Add(roomKey))
        {
            _queue.Enqueue(new Pending(null, roomKey, _nextSequence[roomKey], Stopwatch.GetTimestamp(), 0, room));
        }
    }

    private sealed record Pending(ClusterMessage? Message, string RoomKey, long Sequence, long EnqueuedAt, int Bytes, string? Room = null);

    private sealed record Formed(RoomStreamEntry Entry, byte[] Payload, string RoomKey, long EnqueuedAt, int Bytes);

    [LoggerMessage(LogLevel.Warning, "Lines for the other instances waited for Redis longer than Chat:Redis:CatchUpSeconds ({Seconds} s) or beyond {Megabytes} MiB: the oldest are dropped, and the other instances tell their members that some lines were missed")]
    private partial void LogDropping(double seconds, long megabytes);

    [LoggerMessage(LogLevel.Information, "Redis takes lines again: what was said here in the last {Seconds:0.0} s is published to the other instances")]
    private partial void LogSentAfterOutage(double seconds);

    public void Dispose() => _signal.Dispose();
}
