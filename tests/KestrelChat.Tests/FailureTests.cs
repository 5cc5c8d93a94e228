using KestrelChat.Admin;
using KestrelChat.Chat;
using KestrelChat.Cluster;
using KestrelChat.Hosting;
using KestrelChat.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace KestrelChat.Tests;

/// <summary>What one connection's unexpected failure leaves behind: nothing, and the others go on.</summary>
public sealed class FailureTests
{
    [Fact]
    public async Task An_exception_while_serving_one_client_closes_it_with_a_line_counts_the_close_and_the_chat_goes_on()
    {
        await using var server = ChatServer.Start(services => services.AddSingleton<IChatBackplane>(provider =>
            new FailingForOneNickname("boom", new LocalBackplane(provider.GetRequiredService<IOptions<RedisOptions>>()))));
        using var metrics = new MetricRecorder(server);
        await using var bob = await server.JoinAsync("bob");

        await using var victim = await server.ConnectAsync();
        Assert.Equal("NICK", await victim.ReadBytesAsync(4));
        await victim.SendLineAsync("boom");

        Assert.Equal(["! Disconnected: something went wrong on the server (it is in the server's log). Please connect again."],
            await victim.ReadToEndAsync());
        Assert.Equal(1, await metrics.WaitForAsync(1, "kestrelchat.connections.closed", "reason", "error"));
        using (var admin = server.Admin())
        {
            Assert.DoesNotContain("boom", await admin.GetStringAsync("/clients"), StringComparison.Ordinal);
        }
        await using var carol = await server.JoinAsync("carol");
        await carol.SendLineAsync("still here");
        Assert.Equal("carol: still here", (await bob.ReadLineUntilAsync(l => l.StartsWith("carol:", StringComparison.Ordinal))).Line);
    }

    [Fact]
    public async Task A_wait_on_another_instance_ends_when_its_connection_is_closed()
    {
        var claims = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = ChatServer.Start(services => services.AddSingleton<IChatBackplane>(provider =>
            new FailingForOneNickname("stuck", new LocalBackplane(provider.GetRequiredService<IOptions<RedisOptions>>()), claims)));
        await using var victim = await server.ConnectAsync();
        Assert.Equal("NICK", await victim.ReadBytesAsync(4));
        await victim.SendLineAsync("stuck"); // Redis that never answers
        var claim = await claims.Task.WaitAsync(TimeSpan.FromSeconds(10));

        using var admin = server.Admin();
        using var clients = System.Text.Json.JsonDocument.Parse(await admin.GetStringAsync("/clients"));
        var id = clients.RootElement.EnumerateArray().Single().GetProperty("id").GetString();
        (await admin.DeleteAsync($"/clients/{id}")).EnsureSuccessStatusCode();

        // The read loop stopped waiting, so the connection really ends: the line, then EOF.
        Assert.Equal(["! You were disconnected by an operator."], await victim.ReadToEndAsync(TimeSpan.FromSeconds(10)));
        Assert.True(claim.IsCancellationRequested);
    }

    /// <summary>The single-instance backplane, except that claiming one nickname throws (a failing dependency) or never answers.</summary>
    private sealed class FailingForOneNickname(string nickname, LocalBackplane inner, TaskCompletionSource<CancellationToken>? hang = null) : IChatBackplane, IHostedService
    {
        public string InstanceName => inner.InstanceName;

        public bool IsClustered => inner.IsClustered;

        public void Attach(IClusterReceiver receiver) => inner.Attach(receiver);

        public ValueTask<bool> TryClaimNicknameAsync(ChatSession session, string candidate, CancellationToken cancellationToken = default)
        {
            if (candidate != nickname)
            {
                return inner.TryClaimNicknameAsync(session, candidate, cancellationToken);
            }
            if (hang is null)
            {
                throw new InvalidOperationException("the backplane broke");
            }
            hang.TrySetResult(cancellationToken);
            return NeverAnswersAsync(cancellationToken);

            static async ValueTask<bool> NeverAnswersAsync(CancellationToken cancellationToken)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken); // only the connection's close ends it
                return false;
            }
        }

        public void ReleaseNickname(ChatSession session, string candidate) => inner.ReleaseNickname(session, candidate);

        public void Publish(ClusterMessage message, string? instance = null) => inner.Publish(message, instance);

        public Task<NicknameOwner?> FindNicknameAsync(string candidate, CancellationToken cancellationToken = default) => inner.FindNicknameAsync(candidate, cancellationToken);

        public Task<IReadOnlyList<ClientInfo>> GetRemoteClientsAsync(CancellationToken cancellationToken = default) => inner.GetRemoteClientsAsync(cancellationToken);

        public IDisposable MemberChanged(ChatSession session, string? nickname, string? room, string? previousRoom) => inner.MemberChanged(session, nickname, room, previousRoom);

        public TimeSpan? RemoteStaleFor => inner.RemoteStaleFor;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
