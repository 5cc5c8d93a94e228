using System.Globalization;
using KestrelChat.Admin;
using KestrelChat.Chat;
using KestrelChat.Cluster;
using KestrelChat.History;
using KestrelChat.Hosting;
using KestrelChat.Udp;
using KestrelChat.Web;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Events;
using Serilog.Settings.Configuration;

// KestrelChat: one process, one Kestrel, two listeners — the chat on raw TCP and the admin API on HTTP
// (plus, with Chat:Tls:Port set, the same chat over TLS).
// See docs/architecture.md for the data path.
// The slim builder: the same configuration sources and Kestrel, without what this server never uses
// (HTTP/3 and QUIC, IIS, hosting-startup scans, configuration-bound HTTPS endpoints). Every listener,
// the TLS one included, is bound in code (KestrelEndpoints). Measured: 2.4 MB less at idle.
if (StartupProblems.AnswerCommandLine(args, Console.Out) is { } answered)
{
    return answered;
}
// Settings are read from the content root, which is the current directory unless that has no appsettings.json
// (`dotnet run` from the repository root, a binary started from elsewhere): then the directory of the binary.
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
{
    Args = args,
    ContentRootPath = File.Exists(Path.Combine(Environment.CurrentDirectory, "appsettings.json")) ? null : AppContext.BaseDirectory,
});

// Parsed leniently here: a value that is not true or false stops the start below, with a message, when the options are bound.
_ = bool.TryParse(builder.Configuration[$"{ChatOptions.Section}:{nameof(ChatOptions.TraceBytes)}"], out var traceBytes);
// The sinks that Serilog:WriteTo may name are given, so Serilog does not open every DLL beside the app
// to look for them (System.Reflection.Metadata, 2 MB of the idle process, for nothing).
var serilogSinks = new ConfigurationReaderOptions(typeof(ConsoleLoggerConfigurationExtensions).Assembly, typeof(FileLoggerConfigurationExtensions).Assembly);
builder.Services.AddSerilog((services, logger) => logger
    .ReadFrom.Configuration(builder.Configuration, serilogSinks)
    .MinimumLevel.Override(ChatOptions.WireLogCategory, traceBytes ? LogEventLevel.Debug : LogEventLevel.Fatal)
    .ReadFrom.Services(services)
    .Enrich.FromLogContext()
    .WriteTo.Console(formatProvider: CultureInfo.InvariantCulture, outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}"));

builder.Services.AddOptions<ChatOptions>().BindConfiguration(ChatOptions.Section).ValidateOnStart();
builder.Services.AddOptions<ChatTlsOptions>().BindConfiguration(ChatTlsOptions.Section).ValidateOnStart();
builder.Services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.Section).ValidateOnStart();
builder.Services.AddOptions<ChatLimitsOptions>().BindConfiguration(ChatLimitsOptions.Section).ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<ChatOptions>, ChatOptionsValidator>();
builder.Services.AddSingleton<IValidateOptions<ChatLimitsOptions>, ChatLimitsOptionsValidator>();
builder.Services.AddSingleton<IValidateOptions<ChatTlsOptions>, ChatTlsOptionsValidator>();
builder.Services.AddSingleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>();
builder.Services.AddOptions<WebOptions>().BindConfiguration(WebOptions.Section).ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<WebOptions>, WebOptionsValidator>();
builder.Services.AddOptions<UdpOptions>().BindConfiguration(UdpOptions.Section).ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<UdpOptions>, UdpOptionsValidator>();

// Chat idle connections must not hold the stop up: each closes within CloseFlushTimeout.
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(4));

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddChatBackplane();
builder.Services.AddChatHistory();
builder.Services.AddSingleton<ChatRegistry>();
builder.Services.AddSingleton(services => DescriptorBudget.Measure(
    services.GetRequiredService<IOptions<ChatLimitsOptions>>().Value.MaxConnections, services.GetRequiredService<IOptions<AdminOptions>>().Value.MaxConnections));
builder.Services.AddSingleton<ConnectionLimits>();
builder.Services.AddSingleton<ChatMetrics>();
builder.Services.AddSingleton<ChatCommands>();
builder.Services.AddSingleton<ChatConnectionHandler>(); // one for the chat's listeners and the web chat's /ws
builder.Services.AddSingleton<OperatorAttempts>();
builder.Services.AddSingleton<ConnectionChurn>();
builder.Services.AddSingleton<ChatShutdown>();
builder.Services.AddHostedService(services => services.GetRequiredService<ChatShutdown>());
builder.Services.AddSingleton<UdpChatListener>(); // Chat:Udp:Port: the same chat, a datagram a line
builder.Services.AddHostedService(services => services.GetRequiredService<UdpChatListener>());
builder.Services.AddSingleton<KestrelEndpoints>();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.ApplicationServices.GetRequiredService<KestrelEndpoints>().Configure(kestrel));
// A reconnect storm (thousands of clients at once after a restart) overflows Kestrel's default
// accept backlog of 512: the kernel completes those handshakes but Kestrel never sees them, and as
// the server speaks first ("NICK") those clients wait forever. The kernel caps it at somaxconn.
builder.WebHost.UseSockets(sockets => sockets.Backlog = KestrelEndpoints.ListenBacklog);
// Kestrel's socket buffers come from pools that give a burst's blocks back (Hosting/TrimmingMemoryPool.cs);
// the trimmer drops them each second and compacts the heap once the burst is over.
builder.Services.AddSingleton<TrimmingMemoryPoolFactory>();
builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>>(services => services.GetRequiredService<TrimmingMemoryPoolFactory>());
builder.Services.AddHostedService<MemoryTrimmer>();
// Registered after UseSockets, so Kestrel binds with it: the same socket transport, each listener behind its gate.
builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory, GatedListenerFactory>();
builder.Services.AddTcpKeepAlive();

builder.Services.AddProblemDetails();
// The admin API's JSON through serializers made at compile time only (Admin/ChatJsonContext.cs): no reflection,
// as the Native AOT build requires, and the same in the JIT-compiled server and its tests.
builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolver = ChatJsonContext.Default);
// Bad JSON, a wrong content type or a too-large body must answer 400/415/413, in every environment:
// in Development this defaults to true, and the exception would reach the exception handler as a 500.
builder.Services.Configure<RouteHandlerOptions>(routes => routes.ThrowOnBadRequest = false);
// The core of authentication only: an API key needs no cookies, so no Data Protection key ring either.
builder.Services.AddWebEncoders();
builder.Services.AddAuthenticationCore(auth =>
{
    auth.AddScheme<ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, displayName: null);
    auth.DefaultScheme = ApiKeyAuthenticationHandler.SchemeName;
});
builder.Services.AddAuthorization();
builder.Services.AddFailedKeyRateLimiter();
builder.Services.AddChatTelemetry();
builder.Services.AddAdminSwagger();

try
{
    var app = builder.Build();
    app.UseSerilogRequestLogging(requests =>
    {
        requests.MessageTemplate = "HTTP {RequestMethod} {RequestPath} from {RemoteAddress} responded {StatusCode} in {Elapsed:0.0} ms";
        requests.EnrichDiagnosticContext = static (log, http) => log.Set("RemoteAddress", http.Connection.RemoteIpAddress?.ToString());
        // Probes and scrapes come every few seconds from every load balancer: Debug, unless they fail.
        requests.GetLevel = static (http, _, error) =>
            error is not null || http.Response.StatusCode >= 500 ? LogEventLevel.Error
            : http.Response.StatusCode < 400 && (http.Request.Path.StartsWithSegments("/health") || http.Request.Path.StartsWithSegments("/metrics")) ? LogEventLevel.Debug
            : LogEventLevel.Information;
    });
    app.UseWebChat(); // its own listener, its own rules: the page and /ws only
    app.UseMiddleware<CrossSiteGuard>(); // before anything else answers: no web page gets in
    app.UseExceptionHandler();
    app.UseExplainedStatusCodePages();
    // Routing first, so the limiter sees which endpoints need the key; the limiter before
    // authentication, so a locked-out address gets 429 rather than another 401.
    app.UseRouting();
    app.UseRateLimiter();
    app.UseAuthentication();
    app.UseAuthorization();
    app.UseAdminSwagger();
    app.MapAdminEndpoints();
    app.MapDashboard();
    app.MapTelemetryEndpoints();
    StartupProblems.EnsurePortsFree(app.Services);
    await app.RunAsync().ConfigureAwait(false);
    return 0;
}
catch (Exception ex) when (StartupProblems.Describe(ex, builder.Configuration) is { } problem)
{
    // Bad configuration or a port in use: say exactly what is wrong and exit non-zero (systemd and Docker see the failure).
    await Console.Error.WriteLineAsync($"KestrelChat cannot start: {problem}").ConfigureAwait(false);
    return 1;
}

/// <summary>The entry point, public so tests can host it with WebApplicationFactory.</summary>
public partial class Program;
