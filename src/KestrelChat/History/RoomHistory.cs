using KestrelChat.Hosting;

namespace KestrelChat.History;

/// <summary>
/// The last <see cref="ChatHistoryLimits.MaxReplayLines"/> shown lines of one room, in memory, so a join, a
/// return and /history never wait for the store. Each line has an ordinal (how many lines the room had said
/// when it was said), which is how "you missed 37 messages" is counted even past what is kept here.
/// Its lock (level 3) is a leaf: taken under the registry's membership lock, never the other way round.
/// </summary>
internal sealed class RoomHistory
{
    private readonly Lock _sync = new();
    private readonly (long Ordinal, HistoryItem Item)[] _ring = new (long, HistoryItem)[ChatHistoryLimits.MaxReplayLines]; // _sync
    private int _count;    // _sync: items in the ring
    private int _next;     // _sync: where the next one goes
    private long _ordinal; // _sync: shown lines ever said here (as far as the store remembers)
    private long _version; // changes with every change of what is kept (a cache of what joiners are shown checks it)

    /// <summary>Changes whenever a line is added or removed: what joiners are shown can be made once per version.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>The ordinal of the newest line: what a member who leaves now has seen.</summary>
    public long Ordinal
    {
        get
        {
            lock (_sync)
            {
                return _ordinal;
            }
        }
    }

    public void Add(HistoryItem item)
    {
        lock (_sync)
        {
            _ring[_next] = (++_ordinal, item);
            _next = (_next + 1) % _ring.Length;
            _count = Math.Min(_count + 1, _ring.Length);
            Interlocked.Increment(ref _version);
        }
    }

    /// <summary>Starts the room from the store: its newest lines, oldest first, and how many it holds in all.</summary>
    public void Load(IReadOnlyList<HistoryItem> newestLines, long total)
    {
        lock (_sync)
        {
            _ordinal = total - newestLines.Count;
            foreach (var item in newestLines.TakeLast(_ring.Length))
            {
                _ring[_next] = (++_ordinal, item);
                _next = (_next + 1) % _ring.Length;
                _count = Math.Min(_count + 1, _ring.Length);
            }
            _ordinal = Math.Max(_ordinal, total);
            Interlocked.Increment(ref _version);
        }
    }

    /// <summary>The last <paramref name="count"/> lines, oldest first.</summary>
    public List<HistoryItem> Last(int count)
    {
        lock (_sync)
        {
            count = Math.Min(count, _count);
            var lines = new List<HistoryItem>(count);
            for (var i = _count - count; i < _count; i++)
            {
                lines.Add(At(i).Item);
            }
            return lines;
        }
    }

    /// <summary>Lines said after <paramref name="ordinal"/>, oldest first (those still kept), and how many were said in all.</summary>
    public (List<HistoryItem> Lines, long Said) After(long ordinal)
    {
        lock (_sync)
        {
            var lines = new List<HistoryItem>();
            for (var i = 0; i < _count; i++)
            {
                var (itemOrdinal, item) = At(i);
                if (itemOrdinal > ordinal)
                {
                    lines.Add(item);
                }
            }
            return (lines, Math.Max(0, _ordinal - ordinal));
        }
    }

    /// <summary>Removes a line (moderation); true if it was here.</summary>
    public bool Remove(long id)
    {
        lock (_sync)
        {
            var kept = new List<(long, HistoryItem)>(_count);
            for (var i = 0; i < _count; i++)
            {
                if (At(i).Item.Id != id)
                {
                    kept.Add(At(i));
                }
            }
            if (kept.Count == _count)
            {
                return false;
            }
            Array.Clear(_ring);
            kept.CopyTo(_ring);
            _count = kept.Count;
            _next = _count % _ring.Length;
            Interlocked.Increment(ref _version);
            return true;
        }
    }

    // Under _sync: the i-th oldest item kept.
    private (long Ordinal, HistoryItem Item) At(int i) =>
        _ring[(_next - _count + i + _ring.Length) % _ring.Length];
}
