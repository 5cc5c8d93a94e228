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
}

/// <summary>
/// One message on the backplane: the server line exactly as clients receive it (encoded once by the
/// origin), plus who sent it and, for one-connection kinds, the target. Wire format, all in one
/// array: kind (1 byte), origin length (1) + origin (UTF-8), target length (1) + target, the line.
/// </summary>
internal sealed record ClusterMessage(ClusterMessageKind Kind, string Origin, string? Target, byte[] Line)
{
    public byte[] Serialize()
    {
        var origin = Encoding.UTF8.GetBytes(Origin);
        var target = Encoding.UTF8.GetBytes(Target ?? "");
        var bytes = new byte[3 + origin.Length + target.Length + Line.Length];
        bytes[0] = (byte)Kind;
        bytes[1] = checked((byte)origin.Length);
        origin.CopyTo(bytes, 2);
        bytes[2 + origin.Length] = checked((byte)target.Length);
        target.CopyTo(bytes, 3 + origin.Length);
        Line.CopyTo(bytes, 3 + origin.Length + target.Length);
        return bytes;
    }

    /// <summary>Null for anything malformed (another program on the channel): ignored, never fatal.</summary>
    public static ClusterMessage? Deserialize(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 3 || !Enum.IsDefined((ClusterMessageKind)bytes[0]))
        {
            return null;
        }
        var originLength = bytes[1];
        if (bytes.Length < 3 + originLength)
        {
            return null;
        }
        var targetLength = bytes[2 + originLength];
        var lineStart = 3 + originLength + targetLength;
        if (bytes.Length < lineStart)
        {
            return null;
        }
        var target = Encoding.UTF8.GetString(bytes.Slice(3 + originLength, targetLength));
        return new ClusterMessage(
            (ClusterMessageKind)bytes[0],
            Encoding.UTF8.GetString(bytes.Slice(2, originLength)),
            target.Length == 0 ? null : target,
            bytes[lineStart..].ToArray());
    }
}
