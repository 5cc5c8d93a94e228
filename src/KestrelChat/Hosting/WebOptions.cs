using System.Net;
using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>The "Chat:Web" section: the chat in a browser (a page and a WebSocket at /ws).</summary>
public sealed class WebOptions
{
    public const string Section = "Chat:Web";

    /// <summary>
    /// Where the web chat listens: "http://IP:PORT" (default http://0.0.0.0:8000), "https://…" with the
    /// certificate of Chat:Tls; empty = off. The page is at "/", the WebSocket at "/ws".
    /// </summary>
    public string? Url { get; set; } = "http://0.0.0.0:8000";

    /// <summary>
    /// Origins besides the page's own whose pages may open the WebSocket ("https://school.example"). A browser
    /// always sends its page's origin; a request without one (wscat, a program) is let in.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    internal bool Enabled => !string.IsNullOrWhiteSpace(Url);

    internal bool IsHttps => Enabled && new Uri(Url!).Scheme == Uri.UriSchemeHttps;

    internal IPEndPoint EndPoint() // a method: the configuration binder leaves it alone
    {
        var uri = new Uri(Url!);
        var address = uri.IsLoopback && uri.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(uri.Host.Trim('[', ']'));
        return new IPEndPoint(address, uri.Port);
    }
}

internal sealed class WebOptionsValidator(IOptions<ChatTlsOptions> tls) : IValidateOptions<WebOptions>
{
    public ValidateOptionsResult Validate(string? name, WebOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
            || uri.AbsolutePath != "/" || (uri.Host != "localhost" && !IPAddress.TryParse(uri.Host.Trim('[', ']'), out _)))
        {
            return ValidateOptionsResult.Fail(
                $"Chat:Web:Url must look like http://0.0.0.0:8000 (http or https, an IP address or localhost, a port; empty = off); it is '{options.Url}'.");
        }
        if (uri.Scheme == "https" && tls.Value.Port is null)
        {
            return ValidateOptionsResult.Fail(
                $"Chat:Web:Url {options.Url} is https: it uses the chat's certificate, so Chat:Tls (Port and a certificate) must be set too.");
        }
        foreach (var origin in options.AllowedOrigins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var allowed) || allowed.AbsolutePath != "/" || allowed.Scheme is not ("http" or "https"))
            {
                return ValidateOptionsResult.Fail($"Chat:Web:AllowedOrigins entries must be origins such as https://school.example; '{origin}' is not.");
            }
        }
        return ValidateOptionsResult.Success;
    }
}
