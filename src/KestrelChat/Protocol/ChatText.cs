using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace KestrelChat.Protocol;

/// <summary>
/// Turns one framed line into text, strictly: the bytes must be valid UTF-8 and the text must not
/// hold control characters. Terminal control bytes (ESC, a lone CR, backspace…) would let a user
/// rewrite what others' terminals show — for example overwrite the "alice: " prefix with a fake
/// "* " server notice — so such a line is refused, not forwarded. The same goes for Unicode's ways to
/// hide or disguise text (<see cref="UnicodeRules"/>): bidi controls, invisible characters (a joiner
/// or a variation selector is fine right after a visible character, as Persian, Indic scripts and
/// emoji need), and more than <see cref="MaxMarksPerCharacter"/> combining marks on one character.
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
        return Check(text);
    }

    /// <summary>Combining marks one character may carry in a line: Vietnamese, Hebrew with points and cantillation, Tibetan stacks fit.</summary>
    public const int MaxMarksPerCharacter = 8;

    /// <summary>What is wrong with <paramref name="text"/> as a line others will see, if anything.</summary>
    public static TextResult Check(string text)
    {
        var marks = 0;
        var afterVisible = false; // the previous character shows: a joiner or a variation selector may follow
        for (var i = 0; i < text.Length; i++)
        {
            int c = text[i];
            if (c < 0x300)
            {
                // ASCII and Latin-1, most of every line: only controls and the soft hyphen are of interest.
                if (IsForbiddenControl((char)c))
                {
                    return TextResult.ControlCharacter;
                }
                if (c == 0xAD)
                {
                    return TextResult.Invisible;
                }
                marks = 0;
                afterVisible = c != ' ' && c != '\t';
                continue;
            }
            if (char.IsHighSurrogate((char)c) && i + 1 < text.Length)
            {
                c = char.ConvertToUtf32((char)c, text[++i]);
            }
            if (UnicodeRules.IsBidiControl(c))
            {
                return TextResult.DirectionControl;
            }
            if (UnicodeRules.IsJoiner(c) || UnicodeRules.IsVariationSelector(c))
            {
                if (!afterVisible || (UnicodeRules.IsJoiner(c) && i + 1 >= text.Length))
                {
                    return TextResult.Invisible;
                }
                afterVisible = UnicodeRules.IsVariationSelector(c); // a joiner must be followed by a visible character
                marks = 0;
                continue;
            }
            if (UnicodeRules.IsInvisible(c))
            {
                return TextResult.Invisible;
            }
            var category = CharUnicodeInfo.GetUnicodeCategory(c);
            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.SpacingCombiningMark)
            {
                if (++marks > MaxMarksPerCharacter)
                {
                    return TextResult.TooManyMarks;
                }
                continue;
            }
            marks = 0;
            afterVisible = category is not (UnicodeCategory.SpaceSeparator or UnicodeCategory.Format);
        }
        return TextResult.Ok;
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
    DirectionControl,
    Invisible,
    TooManyMarks,
}
