using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace KestrelChat.Chat;

/// <summary>
/// Ends TLS properly on the Chat:Tls listener: close_notify before the FIN. Kestrel's TLS middleware only
/// closes the socket, and then `openssl s_client` reports "unexpected eof" and exits 1 even after a clean
/// /quit. Does nothing on plain connections.
/// </summary>
internal static class TlsClose
{
    /// <summary>Call once everything is flushed, from the connection's only writer.</summary>
    public static async Task SendCloseNotifyAsync(ConnectionContext connection)
    {
        if (connection.Features.Get<ISslStreamFeature>()?.SslStream is not { } tls)
        {
            return;
        }
        try
        {
            await tls.ShutdownAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (PeerGone.Is(ex))
        {
            // The peer is gone already: there is nobody left to tell.
        }
    }
}
