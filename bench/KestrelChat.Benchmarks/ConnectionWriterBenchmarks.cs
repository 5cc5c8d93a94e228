using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using KestrelChat.Chat;

namespace KestrelChat.Benchmarks;

/// <summary>
/// What one recipient of a fan-out costs (Chat/ConnectionWriter.cs): a line copied into its pipe
/// under its lock, then the flush, with a reader that takes everything at once (a client that keeps
/// up). Per recipient, nothing may be allocated.
/// </summary>
[MemoryDiagnoser]
public class ConnectionWriterBenchmarks
{
    private readonly byte[] _line = "member0: hello everyone, this is a 64-byte chat line of plain ASCII text\n"u8.ToArray();
    private readonly List<ConnectionWriter> _pending = [];
    private ConnectionWriter _writer = null!;
    private Pipe _pipe = null!;

    [GlobalSetup]
    public void Setup()
    {
        _pipe = new Pipe(new PipeOptions(readerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 64 * 1024,
            resumeWriterThreshold: 32 * 1024, useSynchronizationContext: false));
        _writer = new ConnectionWriter(_pipe.Writer, capacityBytes: 1024 * 1024);
        _ = FanOutBenchmarks.DrainAsync(_pipe.Reader);
    }

    [GlobalCleanup]
    public void Cleanup() => _pipe.Writer.Complete();

    /// <summary>A line on its own: written and flushed at once (a notice, a private message).</summary>
    [Benchmark]
    public bool WriteAndFlush() => _writer.Write(_line) is WriteResult.Written or WriteResult.Queued;

    /// <summary>A read of 10 lines fanned out: each written with the flush deferred, then one flush.</summary>
    [Benchmark(OperationsPerInvoke = 10)]
    public void TenLinesOneFlush()
    {
        for (var i = 0; i < 10; i++)
        {
            _writer.Write(_line, _pending);
        }
        foreach (var recipient in _pending)
        {
            recipient.FlushDeferred();
        }
        _pending.Clear();
    }
}
