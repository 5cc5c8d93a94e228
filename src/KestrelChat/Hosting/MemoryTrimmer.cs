using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime;

namespace KestrelChat.Hosting;

/// <summary>
/// Gives memory back after a burst (a storm of clients, everyone talking at once, a flood). Each second it
/// trims the socket buffer pools (<see cref="TrimmingMemoryPool"/>). Once the process is quiet again, it runs
/// one aggressive, compacting collection (<see cref="GCCollectionMode.Aggressive"/>), which also decommits
/// what the heap no longer needs: without it, an idle server allocates nothing, the GC never runs, and a
/// burst's garbage keeps the process hundreds of megabytes above its idle size for as long as it stays idle.
/// The collection blocks every thread for a moment (tens to a few hundred milliseconds), so it only runs
/// when allocation has nearly stopped, and at most once every <see cref="MinimumInterval"/>. A burst is the
/// heap or the socket buffers grown by <see cref="BurstBytes"/> since the last collection, or
/// <see cref="LeaveBurst"/> clients gone since then: clients who leave make garbage of what they held
/// without allocating anything, so the heap's growth alone missed a crowd that connected, sat, and left.
/// A crowd's leaving has a tail (its leave records wait for the history writer, which yields to the chat), so
/// a give-back that a leave triggered is followed by one more <see cref="FollowUpDelay"/> later, if still quiet.
/// </summary>
internal sealed partial class MemoryTrimmer : BackgroundService
{
    private readonly TrimmingMemoryPoolFactory _pools;
    private readonly Chat.ChatRegistry _registry;
    private readonly ILogger<MemoryTrimmer> _logger;
    private readonly Counter<long> _givenBack;

    public MemoryTrimmer(TrimmingMemoryPoolFactory pools, Chat.ChatRegistry registry, IMeterFactory meters, ILogger<MemoryTrimmer> logger)
    {
        _pools = pools;
        _registry = registry;
        _logger = logger;
        var meter = meters.Create(Chat.ChatMetrics.MeterName);
        meter.CreateObservableUpDownCounter("kestrelchat.socket_buffers.in_use", () => pools.Pools.Sum(p => p.InUseBytes), "By",
            "Socket read and write buffers rented out now (4 KiB each): grows with the clients that are behind.");
        meter.CreateObservableUpDownCounter("kestrelchat.socket_buffers.idle", () => pools.Pools.Sum(p => p.IdleBytes), "By",
            "Socket buffers kept for the next burst: what the busiest second of the last 10 s needed beyond what is in use.");
        _givenBack = meter.CreateCounter<long>("kestrelchat.memory.given_back", "{collection}",
            "Compacting collections run after a burst to give memory back to the system.");
    }

    /// <summary>Growth of the GC's committed memory, or of pool blocks dropped, since the last give-back that makes it worth one.</summary>
    public const long BurstBytes = 16L * 1024 * 1024;

    /// <summary>Clients gone since the last give-back that make it worth one (about 12 MB of heap at 6 KB each).</summary>
    public const int LeaveBurst = 2_000;

    /// <summary>Allocation per second under which the process counts as quiet.</summary>
    public const long QuietBytesPerSecond = 2L * 1024 * 1024;

    /// <summary>Seconds in a row the process must be quiet.</summary>
    public const int QuietSeconds = 3;

    public static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(15);

    /// <summary>How long after a give-back that clients leaving triggered the follow-up one comes.</summary>
    public static readonly TimeSpan FollowUpDelay = TimeSpan.FromSeconds(20);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var allocated = GC.GetTotalAllocatedBytes();
        var baseline = GC.GetGCMemoryInfo().TotalCommittedBytes;
        long dropped = 0;
        var quiet = 0;
        var peakConnections = _registry.ConnectionCount; // since the last give-back
        var followUp = false; // the last give-back was for clients who left: one more once their tail is done
        var last = Stopwatch.StartNew();
        // Ends when the host stops, or is disposed after a failed start (which cancels the token without a stop).
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var pool in _pools.Pools)
                {
                    dropped += pool.Trim();
                }
                var now = GC.GetTotalAllocatedBytes();
                quiet = now - allocated < QuietBytesPerSecond ? quiet + 1 : 0;
                allocated = now;
                var committed = GC.GetGCMemoryInfo().TotalCommittedBytes;
                if (committed < baseline)
                {
                    baseline = committed; // the GC gave some back by itself
                }
                var connections = _registry.ConnectionCount;
                peakConnections = Math.Max(peakConnections, connections);
                var left = peakConnections - connections >= LeaveBurst;
                var followUpDue = followUp && last.Elapsed >= FollowUpDelay;
                if (quiet < QuietSeconds || last.Elapsed < MinimumInterval
                    || (committed - baseline < BurstBytes && dropped < BurstBytes && !left && !followUpDue))
                {
                    continue;
                }
                followUp = left || (followUp && !followUpDue); // one that came sooner for another reason still has one after it
                var rssBefore = Environment.WorkingSet;
                var clock = Stopwatch.StartNew();
                GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                TrimNativeHeap();
                _givenBack.Add(1);
                LogGaveBack(committed / 1048576, GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576, dropped / 1048576,
                    rssBefore / 1048576, Environment.WorkingSet / 1048576, clock.Elapsed.TotalMilliseconds);
                baseline = GC.GetGCMemoryInfo().TotalCommittedBytes;
                allocated = GC.GetTotalAllocatedBytes();
                dropped = 0;
                peakConnections = connections;
                last.Restart();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// glibc's allocator keeps the native memory a burst freed (the runtime's and the sockets' own allocations,
    /// spread over its per-thread arenas) for reuse, unless it is at the very top of a heap: malloc_trim hands
    /// every wholly free page back. Best effort: not glibc (musl, another OS), nothing to do.
    /// </summary>
    private static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        try
        {
            _ = MallocTrim(0); // 1 if memory was released, 0 if not: either is fine
        }
        catch (EntryPointNotFoundException)
        {
            // Not glibc.
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    [LoggerMessage(LogLevel.Information, "Memory given back after a burst: GC heap committed {CommittedBefore} → {CommittedAfter} MB, {DroppedMb} MB of socket buffers dropped, RSS {RssBefore} → {RssAfter} MB (the collection took {Milliseconds:0} ms)")]
    private partial void LogGaveBack(long committedBefore, long committedAfter, long droppedMb, long rssBefore, long rssAfter, double milliseconds);
}
