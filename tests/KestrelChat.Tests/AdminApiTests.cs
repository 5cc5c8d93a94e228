using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>The admin API as an operator uses it with curl or Swagger UI.</summary>
public sealed class AdminApiTests
{
    private const string ApiKey = "test-key-0123456789abcdef";

    [Fact]
    public async Task Clients_lists_every_connection_with_the_endpoints_the_clients_own_sockets_have()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var unnamed = await server.ConnectAsync();
        await unnamed.ReadBytesAsync(4);
        await alice.SendLineAsync("/who");
        await alice.ReadLineAsync();
        using var admin = server.Admin();

        var clients = await admin.GetFromJsonAsync<JsonElement[]>("/clients");

        Assert.NotNull(clients);
        Assert.Equal(2, clients.Length);
        var a = Assert.Single(clients, c => c.GetProperty("nickname").GetString() == "alice");
        var u = Assert.Single(clients, c => c.GetProperty("nickname").ValueKind == JsonValueKind.Null);
        // The same pair ss shows: the server's remote is the client's local, and vice versa.
        Assert.Equal(alice.LocalEndPoint.ToString(), a.GetProperty("remoteEndPoint").GetString());
        Assert.Equal(alice.RemoteEndPoint.ToString(), a.GetProperty("localEndPoint").GetString());
        Assert.Equal(unnamed.LocalEndPoint.ToString(), u.GetProperty("remoteEndPoint").GetString());
        Assert.Equal("alice\n/who\n".Length, a.GetProperty("bytesIn").GetInt64());
        Assert.Equal(2, a.GetProperty("messagesIn").GetInt64());
        Assert.True(a.GetProperty("bytesOut").GetInt64() > 4);
        Assert.True(a.GetProperty("messagesOut").GetInt64() >= 3); // NICK, welcome, who
        Assert.True(a.GetProperty("isOperator").GetBoolean()); // loopback
        Assert.False(string.IsNullOrEmpty(a.GetProperty("id").GetString()));
        Assert.True(a.GetProperty("connectedAt").GetDateTimeOffset() <= DateTimeOffset.UtcNow);
        Assert.Equal(0, u.GetProperty("bytesIn").GetInt64());
    }

    [Fact]
    public async Task A_client_that_left_is_no_longer_listed()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        var bob = await server.JoinAsync("bob");
        using var admin = server.Admin();
        await bob.DisposeAsync();
        await alice.ReadLineUntilAsync(l => l == "* bob left the chat.");

        var clients = await admin.GetFromJsonAsync<JsonElement[]>("/clients");

        Assert.Equal(["alice"], clients!.Select(c => c.GetProperty("nickname").GetString()));
    }

    [Fact]
    public async Task With_a_key_set_requests_without_it_or_with_a_wrong_one_get_401_ProblemDetails()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey));
        using var anonymous = server.Admin();
        using var wrong = server.Admin("test-key-0123456789abcdeX");

        var missing = await anonymous.GetAsync("/clients");
        var bad = await wrong.GetAsync("/clients");
        var stop = await anonymous.PostAsync("/stop", null);

        foreach (var response in new[] { missing, bad, stop })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(401, problem.GetProperty("status").GetInt32());
        }
        Assert.False(server.Lifetime.ApplicationStopping.IsCancellationRequested);
    }

    [Fact]
    public async Task With_a_key_set_the_key_works_as_X_Api_Key_or_as_a_Bearer_token()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey));
        using var header = server.Admin(ApiKey);
        using var bearer = server.Admin();
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);

        Assert.Equal(HttpStatusCode.OK, (await header.GetAsync("/clients")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await bearer.GetAsync("/clients")).StatusCode);
    }

    [Fact]
    public async Task Health_and_Swagger_UI_need_no_key_and_the_document_offers_the_key()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey));
        using var anonymous = server.Admin();

        var health = await anonymous.GetAsync("/health");
        var ui = await anonymous.GetAsync("/swagger/index.html");
        var document = await anonymous.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("Healthy", await health.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, ui.StatusCode);
        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey");
        Assert.Equal("apiKey", scheme.GetProperty("type").GetString());
        Assert.Equal("X-Api-Key", scheme.GetProperty("name").GetString());
        var paths = document.GetProperty("paths");
        Assert.True(paths.GetProperty("/clients").GetProperty("get").TryGetProperty("security", out _));
        Assert.True(paths.GetProperty("/stop").GetProperty("post").TryGetProperty("security", out _));
    }

    [Fact]
    public async Task Without_a_key_the_admin_API_on_loopback_needs_none()
    {
        await using var server = ChatServer.Start();
        using var anonymous = server.Admin();

        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/clients")).StatusCode);
    }
}
