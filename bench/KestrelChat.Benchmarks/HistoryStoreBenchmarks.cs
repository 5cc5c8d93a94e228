using BenchmarkDotNet.Attributes;
using KestrelChat.History;

namespace KestrelChat.Benchmarks;

/// <summary>
/// The history store alone: how many lines a second the writer can put into SQLite (issue 16's target:
/// 50,000 sustained). One operation = one batch, one transaction, as the history writer appends what has
/// piled up; the file grows across iterations like a server's does (WAL, synchronous=NORMAL).
/// </summary>
[MemoryDiagnoser]
public class HistoryStoreBenchmarks
{
    private string _folder = null!;
    private SqliteHistoryStore _store = null!;
    private HistoryItem[] _batch = null!;
    private long _nextId;

    /// <summary>Lines per transaction: 1 (a quiet chat: one line per wake-up), 64, 4096 (the writer's largest batch).</summary>
    [Params(1, 64, 4096)]
    public int BatchLines { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Directory.CreateTempSubdirectory("kestrelchat-bench-").FullName;
        _store = new SqliteHistoryStore(Path.Combine(_folder, "history.db"));
        _store.Open();
        _batch = new HistoryItem[BatchLines];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark]
    public void AppendBatch()
    {
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < _batch.Length; i++)
        {
            _batch[i] = new HistoryItem(++_nextId, "#lobby", "#lobby", now, "alice", HistoryKind.Text, "привет, это строка истории номер " + i);
        }
        _store.Append(_batch);
    }
}
