using System.Buffers;
using System.Buffers.Binary;
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
/// <remarks>
/// The WebSocket reads (unmasking, control frames, the closing handshake) and writes its control frames; the lines
/// are framed here, the lines waiting in the output pipe into a block of the pool and one write to the
/// <see cref="UpgradedStream"/> per block — as the TCP path writes all that waits with one flush. Both pipes and the
/// blocks come from a pool that keeps its blocks while they are in demand (Hosting/TrimmingMemoryPool.cs): with the
/// shared array pool, 2,000 busy connections allocated a new buffer for most batches. Not
/// <see cref="WebSocket.SendAsync(ReadOnlyMemory{byte}, WebSocketMessageType, bool, CancellationToken)"/> per line:
/// each is a flush to the socket, and a crowd of WebSocket clients got a fifth of TCP's deliveries/s that way
/// (docs/benchmarks.md).
/// </remarks>
internal sealed class WebSocketConnection : PipeConnection
{
    /// <summary>How long a peer has to answer the server's close frame.</summary>
    internal static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(2);

    private readonly WebSocket _socket;
    private readonly UpgradedStream _stream;
    private readonly MemoryPool<byte> _frames;

    /// <summary>Where every WebSocket's buffers come from: 4 KiB blocks for its pipes, <see cref="FrameBlockBytes"/> for the frames it writes.</summary>
    internal sealed record Memory(MemoryPool<byte> Pipes, MemoryPool<byte> Frames);

    public WebSocketConnection(WebSocket socket, UpgradedStream stream, Memory memory, string id, EndPoint? remote, EndPoint? local)
        : base(id, remote, local, TransportFeature.WebSocket,
            new PipeOptions(memory.Pipes, useSynchronizationContext: false),
            // The reader runs inline, on the thread that flushed: the fan-out that wrote the lines frames them and hands
            // them to Kestrel at once, as it copies them into a TCP connection's pipe — no hop to the thread pool per batch.
            new PipeOptions(memory.Pipes, readerScheduler: PipeScheduler.Inline, useSynchronizationContext: false))
    {
        _socket = socket;
        _stream = stream;
        _frames = memory.Frames;
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _socket.Abort(); // both pumps end: the read loop sees the input complete, the writer its output
        Closed.Cancel();
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
            await Closed.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Frames in → lines into the input pipe; the peer's close (or a failure) completes it. Never throws.</summary>
    private async Task ReceiveAsync()
    {
        var writer = Input.Writer;
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

    /// <summary>Lines out of the output pipe → one text frame each, a block of frames per write; once the session completes it, the close. Never throws.</summary>
    private async Task SendAsync()
    {
        var reader = Output.Reader;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = read.Buffer;
                while (buffer.PositionOf((byte)'\n') is not null)
                {
                    using var block = _frames.Rent(FrameBlockBytes);
                    var length = FrameLines(ref buffer, block.Memory.Span);
                    if (length > 0)
                    {
                        await _stream.WriteAsync(block.Memory[..length]).ConfigureAwait(false);
                        continue;
                    }
                    // A line longer than a block (a long list of rooms, say): a buffer of its own.
                    var own = ArrayPool<byte>.Shared.Rent((int)buffer.Slice(0, buffer.PositionOf((byte)'\n')!.Value).Length + MaxHeaderBytes);
                    try
                    {
                        length = FrameLines(ref buffer, own);
                        await _stream.WriteAsync(own.AsMemory(0, length)).ConfigureAwait(false);
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(own);
                    }
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

    /// <summary>What one write carries at most: the frames of ~200 chat lines; a backlog drains in a few writes.</summary>
    internal const int FrameBlockBytes = 16 * 1024;

    /// <summary>
    /// Frames the complete lines at the start of <paramref name="lines"/>, as many as fit in
    /// <paramref name="destination"/>, as text frames without their LFs, and steps past them; returns the bytes
    /// written: 0 when the first line alone does not fit.
    /// </summary>
    internal static int FrameLines(ref ReadOnlySequence<byte> lines, Span<byte> destination)
    {
        var reader = new SequenceReader<byte>(lines);
        var done = reader.Position;
        var length = 0;
        while (reader.TryReadTo(out ReadOnlySpan<byte> line, (byte)'\n') && length + line.Length + MaxHeaderBytes <= destination.Length)
        {
            length += WriteHeader(destination[length..], line.Length);
            line.CopyTo(destination[length..]);
            length += line.Length;
            done = reader.Position;
        }
        lines = lines.Slice(done);
        return length;
    }

    /// <summary>The longest header of a server's frame: 2 bytes and a 64-bit length (a server's frames are not masked).</summary>
    private const int MaxHeaderBytes = 10;

    /// <summary>Writes the header of one final, unmasked text frame of <paramref name="payload"/> bytes (RFC 6455 5.2); returns its length.</summary>
    private static int WriteHeader(Span<byte> destination, int payload)
    {
        destination[0] = 0x81; // FIN, text
        if (payload < 126)
        {
            destination[1] = (byte)payload;
            return 2;
        }
        if (payload <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payload);
            return 4;
        }
        destination[1] = 127;
        BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payload);
        return 10;
    }
}
