using System.Globalization;
using System.Text.RegularExpressions;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>Reads join and leave notices, single or coalesced, and counts the people they announce.</summary>
public static partial class PresenceLines
{
    /// <summary>
    /// How many people <paramref name="line"/> announces as <paramref name="kind"/> ("joined" or "left"):
    /// "* a joined the chat." 1, "* a and b …" 2, "* a, b and c …" 3, "* a, b, c and N others …" 3 + N;
    /// 0 if it is not such a line.
    /// </summary>
    public static int Count(string line, string kind)
    {
        var notice = Presence().Match(line);
        if (!notice.Success || notice.Groups["kind"].Value != kind)
        {
            return 0;
        }
        var names = notice.Groups["names"].Value;
        var others = Others().Match(names);
        return others.Success
            ? 3 + int.Parse(others.Groups[1].Value, CultureInfo.InvariantCulture)
            : names.Split([", ", " and "], StringSplitOptions.None).Length;
    }

    [GeneratedRegex(@"^\* (?<names>.+) (?<kind>joined|left) the chat\.$")]
    private static partial Regex Presence();

    [GeneratedRegex(@" and (\d+) others$")]
    private static partial Regex Others();
}
