using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;

namespace KestrelChat.Udp;

/// <summary>
/// The code a UDP address sends back to show that it receives what is sent to it, before the chat sends it
/// anything else (docs/protocol.md, "UDP"). Anyone can put any source address on a datagram; only whoever
/// really is at that address reads the code. The code is derived, not stored — six digits of an HMAC of the
/// address, the port and the current two-minute window under a key made at start (as QUIC's Retry tokens and
/// DNS cookies are) — so datagrams from a million forged addresses leave no state behind. A code is good in its
/// window and the next: two to four minutes to type it.
/// </summary>
internal sealed class AddressProof(TimeProvider time)
{
    /// <summary>Digits in a code: a person types it; a blind guess is right once in 500,000 (two windows).</summary>
    public const int CodeBytes = 6;

    private static readonly long WindowSeconds = 120;

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    /// <summary>Writes the current code for <paramref name="address"/> as ASCII digits into <paramref name="destination"/>.</summary>
    public void Code(SocketAddress address, Span<byte> destination) => Write(address, Window(), destination);

    /// <summary>True when <paramref name="datagram"/>, without its line end and spaces, is this or the last window's code for <paramref name="address"/>.</summary>
    public bool Proves(SocketAddress address, ReadOnlySpan<byte> datagram)
    {
        var text = datagram.Trim(" \t\r\n"u8);
        if (text.Length != CodeBytes)
        {
            return false;
        }
        Span<byte> expected = stackalloc byte[CodeBytes];
        var window = Window();
        Write(address, window, expected);
        if (CryptographicOperations.FixedTimeEquals(text, expected))
        {
            return true;
        }
        Write(address, window - 1, expected);
        return CryptographicOperations.FixedTimeEquals(text, expected);
    }

    private long Window() => time.GetUtcNow().ToUnixTimeSeconds() / WindowSeconds;

    private void Write(SocketAddress address, long window, Span<byte> destination)
    {
        // The address as the kernel gave it (family, port, address) and the window: no allocation.
        var bytes = address.Buffer.Span[..address.Size];
        Span<byte> input = stackalloc byte[bytes.Length + sizeof(long)];
        bytes.CopyTo(input);
        BinaryPrimitives.WriteInt64LittleEndian(input[bytes.Length..], window);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_key, input, mac);
        var number = BinaryPrimitives.ReadUInt32LittleEndian(mac) % 1_000_000;
        for (var i = CodeBytes - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (number % 10));
            number /= 10;
        }
    }
}
