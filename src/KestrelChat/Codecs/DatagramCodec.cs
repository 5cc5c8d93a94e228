namespace KestrelChat.Codecs;

/// <summary>
/// A UDP client (Udp/UdpConnection.cs turns its datagrams into LF lines and lines into datagrams): lines as on TCP,
/// except that "NICK" is a line at once — a datagram goes only when its line has ended. Nothing ends a UDP
/// "connection" on the wire: no FIN, no close frame; the client is simply no longer answered.
/// </summary>
internal sealed class DatagramCodec(int maxLineBytes) : LineCodec(maxLineBytes)
{
    public override bool LeavesGreetingOpen => false;
}
