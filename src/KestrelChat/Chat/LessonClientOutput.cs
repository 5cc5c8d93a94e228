using System.Net.Sockets;
using KestrelChat.Hosting;
using Microsoft.AspNetCore.Connections;

namespace KestrelChat.Chat;

/// <summary>
/// How the lesson's client is written to and closed, on its socket (what it is sent is
/// <see cref="Protocol.UnframedOutput"/>: one message per write, no LF, at most 1024 bytes).
/// <list type="bullet">
/// <item>Pacing: it prints each recv() as one message, so two server lines written back to back
/// (`* Stopping the server.`, then the shutdown notice) would show as one. Between two messages the
/// drain waits for a short gap, in which the client's receive loop, blocked in recv(), has long taken
/// the first, and for the client's TCP to acknowledge it (so that a lost and retransmitted segment
/// cannot arrive together with the next). A client that does not read at all still gets its messages
/// joined: nothing on the sending side can prevent that. The cost: at most 50 messages a second to
/// each such client (fewer over a round trip longer than the gap); a busier room fills its backlog
/// (Chat:Limits:SendQueueBytes), as for any slow reader.</item>
/// <item>The close: on end-of-stream it would print empty lines for ever, on a reset it prints
/// "An error occured!" and exits. So once the last line is acknowledged, the connection is reset.</item>
/// </list>
/// </summary>
internal static class LessonClientOutput
{
    public static readonly TimeSpan Gap = TimeSpan.FromMilliseconds(20);

    /// <summary>How long to wait for the acknowledgement before going on regardless (a peer that stopped reading).</summary>
    private static readonly TimeSpan AcknowledgementTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Awaited by the writer's drain after each message, given the bytes written so far.</summary>
    public static async Task BeforeNextMessageAsync(Socket socket, long bytesOut)
    {
        await Task.WhenAll(
            TcpDelivery.WaitUntilAcknowledgedAsync(socket, bytesOut, AcknowledgementTimeout),
            Task.Delay(Gap)).ConfigureAwait(false);
    }

    /// <summary>Once everything is written: waits until the client's TCP has acknowledged <paramref name="bytesOut"/>, then resets.</summary>
    public static async Task CloseAsync(ConnectionContext connection, Socket socket, long bytesOut)
    {
        await TcpDelivery.WaitUntilAcknowledgedAsync(socket, bytesOut, ChatShutdown.CloseFlushTimeout).ConfigureAwait(false);
        TcpDelivery.Reset(socket);
        connection.Abort(new ConnectionAbortedException("closed with a reset (unframed client)"));
    }
}
