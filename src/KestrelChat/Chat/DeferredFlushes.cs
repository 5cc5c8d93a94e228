namespace KestrelChat.Chat;

/// <summary>
/// Recipients written to with their flush deferred (<see cref="ConnectionWriter.Write(ReadOnlyMemory{byte}, int, List{ConnectionWriter}?)"/>),
/// flushed together when the writer's batch is done: one flush per recipient per batch instead of one per line.
/// A flush (a lock in the pipe and a wake-up of the transport) costs more than copying a line. Owned by one
/// thread at a time: a read loop's <see cref="FanOutScope"/>, or the cluster's inbox under its lock.
/// </summary>
internal sealed class DeferredFlushes
{
    /// <summary>
    /// A fan-out flushes the members written to so far once this many wait: in a room of thousands the
    /// first members' lines then go out while the rest are still being written, instead of after the last
    /// one (the transport's send loops run on the other core meanwhile). A room smaller than this still gets
    /// its flushes together, once per read.
    /// </summary>
    public const int MaxWaiting = 256;

    /// <summary>A list that grew past this (a room of thousands) is dropped by <see cref="Trim"/> rather than kept.</summary>
    private const int MaxKept = 1024;

    /// <summary>
    /// Whether a walk over a room flushes in rounds of <see cref="MaxWaiting"/> (a read's fan-out always does).
    /// The cluster's inbox sets it for a batch of one message only: a batch of several would then flush each
    /// member once per message instead of once per batch.
    /// </summary>
    public bool InRounds { get; set; } = true;

    /// <summary>Each writer once, in the order first written to.</summary>
    public List<ConnectionWriter> Writers { get; private set; } = [];

    /// <summary>Flushes every writer written to since the last call.</summary>
    public void FlushAll()
    {
        foreach (var writer in Writers)
        {
            writer.FlushDeferred();
        }
        Writers.Clear();
    }

    /// <summary>Called by a walk over a room after each member it wrote to: flushes the round once <see cref="MaxWaiting"/> wait (when <see cref="InRounds"/>).</summary>
    public void FlushRoundIfFull()
    {
        if (InRounds && Writers.Count >= MaxWaiting)
        {
            FlushAll();
        }
    }

    /// <summary>Drops a list grown large, so that a pooled owner does not keep it between uses.</summary>
    public void Trim()
    {
        if (Writers.Capacity > MaxKept)
        {
            Writers = [];
        }
    }
}
