using System.Buffers;
using System.IO.Pipelines;
using KestrelChat.Protocol;
using Microsoft.AspNetCore.Connections;

namespace KestrelChat.Codecs;

/// <summary>
/// How one connection's bytes are framed, and nothing else: bytes → lines for the read loop, lines →
/// what goes on the wire for its writer, and how the connection ends. Who the client is and where it is
/// lives in the session; what a line means, in the commands. One per connection, chosen by the listener
/// (<see cref="For"/>); a codec may hand over to another at a read boundary (<see cref="Next"/>).
/// </summary>
/// <remarks>
/// The server writes LF lines, encoded once per message and copied as they are into each recipient's
/// pipe. A codec that needs another shape (the lesson client: one message per write, without LF) says
/// so once, through <see cref="Output"/>; clients that take lines as they are pay no per-line call.
/// </remarks>
internal abstract class ClientCodec : IDisposable
{
    /// <summary>
    /// The codec a new connection starts with: a line a frame over a WebSocket, a line a datagram over UDP, LF lines
    /// over TLS; over plain TCP, lines until the lesson client is recognised.
    /// </summary>
    public static ClientCodec For(ConnectionContext connection, int maxLineBytes) => connection.Features.Get<Chat.TransportFeature>() switch
    {
        { } ws when ws == Chat.TransportFeature.WebSocket => new WebSocketCodec(maxLineBytes),
        { } udp when udp == Chat.TransportFeature.Udp => new DatagramCodec(maxLineBytes),
        _ when connection.Features.Get<Microsoft.AspNetCore.Connections.Features.ITlsHandshakeFeature>() is not null => new LineCodec(maxLineBytes), // the lesson client speaks plain TCP only
        _ => new LessonClientCodec.Recognizer(connection, maxLineBytes),
    };

    /// <summary>Takes the next line off the front of <paramref name="buffer"/> (see <see cref="LineFramer.TryReadLine"/>).</summary>
    public abstract LineResult TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line);

    /// <summary>The limit <see cref="LineResult.TooLong"/> refers to.</summary>
    public abstract int MaxLineBytes { get; }

    /// <summary>Bytes without a line end after which the peer is not chatting (<see cref="LineResult.NoLineEnd"/>).</summary>
    public long NoLineEndBytes => 4L * MaxLineBytes;

    /// <summary>
    /// Called with each read before its lines are taken, and with whether the client has a nickname:
    /// the codec to go on with — this one, or the one it hands over to.
    /// </summary>
    public virtual ClientCodec Next(in ReadResult read, bool named) => this;

    /// <summary>Called after each read's lines were taken, with what is left unread (a line without its end, so far).</summary>
    public virtual void AfterRead(in ReadOnlySequence<byte> unread, bool named)
    {
    }

    /// <summary>
    /// A decoded message as the plain line the commands understand; a codec whose clients add forms of their
    /// own (the lesson client's "alice: " prefix) removes them here, and may make two lines of one (<paramref name="then"/>).
    /// </summary>
    public virtual string ToLine(string? nickname, string message, out string? then)
    {
        then = null;
        return message;
    }

    /// <summary>Called after a line that may have given the client its nickname.</summary>
    public virtual void Named(string? nickname)
    {
    }

    /// <summary>Null: lines go on the wire as they are. Otherwise each line is written on its own, reshaped by it.</summary>
    public virtual IMessageFraming? Output => null;

    /// <summary>
    /// True when what this client reads ends in LF: the bare "NICK" greeting then leaves a line open that the
    /// next line closes first, and a handover from a codec without line ends ends the last line.
    /// </summary>
    public virtual bool WritesLineEnds => true;

    /// <summary>
    /// True when "NICK" is left open (the lesson's client reads it without a line end; nc shows the nickname typed
    /// after it); false: it is a line of its own at once (a WebSocket frame needs its end to be sent).
    /// </summary>
    public virtual bool LeavesGreetingOpen => true;

    /// <summary>True when a refused nickname is answered with a request for another; false: with the reason and a close.</summary>
    public virtual bool AsksAgainForNickname => true;

    /// <summary>Once the output is drained (or the peer is gone), before the transport completes: how the connection ends.</summary>
    public virtual Task CloseAsync(ConnectionContext connection, long bytesOut) => Task.CompletedTask;

    public virtual void Dispose()
    {
    }
}

/// <summary>
/// A codec's output shape: each line (its LF included) is written by itself,
/// flushed, and the next waits for <see cref="AfterMessageAsync"/>.
/// </summary>
internal interface IMessageFraming
{
    /// <summary>Writes <paramref name="line"/> as one message; returns the bytes written.</summary>
    int Write(ReadOnlySpan<byte> line, IBufferWriter<byte> output);

    /// <summary>Awaited after each message is flushed, given the bytes written so far.</summary>
    Task AfterMessageAsync(long bytesOut);
}
