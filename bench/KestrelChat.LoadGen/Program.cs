using System.Text.Json;

namespace KestrelChat.LoadGen;

/// <summary>Load generator for KestrelChat and the reference relay (see docs/benchmarks.md).</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (!LoadOptions.TryParse(args, out var options, out var error))
        {
            await Console.Error.WriteLineAsync($"error: {error}\n\n{LoadOptions.Usage}").ConfigureAwait(false);
            return 2;
        }
        if (options.ShowHelp)
        {
            Console.WriteLine(LoadOptions.Usage);
            return 0;
        }

        var report = await LoadRun.RunAsync(options).ConfigureAwait(false);
        Console.WriteLine(options.Json ? JsonSerializer.Serialize(report, ReportJson.Default.RunReport) : report.ToText());
        return report.Ok ? 0 : 1;
    }
}
