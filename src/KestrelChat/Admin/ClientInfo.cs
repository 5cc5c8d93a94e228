using System.Text.Json.Serialization;
using KestrelChat.Chat;

namespace KestrelChat.Admin;

/// <summary>One connected chat client as GET /clients shows it. Endpoints are "ip:port", as <c>ss</c> prints them.</summary>
/// <param name="Id">Kestrel's connection id (also in the logs).</param>
/// <param name="Nickname">Null while the client has not chosen one yet.</param>
/// <param name="RemoteEndPoint">The client's address and (ephemeral) port.</param>
/// <param name="LocalEndPoint">The server's address and port for this connection.</param>
/// <param name="ConnectedAt">When the TCP connection was accepted (UTC).</param>
/// <param name="BytesIn">Bytes received from the client.</param>
/// <param name="BytesOut">Bytes written to the client.</param>
/// <param name="MessagesIn">Lines received from the client (nickname and commands included).</param>
/// <param name="MessagesOut">Lines written to the client.</param>
/// <param name="IsOperator">Whether the client may stop the server.</param>
/// <param name="Instance">The KestrelChat instance the client is connected to (Chat:Redis:InstanceName).</param>
/// <param name="Tls">Whether the client came through the TLS listener (Chat:Tls:Port).</param>
/// <param name="Room">The room the client is in ("#lobby"…); null while it has no nickname.</param>
/// <param name="Transport">"tcp", "tls" (the TLS listener), "ws" (the web chat's WebSocket) or "udp" (Chat:Udp:Port).</param>
/// <param name="SendQueueBytes">Bytes waiting for the client to read them (its backlog; 0 while it keeps up; 0 for other instances' clients).</param>
/// <param name="Udp">UDP clients on this instance: how long since their last datagram, and what was dropped; null otherwise.</param>
public sealed record ClientInfo(
    string Id,
    string? Nickname,
    string? RemoteEndPoint,
    string? LocalEndPoint,
    DateTimeOffset ConnectedAt,
    long BytesIn,
    long BytesOut,
    long MessagesIn,
    long MessagesOut,
    bool IsOperator,
    string Instance,
    bool Tls,
    string? Room = null,
    string Transport = "tcp",
    long SendQueueBytes = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] UdpClientInfo? Udp = null)
{
    internal static ClientInfo From(ChatSession session, string instance) => new(
        session.Id,
        session.Nickname,
        session.RemoteEndPoint?.ToString(),
        session.LocalEndPoint?.ToString(),
        session.ConnectedAt,
        session.BytesIn,
        session.BytesOut,
        session.MessagesIn,
        session.MessagesOut,
        session.IsOperator,
        instance,
        session.IsTls,
        session.Room?.Name,
        session.Transport,
        session.QueuedBytes,
        session.Udp);
}

/// <summary>What only a UDP client has: nothing tells the server it has gone, and nothing holds its datagrams back.</summary>
/// <param name="SilentSeconds">Since its last datagram: at Chat:Udp:IdleSeconds it is removed.</param>
/// <param name="DroppedIn">Datagrams from it dropped: too many waited for its read loop (flood control).</param>
/// <param name="DroppedOut">Lines to it the kernel did not take (its socket buffer was full): dropped, not queued.</param>
public sealed record UdpClientInfo(double SilentSeconds, long DroppedIn, long DroppedOut);
