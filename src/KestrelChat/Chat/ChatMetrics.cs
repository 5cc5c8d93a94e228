using System.Diagnostics.Metrics;

namespace KestrelChat.Chat;

/// <summary>
/// The chat's own instruments on the "KestrelChat" meter (System.Diagnostics.Metrics): what the
/// limits did, so an operator can tell a flood or a wave of slow readers from a quiet day.
/// `dotnet-counters monitor -n KestrelChat --counters KestrelChat` shows them live.
/// </summary>
internal sealed class ChatMetrics
{
    public const string MeterName = "KestrelChat";

    private readonly Counter<long> _disconnects;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _floodDelays;

    public ChatMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _disconnects = Meter.CreateCounter<long>("kestrelchat.disconnects", "{connection}",
            "Chat connections closed, by reason: eof, reset, quit, sendq, flooding, no line end, nickname timeout, kicked, shutdown…");
        _refused = Meter.CreateCounter<long>("kestrelchat.connections.refused", "{connection}",
            "Chat connections refused, by limit: MaxConnections or MaxConnectionsPerIp.");
        _floodDelays = Meter.CreateCounter<long>("kestrelchat.flood.delays", "{delay}",
            "Times a client's input was held back by flood control (Chat:Limits:MessagesPerSecond).");
    }

    public Meter Meter { get; }

    public void Disconnected(string reason) => _disconnects.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Refused(string limit) => _refused.Add(1, new KeyValuePair<string, object?>("limit", limit));

    public void FloodDelayed() => _floodDelays.Add(1);
}
