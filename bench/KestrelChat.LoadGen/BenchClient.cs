using System.Net;
using System.Net.Sockets;
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
/// </remarks>
internal sealed class BenchClient(IPEndPoint server, int index, string nickname, long expected, int senders, int bufferBytes,
    LatencyRecorder latency, int instances, LatencyRecorder crossLatency) : IDisposable
{
    private readonly Socket _socket = new(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int[] _nextSequence = new int[senders];
    private Phase _phase = Phase.Greeting;
    private string? _lastServerError;

    private enum Phase
    {
        Greeting,   // waiting for the 4 bytes "NICK"
        Welcome,    // nickname sent, waiting for "* Welcome, NAME!…"
        Chat,       // in the chat: counting benchmark messages
    }

    /// <summary>True once the client is in the chat (its welcome arrived); false if it failed first.</summary>
    public Task<bool> Ready => _ready.Task;

    /// <summary>When the welcome arrived (<see cref="RunClock.Microseconds"/>).</summary>
    public long ReadyMicroseconds { get; private set; }

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
        Phase.Greeting when !_socket.Connected => "connect did not complete",
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
            await _socket.ConnectAsync(server).ConfigureAwait(false);
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
        var maxMessage = Math.Max(bytes, BenchMessage.MaxHeaderBytes) + 1;
        var batch = new byte[Math.Max(64 * 1024, maxMessage)];
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
                    length += BenchMessage.Write(batch.AsSpan(length), index, sequence++, now, bytes);
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
            filled -= consumed;
            if (filled == buffer.Length)
            {
                Fail($"a line longer than the {buffer.Length}-byte receive buffer");
                return;
            }
            buffer.AsSpan(consumed, filled).CopyTo(buffer);
        }
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
            var line = data.Slice(used, lf);
            used += lf + 1;
            if (line.IsEmpty)
            {
                continue; // ends "NICK" when the server asks a silent client for a nickname in words
            }
            if (line[0] is (byte)'*' or (byte)'!')
            {
                OnServerLine(line, now);
                continue;
            }
            if (_phase != Phase.Chat || !BenchMessage.TryParse(line, out var sender, out var sequence, out var sent)
                || (uint)sender >= (uint)_nextSequence.Length)
            {
                Unrecognized++;
                continue;
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
        return used;
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
