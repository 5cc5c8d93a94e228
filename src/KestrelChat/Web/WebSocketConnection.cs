using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using KestrelChat.Chat;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace KestrelChat.Web;

/// <summary>
/// A browser's WebSocket as a chat connection: the same <see cref="ChatConnectionHandler"/> serves it through a
/// pair of pipes, so every rule of the chat (line length, UTF-8, flood control, the send queue, the limits per
/// address) holds as on TCP. Framing is the only difference, and it lives here: one text frame is one line each
/// way (received frames get their LF; each line sent goes as a frame without it; a frame with LFs in it is that
/// many lines). The session's close is a WebSocket close (1000) after the last line; the peer's close is EOF.
/// </summary>
internal sealed class WebSocketConnection : ConnectionContext
{
    /// <summary>Marks a connection that came through /ws (GET /clients: "transport":"ws").</summary>
    internal sealed class Feature
    {
        public static readonly Feature Instance = new();
    }

    /// <summary>How long a peer has to answer the server's close frame.</summary>
    internal static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(2);

    private readonly WebSocket _socket;
    private readonly Pipe _input = new(new PipeOptions(useSynchronizationContext: false));
    private readonly Pipe _output = new(new PipeOptions(useSynchronizationContext: false));
    private readonly CancellationTokenSource _closed = new();

    public WebSocketConnection(WebSocket socket, string id, EndPoint? remote, EndPoint? local)
    {
        _socket = socket;
        ConnectionId = id;
        RemoteEndPoint = remote;
        LocalEndPoint = local;
        Transport = new DuplexPipe(_input.Reader, _output.Writer);
        Features.Set(Feature.Instance);
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override CancellationToken ConnectionClosed
    {
        get => _closed.Token;
        set => throw new NotSupportedException();
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _socket.Abort(); // both pumps end: the read loop sees the input complete, the writer its output
        _closed.Cancel();
    }

    /// <summary>Runs the chat over the socket until both sides are done.</summary>
    public async Task RunAsync(ConnectionHandler handler)
    {
        var receiving = ReceiveAsync();
        var sending = SendAsync();
        try
        {
            await handler.OnConnectedAsync(this).ConfigureAwait(false);
            await sending.ConfigureAwait(false);
        }
        finally
        {
            // The session has ended and said so with a close frame: the peer has a moment to answer it (the
            // closing handshake), then whatever it still sends is nobody's.
            try
            {
                await receiving.WaitAsync(CloseHandshakeTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _socket.Abort();
                await receiving.ConfigureAwait(false);
            }
            await _closed.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Frames in → lines into the input pipe; the peer's close (or a failure) completes it. Never throws.</summary>
    private async Task ReceiveAsync()
    {
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(writer.GetMemory(4096), CancellationToken.None).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                writer.Advance(result.Count);
                if (result.EndOfMessage)
                {
                    writer.GetSpan(1)[0] = (byte)'\n';
                    writer.Advance(1);
                }
                // Back-pressure as on TCP: a client whose lines wait (flood control) is not read further.
                if ((await writer.FlushAsync().ConfigureAwait(false)).IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The peer went away without a close: EOF all the same.
        }
        finally
        {
            await writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Lines out of the output pipe → one text frame each; once the session completes it, the close. Never throws.</summary>
    private async Task SendAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = read.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    await SendLineAsync(buffer.Slice(0, end)).ConfigureAwait(false);
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The peer is gone: what was left to send has nobody to read it.
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private ValueTask SendLineAsync(ReadOnlySequence<byte> line)
    {
        if (line.IsSingleSegment)
        {
            return _socket.SendAsync(line.First, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        }
        return new ValueTask(_socket.SendAsync(line.ToArray(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None));
    }

    public override async ValueTask DisposeAsync()
    {
        _closed.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
