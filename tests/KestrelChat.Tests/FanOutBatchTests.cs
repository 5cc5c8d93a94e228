using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using KestrelChat.Chat;
using KestrelChat.Codecs;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>
/// A sender's batch of chat lines (Chat/FanOutBatch.cs) as its recipients see it: every line whole and
/// in order, whether the recipient keeps up (the batch's memory is reused) or is behind (its backlog
/// keeps the batch and the next one must not overwrite it).
/// </summary>
public sealed class FanOutBatchTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private static readonly Room Lobby = TestRegistry.Create().DefaultRoom;

    private static ChatMessage Line(string text) => new(Lobby, "alice", MessageKind.Text, text);

    [Fact]
    public async Task A_batch_kept_by_a_slow_clients_backlog_is_never_overwritten_by_the_next_one()
    {
        // Nobody reads while the sender talks: after the first few KB every batch waits in the backlog.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 2048, resumeWriterThreshold: 1024));
        var recipient = new ConnectionWriter(pipe.Writer, capacityBytes: 64 * 1024 * 1024);
        var batch = new FanOutBatch();
        var expected = Enumerable.Range(0, 5000).Select(i => $"строка {i}: {new string('x', i % 200)}").ToList();
        var queued = 0;

        foreach (var text in expected)
        {
            if (!batch.TryAdd(Line(text)))
            {
                queued += SendAndClear(batch, recipient) ? 1 : 0;
                Assert.True(batch.TryAdd(Line(text)));
            }
        }
        queued += SendAndClear(batch, recipient) ? 1 : 0;
        recipient.Complete("done\n"u8.ToArray());

        Assert.True(queued > 10, "the recipient was expected to fall behind");
        var received = await PipeLines.ReadLinesAsync(pipe.Reader, until: "done", Deadline);
        Assert.Equal([.. expected.Select(text => "alice: " + text), "done"], received);
        Assert.Equal(expected.Count + 1, recipient.MessagesOut);
    }

    [Fact]
    public void A_client_that_keeps_up_costs_no_allocation_per_line()
    {
        var batch = new FanOutBatch();
        batch.TryAdd(Line("the first line makes the arena"));
        batch.Clear(referenced: false);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            Assert.True(batch.TryAdd(Line("hello everyone, привет всем")));
            batch.Clear(referenced: false); // every recipient copied it into its pipe
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 1024, $"{allocated} bytes allocated for 10,000 lines");
    }

    [Fact]
    public void A_line_longer_than_an_arena_goes_out_whole_in_a_batch_of_its_own()
    {
        var batch = new FanOutBatch();
        var longText = new string('я', FanOutBatch.ArenaBytes); // 2 bytes a character in UTF-8
        Assert.True(batch.TryAdd(Line("short")));

        Assert.False(batch.TryAdd(Line(longText)), "a full batch must go out first");
        Assert.Equal("alice: short\n", Encoding.UTF8.GetString(batch.Bytes.Span));
        batch.Clear(referenced: true);
        Assert.True(batch.TryAdd(Line(longText)));

        Assert.Equal(1, batch.Lines);
        Assert.Equal($"alice: {longText}\n", Encoding.UTF8.GetString(batch.Bytes.Span));
    }

    [Fact]
    public async Task The_lesson_client_gets_a_batch_one_message_per_read_without_the_line_ends()
    {
        // A pipe that takes one flush at a time, like the lesson client's recv() between two sends.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 1, resumeWriterThreshold: 1));
        var recipient = new ConnectionWriter(pipe.Writer, capacityBytes: 1024 * 1024) { Framing = new LessonClientCodec(socket: null, 1024) };
        var batch = new FanOutBatch();
        batch.TryAdd(Line("one"));
        batch.TryAdd(Line("два"));
        batch.TryAdd(Line("three"));

        SendAndClear(batch, recipient);
        recipient.Complete(null);

        var messages = new List<string>();
        using var timeout = new CancellationTokenSource(Deadline);
        while (messages.Count < 3)
        {
            var result = await pipe.Reader.ReadAsync(timeout.Token);
            messages.Add(Encoding.UTF8.GetString(result.Buffer.ToArray()));
            pipe.Reader.AdvanceTo(result.Buffer.End);
        }
        Assert.Equal(["alice: one", "alice: два", "alice: three"], messages);
        await recipient.Drained.WaitAsync(Deadline);
        Assert.Equal(3, recipient.MessagesOut);
    }

    /// <summary>What the room does for each recipient; true when the recipient's backlog kept the batch.</summary>
    private static bool SendAndClear(FanOutBatch batch, ConnectionWriter recipient)
    {
        var result = recipient.Write(batch.Bytes, batch.Lines);
        Assert.True(result is WriteResult.Written or WriteResult.Queued, result.ToString());
        batch.Clear(referenced: result == WriteResult.Queued);
        return result == WriteResult.Queued;
    }
}
