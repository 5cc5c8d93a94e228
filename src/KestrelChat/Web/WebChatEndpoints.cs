using System.Net;
using KestrelChat.Chat;
using KestrelChat.Hosting;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;

namespace KestrelChat.Web;

/// <summary>
/// The web chat's listener (Chat:Web:Url) answers only this: the page and its files at "/", and the WebSocket at
/// "/ws". Nothing of the admin API is reachable through it, and nothing of this through the admin listener.
/// </summary>
internal static partial class WebChatEndpoints
{
    /// <summary>The page's files, beside the program (src/KestrelChat/web: plain HTML, CSS and JavaScript).</summary>
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "web");

    public static void UseWebChat(this WebApplication app)
    {
        var endpoints = app.Services.GetRequiredService<KestrelEndpoints>();
        // The WebSockets' pipes and frames: blocks kept while in demand, as Kestrel's own are (Hosting/TrimmingMemoryPool.cs).
        var pools = app.Services.GetRequiredService<TrimmingMemoryPoolFactory>();
        var memory = new WebSocketConnection.Memory(pools.Create(), pools.Create(WebSocketConnection.FrameBlockBytes));
        app.MapWhen(context => endpoints.IsWebChat(context.Connection.LocalPort), web =>
        {
            var files = new PhysicalFileProvider(Root);
            web.Use((context, next) =>
            {
                if (context.Request.Path == "/ws")
                {
                    UpgradedStream.Features.Install(context); // before the WebSocket middleware reads the features
                }
                return next(context);
            });
            web.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
            web.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            web.UseStaticFiles(new StaticFileOptions
            {
                FileProvider = files,
                OnPrepareResponse = file =>
                {
                    // The page is the application: no other site may frame it, and it runs only its own scripts.
                    file.Context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'";
                    file.Context.Response.Headers.XContentTypeOptions = "nosniff";
                },
            });
            web.Run(context => context.Request.Path == "/ws" ? AcceptAsync(context, memory) : NotFoundAsync(context));
        });
    }

    private static Task NotFoundAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    private static async Task AcceptAsync(HttpContext context, WebSocketConnection.Memory memory)
    {
        var services = context.RequestServices;
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            await context.Response.WriteAsync("This is the chat's WebSocket: connect with a WebSocket client (wscat -c ws://HOST:PORT/ws) or open the page at /.\n").ConfigureAwait(false);
            return;
        }
        if (!IsAllowedOrigin(context, services.GetRequiredService<IOptions<WebOptions>>().Value))
        {
            // A page on another site cannot make a visitor's browser join the chat in its name.
            LogForeignOrigin(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(WebChatEndpoints).FullName!), context.Request.Headers.Origin.ToString());
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }
        var limits = services.GetRequiredService<ConnectionLimits>();
        var address = context.Connection.RemoteIpAddress;
        using var socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
        if (limits.TryAcquire(address, out _) is { } refusal)
        {
            // Told in a line, as on TCP, then closed: a browser cannot read the body of a refused handshake.
            await socket.SendAsync(refusal.AsMemory(0, refusal.Length - 1), System.Net.WebSockets.WebSocketMessageType.Text, true, context.RequestAborted).ConfigureAwait(false);
            await socket.CloseOutputAsync(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, null, context.RequestAborted).ConfigureAwait(false);
            return;
        }
        var slot = new ConnectionSlot(limits, address);
        try
        {
            var stream = context.Features.Get<UpgradedStream.Features>()?.Stream
                ?? throw new InvalidOperationException("the WebSocket was accepted without UpgradedStream.Features");
            await using var connection = new WebSocketConnection(socket, stream, memory, context.Connection.Id,
                new IPEndPoint(address ?? IPAddress.None, context.Connection.RemotePort),
                new IPEndPoint(context.Connection.LocalIpAddress ?? IPAddress.None, context.Connection.LocalPort));
            connection.Features.Set(slot);
            await connection.RunAsync(services.GetRequiredService<ChatConnectionHandler>()).ConfigureAwait(false);
        }
        finally
        {
            slot.Release();
        }
    }

    /// <summary>No Origin (not a browser: wscat, a program), the page's own origin, or one in Chat:Web:AllowedOrigins.</summary>
    private static bool IsAllowedOrigin(HttpContext context, WebOptions options)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return true;
        }
        var own = $"{context.Request.Scheme}://{context.Request.Host}";
        return string.Equals(origin, own, StringComparison.OrdinalIgnoreCase)
            || options.AllowedOrigins.Any(o => string.Equals(o.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase));
    }

    [LoggerMessage(LogLevel.Warning, "WebSocket refused: a page from {Origin} tried to open the chat (Chat:Web:AllowedOrigins lets other sites in)")]
    private static partial void LogForeignOrigin(ILogger logger, string origin);
}
