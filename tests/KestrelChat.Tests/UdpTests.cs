using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace KestrelChat.Tests;

/// <summary>
/// The chat over UDP (Chat:Udp:Port), with real UDP sockets as `nc -u` uses them: one datagram a line, an address
/// that must show it receives before it gets anything but its code, and silence as the only way a client leaves.
/// </summary>
public sealed class UdpTests : IAsyncLifetime
{
    private ChatServer Server { get; set; } = null!;

    public Task InitializeAsync()
    {
        Server = ChatServer.Start(("Chat:Udp:Port", "0"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();

    [Fact]
    public async Task A_UDP_user_and_a_TCP_user_chat_both_ways_in_Cyrillic_and_clients_shows_the_transport_and_endpoint()
    {
        using var udp = await UdpChatClient.JoinAsync(Server.UdpEndPoint, "вера");
        await using var tcp = await Server.JoinAsync("bob");
        await udp.ReceiveUntilAsync(l => l == "* bob joined the chat.");

        await udp.SendAsync("привет, bob");
        Assert.Equal("вера: привет, bob", (await tcp.ReadLineUntilAsync(l => !l.StartsWith('*'))).Line);
        await tcp.SendLineAsync("hi вера, hello");
        Assert.Equal("bob: hi вера, hello", (await udp.ReceiveUntilAsync(l => !l.StartsWith('*'))).Line);
        await udp.SendAsync("/who");
        Assert.Equal("* In the chat (2): вера, bob", (await udp.ReceiveUntilAsync(l => l.StartsWith("* In", StringComparison.Ordinal))).Line);

        using var admin = Server.Admin();
        var clients = await admin.GetFromJsonAsync<JsonElement[]>("/clients");
        var client = Assert.Single(clients!, c => c.GetProperty("transport").GetString() == "udp");
        Assert.Equal("вера", client.GetProperty("nickname").GetString());
        Assert.Equal(udp.LocalEndPoint.ToString(), client.GetProperty("remoteEndPoint").GetString()); // its address and port: all it is
        Assert.Equal(0, client.GetProperty("udp").GetProperty("droppedIn").GetInt64());
        Assert.False(Assert.Single(clients!, c => c.GetProperty("transport").GetString() == "tcp").TryGetProperty("udp", out _));
    }

    [Fact]
    public async Task A_person_on_nc_gets_in_by_typing_back_the_code_they_were_sent()
    {
        using var udp = UdpChatClient.Open(Server.UdpEndPoint);

        await udp.SendAsync("alice"); // 6 bytes: room for an answer of 18
        var answer = await udp.ReceiveAsync();
        Assert.Matches(@"^\* Code: \d{6}$", answer);
        await udp.SendAsync("what do I do now?"); // 18 bytes: a fuller answer, the same code
        Assert.Equal($"* To join, send back: {UdpChatClient.Code(answer!)}", await udp.ReceiveAsync());

        await udp.SendAsync(UdpChatClient.Code(answer!));
        Assert.Equal("NICK", await udp.ReceiveAsync());
        await udp.SendAsync("alice");
        Assert.StartsWith("* Welcome, alice!", (await udp.ReceiveUntilAsync(l => l.StartsWith("* Welcome", StringComparison.Ordinal))).Line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_address_that_never_proves_it_receives_gets_one_answer_per_datagram_at_most_three_times_its_size_and_no_chat()
    {
        // The chat is busy meanwhile: none of it may reach the unproved address.
        await using var alice = await Server.JoinAsync("alice");
        await using var bob = await Server.JoinAsync("bob");
        using var forged = UdpChatClient.Open(Server.UdpEndPoint); // as if someone put this address on their datagrams
        using var other = UdpChatClient.Open(Server.UdpEndPoint);
        await other.SendAsync("my code, please");
        var othersCode = UdpChatClient.Code((await other.ReceiveAsync())!);

        int[] sizes = [1, 2, 4, 5, 10, 30, 39, 40, 100, 1000, 1400];
        var sent = new List<int>();
        foreach (var size in sizes)
        {
            await forged.SendRawAsync(Encoding.ASCII.GetBytes(new string('x', size)));
            sent.Add(size);
            await alice.SendLineAsync($"chat line {size}");
        }
        await forged.SendAsync(othersCode); // another address's code lets nobody in
        sent.Add(othersCode.Length + 1);
        await forged.SendAsync("000000");
        sent.Add(7);
        await bob.ReadLineUntilAsync(l => l == "alice: chat line 1400");
        using var admin = Server.Admin();
        // Every datagram is accounted for (answered or too short for any answer) once the counts say so.
        await Poll.UntilAsync(async () => Proofs(await admin.GetStringAsync("/metrics")), counts => counts.Answered + counts.Unanswered >= sent.Count + 1);

        var answers = forged.Drain();
        Assert.True(answers.Count <= sent.Count, $"{answers.Count} answers to {sent.Count} datagrams");
        Assert.True(answers.Sum(a => a.Length) <= 3 * sent.Sum(), $"{answers.Sum(a => a.Length)} bytes back for {sent.Sum()}");
        foreach (var answer in answers)
        {
            var text = Encoding.UTF8.GetString(answer);
            Assert.Matches(@"^\* (Code: |To join, send back: |KestrelChat over UDP\. To join, send back this code: )\d{6}", text);
            Assert.DoesNotContain("chat line", text, StringComparison.Ordinal);
        }
        // The 1-, 2- and 4-byte datagrams got nothing: no answer fits in 3, 6 or 12 bytes.
        Assert.Equal(sent.Count(s => s >= 5), answers.Count);
        var json = await admin.GetStringAsync("/clients");
        Assert.DoesNotContain("\"udp\"", json, StringComparison.Ordinal); // and it is no client
    }

    [Fact]
    public async Task A_silent_UDP_client_is_warned_a_minute_before_and_removed_after_five_minutes_and_an_empty_datagram_keeps_it()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = ChatServer.Start(clock, ("Chat:Udp:Port", "0"));
        using var udp = await UdpChatClient.JoinAsync(server.UdpEndPoint, "alice");
        await using var tcp = await server.JoinAsync("bob");
        await udp.ReceiveUntilAsync(l => l == "* bob joined the chat.");
        using var admin = server.Admin();

        clock.Advance(TimeSpan.FromSeconds(241));
        Assert.Equal("* No datagram from you for 4 minutes: UDP has no connection, so silence is how a client leaves. You will be removed in 60 s unless you send something (an empty line will do).",
            await udp.ReceiveAsync());
        await udp.SendAsync(""); // nc: Enter on an empty line
        await Poll.UntilAsync(async () => Silent(await admin.GetStringAsync("/clients")), seconds => seconds < 1);

        clock.Advance(TimeSpan.FromSeconds(100)); // past the first deadline: still in
        await udp.SendAsync("/who");
        Assert.Equal("* In the chat (2): alice, bob", (await udp.ReceiveUntilAsync(l => l.StartsWith("* In", StringComparison.Ordinal))).Line);

        clock.Advance(TimeSpan.FromSeconds(241));
        await udp.ReceiveUntilAsync(l => l.StartsWith("* No datagram", StringComparison.Ordinal));
        clock.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal("* Removed from the chat: no datagram for 5 minutes.", await udp.ReceiveAsync());
        Assert.Equal("* alice left the chat (no datagram for 5 minutes).", (await tcp.ReadLineUntilAsync(l => l.Contains("alice left", StringComparison.Ordinal))).Line);
    }

    [Fact]
    public async Task Quit_ends_a_UDP_client_with_Bye_and_the_address_must_prove_itself_again()
    {
        using var udp = await UdpChatClient.JoinAsync(Server.UdpEndPoint, "alice");
        await using var tcp = await Server.JoinAsync("bob");

        await udp.SendAsync("/quit");
        await udp.ReceiveUntilAsync(l => l == "* Bye!");
        Assert.Equal("* alice left the chat.", (await tcp.ReadLineUntilAsync(l => l.Contains("alice", StringComparison.Ordinal))).Line);
        using var admin = Server.Admin();
        await Poll.UntilAsync(() => admin.GetStringAsync("/clients"), json => !json.Contains("\"udp\"", StringComparison.Ordinal));

        await udp.SendAsync("hello again, anyone?");
        Assert.Matches(@"^\* To join, send back: \d{6}$", await udp.ReceiveAsync()); // a stranger again: only the code
    }

    [Fact]
    public async Task The_same_limits_as_TCP_a_line_too_long_is_refused_and_the_client_goes_on_and_an_address_over_its_limit_is_told()
    {
        using var udp = await UdpChatClient.JoinAsync(Server.UdpEndPoint, "alice");
        await udp.SendAsync(new string('x', 5000));
        Assert.Equal("! Line rejected: longer than 4096 bytes.", (await udp.ReceiveUntilAsync(l => l.StartsWith('!'))).Line);
        await udp.SendAsync("bad \u202E bidi");
        Assert.StartsWith("! Line rejected: it contains a character that reorders text", (await udp.ReceiveUntilAsync(l => l.StartsWith('!'))).Line, StringComparison.Ordinal);
        await udp.SendAsync("/who");
        Assert.Equal("* In the chat (1): alice", (await udp.ReceiveUntilAsync(l => l.StartsWith("* In", StringComparison.Ordinal))).Line);

        await using var limited = ChatServer.Start(("Chat:Udp:Port", "0"), ("Chat:Limits:MaxConnectionsPerIp", "1"));
        await using var tcp = await limited.JoinAsync("bob"); // 127.0.0.1's one connection
        using var second = UdpChatClient.Open(limited.UdpEndPoint);
        await second.SendAsync("hello, server");
        await second.SendAsync(UdpChatClient.Code((await second.ReceiveAsync())!));
        Assert.Equal("! Too many connections from your address (at most 1). Close one and try again.", await second.ReceiveAsync());
    }

    [Fact]
    public async Task A_line_too_long_for_one_datagram_goes_as_several_of_at_most_1200_bytes_split_between_characters()
    {
        using var udp = await UdpChatClient.JoinAsync(Server.UdpEndPoint, "alice");
        await using var tcp = await Server.JoinAsync("bob");
        await udp.ReceiveUntilAsync(l => l == "* bob joined the chat.");

        var text = string.Concat(Enumerable.Repeat("жё", 1000)) + " end"; // 4,004 bytes
        await tcp.SendLineAsync(text);

        var parts = new List<byte[]>();
        var received = new StringBuilder();
        while (!received.ToString().EndsWith(" end", StringComparison.Ordinal))
        {
            var datagram = await udp.ReceiveRawAsync() ?? throw new TimeoutException($"had {parts.Count} parts");
            Assert.True(datagram.Length <= 1200, $"{datagram.Length} bytes");
            Assert.Equal((byte)'\n', datagram[^1]);
            var part = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(datagram, 0, datagram.Length - 1); // whole characters only
            parts.Add(datagram);
            received.Append(part);
        }
        Assert.Equal(4, parts.Count); // 4,010 bytes of line: 3 × 1,199 and the rest
        Assert.Equal("bob: " + text, received.ToString());
    }

    [Fact]
    public async Task The_admin_API_kicks_a_UDP_client_and_a_noisy_one_does_not_hold_up_the_others()
    {
        using var noisy = await UdpChatClient.JoinAsync(Server.UdpEndPoint, "noisy");
        using var alice = await UdpChatClient.JoinAsync(Server.UdpEndPoint, "alice");
        await using var tcp = await Server.JoinAsync("bob");

        // Flood control holds the noisy one's lines back (5 a second after a burst of 10); alice is read on.
        for (var i = 0; i < 300; i++)
        {
            await noisy.SendAsync($"noise {i}");
        }
        await alice.SendAsync("still heard");
        Assert.Equal("alice: still heard", (await tcp.ReadLineUntilAsync(l => l.StartsWith("alice:", StringComparison.Ordinal), TimeSpan.FromSeconds(5))).Line);

        using var admin = Server.Admin();
        var clients = await admin.GetFromJsonAsync<JsonElement[]>("/clients");
        var id = clients!.Single(c => c.GetProperty("nickname").GetString() == "noisy").GetProperty("id").GetString();
        (await admin.DeleteAsync($"/clients/{id}?reason=too%20loud")).EnsureSuccessStatusCode();
        await noisy.ReceiveUntilAsync(l => l == "! You were disconnected by an operator: too loud");
        await tcp.ReadLineUntilAsync(l => l == "* noisy left the chat.");
    }

    [Fact]
    public async Task The_UDP_chat_stops_cleanly_when_the_host_disposes_it_before_its_stop_has_finished()
    {
        // Under WebApplicationFactory the program's own RunAsync stops and disposes the host while the factory is
        // still stopping it: the listener's Dispose can come in the middle of its StopAsync.
        using var udp = await UdpChatClient.JoinAsync(Server.UdpEndPoint, "alice");
        var listener = Server.Services.GetRequiredService<KestrelChat.Udp.UdpChatListener>();

        listener.Dispose();
        await listener.StopAsync(CancellationToken.None); // threw ObjectDisposedException (its token source was gone)
        // and the stop the host makes at the end of the test runs again over it
    }

    private static (long Answered, long Unanswered) Proofs(string metrics)
    {
        long Count(string outcome) => metrics.Split('\n')
            .Where(l => l.StartsWith("kestrelchat_udp_address_proofs_total{", StringComparison.Ordinal) && l.Contains($"outcome=\"{outcome}\"", StringComparison.Ordinal))
            .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        return (Count("answered"), Count("unanswered"));
    }

    private static double Silent(string clients) =>
        JsonSerializer.Deserialize<JsonElement[]>(clients)!.Single(c => c.TryGetProperty("udp", out _)).GetProperty("udp").GetProperty("silentSeconds").GetDouble();
}
