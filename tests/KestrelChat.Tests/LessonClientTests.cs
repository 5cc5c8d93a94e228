using System.Net.Sockets;
using System.Text;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>The lesson's ready-made Python client, run for real, beside an nc-style client.</summary>
public sealed class LessonClientTests
{
    [Fact]
    public async Task The_UTF8_lesson_client_and_an_nc_style_client_chat_in_Russian()
    {
        await using var server = ChatServer.Start();
        await using var bob = await server.JoinAsync("bob");
        await using var alice = LessonClientProcess.Start("lesson-client.py", server.ChatEndPoint, "алиса");

        Assert.Equal("* алиса joined the chat.", await bob.ReadLineAsync());
        Assert.StartsWith("Choose your nickname: * Welcome, алиса! In the chat now: 2", await alice.ReadPrintedAsync(), StringComparison.Ordinal);

        alice.Type("привет всем");
        Assert.Equal("алиса: привет всем", await bob.ReadLineAsync()); // her own "алиса: " is not doubled

        await bob.SendLineAsync("здравствуй, алиса");
        Assert.Equal("bob: здравствуй, алиса", await alice.ReadPrintedAsync());

        alice.Type("кто в чате");
        Assert.Equal("* In the chat (2): bob, алиса", await alice.ReadPrintedAsync());

        // She cannot pose as bob: the server's prefix comes first.
        alice.Type("bob: I am bob");
        Assert.Equal("алиса: bob: I am bob", await bob.ReadLineAsync());
    }

    [Theory]
    [InlineData("{}: {}")]
    [InlineData("{} :{}")]
    [InlineData("{} : {}")]
    public async Task A_student_client_that_asks_the_nickname_after_connecting_chats_with_an_nc_user(string format)
    {
        await using var server = ChatServer.Start();
        await using var bob = await server.JoinAsync("bob");
        await using var alice = LessonClientProcess.Start("client_ask_first.py", server.ChatEndPoint, "alice", format);
        alice.Type("hello"); // its first message names it: it never saw a bare "NICK"

        Assert.Equal("* alice joined the chat.", await bob.ReadLineAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal("alice: hello", await bob.ReadLineAsync());
        // Its welcome first: a line sent while it is still printing the last one would share its recv (one
        // "message" for this client), which is the lesson client's own way, not what this test is about.
        await alice.ReadPrintedUntilAsync(l => l.Contains("* Welcome, alice!", StringComparison.Ordinal));
        await bob.SendLineAsync("hi alice");
        Assert.Equal("bob: hi alice", await alice.ReadPrintedUntilAsync(l => l.StartsWith("bob", StringComparison.Ordinal)));
        alice.Type("/who"); // a command behind its own prefix, in any spacing, is still a command
        Assert.Equal("* In the chat (2): bob, alice", await alice.ReadPrintedUntilAsync(l => l.StartsWith("* In the chat", StringComparison.Ordinal)));
        alice.Type("bye");
        Assert.Equal("alice: bye", await bob.ReadLineAsync());
    }

    [Fact]
    public async Task A_client_that_names_itself_without_LF_but_ends_its_messages_with_LF_gets_lines_back()
    {
        await using var server = ChatServer.Start();
        await using var bob = await server.JoinAsync("bob");
        using var gopher = await ConnectAsync(server);
        await gopher.SendAsync("gopher"u8.ToArray()); // like the lesson client: no LF, so taken for it
        Assert.StartsWith("* Welcome, gopher!", await ReceiveAsync(gopher), StringComparison.Ordinal);
        Assert.Equal("* gopher joined the chat.", await bob.ReadLineAsync());

        await gopher.SendAsync("hi bob\n"u8.ToArray()); // ...but its messages end with LF: it speaks in lines
        Assert.Equal("gopher: hi bob", await bob.ReadLineAsync());
        await bob.SendLineAsync("hi gopher");
        await bob.SendLineAsync("/quit");

        var received = new StringBuilder();
        var buffer = new byte[1024];
        using var deadline = new CancellationTokenSource(ChatTestClient.DefaultTimeout);
        while (!received.ToString().Contains("* bob left the chat.\n", StringComparison.Ordinal))
        {
            var read = await gopher.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            Assert.True(read > 0, $"end of stream after: {received}");
            received.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        // The welcome it got without LF is ended, and every line after it has its own.
        Assert.Equal("\nbob: hi gopher\n* bob left the chat.\n", received.ToString());
    }

    [Fact]
    public async Task The_stock_ASCII_handout_client_chats_and_exits_by_itself_on_POST_stop()
    {
        await using var server = ChatServer.Start();
        await using var bob = await server.JoinAsync("bob");
        await using var student = LessonClientProcess.Start("client_ascii.py", server.ChatEndPoint, "student");
        Assert.Equal("* student joined the chat.", await bob.ReadLineAsync());

        student.Type("hello from the handout");
        Assert.Equal("student: hello from the handout", await bob.ReadLineAsync());
        await bob.SendLineAsync("hi student");
        Assert.Equal("bob: hi student", await student.ReadPrintedUntilAsync(l => l.StartsWith("bob", StringComparison.Ordinal)));
        student.CloseInput(); // the user stops typing; only the receiving thread is left

        using var admin = server.Admin();
        (await admin.PostAsync("/stop", null)).EnsureSuccessStatusCode();

        Assert.Equal("* Server is shutting down. Bye!", await student.ReadPrintedAsync());
        Assert.Equal("An error occured!", await student.ReadPrintedAsync()); // the reset ends its receive loop
        Assert.True(await student.WaitForExitAsync(TimeSpan.FromSeconds(10)), "the lesson client kept running after the stop");
        Assert.Equal(["* Server is shutting down. Bye!"], await bob.ReadToEndAsync()); // framed clients get FIN as before
    }

    [Fact]
    public async Task The_lesson_client_joining_after_lines_were_said_is_shown_no_history_its_next_message_is_live()
    {
        await using var server = ChatServer.Start();
        await using var bob = await server.JoinAsync("bob");
        await bob.SendLineAsync("said before the student came");
        await bob.SendLineAsync("/history 1");
        await bob.ReadLineUntilAsync(l => l == "* End of history.");
        await using var student = LessonClientProcess.Start("lesson-client.py", server.ChatEndPoint, "student");
        await student.ReadPrintedUntilAsync(l => l.Contains("* Welcome, student!", StringComparison.Ordinal));
        await bob.ReadLineUntilAsync(l => l == "* student joined the chat.");

        await bob.SendLineAsync("live");

        // A block of history would be one unreadable message to it: the message after its welcome is the live line.
        Assert.Equal("bob: live", await student.ReadPrintedAsync());
    }

    [Fact]
    public async Task Two_server_lines_in_a_row_are_printed_by_the_lesson_client_as_two_messages()
    {
        await using var server = ChatServer.Start(); // a loopback client is an operator by default
        await using var bob = await server.JoinAsync("bob");
        await using var student = LessonClientProcess.Start("lesson-client.py", server.ChatEndPoint, "student");
        Assert.Equal("* student joined the chat.", await bob.ReadLineAsync());
        await student.ReadPrintedUntilAsync(l => l.Contains("* Welcome, student!", StringComparison.Ordinal));

        // Two lines written back to back, as the server writes them: its print() shows what each recv() got.
        student.Type("стоп");

        Assert.Equal("* Stopping the server.", await student.ReadPrintedAsync());
        Assert.Equal("* Server is shutting down. Bye!", await student.ReadPrintedAsync());
        Assert.Equal("An error occured!", await student.ReadPrintedAsync());
    }

    [Fact]
    public async Task On_the_wire_an_unframed_client_gets_one_message_per_write_without_LF_and_never_a_cut_character()
    {
        await using var server = ChatServer.Start();
        await using var bob = await server.JoinAsync("bob");
        using var carol = await UnframedAsync(server, "carol");
        await bob.ReadLineAsync();

        // Commands work without the "carol: " prefix too (some students' variants send them bare).
        await carol.SendAsync(Encoding.UTF8.GetBytes("кто в чате"));
        Assert.Equal("* In the chat (2): bob, carol", await ReceiveAsync(carol));

        var longLine = new string('ж', 1500); // 3000 bytes: more than one recv(1024)
        await bob.SendLineAsync(longLine);
        var shortened = await ReceiveAsync(carol);
        Assert.StartsWith("bob: жжж", shortened, StringComparison.Ordinal);
        Assert.True(Encoding.UTF8.GetByteCount(shortened) is > 1000 and <= 1024, $"{Encoding.UTF8.GetByteCount(shortened)} bytes");
        Assert.DoesNotContain('\uFFFD', shortened); // no character cut in two
    }

    [Fact]
    public async Task An_unframed_client_is_closed_with_a_reset_after_reading_the_reason()
    {
        await using var server = ChatServer.Start();
        using var carol = await UnframedAsync(server, "carol");

        await carol.SendAsync("carol: /quit"u8.ToArray());

        Assert.Equal("* Bye!", await ReceiveAsync(carol));
        var reset = await Assert.ThrowsAsync<SocketException>(() => ReceiveAsync(carol));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
    }

    [Fact]
    public async Task A_taken_nickname_from_an_unframed_client_is_refused_with_a_reason_then_closed()
    {
        await using var server = ChatServer.Start();
        await using var bob = await server.JoinAsync("bob");
        using var socket = await ConnectAsync(server);

        await socket.SendAsync("BOB"u8.ToArray());

        Assert.Equal("! The nickname 'BOB' is taken. Choose another one.", await ReceiveAsync(socket));
        await Assert.ThrowsAsync<SocketException>(() => ReceiveAsync(socket));
    }

    [Fact]
    public async Task An_unframed_client_streaming_megabytes_without_a_line_end_is_disconnected_with_the_reason()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MaxLineBytes", "1024"));
        await using var alice = await server.JoinAsync("alice");
        using var carol = await UnframedAsync(server, "carol");
        Assert.Equal("* carol joined the chat.", await alice.ReadLineAsync());

        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)'x');
        var sent = 0L;
        try
        {
            while (sent < 10 * 1024 * 1024)
            {
                sent += await carol.SendAsync(chunk).WaitAsync(ChatTestClient.DefaultTimeout);
            }
        }
        catch (SocketException)
        {
            // The server closed the connection midway: what this test wants.
        }
        var received = new StringBuilder();
        try
        {
            while (true)
            {
                received.Append(await ReceiveAsync(carol));
            }
        }
        catch (Exception ex) when (ex is SocketException or Xunit.Sdk.TrueException)
        {
            // Reset or end of stream after the reason.
        }

        Assert.Contains("! Disconnected: more than 4096 bytes without a line end (LF).", received.ToString(), StringComparison.Ordinal);
        Assert.True(sent < 10 * 1024 * 1024, "the server read all 10 MB");
        Assert.Equal("* carol left the chat.", await alice.ReadLineAsync());
    }

    /// <summary>Connects like the lesson client: reads NICK, answers with the bare nickname, reads the welcome.</summary>
    private static async Task<Socket> UnframedAsync(ChatServer server, string nickname)
    {
        var socket = await ConnectAsync(server);
        await socket.SendAsync(Encoding.UTF8.GetBytes(nickname));
        Assert.StartsWith($"* Welcome, {nickname}!", await ReceiveAsync(socket), StringComparison.Ordinal);
        return socket;
    }

    private static async Task<Socket> ConnectAsync(ChatServer server)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.ChatEndPoint);
        Assert.Equal("NICK", await ReceiveAsync(socket));
        return socket;
    }

    /// <summary>One recv(1024), as the lesson client does it, decoded strictly (a cut character throws).</summary>
    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[1024];
        using var deadline = new CancellationTokenSource(ChatTestClient.DefaultTimeout);
        var read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
        Assert.True(read > 0, "end of stream");
        var message = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, read);
        Assert.DoesNotContain('\n', message); // print() adds the line end
        return message;
    }
}
