using System.Text;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>Chatting: what each client sees when the others talk, join, leave and use commands.</summary>
public sealed class ChatTests : ServerPerTest
{
    [Fact]
    public async Task A_line_goes_to_every_other_client_prefixed_with_the_nickname_and_not_back_to_its_sender()
    {
        var (alice, bob, carol) = await JoinThreeAsync();

        await alice.SendLineAsync("hello everyone");

        Assert.Equal("alice: hello everyone", await bob.ReadLineAsync());
        Assert.Equal("alice: hello everyone", await carol.ReadLineAsync());
        // Alice's next line is the answer to her next command, not an echo of her message.
        await alice.SendLineAsync("/who");
        Assert.Equal("* In the chat (3): alice, bob, carol", await alice.ReadLineAsync());
        await DisposeAllAsync(alice, bob, carol);
    }

    [Fact]
    public async Task In_a_room_larger_than_one_flush_round_every_member_gets_each_line_once_and_in_order()
    {
        // A fan-out to more members than DeferredFlushes.MaxWaiting flushes those written so far in rounds, while it writes on.
        const int Members = KestrelChat.Chat.DeferredFlushes.MaxWaiting + 44;
        await using var server = ChatServer.Start(("Chat:Limits:MaxConnectionsPerIp", "0"));
        var clients = await Task.WhenAll(Enumerable.Range(0, Members).Select(i => server.JoinAsync($"m{i}")));
        try
        {
            await clients[0].SendLineAsync("first");
            await clients[0].SendLineAsync("second");

            foreach (var client in clients[1..])
            {
                // Presence notices of the others' joins may come first; then m0's two lines, each once, in order.
                Assert.Equal("m0: first", (await client.ReadLineUntilAsync(l => l.StartsWith("m0: ", StringComparison.Ordinal))).Line);
                Assert.Equal("m0: second", (await client.ReadLineUntilAsync(l => l.StartsWith("m0: ", StringComparison.Ordinal))).Line);
            }
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task Others_are_told_when_someone_joins_and_when_someone_leaves()
    {
        await using var alice = await Server.JoinAsync("alice");
        var bob = await Server.JoinAsync("bob");
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());

        await bob.DisposeAsync(); // EOF/close without /quit

        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task Quit_says_goodbye_closes_the_connection_and_the_others_see_the_leave()
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        await alice.ReadLineAsync(); // bob joined

        await bob.SendLineAsync("/quit");

        Assert.Equal(["* Bye!"], await bob.ReadToEndAsync());
        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task A_reset_connection_is_a_leave_and_hurts_nobody_else()
    {
        await using var alice = await Server.JoinAsync("alice");
        var bob = await Server.JoinAsync("bob");
        await using var carol = await Server.JoinAsync("carol");
        await alice.ReadLineAsync();
        await alice.ReadLineAsync();
        await bob.ReadLineAsync(); // carol joined

        bob.Socket.LingerState = new System.Net.Sockets.LingerOption(true, 0); // close → RST
        await bob.DisposeAsync();

        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());
        Assert.Equal("* bob left the chat.", await carol.ReadLineAsync());
        await carol.SendLineAsync("still here");
        Assert.Equal("carol: still here", await alice.ReadLineAsync());
    }

    [Theory]
    [InlineData("кто в чате")]
    [InlineData("Кто в чате?")]
    [InlineData("/who")]
    public async Task Who_is_here_is_answered_to_the_asker_only(string command)
    {
        var (alice, bob, carol) = await JoinThreeAsync();

        await bob.SendLineAsync(command);

        Assert.Equal("* In the chat (3): alice, bob, carol", await bob.ReadLineAsync());
        // Nobody else saw the question or the answer: their next line is the next real message.
        await bob.SendLineAsync("after");
        Assert.Equal("bob: after", await alice.ReadLineAsync());
        Assert.Equal("bob: after", await carol.ReadLineAsync());
        await DisposeAllAsync(alice, bob, carol);
    }

    [Fact]
    public async Task Nick_renames_and_everyone_sees_it_and_later_lines_carry_the_new_name()
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await alice.SendLineAsync("/nick Алиса");

        Assert.Equal("* alice is now known as Алиса.", await alice.ReadLineAsync());
        Assert.Equal("* alice is now known as Алиса.", await bob.ReadLineAsync());
        await alice.SendLineAsync("привет");
        Assert.Equal("Алиса: привет", await bob.ReadLineAsync());
        // The old name is free again, the new one is taken.
        await bob.SendLineAsync("/nick АЛИСА");
        Assert.Equal("! The nickname 'АЛИСА' is taken. Choose another one.", await bob.ReadLineAsync());
        await bob.SendLineAsync("/nick alice");
        Assert.Equal("* bob is now known as alice.", await bob.ReadLineAsync());
    }

    [Fact]
    public async Task Msg_reaches_only_its_recipient()
    {
        var (alice, bob, carol) = await JoinThreeAsync();

        await alice.SendLineAsync("/msg BOB psst, только тебе");

        Assert.Equal("alice (private): psst, только тебе", await bob.ReadLineAsync());
        await alice.SendLineAsync("public");
        Assert.Equal("alice: public", await carol.ReadLineAsync()); // carol never saw the private line
        Assert.Equal("alice: public", await bob.ReadLineAsync());
        await alice.SendLineAsync("/msg nobody hi");
        Assert.Equal("! No one called 'nobody' is in the chat.", await alice.ReadLineAsync());
        await alice.SendLineAsync("/msg bob");
        Assert.Equal("! Usage: /msg NICKNAME text", await alice.ReadLineAsync());
        await DisposeAllAsync(alice, bob, carol);
    }

    [Fact]
    public async Task Lines_and_commands_typed_in_one_burst_reach_the_others_in_the_order_they_were_typed()
    {
        var (alice, bob, carol) = await JoinThreeAsync();

        // One write, so the server handles it in one read: the chat lines are fanned out together,
        // and no command may overtake the lines typed before it.
        await alice.SendAsync(Encoding.UTF8.GetBytes("один\n/msg bob два\nthree\n/nick Алиса\nfour\n"));

        Assert.Equal("alice: один", await bob.ReadLineAsync());
        Assert.Equal("alice (private): два", await bob.ReadLineAsync());
        Assert.Equal("alice: three", await bob.ReadLineAsync());
        Assert.Equal("* alice is now known as Алиса.", await bob.ReadLineAsync());
        Assert.Equal("Алиса: four", await bob.ReadLineAsync());
        Assert.Equal("alice: один", await carol.ReadLineAsync());
        Assert.Equal("alice: three", await carol.ReadLineAsync());
        Assert.Equal("* alice is now known as Алиса.", await carol.ReadLineAsync());
        Assert.Equal("Алиса: four", await carol.ReadLineAsync());
        await DisposeAllAsync(alice, bob, carol);
    }

    [Fact]
    public async Task A_burst_of_a_thousand_lines_arrives_complete_and_in_order()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MessagesPerSecond", "0")); // no flood control
        var (alice, bob, carol) = await JoinThreeAsync(server);
        var lines = Enumerable.Range(0, 1000).Select(i => $"строка {i} " + new string('x', i % 100)).ToList();

        await alice.SendAsync(Encoding.UTF8.GetBytes(string.Concat(lines.Select(line => line + "\n"))));

        foreach (var client in new[] { bob, carol })
        {
            foreach (var line in lines)
            {
                Assert.Equal("alice: " + line, await client.ReadLineAsync());
            }
        }
        await DisposeAllAsync(alice, bob, carol);
    }

    [Fact]
    public async Task A_Cyrillic_character_split_across_two_writes_arrives_whole()
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        await alice.ReadLineAsync();
        var bytes = Encoding.UTF8.GetBytes("Привет, мир\n");

        await bob.SendAsync(bytes[..3]); // 'П' is two bytes: this cuts 'р' in half
        await bob.SendAsync(bytes[3..]);

        Assert.Equal("bob: Привет, мир", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task CRLF_lines_from_telnet_lose_the_CR()
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendAsync("one\r\ntwo\r\n"u8.ToArray());

        Assert.Equal("bob: one", await alice.ReadLineAsync());
        Assert.Equal("bob: two", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task Telnet_Ctrl_C_and_option_negotiation_are_dropped_and_the_next_line_arrives_as_typed()
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        await alice.ReadLineAsync();

        // Ctrl+C in telnet: IAC IP, IAC DO TIMING-MARK; then a subnegotiation (window size) and IAC WILL ECHO.
        await bob.SendAsync([0xFF, 0xF4, 0xFF, 0xFD, 0x06]);
        await bob.SendAsync([0xFF, 0xFA, 0x1F, 0x00, 0x50, 0x00, 0x18, 0xFF, 0xF0, .. "привет\r\n"u8, 0xFF, 0xFB, 0x01, .. "second\r\n"u8]);
        await bob.SendAsync([0xFF, 0x41, .. "not telnet\n"u8]);

        Assert.Equal("bob: привет", await alice.ReadLineAsync());
        Assert.Equal("bob: second", await alice.ReadLineAsync());
        Assert.Equal("! Line rejected: it is not valid UTF-8. Set your terminal or client to UTF-8.", await bob.ReadLineAsync());
    }

    [Fact]
    public async Task Invalid_UTF8_is_refused_with_an_error_and_the_connection_goes_on()
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendAsync([0xC3, 0x28, (byte)'\n', .. "ok\n"u8]);

        Assert.Equal("! Line rejected: it is not valid UTF-8. Set your terminal or client to UTF-8.", await bob.ReadLineAsync());
        Assert.Equal("bob: ok", await alice.ReadLineAsync());
    }

    [Theory]
    [InlineData("\u001b[2J* alice is an admin")] // ANSI escape: clear screen, then a fake notice
    [InlineData("x\r* server: fake")] // a lone CR would overwrite "bob: " on a terminal
    [InlineData("\u0085next line")] // C1 control
    public async Task Control_characters_never_reach_the_others(string text)
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendLineAsync(text);
        await bob.SendLineAsync("tab\tis fine");

        Assert.StartsWith("! Line rejected: it contains control characters", await bob.ReadLineAsync(), StringComparison.Ordinal);
        Assert.Equal("bob: tab\tis fine", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task A_line_that_looks_like_a_server_line_arrives_prefixed_with_its_author()
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendLineAsync("* Server is shutting down. Bye!");

        Assert.Equal("bob: * Server is shutting down. Bye!", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task A_line_over_the_limit_is_refused_and_the_next_line_is_delivered()
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendLineAsync(new string('x', 5000));
        await bob.SendLineAsync("short");

        Assert.Equal("! Line rejected: longer than 4096 bytes.", await bob.ReadLineAsync());
        Assert.Equal("bob: short", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task Help_lists_the_commands_and_unknown_commands_get_an_error()
    {
        await using var alice = await Server.JoinAsync("alice");

        await alice.SendLineAsync("/help");
        var (last, help) = await alice.ReadLineUntilAsync(l => l.StartsWith("* Any other line", StringComparison.Ordinal));
        await alice.SendLineAsync("/dance");

        Assert.Contains(help, l => l.Contains("кто в чате", StringComparison.Ordinal));
        Assert.Contains(help, l => l.Contains("/msg NICK text", StringComparison.Ordinal));
        Assert.All(help, l => Assert.StartsWith("* ", l, StringComparison.Ordinal));
        Assert.StartsWith("* ", last, StringComparison.Ordinal);
        Assert.Equal("! Unknown command /dance. Type /help for the list.", await alice.ReadLineAsync());
    }

    private Task<(ChatTestClient Alice, ChatTestClient Bob, ChatTestClient Carol)> JoinThreeAsync() => JoinThreeAsync(Server);

    private static async Task<(ChatTestClient Alice, ChatTestClient Bob, ChatTestClient Carol)> JoinThreeAsync(ChatServer server)
    {
        var alice = await server.JoinAsync("alice");
        var bob = await server.JoinAsync("bob");
        var carol = await server.JoinAsync("carol");
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());
        Assert.Equal("* carol joined the chat.", await alice.ReadLineAsync());
        Assert.Equal("* carol joined the chat.", await bob.ReadLineAsync());
        return (alice, bob, carol);
    }

    private static async Task DisposeAllAsync(params ChatTestClient[] clients)
    {
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }
}
