using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KestrelChat.Chat;
using KestrelChat.Tests.Infrastructure;
using Xunit.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace KestrelChat.Tests;

/// <summary>Clients that vanish badly: reset, EOF mid-line, killed mid-write. The rest never notice more than a leave notice.</summary>
/// <remarks>Alone in its collection: the heap measurement must not see other tests' servers.</remarks>
[Collection(nameof(SerialTests))]
public sealed class AbruptDisconnectTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_reset_connection_is_announced_as_left_and_no_longer_listed()
    {
        await using var server = ChatServer.Start();
        using var metrics = new MetricRecorder(server);
        await using var alice = await server.JoinAsync("alice");
        await using var carol = await server.JoinAsync("carol");
        var bob = await server.JoinAsync("bob");
        await alice.ReadLineUntilAsync(l => l == "* bob joined the chat.");
        await carol.ReadLineAsync();

        Reset(bob);

        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());
        Assert.Equal("* bob left the chat.", await carol.ReadLineAsync());
        Assert.Equal(1, await metrics.WaitForAsync(1, "kestrelchat.connections.closed", "reason", "reset")); // what operators see
        await AssertListedAsync(server, "alice", "carol");
        await alice.SendLineAsync("still here");
        Assert.Equal("alice: still here", await carol.ReadLineAsync());
    }

    [Fact]
    public async Task Half_a_line_before_EOF_is_dropped_not_delivered_and_the_client_is_announced_as_left()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendAsync(Encoding.UTF8.GetBytes("this line never ends"));
        bob.Socket.Shutdown(SocketShutdown.Send);

        Assert.Empty(await bob.ReadToEndAsync()); // the server closes its side too
        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());
        await AssertListedAsync(server, "alice");
    }

    [Fact]
    public async Task A_client_killed_in_the_middle_of_a_long_line_is_announced_as_left()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendAsync(Encoding.UTF8.GetBytes(new string('я', 1500))); // 3000 bytes, no LF yet
        Reset(bob);

        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());
        await AssertListedAsync(server, "alice");
    }

    [Fact]
    public async Task A_thousand_connect_disconnect_cycles_leave_no_entries_behind()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MaxConnectionsPerIp", "0"), ("Chat:Limits:MessagesPerSecond", "0"));
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();
        const int Cycles = 1000;

        await CycleAsync(server, 0, Cycles / 2);
        var heapAfterHalf = HeapBytes();
        await CycleAsync(server, Cycles / 2, Cycles);
        var growth = HeapBytes() - heapAfterHalf;
        output.WriteLine($"managed heap growth over the second {Cycles / 2} cycles: {growth / 1024} KiB");
        Assert.True(growth < 1024 * 1024, $"the heap grew {growth / 1024} KiB over {Cycles / 2} cycles"); // a leaked connection costs KBs

        // bob's line flushes any coalesced notices first, so by then alice has seen every leave.
        await bob.SendLineAsync("done");
        int joined = 0, left = 0;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        for (var line = ""; line != "bob: done"; line = await alice.ReadLineAsync(until - DateTime.UtcNow))
        {
            joined += PresenceLines.Count(line, "joined");
            left += PresenceLines.Count(line, "left");
        }
        Assert.True(joined > 0);
        Assert.Equal(joined, left);

        await AssertListedAsync(server, "alice", "bob");
        var limits = server.Services.GetRequiredService<ConnectionLimits>();
        var registry = server.Services.GetRequiredService<ChatRegistry>();
        await WaitUntilAsync(() => limits.Open == 2 && registry.Connections.Count == 2);
        Assert.Equal(1, limits.Addresses);
        Assert.Equal(["alice", "bob"], registry.DefaultRoom.Members.ToArray().Select(m => m.Nickname));
        await using var again = await server.JoinAsync("cycle0"); // every nickname is free again
    }

    private static async Task CycleAsync(ChatServer server, int from, int to)
    {
        const int Lanes = 10;
        // Four ways to leave, taken in turn: /quit, reset, EOF mid-line, and hanging up before choosing a nickname.
        await Task.WhenAll(Enumerable.Range(0, Lanes).Select(lane => Task.Run(async () =>
        {
            for (var i = from + lane; i < to; i += Lanes)
            {
                if (i % 4 == 3)
                {
                    var anonymous = await server.ConnectAsync();
                    await anonymous.ReadBytesAsync(4);
                    await anonymous.DisposeAsync();
                    continue;
                }
                var client = await server.JoinAsync($"cycle{i}");
                switch (i % 4)
                {
                    case 0:
                        await client.SendLineAsync("/quit");
                        Assert.Equal("* Bye!", (await client.ReadToEndAsync()).Last());
                        break;
                    case 1:
                        Reset(client);
                        break;
                    default:
                        await client.SendAsync("half a li"u8.ToArray());
                        client.Socket.Shutdown(SocketShutdown.Send);
                        await client.ReadToEndAsync();
                        break;
                }
                await client.DisposeAsync();
            }
        })));

    }

    /// <summary>Closes with SO_LINGER 0: the kernel sends RST instead of FIN, as a killed process or a crashed host would.</summary>
    private static void Reset(ChatTestClient client)
    {
        client.Socket.LingerState = new LingerOption(true, 0);
        client.Socket.Close();
    }

    private static async Task AssertListedAsync(ChatServer server, params string[] nicknames)
    {
        using var admin = server.Admin();
        var clients = await admin.GetFromJsonAsync<JsonElement[]>("/clients");
        Assert.Equal(nicknames, clients!.Select(c => c.GetProperty("nickname").GetString()));
    }

    private static long HeapBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, "timed out");
            await Task.Yield();
        }
    }
}
