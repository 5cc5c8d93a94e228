using System.Collections.Concurrent;
using KestrelChat.Cluster;
using KestrelChat.Protocol;

namespace KestrelChat.Chat;

/// <summary>
/// The one chat everybody is in: every connection (named or not, for GET /clients), the
/// nickname registry (unique regardless of case), and fan-out.
/// Membership changes take a lock and publish a new MemberList snapshot, so fan-out walks a plain
/// array with no lock at all; join, leave and rename notices are queued under the
/// lock so that every member sees them in one consistent order (coalesced under churn: PresenceNotices).
/// </summary>
internal sealed class ChatRoom : IClusterReceiver, IDisposable
{
    private readonly ConcurrentDictionary<string, ChatSession> _connections = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ChatSession> _byNickname = new(NicknameRules.Comparer);
    private readonly Lock _membership = new();
    private readonly PresenceNotices _presence;
    private readonly IChatBackplane _backplane;
    private readonly MemberList _members = new();

    public ChatRoom(IChatBackplane backplane)
    {
        _backplane = backplane;
        _presence = new PresenceNotices(FlushPresence, ToCluster);
        backplane.Attach(this);
    }

    /// <summary>This instance's name in the cluster (GET /clients "instance").</summary>
    public string InstanceName => _backplane.InstanceName;

    /// <summary>Every open connection, named or not.</summary>
    public ICollection<ChatSession> Connections => _connections.Values;

    /// <summary>Named members, in the order they joined: a copy, safe to enumerate while others join or leave.</summary>
    public IReadOnlyList<ChatSession> Members => _members.Current.ToArray();

    public int MemberCount => _members.Current.Count;

    public void Connect(ChatSession session) => _connections[session.Id] = session;

    /// <summary>Gives <paramref name="session"/> its first nickname: it gets the welcome, the others the join notice.</summary>
    public bool TryJoin(ChatSession session, string nickname)
    {
        lock (_membership)
        {
            if (!_byNickname.TryAdd(nickname, session))
            {
                return false;
            }
            session.Nickname = nickname;
            var others = _members.Current; // the snapshot before the join: the newcomer gets no notice of itself
            _members.Add(session);
            session.Send(ServerLines.Welcome(nickname, others.Count + 1));
            _presence.Joined(nickname, others);
            return true;
        }
    }

    /// <summary>Renames a member; everyone, the member included, gets the notice.</summary>
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
            _presence.Flush(_members.Current); // "bob joined" before "bob is now known as carol"
            var renamed = ServerLines.Renamed(oldNickname, newNickname);
            _members.Current.SendToAll(renamed);
            ToCluster(renamed);
            return true;
        }
    }

    /// <summary>Removes a closed connection; if it was a member, the others get the leave notice.</summary>
    public void Disconnect(ChatSession session)
    {
        _connections.TryRemove(session.Id, out _);
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
            _members.Remove(session);
            _presence.Left(nickname, _members.Current);
        }
        _backplane.ReleaseNickname(session, nickname);
    }

    public ChatSession? FindByNickname(string nickname)
    {
        lock (_membership)
        {
            return _byNickname.GetValueOrDefault(nickname);
        }
    }

    /// <summary>
    /// Queues <paramref name="line"/> (encoded once by the caller) for every member except
    /// <paramref name="sender"/>, here and on the other instances; returns how many here.
    /// </summary>
    public int Broadcast(byte[] line, ChatSession? sender)
    {
        if (_presence.HasPending)
        {
            FlushPresence(); // members see "bob joined" before bob's first words
        }
        ToCluster(line);
        return SendToMembers(line, sender);
    }

    /// <summary>Queues <paramref name="line"/> for every connection, named or not, here and on the other instances; returns how many here.</summary>
    public int Announce(byte[] line)
    {
        if (_backplane.IsClustered)
        {
            _backplane.Publish(new ClusterMessage(ClusterMessageKind.ToEveryConnection, InstanceName, null, line));
        }
        return SendToEveryConnection(line);
    }

    /// <summary>What another instance published: deliver it to the clients here.</summary>
    public void Deliver(ClusterMessage message)
    {
        switch (message.Kind)
        {
            case ClusterMessageKind.ToMembers:
                SendToMembers(message.Line, sender: null);
                break;
            case ClusterMessageKind.ToEveryConnection:
                SendToEveryConnection(message.Line);
                break;
            case ClusterMessageKind.ToConnection when message.Target is { } id && _connections.TryGetValue(id, out var recipient):
                recipient.Send(message.Line);
                break;
            case ClusterMessageKind.Kick when message.Target is { } id && _connections.TryGetValue(id, out var kicked):
                kicked.Close(message.Line, "kicked");
                break;
        }
    }

    private int SendToEveryConnection(byte[] line)
    {
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

    /// <summary>
    /// Fans out <paramref name="sender"/>'s pending chat lines (<see cref="FanOutBatch"/>, single instance):
    /// one copy of the whole batch per member; returns how many members got it.
    /// </summary>
    public int BroadcastPending(ChatSession sender, FanOutBatch batch)
    {
        if (_presence.HasPending)
        {
            FlushPresence();
        }
        var (recipients, referenced) = SendToMembers(batch.Bytes, batch.Lines, sender);
        batch.Clear(referenced);
        return recipients;
    }

    private int SendToMembers(byte[] line, ChatSession? sender) =>
        sender is null ? _members.Current.SendToAll(line) : SendToMembers(line, 1, sender).Recipients;

    private (int Recipients, bool Referenced) SendToMembers(ReadOnlyMemory<byte> bytes, int lines, ChatSession sender)
    {
        var members = _members.Current.Slots;
        // Each sender walks the members from its own starting point: two read loops fanning out at
        // once then rarely want the same recipient's write lock at the same moment.
        var start = members.Length == 0 ? 0 : sender.FanOutStart % members.Length;
        var (first, firstReferenced) = SendFrom(sender, bytes, lines, members[start..]);
        var (second, secondReferenced) = SendFrom(sender, bytes, lines, members[..start]);
        return (first + second, firstReferenced || secondReferenced);
    }

    private static (int Recipients, bool Referenced) SendFrom(ChatSession sender, ReadOnlyMemory<byte> bytes, int lines, ReadOnlySpan<ChatSession?> members)
    {
        var recipients = 0;
        var referenced = false;
        foreach (var member in members)
        {
            if (member is not null && member != sender)
            {
                referenced |= member.Send(bytes, lines, sender); // flushed once the sender's whole read is handled
                recipients++;
            }
        }
        return (recipients, referenced);
    }

    /// <summary>Closes every connection with <paramref name="farewell"/> as its last line.</summary>
    public void CloseAll(byte[] farewell, string reason)
    {
        foreach (var session in _connections.Values)
        {
            session.Close(farewell, reason);
        }
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
            _backplane.Publish(new ClusterMessage(ClusterMessageKind.ToMembers, InstanceName, null, line));
        }
    }
}
