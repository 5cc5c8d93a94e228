using System.Net;

namespace KestrelChat.Chat;

/// <summary>
/// Guessing the operator password over the chat: a typo is free, and each further wrong /oper makes its
/// address wait twice as long as the last (1 s, 2 s, 4 s … at most <see cref="MaxDelay"/>), and all addresses together may fail
/// at most <see cref="TotalPerMinute"/> times a minute, so a hundred addresses guess no faster than a few.
/// Refusals while waiting do not check the password at all. An address is forgotten
/// <see cref="Forget"/> after its last failure, and a right password clears it.
/// </summary>
internal sealed class OperatorAttempts(TimeProvider time)
{
    public const int TotalPerMinute = 30;
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan Forget = TimeSpan.FromMinutes(15);
    private const int PruneAbove = 4096;

    private readonly Lock _sync = new();
    private readonly Dictionary<IPAddress, Failures> _byAddress = [];
    private DateTimeOffset _windowStart;
    private int _windowFailures;

    /// <summary>How long <paramref name="address"/> must still wait before its password is checked; zero when it may try now.</summary>
    public TimeSpan WaitFor(IPAddress address)
    {
        var now = time.GetUtcNow();
        lock (_sync)
        {
            var total = now - _windowStart < TimeSpan.FromMinutes(1) && _windowFailures >= TotalPerMinute
                ? _windowStart + TimeSpan.FromMinutes(1) - now
                : TimeSpan.Zero;
            var own = _byAddress.TryGetValue(address, out var failures) && failures.NotBefore > now ? failures.NotBefore - now : TimeSpan.Zero;
            return total > own ? total : own;
        }
    }

    /// <summary>Records a wrong password; returns how many in a row this address has got wrong and how long it now waits.</summary>
    public (int Count, TimeSpan Delay) Failed(IPAddress address)
    {
        var now = time.GetUtcNow();
        lock (_sync)
        {
            if (now - _windowStart >= TimeSpan.FromMinutes(1))
            {
                _windowStart = now;
                _windowFailures = 0;
            }
            _windowFailures++;
            if (_byAddress.Count >= PruneAbove)
            {
                foreach (var stale in _byAddress.Where(e => now - e.Value.Last > Forget).Select(e => e.Key).ToList())
                {
                    _byAddress.Remove(stale);
                }
            }
            var count = _byAddress.TryGetValue(address, out var earlier) && now - earlier.Last <= Forget ? earlier.Count + 1 : 1;
            var delay = count == 1 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(Math.Pow(2, count - 2), MaxDelay.TotalSeconds));
            _byAddress[address] = new Failures(count, now, now + delay);
            return (count, delay);
        }
    }

    public void Succeeded(IPAddress address)
    {
        lock (_sync)
        {
            _byAddress.Remove(address);
        }
    }

    private readonly record struct Failures(int Count, DateTimeOffset Last, DateTimeOffset NotBefore);
}
