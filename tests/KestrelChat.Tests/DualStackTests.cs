using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

public sealed class DualStackTests
{
    [Fact]
    public async Task Bound_to_IPv6_any_the_chat_takes_IPv6_and_IPv4_clients_and_lists_both()
    {
        await using var server = ChatServer.Start(("Chat:BindAddress", "::"));
        var port = server.ChatEndPoint.Port;
        await using var v6 = await ChatTestClient.JoinAsync(new IPEndPoint(IPAddress.IPv6Loopback, port), "six");
        await using var v4 = await ChatTestClient.JoinAsync(new IPEndPoint(IPAddress.Loopback, port), "four");

        await v4.SendLineAsync("hi from v4");

        Assert.Equal("* four joined the chat.", await v6.ReadLineAsync());
        Assert.Equal("four: hi from v4", await v6.ReadLineAsync());
        using var admin = server.Admin();
        var clients = await admin.GetFromJsonAsync<JsonElement[]>("/clients");
        Assert.Contains(clients!, c => c.GetProperty("remoteEndPoint").GetString() == v6.LocalEndPoint.ToString());
        Assert.Contains(clients!, c => c.GetProperty("remoteEndPoint").GetString()!.EndsWith($":{v4.LocalEndPoint.Port}", StringComparison.Ordinal));
    }
}
