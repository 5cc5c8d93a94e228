using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;

namespace KestrelChat.Chat;

/// <summary>
/// One client's outbound queue and the loop that drains it into the socket.
/// Senders only enqueue (never write, never wait), so a slow or dead client can't stall the
/// broadcaster. The queue is bounded by bytes: <see cref="TryEnqueue"/> refuses what would exceed
/// the capacity, and the session then disconnects the client (like IRC's "SendQ exceeded").
/// The writer loop is the only code that touches the connection's output, so no write lock is
/// needed; it copies every queued line into the pipe and flushes once per batch, which turns many
/// small messages into few syscalls.
/// </summary>
internal sealed class SendQueue(long capacityBytes)
{
    /// <summary>Flush at least this often inside a long batch, so the pipe's own buffer stays small.</summary>
    private const int MaxBatchBytes = 64 * 1024;

    private readonly Channel<byte[]> _channel = Channel.CreateUnbounded<byte[]>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private long _queuedBytes;

    /// <summary>Bytes waiting to be handed to the socket.</summary>
    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    public EnqueueResult TryEnqueue(byte[] message)
    {
        if (Interlocked.Add(ref _queuedBytes, message.Length) > capacityBytes)
        {
            Interlocked.Add(ref _queuedBytes, -message.Length);
            return EnqueueResult.Overflow;
        }
        if (!_channel.Writer.TryWrite(message))
        {
            Interlocked.Add(ref _queuedBytes, -message.Length);
            return EnqueueResult.Closed;
        }
        return EnqueueResult.Queued;
    }

    /// <summary>Queues a last message past the capacity (a farewell must not be refused) and closes the queue.</summary>
    public void Complete(byte[]? lastMessage)
    {
        if (lastMessage is not null && _channel.Writer.TryWrite(lastMessage))
        {
            Interlocked.Add(ref _queuedBytes, lastMessage.Length);
        }
        _channel.Writer.TryComplete();
    }

    /// <summary>Drains the queue into <paramref name="output"/> until the queue is completed and empty or the peer is gone.</summary>
    /// <remarks>
    /// For an unframed (lesson) client, <paramref name="unframed"/> returns true: then each message is
    /// written and flushed on its own, without its LF, so that each recv() of the client gets one message.
    /// </remarks>
    public async Task RunAsync(PipeWriter output, Func<bool> unframed, Action<int, int> onWritten)
    {
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (unframed())
            {
                if (!reader.TryRead(out var single))
                {
                    continue;
                }
                Interlocked.Add(ref _queuedBytes, -single.Length);
                var length = WriteUnframed(output, single);
                var sent = await output.FlushAsync().ConfigureAwait(false);
                onWritten(length, 1);
                if (sent.IsCompleted || sent.IsCanceled)
                {
                    return;
                }
                continue;
            }

            var batchBytes = 0;
            var batchMessages = 0;
            while (batchBytes < MaxBatchBytes && reader.TryRead(out var message))
            {
                output.Write(message);
                batchBytes += message.Length;
                batchMessages++;
            }
            Interlocked.Add(ref _queuedBytes, -batchBytes);
            var flush = await output.FlushAsync().ConfigureAwait(false);
            onWritten(batchBytes, batchMessages);
            if (flush.IsCompleted || flush.IsCanceled)
            {
                return; // the transport stopped reading: the peer is gone or the connection was aborted
            }
        }
    }

    private static int WriteUnframed(PipeWriter output, byte[] line)
    {
        var message = Protocol.UnframedOutput.Message(line);
        output.Write(message);
        return message.Length;
    }
}

internal enum EnqueueResult
{
    Queued,
    Overflow,
    Closed,
}
