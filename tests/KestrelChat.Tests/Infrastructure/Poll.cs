namespace KestrelChat.Tests.Infrastructure;

/// <summary>Waiting for something that happens in the background (a batch written to a store), with a deadline.</summary>
public static class Poll
{
    /// <summary>Reads until <paramref name="done"/>, every 50 ms, failing with the last value at <paramref name="timeout"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }
            Assert.True(DateTime.UtcNow < until, $"still {value} at the deadline");
            await poll.WaitForNextTickAsync();
        }
    }
}
