using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using KestrelChat.Chat;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace KestrelChat.Udp;

/// <summary>
/// One UDP client — an address and a port that has shown it receives — as a chat connection: the same
/// <see cref="ChatConnectionHandler"/> serves it through a pair of pipes, so every rule of the chat holds as on
/// TCP. Framing is the difference, and it lives here: one datagram is one line each way (a datagram's trailing LF
/// or CRLF is dropped; a line too long for one datagram of <see cref="MaxDatagramBytes"/> goes as several, split
/// between characters). An empty datagram is not a line: it only says "still here".
/// </summary>
/// <remarks>
/// No back-pressure either way, as UDP has none. In: the receive loop hands each datagram to a queue of
/// <see cref="InboundQueue"/> and never waits; a client whose lines wait (flood control) loses what does not fit,
/// and the others are read on. Out: the output pipe's reader runs inline on the thread that flushed, and each
/// line goes to the kernel at once (sendto, never waiting): what the kernel does not take is dropped and counted.
/// </remarks>
internal sealed class UdpConnection : PipeConnection
{
    /// <summary>
    /// The largest datagram the server sends: with IP and UDP headers it stays under IPv6's minimum MTU of 1,280
    /// bytes, so no datagram is fragmented — a lost fragment loses the whole datagram, and many networks drop
    /// fragments outright.
    /// </summary>
    public const int MaxDatagramBytes = 1200;

    /// <summary>Datagrams that may wait for a client's read loop; past it they are dropped.</summary>
    internal const int InboundQueue = 64;

    private readonly Socket _socket;
    private readonly SocketAddress _peer;
    private readonly int _maxLineBytes;
    private readonly ChatMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Channel<Datagram> _inbound;
    private long _lastHeard;
    private long _droppedIn, _droppedOut;
    private int _warned;

    public UdpConnection(Socket socket, SocketAddress peer, string id, int maxLineBytes, TimeProvider time, ChatMetrics metrics)
        : base(id, new IPEndPoint(peer.Family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0).Create(peer),
            socket.LocalEndPoint, TransportFeature.Udp,
            // Above Chat:Limits' flood backlog (64 KiB), so that a flooder is told and closed as on TCP, not just slowed.
            new PipeOptions(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false),
            // The reader runs inline: each line goes to the kernel on the thread that flushed it, never queued.
            new PipeOptions(readerScheduler: PipeScheduler.Inline, useSynchronizationContext: false))
    {
        _socket = socket;
        _peer = peer;
        _maxLineBytes = maxLineBytes;
        _metrics = metrics;
        _time = time;
        _lastHeard = time.GetTimestamp();
        // Full: TryWrite says no (and the datagram is counted as dropped); it never waits.
        _inbound = Channel.CreateBounded<Datagram>(new BoundedChannelOptions(InboundQueue) { SingleReader = true });
    }

    /// <summary>For GET /clients: seconds since the last datagram; datagrams from it dropped (its queue was full), lines to it the kernel did not take.</summary>
    public Admin.UdpClientInfo Info => new(Math.Round(_time.GetElapsedTime(LastHeard).TotalSeconds, 1), Interlocked.Read(ref _droppedIn), Interlocked.Read(ref _droppedOut));

    /// <summary>When the last datagram came (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long LastHeard => Interlocked.Read(ref _lastHeard);

    /// <summary>True once, for the idle warning: reset by the next datagram.</summary>
    public bool TryWarn() => Interlocked.Exchange(ref _warned, 1) == 0;

    /// <summary>
    /// From the receive loop, for each datagram from this client: never waits. False when it was dropped.
    /// </summary>
    public bool Received(ReadOnlySpan<byte> datagram, long now)
    {
        Interlocked.Exchange(ref _lastHeard, now);
        Volatile.Write(ref _warned, 0);
        var line = WithoutLineEnd(datagram);
        if (line.IsEmpty)
        {
            return true; // "still here"
        }
        // One byte past the limit is enough for the codec to say the line is too long; the rest is not kept.
        var kept = line[..Math.Min(line.Length, _maxLineBytes + 1)];
        var copy = ArrayPool<byte>.Shared.Rent(kept.Length + 1);
        kept.CopyTo(copy);
        copy[kept.Length] = (byte)'\n';
        if (_inbound.Writer.TryWrite(new Datagram(copy, kept.Length + 1)))
        {
            return true;
        }
        ArrayPool<byte>.Shared.Return(copy);
        Interlocked.Increment(ref _droppedIn);
        _metrics.DatagramDropped(inbound: true);
        return false;
    }

    /// <summary>Runs both directions until the session is over and the output is drained.</summary>
    public async Task RunAsync(ConnectionHandler handler)
    {
        var receiving = ReceiveAsync();
        var sending = SendAsync();
        try
        {
            await handler.OnConnectedAsync(this).ConfigureAwait(false);
            await sending.ConfigureAwait(false);
        }
        finally
        {
            // The session reads no more: datagrams still coming or waiting are nobody's.
            _inbound.Writer.TryComplete();
            await Input.Reader.CompleteAsync().ConfigureAwait(false);
            await receiving.ConfigureAwait(false);
            await Closed.CancelAsync().ConfigureAwait(false);
        }
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        // Nothing to reset on the wire (UDP has no connection): the client is no longer read.
        _inbound.Writer.TryComplete();
        Closed.Cancel();
    }

    /// <summary>Queued datagrams → lines in the input pipe, waiting for the read loop's flow control (flood).</summary>
    private async Task ReceiveAsync()
    {
        var reader = _inbound.Reader;
        var writer = Input.Writer;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var datagram))
                {
                    writer.Write(datagram.Bytes.AsSpan(0, datagram.Length));
                    datagram.Return();
                }
                if ((await writer.FlushAsync().ConfigureAwait(false)).IsCompleted)
                {
                    break;
                }
            }
        }
        finally
        {
            while (reader.TryRead(out var left))
            {
                left.Return();
            }
            await writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Lines out of the output pipe → one datagram each (several for a long line), sent at once. Never throws.</summary>
    private async Task SendAsync()
    {
        var reader = Output.Reader;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = read.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    SendLine(buffer.Slice(0, end));
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private void SendLine(ReadOnlySequence<byte> line)
    {
        Span<byte> datagram = stackalloc byte[MaxDatagramBytes];
        do
        {
            var part = Math.Min((int)line.Length, MaxDatagramBytes - 1);
            line.Slice(0, part).CopyTo(datagram);
            if (part < line.Length)
            {
                // The cut goes before a character's first byte, never inside one: back up while the byte after
                // the cut is a UTF-8 continuation byte (10xxxxxx). The server's lines are valid UTF-8.
                var next = line.Slice(part, 1).FirstSpan[0];
                while (part > 1 && (next & 0xC0) == 0x80)
                {
                    next = datagram[--part];
                }
            }
            datagram[part] = (byte)'\n';
            Send(datagram[..(part + 1)]);
            line = line.Slice(part);
        }
        while (!line.IsEmpty);
    }

    /// <summary>Hands one datagram to the kernel without waiting; what it does not take is counted, not queued.</summary>
    private void Send(ReadOnlySpan<byte> datagram)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, _peer);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            Interlocked.Increment(ref _droppedOut);
            _metrics.DatagramDropped(inbound: false);
        }
    }

    private static ReadOnlySpan<byte> WithoutLineEnd(ReadOnlySpan<byte> datagram)
    {
        if (datagram.EndsWith("\n"u8))
        {
            datagram = datagram[..^1];
            if (datagram.EndsWith("\r"u8))
            {
                datagram = datagram[..^1];
            }
        }
        return datagram;
    }

    /// <summary>One datagram's line, LF included, in a pooled array.</summary>
    private readonly record struct Datagram(byte[] Bytes, int Length)
    {
        public void Return() => ArrayPool<byte>.Shared.Return(Bytes);
    }
}
