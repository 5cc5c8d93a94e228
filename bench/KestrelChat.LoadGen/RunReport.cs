using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace KestrelChat.LoadGen;

/// <summary>What one run measured. Times in milliseconds or seconds as named; null = not measured.</summary>
internal sealed record RunReport
{
    public string Transport { get; init; } = "tcp";
    public required int Clients { get; init; }
    public required int Senders { get; init; }
    public required int Messages { get; init; }
    public required int Bytes { get; init; }
    public required double Rate { get; init; }
    public required bool Ok { get; init; }
    public required long Expected { get; init; }
    public required long Delivered { get; init; }
    public long Lost => Expected - Delivered;
    public required long OutOfOrder { get; init; }
    public required long Unrecognized { get; init; }
    public required int ReadyClients { get; init; }
    public required int FailedClients { get; init; }
    public required IReadOnlyList<string> Errors { get; init; }
    public required double ConnectSeconds { get; init; }
    public required double SendSeconds { get; init; }
    public required double DeliveriesPerSecond { get; init; }
    public required double LatencyP50Ms { get; init; }
    public required double LatencyP99Ms { get; init; }
    public required double LatencyMaxMs { get; init; }
    public double? ServerPeakRssMB { get; init; }
    public double? ServerCpuPercent { get; init; }

    /// <summary>The server's CPU time (user + system, /proc/PID/stat) during the timed phase ÷ deliveries, in ns.</summary>
    public double? ServerCpuNsPerDelivery { get; init; }

    /// <summary>The server's resident set before the clients of this run connected.</summary>
    public double? ServerRssBeforeMB { get; init; }

    /// <summary>Its resident set <see cref="SettleSeconds"/> after every client of this run was closed (--settle-seconds).</summary>
    public double? ServerRssSettledMB { get; init; }

    public int SettleSeconds { get; init; }
    public required double LoadGenCpuPercent { get; init; }

    /// <summary>Servers (ports) the clients were spread over; more than 1 = a cluster.</summary>
    public int Instances { get; init; } = 1;

    /// <summary>Cluster runs only: deliveries whose sender was on another instance (they crossed the backplane).</summary>
    public long? CrossDelivered { get; init; }

    public double? CrossDeliveriesPerSecond { get; init; }

    public double? CrossLatencyP50Ms { get; init; }

    public double? CrossLatencyP99Ms { get; init; }

    /// <summary>With --shard: which part of the run this process was ("K/N"); its figures are its clients' only.</summary>
    public string? Shard { get; init; }

    /// <summary>With --shard: the latency histogram as [upper bound in µs, count] pairs, for merging the shards' percentiles.</summary>
    public IReadOnlyList<long[]>? LatencyBuckets { get; init; }

    public string ToText()
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        var rate = Rate > 0 ? $"{Rate:0.##} msg/s each" : "as fast as possible";
        text.AppendLine(c, $"{Clients} {(Transport == "ws" ? "WebSocket " : "")}clients; {Senders} senders × {Messages} messages of {Bytes} bytes, {rate}");
        text.AppendLine(c, $"connect:    {ReadyClients} of {Clients} clients in the chat after {ConnectSeconds:0.000} s");
        text.AppendLine(c, $"delivered:  {Delivered:N0} of {Expected:N0} (lost {Lost:N0}, out of order {OutOfOrder:N0}) in {SendSeconds:0.000} s");
        text.AppendLine(c, $"throughput: {DeliveriesPerSecond:N0} deliveries/s");
        text.AppendLine(c, $"latency:    p50 {LatencyP50Ms:0.00} ms, p99 {LatencyP99Ms:0.00} ms, max {LatencyMaxMs:0.00} ms");
        if (CrossDelivered is { } crossed)
        {
            text.AppendLine(c, $"across:     {crossed:N0} deliveries crossed between the {Instances} instances: {CrossDeliveriesPerSecond:N0}/s, p50 {CrossLatencyP50Ms:0.00} ms, p99 {CrossLatencyP99Ms:0.00} ms");
        }
        if (ServerPeakRssMB is { } rss)
        {
            text.AppendLine(c, $"server:     peak RSS {rss:0.0} MB, CPU {ServerCpuPercent:0} % of one core while messages flowed, {ServerCpuNsPerDelivery:0} ns of CPU per delivery");
            var settledText = ServerRssSettledMB is { } settled ? string.Create(c, $", {settled:0.0} MB {SettleSeconds} s after it") : "";
            text.AppendLine(c, $"server:     RSS {ServerRssBeforeMB:0.0} MB before the load{settledText}");
        }
        text.AppendLine(c, $"loadgen:    CPU {LoadGenCpuPercent:0} % of one core while messages flowed");
        foreach (var error in Errors)
        {
            text.AppendLine(c, $"error:      {error}");
        }
        text.Append(Ok ? "OK" : "FAILED");
        return text.ToString();
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(RunReport))]
internal sealed partial class ReportJson : JsonSerializerContext;
