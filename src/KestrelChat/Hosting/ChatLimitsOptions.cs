using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>The "Chat:Limits" section: what one client may cost the server.</summary>
public sealed class ChatLimitsOptions
{
    public const string Section = "Chat:Limits";

    /// <summary>Rooms that may exist at once, the default room included. Default 1000; a /join that would create one more is refused.</summary>
    public int MaxRooms { get; set; } = 1000;

    /// <summary>Longest line in bytes. Default 4096. A longer line is refused; more than 4× this without any LF disconnects.</summary>
    public int MaxLineBytes { get; set; } = 4096;

    /// <summary>Bytes that may wait for one slow reader. Default 1 MiB; past it the client is disconnected ("send queue exceeded").</summary>
    public long SendQueueBytes { get; set; } = 1024 * 1024;

    /// <summary>Seconds a connection may stay without a nickname before it is closed. Default 30; 0 = no limit.</summary>
    public int NicknameTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// Flood control: lines per second one client may send over time. Default 5; 0 = off.
    /// Faster input is delayed, not dropped (a client's lines keep their order); a client with more
    /// than <see cref="FloodBacklogBytes"/> waiting is disconnected.
    /// </summary>
    public double MessagesPerSecond { get; set; } = 5;

    /// <summary>Flood control: lines a client may send at once before the rate applies. Default 10.</summary>
    public int Burst { get; set; } = 10;

    /// <summary>Unprocessed input a delayed (flooding) client may have waiting: 64 KiB.</summary>
    public const int FloodBacklogBytes = 64 * 1024;

    /// <summary>
    /// TCP keepalive: seconds of silence before the kernel probes the peer. Default 60; 0 = off.
    /// Probes repeat every quarter of this; after 4 unanswered probes the connection is dropped,
    /// so a dead peer (pulled cable, crashed VM) is gone within 2× this.
    /// </summary>
    public int KeepAliveSeconds { get; set; } = 60;

    /// <summary>
    /// Open chat connections in total, plain and TLS together, TLS handshakes included. Unset = 10000,
    /// or fewer when the open-files limit holds fewer (a warning says so); 0 = as many as that limit holds.
    /// An explicit value the limit cannot hold stops the start (<see cref="DescriptorBudget"/>).
    /// </summary>
    public int? MaxConnections { get; set; }

    /// <summary>Open chat connections from one IP address. Default 32; 0 = unlimited.</summary>
    public int MaxConnectionsPerIp { get; set; } = 32;
}

internal sealed class ChatLimitsOptionsValidator(IOptions<AdminOptions> admin) : IValidateOptions<ChatLimitsOptions>
{
    public ValidateOptionsResult Validate(string? name, ChatLimitsOptions options)
    {
        var failures = new List<string>();
        if (options.MaxLineBytes is < 64 or > 1024 * 1024)
        {
            failures.Add($"Chat:Limits:MaxLineBytes must be 64–1048576; it is {options.MaxLineBytes}.");
        }
        if (options.SendQueueBytes < 64 * 1024)
        {
            failures.Add($"Chat:Limits:SendQueueBytes must be at least 65536; it is {options.SendQueueBytes}.");
        }
        if (options.NicknameTimeoutSeconds < 0)
        {
            failures.Add($"Chat:Limits:NicknameTimeoutSeconds must be 0 (off) or more; it is {options.NicknameTimeoutSeconds}.");
        }
        if (options.MessagesPerSecond < 0 || double.IsNaN(options.MessagesPerSecond) || double.IsInfinity(options.MessagesPerSecond))
        {
            failures.Add($"Chat:Limits:MessagesPerSecond must be 0 (off) or more; it is {options.MessagesPerSecond}.");
        }
        if (options.Burst < 1)
        {
            failures.Add($"Chat:Limits:Burst must be at least 1; it is {options.Burst}.");
        }
        if (options.MaxRooms < 1)
        {
            failures.Add($"Chat:Limits:MaxRooms must be at least 1 (the default room); it is {options.MaxRooms}.");
        }
        if (options.KeepAliveSeconds is < 0 or > 32767)
        {
            failures.Add($"Chat:Limits:KeepAliveSeconds must be 0 (off) to 32767; it is {options.KeepAliveSeconds}.");
        }
        if (options.MaxConnections < 0 || options.MaxConnectionsPerIp < 0)
        {
            failures.Add("Chat:Limits:MaxConnections and MaxConnectionsPerIp must be 0 (as many as fit; unlimited per address) or more.");
        }
        else if (DescriptorBudget.Measure(options.MaxConnections, admin.Value.MaxConnections) is { ChatFits: false } budget)
        {
            failures.Add(budget.DoesNotFit());
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
