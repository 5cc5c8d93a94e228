using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using KestrelChat.Hosting;
using KestrelChat.Protocol;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace KestrelChat.Codecs;

/// <summary>
/// The lesson's Python client and the students' variants of it (docs/protocol.md, "The lesson's Python
/// client"), all in one place: how it is recognised, how its input is read, how it is written to, and how
/// it is closed.
/// <list type="bullet">
/// <item>Recognised: it answers "NICK" with its nickname and no LF, then stays silent; nc, telnet and our
/// client end the nickname with LF at once. Every plain-TCP connection starts with <see cref="Recognizer"/>:
/// lines, until bytes without LF from an unnamed client are followed by <see cref="Gap"/> of silence.</item>
/// <item>Input: each send() is a message; whatever has arrived is one even without LF (only a UTF-8
/// character cut in two by TCP waits for its other half). Its own forms become plain lines: its "alice: "
/// before every message is removed (the server adds the real one), and a first message "alice: hello" from
/// a variant that never answered NICK is two lines, the name and the message.</item>
/// <item>Output: it prints each recv() as one message, so each line is one write without its LF (print()
/// adds one), at most <see cref="MaxMessageBytes"/> bytes — its recv(1024) — never cut inside a character
/// (a cut character makes its decode() raise and kills it). Between two messages the writer waits for
/// <see cref="PacingGap"/>, in which the client's receive loop, blocked in recv(), has long taken the first,
/// and for the client's TCP to acknowledge it (so that a lost and retransmitted segment cannot arrive
/// together with the next). A client that does not read at all still gets its messages joined: nothing on
/// the sending side can prevent that. The cost: at most 50 messages a second to each such client; a busier
/// room fills its send queue (Chat:Limits:SendQueueBytes), as for any slow reader.</item>
/// <item>Close: on end-of-stream it would print empty lines for ever, on a reset it prints "An error
/// occured!" and exits. So once the last message is acknowledged, the connection is reset.</item>
/// <item>A refused nickname closes the connection with the reason: it sends its nickname only in answer to
/// "NICK" and would send the same one again; its user starts it again with another name.</item>
/// <item>A client that named itself without LF and then sends one (a Go or Java variant) speaks in lines
/// after all: the codec hands over to lines in, lines out and a FIN at the end, and keeps removing its prefix.</item>
/// </list>
/// </summary>
internal sealed class LessonClientCodec : ClientCodec, IMessageFraming
{
    /// <summary>Silence after a partial nickname that marks the lesson client.</summary>
    public static readonly TimeSpan Gap = TimeSpan.FromMilliseconds(300);

    /// <summary>The least time between two messages to the client.</summary>
    public static readonly TimeSpan PacingGap = TimeSpan.FromMilliseconds(20);

    /// <summary>The client's recv(1024).</summary>
    public const int MaxMessageBytes = 1024;

    /// <summary>How long to wait for an acknowledgement before going on regardless (a peer that stopped reading).</summary>
    private static readonly TimeSpan AcknowledgementTimeout = TimeSpan.FromSeconds(2);

    private readonly Socket? _socket; // null without a socket (tests on pipes): no pacing, no reset
    private readonly int _maxLineBytes;
    private readonly bool _inLines;   // handed over to lines: an LF came after the nickname
    private LineFramer _framer;       // lines that do end in LF (in either mode)
    private long _skippedBytes;       // oversized chunks in a row
    private string? _ownPrefix;       // the name it puts before every message (its own variable: /nick does not change it)

    /// <summary>The codec of a recognised lesson client: <paramref name="socket"/> paces its messages and resets it at the end.</summary>
    public LessonClientCodec(Socket? socket, int maxLineBytes)
    {
        _socket = socket;
        _maxLineBytes = maxLineBytes;
        _framer = new LineFramer(maxLineBytes);
    }

    private LessonClientCodec(LessonClientCodec unframed)
        : this(socket: null, unframed._maxLineBytes)
    {
        _inLines = true;
        _ownPrefix = unframed._ownPrefix;
    }

    public override int MaxLineBytes => _maxLineBytes;

    public override IMessageFraming? Output => _inLines ? null : this;

    public override bool WritesLineEnds => _inLines;

    public override bool AsksAgainForNickname => _inLines;

    public override ClientCodec Next(in ReadResult read, bool named) =>
        !_inLines && named && read.Buffer.PositionOf((byte)'\n') is not null ? new LessonClientCodec(this) : this;

    public override LineResult TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        if (_inLines || buffer.PositionOf((byte)'\n') is not null)
        {
            return _framer.TryReadLine(ref buffer, out line);
        }
        // No LF: whatever has arrived is a message. The bound is on chunks: one over the limit is refused,
        // and oversized chunks in a row past 4 × the limit (a stream, not a person) end the connection.
        var complete = buffer.Length - Utf8Boundaries.IncompleteTailLength(buffer);
        line = buffer.Slice(0, complete);
        if (complete == 0)
        {
            return LineResult.NeedMoreData;
        }
        buffer = buffer.Slice(complete);
        if (LineFramer.EndsWithCr(line))
        {
            line = line.Slice(0, line.Length - 1);
        }
        if (line.Length <= _maxLineBytes)
        {
            _skippedBytes = 0;
            return LineResult.Line;
        }
        _skippedBytes += line.Length;
        return _skippedBytes > NoLineEndBytes ? LineResult.NoLineEnd : LineResult.TooLong;
    }

    public override string ToLine(string? nickname, string message, out string? then)
    {
        then = null;
        if (nickname is null)
        {
            if (!_inLines && NicknameRules.Validate(message, out _) != NicknameProblem.None && SplitOwnPrefix(message) is { } split)
            {
                then = string.IsNullOrWhiteSpace(split.Message) ? null : split.Message;
                return split.Nickname;
            }
            return message;
        }
        return _ownPrefix is { } prefix && OwnPrefixLength(message, prefix) is var length and > 0
            ? message[length..]
            : message;
    }

    public override void Named(string? nickname)
    {
        if (!_inLines && nickname is not null)
        {
            _ownPrefix ??= nickname;
        }
    }

    public int Write(ReadOnlySpan<byte> line, IBufferWriter<byte> output)
    {
        var message = Message(line);
        output.Write(message);
        return message.Length;
    }

    public async Task AfterMessageAsync(long bytesOut)
    {
        if (_socket is not null)
        {
            await Task.WhenAll(
                TcpDelivery.WaitUntilAcknowledgedAsync(_socket, bytesOut, AcknowledgementTimeout),
                Task.Delay(PacingGap)).ConfigureAwait(false);
        }
    }

    public override async Task CloseAsync(ConnectionContext connection, long bytesOut)
    {
        if (_inLines || _socket is null)
        {
            return; // FIN
        }
        await TcpDelivery.WaitUntilAcknowledgedAsync(_socket, bytesOut, ChatShutdown.CloseFlushTimeout).ConfigureAwait(false);
        TcpDelivery.Reset(_socket);
        connection.Abort(new ConnectionAbortedException("closed with a reset (lesson client)"));
    }

    /// <summary>A server line as one message: without its LF, at most <see cref="MaxMessageBytes"/>, whole characters.</summary>
    internal static ReadOnlySpan<byte> Message(ReadOnlySpan<byte> line)
    {
        var span = line;
        if (span.Length > 0 && span[^1] == (byte)'\n')
        {
            span = span[..^1];
        }
        return span[..Utf8Boundaries.PrefixLength(span, MaxMessageBytes)];
    }

    /// <summary>
    /// How many characters of <paramref name="line"/> are its sender's own "nickname:" prefix, in any of the
    /// spacings students' clients use ("alice: hi", "alice :hi", "alice : hi"); 0 when it has none.
    /// </summary>
    internal static int OwnPrefixLength(string line, string nickname)
    {
        if (!line.StartsWith(nickname, StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }
        var i = nickname.Length;
        while (i < line.Length && line[i] == ' ')
        {
            i++;
        }
        if (i >= line.Length || line[i] != ':')
        {
            return 0;
        }
        i++;
        return i < line.Length && line[i] == ' ' ? i + 1 : i;
    }

    /// <summary>"alice: hello" → (alice, hello) when the part before the colon is a valid nickname.</summary>
    private static (string Nickname, string Message)? SplitOwnPrefix(string line)
    {
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || NicknameRules.Validate(line[..colon], out var nickname) != NicknameProblem.None)
        {
            return null;
        }
        return (nickname, line[OwnPrefixLength(line, line[..colon].TrimEnd())..]);
    }

    /// <summary>
    /// What every plain-TCP connection starts with: LF lines, watching for the lesson client. When an
    /// unnamed client has sent bytes but no LF, a timer starts; if <see cref="Gap"/> passes in silence, it
    /// wakes the read loop by cancelling its pending read, and <see cref="Next"/> hands over.
    /// </summary>
    internal sealed class Recognizer(ConnectionContext connection, int maxLineBytes) : LineCodec(maxLineBytes)
    {
        private readonly PipeReader _input = connection.Transport.Input;
        private Timer? _timer; // created on first use: most clients end their nickname with LF and never need it
        private volatile bool _fired;
        private bool _armed;

        public override ClientCodec Next(in ReadResult read, bool named)
        {
            if (read.IsCanceled && _fired && !named && read.Buffer.Length > 0 && read.Buffer.PositionOf((byte)'\n') is null)
            {
                return new LessonClientCodec(connection.Features.Get<IConnectionSocketFeature>()?.Socket, MaxLineBytes);
            }
            return this;
        }

        public override void AfterRead(in ReadOnlySequence<byte> unread, bool named)
        {
            if (!named && unread.Length > 0)
            {
                Arm(); // part of a nickname and no LF yet: the lesson client, if silence follows
            }
            else if (_armed)
            {
                _armed = false; // checked first, so a read costs no timer call
                _timer!.Change(Timeout.Infinite, Timeout.Infinite);
            }
        }

        private void Arm()
        {
            _timer ??= new Timer(static state =>
            {
                var recognizer = (Recognizer)state!;
                recognizer._fired = true;
                recognizer._input.CancelPendingRead();
            }, this, Timeout.Infinite, Timeout.Infinite);
            _timer.Change(Gap, Timeout.InfiniteTimeSpan);
            _armed = true;
        }

        public override void Dispose()
        {
            _timer?.Dispose();
            base.Dispose();
        }
    }
}
