using System.Text;
using KestrelChat.Chat;
using KestrelChat.Cluster;
using KestrelChat.Hosting;
using KestrelChat.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace KestrelChat.Admin;

/// <summary>
/// Operator tools: DELETE /clients/{id} disconnects one client (showing it why) and POST /broadcast
/// sends a server announcement to every connection. What they send becomes a chat line, so it
/// follows the chat's rules: not empty, no control characters, not longer than a line may be.
/// </summary>
internal static partial class OperatorEndpoints
{
    /// <summary>Longest kick reason, in characters.</summary>
    public const int MaxReasonLength = 200;

    public static RouteGroupBuilder MapOperatorEndpoints(this RouteGroupBuilder api)
    {
        api.MapDelete("/clients/{id}", Kick)
            .WithName("KickClient")
            .WithSummary("Disconnect a chat client")
            .WithDescription("Closes the connection with the `id` from GET /clients, or of the client with that nickname " +
                "(compared as the chat compares nicknames: `Alice` is `alice`). The client's last line is " +
                "`! You were disconnected by an operator: REASON` (the optional `reason`, at most " +
                $"{MaxReasonLength} characters); the others see it leave.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapPost("/broadcast", Broadcast)
            .WithName("Broadcast")
            .WithSummary("Announce a line to every client")
            .WithDescription("Every open chat connection, named or not, gets `* Announcement: TEXT`. The text follows " +
                "the rules of a chat line: not empty, no control characters, at most Chat:Limits:MaxLineBytes UTF-8 bytes.")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        return api;
    }

    private static async Task<Results<NoContent, ProblemHttpResult, ValidationProblem>> Kick(
        string id, string? reason, HttpContext context, ChatRegistry registry, IChatBackplane backplane, ILoggerFactory loggers)
    {
        if (reason is not null)
        {
            reason = reason.Trim();
            var problem = TextProblem(reason, "reason")
                ?? (reason.Length > MaxReasonLength ? $"The reason is longer than {MaxReasonLength} characters." : null);
            if (problem is not null)
            {
                return Invalid("reason", problem);
            }
        }
        // A connection that is already closing has had its last line; it is on its way out of the list.
        // An id first; else a nickname (a connection id never is one: ids are upper-case letters and digits, 13 of them,
        // and a nickname that happens to look like one still names the same single client).
        var session = registry.Connections.FirstOrDefault(s => s.Id == id && !s.IsClosing)
            ?? (registry.FindByNickname(id) is { IsClosing: false } named ? named : null);
        if (session is not null)
        {
            session.Close(ServerLines.Kicked(reason), "kicked");
            LogKicked(Logger(loggers), session.Id, session.Nickname, reason, Caller(context));
            return TypedResults.NoContent();
        }
        // On another instance of the cluster? Its instance closes it when the message arrives.
        var remoteClients = await backplane.GetRemoteClientsAsync();
        if ((remoteClients.FirstOrDefault(c => c.Id == id)
            ?? remoteClients.FirstOrDefault(c => c.Nickname is { } n && NicknameRules.Comparer.Equals(n, id))) is { } remote)
        {
            backplane.Publish(new ClusterMessage(ClusterMessageKind.Kick, registry.InstanceName, remote.Id, ServerLines.Kicked(reason)), remote.Instance);
            LogKicked(Logger(loggers), remote.Id, remote.Nickname, reason, Caller(context));
            return TypedResults.NoContent();
        }
        return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such client",
            detail: $"No open chat connection has the id or the nickname '{id}' (see GET /clients).");
    }

    private static async Task<Results<Ok<BroadcastSent>, ValidationProblem>> Broadcast(
        BroadcastRequest request, HttpContext context, ChatRegistry registry, IChatBackplane backplane, IOptions<ChatLimitsOptions> limits, ILoggerFactory loggers)
    {
        var text = request.Text?.Trim() ?? string.Empty;
        var maxBytes = limits.Value.MaxLineBytes;
        var problem = TextProblem(text, "text")
            ?? (Encoding.UTF8.GetByteCount(text) > maxBytes ? $"The text is longer than {maxBytes} bytes (UTF-8), the longest chat line." : null);
        if (problem is not null)
        {
            return Invalid("text", problem);
        }
        var line = ServerLines.Announcement(text); // encoded once, the same bytes for everyone, on every instance
        int recipients;
        if (request.Room is { } roomName)
        {
            if (!RoomNames.TryValidate(roomName, out var name))
            {
                return Invalid("room", $"A room name is '#' and 1–{RoomNames.MaxLength} letters, digits, '-' or '_', like #dev.");
            }
            var room = registry.FindRoom(name);
            var remote = backplane.IsClustered
                ? (await backplane.GetRemoteClientsAsync()).Count(c => c.Nickname is not null && c.Room is { } r && RoomNames.Key(r) == RoomNames.Key(name))
                : 0;
            if (room is null && remote == 0)
            {
                return Invalid("room", $"There is no room {name} (see GET /rooms).");
            }
            recipients = remote + (room?.Notify(line) ?? PublishToRemoteRoom(backplane, registry, name, line));
        }
        else
        {
            recipients = registry.Announce(line);
            if (backplane.IsClustered)
            {
                recipients += (await backplane.GetRemoteClientsAsync()).Count; // as the other instances last reported
            }
        }
        LogAnnounced(Logger(loggers), Caller(context), recipients, text);
        return TypedResults.Ok(new BroadcastSent(recipients));
    }

    // A room with members on other instances only: the line goes to them through the backplane.
    private static int PublishToRemoteRoom(IChatBackplane backplane, ChatRegistry registry, string room, byte[] line)
    {
        backplane.Publish(new ClusterMessage(ClusterMessageKind.ToMembers, registry.InstanceName, null, line, room));
        return 0;
    }

    /// <summary>
    /// Why <paramref name="text"/> cannot go into a chat line, or null when it can. (Invalid UTF-8 cannot get
    /// this far: the JSON reader refuses it with 400, and the query string decoder replaces it.)
    /// </summary>
    private static string? TextProblem(string text, string field) =>
        text.Length == 0 ? $"The {field} is empty."
        : ChatText.Check(text) switch
        {
            TextResult.Ok => null,
            TextResult.ControlCharacter => $"The {field} contains control characters (escape sequences, line breaks, backspace…).",
            TextResult.DirectionControl => $"The {field} contains a character that reorders text (a bidi control such as U+202E).",
            TextResult.Invisible => $"The {field} contains an invisible character (zero-width space, word joiner, BOM, line separator…).",
            _ => $"The {field} has more than {ChatText.MaxMarksPerCharacter} combining marks on one character.",
        };

    private static ValidationProblem Invalid(string field, string problem) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [problem] });

    private static string Caller(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    private static ILogger Logger(ILoggerFactory loggers) => loggers.CreateLogger(typeof(OperatorEndpoints));

    [LoggerMessage(LogLevel.Warning, "Admin API: {Caller} disconnected client {ConnectionId} ({Nickname}); reason: {Reason}")]
    private static partial void LogKicked(ILogger logger, string connectionId, string? nickname, string? reason, string caller);

    [LoggerMessage(LogLevel.Information, "Admin API: {Caller} announced to {Recipients} connection(s): {Text}")]
    private static partial void LogAnnounced(ILogger logger, string caller, int recipients, string text);
}

/// <summary>The body of POST /broadcast.</summary>
/// <param name="Text">The announcement: one line, not empty, no control characters, at most Chat:Limits:MaxLineBytes UTF-8 bytes.</param>
/// <param name="Room">Only to this room's members ("#dev"), on every instance; without it, to every connection.</param>
public sealed record BroadcastRequest(string? Text, string? Room = null);

/// <summary>The body of POST /broadcast's 200.</summary>
/// <param name="Recipients">How many open connections the announcement was queued for.</param>
public sealed record BroadcastSent(int Recipients);
