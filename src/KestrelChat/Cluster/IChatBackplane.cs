using KestrelChat.Admin;
using KestrelChat.Chat;

namespace KestrelChat.Cluster;

/// <summary>
/// What crosses instances. <see cref="LocalBackplane"/> is the single-process default (nothing to
/// cross); <see cref="RedisBackplane"/> joins a cluster through Redis, the way SignalR's Redis
/// backplane does: every message is serialised once, published once, and each instance delivers
/// it to its own clients.
/// </summary>
internal interface IChatBackplane
{
    /// <summary>This instance's name (shown in GET /clients).</summary>
    string InstanceName { get; }

    /// <summary>True when other instances may exist (Redis configured).</summary>
    bool IsClustered { get; }

    /// <summary>Where messages from other instances are delivered (the room); set once at start.</summary>
    void Attach(IClusterReceiver receiver);

    /// <summary>
    /// Claims <paramref name="nickname"/> cluster-wide for <paramref name="session"/>; false if another instance holds it.
    /// <paramref name="cancellationToken"/>: the session's close, which ends the wait (a claim Redis made anyway expires with its TTL).
    /// </summary>
    ValueTask<bool> TryClaimNicknameAsync(ChatSession session, string nickname, CancellationToken cancellationToken = default);

    /// <summary>Gives a nickname back (on leave or rename); fire and forget.</summary>
    void ReleaseNickname(ChatSession session, string nickname);

    /// <summary>Sends <paramref name="message"/> to the other instances (or to <paramref name="instance"/> only); fire and forget, at most once.</summary>
    void Publish(ClusterMessage message, string? instance = null);

    /// <summary>Which instance and connection hold <paramref name="nickname"/> elsewhere; null if nobody (or only here).</summary>
    Task<NicknameOwner?> FindNicknameAsync(string nickname, CancellationToken cancellationToken = default);

    /// <summary>The clients of the other live instances, as this instance knows them (never waits for Redis).</summary>
    Task<IReadOnlyList<ClientInfo>> GetRemoteClientsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// A member here joined (<paramref name="previousRoom"/> null), was renamed, moved from <paramref name="previousRoom"/>
    /// to <paramref name="room"/>, or left (<paramref name="nickname"/> null): the other instances' rosters change with it.
    /// Called under the registry's membership lock, before the notices that tell it; until the result is disposed,
    /// what is published goes out with the change, in one piece.
    /// </summary>
    IDisposable MemberChanged(ChatSession session, string? nickname, string? room, string? previousRoom);

    /// <summary>How old what is known of the other instances may be, when Redis is not answering; null when it is current.</summary>
    TimeSpan? RemoteStaleFor { get; }
}

/// <summary>Receives what other instances published.</summary>
internal interface IClusterReceiver
{
    /// <summary>This instance's open connections (for the heartbeat's client list and nickname renewals).</summary>
    ICollection<ChatSession> Connections { get; }

    /// <summary>Delivers <paramref name="message"/> to the clients here; each flushed now, or with <paramref name="flushes"/> when given.</summary>
    void Deliver(ClusterMessage message, DeferredFlushes? flushes = null);
}

internal sealed record NicknameOwner(string Instance, string ConnectionId, string Nickname);
