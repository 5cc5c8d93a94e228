using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using KestrelChat.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace KestrelChat.Cluster;

/// <summary>Chooses the backplane from Chat:Redis:Configuration: Redis when set, the single-process one otherwise.</summary>
internal static class BackplaneSetup
{
    public static IServiceCollection AddChatBackplane(this IServiceCollection services)
    {
        services.AddOptions<RedisOptions>().BindConfiguration(RedisOptions.Section).ValidateOnStart()
            .PostConfigure<IOptions<ChatOptions>>((redis, chat) => redis.DefaultInstanceName = $"{Environment.MachineName}-{chat.Value.Port}");
        services.AddSingleton<IValidateOptions<RedisOptions>, RedisOptionsValidator>();
        services.AddSingleton(provider => provider.GetRequiredService<IOptions<RedisOptions>>().Value.Enabled
            ? CreateRedisBackplane(provider)
            : ActivatorUtilities.CreateInstance<LocalBackplane>(provider));
        // Registered before Kestrel's own hosted service: connected before the chat accepts, stopped after it.
        services.AddSingleton(provider => (IHostedService)provider.GetRequiredService<IChatBackplane>());
        services.AddHealthChecks().AddCheck<BackplaneHealthCheck>("redis-backplane");
        return services;
    }

    // A method of its own, so that a single instance never even loads StackExchange.Redis (the JIT
    // loads the assemblies of every type a method mentions when it compiles that method).
    [MethodImpl(MethodImplOptions.NoInlining)]
    [SuppressMessage("Performance", "CA1859", Justification = "Returning RedisBackplane would put the type in the caller's signature and load it.")]
    private static IChatBackplane CreateRedisBackplane(IServiceProvider provider) =>
        ActivatorUtilities.CreateInstance<RedisBackplane>(provider);
}

/// <summary>
/// Degraded (not unhealthy) while Redis is away or does not answer: the instance still serves its own clients.
/// A connected socket proves nothing (a frozen Redis keeps it open), so each check sends a PING and waits at
/// most <see cref="PingTimeout"/> for the answer: /health itself never hangs on Redis.
/// </summary>
internal sealed class BackplaneHealthCheck(IChatBackplane backplane) : IHealthCheck
{
    public static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(1);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (backplane is not RedisBackplane redis)
        {
            return HealthCheckResult.Healthy("Single instance (Chat:Redis:Configuration is not set).");
        }
        var waiting = $"{redis.Waiting} entries for the other instances wait here (kept up to Chat:Redis:CatchUpSeconds), {redis.Dropped} messages dropped since the start, {redis.InboundWaiting} entries from them wait to be delivered here";
        if (!redis.IsConnected)
        {
            return HealthCheckResult.Degraded($"Redis is unreachable: serving local clients only; {waiting}.");
        }
        return await redis.PingAsync(PingTimeout).ConfigureAwait(false) is { } latency
            ? HealthCheckResult.Healthy($"Instance {backplane.InstanceName} connected to Redis (PING {latency.TotalMilliseconds:0.#} ms).")
            : HealthCheckResult.Degraded($"Redis does not answer a PING within {PingTimeout.TotalSeconds:0.#} s: lines across instances are late, local chat goes on; {waiting}.");
    }
}
