using System.Text.Json;
using System.Text.Json.Serialization;
using KestrelChat.Cluster;
using Microsoft.AspNetCore.Mvc;

namespace KestrelChat.Admin;

/// <summary>
/// Every type the server writes or reads as JSON (the admin API, the dashboard's streams, the cluster's client
/// lists in Redis), its serializer made at compile time. It is the only resolver the HTTP endpoints have
/// (Program.cs), JIT-compiled or not: a type missing here fails in the tests exactly as it would in the Native
/// AOT build, which has no reflection to fall back on.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ClientInfo[]))]
[JsonSerializable(typeof(RoomInfo[]))]
[JsonSerializable(typeof(StopAccepted))]
[JsonSerializable(typeof(BroadcastRequest))]
[JsonSerializable(typeof(BroadcastSent))]
[JsonSerializable(typeof(HistoryMessage[]))]
[JsonSerializable(typeof(WireEvent))]
[JsonSerializable(typeof(DashboardSnapshot))]
[JsonSerializable(typeof(ClusterClient))]
// Every error the admin API answers (ExplainedStatusCodes, TypedResults.Problem and ValidationProblem), with the
// extension members ASP.NET Core adds (traceId).
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(HttpValidationProblemDetails))]
[JsonSerializable(typeof(string))]
internal sealed partial class ChatJsonContext : JsonSerializerContext;
