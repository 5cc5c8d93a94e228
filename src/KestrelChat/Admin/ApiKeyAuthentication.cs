using System.Security.Claims;
using System.Text.Encodings.Web;
using KestrelChat.Chat;
using KestrelChat.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace KestrelChat.Admin;

/// <summary>
/// The admin API's authentication. With Admin:ApiKey set, a request must carry the key as
/// "X-Api-Key: KEY" or "Authorization: Bearer KEY"; the comparison takes the same time whatever
/// the key. Without a key the API is loopback-only (enforced at start-up) and every caller is let in.
/// A refused request gets 401 with a ProblemDetails body.
/// </summary>
internal sealed partial class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IOptions<AdminOptions> admin,
    IProblemDetailsService problemDetails) : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    /// <summary>
    /// One line per refused request, with the caller's address. The handler's own category (ASP.NET Core's
    /// "was not authenticated", "was challenged") is kept at Warning in appsettings.json: it says neither.
    /// </summary>
    private const string LogCategory = "KestrelChat.Admin.ApiKey";

    private readonly ILogger _refusals = loggerFactory.CreateLogger(LogCategory);

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var expected = admin.Value.ApiKey;
        if (string.IsNullOrEmpty(expected))
        {
            return Task.FromResult(Success("loopback"));
        }
        var given = ReadKey(Request.Headers);
        if (given is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        return Task.FromResult(Secrets.Equal(given, expected)
            ? Success("api-key")
            : AuthenticateResult.Fail("Invalid API key."));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        var presented = Request.Headers.ContainsKey(HeaderName) || Request.Headers.ContainsKey(HeaderNames.Authorization);
        var detail = presented
            ? "The API key is not valid."
            : $"This endpoint needs the admin API key: send '{HeaderName}: KEY' or 'Authorization: Bearer KEY'.";
        LogRefused(_refusals, FailedKeyRateLimiter.RemoteAddress(Context), presented ? "a wrong" : "no", Request.Method, Request.Path);
        await problemDetails.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = StatusCodes.Status401Unauthorized, Title = "Unauthorized", Detail = detail },
        }).ConfigureAwait(false);
    }

    /// <summary>Whether the request presents <paramref name="expected"/> (constant-time); the failed-attempt limiter asks too.</summary>
    internal static bool PresentsKey(IHeaderDictionary headers, string expected) =>
        ReadKey(headers) is { } given && Secrets.Equal(given, expected);

    private static string? ReadKey(IHeaderDictionary headers)
    {
        if (headers.TryGetValue(HeaderName, out var apiKey) && apiKey.Count == 1)
        {
            return apiKey[0];
        }
        var authorization = headers.Authorization.ToString();
        const string Bearer = "Bearer ";
        return authorization.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase)
            ? authorization[Bearer.Length..].Trim()
            : null;
    }

    private static AuthenticateResult Success(string name)
    {
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    [LoggerMessage(LogLevel.Warning, "Admin API: {RemoteAddress} sent {Which} API key for {Method} {Path}: 401")]
    private static partial void LogRefused(ILogger logger, string remoteAddress, string which, string method, PathString path);
}
