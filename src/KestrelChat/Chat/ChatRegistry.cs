using System.Collections.Concurrent;
using KestrelChat.Cluster;
using KestrelChat.History;
using KestrelChat.Hosting;
using KestrelChat.Protocol;
using Microsoft.Extensions.Options;

namespace KestrelChat.Chat;

/// <summary>
/// The server's registry, one owner for each thing: every connection (named or not, for GET /clients
/// and the stop), the nicknames (unique by look, <see cref="NicknameRules.Comparer"/>), the rooms, and
/// the receiver of what other instances publish. What is said in a room is the room's business (<see cref="Room"/>).
/// </summary>
/// <remarks>
/// Lock levels: <c>_membership</c> (level 1) covers nicknames, the room table and every room's
/// members and presence, so a join, a move or a rename is one decision; fan-out takes no lock. Under
/// it the only writes are non-blocking copies into connections' pipes (level 2, <see cref="ConnectionWriter"/>).
/// </remarks>
internal sealed class ChatRegistry : IClusterReceiver, IDisposable
{
    private readonly ConcurrentDictionary<string, ChatSession> _connections = new(StringComparer.Ordinal);
    private readonly Lock _membership = new();
    private readonly Dictionary<string, ChatSession> _byNickname = new(NicknameRules.Comparer); // _membership
    private readonly Dictionary<string, Room> _rooms = new(StringComparer.Ordinal);               // _membership, by RoomNames.Key
    private readonly IChatBackplane _backplane;
    private readonly ChatMetrics _metrics;
    private readonly ChatHistory _history;
    private readonly int _maxRooms;
    private readonly int _largeRoom;
    private int _named; // _byNickname.Count, for the metrics without the lock
    private bool _closingAll;

    public ChatRegistry(IChatBackplane backplane, ChatMetrics metrics, ChatHistory history, IOptions<ChatOptions> options, IOptions<ChatLimitsOptions> limits)
    {
        _backplane = backplane;
        _metrics = metrics;
        _history = history;
        _maxRooms = limits.Value.MaxRooms;
        _largeRoom = options.Value.LargeRoom;
        RoomNames.TryValidate(options.Value.DefaultRoom, out var lobby);
        DefaultRoom = new Room(lobby, isDefault: true, _membership, backplane, metrics, history, _largeRoom);
        _rooms.Add(DefaultRoom.Key, DefaultRoom);
        backplane.Attach(this);
        metrics.ObserveClients(() => _connections.Values, () => _connections.Count, () => Volatile.Read(ref _named));
    }

    /// <summary>This instance's name in the cluster (GET /clients "instance").</summary>
    public string InstanceName => _backplane.InstanceName;

    /// <summary>Where everyone starts (Chat:DefaultRoom).</summary>
    public Room DefaultRoom { get; }

    /// <summary>Every open connection, named or not.</summary>
    public ICollection<ChatSession> Connections => _connections.Values;

    /// <summary>Open connections now.</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>The rooms here, the default first: a copy.</summary>
    public IReadOnlyList<Room> Rooms
    {
        get
        {
            lock (_membership)
            {
                return [DefaultRoom, .. _rooms.Values.Where(r => !r.IsDefault).OrderBy(r => r.Name, StringComparer.Ordinal)];
            }
        }
    }

    public void Connect(ChatSession session) => _connections[session.Id] = session;

    /// <summary>Gives <paramref name="session"/> its first nickname and puts it in the default room: it gets the welcome, the room the join notice.</summary>
    public bool TryJoin(ChatSession session, string nickname)
    {
        lock (_membership)
        {
            if (!_byNickname.TryAdd(nickname, session))
            {
                return false;
            }
            session.Nickname = nickname;
            _named = _byNickname.Count;
            using (_backplane.MemberChanged(session, nickname, DefaultRoom.Name, previousRoom: null))
            {
                DefaultRoom.Enter(session, count => ServerLines.Welcome(nickname, count));
            }
            return true;
        }
    }

    /// <summary>Renames a member; its room, the member included, gets the notice.</summary>
    public bool TryRename(ChatSession session, string newNickname, out string oldNickname)
    {
        lock (_membership)
        {
            oldNickname = session.Nickname!;
            var sameName = NicknameRules.Comparer.Equals(oldNickname, newNickname);
            if (!sameName && !_byNickname.TryAdd(newNickname, session))
            {
                return false;
            }
            _byNickname.Remove(oldNickname);
            _byNickname[newNickname] = session;
            session.Nickname = newNickname;
            using (_backplane.MemberChanged(session, newNickname, session.Room!.Name, previousRoom: null))
            {
                session.Room!.Renamed(ServerLines.Renamed(oldNickname, newNickname));
            }
            return true;
        }
    }

    /// <summary>
    /// Moves a member to the room called <paramref name="name"/> (a valid room name), made if it does
    /// not exist: the old room gets "left for", the new one the join notice, the member a line saying
    /// where it is now. An empty room other than the default goes away.
    /// </summary>
    public MoveResult TryMove(ChatSession session, string name)
    {
        lock (_membership)
        {
            var from = session.Room!;
            var key = RoomNames.Key(name);
            if (from.Key == key)
            {
                return MoveResult.AlreadyThere;
            }
            if (!_rooms.TryGetValue(key, out var to))
            {
                if (_rooms.Count >= _maxRooms)
                {
                    return MoveResult.TooManyRooms;
                }
                to = new Room(name, isDefault: false, _membership, _backplane, _metrics, _history, _largeRoom);
                _rooms.Add(key, to);
            }
            using (_backplane.MemberChanged(session, session.Nickname, to.Name, from.Name))
            {
                from.Leave(session, ServerLines.LeftFor(session.Nickname!, to.Name));
                CloseIfEmpty(from);
                var topic = to.Topic;
                to.Enter(session, count => ServerLines.Moved(to.Name, count, topic));
            }
            return MoveResult.Moved;
        }
    }

    /// <summary>Sets the topic of the member's room; everyone there, the member included, gets the notice.</summary>
    public void SetTopic(ChatSession session, string topic)
    {
        lock (_membership)
        {
            session.Room!.SetTopic(session.Nickname!, topic);
        }
    }

    public Room? FindRoom(string name)
    {
        lock (_membership)
        {
            return _rooms.GetValueOrDefault(RoomNames.Key(name));
        }
    }

    /// <summary>Removes a closed connection; if it was a member, its room gets the leave notice.</summary>
    public void Disconnect(ChatSession session)
    {
        _metrics.Left(session, () => _connections.TryRemove(session.Id, out _));
        var nickname = session.Nickname;
        if (nickname is null)
        {
            return;
        }
        lock (_membership)
        {
            if (!_byNickname.Remove(nickname))
            {
                return;
            }
            _named = _byNickname.Count;
            var room = session.Room!;
            using (_backplane.MemberChanged(session, nickname: null, room: null, previousRoom: room.Name))
            {
                // When the server stops, everyone leaves at once: whoever is closed first would otherwise tell the
                // others, before their own farewell, that it left.
                room.Leave(session, notice: null, quietly: Volatile.Read(ref _closingAll));
            }
            CloseIfEmpty(room);
        }
        _backplane.ReleaseNickname(session, nickname);
    }

    /// <summary>This instance's connection with Kestrel's id <paramref name="id"/>, named or not.</summary>
    public ChatSession? FindConnection(string id) => _connections.GetValueOrDefault(id);

    public ChatSession? FindByNickname(string nickname)
    {
        lock (_membership)
        {
            return _byNickname.GetValueOrDefault(nickname);
        }
    }

    /// <summary>Queues <paramref name="line"/> for every connection, named or not, here and on the other instances; returns how many here.</summary>
    public int Announce(byte[] line)
    {
        if (_backplane.IsClustered)
        {
            _backplane.Publish(new ClusterMessage(ClusterMessageKind.ToEveryConnection, InstanceName, null, line));
        }
        var recipients = 0;
        foreach (var session in _connections.Values)
        {
            if (!session.IsClosing)
            {
                session.Send(line);
                recipients++;
            }
        }
        return recipients;
    }

    /// <summary>What another instance published: deliver it to the clients here (flushed now, or with <paramref name="flushes"/>).</summary>
    public void Deliver(ClusterMessage message, DeferredFlushes? flushes = null)
    {
        switch (message.Kind)
        {
            case ClusterMessageKind.ToMembers when FindRoom(message.Room ?? DefaultRoom.Name) is { } room:
                room.DeliverFromCluster(message.Line, LineCount(message.Line), flushes);
                break;
            case ClusterMessageKind.ToEveryConnection:
                foreach (var session in _connections.Values)
                {
                    session.Send(message.Line, 1, flushes);
                }
                break;
            case ClusterMessageKind.ToConnection when message.Target is { } id && _connections.TryGetValue(id, out var recipient):
                recipient.Send(message.Line);
                break;
            case ClusterMessageKind.Kick when message.Target is { } id && _connections.TryGetValue(id, out var kicked):
                kicked.Close(message.Line, "kicked");
                break;
            case ClusterMessageKind.History when message.Room is { } room:
                _history.AddFromCluster(RoomNames.Key(room), room, message.Line);
                break;
            case ClusterMessageKind.InstanceGone:
                AnnounceRemote(message.Line, ServerLines.Left);
                break;
            case ClusterMessageKind.InstanceBack:
                AnnounceRemote(message.Line, ServerLines.Joined);
                break;
            case ClusterMessageKind.HistoryDelete when message.Room is { } room:
                _history.DeleteFromCluster(RoomNames.Key(room), message.Line);
                break;
        }
    }

    /// <summary>Closes every connection with <paramref name="farewell"/> as its last line; nobody gets "left" notices from then on.</summary>
    public void CloseAll(byte[] farewell, string reason)
    {
        Volatile.Write(ref _closingAll, true);
        foreach (var session in _connections.Values)
        {
            session.Close(farewell, reason);
        }
    }

    public void Dispose()
    {
        lock (_membership)
        {
            foreach (var room in _rooms.Values)
            {
                room.Dispose();
            }
        }
    }

    /// <summary>
    /// Members of another instance that left with it (it died) or came back with it (it had only stalled):
    /// each room here where they were says so. A nickname that is a member here is left alone: a stalled
    /// instance that hears of its own death must not tell its members that they left.
    /// </summary>
    private void AnnounceRemote(byte[] members, Func<string, string, byte[]> notice)
    {
        foreach (var entry in System.Text.Encoding.UTF8.GetString(members).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = entry.Split('\t', 2);
            if (parts.Length == 2 && FindByNickname(parts[0]) is null && FindRoom(parts[1]) is { } room)
            {
                room.DeliverFromCluster(notice(parts[0], room.Place), 1);
            }
        }
    }

    // Under _membership.
    private void CloseIfEmpty(Room room)
    {
        if (!room.IsDefault && room.MemberCount == 0)
        {
            room.IsClosed = true;
            _rooms.Remove(room.Key);
            room.Dispose();
        }
    }

    private static int LineCount(byte[] bytes)
    {
        var lines = bytes.AsSpan().Count((byte)'\n');
        return lines == 0 ? 1 : lines;
    }
}

internal enum MoveResult
{
    Moved,
    AlreadyThere,
    TooManyRooms,
}
