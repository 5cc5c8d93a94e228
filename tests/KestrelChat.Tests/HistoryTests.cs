using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KestrelChat.History;
using KestrelChat.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace KestrelChat.Tests;

/// <summary>
/// History as users see it (docs/protocol.md, History): what a joiner is shown, what a member who comes back
/// missed, /history, the admin API; and what the server does when its SQLite file fails. Real SQLite files
/// in temporary folders, real sockets.
/// </summary>
public sealed class HistoryTests
{
    private static readonly DateTimeOffset Noon = new(2026, 11, 29, 12, 2, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_joiner_sees_the_rooms_last_lines_with_their_time_framed_apart_from_live_lines()
    {
        var clock = Clock();
        await using var server = ChatServer.Start(clock);
        await using var alice = await server.JoinAsync("alice");
        await alice.SendLineAsync("one");
        await alice.SendLineAsync("/me waves");
        await alice.SendLineAsync("привет, мир");
        await SettledAsync(alice);

        await using var bob = await server.JoinAsync("bob");
        Assert.Equal(
            ["* Last 3 messages in #lobby:", "[12:02] alice: one", "[12:02] * alice waves", "[12:02] alice: привет, мир", "* End of history."],
            await bob.ReadLinesAsync(5));

        clock.Advance(TimeSpan.FromDays(1)); // yesterday's lines carry their date
        await using var carol = await server.JoinAsync("carol");
        Assert.Equal("[2026-11-29 12:02] alice: one", (await carol.ReadLinesAsync(2))[1]);
    }

    [Fact]
    public async Task A_member_who_comes_back_within_the_hour_gets_exactly_what_it_missed_and_after_it_the_last_20()
    {
        var clock = Clock();
        await using var server = ChatServer.Start(clock);
        await using var alice = await server.JoinAsync("alice");
        await alice.SendLineAsync("before bob left");
        await SettledAsync(alice);
        var bob = await server.JoinAsync("bob");
        await bob.ReadLinesAsync(3); // the last line before it came
        await bob.SendLineAsync("/quit");
        await alice.ReadLineUntilAsync(l => l == "* bob left the chat.");
        await bob.DisposeAsync();

        for (var i = 1; i <= 3; i++)
        {
            await alice.SendLineAsync($"missed {i}");
        }
        await SettledAsync(alice);
        clock.Advance(TimeSpan.FromMinutes(59));
        bob = await server.JoinAsync("BOB"); // the same nickname, as the chat compares them
        Assert.Equal(
            ["* You missed 3 messages while you were away:", "[12:02] alice: missed 1", "[12:02] alice: missed 2", "[12:02] alice: missed 3", "* End of history."],
            await bob.ReadLinesAsync(5));
        await bob.SendLineAsync("/quit");
        await alice.ReadLineUntilAsync(l => l == "* BOB left the chat.");
        await bob.DisposeAsync();

        for (var i = 1; i <= 25; i++)
        {
            await alice.SendLineAsync($"later {i}");
        }
        await SettledAsync(alice);
        clock.Advance(TimeSpan.FromMinutes(61)); // past Chat:History:ReplayMinutes
        await using var back = await server.JoinAsync("bob");
        var lines = await back.ReadLinesAsync(22);
        Assert.Equal("* Last 20 messages in #lobby:", lines[0]);
        Assert.Equal([.. Enumerable.Range(6, 20).Select(i => $"[13:01] alice: later {i}")], lines[1..21]);
        Assert.Equal("* End of history.", lines[21]);
    }

    [Fact]
    public async Task History_shows_the_last_N_lines_of_the_askers_room_only_and_explains_a_wrong_N()
    {
        await using var server = ChatServer.Start(Clock());
        await using var alice = await server.JoinAsync("alice");
        await alice.SendLineAsync("/history");
        Assert.Equal("* Nothing has been said in #lobby yet.", await alice.ReadLineAsync());
        await alice.SendLineAsync("/join #dev");
        await alice.ReadLineAsync();
        await alice.SendLineAsync("in dev 1");
        await alice.SendLineAsync("in dev 2");
        await alice.SendLineAsync("/history 1");
        Assert.Equal(["* Last message in #dev:", "[12:02] alice: in dev 2", "* End of history."], await alice.ReadLinesAsync(3));
        await alice.SendLineAsync("/history 0");
        Assert.Equal("! Usage: /history [N], N from 1 to 200", await alice.ReadLineAsync());
        await alice.SendLineAsync("/history lots");
        Assert.Equal("! Usage: /history [N], N from 1 to 200", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task History_survives_a_restart_of_the_server_process_and_a_member_who_left_at_the_stop_gets_what_it_missed()
    {
        var folder = Directory.CreateTempSubdirectory("kestrelchat-history-");
        var path = ("Chat__History__Path", Path.Combine(folder.FullName, "chat.db"));
        try
        {
            await using (var first = ServerProcess.Start(path))
            {
                var (chat, _) = await first.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
                await using var alice = await ChatTestClient.JoinAsync(chat, "alice");
                await using var bob = await ChatTestClient.JoinAsync(chat, "bob");
                await alice.SendLineAsync("Я буду здесь завтра");
                await bob.ReadLineUntilAsync(l => l == "alice: Я буду здесь завтра");
                first.Terminate(); // SIGTERM: everyone leaves; the last lines and the leaves reach the file before the exit
                Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            }

            await using var second = ServerProcess.Start(path);
            var (chat2, _) = await second.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
            await using var carol = await ChatTestClient.JoinAsync(chat2, "carol");
            var lines = await carol.ReadLinesAsync(3);
            Assert.Equal("* Last message in #lobby:", lines[0]);
            Assert.EndsWith("] alice: Я буду здесь завтра", lines[1]);
            await carol.SendLineAsync("said after the restart");
            await SettledAsync(carol);
            await using var back = await ChatTestClient.JoinAsync(chat2, "alice"); // left at the stop, back within the hour
            Assert.Equal("* You missed 1 message while you were away:", (await back.ReadLinesAsync(2))[0]);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task An_unwritable_store_degrades_history_and_health_but_the_chat_and_joins_go_on()
    {
        var file = Path.GetTempFileName(); // a file where the history's folder should be
        try
        {
            await using var server = ChatServer.Start(("Chat:History:Path", Path.Combine(file, "history.db")));
            using var admin = server.Admin();
            Assert.Equal("Degraded", await admin.GetStringAsync("/health"));

            await using var alice = await server.JoinAsync("alice");
            await using var bob = await server.JoinAsync("bob");
            await alice.SendLineAsync("still here");
            Assert.Equal("alice: still here", (await bob.ReadLineUntilAsync(l => l.StartsWith("alice:", StringComparison.Ordinal))).Line);
            await using var carol = await server.JoinAsync("carol"); // the last lines are kept in memory meanwhile
            Assert.Equal(["* Last message in #lobby:"], (await carol.ReadLinesAsync(1)));

            var response = await admin.GetAsync("/rooms/lobby/messages");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_corrupt_history_file_never_stops_the_server_it_says_Degraded_and_keeps_history_in_memory()
    {
        var folder = Directory.CreateTempSubdirectory("kestrelchat-corrupt-");
        var path = Path.Combine(folder.FullName, "chat.db");
        await File.WriteAllTextAsync(path, "this is not an SQLite database, whatever its name says\n");
        try
        {
            await using var server = ChatServer.Start(("Chat:History:Path", path));
            using var admin = server.Admin();
            Assert.Equal("Degraded", await admin.GetStringAsync("/health"));
            await using var alice = await server.JoinAsync("alice");
            await alice.SendLineAsync("the chat goes on");
            await SettledAsync(alice);
            await using var bob = await server.JoinAsync("bob");
            Assert.EndsWith("] alice: the chat goes on", (await bob.ReadLinesAsync(2))[1]);
            Assert.StartsWith("this is not an SQLite database", await File.ReadAllTextAsync(path)); // left as it was, for its owner to look at
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task The_admin_API_pages_searches_in_any_case_and_deletes_lines_and_never_shows_private_messages()
    {
        const string key = "history-key-0123456789abcdef";
        await using var server = ChatServer.Start(("Admin:ApiKey", key));
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.SendLineAsync("Привет всем");
        await alice.SendLineAsync("/msg bob a secret");
        await alice.SendLineAsync("second");
        await alice.SendLineAsync("third");
        await bob.ReadLineUntilAsync(l => l == "alice: third");
        using var anonymous = server.Admin();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/rooms/lobby/messages")).StatusCode);

        using var admin = server.Admin(key);
        var all = await Poll.UntilAsync(() => HistoryApi.MessagesAsync(admin, "/rooms/lobby/messages"), m => m.Count == 3);
        Assert.Equal(["third", "second", "Привет всем"], all.Select(m => m.Text)); // newest first; the /msg is not there
        Assert.All(all, m => Assert.Equal("alice", m.Nickname));

        Assert.Equal(["Привет всем"], (await HistoryApi.MessagesAsync(admin, "/rooms/%23lobby/messages?q=ПРИВЕТ")).Select(m => m.Text));
        Assert.Equal(["second"], (await HistoryApi.MessagesAsync(admin, $"/rooms/lobby/messages?before={all[0].Id}&limit=1")).Select(m => m.Text));
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync("/rooms/lobby/messages?limit=0")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/rooms/lobby/messages/{all[1].Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/rooms/lobby/messages/{all[1].Id}")).StatusCode);
        Assert.Equal(["third", "Привет всем"], (await HistoryApi.MessagesAsync(admin, "/rooms/lobby/messages")).Select(m => m.Text));
        await using var carol = await server.JoinAsync("carol"); // gone from what joiners are shown too
        Assert.Equal(["* Last 2 messages in #lobby:"], (await carol.ReadLinesAsync(1)));
        Assert.DoesNotContain("second", string.Join('\n', await carol.ReadLinesAsync(3)));
    }

    [Fact]
    public void Retention_keeps_the_newest_lines_of_each_room_and_none_older_than_the_age_limit()
    {
        var folder = Directory.CreateTempSubdirectory("kestrelchat-prune-");
        try
        {
            using var store = new SqliteHistoryStore(Path.Combine(folder.FullName, "h.db"));
            store.Open();
            var old = Noon - TimeSpan.FromDays(40);
            var items = Enumerable.Range(1, 30).Select(i => new HistoryItem(i, "#a", "#a", i <= 5 ? old : Noon, "alice", HistoryKind.Text, $"a{i}"))
                .Concat(Enumerable.Range(31, 3).Select(i => new HistoryItem(i, "#b", "#b", Noon, "bob", HistoryKind.Text, $"b{i}")))
                .ToList();
            store.Append(items);

            var pruned = store.Prune(olderThan: Noon - TimeSpan.FromDays(30), maxPerRoom: 10);

            Assert.Equal(20, pruned); // 5 too old, then 15 more past the newest 10 of #a
            Assert.Equal([.. Enumerable.Range(21, 10).Reverse().Select(i => $"a{i}")], store.Query("#a", null, null, 100, null).Select(m => m.Text));
            Assert.Equal(3, store.Query("#b", null, null, 100, null).Count);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }

    private static FakeTimeProvider Clock()
    {
        var clock = new FakeTimeProvider(Noon);
        clock.SetLocalTimeZone(TimeZoneInfo.Utc);
        return clock;
    }

    /// <summary>Until the server has handled everything the client sent (its answer to /history 1 came).</summary>
    private static async Task SettledAsync(ChatTestClient client)
    {
        await client.SendLineAsync("/history 1");
        await client.ReadLineUntilAsync(l => l == "* End of history." || l.StartsWith("* Nothing has been said", StringComparison.Ordinal));
    }
}
