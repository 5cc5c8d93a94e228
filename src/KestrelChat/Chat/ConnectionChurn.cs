namespace KestrelChat.Chat;

/// <summary>
/// Whether a connection's own log lines (connected, disconnected, refused) are written. At a human rate
/// they all are; when connections come and go faster than <see cref="LinesPerSecond"/> (a flood, a scanner,
/// a reconnect storm) the rest are counted instead, and one summary line every <see cref="SummaryPeriod"/>
/// says how many, so a flood cannot fill the disk with log.
/// </summary>
internal sealed partial class ConnectionChurn : IDisposable
{
    public const int LinesPerSecond = 20;
    public const int Burst = 100;
    public static readonly TimeSpan SummaryPeriod = TimeSpan.FromSeconds(10);

    private readonly ILogger<ConnectionChurn> _logger;
    private readonly TimeProvider _time;
    private readonly ITimer _summary;
    private readonly Lock _sync = new();
    private double _tokens = Burst;
    private long _refilledAt;
    private bool _summaryRunning;
    private int _opened;
    private int _closed;
    private int _refused;

    public ConnectionChurn(ILogger<ConnectionChurn> logger, TimeProvider time)
    {
        _logger = logger;
        _time = time;
        _refilledAt = time.GetTimestamp();
        _summary = time.CreateTimer(static state => ((ConnectionChurn)state!).Summarise(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public enum Event
    {
        Opened,
        Closed,
        Refused,
    }

    /// <summary>True when the line for <paramref name="kind"/> should be written now; otherwise it is counted for the summary.</summary>
    public bool ShouldLog(Event kind)
    {
        lock (_sync)
        {
            var now = _time.GetTimestamp();
            _tokens = Math.Min(Burst, _tokens + (_time.GetElapsedTime(_refilledAt, now).TotalSeconds * LinesPerSecond));
            _refilledAt = now;
            if (_tokens >= 1)
            {
                _tokens--;
                return true;
            }
            _ = kind switch
            {
                Event.Opened => ++_opened,
                Event.Closed => ++_closed,
                _ => ++_refused,
            };
            if (!_summaryRunning)
            {
                _summaryRunning = true;
                _summary.Change(SummaryPeriod, SummaryPeriod);
            }
            return false;
        }
    }

    private void Summarise()
    {
        int opened, closed, refused;
        lock (_sync)
        {
            (opened, closed, refused) = (_opened, _closed, _refused);
            (_opened, _closed, _refused) = (0, 0, 0);
            if (opened + closed + refused == 0)
            {
                _summaryRunning = false;
                _summary.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                return;
            }
        }
        LogSummary(SummaryPeriod.TotalSeconds, opened, closed, refused, LinesPerSecond);
    }

    public void Dispose() => _summary.Dispose();

    [LoggerMessage(LogLevel.Warning, "Connection churn: in the last {Seconds} s, {Opened} connects, {Closed} disconnects and {Refused} refusals were not logged one by one (more than {PerSecond} a second)")]
    private partial void LogSummary(double seconds, int opened, int closed, int refused, int perSecond);
}
