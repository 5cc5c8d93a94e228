using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>
/// The server as a separate OS process (`dotnet KestrelChat.dll`), for what only a real process
/// shows: its exit code, signals, and what it prints. Ports come from its own log lines.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource<(int Chat, int Admin)> _ports = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _lineLogged = new(0);
    private int? _chatPort;

    private ServerProcess(Process process) => _process = process;

    public int ExitCode => _process.ExitCode;

    public bool HasExited => _process.HasExited;

    public string Output => string.Join('\n', _output);

    public static ServerProcess Start(params (string Name, string Value)[] environment) => Start([], [], environment);

    /// <summary>
    /// Starts the server as README says, <c>dotnet run --project src/KestrelChat</c> (without building again), typed in
    /// <paramref name="directory"/>.
    /// </summary>
    public static ServerProcess StartWithDotnetRunIn(string directory, string project, params (string Name, string Value)[] environment) =>
        Start(["dotnet", "run", "--no-build", "--project", project, "--"], [], environment, directory, runsItself: true);

    /// <summary>Starts the server under <c>ulimit -n <paramref name="openFiles"/></c>, set in the child's shell as an operator would.</summary>
    public static ServerProcess StartWithOpenFilesLimit(int openFiles, params (string Name, string Value)[] environment) =>
        Start(["bash", "-c", $"ulimit -n {openFiles} && exec \"$@\"", "server"], [], environment);

    /// <summary>Starts the server with these command-line arguments (settings such as --Chat:Port=abc, or --help).</summary>
    public static ServerProcess StartWithArguments(params string[] arguments) => Start([], arguments, []);

    /// <summary>
    /// Starts the server without the capability to read other users' files (setpriv drops CAP_DAC_OVERRIDE and
    /// CAP_DAC_READ_SEARCH), so a file mode that keeps a container's user out keeps it out too, even under root.
    /// </summary>
    public static ServerProcess StartWithoutReadingOthersFiles(params (string Name, string Value)[] environment) =>
        Start(["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"], [], environment);

    /// <summary>Runs <c>PREFIX… dotnet KestrelChat.dll ARGUMENTS…</c>.</summary>
    private static ServerProcess Start(string[] prefix, string[] arguments, (string Name, string Value)[] environment, string? directory = null, bool runsItself = false)
    {
        var assembly = typeof(Program).Assembly.Location;
        string[] command = runsItself ? [.. prefix, .. arguments] : [.. prefix, "dotnet", assembly, .. arguments];
        var info = new ProcessStartInfo(command[0], command[1..]);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        info.WorkingDirectory = directory ?? Path.GetDirectoryName(assembly)!;
        info.Environment["Chat__Port"] = "0";
        info.Environment["Chat__BindAddress"] = "127.0.0.1";
        info.Environment["Admin__Url"] = "http://127.0.0.1:0";
        info.Environment["Chat__Web__Url"] = "http://127.0.0.1:0";
        info.Environment["DOTNET_NOLOGO"] = "1";
        // Each run its own history file (the default, data/ beside the binary, would carry one test's lines into the next).
        info.Environment["Chat__History__Path"] = Path.Combine(Path.GetTempPath(), "kestrelchat-tests", Guid.NewGuid().ToString("N"), "history.db");
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }
        var server = new ServerProcess(new Process { StartInfo = info, EnableRaisingEvents = true });
        server._process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.Start();
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        return server;
    }

    /// <summary>Waits until the server has logged both listening lines; returns the chat and admin endpoints.</summary>
    public async Task<(IPEndPoint Chat, Uri Admin)> WaitUntilListeningAsync(TimeSpan timeout)
    {
        var exited = _process.WaitForExitAsync();
        var ready = await Task.WhenAny(_ports.Task, exited).WaitAsync(timeout);
        if (ready != _ports.Task)
        {
            throw new InvalidOperationException($"The server exited ({_process.ExitCode}) before listening:\n{Output}");
        }
        var (chat, admin) = await _ports.Task;
        return (new IPEndPoint(IPAddress.Loopback, chat), new Uri($"http://127.0.0.1:{admin}"));
    }

    /// <summary>Waits until the server's output contains <paramref name="text"/>; returns the whole output.</summary>
    public async Task<string> WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            var left = until - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero && await _lineLogged.WaitAsync(left), $"The server never logged \"{text}\":\n{Output}");
        }
        return Output;
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    /// <summary>Freezes the process (SIGSTOP): a GC pause or a starved VM, as long as the test likes.</summary>
    public void Freeze() => Signal("-STOP");

    /// <summary>Lets a frozen process go on (SIGCONT).</summary>
    public void Thaw() => Signal("-CONT");

    private void Signal(string signal)
    {
        using var kill = Process.Start("kill", [signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Sends SIGTERM, as `docker stop` and `systemctl stop` do.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        _lineLogged.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        _output.Enqueue(line);
        _lineLogged.Release();
        if (ChatLine().Match(line) is { Success: true } chat)
        {
            _chatPort = int.Parse(chat.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (AdminLine().Match(line) is { Success: true } admin && _chatPort is { } chatPort)
        {
            _ports.TrySetResult((chatPort, int.Parse(admin.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }
    }

    [GeneratedRegex(@"Chat listening on tcp://[^ ]*:(\d+)")]
    private static partial Regex ChatLine();

    [GeneratedRegex(@"Admin API listening on http://[^ ]*:(\d+)")]
    private static partial Regex AdminLine();
}
