using System.Net.Sockets;
using System.Text;
using Spectre.Console;

namespace KestrelChat.Client;

/// <summary>Console chat client: stdin → server, server → stdout.</summary>
internal static class Program
{
    // How long Ctrl+C waits for the server to answer /quit with its farewell and close.
    private static readonly TimeSpan QuitGrace = TimeSpan.FromSeconds(2);

    public static async Task<int> Main(string[] args)
    {
        if (!ClientOptions.TryParse(args, out ClientOptions? options, out string? error))
        {
            await Console.Error.WriteLineAsync($"error: {error}").ConfigureAwait(false);
            await Console.Error.WriteLineAsync(ClientOptions.Usage).ConfigureAwait(false);
            return 2;
        }

        if (options.ShowHelp)
        {
            Console.WriteLine(ClientOptions.Usage);
            return 0;
        }

        // The chat is UTF-8 on the wire; make the terminal side match (no BOM on stdout).
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        Console.InputEncoding = utf8;
        Console.OutputEncoding = utf8;

        // Ctrl+C does not kill the process: it asks the server to end the session (see below).
        using var interrupted = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            try
            {
                interrupted.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Ctrl+C while Main is already returning.
            }
        };

        ChatConnection connection;
        try
        {
            connection = await ChatConnection.ConnectAsync(options.Host, options.Port, options.Nick, options.Tls, interrupted.Token).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            await Console.Error.WriteLineAsync($"cannot connect to {Endpoint(options)}: {Describe(ex)}").ConfigureAwait(false);
            return 1;
        }
        catch (TlsHandshakeException ex)
        {
            await Console.Error.WriteLineAsync($"TLS handshake with {Endpoint(options)} failed: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 0; // Ctrl+C before the connection was up: nothing to leave
        }

        await using (connection.ConfigureAwait(false))
        {
            if (options.Tls == TlsMode.Insecure)
            {
                await Console.Error.WriteLineAsync($"warning: --insecure: the server's certificate was not checked; its SHA-256 fingerprint is {connection.ServerCertificateFingerprint}").ConfigureAwait(false);
            }

            Task<int> receive;
            if (Terminal(options) is { } terminal)
            {
                receive = new TerminalChat(terminal, connection).RunAsync();
            }
            else
            {
                receive = connection.ReceiveAsync(Console.Out, Console.Error);

                // Console.In blocks a thread in ReadLine, so the send pump gets one of its own. It is not
                // awaited (when the server closes, Main returns and the process exits even if stdin is still
                // open), so it never throws: SendStdinAsync reports its own failure.
                _ = Task.Run(() => SendStdinAsync(connection));
            }

            var ctrlC = Task.Delay(Timeout.Infinite, interrupted.Token);
            if (await Task.WhenAny(receive, ctrlC).ConfigureAwait(false) == receive)
            {
                return await receive.ConfigureAwait(false);
            }

            // Leave politely: the server answers /quit with its farewell and closes, which the receive
            // pump prints. A server that does not answer gets QuitGrace, then we close anyway.
            await connection.SendLineAsync("/quit").ConfigureAwait(false);
            await Task.WhenAny(receive, Task.Delay(QuitGrace)).ConfigureAwait(false);
            return 0;
        }
    }

    /// <summary>Sends stdin's lines; a failure to read them (the connection's own failures are caught inside) is said on stderr.</summary>
    private static async Task SendStdinAsync(ChatConnection connection)
    {
        try
        {
            await connection.SendInputAsync(Console.In).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"reading your input failed: {ex.Message}").ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The terminal view when a person is at a terminal (stdin and stdout both a TTY that takes ANSI
    /// sequences); null for pipes, files and dumb terminals, which get the server's lines as they are.
    /// </summary>
    private static IAnsiConsole? Terminal(ClientOptions options)
    {
        if (Console.IsInputRedirected || Console.IsOutputRedirected)
        {
            return null;
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            ColorSystem = options.NoColor ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        return console.Profile.Capabilities is { Ansi: true, Interactive: true } ? console : null;
    }

    private static string Endpoint(ClientOptions options) =>
        options.Host.Contains(':', StringComparison.Ordinal) ? $"[{options.Host}]:{options.Port}" : $"{options.Host}:{options.Port}";

    private static string Describe(SocketException ex) => ex.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host not found",
        SocketError.TimedOut => "timed out",
        SocketError.NetworkUnreachable or SocketError.HostUnreachable => "unreachable",
        _ => ex.Message,
    };
}
