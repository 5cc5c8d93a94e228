using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>
/// History in a cluster (docs/protocol.md, History): two instances and one real redis-server, the history in
/// Redis streams. Whichever instance a client lands on, it sees the same history; a third instance started
/// later finds it in Redis.
/// </summary>
public sealed class ClusterHistoryTests : TwoInstancesPerTest
{
    [Fact]
    public async Task Lines_said_on_A_are_shown_to_a_joiner_on_B_to_a_later_instance_and_through_either_admin_API()
    {
        await using var alice = await A.JoinAsync("alice");
        await using var watcher = await B.JoinAsync("watcher");
        await alice.SendLineAsync("Привет из A");
        await alice.SendLineAsync("/me машет рукой");
        await watcher.ReadLineUntilAsync(l => l == "* alice машет рукой");

        await using var bob = await B.JoinAsync("bob");
        var lines = await bob.ReadLinesAsync(4);
        Assert.Equal("* Last 2 messages in #lobby:", lines[0]);
        Assert.EndsWith("] alice: Привет из A", lines[1]);
        Assert.EndsWith("] * alice машет рукой", lines[2]);
        Assert.Equal("* End of history.", lines[3]);

        using var adminB = B.Admin();
        var messages = await Poll.UntilAsync(() => HistoryApi.MessagesAsync(adminB), m => m.Count == 2); // A wrote them to Redis
        Assert.Equal(["машет рукой", "Привет из A"], messages.Select(m => m.Text));

        await using (var c = Instance("C"))
        {
            await using var carol = await c.JoinAsync("carol");
            Assert.EndsWith("] alice: Привет из A", (await carol.ReadLinesAsync(2))[1]);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await adminB.DeleteAsync($"/rooms/lobby/messages/{messages[1].Id}")).StatusCode);
        using var adminA = A.Admin();
        Assert.Equal(["машет рукой"], (await HistoryApi.MessagesAsync(adminA)).Select(m => m.Text));
        await Poll.UntilAsync(async () =>
        {
            await using var dave = await A.JoinAsync($"dave{Guid.NewGuid():N}"[..12]); // A was told: gone from what its joiners see
            return await dave.ReadLineAsync();
        }, first => first == "* Last message in #lobby:");
    }

    [Fact]
    public async Task A_member_who_left_on_A_and_comes_back_on_B_gets_exactly_what_was_said_meanwhile_on_both()
    {
        await using var alice = await A.JoinAsync("alice");
        await using var bob = await A.JoinAsync("bob");
        await using var carol = await B.JoinAsync("carol");
        await bob.ReadLineUntilAsync(l => l == "* carol joined the chat.");
        await alice.ReadLineUntilAsync(l => l == "* carol joined the chat.");
        await bob.SendLineAsync("/quit");
        await carol.ReadLineUntilAsync(l => l == "* bob left the chat.");

        await alice.SendLineAsync("said on A");
        await carol.ReadLineUntilAsync(l => l == "alice: said on A");
        await carol.SendLineAsync("said on B");
        await alice.ReadLineUntilAsync(l => l == "carol: said on B");

        // A's release of the nickname in Redis may still be on its way when carol has seen bob leave: ask again until B grants it.
        await using var back = (await Poll.UntilAsync(() => TryJoinAsync(B, "bob"), c => c is not null))!;
        var lines = await back.ReadLinesAsync(4);
        Assert.Equal("* You missed 2 messages while you were away:", lines[0]);
        Assert.EndsWith("] alice: said on A", lines[1]);
        Assert.EndsWith("] carol: said on B", lines[2]);
        Assert.Equal("* End of history.", lines[3]);
    }

    /// <summary>The client, named and past its welcome; null (and closed) when the nickname was refused.</summary>
    private static async Task<ChatTestClient?> TryJoinAsync(ChatServer server, string nickname)
    {
        var client = await server.ConnectAsync();
        Assert.Equal("NICK", await client.ReadBytesAsync(4));
        await client.SendLineAsync(nickname);
        Assert.Equal("", await client.ReadLineAsync());
        if ((await client.ReadLineAsync()).StartsWith($"* Welcome, {nickname}!", StringComparison.Ordinal))
        {
            return client;
        }
        await client.DisposeAsync();
        return null;
    }
}
