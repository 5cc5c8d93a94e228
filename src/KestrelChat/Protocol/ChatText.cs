using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace KestrelChat.Protocol;

/// <summary>
/// Turns one framed line into text, strictly: the bytes must be valid UTF-8 and the text must not
/// hold control characters. Terminal control bytes (ESC, a lone CR, backspace…) would let a user
/// rewrite what others' terminals show — for example overwrite the "alice: " prefix with a fake
/// "* " server notice — so such a line is refused, not forwarded.
/// </summary>
internal static class ChatText
{
    // Lines are bounded by the framer, so a stack copy of a multi-segment line is safe.
    private const int StackCopyLimit = 4096;

    public static TextResult TryDecode(in ReadOnlySequence<byte> line, out string text)
    {
        text = string.Empty;
        if (line.IsSingleSegment)
        {
            return TryDecode(line.FirstSpan, out text);
        }
        var length = checked((int)line.Length);
        byte[]? rented = null;
        var copy = length <= StackCopyLimit
            ? stackalloc byte[length]
            : (rented = ArrayPool<byte>.Shared.Rent(length)).AsSpan(0, length);
        try
        {
            line.CopyTo(copy);
            return TryDecode(copy, out text);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public static TextResult TryDecode(ReadOnlySpan<byte> bytes, out string text)
    {
        text = string.Empty;
        if (!Utf8.IsValid(bytes))
        {
            return TextResult.InvalidUtf8;
        }
        text = Encoding.UTF8.GetString(bytes);
        return HasControlCharacter(text) ? TextResult.ControlCharacter : TextResult.Ok;
    }

    /// <summary>C0 controls except tab, DEL, and the C1 range (U+0080–U+009F).</summary>
    public static bool IsForbiddenControl(char c) =>
        (c < ' ' && c != '\t') || (c >= '\u007F' && c <= '\u009F');

    /// <summary>Whether <paramref name="text"/> holds a character a chat line may not (see <see cref="IsForbiddenControl"/>).</summary>
    public static bool HasControlCharacter(string text)
    {
        foreach (var c in text)
        {
            if (IsForbiddenControl(c))
            {
                return true;
            }
        }
        return false;
    }
}

internal enum TextResult
{
    Ok,
    InvalidUtf8,
    ControlCharacter,
}
