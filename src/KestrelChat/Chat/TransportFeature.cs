namespace KestrelChat.Chat;

/// <summary>
/// Set by a chat connection that is not one of Kestrel's sockets (a WebSocket, a UDP client): what GET /clients
/// calls its transport, and what picks its codec (Codecs/ClientCodec.For). Kestrel's own are "tcp" or "tls".
/// </summary>
internal sealed class TransportFeature
{
    public static readonly TransportFeature WebSocket = new("ws");

    public static readonly TransportFeature Udp = new("udp");

    private TransportFeature(string name) => Name = name;

    public string Name { get; }
}
