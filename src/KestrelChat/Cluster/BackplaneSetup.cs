using KestrelChat.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace KestrelChat.Cluster;

/// <summary>Chooses the backplane from Chat:Redis:Configuration: Redis when set, the single-process one otherwise.</summary>
internal static class BackplaneSetup
{
    public static IServiceCollection AddChatBackplane(this IServiceCollection services)
    {
        services.AddOptions<RedisOptions>().BindConfiguration(RedisOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RedisOptions>, RedisOptionsValidator>();
        services.AddSingleton<IChatBackplane>(provider => provider.GetRequiredService<IOptions<RedisOptions>>().Value.Enabled
            ? ActivatorUtilities.CreateInstance<RedisBackplane>(provider)
            : ActivatorUtilities.CreateInstance<LocalBackplane>(provider));
        // Registered before Kestrel's own hosted service: connected before the chat accepts, stopped after it.
        services.AddSingleton(provider => (IHostedService)provider.GetRequiredService<IChatBackplane>());
        services.AddHealthChecks().AddCheck<BackplaneHealthCheck>("redis-backplane");
        return services;
    }
}

/// <summary>Degraded (not unhealthy) while Redis is away: the instance still serves its own clients.</summary>
internal sealed class BackplaneHealthCheck(IChatBackplane backplane) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(backplane switch
        {
            RedisBackplane { IsConnected: true } => HealthCheckResult.Healthy($"Instance {backplane.InstanceName} connected to Redis."),
            RedisBackplane => HealthCheckResult.Degraded("Redis is unreachable: serving local clients only, nothing crosses instances."),
            _ => HealthCheckResult.Healthy("Single instance (Chat:Redis:Configuration is not set)."),
        });
}
