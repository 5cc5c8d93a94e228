using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace KestrelChat.Admin;

/// <summary>
/// The body of an error that the framework answers without one (a body that is not JSON, or not the JSON
/// an endpoint takes): ProblemDetails, as every other error, with a detail that says what was expected,
/// read from the endpoint's own metadata (the content types it accepts, the shape of its request body).
/// </summary>
internal static class ExplainedStatusCodes
{
    public static IApplicationBuilder UseExplainedStatusCodePages(this IApplicationBuilder app) =>
        app.UseStatusCodePages(static async context =>
        {
            var http = context.HttpContext;
            var status = http.Response.StatusCode;
            var accepts = http.GetEndpoint()?.Metadata.GetMetadata<IAcceptsMetadata>();
            var detail = (status, accepts) switch
            {
                // Routing answers a wrong content type with an endpoint of its own, so the metadata is not the
                // target's here; every body the admin API takes is JSON.
                (StatusCodes.Status415UnsupportedMediaType, _) =>
                    "This endpoint takes a JSON body: send the header Content-Type: application/json (curl: -H 'Content-Type: application/json').",
                (StatusCodes.Status400BadRequest, { RequestType: { } type }) =>
                    $"The body must be JSON like {Example(http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions.GetTypeInfo(type))}.",
                _ => null,
            };
            await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails = { Status = status, Detail = detail },
            }).ConfigureAwait(false);
        });

    /// <summary>{"text": "…"} for POST /broadcast's body: each property in the JSON's own (camelCase) spelling with a sample value.</summary>
    /// <remarks>Read from the serializer's own contract for the type (made at compile time, ChatJsonContext), so the names are the ones it reads.</remarks>
    private static string Example(JsonTypeInfo contract)
    {
        var fields = contract.Properties.Select(p =>
        {
            var kind = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            var sample = kind == typeof(string) ? "\"…\"" : kind == typeof(bool) ? "true" : kind.IsPrimitive ? "0" : "{…}";
            return $"\"{p.Name}\": {sample}";
        });
        return "{" + string.Join(", ", fields) + "}";
    }
}
