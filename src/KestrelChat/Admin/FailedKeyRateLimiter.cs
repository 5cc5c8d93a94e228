using System.Globalization;
using System.Threading.RateLimiting;
using KestrelChat.Hosting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace KestrelChat.Admin;

/// <summary>
/// Limits guessing the admin API key: a request to a protected endpoint with a missing or wrong key
/// counts against its remote address (Admin:FailedKeyAttemptsPerMinute) and against all addresses
/// together (Admin:FailedKeyAttemptsPerMinuteTotal); past either limit the caller gets 429 with Retry-After. Only failed attempts count, so a request with the right key
/// is never limited: an attacker cannot lock the operator out.
/// Needs routing before it (app.UseRouting) to see which endpoints require the key, and must run
/// before authentication, which would otherwise answer 401 first.
/// </summary>
internal static partial class FailedKeyRateLimiter
{
    public static IServiceCollection AddFailedKeyRateLimiter(this IServiceCollection services)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = OnRejectedAsync;
        });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<AdminOptions>>((limiter, admin) =>
        {
            var options = admin.Value;
            if (options.HasApiKey && options.FailedKeyAttemptsPerMinute > 0)
            {
                // Per address, and in total beside it: two hundred addresses guess no faster than ten.
                limiter.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                    CreateLimiter(options.ApiKey!, options.FailedKeyAttemptsPerMinute, RemoteAddress),
                    CreateLimiter(options.ApiKey!, options.FailedKeyAttemptsPerMinuteTotal, static _ => "all addresses"));
            }
        });
        return services;
    }

    private static PartitionedRateLimiter<HttpContext> CreateLimiter(string apiKey, int attemptsPerMinute, Func<HttpContext, string> partition) =>
        PartitionedRateLimiter.Create<HttpContext, string>(context =>
        {
            if (!NeedsKey(context) || ApiKeyAuthenticationHandler.PresentsKey(context.Request.Headers, apiKey))
            {
                // Partitions are never empty, so this one is never an address's.
                return RateLimitPartition.GetNoLimiter(string.Empty);
            }
            return RateLimitPartition.GetFixedWindowLimiter(partition(context), _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = attemptsPerMinute,
                Window = TimeSpan.FromMinutes(1),
                QueueLimit = 0,
            });
        });

    /// <summary>The endpoints the authorization middleware protects; /health, Swagger and unknown paths are not.</summary>
    private static bool NeedsKey(HttpContext context) =>
        context.GetEndpoint()?.Metadata is { } metadata
        && metadata.GetMetadata<IAuthorizeData>() is not null
        && metadata.GetMetadata<IAllowAnonymous>() is null;

    internal static string RemoteAddress(HttpContext context) => context.Connection.RemoteIpAddress switch
    {
        null => "unknown",
        { IsIPv4MappedToIPv6: true } mapped => mapped.MapToIPv4().ToString(),
        var address => address.ToString(),
    };

    private static async ValueTask OnRejectedAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        var services = context.RequestServices;
        LogRejected(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(FailedKeyRateLimiter)),
            RemoteAddress(context), context.Request.Method, context.Request.Path);
        await services.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many failed API key attempts",
                Detail = $"Too many requests with a missing or wrong API key from your address. Try again in {seconds} seconds.",
            },
        }).ConfigureAwait(false);
    }

    [LoggerMessage(LogLevel.Warning, "Admin API: too many failed API key attempts from {RemoteAddress}; refused {Method} {Path} with 429")]
    private static partial void LogRejected(ILogger logger, string remoteAddress, string method, PathString path);
}
