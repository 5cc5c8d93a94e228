namespace KestrelChat.Tests.Infrastructure;

/// <summary>A fresh server for every test, so no test sees another's clients or notices.</summary>
public abstract class ServerPerTest : IAsyncLifetime
{
    protected ChatServer Server { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Server = ChatServer.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
