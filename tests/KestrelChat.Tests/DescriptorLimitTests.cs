using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>
/// The process against its open-files limit (ulimit -n): a flood of connections to every port must
/// never make it accept into EMFILE. It stays up, keeps serving the clients it has, and answers /health
/// once the flood is gone.
/// </summary>
public sealed partial class DescriptorLimitTests
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_flood_of_silent_connections_past_the_open_files_limit_leaves_the_server_up_and_serving()
    {
        const int OpenFiles = 600;
        await using var server = ServerProcess.StartWithOpenFilesLimit(OpenFiles, ("Chat__Limits__MaxConnectionsPerIp", "0"));
        var (chat, admin) = await server.WaitUntilListeningAsync(StartDeadline);
        var derived = DerivedLine().Match(await server.WaitForOutputAsync("Connections: chat up to", StartDeadline));
        var chatCap = int.Parse(derived.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(chatCap, 100, OpenFiles - 100);
        await using var alice = await ChatTestClient.JoinAsync(chat, "alice");
        await using var bob = await ChatTestClient.JoinAsync(chat, "bob");
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());

        // Twice the limit in silent connections, to both ports: the kernel completes every handshake
        // (the listen backlog holds them), whether or not the server accepts.
        var flood = new List<Socket>();
        try
        {
            for (var i = 0; i < OpenFiles; i++)
            {
                flood.Add(await ConnectAsync(chat));
                flood.Add(await ConnectAsync(new IPEndPoint(IPAddress.Loopback, admin.Port)));
            }
            await server.WaitForOutputAsync("Chat: " + (chatCap + 32) + " connections open, the most it takes: accepting paused", TimeSpan.FromSeconds(30));
            await server.WaitForOutputAsync("Admin API: 100 connections open, the most it takes: accepting paused", TimeSpan.FromSeconds(30));

            await bob.SendLineAsync("still here?");
            Assert.Equal("bob: still here?", await alice.ReadLineAsync(TimeSpan.FromSeconds(10)));
            Assert.False(server.HasExited, server.Output);
            Assert.Single(PausedLine().Matches(server.Output));
        }
        finally
        {
            foreach (var socket in flood)
            {
                socket.Dispose();
            }
        }

        using var http = new HttpClient { BaseAddress = admin, Timeout = TimeSpan.FromSeconds(30) };
        var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        await using var carol = await ChatTestClient.JoinAsync(chat, "carol");
        Assert.Equal("* carol joined the chat.", await alice.ReadLineAsync(TimeSpan.FromSeconds(10)));
        Assert.DoesNotContain("Too many open files", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_MaxConnections_the_open_files_limit_cannot_hold_stops_the_start_and_says_what_to_raise()
    {
        await using var server = ServerProcess.StartWithOpenFilesLimit(1024, ("Chat__Limits__MaxConnections", "5000"));

        Assert.Equal(1, await server.WaitForExitAsync(StartDeadline));
        Assert.Matches(@"KestrelChat cannot start: Chat:Limits:MaxConnections is 5000, but this process may open only 1024 files \(ulimit -n\).*Raise the limit to at least \d+ \(ulimit -n \d+; systemd: LimitNOFILE=\d+",
            server.Output);
    }

    [Fact]
    public async Task The_default_MaxConnections_shrinks_to_what_the_open_files_limit_holds_and_says_so()
    {
        await using var server = ServerProcess.StartWithOpenFilesLimit(2048);
        await server.WaitUntilListeningAsync(StartDeadline);

        var output = await server.WaitForOutputAsync("not 10000", StartDeadline);
        Assert.Matches(@"Chat:Limits:MaxConnections is \d+, not 10000: the open-files limit \(2048\) holds no more", output);
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint).WaitAsync(TimeSpan.FromSeconds(10));
        return socket;
    }

    [GeneratedRegex(@"Connections: chat up to (\d+)")]
    private static partial Regex DerivedLine();

    [GeneratedRegex(@"Chat: \d+ connections open, the most it takes: accepting paused")]
    private static partial Regex PausedLine();
}
