using System.Net;
using KestrelChat.Chat;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>
/// Binds Kestrel's listeners: the chat (raw TCP through <see cref="ChatConnectionHandler"/>), the same
/// chat over TLS when Chat:Tls:Port is set, and the admin API (HTTP/1.1). Keeps the listen options so the
/// bound ports, including ones Kestrel chose for port 0, can be read back and logged.
/// </summary>
internal sealed partial class KestrelEndpoints(
    IOptions<ChatOptions> chat,
    IOptions<ChatTlsOptions> tls,
    IOptions<AdminOptions> admin,
    IOptions<WebOptions> web,
    DescriptorBudget budget,
    ConnectionLimits connectionLimits,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggerFactory,
    ILogger<KestrelEndpoints> logger) : IDisposable
{
    /// <summary>Connections the kernel may hold complete before Kestrel accepts them (capped by net.core.somaxconn, 4096 on current kernels).</summary>
    public const int ListenBacklog = 8192;

    private ListenOptions? _chatListener;
    private ListenOptions? _tlsListener;
    private ListenOptions? _adminListener;
    private ListenOptions? _webListener;
    private ServedCertificate? _certificate;
    private ConnectionGate? _chatGate;
    private ConnectionGate? _adminGate;

    /// <summary>The chat's bound endpoint, once Kestrel has started.</summary>
    public IPEndPoint? Chat => lifetime.ApplicationStarted.IsCancellationRequested ? _chatListener?.IPEndPoint : null;

    /// <summary>The TLS chat's bound endpoint, once Kestrel has started; null when Chat:Tls:Port is unset.</summary>
    public IPEndPoint? ChatTls => lifetime.ApplicationStarted.IsCancellationRequested ? _tlsListener?.IPEndPoint : null;

    /// <summary>The web chat's bound endpoint, once Kestrel has started; null when Chat:Web:Url is empty.</summary>
    public IPEndPoint? Web => lifetime.ApplicationStarted.IsCancellationRequested ? _webListener?.IPEndPoint : null;

    /// <summary>Whether a request came in through the web chat's listener (by the port it reached).</summary>
    public bool IsWebChat(int localPort) => _webListener?.IPEndPoint?.Port == localPort && localPort != 0;

    /// <summary>The admin API's bound endpoint, once Kestrel has started.</summary>
    public IPEndPoint? Admin => lifetime.ApplicationStarted.IsCancellationRequested ? _adminListener?.IPEndPoint : null;

    public void Configure(KestrelServerOptions kestrel)
    {
        var chatOptions = chat.Value;
        var adminOptions = admin.Value;
        // Kestrel-wide, but only HTTP reads bodies: the chat's ConnectionHandler is not subject to it.
        kestrel.Limits.MaxRequestBodySize = AdminOptions.MaxRequestBodyBytes;
        // Every listener accepts through a gate, and the gates together stay inside the descriptor budget.
        // The chat's gate holds a few more than MaxConnections, so those over it can still be told why.
        var gateLogger = loggerFactory.CreateLogger<ConnectionGate>();
        _chatGate = new ConnectionGate("Chat", budget.ChatConnections + DescriptorBudget.RefusalsInFlight, gateLogger) { NearDescriptorLimit = budget.NearLimit };
        _adminGate = new ConnectionGate("Admin API", budget.AdminConnections, gateLogger) { NearDescriptorLimit = budget.NearLimit };
        kestrel.Listen(new GatedEndPoint(new IPEndPoint(chatOptions.BindIPAddress(), chatOptions.Port), _chatGate), listen =>
        {
            listen.Use(connectionLimits.Middleware(tls: false));
            if (chatOptions.TraceBytes)
            {
                listen.UseConnectionLogging(ChatOptions.WireLogCategory);
            }
            listen.UseConnectionHandler<ChatConnectionHandler>();
            _chatListener = listen;
        });
        if (tls.Value is { Port: { } tlsPort } tlsOptions)
        {
            _certificate = ServedCertificate.Load(tlsOptions);
            kestrel.Listen(new GatedEndPoint(new IPEndPoint(chatOptions.BindIPAddress(), tlsPort), _chatGate), listen =>
            {
                // Connection middleware runs in the order added: the limits first, so a handshake counts;
                // then TLS, so the handler reads and writes plain text.
                listen.Use(connectionLimits.Middleware(tls: true));
                _certificate.Serve(listen);
                listen.UseConnectionHandler<ChatConnectionHandler>();
                _tlsListener = listen;
            });
        }
        if (web.Value is { Enabled: true } webOptions)
        {
            // Browsers' connections are chat connections: the chat's gate and limits (taken at /ws) apply.
            kestrel.Listen(new GatedEndPoint(webOptions.EndPoint(), _chatGate), listen =>
            {
                listen.Protocols = HttpProtocols.Http1; // WebSockets over HTTP/1.1: one connection, one upgrade
                if (webOptions.IsHttps)
                {
                    _certificate ??= ServedCertificate.Load(tls.Value);
                    _certificate.Serve(listen);
                }
                _webListener = listen;
            });
        }
        kestrel.Listen(new GatedEndPoint(adminOptions.EndPoint(), _adminGate), listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            _adminListener = listen;
        });
        lifetime.ApplicationStarted.Register(LogBound);
    }

    public void Dispose()
    {
        _chatGate?.Dispose();
        _adminGate?.Dispose();
    }

    private void LogBound()
    {
        LogChatListening(Chat?.ToString());
        if (ChatTls is { } tlsEndPoint && _certificate is not null)
        {
            var (subject, notAfter, fingerprint) = _certificate.Describe();
            LogChatTlsListening(tlsEndPoint.ToString(), subject, notAfter, fingerprint);
        }
        if (Web is { } webEndPoint)
        {
            var scheme = web.Value.IsHttps ? "https" : "http";
            LogWebListening($"{scheme}://{webEndPoint}", $"{(web.Value.IsHttps ? "wss" : "ws")}://{webEndPoint}/ws");
        }
        LogAdminListening($"http://{Admin}", admin.Value.HasApiKey);
        LogBudget(_chatGate!.Capacity - DescriptorBudget.RefusalsInFlight, _adminGate!.Capacity, budget.Limit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown",
            budget.OpenAtStart, budget.Reserve);
        if (budget.ChatConfigured is null && budget.ChatConnections < DescriptorBudget.DefaultChatConnections)
        {
            LogDefaultCapLowered(budget.ChatConnections, budget.Limit, DescriptorBudget.DefaultChatConnections, budget.LimitNeeded);
        }
        if (!admin.Value.HasApiKey)
        {
            LogNoApiKey();
        }
        if (!Protocol.Confusables.Available)
        {
            LogNoConfusables();
        }
        LogStarted();
    }

    [LoggerMessage(LogLevel.Information, "Chat listening on tcp://{ChatEndPoint}")]
    private partial void LogChatListening(string? chatEndPoint);

    [LoggerMessage(LogLevel.Information, "Chat (TLS) listening on tls://{ChatTlsEndPoint} (certificate {Subject}, valid until {NotAfter:yyyy-MM-dd}, SHA-256 {Fingerprint})")]
    private partial void LogChatTlsListening(string chatTlsEndPoint, string subject, DateTime notAfter, string fingerprint);

    [LoggerMessage(LogLevel.Information, "Connections: chat up to {Chat} (plain and TLS together), admin API up to {Admin}; open-files limit {Limit} ({Open} open at start, {Reserve} kept for files, Redis and logs)")]
    private partial void LogBudget(int chat, int admin, string limit, int open, int reserve);

    [LoggerMessage(LogLevel.Warning, "Chat:Limits:MaxConnections is {Chat}, not {DefaultCap}: the open-files limit ({Limit}) holds no more. Raise it to {Needed} (ulimit -n, LimitNOFILE) for the default.")]
    private partial void LogDefaultCapLowered(int chat, int? limit, int defaultCap, int needed);

    [LoggerMessage(LogLevel.Information, "Web chat listening on {WebUrl} (the page; the WebSocket at {WebSocketUrl})")]
    private partial void LogWebListening(string webUrl, string webSocketUrl);

    [LoggerMessage(LogLevel.Information, "Admin API listening on {AdminUrl} (Swagger UI at /swagger; API key required: {KeyRequired})")]
    private partial void LogAdminListening(string adminUrl, bool keyRequired);

    // Kestrel's own "Now listening on: http://…" would call the chat port http, so these lines replace it.
    [LoggerMessage(LogLevel.Information, "KestrelChat started. Press Ctrl+C to stop (or POST /stop).")]
    private partial void LogStarted();

    [LoggerMessage(LogLevel.Warning, "ICU's spoof checker (libicui18n) was not found: look-alike nicknames are told apart by case and NFKC only. Install libicu (the package .NET itself uses) to compare them as Unicode's UTS #39 does.")]
    private partial void LogNoConfusables();

    [LoggerMessage(LogLevel.Warning, "Admin:ApiKey is not set: the admin API needs no key and therefore listens on loopback only. Set Admin:ApiKey to reach it from elsewhere.")]
    private partial void LogNoApiKey();
}
