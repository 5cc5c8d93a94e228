using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>
/// A cap on the sockets one listener holds, enforced before accept(2): at the cap the listener stops
/// accepting and new connections wait in the kernel's backlog, so no flood can make the process
/// accept into EMFILE (Kestrel's own accept loop retries an EMFILE at once, forever, at full CPU).
/// A socket counts from accept until Kestrel disposes it, TLS handshakes and HTTP keep-alives included.
/// When the whole process nears its open-files limit anyway (descriptors opened elsewhere), accepting
/// backs off with a growing delay. Each pause is logged once, when it starts and when it ends.
/// </summary>
internal sealed partial class ConnectionGate(string name, int capacity, ILogger logger) : IDisposable
{
    private static readonly TimeSpan FirstBackOff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LastBackOff = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _slots = new(capacity, capacity);
    private const long QuietToEndEpisode = 1000; // ms
    private long _pausedSince; // Environment.TickCount64 when the episode of pauses began; 0 outside one
    private long _lastPaused;
    private int _pauses;

    public string Name => name;

    public int Capacity => capacity;

    /// <summary>Sockets of this listener open now.</summary>
    public int Open => capacity - _slots.CurrentCount;

    /// <summary>The process-wide check: descriptors open now, against the limit. Asked only while this gate is at least half full.</summary>
    internal Func<bool> NearDescriptorLimit { get; set; } = static () => false;

    /// <summary>Waits for a slot, then lets one accept(2) through. False once <paramref name="stopping"/> is cancelled.</summary>
    public async ValueTask<bool> EnterAsync(CancellationToken stopping)
    {
        if (!_slots.Wait(0, CancellationToken.None))
        {
            Paused(() => LogPaused(name, capacity));
            try
            {
                await _slots.WaitAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        var backOff = FirstBackOff;
        while (Open * 2 >= capacity && NearDescriptorLimit())
        {
            Paused(() => LogNearLimit(name, Open));
            try
            {
                await Task.Delay(backOff, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _slots.Release();
                return false;
            }
            backOff = TimeSpan.FromTicks(Math.Min(backOff.Ticks * 2, LastBackOff.Ticks));
        }
        var now = Environment.TickCount64;
        if (Volatile.Read(ref _pausedSince) is var since and not 0 && now - Volatile.Read(ref _lastPaused) >= QuietToEndEpisode
            && Interlocked.CompareExchange(ref _pausedSince, 0, since) == since)
        {
            LogResumed(name, (now - since) / 1000.0, Interlocked.Exchange(ref _pauses, 0), Open);
        }
        return true;
    }

    /// <summary>
    /// A flood keeps the gate at its cap, and each refusal frees a slot for a moment: one episode is every
    /// pause until a second passes without one, logged when it starts and at the first accept after it ends.
    /// </summary>
    private void Paused(Action log)
    {
        var now = Environment.TickCount64;
        Volatile.Write(ref _lastPaused, now);
        Interlocked.Increment(ref _pauses);
        if (Interlocked.CompareExchange(ref _pausedSince, now, 0) == 0)
        {
            log();
        }
    }

    public void Leave() => _slots.Release();

    public void Dispose() => _slots.Dispose();

    [LoggerMessage(LogLevel.Warning, "{Listener}: {Capacity} connections open, the most it takes: accepting paused, new connections wait in the kernel's backlog")]
    private partial void LogPaused(string listener, int capacity);

    [LoggerMessage(LogLevel.Warning, "{Listener}: the process is close to its open-files limit ({Open} connections of this listener open): accepting paused, retrying with a growing delay")]
    private partial void LogNearLimit(string listener, int open);

    [LoggerMessage(LogLevel.Warning, "{Listener}: accepting again after {Seconds:0.0} s at the cap ({Pauses} pauses; {Open} connections open)")]
    private partial void LogResumed(string listener, double seconds, int pauses, int open);
}

/// <summary>An endpoint whose listener accepts through a <see cref="ConnectionGate"/>; Kestrel hands it to <see cref="GatedListenerFactory"/>.</summary>
internal sealed class GatedEndPoint(IPEndPoint endPoint, ConnectionGate gate) : IPEndPoint(endPoint.Address, endPoint.Port)
{
    public ConnectionGate Gate => gate;
}

/// <summary>
/// Kestrel's socket transport, unchanged (the same sockets and I/O queues; its buffer pools come from
/// <see cref="TrimmingMemoryPoolFactory"/> as they would to Kestrel's own listener), with each
/// listener behind its <see cref="ConnectionGate"/>. Kestrel binds an endpoint with the last registered
/// factory that says it can; this one takes the <see cref="GatedEndPoint"/>s, which are all the server binds.
/// </summary>
internal sealed class GatedListenerFactory(IOptions<SocketTransportOptions> options, ILoggerFactory loggerFactory)
    : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly SocketTransportFactory _sockets = new(options, loggerFactory);

    public bool CanBind(EndPoint endpoint) => endpoint is GatedEndPoint;

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var gated = (GatedEndPoint)endpoint;
        var inner = await _sockets.BindAsync(new IPEndPoint(gated.Address, gated.Port), cancellationToken).ConfigureAwait(false);
        return new GatedListener(inner, gated.Gate);
    }

    private sealed class GatedListener(IConnectionListener inner, ConnectionGate gate) : IConnectionListener
    {
        private readonly CancellationTokenSource _unbinding = new();

        public EndPoint EndPoint => inner.EndPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            if (!await gate.EnterAsync(_unbinding.Token).ConfigureAwait(false))
            {
                return null;
            }
            ConnectionContext? connection;
            try
            {
                connection = await inner.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                gate.Leave();
                throw;
            }
            if (connection is null)
            {
                gate.Leave();
                return null;
            }
            return new GatedConnection(connection, gate);
        }

        public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            await _unbinding.CancelAsync().ConfigureAwait(false);
            await inner.UnbindAsync(cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            _unbinding.Dispose();
        }
    }

    /// <summary>The accepted connection as Kestrel made it; its slot is given back once Kestrel has disposed it (the socket is closed).</summary>
    private sealed class GatedConnection(ConnectionContext inner, ConnectionGate gate) : ConnectionContext
    {
        private int _disposed;

        public override string ConnectionId { get => inner.ConnectionId; set => inner.ConnectionId = value; }

        public override IFeatureCollection Features => inner.Features;

        public override IDictionary<object, object?> Items { get => inner.Items; set => inner.Items = value; }

        public override System.IO.Pipelines.IDuplexPipe Transport { get => inner.Transport; set => inner.Transport = value; }

        public override CancellationToken ConnectionClosed { get => inner.ConnectionClosed; set => inner.ConnectionClosed = value; }

        public override EndPoint? LocalEndPoint { get => inner.LocalEndPoint; set => inner.LocalEndPoint = value; }

        public override EndPoint? RemoteEndPoint { get => inner.RemoteEndPoint; set => inner.RemoteEndPoint = value; }

        public override void Abort(ConnectionAbortedException abortReason) => inner.Abort(abortReason);

        public override void Abort() => inner.Abort();

        public override async ValueTask DisposeAsync()
        {
            try
            {
                await inner.DisposeAsync().ConfigureAwait(false);
                await base.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                if (Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    gate.Leave();
                }
            }
        }
    }
}
