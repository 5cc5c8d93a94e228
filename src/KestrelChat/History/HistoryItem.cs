namespace KestrelChat.History;

/// <summary>What a history item records. The numbers are stored: never renumber.</summary>
internal enum HistoryKind : byte
{
    /// <summary>"alice: hi".</summary>
    Text = 0,

    /// <summary>/me: "* alice waves".</summary>
    Action = 1,

    /// <summary>"* alice set the topic of #dev: …"; the text is the topic.</summary>
    Topic = 2,

    /// <summary>A member left the room (not shown): what "while you were away" is counted from.</summary>
    Leave = 3,
}

/// <summary>
/// One thing that happened in a room, as history keeps it: the value, not the wire bytes. <paramref name="Id"/>
/// grows with time (<see cref="HistoryIds"/>), unique across restarts; <paramref name="RoomKey"/> is what the
/// room is unique by, <paramref name="RoomName"/> how it was spelled.
/// </summary>
internal sealed record HistoryItem(long Id, string RoomKey, string RoomName, DateTimeOffset Time, string Nickname, HistoryKind Kind, string Text)
{
    /// <summary>Shown to people (everything but leaves).</summary>
    public bool IsShown => Kind != HistoryKind.Leave;
}

/// <summary>
/// Ids that grow with time: the Unix time in milliseconds times 1024, plus a counter within the millisecond.
/// They stay unique across restarts without asking the store, and sort like the items' times.
/// </summary>
internal sealed class HistoryIds(TimeProvider time)
{
    private long _last;

    public long Next()
    {
        var floor = time.GetUtcNow().ToUnixTimeMilliseconds() << 10;
        while (true)
        {
            var last = Volatile.Read(ref _last);
            var next = Math.Max(last + 1, floor);
            if (Interlocked.CompareExchange(ref _last, next, last) == last)
            {
                return next;
            }
        }
    }

    /// <summary>Continues after <paramref name="id"/> (the newest in the store: a clock that went back must not reuse ids).</summary>
    public void After(long id)
    {
        var last = Volatile.Read(ref _last);
        while (id > last && Interlocked.CompareExchange(ref _last, id, last) != last)
        {
            last = Volatile.Read(ref _last);
        }
    }
}
