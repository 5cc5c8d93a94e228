using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using KestrelChat.Protocol;

namespace KestrelChat.Benchmarks;

/// <summary>Bytes → lines → text: what the read loop does for every line a client sends.</summary>
[MemoryDiagnoser]
public class FramingBenchmarks
{
    private ReadOnlySequence<byte> _hundredLines;
    private ReadOnlySequence<byte> _oneLine;

    [GlobalSetup]
    public void Setup()
    {
        _hundredLines = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(
            string.Concat(Enumerable.Range(0, 100).Select(i => $"привет, это сообщение номер {i}\r\n"))));
        _oneLine = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("hello everyone, this is a 64-byte chat line of plain ASCII text"));
    }

    /// <summary>100 CRLF lines (Cyrillic) in one buffer, as a fast client's read delivers them.</summary>
    [Benchmark]
    public int Frame100Lines()
    {
        var framer = new LineFramer(4096);
        var buffer = _hundredLines;
        var lines = 0;
        while (framer.TryReadLine(ref buffer, out _) == LineResult.Line)
        {
            lines++;
        }
        return lines;
    }

    /// <summary>Strict UTF-8 and control-character check plus decoding one line to a string.</summary>
    [Benchmark]
    public int DecodeLine() => ChatText.TryDecode(_oneLine, out var text) == TextResult.Ok ? text.Length : -1;
}
