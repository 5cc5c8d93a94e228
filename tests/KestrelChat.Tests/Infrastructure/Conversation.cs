using System.Diagnostics;
using System.Globalization;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>
/// Two people on different instances talking at a steady pace while something breaks: each says numbered lines
/// ("alice-1", "alice-2", …) every <see cref="Interval"/>, and each reads what the other said, as a user would,
/// with the time it arrived. <see cref="FinishAsync"/> stops the talking and waits for the last lines.
/// </summary>
public sealed class Conversation : IAsyncDisposable
{
    /// <summary>Under the default flood control (5 lines/s): nothing is held back by the server itself.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private readonly Side _left, _right;
    private readonly CancellationTokenSource _stopTalking = new();
    private readonly CancellationTokenSource _stopReading = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private Task _talking = Task.CompletedTask, _listening = Task.CompletedTask;

    private Conversation(ChatTestClient left, string leftName, ChatTestClient right, string rightName)
    {
        _left = new Side(left, leftName, rightName);
        _right = new Side(right, rightName, leftName);
    }

    /// <summary>What one side said and what it received of the other's lines, in order, with times.</summary>
    public sealed class Side(ChatTestClient client, string name, string other)
    {
        public ChatTestClient Client { get; } = client;

        public string Name { get; } = name;

        /// <summary>The numbers this side said, with when (since the start).</summary>
        public List<(int Number, TimeSpan At)> Said { get; } = [];

        /// <summary>The other side's numbers as they arrived here, with when.</summary>
        public List<(int Number, TimeSpan At)> Heard { get; } = [];

        /// <summary>Server notices that arrived meanwhile ("* …").</summary>
        public List<string> Notices { get; } = [];

        internal readonly string Prefix = $"{other}: {other}-";
    }

    public Side Left => _left;

    public Side Right => _right;

    public TimeSpan Now => _clock.Elapsed;

    public static Conversation Start(ChatTestClient left, string leftName, ChatTestClient right, string rightName)
    {
        var conversation = new Conversation(left, leftName, right, rightName);
        conversation._talking = Task.WhenAll(conversation.TalkAsync(conversation._left), conversation.TalkAsync(conversation._right));
        conversation._listening = Task.WhenAll(conversation.ListenAsync(conversation._left), conversation.ListenAsync(conversation._right));
        return conversation;
    }

    /// <summary>Until each side has heard at least <paramref name="lines"/> of the other's lines since now.</summary>
    public async Task HeardMoreAsync(int lines, TimeSpan timeout)
    {
        int Count(Side side)
        {
            lock (side.Heard)
            {
                return side.Heard.Count;
            }
        }
        var (left, right) = (Count(_left), Count(_right));
        await Poll.UntilAsync(() => Task.FromResult((Count(_left) - left, Count(_right) - right)),
            heard => heard.Item1 >= lines && heard.Item2 >= lines, timeout);
    }

    /// <summary>Stops both sides talking and waits until each has heard the other's last line (or the deadline).</summary>
    public async Task FinishAsync(TimeSpan timeout)
    {
        await _stopTalking.CancelAsync();
        await _talking;
        bool HeardLast(Side side, Side other)
        {
            lock (side.Heard)
            {
                return other.Said.Count == 0 || side.Heard.Any(h => h.Number == other.Said[^1].Number);
            }
        }
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(HeardLast(_left, _right) && HeardLast(_right, _left)), done => done, timeout);
        }
        finally
        {
            await _stopReading.CancelAsync();
            await _listening;
        }
    }

    private async Task TalkAsync(Side side)
    {
        using var pace = new PeriodicTimer(Interval);
        try
        {
            for (var number = 1; await pace.WaitForNextTickAsync(_stopTalking.Token); number++)
            {
                side.Said.Add((number, Now)); // before the send: the other side may hear it at once
                await side.Client.SendLineAsync($"{side.Name}-{number}");
            }
        }
        catch (OperationCanceledException)
        {
            // Done talking.
        }
    }

    private async Task ListenAsync(Side side)
    {
        while (!_stopReading.IsCancellationRequested)
        {
            string line;
            try
            {
                line = await side.Client.ReadLineAsync(TimeSpan.FromMilliseconds(500));
            }
            catch (TimeoutException)
            {
                continue;
            }
            if (line.StartsWith(side.Prefix, StringComparison.Ordinal)
                && int.TryParse(line.AsSpan(side.Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                lock (side.Heard)
                {
                    side.Heard.Add((number, Now));
                }
            }
            else if (line.StartsWith("* ", StringComparison.Ordinal))
            {
                side.Notices.Add(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopTalking.CancelAsync();
        await _stopReading.CancelAsync();
        try
        {
            await Task.WhenAll(_talking, _listening);
        }
        catch (Exception)
        {
            // Reported by the test that used it, if it finished it.
        }
        _stopTalking.Dispose();
        _stopReading.Dispose();
    }
}
