using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>Reads a client's output pipe the way a line-reading client would.</summary>
internal static class PipeLines
{
    /// <summary>Every line up to and including <paramref name="until"/>; fails if the output ends first or the deadline passes.</summary>
    public static async Task<List<string>> ReadLinesAsync(PipeReader reader, string until, TimeSpan deadline)
    {
        var lines = new List<string>();
        using var timeout = new CancellationTokenSource(deadline);
        while (true)
        {
            var result = await reader.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            while (buffer.PositionOf((byte)'\n') is { } end)
            {
                var line = Encoding.UTF8.GetString(buffer.Slice(0, end).ToArray());
                buffer = buffer.Slice(buffer.GetPosition(1, end));
                lines.Add(line);
                if (line == until)
                {
                    reader.AdvanceTo(buffer.Start);
                    return lines;
                }
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            Assert.False(result.IsCompleted, $"the output ended before \"{until}\"");
        }
    }
}
