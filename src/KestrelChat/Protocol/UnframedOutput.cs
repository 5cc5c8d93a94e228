namespace KestrelChat.Protocol;

/// <summary>
/// What an unframed (lesson) client is sent: each server line as one write, without its LF (the
/// client's print() adds one), at most <see cref="MaxMessageBytes"/> bytes — its recv(1024) — and
/// never cut inside a character, because a cut character makes its decode() raise and kills it.
/// </summary>
internal static class UnframedOutput
{
    public const int MaxMessageBytes = 1024;

    public static ReadOnlySpan<byte> Message(ReadOnlySpan<byte> line)
    {
        var span = line;
        if (span.Length > 0 && span[^1] == (byte)'\n')
        {
            span = span[..^1];
        }
        return span[..Utf8Boundaries.PrefixLength(span, MaxMessageBytes)];
    }
}
