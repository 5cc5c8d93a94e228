using System.Net;
using System.Net.Sockets;
using KestrelChat.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace KestrelChat.Tests;

/// <summary>Guessing secrets: the operator password over the chat, the admin API key over HTTP, from one address and from many.</summary>
public sealed class GuessingTests
{
    private const string Password = "s3cret-пароль";

    [Fact]
    public async Task Each_wrong_oper_after_the_first_makes_the_address_wait_twice_as_long_and_the_password_is_not_checked_meanwhile()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = ChatServer.Start(clock, ("Chat:LoopbackIsOperator", "false"), ("Chat:OperatorPassword", Password));
        await using var mallory = await server.JoinAsync("mallory");

        await mallory.SendLineAsync("/oper guess1");
        Assert.Equal("! Wrong operator password.", await mallory.ReadLineAsync());
        await mallory.SendLineAsync("/oper guess2");
        Assert.Equal("! Wrong operator password.", await mallory.ReadLineAsync());
        await mallory.SendLineAsync($"/oper {Password}"); // right, but within the wait: not even checked
        Assert.Equal("! Too many wrong operator passwords: try again in 1 seconds.", await mallory.ReadLineAsync());

        clock.Advance(TimeSpan.FromSeconds(1));
        await mallory.SendLineAsync("/oper guess3");
        Assert.Equal("! Wrong operator password.", await mallory.ReadLineAsync());
        await mallory.SendLineAsync("/oper guess4");
        Assert.Equal("! Too many wrong operator passwords: try again in 2 seconds.", await mallory.ReadLineAsync());

        clock.Advance(TimeSpan.FromSeconds(2));
        await mallory.SendLineAsync($"/oper {Password}");
        Assert.Equal("* You are now an operator.", await mallory.ReadLineAsync());
    }

    [Fact]
    public async Task Wrong_oper_passwords_from_many_addresses_hit_a_total_limit()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = ChatServer.Start(clock, ("Chat:LoopbackIsOperator", "false"), ("Chat:OperatorPassword", Password),
            ("Chat:Limits:MaxConnectionsPerIp", "1"));
        var clients = new List<ChatTestClient>();
        try
        {
            for (var i = 0; i < 30; i++)
            {
                var client = await JoinFromAsync(server.ChatEndPoint, IPAddress.Parse($"127.0.0.{i + 2}"), $"guesser{i}");
                clients.Add(client);
                await client.SendLineAsync($"/oper guess{i}");
                Assert.Equal("! Wrong operator password.", await client.ReadLineAsync());
            }
            var last = await JoinFromAsync(server.ChatEndPoint, IPAddress.Parse("127.0.0.40"), "guesser30");
            clients.Add(last);

            await last.SendLineAsync($"/oper {Password}");
            Assert.Equal("! Too many wrong operator passwords: try again in 60 seconds.", await last.ReadLineAsync());

            clock.Advance(TimeSpan.FromMinutes(1));
            await last.SendLineAsync($"/oper {Password}");
            Assert.Equal("* You are now an operator.", await last.ReadLineAsync());
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    private static async Task<ChatTestClient> JoinFromAsync(IPEndPoint server, IPAddress from, string nickname)
    {
        var client = await ChatTestClient.ConnectFromAsync(server, from);
        return await client.JoinAsAsync(nickname);
    }
}
