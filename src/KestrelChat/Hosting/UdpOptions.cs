using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>
/// The "Chat:Udp" section: the same chat over UDP, one datagram a line (Udp/UdpChatListener.cs). Off unless
/// <see cref="Port"/> is set; the lesson uses 55555, the TCP port's number in the other protocol.
/// </summary>
public sealed class UdpOptions
{
    public const string Section = "Chat:Udp";

    /// <summary>UDP port on Chat:BindAddress. Default unset = no UDP; 0 = any free port.</summary>
    public int? Port { get; set; }

    /// <summary>
    /// Seconds without a datagram after which a UDP client is removed from the chat: UDP has no FIN, nothing
    /// says a client has gone. It is warned a minute before (half the time, when that is shorter). An empty
    /// datagram counts as "still here".
    /// </summary>
    public int IdleSeconds { get; set; } = 300;

    internal bool Enabled => Port is not null;

    /// <summary>How long before the removal the client is warned.</summary>
    internal TimeSpan WarningLead => TimeSpan.FromSeconds(Math.Min(60, IdleSeconds / 2.0));
}

internal sealed class UdpOptionsValidator : IValidateOptions<UdpOptions>
{
    public ValidateOptionsResult Validate(string? name, UdpOptions options)
    {
        if (options.Port is < 0 or > 65535)
        {
            return ValidateOptionsResult.Fail($"Chat:Udp:Port must be 0–65535 (0 = any free port), or unset for no UDP; it is {options.Port}.");
        }
        if (options.IdleSeconds < 2)
        {
            return ValidateOptionsResult.Fail($"Chat:Udp:IdleSeconds must be at least 2: a UDP client is removed after that many seconds without a datagram; it is {options.IdleSeconds}.");
        }
        return ValidateOptionsResult.Success;
    }
}
