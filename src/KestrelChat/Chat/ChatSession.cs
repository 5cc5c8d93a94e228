using System.Net;
using KestrelChat.Codecs;
using KestrelChat.Protocol;
using KestrelChat.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace KestrelChat.Chat;

/// <summary>
/// One connected client: who it is, what it has sent and received, and its send queue.
/// Created on accept (unnamed), named by its first valid line, closed exactly once.
/// </summary>
internal sealed class ChatSession
{
    private readonly ConnectionContext _connection;
    private readonly ConnectionWriter _output;
    private ClientCodec _codec;
    private readonly Action<ChatSession> _onOverflow;
    private TaskCompletionSource? _closed; // only for a flood delay that waits: most sessions never need it
    private CancellationTokenSource? _closing; // only for a wait on another instance: most sessions never need it
    private string? _nickname;
    private Room? _room;
    private object? _closeState; // null while open; then the close reason, or ClosedWithoutReason: one atomic step
    private long _bytesIn, _messagesIn;

    public ChatSession(ConnectionContext connection, ClientCodec codec, bool isOperator, long sendQueueBytes, Action<ChatSession> onOverflow)
    {
        _connection = connection;
        _codec = codec;
        _output = new ConnectionWriter(new TappedPipeWriter(connection.Transport.Output, () => Volatile.Read(ref _tap)), sendQueueBytes) { Framing = codec.Output };
        _onOverflow = onOverflow;
        IsOperator = isOperator;
        RemoteEndPoint = connection.RemoteEndPoint as IPEndPoint;
        LocalEndPoint = connection.LocalEndPoint as IPEndPoint;
        // Kestrel's TLS middleware (the Chat:Tls listener) adds this feature once the handshake is done.
        IsTls = connection.Features.Get<ITlsHandshakeFeature>() is not null;
        Transport = connection.Features.Get<TransportFeature>()?.Name ?? (IsTls ? "tls" : "tcp");
    }

    /// <summary>How the client reaches the chat: "tcp", "tls" (Chat:Tls:Port), "ws" (the web chat's WebSocket) or "udp" (Chat:Udp:Port).</summary>
    public string Transport { get; }

    private WireTap? _tap; // set while the dashboard's wire view watches this connection

    /// <summary>The wire view's tap while someone watches this connection; null otherwise (the usual case).</summary>
    public WireTap? Tap => Volatile.Read(ref _tap);

    /// <summary>Starts watching this connection's bytes (from now on); <see cref="StopWatching"/> when done.</summary>
    public System.Threading.Channels.ChannelReader<WireChunk> Watch()
    {
        lock (_tapGate)
        {
            var tap = _tap ?? new WireTap();
            var reader = tap.Watch();
            Volatile.Write(ref _tap, tap);
            return reader;
        }
    }

    public void StopWatching(System.Threading.Channels.ChannelReader<WireChunk> reader)
    {
        lock (_tapGate)
        {
            if (_tap is { } tap && tap.Stop(reader))
            {
                Volatile.Write(ref _tap, null);
            }
        }
    }

    private readonly Lock _tapGate = new();

    /// <summary>Kestrel's connection id; the same id appears in the logs and in GET /clients.</summary>
    public string Id => _connection.ConnectionId;

    public IPEndPoint? RemoteEndPoint { get; }

    public IPEndPoint? LocalEndPoint { get; }

    public DateTimeOffset ConnectedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>The room this client is in; null until it has a nickname. Changed only under the registry's membership lock.</summary>
    public Room? Room
    {
        get => Volatile.Read(ref _room);
        set => Volatile.Write(ref _room, value);
    }

    /// <summary>True on the Chat:Tls listener: the client speaks through TLS, the chat itself is the same.</summary>
    public bool IsTls { get; }

    /// <summary>Null until the client has chosen a nickname. Changed only under the room's lock.</summary>
    public string? Nickname
    {
        get => Volatile.Read(ref _nickname);
        set => Volatile.Write(ref _nickname, value);
    }

    public bool IsOperator { get; set; }

    /// <summary>
    /// How this client's bytes are framed (<see cref="ClientCodec"/>): lines, or the lesson client's
    /// messages. Changed only by the read loop, between reads (<see cref="UseCodec"/>).
    /// </summary>
    public ClientCodec Codec => Volatile.Read(ref _codec);

    /// <summary>
    /// Goes on with <paramref name="next"/> (a handover at a read boundary). From a codec without line ends
    /// to one with them, the last message the client got is ended with an LF now: it reads lines from here on.
    /// </summary>
    public void UseCodec(ClientCodec next)
    {
        var previous = _codec;
        if (next == previous)
        {
            return;
        }
        Volatile.Write(ref _codec, next);
        _output.Framing = next.Output;
        previous.Dispose();
        if (!previous.WritesLineEnds && next.WritesLineEnds)
        {
            Send(ServerLines.LineEnd);
        }
    }

    /// <summary>This member's slot in the room's MemberList; -1 when not a member. Changed under the room's lock.</summary>
    internal int MemberSlot { get; set; } = -1;

    /// <summary>Where this client's fan-outs start in the member list (see ChatRoom.SendToMembers).</summary>
    public int FanOutStart { get; } = Random.Shared.Next(int.MaxValue);

    public bool IsClosing => Volatile.Read(ref _closeState) is not null;

    private static readonly object ClosedWithoutReason = new();

    /// <summary>Completes when the close starts, to wake anything waiting on this client (a flood delay).</summary>
    public Task Closed
    {
        get
        {
            var closed = Volatile.Read(ref _closed) ?? Interlocked.CompareExchange(ref _closed, new(TaskCreationOptions.RunContinuationsAsynchronously), null) ?? _closed;
            if (IsClosing)
            {
                closed.TrySetResult(); // the close may have come before this was created
            }
            return closed.Task;
        }
    }

    /// <summary>
    /// Cancelled when the close starts: a wait on another instance made for this client (a nickname claim,
    /// /msg, /who in a cluster) ends with it, so the read loop never outlives its connection.
    /// </summary>
    public CancellationToken Closing
    {
        get
        {
            var closing = Volatile.Read(ref _closing) ?? Interlocked.CompareExchange(ref _closing, new(), null) ?? _closing;
            if (IsClosing)
            {
                CancelClosing(closing); // the close may have come before this was created
            }
            return closing.Token;
        }
    }

    // On the thread pool: Cancel runs the waiters' continuations inline, and Close may be called under the membership lock.
    private static void CancelClosing(CancellationTokenSource closing) =>
        ThreadPool.UnsafeQueueUserWorkItem(static c => c.Cancel(), closing, preferLocal: false);

    /// <summary>
    /// Why the server closed this session (quit, shutdown, sendq…); null while open or when the peer left
    /// first. Set in the same step that closes the session, so whoever sees it closing sees why.
    /// </summary>
    public string? CloseReason => Volatile.Read(ref _closeState) switch
    {
        string reason => reason,
        Departure departure => departure.Reason,
        _ => null,
    };

    /// <summary>Why the others are told this client left, when the server decided it ("no datagram for 5 minutes"); null otherwise.</summary>
    public string? LeaveNote => (Volatile.Read(ref _closeState) as Departure)?.Note;

    /// <summary>A close the others are told the reason of: the reason and the note are set in the one step that closes.</summary>
    private sealed record Departure(string Reason, string Note);

    /// <summary>A UDP client's silence and dropped datagrams (GET /clients); null for every other transport.</summary>
    public Admin.UdpClientInfo? Udp => (_connection as Udp.UdpConnection)?.Info;

    public long BytesIn => Interlocked.Read(ref _bytesIn);

    public long BytesOut => _output.BytesOut;

    public long MessagesIn => Interlocked.Read(ref _messagesIn);

    public long MessagesOut => _output.MessagesOut;

    public long QueuedBytes => _output.QueuedBytes;

    /// <summary>Its counters as <see cref="ChatMetrics"/> last folded them into the totals of sessions that left.</summary>
    internal SessionCounts? CountedAtLeave { get; set; }

    /// <summary>Why the output stopped when it was not the peer (an exception while draining); null normally.</summary>
    public Exception? OutputFault => _output.Fault;

    public void CountBytesIn(long bytes) => Interlocked.Add(ref _bytesIn, bytes);

    public void CountMessageIn() => Interlocked.Increment(ref _messagesIn);

    /// <summary>Sends the bare "NICK" greeting; the next line, if the client has typed nothing yet, starts on a new line.</summary>
    public void Greet()
    {
        if (_codec.LeavesGreetingOpen)
        {
            _output.WriteOpenLine(ServerLines.NickGreeting);
        }
        else
        {
            Send(ServerLines.NickGreetingLine);
        }
    }

    /// <summary>Writes a line to this client. Never blocks; a client whose backlog overflows is disconnected.</summary>
    public void Send(byte[] line) => Send(line, 1, deferFlushTo: null);

    /// <summary>Writes <paramref name="lines"/> whole lines (a batch from another instance) to this client.</summary>
    public void Send(byte[] bytes, int lines) => Send(bytes, lines, deferFlushTo: null);

    /// <summary>
    /// One recipient of a batch of <paramref name="lines"/> lines fanned out in <paramref name="scope"/>:
    /// written now, flushed when the sender's read is done (<see cref="FanOutScope.Complete"/>), so a
    /// burst costs one flush per recipient. True when this client's backlog keeps a reference to
    /// <paramref name="bytes"/> (it is behind), so the sender must not reuse them.
    /// </summary>
    public bool Send(ReadOnlyMemory<byte> bytes, int lines, FanOutScope scope) =>
        Send(bytes, lines, scope.Flushes.Writers) == WriteResult.Queued;

    /// <summary>Writes <paramref name="lines"/> whole lines; flushed now, or with <paramref name="flushes"/> when given.</summary>
    public void Send(byte[] bytes, int lines, DeferredFlushes? flushes) => Send(bytes, lines, flushes?.Writers);

    private WriteResult Send(ReadOnlyMemory<byte> bytes, int lines, List<ConnectionWriter>? deferFlushTo)
    {
        var result = _output.Write(bytes, lines, deferFlushTo);
        // Two senders may overflow the same backlog at once: only the one that closes the session reports it.
        if (result == WriteResult.Overflow && Close(ServerLines.SendQueueExceeded, "sendq"))
        {
            _onOverflow(this);
        }
        return result;
    }

    /// <summary>
    /// Starts the close, once: queues <paramref name="farewell"/> as the last line, lets the writer
    /// flush it and complete the output (the client reads it, then EOF), and stops the read loop.
    /// True for the call that closed it; false when the session was closing already.
    /// </summary>
    public bool Close(byte[]? farewell, string? reason) => Close(farewell, reason ?? ClosedWithoutReason);

    /// <summary>As <see cref="Close(byte[], string)"/>, and the leave notice the others get says why: "(<paramref name="leaveNote"/>)".</summary>
    public bool Close(byte[]? farewell, string reason, string leaveNote) => Close(farewell, new Departure(reason, leaveNote));

    private bool Close(byte[]? farewell, object state)
    {
        if (Interlocked.CompareExchange(ref _closeState, state, null) is not null)
        {
            return false;
        }
        _output.Complete(farewell);
        _connection.Transport.Input.CancelPendingRead();
        Volatile.Read(ref _closed)?.TrySetResult();
        if (Volatile.Read(ref _closing) is { } closing)
        {
            CancelClosing(closing);
        }
        return true;
    }

    /// <summary>
    /// Once the session is closing: waits until its last line is flushed (or the peer is gone), then
    /// ends the connection as its codec does (FIN; close_notify over TLS; a reset for the lesson client).
    /// </summary>
    public async Task FinishOutputAsync()
    {
        try
        {
            await _output.Drained.ConfigureAwait(false);
            await Codec.CloseAsync(_connection, BytesOut).ConfigureAwait(false);
        }
        catch (Exception ex) when (PeerGone.Is(ex))
        {
            // The peer went away mid-write; nothing more to send.
        }
        finally
        {
            await _connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Drops the connection at once (RST), for a peer that will not take its last bytes.</summary>
    public void Abort(string reason)
    {
        Close(null, reason);
        _connection.Abort(new ConnectionAbortedException(reason));
    }
}
