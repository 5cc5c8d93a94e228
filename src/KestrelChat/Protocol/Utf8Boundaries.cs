using System.Buffers;

namespace KestrelChat.Protocol;

/// <summary>UTF-8 at the edges of a chunk: TCP and a 1024-byte recv() know nothing of characters.</summary>
internal static class Utf8Boundaries
{
    /// <summary>
    /// Bytes at the end of <paramref name="bytes"/> that start a character whose remaining bytes have
    /// not arrived yet (0–3). Anything else, invalid bytes included, is left to the decoder.
    /// </summary>
    public static int IncompleteTailLength(in ReadOnlySequence<byte> bytes)
    {
        Span<byte> tail = stackalloc byte[3];
        var length = (int)Math.Min(3, bytes.Length);
        bytes.Slice(bytes.Length - length).CopyTo(tail);
        return IncompleteTailLength(tail[..length]);
    }

    public static int IncompleteTailLength(ReadOnlySpan<byte> bytes)
    {
        // Walk back over at most 3 continuation bytes (10xxxxxx) to the lead byte.
        for (var back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            var b = bytes[^back];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }
            var needed = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return needed > back ? back : 0;
        }
        return 0;
    }

    /// <summary>
    /// The longest prefix of <paramref name="bytes"/> of at most <paramref name="maxBytes"/> bytes that
    /// does not cut a character in two.
    /// </summary>
    public static int PrefixLength(ReadOnlySpan<byte> bytes, int maxBytes)
    {
        if (bytes.Length <= maxBytes)
        {
            return bytes.Length;
        }
        var end = maxBytes;
        while (end > 0 && (bytes[end] & 0xC0) == 0x80)
        {
            end--; // bytes[end] continues the character that started before it: cut before that character
        }
        return end;
    }
}
