using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using KestrelChat.Chat;
using KestrelChat.Codecs;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>
/// One client's output (Chat/ConnectionWriter.cs) against a real Pipe with a small write buffer, as
/// Kestrel's socket transport has: what the client would read, whether it keeps up or falls behind.
/// </summary>
public sealed class ConnectionWriterTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Lines_written_while_the_client_is_behind_arrive_complete_in_order_and_the_farewell_last()
    {
        var pipe = SmallPipe();
        var writer = new ConnectionWriter(pipe.Writer, capacityBytes: 1024 * 1024);
        for (var i = 0; i < 2000; i++)
        {
            Assert.True(Accepted(writer.Write(Line($"line {i}"))));
        }
        Assert.True(writer.QueuedBytes > 0, "nobody reads: most lines must wait in the backlog");
        writer.Complete(Line("bye"));
        Assert.Equal(WriteResult.Closed, writer.Write(Line("after the farewell")));

        var received = await PipeLines.ReadLinesAsync(pipe.Reader, until: "bye", Deadline);
        await writer.Drained.WaitAsync(Deadline);

        Assert.Equal([.. Enumerable.Range(0, 2000).Select(i => $"line {i}"), "bye"], received);
        Assert.Equal(0, writer.QueuedBytes);
        Assert.Equal(2001, writer.MessagesOut);
    }

    [Fact]
    public async Task An_unexpected_exception_in_the_drain_ends_the_output_completes_Drained_and_is_kept_for_the_log()
    {
        var writer = new ConnectionWriter(new BrokenPipeWriter(), capacityBytes: 1024 * 1024) { Framing = new LessonClientCodec(socket: null, 1024) }; // every line takes the drain
        Assert.Equal(WriteResult.Queued, writer.Write(Line("hello")));
        writer.Complete(Line("bye"));

        await writer.Drained.WaitAsync(Deadline); // nobody would ever have completed it
        Assert.IsType<NotSupportedException>(writer.Fault);
        Assert.Equal(WriteResult.Closed, writer.Write(Line("after")));
    }

    [Fact]
    public async Task A_deferred_flush_holds_the_line_back_until_the_fan_out_flushes()
    {
        var pipe = new Pipe();
        var writer = new ConnectionWriter(pipe.Writer, capacityBytes: 1024 * 1024);
        var pending = new List<ConnectionWriter>();

        writer.Write(Line("first"), pending);
        writer.Write(Line("second"), pending);
        Assert.Single(pending); // one flush for the pair
        Assert.False(pipe.Reader.TryRead(out _), "nothing is visible before the flush");

        foreach (var recipient in pending)
        {
            recipient.FlushDeferred();
        }
        var result = await pipe.Reader.ReadAsync().AsTask().WaitAsync(Deadline);
        Assert.Equal("first\nsecond\n", Encoding.UTF8.GetString(result.Buffer.ToArray()));
    }

    [Fact]
    public async Task Past_the_capacity_a_write_is_refused_and_everything_before_it_still_arrives()
    {
        var pipe = SmallPipe();
        var writer = new ConnectionWriter(pipe.Writer, capacityBytes: 4096);
        var written = 0;
        while (Accepted(writer.Write(Line($"line {written}"))))
        {
            written++;
            Assert.True(written < 10_000, "the backlog never filled up");
        }
        writer.Complete(Line("! Disconnected: send queue exceeded"));

        var received = await PipeLines.ReadLinesAsync(pipe.Reader, until: "! Disconnected: send queue exceeded", Deadline);

        Assert.Equal([.. Enumerable.Range(0, written).Select(i => $"line {i}"), "! Disconnected: send queue exceeded"], received);
    }

    [Fact]
    public async Task Two_senders_at_once_lose_nothing_and_each_keeps_its_order()
    {
        var pipe = SmallPipe();
        var writer = new ConnectionWriter(pipe.Writer, capacityBytes: 64 * 1024 * 1024);
        var reading = Task.Run(() => PipeLines.ReadLinesAsync(pipe.Reader, until: "done", Deadline));

        await Task.WhenAll(
            Task.Run(() => Send("a")),
            Task.Run(() => Send("b")));
        writer.Complete(Line("done"));
        var received = await reading.WaitAsync(Deadline);

        Assert.Equal(Enumerable.Range(0, 20_000).Select(i => $"a {i}"), received.Where(l => l.StartsWith('a')));
        Assert.Equal(Enumerable.Range(0, 20_000).Select(i => $"b {i}"), received.Where(l => l.StartsWith('b')));

        void Send(string sender)
        {
            var pending = new List<ConnectionWriter>();
            for (var i = 0; i < 20_000; i++)
            {
                Assert.True(Accepted(writer.Write(Line($"{sender} {i}"), pending)));
                if (i % 100 == 99) // a read's worth of lines, then the fan-out's flush
                {
                    pending.ForEach(w => w.FlushDeferred());
                    pending.Clear();
                }
            }
            pending.ForEach(w => w.FlushDeferred());
        }
    }

    [Fact]
    public async Task When_the_client_is_gone_writes_are_refused_and_the_close_does_not_wait()
    {
        var pipe = SmallPipe();
        var writer = new ConnectionWriter(pipe.Writer, capacityBytes: 1024 * 1024);
        for (var i = 0; i < 100; i++)
        {
            writer.Write(Line($"line {i}")); // backed up: a drain waits for the socket
        }
        await pipe.Reader.CompleteAsync(); // the transport stops: the peer is gone

        writer.Complete(Line("bye"));
        await writer.Drained.WaitAsync(Deadline);
        Assert.Equal(WriteResult.Closed, writer.Write(Line("too late")));
        Assert.Equal(0, writer.QueuedBytes);
    }

    /// <summary>Like Kestrel's transport: flushes wait once more than a few KB are unsent.</summary>
    [Fact]
    public async Task The_line_NICK_leaves_open_is_ended_before_the_next_line_whether_the_client_keeps_up_or_is_behind_or_it_is_the_farewell()
    {
        var keepsUp = new Pipe();
        var writer = new ConnectionWriter(keepsUp.Writer, capacityBytes: 1024 * 1024);
        writer.WriteOpenLine("NICK"u8.ToArray());
        writer.Write(Line("* Welcome, alice!"));
        writer.Write(Line("next"));
        writer.Complete(null);
        Assert.Equal(["NICK", "* Welcome, alice!", "next"], await PipeLines.ReadLinesAsync(keepsUp.Reader, until: "next", Deadline));

        var behind = SmallPipe();
        writer = new ConnectionWriter(behind.Writer, capacityBytes: 1024 * 1024);
        writer.WriteOpenLine("NICK"u8.ToArray());
        var filler = new string('x', 4000); // over the pipe's threshold: what follows takes the backlog
        writer.Write(Line(filler)); // a line of its own, not "NICKxxx…"
        writer.Complete(Line("bye"));
        Assert.Equal(["NICK", filler, "bye"], await PipeLines.ReadLinesAsync(behind.Reader, until: "bye", Deadline));

        var farewell = new Pipe();
        writer = new ConnectionWriter(farewell.Writer, capacityBytes: 1024 * 1024);
        writer.WriteOpenLine("NICK"u8.ToArray());
        writer.Complete(Line("* The server is shutting down."));
        Assert.Equal(["NICK", "* The server is shutting down."], await PipeLines.ReadLinesAsync(farewell.Reader, until: "* The server is shutting down.", Deadline));
    }

    [Fact]
    public async Task A_line_that_starts_with_its_own_LF_or_a_client_with_a_framing_gets_no_extra_LF()
    {
        var pipe = new Pipe();
        var writer = new ConnectionWriter(pipe.Writer, capacityBytes: 1024 * 1024);
        writer.WriteOpenLine("NICK"u8.ToArray());
        writer.Write(Encoding.UTF8.GetBytes("\n* Please type a nickname.\n"));
        writer.Complete(null);
        await writer.Drained.WaitAsync(Deadline);
        Assert.Equal("NICK\n* Please type a nickname.\n", await ReadAllAsync(pipe.Reader));

        var lesson = new Pipe();
        writer = new ConnectionWriter(lesson.Writer, capacityBytes: 1024 * 1024) { Framing = new LessonClientCodec(socket: null, 1024) };
        writer.WriteOpenLine("NICK"u8.ToArray());
        writer.Write(Line("* Welcome, bob!"));
        writer.Complete(null);
        await writer.Drained.WaitAsync(Deadline);
        Assert.Equal("NICK* Welcome, bob!", await ReadAllAsync(lesson.Reader)); // two messages; it reads each on its own
    }

    [Fact]
    public async Task Senders_racing_to_a_client_still_at_NICK_each_get_a_whole_line_after_it()
    {
        // An announcement racing the shutdown notice to a client that has not typed yet: both decide about the
        // open line under the writer's lock, so neither can arrive as "NICK* Announcement: …".
        for (var trial = 0; trial < 500; trial++)
        {
            var pipe = new Pipe();
            var writer = new ConnectionWriter(pipe.Writer, capacityBytes: 1024 * 1024);
            writer.WriteOpenLine("NICK"u8.ToArray());
            using var start = new Barrier(2);
            var announce = Task.Run(() =>
            {
                start.SignalAndWait();
                writer.Write(Line("* Announcement: maintenance"));
            });
            var shutdown = Task.Run(() =>
            {
                start.SignalAndWait();
                writer.Complete(Line("* The server is shutting down."));
            });
            await Task.WhenAll(announce, shutdown).WaitAsync(Deadline);
            await writer.Drained.WaitAsync(Deadline);

            var lines = (await ReadAllAsync(pipe.Reader)).Split('\n');
            Assert.Equal("NICK", lines[0]);
            Assert.All(lines.Skip(1).Where(l => l.Length > 0), l => Assert.StartsWith("* ", l));
        }
    }

    private static async Task<string> ReadAllAsync(PipeReader reader)
    {
        var text = new StringBuilder();
        while (reader.TryRead(out var result))
        {
            text.Append(Encoding.UTF8.GetString(result.Buffer.ToArray()));
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || result.Buffer.IsEmpty)
            {
                break;
            }
        }
        return text.ToString();
    }

    private static Pipe SmallPipe() => new(new PipeOptions(pauseWriterThreshold: 2048, resumeWriterThreshold: 1024));

    private static byte[] Line(string text) => Encoding.UTF8.GetBytes(text + "\n");

    /// <summary>Taken: copied into the pipe, or kept in the backlog while the client is behind.</summary>
    private static bool Accepted(WriteResult result) => result is WriteResult.Written or WriteResult.Queued;

    /// <summary>A transport that fails in a way that is not the peer going away.</summary>
    private sealed class BrokenPipeWriter : PipeWriter
    {
        private readonly byte[] _buffer = new byte[64 * 1024];

        public override void Advance(int bytes)
        {
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer;

        public override Span<byte> GetSpan(int sizeHint = 0) => _buffer;

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("the transport broke");

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }
    }
}
