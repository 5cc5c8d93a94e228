using KestrelChat.Cluster;
using KestrelChat.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace KestrelChat.History;

/// <summary>Chat:History: the options, the SQLite store under the content root, <see cref="ChatHistory"/> and its health check.</summary>
internal static class HistorySetup
{
    public static IServiceCollection AddChatHistory(this IServiceCollection services)
    {
        services.AddOptions<HistoryOptions>().BindConfiguration(HistoryOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<HistoryOptions>, HistoryOptionsValidator>();
        // One instance: an SQLite file. A cluster: Redis streams, so history is the same whichever instance a client lands on.
        services.AddSingleton(provider => provider.GetRequiredService<IOptions<RedisOptions>>().Value.Enabled
            ? RedisStore(provider)
            : new SqliteHistoryStore(System.IO.Path.Combine(
                provider.GetRequiredService<IHostEnvironment>().ContentRootPath, provider.GetRequiredService<IOptions<HistoryOptions>>().Value.Path)));
        services.AddSingleton(provider => new ChatHistory(
            provider.GetRequiredService<IOptions<HistoryOptions>>(), provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<IOptions<HistoryOptions>>().Value.Enabled ? provider.GetRequiredService<IHistoryStore>() : null,
            provider.GetRequiredService<ILogger<ChatHistory>>(), provider.GetRequiredService<IChatBackplane>()));
        // Registered before Kestrel's own hosted service: loaded before the chat accepts, and stopped after
        // it, so the leaves of the stop and the last lines reach the store.
        services.AddSingleton(provider => (IHostedService)provider.GetRequiredService<ChatHistory>());
        services.AddHealthChecks().AddCheck<HistoryHealthCheck>("history");
        return services;
    }

    // Apart, so that a single instance never loads StackExchange.Redis (1 MB of its idle memory, and the JIT's
    // work on it): the JIT loads the assemblies a method names when it compiles the method.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1859", Justification = "Returning RedisHistoryStore would put the type in the caller's signature and load it.")]
    private static IHistoryStore RedisStore(IServiceProvider provider) => new RedisHistoryStore(
        (RedisBackplane)provider.GetRequiredService<IChatBackplane>(), provider.GetRequiredService<IOptions<HistoryOptions>>().Value.MaxMessagesPerRoom);
}

/// <summary>Degraded (not unhealthy) while the store fails: the chat goes on, history lives in memory only.</summary>
internal sealed class HistoryHealthCheck(ChatHistory history) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (written, dropped, waiting) = history.StoreCounts;
        var counts = $"{written} lines written since the start, {waiting} waiting, {dropped} dropped";
        return Task.FromResult(!history.Enabled ? HealthCheckResult.Healthy("History is off (Chat:History:Enabled is false).")
            : history.Problem is { } problem ? HealthCheckResult.Degraded($"{problem} ({counts}). The chat goes on; new history is kept in memory only.")
            : HealthCheckResult.Healthy($"History in {history.Location}: {counts}."));
    }
}
