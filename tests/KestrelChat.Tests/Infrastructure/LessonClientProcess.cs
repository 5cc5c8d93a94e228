using System.Diagnostics;
using System.Net;
using System.Text;
using System.Threading.Channels;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>
/// A chat client as a real process — the lesson's Python client, or ours with pipes: the test types into its stdin and reads what it
/// prints. `python3 -u` only turns off stdout buffering; the client's code runs unchanged.
/// </summary>
public sealed class LessonClientProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _printed = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stderr = new();
    private readonly List<string> _printedSoFar = [];

    private LessonClientProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _printed.Writer.TryComplete();
            }
            else
            {
                lock (_printedSoFar)
                {
                    _printedSoFar.Add(e.Data);
                }
                _printed.Writer.TryWrite(e.Data);
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            lock (_stderr)
            {
                _stderr.AppendLine(e.Data);
            }
        };
    }

    /// <summary>Starts <paramref name="script"/> ("lesson-client.py" or "client_ascii.py") against <paramref name="server"/> and types the nickname.</summary>
    public static LessonClientProcess Start(string script, IPEndPoint server, string nickname, params string[] more)
    {
        var info = new ProcessStartInfo("python3", ["-u", Path.Combine(AppContext.BaseDirectory, "LessonClient", script),
            server.Address.ToString(), server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. more])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        info.Environment["PYTHONIOENCODING"] = "utf-8";
        var client = Launch(info);
        client.Type(nickname);
        return client;
    }

    /// <summary>Our console client (src/KestrelChat.Client) with pipes, as a script runs it: --nick names it.</summary>
    public static LessonClientProcess StartConsoleClient(IPEndPoint server, string nickname)
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "KestrelChat.Client.dll"),
            "--host", server.Address.ToString(), "--port", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--nick", nickname])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        return Launch(info);
    }

    /// <summary>
    /// wscat (npm), the WebSocket counterpart of nc, against the web chat's /ws, typed into through a pipe. It prints
    /// each frame it receives on a line of its own (after its "> " prompt); nothing typed before it has connected is
    /// sent, so type only after the greeting has been printed.
    /// </summary>
    public static LessonClientProcess StartWscat(Uri web)
    {
        var info = new ProcessStartInfo("wscat", ["--no-color", "-c", new UriBuilder(web) { Scheme = "ws", Path = "/ws" }.Uri.ToString()])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        try
        {
            return Launch(info);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("wscat is not installed (npm install -g wscat); .ci/run installs it.", ex);
        }
    }

    private static LessonClientProcess Launch(ProcessStartInfo info)
    {
        var client = new LessonClientProcess(Process.Start(info) ?? throw new InvalidOperationException($"{info.FileName} did not start"));
        client._process.BeginOutputReadLine();
        client._process.BeginErrorReadLine();
        return client;
    }

    /// <summary>Every line printed so far, read or not.</summary>
    public IReadOnlyList<string> PrintedSoFar
    {
        get
        {
            lock (_printedSoFar)
            {
                return [.. _printedSoFar];
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Types a line and presses Enter.</summary>
    public void Type(string line)
    {
        _process.StandardInput.Write(line + "\n");
        _process.StandardInput.Flush();
    }

    /// <summary>Ctrl+D: the client's input() raises EOFError, its writer thread ends, the receiver goes on.</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>The next line the client prints, within the deadline.</summary>
    public async Task<string> ReadPrintedAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? ChatTestClient.DefaultTimeout);
        try
        {
            return await _printed.Reader.ReadAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The lesson client printed nothing more in time. stderr: {Stderr}");
        }
        catch (ChannelClosedException)
        {
            throw new EndOfStreamException($"The lesson client exited. stderr: {Stderr}");
        }
    }

    /// <summary>Skips printed lines until one matches.</summary>
    public async Task<string> ReadPrintedUntilAsync(Func<string, bool> match, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? ChatTestClient.DefaultTimeout);
        while (true)
        {
            var line = await ReadPrintedAsync(until - DateTime.UtcNow);
            if (match(line))
            {
                return line;
            }
        }
    }

    /// <summary>Waits for the process to end by itself; false if it is still running at the deadline.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
