using System.Text;
using KestrelChat.Protocol;

namespace KestrelChat.Chat;

/// <summary>What a message says, apart from how it is framed.</summary>
internal enum MessageKind : byte
{
    /// <summary>A line for the room: "alice: text".</summary>
    Text,

    /// <summary>/me: "* alice waves".</summary>
    Action,
}

/// <summary>
/// One thing said in a room, made once after the line was decoded and understood: where, by whom,
/// what kind, and the text. Its wire form is encoded once (<see cref="Encode"/>, into the sender's
/// <see cref="FanOutScope"/>) and the same bytes go to every member, here and through the backplane;
/// the history of the next issue records the value, not the bytes.
/// </summary>
internal readonly record struct ChatMessage(Room Room, string Sender, MessageKind Kind, string Text)
{
    /// <summary>The length of the encoded line, LF included.</summary>
    public int EncodedLength => Kind == MessageKind.Action
        ? 3 + Encoding.UTF8.GetByteCount(Sender) + Encoding.UTF8.GetByteCount(Text)
        : ServerLines.ChatByteCount(Sender, Text);

    /// <summary>Writes the line ("alice: text\n" or "* alice waves\n") into <paramref name="destination"/>; returns its length.</summary>
    public int Encode(Span<byte> destination)
    {
        if (Kind != MessageKind.Action)
        {
            return ServerLines.WriteChat(Sender, Text, destination);
        }
        "* "u8.CopyTo(destination);
        var written = 2 + Encoding.UTF8.GetBytes(Sender, destination[2..]);
        destination[written++] = (byte)' ';
        written += Encoding.UTF8.GetBytes(Text, destination[written..]);
        destination[written++] = (byte)'\n';
        return written;
    }
}
