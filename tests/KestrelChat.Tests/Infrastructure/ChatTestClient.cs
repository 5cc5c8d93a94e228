using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>
/// A chat client on a real TCP socket, like nc (or, through TLS, like openssl s_client): writes raw bytes or lines, reads lines.
/// Every read waits for its event with a deadline (never a fixed sleep) and, on timeout, says what did arrive.
/// </summary>
public sealed class ChatTestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    private readonly TcpClient _tcp;
    private readonly Stream _stream; // the socket's NetworkStream, or an SslStream over it
    private readonly List<byte> _pending = [];
    private readonly List<byte> _received = []; // every byte, for transcripts
    private readonly byte[] _chunk = new byte[64 * 1024];

    private ChatTestClient(TcpClient tcp, Stream stream)
    {
        _tcp = tcp;
        _stream = stream;
    }

    /// <summary>Everything received so far, read or not, exactly as it came (UTF-8).</summary>
    public string Transcript => Encoding.UTF8.GetString([.. _received]);

    public IPEndPoint LocalEndPoint => (IPEndPoint)_tcp.Client.LocalEndPoint!;

    public IPEndPoint RemoteEndPoint => (IPEndPoint)_tcp.Client.RemoteEndPoint!;

    public Socket Socket => _tcp.Client;

    public static async Task<ChatTestClient> ConnectAsync(IPEndPoint endPoint)
    {
        var tcp = new TcpClient(endPoint.AddressFamily) { NoDelay = true };
        await tcp.ConnectAsync(endPoint.Address, endPoint.Port);
        return new ChatTestClient(tcp, tcp.GetStream());
    }

    /// <summary>Connects from <paramref name="from"/> (one of the 127.0.0.0/8 addresses), as a client on another machine would.</summary>
    public static async Task<ChatTestClient> ConnectFromAsync(IPEndPoint endPoint, IPAddress from)
    {
        var tcp = new TcpClient(new IPEndPoint(from, 0)) { NoDelay = true };
        await tcp.ConnectAsync(endPoint.Address, endPoint.Port);
        return new ChatTestClient(tcp, tcp.GetStream());
    }

    /// <summary>
    /// Connects and runs the TLS handshake, trusting only <paramref name="serverCertificate"/> (compared by its
    /// SHA-256 hash): a self-signed certificate pinned, as a client of a test VM would.
    /// </summary>
    public static async Task<ChatTestClient> ConnectTlsAsync(IPEndPoint endPoint, X509Certificate2 serverCertificate)
    {
        var tcp = new TcpClient(endPoint.AddressFamily) { NoDelay = true };
        await tcp.ConnectAsync(endPoint.Address, endPoint.Port);
        var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        try
        {
            var expected = serverCertificate.GetCertHash(HashAlgorithmName.SHA256);
            using var deadline = new CancellationTokenSource(DefaultTimeout);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = (_, presented, _, _) =>
                    presented is not null && presented.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(expected),
            }, deadline.Token);
            return new ChatTestClient(tcp, ssl);
        }
        catch
        {
            await ssl.DisposeAsync();
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>The negotiated TLS version; null on a plain connection.</summary>
    public System.Security.Authentication.SslProtocols? TlsProtocol => (_stream as SslStream)?.SslProtocol;

    /// <summary>Connects, answers NICK with <paramref name="nickname"/> and reads the welcome line.</summary>
    public static async Task<ChatTestClient> JoinAsync(IPEndPoint endPoint, string nickname) =>
        await (await ConnectAsync(endPoint)).JoinAsAsync(nickname);

    /// <summary>On a fresh connection: answers NICK with <paramref name="nickname"/> and reads the welcome line.</summary>
    public async Task<ChatTestClient> JoinAsAsync(string nickname)
    {
        Assert.Equal("NICK", await ReadBytesAsync(4));
        await SendLineAsync(nickname);
        Assert.Equal("", await ReadLineAsync()); // the LF that ends the "NICK" line
        Assert.StartsWith($"* Welcome, {nickname}!", await ReadLineAsync(), StringComparison.Ordinal);
        return this;
    }

    public Task SendLineAsync(string line) => SendAsync(Encoding.UTF8.GetBytes(line + "\n"));

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    /// <summary>Reads exactly <paramref name="count"/> bytes and decodes them.</summary>
    public async Task<string> ReadBytesAsync(int count, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? DefaultTimeout);
        while (_pending.Count < count)
        {
            if (!await FillAsync(count, deadline.Token))
            {
                throw new EndOfStreamException($"EOF after {Describe()}");
            }
        }
        var bytes = _pending.GetRange(0, count).ToArray();
        _pending.RemoveRange(0, count);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Reads the next LF-terminated line (without the LF).</summary>
    public async Task<string> ReadLineAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? DefaultTimeout);
        while (true)
        {
            var lf = _pending.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var line = Encoding.UTF8.GetString(_pending.GetRange(0, lf).ToArray());
                _pending.RemoveRange(0, lf + 1);
                return line;
            }
            if (!await FillAsync("a line", deadline.Token))
            {
                throw new EndOfStreamException($"EOF while waiting for a line; had {Describe()}");
            }
        }
    }

    /// <summary>Reads lines until one matches, returning it; the skipped lines are returned too for assertions.</summary>
    /// <summary>The next <paramref name="count"/> lines, each with the read deadline.</summary>
    public async Task<List<string>> ReadLinesAsync(int count)
    {
        var lines = new List<string>(count);
        while (lines.Count < count)
        {
            lines.Add(await ReadLineAsync());
        }
        return lines;
    }

    public async Task<(string Line, List<string> Skipped)> ReadLineUntilAsync(Func<string, bool> match, TimeSpan? timeout = null)
    {
        var skipped = new List<string>();
        var until = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var line = await ReadLineAsync(until - DateTime.UtcNow);
            if (match(line))
            {
                return (line, skipped);
            }
            skipped.Add(line);
        }
    }

    /// <summary>Reads everything until the server closes the connection; returns the lines received before EOF.</summary>
    public async Task<List<string>> ReadToEndAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? DefaultTimeout);
        while (await FillAsync("EOF", deadline.Token))
        {
        }
        var text = Encoding.UTF8.GetString(_pending.ToArray());
        _pending.Clear();
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }

    private async Task<bool> FillAsync(object waitingFor, CancellationToken deadline)
    {
        int read;
        try
        {
            read = await _stream.ReadAsync(_chunk, deadline);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"Timed out waiting for {waitingFor}; had {Describe()}");
        }
        if (read == 0)
        {
            return false;
        }
        _pending.AddRange(_chunk.AsSpan(0, read));
        _received.AddRange(_chunk.AsSpan(0, read));
        return true;
    }

    private string Describe() => _pending.Count == 0 ? "nothing" : $"\"{Encoding.UTF8.GetString(_pending.ToArray())}\"";
}
