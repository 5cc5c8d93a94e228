using System.Net.Sockets;

namespace KestrelChat.Chat;

/// <summary>
/// The lesson's client prints each recv() as one message, so two server lines written back to back
/// (`* Stopping the server.`, then the shutdown notice) would show as one. Between two messages to
/// such a client the drain waits for a short gap, in which the client's receive loop, blocked in
/// recv(), has long taken the first, and for the client's TCP to acknowledge it (so that a lost and
/// retransmitted segment cannot arrive together with the next). A client that does not read at all
/// still gets its messages joined: nothing on the sending side can prevent that.
/// The cost: at most 50 messages a second to each unframed client (fewer over a round trip longer
/// than the gap); a busier room fills its backlog (Chat:Limits:SendQueueBytes), as for any slow reader.
/// </summary>
internal static class UnframedPacing
{
    public static readonly TimeSpan Gap = TimeSpan.FromMilliseconds(20);

    /// <summary>How long to wait for the acknowledgement before going on regardless (a peer that stopped reading).</summary>
    private static readonly TimeSpan AcknowledgementTimeout = TimeSpan.FromSeconds(2);

    public static async Task BeforeNextMessageAsync(Socket socket, long bytesOut)
    {
        await Task.WhenAll(
            TcpDelivery.WaitUntilAcknowledgedAsync(socket, bytesOut, AcknowledgementTimeout),
            Task.Delay(Gap)).ConfigureAwait(false);
    }
}
