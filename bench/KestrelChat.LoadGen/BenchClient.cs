using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace KestrelChat.LoadGen;

/// <summary>
/// One simulated chat client: connects, names itself, then counts the benchmark messages it
/// receives until it has every one it expects. One receive loop per client over a fixed buffer:
/// find LF, skip server lines ("* …", "! …"), parse the numbers, record the latency; nothing is
/// allocated per message. A sender client also runs <see cref="SendMessagesAsync"/> beside it.
/// </summary>
/// <remarks>
/// Against a cluster (several ports), client i is on instance i mod N; a delivery whose sender is on
/// another instance crossed the backplane and is also recorded in <c>crossLatency</c>.
/// Over a WebSocket (<paramref name="webSocket"/>: the web chat's /ws, one text frame per line) the client
/// speaks RFC 6455 on the same socket itself: the upgrade, then frames read in place from the same buffer and
/// sent masked, so both transports cost the generator alike and the figures compare the server's.
/// </remarks>
internal sealed class BenchClient(IPEndPoint server, int index, string nickname, long expected, int senders, int bufferBytes,
    LatencyRecorder latency, int instances, LatencyRecorder crossLatency, bool webSocket = false, IPAddress? source = null) : IDisposable
{
    private readonly Socket _socket = new(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int[] _nextSequence = new int[senders];
    private readonly uint _mask = (uint)Random.Shared.Next() | 1u; // RFC 6455 5.3: a client masks every frame it sends
    private Phase _phase = webSocket ? Phase.Upgrade : Phase.Greeting;
    private string? _lastServerError;

    private enum Phase
    {
        Upgrade,    // WebSocket only: the upgrade request sent, waiting for "101 Switching Protocols"
        Greeting,   // waiting for the 4 bytes "NICK"
        Welcome,    // nickname sent, waiting for "* Welcome, NAME!…"
        Chat,       // in the chat: counting benchmark messages
    }

    private const int IpProtocolIp = 0;          // IPPROTO_IP
    private const int IpBindAddressNoPort = 24;  // IP_BIND_ADDRESS_NO_PORT, linux/in.h

    /// <summary>The largest header a client's frame can have: 2 bytes, a 16-bit length (lines are under 64 KiB), the mask.</summary>
    private const int MaxFrameHeaderBytes = 2 + 2 + 4;

    /// <summary>True once the client is in the chat (its welcome arrived); false if it failed first.</summary>
    public Task<bool> Ready => _ready.Task;

    /// <summary>When the welcome arrived (<see cref="RunClock.Microseconds"/>).</summary>
    public long ReadyMicroseconds { get; private set; }

    /// <summary>The client's number in the whole run (with --shard, not its place in this process).</summary>
    public int Index => index;

    public long Expected => expected;

    public long Delivered { get; private set; }

    /// <summary>Deliveries from a sender on another instance (0 against one server).</summary>
    public long CrossDelivered { get; private set; }

    public long OutOfOrder { get; private set; }

    /// <summary>Lines that were neither server lines nor benchmark messages.</summary>
    public long Unrecognized { get; private set; }

    public long LastDeliveryMicroseconds { get; private set; }

    public string? Error { get; private set; }

    /// <summary>Where a client that is not in the chat stands, to say why a connect phase timed out.</summary>
    public string Stage => _phase switch
    {
        _ when !_socket.Connected => "connect did not complete",
        Phase.Upgrade => "connected, but the WebSocket upgrade was not answered",
        Phase.Greeting => "connected, but no NICK came (was the connection ever accepted?)",
        Phase.Welcome => "nickname sent, but no welcome came",
        _ => "in the chat",
    };

    /// <summary>Records why this client failed, unless it already has a reason.</summary>
    public void Fail(string error)
    {
        Error ??= error;
        _ready.TrySetResult(false);
    }

    /// <summary>Connects, names itself and receives until every expected message is in, or the connection fails.</summary>
    public async Task RunAsync()
    {
        try
        {
            if (source is not null)
            {
                // Ephemeral ports are per source address (about 28,000 here): more clients than that need several.
                // IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect, not at bind. Without it, every bind to
                // port 0 searched the address's bound ports for a free one (inet_bhash2_conflict in perf: most of
                // the machine's CPU at 60,000 clients), and the connect storm crawled.
                if (OperatingSystem.IsLinux())
                {
                    _socket.SetRawSocketOption(IpProtocolIp, IpBindAddressNoPort, BitConverter.GetBytes(1));
                }
                _socket.Bind(new IPEndPoint(source, 0));
            }
            await _socket.ConnectAsync(server).ConfigureAwait(false);
            if (webSocket)
            {
                await _socket.SendAsync(Encoding.ASCII.GetBytes(
                    $"GET /ws HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                    $"Sec-WebSocket-Key: {Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))}\r\nSec-WebSocket-Version: 13\r\n\r\n")).ConfigureAwait(false);
            }
            await ReceiveAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            Fail(ex.Message);
        }
    }

    /// <summary>Sends <paramref name="messages"/> messages, in batches as large as possible, or paced at <paramref name="rate"/> per second.</summary>
    public async Task SendMessagesAsync(int messages, int bytes, double rate, TimeSpan startOffset)
    {
        var maxMessage = Math.Max(bytes, BenchMessage.MaxHeaderBytes) + 1 + (webSocket ? MaxFrameHeaderBytes : 0);
        var batch = new byte[Math.Max(64 * 1024, maxMessage)];
        var line = webSocket ? new byte[maxMessage] : null;
        var period = rate > 0 ? 1e6 / rate : 0; // µs
        var start = RunClock.Microseconds + (long)startOffset.TotalMicroseconds;
        var sequence = 0;
        try
        {
            while (sequence < messages)
            {
                var now = RunClock.Microseconds;
                var due = start + (long)(sequence * period);
                if (now < due)
                {
                    await Task.Delay(TimeSpan.FromMicroseconds(due - now)).ConfigureAwait(false);
                    continue;
                }
                // Every message that is due goes in this batch: all of them unpaced, normally one when paced.
                var length = 0;
                while (sequence < messages && length + maxMessage <= batch.Length && start + (long)(sequence * period) <= now)
                {
                    if (line is null)
                    {
                        length += BenchMessage.Write(batch.AsSpan(length), index, sequence++, now, bytes);
                    }
                    else
                    {
                        var written = BenchMessage.Write(line, index, sequence++, now, bytes);
                        length += WriteFrame(batch.AsSpan(length), line.AsSpan(0, written - 1)); // a frame is a line: no LF
                    }
                }
                for (var sent = 0; sent < length;)
                {
                    sent += await _socket.SendAsync(batch.AsMemory(sent, length - sent)).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            Fail($"sending: {ex.Message}");
        }
    }

    public void Dispose() => _socket.Dispose();

    private async Task ReceiveAsync()
    {
        var buffer = GC.AllocateUninitializedArray<byte>(bufferBytes, pinned: true);
        var filled = 0;
        while (Error is null && (_phase != Phase.Chat || Delivered < expected))
        {
            var received = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None).ConfigureAwait(false);
            if (received == 0)
            {
                Fail($"the server closed the connection{(_lastServerError is null ? "" : $" after \"{_lastServerError}\"")}");
                return;
            }
            var now = RunClock.Microseconds;
            filled += received;
            var consumed = 0;
            if (_phase == Phase.Upgrade)
            {
                var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
                if (end < 0)
                {
                    continue;
                }
                if (!buffer.AsSpan(0, end).StartsWith("HTTP/1.1 101 "u8))
                {
                    Fail($"the WebSocket upgrade was refused: \"{Encoding.UTF8.GetString(buffer, 0, end).Split('\r')[0]}\"");
                    return;
                }
                consumed = end + 4;
                _phase = Phase.Greeting;
            }
            if (webSocket)
            {
                var greeted = _phase == Phase.Greeting;
                consumed += ReadFrames(buffer.AsSpan(consumed, filled - consumed), now);
                if (greeted && _phase == Phase.Welcome)
                {
                    var name = Encoding.UTF8.GetBytes(nickname);
                    var frame = new byte[name.Length + MaxFrameHeaderBytes];
                    await _socket.SendAsync(frame.AsMemory(0, WriteFrame(frame, name))).ConfigureAwait(false);
                }
            }
            else
            {
                if (_phase == Phase.Greeting)
                {
                    if (filled < 4)
                    {
                        continue;
                    }
                    if (!buffer.AsSpan(0, 4).SequenceEqual("NICK"u8))
                    {
                        Fail($"expected NICK, got \"{Encoding.UTF8.GetString(buffer, 0, filled).TrimEnd()}\"");
                        return;
                    }
                    consumed = 4;
                    _phase = Phase.Welcome;
                    await _socket.SendAsync(Encoding.UTF8.GetBytes(nickname + "\n")).ConfigureAwait(false);
                }
                consumed += ReadLines(buffer.AsSpan(consumed, filled - consumed), now);
            }
            filled -= consumed;
            if (filled == buffer.Length)
            {
                Fail($"a {(webSocket ? "frame" : "line")} longer than the {buffer.Length}-byte receive buffer");
                return;
            }
            buffer.AsSpan(consumed, filled).CopyTo(buffer);
        }
    }

    /// <summary>Writes <paramref name="payload"/> as one masked text frame; returns its length.</summary>
    private int WriteFrame(Span<byte> destination, ReadOnlySpan<byte> payload)
    {
        destination[0] = 0x81; // FIN, text
        var header = 2;
        if (payload.Length < 126)
        {
            destination[1] = (byte)(0x80 | payload.Length);
        }
        else
        {
            destination[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payload.Length);
            header = 4;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(destination[header..], _mask);
        header += 4;
        for (var i = 0; i < payload.Length; i++)
        {
            destination[header + i] = (byte)(payload[i] ^ (byte)(_mask >> (8 * (i & 3))));
        }
        return header + payload.Length;
    }

    /// <summary>Handles every complete frame in <paramref name="data"/> (the server's: never masked); returns the bytes used.</summary>
    private int ReadFrames(ReadOnlySpan<byte> data, long now)
    {
        var histogram = latency.Current;
        var crossHistogram = instances > 1 ? crossLatency.Current : null;
        var used = 0;
        while (Error is null && data.Length - used >= 2)
        {
            var frame = data[used..];
            var length = (long)(frame[1] & 0x7F);
            var header = 2;
            if (length == 126)
            {
                if (frame.Length < 4)
                {
                    break;
                }
                length = BinaryPrimitives.ReadUInt16BigEndian(frame[2..]);
                header = 4;
            }
            else if (length == 127)
            {
                if (frame.Length < 10)
                {
                    break;
                }
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(frame[2..]);
                header = 10;
            }
            if (frame.Length - header < length)
            {
                break;
            }
            var payload = frame.Slice(header, (int)length);
            used += header + (int)length;
            switch (frame[0] & 0x8F)
            {
                case 0x81 when _phase == Phase.Greeting:
                    if (!payload.SequenceEqual("NICK"u8))
                    {
                        Fail($"expected NICK, got \"{Encoding.UTF8.GetString(payload)}\"");
                        return used;
                    }
                    _phase = Phase.Welcome;
                    break;
                case 0x81:
                    HandleLine(payload, now, histogram, crossHistogram);
                    break;
                case 0x88:
                    Fail($"the server closed the WebSocket{(_lastServerError is null ? "" : $" after \"{_lastServerError}\"")}");
                    return used;
                case 0x89 or 0x8A:
                    break; // ping, pong: a run is shorter than the server's keep-alive
                default:
                    Fail($"an unexpected frame (first byte 0x{frame[0]:x2}): a line is one whole text frame");
                    return used;
            }
        }
        return used;
    }

    /// <summary>Handles every complete line in <paramref name="data"/>; returns the bytes used.</summary>
    private int ReadLines(ReadOnlySpan<byte> data, long now)
    {
        var histogram = latency.Current;
        var crossHistogram = instances > 1 ? crossLatency.Current : null;
        var used = 0;
        int lf;
        while ((lf = data[used..].IndexOf((byte)'\n')) >= 0)
        {
            HandleLine(data.Slice(used, lf), now, histogram, crossHistogram);
            used += lf + 1;
        }
        return used;
    }

    /// <summary>One line from the server (without its LF): a server line, or a benchmark message to count.</summary>
    private void HandleLine(ReadOnlySpan<byte> line, long now, LatencyHistogram histogram, LatencyHistogram? crossHistogram)
    {
        if (line.IsEmpty)
        {
            return; // ends "NICK" when the server asks a silent client for a nickname in words
        }
        if (line[0] is (byte)'*' or (byte)'!')
        {
            OnServerLine(line, now);
            return;
        }
        if (_phase != Phase.Chat || !BenchMessage.TryParse(line, out var sender, out var sequence, out var sent)
            || (uint)sender >= (uint)_nextSequence.Length)
        {
            Unrecognized++;
            return;
        }
        if (sequence != _nextSequence[sender])
        {
            OutOfOrder++;
        }
        _nextSequence[sender] = sequence + 1;
        Delivered++;
        LastDeliveryMicroseconds = now;
        histogram.Record(now - sent);
        if (crossHistogram is not null && sender % instances != index % instances)
        {
            CrossDelivered++;
            crossHistogram.Record(now - sent);
        }
    }

    private void OnServerLine(ReadOnlySpan<byte> line, long now)
    {
        if (line[0] == (byte)'!')
        {
            _lastServerError = Encoding.UTF8.GetString(line);
            if (_phase == Phase.Welcome)
            {
                Fail($"refused: \"{_lastServerError}\"");
            }
        }
        else if (_phase == Phase.Welcome && line.StartsWith("* Welcome, "u8))
        {
            _phase = Phase.Chat;
            ReadyMicroseconds = now;
            _ready.TrySetResult(true);
        }
        // Anything else (join and leave notices, the nickname prompt) is not part of the benchmark.
    }
}
