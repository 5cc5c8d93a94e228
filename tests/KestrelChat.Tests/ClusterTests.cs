using System.Net.Http.Json;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KestrelChat.Tests;

/// <summary>
/// Two KestrelChat instances (two real Kestrels in this process) sharing one real redis-server:
/// one chat across instances, and what happens when Redis goes away and comes back.
/// </summary>
public sealed class ClusterTests : TwoInstancesPerTest
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(10); // deadline for "the other instance has reported"

    [Fact]
    public async Task A_line_from_a_client_on_A_reaches_a_client_on_B_and_back()
    {
        await using var alice = await A.JoinAsync("alice");
        await using var bob = await B.JoinAsync("bob");

        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());
        await alice.SendLineAsync("привет, bob");
        // bob may or may not see "alice joined" first: it raced his own join on B.
        Assert.Equal("alice: привет, bob", (await bob.ReadLineUntilAsync(l => !l.StartsWith('*'))).Line);
        await bob.SendLineAsync("hi alice");
        Assert.Equal("bob: hi alice", await alice.ReadLineAsync());
        await bob.SendLineAsync("/quit");
        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task A_nickname_taken_on_A_is_refused_on_B_regardless_of_case_and_freed_when_its_owner_leaves()
    {
        var alice = await A.JoinAsync("alice");
        await using var other = await B.ConnectAsync();
        await other.ReadBytesAsync(4);

        await other.SendLineAsync("ALICE");
        Assert.Equal("", await other.ReadLineAsync()); // the LF that ends "NICK"
        Assert.Equal("! The nickname 'ALICE' is taken. Choose another one.", await other.ReadLineAsync());

        await alice.DisposeAsync();
        await WaitUntilAsync(async () =>
        {
            await other.SendLineAsync("ALICE");
            var (line, _) = await other.ReadLineUntilAsync(l => l.StartsWith("! The nickname", StringComparison.Ordinal) || l.StartsWith("* Welcome", StringComparison.Ordinal));
            return line.StartsWith("* Welcome, ALICE!", StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Clients_and_who_show_the_whole_cluster_each_client_with_its_instance()
    {
        await using var alice = await A.JoinAsync("alice");
        await using var bob = await B.JoinAsync("bob");
        using var adminA = A.Admin();

        var clients = await WaitForAsync(async () => await adminA.GetFromJsonAsync<JsonElement[]>("/clients"), c => c!.Length == 2);

        Assert.Equal([("alice", "A"), ("bob", "B")],
            clients!.Select(c => (c.GetProperty("nickname").GetString(), c.GetProperty("instance").GetString())));
        var local = await adminA.GetFromJsonAsync<JsonElement[]>("/clients?scope=local");
        Assert.Equal(["alice"], local!.Select(c => c.GetProperty("nickname").GetString()));
        await alice.SendLineAsync("кто в чате");
        Assert.Equal("* In the chat (2): alice, bob", (await alice.ReadLineUntilAsync(l => l.StartsWith("* In the chat", StringComparison.Ordinal))).Line);
    }

    [Fact]
    public async Task Rooms_are_cluster_wide_a_join_on_A_and_one_on_B_meet_and_rooms_and_who_count_both()
    {
        await using var alice = await A.JoinAsync("alice");
        await using var bob = await B.JoinAsync("bob");
        await using var dave = await B.JoinAsync("dave");
        await alice.ReadLineUntilAsync(l => l == "* dave joined the chat.");
        await bob.ReadLineUntilAsync(l => l == "* dave joined the chat.");

        await alice.SendLineAsync("/join #dev");
        Assert.StartsWith("* You are in #dev now", await alice.ReadLineAsync(), StringComparison.Ordinal);
        // From A, through Redis, to B's lobby (bob may see alice's join first: it raced his own on B).
        Assert.Equal("* alice left for #dev.", (await bob.ReadLineUntilAsync(l => l != "* alice joined the chat.")).Line);
        await bob.SendLineAsync("/join #dev");
        Assert.StartsWith("* You are in #dev now", await bob.ReadLineAsync(), StringComparison.Ordinal);
        Assert.Equal("* bob joined #dev.", await alice.ReadLineAsync()); // from B, to A's #dev

        await alice.SendLineAsync("hi from A");
        // bob may see "* alice joined #dev." first: her join went through Redis while he was joining on B.
        Assert.Equal("alice: hi from A", (await bob.ReadLineUntilAsync(l => !l.StartsWith('*'))).Line);
        await bob.SendLineAsync("hi from B");
        Assert.Equal("bob: hi from B", await alice.ReadLineAsync());

        // The other instance's members, as its events told: at once.
        await alice.SendLineAsync("/who");
        Assert.Equal("* In #dev (2): alice, bob", (await alice.ReadLineUntilAsync(l => l.StartsWith("* In #dev", StringComparison.Ordinal))).Line);
        await dave.SendLineAsync("/rooms");
        Assert.Equal("* Rooms (2):", (await dave.ReadLineUntilAsync(l => l.StartsWith("* Rooms", StringComparison.Ordinal))).Line);
        Assert.Equal("*   #lobby (1)", await dave.ReadLineAsync());
        Assert.Equal("*   #dev (2)", await dave.ReadLineAsync());
        await dave.SendLineAsync("/who");
        Assert.Equal("* In the chat (1): dave", await dave.ReadLineAsync()); // nothing said in #dev reached the lobby
    }

    [Fact]
    public async Task Private_messages_announcements_and_kicks_by_id_cross_instances()
    {
        await using var alice = await A.JoinAsync("alice");
        await using var bob = await B.JoinAsync("bob");
        await alice.ReadLineAsync(); // bob joined
        using var adminA = A.Admin();

        await alice.SendLineAsync("/msg bob только тебе");
        Assert.Equal("alice (private): только тебе", (await bob.ReadLineUntilAsync(l => !l.StartsWith('*'))).Line);
        await alice.SendLineAsync("/msg BOB by look"); // nicknames on another instance compare by look, as here
        Assert.Equal("alice (private): by look", await bob.ReadLineAsync());

        (await adminA.PostAsJsonAsync("/broadcast", new { text = "restart at 22:00" })).EnsureSuccessStatusCode();
        Assert.Equal("* Announcement: restart at 22:00", await alice.ReadLineAsync());
        Assert.Equal("* Announcement: restart at 22:00", await bob.ReadLineAsync());

        var clients = await WaitForAsync(async () => await adminA.GetFromJsonAsync<JsonElement[]>("/clients"), c => c!.Length == 2);
        var bobId = clients!.Single(c => c.GetProperty("nickname").GetString() == "bob").GetProperty("id").GetString();
        (await adminA.DeleteAsync($"/clients/{bobId}?reason=spam")).EnsureSuccessStatusCode();
        Assert.Equal(["! You were disconnected by an operator: spam"], await bob.ReadToEndAsync());
        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task A_configured_instance_name_a_live_instance_has_stops_the_start_with_the_reason_a_default_one_takes_another()
    {
        await using (var clash = ServerProcess.Start(("Chat__Redis__Configuration", Redis.Configuration), ("Chat__Redis__Channel", Channel),
            ("Chat__Redis__InstanceName", "A"))) // A is alive
        {
            Assert.Equal(1, await clash.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains($"KestrelChat cannot start: Chat:Redis:InstanceName 'A' is the name of another live instance of cluster '{Channel}'", clash.Output, StringComparison.Ordinal);
        }

        await using var first = ChatServer.Start(("Chat:Redis:Configuration", Redis.Configuration), ("Chat:Redis:Channel", Channel));
        await using var second = ChatServer.Start(("Chat:Redis:Configuration", Redis.Configuration), ("Chat:Redis:Channel", Channel));
        var firstName = first.Services.GetRequiredService<KestrelChat.Cluster.IChatBackplane>().InstanceName;
        var secondName = second.Services.GetRequiredService<KestrelChat.Cluster.IChatBackplane>().InstanceName;
        Assert.Equal($"{Environment.MachineName}-0", firstName); // the machine and the chat port (0 here: any free port)
        Assert.Equal($"{firstName}-2", secondName);

        await using var alice = await first.JoinAsync("alice"); // and the two are one chat
        await using var bob = await second.JoinAsync("bob");
        await alice.SendLineAsync("one chat");
        Assert.Equal("alice: one chat", (await bob.ReadLineUntilAsync(l => l.StartsWith("alice:", StringComparison.Ordinal))).Line);
    }

    [Fact]
    public async Task An_instance_killed_with_SIGKILL_is_declared_dead_within_seconds_its_clients_leave_with_notices_and_their_nicknames_are_free()
    {
        await using var alice = await A.JoinAsync("alice");
        var c = ServerProcess.Start(("Chat__Redis__Configuration", Redis.Configuration), ("Chat__Redis__Channel", Channel),
            ("Chat__Redis__InstanceName", "C"), ("Chat__Redis__ClaimSeconds", "3"));
        await using (c)
        {
            var (chat, _) = await c.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
            await using var bob = await ChatTestClient.JoinAsync(chat, "bob");
            await alice.ReadLineUntilAsync(l => l == "* bob joined the chat.", TimeSpan.FromSeconds(15));
            using var admin = A.Admin();
            await WaitForAsync(() => admin.GetStringAsync("/clients"), json => json.Contains("\"nickname\":\"bob\"", StringComparison.Ordinal)); // C's heartbeat listed bob
        } // SIGKILL: no goodbye, no leave, nothing released

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await alice.ReadLineUntilAsync(l => l == "* bob left the chat.", TimeSpan.FromSeconds(15));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"bob's leave came {clock.Elapsed} after the crash");
        // The dead instance's claim is gone: bob may take his name again (asked until B grants it, within seconds).
        await WaitForAsync(async () =>
        {
            await using var again = await B.ConnectAsync();
            Assert.Equal("NICK", await again.ReadBytesAsync(4));
            await again.SendLineAsync("bob");
            await again.ReadLineAsync();
            return await again.ReadLineAsync();
        }, line => line.StartsWith("* Welcome, bob!", StringComparison.Ordinal));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(12), $"bob's nickname was free {clock.Elapsed} after the crash");
    }

    [Fact]
    public async Task An_instance_that_only_stalled_past_the_window_is_announced_again_when_it_is_back_and_its_clients_talk_on()
    {
        await using var alice = await A.JoinAsync("alice");
        await using var c = ServerProcess.Start(("Chat__Redis__Configuration", Redis.Configuration), ("Chat__Redis__Channel", Channel),
            ("Chat__Redis__InstanceName", "C"), ("Chat__Redis__ClaimSeconds", "3"));
        var (chat, _) = await c.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
        await using var bob = await ChatTestClient.JoinAsync(chat, "bob");
        await alice.ReadLineUntilAsync(l => l == "* bob joined the chat.", TimeSpan.FromSeconds(15));
        using var admin = A.Admin();
        await WaitForAsync(() => admin.GetStringAsync("/clients"), json => json.Contains("\"nickname\":\"bob\"", StringComparison.Ordinal));

        c.Freeze();
        try
        {
            await alice.ReadLineUntilAsync(l => l == "* bob left the chat.", TimeSpan.FromSeconds(15)); // declared dead
        }
        finally
        {
            c.Thaw();
        }

        await alice.ReadLineUntilAsync(l => l == "* bob joined the chat.", TimeSpan.FromSeconds(15)); // back, and said so
        await bob.SendLineAsync("still here");
        await alice.ReadLineUntilAsync(l => l == "bob: still here", TimeSpan.FromSeconds(15));
        await alice.SendLineAsync("welcome back");
        var (_, bobSaw) = await bob.ReadLineUntilAsync(l => l == "alice: welcome back", TimeSpan.FromSeconds(15));
        Assert.DoesNotContain("* bob left the chat.", bobSaw); // the stalled instance never told bob he had left
    }

    [Fact]
    public async Task A_frozen_Redis_makes_health_Degraded_within_its_PING_bound_and_Healthy_again_when_it_answers()
    {
        using var admin = A.Admin();
        Redis.Freeze(); // the socket stays open: only a PING can tell
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Assert.Equal("Degraded", await admin.GetStringAsync("/health"));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"/health took {clock.Elapsed} against a frozen Redis");
        }
        finally
        {
            Redis.Thaw();
        }
        await WaitForAsync(() => admin.GetStringAsync("/health"), h => h == "Healthy");
    }

    [Fact]
    public async Task With_Redis_down_local_chat_goes_on_health_is_Degraded_and_delivery_across_resumes_when_it_is_back()
    {
        await using var alice = await A.JoinAsync("alice");
        await using var carol = await A.JoinAsync("carol");
        await using var bob = await B.JoinAsync("bob");
        await alice.ReadLineUntilAsync(l => l == "* bob joined the chat.");
        using var adminA = A.Admin();
        using var adminB = B.Admin();

        await Redis.StopAsync();

        await WaitForAsync(() => adminA.GetStringAsync("/health"), h => h == "Degraded");
        Assert.Equal("Healthy", await adminA.GetStringAsync("/health/ready")); // still serving its own clients
        await alice.SendLineAsync("redis is down, carol");
        Assert.Equal("alice: redis is down, carol", (await carol.ReadLineUntilAsync(l => l.StartsWith("alice", StringComparison.Ordinal))).Line);

        await Redis.StartAgainAsync();

        await WaitForAsync(() => adminA.GetStringAsync("/health"), h => h == "Healthy");
        await WaitForAsync(() => adminB.GetStringAsync("/health"), h => h == "Healthy");
        // At most once: what was said during the outage stays on A; new lines cross again.
        await WaitUntilAsync(async () =>
        {
            await alice.SendLineAsync("back");
            try
            {
                await bob.ReadLineUntilAsync(l => l == "alice: back", TimeSpan.FromSeconds(1));
                return true;
            }
            catch (TimeoutException)
            {
                return false;
            }
        });
    }

    [Fact]
    public async Task The_nicknames_and_clients_of_a_crashed_instance_free_themselves()
    {
        using var adminA = A.Admin();
        await using var other = await A.ConnectAsync();
        await other.ReadBytesAsync(4);
        await using (var crashing = ServerProcess.Start(
            ("Chat__Redis__Configuration", Redis.Configuration), ("Chat__Redis__Channel", Channel),
            ("Chat__Redis__InstanceName", "C"), ("Chat__Redis__ClaimSeconds", "3")))
        {
            var (chat, _) = await crashing.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
            await using var zed = await ChatTestClient.JoinAsync(chat, "zed");
            await other.SendLineAsync("zed");
            Assert.Equal("! The nickname 'zed' is taken. Choose another one.", (await other.ReadLineUntilAsync(l => l.StartsWith('!'))).Line);
            await WaitForAsync(async () => await adminA.GetFromJsonAsync<JsonElement[]>("/clients"), c => c!.Length == 2);
        } // SIGKILL: C says no goodbye and releases nothing

        // Nobody renews C's claim: within Chat:Redis:ClaimSeconds (3 s) "zed" is free and C's list is gone.
        await WaitUntilAsync(async () =>
        {
            await other.SendLineAsync("zed");
            var (line, _) = await other.ReadLineUntilAsync(l => l.StartsWith("! The nickname", StringComparison.Ordinal) || l.StartsWith("* Welcome", StringComparison.Ordinal));
            return line.StartsWith("* Welcome, zed!", StringComparison.Ordinal);
        });
        var clients = await WaitForAsync(async () => await adminA.GetFromJsonAsync<JsonElement[]>("/clients"), c => c!.Length == 1);
        Assert.Equal("A", clients![0].GetProperty("instance").GetString());
    }

    [Fact]
    public async Task An_instance_restarted_after_a_crash_frees_the_nicknames_its_last_process_held()
    {
        // A cluster of one (its own channel: no survivor declares the crashed process dead). Nickname claims live
        // 5 × ClaimSeconds (50 s here), so only the restarted process freeing them lets "zed" in within the deadline.
        var channel = $"solo{Guid.NewGuid():N}"[..16];
        (string, string)[] settings = [("Chat__Redis__Configuration", Redis.Configuration), ("Chat__Redis__Channel", channel),
            ("Chat__Redis__InstanceName", "C"), ("Chat__Redis__ClaimSeconds", "10")];
        using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(Redis.Configuration);
        var db = redis.GetDatabase();
        await using (var crashing = ServerProcess.Start(settings))
        {
            var (chat, _) = await crashing.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
            await using var zed = await ChatTestClient.JoinAsync(chat, "zed");
            // Until zed is in C's client list, which is what the next process of C reads.
            await WaitUntilAsync(async () => (await db.HashValuesAsync($"kc:{channel}:clients:C")).Any(v => v.ToString().Contains("\"zed\"", StringComparison.Ordinal)));
        } // SIGKILL: C says no goodbye and releases nothing

        // The name is free once the dead process's claim on it lapses (ClaimSeconds); then C starts again.
        await Poll.UntilAsync(async () => await db.KeyExistsAsync($"kc:{channel}:instance:C"), exists => !exists, TimeSpan.FromSeconds(20));
        await using var restarted = ServerProcess.Start(settings);
        var (again, _) = await restarted.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
        await using var newZed = await ChatTestClient.ConnectAsync(again);
        await newZed.ReadBytesAsync(4);
        await WaitUntilAsync(async () =>
        {
            await newZed.SendLineAsync("zed");
            var (line, _) = await newZed.ReadLineUntilAsync(l => l.StartsWith("! The nickname", StringComparison.Ordinal) || l.StartsWith("* Welcome", StringComparison.Ordinal));
            return line.StartsWith("* Welcome, zed!", StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task An_instance_whose_Redis_is_not_there_yet_starts_anyway_and_serves_its_own_clients()
    {
        await using var nowhere = await RedisServer.StartAsync();
        await nowhere.StopAsync(); // a port where no Redis listens
        await using var lonely = ChatServer.Start(
            ("Chat:Redis:Configuration", nowhere.Configuration), ("Chat:Redis:InstanceName", "lonely"));
        await using var alice = await lonely.JoinAsync("alice");
        await using var bob = await lonely.JoinAsync("bob");
        using var admin = lonely.Admin();

        await alice.SendLineAsync("anyone?");

        Assert.Equal("alice: anyone?", (await bob.ReadLineUntilAsync(l => l.StartsWith("alice", StringComparison.Ordinal))).Line);
        Assert.Equal("Degraded", await admin.GetStringAsync("/health"));
    }

    /// <summary>Reads until <paramref name="done"/>, failing at the heartbeat's deadline.</summary>
    private static Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> done) => Poll.UntilAsync(read, done, Heartbeat);

    private static async Task WaitUntilAsync(Func<Task<bool>> attempt) => await WaitForAsync(attempt, ok => ok);
}
