using System.Collections.Concurrent;
using System.Net;
using KestrelChat.Hosting;
using Microsoft.Extensions.Options;

namespace KestrelChat.Chat;

/// <summary>
/// Counts open chat connections, in total and per client address, and refuses those over
/// Chat:Limits:MaxConnections / MaxConnectionsPerIp (0 = unlimited). One address cannot take the
/// whole server, and a storm of connections stops at a known number.
/// </summary>
internal sealed class ConnectionLimits(IOptions<ChatLimitsOptions> options)
{
    private readonly ChatLimitsOptions _limits = options.Value;
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private int _total;

    /// <summary>Open connections counted now.</summary>
    public int Open => Volatile.Read(ref _total);

    /// <summary>Addresses with at least one open connection (entries are removed at zero, so churn leaves none behind).</summary>
    public int Addresses => _perAddress.Count;

    /// <summary>
    /// Takes a slot for <paramref name="address"/>; on refusal returns the reason line to send and names
    /// the limit in <paramref name="limit"/>. Every success needs a <see cref="Release"/>.
    /// </summary>
    public byte[]? TryAcquire(IPAddress? address, out string? limit)
    {
        limit = null;
        if (Interlocked.Increment(ref _total) is var total && _limits.MaxConnections > 0 && total > _limits.MaxConnections)
        {
            Interlocked.Decrement(ref _total);
            limit = "MaxConnections";
            return Protocol.ServerLines.ServerFull(_limits.MaxConnections);
        }
        if (address is null)
        {
            return null;
        }
        var count = _perAddress.AddOrUpdate(address, 1, static (_, n) => n + 1);
        if (_limits.MaxConnectionsPerIp > 0 && count > _limits.MaxConnectionsPerIp)
        {
            Release(address);
            limit = "MaxConnectionsPerIp";
            return Protocol.ServerLines.TooManyFromAddress(_limits.MaxConnectionsPerIp);
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
}
