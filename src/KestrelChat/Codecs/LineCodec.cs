using System.Buffers;
using KestrelChat.Protocol;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace KestrelChat.Codecs;

/// <summary>
/// LF lines both ways (a CR before the LF is dropped): nc, telnet, our client, openssl s_client. The
/// connection ends with FIN; over TLS with close_notify first, since Kestrel's TLS middleware only closes
/// the socket and `openssl s_client` then reports "unexpected eof" and exits 1 even after a clean /quit.
/// </summary>
internal class LineCodec(int maxLineBytes) : ClientCodec
{
    private LineFramer _framer = new(maxLineBytes);

    public override int MaxLineBytes => maxLineBytes;

    public override LineResult TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line) =>
        _framer.TryReadLine(ref buffer, out line);

    public override Task CloseAsync(ConnectionContext connection, long bytesOut) => SendCloseNotifyAsync(connection);

    /// <summary>Called once everything is flushed, from the connection's only writer. Does nothing on plain connections.</summary>
    internal static async Task SendCloseNotifyAsync(ConnectionContext connection)
    {
        if (connection.Features.Get<ISslStreamFeature>()?.SslStream is not { } tls)
        {
            return;
        }
        try
        {
            await tls.ShutdownAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (Chat.PeerGone.Is(ex))
        {
            // The peer is gone already: there is nobody left to tell.
        }
    }
}
