using System.Globalization;
using Microsoft.Data.Sqlite;

namespace KestrelChat.History;

/// <summary>
/// History in one SQLite file (Microsoft.Data.Sqlite), in WAL mode so the admin API reads while the writer
/// appends. One table, clustered by room and id (WITHOUT ROWID: one B-tree insert per line, where a rowid
/// table with an index by room and one by time took three); ids grow with time, so the room's newest lines
/// are its last keys. Pruning by time scans, every ten minutes. Search is a case-insensitive
/// substring match with .NET's Unicode case rules (SQLite's own LIKE folds ASCII only, and Cyrillic is what
/// the lesson speaks); a room holds at most Chat:History:MaxMessagesPerRoom lines, so it scans one room's rows.
/// </summary>
internal sealed class SqliteHistoryStore(string path) : IHistoryStore
{
    private const string Columns = "id, room, room_name, time, nickname, kind, text";
    private SqliteConnection? _writer; // the writer's own connection; reads open their own (WAL: readers never block it)
    private SqliteCommand? _insert;

    public string Location => path;

    public void Open()
    {
        Close();
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }
        var connection = Connect();
        try
        {
            Execute(connection, """
                PRAGMA journal_mode = WAL;
                PRAGMA synchronous = NORMAL;
                CREATE TABLE IF NOT EXISTS messages (
                    room      TEXT    NOT NULL,
                    id        INTEGER NOT NULL,
                    room_name TEXT    NOT NULL,
                    time      INTEGER NOT NULL,
                    nickname  TEXT    NOT NULL,
                    kind      INTEGER NOT NULL,
                    text      TEXT    NOT NULL,
                    PRIMARY KEY (room, id)
                ) WITHOUT ROWID;
                """);
            // A file that is not a database, or a damaged one, fails here rather than at the first append.
            using var check = connection.CreateCommand();
            check.CommandText = "PRAGMA quick_check";
            var result = check.ExecuteScalar() as string;
            if (result != "ok")
            {
                throw new InvalidOperationException($"The history file failed SQLite's check: {result}.");
            }
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        _writer = connection;
        _insert = connection.CreateCommand();
        _insert.CommandText = $"INSERT OR IGNORE INTO messages ({Columns}) VALUES ($id, $room, $room_name, $time, $nickname, $kind, $text)";
        foreach (var name in new[] { "$id", "$room", "$room_name", "$time", "$nickname", "$kind", "$text" })
        {
            _insert.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        _insert.Prepare();
    }

    public void Append(IReadOnlyList<HistoryItem> items)
    {
        var connection = _writer ?? throw new InvalidOperationException("The history store is not open.");
        using var transaction = connection.BeginTransaction();
        _insert!.Transaction = transaction;
        var p = _insert.Parameters;
        foreach (var item in items)
        {
            p[0].Value = item.Id;
            p[1].Value = item.RoomKey;
            p[2].Value = item.RoomName;
            p[3].Value = item.Time.ToUnixTimeMilliseconds();
            p[4].Value = item.Nickname;
            p[5].Value = (int)item.Kind;
            p[6].Value = item.Text;
            _insert.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    public long NewestId()
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(id), 0) FROM messages";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    public IReadOnlyList<(string RoomKey, IReadOnlyList<HistoryItem> Newest, long Total)> LoadRooms(int perRoom)
    {
        using var connection = Connect();
        var rooms = new List<(string, long)>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT room, COUNT(*) FROM messages WHERE kind <> 3 GROUP BY room";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rooms.Add((reader.GetString(0), reader.GetInt64(1)));
            }
        }
        var result = new List<(string, IReadOnlyList<HistoryItem>, long)>(rooms.Count);
        foreach (var (room, total) in rooms)
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {Columns} FROM messages WHERE room = $room AND kind <> 3 ORDER BY id DESC LIMIT $limit";
            command.Parameters.AddWithValue("$room", room);
            command.Parameters.AddWithValue("$limit", perRoom);
            var newest = ReadItems(command);
            newest.Reverse();
            result.Add((room, newest, total));
        }
        return result;
    }

    public IReadOnlyList<(HistoryItem Leave, long Ordinal)> LoadLeaves(DateTimeOffset since)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {Columns}, (SELECT COUNT(*) FROM messages s WHERE s.room = m.room AND s.kind <> 3 AND s.id < m.id)
            FROM messages m WHERE kind = 3 AND time >= $since ORDER BY id
            """;
        command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        using var reader = command.ExecuteReader();
        var leaves = new List<(HistoryItem, long)>();
        while (reader.Read())
        {
            leaves.Add((Read(reader), reader.GetInt64(7)));
        }
        return leaves;
    }

    public IReadOnlyList<HistoryItem> Query(string roomKey, long? before, long? after, int limit, string? search)
    {
        using var connection = Connect();
        connection.CreateFunction("contains_folded", (string text, string search) => text.Contains(search, StringComparison.OrdinalIgnoreCase), isDeterministic: true);
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {Columns} FROM messages
            WHERE room = $room AND kind <> 3 AND id < $before AND id > $after
              AND ($search IS NULL OR contains_folded(text, $search) OR contains_folded(nickname, $search))
            ORDER BY id DESC LIMIT $limit
            """;
        command.Parameters.AddWithValue("$room", roomKey);
        command.Parameters.AddWithValue("$before", before ?? long.MaxValue);
        command.Parameters.AddWithValue("$after", after ?? 0);
        command.Parameters.AddWithValue("$search", (object?)search ?? DBNull.Value);
        command.Parameters.AddWithValue("$limit", limit);
        return ReadItems(command);
    }

    public bool Delete(string roomKey, long id)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM messages WHERE room = $room AND id = $id AND kind <> 3";
        command.Parameters.AddWithValue("$room", roomKey);
        command.Parameters.AddWithValue("$id", id);
        return command.ExecuteNonQuery() > 0;
    }

    public int Prune(DateTimeOffset olderThan, int maxPerRoom)
    {
        using var connection = Connect();
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            DELETE FROM messages WHERE time < $cutoff;
            DELETE FROM messages WHERE id IN (
                SELECT id FROM (
                    SELECT id, ROW_NUMBER() OVER (PARTITION BY room ORDER BY id DESC) AS newest FROM messages
                ) WHERE newest > $max
            );
            """;
        command.Parameters.AddWithValue("$cutoff", olderThan.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$max", maxPerRoom);
        var pruned = command.ExecuteNonQuery();
        transaction.Commit();
        return pruned;
    }

    public void Dispose() => Close();

    private void Close()
    {
        _insert?.Dispose();
        _insert = null;
        _writer?.Dispose();
        _writer = null;
    }

    private SqliteConnection Connect()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        connection.Open();
        using var timeout = connection.CreateCommand();
        timeout.CommandText = "PRAGMA busy_timeout = 5000";
        timeout.ExecuteNonQuery();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static List<HistoryItem> ReadItems(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var items = new List<HistoryItem>();
        while (reader.Read())
        {
            items.Add(Read(reader));
        }
        return items;
    }

    private static HistoryItem Read(SqliteDataReader reader) => new(
        reader.GetInt64(0), reader.GetString(1), reader.GetString(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
        reader.GetString(4), (HistoryKind)reader.GetInt32(5), reader.GetString(6));
}
