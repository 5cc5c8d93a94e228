using System.Net;
using KestrelChat.Chat;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>
/// Binds Kestrel's two listeners: the chat (raw TCP through <see cref="ChatConnectionHandler"/>) and
/// the admin API (HTTP/1.1). Keeps the listen options so the bound ports, including ones Kestrel
/// chose for port 0, can be read back and logged.
/// </summary>
internal sealed partial class KestrelEndpoints(
    IOptions<ChatOptions> chat,
    IOptions<AdminOptions> admin,
    IHostApplicationLifetime lifetime,
    ILogger<KestrelEndpoints> logger)
{
    private ListenOptions? _chatListener;
    private ListenOptions? _adminListener;

    /// <summary>The chat's bound endpoint, once Kestrel has started.</summary>
    public IPEndPoint? Chat => lifetime.ApplicationStarted.IsCancellationRequested ? _chatListener?.IPEndPoint : null;

    /// <summary>The admin API's bound endpoint, once Kestrel has started.</summary>
    public IPEndPoint? Admin => lifetime.ApplicationStarted.IsCancellationRequested ? _adminListener?.IPEndPoint : null;

    public void Configure(KestrelServerOptions kestrel)
    {
        var chatOptions = chat.Value;
        var adminOptions = admin.Value;
        // Kestrel-wide, but only HTTP reads bodies: the chat's ConnectionHandler is not subject to it.
        kestrel.Limits.MaxRequestBodySize = AdminOptions.MaxRequestBodyBytes;
        kestrel.Listen(chatOptions.BindIPAddress, chatOptions.Port, listen =>
        {
            if (chatOptions.TraceBytes)
            {
                listen.UseConnectionLogging(ChatOptions.WireLogCategory);
            }
            listen.UseConnectionHandler<ChatConnectionHandler>();
            _chatListener = listen;
        });
        kestrel.Listen(adminOptions.EndPoint, listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            _adminListener = listen;
        });
        lifetime.ApplicationStarted.Register(LogBound);
    }

    private void LogBound()
    {
        LogChatListening(Chat?.ToString());
        LogAdminListening($"http://{Admin}", admin.Value.HasApiKey);
        if (!admin.Value.HasApiKey)
        {
            LogNoApiKey();
        }
        LogStarted();
    }

    [LoggerMessage(LogLevel.Information, "Chat listening on tcp://{ChatEndPoint}")]
    private partial void LogChatListening(string? chatEndPoint);

    [LoggerMessage(LogLevel.Information, "Admin API listening on {AdminUrl} (Swagger UI at /swagger; API key required: {KeyRequired})")]
    private partial void LogAdminListening(string adminUrl, bool keyRequired);

    // Kestrel's own "Now listening on: http://…" would call the chat port http, so these lines replace it.
    [LoggerMessage(LogLevel.Information, "KestrelChat started. Press Ctrl+C to stop (or POST /stop).")]
    private partial void LogStarted();

    [LoggerMessage(LogLevel.Warning, "Admin:ApiKey is not set: the admin API needs no key and therefore listens on loopback only. Set Admin:ApiKey to reach it from elsewhere.")]
    private partial void LogNoApiKey();
}
