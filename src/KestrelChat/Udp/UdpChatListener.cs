using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using KestrelChat.Chat;
using KestrelChat.Hosting;
using KestrelChat.Protocol;
using Microsoft.Extensions.Options;

namespace KestrelChat.Udp;

/// <summary>
/// The chat over UDP (Chat:Udp:Port): one socket for every UDP client, one receive loop. A datagram from a
/// client in the chat goes to its <see cref="UdpConnection"/>; one from any other address gets at most one
/// datagram back, at most 3 × its size, with the code that lets it in (<see cref="AddressProof"/>): a forged
/// source address can make the server send its victim no more than the forger sent, and never chat traffic.
/// The code coming back from the address proves it receives; then the address is a client, served by the same
/// <see cref="ChatConnectionHandler"/> as everyone, under the same limits. Nothing tells a server that a UDP
/// client has gone: after Chat:Udp:IdleSeconds of silence it is removed, warned a minute before.
/// </summary>
internal sealed partial class UdpChatListener(
    IOptions<UdpOptions> options,
    IOptions<ChatOptions> chat,
    IOptions<ChatLimitsOptions> limits,
    ChatConnectionHandler handler,
    ChatRegistry registry,
    ConnectionLimits connectionLimits,
    ChatMetrics metrics,
    TimeProvider time,
    ILogger<UdpChatListener> logger) : IHostedService, IDisposable
{
    private readonly UdpOptions _options = options.Value;
    // Made when UDP starts: its key comes from OpenSSL's generator, and loading OpenSSL would cost a server
    // with UDP off (the default) about 4 MB of its idle memory.
    private AddressProof _proof = null!;
    private readonly ConcurrentDictionary<SocketAddress, UdpConnection> _clients = new();
    private readonly ConcurrentDictionary<UdpConnection, Task> _running = new();
    // Never disposed (it has no timer): a Dispose that races StopAsync, as when the host's Run and its owner both
    // stop it, cannot make the stop throw.
    private readonly CancellationTokenSource _stopping = new();
    private readonly long _idPrefix = Random.Shared.NextInt64(1L << 40);
    private Socket? _socket;
    private Task _receiving = Task.CompletedTask;
    private Task _watching = Task.CompletedTask;
    private long _nextId;

    /// <summary>The kernel's receive queue asked for (SO_RCVBUF): 4 MiB, a few thousand small datagrams.</summary>
    internal const int ReceiveBufferBytes = 4 * 1024 * 1024;

    /// <summary>Where the UDP socket is bound (its port when Chat:Udp:Port is 0); null when UDP is off.</summary>
    public IPEndPoint? LocalEndPoint => _socket?.LocalEndPoint as IPEndPoint;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            return Task.CompletedTask;
        }
        _proof = new AddressProof(time);
        var address = chat.Value.BindIPAddress();
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }
            socket.Bind(new IPEndPoint(address, _options.Port!.Value));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new PortInUseException(
                $"the UDP chat port {_options.Port} (Chat:Udp:Port) is in use: udp://{address}:{_options.Port} is taken by another program. " +
                $"See which with: ss -lunp 'sport = :{_options.Port}'. Stop it, or choose another port (Chat:Udp:Port).");
        }
        // Sends never wait: a datagram the kernel cannot take now is dropped and counted (UDP has no back-pressure).
        socket.Blocking = false;
        // Every client's datagrams wait in this one kernel queue until the loop reads them: a burst from one client
        // that overflows it loses the others' datagrams too. The default (about 200 KB: ~200 small datagrams, as
        // the kernel counts each one's buffer) is overrun by one client's paste; Linux caps this at net.core.rmem_max.
        socket.ReceiveBufferSize = ReceiveBufferBytes;
        _socket = socket;
        LogListening(LocalEndPoint!, socket.ReceiveBufferSize);
        _receiving = ReceiveLoopAsync(socket);
        _watching = WatchSilenceAsync();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_socket is null)
        {
            return;
        }
        // ChatShutdown has told every client by now (ApplicationStopping comes first); their farewells are sent
        // at once, so the sessions end within moments. Then the socket goes.
        try
        {
            await Task.WhenAll(_running.Values).WaitAsync(ChatShutdown.CloseFlushTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // What is still running ends when the socket closes below.
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await Task.WhenAll(_receiving, _watching).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _socket?.Dispose();
    }

    /// <summary>One loop for every datagram: nothing is allocated per datagram once the clients are in.</summary>
    private async Task ReceiveLoopAsync(Socket socket)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);
        var from = new SocketAddress(socket.AddressFamily);
        var reply = new byte[ServerLines.UdpProofMaxBytes(AddressProof.CodeBytes)];
        while (!_stopping.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, from, _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // An ICMP error for an earlier send (some systems report them here): about one client, not the socket.
                LogReceiveFailed(ex.SocketErrorCode);
                continue;
            }
            try
            {
                OnDatagram(socket, from, buffer.AsSpan(0, received), reply);
            }
            catch (Exception ex)
            {
                // A bug must not end UDP for everyone: this datagram is lost, the loop goes on.
                LogDatagramFailed(ex);
            }
        }
    }

    private void OnDatagram(Socket socket, SocketAddress from, ReadOnlySpan<byte> datagram, byte[] reply)
    {
        var now = time.GetTimestamp();
        if (_clients.TryGetValue(from, out var client))
        {
            client.Received(datagram, now);
            return;
        }
        if (_proof.Proves(from, datagram))
        {
            metrics.AddressProof("proved");
            Admit(socket, Copy(from));
            return;
        }
        // Not a client: one datagram back at most, never more than 3 × what came, and only the code.
        Span<byte> code = stackalloc byte[AddressProof.CodeBytes];
        _proof.Code(from, code);
        var length = ServerLines.UdpProof(code, 3 * datagram.Length, reply);
        if (length == 0)
        {
            metrics.AddressProof("unanswered");
            return;
        }
        try
        {
            socket.SendTo(reply.AsSpan(0, length), SocketFlags.None, from);
        }
        catch (SocketException)
        {
            metrics.DatagramDropped(inbound: false);
        }
        metrics.AddressProof("answered"); // after the send: whoever sees the count can find the answer in its socket

    }

    /// <summary>The address proved it receives: it becomes a client, under the same limits as a TCP connection.</summary>
    private void Admit(Socket socket, SocketAddress address)
    {
        var id = $"U{_idPrefix + Interlocked.Increment(ref _nextId):X11}";
        var connection = new UdpConnection(socket, address, id, limits.Value.MaxLineBytes, time, metrics);
        var ip = ((IPEndPoint)connection.RemoteEndPoint!).Address;
        if (connectionLimits.TryAcquire(ip, out var limit) is { } refusal)
        {
            metrics.Refused(limit!);
            try
            {
                socket.SendTo(refusal, SocketFlags.None, address);
            }
            catch (SocketException)
            {
                metrics.DatagramDropped(inbound: false);
            }
            return;
        }
        var slot = new ConnectionSlot(connectionLimits, ip);
        connection.Features.Set(slot);
        _clients[address] = connection;
        _running[connection] = RunAsync(connection, address, slot);
    }

    private async Task RunAsync(UdpConnection connection, SocketAddress address, ConnectionSlot slot)
    {
        await Task.Yield(); // off the receive loop: the session's start (greeting, limits) runs beside it
        try
        {
            await connection.RunAsync(handler).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogClientFailed(ex, connection.ConnectionId);
        }
        finally
        {
            slot.Release();
            _clients.TryRemove(new KeyValuePair<SocketAddress, UdpConnection>(address, connection));
            _running.TryRemove(connection, out _);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Once a second (or sooner for short settings): warns the silent, removes the gone.</summary>
    private async Task WatchSilenceAsync()
    {
        var idle = TimeSpan.FromSeconds(_options.IdleSeconds);
        var warnAfter = idle - _options.WarningLead;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Min(1, _options.IdleSeconds / 8.0)), time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                foreach (var connection in _clients.Values)
                {
                    var silent = time.GetElapsedTime(connection.LastHeard);
                    if (silent < warnAfter || registry.FindConnection(connection.ConnectionId) is not { } session)
                    {
                        continue;
                    }
                    if (silent >= idle)
                    {
                        session.Close(ServerLines.UdpIdleRemoved(idle), "idle", ServerLines.UdpIdleReason(idle));
                    }
                    else if (connection.TryWarn())
                    {
                        session.Send(ServerLines.UdpIdleWarning(warnAfter, idle - warnAfter));
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private static SocketAddress Copy(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    [LoggerMessage(LogLevel.Information, "Chat over UDP on {EndPoint}: a datagram a line (docs/protocol.md, \"UDP\"); receive queue {ReceiveBufferBytes} bytes")]
    private partial void LogListening(IPEndPoint endPoint, int receiveBufferBytes);

    [LoggerMessage(LogLevel.Debug, "UDP receive reported {Error}; receiving on")]
    private partial void LogReceiveFailed(SocketError error);

    [LoggerMessage(LogLevel.Error, "A UDP datagram could not be handled; receiving on")]
    private partial void LogDatagramFailed(Exception exception);

    [LoggerMessage(LogLevel.Error, "UDP client {ConnectionId} failed; the others go on")]
    private partial void LogClientFailed(Exception exception, string connectionId);
}
