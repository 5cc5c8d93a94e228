using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KestrelChat.LoadGen;

/// <summary>
/// One benchmark run: connect every client (the barrier: each one has its welcome, so each one is
/// in the chat), then the timed phase: the senders send, every other client receives, until every
/// expected message is in or the timeout passes.
/// </summary>
internal static class LoadRun
{
    public static async Task<RunReport> RunAsync(LoadOptions o)
    {
        var before = ReadServer(o);
        var report = await RunClientsAsync(o).ConfigureAwait(false) with { ServerRssBeforeMB = Megabytes(before?.RssBytes) };
        if (o.SettleSeconds > 0)
        {
            // Every client is closed by now: what the server still holds after a while is what it kept.
            await Task.Delay(TimeSpan.FromSeconds(o.SettleSeconds)).ConfigureAwait(false);
            report = report with { ServerRssSettledMB = Megabytes(ReadServer(o)?.RssBytes), SettleSeconds = o.SettleSeconds };
        }
        return report;
    }

    private static double? Megabytes(long? bytes) => bytes is { } b ? Math.Round(b / 1048576.0, 1) : null;

    private static async Task<RunReport> RunClientsAsync(LoadOptions o)
    {
        var address = await ResolveAsync(o.Host).ConfigureAwait(false);
        var servers = o.Ports.Select(port => new IPEndPoint(address, port)).ToArray();
        var timeout = TimeSpan.FromSeconds(o.TimeoutSeconds);
        using var latency = new LatencyRecorder();
        using var crossLatency = new LatencyRecorder();
        // Nicknames unique to this run, so a run right after another never finds its names still taken.
        var prefix = o.NamePrefix ?? $"lg{Random.Shared.Next(36 * 36 * 36):x}.";
        // This process's clients: all of them, or with --shard every Nth (client numbers, senders and
        // instances stay those of the whole run, so the shards together are the same run as one process).
        var mine = Enumerable.Range(0, o.Clients).Where(i => i % o.ShardCount == o.ShardIndex).ToArray();
        // Big buffers mean few receive calls; 64 MiB in all keeps 10,000 clients affordable.
        var bufferBytes = Math.Max(Math.Clamp(64 * 1024 * 1024 / Math.Max(mine.Length, 1), 4096, 64 * 1024), 4 * (o.Bytes + 64));
        var clients = new BenchClient[mine.Length];
        for (var n = 0; n < clients.Length; n++)
        {
            var i = mine[n];
            var expected = (long)(o.Senders - (i < o.Senders ? 1 : 0)) * o.Messages; // everything but its own
            var source = o.Sources.Count > 0 ? o.Sources[i % o.Sources.Count] : null;
            clients[n] = new BenchClient(servers[i % servers.Length], i, prefix + i, expected, o.Senders, bufferBytes,
                latency, servers.Length, crossLatency, o.WebSocket, source);
        }

        try
        {
            var connectStart = RunClock.Microseconds;
            var runs = new Task[clients.Length];
            var allReady = await Finishes(ConnectAllAsync(clients, runs, o.ConnectConcurrency), timeout).ConfigureAwait(false)
                && clients.All(c => c.Ready.Result);
            var connectSeconds = RunClock.Seconds(connectStart, allReady ? clients.Max(c => c.ReadyMicroseconds) : RunClock.Microseconds);
            if (!allReady)
            {
                foreach (var client in clients.Where(c => !c.Ready.IsCompleted))
                {
                    client.Fail($"not in the chat after {o.TimeoutSeconds} s: {client.Stage}");
                }
                // No message phase, but the peak RSS of a storm still counts.
                return Report(o, clients, latency, crossLatency, connectSeconds, new Phase(0, ReadServer(o), null, 0),
                    $"not every client was in the chat within {o.TimeoutSeconds} s");
            }
            if (o.StartFile is { } startFile)
            {
                await Console.Error.WriteLineAsync($"ready: {clients.Length} clients in the chat").ConfigureAwait(false);
                await WaitForFileAsync(startFile).ConfigureAwait(false);
            }
            var sendTimeout = TimeSpan.FromSeconds(o.SendTimeoutSeconds ?? o.TimeoutSeconds);
            var phase = await SendAndReceiveAsync(o, clients, runs, sendTimeout).ConfigureAwait(false);
            if (o.HoldSeconds > 0)
            {
                await Console.Error.WriteLineAsync($"holding {clients.Length} clients for {o.HoldSeconds} s").ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(o.HoldSeconds)).ConfigureAwait(false);
            }
            return Report(o, clients, latency, crossLatency, connectSeconds, phase,
                phase.Finished ? null : $"not every message arrived within {sendTimeout.TotalSeconds:0} s");
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>The timed phase: every sender starts at once; it ends when every client has all it expects (or the timeout).</summary>
    private static async Task<Phase> SendAndReceiveAsync(LoadOptions o, BenchClient[] clients, Task[] runs, TimeSpan timeout)
    {
        var serverBefore = ReadServer(o);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var start = RunClock.Microseconds;
        foreach (var sender in clients.Where(c => c.Index < o.Senders))
        {
            // Paced senders are spread over one period, so the server sees a steady stream, not bursts.
            var offset = o.Rate > 0 ? TimeSpan.FromSeconds(sender.Index / o.Rate / o.Senders) : TimeSpan.Zero;
            _ = sender.SendMessagesAsync(o.Messages, o.Bytes, o.Rate, offset);
        }
        var finished = await Finishes(Task.WhenAll(runs), timeout).ConfigureAwait(false);

        var wall = RunClock.Seconds(start, RunClock.Microseconds);
        var loadGenCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds / wall * 100;
        var serverAfter = ReadServer(o);
        double? serverCpuSeconds = serverBefore is null || serverAfter is null ? null : (serverAfter.CpuTime - serverBefore.CpuTime).TotalSeconds;
        double? serverCpu = serverCpuSeconds / wall * 100;
        var lastDelivery = clients.Max(c => c.LastDeliveryMicroseconds);
        var seconds = lastDelivery > start ? RunClock.Seconds(start, lastDelivery) : wall;
        return new Phase(seconds, serverAfter, serverCpu, loadGenCpu) { Finished = finished, ServerCpuSeconds = serverCpuSeconds };
    }

    /// <summary>Starts every client, at most <paramref name="concurrency"/> handshakes at a time (0 = all at once), and waits until each is in the chat or failed.</summary>
    private static async Task ConnectAllAsync(BenchClient[] clients, Task[] runs, int concurrency)
    {
        using var gate = new SemaphoreSlim(concurrency > 0 ? concurrency : clients.Length);
        for (var i = 0; i < clients.Length; i++)
        {
            await gate.WaitAsync().ConfigureAwait(false);
            runs[i] = clients[i].RunAsync();
            _ = clients[i].Ready.ContinueWith(_ => gate.Release(), TaskScheduler.Default);
        }
        await Task.WhenAll(clients.Select(c => c.Ready)).ConfigureAwait(false);
    }

    /// <summary>The barrier across the processes of one run: the script that started them creates the file once all are ready.</summary>
    private static async Task WaitForFileAsync(string path)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
        while (!File.Exists(path))
        {
            await timer.WaitForNextTickAsync().ConfigureAwait(false);
        }
    }

    private static async Task<bool> Finishes(Task task, TimeSpan timeout)
    {
        await Task.WhenAny(task, Task.Delay(timeout)).ConfigureAwait(false);
        return task.IsCompleted;
    }

    private static ServerProcessStats? ReadServer(LoadOptions o) => o.ServerPid is { } pid ? ServerProcessStats.Read(pid) : null;

    private static RunReport Report(LoadOptions o, BenchClient[] clients, LatencyRecorder latency, LatencyRecorder crossLatency,
        double connectSeconds, Phase phase, string? runError)
    {
        var histogram = latency.Merge();
        var cross = crossLatency.Merge();
        var crossDelivered = clients.Sum(c => c.CrossDelivered);
        var clustered = o.Ports.Count > 1;
        var delivered = clients.Sum(c => c.Delivered);
        var expected = clients.Sum(c => c.Expected);
        var outOfOrder = clients.Sum(c => c.OutOfOrder);
        var failed = clients.Count(c => c.Error is not null);
        // The same failure on many clients is one line with a count.
        var errors = clients.Where(c => c.Error is not null).GroupBy(c => c.Error!)
            .OrderByDescending(g => g.Count()).Take(5).Select(g => $"{g.Count()} clients: {g.Key}").ToList();
        if (runError is not null)
        {
            errors.Insert(0, runError);
        }
        return new RunReport
        {
            Transport = o.Transport,
            Clients = clients.Length,
            Senders = o.Senders,
            Messages = o.Messages,
            Bytes = o.Bytes,
            Rate = o.Rate,
            Ok = errors.Count == 0 && delivered == expected && outOfOrder == 0,
            Expected = expected,
            Delivered = delivered,
            OutOfOrder = outOfOrder,
            Unrecognized = clients.Sum(c => c.Unrecognized),
            ReadyClients = clients.Count(c => c.Ready.IsCompletedSuccessfully && c.Ready.Result),
            FailedClients = failed,
            Errors = errors,
            ConnectSeconds = Math.Round(connectSeconds, 3),
            SendSeconds = Math.Round(phase.Seconds, 3),
            DeliveriesPerSecond = phase.Seconds > 0 ? Math.Round(delivered / phase.Seconds) : 0,
            LatencyP50Ms = histogram.Percentile(50) / 1000.0,
            LatencyP99Ms = histogram.Percentile(99) / 1000.0,
            LatencyMaxMs = histogram.MaxMicroseconds / 1000.0,
            ServerPeakRssMB = phase.Server is null ? null : Math.Round(phase.Server.PeakRssBytes / 1048576.0, 1),
            ServerCpuPercent = phase.ServerCpuPercent is { } cpu ? Math.Round(cpu) : null,
            ServerCpuNsPerDelivery = phase.ServerCpuSeconds is { } cpuSeconds && delivered > 0 ? Math.Round(cpuSeconds * 1e9 / delivered) : null,
            LoadGenCpuPercent = Math.Round(phase.LoadGenCpuPercent),
            Instances = o.Ports.Count,
            CrossDelivered = clustered ? crossDelivered : null,
            CrossDeliveriesPerSecond = clustered && phase.Seconds > 0 ? Math.Round(crossDelivered / phase.Seconds) : null,
            CrossLatencyP50Ms = clustered ? cross.Percentile(50) / 1000.0 : null,
            CrossLatencyP99Ms = clustered ? cross.Percentile(99) / 1000.0 : null,
            Shard = o.ShardCount > 1 ? $"{o.ShardIndex}/{o.ShardCount}" : null,
            LatencyBuckets = o.ShardCount > 1 ? histogram.Buckets() : null,
        };
    }

    private static async Task<IPAddress> ResolveAsync(string host) =>
        IPAddress.TryParse(host, out var address) ? address
        : (await Dns.GetHostAddressesAsync(host).ConfigureAwait(false)).OrderBy(a => a.AddressFamily != AddressFamily.InterNetwork).First();

    /// <summary>What the timed phase measured: its length (first send to last delivery), the server after it, CPU during it.</summary>
    private sealed record Phase(double Seconds, ServerProcessStats? Server, double? ServerCpuPercent, double LoadGenCpuPercent)
    {
        public bool Finished { get; init; }

        public double? ServerCpuSeconds { get; init; }
    }
}
