using System.Globalization;
using System.Text.RegularExpressions;
using KestrelChat.Client;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>Our console client in a real pseudo-terminal (tmux), as a person at a keyboard sees it.</summary>
public sealed partial class TerminalClientTests
{
    [Fact]
    public async Task The_line_being_typed_stays_whole_while_lines_arrive_and_your_own_lines_are_shown()
    {
        await using var scene = await AliceInATerminalBesideBobAsync();
        var (bob, terminal) = (scene.Bob, scene.Terminal);

        terminal.Type("half a li");
        await terminal.WaitForScreenAsync(screen => TmuxTerminal.LastRow(screen) == "alice> half a li");
        await bob.SendLineAsync("alice, are you there?");
        await bob.SendLineAsync("[red]not markup[/]");

        // The client prints a line and then redraws the prompt in several writes, so a capture may fall between
        // them: wait for the frame as drawn. What she typed must be there, whole, under the lines that came in.
        var screen = await terminal.WaitForScreenAsync(s => s.Any(row => row.EndsWith("bob: [red]not markup[/]", StringComparison.Ordinal))
            && TmuxTerminal.LastRow(s) == "alice> half a li");
        Assert.Contains(screen, row => Stamped().IsMatch(row) && row.EndsWith(" bob: alice, are you there?", StringComparison.Ordinal));

        terminal.Type("ne");
        terminal.Press("Enter");
        Assert.Equal("alice: half a line", await bob.ReadLineAsync(TimeSpan.FromSeconds(30)));
        screen = await terminal.WaitForScreenAsync(s => TmuxTerminal.LastRow(s) == "alice>"
            && s.Any(row => row.EndsWith(" alice: half a line", StringComparison.Ordinal)));
        Assert.Contains(screen, row => Stamped().IsMatch(row) && row.EndsWith(" alice: half a line", StringComparison.Ordinal)); // her own line, shown to her

        // Editing keys: back over a Cyrillic letter, Ctrl+W drops a word, Left and insert.
        terminal.Type("привет мир");
        terminal.Press("BSpace", "C-w");
        terminal.Type("всем");
        terminal.Press("Left", "Left", "Left", "Left");
        terminal.Type("!");
        await terminal.WaitForScreenAsync(s => TmuxTerminal.LastRow(s) == "alice> привет !всем");
        terminal.Press("Enter");
        Assert.Equal("alice: привет !всем", await bob.ReadLineAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Each_nickname_has_its_own_colour_on_every_line_the_same_as_any_other_client_computes()
    {
        await using var scene = await AliceInATerminalBesideBobAsync();
        var (bob, terminal) = (scene.Bob, scene.Terminal);

        await bob.SendLineAsync("one");
        await bob.SendLineAsync("two");
        var screen = await terminal.WaitForScreenAsync(s => s.Any(row => row.EndsWith("two", StringComparison.Ordinal)), escapes: true);

        // The colour comes from the name alone (not a per-process hash): this process computes the same one.
        var bobColor = $"\u001b[38;5;{ChatLineView.ColorOf("bob")}mbob";
        Assert.Equal(2, screen.Count(row => row.Contains(bobColor, StringComparison.Ordinal)));
        Assert.Equal(ChatLineView.ColorOf("bob"), ChatLineView.ColorOf("BOB"));
    }

    [Fact]
    public async Task No_color_draws_the_same_view_without_a_single_colour()
    {
        await using var scene = await AliceInATerminalBesideBobAsync("--no-color");
        var (bob, terminal) = (scene.Bob, scene.Terminal);

        await bob.SendLineAsync("hello");
        var screen = await terminal.WaitForScreenAsync(s => s.Any(row => row.EndsWith("bob: hello", StringComparison.Ordinal)), escapes: true);

        Assert.DoesNotMatch(Colour(), string.Join('\n', screen));
        Assert.Contains(screen, row => Stamped().IsMatch(row) && row.EndsWith(" bob: hello", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Ctrl_D_on_an_empty_line_leaves_and_the_client_exits_0()
    {
        await using var scene = await AliceInATerminalBesideBobAsync();
        var (bob, terminal) = (scene.Bob, scene.Terminal);

        terminal.Press("C-d");

        Assert.Equal("* alice left the chat.", await bob.ReadLineAsync(TimeSpan.FromSeconds(30)));
        await terminal.WaitForScreenAsync(s => s.Contains("client exited 0"));
    }

    /// <summary>The server, bob on a socket, and alice on our client in a terminal, her prompt up and her join seen by bob.</summary>
    private static async Task<Scene> AliceInATerminalBesideBobAsync(params string[] options)
    {
        var server = ChatServer.Start();
        var bob = await server.JoinAsync("bob");
        var terminal = StartClient(server, "alice", options);
        var scene = new Scene(server, bob, terminal);
        try
        {
            await terminal.WaitForScreenAsync(screen => TmuxTerminal.LastRow(screen) == "alice>");
            Assert.Equal("* alice joined the chat.", await bob.ReadLineAsync(TimeSpan.FromSeconds(30)));
            return scene;
        }
        catch
        {
            await scene.DisposeAsync();
            throw;
        }
    }

    private sealed record Scene(ChatServer Server, ChatTestClient Bob, TmuxTerminal Terminal) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Terminal.DisposeAsync();
            await Bob.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    // The client as a person starts it, NO_COLOR not inherited from whoever runs the tests; its exit code shown after it.
    private static TmuxTerminal StartClient(ChatServer server, string nickname, params string[] more) =>
        TmuxTerminal.Start(80, 16, "sh", "-c",
            $"env -u NO_COLOR dotnet \"$0\" --port {server.ChatEndPoint.Port.ToString(CultureInfo.InvariantCulture)} --nick {nickname} {string.Join(' ', more)}; echo client exited $?",
            Path.Combine(AppContext.BaseDirectory, "KestrelChat.Client.dll"));

    [GeneratedRegex(@"^\d\d:\d\d ")]
    private static partial Regex Stamped();

    // Any foreground or background colour: 30–37, 39?, 40–47, 90–97, 100–107, 38;5;N, 48;5;N, 38;2;…
    [GeneratedRegex(@"\u001b\[[0-9;]*(?<![0-9])(3[0-8]|4[0-8]|9[0-7]|10[0-7])[;m]")]
    private static partial Regex Colour();
}
