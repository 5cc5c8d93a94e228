using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>Chat:TraceBytes: the server's log shows each connection's bytes, like Wireshark's bytes pane.</summary>
public sealed class TraceBytesTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task With_TraceBytes_the_log_has_a_hex_dump_of_what_came_in_and_went_out()
    {
        await using var server = ServerProcess.Start(("Chat__TraceBytes", "true"));
        var (chat, _) = await server.WaitUntilListeningAsync(Deadline);
        await using (var alice = await ChatTestClient.JoinAsync(chat, "alice"))
        {
            await alice.SendLineAsync("привет");
        }

        var log = await server.WaitForOutputAsync("disconnected", Deadline);

        Assert.Contains("KestrelChat.Wire: WriteAsync[4]", log, StringComparison.Ordinal);
        Assert.Contains("4E 49 43 4B", log, StringComparison.Ordinal); // NICK
        Assert.Contains("D0 BF D1 80 D0 B8 D0 B2 D0 B5 D1 82", log.Replace("  ", " ", StringComparison.Ordinal), StringComparison.Ordinal); // привет in UTF-8
    }

    [Fact]
    public async Task By_default_no_bytes_are_logged()
    {
        await using var server = ServerProcess.Start();
        var (chat, _) = await server.WaitUntilListeningAsync(Deadline);
        await using (var alice = await ChatTestClient.JoinAsync(chat, "alice"))
        {
            await alice.SendLineAsync("привет");
        }

        var log = await server.WaitForOutputAsync("disconnected", Deadline);

        Assert.DoesNotContain("KestrelChat.Wire", log, StringComparison.Ordinal);
        Assert.DoesNotContain("4E 49 43 4B", log, StringComparison.Ordinal);
    }
}
