using System.Threading.Channels;

namespace KestrelChat.History;

/// <summary>
/// Carries history items to the store off the hot path: senders put them in a bounded queue and never wait;
/// one task takes whatever has piled up and appends it in one transaction. When the store fails, the task
/// keeps its batch and tries again every <see cref="RetryDelay"/> while the queue holds new items up to its
/// bound (then the oldest go: the chat never waits for a disk). The cause is logged once per outage and
/// shown by /health until an append succeeds. Every <see cref="PruneInterval"/> it applies the retention.
/// </summary>
internal sealed partial class HistoryWriter
{
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(10);

    /// <summary>
    /// After the first line of a quiet spell, how long the writer lets more gather before it commits: one
    /// transaction per window instead of one per line (a busy room says thousands a second; each commit is a
    /// write to the WAL and a wake-up of this task). Lines reach the store this much later.
    /// </summary>
    public static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(100);
    private const int MaxBatch = 4096;

    private readonly IHistoryStore _store;
    private readonly Func<int> _prune;
    private readonly ILogger _logger;
    private readonly Channel<HistoryItem> _queue;
    private long _written, _dropped;
    private volatile string? _problem;
    private bool _open;

    /// <summary>A writer for <paramref name="store"/>, queueing at most <paramref name="capacity"/> items; <paramref name="prune"/> applies the retention and returns how many lines went.</summary>
    public HistoryWriter(IHistoryStore store, int capacity, Func<int> prune, ILogger logger)
    {
        _store = store;
        _prune = prune;
        _logger = logger;
        _queue = Channel.CreateBounded<HistoryItem>(
            new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = false },
            _ => Interlocked.Increment(ref _dropped));
    }

    /// <summary>Why the store is not taking lines (with its file), or null while it is.</summary>
    public string? Problem => _problem;

    public long Written => Interlocked.Read(ref _written);

    public long Dropped => Interlocked.Read(ref _dropped);

    public int Waiting => _queue.Reader.Count;

    /// <summary>Never waits: a full queue drops its oldest item (counted in <see cref="Dropped"/>).</summary>
    public void Enqueue(HistoryItem item) => _queue.Writer.TryWrite(item);

    /// <summary>Opens the store; false (and the problem set and logged) when it cannot.</summary>
    public bool TryOpen()
    {
        try
        {
            _store.Open();
            _open = true;
            return true;
        }
        catch (Exception ex)
        {
            Fail(ex, "cannot be opened");
            return false;
        }
    }

    /// <summary>Runs until <paramref name="stopping"/>; then writes what is still queued, if the store takes it.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        var batch = new List<HistoryItem>(MaxBatch);
        var nextPrune = DateTime.UtcNow;
        while (true)
        {
            try
            {
                if (batch.Count == 0)
                {
                    await _queue.Reader.WaitToReadAsync(stopping).ConfigureAwait(false);
                    if (_queue.Reader.Count < MaxBatch)
                    {
                        await Task.Delay(BatchWindow, stopping).ConfigureAwait(false);
                    }
                }
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var item))
                {
                    batch.Add(item);
                }
                if (TryAppend(batch) && DateTime.UtcNow >= nextPrune)
                {
                    nextPrune = DateTime.UtcNow + PruneInterval;
                    TryPrune();
                }
                if (batch.Count > 0)
                {
                    await Task.Delay(RetryDelay, stopping).ConfigureAwait(false); // the store failed: keep the batch
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                while (_queue.Reader.TryRead(out var item))
                {
                    batch.Add(item);
                }
                TryAppend(batch); // once: a store that is down at the stop loses what it never took
                return;
            }
        }
    }

    // Appends and clears the batch; false (batch kept) when the store failed.
    private bool TryAppend(List<HistoryItem> batch)
    {
        if (batch.Count == 0)
        {
            return true;
        }
        try
        {
            if (!_open)
            {
                _store.Open();
                _open = true;
            }
            _store.Append(batch);
        }
        catch (Exception ex)
        {
            _open = false; // reopened on the next try: the file may have been replaced or its disk remounted
            Fail(ex, "cannot be written");
            return false;
        }
        Interlocked.Add(ref _written, batch.Count);
        batch.Clear();
        if (_problem is not null)
        {
            _problem = null;
            LogRecovered(_store.Location);
        }
        return true;
    }

    private void TryPrune()
    {
        try
        {
            var pruned = _prune();
            if (pruned > 0)
            {
                LogPruned(pruned, _store.Location);
            }
        }
        catch (Exception ex)
        {
            Fail(ex, "cannot be pruned");
        }
    }

    private void Fail(Exception ex, string what)
    {
        var first = _problem is null;
        _problem = $"History store {_store.Location} {what}: {ex.Message}";
        if (first)
        {
            LogFailed(ex, _store.Location, what);
        }
    }

    [LoggerMessage(LogLevel.Error, "History store {Location} {What}; the chat goes on, history is kept in memory only and written when the store works again")]
    private partial void LogFailed(Exception exception, string location, string what);

    [LoggerMessage(LogLevel.Information, "History store {Location} works again")]
    private partial void LogRecovered(string location);

    [LoggerMessage(LogLevel.Information, "History: pruned {Count} lines from {Location} (Chat:History:MaxAgeDays, MaxMessagesPerRoom)")]
    private partial void LogPruned(int count, string location);
}
