using System.Net.WebSockets;
using System.Text;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>A WebSocket chat client, as a browser's page or wscat is: one text frame per line each way.</summary>
public sealed class WebSocketChatClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();

    public static async Task<WebSocketChatClient> ConnectAsync(Uri web, string? origin = null)
    {
        var client = new WebSocketChatClient();
        if (origin is not null)
        {
            client._socket.Options.SetRequestHeader("Origin", origin);
        }
        var ws = new UriBuilder(web) { Scheme = "ws", Path = "/ws" }.Uri;
        using var deadline = new CancellationTokenSource(ChatTestClient.DefaultTimeout);
        await client._socket.ConnectAsync(ws, deadline.Token);
        return client;
    }

    /// <summary>Connects and chooses <paramref name="nickname"/>; returns once the welcome has come.</summary>
    public static async Task<WebSocketChatClient> JoinAsync(Uri web, string nickname)
    {
        var client = await ConnectAsync(web);
        await client.SendAsync(nickname);
        await client.ReadUntilAsync(l => l.StartsWith("* Welcome, ", StringComparison.Ordinal));
        return client;
    }

    public WebSocketState State => _socket.State;

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public Task SendAsync(string line) => _socket.SendAsync(Encoding.UTF8.GetBytes(line), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>The next frame's text; null when the server closed.</summary>
    public async Task<string?> ReadAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? ChatTestClient.DefaultTimeout);
        var message = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            WebSocketReceiveResult result;
            try
            {
                result = await _socket.ReceiveAsync(buffer, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no frame within {timeout ?? ChatTestClient.DefaultTimeout}");
            }
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return Encoding.UTF8.GetString(message.ToArray());
            }
        }
    }

    /// <summary>Frames until one matches; returns it and the ones before it.</summary>
    public async Task<(string Line, List<string> Skipped)> ReadUntilAsync(Func<string, bool> match, TimeSpan? timeout = null)
    {
        var skipped = new List<string>();
        var until = DateTime.UtcNow + (timeout ?? ChatTestClient.DefaultTimeout);
        while (true)
        {
            var line = await ReadAsync(until - DateTime.UtcNow) ?? throw new EndOfStreamException($"closed; had {string.Join(" | ", skipped)}");
            if (match(line))
            {
                return (line, skipped);
            }
            skipped.Add(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, deadline.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                // The server is gone already.
            }
        }
        _socket.Dispose();
    }
}
