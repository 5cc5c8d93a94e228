using System.Text;
using KestrelChat.Cluster;
using Microsoft.Extensions.Logging.Abstractions;

namespace KestrelChat.Tests;

/// <summary>
/// The rules that make delivery across instances exactly once and in order, without Redis: an instance's
/// outbox numbers what it says per room and sends it again after a failure; a receiver's inbox drops what it
/// has had, reads the stream when something may be missing, and tells the room once what never will arrive.
/// </summary>
public sealed class ClusterStreamTests
{
    private static readonly Guid Other = Guid.NewGuid(), Self = Guid.NewGuid();

    [Fact]
    public void An_entry_comes_back_from_the_wire_as_it_went_in_and_anything_malformed_is_ignored()
    {
        var entry = new RoomStreamEntry(Other, 41, "#dev", [Line("alice: a\n"), Line("alice: b\n")]);

        var back = RoomStreamEntry.Deserialize(entry.Serialize());

        Assert.NotNull(back);
        Assert.Equal((Other, 41L, "#dev", 43L), (back.Origin, back.FirstSequence, back.Room, back.NextSequence));
        Assert.Equal(["alice: a\n", "alice: b\n"], back.Messages.Select(m => Encoding.UTF8.GetString(m.Line)));
        Assert.Null(RoomStreamEntry.Deserialize(entry.Serialize().AsSpan()[..^3]));
        Assert.Null(RoomStreamEntry.Deserialize([1, 2, 3]));
        Assert.True(StreamId.TryParse("1700000000000-12"u8, out var id));
        Assert.Equal(new StreamId(1_700_000_000_000, 12), id);
        Assert.True(new StreamId(5, 9) < new StreamId(6, 0));
        Assert.False(StreamId.TryParse("12"u8, out _));
    }

    [Fact]
    public void A_retried_publish_is_delivered_once_and_the_instances_own_entries_not_at_all()
    {
        var (inbox, delivered) = Inbox();

        inbox.OnLive(new StreamId(10, 0), Entry(1, "a", "b"));
        inbox.OnLive(new StreamId(11, 0), Entry(1, "a", "b"));      // the same entry again: Redis took it twice
        inbox.OnLive(new StreamId(12, 0), Entry(2, "b", "c"));      // a retry that overlaps what was had
        inbox.OnLive(new StreamId(13, 0), new RoomStreamEntry(Self, 1, "#lobby", [Line("mine\n")]));

        Assert.Equal(["a", "b", "c"], delivered);
    }

    [Fact]
    public async Task After_an_outage_the_stream_is_read_first_and_what_came_live_meanwhile_follows_without_copies()
    {
        var (inbox, delivered) = Inbox();
        inbox.OnLive(new StreamId(10, 0), Entry(1, "a"));
        inbox.Suspend();
        inbox.OnLive(new StreamId(40, 0), Entry(4, "d"));           // live again before the catch-up read the stream
        var stream = new List<(StreamId, RoomStreamEntry?)>
        {
            (new StreamId(10, 0), Entry(1, "a")),
            (new StreamId(20, 0), Entry(2, "b")),
            (new StreamId(30, 0), Entry(3, "c")),
            (new StreamId(40, 0), Entry(4, "d")),
        };

        var reads = await CatchUpAsync(inbox, stream, () => delivered.Count >= 4);

        Assert.Equal(["a", "b", "c", "d"], delivered);
        Assert.Equal(("#lobby", new StreamId(10, 0), false), reads[0]); // after the last id delivered, exclusive
        inbox.OnLive(new StreamId(50, 0), Entry(5, "e"));
        Assert.Equal(["a", "b", "c", "d", "e"], delivered);
    }

    [Fact]
    public async Task A_hole_the_stream_cannot_fill_is_told_to_the_room_once_and_the_chat_goes_on()
    {
        var (inbox, delivered) = Inbox();
        inbox.OnLive(new StreamId(10, 0), Entry(1, "a"));
        inbox.OnLive(new StreamId(90, 0), Entry(7, "g"));           // 2–6 are not in the stream any more

        await CatchUpAsync(inbox, [(new StreamId(90, 0), Entry(7, "g"))], () => delivered.Count >= 3);
        inbox.OnLive(new StreamId(91, 0), Entry(8, "h"));

        Assert.Equal(["a", "missed #lobby", "g", "h"], delivered);
        Assert.Equal(1, inbox.HolesTold);
    }

    [Fact]
    public async Task The_outbox_numbers_per_room_puts_a_rooms_consecutive_lines_in_one_entry_and_resends_from_the_first_unconfirmed()
    {
        using var outbox = new ClusterOutbox(TimeSpan.FromSeconds(60), 1 << 20, NullLogger.Instance);
        var rounds = new List<IReadOnlyList<RoomStreamEntry>>();
        var sent = new List<RoomStreamEntry>();
        using var stop = new CancellationTokenSource();
        outbox.Enqueue(Message("#lobby", "a")); // all queued before the loop runs: one round forms them all
        outbox.Enqueue(Message("#lobby", "b"));
        outbox.Enqueue(Message("#dev", "x"));
        outbox.Enqueue(Message("#lobby", "c"));
        var run = outbox.RunAsync(entries =>
        {
            lock (rounds)
            {
                rounds.Add([.. entries.Select(e => e.Entry)]);
                var confirmed = rounds.Count == 1 ? 1 : entries.Count; // the first round: only its first entry confirmed
                sent.AddRange(entries.Take(confirmed).Select(e => e.Entry));
                return Task.FromResult(confirmed);
            }
        }, () => Task.FromResult(true), TimeSpan.Zero, stop.Token);

        await Infrastructure.Poll.UntilAsync(() => Task.FromResult(outbox.Waiting), waiting => waiting == 0);
        await stop.CancelAsync();
        await run;

        Assert.Equal([("#lobby", 1L, 2), ("#dev", 1L, 1), ("#lobby", 3L, 1)], sent.Select(e => (e.Room, e.FirstSequence, e.Messages.Count)));
        Assert.Equal(3, rounds[0].Count);
        Assert.Equal(rounds[0].Skip(1), rounds[1]); // the same entries, the same numbers
    }

    [Fact]
    public async Task Past_the_window_the_outbox_drops_the_oldest_and_sends_the_number_its_room_stands_at()
    {
        using var outbox = new ClusterOutbox(TimeSpan.FromSeconds(1), 1 << 20, NullLogger.Instance);
        var redisBack = false;
        var sent = new List<RoomStreamEntry>();
        using var stop = new CancellationTokenSource();
        var run = outbox.RunAsync(entries =>
        {
            if (!Volatile.Read(ref redisBack))
            {
                return Task.FromResult(0);
            }
            lock (sent)
            {
                sent.AddRange(entries.Select(e => e.Entry));
            }
            return Task.FromResult(entries.Count);
        }, () => Task.FromResult(Volatile.Read(ref redisBack)), TimeSpan.Zero, stop.Token);

        outbox.Enqueue(Message("#lobby", "a"));
        outbox.Enqueue(Message("#lobby", "b"));
        await Infrastructure.Poll.UntilAsync(() => Task.FromResult(outbox.Dropped), dropped => dropped == 2);
        outbox.Enqueue(Message("#lobby", "c"));
        Volatile.Write(ref redisBack, true);
        await Infrastructure.Poll.UntilAsync(() => Task.FromResult(outbox.Waiting), waiting => waiting == 0);
        await stop.CancelAsync();
        await run;

        lock (sent)
        {
            // The hole (1 and 2) is told by a number-only entry, then "c" comes with its own number.
            Assert.Equal([(3L, 0), (3L, 1)], sent.Select(e => (e.FirstSequence, e.Messages.Count)));
        }
    }

    private static async Task<List<(string Room, StreamId After, bool Inclusive)>> CatchUpAsync(ClusterInbox inbox,
        IReadOnlyList<(StreamId Id, RoomStreamEntry? Entry)> stream, Func<bool> done)
    {
        var reads = new List<(string, StreamId, bool)>();
        using var stop = new CancellationTokenSource();
        var run = inbox.RunAsync(
            since => Task.FromResult<IReadOnlyList<string>>(["#lobby"]),
            (room, after, inclusive) =>
            {
                reads.Add((room, after, inclusive));
                return Task.FromResult<IReadOnlyList<(StreamId, RoomStreamEntry?)>>([.. stream.Where(e => inclusive ? e.Id >= after : e.Id > after)]);
            },
            () => Task.CompletedTask, _ => false, stop.Token);
        await Infrastructure.Poll.UntilAsync(() => Task.FromResult(done()), ok => ok);
        await stop.CancelAsync();
        await run;
        return reads;
    }

    private static (ClusterInbox Inbox, List<string> Delivered) Inbox()
    {
        var delivered = new List<string>();
        var inbox = new ClusterInbox(Self, (m, _) => delivered.Add(Encoding.UTF8.GetString(m.Line).TrimEnd('\n')),
            room => Encoding.UTF8.GetBytes($"missed {room}"), NullLogger.Instance);
        return (inbox, delivered);
    }

    private static RoomStreamEntry Entry(long first, params string[] lines) =>
        new(Other, first, "#lobby", [.. lines.Select(l => Line(l + "\n"))]);

    private static ClusterMessage Line(string line) =>
        new(ClusterMessageKind.ToMembers, "other", null, Encoding.UTF8.GetBytes(line), "#lobby");

    private static ClusterMessage Message(string room, string line) =>
        new(ClusterMessageKind.ToMembers, "here", null, Encoding.UTF8.GetBytes(line + "\n"), room);
}
