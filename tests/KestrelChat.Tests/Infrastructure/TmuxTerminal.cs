using System.Diagnostics;
using System.Text;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>
/// A program in a real pseudo-terminal: a detached tmux session on a server of its own (so tests run
/// in parallel), typed into with send-keys and read back with capture-pane, as a person sees it.
/// A tmux control-mode client reports every write of the program (%output), so a wait re-reads the
/// screen when something was drawn, not on a timer.
/// </summary>
public sealed class TmuxTerminal : IAsyncDisposable
{
    private readonly string _socket = $"kc-{Guid.NewGuid():N}";
    private readonly Process _control;
    private readonly SemaphoreSlim _drawn = new(0);

    private TmuxTerminal(int width, int height, IReadOnlyList<string> command)
    {
        // window-size manual: the control client must not resize the window to its own 80x24.
        Run(["new-session", "-d", "-s", "t", "-x", $"{width}", "-y", $"{height}", "--", .. command]);
        Run(["set-option", "-g", "window-size", "manual"]);
        Run(["set-option", "-g", "remain-on-exit", "on"]); // keep the last screen when the program exits
        var info = new ProcessStartInfo("tmux", ["-L", _socket, "-C", "attach", "-t", "t"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["LANG"] = "C.UTF-8";
        _control = Process.Start(info) ?? throw new InvalidOperationException("tmux did not start (apt-get install tmux)");
        _control.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null || e.Data.StartsWith("%output", StringComparison.Ordinal) || e.Data.StartsWith("%pane-mode-changed", StringComparison.Ordinal))
            {
                _drawn.Release();
            }
        };
        _control.BeginOutputReadLine();
    }

    /// <summary>Starts <paramref name="command"/> in a <paramref name="width"/>×<paramref name="height"/> terminal.</summary>
    public static TmuxTerminal Start(int width, int height, params string[] command) => new(width, height, command);

    /// <summary>Types <paramref name="text"/> as it is (no key names).</summary>
    public void Type(string text) => Run(["send-keys", "-t", "t", "-l", text]);

    /// <summary>Presses keys by tmux's names: Enter, BSpace, Left, C-u, C-d…</summary>
    public void Press(params string[] keys) => Run(["send-keys", "-t", "t", .. keys]);

    /// <summary>The screen, one string per row, trailing spaces removed; with escapes: colours and styles as SGR sequences.</summary>
    public string[] Screen(bool escapes = false)
    {
        var text = Run(escapes ? ["capture-pane", "-p", "-e", "-t", "t"] : ["capture-pane", "-p", "-t", "t"]);
        return text.TrimEnd('\n').Split('\n').Select(row => row.TrimEnd()).ToArray();
    }

    /// <summary>Waits until the screen shows what <paramref name="shows"/> wants; fails with the last screen at the deadline.</summary>
    public async Task<string[]> WaitForScreenAsync(Func<string[], bool> shows, TimeSpan? timeout = null, bool escapes = false)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var screen = Screen(escapes);
            if (shows(screen))
            {
                return screen;
            }
            try
            {
                await _drawn.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the terminal never showed what the test waited for; it shows:\n{string.Join('\n', screen)}\n{Processes()}");
            }
        }
    }

    // For a failure message: is the program still running, and in what state (a hang shows as a live process).
    private string Processes()
    {
        var pane = Run(["list-panes", "-t", "t", "-F", "#{pane_dead} #{pane_pid}"], check: false).Trim();
        var pid = pane.Split(' ').LastOrDefault() ?? "";
        var info = new ProcessStartInfo("ps", ["-o", "pid,stat,etime,args", "--ppid", pid, "-p", pid]) { RedirectStandardOutput = true };
        using var ps = Process.Start(info);
        var tree = ps?.StandardOutput.ReadToEnd() ?? "";
        ps?.WaitForExit();
        return $"pane (dead pid): {pane}\n{tree}";
    }

    /// <summary>The last non-empty row: where the client keeps the line being typed.</summary>
    public static string LastRow(string[] screen) => screen.LastOrDefault(row => row.Length > 0) ?? "";

    public async ValueTask DisposeAsync()
    {
        Run(["kill-server"], check: false);
        try
        {
            await _control.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            _control.Dispose();
            _drawn.Dispose();
        }
    }

    private string Run(IReadOnlyList<string> args, bool check = true)
    {
        var info = new ProcessStartInfo("tmux", ["-L", _socket, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        info.Environment["LANG"] = "C.UTF-8"; // tmux shows UTF-8 only when the locale says so
        using var tmux = Process.Start(info) ?? throw new InvalidOperationException("tmux did not start (apt-get install tmux)");
        var output = tmux.StandardOutput.ReadToEnd();
        var errors = tmux.StandardError.ReadToEnd();
        tmux.WaitForExit();
        if (check && tmux.ExitCode != 0)
        {
            throw new InvalidOperationException($"tmux {string.Join(' ', args)} failed ({tmux.ExitCode}): {errors}");
        }
        return output;
    }
}
