using System.Collections.Concurrent;
using KestrelChat.Chat;
using KestrelChat.Cluster;
using KestrelChat.Hosting;
using KestrelChat.Protocol;
using Microsoft.Extensions.Options;

namespace KestrelChat.History;

/// <summary>
/// What was said in each room, for whoever joins late or comes back (docs/protocol.md, History). Like an
/// ergo channel's AddHistoryItem, <see cref="Add"/> is the one hook where everything kept is recorded: the
/// room's last lines in memory (<see cref="RoomHistory"/>, so a join never waits for the disk) and, through
/// <see cref="HistoryWriter"/>'s bounded queue, the store. Lines a client is shown are read from memory under
/// the registry's lock, in the same step as its welcome, so nothing said meanwhile can come before them.
/// </summary>
internal sealed partial class ChatHistory : IHostedService, IDisposable
{
    private readonly HistoryOptions _options;
    private readonly TimeProvider _time;
    private readonly IHistoryStore? _store;
    private readonly HistoryWriter? _writer;
    private readonly HistoryIds _ids;
    private readonly ConcurrentDictionary<string, RoomHistory> _rooms = new(StringComparer.Ordinal); // by room key
    private readonly ConcurrentDictionary<(string Nickname, string Room), Departure> _departures = new(); // by look-alike key and room key
    private readonly ConcurrentDictionary<string, JoinBlock> _joinBlocks = new(StringComparer.Ordinal); // by room key
    private readonly IChatBackplane? _cluster;
    private readonly ILogger<ChatHistory> _logger;
    private CancellationTokenSource? _stopping;
    private Task? _writing;

    /// <summary>History with <paramref name="store"/> (null: memory only); in a cluster, <paramref name="cluster"/> tells the other instances of every item.</summary>
    public ChatHistory(IOptions<HistoryOptions> options, TimeProvider time, IHistoryStore? store, ILogger<ChatHistory> logger, IChatBackplane? cluster = null)
    {
        _options = options.Value;
        _cluster = cluster is { IsClustered: true } ? cluster : null;
        _time = time;
        _logger = logger;
        _ids = new HistoryIds(time);
        if (_options.Enabled && store is not null)
        {
            _store = store;
            _writer = new HistoryWriter(store, _options.QueueCapacity, Prune, logger);
        }
    }

    public bool Enabled => _options.Enabled;

    /// <summary>Why the store is not working or not keeping up (history then lives in memory only), or null.</summary>
    public string? Problem => _writer?.Problem
        ?? (_writer is { DroppedLately: true } ? $"History store {_store!.Location} is not keeping up: lines were dropped from its queue (Chat:History:QueueCapacity) in the last minute" : null);

    /// <summary>Lines appended to the store since the start; lines dropped because the store was down too long.</summary>
    public (long Written, long Dropped, int Waiting) StoreCounts => _writer is { } w ? (w.Written, w.Dropped, w.Waiting) : default;

    /// <summary>Where the store is (its file), or null without one.</summary>
    public string? Location => _store?.Location;

    /// <summary>
    /// The one hook: records <paramref name="text"/> said by <paramref name="nickname"/> in <paramref name="room"/>.
    /// Never waits. A leave is not shown to anyone; it marks where "while you were away" starts.
    /// </summary>
    public void Add(Room room, HistoryKind kind, string nickname, string text)
    {
        if (!_options.Enabled)
        {
            return;
        }
        var now = _time.GetUtcNow();
        var item = new HistoryItem(_ids.Next(now), room.Key, room.Name, now, nickname, kind, text);
        Remember(item);
        _writer?.Enqueue(item); // the store: written once, by the instance where it was said
        _cluster?.Publish(new ClusterMessage(ClusterMessageKind.History, _cluster.InstanceName, null, item.ToWire(), room.Name));
    }

    /// <summary>An item another instance recorded (and wrote to the shared store): kept in memory here too.</summary>
    public void AddFromCluster(string roomKey, string roomName, ReadOnlySpan<byte> wire)
    {
        if (_options.Enabled && HistoryItem.FromWire(roomKey, roomName, wire) is { } item)
        {
            _ids.After(item.Id);
            Remember(item);
        }
    }

    private void Remember(HistoryItem item)
    {
        var lines = For(item.RoomKey);
        if (item.IsShown)
        {
            lines.Add(item);
        }
        else
        {
            _departures[(NicknameRules.Key(item.Nickname), item.RoomKey)] = new Departure(item.Time, lines.Ordinal);
        }
    }

    /// <summary>
    /// What <paramref name="nickname"/> is shown on joining <paramref name="room"/>, as one batch of lines (null: nothing):
    /// what it missed if it left less than Chat:History:ReplayMinutes ago, else the room's last Chat:History:JoinLines.
    /// </summary>
    public (byte[] Bytes, int Lines)? OnJoin(Room room, string nickname)
    {
        if (!_options.Enabled || !_rooms.TryGetValue(room.Key, out var lines))
        {
            return null;
        }
        var now = _time.GetUtcNow();
        if (_options.ReplayMinutes > 0 && _departures.TryRemove((NicknameRules.Key(nickname), room.Key), out var departure)
            && now - departure.Time < TimeSpan.FromMinutes(_options.ReplayMinutes))
        {
            var (missed, said) = lines.After(departure.Ordinal);
            if (said == 0)
            {
                return null;
            }
            var shown = missed.TakeLast(ChatHistoryLimits.MaxReplayLines).ToList();
            return Frame(ServerLines.MissedWhileAway(said, shown.Count), shown, now);
        }
        if (_options.JoinLines == 0)
        {
            return null;
        }
        // Everyone who joins the room until its next line is shown the same bytes: made once, shared (a
        // reconnect storm of 10,000 clients into a room with history would otherwise format them 10,000 times).
        var version = lines.Version;
        var day = TimeZoneInfo.ConvertTime(now, _time.LocalTimeZone).Date;
        if (_joinBlocks.TryGetValue(room.Key, out var cached) && cached.Version == version && cached.Day == day && cached.RoomName == room.Name)
        {
            return cached.Block;
        }
        var last = lines.Last(_options.JoinLines);
        (byte[] Bytes, int Lines)? block = last.Count == 0 ? null : Frame(ServerLines.LastMessages(last.Count, room.Name), last, now);
        _joinBlocks[room.Key] = new JoinBlock(version, day, room.Name, block);
        return block;
    }

    /// <summary>/history N: the room's last <paramref name="count"/> lines, framed; null when it has none.</summary>
    public (byte[] Bytes, int Lines)? Recent(Room room, int count)
    {
        if (!_options.Enabled || !_rooms.TryGetValue(room.Key, out var lines) || lines.Last(count) is not { Count: > 0 } last)
        {
            return null;
        }
        return Frame(ServerLines.LastMessages(last.Count, room.Name), last, _time.GetUtcNow());
    }

    /// <summary>The admin API's page of a room's history, newest first; throws when the store fails.</summary>
    public IReadOnlyList<HistoryItem> Query(string roomName, long? before, long? after, int limit, string? search) =>
        _store is null ? [] : _store.Query(RoomNames.Key(roomName), before, after, limit, search);

    /// <summary>Moderation: the line is gone from the store and from what joins are shown. False when there is no such line.</summary>
    public bool Delete(string roomName, long id)
    {
        var key = RoomNames.Key(roomName);
        var inMemory = _rooms.TryGetValue(key, out var lines) && lines.Remove(id);
        var inStore = _store is not null && _store.Delete(key, id);
        _cluster?.Publish(new ClusterMessage(ClusterMessageKind.HistoryDelete, _cluster.InstanceName, null,
            System.Text.Encoding.UTF8.GetBytes(id.ToString(System.Globalization.CultureInfo.InvariantCulture)), roomName));
        return inMemory || inStore;
    }

    /// <summary>Another instance's operator removed a line: gone from this instance's memory of the room too.</summary>
    public void DeleteFromCluster(string roomKey, ReadOnlySpan<byte> id)
    {
        if (long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            && _rooms.TryGetValue(roomKey, out var lines))
        {
            lines.Remove(value);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_writer is null || _store is null)
        {
            return Task.CompletedTask;
        }
        if (_writer.TryOpen())
        {
            try
            {
                Load(_store);
            }
            catch (Exception ex)
            {
                LogLoadFailed(ex, _store.Location);
            }
        }
        _stopping = new CancellationTokenSource();
        _writing = _writer.Start(_stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_writing is null)
        {
            return;
        }
        _stopping!.Cancel(); // idempotent; never disposed (it has no timer), so a Dispose racing the stop cannot break it
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false); // the last batch, or the host's deadline
    }

    public void Dispose()
    {
        // The host may be disposed without being stopped (a test that ends early): the writer finishes first.
        _stopping?.Cancel();
        try
        {
            _writing?.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
            // Its exception was the stop's to report; disposing goes on.
        }
        _store?.Dispose();
    }

    private void Load(IHistoryStore store)
    {
        _ids.After(store.NewestId());
        var rooms = store.LoadRooms(ChatHistoryLimits.MaxReplayLines);
        foreach (var (roomKey, newest, total) in rooms)
        {
            For(roomKey).Load(newest, total);
        }
        if (_options.ReplayMinutes > 0)
        {
            foreach (var (leave, ordinal) in store.LoadLeaves(_time.GetUtcNow() - TimeSpan.FromMinutes(_options.ReplayMinutes)))
            {
                _departures[(NicknameRules.Key(leave.Nickname), leave.RoomKey)] = new Departure(leave.Time, ordinal);
            }
        }
        LogLoaded(rooms.Count, rooms.Sum(r => r.Total), store.Location);
    }

    private int Prune()
    {
        ForgetOldDepartures();
        ForgetOldRooms();
        return _store!.Prune(_time.GetUtcNow() - TimeSpan.FromDays(_options.MaxAgeDays), _options.MaxMessagesPerRoom);
    }

    // A room whose newest line is past Chat:History:MaxAgeDays has nothing left to show: its memory goes too,
    // so rooms made once and never used again do not stay in memory for the life of the process.
    private void ForgetOldRooms()
    {
        var cutoff = _time.GetUtcNow() - TimeSpan.FromDays(_options.MaxAgeDays);
        foreach (var (key, lines) in _rooms)
        {
            if (lines.Last(1) is not [{ } newest] || newest.Time < cutoff)
            {
                _rooms.TryRemove(key, out _);
                _joinBlocks.TryRemove(key, out _);
            }
        }
    }

    // Departures past the replay window mean nothing any more: the map holds only the last hour's.
    private void ForgetOldDepartures()
    {
        var cutoff = _time.GetUtcNow() - TimeSpan.FromMinutes(_options.ReplayMinutes);
        foreach (var (key, departure) in _departures)
        {
            if (departure.Time < cutoff)
            {
                _departures.TryRemove(key, out _);
            }
        }
    }

    private RoomHistory For(string roomKey) => _rooms.GetOrAdd(roomKey, static _ => new RoomHistory());

    private (byte[] Bytes, int Lines) Frame(byte[] header, List<HistoryItem> items, DateTimeOffset now)
    {
        var zone = _time.LocalTimeZone;
        var today = TimeZoneInfo.ConvertTime(now, zone).Date;
        var lines = new List<byte[]>(items.Count + 2) { header };
        foreach (var item in items)
        {
            var local = TimeZoneInfo.ConvertTime(item.Time, zone);
            var stamp = local.Date == today ? local.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture)
                : local.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture);
            lines.Add(ServerLines.HistoryLine(stamp, item.Nickname, item.Kind, item.Text));
        }
        lines.Add(ServerLines.HistoryEnd);
        var bytes = new byte[lines.Sum(l => l.Length)];
        var at = 0;
        foreach (var line in lines)
        {
            line.CopyTo(bytes, at);
            at += line.Length;
        }
        return (bytes, lines.Count);
    }

    private readonly record struct Departure(DateTimeOffset Time, long Ordinal);

    private sealed record JoinBlock(long Version, DateTime Day, string RoomName, (byte[] Bytes, int Lines)? Block);

    [LoggerMessage(LogLevel.Information, "History: {Rooms} rooms, {Lines} lines in {Location}")]
    private partial void LogLoaded(int rooms, long lines, string location);

    [LoggerMessage(LogLevel.Error, "History: could not read {Location}; rooms start without their history, new lines are still written")]
    private partial void LogLoadFailed(Exception exception, string location);
}
