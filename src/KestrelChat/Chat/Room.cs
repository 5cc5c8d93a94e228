using KestrelChat.Cluster;
using KestrelChat.History;
using KestrelChat.Protocol;

namespace KestrelChat.Chat;

/// <summary>
/// One room: its members, their join and leave notices, its topic, and the fan-out of what is said
/// in it. Membership changes are decided by <see cref="ChatRegistry"/> under its lock (the registry's
/// <c>membership</c> lock, level 1: it covers nicknames, rooms and members together); fan-out walks the
/// published <see cref="MemberList"/> snapshot with no lock at all.
/// Lock order: membership → a connection's writer lock. Notices are written under the membership
/// lock: that keeps every member's view of joins, leaves and renames in one order, and a joiner's first
/// words behind its join notice. Those writes never wait (a copy into the pipe, or a reference into a
/// bounded backlog: <see cref="ConnectionWriter"/>), and a writer never takes the membership lock.
/// </summary>
internal sealed class Room : IDisposable
{
    private readonly Lock _membership; // the registry's
    private readonly IChatBackplane _backplane;
    private readonly ChatMetrics _metrics;
    private readonly ChatHistory _history;
    private readonly MemberList _members = new();
    private readonly PresenceNotices _presence;
    private string? _topic;

    public Room(string name, bool isDefault, Lock membership, IChatBackplane backplane, ChatMetrics metrics, ChatHistory history, int largeRoom = 0)
    {
        _history = history;
        Name = name;
        Key = RoomNames.Key(name);
        IsDefault = isDefault;
        Place = isDefault ? ServerLines.TheChat : name;
        _membership = membership;
        _backplane = backplane;
        _metrics = metrics;
        _presence = new PresenceNotices(FlushPresence, ToCluster, Place, largeRoom);
    }

    /// <summary>"#dev", as its creator spelled it (NFC).</summary>
    public string Name { get; }

    /// <summary>What the room is unique by (<see cref="RoomNames.Key"/>).</summary>
    public string Key { get; }

    /// <summary>Where everyone starts (Chat:DefaultRoom); never removed, and its notices read as before rooms existed.</summary>
    public bool IsDefault { get; }

    /// <summary>How notices name it: "the chat" for the default room, else its name.</summary>
    public string Place { get; }

    public string? Topic
    {
        get => Volatile.Read(ref _topic);
        set => Volatile.Write(ref _topic, value);
    }

    /// <summary>Members, lock-free (a leave clears its slot in place).</summary>
    public MemberList.Snapshot Members => _members.Current;

    public int MemberCount => _members.Current.Count;

    /// <summary>Set under the membership lock when the last member of a room other than the default left.</summary>
    public bool IsClosed { get; set; }

    /// <summary>
    /// Says <paramref name="message"/> in this room: the one path for everything members say. It goes
    /// into the room's history and into the sender's scope, which fans it out to the members here and to
    /// the backplane together with the rest of the read (<see cref="Deliver"/>).
    /// </summary>
    public void Publish(in ChatMessage message, FanOutScope scope)
    {
        if (message.Room != this)
        {
            throw new ArgumentException($"A message for {message.Room.Name} published in {Name}.", nameof(message));
        }
        _history.Add(this, message.Kind == MessageKind.Action ? HistoryKind.Action : HistoryKind.Text, message.Sender, message.Text);
        scope.Add(message);
    }

    /// <summary>Under the membership lock: sets the topic; everyone here, the setter included, gets the notice, and history keeps it.</summary>
    internal void SetTopic(string nickname, string topic)
    {
        Topic = topic;
        _history.Add(this, HistoryKind.Topic, nickname, topic);
        Notify(ServerLines.TopicSet(nickname, Name, topic));
    }

    /// <summary>
    /// Fans out a batch of <paramref name="lines"/> whole lines from <paramref name="sender"/>: one copy per
    /// member here (flushed when the scope ends) and one message to the other instances. True when some
    /// member's backlog keeps a reference to <paramref name="bytes"/>.
    /// </summary>
    internal bool Deliver(ReadOnlyMemory<byte> bytes, int lines, ChatSession sender, FanOutScope scope)
    {
        if (_presence.HasPending)
        {
            FlushPresence(); // members see "bob joined" before bob's first words
        }
        if (_backplane.IsClustered)
        {
            _backplane.Publish(new ClusterMessage(ClusterMessageKind.ToMembers, _backplane.InstanceName, null, bytes.ToArray(), Name));
        }
        var members = _members.Current.Slots;
        // Each sender walks the members from its own starting point: two read loops fanning out at
        // once then rarely want the same recipient's write lock at the same moment.
        var start = members.Length == 0 ? 0 : sender.FanOutStart % members.Length;
        var (first, firstReferenced) = SendFrom(sender, bytes, lines, members[start..], scope);
        var (second, secondReferenced) = SendFrom(sender, bytes, lines, members[..start], scope);
        _metrics.Broadcast(first + second, lines);
        return firstReferenced || secondReferenced;
    }

    private static (int Recipients, bool Referenced) SendFrom(ChatSession sender, ReadOnlyMemory<byte> bytes, int lines, ReadOnlySpan<ChatSession?> members, FanOutScope scope)
    {
        var recipients = 0;
        var referenced = false;
        foreach (var member in members)
        {
            if (member is not null && member != sender)
            {
                referenced |= member.Send(bytes, lines, scope); // flushed once the sender's whole read is handled
                recipients++;
                scope.Flushes.FlushRoundIfFull();
            }
        }
        return (recipients, referenced);
    }

    /// <summary>A line from the server to every member here and on the other instances (topic, announcement); returns how many here.</summary>
    public int Notify(byte[] line)
    {
        lock (_membership)
        {
            _presence.Flush(_members.Current);
            ToCluster(line);
            return _members.Current.SendToAll(line, 1);
        }
    }

    /// <summary>
    /// What another instance said in this room: to the members here only; with <paramref name="flushes"/>, each is
    /// flushed once the inbox's batch of entries is written (one flush per member per batch, not per entry).
    /// </summary>
    public void DeliverFromCluster(byte[] line, int lines, DeferredFlushes? flushes = null)
    {
        if (_presence.HasPending)
        {
            FlushPresence();
        }
        _members.Current.SendToAll(line, lines, flushes);
    }

    // The registry's side, all under the membership lock.

    /// <summary>
    /// Adds <paramref name="session"/>: it gets <paramref name="welcome"/> (given how many are here, it
    /// included) before anything said here reaches it, and the others get the (coalesced) join notice.
    /// </summary>
    internal void Enter(ChatSession session, Func<int, byte[]> welcome)
    {
        var others = _members.Current; // before the join: the newcomer gets no notice of itself
        session.Send(welcome(others.Count + 1));
        // The lesson's client shows each write as one message: a block of history would be one unreadable message.
        if (session.Codec.WritesLineEnds && _history.OnJoin(this, session.Nickname!) is { } history)
        {
            session.Send(history.Bytes, history.Lines);
        }
        _members.Add(session);
        session.Room = this;
        _presence.Joined(session.Nickname!, others);
    }

    /// <summary>Removes a member; the others get <paramref name="notice"/> ("left for #dev"), or the (coalesced) leave notice unless <paramref name="quietly"/>.</summary>
    internal void Leave(ChatSession session, byte[]? notice, bool quietly = false)
    {
        _members.Remove(session);
        _history.Add(this, HistoryKind.Leave, session.Nickname!, string.Empty); // where "while you were away" starts
        if (quietly)
        {
            return;
        }
        if (notice is null && session.LeaveNote is { } why)
        {
            notice = ServerLines.LeftBecause(session.Nickname!, Place, why); // its own line: a reason is not coalesced
        }
        if (notice is null)
        {
            _presence.Left(session.Nickname!, _members.Current);
            return;
        }
        _presence.Flush(_members.Current); // a pending "alice joined" before "alice left for #dev"
        _members.Current.SendToAll(notice, 1);
        ToCluster(notice);
    }

    internal void Renamed(byte[] notice)
    {
        _presence.Flush(_members.Current); // "bob joined" before "bob is now known as carol"
        _members.Current.SendToAll(notice, 1);
        ToCluster(notice);
    }

    public void Dispose() => _presence.Dispose();

    private void FlushPresence()
    {
        lock (_membership)
        {
            _presence.Flush(_members.Current);
        }
    }

    private void ToCluster(byte[] line)
    {
        if (_backplane.IsClustered) // a single instance skips even building the message
        {
            _backplane.Publish(new ClusterMessage(ClusterMessageKind.ToMembers, _backplane.InstanceName, null, line, Name));
        }
    }
}
