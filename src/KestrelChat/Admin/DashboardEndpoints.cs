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
        app.MapGet("/dashboard/wire/{id}", WireAsync).RequireAuthorization()
            .WithName("GetDashboardWire")
            .WithTags("Chat")
            .WithSummary("One connection's bytes both ways as they pass (Server-Sent Events)")
            .WithDescription("`text/event-stream`: an `event: in` (from the client) or `event: out` (to it) per read or write, `data` its time, bytes (base64, at most 4 KiB) and how many were cut; from the moment of the request, until the connection or the request ends. A watcher that falls behind loses the oldest. 404 for a connection that is not on this instance.");
        app.MapGet("/dashboard/events", StreamAsync).RequireAuthorization()
            .WithName("GetDashboardEvents")
            .WithTags("Chat")
            .WithSummary("Live snapshots for the dashboard (Server-Sent Events)")
            .WithDescription("`text/event-stream`: an `event: snapshot` each second with every connection (as GET /clients, with its send queue) and every room (as GET /rooms), until the client goes.");
        return app;
    }

    private static IResult Page(string file, string contentType) =>
        Results.File(Path.Combine(Root, file), contentType + (contentType.StartsWith("text/", StringComparison.Ordinal) ? "; charset=utf-8" : ""));

    private static async Task WireAsync(string id, HttpContext context, ChatRegistry registry)
    {
        if (registry.FindConnection(id) is not { } session)
        {
            await TypedResults.Problem($"No connection {id} on this instance ({registry.InstanceName}): the wire view watches this instance's own.",
                statusCode: StatusCodes.Status404NotFound).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }
        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        using var ends = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, session.Closing);
        var reader = session.Watch();
        try
        {
            await response.WriteAsync(": watching from now on\n\n", context.RequestAborted).ConfigureAwait(false);
            await response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            while (await reader.WaitToReadAsync(ends.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var chunk))
                {
                    // Not cancelled by the connection's close: a chunk taken is a chunk shown.
                    await WriteChunkAsync(response, chunk, context.RequestAborted).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (ends.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            // The connection is closing: its last lines (the farewell) and the close still pass for a moment.
            using var grace = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            grace.CancelAfter(ClosingGrace);
            try
            {
                while (await reader.WaitToReadAsync(grace.Token).ConfigureAwait(false))
                {
                    while (reader.TryRead(out var chunk))
                    {
                        await WriteChunkAsync(response, chunk, context.RequestAborted).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
            {
                // The grace is over.
            }
            await response.WriteAsync("event: closed\ndata: {}\n\n", context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The page stopped watching.
        }
        finally
        {
            session.StopWatching(reader);
        }
    }

    /// <summary>How long the wire view goes on after its connection began to close: the farewell and the close pass.</summary>
    internal static readonly TimeSpan ClosingGrace = TimeSpan.FromSeconds(1);

    private static async Task WriteChunkAsync(HttpResponse response, WireChunk chunk, CancellationToken cancellationToken)
    {
        await response.WriteAsync(chunk.FromClient ? "event: in\ndata: " : "event: out\ndata: ", cancellationToken).ConfigureAwait(false);
        await JsonSerializer.SerializeAsync(response.Body, new WireEvent(chunk.At, chunk.Bytes, chunk.Cut), ChatJsonContext.Default.WireEvent, cancellationToken).ConfigureAwait(false);
        await response.WriteAsync("\n\n", cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

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
                await JsonSerializer.SerializeAsync(response.Body, snapshot, ChatJsonContext.Default.DashboardSnapshot, aborted).ConfigureAwait(false);
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

/// <summary>One read or write in the wire view: when, the bytes (base64 in JSON), how many more were not kept.</summary>
public sealed record WireEvent(DateTimeOffset At, byte[] Bytes, long Cut);

/// <summary>One second of the dashboard: every connection and room; StaleSeconds as X-Cluster-Stale-Seconds says.</summary>
public sealed record DashboardSnapshot(DateTimeOffset At, string Instance, ClientInfo[] Clients, RoomInfo[] Rooms, long? StaleSeconds);
