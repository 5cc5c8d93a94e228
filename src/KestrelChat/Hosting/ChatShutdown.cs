using KestrelChat.Chat;
using KestrelChat.Protocol;

namespace KestrelChat.Hosting;

/// <summary>
/// The one graceful stop. POST /stop, the chat's стоп, SIGTERM and Ctrl+C all end in
/// <see cref="IHostApplicationLifetime.StopApplication"/>; when the host starts stopping, every chat
/// client gets the shutdown notice and its connection closes once that line is flushed.
/// Without this, Kestrel would wait its whole shutdown timeout for idle chat connections.
/// </summary>
internal sealed partial class ChatShutdown : IHostedService
{
    /// <summary>How long a closing connection may take to flush its last lines before it is aborted.</summary>
    public static readonly TimeSpan CloseFlushTimeout = TimeSpan.FromSeconds(2);

    private readonly IHostApplicationLifetime _lifetime;
    private readonly ChatRegistry _registry;
    private readonly ILogger<ChatShutdown> _logger;
    private CancellationTokenRegistration _onStopping;

    public ChatShutdown(IHostApplicationLifetime lifetime, ChatRegistry registry, ILogger<ChatShutdown> logger)
    {
        _lifetime = lifetime;
        _registry = registry;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // ApplicationStopping fires before Kestrel stops, so the notices go out while it still serves.
        _onStopping = _lifetime.ApplicationStopping.Register(() =>
        {
            LogStopping(_registry.Connections.Count);
            _registry.CloseAll(ServerLines.ShuttingDown, "shutdown");
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _onStopping.DisposeAsync().AsTask();

    public bool IsStopping => _lifetime.ApplicationStopping.IsCancellationRequested;

    public CancellationToken Stopping => _lifetime.ApplicationStopping;

    /// <summary>Starts the graceful stop; <paramref name="requestedBy"/> goes to the log.</summary>
    public void Stop(string requestedBy)
    {
        LogStopRequested(requestedBy);
        _lifetime.StopApplication();
    }

    [LoggerMessage(LogLevel.Warning, "Stop requested by {RequestedBy}")]
    private partial void LogStopRequested(string requestedBy);

    [LoggerMessage(LogLevel.Information, "Shutting down: closing {Count} chat connection(s) with a notice")]
    private partial void LogStopping(int count);
}
