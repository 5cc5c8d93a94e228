using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>Chat:Limits: what one client may cost, and that the others never notice.</summary>
public sealed class LimitsTests
{
    [Fact]
    public async Task A_line_over_Chat_Limits_MaxLineBytes_is_refused_and_the_connection_goes_on()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MaxLineBytes", "64"));
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendLineAsync(new string('я', 33)); // 66 bytes
        await bob.SendLineAsync(new string('x', 64)); // exactly the limit

        Assert.Equal("! Line rejected: longer than 64 bytes.", await bob.ReadLineAsync());
        Assert.Equal($"bob: {new string('x', 64)}", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task More_than_four_times_the_limit_without_LF_disconnects_with_a_reason_and_the_others_go_on()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MaxLineBytes", "64"));
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendAsync(Encoding.ASCII.GetBytes(new string('x', 100)));
        await bob.SendAsync(Encoding.ASCII.GetBytes(new string('x', 300)));

        Assert.Equal(["! Line rejected: longer than 64 bytes.", "! Disconnected: more than 256 bytes without a line end (LF)."],
            await bob.ReadToEndAsync());
        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());
        await using var carol = await server.JoinAsync("carol");
        Assert.Equal("* carol joined the chat.", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task A_connection_over_MaxConnectionsPerIp_gets_one_reason_line_then_the_close_and_the_slot_frees_up()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MaxConnectionsPerIp", "2"));
        using var metrics = new MetricRecorder(server);
        await using var alice = await server.JoinAsync("alice");
        var bob = await server.JoinAsync("bob");
        await using var third = await server.ConnectAsync();

        Assert.Equal(["! Too many connections from your address (at most 2). Close one and try again."], await third.ReadToEndAsync());
        Assert.Equal(1, metrics.Sum("kestrelchat.connections.refused", "limit", "MaxConnectionsPerIp"));
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());
        await bob.DisposeAsync();
        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());
        await using var again = await server.JoinAsync("bob2"); // the slot is free again
    }

    [Fact]
    public async Task A_connection_over_MaxConnections_is_told_the_server_is_full()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MaxConnections", "1"));
        await using var alice = await server.JoinAsync("alice");
        await using var second = await server.ConnectAsync();

        Assert.Equal(["! The server is full (1 connections). Try again later."], await second.ReadToEndAsync());
        await alice.SendLineAsync("/who");
        Assert.Equal("* In the chat (1): alice", await alice.ReadLineAsync());
    }

    [Theory]
    [InlineData("Chat:Limits:MaxLineBytes", "10", "Chat:Limits:MaxLineBytes must be 64–1048576")]
    [InlineData("Chat:Limits:SendQueueBytes", "100", "Chat:Limits:SendQueueBytes must be at least 65536")]
    public void Limits_out_of_range_stop_the_start_with_a_clear_message(string key, string value, string expected)
    {
        var error = Assert.ThrowsAny<Microsoft.Extensions.Options.OptionsValidationException>(() =>
        {
            using var server = ChatServer.Start((key, value));
        });

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}

/// <summary>Connections that never name themselves, and clients that never read.</summary>
public sealed class SlowClientTests
{
    [Fact]
    public async Task A_connection_that_never_names_itself_is_closed_with_a_reason_and_named_idlers_stay()
    {
        await using var server = ChatServer.Start(("Chat:Limits:NicknameTimeoutSeconds", "2"));
        await using var idle = await server.JoinAsync("idle");
        await using var silent = await server.ConnectAsync();

        var lines = await silent.ReadToEndAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("! Disconnected: no nickname within 2 seconds.", lines[^1]);
        await idle.SendLineAsync("/who");
        Assert.Equal("* In the chat (1): idle", await idle.ReadLineAsync());
    }

    [Fact]
    public async Task A_client_that_stops_reading_is_disconnected_and_the_others_receive_every_message_in_order()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MessagesPerSecond", "0")); // the sender is a fire hose on purpose
        await using var sender = await server.JoinAsync("sender");
        await using var reader = await server.JoinAsync("reader");
        using var metrics = new MetricRecorder(server);
        await using var stalled = await server.JoinAsync("stalled"); // never reads again
        stalled.Socket.ReceiveBufferSize = 4096;
        Assert.Equal("* reader joined the chat.", await sender.ReadLineAsync());
        Assert.Equal("* stalled joined the chat.", await sender.ReadLineAsync());
        Assert.Equal("* stalled joined the chat.", await reader.ReadLineAsync());
        const int Count = 5000; // 5000 × ~4 KB ≈ 20 MB: far past the 1 MiB send queue plus kernel buffers
        var payload = new string('x', 4000);

        // Credit window: at most 100 lines (~400 KB) in flight to the reader, so a reader that does read
        // never nears its own 1 MiB queue however busy the machine, while "stalled" piles up ~20 MB.
        using var credits = new SemaphoreSlim(100);
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < Count; i++)
            {
                Assert.True(await credits.WaitAsync(TimeSpan.FromSeconds(30)), "the reader stopped receiving");
                await sender.SendLineAsync($"{i} {payload}");
            }
        });
        var received = 0;
        var stalledLeft = false;
        while (received < Count || !stalledLeft)
        {
            var line = await reader.ReadLineAsync(TimeSpan.FromSeconds(30));
            if (line == "* stalled left the chat.")
            {
                stalledLeft = true;
                continue;
            }
            Assert.Equal($"sender: {received} {payload}", line); // every message, in order, none lost
            received++;
            credits.Release();
        }
        await sending;
        Assert.Equal(1, await metrics.WaitForAsync(1, "kestrelchat.connections.closed", "reason", "sendq")); // logged and counted

        using var admin = server.Admin();
        var clients = await admin.GetFromJsonAsync<JsonElement[]>("/clients");
        Assert.Equal(["sender", "reader"], clients!.Select(c => c.GetProperty("nickname").GetString()));
    }
}

/// <summary>Chat:Limits:KeepAliveSeconds: idle members stay; dead peers are found by TCP keepalive, visible in `ss -o`.</summary>
public sealed class KeepAliveTests
{
    [Fact]
    public async Task The_server_side_of_every_chat_socket_has_a_keepalive_timer_of_KeepAliveSeconds()
    {
        await using var server = ChatServer.Start(("Chat:Limits:KeepAliveSeconds", "45"));
        await using var alice = await server.JoinAsync("alice");

        var line = await Ss.IdleServerSocketAsync(server.ChatEndPoint.Port, alice.LocalEndPoint);

        Assert.True(Ss.KeepAliveSeconds(line) is >= 1 and <= 45, line);
    }

    [Fact]
    public async Task KeepAliveSeconds_0_leaves_the_socket_without_keepalive()
    {
        await using var server = ChatServer.Start(("Chat:Limits:KeepAliveSeconds", "0"));
        await using var alice = await server.JoinAsync("alice");

        var line = await Ss.IdleServerSocketAsync(server.ChatEndPoint.Port, alice.LocalEndPoint);

        Assert.DoesNotContain("timer:", line, StringComparison.Ordinal);
    }
}
