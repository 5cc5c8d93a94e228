using System.Globalization;
using System.Text;

namespace KestrelChat.Protocol;

/// <summary>
/// What a nickname may be: 1–32 characters (Unicode scalar values, after NFKC normalisation, so fullwidth
/// "ａｌｉｃｅ" and "𝓪𝓵𝓲𝓬𝓮" become "alice") of letters of any script, digits, '_', '-' and '.'. Up to
/// <see cref="MaxMarksPerLetter"/> combining marks may follow a letter, so Devanagari, Thai or Hebrew with
/// points work while a tower of marks does not. Nothing invisible (<see cref="UnicodeRules.IsInvisible"/>: a
/// name of Hangul fillers shows as blank), and no mix of Latin, Cyrillic and Greek in one name (UTS #39).
/// None of '*', '!', ':' or a space can appear, which is what keeps a chat line "nick: text" from ever
/// looking like a server line ("* …", "! …").
/// Uniqueness is by look, not by code point (<see cref="Comparer"/>): "alice", "ALICE", "аlice" with a
/// Cyrillic а, "ALİCE" and "a1ice" are one nickname.
/// </summary>
internal static class NicknameRules
{
    public const int MaxLength = 32;
    public const int MaxMarksPerLetter = 3;

    /// <summary>Two nicknames are one when their <see cref="Key"/>s are equal.</summary>
    public static IEqualityComparer<string> Comparer { get; } = new LookAlikeComparer();

    /// <summary>
    /// What a nickname is unique by: its UTS #39 confusable skeleton, case-folded before and after (the
    /// skeleton maps look-alikes to one prototype; the folding makes "Alice" and "ALİCE" the same as "alice").
    /// </summary>
    public static string Key(string nickname) =>
        Confusables.Skeleton(nickname.Normalize(NormalizationForm.FormKC).Normalize(NormalizationForm.FormD).ToLowerInvariant()
            .Replace("i\u0307", "i", StringComparison.Ordinal)) // "İ" is I + a dot above, and a lowercase i has its dot already
            .ToLowerInvariant();

    /// <summary>Checks <paramref name="candidate"/>; on success <paramref name="nickname"/> is its canonical (NFKC) form.</summary>
    public static NicknameProblem Validate(string candidate, out string nickname)
    {
        nickname = candidate.Trim();
        if (nickname.Length == 0)
        {
            return NicknameProblem.Empty;
        }
        if (!nickname.IsNormalized(NormalizationForm.FormKC))
        {
            nickname = nickname.Normalize(NormalizationForm.FormKC);
        }

        var count = 0;
        var marks = 0;
        var previousWasLetter = false;
        foreach (var rune in nickname.EnumerateRunes())
        {
            if (++count > MaxLength)
            {
                return NicknameProblem.TooLong;
            }
            if (UnicodeRules.IsInvisible(rune.Value))
            {
                return NicknameProblem.Invisible;
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
            marks = isMark ? marks + 1 : 0;
            if (marks > MaxMarksPerLetter)
            {
                return NicknameProblem.TooManyMarks;
            }
            previousWasLetter = isLetter || (isMark && previousWasLetter);
        }
        return Confusables.IsMixedScript(nickname) ? NicknameProblem.MixedScripts : NicknameProblem.None;
    }

    private sealed class LookAlikeComparer : IEqualityComparer<string>
    {
        public bool Equals(string? x, string? y) =>
            ReferenceEquals(x, y) || (x is not null && y is not null && string.Equals(Key(x), Key(y), StringComparison.Ordinal));

        public int GetHashCode(string obj) => StringComparer.Ordinal.GetHashCode(Key(obj));
    }
}

internal enum NicknameProblem
{
    None,
    Empty,
    TooLong,
    BadCharacter,
    Invisible,
    TooManyMarks,
    MixedScripts,
}
