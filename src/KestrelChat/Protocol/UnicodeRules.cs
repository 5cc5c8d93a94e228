namespace KestrelChat.Protocol;

/// <summary>
/// The characters that let a user hide or disguise text, for nicknames and chat lines alike: invisible ones
/// (Unicode's Default_Ignorable_Code_Point, plus the Hangul fillers and the line and paragraph separators)
/// and the bidirectional controls that reorder what follows them ("abc \u202Egnp.exe" shows as "abc exe.png").
/// </summary>
internal static class UnicodeRules
{
    /// <summary>Zero-width joiner and non-joiner: invisible, but Persian, Indic scripts and emoji sequences need them.</summary>
    public static bool IsJoiner(int c) => c is 0x200C or 0x200D;

    /// <summary>Variation selectors: invisible, but "❤️" is U+2764 U+FE0F.</summary>
    public static bool IsVariationSelector(int c) => c is (>= 0xFE00 and <= 0xFE0F) or (>= 0xE0100 and <= 0xE01EF);

    /// <summary>Bidi embeddings, overrides, isolates and marks (U+202A–202E, U+2066–2069, U+200E/200F, U+061C).</summary>
    public static bool IsBidiControl(int c) =>
        c is (>= 0x202A and <= 0x202E) or (>= 0x2066 and <= 0x2069) or 0x200E or 0x200F or 0x061C;

    /// <summary>
    /// Default_Ignorable_Code_Point (DerivedCoreProperties.txt; joiners and variation selectors included, which
    /// lines allow in their place), the Hangul fillers that render blank, and U+2028/U+2029, which end a line
    /// in some clients and not in others.
    /// </summary>
    public static bool IsInvisible(int c) => c switch
    {
        0x00AD or 0x034F or 0x061C or 0x115F or 0x1160 or 0x3164 or 0xFEFF or 0xFFA0 => true,
        >= 0x17B4 and <= 0x17B5 => true,
        >= 0x180B and <= 0x180F => true,
        >= 0x200B and <= 0x200F => true,
        >= 0x2028 and <= 0x202E => true,
        >= 0x2060 and <= 0x206F => true,
        >= 0xFE00 and <= 0xFE0F => true,
        >= 0xFFF0 and <= 0xFFF8 => true,
        >= 0x1BCA0 and <= 0x1BCA3 => true,
        >= 0x1D173 and <= 0x1D17A => true,
        >= 0xE0000 and <= 0xE0FFF => true,
        _ => false,
    };
}
