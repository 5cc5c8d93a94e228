namespace KestrelChat.Chat;

/// <summary>
/// The chat lines one read of a client produced, encoded once, back to back, and fanned out together:
/// each recipient gets one copy of the whole batch (one lock, one copy, one flush) instead of one per
/// line. Ten fast senders reaching 99 readers then cost a memory copy per delivery, as in the C relay.
/// Only the client's own read loop touches its batch.
/// </summary>
/// <remarks>
/// Batches are cut from 16 KiB arenas. A batch that some recipient's backlog still references (that
/// client is behind) is left in place and the next batch starts after it; otherwise the next one
/// reuses the same bytes. So a client that keeps up costs no allocation per line, and a slow
/// client's backlog holds what it counts against its send queue plus at most the unused rest of one
/// arena per sender it holds lines from.
/// </remarks>
internal sealed class FanOutBatch
{
    /// <summary>A batch goes out once the next line would not fit in this (and at the end of every read).</summary>
    public const int ArenaBytes = 16 * 1024;

    private byte[] _arena = [];
    private int _start;  // where this batch begins in the arena
    private int _end;    // where the next line goes

    public int Lines { get; private set; }

    public bool IsEmpty => Lines == 0;

    /// <summary>The batch so far: whole lines, each ending in LF.</summary>
    public ReadOnlyMemory<byte> Bytes => _arena.AsMemory(_start, _end - _start);

    /// <summary>Adds <paramref name="message"/>'s line. False when the batch is full: fan it out, then add it again.</summary>
    public bool TryAdd(in ChatMessage message)
    {
        var size = message.EncodedLength;
        if (size > _arena.Length - _end)
        {
            if (!IsEmpty)
            {
                return false;
            }
            _arena = new byte[Math.Max(size, ArenaBytes)]; // the old arena belongs to the backlogs that hold it
            _start = _end = 0;
        }
        _end += message.Encode(_arena.AsSpan(_end));
        Lines++;
        return true;
    }

    /// <summary>Empties the batch once it went out; <paramref name="referenced"/>: a backlog keeps its bytes.</summary>
    public void Clear(bool referenced)
    {
        if (referenced)
        {
            _start = _end;
        }
        else
        {
            _end = _start;
        }
        Lines = 0;
    }
}
