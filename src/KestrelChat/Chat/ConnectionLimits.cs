using System.Collections.Concurrent;
using System.Net;
using System.Text;
using KestrelChat.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace KestrelChat.Chat;

/// <summary>
/// Counts open chat connections, in total and per client address, and refuses those over
/// Chat:Limits:MaxConnections (as the <see cref="DescriptorBudget"/> derives it) and MaxConnectionsPerIp
/// (0 = unlimited). One address cannot take the whole server, and a storm of connections stops at a
/// known number. It runs as the first connection middleware of both chat listeners, so a TLS
/// connection counts from accept, through its handshake, not only once it speaks.
/// </summary>
internal sealed partial class ConnectionLimits(
    IOptions<ChatLimitsOptions> options,
    DescriptorBudget budget,
    ChatMetrics metrics,
    ConnectionChurn churn,
    ILogger<ConnectionLimits> logger)
{
    private readonly int _maxConnections = budget.ChatConnections;
    private readonly int _maxPerAddress = options.Value.MaxConnectionsPerIp;
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private int _total;

    /// <summary>Open connections counted now.</summary>
    public int Open => Volatile.Read(ref _total);

    /// <summary>Addresses with at least one open connection (entries are removed at zero, so churn leaves none behind).</summary>
    public int Addresses => _perAddress.Count;

    /// <summary>
    /// The connection middleware: takes a slot for the connection (in its features as a <see cref="ConnectionSlot"/>,
    /// which the handler may free early) or refuses it: on the plain port with one reason line, on the TLS port
    /// by closing before the handshake (a refused client must not cost the server a handshake).
    /// </summary>
    public Func<ConnectionDelegate, ConnectionDelegate> Middleware(bool tls) => next => connection => Admit(connection, next, tls);

    private Task Admit(ConnectionContext connection, ConnectionDelegate next, bool tls)
    {
        var address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        if (TryAcquire(address, out var limit) is { } refusal)
        {
            return RefuseAsync(connection, refusal, limit!, tls);
        }
        var slot = new ConnectionSlot(this, address);
        connection.Features.Set(slot);
        // On the plain port the chat handler comes next and frees the slot however it ends, so nothing of this
        // middleware stays suspended for as long as the client stays (a box per idle client: docs/benchmarks.md,
        // the census). Over TLS the handshake can fail before the handler runs: freed here when it ends.
        return tls ? RunThenReleaseAsync(connection, next, slot) : next(connection);
    }

    private static async Task RunThenReleaseAsync(ConnectionContext connection, ConnectionDelegate next, ConnectionSlot slot)
    {
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            slot.Release();
        }
    }

    private async Task RefuseAsync(ConnectionContext connection, byte[] refusal, string limit, bool tls)
    {
        metrics.Refused(limit);
        if (logger.IsEnabled(LogLevel.Warning) && churn.ShouldLog(ConnectionChurn.Event.Refused))
        {
            LogRefused(connection.ConnectionId, connection.RemoteEndPoint?.ToString(), Encoding.UTF8.GetString(refusal).TrimEnd());
        }
        if (!tls)
        {
            await connection.Transport.Output.WriteAsync(refusal).ConfigureAwait(false);
        }
        await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Takes a slot for <paramref name="address"/>; on refusal returns the reason line to send and names
    /// the limit in <paramref name="limit"/>. Every success needs a <see cref="Release"/>.
    /// </summary>
    public byte[]? TryAcquire(IPAddress? address, out string? limit)
    {
        limit = null;
        if (Interlocked.Increment(ref _total) > _maxConnections)
        {
            Interlocked.Decrement(ref _total);
            limit = "MaxConnections";
            return Protocol.ServerLines.ServerFull(_maxConnections);
        }
        if (address is null)
        {
            return null;
        }
        var count = _perAddress.AddOrUpdate(address, 1, static (_, n) => n + 1);
        if (_maxPerAddress > 0 && count > _maxPerAddress)
        {
            Release(address);
            limit = "MaxConnectionsPerIp";
            return Protocol.ServerLines.TooManyFromAddress(_maxPerAddress);
        }
        return null;
    }

    public void Release(IPAddress? address)
    {
        Interlocked.Decrement(ref _total);
        if (address is null)
        {
            return;
        }
        var count = _perAddress.AddOrUpdate(address, 0, static (_, n) => n - 1);
        if (count == 0)
        {
            // Removes the entry only if no one took a slot in between.
            _perAddress.TryRemove(KeyValuePair.Create(address, 0));
        }
    }

    [LoggerMessage(LogLevel.Warning, "Connection {ConnectionId} from {RemoteEndPoint} refused: {Reason}")]
    private partial void LogRefused(string connectionId, string? remoteEndPoint, string reason);
}

/// <summary>
/// One admitted connection's place in <see cref="ConnectionLimits"/>. Released once: by the handler as
/// soon as the client has left (whoever sees its leave notice may reconnect at once), else when the
/// connection ends.
/// </summary>
internal sealed class ConnectionSlot(ConnectionLimits limits, IPAddress? address)
{
    private int _released;

    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            limits.Release(address);
        }
    }
}
