using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using KestrelChat.Chat;
using KestrelChat.Cluster;
using KestrelChat.Codecs;
using KestrelChat.History;
using KestrelChat.Hosting;
using KestrelChat.Protocol;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KestrelChat.Benchmarks;

/// <summary>
/// One chat line to every member: encoded once, then copied into each recipient's pipe and flushed
/// once per recipient, as a read loop does after a read. A background task drains each pipe, as
/// Kestrel's socket transport would.
/// </summary>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private readonly List<Task> _drains = [];
    private ChatRegistry _registry = null!;
    private ChatSession _sender = null!;

    [Params(100, 1000)]
    public int Members { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _registry = new ChatRegistry(new LocalBackplane(Options.Create(new RedisOptions())),
            new ChatMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>()),
            new ChatHistory(Options.Create(new HistoryOptions { Enabled = false }), TimeProvider.System, store: null, NullLogger<ChatHistory>.Instance),
            Options.Create(new ChatOptions()), Options.Create(new ChatLimitsOptions()));
        for (var i = 0; i < Members; i++)
        {
            var output = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0));
            var input = new Pipe();
            var connection = new DefaultConnectionContext($"c{i}", new DuplexPipe(input.Reader, output.Writer), new DuplexPipe(output.Reader, input.Writer));
            var session = new ChatSession(connection, new LineCodec(4096), isOperator: false, sendQueueBytes: 64 * 1024 * 1024, onOverflow: _ => { });
            _registry.Connect(session);
            _drains.Add(DrainAsync(output.Reader));
            _registry.TryJoin(session, $"member{i}");
            _sender ??= session;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _registry.CloseAll(ServerLines.ShuttingDown, "shutdown");
        _registry.Dispose();
    }

    /// <summary>Formatting the line once ("alice: text\n" as UTF-8).</summary>
    [Benchmark]
    public byte[] FormatLine() => ServerLines.Chat("member0", "hello everyone, this is a 64-byte chat line of plain ASCII text");

    /// <summary>A read of one line: encoded once in the read's scope, fanned out to every other member, one flush each.</summary>
    [Benchmark]
    public void Broadcast()
    {
        var scope = FanOutScope.Rent(_sender);
        var room = _registry.DefaultRoom;
        room.Publish(new ChatMessage(room, "member0", MessageKind.Text, "hello everyone, this is a 64-byte chat line of plain ASCII text"), scope);
        scope.Return();
    }

    /// <summary>
    /// A read of 64 lines through the read's <see cref="FanOutScope"/>: each line encoded once into its
    /// batch, then one copy and one flush per recipient. Per line.
    /// </summary>
    [Benchmark(OperationsPerInvoke = 64)]
    public void BroadcastBatchOf64()
    {
        var scope = FanOutScope.Rent(_sender);
        var room = _registry.DefaultRoom;
        for (var i = 0; i < 64; i++)
        {
            room.Publish(new ChatMessage(room, "member0", MessageKind.Text, "hello everyone, this is a 64-byte chat line of plain ASCII text"), scope);
        }
        scope.Return();
    }

    /// <summary>Takes everything from <paramref name="reader"/> as it comes, as Kestrel's send loop would.</summary>
    internal static async Task DrainAsync(PipeReader reader)
    {
        while (true)
        {
            var result = await reader.ReadAsync();
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return;
            }
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
