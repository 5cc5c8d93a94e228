using KestrelChat.Cluster;
using StackExchange.Redis;

namespace KestrelChat.History;

/// <summary>
/// A cluster's history in Redis, so it is the same whichever instance a client lands on: one stream per room,
/// "kc:{channel}:history:{room}", each entry one item (Centrifugo keeps a channel's history the same way). The
/// instance where a line was said appends it (XADD … MAXLEN ~ Chat:History:MaxMessagesPerRoom); the others
/// learn of it through the backplane. It uses the backplane's connection: when Redis is away, appends fail,
/// the writer keeps them and retries, and /health says so.
/// </summary>
internal sealed class RedisHistoryStore(RedisBackplane backplane, int maxPerRoom) : IHistoryStore
{
    private static readonly RedisValue IdField = "id", TimeField = "time", RoomField = "room", NicknameField = "nickname", KindField = "kind", TextField = "text";

    public string Location => $"Redis {backplane.Connection?.Configuration ?? "(not connected)"}, streams {backplane.KeyPrefix}:history:*";

    public void Open()
    {
        if (backplane.Connection is not { IsConnected: true })
        {
            throw new InvalidOperationException("Redis is unreachable.");
        }
    }

    public void Append(IReadOnlyList<HistoryItem> items)
    {
        var db = Database();
        var batch = db.CreateBatch();
        var adds = new List<Task>(items.Count);
        foreach (var item in items)
        {
            adds.Add(batch.StreamAddAsync(Key(item.RoomKey), Fields(item), maxLength: maxPerRoom, useApproximateMaxLength: true));
        }
        batch.Execute();
        try
        {
            if (!Task.WaitAll([.. adds], TimeSpan.FromSeconds(10)))
            {
                throw new TimeoutException($"Redis did not confirm {adds.Count(a => !a.IsCompleted)} of {adds.Count} history entries within 10 s.");
            }
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
        {
            // When Redis goes, every write of the batch fails alike: the first says why. The aggregate's message
            // repeats each of them: one log line of 750 KB when a cluster's Redis went with 100,000 clients.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerExceptions[0]);
        }
    }

    public long NewestId()
    {
        var db = Database();
        return RoomKeys().Select(key => db.StreamRange(key, count: 1, messageOrder: Order.Descending))
            .Where(entries => entries.Length > 0).Select(entries => Read(entries[0]).Id).DefaultIfEmpty(0).Max();
    }

    public IReadOnlyList<(string RoomKey, IReadOnlyList<HistoryItem> Newest, long Total)> LoadRooms(int perRoom)
    {
        var rooms = new List<(string, IReadOnlyList<HistoryItem>, long)>();
        foreach (var key in RoomKeys())
        {
            var shown = All(key).Where(i => i.IsShown).ToList();
            if (shown.Count > 0)
            {
                rooms.Add((shown[0].RoomKey, shown.TakeLast(perRoom).ToList(), shown.Count));
            }
        }
        return rooms;
    }

    public IReadOnlyList<(HistoryItem Leave, long Ordinal)> LoadLeaves(DateTimeOffset since)
    {
        var leaves = new List<(HistoryItem, long)>();
        foreach (var key in RoomKeys())
        {
            var ordinal = 0L;
            foreach (var item in All(key))
            {
                if (item.IsShown)
                {
                    ordinal++;
                }
                else if (item.Time >= since)
                {
                    leaves.Add((item, ordinal));
                }
            }
        }
        return leaves;
    }

    public IReadOnlyList<HistoryItem> Query(string roomKey, long? before, long? after, int limit, string? search) =>
        All(Key(roomKey)).Where(i => i.IsShown && i.Id < (before ?? long.MaxValue) && i.Id > (after ?? 0)
                && (search is null || i.Text.Contains(search, StringComparison.OrdinalIgnoreCase) || i.Nickname.Contains(search, StringComparison.OrdinalIgnoreCase)))
            .Reverse().Take(limit).ToList();

    public bool Delete(string roomKey, long id)
    {
        var key = Key(roomKey);
        var db = Database();
        var entry = db.StreamRange(key).FirstOrDefault(e => !e.IsNull && (long)e[IdField] == id && (int)e[KindField] != (int)HistoryKind.Leave);
        return !entry.IsNull && db.StreamDelete(key, [entry.Id]) > 0;
    }

    public int Prune(DateTimeOffset olderThan, int maxPerRoom)
    {
        var db = Database();
        var pruned = 0L;
        foreach (var key in RoomKeys())
        {
            // Entry ids are Redis's own time in ms: MINID drops everything older than the cutoff.
            pruned += (long)db.Execute("XTRIM", key.ToString(), "MINID", $"{olderThan.ToUnixTimeMilliseconds()}-0");
            pruned += db.StreamTrim(key, maxPerRoom, useApproximateMaxLength: false);
        }
        return (int)pruned;
    }

    public void Dispose()
    {
        // The connection is the backplane's.
    }

    private IDatabase Database() =>
        backplane.Connection is { IsConnected: true } redis ? redis.GetDatabase() : throw new InvalidOperationException("Redis is unreachable.");

    private RedisKey Key(string roomKey) => $"{backplane.KeyPrefix}:history:{roomKey}";

    private IEnumerable<RedisKey> RoomKeys()
    {
        var redis = backplane.Connection ?? throw new InvalidOperationException("Redis is unreachable.");
        return redis.GetServers().Where(s => s.IsConnected && !s.IsReplica)
            .SelectMany(s => s.Keys(pattern: $"{backplane.KeyPrefix}:history:*")).Distinct();
    }

    private List<HistoryItem> All(RedisKey key) => [.. Database().StreamRange(key).Where(e => !e.IsNull).Select(Read)];

    private static NameValueEntry[] Fields(HistoryItem item) =>
    [
        new(IdField, item.Id),
        new(TimeField, item.Time.ToUnixTimeMilliseconds()),
        new(RoomField, item.RoomName),
        new(NicknameField, item.Nickname),
        new(KindField, (int)item.Kind),
        new(TextField, item.Text),
    ];

    private static HistoryItem Read(StreamEntry entry)
    {
        var room = (string)entry[RoomField]!;
        return new HistoryItem((long)entry[IdField], Protocol.RoomNames.Key(room), room,
            DateTimeOffset.FromUnixTimeMilliseconds((long)entry[TimeField]), (string)entry[NicknameField]!,
            (HistoryKind)(int)entry[KindField], (string?)entry[TextField] ?? string.Empty);
    }

}
