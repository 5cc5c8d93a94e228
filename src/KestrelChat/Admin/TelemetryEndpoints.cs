using KestrelChat.Chat;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;

namespace KestrelChat.Admin;

/// <summary>GET /metrics (Prometheus, OpenTelemetry) and the health endpoints /health, /health/live, /health/ready.</summary>
internal static class TelemetryEndpoints
{
    /// <summary>The meters exported: the chat's own, ASP.NET Core's, Kestrel's (its connection counts include the chat) and the runtime's.</summary>
    private static readonly string[] Meters =
    [
        ChatMetrics.MeterName,
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.MemoryPool",
        "Microsoft.AspNetCore.Diagnostics",
        "Microsoft.AspNetCore.RateLimiting",
        "Microsoft.AspNetCore.Authentication",
        "Microsoft.AspNetCore.Authorization",
        "System.Runtime",
    ];

    internal const int MetricPointsPerStream = 200;

    public static IServiceCollection AddChatTelemetry(this IServiceCollection services)
    {
        // OpenTelemetry allocates every stream's points up front (2000 by default: about 8 MB for these
        // meters); none of them has more than a few dozen tag combinations.
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(Meters)
            .AddView(_ => new MetricStreamConfiguration { CardinalityLimit = MetricPointsPerStream })
            .AddPrometheusExporter());
        services.AddHealthChecks().AddCheck<ChatListenerHealthCheck>("chat-listener", tags: ["ready"]);
        return services;
    }

    public static WebApplication MapTelemetryEndpoints(this WebApplication app)
    {
        // Prometheus scrapes with the key as a bearer token (authorization: credentials: KEY) when one is set.
        app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization().ExcludeFromDescription();

        app.MapHealthChecks("/health").WithTags("Health");
        // Live: the process answers HTTP (no checks run). Ready: the chat accepts connections.
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).WithTags("Health");
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") }).WithTags("Health");
        return app;
    }
}
