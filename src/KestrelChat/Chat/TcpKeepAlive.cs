using System.Net.Sockets;
using KestrelChat.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace KestrelChat.Chat;

/// <summary>
/// Chat users may sit silent for hours, so idleness never closes a named client; a peer that
/// vanished without a FIN or RST (pulled cable, crashed VM, NAT timeout) is found by the kernel's
/// TCP keepalive instead (Chat:Limits:KeepAliveSeconds). `ss -to` shows the timer.
/// The options are set once, on the listening sockets: every accepted socket inherits them from its
/// listener, which spares four setsockopt calls per connection (a storm of 10,000 accepts).
/// </summary>
internal static class TcpKeepAlive
{
    /// <summary>Unanswered probes after which the kernel drops the connection.</summary>
    public const int Probes = 4;

    /// <summary>Makes Kestrel's socket transport create its listening sockets with keepalive on.</summary>
    public static IServiceCollection AddTcpKeepAlive(this IServiceCollection services)
    {
        services.AddOptions<SocketTransportOptions>().Configure<IOptions<ChatLimitsOptions>>((sockets, limits) =>
        {
            var idleSeconds = limits.Value.KeepAliveSeconds;
            sockets.CreateBoundListenSocket = endPoint =>
            {
                var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endPoint);
                Enable(socket, idleSeconds);
                return socket;
            };
        });
        return services;
    }

    private static void Enable(Socket socket, int idleSeconds)
    {
        if (idleSeconds == 0 || socket.ProtocolType != ProtocolType.Tcp)
        {
            return;
        }
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, idleSeconds);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Math.Max(1, idleSeconds / Probes));
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, Probes);
    }
}
