using System.Globalization;
using System.Text;

namespace KestrelChat.Protocol;

/// <summary>
/// What a nickname may be: 1–32 characters (Unicode scalar values, after NFC normalisation) of
/// letters of any script, digits, '_', '-' and '.'. Combining marks may follow a letter, so scripts
/// such as Devanagari work. None of '*', '!', ':' or a space can appear, which is what keeps a chat
/// line "nick: text" from ever looking like a server line ("* …", "! …").
/// Uniqueness ignores case (<see cref="Comparer"/>).
/// </summary>
internal static class NicknameRules
{
    public const int MaxLength = 32;

    /// <summary>Case-insensitive, culture-independent: "Alice", "ALICE" and "alice" are one nickname.</summary>
    public static StringComparer Comparer => StringComparer.OrdinalIgnoreCase;

    /// <summary>Checks <paramref name="candidate"/>; on success <paramref name="nickname"/> is its canonical (NFC) form.</summary>
    public static NicknameProblem Validate(string candidate, out string nickname)
    {
        nickname = candidate.Trim();
        if (nickname.Length == 0)
        {
            return NicknameProblem.Empty;
        }
        if (!nickname.IsNormalized(NormalizationForm.FormC))
        {
            nickname = nickname.Normalize(NormalizationForm.FormC);
        }

        var count = 0;
        var previousWasLetter = false;
        foreach (var rune in nickname.EnumerateRunes())
        {
            if (++count > MaxLength)
            {
                return NicknameProblem.TooLong;
            }
            var category = Rune.GetUnicodeCategory(rune);
            var isLetter = Rune.IsLetter(rune);
            var isMark = category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;
            var allowed = isLetter
                || category == UnicodeCategory.DecimalDigitNumber
                || rune.Value is '_' or '-' or '.'
                || (isMark && previousWasLetter);
            if (!allowed)
            {
                return NicknameProblem.BadCharacter;
            }
            previousWasLetter = isLetter || (isMark && previousWasLetter);
        }
        return NicknameProblem.None;
    }
}

internal enum NicknameProblem
{
    None,
    Empty,
    TooLong,
    BadCharacter,
}
