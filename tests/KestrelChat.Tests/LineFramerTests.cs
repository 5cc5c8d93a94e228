using System.Buffers;
using System.Text;
using KestrelChat.Protocol;

namespace KestrelChat.Tests;

/// <summary>Framing on its own: the byte sequences TCP can deliver, split anywhere.</summary>
public sealed class LineFramerTests
{
    [Fact]
    public void Lines_split_across_any_segment_boundaries_come_out_whole_with_CR_dropped()
    {
        var bytes = Encoding.UTF8.GetBytes("Привет\r\nhello\n\nlast\r\n");
        for (var cut1 = 1; cut1 < bytes.Length - 1; cut1++)
        {
            for (var cut2 = cut1 + 1; cut2 < bytes.Length; cut2++)
            {
                var buffer = Segments(bytes[..cut1], bytes[cut1..cut2], bytes[cut2..]);
                var framer = new LineFramer(100);

                Assert.Equal(["Привет", "hello", "", "last"], ReadAll(ref framer, ref buffer));
                Assert.Equal(0, buffer.Length);
            }
        }
    }

    [Theory]
    [InlineData("616263", 0)]         // abc
    [InlineData("D0B6", 0)]           // ж
    [InlineData("61D0", 1)]           // a, then the first byte of ж
    [InlineData("E282", 2)]           // two of €'s three bytes
    [InlineData("F09F98", 3)]         // three of 😀's four bytes
    [InlineData("F09F9880", 0)]       // 😀
    public void The_incomplete_UTF8_tail_is_the_start_of_a_character_still_in_flight(string hex, int expected)
    {
        Assert.Equal(expected, Utf8Boundaries.IncompleteTailLength(Convert.FromHexString(hex)));
    }

    [Fact]
    public void An_unfinished_line_stays_in_the_buffer()
    {
        var buffer = new ReadOnlySequence<byte>("one\ntw"u8.ToArray());
        var framer = new LineFramer(100);

        Assert.Equal(["one"], ReadAll(ref framer, ref buffer));
        Assert.Equal("tw", Encoding.UTF8.GetString(buffer.ToArray()));
    }

    [Fact]
    public void A_line_over_the_limit_is_reported_once_and_skipped_even_before_its_LF_arrives()
    {
        var framer = new LineFramer(8);
        var first = new ReadOnlySequence<byte>("0123456789ab"u8.ToArray());

        Assert.Equal(LineResult.TooLong, framer.TryReadLine(ref first, out _));
        Assert.Equal(0, first.Length); // nothing of it is kept
        var rest = new ReadOnlySequence<byte>("cdef\nnext\n"u8.ToArray());
        Assert.Equal(["next"], ReadAll(ref framer, ref rest));
    }

    [Fact]
    public void More_than_four_times_the_limit_without_LF_is_reported_whether_it_comes_in_one_chunk_or_many()
    {
        var framer = new LineFramer(8);
        var all = new ReadOnlySequence<byte>(new byte[33]);
        Assert.Equal(LineResult.TooLong, framer.TryReadLine(ref all, out _));
        Assert.Equal(LineResult.NoLineEnd, framer.TryReadLine(ref all, out _));

        var pieces = new LineFramer(8);
        var first = new ReadOnlySequence<byte>(new byte[20]);
        Assert.Equal(LineResult.TooLong, pieces.TryReadLine(ref first, out _));
        Assert.Equal(LineResult.NeedMoreData, pieces.TryReadLine(ref first, out _));
        var second = new ReadOnlySequence<byte>(new byte[13]);
        Assert.Equal(LineResult.NoLineEnd, pieces.TryReadLine(ref second, out _));
    }

    [Fact]
    public void A_line_of_exactly_the_limit_passes_with_or_without_CR()
    {
        var framer = new LineFramer(4);
        var buffer = new ReadOnlySequence<byte>("abcd\r\nabcd\nabcde\n"u8.ToArray());

        Assert.Equal(LineResult.Line, framer.TryReadLine(ref buffer, out _));
        Assert.Equal(LineResult.Line, framer.TryReadLine(ref buffer, out _));
        Assert.Equal(LineResult.TooLong, framer.TryReadLine(ref buffer, out _));
    }

    private static List<string> ReadAll(ref LineFramer framer, ref ReadOnlySequence<byte> buffer)
    {
        var lines = new List<string>();
        while (framer.TryReadLine(ref buffer, out var line) is var result && result != LineResult.NeedMoreData)
        {
            Assert.Equal(LineResult.Line, result);
            lines.Add(Encoding.UTF8.GetString(line.ToArray()));
        }
        return lines;
    }

    internal static ReadOnlySequence<byte> Segments(params byte[][] parts)
    {
        var first = new Segment(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            last = last.Append(part);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    internal sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(byte[] memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
