using System.Globalization;
using Spectre.Console;

namespace KestrelChat.Client;

/// <summary>
/// How a line looks in the terminal view: a timestamp, then the server's notices dimmed and its
/// errors in red, and every chat line's nickname in a colour of its own that stays the same for that
/// person across lines, sessions and machines (a hash of the name, not of the process). Your own
/// lines (the server does not echo them) are shown as the others see them, your name in bold.
/// Every piece of text from the network is escaped: a line containing "[red]" is shown as typed.
/// </summary>
internal static class ChatLineView
{
    // xterm-256 numbers, readable on dark and light backgrounds (dodger blue, green, dark orange, purple,
    // deep pink, deep sky blue, gold, steel blue, spring green, orchid, dark cyan, orange); red is kept
    // for errors, grey for the server.
    private static readonly byte[] Palette = [33, 34, 208, 141, 197, 32, 178, 75, 41, 170, 36, 172];

    private const string PrivateMark = " (private)";

    /// <summary>The colour of <paramref name="nickname"/> (xterm-256): the same for ALICE and alice, as the server's names are.</summary>
    public static byte ColorOf(string nickname)
    {
        var hash = 2166136261u; // FNV-1a: string.GetHashCode differs from run to run
        foreach (var c in nickname.ToLowerInvariant())
        {
            hash = (hash ^ c) * 16777619u;
        }
        return Palette[hash % (uint)Palette.Length];
    }

    /// <summary>A line from the server, as markup.</summary>
    public static string Incoming(string line, DateTime time, string? me)
    {
        var stamp = Stamp(time);
        if (line.StartsWith("* ", StringComparison.Ordinal))
        {
            return $"{stamp}[grey]{Markup.Escape(line)}[/]";
        }
        if (line.StartsWith("! ", StringComparison.Ordinal))
        {
            return $"{stamp}[red]{Markup.Escape(line)}[/]";
        }
        var colon = line.IndexOf(": ", StringComparison.Ordinal);
        if (colon > 0)
        {
            var nickname = line[..colon];
            var isPrivate = nickname.EndsWith(PrivateMark, StringComparison.Ordinal);
            if (isPrivate)
            {
                nickname = nickname[..^PrivateMark.Length];
            }
            if (nickname.Length > 0 && !nickname.Contains(' ', StringComparison.Ordinal))
            {
                var text = Markup.Escape(line[(colon + 2)..]);
                return isPrivate
                    ? $"{stamp}{Name(nickname, me)}[magenta]{PrivateMark}:[/] {text}"
                    : $"{stamp}{Name(nickname, me)}: {text}";
            }
        }
        return stamp + Markup.Escape(line);
    }

    /// <summary>A line this user sent: chat as the others see it, a command as typed (dimmed).</summary>
    public static string Outgoing(string line, DateTime time, string me) =>
        IsCommand(line)
            ? $"{Stamp(time)}[grey]> {Markup.Escape(line)}[/]"
            : $"{Stamp(time)}{Name(me, me)}: {Markup.Escape(line)}";

    /// <summary>The prompt in front of the typed text: your name in your colour, or "nickname" before you have one.</summary>
    public static string Prompt(string? me) => me is null ? "[bold]nickname>[/] " : $"{Name(me, me)}[bold]>[/] ";

    /// <summary>An error of the client itself (connection lost…).</summary>
    public static string Problem(string text, DateTime time) => $"{Stamp(time)}[red]{Markup.Escape(text)}[/]";

    // The server's commands; anything else the server relays as chat (docs/protocol.md).
    private static bool IsCommand(string line)
    {
        var trimmed = line.Trim().TrimEnd('?', '!', '.').Trim();
        return trimmed.StartsWith('/')
            || string.Equals(trimmed, "кто в чате", StringComparison.OrdinalIgnoreCase)
            || string.Equals(trimmed, "стоп", StringComparison.OrdinalIgnoreCase);
    }

    private static string Name(string nickname, string? me)
    {
        var color = Color.FromInt32(ColorOf(nickname)).ToMarkup();
        var bold = string.Equals(nickname, me, StringComparison.OrdinalIgnoreCase) ? "bold " : "";
        return $"[{bold}{color}]{Markup.Escape(nickname)}[/]";
    }

    private static string Stamp(DateTime time) => $"[grey]{time.ToString("HH:mm", CultureInfo.InvariantCulture)}[/] ";
}
