using KestrelChat.Protocol;

namespace KestrelChat.Chat;

/// <summary>
/// The one timer of a connection that has not named itself yet: after <c>promptDelay</c> with
/// nothing typed, a prompt in words (someone on nc or telnet does not know what "NICK" wants); at
/// <c>Chat:Limits:NicknameTimeoutSeconds</c>, still unnamed, the close (scanners, forgotten
/// telnets). One timer, re-armed, rather than two per connection: a storm of 10,000 connections
/// keeps 10,000 fewer timers.
/// </summary>
internal sealed class NicknameTimer : IDisposable
{
    private readonly ChatSession _session;
    private readonly TimeSpan _promptDelay;
    private readonly int _timeoutSeconds; // 0: no deadline
    private readonly Timer _timer;
    private bool _prompted;

    public NicknameTimer(ChatSession session, TimeSpan promptDelay, int timeoutSeconds)
    {
        _session = session;
        _promptDelay = promptDelay;
        _timeoutSeconds = timeoutSeconds;
        _timer = new Timer(static state => ((NicknameTimer)state!).Fire(), this, promptDelay, Timeout.InfiniteTimeSpan);
    }

    public void Dispose() => _timer.Dispose();

    // Timer callbacks never overlap here: the timer is re-armed only from inside the callback.
    private void Fire()
    {
        if (!_prompted)
        {
            _prompted = true;
            if (_session.BytesIn == 0 && !_session.IsClosing)
            {
                _session.Send(ServerLines.NicknamePrompt);
            }
            if (_timeoutSeconds > 0 && _session.Nickname is null)
            {
                var rest = TimeSpan.FromSeconds(_timeoutSeconds) - _promptDelay;
                try
                {
                    _timer.Change(rest > TimeSpan.Zero ? rest : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
                }
                catch (ObjectDisposedException)
                {
                    // The connection ended while this ran: nothing left to time.
                }
            }
            return;
        }
        if (_session.Nickname is null)
        {
            _session.Close(ServerLines.NicknameTimeout(_timeoutSeconds), "nickname timeout");
        }
    }
}
