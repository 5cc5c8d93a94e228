using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace KestrelChat.Codecs;

/// <summary>
/// Ending a connection with a reset (RST) instead of FIN, once the peer has what it was sent.
/// The lesson's Python client loops forever on end-of-stream and only stops on a reset; but a
/// reset discards unsent data, so first wait until the peer's TCP has acknowledged every byte.
/// </summary>
internal static class TcpDelivery
{
    private const int SolTcp = 6, TcpInfo = 11;
    private const int BytesAckedOffset = 120; // struct tcp_info.tcpi_bytes_acked (u64), linux/tcp.h

    /// <summary>Waits until the peer has acknowledged <paramref name="bytes"/> bytes, or the timeout; false if it could not tell.</summary>
    public static async Task<bool> WaitUntilAcknowledgedAsync(Socket socket, long bytes, TimeSpan timeout)
    {
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
        var deadline = DateTime.UtcNow + timeout;
        while (BytesAcked(socket) is { } acked)
        {
            if (acked >= bytes)
            {
                return true;
            }
            if (DateTime.UtcNow > deadline || !await poll.WaitForNextTickAsync().ConfigureAwait(false))
            {
                return false;
            }
        }
        return false;
    }

    /// <summary>Closes with SO_LINGER 0: the kernel answers with RST, no FIN.</summary>
    public static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    private static long? BytesAcked(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        try
        {
            Span<byte> info = stackalloc byte[232];
            var length = socket.GetRawSocketOption(SolTcp, TcpInfo, info);
            return length >= BytesAckedOffset + 8 ? MemoryMarshal.Read<long>(info[BytesAckedOffset..]) : null;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }
}
