using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using KestrelChat.Codecs;
using KestrelChat.Hosting;
using KestrelChat.Protocol;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Options;

namespace KestrelChat.Chat;

/// <summary>
/// Kestrel hands every accepted chat socket to <see cref="OnConnectedAsync"/>: greet with "NICK",
/// run the read loop (bytes → lines → <see cref="ChatCommands"/>) beside the session's writer loop,
/// and clean up however the connection ends (quit, EOF, reset, stop).
/// </summary>
internal sealed partial class ChatConnectionHandler(
    ChatRegistry registry,
    ChatCommands commands,
    ChatShutdown shutdown,
    IOptions<ChatOptions> options,
    IOptions<ChatLimitsOptions> limits,
    ChatMetrics metrics,
    ConnectionChurn churn,
    ILogger<ChatConnectionHandler> logger) : ConnectionHandler
{
    /// <summary>A person on nc or telnet who has typed nothing by then is asked for a nickname in words.</summary>
    internal static readonly TimeSpan NicknamePromptDelay = TimeSpan.FromSeconds(1);

    private readonly ChatOptions _options = options.Value;
    private readonly ChatLimitsOptions _limits = limits.Value;
    private Action<ChatSession>? _onSendQueueExceeded; // one delegate for all sessions, not one each

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        _onSendQueueExceeded ??= s => LogSendQueueExceeded(s.Id, s.Nickname, s.QueuedBytes);
        // Taken by ConnectionLimits, the listener's first middleware, which leaves it to this method to free:
        // as soon as the client has left, and in any case before this returns.
        var slot = connection.Features.Get<ConnectionSlot>();
        try
        {
            var session = new ChatSession(connection, ClientCodec.For(connection, _limits.MaxLineBytes), IsOperatorByAddress(connection.RemoteEndPoint), _limits.SendQueueBytes, _onSendQueueExceeded);
            metrics.Opened();
            if (logger.IsEnabled(LogLevel.Information) && churn.ShouldLog(ConnectionChurn.Event.Opened))
            {
                LogConnected(session.Id, session.RemoteEndPoint, session.LocalEndPoint);
            }
            registry.Connect(session);

            // Kestrel asks open connections to close when it stops; a stop that began before this
            // connection registered is caught by IsStopping.
            using var closeRequested = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?
                .ConnectionClosedRequested.Register(static state => ((ChatSession)state!).Close(ServerLines.ShuttingDown, "shutdown"), session);
            session.Greet();
            if (shutdown.IsStopping)
            {
                session.Close(ServerLines.ShuttingDown, "shutdown");
            }

            string reason;
            try
            {
                reason = await ReadLoopAsync(session, connection.Transport.Input).ConfigureAwait(false);
            }
            catch (ConnectionResetException)
            {
                reason = "reset";
            }
            catch (Exception ex) when (PeerGone.Is(ex))
            {
                reason = "aborted";
            }
            catch (Exception ex)
            {
                // A bug or a failing dependency (the backplane, the disk): this connection ends, with a line that
                // says so, and everything below still runs, so it is counted and forgotten like any other.
                LogFailed(ex, session.Id, session.Nickname);
                session.Close(ServerLines.InternalError, "error");
                reason = "error";
            }
            finally
            {
                session.Close(null, null);
                // The address's slot is free once the client has left the chat, before its leave notice goes
                // out: whoever sees "left" may reconnect at once, even while the last bytes are still flushing.
                slot?.Release();
                registry.Disconnect(session);
            }

            try
            {
                var writer = session.FinishOutputAsync();
                try
                {
                    // WaitAsync drops its timer as soon as the writer is done (a storm of closes leaves no timers behind).
                    await writer.WaitAsync(ChatShutdown.CloseFlushTimeout).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    reason += ", last lines not read in time";
                    session.Abort("flush timeout");
                    await writer.ConfigureAwait(false);
                }
            }
            finally
            {
                if (session.OutputFault is { } fault)
                {
                    LogFailed(fault, session.Id, session.Nickname);
                }
                metrics.Closed(session, session.CloseReason ?? reason);
                if (logger.IsEnabled(LogLevel.Information) && churn.ShouldLog(ConnectionChurn.Event.Closed))
                {
                    LogDisconnected(session.Id, session.RemoteEndPoint, session.Nickname, reason, session.BytesIn, session.BytesOut);
                }
            }
        }
        finally
        {
            slot?.Release();
        }
    }

    /// <summary>The read loop. Returns why it ended: "eof" (the peer closed) or the reason the server closed it.</summary>
    /// <remarks>
    /// One async method for the connection's whole read side: an idle client is suspended here, and every
    /// async method it is suspended in is a box of 150–300 bytes per client (docs/benchmarks.md, the census).
    /// </remarks>
    private async Task<string> ReadLoopAsync(ChatSession session, PipeReader input)
    {
        // Until the client has a nickname; then disposed and dropped, so a named idle client keeps no timer.
        NicknameTimer? nicknameTimer = new(session, NicknamePromptDelay, _limits.NicknameTimeoutSeconds);
        var flood = FloodControl.Create(_limits.MessagesPerSecond, _limits.Burst, Stopwatch.GetTimestamp());
        long unconsumed = 0;
        try
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await input.ReadAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (PeerGone.Is(ex) && ex is not OperationCanceledException)
                {
                    // The usual way a connection dies. Returned, not rethrown through ServeAsync's await: a
                    // thousand clients dropping at once (a network blip) cost one exception each, not two.
                    return ex is ConnectionResetException ? "reset" : "aborted";
                }
                var buffer = result.Buffer;
                session.CountBytesIn(buffer.Length - unconsumed);
                session.Tap?.Passed(fromClient: true, buffer.Slice(unconsumed));
                if (session.IsClosing)
                {
                    input.AdvanceTo(buffer.End);
                    return session.CloseReason ?? "closed";
                }
                session.UseCodec(session.Codec.Next(result, named: session.Nickname is not null));
                var codec = session.Codec;

                var floodDelay = TimeSpan.Zero;
                var scope = FanOutScope.Rent(session); // this read's fan-out; nothing of it is kept between reads
                try
                {
                    while (true)
                    {
                        var unread = buffer;
                        var found = codec.TryReadLine(ref buffer, out var line);
                        if (found == LineResult.NeedMoreData)
                        {
                            break;
                        }
                        if (found == LineResult.NoLineEnd)
                        {
                            session.Close(ServerLines.NoLineEnd(codec.NoLineEndBytes), "no line end");
                            break;
                        }
                        if (found == LineResult.Line && flood is not null
                            && (floodDelay = flood.TryTake(Stopwatch.GetTimestamp())) > TimeSpan.Zero)
                        {
                            buffer = unread; // over the rate: the line waits in the pipe for its token
                            break;
                        }
                        session.CountMessageIn();
                        if (found == LineResult.TooLong)
                        {
                            session.Send(ServerLines.LineTooLong(codec.MaxLineBytes));
                            continue;
                        }
                        var decoded = ChatText.TryDecode(line, out var text);
                        if (decoded == TextResult.InvalidUtf8 && TelnetCommands.TryStrip(line, out var withoutTelnet))
                        {
                            decoded = ChatText.TryDecode(withoutTelnet, out text);
                        }
                        switch (decoded)
                        {
                            case not TextResult.Ok and var problem:
                                session.Send(ServerLines.TextProblemLine(problem));
                                break;
                            default:
                                // A codec's own forms (the lesson client's "alice: " prefix, a first message that
                                // names it) become plain lines here; anything else passes as it is.
                                var unnamed = session.Nickname is null;
                                var first = codec.ToLine(session.Nickname, text, out var then);
                                await ExecuteAsync(session, first, scope).ConfigureAwait(false);
                                if (unnamed && session.Nickname is not null)
                                {
                                    codec.Named(session.Nickname);
                                    nicknameTimer?.Dispose();
                                    nicknameTimer = null;
                                }
                                if (then is not null && !session.IsClosing)
                                {
                                    await ExecuteAsync(session, then, scope).ConfigureAwait(false);
                                }
                                break;
                        }
                        if (session.IsClosing)
                        {
                            input.AdvanceTo(buffer.End);
                            return session.CloseReason ?? "closed";
                        }
                    }
                }
                finally
                {
                    scope.Return(); // this read's messages to their rooms: one copy and one flush per recipient
                }

                if (floodDelay > TimeSpan.Zero)
                {
                    // Consume what was processed but examine nothing, so the next read returns at once with
                    // the waiting lines plus whatever came meanwhile: that total is the client's backlog.
                    input.AdvanceTo(buffer.Start);
                    unconsumed = buffer.Length;
                    if (buffer.Length > ChatLimitsOptions.FloodBacklogBytes)
                    {
                        session.Close(ServerLines.Flooding(ChatLimitsOptions.FloodBacklogBytes, _limits.MessagesPerSecond), "flood");
                        continue;
                    }
                    metrics.FloodDelayed();
                    await Task.WhenAny(Task.Delay(floodDelay), session.Closed).ConfigureAwait(false);
                    continue;
                }

                codec.AfterRead(buffer, named: session.Nickname is not null);
                input.AdvanceTo(buffer.Start, buffer.End);
                unconsumed = buffer.Length;
                if (result.IsCompleted)
                {
                    return "eof";
                }
            }
        }
        finally
        {
            nicknameTimer?.Dispose();
            session.Codec.Dispose();
        }
    }

    // Completes synchronously (no allocation, no hop) unless another instance was asked; then what this
    // read fanned out so far goes out before the wait.
    private ValueTask ExecuteAsync(ChatSession session, string line, FanOutScope scope)
    {
        var command = commands.ExecuteAsync(session, line, scope);
        if (!command.IsCompletedSuccessfully)
        {
            scope.FlushAll();
        }
        return command;
    }

    private bool IsOperatorByAddress(EndPoint? remote) =>
        _options.LoopbackIsOperator && remote is IPEndPoint ip
        && IPAddress.IsLoopback(ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address);

    [LoggerMessage(LogLevel.Information, "Client {ConnectionId} connected from {RemoteEndPoint} to {LocalEndPoint}")]
    private partial void LogConnected(string connectionId, IPEndPoint? remoteEndPoint, IPEndPoint? localEndPoint);

    [LoggerMessage(LogLevel.Information, "Client {ConnectionId} ({Nickname}) from {RemoteEndPoint} disconnected: {Reason}; {BytesIn} bytes in, {BytesOut} bytes out")]
    private partial void LogDisconnected(string connectionId, IPEndPoint? remoteEndPoint, string? nickname, string reason, long bytesIn, long bytesOut);

    [LoggerMessage(LogLevel.Error, "Client {ConnectionId} ({Nickname}): the connection failed and was closed; the others go on")]
    private partial void LogFailed(Exception exception, string connectionId, string? nickname);

    [LoggerMessage(LogLevel.Warning, "Client {ConnectionId} ({Nickname}) disconnected: send queue exceeded ({QueuedBytes} bytes waiting)")]
    private partial void LogSendQueueExceeded(string connectionId, string? nickname, long queuedBytes);
}
