using System.Text.Json;
using KestrelChat.Chat;
using KestrelChat.Cluster;

namespace KestrelChat.Admin;

/// <summary>
/// The operators' and teachers' live page on the admin endpoint: GET /dashboard (the page and its two files: no
/// secret in them, so no key) and GET /dashboard/events, behind the key like the rest of the API: a Server-Sent
/// Events stream with a snapshot of every connection and room each second while the page is open, nothing
/// when no page is. The page asks for the key once per tab and sends it as a header (fetch, not EventSource,
/// which cannot): never in a URL, never in a cookie a cross-site request could ride on.
/// </summary>
internal static class DashboardEndpoints
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "dashboard");

    private static readonly Dictionary<string, string> Files = new(StringComparer.Ordinal)
    {
        ["dashboard.js"] = "text/javascript",
        ["dashboard.css"] = "text/css",
    };

    /// <summary>How often the stream sends a snapshot.</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public static WebApplication MapDashboard(this WebApplication app)
    {
        app.MapGet("/dashboard", () => Page("index.html", "text/html")).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/dashboard/{file}", (string file) => Files.TryGetValue(file, out var type) ? Page(file, type) : Results.NotFound())
            .AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/dashboard/events", StreamAsync).RequireAuthorization()
            .WithName("GetDashboardEvents")
            .WithTags("Chat")
            .WithSummary("Live snapshots for the dashboard (Server-Sent Events)")
            .WithDescription("`text/event-stream`: an `event: snapshot` each second with every connection (as GET /clients, with its send queue) and every room (as GET /rooms), until the client goes.");
        return app;
    }

    private static IResult Page(string file, string contentType) =>
        Results.File(Path.Combine(Root, file), contentType + (contentType.StartsWith("text/", StringComparison.Ordinal) ? "; charset=utf-8" : ""));

    private static async Task StreamAsync(HttpContext context, ChatRegistry registry, IChatBackplane backplane)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        var aborted = context.RequestAborted;
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                var snapshot = new DashboardSnapshot(DateTimeOffset.UtcNow, registry.InstanceName,
                    await AdminEndpoints.ClientsAsync(registry, backplane).ConfigureAwait(false),
                    await AdminEndpoints.RoomsAsync(registry, backplane).ConfigureAwait(false),
                    backplane.RemoteStaleFor is { } stale ? (long)stale.TotalSeconds : null);
                await response.WriteAsync("event: snapshot\ndata: ", aborted).ConfigureAwait(false);
                await JsonSerializer.SerializeAsync(response.Body, snapshot, JsonSerializerOptions.Web, aborted).ConfigureAwait(false);
                await response.WriteAsync("\n\n", aborted).ConfigureAwait(false);
                await response.Body.FlushAsync(aborted).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(aborted).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The page was closed.
        }
    }
}

/// <summary>One second of the dashboard: every connection and room; StaleSeconds as X-Cluster-Stale-Seconds says.</summary>
public sealed record DashboardSnapshot(DateTimeOffset At, string Instance, ClientInfo[] Clients, RoomInfo[] Rooms, long? StaleSeconds);
