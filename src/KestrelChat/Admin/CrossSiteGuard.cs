using System.Net;
using KestrelChat.Hosting;
using Microsoft.Extensions.Options;

namespace KestrelChat.Admin;

/// <summary>
/// Keeps web pages out of the admin API. The API is for curl, scripts, probes and its own Swagger UI;
/// a browser visiting some other site must not be able to stop the server or read the client list
/// through the operator's loopback or SSH tunnel.
/// <list type="bullet">
/// <item>A request whose <c>Origin</c> is not the admin endpoint's own is refused (403). Browsers send
/// <c>Origin</c> on every cross-site POST, <c>mode: "no-cors"</c> included, and on cross-site fetches; curl
/// and scripts send none, so they are unaffected. <c>Sec-Fetch-Site: cross-site</c> is refused likewise.</item>
/// <item>Without Admin:ApiKey, only loopback <c>Host</c> names are served (<c>localhost</c>, <c>127.0.0.1</c>,
/// <c>[::1]</c>, with any port; 400 otherwise): a DNS-rebinding page reaches 127.0.0.1 under its own name, and
/// that name is what its requests carry. With a key, the page cannot present it, so the key protects.</item>
/// </list>
/// </summary>
internal sealed partial class CrossSiteGuard(RequestDelegate next, IOptions<AdminOptions> admin, IProblemDetailsService problems, ILogger<CrossSiteGuard> logger)
{
    private readonly bool _loopbackHostsOnly = !admin.Value.HasApiKey;

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var host = request.Host;
        if (_loopbackHostsOnly && !IsLoopbackName(host.Host))
        {
            LogRefused(Caller(context), request.Method, request.Path, $"Host {host.Value}");
            return RefuseAsync(context, StatusCodes.Status400BadRequest, "Host not allowed",
                $"Without Admin:ApiKey the admin API answers only to loopback names (localhost, 127.0.0.1, [::1]); this request was for '{host.Value}'.");
        }
        var origin = request.Headers.Origin;
        if (origin.Count > 0 && !IsOwnOrigin(origin.ToString(), request))
        {
            LogRefused(Caller(context), request.Method, request.Path, $"Origin {origin}");
            return RefuseAsync(context, StatusCodes.Status403Forbidden, "Cross-site request refused",
                $"The admin API does not serve web pages from other origins ({origin}); call it from curl or a script, or from its own Swagger UI.");
        }
        if (request.Headers.TryGetValue("Sec-Fetch-Site", out var site) && string.Equals(site, "cross-site", StringComparison.OrdinalIgnoreCase))
        {
            LogRefused(Caller(context), request.Method, request.Path, "Sec-Fetch-Site cross-site");
            return RefuseAsync(context, StatusCodes.Status403Forbidden, "Cross-site request refused",
                "The admin API does not serve requests a browser makes on behalf of another site.");
        }
        return next(context);
    }

    /// <summary>"localhost" (any case, a trailing dot allowed) or a loopback IP literal.</summary>
    internal static bool IsLoopbackName(string host)
    {
        var name = host.TrimEnd('.');
        if (string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        return IPAddress.TryParse(name.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
    }

    /// <summary>The page that sent the request is one the admin endpoint served: same scheme, host and port as the request itself.</summary>
    private static bool IsOwnOrigin(string origin, HttpRequest request) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);

    private static string Caller(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    private Task RefuseAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        return problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        }).AsTask();
    }

    [LoggerMessage(LogLevel.Warning, "Admin API: refused {Method} {Path} from {RemoteAddress}: {Why}")]
    private partial void LogRefused(string remoteAddress, string method, PathString path, string why);
}
