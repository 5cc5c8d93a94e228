using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>The admin API under abuse: key guessing is rate limited, and bad or oversized input never gets a 500.</summary>
public sealed class AdminHardeningTests
{
    private const string ApiKey = "test-key-0123456789abcdef";
    private const string WrongKey = "test-key-0123456789abcdeX";

    [Fact]
    public async Task Past_the_failed_key_limit_an_address_gets_429_yet_the_right_key_still_works()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey), ("Admin:FailedKeyAttemptsPerMinute", "3"));
        using var wrong = server.Admin(WrongKey);
        using var anonymous = server.Admin();
        using var right = server.Admin(ApiKey);

        var first = await wrong.GetAsync("/clients");
        var second = await anonymous.GetAsync("/clients"); // a missing key counts too
        var third = await wrong.DeleteAsync("/clients/x");
        var fourth = await wrong.GetAsync("/clients");

        Assert.All([first, second, third], r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        Assert.Equal(HttpStatusCode.TooManyRequests, fourth.StatusCode);
        Assert.True(fourth.Headers.RetryAfter?.Delta > TimeSpan.Zero, $"Retry-After: {fourth.Headers.RetryAfter}");
        Assert.Equal("application/problem+json", fourth.Content.Headers.ContentType?.MediaType);
        Assert.Equal(429, (await fourth.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
        // The operator is not locked out, and endpoints that need no key are not limited.
        Assert.Equal(HttpStatusCode.OK, (await right.GetAsync("/clients")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await wrong.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await wrong.GetAsync("/clients")).StatusCode);
    }

    [Fact]
    public async Task Wrong_keys_from_many_addresses_hit_the_total_limit_yet_the_right_key_still_works()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey), ("Admin:FailedKeyAttemptsPerMinute", "3"),
            ("Admin:FailedKeyAttemptsPerMinuteTotal", "5"));

        for (var i = 0; i < 5; i++)
        {
            using var guesser = From(server, $"127.0.0.{i + 2}", WrongKey);
            Assert.Equal(HttpStatusCode.Unauthorized, (await guesser.GetAsync("/clients")).StatusCode);
        }
        using var sixth = From(server, "127.0.0.20", WrongKey);
        var refused = await sixth.GetAsync("/clients");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero, $"Retry-After: {refused.Headers.RetryAfter}");
        using var operatorFromAfar = From(server, "127.0.0.21", ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await operatorFromAfar.GetAsync("/clients")).StatusCode);
    }

    /// <summary>An admin client whose connections come from <paramref name="address"/> (127.0.0.0/8), as from another machine.</summary>
    private static HttpClient From(ChatServer server, string address, string key)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellation) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellation);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var client = new HttpClient(handler) { BaseAddress = server.AdminUri, Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Add("X-Api-Key", key);
        return client;
    }

    [Fact]
    public async Task With_FailedKeyAttemptsPerMinute_0_wrong_keys_are_never_limited()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey), ("Admin:FailedKeyAttemptsPerMinute", "0"));
        using var wrong = server.Admin(WrongKey);

        for (var attempt = 0; attempt < 20; attempt++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/clients")).StatusCode);
        }
    }

    [Fact]
    public async Task Without_a_key_set_nothing_is_limited()
    {
        await using var server = ChatServer.Start(("Admin:FailedKeyAttemptsPerMinute", "1"));
        using var admin = server.Admin(WrongKey); // a key nobody asked for is ignored

        for (var attempt = 0; attempt < 5; attempt++)
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/clients")).StatusCode);
        }
    }

    [Fact]
    public async Task Malformed_wrong_type_and_oversized_bodies_get_ProblemDetails_never_500_and_send_nothing()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        using var admin = server.Admin();
        var oversized = JsonSerializer.Serialize(new { text = new string('x', 20 * 1024) });
        (HttpContent Body, HttpStatusCode Expected)[] cases =
        [
            (Json("""{"text":"""), HttpStatusCode.BadRequest),
            (Json("""{"text": 5}"""), HttpStatusCode.BadRequest),
            (Json("""{"text":"\ud800"}"""), HttpStatusCode.BadRequest), // an unpaired surrogate is not text
            (Json("null"), HttpStatusCode.BadRequest),
            (Json(""), HttpStatusCode.BadRequest),
            (new StringContent("""{"text":"hi"}""", Encoding.UTF8, "text/plain"), HttpStatusCode.UnsupportedMediaType),
            (Json(oversized), HttpStatusCode.RequestEntityTooLarge),
        ];

        foreach (var (body, expected) in cases)
        {
            var sent = await body.ReadAsStringAsync();
            using var response = await admin.PostAsync("/broadcast", body);
            var answer = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"{sent[..Math.Min(sent.Length, 40)]} → {(int)response.StatusCode} {answer}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(answer);
            Assert.Equal((int)expected, problem.RootElement.GetProperty("status").GetInt32());
            // It says what was expected: the content type, and the shape of the body.
            if (expected is HttpStatusCode.BadRequest or HttpStatusCode.UnsupportedMediaType)
            {
                Assert.True(problem.RootElement.TryGetProperty("detail", out var detailProperty), $"{sent} → {answer}");
                var detail = detailProperty.GetString();
                Assert.Contains(expected == HttpStatusCode.UnsupportedMediaType ? "Content-Type: application/json" : """{"text": "…", "room": "…"}""",
                    detail, StringComparison.Ordinal);
            }
        }

        await admin.PostAsJsonAsync("/broadcast", new { text = "after the bad ones" });
        Assert.Equal("* Announcement: after the bad ones", await alice.ReadLineAsync());
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
