using System.Diagnostics;
using System.Text;
using KestrelChat.Chat;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>Chat:Limits:MessagesPerSecond and Burst: a flooder is slowed, loses nothing, and slows no one else.</summary>
public sealed class FloodControlTests
{
    [Fact]
    public async Task Lines_over_the_rate_are_delayed_not_dropped_keep_their_order_and_do_not_hold_up_the_others()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MessagesPerSecond", "20"), ("Chat:Limits:Burst", "5"));
        using var metrics = new MetricRecorder(server);
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await using var carol = await server.JoinAsync("carol");
        await alice.ReadLineUntilAsync(l => l == "* carol joined the chat.");
        var paste = string.Concat(Enumerable.Range(1, 40).Select(i => $"line {i}\n"));
        var clock = Stopwatch.StartNew();

        await bob.SendAsync(Encoding.UTF8.GetBytes(paste));
        Assert.Equal("bob: line 1", await alice.ReadLineAsync());
        await carol.SendLineAsync("carol is not stuck behind bob");
        var received = new List<string>();
        while (received.Count < 40)
        {
            received.Add(await alice.ReadLineAsync());
        }

        // Every line, in order; carol's line went out while most of bob's paste was still waiting.
        Assert.Equal(Enumerable.Range(2, 39).Select(i => $"bob: line {i}"), received.Where(l => l.StartsWith("bob: ", StringComparison.Ordinal)));
        Assert.True(received.IndexOf("carol: carol is not stuck behind bob") < 20, string.Join(" | ", received));
        // 40 lines at 20 per second with a burst of 5 take at least (40 - 5) / 20 s.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.5), $"took only {clock.Elapsed}");
        Assert.True(metrics.Sum("kestrelchat.flood.delays") >= 30, $"{metrics.Sum("kestrelchat.flood.delays")} delays counted");
    }

    [Fact]
    public async Task A_flooder_with_more_than_64_KiB_waiting_is_disconnected_with_a_reason_and_the_others_go_on()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MessagesPerSecond", "1"), ("Chat:Limits:Burst", "1"));
        using var metrics = new MetricRecorder(server);
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();
        var flood = string.Concat(Enumerable.Repeat(new string('x', 999) + "\n", 100)); // 100 KB

        await bob.SendAsync(Encoding.ASCII.GetBytes(flood));

        var last = (await bob.ReadToEndAsync()).Last();
        Assert.Equal("! Disconnected: flooding (more than 65536 bytes waiting; at most 1 lines per second).", last);
        var (left, _) = await alice.ReadLineUntilAsync(l => l.StartsWith('*'));
        Assert.Equal("* bob left the chat.", left);
        Assert.Equal(1, await metrics.WaitForAsync(1, "kestrelchat.connections.closed", "reason", "flood"));
        await using var carol = await server.JoinAsync("carol");
        Assert.Equal("* carol joined the chat.", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task MessagesPerSecond_0_turns_flood_control_off()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MessagesPerSecond", "0"));
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendAsync(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(1, 200).Select(i => $"line {i}\n"))));

        // At the default 5 per second these would take 40 s; with flood control off they come at once.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        for (var i = 1; i <= 200; i++)
        {
            Assert.Equal($"bob: line {i}", await alice.ReadLineAsync(until - DateTime.UtcNow));
        }
    }

    [Fact]
    public void The_bucket_allows_the_burst_at_once_then_one_line_per_interval()
    {
        var second = Stopwatch.Frequency;
        var now = 1_000 * second;
        var bucket = FloodControl.Create(messagesPerSecond: 2, burst: 3, now)!;

        Assert.All(Enumerable.Range(0, 3), _ => Assert.Equal(TimeSpan.Zero, bucket.TryTake(now)));
        Assert.Equal(TimeSpan.FromSeconds(0.5), bucket.TryTake(now));
        Assert.Equal(TimeSpan.FromSeconds(0.25), bucket.TryTake(now + second / 4));
        Assert.Equal(TimeSpan.Zero, bucket.TryTake(now + second / 2));
        Assert.NotEqual(TimeSpan.Zero, bucket.TryTake(now + second / 2));
        // Idle time refills the bucket, but never past the burst.
        now += 100 * second;
        Assert.All(Enumerable.Range(0, 3), _ => Assert.Equal(TimeSpan.Zero, bucket.TryTake(now)));
        Assert.NotEqual(TimeSpan.Zero, bucket.TryTake(now));
        Assert.Null(FloodControl.Create(0, 10, now));
    }
}
