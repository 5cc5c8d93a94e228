using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using KestrelChat.Chat;
using KestrelChat.Codecs;
using KestrelChat.Protocol;
using Microsoft.AspNetCore.Connections;

namespace KestrelChat.Tests;

/// <summary>
/// The lesson client's codec without a socket: how its chunks become lines, how its own forms become
/// plain lines, what it is sent, and the handover to lines. LessonClientTests runs the real client.
/// </summary>
public sealed class LessonClientCodecTests
{
    [Fact]
    public void Oversized_chunks_in_a_row_past_four_times_the_limit_end_the_connection_a_normal_one_resets_the_count()
    {
        Assert.Equal([LineResult.TooLong, LineResult.TooLong, LineResult.NoLineEnd], Read(new LessonClientCodec(null, 100), 150, 150, 150));

        Assert.Equal([LineResult.TooLong, LineResult.TooLong, LineResult.Line, LineResult.TooLong, LineResult.TooLong],
            Read(new LessonClientCodec(null, 100), 150, 150, 2, 150, 150));
    }

    [Fact]
    public void A_chunk_without_LF_is_a_message_but_half_a_character_waits_for_its_other_half()
    {
        var bytes = Encoding.UTF8.GetBytes("алиса: привет"); // 2-byte characters
        var codec = new LessonClientCodec(null, 100);

        var firstChunk = new ReadOnlySequence<byte>(bytes[..5]); // "ал" and the first byte of "и"
        Assert.Equal(["ал"], ReadAll(codec, ref firstChunk));
        Assert.Equal(1, firstChunk.Length);

        var rest = LineFramerTests.Segments(firstChunk.ToArray(), bytes[5..]);
        Assert.Equal(["иса: привет"], ReadAll(codec, ref rest));
        Assert.Equal(0, rest.Length);
    }

    [Fact]
    public void It_is_sent_at_most_1024_bytes_per_message_without_LF_cut_between_characters()
    {
        var line = Encoding.UTF8.GetBytes("bob: " + new string('ж', 1000) + "\n"); // 2005 bytes + LF
        var codec = new LessonClientCodec(null, 1024);
        var output = new ArrayBufferWriter<byte>();

        Assert.Equal(1023, codec.Write(line, output)); // 1024 would split a 'ж'
        Assert.Equal("bob: " + new string('ж', 509), new UTF8Encoding(false, true).GetString(output.WrittenSpan));
        Assert.Equal("hi", Encoding.UTF8.GetString(LessonClientCodec.Message("hi\n"u8.ToArray())));
    }

    [Fact]
    public void A_first_message_that_names_it_is_two_lines_the_name_and_the_message()
    {
        var codec = new LessonClientCodec(null, 1024);

        Assert.Equal("alice", codec.ToLine(null, "alice: hello", out var then));
        Assert.Equal("hello", then);
        Assert.Equal("alice", codec.ToLine(null, "alice", out then)); // a plain name stays one line
        Assert.Null(then);
    }

    [Fact]
    public void A_client_that_speaks_in_lines_gets_its_lines_untouched()
    {
        var codec = new LineCodec(1024);

        Assert.Equal("alice: hello", codec.ToLine(null, "alice: hello", out var then)); // refused as a name, as typed
        Assert.Null(then);
    }

    [Theory]
    [InlineData("alice: hi", "hi")]
    [InlineData("alice :hi", "hi")]
    [InlineData("alice : hi", "hi")]
    [InlineData("ALICE: /who", "/who")]
    [InlineData("bob: I am bob", "bob: I am bob")] // only its own name: nobody can pose as bob
    [InlineData("alice: alice: twice", "alice: twice")] // removed once
    public void Once_named_its_own_prefix_is_removed_in_every_spacing(string message, string line)
    {
        var codec = new LessonClientCodec(null, 1024);
        codec.Named("alice");

        // A /nick later: the client still writes the name it started with.
        Assert.Equal(line, codec.ToLine("alicia", message, out var then));
        Assert.Null(then);
    }

    [Fact]
    public async Task Its_lines_arrive_without_LF_and_after_an_LF_from_it_the_last_one_is_ended_and_lines_follow_still_without_its_prefix()
    {
        var (session, output) = Session(new LessonClientCodec(null, 1024));
        session.Nickname = "bob";
        session.Codec.Named("bob");
        session.Send(Encoding.UTF8.GetBytes("* Welcome, bob!\n"));
        Assert.Equal("* Welcome, bob!", await ReadAsync(output, "* Welcome, bob!".Length));
        Assert.False(session.Codec.AsksAgainForNickname); // a refused name closes: it would send the same one again

        var read = new ReadResult(new ReadOnlySequence<byte>("bob: hi\n"u8.ToArray()), isCanceled: false, isCompleted: false);
        session.UseCodec(session.Codec.Next(read, named: true));
        session.Send(Encoding.UTF8.GetBytes("alice: hello\n"));

        Assert.Equal("\nalice: hello\n", await ReadAsync(output, "\nalice: hello\n".Length));
        Assert.True(session.Codec.WritesLineEnds);
        Assert.Equal("hi", session.Codec.ToLine("bob", "bob: hi", out _));
    }

    private static List<LineResult> Read(ClientCodec codec, params int[] chunks)
    {
        var results = new List<LineResult>();
        foreach (var size in chunks)
        {
            var chunk = new ReadOnlySequence<byte>(Enumerable.Repeat((byte)'x', size).ToArray());
            results.Add(codec.TryReadLine(ref chunk, out _));
        }
        return results;
    }

    private static List<string> ReadAll(ClientCodec codec, ref ReadOnlySequence<byte> buffer)
    {
        var lines = new List<string>();
        while (codec.TryReadLine(ref buffer, out var line) is var result && result != LineResult.NeedMoreData)
        {
            Assert.Equal(LineResult.Line, result);
            lines.Add(Encoding.UTF8.GetString(line.ToArray()));
        }
        return lines;
    }

    /// <summary>Reads until <paramref name="bytes"/> bytes have come, with a deadline.</summary>
    private static async Task<string> ReadAsync(PipeReader output, int bytes)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await output.ReadAsync(deadline.Token);
            if (result.Buffer.Length >= bytes)
            {
                var text = Encoding.UTF8.GetString(result.Buffer.Slice(0, bytes).ToArray());
                output.AdvanceTo(result.Buffer.GetPosition(bytes));
                return text;
            }
            output.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static (ChatSession Session, PipeReader Output) Session(ClientCodec codec)
    {
        var output = new Pipe();
        var input = new Pipe();
        var connection = new DefaultConnectionContext("c", new DuplexPipe(input.Reader, output.Writer), new DuplexPipe(output.Reader, input.Writer));
        return (new ChatSession(connection, codec, isOperator: false, new Hosting.ChatLimitsOptions().SendQueueBytes, onOverflow: _ => { }), output.Reader);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
