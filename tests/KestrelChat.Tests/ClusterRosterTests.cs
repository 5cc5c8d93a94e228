using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;
using Xunit.Abstractions;

namespace KestrelChat.Tests;

/// <summary>
/// Who is where across instances agrees with the notices people have read: the moment "* ra joined" arrives,
/// /who on that instance lists ra; after a rename, a move or a leave, likewise. And a Redis that does not answer
/// never makes a join, /who or the admin API wait: they answer from what is known, and say so.
/// </summary>
public sealed class ClusterRosterTests(ITestOutputHelper output) : TwoInstancesPerTest
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Right_after_each_notice_from_the_other_instance_who_and_the_admin_lists_agree_with_it()
    {
        await using var bob = await B.JoinAsync("bob");
        using var adminB = B.Admin();

        await using var ra = await A.JoinAsync("ra");
        await bob.ReadLineUntilAsync(l => l == "* ra joined the chat.", Deadline);
        Assert.Equal("* In the chat (2): bob, ra", await WhoAsync(bob, "кто в чате"));
        Assert.Contains("ra", await RoomMembersAsync(adminB, "#lobby"));

        await ra.SendLineAsync("/nick ra2");
        await bob.ReadLineUntilAsync(l => l == "* ra is now known as ra2.", Deadline);
        Assert.Equal("* In the chat (2): bob, ra2", await WhoAsync(bob, "/who"));

        await ra.SendLineAsync("/join #dev");
        await bob.ReadLineUntilAsync(l => l == "* ra2 left for #dev.", Deadline);
        Assert.Equal("* In the chat (1): bob", await WhoAsync(bob, "/who"));
        Assert.Equal("* In #dev (1): ra2", await WhoAsync(bob, "/who #dev"));
        Assert.Equal(["ra2"], await RoomMembersAsync(adminB, "#dev"));

        await bob.SendLineAsync("/join #dev");
        await ra.ReadLineUntilAsync(l => l == "* bob joined #dev.", Deadline);
        await ra.SendLineAsync("/quit");
        await bob.ReadLineUntilAsync(l => l == "* ra2 left #dev.", Deadline);
        Assert.Equal("* In #dev (1): bob", await WhoAsync(bob, "/who"));
        var clients = await adminB.GetFromJsonAsync<JsonElement[]>("/clients");
        Assert.DoesNotContain(clients!, c => c.GetProperty("nickname").GetString() == "ra2");
    }

    [Fact]
    public async Task With_Redis_frozen_a_join_who_and_the_admin_API_answer_within_the_bound_and_say_the_rest_is_stale()
    {
        await using var alice = await A.JoinAsync("alice");
        await using var bob = await B.JoinAsync("bob");
        await alice.ReadLineUntilAsync(l => l == "* bob joined the chat.", Deadline);
        using var adminA = A.Admin();

        Redis.Freeze();
        try
        {
            // Once A knows Redis is not answering (its liveness check missed twice).
            await Poll.UntilAsync(() => adminA.GetStringAsync("/health"), h => h == "Degraded", Deadline);
            await Poll.UntilAsync(async () =>
            {
                using var probe = await adminA.GetAsync("/clients");
                return probe.Headers.Contains("X-Cluster-Stale-Seconds");
            }, stale => stale, Deadline);

            var clock = Stopwatch.StartNew();
            await using var carol = await A.JoinAsync("carol");
            var join = clock.Elapsed;

            clock.Restart();
            await carol.SendLineAsync("/who");
            var (who, _) = await carol.ReadLineUntilAsync(l => l.StartsWith("* In the chat", StringComparison.Ordinal), Deadline);
            var stale = await carol.ReadLineAsync();
            var whoTook = clock.Elapsed;

            clock.Restart();
            using var response = await adminA.GetAsync("/clients");
            var clientsTook = clock.Elapsed;
            output.WriteLine($"Redis frozen: join {join.TotalMilliseconds:0} ms, /who {whoTook.TotalMilliseconds:0} ms, GET /clients {clientsTook.TotalMilliseconds:0} ms");

            Assert.True(join < TimeSpan.FromSeconds(2.5), $"the join took {join}");
            Assert.True(whoTook < TimeSpan.FromSeconds(1), $"/who took {whoTook}");
            Assert.True(clientsTook < TimeSpan.FromSeconds(1), $"GET /clients took {clientsTook}");
            Assert.Equal("* In the chat (3): alice, bob, carol", who); // bob, as last heard
            Assert.Matches(@"^\* Members on other servers as last heard \d+ s ago: the servers cannot reach each other right now\.$", stale);
            Assert.True(response.Headers.TryGetValues("X-Cluster-Stale-Seconds", out var seconds) && int.Parse(seconds.Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
            var clients = await response.Content.ReadFromJsonAsync<JsonElement[]>();
            Assert.Contains(clients!, c => c.GetProperty("nickname").GetString() == "bob");
        }
        finally
        {
            Redis.Thaw();
        }
        await Poll.UntilAsync(() => adminA.GetStringAsync("/health"), h => h == "Healthy", Deadline);
        using var fresh = await adminA.GetAsync("/clients");
        Assert.False(fresh.Headers.Contains("X-Cluster-Stale-Seconds"));
    }

    private static async Task<string> WhoAsync(ChatTestClient client, string command)
    {
        await client.SendLineAsync(command);
        return (await client.ReadLineUntilAsync(l => l.StartsWith("* In ", StringComparison.Ordinal), Deadline)).Line;
    }

    private static async Task<List<string>> RoomMembersAsync(HttpClient admin, string room)
    {
        var rooms = await admin.GetFromJsonAsync<JsonElement[]>("/rooms");
        return [.. rooms!.Single(r => r.GetProperty("name").GetString() == room).GetProperty("members").EnumerateArray().Select(m => m.GetString()!)];
    }
}
