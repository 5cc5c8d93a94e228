using System.Text;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>Chat:Limits: what one client may cost, and that the others never notice.</summary>
public sealed class LimitsTests
{
    [Fact]
    public async Task A_line_over_Chat_Limits_MaxLineBytes_is_refused_and_the_connection_goes_on()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MaxLineBytes", "64"));
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendLineAsync(new string('я', 33)); // 66 bytes
        await bob.SendLineAsync(new string('x', 64)); // exactly the limit

        Assert.Equal("! Line rejected: longer than 64 bytes.", await bob.ReadLineAsync());
        Assert.Equal($"bob: {new string('x', 64)}", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task More_than_four_times_the_limit_without_LF_disconnects_with_a_reason_and_the_others_go_on()
    {
        await using var server = ChatServer.Start(("Chat:Limits:MaxLineBytes", "64"));
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendAsync(Encoding.ASCII.GetBytes(new string('x', 100)));
        await bob.SendAsync(Encoding.ASCII.GetBytes(new string('x', 300)));

        Assert.Equal(["! Line rejected: longer than 64 bytes.", "! Disconnected: more than 256 bytes without a line end (LF)."],
            await bob.ReadToEndAsync());
        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());
        await using var carol = await server.JoinAsync("carol");
        Assert.Equal("* carol joined the chat.", await alice.ReadLineAsync());
    }

    [Theory]
    [InlineData("Chat:Limits:MaxLineBytes", "10", "Chat:Limits:MaxLineBytes must be 64–1048576")]
    [InlineData("Chat:Limits:SendQueueBytes", "100", "Chat:Limits:SendQueueBytes must be at least 65536")]
    public void Limits_out_of_range_stop_the_start_with_a_clear_message(string key, string value, string expected)
    {
        var error = Assert.ThrowsAny<Microsoft.Extensions.Options.OptionsValidationException>(() =>
        {
            using var server = ChatServer.Start((key, value));
        });

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
