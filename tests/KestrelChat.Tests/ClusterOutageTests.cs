using System.Globalization;
using KestrelChat.Tests.Infrastructure;
using Xunit.Abstractions;

namespace KestrelChat.Tests;

/// <summary>
/// Two people on two instances talk at a steady pace while Redis, or a third instance, fails under them; each
/// counts what the other said, as a user reading the chat would. Within Chat:Redis:CatchUpSeconds nothing is
/// lost, nothing arrives twice, and the order is the order it was said in.
/// </summary>
public sealed class ClusterOutageTests(ITestOutputHelper output) : TwoInstancesPerTest
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    public Task Redis_killed_and_restarted_empty_loses_no_line_and_repeats_none_either_way(int outageSeconds) =>
        TalkThroughAsync(async () =>
        {
            await Redis.StopAsync(); // SIGKILL: an in-memory Redis comes back with nothing
            await Task.Delay(TimeSpan.FromSeconds(outageSeconds)); // the outage: its length is what this test is about
            await Redis.StartAgainAsync();
        });

    [Fact]
    public Task Redis_frozen_for_ten_seconds_loses_no_line_and_repeats_none_either_way() =>
        TalkThroughAsync(async () =>
        {
            Redis.Freeze(); // SIGSTOP: the sockets stay open, nothing answers
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(10)); // the freeze: its length is what this test is about
            }
            finally
            {
                Redis.Thaw();
            }
        });

    /// <summary>Alice on A and bob on B talk; <paramref name="fault"/> happens while they do; every line is counted.</summary>
    private async Task TalkThroughAsync(Func<Task> fault)
    {
        var (alice, bob) = await MeetAsync();
        await using var talk = Conversation.Start(alice, "alice", bob, "bob");
        await talk.HeardMoreAsync(4, Deadline);

        var down = talk.Now;
        await fault();
        var up = talk.Now;
        await talk.HeardMoreAsync(8, Deadline);
        await talk.FinishAsync(Deadline);

        AssertHeardEverythingOnceInOrder(talk, down, up);
    }

    [Fact]
    public async Task A_third_instance_killed_with_SIGKILL_costs_the_others_no_line_and_its_client_leaves_with_a_notice()
    {
        var (alice, bob) = await MeetAsync();
        var c = ServerProcess.Start(("Chat__Redis__Configuration", Redis.Configuration), ("Chat__Redis__Channel", Channel),
            ("Chat__Redis__InstanceName", "C"), ("Chat__Redis__ClaimSeconds", "3"));
        Conversation talk;
        await using (c)
        {
            var (chat, _) = await c.WaitUntilListeningAsync(Deadline);
            await using var carol = await ChatTestClient.JoinAsync(chat, "carol");
            await alice.ReadLineUntilAsync(l => l == "* carol joined the chat.", Deadline);
            await bob.ReadLineUntilAsync(l => l == "* carol joined the chat.", Deadline);
            talk = Conversation.Start(alice, "alice", bob, "bob");
            await talk.HeardMoreAsync(4, Deadline);
        } // SIGKILL
        await using (talk)
        {
            var down = talk.Now;
            await Poll.UntilAsync(() => Task.FromResult(talk.Left.Notices.Contains("* carol left the chat.") && talk.Right.Notices.Contains("* carol left the chat.")),
                both => both, Deadline);
            var up = talk.Now;
            output.WriteLine($"carol's leave notice came {(up - down).TotalSeconds:0.0} s after the SIGKILL");
            await talk.HeardMoreAsync(4, Deadline);
            await talk.FinishAsync(Deadline);
            AssertHeardEverythingOnceInOrder(talk, down, up);
        }
    }

    private async Task<(ChatTestClient Alice, ChatTestClient Bob)> MeetAsync()
    {
        var alice = await A.JoinAsync("alice");
        var bob = await B.JoinAsync("bob");
        _clients.Add(alice);
        _clients.Add(bob);
        await alice.ReadLineUntilAsync(l => l == "* bob joined the chat.", Deadline);
        return (alice, bob);
    }

    private readonly List<ChatTestClient> _clients = [];

    /// <summary>Each side heard every line of the other's, once, in the order said; and what that took is reported.</summary>
    private void AssertHeardEverythingOnceInOrder(Conversation talk, TimeSpan down, TimeSpan up)
    {
        foreach (var (speaker, listener) in new[] { (talk.Left, talk.Right), (talk.Right, talk.Left) })
        {
            var said = speaker.Said.Select(s => s.Number).ToList();
            var heard = listener.Heard.Select(h => h.Number).ToList();
            var lost = said.Except(heard).Count();
            var repeated = heard.Count - heard.Distinct().Count();
            var late = speaker.Said.Zip(listener.Heard).Where(p => p.First.Number == p.Second.Number)
                .Select(p => p.Second.At - p.First.At).DefaultIfEmpty().Max();
            var duringOutage = speaker.Said.Where(s => s.At >= down && s.At <= up).Select(s => s.Number).ToHashSet();
            var lastOfOutage = listener.Heard.Where(h => duringOutage.Contains(h.Number)).Select(h => h.At).DefaultIfEmpty(up).Max();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{speaker.Name} → {listener.Name}: said {said.Count}, heard {heard.Count}, lost {lost}, repeated {repeated}; {duringOutage.Count} said in the outage ({(up - down).TotalSeconds:0.0} s), the last of them heard {(lastOfOutage - up).TotalSeconds:0.00} s after it ended; latest line {late.TotalSeconds:0.00} s"));
            Assert.Equal(said, heard);
            Assert.DoesNotContain(listener.Notices, n => n.Contains("missed", StringComparison.Ordinal));
        }
    }

    public override async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }
        await base.DisposeAsync();
    }
}
