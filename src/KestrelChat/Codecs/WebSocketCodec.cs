namespace KestrelChat.Codecs;

/// <summary>
/// The web chat's WebSocket (Web/WebSocketConnection.cs turns its frames into LF lines and back): lines as on
/// TCP, except that "NICK" is a line at once — a frame is sent only when its line has ended.
/// </summary>
internal sealed class WebSocketCodec(int maxLineBytes) : LineCodec(maxLineBytes)
{
    public override bool LeavesGreetingOpen => false;
}
