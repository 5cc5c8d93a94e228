using System.Net;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>Stopping the server: who may, and what every client sees when it happens.</summary>
public sealed class StopTests
{
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData("стоп")]
    [InlineData("/stop")]
    public async Task A_non_operator_is_refused_and_nothing_happens(string command)
    {
        await using var server = ChatServer.Start(("Chat:LoopbackIsOperator", "false"));
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendLineAsync(command);

        Assert.Equal("! Only operators can stop the server (see /oper).", await bob.ReadLineAsync());
        Assert.False(server.Lifetime.ApplicationStopping.IsCancellationRequested);
        await bob.SendLineAsync("still running");
        Assert.Equal("bob: still running", await alice.ReadLineAsync());
        using var admin = server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/health")).StatusCode);
    }

    [Fact]
    public async Task Oper_with_the_right_password_lets_a_remote_style_client_stop_the_server()
    {
        await using var server = ChatServer.Start(("Chat:LoopbackIsOperator", "false"), ("Chat:OperatorPassword", "s3cret-пароль"));
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendLineAsync("/oper wrong");
        Assert.Equal("! Wrong operator password.", await bob.ReadLineAsync());
        await bob.SendLineAsync("/oper s3cret-пароль");
        Assert.Equal("* You are now an operator.", await bob.ReadLineAsync());
        var stopped = server.WaitForStopAsync(StopDeadline);
        await bob.SendLineAsync("стоп");

        Assert.Equal(["* Stopping the server.", "* Server is shutting down. Bye!"], await bob.ReadToEndAsync(StopDeadline));
        Assert.Equal(["* Server is shutting down. Bye!"], await alice.ReadToEndAsync(StopDeadline));
        await stopped;
    }

    [Fact]
    public async Task Oper_is_refused_when_no_password_is_configured()
    {
        await using var server = ChatServer.Start(("Chat:LoopbackIsOperator", "false"));
        await using var bob = await server.JoinAsync("bob");

        await bob.SendLineAsync("/oper anything");

        Assert.Equal("! Operator login is disabled on this server (Chat:OperatorPassword is not set).", await bob.ReadLineAsync());
    }

    [Fact]
    public async Task A_loopback_client_is_an_operator_by_default_and_stop_ends_every_connection()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var unnamed = await server.ConnectAsync();
        Assert.Equal("NICK", await unnamed.ReadBytesAsync(4));
        var stopped = server.WaitForStopAsync(StopDeadline);

        await alice.SendLineAsync("стоп");

        Assert.Equal(["* Stopping the server.", "* Server is shutting down. Bye!"], await alice.ReadToEndAsync(StopDeadline));
        Assert.Contains("* Server is shutting down. Bye!", await unnamed.ReadToEndAsync(StopDeadline));
        await stopped;
    }

    [Fact]
    public async Task Post_stop_answers_202_then_every_client_gets_the_notice_then_EOF_and_the_host_stops()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();
        using var admin = server.Admin();
        var chatEndPoint = server.ChatEndPoint;
        var stopped = server.WaitForStopAsync(StopDeadline);

        var response = await admin.PostAsync("/stop", content: null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(["* Server is shutting down. Bye!"], await alice.ReadToEndAsync(StopDeadline));
        Assert.Equal(["* Server is shutting down. Bye!"], await bob.ReadToEndAsync(StopDeadline));
        await stopped;
        // The listener is gone: connection refused.
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => ChatTestClient.ConnectAsync(chatEndPoint));
    }
}
