using System.Text;
using System.Threading.Channels;
using Spectre.Console;

namespace KestrelChat.Client;

/// <summary>
/// The client in a terminal, the way irssi and weechat keep typing apart from reading: what arrives is
/// printed above, and the line being typed stays on the bottom line under its prompt, whole, however
/// many lines arrive meanwhile. Spectre.Console's live display owns that bottom line (its render hook
/// moves it down whenever something is printed above); the output stays in the terminal's scrollback.
/// One loop handles everything in order — keys, incoming lines, the end — so nothing draws at once.
/// </summary>
internal sealed class TerminalChat(IAnsiConsole console, ChatConnection connection)
{
    private readonly Channel<UiEvent> _events = Channel.CreateUnbounded<UiEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly InputLine _input = new();
    private string? _me; // null until the server's welcome names us

    /// <summary>Runs until the server closes the connection; returns the receive pump's exit code.</summary>
    public async Task<int> RunAsync()
    {
        // Asking for a key puts the terminal in .NET's key-by-key mode now, before the prompt shows: a key
        // typed before the reader thread first waits in ReadKey (Ctrl+D right after the prompt appeared)
        // then stays in the input instead of being taken by the terminal's line mode.
        _ = Console.KeyAvailable;
        var receive = ReceiveAsync();
        StartKeyReader();
        var code = 0;
        await console.Live(PromptLine()).AutoClear(true).StartAsync(async live =>
        {
            await foreach (var next in _events.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                if (next is Ended ended)
                {
                    code = ended.Code;
                    break;
                }
                await HandleAsync(next).ConfigureAwait(false);
                live.UpdateTarget(PromptLine());
                live.Refresh();
            }
        }).ConfigureAwait(false);
        await receive.ConfigureAwait(false); // observed: it posted Ended, so it has finished
        return code;
    }

    private async Task HandleAsync(UiEvent next)
    {
        switch (next)
        {
            case Incoming incoming:
                Follow(incoming.Line);
                console.MarkupLine(ChatLineView.Incoming(incoming.Line, DateTime.Now, _me));
                break;
            case Problem problem:
                console.MarkupLine(ChatLineView.Problem(problem.Text, DateTime.Now));
                break;
            case Key key:
                var result = _input.Apply(key.Info);
                if (result.Action == InputAction.Submitted && result.Line is { } line)
                {
                    await connection.Greeted.ConfigureAwait(false);
                    if (_me is not null && line.Length > 0)
                    {
                        console.MarkupLine(ChatLineView.Outgoing(line, DateTime.Now, _me));
                    }
                    await connection.SendLineAsync(line).ConfigureAwait(false);
                }
                else if (result.Action == InputAction.EndOfInput)
                {
                    await connection.EndInputAsync().ConfigureAwait(false); // the server says goodbye and closes
                }
                break;
        }
    }

    // Who we are, from what the server says: its welcome, and a rename of ourselves.
    private void Follow(string line)
    {
        const string Welcome = "* Welcome, ";
        const string Renamed = " is now known as ";
        if (_me is null && line.StartsWith(Welcome, StringComparison.Ordinal) && line.IndexOf("! ", Welcome.Length, StringComparison.Ordinal) is > 0 and var end)
        {
            _me = line[Welcome.Length..end];
        }
        else if (_me is not null && line.StartsWith($"* {_me}{Renamed}", StringComparison.Ordinal) && line.EndsWith('.'))
        {
            _me = line[($"* {_me}{Renamed}".Length)..^1];
        }
    }

    private Markup PromptLine()
    {
        var text = _input.Text;
        var cursor = _input.Cursor;
        var underCursor = cursor < text.Length ? text.Substring(cursor, System.Globalization.StringInfo.GetNextTextElementLength(text, cursor)) : " ";
        var after = cursor < text.Length ? text[(cursor + underCursor.Length)..] : "";
        return new Markup($"{ChatLineView.Prompt(_me)}{Markup.Escape(text[..cursor])}[invert]{Markup.Escape(underCursor)}[/]{Markup.Escape(after)}");
    }

    private async Task ReceiveAsync()
    {
        var code = 1;
        try
        {
            using var lines = new LineWriter(line => _events.Writer.TryWrite(new Incoming(line)));
            using var problems = new LineWriter(line => _events.Writer.TryWrite(new Problem(line)));
            code = await connection.ReceiveAsync(lines, problems).ConfigureAwait(false);
            lines.FlushPartialLine();
        }
        finally
        {
            _events.Writer.TryWrite(new Ended(code));
        }
    }

    // Console.ReadKey blocks, so the keys get a thread of their own. It is a background thread:
    // when the server closes, the loop ends and the process exits while it still waits for a key.
    private void StartKeyReader()
    {
        var reader = new Thread(() =>
        {
            try
            {
                while (true)
                {
                    _events.Writer.TryWrite(new Key(Console.ReadKey(intercept: true)));
                }
            }
            catch (InvalidOperationException)
            {
                // No keyboard after all (stdin closed): the chat can still be read.
            }
        })
        {
            IsBackground = true,
            Name = "keyboard",
        };
        reader.Start();
    }

    private abstract record UiEvent;

    private sealed record Key(ConsoleKeyInfo Info) : UiEvent;

    private sealed record Incoming(string Line) : UiEvent;

    private sealed record Problem(string Text) : UiEvent;

    private sealed record Ended(int Code) : UiEvent;

    /// <summary>Cuts what the receive pump prints into lines (it prints decoded chunks as they arrive).</summary>
    private sealed class LineWriter(Action<string> onLine) : TextWriter
    {
        private readonly StringBuilder _partial = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value) => Write([value]);

        public override void Write(ReadOnlySpan<char> buffer)
        {
            int lf;
            while ((lf = buffer.IndexOf('\n')) >= 0)
            {
                _partial.Append(buffer[..lf]);
                onLine(_partial.ToString().TrimEnd('\r'));
                _partial.Clear();
                buffer = buffer[(lf + 1)..];
            }
            _partial.Append(buffer);
        }

        public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

        public override void Write(string? value) => Write(value.AsSpan());

        public override Task WriteLineAsync(string? value)
        {
            Write(value.AsSpan());
            Write('\n');
            return Task.CompletedTask;
        }

        public void FlushPartialLine()
        {
            if (_partial.Length > 0)
            {
                onLine(_partial.ToString());
                _partial.Clear();
            }
        }
    }
}
