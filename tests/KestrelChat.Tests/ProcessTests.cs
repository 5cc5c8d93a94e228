using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>The server as operators run it: a process with an exit code, stopped by a signal or POST /stop.</summary>
public sealed class ProcessTests
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData("SIGTERM")]
    [InlineData("POST /stop")]
    public async Task A_stop_with_idle_clients_connected_ends_every_connection_and_exits_0_within_5_seconds(string how)
    {
        await using var server = ServerProcess.Start();
        var (chat, admin) = await server.WaitUntilListeningAsync(StartDeadline);
        await using var named = await ChatTestClient.JoinAsync(chat, "idle");
        await using var unnamed = await ChatTestClient.ConnectAsync(chat);
        Assert.Equal("NICK", await unnamed.ReadBytesAsync(4));

        var clock = Stopwatch.StartNew();
        if (how == "SIGTERM")
        {
            server.Terminate();
        }
        else
        {
            using var http = new HttpClient { BaseAddress = admin };
            Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync("/stop", null)).StatusCode);
        }

        Assert.Equal(["* Server is shutting down. Bye!"], await named.ReadToEndAsync(StopDeadline));
        Assert.Contains("* Server is shutting down. Bye!", await unnamed.ReadToEndAsync(StopDeadline));
        Assert.Equal(0, await server.WaitForExitAsync(StopDeadline - clock.Elapsed));
        Assert.True(clock.Elapsed < StopDeadline, $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_flood_of_connect_and_close_is_logged_as_a_periodic_count_not_a_line_per_connection()
    {
        await using var server = ServerProcess.Start(("Chat__Limits__MaxConnectionsPerIp", "0"));
        var (chat, _) = await server.WaitUntilListeningAsync(StartDeadline);

        for (var i = 0; i < 1000; i++)
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(chat);
        }

        var output = await server.WaitForOutputAsync("Connection churn: in the last 10 s", TimeSpan.FromSeconds(30));
        var perConnection = output.Split('\n').Count(line => line.Contains(" connected from ", StringComparison.Ordinal));
        Assert.InRange(perConnection, 1, 200);
        Assert.Matches(@"Connection churn: in the last 10 s, \d+ connects, \d+ disconnects and 0 refusals were not logged one by one", output);
    }

    [Fact]
    public async Task After_a_burst_the_server_gives_memory_back_once_it_is_quiet_and_says_so()
    {
        await using var server = ServerProcess.Start(("Chat__Limits__MaxConnectionsPerIp", "0"), ("Chat__Limits__MessagesPerSecond", "0"),
            ("Chat__Limits__SendQueueBytes", "16777216"));
        var (chat, admin) = await server.WaitUntilListeningAsync(StartDeadline);

        // A burst: 200 clients that all talk and none of which reads, so the server holds what it owes them.
        var clients = new List<ChatTestClient>();
        var line = new string('x', 1000);
        for (var i = 0; i < 200; i++)
        {
            clients.Add(await ChatTestClient.JoinAsync(chat, $"c{i}"));
        }
        foreach (var client in clients)
        {
            for (var n = 0; n < 60; n++)
            {
                await client.SendLineAsync(line);
            }
        }
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        var output = await server.WaitForOutputAsync("Memory given back after a burst", TimeSpan.FromSeconds(60));
        Assert.Matches(@"Memory given back after a burst: GC heap committed \d+ → \d+ MB, \d+ MB of socket buffers dropped, RSS \d+ → \d+ MB", output);
        using var http = new HttpClient { BaseAddress = admin };
        var metrics = await http.GetStringAsync("/metrics");
        var idle = System.Text.RegularExpressions.Regex.Match(metrics, @"^kestrelchat_socket_buffers_idle_bytes\S* (\d+)", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(idle.Success, metrics);
        Assert.InRange(long.Parse(idle.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 0, 4 * 256 * 4096); // each pool's floor, no more
    }

    [Fact]
    public async Task An_exposed_admin_API_without_a_key_is_refused_with_a_message_and_exit_code_1()
    {
        await using var server = ServerProcess.Start(("Admin__Url", "http://0.0.0.0:0"));

        Assert.Equal(1, await server.WaitForExitAsync(StartDeadline));
        Assert.Contains("KestrelChat cannot start: Admin:Url http://0.0.0.0:0 is not a loopback address and Admin:ApiKey is not set",
            server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_chat_port_in_use_is_reported_with_exit_code_1()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        await using var server = ServerProcess.Start(("Chat__Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(1, await server.WaitForExitAsync(StartDeadline));
        Assert.Contains("KestrelChat cannot start:", server.Output, StringComparison.Ordinal);
        Assert.Contains(port.ToString(System.Globalization.CultureInfo.InvariantCulture), server.Output, StringComparison.Ordinal);
    }
}
