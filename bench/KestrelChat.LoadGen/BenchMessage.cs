using System.Buffers.Text;
using System.Runtime.CompilerServices;

namespace KestrelChat.LoadGen;

/// <summary>
/// A benchmark message as its sender types it: "SENDER SEQ MICROS xxx…", padded with 'x' to the
/// message size, then LF. Receivers get it as "NAME: SENDER SEQ MICROS xxx…". MICROS is
/// <see cref="RunClock.Microseconds"/> at send time, so receive time − MICROS is the latency.
/// </summary>
internal static class BenchMessage
{
    /// <summary>Longest header: sender and sequence (ints), microseconds (at most 18 digits), two spaces.</summary>
    public const int MaxHeaderBytes = 10 + 1 + 10 + 1 + 18;

    /// <summary>Writes one message with its LF into <paramref name="destination"/>; returns its length.</summary>
    public static int Write(Span<byte> destination, int sender, int sequence, long micros, int size)
    {
        Utf8Formatter.TryFormat(sender, destination, out var length);
        destination[length++] = (byte)' ';
        Utf8Formatter.TryFormat(sequence, destination[length..], out var written);
        length += written;
        destination[length++] = (byte)' ';
        Utf8Formatter.TryFormat(micros, destination[length..], out written);
        length += written;
        if (length < size)
        {
            destination[length++] = (byte)' ';
            destination[length..size].Fill((byte)'x');
            length = size;
        }
        destination[length++] = (byte)'\n';
        return length;
    }

    /// <summary>Reads a received line "NAME: SENDER SEQ MICROS …" (without its LF); false if it is anything else.</summary>
    /// <remarks>One scalar pass, no calls: this runs for every delivery, millions of times a second.</remarks>
    public static bool TryParse(ReadOnlySpan<byte> line, out int sender, out int sequence, out long micros)
    {
        sender = sequence = 0;
        micros = 0;
        var at = 0;
        while (at < line.Length && line[at] != ':') // a nickname contains neither ':' nor a space
        {
            at++;
        }
        if (++at >= line.Length || line[at++] != ' '
            || !TryNumber(line, ref at, out var s) || !TryNumber(line, ref at, out var q) || !TryNumber(line, ref at, out micros))
        {
            return false;
        }
        sender = (int)s;
        sequence = (int)q;
        return true;
    }

    /// <summary>Reads 1..18 digits at <paramref name="at"/> and steps past the space after them (or stops at the end).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryNumber(ReadOnlySpan<byte> line, ref int at, out long value)
    {
        value = 0;
        var start = at;
        uint digit;
        while (at < line.Length && (digit = (uint)(line[at] - '0')) <= 9)
        {
            value = (value * 10) + digit;
            at++;
        }
        if (at == start || at - start > 18)
        {
            return false;
        }
        return at == line.Length || line[at++] == ' ';
    }
}
