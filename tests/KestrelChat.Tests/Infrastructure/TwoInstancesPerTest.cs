namespace KestrelChat.Tests.Infrastructure;

/// <summary>
/// Two KestrelChat instances (two real Kestrels in this process) sharing one real redis-server, fresh for
/// every test, on a channel of their own; ready once both say Healthy (connected and subscribed: from then on
/// nothing published is missed).
/// </summary>
public abstract class TwoInstancesPerTest : IAsyncLifetime
{
    /// <summary>The cluster's Chat:Redis:Channel: this test's own.</summary>
    protected string Channel { get; } = $"test{Guid.NewGuid():N}"[..16];

    protected RedisServer Redis { get; private set; } = null!;

    protected ChatServer A { get; private set; } = null!;

    protected ChatServer B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        A = Instance("A");
        B = Instance("B");
        foreach (var instance in new[] { A, B })
        {
            using var admin = instance.Admin();
            await Poll.UntilAsync(() => admin.GetStringAsync("/health"), h => h == "Healthy");
        }
    }

    public virtual async Task DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
        await Redis.DisposeAsync();
    }

    /// <summary>Another instance of the same cluster (the caller disposes it).</summary>
    protected ChatServer Instance(string name) => ChatServer.Start(
    [
        ("Chat:Redis:Configuration", Redis.Configuration),
        ("Chat:Redis:Channel", Channel),
        ("Chat:Redis:InstanceName", name),
        ("Chat:Redis:ClaimSeconds", "3"),
        .. Settings,
    ]);

    /// <summary>More settings for every instance of the test class.</summary>
    protected virtual (string Key, string? Value)[] Settings => [];
}
