using System.Collections.Concurrent;

namespace KestrelChat.Chat;

/// <summary>
/// One read of one client, as the fan-out sees it; owned by that client's read loop from the read to
/// its end (<see cref="Rent"/> … <see cref="Return"/>). It holds
/// - the read's messages, encoded once into a pooled arena (<see cref="FanOutBatch"/>), which go out
///   together: one copy, one lock and one flush per member instead of one per line;
/// - the members written to, each flushed once when the read is done (<see cref="Complete"/>);
/// - the rule that lines said before a command reach the others before the command acts
///   (<see cref="SendPending"/>, called by the commands) and before a message to another room.
/// Scopes are pooled: a client holds none between reads, so what it costs between reads does not
/// grow with the room it is in. The pool keeps as many as read loops run at once, not one per client.
/// </summary>
internal sealed class FanOutScope
{
    private const int MaxPooled = 256;

    private static readonly ConcurrentQueue<FanOutScope> Pool = new();
    private static int _pooled;

    private readonly FanOutBatch _batch = new();
    private readonly DeferredFlushes _flushes = new();
    private Room? _room;            // where the pending lines go
    private ChatSession? _sender;

    /// <summary>A scope for one read of <paramref name="sender"/>.</summary>
    public static FanOutScope Rent(ChatSession sender)
    {
        if (Pool.TryDequeue(out var scope))
        {
            Interlocked.Decrement(ref _pooled);
        }
        else
        {
            scope = new FanOutScope();
        }
        scope._sender = sender;
        return scope;
    }

    /// <summary>Recipients written to with a deferred flush.</summary>
    public DeferredFlushes Flushes => _flushes;

    /// <summary>Adds a message of this read; a message to another room first sends what is pending for the last one.</summary>
    public void Add(in ChatMessage message)
    {
        if (_room is not null && _room != message.Room)
        {
            SendPending();
        }
        _room = message.Room;
        if (!_batch.TryAdd(message))
        {
            SendPending();
            _room = message.Room;
            _batch.TryAdd(message); // always fits an empty batch (a long line gets an arena of its own)
        }
    }

    /// <summary>Fans out what this read said so far (before a command acts on it, and at the end of the read).</summary>
    public void SendPending()
    {
        if (_room is { } room && !_batch.IsEmpty)
        {
            var referenced = room.Deliver(_batch.Bytes, _batch.Lines, _sender!, this);
            _batch.Clear(referenced);
        }
        _room = null;
    }

    /// <summary>Flushes every member written to so far (before the read loop waits on another instance, and at the end).</summary>
    public void FlushAll() => _flushes.FlushAll();

    /// <summary>The end of the read: its messages go out, and each member written to is flushed once.</summary>
    public void Complete()
    {
        SendPending();
        FlushAll();
    }

    /// <summary>Completes the read and gives the scope back to the pool.</summary>
    public void Return()
    {
        Complete();
        _sender = null;
        _flushes.Trim();
        if (Interlocked.Increment(ref _pooled) <= MaxPooled)
        {
            Pool.Enqueue(this);
        }
        else
        {
            Interlocked.Decrement(ref _pooled);
        }
    }
}
