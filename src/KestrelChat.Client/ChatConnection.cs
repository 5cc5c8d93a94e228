using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;

namespace KestrelChat.Client;

/// <summary>
/// One session with the chat server: a receive pump (socket → stdout) and a send pump
/// (stdin → socket). Each runs on its own; the session ends when the receive pump sees the
/// server close, because only the server knows when the chat is over. With --tls the same session
/// runs through an <see cref="SslStream"/>.
/// </summary>
internal sealed class ChatConnection : IAsyncDisposable
{
    // Not throwing on bad bytes: a stray invalid sequence prints as U+FFFD instead of ending the session.
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private readonly Socket _socket;
    private readonly Stream _stream; // the NetworkStream, or the SslStream over it; owns the socket
    private readonly string? _nick;

    // The nickname (receive pump), stdin lines (send pump) and Ctrl+C's /quit may write at the same time.
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private bool _sendClosed;

    // Completed once the "NICK" greeting has been swallowed (or turned out to be absent), so that
    // a --nick nickname is always the first line the server reads, before anything typed.
    private readonly TaskCompletionSource _greeted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _greetingMatched;

    // A client that stays silent for a second after "NICK" (a person on nc) gets "\n* Welcome to …":
    // that LF ends the greeting line, so it is swallowed with it rather than printed as an empty line.
    private bool _greetingLineOpen;

    private ChatConnection(Socket socket, Stream stream, string? nick)
    {
        _socket = socket;
        _stream = stream;
        _nick = nick;
    }

    /// <summary>The server certificate's SHA-256 fingerprint ("AB:CD:…", as openssl prints it); null without TLS.</summary>
    public string? ServerCertificateFingerprint => (_stream as SslStream)?.RemoteCertificate?.GetCertHash(HashAlgorithmName.SHA256) is { } hash
        ? BitConverter.ToString(hash).Replace('-', ':')
        : null;

    /// <summary>The 4 bytes the server sends first, without a newline.</summary>
    private static ReadOnlySpan<byte> Greeting => "NICK"u8;

    /// <summary>
    /// Resolves <paramref name="host"/> and tries each address in turn (IPv6 and IPv4 alike), then, with
    /// <paramref name="tls"/>, runs the TLS handshake. Throws the last <see cref="SocketException"/> when no
    /// address accepts, and <see cref="TlsHandshakeException"/> when the handshake fails.
    /// </summary>
    public static async Task<ChatConnection> ConnectAsync(string host, int port, string? nick, TlsMode tls, CancellationToken cancellationToken)
    {
        Socket socket = await ConnectSocketAsync(host, port, cancellationToken).ConfigureAwait(false);
        var stream = new NetworkStream(socket, ownsSocket: true);
        if (tls == TlsMode.Off)
        {
            return new ChatConnection(socket, stream, nick);
        }

        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        SslPolicyErrors certificateErrors = SslPolicyErrors.None;
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host,
                RemoteCertificateValidationCallback = (_, _, _, errors) =>
                {
                    // --insecure: accept whatever certificate the server shows (a self-signed one on a test VM);
                    // the user asked for it, and Program prints the fingerprint to compare with the server's log.
                    certificateErrors = errors;
                    return tls == TlsMode.Insecure || errors == SslPolicyErrors.None;
                },
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new TlsHandshakeException(tls == TlsMode.Verify && certificateErrors != SslPolicyErrors.None
                ? $"the server's certificate is not trusted here ({certificateErrors}). For a self-signed certificate, use --insecure and compare the fingerprint it prints with the server's log"
                : $"{ex.Message} Is {port} the server's TLS port (Chat:Tls:Port), not the plain one?", ex);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new ChatConnection(socket, ssl, nick);
    }

    private static async Task<Socket> ConnectSocketAsync(string host, int port, CancellationToken cancellationToken)
    {
        IPAddress[] addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        SocketException? lastError = null;
        foreach (IPAddress address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(address, port, cancellationToken).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                lastError = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw lastError ?? new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>
    /// Prints everything the server sends until it closes the connection.
    /// Returns the process exit code: 0 when the server ended the session, 1 on a network failure.
    /// </summary>
    public async Task<int> ReceiveAsync(TextWriter output, TextWriter errors)
    {
        var buffer = new byte[4096];
        // Room for the whole buffer plus the few bytes of a character left over from the previous read.
        var chars = new char[Utf8.GetMaxCharCount(buffer.Length + 4)];
        // One decoder for the whole stream: it keeps a multi-byte character split across two reads.
        Decoder decoder = Utf8.GetDecoder();

        while (true)
        {
            int read;
            try
            {
                read = await _stream.ReadAsync(buffer).ConfigureAwait(false);
            }
            catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
            {
                // The session had started; a reset is just an abrupt end of it.
                FlushPending();
                await errors.WriteLineAsync("connection closed by server (reset)").ConfigureAwait(false);
                return 0;
            }
            catch (Exception ex) when (ex is ObjectDisposedException or IOException { InnerException: SocketException { SocketErrorCode: SocketError.OperationAborted } })
            {
                return 0; // we closed the socket ourselves (Ctrl+C)
            }
            catch (IOException ex)
            {
                FlushPending();
                await errors.WriteLineAsync($"connection lost: {(ex.InnerException ?? ex).Message}").ConfigureAwait(false);
                return 1;
            }

            if (read == 0)
            {
                FlushPending();
                return 0; // the server closed the connection: the session is over
            }

            int textStart = 0;
            if (!_greeted.Task.IsCompleted)
            {
                // Swallow the leading "NICK" exactly once, even when it arrives split over reads or
                // glued to the lines after it.
                while (textStart < read && _greetingMatched < Greeting.Length && buffer[textStart] == Greeting[_greetingMatched])
                {
                    textStart++;
                    _greetingMatched++;
                }

                if (_greetingMatched == Greeting.Length)
                {
                    _greetingLineOpen = true;
                    await OnGreetedAsync(sendNick: true).ConfigureAwait(false);
                }
                else if (textStart < read)
                {
                    // Not a greeting after all: the bytes held back so far are ordinary text.
                    Print(Greeting[.._greetingMatched], flush: false);
                    await OnGreetedAsync(sendNick: false).ConfigureAwait(false);
                }
            }

            if (_greetingLineOpen && textStart < read)
            {
                _greetingLineOpen = false;
                if (buffer[textStart] == (byte)'\n')
                {
                    textStart++;
                }
            }

            Print(buffer.AsSpan(textStart, read - textStart), flush: false);
        }

        void Print(ReadOnlySpan<byte> bytes, bool flush)
        {
            int count = decoder.GetChars(bytes, chars, flush);
            output.Write(chars.AsSpan(0, count));
            output.Flush();
        }

        // At the end of the stream: a greeting prefix still held back, or half a character, is printed as it is.
        void FlushPending() => Print(_greeted.Task.IsCompleted ? [] : Greeting[.._greetingMatched], flush: true);
    }

    /// <summary>Sends each line of <paramref name="input"/> until it ends, then half-closes the connection.</summary>
    public async Task SendInputAsync(TextReader input)
    {
        await _greeted.Task.ConfigureAwait(false);
        while (await input.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (!await SendLineAsync(line).ConfigureAwait(false))
            {
                return;
            }
        }

        await EndInputAsync().ConfigureAwait(false);
    }

    /// <summary>Waits until the server's greeting was answered (the --nick sent, if any): typed lines go after it.</summary>
    public Task Greeted => _greeted.Task;

    /// <summary>
    /// The input ended (piped input, Ctrl+D): tell the server we are done sending. It takes that as
    /// leaving and closes its side, which ends the receive pump after the last lines are printed.
    /// </summary>
    public async Task EndInputAsync()
    {
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!_sendClosed)
            {
                _sendClosed = true;
                if (_stream is SslStream ssl)
                {
                    await ssl.ShutdownAsync().ConfigureAwait(false); // TLS close_notify before the TCP FIN
                }

                _socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException)
        {
            // Already gone: the receive pump reports how it ended.
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>
    /// Sends one line. Returns false once sending is impossible (half-closed, reset, disposed); the
    /// receive pump is the one that reports why the session ended.
    /// </summary>
    public async Task<bool> SendLineAsync(string line)
    {
        byte[] bytes = Utf8.GetBytes(line + "\n");
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_sendClosed)
            {
                return false;
            }

            await _stream.WriteAsync(bytes).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            _sendClosed = true;
            return false;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync(); // owns the socket (through the NetworkStream)

    private async Task OnGreetedAsync(bool sendNick)
    {
        if (sendNick && _nick is not null)
        {
            await SendLineAsync(_nick).ConfigureAwait(false);
        }

        _greeted.TrySetResult();
    }
}

/// <summary>The TLS handshake failed; the message says why in the user's terms.</summary>
internal sealed class TlsHandshakeException(string message, Exception inner) : Exception(message, inner);
