using System.Net.Http.Json;
using System.Text.Json;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>GET /rooms/{room}/messages as an operator's script reads it: the JSON, not the server's types.</summary>
public static class HistoryApi
{
    public static async Task<List<HistoryMessage>> MessagesAsync(HttpClient admin, string uri = "/rooms/lobby/messages") =>
        (await admin.GetFromJsonAsync<List<HistoryMessage>>(uri, JsonSerializerOptions.Web))!;
}

/// <summary>One line of a room's history in the admin API's JSON.</summary>
public sealed record HistoryMessage(long Id, DateTimeOffset Time, string Nickname, string Kind, string Text);
