using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>The "Chat:Redis" section: one chat across several instances through a Redis backplane.</summary>
public sealed class RedisOptions
{
    public const string Section = "Chat:Redis";

    /// <summary>
    /// A StackExchange.Redis configuration string, e.g. "redis:6379" or "host:6379,password=…,ssl=true".
    /// Default unset (an empty value counts as unset): a single instance, no Redis needed.
    /// </summary>
    public string? Configuration { get; set; }

    /// <summary>The cluster's name: instances with the same channel are one chat. Default "kestrelchat".</summary>
    public string Channel { get; set; } = "kestrelchat";

    /// <summary>
    /// This instance's name in the cluster, shown in GET /clients. Default: the machine name and the chat
    /// port ("vm-55555"; a container's hostname under Docker); if a live instance has that name already, this
    /// one takes "vm-55555-2" and says so. A name given here that a live instance has stops the start.
    /// </summary>
    public string? InstanceName { get; set; }

    /// <summary>
    /// The heartbeat's measure, in seconds (default 15): every third of it an instance updates its client list in
    /// Redis and renews its own name's claim, which lives this long. Its nicknames' claims live 5 × this and are
    /// renewed with the whole list, every 4 × this: the survivor that declares a crashed instance dead, or the
    /// next process of its name, frees them; only if neither comes do they expire by themselves.
    /// </summary>
    public int ClaimSeconds { get; set; } = 15;

    /// <summary>
    /// Seconds after which an instance that has stopped saying it is alive (every second) is declared dead by
    /// the others: its clients leave, with notices, and its nicknames are free. Default 5.
    /// </summary>
    public int DeadAfterSeconds { get; set; } = 5;

    /// <summary>
    /// Seconds of Redis outage (down, restarting, frozen) through which no line across instances is lost. Lines go
    /// through each room's Redis stream, which keeps twice this long; an instance catches up from it when Redis is
    /// back, and keeps what its own clients say while Redis is away (up to this long and
    /// <see cref="CatchUpBufferMegabytes"/>). Past that, members are told that some lines were missed. Default 60.
    /// </summary>
    public int CatchUpSeconds { get; set; } = 60;

    /// <summary>The most this instance keeps of its clients' lines while Redis is away, in MiB. Default 64.</summary>
    public int CatchUpBufferMegabytes { get; set; } = 64;

    internal bool Enabled => !string.IsNullOrWhiteSpace(Configuration);

    /// <summary>True when Chat:Redis:InstanceName was given: a clash with a live instance then stops the start.</summary>
    internal bool InstanceNameIsExplicit => !string.IsNullOrWhiteSpace(InstanceName);

    /// <summary>The default name: the machine name and the chat port, so that two instances on one host differ.</summary>
    internal string DefaultInstanceName { get; set; } = Environment.MachineName;

    internal string Instance => InstanceNameIsExplicit ? InstanceName! : DefaultInstanceName;
}

internal sealed class RedisOptionsValidator : IValidateOptions<RedisOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisOptions options)
    {
        var failures = new List<string>();
        if (options.Enabled)
        {
            if (ConfigurationProblem(options.Configuration!) is { } problem)
            {
                failures.Add($"Chat:Redis:Configuration is not a valid StackExchange.Redis configuration string: {problem}");
            }
        }
        if (string.IsNullOrWhiteSpace(options.Channel) || options.Channel.Contains(':', StringComparison.Ordinal))
        {
            failures.Add($"Chat:Redis:Channel must be a non-empty name without ':'; it is '{options.Channel}'.");
        }
        if (options.Instance.Contains(':', StringComparison.Ordinal) || options.Instance.Contains('|', StringComparison.Ordinal))
        {
            failures.Add($"Chat:Redis:InstanceName must not contain ':' or '|'; it is '{options.Instance}'.");
        }
        if (System.Text.Encoding.UTF8.GetByteCount(options.Instance) > Cluster.ClusterMessage.MaxFieldBytes)
        {
            // Every message on the backplane carries it in a field of at most this many bytes.
            failures.Add($"Chat:Redis:InstanceName must be at most {Cluster.ClusterMessage.MaxFieldBytes} bytes in UTF-8; it is {System.Text.Encoding.UTF8.GetByteCount(options.Instance)}.");
        }
        if (options.CatchUpSeconds is < 1 or > 3600)
        {
            failures.Add($"Chat:Redis:CatchUpSeconds must be 1–3600; it is {options.CatchUpSeconds}.");
        }
        if (options.CatchUpBufferMegabytes is < 1 or > 4096)
        {
            failures.Add($"Chat:Redis:CatchUpBufferMegabytes must be 1–4096; it is {options.CatchUpBufferMegabytes}.");
        }
        if (options.DeadAfterSeconds is < 2 or > 3600)
        {
            failures.Add($"Chat:Redis:DeadAfterSeconds must be 2–3600; it is {options.DeadAfterSeconds}.");
        }
        if (options.ClaimSeconds is < 3 or > 3600)
        {
            failures.Add($"Chat:Redis:ClaimSeconds must be 3–3600; it is {options.ClaimSeconds}.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    // Its own method: a single instance (no Redis) then never loads StackExchange.Redis.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string? ConfigurationProblem(string configuration)
    {
        try
        {
            StackExchange.Redis.ConfigurationOptions.Parse(configuration);
            return null;
        }
        catch (ArgumentException ex)
        {
            return ex.Message;
        }
    }
}
