using System.IO.Pipelines;

namespace KestrelChat.Chat;

/// <summary>
/// Tells the lesson's Python client from everything else. It answers "NICK" with its nickname and
/// no LF, then stays silent; nc, telnet and our client end the nickname with LF at once. So bytes
/// without LF from an unnamed connection, followed by <see cref="Gap"/> of silence, mark an unframed
/// client. The timer wakes the read loop by cancelling its pending read.
/// </summary>
internal sealed class UnframedDetector : IDisposable
{
    public static readonly TimeSpan Gap = TimeSpan.FromMilliseconds(300);

    private readonly PipeReader _input;
    private Timer? _timer; // created on first use: most clients end their nickname with LF and never need it
    private volatile bool _fired;
    private bool _armed;

    public UnframedDetector(PipeReader input) => _input = input;

    /// <summary>True once the gap passed with a partial nickname waiting; the read that returns cancelled is ours.</summary>
    public bool Fired => _fired;

    /// <summary>(Re)starts the gap: called whenever an unnamed connection has bytes but no LF.</summary>
    public void Arm()
    {
        _timer ??= new Timer(static state =>
        {
            var detector = (UnframedDetector)state!;
            detector._fired = true;
            detector._input.CancelPendingRead();
        }, this, Timeout.Infinite, Timeout.Infinite);
        _timer.Change(Gap, Timeout.InfiniteTimeSpan);
        _armed = true;
    }

    /// <summary>Called after every read of the read loop: free unless armed (no timer call per read).</summary>
    public void Disarm()
    {
        if (_armed)
        {
            _armed = false;
            _timer!.Change(Timeout.Infinite, Timeout.Infinite);
        }
    }

    public void Dispose() => _timer?.Dispose();
}
