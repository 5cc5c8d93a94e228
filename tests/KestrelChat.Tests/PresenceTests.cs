using System.Text.RegularExpressions;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>Join and leave storms: coalesced notices, nobody left out, a small chat unchanged.</summary>
public sealed partial class PresenceTests
{
    private const int Crowd = 150;

    [Fact]
    public async Task A_join_storm_is_announced_in_a_few_coalesced_lines_that_name_or_count_everyone()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MaxConnectionsPerIp", "0"));
        await using var alice = await server.JoinAsync("alice");

        var crowd = await Task.WhenAll(Enumerable.Range(0, Crowd).Select(i => server.JoinAsync($"user{i}")));
        try
        {
            var (lines, announced) = await ReadPresenceAsync(alice, "joined", Crowd);

            Assert.Equal(Crowd, announced);
            Assert.True(lines.Count <= Crowd / 5, $"{lines.Count} lines for {Crowd} joins:\n{string.Join('\n', lines)}");
            Assert.Contains(lines, l => OthersJoined().IsMatch(l)); // e.g. "* user3, user7, user9 and 120 others joined the chat."

            // Nothing lost, and the chat works as ever for the crowd.
            await crowd[^1].SendLineAsync("/who");
            var (who, _) = await crowd[^1].ReadLineUntilAsync(l => l.StartsWith("* In the chat", StringComparison.Ordinal));
            Assert.StartsWith($"* In the chat ({Crowd + 1}): alice, ", who, StringComparison.Ordinal);
        }
        finally
        {
            await Task.WhenAll(crowd.Select(c => c.DisposeAsync().AsTask()));
        }

        var (_, left) = await ReadPresenceAsync(alice, "left", Crowd);
        Assert.Equal(Crowd, left);
    }

    [Fact]
    public async Task In_a_small_chat_each_join_and_leave_is_shown_at_once_on_its_own_line()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");

        for (var i = 0; i < 3; i++)
        {
            var bob = await server.JoinAsync($"bob{i}");
            Assert.Equal($"* bob{i} joined the chat.", await alice.ReadLineAsync());
            await bob.DisposeAsync();
            Assert.Equal($"* bob{i} left the chat.", await alice.ReadLineAsync());
        }
    }

    [Fact]
    public async Task In_a_large_room_joins_are_announced_only_in_batches()
    {
        // Chat:LargeRoom 3: up to 3 members a join is shown at once; past that only in batches (a window of members ÷ 3 s).
        await using var server = ChatServer.Start(("Chat:LargeRoom", "3"), ("Chat:Limits:MaxConnectionsPerIp", "0"));
        await using var alice = await server.JoinAsync("alice");
        var small = new List<ChatTestClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                small.Add(await server.JoinAsync($"user{i}"));
                Assert.Equal($"* user{i} joined the chat.", await alice.ReadLineAsync());
            }

            // Four more: a small room would show each on its own line at once (up to ten a second).
            var large = await Task.WhenAll(Enumerable.Range(3, 4).Select(i => server.JoinAsync($"user{i}")));
            small.AddRange(large);
            var (lines, announced) = await ReadPresenceAsync(alice, "joined", 4);
            Assert.Equal(4, announced);
            Assert.True(lines.Count <= 2, $"{lines.Count} lines for 4 joins in a large room:\n{string.Join('\n', lines)}");
        }
        finally
        {
            await Task.WhenAll(small.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    /// <summary>Reads presence lines of one kind until they account for <paramref name="expected"/> people.</summary>
    private static async Task<(List<string> Lines, int People)> ReadPresenceAsync(ChatTestClient client, string kind, int expected)
    {
        var lines = new List<string>();
        var people = 0;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (people < expected)
        {
            var line = await client.ReadLineAsync(until - DateTime.UtcNow);
            if (PresenceLines.Count(line, kind) is var count and > 0)
            {
                lines.Add(line);
                people += count;
            }
        }
        return (lines, people);
    }

    [GeneratedRegex(@"^\* user\d+, user\d+, user\d+ and \d+ others joined the chat\.$")]
    private static partial Regex OthersJoined();
}
