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

    /// <summary>
    /// How another instance is told (a cluster message's payload; the room travels beside it): UTF-8
    /// "id TAB unix-ms TAB kind TAB nickname TAB text". The text is last and may hold tabs; a nickname never does.
    /// </summary>
    public byte[] ToWire() => System.Text.Encoding.UTF8.GetBytes(
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Id}\t{Time.ToUnixTimeMilliseconds()}\t{(int)Kind}\t{Nickname}\t{Text}"));

    /// <summary>Null for anything malformed: ignored, never fatal.</summary>
    public static HistoryItem? FromWire(string roomKey, string roomName, ReadOnlySpan<byte> bytes)
    {
        var parts = System.Text.Encoding.UTF8.GetString(bytes).Split('\t', 5);
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        return parts.Length == 5 && long.TryParse(parts[0], invariant, out var id) && long.TryParse(parts[1], invariant, out var ms)
            && byte.TryParse(parts[2], invariant, out var kind) && Enum.IsDefined((HistoryKind)kind)
            ? new HistoryItem(id, roomKey, roomName, DateTimeOffset.FromUnixTimeMilliseconds(ms), parts[3], (HistoryKind)kind, parts[4])
            : null;
    }
}

/// <summary>
/// Ids that grow with time: the Unix time in milliseconds times 1024, plus a counter within the millisecond.
/// They stay unique across restarts without asking the store, and sort like the items' times.
/// </summary>
internal sealed class HistoryIds(TimeProvider time)
{
    private long _last;

    public long Next() => Next(time.GetUtcNow());

    /// <summary>The next id for an item recorded at <paramref name="now"/> (one clock read serves both).</summary>
    public long Next(DateTimeOffset now)
    {
        var floor = now.ToUnixTimeMilliseconds() << 10;
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
