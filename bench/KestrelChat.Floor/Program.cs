using System.Buffers;
using System.IO.Pipelines;
using KestrelChat.Floor;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

// The benchmark's Kestrel floor: the reference relay's protocol (bench/reference/relay.c) served by as
// little as a Kestrel ConnectionHandler can do. No logging, metrics, limits, commands, validation or
// UTF-8 checks; one read's lines go out as one write and one flush per recipient.
// bench/run.sh runs it beside the relay and KestrelChat: from the relay to here is what Kestrel's
// socket transport and the thread pool cost on this machine; from here to KestrelChat is ours.
//
// Usage: KestrelChat.Floor PORT   (listens on loopback; prints "listening on PORT" once ready)
if (args.Length != 1 || !int.TryParse(args[0], out var port))
{
    Console.Error.WriteLine("usage: KestrelChat.Floor PORT");
    return 2;
}
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.Services.AddSingleton<Members>();
builder.WebHost.UseSockets(sockets => sockets.Backlog = 8192); // as KestrelChat: a 10,000-client storm overflows 512
builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(port, listen => listen.UseConnectionHandler<FloorHandler>()));
var app = builder.Build();
await app.StartAsync().ConfigureAwait(false);
Console.WriteLine($"listening on {port}");
await app.WaitForShutdownAsync().ConfigureAwait(false);
return 0;

namespace KestrelChat.Floor
{
    /// <summary>The named clients; fan-out reads an array that is rebuilt only after a change.</summary>
    internal sealed class Members
    {
        private readonly List<PipeWriter> _list = [];
        private PipeWriter[]? _snapshot;

        public void Add(PipeWriter member)
        {
            lock (_list)
            {
                _list.Add(member);
                _snapshot = null;
            }
        }

        public void Remove(PipeWriter member)
        {
            lock (_list)
            {
                _list.Remove(member);
                _snapshot = null;
            }
        }

        public PipeWriter[] Snapshot()
        {
            if (Volatile.Read(ref _snapshot) is { } snapshot)
            {
                return snapshot;
            }
            lock (_list)
            {
                return _snapshot ??= [.. _list];
            }
        }
    }

    internal sealed class FloorHandler(Members members) : ConnectionHandler
    {
        private static readonly byte[] Nick = "NICK"u8.ToArray();

        public override async Task OnConnectedAsync(ConnectionContext connection)
        {
            var input = connection.Transport.Input;
            var output = connection.Transport.Output;
            await output.WriteAsync(Nick).ConfigureAwait(false);
            byte[]? prefix = null; // "NAME: ", once named
            var lines = new ArrayBufferWriter<byte>();
            try
            {
                while (true)
                {
                    var read = await input.ReadAsync().ConfigureAwait(false);
                    var buffer = read.Buffer;
                    while (buffer.PositionOf((byte)'\n') is { } lf)
                    {
                        var line = buffer.Slice(0, lf);
                        buffer = buffer.Slice(buffer.GetPosition(1, lf));
                        if (prefix is null)
                        {
                            prefix = [.. line.ToArray(), .. ": "u8];
                            // A member before its welcome can leave the pipe: no line sent after the welcome can
                            // miss it, and none can come before the welcome (they wait for this lock).
                            lock (output)
                            {
                                output.Write([.. "* Welcome, "u8, .. line.ToArray(), .. "!\n"u8]);
                                members.Add(output);
                                FlushWithoutWaiting(output);
                            }
                            continue;
                        }
                        lines.Write(prefix);
                        foreach (var segment in line)
                        {
                            lines.Write(segment.Span);
                        }
                        lines.Write("\n"u8);
                    }
                    input.AdvanceTo(buffer.Start, read.Buffer.End);
                    if (lines.WrittenCount > 0)
                    {
                        SendToOthers(lines.WrittenSpan, output);
                        lines.ResetWrittenCount();
                    }
                    if (read.IsCompleted)
                    {
                        break;
                    }
                }
            }
            catch (ConnectionResetException)
            {
            }
            finally
            {
                members.Remove(output);
            }
        }

        // Each recipient's writes are serialised by a lock on its writer.
        private void SendToOthers(ReadOnlySpan<byte> lines, PipeWriter sender)
        {
            foreach (var member in members.Snapshot())
            {
                if (member == sender)
                {
                    continue;
                }
                try
                {
                    lock (member)
                    {
                        member.Write(lines);
                        FlushWithoutWaiting(member);
                    }
                }
                catch (InvalidOperationException)
                {
                    // That member's connection has just ended: its writer is complete.
                }
            }
        }

        // A slow reader costs memory, never the sender's time: the relay buffers the same way. The pipe's
        // flush may be left pending, and the next one joins it.
#pragma warning disable CA2012 // not awaited on purpose (above)
        private static void FlushWithoutWaiting(PipeWriter writer) => writer.FlushAsync();
#pragma warning restore CA2012
    }
}
