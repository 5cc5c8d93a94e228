namespace KestrelChat.Chat;

/// <summary>
/// The room's named members, for fan-out: any thread walks a <see cref="Snapshot"/> with no lock
/// while others join and leave. Copy-on-write would copy all N members on every join and every
/// leave: O(N²) for a storm (10,000 joins alone would allocate 400 MB of arrays). Here a join writes
/// the next free slot of a shared array and publishes a new snapshot that covers it (older snapshots
/// end before it), and a leave clears its slot in place (walkers skip an empty slot; the member is
/// gone anyway). The array is copied only to grow or, when half of it is empty slots, to compact:
/// amortised O(1) per change, and join order is kept.
/// </summary>
/// <remarks>Add and Remove run under the room's membership lock; Current is lock-free.</remarks>
internal sealed class MemberList
{
    private ChatSession?[] _slots = new ChatSession?[16];
    private int _used;  // slots handed out, cleared ones included
    private int _count; // members
    private Snapshot _current = Snapshot.Empty;

    /// <summary>The members as of the last change; safe to walk while others join or leave.</summary>
    public Snapshot Current => Volatile.Read(ref _current);

    public void Add(ChatSession session)
    {
        if (_used == _slots.Length)
        {
            Rebuild(Math.Max(16, _count * 2));
        }
        session.MemberSlot = _used;
        _slots[_used++] = session;
        _count++;
        Publish();
    }

    public void Remove(ChatSession session)
    {
        var slot = session.MemberSlot;
        if (slot < 0 || slot >= _used || _slots[slot] != session)
        {
            return;
        }
        _slots[slot] = null;
        session.MemberSlot = -1;
        _count--;
        if (_used > 32 && _count < _used / 2)
        {
            Rebuild(Math.Max(16, _count * 2)); // walkers of older snapshots keep the old array
        }
        Publish();
    }

    // A new array: older snapshots keep theirs, unchanged from here on.
    private void Rebuild(int capacity)
    {
        var slots = new ChatSession?[capacity];
        var used = 0;
        foreach (var member in _slots.AsSpan(0, _used))
        {
            if (member is not null)
            {
                member.MemberSlot = used;
                slots[used++] = member;
            }
        }
        _slots = slots;
        _used = used;
    }

    private void Publish() => Volatile.Write(ref _current, new Snapshot(_slots, _used, _count));

    /// <summary>The first <see cref="Used"/> slots of the shared array; a null slot is a member who left.</summary>
    internal sealed class Snapshot(ChatSession?[] slots, int used, int count)
    {
        public static readonly Snapshot Empty = new([], 0, 0);

        public int Used { get; } = used;

        /// <summary>Members in this snapshot (fewer may remain: a leave clears its slot in place).</summary>
        public int Count { get; } = count;

        public ReadOnlySpan<ChatSession?> Slots => slots.AsSpan(0, Used);

        /// <summary>
        /// Sends <paramref name="line"/> (<paramref name="lines"/> whole lines) to every member (an empty slot is one who
        /// left), each flushed now or, with <paramref name="flushes"/>, when its owner's batch is done; returns how many.
        /// </summary>
        public int SendToAll(byte[] line, int lines = 1, DeferredFlushes? flushes = null)
        {
            var sent = 0;
            foreach (var member in Slots)
            {
                if (member is not null)
                {
                    member.Send(line, lines, flushes);
                    sent++;
                    flushes?.FlushRoundIfFull();
                }
            }
            return sent;
        }

        /// <summary>A copy without the empty slots, in join order.</summary>
        public ChatSession[] ToArray()
        {
            var members = new List<ChatSession>(Count);
            foreach (var member in Slots)
            {
                if (member is not null)
                {
                    members.Add(member);
                }
            }
            return [.. members];
        }
    }
}
