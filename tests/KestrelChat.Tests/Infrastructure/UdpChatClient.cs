using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>A UDP chat client, as `nc -u` is: one datagram per line each way, from one address and port.</summary>
public sealed class UdpChatClient : IDisposable
{
    private readonly UdpClient _udp;

    private UdpChatClient(IPEndPoint server)
    {
        _udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        _udp.Connect(server);
    }

    /// <summary>This client's address and port, as the server sees it.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_udp.Client.LocalEndPoint!;

    public static UdpChatClient Open(IPEndPoint server) => new(server);

    /// <summary>Opens a client, proves its address (the code round trip) and chooses <paramref name="nickname"/>; returns once welcomed.</summary>
    public static async Task<UdpChatClient> JoinAsync(IPEndPoint server, string nickname)
    {
        var client = Open(server);
        await client.ProveAsync();
        await client.SendAsync(nickname);
        await client.ReceiveUntilAsync(l => l.StartsWith("* Welcome, ", StringComparison.Ordinal));
        return client;
    }

    /// <summary>Says something, reads the code from the answer and sends it back, as a person types it; returns once "NICK" came.</summary>
    public async Task ProveAsync()
    {
        await SendAsync("hello, server");
        var answer = await ReceiveAsync() ?? throw new TimeoutException("no answer with a code");
        await SendAsync(Code(answer));
        Assert.Equal("NICK", await ReceiveAsync());
    }

    /// <summary>The six-digit code in a server's answer.</summary>
    public static string Code(string answer) =>
        System.Text.RegularExpressions.Regex.Match(answer, @"\b\d{6}\b") is { Success: true } match ? match.Value : throw new FormatException($"no code in '{answer}'");

    /// <summary>One datagram: the line and its LF, as nc sends it.</summary>
    public Task SendAsync(string line) => SendRawAsync(Encoding.UTF8.GetBytes(line + "\n"));

    public async Task SendRawAsync(byte[] datagram) => await _udp.SendAsync(datagram);

    /// <summary>The next datagram, as bytes; null when none comes within <paramref name="timeout"/>.</summary>
    public async Task<byte[]?> ReceiveRawAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? ChatTestClient.DefaultTimeout);
        try
        {
            return (await _udp.ReceiveAsync(deadline.Token)).Buffer;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>The next datagram's text without its LF; null when none comes in time.</summary>
    public async Task<string?> ReceiveAsync(TimeSpan? timeout = null) =>
        await ReceiveRawAsync(timeout) is { } datagram ? Encoding.UTF8.GetString(datagram).TrimEnd('\n') : null;

    /// <summary>Datagrams until one matches; returns it and the ones before it.</summary>
    public async Task<(string Line, List<string> Skipped)> ReceiveUntilAsync(Func<string, bool> match, TimeSpan? timeout = null)
    {
        var skipped = new List<string>();
        var until = DateTime.UtcNow + (timeout ?? ChatTestClient.DefaultTimeout);
        while (true)
        {
            var remaining = until - DateTime.UtcNow;
            var line = (remaining > TimeSpan.Zero ? await ReceiveAsync(remaining) : null)
                ?? throw new TimeoutException($"no matching datagram; had {string.Join(" | ", skipped)}");
            if (match(line))
            {
                return (line, skipped);
            }
            skipped.Add(line);
        }
    }

    /// <summary>Every datagram already waiting in this client's socket, without waiting for more.</summary>
    public List<byte[]> Drain()
    {
        var datagrams = new List<byte[]>();
        while (_udp.Available > 0)
        {
            IPEndPoint? from = null;
            datagrams.Add(_udp.Receive(ref from));
        }
        return datagrams;
    }

    public void Dispose() => _udp.Dispose();
}
