using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace KestrelChat.Cluster;

/// <summary>
/// An entry id of a Redis stream ("1700000000000-3": the milliseconds of Redis's clock when it was added, and a
/// counter within that millisecond). Ids only grow within a stream; across streams they follow Redis's clock.
/// </summary>
internal readonly record struct StreamId(long Milliseconds, long Sequence) : IComparable<StreamId>
{
    public static readonly StreamId Zero = new(0, 0);

    public int CompareTo(StreamId other) => Milliseconds != other.Milliseconds
        ? Milliseconds.CompareTo(other.Milliseconds)
        : Sequence.CompareTo(other.Sequence);

    public static bool operator <(StreamId left, StreamId right) => left.CompareTo(right) < 0;

    public static bool operator >(StreamId left, StreamId right) => left.CompareTo(right) > 0;

    public static bool operator <=(StreamId left, StreamId right) => left.CompareTo(right) <= 0;

    public static bool operator >=(StreamId left, StreamId right) => left.CompareTo(right) >= 0;

    public static bool TryParse(ReadOnlySpan<byte> ascii, out StreamId id)
    {
        id = Zero;
        var dash = ascii.IndexOf((byte)'-');
        if (dash <= 0
            || !long.TryParse(ascii[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            || !long.TryParse(ascii[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
        {
            return false;
        }
        id = new StreamId(ms, seq);
        return true;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Milliseconds}-{Sequence}");
}

/// <summary>
/// One entry of a room's stream: the cluster messages one instance said in one room, in order, numbered.
/// <see cref="Origin"/> is the process (not the instance name: a restarted instance starts its numbers again),
/// and the messages carry the numbers <see cref="FirstSequence"/>, +1, … — one sequence per origin and room,
/// without holes, so a receiver suppresses what it has had (a retried publish) and sees what it never will (a
/// hole). An entry with no messages says only where the origin's sequence stands: it had to drop lines.
/// Wire format: origin (16 bytes), first sequence (8, little-endian), room (1-byte length, UTF-8), then each
/// message as a 4-byte length and <see cref="ClusterMessage.Serialize"/>.
/// </summary>
internal sealed record RoomStreamEntry(Guid Origin, long FirstSequence, string Room, IReadOnlyList<ClusterMessage> Messages)
{
    private const int HeaderBytes = 16 + 8 + 1;

    /// <summary>The sequence number the origin's next entry in this room starts with.</summary>
    public long NextSequence => FirstSequence + Messages.Count;

    public byte[] Serialize()
    {
        var room = Encoding.UTF8.GetBytes(Room);
        var messages = Messages.Select(m => m.Serialize()).ToArray();
        var bytes = new byte[HeaderBytes + room.Length + messages.Sum(m => 4 + m.Length)];
        Origin.TryWriteBytes(bytes);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(16), FirstSequence);
        bytes[24] = checked((byte)room.Length);
        room.CopyTo(bytes, HeaderBytes);
        var at = HeaderBytes + room.Length;
        foreach (var message in messages)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), message.Length);
            message.CopyTo(bytes, at + 4);
            at += 4 + message.Length;
        }
        return bytes;
    }

    /// <summary>Null for anything malformed (another program writing to the stream): ignored, never fatal.</summary>
    public static RoomStreamEntry? Deserialize(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderBytes || bytes.Length < HeaderBytes + bytes[24])
        {
            return null;
        }
        var origin = new Guid(bytes[..16]);
        var first = BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]);
        var room = Encoding.UTF8.GetString(bytes.Slice(HeaderBytes, bytes[24]));
        var messages = new List<ClusterMessage>();
        for (var at = HeaderBytes + bytes[24]; at < bytes.Length;)
        {
            if (bytes.Length - at < 4)
            {
                return null;
            }
            var length = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
            if (length < 0 || length > bytes.Length - at - 4 || ClusterMessage.Deserialize(bytes.Slice(at + 4, length)) is not { } message)
            {
                return null;
            }
            messages.Add(message);
            at += 4 + length;
        }
        return new RoomStreamEntry(origin, first, room, messages);
    }
}
