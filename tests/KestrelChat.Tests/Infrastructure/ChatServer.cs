using System.Net;
using System.Net.Http.Headers;
using KestrelChat.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>
/// The real server in-process: real Kestrel (UseKestrel), the chat and the admin API on free
/// ports chosen by the OS and read back from the server itself.
/// </summary>
public sealed class ChatServer : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings = new()
    {
        ["Chat:Port"] = "0",
        ["Chat:BindAddress"] = "127.0.0.1",
        ["Admin:Url"] = "http://127.0.0.1:0",
        ["Chat:Web:Url"] = "http://127.0.0.1:0",
        ["Serilog:MinimumLevel:Default"] = "Warning",
    };

    private readonly string _historyFolder = Path.Combine(Path.GetTempPath(), "kestrelchat-tests", Guid.NewGuid().ToString("N"));

    private ChatServer(IEnumerable<KeyValuePair<string, string?>> settings)
    {
        // Each server its own history file, removed with it (a test that restarts a server passes its own path).
        _settings["Chat:History:Path"] = Path.Combine(_historyFolder, "history.db");
        foreach (var (key, value) in settings)
        {
            _settings[key] = value;
        }
        UseKestrel();
    }

    private TimeProvider? _time;
    private Action<IServiceCollection>? _services;

    /// <summary>Starts the server with some of its services replaced (a failing dependency).</summary>
    public static ChatServer Start(Action<IServiceCollection> services, params (string Key, string? Value)[] settings)
    {
        var server = new ChatServer(settings.Select(s => KeyValuePair.Create(s.Key, s.Value))) { _services = services };
        server.StartServer();
        return server;
    }

    /// <summary>Starts the server with <paramref name="time"/> as its clock (a FakeTimeProvider: time moves when the test says).</summary>
    public static ChatServer Start(TimeProvider time, params (string Key, string? Value)[] settings)
    {
        var server = new ChatServer(settings.Select(s => KeyValuePair.Create(s.Key, s.Value))) { _time = time };
        server.StartServer();
        return server;
    }

    public static ChatServer Start(params (string Key, string? Value)[] settings)
    {
        var server = new ChatServer(settings.Select(s => KeyValuePair.Create(s.Key, s.Value)));
        server.StartServer();
        return server;
    }

    private KestrelEndpoints Endpoints => Services.GetRequiredService<KestrelEndpoints>();

    public IPEndPoint ChatEndPoint => Reachable(Endpoints.Chat ?? throw new InvalidOperationException("The chat listener is not bound."));

    /// <summary>The TLS chat listener (Chat:Tls:Port); throws when the server has none.</summary>
    public IPEndPoint ChatTlsEndPoint => Reachable(Endpoints.ChatTls ?? throw new InvalidOperationException("The TLS chat listener is not bound (Chat:Tls:Port unset)."));

    public Uri AdminUri => new($"http://{Reachable(Endpoints.Admin!)}");

    /// <summary>The web chat's listener (Chat:Web:Url): the page at "/", the WebSocket at "/ws".</summary>
    public Uri WebUri => new($"http://{Reachable(Endpoints.Web ?? throw new InvalidOperationException("The web chat is off (Chat:Web:Url empty)."))}");

    /// <summary>The UDP chat (Chat:Udp:Port, off unless a test sets it).</summary>
    public IPEndPoint UdpEndPoint => Reachable(Services.GetRequiredService<Udp.UdpChatListener>().LocalEndPoint
        ?? throw new InvalidOperationException("The UDP chat is off (Chat:Udp:Port unset)."));

    public IHostApplicationLifetime Lifetime => Services.GetRequiredService<IHostApplicationLifetime>();

    public HttpClient Admin(string? apiKey = null)
    {
        var client = new HttpClient { BaseAddress = AdminUri, Timeout = TimeSpan.FromSeconds(10) };
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return client;
    }

    public Task<ChatTestClient> ConnectAsync() => ChatTestClient.ConnectAsync(ChatEndPoint);

    /// <summary>Connects, answers NICK and reads the welcome line.</summary>
    public Task<ChatTestClient> JoinAsync(string nickname) => ChatTestClient.JoinAsync(ChatEndPoint, nickname);

    /// <summary>Completes when the host has fully stopped, or throws after <paramref name="timeout"/>.</summary>
    public Task WaitForStopAsync(TimeSpan timeout)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Lifetime.ApplicationStopped.Register(() => stopped.TrySetResult());
        return stopped.Task.WaitAsync(timeout);
    }

    /// <summary>The history file this server writes (Chat:History:Path).</summary>
    public string HistoryPath => _settings["Chat:History:Path"]!;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try
        {
            Directory.Delete(_historyFolder, recursive: true);
        }
        catch (IOException)
        {
            // Not created (history off, another path) or still open: the temporary folder is cleaned by the system.
        }
    }

    /// <summary>A listener on 0.0.0.0 or :: is reached through loopback.</summary>
    private static IPEndPoint Reachable(IPEndPoint bound) =>
        bound.Address.Equals(IPAddress.Any) ? new IPEndPoint(IPAddress.Loopback, bound.Port)
        : bound.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(IPAddress.IPv6Loopback, bound.Port)
        : bound;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        if (_time is { } time)
        {
            builder.ConfigureTestServices(services => services.AddSingleton(time));
        }
        if (_services is { } configure)
        {
            builder.ConfigureTestServices(configure);
        }
    }
}
