using System.Text.Json;
using KestrelChat.Admin;
using KestrelChat.Chat;

namespace KestrelChat.Cluster;

/// <summary>
/// One client as an instance's heartbeat reports it to the others (a JSON value in Redis): the wire
/// format between instances, kept apart from the admin API's <see cref="ClientInfo"/> so that either
/// can change without the other. Short names: thousands of these are rewritten every few seconds.
/// </summary>
internal sealed record ClusterClient(
    string Id,
    string? Nick,
    string? Room,
    string? Remote,
    string? Local,
    DateTimeOffset Since,
    long In,
    long Out,
    long MsgIn,
    long MsgOut,
    bool Oper,
    bool Tls,
    string? Transport = null)
{
    public static ClusterClient From(ChatSession session) => new(
        session.Id, session.Nickname, session.Room?.Name, session.RemoteEndPoint?.ToString(), session.LocalEndPoint?.ToString(),
        session.ConnectedAt, session.BytesIn, session.BytesOut, session.MessagesIn, session.MessagesOut, session.IsOperator, session.IsTls, session.Transport);

    public static string Serialize(ChatSession session) => JsonSerializer.Serialize(From(session), ChatJsonContext.Default.ClusterClient);

    /// <summary>Null for anything that is not one (another program's key, an older format): skipped.</summary>
    public static ClusterClient? Deserialize(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, ChatJsonContext.Default.ClusterClient);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>As GET /clients shows it, on <paramref name="instance"/>.</summary>
    public ClientInfo ToClientInfo(string instance) =>
        new(Id, Nick, Remote, Local, Since, In, Out, MsgIn, MsgOut, Oper, instance, Tls, Room, Transport ?? (Tls ? "tls" : "tcp"));
}
