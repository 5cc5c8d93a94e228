using System.Buffers;

namespace KestrelChat.Protocol;

/// <summary>
/// Bytes → lines. LF ends a line and a CR right before it is dropped (so nc, telnet and
/// Windows clients all work). A line longer than the limit is not buffered: the framer reports
/// it once and skips input up to its LF, so the memory one connection can hold stays bounded.
/// </summary>
/// <remarks>Works on the pipe's <see cref="ReadOnlySequence{T}"/> in place: no copies, no allocations.</remarks>
internal struct LineFramer(int maxLineBytes)
{
    private bool _skippingOversizedLine;
    private long _skippedBytes;

    public readonly int MaxLineBytes { get; } = maxLineBytes;

    /// <summary>Bytes without any LF after which the peer is not chatting: 4 × <see cref="MaxLineBytes"/>.</summary>
    public readonly long NoLineEndBytes => 4L * MaxLineBytes;

    /// <summary>
    /// Takes the next complete line off the front of <paramref name="buffer"/>.
    /// </summary>
    /// <returns>
    /// <see cref="LineResult.Line"/> with the line (without LF/CR) in <paramref name="line"/>;
    /// <see cref="LineResult.TooLong"/> once for a line over the limit (its bytes are discarded);
    /// <see cref="LineResult.NeedMoreData"/> when no whole line is buffered;
    /// <see cref="LineResult.NoLineEnd"/> when more than 4 × the limit has come without any LF.
    /// </returns>
    public LineResult TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        line = default;
        var reader = new SequenceReader<byte>(buffer);
        if (_skippingOversizedLine)
        {
            if (!reader.TryAdvanceTo((byte)'\n'))
            {
                _skippedBytes += buffer.Length;
                buffer = buffer.Slice(buffer.End); // drop everything: it is all part of the long line
                // A peer that streams without ever sending LF is not chatting.
                return _skippedBytes > NoLineEndBytes ? LineResult.NoLineEnd : LineResult.NeedMoreData;
            }
            _skippingOversizedLine = false;
            buffer = buffer.Slice(reader.Position);
            reader = new SequenceReader<byte>(buffer);
        }

        if (!reader.TryReadTo(out line, (byte)'\n'))
        {
            // +1: the CR of a CRLF line may already be here while its LF is still in flight.
            if (buffer.Length <= MaxLineBytes + 1)
            {
                return LineResult.NeedMoreData;
            }
            // Over the limit with no LF in sight: report it now and drop bytes until the LF.
            _skippingOversizedLine = true;
            _skippedBytes = buffer.Length;
            buffer = buffer.Slice(buffer.End);
            return LineResult.TooLong;
        }

        buffer = buffer.Slice(reader.Position);
        if (line.Length > 0 && EndsWithCr(line))
        {
            line = line.Slice(0, line.Length - 1);
        }
        return line.Length > MaxLineBytes ? LineResult.TooLong : LineResult.Line;
    }

    internal static bool EndsWithCr(in ReadOnlySequence<byte> line)
    {
        if (line.IsSingleSegment)
        {
            return line.FirstSpan[^1] == (byte)'\r';
        }
        return line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r';
    }
}

internal enum LineResult
{
    NeedMoreData,
    Line,
    TooLong,

    /// <summary>More than 4 × the limit arrived without any LF: the connection should be dropped.</summary>
    NoLineEnd,
}
