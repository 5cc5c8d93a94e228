using KestrelChat.History;
using Microsoft.Extensions.Logging.Abstractions;

namespace KestrelChat.Tests;

/// <summary>The history writer against a store that stalls: the chat's side never waits, the overflow is counted and said.</summary>
public sealed class HistoryWriterTests
{
    [Fact]
    public async Task A_store_that_stalls_never_blocks_the_senders_the_oldest_waiting_lines_are_dropped_and_counted_then_the_rest_are_written()
    {
        using var stall = new ManualResetEventSlim();
        var store = new StallingStore(stall);
        var writer = new HistoryWriter(store, capacity: 1000, prune: () => 0, NullLogger.Instance);
        using var stopping = new CancellationTokenSource();
        var running = writer.Start(stopping.Token);

        writer.Enqueue(Item(0));
        Assert.True(store.Appending.Wait(TimeSpan.FromSeconds(10)), "the writer never took the first line"); // it now waits in the store
        for (var i = 1; i <= 1500; i++)
        {
            writer.Enqueue(Item(i)); // returns at once: never waits for the store
        }

        Assert.Equal(500, writer.Dropped);
        Assert.True(writer.DroppedLately);
        stall.Set();
        stopping.Cancel();
        await running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1001, store.Written.Count); // the first line and the newest 1000
        Assert.Equal(501, store.Written[1].Id);
        Assert.Equal(1500, store.Written[^1].Id);
    }

    private static HistoryItem Item(long id) => new(id, "#lobby", "#lobby", DateTimeOffset.UnixEpoch, "alice", HistoryKind.Text, $"line {id}");

    private sealed class StallingStore(ManualResetEventSlim stall) : IHistoryStore
    {
        public ManualResetEventSlim Appending { get; } = new();

        public List<HistoryItem> Written { get; } = [];

        public string Location => "a stalling store";

        public void Open()
        {
        }

        public void Append(IReadOnlyList<HistoryItem> items)
        {
            Appending.Set();
            stall.Wait();
            Written.AddRange(items);
        }

        public long NewestId() => 0;

        public IReadOnlyList<(string RoomKey, IReadOnlyList<HistoryItem> Newest, long Total)> LoadRooms(int perRoom) => [];

        public IReadOnlyList<(HistoryItem Leave, long Ordinal)> LoadLeaves(DateTimeOffset since) => [];

        public IReadOnlyList<HistoryItem> Query(string roomKey, long? before, long? after, int limit, string? search) => [];

        public bool Delete(string roomKey, long id) => false;

        public int Prune(DateTimeOffset olderThan, int maxPerRoom) => 0;

        public void Dispose() => Appending.Dispose();
    }
}
