using System.Diagnostics.Metrics;

namespace KestrelChat.Chat;

/// <summary>
/// The chat's instruments on the "KestrelChat" meter (System.Diagnostics.Metrics), exported at
/// GET /metrics and visible to `dotnet-counters monitor -n KestrelChat --counters KestrelChat`.
/// Nothing here is on the per-delivery path: message and byte totals are read from the sessions'
/// own counters when a collector asks (observable instruments), plus the totals of closed sessions;
/// a session moves from one to the other under a lock, so the totals never step back.
/// </summary>
internal sealed class ChatMetrics
{
    public const string MeterName = "KestrelChat";

    private readonly Counter<long> _opened;
    private readonly Counter<long> _closed;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _floodDelays;
    private readonly Histogram<int> _fanOut;
    private readonly Lock _sync = new();
    private readonly HashSet<ChatSession> _live = [];
    private readonly Totals _closedTotals = new();

    public ChatMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _opened = Meter.CreateCounter<long>("kestrelchat.connections.opened", "{connection}", "Chat connections accepted.");
        _closed = Meter.CreateCounter<long>("kestrelchat.connections.closed", "{connection}",
            "Chat connections closed, by reason: eof, reset, quit, kicked, flood, sendq, shutdown, no line end, nickname timeout…");
        _refused = Meter.CreateCounter<long>("kestrelchat.connections.refused", "{connection}",
            "Chat connections refused, by limit: MaxConnections or MaxConnectionsPerIp.");
        _floodDelays = Meter.CreateCounter<long>("kestrelchat.flood.delays", "{delay}",
            "Times a client's input was held back by flood control (Chat:Limits:MessagesPerSecond).");
        _fanOut = Meter.CreateHistogram<int>("kestrelchat.broadcast.recipients", "{client}",
            "Clients one chat line was queued for (fan-out per broadcast).",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [0, 1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000] });

        Meter.CreateObservableUpDownCounter("kestrelchat.sendqueue.bytes", () => Total(_ => 0, s => s.QueuedBytes), "By",
            "Bytes queued for clients and not yet handed to their sockets.");
        Meter.CreateObservableCounter("kestrelchat.bytes.in", () => Total(t => t.BytesIn, s => s.BytesIn), "By",
            "Bytes received from chat clients.");
        Meter.CreateObservableCounter("kestrelchat.bytes.out", () => Total(t => t.BytesOut, s => s.BytesOut), "By",
            "Bytes sent to chat clients.");
        Meter.CreateObservableCounter("kestrelchat.messages.in", () => Total(t => t.MessagesIn, s => s.MessagesIn),
            "{message}", "Lines received from chat clients.");
        Meter.CreateObservableCounter("kestrelchat.messages.out", () => Total(t => t.MessagesOut, s => s.MessagesOut),
            "{message}", "Lines sent to chat clients.");
    }

    public Meter Meter { get; }

    /// <summary>The registry's counts, read when a collector asks (the registry owns the connections and nicknames).</summary>
    public void ObserveClients(Func<int> connected, Func<int> named)
    {
        Meter.CreateObservableUpDownCounter("kestrelchat.clients.connected", connected, "{client}",
            "Open chat connections, named or not.");
        Meter.CreateObservableUpDownCounter("kestrelchat.clients.named", named, "{client}",
            "Clients in the chat (with a nickname).");
    }

    public void Opened(ChatSession session)
    {
        lock (_sync)
        {
            _live.Add(session);
        }
        _opened.Add(1);
    }

    /// <summary>Counts the close (after the last byte went out) and folds the session's totals into the closed-session totals.</summary>
    public void Closed(ChatSession session, string reason)
    {
        lock (_sync)
        {
            _closedTotals.BytesIn += session.BytesIn;
            _closedTotals.BytesOut += session.BytesOut;
            _closedTotals.MessagesIn += session.MessagesIn;
            _closedTotals.MessagesOut += session.MessagesOut;
            _live.Remove(session);
        }
        _closed.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void Refused(string limit) => _refused.Add(1, new KeyValuePair<string, object?>("limit", limit));

    public void FloodDelayed() => _floodDelays.Add(1);

    /// <summary><paramref name="messages"/> chat lines (one, or a batch fanned out together), each to <paramref name="recipients"/> clients.</summary>
    public void Broadcast(int recipients, int messages = 1)
    {
        for (var i = 0; i < messages; i++)
        {
            _fanOut.Record(recipients);
        }
    }

    /// <summary>Closed sessions' part plus every live session's part, read under the lock.</summary>
    private long Total(Func<Totals, long> closed, Func<ChatSession, long> live)
    {
        lock (_sync)
        {
            var total = closed(_closedTotals);
            foreach (var session in _live)
            {
                total += live(session);
            }
            return total;
        }
    }

    private sealed class Totals
    {
        public long BytesIn { get; set; }

        public long BytesOut { get; set; }

        public long MessagesIn { get; set; }

        public long MessagesOut { get; set; }
    }
}
