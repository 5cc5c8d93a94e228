using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace KestrelChat.Chat;

/// <summary>
/// Chat users may sit silent for hours, so idleness never closes a named client; a peer that
/// vanished without a FIN or RST (pulled cable, crashed VM, NAT timeout) is found by the kernel's
/// TCP keepalive instead (Chat:Limits:KeepAliveSeconds). `ss -to` shows the timer.
/// </summary>
internal static class TcpKeepAlive
{
    /// <summary>Unanswered probes after which the kernel drops the connection.</summary>
    public const int Probes = 4;

    public static void Enable(ConnectionContext connection, int idleSeconds)
    {
        if (idleSeconds == 0 || connection.Features.Get<IConnectionSocketFeature>()?.Socket is not { } socket)
        {
            return;
        }
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, idleSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Math.Max(1, idleSeconds / Probes));
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, Probes);
        }
        catch (SocketException)
        {
            // The peer is already gone (or the platform lacks an option): the read loop finds out either way.
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
