using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>DELETE /clients/{id} and POST /broadcast, as an operator uses them and as the chat clients see them.</summary>
public sealed class OperatorToolsTests
{
    private const string ApiKey = "test-key-0123456789abcdef";
    private const string Prompt = "* Welcome to KestrelChat! Please type a nickname and press Enter.";

    [Fact]
    public async Task Kick_with_a_reason_shows_it_as_the_last_line_then_closes_and_the_others_see_the_leave()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey));
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());
        using var admin = server.Admin(ApiKey);

        var response = await admin.DeleteAsync($"/clients/{await IdOfAsync(admin, "alice")}?reason=spamming");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(["! You were disconnected by an operator: spamming"], await alice.ReadToEndAsync());
        Assert.Equal("* alice left the chat.", await bob.ReadLineAsync());
        var clients = await admin.GetFromJsonAsync<JsonElement[]>("/clients");
        Assert.Equal(["bob"], clients!.Select(c => c.GetProperty("nickname").GetString()));
    }

    [Fact]
    public async Task Kick_by_nickname_in_any_case_and_script_disconnects_that_client()
    {
        await using var server = ChatServer.Start();
        await using var boris = await server.JoinAsync("Борис");
        await using var alice = await server.JoinAsync("alice");
        Assert.Equal("* alice joined the chat.", await boris.ReadLineAsync());
        using var admin = server.Admin();

        var response = await admin.DeleteAsync($"/clients/{Uri.EscapeDataString("борис")}?reason=flooding");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(["! You were disconnected by an operator: flooding"], await boris.ReadToEndAsync());
        Assert.Equal("* Борис left the chat.", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task Kick_without_a_reason_says_an_operator_disconnected_you()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        using var admin = server.Admin();

        var response = await admin.DeleteAsync($"/clients/{await IdOfAsync(admin, "alice")}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(["! You were disconnected by an operator."], await alice.ReadToEndAsync());
    }

    [Fact]
    public async Task Kicking_an_unknown_id_is_404_ProblemDetails()
    {
        await using var server = ChatServer.Start();
        using var admin = server.Admin();

        var response = await admin.DeleteAsync("/clients/NO-SUCH-ID");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(404, problem.GetProperty("status").GetInt32());
        Assert.Contains("NO-SUCH-ID", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_kick_reason_with_control_characters_is_400_and_the_client_stays()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        using var admin = server.Admin();

        var response = await admin.DeleteAsync($"/clients/{await IdOfAsync(admin, "alice")}?reason=%1B%5B31mfake");

        await AssertValidationProblemAsync(response, "reason");
        await alice.SendLineAsync("/who");
        Assert.Equal("* In the chat (1): alice", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task Kick_and_broadcast_need_the_key_when_one_is_set()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey));
        await using var alice = await server.JoinAsync("alice");
        using var operatorClient = server.Admin(ApiKey);
        using var anonymous = server.Admin();
        var id = await IdOfAsync(operatorClient, "alice");

        var kick = await anonymous.DeleteAsync($"/clients/{id}?reason=spamming");
        var broadcast = await anonymous.PostAsJsonAsync("/broadcast", new { text = "fake" });

        Assert.Equal(HttpStatusCode.Unauthorized, kick.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, broadcast.StatusCode);
        // Neither reached alice: she is still here, and the first line she gets is the real announcement.
        await operatorClient.PostAsJsonAsync("/broadcast", new { text = "real" });
        Assert.Equal("* Announcement: real", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task Broadcast_reaches_every_connection_named_or_not_in_any_script()
    {
        const string Text = "Сервер перезапустится в 22:00";
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());
        await using var unnamed = await server.ConnectAsync();
        Assert.Equal("NICK", await unnamed.ReadBytesAsync(4));
        using var admin = server.Admin();

        var response = await admin.PostAsJsonAsync("/broadcast", new { text = Text });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("recipients").GetInt32());
        Assert.Equal($"* Announcement: {Text}", await alice.ReadLineAsync());
        Assert.Equal($"* Announcement: {Text}", await bob.ReadLineAsync());
        // The unnamed connection may have been asked for a nickname in words first (after a second).
        var (line, skipped) = await unnamed.ReadLineUntilAsync(l => l.StartsWith("* Announcement", StringComparison.Ordinal));
        Assert.Equal($"* Announcement: {Text}", line);
        Assert.All(skipped, l => Assert.Contains(l, new[] { "", Prompt }));
    }

    [Fact]
    public async Task Broadcast_text_must_be_a_valid_chat_line_else_400_naming_text_and_nothing_is_sent()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        using var admin = server.Admin();
        // 2049 Cyrillic letters: fewer characters than MaxLineBytes (4096), but 4098 UTF-8 bytes.
        object[] bodies = [new { text = "" }, new { text = "   " }, new { }, new { text = "\u001b[31mred" },
            new { text = "a\nb" }, new { text = new string('я', 2049) }];

        foreach (var body in bodies)
        {
            await AssertValidationProblemAsync(await admin.PostAsJsonAsync("/broadcast", body), "text");
        }

        await admin.PostAsJsonAsync("/broadcast", new { text = "after the bad ones" });
        Assert.Equal("* Announcement: after the bad ones", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task Swagger_documents_rooms_the_room_of_each_client_and_the_room_of_a_broadcast()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey));
        using var anonymous = server.Admin();

        var document = await anonymous.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");

        var rooms = document.GetProperty("paths").GetProperty("/rooms").GetProperty("get");
        Assert.Equal("Chat rooms", rooms.GetProperty("summary").GetString());
        Assert.True(rooms.GetProperty("security")[0].TryGetProperty("ApiKey", out _));
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.GetProperty("RoomInfo").GetProperty("properties").TryGetProperty("members", out _));
        Assert.True(schemas.GetProperty("ClientInfo").GetProperty("properties").TryGetProperty("room", out _));
        // Each field says what it means (the models' doc comments).
        Assert.StartsWith("Only to this room's members", schemas.GetProperty("BroadcastRequest").GetProperty("properties").GetProperty("room")
            .GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("The room the client is in", schemas.GetProperty("ClientInfo").GetProperty("properties").GetProperty("room")
            .GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Swagger_lists_kick_and_broadcast_with_the_key_requirement()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey));
        using var anonymous = server.Admin();

        var document = await anonymous.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");

        var paths = document.GetProperty("paths");
        foreach (var operation in new[] { paths.GetProperty("/clients/{id}").GetProperty("delete"), paths.GetProperty("/broadcast").GetProperty("post") })
        {
            Assert.Equal("Chat", operation.GetProperty("tags")[0].GetString());
            Assert.True(operation.GetProperty("security")[0].TryGetProperty("ApiKey", out _));
            Assert.True(operation.GetProperty("responses").TryGetProperty("401", out _));
        }
    }

    private static async Task<string> IdOfAsync(HttpClient admin, string nickname)
    {
        var clients = await admin.GetFromJsonAsync<JsonElement[]>("/clients");
        var client = Assert.Single(clients!, c => c.GetProperty("nickname").GetString() == nickname);
        return client.GetProperty("id").GetString()!;
    }

    private static async Task AssertValidationProblemAsync(HttpResponseMessage response, string field)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.NotEmpty(problem.GetProperty("errors").GetProperty(field).EnumerateArray());
    }

    [Fact]
    public async Task A_connection_still_at_NICK_gets_the_announcement_on_a_line_of_its_own()
    {
        await using var server = ChatServer.Start();
        await using var fresh = await server.ConnectAsync();
        Assert.Equal("NICK", await fresh.ReadBytesAsync(4));
        using var admin = server.Admin();

        (await admin.PostAsJsonAsync("/broadcast", new { text = "maintenance at 22:00" })).EnsureSuccessStatusCode();

        Assert.Equal("", await fresh.ReadLineAsync()); // the LF that ends "NICK", not "NICK* Announcement…"
        var (line, _) = await fresh.ReadLineUntilAsync(l => l.StartsWith('*') && !l.StartsWith("* Welcome", StringComparison.Ordinal));
        Assert.Equal("* Announcement: maintenance at 22:00", line);
    }
}
