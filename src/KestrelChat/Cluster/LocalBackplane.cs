using KestrelChat.Admin;
using KestrelChat.Chat;
using KestrelChat.Hosting;
using Microsoft.Extensions.Options;

namespace KestrelChat.Cluster;

/// <summary>One process, one chat: nothing crosses, every nickname claim succeeds (the room keeps them unique).</summary>
internal sealed class LocalBackplane(IOptions<RedisOptions> options) : IChatBackplane, IHostedService
{
    public string InstanceName { get; } = options.Value.Instance;

    public bool IsClustered => false;

    public void Attach(IClusterReceiver receiver)
    {
    }

    public ValueTask<bool> TryClaimNicknameAsync(ChatSession session, string nickname, CancellationToken cancellationToken = default) => ValueTask.FromResult(true);

    public void ReleaseNickname(ChatSession session, string nickname)
    {
    }

    public void Publish(ClusterMessage message, string? instance = null)
    {
    }

    public Task<NicknameOwner?> FindNicknameAsync(string nickname, CancellationToken cancellationToken = default) => Task.FromResult<NicknameOwner?>(null);

    public Task<IReadOnlyList<ClientInfo>> GetRemoteClientsAsync(CancellationToken cancellationToken = default) => Task.FromResult<IReadOnlyList<ClientInfo>>([]);

    public IDisposable MemberChanged(ChatSession session, string? nickname, string? room, string? previousRoom) => NothingHeld.Instance;

    private sealed class NothingHeld : IDisposable
    {
        public static readonly NothingHeld Instance = new();

        public void Dispose()
        {
        }
    }

    public TimeSpan? RemoteStaleFor => null;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
