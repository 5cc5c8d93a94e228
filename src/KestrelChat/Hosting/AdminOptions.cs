using System.Net;
using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>The "Admin" section: the HTTP admin API (clients, kick, broadcast, stop, Swagger UI, health).</summary>
public sealed class AdminOptions
{
    public const string Section = "Admin";
    public const int MinApiKeyLength = 16;

    /// <summary>
    /// Largest admin request body Kestrel accepts (16 KiB; a larger one gets 413). The admin API only takes
    /// small JSON such as POST /broadcast's; the limit is Kestrel-wide, but the chat listener is raw TCP and unaffected.
    /// </summary>
    public const int MaxRequestBodyBytes = 16 * 1024;

    /// <summary>Admin API endpoint. Default "http://127.0.0.1:8080" (loopback only). Port 0 = any free port.</summary>
    public string Url { get; set; } = "http://127.0.0.1:8080";

    /// <summary>
    /// Admin API key. Default unset (an empty value counts as unset): the API then needs no key and may only listen on loopback.
    /// Set: every endpoint but /health and Swagger UI needs "X-Api-Key: KEY" or "Authorization: Bearer KEY".
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// Requests with a missing or wrong API key that one remote address may make per minute; past it, 429.
    /// Default 10; 0 = no limit. Requests with the right key are never limited, so guessing cannot lock the operator out.
    /// </summary>
    public int FailedKeyAttemptsPerMinute { get; set; } = 10;

    /// <summary>
    /// Requests with a missing or wrong API key that all addresses together may make per minute; past it, 429 for
    /// every such request. Default 100. Applies when <see cref="FailedKeyAttemptsPerMinute"/> is not 0; the right key is never limited.
    /// </summary>
    public int FailedKeyAttemptsPerMinuteTotal { get; set; } = 100;

    /// <summary>
    /// Admin API connections open at once. Default 100: operators, probes and a metrics scraper need a few;
    /// past it new connections wait in the kernel's backlog until one closes, so a flood of idle
    /// connections cannot take the process's file descriptors.
    /// </summary>
    public int MaxConnections { get; set; } = 100;

    internal bool HasApiKey => !string.IsNullOrEmpty(ApiKey);

    /// <summary>The address and port to bind; "localhost" means 127.0.0.1.</summary>
    internal IPEndPoint EndPoint() // a method: the configuration binder leaves it alone
    {
        var uri = new Uri(Url);
        var address = uri.IsLoopback && !IPAddress.TryParse(uri.Host.Trim('[', ']'), out _)
            ? IPAddress.Loopback
            : IPAddress.Parse(uri.Host.Trim('[', ']'));
        return new IPEndPoint(address, uri.Port);
    }
}

internal sealed class AdminOptionsValidator : IValidateOptions<AdminOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminOptions options)
    {
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp
            || uri.AbsolutePath != "/")
        {
            return ValidateOptionsResult.Fail(
                $"Admin:Url must look like http://127.0.0.1:8080 (http, an IP address or localhost, a port); it is '{options.Url}'.");
        }
        if (options.FailedKeyAttemptsPerMinuteTotal < 1)
        {
            return ValidateOptionsResult.Fail(
                $"Admin:FailedKeyAttemptsPerMinuteTotal must be at least 1; it is {options.FailedKeyAttemptsPerMinuteTotal}.");
        }
        if (options.FailedKeyAttemptsPerMinute < 0)
        {
            return ValidateOptionsResult.Fail(
                $"Admin:FailedKeyAttemptsPerMinute must be 0 (no limit) or more; it is {options.FailedKeyAttemptsPerMinute}.");
        }
        if (options.MaxConnections is < 1 or > 10000)
        {
            return ValidateOptionsResult.Fail($"Admin:MaxConnections must be 1–10000; it is {options.MaxConnections}.");
        }
        var host = uri.Host.Trim('[', ']');
        if (!IPAddress.TryParse(host, out var address) && !uri.IsLoopback)
        {
            return ValidateOptionsResult.Fail(
                $"Admin:Url must name an IP address (or localhost), not '{uri.Host}': use 0.0.0.0 to listen on every interface.");
        }
        if (options.HasApiKey && (string.IsNullOrWhiteSpace(options.ApiKey) || options.ApiKey!.Length < AdminOptions.MinApiKeyLength))
        {
            return ValidateOptionsResult.Fail(
                $"Admin:ApiKey must be at least {AdminOptions.MinApiKeyLength} characters (try `openssl rand -hex 32`).");
        }
        var isLoopback = address is null ? uri.IsLoopback : IPAddress.IsLoopback(address);
        if (!isLoopback && !options.HasApiKey)
        {
            return ValidateOptionsResult.Fail(
                $"Admin:Url {options.Url} is not a loopback address and Admin:ApiKey is not set. " +
                "Refusing to expose the admin API without a key: set Admin:ApiKey (env Admin__ApiKey), " +
                "or bind the admin API to 127.0.0.1.");
        }
        return ValidateOptionsResult.Success;
    }
}
