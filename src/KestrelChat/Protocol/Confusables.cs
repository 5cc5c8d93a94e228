using System.Runtime.InteropServices;
using System.Text;

namespace KestrelChat.Protocol;

/// <summary>
/// Unicode's confusable detection (UTS #39, "Unicode Security Mechanisms") from the ICU library that .NET
/// itself uses for globalisation on Linux (libicui18n's spoof checker), so its data is the same Unicode
/// version as the rest of the runtime's. Two names with one <see cref="Skeleton"/> look alike ("аlice" with a
/// Cyrillic а, "alice", "ａｌｉｃｅ"); <see cref="IsMixedScript"/> is UTS #39's "moderately restrictive" level:
/// Latin may go with Han, Hiragana, Katakana or Hangul, but no two of Latin, Cyrillic and Greek mix.
/// The checker is configured once; ICU allows its const functions from any thread.
/// </summary>
internal static unsafe partial class Confusables
{
    private const int RestrictionLevelCheck = 16; // USPOOF_RESTRICTION_LEVEL
    private const int ModeratelyRestrictive = 0x40000000; // USPOOF_MODERATELY_RESTRICTIVE
    private const int BufferOverflow = 15; // U_BUFFER_OVERFLOW_ERROR

    private static readonly Icu? Library = Icu.Load();

    /// <summary>Whether ICU was found; without it a skeleton is the case-folded NFKC form only (logged at start).</summary>
    public static bool Available => Library is not null;

    /// <summary>The UTS #39 skeleton of <paramref name="text"/> (NFD, confusables mapped to their prototype, NFD again).</summary>
    public static string Skeleton(string text)
    {
        if (Library is not { } icu || text.Length == 0)
        {
            return text;
        }
        Span<char> buffer = stackalloc char[256];
        var status = 0;
        int length;
        fixed (char* source = text)
        fixed (char* destination = buffer)
        {
            length = icu.GetSkeleton(icu.Checker, 0, source, text.Length, destination, buffer.Length, &status);
        }
        if (status == BufferOverflow)
        {
            var large = new char[length];
            status = 0;
            fixed (char* source = text)
            fixed (char* destination = large)
            {
                length = icu.GetSkeleton(icu.Checker, 0, source, text.Length, destination, large.Length, &status);
            }
            return status > 0 ? text : new string(large, 0, length);
        }
        return status > 0 ? text : new string(buffer[..length]);
    }

    /// <summary>Whether <paramref name="text"/> mixes scripts beyond UTS #39's moderately restrictive level.</summary>
    public static bool IsMixedScript(string text)
    {
        if (Library is not { } icu || text.Length == 0)
        {
            return false;
        }
        var status = 0;
        int result;
        fixed (char* source = text)
        {
            result = icu.Check(icu.Checker, source, text.Length, null, &status);
        }
        return status <= 0 && (result & RestrictionLevelCheck) != 0;
    }

    private sealed class Icu
    {
        public required nint Checker { get; init; }

        public required delegate* unmanaged<nint, int, char*, int, char*, int, int*, int> GetSkeleton { get; init; }

        public required delegate* unmanaged<nint, char*, int, int*, int*, int> Check { get; init; }

        /// <summary>
        /// Finds libicui18n as .NET does (newest version first); ICU suffixes its symbols with the major version
        /// ("uspoof_open_72") unless built without renaming.
        /// </summary>
        public static Icu? Load()
        {
            if (!OperatingSystem.IsLinux() || AppContext.TryGetSwitch("System.Globalization.Invariant", out var invariant) && invariant)
            {
                return null;
            }
            for (var version = 90; version >= 50; version--)
            {
                if (!NativeLibrary.TryLoad($"libicui18n.so.{version}", out var library))
                {
                    continue;
                }
                foreach (var suffix in new[] { $"_{version}", string.Empty })
                {
                    if (NativeLibrary.TryGetExport(library, "uspoof_open" + suffix, out var open)
                        && NativeLibrary.TryGetExport(library, "uspoof_setChecks" + suffix, out var setChecks)
                        && NativeLibrary.TryGetExport(library, "uspoof_setRestrictionLevel" + suffix, out var setLevel)
                        && NativeLibrary.TryGetExport(library, "uspoof_getSkeleton" + suffix, out var skeleton)
                        && NativeLibrary.TryGetExport(library, "uspoof_check" + suffix, out var check))
                    {
                        var status = 0;
                        var checker = ((delegate* unmanaged<int*, nint>)open)(&status);
                        if (status > 0 || checker == 0)
                        {
                            return null;
                        }
                        ((delegate* unmanaged<nint, int, int*, void>)setChecks)(checker, RestrictionLevelCheck, &status);
                        ((delegate* unmanaged<nint, int, void>)setLevel)(checker, ModeratelyRestrictive);
                        return status > 0 ? null : new Icu
                        {
                            Checker = checker,
                            GetSkeleton = (delegate* unmanaged<nint, int, char*, int, char*, int, int*, int>)skeleton,
                            Check = (delegate* unmanaged<nint, char*, int, int*, int*, int>)check,
                        };
                    }
                }
            }
            return null;
        }
    }
}
