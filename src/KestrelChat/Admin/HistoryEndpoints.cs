using KestrelChat.History;
using KestrelChat.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;

namespace KestrelChat.Admin;

/// <summary>
/// A room's history for operators: GET /rooms/{room}/messages pages and searches it, DELETE removes a line
/// from it everywhere (moderation). The room is named with or without its '#' ("lobby", "%23lobby").
/// </summary>
internal static partial class HistoryEndpoints
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;
    public const int MaxSearchLength = 200;

    public static RouteGroupBuilder MapHistoryEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/rooms/{room}/messages", GetMessages)
            .WithName("GetRoomMessages")
            .WithSummary("A room's history, newest first")
            .WithDescription("Lines said in the room (text, /me actions, topic changes), newest first, at most `limit` " +
                $"(default {DefaultLimit}, at most {MaxLimit}). Page back with `before` (the smallest id you have), forward with `after`. " +
                "`q` keeps the lines whose text or nickname contains it, in any case (Cyrillic included). Lines said in the last " +
                "second may not be there yet: the store is written in batches. Private messages are never kept.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapDelete("/rooms/{room}/messages/{id:long}", DeleteMessage)
            .WithName("DeleteRoomMessage")
            .WithSummary("Remove a line from a room's history")
            .WithDescription("Moderation: the line with this id is gone from the store and from what joining clients are shown. " +
                "Clients that saw it live keep what they saw.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return api;
    }

    private static Results<Ok<HistoryMessage[]>, ValidationProblem, ProblemHttpResult> GetMessages(
        string room, long? before, long? after, int? limit, string? q, ChatHistory history)
    {
        var errors = new Dictionary<string, string[]>();
        if (!TryRoom(room, out var name))
        {
            errors["room"] = [$"'{room}' is not a room name: letters, digits, '-' and '_', at most {RoomNames.MaxLength}, with or without the leading '#'."];
        }
        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit is 1 to {MaxLimit}."];
        }
        var search = string.IsNullOrWhiteSpace(q) ? null : q.Trim();
        if (search is { Length: > MaxSearchLength })
        {
            errors["q"] = [$"q is at most {MaxSearchLength} characters."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        if (Unavailable(history) is { } off)
        {
            return off;
        }
        try
        {
            var items = history.Query(name, before, after, limit ?? DefaultLimit, search);
            return TypedResults.Ok(items.Select(HistoryMessage.From).ToArray());
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return StoreFailed(ex);
        }
    }

    private static Results<NoContent, ValidationProblem, ProblemHttpResult> DeleteMessage(
        string room, long id, HttpContext context, ChatHistory history, ILoggerFactory loggers)
    {
        if (!TryRoom(room, out var name))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["room"] = [$"'{room}' is not a room name."] });
        }
        if (Unavailable(history) is { } off)
        {
            return off;
        }
        try
        {
            if (!history.Delete(name, id))
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such line",
                    detail: $"{name} has no line {id} in its history (see GET /rooms/{{room}}/messages).");
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return StoreFailed(ex);
        }
        LogDeleted(loggers.CreateLogger(typeof(HistoryEndpoints).FullName!), id, name, context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        return TypedResults.NoContent();
    }

    private static bool TryRoom(string room, out string name) =>
        RoomNames.TryValidate(room.StartsWith('#') ? room : "#" + room, out name);

    private static ProblemHttpResult? Unavailable(ChatHistory history) => history.Enabled ? null
        : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "History is off",
            detail: "This server keeps no history (Chat:History:Enabled is false).");

    private static ProblemHttpResult StoreFailed(Exception ex) =>
        TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The history store is unavailable",
            detail: $"{ex.Message} The chat goes on; see /health.");

    [LoggerMessage(LogLevel.Warning, "Line {Id} of {Room} removed from history by {Caller}")]
    private static partial void LogDeleted(ILogger logger, long id, string room, string caller);
}

/// <summary>One line of a room's history as the admin API shows it.</summary>
/// <param name="Id">Grows with time; use it for `before`, `after` and DELETE.</param>
/// <param name="Time">When it was said (UTC).</param>
/// <param name="Nickname">Who said it.</param>
/// <param name="Kind">"text", "action" (/me) or "topic" (the text is the new topic).</param>
/// <param name="Text">What was said.</param>
public sealed record HistoryMessage(long Id, DateTimeOffset Time, string Nickname, string Kind, string Text)
{
    internal static HistoryMessage From(HistoryItem item) => new(item.Id, item.Time, item.Nickname,
        item.Kind switch { HistoryKind.Action => "action", HistoryKind.Topic => "topic", _ => "text" }, item.Text);
}
