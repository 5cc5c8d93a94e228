using KestrelChat.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KestrelChat.Admin;

/// <summary>Healthy while the chat listener is bound and the server is not stopping.</summary>
internal sealed class ChatListenerHealthCheck(KestrelEndpoints endpoints, ChatShutdown shutdown) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var result = endpoints.Chat is not { } chat ? HealthCheckResult.Unhealthy("The chat listener is not bound.")
            : shutdown.IsStopping ? HealthCheckResult.Unhealthy("The server is stopping.")
            : HealthCheckResult.Healthy(endpoints.ChatTls is { } tls ? $"Chat accepting on {chat}, TLS on {tls}." : $"Chat accepting on {chat}.");
        return Task.FromResult(result);
    }
}
