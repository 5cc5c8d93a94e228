using System.Diagnostics;
using KestrelChat.Protocol;

namespace KestrelChat.Chat;

/// <summary>
/// Join and leave notices. Announcing every join to every member costs O(n²) lines: 10,000
/// clients connecting would mean 100 million notices (ergo #1974, #237). So only the first
/// <see cref="ImmediatePerWindow"/> notices of each <see cref="Window"/> go out at once — a small
/// chat sees every join as it happens — and the rest are collected and sent when the window ends
/// as one line per kind: "* alice, bob, carol and 310 others joined the chat.". Every member gets
/// at most about a dozen presence lines a second whatever the churn.
/// A large room (more than <c>largeRoom</c> members here, Chat:LargeRoom) gets no single notices and a
/// longer window, members ÷ <c>largeRoom</c> seconds (at most <see cref="MaxWindow"/>): a dozen lines a
/// second to each of 19,000 members is 230,000 sends a second, more than the chat itself in a connect
/// storm, and in a cluster each instance sends its own.
/// </summary>
/// <remarks>Not thread-safe: the room calls it under its membership lock, the flush timer included.</remarks>
internal sealed class PresenceNotices(Action flushFromTimer, Action<byte[]> toCluster, string place = ServerLines.TheChat, int largeRoom = 0) : IDisposable
{
    public const int ImmediatePerWindow = 10;
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxWindow = TimeSpan.FromSeconds(30);

    private readonly List<string> _joined = [];
    private readonly List<string> _left = [];
    // Each pending name's look-alike key (NicknameRules.Key), in step with the list beside it: computed once
    // per notice, so matching a leave against a thousand pending joins compares strings, not skeletons.
    private readonly List<string> _joinedKeys = [];
    private readonly List<string> _leftKeys = [];
    private readonly Timer _timer = new(static state => ((Action)state!)(), flushFromTimer, Timeout.Infinite, Timeout.Infinite);
    private long _windowStart = long.MinValue / 2;
    private int _sentInWindow;
    private volatile bool _pending;

    /// <summary>True while notices wait for the window to end; a cheap check for the fan-out path.</summary>
    public bool HasPending => _pending;

    public void Joined(string nickname, MemberList.Snapshot recipients) =>
        Add((_joined, _joinedKeys), (_left, _leftKeys), nickname, static (name, place) => ServerLines.Joined(name, place), recipients);

    public void Left(string nickname, MemberList.Snapshot recipients) =>
        Add((_left, _leftKeys), (_joined, _joinedKeys), nickname, static (name, place) => ServerLines.Left(name, place), recipients);

    /// <summary>Sends whatever is waiting, joins first, to <paramref name="recipients"/>, and starts a new window.</summary>
    public void Flush(MemberList.Snapshot recipients)
    {
        if (_joined.Count > 0)
        {
            Send(recipients, ServerLines.JoinedMany(_joined, place));
            _joined.Clear();
            _joinedKeys.Clear();
        }
        if (_left.Count > 0)
        {
            Send(recipients, ServerLines.LeftMany(_left, place));
            _left.Clear();
            _leftKeys.Clear();
        }
        _pending = false;
        _windowStart = Stopwatch.GetTimestamp();
        _sentInWindow = 0;
    }

    public void Dispose() => _timer.Dispose();

    private void Add((List<string> Names, List<string> Keys) pending, (List<string> Names, List<string> Keys) opposite,
        string nickname, Func<string, string, byte[]> single, MemberList.Snapshot recipients)
    {
        string? key = null;
        var earlier = opposite.Names.Count > 0 ? opposite.Keys.IndexOf(key = NicknameRules.Key(nickname)) : -1;
        if (earlier >= 0)
        {
            if (string.Equals(opposite.Names[earlier], nickname, StringComparison.Ordinal))
            {
                // Joined and gone (or gone and back) within one window: the others never saw the first
                // notice, so they need neither.
                opposite.Names.RemoveAt(earlier);
                opposite.Keys.RemoveAt(earlier);
                return;
            }
            Flush(recipients); // the same name in another spelling: keep the two notices in order
        }
        var now = Stopwatch.GetTimestamp();
        var large = largeRoom > 0 && recipients.Count > largeRoom;
        var window = large ? TimeSpan.FromSeconds(Math.Min((double)recipients.Count / largeRoom, MaxWindow.TotalSeconds)) : Window;
        if (!_pending && Stopwatch.GetElapsedTime(_windowStart, now) >= window)
        {
            _windowStart = now;
            _sentInWindow = 0;
        }
        if (!_pending && !large && _sentInWindow < ImmediatePerWindow)
        {
            _sentInWindow++;
            Send(recipients, single(nickname, place));
            return;
        }
        pending.Names.Add(nickname);
        pending.Keys.Add(key ?? NicknameRules.Key(nickname));
        if (!_pending)
        {
            _pending = true;
            var due = window - Stopwatch.GetElapsedTime(_windowStart, now);
            _timer.Change(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>To the members here and, through the backplane, to the members on the other instances.</summary>
    private void Send(MemberList.Snapshot recipients, byte[] line)
    {
        recipients.SendToAll(line);
        toCluster(line);
    }
}
