using KestrelChat.Chat;
using KestrelChat.Cluster;
using KestrelChat.Hosting;
using KestrelChat.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;

namespace KestrelChat.Admin;

/// <summary>The admin API: GET /clients, POST /stop and the operator tools (<see cref="OperatorEndpoints"/>); health and metrics: <see cref="TelemetryEndpoints"/>.</summary>
internal static class AdminEndpoints
{
    /// <summary>Set on cluster-wide answers while Redis does not answer: how many seconds old the other instances' part may be.</summary>
    public const string StaleHeader = "X-Cluster-Stale-Seconds";

    private static void MarkIfStale(IChatBackplane backplane, HttpResponse response)
    {
        if (backplane.RemoteStaleFor is { } stale)
        {
            response.Headers[StaleHeader] = ((int)stale.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Every connection here and, given the backplane, on the other instances, in the order they connected.</summary>
    internal static async Task<ClientInfo[]> ClientsAsync(ChatRegistry registry, IChatBackplane? backplane)
    {
        var local = registry.Connections.Select(s => ClientInfo.From(s, registry.InstanceName));
        var remote = backplane is null ? [] : await backplane.GetRemoteClientsAsync().ConfigureAwait(false);
        return [.. local.Concat(remote).OrderBy(c => c.ConnectedAt)];
    }

    /// <summary>Every room with its topic and members, cluster-wide (the other instances' members as their events told).</summary>
    internal static async Task<RoomInfo[]> RoomsAsync(ChatRegistry registry, IChatBackplane backplane)
    {
        var rooms = registry.Rooms.Select(r => new RoomInfo(r.Name, r.Topic, r.Members.ToArray().Select(m => m.Nickname!).ToList())).ToList();
        if (backplane.IsClustered)
        {
            foreach (var client in (await backplane.GetRemoteClientsAsync().ConfigureAwait(false)).Where(c => c.Nickname is not null && c.Room is not null))
            {
                var at = rooms.FindIndex(r => RoomNames.Key(r.Name) == RoomNames.Key(client.Room!));
                if (at < 0)
                {
                    rooms.Add(new RoomInfo(client.Room!, null, []));
                    at = rooms.Count - 1;
                }
                rooms[at].Members.Add(client.Nickname!);
            }
        }
        return [.. rooms];
    }

    public static WebApplication MapAdminEndpoints(this WebApplication app)
    {
        var api = app.MapGroup("").RequireAuthorization().WithTags("Chat");

        api.MapGet("/clients", async Task<Results<Ok<ClientInfo[]>, ValidationProblem>> (ChatRegistry registry, IChatBackplane backplane, string? scope, HttpResponse response) =>
            {
                var localOnly = string.Equals(scope, "local", StringComparison.OrdinalIgnoreCase);
                if (!localOnly && scope is not null && !string.Equals(scope, "cluster", StringComparison.OrdinalIgnoreCase))
                {
                    return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                    {
                        ["scope"] = ["scope is 'cluster' (the default: every instance) or 'local' (this instance only)."],
                    });
                }
                if (!localOnly)
                {
                    MarkIfStale(backplane, response);
                }
                return TypedResults.Ok(await ClientsAsync(registry, localOnly ? null : backplane));
            })
            .WithName("GetClients")
            .WithSummary("Connected chat clients")
            .WithDescription("Every open chat connection, named or not, with the same endpoints `ss` shows and the instance it is on. " +
                "In a cluster (Chat:Redis) the other instances' clients are included: who is where as their joins, renames, moves and leaves told, " +
                "byte counters as of their last report (every few seconds); while Redis does not answer, the header " + StaleHeader + " says how old that may be. " +
                "`?scope=local` lists this instance only.");

        api.MapGet("/rooms", async (ChatRegistry registry, IChatBackplane backplane, HttpResponse response) =>
            {
                MarkIfStale(backplane, response);
                return TypedResults.Ok(await RoomsAsync(registry, backplane));
            })
            .WithName("GetRooms")
            .WithSummary("Chat rooms")
            .WithDescription("Every room with its topic and members' nicknames, the default room first. " +
                "In a cluster a room is one across instances; the other instances' members are included (" + StaleHeader + " as for /clients).");

        api.MapPost("/stop", (HttpContext context, ChatShutdown shutdown) =>
            {
                // Stop once the 202 is on the wire, so the caller always gets its answer.
                var caller = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
                context.Response.OnCompleted(() =>
                {
                    shutdown.Stop($"admin API (POST /stop from {caller})");
                    return Task.CompletedTask;
                });
                return TypedResults.Accepted((string?)null, new StopAccepted("Stopping: chat clients get a notice, then the server exits."));
            })
            .WithName("Stop")
            .WithSummary("Stop the server gracefully")
            .WithDescription("Returns 202, then every chat client gets a shutdown notice and the process exits with code 0.");

        api.MapOperatorEndpoints();
        api.MapHistoryEndpoints();
        return app;
    }
}

/// <summary>One room as GET /rooms shows it.</summary>
/// <param name="Name">"#lobby", "#dev"…</param>
/// <param name="Topic">Null when it has none.</param>
/// <param name="Members">The members' nicknames, on every instance.</param>
public sealed record RoomInfo(string Name, string? Topic, List<string> Members);

/// <summary>The body of POST /stop's 202.</summary>
/// <param name="Message">What happens next.</param>
public sealed record StopAccepted(string Message);
