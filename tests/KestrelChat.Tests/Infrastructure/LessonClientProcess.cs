using System.Diagnostics;
using System.Net;
using System.Text;
using System.Threading.Channels;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>
/// The lesson's Python client as a real process: the test types into its stdin and reads what it
/// prints. `python3 -u` only turns off stdout buffering; the client's code runs unchanged.
/// </summary>
public sealed class LessonClientProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _printed = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stderr = new();

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
        var client = new LessonClientProcess(Process.Start(info) ?? throw new InvalidOperationException("python3 did not start"));
        client._process.BeginOutputReadLine();
        client._process.BeginErrorReadLine();
        client.Type(nickname);
        return client;
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
    public async Task<string> ReadPrintedUntilAsync(Func<string, bool> match)
    {
        while (true)
        {
            var line = await ReadPrintedAsync();
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
