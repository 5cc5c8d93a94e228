using KestrelChat.Tests.Infrastructure;
using Xunit.Abstractions;

namespace KestrelChat.Tests;

/// <summary>
/// An outage longer than Chat:Redis:CatchUpSeconds (2 s here): what was said too long ago is gone, and the
/// members who miss it are told so, once, instead of silence; what was said within the window still arrives,
/// once and in order.
/// </summary>
public sealed class ClusterWindowTests(ITestOutputHelper output) : TwoInstancesPerTest
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    protected override (string Key, string? Value)[] Settings => [("Chat:Redis:CatchUpSeconds", "2")];

    [Fact]
    public async Task Past_the_window_the_oldest_lines_are_dropped_and_the_other_side_is_told_once_the_rest_arrive_in_order()
    {
        await using var alice = await A.JoinAsync("alice");
        await using var bob = await B.JoinAsync("bob");
        await alice.ReadLineUntilAsync(l => l == "* bob joined the chat.", Deadline);
        await using var talk = Conversation.Start(alice, "alice", bob, "bob");
        await talk.HeardMoreAsync(4, Deadline);

        await Redis.StopAsync();
        var down = talk.Now;
        await Task.Delay(TimeSpan.FromSeconds(6)); // three times the window
        await Redis.StartAgainAsync();
        var up = talk.Now;
        await talk.HeardMoreAsync(8, Deadline);
        await talk.FinishAsync(Deadline);

        foreach (var (speaker, listener) in new[] { (talk.Left, talk.Right), (talk.Right, talk.Left) })
        {
            var said = speaker.Said.Select(s => s.Number).ToList();
            var heard = listener.Heard.Select(h => h.Number).ToList();
            output.WriteLine($"{speaker.Name} → {listener.Name}: said {said.Count}, heard {heard.Count}; notices: {string.Join(" | ", listener.Notices)}");
            Assert.Equal(heard.Order(), heard); // in order, and (strictly increasing) none twice
            Assert.Equal(heard.Count, heard.Distinct().Count());
            var lost = said.Except(heard).ToList();
            Assert.NotEmpty(lost);
            // Only lines said during the outage are missing (until the instances are back on Redis: a second or so).
            Assert.All(lost, n => Assert.InRange(speaker.Said.Single(s => s.Number == n).At, down - TimeSpan.FromSeconds(1), up + TimeSpan.FromSeconds(2)));
            Assert.Single(listener.Notices, n => n == "* Some lines said in #lobby on other servers of this chat were missed here: the servers lost touch for too long.");
        }
    }
}
