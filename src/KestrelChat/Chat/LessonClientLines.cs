using KestrelChat.Protocol;

namespace KestrelChat.Chat;

/// <summary>
/// What the lesson's client and the students' variants of it send, as the plain lines the commands
/// understand: their own "alice: " before every message is removed (the server adds the real one),
/// and a first message "alice: hello" from a client that never answered NICK (it asked for the name
/// before reading) is two lines, the name and the message. The commands never see either form.
/// </summary>
internal static class LessonClientLines
{
    /// <summary>
    /// <paramref name="message"/> as one line, or as two (<paramref name="then"/> set): a client that
    /// speaks in lines and never prefixed its name gets its message back untouched.
    /// </summary>
    public static string ToLines(ChatSession session, string message, out string? then)
    {
        then = null;
        if (session.Nickname is null)
        {
            if (session.Unframed && NicknameRules.Validate(message, out _) != NicknameProblem.None && SplitOwnPrefix(message) is { } split)
            {
                then = string.IsNullOrWhiteSpace(split.Message) ? null : split.Message;
                return split.Nickname;
            }
            return message;
        }
        return session.OwnPrefix is { } prefix && OwnPrefixLength(message, prefix) is var length and > 0
            ? message[length..]
            : message;
    }

    /// <summary>Once an unframed client has a name, every message it sends starts with it (its own variable: /nick does not change it).</summary>
    public static void Named(ChatSession session)
    {
        if (session.Unframed && session.Nickname is { } nickname && session.OwnPrefix is null)
        {
            session.OwnPrefix = nickname;
        }
    }

    /// <summary>
    /// How many characters of <paramref name="line"/> are its sender's own "nickname:" prefix, in any of the
    /// spacings students' clients use ("alice: hi", "alice :hi", "alice : hi"); 0 when it has none.
    /// </summary>
    internal static int OwnPrefixLength(string line, string nickname)
    {
        if (!line.StartsWith(nickname, StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }
        var i = nickname.Length;
        while (i < line.Length && line[i] == ' ')
        {
            i++;
        }
        if (i >= line.Length || line[i] != ':')
        {
            return 0;
        }
        i++;
        return i < line.Length && line[i] == ' ' ? i + 1 : i;
    }

    /// <summary>"alice: hello" → (alice, hello) when the part before the colon is a valid nickname.</summary>
    private static (string Nickname, string Message)? SplitOwnPrefix(string line)
    {
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || NicknameRules.Validate(line[..colon], out var nickname) != NicknameProblem.None)
        {
            return null;
        }
        return (nickname, line[OwnPrefixLength(line, line[..colon].TrimEnd())..]);
    }
}
