using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace KestrelChat.Client;

/// <summary>The command line: where to connect, whether through TLS, and, optionally, which nickname to claim.</summary>
internal sealed record ClientOptions(string Host, int Port, string? Nick, bool ShowHelp, TlsMode Tls = TlsMode.Off, bool NoColor = false)
{
    public const string DefaultHost = "127.0.0.1";
    public const int DefaultPort = 55555;

    public const string Usage = """
        Usage: KestrelChat.Client [--host HOST] [--port PORT] [--nick NAME] [--tls [--insecure]] [--no-color]

          --host HOST   server name or IP address (default 127.0.0.1)
          --port PORT   chat port (default 55555; the server's TLS port with --tls)
          --nick NAME   nickname to claim; without it, the first line you type is the nickname
          --tls         connect through TLS (the server's Chat:Tls:Port); the certificate must be
                        trusted by this machine and name HOST
          --insecure    with --tls: accept any certificate (a self-signed one for testing); its
                        SHA-256 fingerprint is printed so you can compare it with the server's log
          --no-color    no colours in the terminal (the NO_COLOR environment variable does the same)
          --help        show this help

        Every line you type is sent to the chat. /quit (or Ctrl+C) leaves.
        In a terminal, what arrives is printed above the line you are typing, with the time and each
        nickname in its own colour; your own lines are shown too. Keys: arrows, Home/End, Up/Down for
        earlier lines, Ctrl+U and Ctrl+W to delete, Ctrl+D on an empty line to leave. When stdin or
        stdout is not a terminal (a pipe, a file), lines go through as they are, without decoration.
        """;

    /// <summary>
    /// Parses <paramref name="args"/>. Never throws: a bad command line is a usage error
    /// (the caller prints <see cref="Usage"/> and exits 2), not a crash.
    /// </summary>
    public static bool TryParse(
        IReadOnlyList<string> args,
        [NotNullWhen(true)] out ClientOptions? options,
        [NotNullWhen(false)] out string? error)
    {
        string host = DefaultHost;
        int port = DefaultPort;
        string? nick = null;
        bool tls = false, insecure = false, noColor = false;
        options = null;

        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            if (name is "--help" or "-h")
            {
                options = new ClientOptions(host, port, nick, ShowHelp: true);
                error = null;
                return true;
            }

            if (name == "--no-color")
            {
                noColor = true;
                continue;
            }

            if (name is "--tls" or "--insecure")
            {
                tls |= name == "--tls";
                insecure |= name == "--insecure";
                continue;
            }

            if (name is not ("--host" or "--port" or "--nick"))
            {
                error = $"unknown argument '{name}'";
                return false;
            }

            if (i + 1 >= args.Count)
            {
                error = $"{name} needs a value";
                return false;
            }

            string value = args[++i];
            switch (name)
            {
                case "--host" when value.Length == 0:
                    error = "--host must not be empty";
                    return false;
                case "--host":
                    host = value;
                    break;
                case "--port":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out port)
                        || port is < 1 or > 65535)
                    {
                        error = $"--port must be a number from 1 to 65535, not '{value}'";
                        return false;
                    }

                    break;
                case "--nick":
                    nick = value;
                    break;
            }
        }

        if (insecure && !tls)
        {
            error = "--insecure only makes sense with --tls";
            return false;
        }

        options = new ClientOptions(host, port, nick, ShowHelp: false, !tls ? TlsMode.Off : insecure ? TlsMode.Insecure : TlsMode.Verify, noColor);
        error = null;
        return true;
    }
}

/// <summary>How the client talks to the server: plain TCP, TLS with the certificate checked, or TLS accepting any certificate.</summary>
internal enum TlsMode
{
    Off,
    Verify,
    Insecure,
}
