using KestrelChat.Chat;

namespace KestrelChat.Cluster;

/// <summary>
/// What the other instances said, delivered here exactly once and in order. Entries come live (PUBLISH, in the
/// order of the rooms' streams) and, after an outage or a hole, from the streams themselves (XRANGE from the last
/// id delivered): the two meet here. For each room it keeps the last stream id delivered and, for each origin,
/// the last message number: a message at or below it is a copy (a retried publish, a live entry that the
/// catch-up read as well) and is dropped; a message past the next number means some were lost for good (Redis
/// trimmed them, lost them in a restart, or the origin dropped them), which the room's members are told once.
/// While a room catches up, its live entries wait behind what the stream returns.
/// Every method is safe from any thread; delivery happens under <see cref="_gate"/> (level 0: above the
/// registry's membership lock, which delivery takes; nothing that holds membership comes here). What is delivered
/// under the gate is flushed before the gate is let go, once per recipient (<see cref="_flushes"/>): a batch of
/// live entries, or a page of a stream, costs each member one flush, as a sender's read does.
/// </summary>
internal sealed partial class ClusterInbox(Guid self, Action<ClusterMessage, DeferredFlushes> deliver, Func<string, byte[]> missedNotice, ILogger logger) : IDisposable
{
    /// <summary>Entries read from a stream per call while catching up.</summary>
    internal const int ReadCount = 512;

    /// <summary>A room's members are told of missed lines at most this often.</summary>
    internal static readonly TimeSpan HoleNoticeInterval = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private readonly DeferredFlushes _flushes = new() { InRounds = false }; // _gate: recipients written to and not yet flushed
    private readonly Dictionary<string, RoomState> _rooms = [];  // _gate, by room key
    private StreamId _newest;                                    // _gate: the newest id delivered from any room
    private bool _suspended;                                     // _gate: no subscription: live entries wait
    private bool _catchUpAll;                                    // _gate
    private int _outages;                                        // _gate: Suspend calls; a catch-up ends an outage only if none came since it began
    private readonly HashSet<string> _catchUpRooms = [];         // _gate
    private readonly SemaphoreSlim _signal = new(0, 1);
    private int _signalled;

    /// <summary>Times a room's members were told that lines were missed (since the start).</summary>
    public long HolesTold => Interlocked.Read(ref _holesTold);

    private long _holesTold;

    /// <summary>An entry from the live subscription.</summary>
    public void OnLive(StreamId id, RoomStreamEntry entry) => OnLive([(id, entry)]);

    /// <summary>Entries from the live subscription, in the order they came (what had queued up while the last batch went out).</summary>
    public void OnLive(IReadOnlyList<(StreamId Id, RoomStreamEntry Entry)> entries)
    {
        lock (_gate)
        {
            // One line (a chat at its everyday pace): its walk over a large room flushes in rounds, so the first
            // members have it while the rest are written. Several: each member is flushed once, at the end.
            _flushes.InRounds = entries.Count == 1 && entries[0].Entry.Messages.Count == 1;
            try
            {
                foreach (var (id, entry) in entries)
                {
                    OnLiveLocked(id, entry);
                }
            }
            finally
            {
                _flushes.InRounds = false;
                _flushes.FlushAll();
            }
        }
    }

    // Under _gate.
    private void OnLiveLocked(StreamId id, RoomStreamEntry entry)
    {
        var room = Room(ClusterOutbox.RoomKey(entry.Room));
        if (_suspended || room.Waiting is not null)
        {
            (room.Waiting ??= []).Add((id, entry));
            return;
        }
        if (!Apply(room, id, entry, final: false))
        {
            // A hole: the entries between may be in the stream (a PUBLISH lost in a reconnect). Look before telling.
            room.Waiting = [(id, entry)];
            _catchUpRooms.Add(ClusterOutbox.RoomKey(entry.Room));
            Signal();
        }
    }

    /// <summary>The subscription is (or may have been) lost: live entries wait until the streams are read.</summary>
    public void Suspend()
    {
        lock (_gate)
        {
            _suspended = true;
            _catchUpAll = true;
            _outages++;
        }
        Signal();
    }

    /// <summary>
    /// Catches up when asked (<see cref="Suspend"/>, a hole) until <paramref name="stopping"/>.
    /// <paramref name="activeRooms"/>: the keys of rooms with entries since a time of Redis's clock (ms);
    /// <paramref name="read"/>: up to <see cref="ReadCount"/> entries of a room after an id (inclusive when the
    /// flag is set); <paramref name="ready"/>: waits until the subscription is live again (throws if Redis is away).
    /// A failed round is tried again after <see cref="ClusterOutbox.RetryDelay"/>.
    /// </summary>
    public async Task RunAsync(Func<long, Task<IReadOnlyList<string>>> activeRooms,
        Func<string, StreamId, bool, Task<IReadOnlyList<(StreamId Id, RoomStreamEntry? Entry)>>> read,
        Func<Task> ready, Func<Exception, bool> isRedisFailure, CancellationToken stopping)
    {
        try
        {
            while (true)
            {
                await _signal.WaitAsync(stopping).ConfigureAwait(false);
                Volatile.Write(ref _signalled, 0);
                while (true)
                {
                    try
                    {
                        await CatchUpAsync(activeRooms, read, ready).ConfigureAwait(false);
                        break;
                    }
                    catch (Exception ex) when (isRedisFailure(ex))
                    {
                        LogCatchUpFailed(ex.Message);
                        await Task.Delay(ClusterOutbox.RetryDelay, stopping).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The stop.
        }
    }

    private async Task CatchUpAsync(Func<long, Task<IReadOnlyList<string>>> activeRooms,
        Func<string, StreamId, bool, Task<IReadOnlyList<(StreamId Id, RoomStreamEntry? Entry)>>> read, Func<Task> ready)
    {
        bool all;
        int outages;
        StreamId since;
        List<string> rooms;
        lock (_gate)
        {
            all = _catchUpAll;
            outages = _outages;
            since = _newest;
            rooms = [.. _catchUpRooms];
        }
        if (all)
        {
            await ready().ConfigureAwait(false);
            // Rooms that had entries since shortly before the newest this instance has: a room new to it may have
            // started while it was away. A second of slack for clock steps within Redis between streams.
            rooms = [.. rooms.Union(await activeRooms(since.Milliseconds - 1000).ConfigureAwait(false))];
        }
        var caughtUp = 0;
        foreach (var key in rooms)
        {
            caughtUp += await CatchUpRoomAsync(key, since, read).ConfigureAwait(false);
        }
        lock (_gate)
        {
            if (all && outages == _outages)
            {
                _catchUpAll = false;
                _suspended = false;
            }
            _catchUpRooms.ExceptWith(rooms);
            try
            {
                // A room whose first live entry came after the list of rooms was read: its entries are in order.
                foreach (var (key, room) in _rooms)
                {
                    if (!_suspended && room.Waiting is not null && !_catchUpRooms.Contains(key))
                    {
                        Release(room);
                    }
                }
            }
            finally
            {
                _flushes.FlushAll();
            }
        }
        if (all)
        {
            LogCaughtUp(rooms.Count, caughtUp);
        }
    }

    /// <summary>Reads a room's stream after the last id delivered, delivers what is new, then what waited live.</summary>
    private async Task<int> CatchUpRoomAsync(string key, StreamId since, Func<string, StreamId, bool, Task<IReadOnlyList<(StreamId Id, RoomStreamEntry? Entry)>>> read)
    {
        StreamId after;
        bool inclusive;
        lock (_gate)
        {
            // A room never heard of: everything since about when this instance last heard anything.
            (after, inclusive) = _rooms.TryGetValue(key, out var known) && known.LastId > StreamId.Zero
                ? (known.LastId, false)
                : (new StreamId(Math.Max(0, since.Milliseconds - 1000), 0), true);
        }
        var delivered = 0;
        while (true)
        {
            var entries = await read(key, after, inclusive).ConfigureAwait(false);
            lock (_gate)
            {
                try
                {
                    var room = Room(key);
                    foreach (var (id, entry) in entries)
                    {
                        if (entry is not null)
                        {
                            delivered += entry.Messages.Count;
                            Apply(room, id, entry, final: true);
                        }
                        else
                        {
                            Advance(room, id);
                        }
                    }
                    if (entries.Count < ReadCount)
                    {
                        Release(room); // what waited live and the stream read overlap: the copies are dropped by number
                        return delivered;
                    }
                }
                finally
                {
                    _flushes.FlushAll();
                }
            }
            (after, inclusive) = (entries[^1].Id, false);
        }
    }

    // Under _gate: what waited live, in order, then live again.
    private void Release(RoomState room)
    {
        if (room.Waiting is { } waiting)
        {
            room.Waiting = null;
            foreach (var (id, entry) in waiting)
            {
                Apply(room, id, entry, final: true);
            }
        }
    }

    /// <summary>Forgets rooms that have said nothing for <paramref name="idle"/> (their streams have been trimmed).</summary>
    public void Forget(TimeSpan idle)
    {
        var before = Environment.TickCount64 - (long)idle.TotalMilliseconds;
        lock (_gate)
        {
            foreach (var (key, room) in _rooms)
            {
                if (room.Waiting is null && room.TouchedAt < before)
                {
                    _rooms.Remove(key);
                }
            }
        }
    }

    /// <summary>
    /// Under _gate. Delivers what of <paramref name="entry"/> this instance has not had; false (nothing done) when
    /// it leaves a hole and <paramref name="final"/> is not set, so that the stream is read first.
    /// </summary>
    private bool Apply(RoomState room, StreamId id, RoomStreamEntry entry, bool final)
    {
        var known = room.Last.TryGetValue(entry.Origin, out var last);
        if (known && entry.FirstSequence > last + 1 && entry.Origin != self)
        {
            if (!final)
            {
                return false;
            }
            LogHole(entry.Room, entry.FirstSequence - last - 1);
            // One outage leaves a hole per stretch the origin dropped: the members hear of it once.
            if (entry.Room.Length > 0 && Environment.TickCount64 - room.HoleToldAt > HoleNoticeInterval.TotalMilliseconds)
            {
                room.HoleToldAt = Environment.TickCount64;
                Interlocked.Increment(ref _holesTold);
                deliver(new ClusterMessage(ClusterMessageKind.ToMembers, "", null, missedNotice(entry.Room), entry.Room), _flushes);
            }
        }
        Advance(room, id);
        if (entry.Origin != self)
        {
            // Numbered from FirstSequence: skip the ones already delivered.
            for (var i = known ? (int)Math.Clamp(last + 1 - entry.FirstSequence, 0, entry.Messages.Count) : 0; i < entry.Messages.Count; i++)
            {
                deliver(entry.Messages[i], _flushes);
            }
        }
        if (!known || entry.NextSequence - 1 > last)
        {
            room.Last[entry.Origin] = entry.NextSequence - 1;
        }
        return true;
    }

    // Under _gate.
    private void Advance(RoomState room, StreamId id)
    {
        room.TouchedAt = Environment.TickCount64;
        if (id > room.LastId)
        {
            room.LastId = id;
        }
        if (id > _newest)
        {
            _newest = id;
        }
    }

    // Under _gate.
    private RoomState Room(string key)
    {
        ref var room = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_rooms, key, out _);
        return room ??= new RoomState();
    }

    private void Signal()
    {
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            _signal.Release();
        }
    }

    private sealed class RoomState
    {
        public StreamId LastId;
        public readonly Dictionary<Guid, long> Last = [];  // by origin: the last message number delivered
        public List<(StreamId Id, RoomStreamEntry Entry)>? Waiting; // live entries behind a catch-up
        public long TouchedAt = Environment.TickCount64;
        public long HoleToldAt = long.MinValue / 2;
    }

    [LoggerMessage(LogLevel.Information, "Caught up from Redis: {Rooms} rooms read, {Messages} messages in their streams after the last delivered here")]
    private partial void LogCaughtUp(int rooms, int messages);

    [LoggerMessage(LogLevel.Warning, "{Count} messages to room '{Room}' from another instance are missing for good (older than the streams keep, or dropped while Redis was away): its members are told")]
    private partial void LogHole(string room, long count);

    [LoggerMessage(LogLevel.Debug, "Catching up from Redis failed, trying again: {Error}")]
    private partial void LogCatchUpFailed(string error);

    public void Dispose() => _signal.Dispose();
}
