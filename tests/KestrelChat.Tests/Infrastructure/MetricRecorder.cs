using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using KestrelChat.Chat;
using Microsoft.Extensions.DependencyInjection;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>Listens to one server's "KestrelChat" meter, as dotnet-counters or an OpenTelemetry exporter would.</summary>
public sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Name, long Value, Dictionary<string, object?> Tags)> _measurements = new();

    public MetricRecorder(ChatServer server)
    {
        var meter = server.Services.GetRequiredService<ChatMetrics>().Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == meter)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            _measurements.Enqueue((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        _listener.Start();
    }

    /// <summary>The total of <paramref name="name"/>, only counting measurements tagged <paramref name="tag"/> = <paramref name="value"/> if given.</summary>
    public long Sum(string name, string? tag = null, string? value = null) => _measurements
        .Where(m => m.Name == name && (tag is null || Equals(m.Tags.GetValueOrDefault(tag), value)))
        .Sum(m => m.Value);

    /// <summary>Waits (with a deadline) until the total reaches <paramref name="expected"/>, and returns it.</summary>
    public async Task<long> WaitForAsync(long expected, string name, string? tag = null, string? value = null)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (Sum(name, tag, value) < expected && DateTime.UtcNow < until)
        {
            await Task.Yield();
        }
        return Sum(name, tag, value);
    }

    public void Dispose() => _listener.Dispose();
}
