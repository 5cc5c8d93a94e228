using System.Buffers;

namespace KestrelChat.Protocol;

/// <summary>
/// Telnet's in-band commands (RFC 854): a byte 255 (IAC) and what follows it. The server never negotiates
/// options, but a telnet client still sends some: Ctrl+C is "IAC IP, IAC DO TIMING-MARK" (FF F4 FF FD 06),
/// and it lands in front of the next line typed. Byte 255 never occurs in UTF-8, so a line that failed to
/// decode and holds well-formed IAC sequences came from telnet: they are dropped and the rest is the line.
/// </summary>
internal static class TelnetCommands
{
    private const byte Iac = 255;
    private const byte Se = 240; // end of subnegotiation
    private const byte Sb = 250; // start of subnegotiation
    private const byte Will = 251; // WILL, WONT, DO, DONT (251–254) take one option byte

    /// <summary>
    /// <paramref name="line"/> without its telnet commands; false when it holds no IAC or a 255 that does not
    /// start a telnet command (then the line is simply not UTF-8).
    /// </summary>
    public static bool TryStrip(in ReadOnlySequence<byte> line, out byte[] stripped)
    {
        stripped = [];
        var bytes = line.ToArray(); // only on the rare path: a line that already failed to decode
        if (Array.IndexOf(bytes, Iac) < 0)
        {
            return false;
        }
        var kept = new byte[bytes.Length];
        var length = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != Iac)
            {
                kept[length++] = bytes[i];
                continue;
            }
            if (i + 1 >= bytes.Length)
            {
                break; // a lone IAC at the end: the rest of its command was cut off
            }
            var command = bytes[i + 1];
            if (command < Se)
            {
                return false;
            }
            i += command switch
            {
                Iac => 1, // an escaped data byte 255: not text either
                >= Will => 2,
                Sb => SubnegotiationLength(bytes, i),
                _ => 1, // NOP, DM, BRK, IP, AO, AYT, EC, EL, GA
            };
        }
        stripped = kept[..length];
        return true;
    }

    /// <summary>Bytes after the IAC at <paramref name="start"/> up to and including the IAC SE that ends its subnegotiation.</summary>
    private static int SubnegotiationLength(byte[] bytes, int start)
    {
        for (var j = start + 2; j + 1 < bytes.Length; j++)
        {
            if (bytes[j] == Iac && bytes[j + 1] == Se)
            {
                return j + 1 - start;
            }
        }
        return bytes.Length - 1 - start;
    }
}
