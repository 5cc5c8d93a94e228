using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>
/// The chat in a browser's terms, on a real Kestrel: the page at Chat:Web:Url, the WebSocket at /ws (one text
/// frame per line), chatting with a TCP client in the same room under the same rules.
/// </summary>
public sealed class WebChatTests : ServerPerTest
{
    [Fact]
    public async Task A_WebSocket_user_and_a_TCP_user_chat_both_ways_and_clients_shows_the_transport()
    {
        await using var web = await WebSocketChatClient.JoinAsync(Server.WebUri, "вера");
        await using var tcp = await Server.JoinAsync("bob");
        await web.ReadUntilAsync(l => l == "* bob joined the chat.");

        await web.SendAsync("привет, bob");
        Assert.Equal("вера: привет, bob", (await tcp.ReadLineUntilAsync(l => !l.StartsWith('*'))).Line);
        await tcp.SendLineAsync("hi вера <script>alert(1)</script>");
        Assert.Equal("bob: hi вера <script>alert(1)</script>", (await web.ReadUntilAsync(l => !l.StartsWith('*'))).Line);

        using var admin = Server.Admin();
        var clients = await admin.GetFromJsonAsync<JsonElement[]>("/clients");
        Assert.Equal([("вера", "ws"), ("bob", "tcp")], clients!.Select(c => (c.GetProperty("nickname").GetString(), c.GetProperty("transport").GetString())));

        await web.SendAsync("/quit");
        Assert.Equal("* Bye!", await web.ReadAsync());
        Assert.Null(await web.ReadAsync()); // then the close frame
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, web.CloseStatus);
        Assert.Equal("* вера left the chat.", await tcp.ReadLineAsync());
    }

    [Fact]
    public async Task The_same_rules_as_TCP_a_line_too_long_is_refused_and_the_connection_goes_on()
    {
        await using var web = await WebSocketChatClient.JoinAsync(Server.WebUri, "alice");

        await web.SendAsync(new string('x', 5000));
        Assert.Equal("! Line rejected: longer than 4096 bytes.", (await web.ReadUntilAsync(l => l.StartsWith('!'))).Line);
        await web.SendAsync("line one\nline two"); // LFs in a frame: that many lines
        await web.SendAsync("/who");
        Assert.Equal("* In the chat (1): alice", (await web.ReadUntilAsync(l => l.StartsWith("* In", StringComparison.Ordinal))).Line);
    }

    [Fact]
    public async Task A_page_from_another_site_cannot_open_the_WebSocket_the_pages_own_origin_can()
    {
        var foreign = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => WebSocketChatClient.ConnectAsync(Server.WebUri, origin: "http://evil.example"));
        Assert.Contains("403", foreign.Message, StringComparison.Ordinal);

        var own = $"http://{Server.WebUri.Authority}";
        await using var web = await WebSocketChatClient.ConnectAsync(Server.WebUri, origin: own);
        Assert.Equal("NICK", await web.ReadAsync(TimeSpan.FromMilliseconds(900))); // at once: before the nickname prompt (1 s)
    }

    [Fact]
    public async Task The_web_listener_serves_the_page_and_nothing_of_the_admin_API_and_the_admin_listener_no_page()
    {
        using var http = new HttpClient { BaseAddress = Server.WebUri };

        using var page = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<title>KestrelChat</title>", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("text/javascript", (await http.GetAsync("/chat.js")).Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/clients")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync("/stop", null)).StatusCode);
        Assert.Equal(HttpStatusCode.UpgradeRequired, (await http.GetAsync("/ws")).StatusCode);

        using var admin = Server.Admin();
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/chat.js")).StatusCode);
        Assert.True(Server.Lifetime.ApplicationStarted.IsCancellationRequested && !Server.Lifetime.ApplicationStopping.IsCancellationRequested);
    }
}

/// <summary>wscat, the npm package people use as a raw WebSocket client, against /ws: the web chat's nc.</summary>
public sealed class WscatTests : ServerPerTest
{
    [Fact]
    public async Task Wscat_chats_with_a_TCP_user_in_Cyrillic_and_Latin_and_quits_with_a_close()
    {
        await using var tcp = await Server.JoinAsync("bob");
        await using var wscat = LessonClientProcess.StartWscat(Server.WebUri);
        await wscat.ReadPrintedUntilAsync(l => l.EndsWith("NICK", StringComparison.Ordinal), TimeSpan.FromSeconds(15)); // connected

        wscat.Type("алиса");
        await wscat.ReadPrintedUntilAsync(l => l.Contains("* Welcome, алиса!", StringComparison.Ordinal), TimeSpan.FromSeconds(15));
        wscat.Type("привет, bob! hello");
        Assert.Equal("алиса: привет, bob! hello", (await tcp.ReadLineUntilAsync(l => !l.StartsWith('*'))).Line);
        await tcp.SendLineAsync("hi алиса");
        await wscat.ReadPrintedUntilAsync(l => l.EndsWith("bob: hi алиса", StringComparison.Ordinal), TimeSpan.FromSeconds(15));

        wscat.Type("/quit");
        await wscat.ReadPrintedUntilAsync(l => l.EndsWith("* Bye!", StringComparison.Ordinal), TimeSpan.FromSeconds(15));
        await Poll.UntilAsync(() => Task.FromResult(wscat.HasExited), exited => exited, TimeSpan.FromSeconds(15)); // the close frame ended it
        Assert.Equal("* алиса left the chat.", await tcp.ReadLineAsync());
    }
}
