using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>Starting with a Redis that is there but never answers: the chat does not wait for it.</summary>
public sealed class RedisStartTests
{
    [Fact]
    public async Task A_Redis_that_accepts_and_never_answers_delays_the_start_by_seconds_not_more_and_health_says_Degraded()
    {
        using var blackHole = new TcpListener(IPAddress.Loopback, 0);
        blackHole.Start();
        var held = new List<TcpClient>();
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    held.Add(await blackHole.AcceptTcpClientAsync(stop.Token)); // accepted, never answered
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        try
        {
            var clock = Stopwatch.StartNew();
            await using var server = ChatServer.Start(("Chat:Redis:Configuration", $"127.0.0.1:{((IPEndPoint)blackHole.LocalEndpoint).Port}"));
            var started = clock.Elapsed;
            Assert.True(started < TimeSpan.FromSeconds(8), $"the start waited {started} for a Redis that never answers");

            await using var alice = await server.JoinAsync("alice"); // local chat works meanwhile
            using var admin = server.Admin();
            Assert.Equal("Degraded", await admin.GetStringAsync("/health"));
        }
        finally
        {
            await stop.CancelAsync();
            await accepting;
            held.ForEach(c => c.Dispose());
        }
    }
}
