using System.Text;

namespace KestrelChat.Cluster;

/// <summary>What one instance tells the others.</summary>
internal enum ClusterMessageKind : byte
{
    /// <summary>A line for every named member (chat lines, join/leave/rename notices).</summary>
    ToMembers = 1,

    /// <summary>A line for every connection, named or not (POST /broadcast).</summary>
    ToEveryConnection = 2,

    /// <summary>A line for one connection (/msg to someone on another instance).</summary>
    ToConnection = 3,

    /// <summary>Close one connection with the line as its last (DELETE /clients/{id}).</summary>
    Kick = 4,

    /// <summary>
    /// A history item of the room (its value, <see cref="History.HistoryItem.ToWire"/>): the other instances keep
    /// it in their memory of the room; the origin alone writes it to the store.
    /// </summary>
    History = 5,

    /// <summary>A history item removed by an operator (its id, as text): gone from every instance's memory too.</summary>
    HistoryDelete = 6,

    /// <summary>
    /// An instance stopped saying it is alive (crashed, cut off): its named clients, one "nickname TAB room" line
    /// each, have left; every instance tells its own members in those rooms. Target: the instance.
    /// </summary>
    InstanceGone = 7,

    /// <summary>
    /// An instance declared dead was only stalled (GC, a starved VM) and is back: its named clients, one
    /// "nickname TAB room" line each, are announced again to the members who were told they left.
    /// </summary>
    InstanceBack = 8,

    /// <summary>
    /// A member of the origin joined, was renamed, moved or left (Target: its connection id; the line: the origin's
    /// change number and the client, <see cref="ClusterRoster.EventLine"/>). Sent in the stream of every room the
    /// change concerns, before the notices that tell it.
    /// </summary>
    Roster = 9,
}

/// <summary>
/// One message on the backplane: the server line exactly as clients receive it (encoded once by the
/// origin; for chat, a batch of whole lines), plus who sent it, the room it is for (members' kinds) and,
/// for one-connection kinds, the target. Wire format, all in one array: kind (1 byte), then origin,
/// target and room, each as a length (1 byte) and UTF-8, then the line. Every string is short by
/// construction: an instance name is at most <see cref="MaxFieldBytes"/> bytes (checked at start), a
/// connection id a few dozen, a room name at most 32 characters.
/// </summary>
internal sealed record ClusterMessage(ClusterMessageKind Kind, string Origin, string? Target, byte[] Line, string? Room = null)
{
    /// <summary>The longest origin, target or room a message can carry.</summary>
    public const int MaxFieldBytes = byte.MaxValue;

    public byte[] Serialize()
    {
        var origin = Encoding.UTF8.GetBytes(Origin);
        var target = Encoding.UTF8.GetBytes(Target ?? "");
        var room = Encoding.UTF8.GetBytes(Room ?? "");
        var bytes = new byte[4 + origin.Length + target.Length + room.Length + Line.Length];
        bytes[0] = (byte)Kind;
        var at = 1;
        foreach (var field in (ReadOnlySpan<byte[]>)[origin, target, room])
        {
            bytes[at++] = checked((byte)field.Length);
            field.CopyTo(bytes, at);
            at += field.Length;
        }
        Line.CopyTo(bytes, at);
        return bytes;
    }

    /// <summary>Null for anything malformed (another program on the channel): ignored, never fatal.</summary>
    public static ClusterMessage? Deserialize(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 4 || !Enum.IsDefined((ClusterMessageKind)bytes[0]))
        {
            return null;
        }
        var at = 1;
        if (!TryReadField(bytes, ref at, out var origin) || !TryReadField(bytes, ref at, out var target) || !TryReadField(bytes, ref at, out var room))
        {
            return null;
        }
        return new ClusterMessage((ClusterMessageKind)bytes[0], origin ?? "", target, bytes[at..].ToArray(), room);
    }

    private static bool TryReadField(ReadOnlySpan<byte> bytes, ref int at, out string? field)
    {
        field = null;
        if (at >= bytes.Length || at + 1 + bytes[at] > bytes.Length)
        {
            return false;
        }
        var length = bytes[at];
        if (length > 0)
        {
            field = Encoding.UTF8.GetString(bytes.Slice(at + 1, length));
        }
        at += 1 + length;
        return true;
    }
}
