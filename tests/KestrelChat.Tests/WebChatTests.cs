using System.Buffers;
using System.Net.WebSockets;
using KestrelChat.Web;
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
    public async Task A_burst_of_lines_of_every_length_arrives_one_frame_per_line_whole_and_in_order()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MessagesPerSecond", "0")); // the burst as one read, no flood control
        await using var web = await WebSocketChatClient.JoinAsync(server.WebUri, "вера");
        await using var tcp = await server.JoinAsync("bob");
        await web.ReadUntilAsync(l => l == "* bob joined the chat.");

        // Around the frame header's sizes (a payload under 126 bytes, then a 16-bit length), Cyrillic (2 bytes a
        // letter) and the longest line: far more than one write's block, so the lines cross blocks.
        string[] texts = [.. Enumerable.Range(0, 200).Select(i => (i % 6) switch
        {
            0 => $"{i}",
            1 => $"{i} " + new string('x', 120 - 5 - $"{i} ".Length), // "bob: " + 120 - 5 = a 120-byte payload
            2 => $"{i} " + new string('y', 126 - 5 - $"{i} ".Length), // exactly 126: the first 16-bit length
            3 => $"{i} " + new string('ж', 500),
            4 => $"{i} " + new string('z', 4000),
            _ => $"{i} привет",
        })];
        await tcp.SendAsync(System.Text.Encoding.UTF8.GetBytes(string.Concat(texts.Select(t => t + "\n"))));

        foreach (var text in texts)
        {
            Assert.Equal("bob: " + text, (await web.ReadUntilAsync(l => !l.StartsWith('*'))).Line);
        }
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

/// <summary>The server's own framing of lines (Web/WebSocketConnection.cs), read back by .NET's standard WebSocket client.</summary>
public sealed class WebSocketFramingTests
{
    [Fact]
    public async Task Lines_of_every_header_size_framed_in_blocks_read_back_whole_through_a_standard_client()
    {
        // The header's three length forms and their edges; the longest lines need more than a block of their own.
        int[] sizes = [0, 1, 125, 126, 1000, 65535, 65536, 70000, 3];
        var lines = sizes.Select((size, i) => Enumerable.Range(0, size).Select(j => (byte)('a' + ((i + j) % 26))).ToArray()).ToArray();
        var written = lines.SelectMany(l => l.Append((byte)'\n')).Concat("partial"u8.ToArray()).ToArray();
        var pending = Segmented(written, segmentBytes: 999); // as a pipe hands them over: lines cross segments

        var wire = new MemoryStream();
        var blocks = 0;
        while (pending.PositionOf((byte)'\n') is not null)
        {
            var block = new byte[WebSocketConnection.FrameBlockBytes];
            var length = WebSocketConnection.FrameLines(ref pending, block);
            if (length == 0)
            {
                block = new byte[70000 + 10]; // what the sender rents for a line longer than a block
                length = WebSocketConnection.FrameLines(ref pending, block);
            }
            wire.Write(block, 0, length);
            blocks++;
        }
        Assert.Equal("partial"u8.ToArray(), pending.ToArray()); // an unfinished line waits for its LF
        Assert.True(blocks >= 5, $"{blocks} writes"); // the short lines share one; each of the 4 long ones its own

        wire.Position = 0;
        using var client = WebSocket.CreateFromStream(wire, new WebSocketCreationOptions { IsServer = false });
        var buffer = new byte[80000];
        foreach (var line in lines)
        {
            var received = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await client.ReceiveAsync(buffer.AsMemory(received), CancellationToken.None);
                received += result.Count;
            }
            while (!result.EndOfMessage);
            Assert.Equal(WebSocketMessageType.Text, result.MessageType);
            Assert.Equal(line, buffer[..received]);
        }
    }

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int segmentBytes)
    {
        var first = new Segment(bytes.AsMemory(0, Math.Min(segmentBytes, bytes.Length)), 0);
        var last = first;
        for (var at = segmentBytes; at < bytes.Length; at += segmentBytes)
        {
            last = last.Append(bytes.AsMemory(at, Math.Min(segmentBytes, bytes.Length - at)));
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
