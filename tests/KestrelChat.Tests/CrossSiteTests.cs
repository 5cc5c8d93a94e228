using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>
/// Web pages against the admin API: a page from another site must not stop the server or read the
/// client list, through the operator's browser, a loopback port or an SSH tunnel. curl is unaffected.
/// </summary>
public sealed class CrossSiteTests
{
    private const string ApiKey = "cross-site-key-0123456789";

    [Fact]
    public async Task A_page_on_another_site_in_Chromium_cannot_stop_the_server_with_a_no_cors_POST()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var chromium = await HeadlessChromium.LaunchAsync();
        var page = await chromium.Browser.NewPageAsync();
        // Another site's page, served from this machine on another port (a student's web project, a dev
        // server, a page through a tunnel): a real HTTP server, so Chromium lets the page reach loopback.
        using var attacker = new HttpListener();
        var attackerPort = FreePort();
        attacker.Prefixes.Add($"http://127.0.0.1:{attackerPort}/");
        attacker.Start();
        var serving = ServeOnePageAsync(attacker, "<p>cute cats</p>");
        await page.GotoAsync($"http://127.0.0.1:{attackerPort}/");
        await serving;

        var stop = new Uri(server.AdminUri, "stop").ToString();
        Assert.Equal("sent", await page.EvaluateAsync<string>(
            "url => fetch(url, { method: 'POST', mode: 'no-cors' }).then(() => 'sent', e => String(e))", stop));

        // The answer has arrived (fetch resolved); the server is still up and the chat goes on.
        using var admin = server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/health")).StatusCode);
        Assert.False(server.Lifetime.ApplicationStopping.IsCancellationRequested, "POST /stop from another site stopped the server");
        await using var bob = await server.JoinAsync("bob");
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static async Task ServeOnePageAsync(HttpListener listener, string html)
    {
        var context = await listener.GetContextAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var body = System.Text.Encoding.UTF8.GetBytes(html);
        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.OutputStream.WriteAsync(body);
        context.Response.Close();
    }

    [Theory]
    [InlineData(null)]
    [InlineData(ApiKey)]
    public async Task A_POST_stop_with_a_foreign_Origin_is_refused_403_with_or_without_a_key(string? key)
    {
        await using var server = key is null ? ChatServer.Start() : ChatServer.Start(("Admin:ApiKey", key));
        using var admin = server.Admin(key);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/stop") { Content = new StringContent("x") };
        request.Headers.Add("Origin", "http://attacker.example");

        var response = await admin.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("other origins", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.False(server.Lifetime.ApplicationStopping.IsCancellationRequested);
    }

    [Fact]
    public async Task Without_a_key_a_request_for_a_non_loopback_Host_name_is_refused_so_DNS_rebinding_reads_nothing()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        using var admin = server.Admin();
        using var rebound = new HttpRequestMessage(HttpMethod.Get, "/clients");
        rebound.Headers.Host = $"attacker.example:{server.AdminUri.Port}";

        var response = await admin.SendAsync(rebound);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain("alice", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        foreach (var host in new[] { "localhost", "127.0.0.1", "[::1]", "LocalHost" })
        {
            using var local = new HttpRequestMessage(HttpMethod.Get, "/clients");
            local.Headers.Host = $"{host}:{server.AdminUri.Port}";
            var ok = await admin.SendAsync(local);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Contains("alice", await ok.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task With_a_key_any_Host_name_is_served_and_the_own_Origin_is_accepted()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey));
        using var admin = server.Admin(ApiKey);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/clients");
        request.Headers.Host = "chat.example.org:8080";
        request.Headers.Add("Origin", "http://chat.example.org:8080");

        Assert.Equal(HttpStatusCode.OK, (await admin.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task A_plain_curl_POST_stop_still_stops_the_server()
    {
        await using var server = ChatServer.Start();

        var stopping = new TaskCompletionSource();
        using var registration = server.Lifetime.ApplicationStopping.Register(stopping.SetResult);
        using var curl = Process.Start(new ProcessStartInfo("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", new Uri(server.AdminUri, "stop").ToString()])
        {
            RedirectStandardOutput = true,
        })!;
        var status = await curl.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("202", status.Trim());
        await stopping.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
