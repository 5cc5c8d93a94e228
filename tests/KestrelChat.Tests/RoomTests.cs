using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>Rooms as users see them on one instance: where they start, how they move, what reaches whom.</summary>
public sealed class RoomTests : ServerPerTest
{
    [Fact]
    public async Task A_member_who_joins_a_room_leaves_the_lobby_and_what_is_said_stays_in_each_room()
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        await using var carol = await Server.JoinAsync("carol");
        await alice.ReadLineUntilAsync(l => l == "* carol joined the chat.");
        await bob.ReadLineUntilAsync(l => l == "* carol joined the chat.");

        await carol.SendLineAsync("/join #dev");

        Assert.Equal("* You are in #dev now: 1 here (you included).", await carol.ReadLineAsync());
        Assert.Equal("* carol left for #dev.", await alice.ReadLineAsync());
        Assert.Equal("* carol left for #dev.", await bob.ReadLineAsync());

        await bob.SendLineAsync("/join #DEV"); // one room regardless of case, named as its creator wrote it
        Assert.Equal("* You are in #dev now: 2 here (you included).", await bob.ReadLineAsync());
        Assert.Equal("* bob joined #dev.", await carol.ReadLineAsync());
        Assert.Equal("* bob left for #dev.", await alice.ReadLineAsync());

        await alice.SendLineAsync("anyone in the lobby?");
        await carol.SendLineAsync("hi bob");
        Assert.Equal("carol: hi bob", await bob.ReadLineAsync());
        await bob.SendLineAsync("/who");
        Assert.Equal("* In #dev (2): carol, bob", await bob.ReadLineAsync()); // alice's lobby line never came
        await alice.SendLineAsync("кто в чате");
        Assert.Equal("* In the chat (1): alice", await alice.ReadLineAsync()); // nor carol's
        await alice.SendLineAsync("/who #dev");
        Assert.Equal("* In #dev (2): carol, bob", await alice.ReadLineAsync());

        await bob.SendLineAsync("/part");
        Assert.Equal("* You are in #lobby now: 2 here (you included).", await bob.ReadLineAsync());
        Assert.Equal("* bob left for #lobby.", await carol.ReadLineAsync());
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync()); // the lobby's notices read as before rooms

        await carol.SendLineAsync("/quit");
        await carol.ReadToEndAsync();
        await alice.SendLineAsync("/rooms"); // the last one out: #dev is gone
        Assert.Equal("* Rooms (1):", await alice.ReadLineAsync());
        Assert.Equal("*   #lobby (2)", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task Room_names_are_a_hash_and_letters_of_any_script_and_a_bad_one_is_explained()
    {
        await using var alice = await Server.JoinAsync("alice");

        foreach (var bad in new[] { "dev", "#", "#two words", "#a:b", "#" + new string('x', 33), "#a.b" })
        {
            await alice.SendLineAsync($"/join {bad}");
            Assert.Equal("! A room name is '#' and 1–32 letters, digits, '-' or '_', like #dev.", await alice.ReadLineAsync());
        }
        await alice.SendLineAsync("/join");
        Assert.Equal("! Usage: /join #room", await alice.ReadLineAsync());

        await alice.SendLineAsync("/join #команда_2");
        Assert.Equal("* You are in #команда_2 now: 1 here (you included).", await alice.ReadLineAsync());
        await alice.SendLineAsync("/join #КОМАНДА_2");
        Assert.Equal("! You are in #команда_2 already.", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task Rooms_lists_every_room_with_its_members_and_topic_and_anyone_in_a_room_may_set_its_topic()
    {
        var (alice, bob) = await AliceInTheLobbyBobInDevAsync();
        await using var aliceClient = alice;
        await using var bobClient = bob;

        await bob.SendLineAsync("/topic");
        Assert.Equal("* #dev has no topic.", await bob.ReadLineAsync());
        await bob.SendLineAsync("/topic release on Friday");
        Assert.Equal("* bob set the topic of #dev: release on Friday", await bob.ReadLineAsync());
        await alice.SendLineAsync("/join #dev");
        Assert.Equal("* You are in #dev now: 2 here (you included).", await alice.ReadLineAsync());
        Assert.Equal("* Topic: release on Friday", await alice.ReadLineAsync());
        Assert.Equal("* Last message in #dev:", await alice.ReadLineAsync()); // who set it, and when
        Assert.Matches(@"^\[\d\d:\d\d\] \* bob set the topic: release on Friday$", await alice.ReadLineAsync());
        Assert.Equal("* End of history.", await alice.ReadLineAsync());
        await alice.SendLineAsync("/topic");
        Assert.Equal("* Topic of #dev: release on Friday", await alice.ReadLineAsync());

        await alice.SendLineAsync("/join #ops");
        await alice.ReadLineAsync();
        await alice.SendLineAsync("/rooms");
        Assert.Equal("* Rooms (3):", await alice.ReadLineAsync());
        Assert.Equal("*   #lobby (0)", await alice.ReadLineAsync());
        Assert.Equal("*   #dev (1): release on Friday", await alice.ReadLineAsync());
        Assert.Equal("*   #ops (1)", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task Me_sends_an_action_to_the_room_and_an_action_that_reads_like_the_server_is_refused()
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await alice.SendLineAsync("/me waves at everyone");
        Assert.Equal("* alice waves at everyone", await bob.ReadLineAsync());

        foreach (var spoof in new[] { "left the chat.", "is now known as bob.", "joined #dev.", "and carol joined the chat.", ", bob and carol left the chat." })
        {
            await alice.SendLineAsync($"/me {spoof}");
            Assert.Equal("! That would read like a notice from the server; say it another way.", await alice.ReadLineAsync());
        }
        await alice.SendLineAsync("/me");
        Assert.Equal("! Usage: /me does something", await alice.ReadLineAsync());
        await alice.SendLineAsync("/me nods");
        Assert.Equal("* alice nods", await bob.ReadLineAsync()); // none of the refused ones came before it
    }

    [Fact]
    public async Task A_nickname_that_starts_a_server_notice_cannot_act_it_out()
    {
        await using var server = await Server.JoinAsync("Server");
        await using var bob = await Server.JoinAsync("bob");
        await server.ReadLineAsync();

        await server.SendLineAsync("/me is shutting down. Bye!");
        Assert.Equal("! That would read like a notice from the server; say it another way.", await server.ReadLineAsync());
        await server.SendLineAsync("/me is fine");
        Assert.Equal("* Server is fine", await bob.ReadLineAsync());
    }

    [Fact]
    public async Task Private_messages_cross_rooms()
    {
        var (alice, bob) = await AliceInTheLobbyBobInDevAsync();
        await using var aliceClient = alice;
        await using var bobClient = bob;

        await alice.SendLineAsync("/msg bob are you in #dev?");

        Assert.Equal("alice (private): are you in #dev?", await bob.ReadLineAsync());
    }

    [Fact]
    public async Task The_admin_API_lists_rooms_shows_each_clients_room_and_announces_to_one_room()
    {
        var (alice, bob) = await AliceInTheLobbyBobInDevAsync();
        await using var aliceClient = alice;
        await using var bobClient = bob;
        using var admin = Server.Admin();

        using var rooms = JsonDocument.Parse(await admin.GetStringAsync("/rooms"));
        Assert.Equal("""[{"name":"#lobby","topic":null,"members":["alice"]},{"name":"#dev","topic":null,"members":["bob"]}]""",
            rooms.RootElement.GetRawText());
        using var clients = JsonDocument.Parse(await admin.GetStringAsync("/clients"));
        Assert.Equal(["#lobby", "#dev"], clients.RootElement.EnumerateArray().Select(c => c.GetProperty("room").GetString()));

        using (var sent = await admin.PostAsJsonAsync("/broadcast", new { text = "deploy at noon", room = "#DEV" }))
        {
            sent.EnsureSuccessStatusCode();
            Assert.Equal(1, (await sent.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("recipients").GetInt32());
        }
        Assert.Equal("* Announcement: deploy at noon", await bob.ReadLineAsync());
        using (var unknown = await admin.PostAsJsonAsync("/broadcast", new { text = "hello", room = "#nowhere" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
            Assert.Contains("There is no room #nowhere", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        await alice.SendLineAsync("/who");
        Assert.Equal("* In the chat (1): alice", await alice.ReadLineAsync()); // the announcement for #dev never reached her
    }

    /// <summary>alice and bob joined; bob moved to #dev; each has read what that showed them.</summary>
    private async Task<(ChatTestClient Alice, ChatTestClient Bob)> AliceInTheLobbyBobInDevAsync()
    {
        var alice = await Server.JoinAsync("alice");
        var bob = await Server.JoinAsync("bob");
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());
        await bob.SendLineAsync("/join #dev");
        Assert.StartsWith("* You are in #dev now", await bob.ReadLineAsync(), StringComparison.Ordinal);
        Assert.Equal("* bob left for #dev.", await alice.ReadLineAsync());
        return (alice, bob);
    }
}

/// <summary>Room settings that need a server of their own.</summary>
public sealed class RoomLimitTests
{
    [Fact]
    public async Task Past_MaxRooms_a_join_that_would_make_a_room_is_refused_and_says_why_but_existing_rooms_take_members()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MaxRooms", "2"), ("Chat:LoopbackIsOperator", "false"));
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();
        await alice.SendLineAsync("/join #a");
        await alice.ReadLineAsync();
        await bob.ReadLineAsync();

        await bob.SendLineAsync("/join #b");
        Assert.Equal("! Can't create #b: the server has its maximum of 2 rooms. Join one of them (/rooms).", await bob.ReadLineAsync());
        await bob.SendLineAsync("/join #a");
        Assert.Equal("* You are in #a now: 2 here (you included).", await bob.ReadLineAsync());
    }

    [Fact]
    public async Task The_lobby_topic_is_for_operators_only_and_the_default_room_has_the_name_configured()
    {
        await using var server = ChatServer.Start(("Chat:DefaultRoom", "#класс"), ("Chat:LoopbackIsOperator", "false"));
        await using var alice = await server.JoinAsync("alice");

        await alice.SendLineAsync("/topic homework due Monday");
        Assert.Equal("! Only operators can set the topic of #класс.", await alice.ReadLineAsync());
        await alice.SendLineAsync("/join #x");
        await alice.ReadLineAsync();
        await alice.SendLineAsync("/part");
        Assert.Equal("* You are in #класс now: 1 here (you included).", await alice.ReadLineAsync());
    }
}
