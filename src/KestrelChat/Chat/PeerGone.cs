using Microsoft.AspNetCore.Connections;

namespace KestrelChat.Chat;

/// <summary>
/// The one list of exceptions that mean a connection's peer is gone — reset, aborted, closed under a
/// read or a write, or cancelled because it closed — as opposed to a bug or a failing dependency,
/// which are logged. Everything that reads or writes a chat connection asks here.
/// </summary>
internal static class PeerGone
{
    /// <summary>True when <paramref name="exception"/> only says the connection is gone.</summary>
    public static bool Is(Exception exception) =>
        exception is IOException or ConnectionResetException or ConnectionAbortedException or OperationCanceledException or ObjectDisposedException;

    /// <summary>The same, for a write: a pipe the transport already completed refuses writes with InvalidOperationException.</summary>
    public static bool IsOnWrite(Exception exception) => Is(exception) || exception is InvalidOperationException;
}
