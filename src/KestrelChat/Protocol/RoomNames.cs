using System.Globalization;
using System.Text;

namespace KestrelChat.Protocol;

/// <summary>
/// What a room name may be: '#' and then 1–<see cref="MaxLength"/> letters of any script (with up to
/// <see cref="NicknameRules.MaxMarksPerLetter"/> combining marks on a letter), digits, '-' and '_',
/// stored in NFC like every line. Unique regardless of case (<see cref="Key"/>): #Dev and #dev are one room.
/// Nothing invisible and no ':' or space, so "#dev" can stand in a notice without reading as anything else.
/// </summary>
internal static class RoomNames
{
    public const int MaxLength = 32;

    /// <summary>Checks <paramref name="candidate"/> ("#dev"); on success <paramref name="name"/> is its NFC form.</summary>
    public static bool TryValidate(string candidate, out string name)
    {
        name = candidate.Trim().Normalize(NormalizationForm.FormC);
        if (name.Length < 2 || name[0] != '#')
        {
            return false;
        }
        var count = 0;
        var marks = 0;
        var previousWasLetter = false;
        foreach (var rune in name.AsSpan(1).EnumerateRunes())
        {
            if (++count > MaxLength || UnicodeRules.IsInvisible(rune.Value))
            {
                return false;
            }
            var category = Rune.GetUnicodeCategory(rune);
            var isLetter = Rune.IsLetter(rune);
            var isMark = category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;
            if (!(isLetter || category == UnicodeCategory.DecimalDigitNumber || rune.Value is '-' or '_' || (isMark && previousWasLetter)))
            {
                return false;
            }
            marks = isMark ? marks + 1 : 0;
            if (marks > NicknameRules.MaxMarksPerLetter)
            {
                return false;
            }
            previousWasLetter = isLetter || (isMark && previousWasLetter);
        }
        return true;
    }

    /// <summary>What a room is unique by: its name without case.</summary>
    public static string Key(string name) => name.ToLowerInvariant();
}
