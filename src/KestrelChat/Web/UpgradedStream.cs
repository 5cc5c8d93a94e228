using Microsoft.AspNetCore.Http.Features;

namespace KestrelChat.Web;

/// <summary>
/// The bytes of an upgraded /ws connection, with two writers: the <see cref="System.Net.WebSockets.WebSocket"/>
/// over it (its control frames: pong, keep-alive, close) and <see cref="WebSocketConnection"/>, which frames the
/// chat's lines itself, many to one write, so a busy connection costs one flush per batch rather than per line.
/// Each write here is whole frames (the WebSocket writes a frame with one call), and one writer at a time (per
/// connection) keeps the two writers' frames apart. Reads pass straight through: only the WebSocket reads.
/// </summary>
internal sealed class UpgradedStream(Stream inner) : Stream
{
    // Taken for every batch of lines and almost never contended (a pong, a close): a flag under a Lock, waiters
    // queued only when taken. SemaphoreSlim's monitor cost a fifth of the server's CPU at 2,000 WebSocket clients.
    private readonly Lock _sync = new();
    private bool _writing; // under _sync
    private Queue<TaskCompletionSource>? _waiting; // under _sync

    /// <summary>Waits until this caller is the one writer; <see cref="Exit"/> when done.</summary>
    private ValueTask EnterAsync()
    {
        TaskCompletionSource waiter;
        lock (_sync)
        {
            if (!_writing)
            {
                _writing = true;
                return ValueTask.CompletedTask;
            }
            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            (_waiting ??= new Queue<TaskCompletionSource>()).Enqueue(waiter);
        }
        return new ValueTask(waiter.Task);
    }

    /// <summary>Lets the next writer in.</summary>
    private void Exit()
    {
        TaskCompletionSource? next = null;
        lock (_sync)
        {
            if (_waiting is { Count: > 0 })
            {
                next = _waiting.Dequeue(); // the lock passes on: _writing stays true
            }
            else
            {
                _writing = false;
            }
        }
        next?.SetResult();
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await EnterAsync().ConfigureAwait(false);
        try
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Exit();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous only");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous only");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Put in the request's features before ASP.NET Core's WebSocket middleware reads them: the connection it
    /// upgrades (HTTP/1.1 Upgrade, or HTTP/2 extended CONNECT) becomes an <see cref="UpgradedStream"/>, kept here
    /// for <see cref="WebSocketConnection"/> to write its frames to.
    /// </summary>
    internal sealed class Features : IHttpUpgradeFeature, IHttpExtendedConnectFeature
    {
        private readonly IHttpUpgradeFeature? _upgrade;
        private readonly IHttpExtendedConnectFeature? _connect;

        private Features(IHttpUpgradeFeature? upgrade, IHttpExtendedConnectFeature? connect)
        {
            _upgrade = upgrade;
            _connect = connect;
        }

        /// <summary>The upgraded connection, once the WebSocket middleware has accepted it.</summary>
        public UpgradedStream? Stream { get; private set; }

        public bool IsUpgradableRequest => _upgrade?.IsUpgradableRequest ?? false;

        public bool IsExtendedConnect => _connect?.IsExtendedConnect ?? false;

        public string? Protocol => _connect?.Protocol;

        public static void Install(HttpContext context)
        {
            var features = new Features(context.Features.Get<IHttpUpgradeFeature>(), context.Features.Get<IHttpExtendedConnectFeature>());
            context.Features.Set(features);
            if (features._upgrade is not null)
            {
                context.Features.Set<IHttpUpgradeFeature>(features);
            }
            if (features._connect is not null)
            {
                context.Features.Set<IHttpExtendedConnectFeature>(features);
            }
        }

        public async Task<Stream> UpgradeAsync() =>
            Stream = new UpgradedStream(await (_upgrade ?? throw new InvalidOperationException("not an upgrade")).UpgradeAsync().ConfigureAwait(false));

        public async ValueTask<Stream> AcceptAsync() =>
            Stream = new UpgradedStream(await (_connect ?? throw new InvalidOperationException("not an extended CONNECT")).AcceptAsync().ConfigureAwait(false));
    }
}
