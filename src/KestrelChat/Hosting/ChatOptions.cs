using System.Net;
using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>The "Chat" section: the TCP chat listener and who may operate it.</summary>
public sealed class ChatOptions
{
    public const string Section = "Chat";

    /// <summary>Chat TCP port. Default 55555; 0 = any free port (the actual port is logged).</summary>
    public int Port { get; set; } = 55555;

    /// <summary>Listen address. Default "0.0.0.0" (all IPv4); "::" listens dual-stack (IPv6 and IPv4).</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>Password for /oper. Default unset (an empty value counts as unset): nobody can /oper.</summary>
    public string? OperatorPassword { get; set; }

    internal bool HasOperatorPassword => !string.IsNullOrEmpty(OperatorPassword);

    /// <summary>Clients connecting from loopback are operators. Default true (a teacher on the same machine).</summary>
    public bool LoopbackIsOperator { get; set; } = true;

    /// <summary>The room everyone starts in and /part goes back to. Default "#lobby". Its notices read as before rooms existed.</summary>
    public string DefaultRoom { get; set; } = "#lobby";

    /// <summary>
    /// A room with more members than this on one instance announces joins and leaves only in batches: one line
    /// per kind every members ÷ this seconds (at most 30 s), never one per person. Default 1000: past that, a
    /// notice per join would be most of what the room sends (a 19,000-member room in a connect storm got 11
    /// lines a second per member from each instance). 0: every room is small.
    /// </summary>
    public int LargeRoom { get; set; } = 1000;

    /// <summary>Log the text of chat messages. Default false: logs say who and when, not what.</summary>
    public bool LogMessageText { get; set; }

    /// <summary>
    /// Log every chat connection's bytes as a hex dump, like Wireshark's bytes pane (Kestrel's
    /// connection logging, category <see cref="WireLogCategory"/> at Debug). Default false: it logs
    /// what people write, and costs a lot.
    /// </summary>
    public bool TraceBytes { get; set; }

    /// <summary>The log category of <see cref="TraceBytes"/>; turning the setting on lowers just this category to Debug.</summary>
    public const string WireLogCategory = "KestrelChat.Wire";

    internal IPAddress BindIPAddress() => IPAddress.Parse(BindAddress); // a method: the configuration binder leaves it alone
}

internal sealed class ChatOptionsValidator : IValidateOptions<ChatOptions>
{
    public ValidateOptionsResult Validate(string? name, ChatOptions options)
    {
        var failures = new List<string>();
        if (options.Port is < 0 or > 65535)
        {
            failures.Add($"Chat:Port must be 0–65535 (0 = any free port); it is {options.Port}.");
        }
        if (!IPAddress.TryParse(options.BindAddress, out _))
        {
            failures.Add($"Chat:BindAddress must be an IP address such as 0.0.0.0, 127.0.0.1 or ::; it is '{options.BindAddress}'.");
        }
        if (!Protocol.RoomNames.TryValidate(options.DefaultRoom, out _))
        {
            failures.Add($"Chat:DefaultRoom must be '#' and 1–{Protocol.RoomNames.MaxLength} letters, digits, '-' or '_' (like #lobby); it is '{options.DefaultRoom}'.");
        }
        if (options.LargeRoom < 0)
        {
            failures.Add($"Chat:LargeRoom must be 0 (every room small) or more; it is {options.LargeRoom}.");
        }
        if (options.HasOperatorPassword && string.IsNullOrWhiteSpace(options.OperatorPassword))
        {
            failures.Add("Chat:OperatorPassword is only spaces: leave it empty to disable /oper, or set a real password.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
