using System.Diagnostics.Metrics;

namespace KestrelChat.Chat;

/// <summary>
/// The chat's instruments on the "KestrelChat" meter (System.Diagnostics.Metrics), exported at
/// GET /metrics and visible to `dotnet-counters monitor -n KestrelChat --counters KestrelChat`.
/// Nothing here is on the per-delivery path: message and byte totals are read from the sessions'
/// own counters when a collector asks (observable instruments) — the live sessions are the registry's,
/// the one list of connections — plus the totals of sessions that left. A session's counts move from
/// one to the other under this class's lock, in the same step that takes it off the registry, so the
/// totals never step back; what it still sends after that (its farewell) is added when it closes.
/// </summary>
internal sealed class ChatMetrics
{
    public const string MeterName = "KestrelChat";

    private readonly Counter<long> _opened;
    private readonly Counter<long> _closed;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _floodDelays;
    private readonly Counter<long> _datagramsDropped;
    private readonly Counter<long> _addressProofs;
    private readonly Histogram<int> _fanOut;
    private readonly Lock _sync = new();
    private Func<ICollection<ChatSession>> _live = () => [];
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
        _datagramsDropped = Meter.CreateCounter<long>("kestrelchat.udp.datagrams.dropped", "{datagram}",
            "UDP datagrams dropped, by direction: in (a client's queue was full: its lines wait for flood control), out (the kernel did not take it).");
        _addressProofs = Meter.CreateCounter<long>("kestrelchat.udp.address_proofs", "{datagram}",
            "Datagrams from UDP addresses that had not shown they receive, by outcome: answered (with the code), unanswered (too short for an answer), proved (the code came back).");
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

    /// <summary>The registry's connections and counts, read when a collector asks (the registry owns them).</summary>
    public void ObserveClients(Func<ICollection<ChatSession>> live, Func<int> connected, Func<int> named)
    {
        _live = live;
        Meter.CreateObservableUpDownCounter("kestrelchat.clients.connected", connected, "{client}",
            "Open chat connections, named or not.");
        Meter.CreateObservableUpDownCounter("kestrelchat.clients.named", named, "{client}",
            "Clients in the chat (with a nickname).");
    }

    public void Opened() => _opened.Add(1);

    /// <summary>
    /// Takes a session off the live count: <paramref name="remove"/> (the registry's removal) runs under
    /// the lock the totals are read under, and what the session counted so far moves to the closed totals.
    /// </summary>
    public void Left(ChatSession session, Action remove)
    {
        lock (_sync)
        {
            remove();
            session.CountedAtLeave = new SessionCounts(session.BytesIn, session.BytesOut, session.MessagesIn, session.MessagesOut);
            _closedTotals.Add(session.CountedAtLeave, sign: 1);
        }
    }

    /// <summary>Counts the close (after the last byte went out) and adds what the session counted since it left.</summary>
    public void Closed(ChatSession session, string reason)
    {
        lock (_sync)
        {
            var now = new SessionCounts(session.BytesIn, session.BytesOut, session.MessagesIn, session.MessagesOut);
            _closedTotals.Add(now, sign: 1);
            if (session.CountedAtLeave is { } counted)
            {
                _closedTotals.Add(counted, sign: -1);
            }
            session.CountedAtLeave = now;
        }
        _closed.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void Refused(string limit) => _refused.Add(1, new KeyValuePair<string, object?>("limit", limit));

    public void FloodDelayed() => _floodDelays.Add(1);

    public void DatagramDropped(bool inbound) => _datagramsDropped.Add(1, new KeyValuePair<string, object?>("direction", inbound ? "in" : "out"));

    /// <summary>A datagram from an address not yet proved: "answered", "unanswered" or "proved".</summary>
    public void AddressProof(string outcome) => _addressProofs.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

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
            foreach (var session in _live())
            {
                total += live(session);
            }
            return total;
        }
    }

    private sealed class Totals
    {
        public long BytesIn { get; private set; }

        public long BytesOut { get; private set; }

        public long MessagesIn { get; private set; }

        public long MessagesOut { get; private set; }

        public void Add(SessionCounts counts, int sign)
        {
            BytesIn += sign * counts.BytesIn;
            BytesOut += sign * counts.BytesOut;
            MessagesIn += sign * counts.MessagesIn;
            MessagesOut += sign * counts.MessagesOut;
        }
    }
}

/// <summary>A session's counters at one moment (when it left the registry, or closed).</summary>
internal sealed record SessionCounts(long BytesIn, long BytesOut, long MessagesIn, long MessagesOut);
