namespace KestrelChat.History;

/// <summary>
/// Where history lasts: an SQLite file on a single instance (<see cref="SqliteHistoryStore"/>). Only the
/// history writer appends (one batch, one transaction); reads come from the admin API and the start.
/// Any method may throw when the store is down: callers degrade, the chat goes on.
/// </summary>
internal interface IHistoryStore : IDisposable
{
    /// <summary>Where it is, for the log and /health ("data/kestrelchat.db").</summary>
    string Location { get; }

    /// <summary>Opens (creating the file and schema if needed). Throws with the reason when it cannot.</summary>
    void Open();

    void Append(IReadOnlyList<HistoryItem> items);

    /// <summary>The newest id in the store, or 0.</summary>
    long NewestId();

    /// <summary>For every room with shown lines: its newest <paramref name="perRoom"/> shown lines (oldest first) and its count of shown lines.</summary>
    IReadOnlyList<(string RoomKey, IReadOnlyList<HistoryItem> Newest, long Total)> LoadRooms(int perRoom);

    /// <summary>Leaves since <paramref name="since"/>, each with how many shown lines its room had said by then.</summary>
    IReadOnlyList<(HistoryItem Leave, long Ordinal)> LoadLeaves(DateTimeOffset since);

    /// <summary>Shown lines of a room, newest first: ids below <paramref name="before"/> and above <paramref name="after"/>, text containing <paramref name="search"/> (any case).</summary>
    IReadOnlyList<HistoryItem> Query(string roomKey, long? before, long? after, int limit, string? search);

    /// <summary>Removes one line of a room; false when there is none with that id.</summary>
    bool Delete(string roomKey, long id);

    /// <summary>Drops lines older than <paramref name="olderThan"/> and all but the newest <paramref name="maxPerRoom"/> of each room; returns how many.</summary>
    int Prune(DateTimeOffset olderThan, int maxPerRoom);
}
