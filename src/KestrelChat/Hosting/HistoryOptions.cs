using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>The "Chat:History" section: what the server keeps of what is said, and where (docs/protocol.md, History).</summary>
public sealed class HistoryOptions
{
    public const string Section = "Chat:History";

    /// <summary>Keep history at all. Default true. History stores what people say in rooms (never private messages); false keeps nothing.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The SQLite file, relative to the content root or absolute. Default data/kestrelchat.db; its folder is created.</summary>
    public string Path { get; set; } = "data/kestrelchat.db";

    /// <summary>Lines a client is shown when it joins a room. Default 20; 0 = none (/history still works).</summary>
    public int JoinLines { get; set; } = 20;

    /// <summary>
    /// A nickname that left a room less than this many minutes ago and joins it again gets everything said
    /// there meanwhile (at most 500 lines) instead of the last <see cref="JoinLines"/>. Default 60; 0 = off.
    /// </summary>
    public int ReplayMinutes { get; set; } = 60;

    /// <summary>Lines kept per room in the store; older ones are pruned. Default 10000.</summary>
    public int MaxMessagesPerRoom { get; set; } = 10_000;

    /// <summary>Days a line is kept in the store. Default 30.</summary>
    public int MaxAgeDays { get; set; } = 30;

    /// <summary>Lines that may wait for the store (while it is slow or down) before the oldest are dropped from it. Default 100000.</summary>
    public int QueueCapacity { get; set; } = 100_000;
}

internal sealed class HistoryOptionsValidator : IValidateOptions<HistoryOptions>
{
    public ValidateOptionsResult Validate(string? name, HistoryOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            failures.Add("Chat:History:Path must name a file (the SQLite database).");
        }
        if (options.JoinLines is < 0 or > ChatHistoryLimits.MaxLinesAtOnce)
        {
            failures.Add($"Chat:History:JoinLines must be 0–{ChatHistoryLimits.MaxLinesAtOnce}; it is {options.JoinLines}.");
        }
        if (options.ReplayMinutes is < 0 or > 7 * 24 * 60)
        {
            failures.Add($"Chat:History:ReplayMinutes must be 0 (off) to 10080 (a week); it is {options.ReplayMinutes}.");
        }
        if (options.MaxMessagesPerRoom < ChatHistoryLimits.MaxReplayLines)
        {
            failures.Add($"Chat:History:MaxMessagesPerRoom must be at least {ChatHistoryLimits.MaxReplayLines}; it is {options.MaxMessagesPerRoom}.");
        }
        if (options.MaxAgeDays < 1)
        {
            failures.Add($"Chat:History:MaxAgeDays must be at least 1; it is {options.MaxAgeDays}.");
        }
        if (options.QueueCapacity < 1000)
        {
            failures.Add($"Chat:History:QueueCapacity must be at least 1000; it is {options.QueueCapacity}.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Fixed bounds of what history shows at once.</summary>
internal static class ChatHistoryLimits
{
    /// <summary>A client coming back gets at most this many of the lines it missed (and the count of the rest).</summary>
    public const int MaxReplayLines = 500;

    /// <summary>/history N and Chat:History:JoinLines: at most this many.</summary>
    public const int MaxLinesAtOnce = 200;
}
