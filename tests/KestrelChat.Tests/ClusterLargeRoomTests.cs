using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>
/// A room larger than one flush round (Chat/DeferredFlushes.cs, MaxWaiting) on the instance that receives: the
/// cluster's inbox walks it in rounds when a batch holds one line, and flushes once at the end when it holds several.
/// </summary>
public sealed class ClusterLargeRoomTests : TwoInstancesPerTest
{
    private const int Members = KestrelChat.Chat.DeferredFlushes.MaxWaiting + 44;

    protected override (string Key, string? Value)[] Settings => [("Chat:Limits:MaxConnectionsPerIp", "0")];

    [Fact]
    public async Task Lines_from_A_reach_every_member_of_a_large_room_on_B_once_and_in_order()
    {
        await using var alice = await A.JoinAsync("alice");
        var crowd = await Task.WhenAll(Enumerable.Range(0, Members).Select(i => B.JoinAsync($"m{i}")));
        try
        {
            // One line alone (a batch of one: in rounds), then a burst that may reach B as one batch of several.
            await alice.SendLineAsync("first");
            foreach (var member in crowd)
            {
                Assert.Equal("alice: first", (await member.ReadLineUntilAsync(l => l.StartsWith("alice: ", StringComparison.Ordinal))).Line);
            }
            string[] burst = ["second", "third", "fourth"];
            foreach (var text in burst)
            {
                await alice.SendLineAsync(text);
            }
            foreach (var member in crowd)
            {
                foreach (var text in burst)
                {
                    Assert.Equal($"alice: {text}", (await member.ReadLineUntilAsync(l => l.StartsWith("alice: ", StringComparison.Ordinal))).Line);
                }
            }
        }
        finally
        {
            await Task.WhenAll(crowd.Select(c => c.DisposeAsync().AsTask()));
        }
    }
}
