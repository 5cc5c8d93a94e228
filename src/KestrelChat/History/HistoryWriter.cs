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
    private long _written, _dropped, _lastDrop;
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
            _ => OnDropped());
    }

    /// <summary>Why the store is not taking lines (with its file), or null while it is.</summary>
    public string? Problem => _problem;

    public long Written => Interlocked.Read(ref _written);

    public long Dropped => Interlocked.Read(ref _dropped);

    public int Waiting => _queue.Reader.Count;

    /// <summary>True when lines were dropped from the store's queue in the last minute (an overload longer than the queue).</summary>
    public bool DroppedLately => Environment.TickCount64 - Interlocked.Read(ref _lastDrop) < 60_000 && Dropped > 0;

    private void OnDropped()
    {
        Interlocked.Increment(ref _dropped);
        var last = Interlocked.Exchange(ref _lastDrop, Environment.TickCount64);
        if (Environment.TickCount64 - last > 60_000)
        {
            LogDropping(_queue.Reader.Count, _store.Location); // once a minute at most
        }
    }

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

    /// <summary>
    /// Starts the writer on a thread of its own at a lower priority (nice 10 on Linux): live chat comes first
    /// on a busy machine, and the store catches up as soon as the cores have a moment (within a second after
    /// a room's burst, measured). The task completes when the writer has stopped.
    /// </summary>
    public Task Start(CancellationToken stopping)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                LowerPriority();
                Run(stopping);
                done.TrySetResult();
            }
            catch (Exception ex)
            {
                done.TrySetException(ex); // observed: the host's stop awaits it
            }
        })
        { IsBackground = true, Name = "History writer" };
        thread.Start();
        return done.Task;
    }

    /// <summary>Runs until <paramref name="stopping"/>; then writes what is still queued, if the store takes it.</summary>
    private void Run(CancellationToken stopping)
    {
        var batch = new List<HistoryItem>(MaxBatch);
        var nextPrune = DateTime.UtcNow;
        while (true)
        {
            try
            {
                if (batch.Count == 0)
                {
                    _queue.Reader.WaitToReadAsync(stopping).AsTask().GetAwaiter().GetResult();
                    if (_queue.Reader.Count < MaxBatch)
                    {
                        Wait(BatchWindow, stopping);
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
                    Wait(RetryDelay, stopping); // the store failed: keep the batch
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

    private static void Wait(TimeSpan time, CancellationToken stopping)
    {
        stopping.WaitHandle.WaitOne(time);
        stopping.ThrowIfCancellationRequested();
    }

    private static void LowerPriority()
    {
        if (OperatingSystem.IsLinux())
        {
            _ = SetPriority(0 /* PRIO_PROCESS: on Linux, with a thread id, that thread alone */, GetThreadId(), 10); // best effort
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, int who, int priority);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetThreadId();

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

    [LoggerMessage(LogLevel.Warning, "History: {Waiting} lines wait for {Location}, the queue's limit (Chat:History:QueueCapacity): the oldest are not stored; rooms still show them from memory")]
    private partial void LogDropping(int waiting, string location);

    [LoggerMessage(LogLevel.Information, "History store {Location} works again")]
    private partial void LogRecovered(string location);

    [LoggerMessage(LogLevel.Information, "History: pruned {Count} lines from {Location} (Chat:History:MaxAgeDays, MaxMessagesPerRoom)")]
    private partial void LogPruned(int count, string location);
}
