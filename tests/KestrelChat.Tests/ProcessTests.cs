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

    [Theory]
    [InlineData("--Chat:Port=abc", "KestrelChat cannot start: Chat:Port must be a whole number; it is 'abc'.")]
    [InlineData("--Chat:LoopbackIsOperator=yes", "KestrelChat cannot start: Chat:LoopbackIsOperator must be true or false; it is 'yes'.")]
    [InlineData("--Chat:Limits:MaxLineBytes=4k", "KestrelChat cannot start: Chat:Limits:MaxLineBytes must be a whole number; it is '4k'.")]
    [InlineData("--Chat:TraceBytes=on", "KestrelChat cannot start: Chat:TraceBytes must be true or false; it is 'on'.")]
    public async Task A_setting_of_the_wrong_type_stops_the_start_with_one_line_and_exit_code_1(string argument, string message)
    {
        await using var server = ServerProcess.StartWithArguments(argument);

        Assert.Equal(1, await server.WaitForExitAsync(StartDeadline));
        Assert.Equal(message, server.Output.Trim());
    }

    [Fact]
    public async Task Help_lists_the_settings_with_their_defaults_and_the_ports_and_exits_0_without_listening()
    {
        await using var server = ServerProcess.StartWithArguments("--help");

        Assert.Equal(0, await server.WaitForExitAsync(StartDeadline));
        Assert.Matches(@"Chat:Port\s+55555", server.Output);
        Assert.Matches(@"Chat:Limits:MaxLineBytes\s+4096", server.Output);
        Assert.Matches(@"Admin:Url\s+http://127.0.0.1:8080", server.Output);
        Assert.Matches(@"Chat:Tls:Port\s+unset", server.Output);
        Assert.Contains("README.md", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_prints_one_line_and_exits_0()
    {
        await using var server = ServerProcess.StartWithArguments("--version");

        Assert.Equal(0, await server.WaitForExitAsync(StartDeadline));
        Assert.Matches(@"^KestrelChat \d+\.\d+\.\d+\S* \(\.NET 10\.", server.Output.Trim());
    }

    [Fact]
    public async Task A_chat_port_in_use_is_reported_with_exit_code_1()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        await using var server = ServerProcess.Start(("Chat__Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(1, await server.WaitForExitAsync(StartDeadline));
        Assert.Contains($"KestrelChat cannot start: the chat port {port} (Chat:Port) is in use: tcp://127.0.0.1:{port} is taken by another program.", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", server.Output, StringComparison.Ordinal); // one line, no stack trace
        Assert.DoesNotContain("http://127.0.0.1:" + port, server.Output, StringComparison.Ordinal); // the chat port is not HTTP
        Assert.DoesNotContain("unhandled exception", server.Output, StringComparison.Ordinal); // the failed start stops every service quietly
    }
}
