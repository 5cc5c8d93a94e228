using System.Net;
using KestrelChat.Cluster;
using KestrelChat.History;
using KestrelChat.Hosting;
using KestrelChat.Protocol;
using Microsoft.Extensions.Options;

namespace KestrelChat.Chat;

/// <summary>
/// What a decoded line means. The first line of a session is its nickname; after that a line is
/// a command (/who, кто в чате, /msg, /me, /nick, /join, /part, /rooms, /topic, /history, /oper, /stop, стоп,
/// /help, /quit) or text for the client's room. Replies to commands go to the asker only.
/// Everything said in a room goes through <see cref="Room.Publish"/> in the read's <see cref="FanOutScope"/>.
/// </summary>
internal sealed partial class ChatCommands(
    ChatRegistry registry,
    ChatShutdown shutdown,
    IChatBackplane backplane,
    OperatorAttempts operatorAttempts,
    IOptions<ChatOptions> options,
    IOptions<ChatLimitsOptions> limits,
    ChatHistory history,
    ILogger<ChatCommands> logger)
{
    private readonly ChatOptions _options = options.Value;
    private readonly ChatLimitsOptions _limits = limits.Value;

    /// <summary>Runs one line. Completes synchronously except when another instance must be asked (nicknames, /msg, кто в чате in a cluster).</summary>
    public ValueTask ExecuteAsync(ChatSession session, string line, FanOutScope scope)
    {
        if (session.Nickname is null)
        {
            return ChooseNicknameAsync(session, line);
        }
        var text = line.Trim();
        if (text.Length == 0)
        {
            return ValueTask.CompletedTask; // an empty Enter is not a message
        }
        var who = IsWho(text);
        var stop = !who && IsStop(text);
        if (!who && !stop && text[0] != '/')
        {
            Say(session, MessageKind.Text, line, scope);
            return ValueTask.CompletedTask;
        }

        scope.SendPending(); // what the client said before a command reaches the others before the command acts
        if (who)
        {
            return WhoAsync(session, roomName: null);
        }
        if (stop)
        {
            Stop(session);
            return ValueTask.CompletedTask;
        }

        var space = text.IndexOf(' ', StringComparison.Ordinal);
        var command = space < 0 ? text : text[..space];
        var argument = space < 0 ? string.Empty : text[(space + 1)..].Trim();
        switch (command.ToLowerInvariant())
        {
            case "/who":
                return WhoAsync(session, argument);
            case "/msg":
                return PrivateMessageAsync(session, argument);
            case "/me":
                Act(session, argument, scope);
                break;
            case "/join":
                Join(session, argument);
                break;
            case "/part":
                Join(session, registry.DefaultRoom.Name);
                break;
            case "/rooms":
                return RoomsAsync(session);
            case "/topic":
                Topic(session, argument);
                break;
            case "/history":
                History(session, argument);
                break;
            case "/nick":
                return RenameAsync(session, argument);
            case "/oper":
                Oper(session, argument);
                break;
            case "/help":
                session.Send(ServerLines.Help);
                break;
            case "/quit":
                session.Close(ServerLines.Goodbye, "quit");
                break;
            default:
                session.Send(ServerLines.UnknownCommand(command));
                break;
        }
        return ValueTask.CompletedTask;
    }

    // "кто в чате" in any case, with or without a question mark; "/who" too.
    private static bool IsWho(string text) =>
        text.TrimEnd('?', ' ').Equals("кто в чате", StringComparison.OrdinalIgnoreCase)
        || text.Equals("/who", StringComparison.OrdinalIgnoreCase);

    private static bool IsStop(string text) =>
        text.TrimEnd('!', ' ').Equals("стоп", StringComparison.OrdinalIgnoreCase)
        || text.Equals("/stop", StringComparison.OrdinalIgnoreCase);

    private async ValueTask ChooseNicknameAsync(ChatSession session, string line)
    {
        var problem = NicknameRules.Validate(line, out var nickname);
        if (problem != NicknameProblem.None)
        {
            RefuseNickname(session, ServerLines.NicknameProblemLine(problem));
            return;
        }
        // The cluster-wide claim first (Redis SET NX; always granted on a single instance), then the room.
        if (!await backplane.TryClaimNicknameAsync(session, nickname, session.Closing).ConfigureAwait(false))
        {
            RefuseNickname(session, ServerLines.NicknameTaken(nickname));
            return;
        }
        if (!registry.TryJoin(session, nickname))
        {
            backplane.ReleaseNickname(session, nickname);
            RefuseNickname(session, ServerLines.NicknameTaken(nickname));
            return;
        }
        LogJoined(session.Id, nickname, session.RemoteEndPoint?.ToString(), session.IsOperator);
    }

    private static void RefuseNickname(ChatSession session, byte[] problem)
    {
        if (!session.Codec.AsksAgainForNickname)
        {
            // The lesson client sends its nickname only in answer to "NICK" and would send the same one
            // again: tell it why and close, so its user can start it again with another name.
            session.Close(problem, "nickname refused");
            return;
        }
        session.Send(problem);
        session.Send(ServerLines.NicknameRetry);
    }

    private void Say(ChatSession session, MessageKind kind, string text, FanOutScope scope)
    {
        if (_options.LogMessageText)
        {
            LogMessageText(session.Nickname!, text);
        }
        var room = session.Room!;
        room.Publish(new ChatMessage(room, session.Nickname!, kind, text), scope);
    }

    private void Act(ChatSession session, string action, FanOutScope scope)
    {
        if (action.Length == 0)
        {
            session.Send(ServerLines.MeUsage);
            return;
        }
        if (ServerLines.ActionReadsLikeNotice(session.Nickname!, action))
        {
            session.Send(ServerLines.ActionLooksLikeNotice);
            return;
        }
        Say(session, MessageKind.Action, action, scope);
    }

    private void Join(ChatSession session, string argument)
    {
        if (argument.Length == 0)
        {
            session.Send(ServerLines.JoinUsage);
            return;
        }
        if (!RoomNames.TryValidate(argument, out var name))
        {
            session.Send(ServerLines.RoomNameInvalid);
            return;
        }
        switch (registry.TryMove(session, name))
        {
            case MoveResult.AlreadyThere:
                session.Send(ServerLines.AlreadyIn(session.Room!.Name));
                break;
            case MoveResult.TooManyRooms:
                session.Send(ServerLines.TooManyRooms(name, _limits.MaxRooms));
                break;
            default:
                LogMoved(session.Id, session.Nickname!, session.Room!.Name);
                break;
        }
    }

    private void Topic(ChatSession session, string topic)
    {
        var room = session.Room!;
        if (topic.Length == 0)
        {
            session.Send(ServerLines.Topic(room.Name, room.Topic));
            return;
        }
        if (room.IsDefault && !session.IsOperator)
        {
            session.Send(ServerLines.TopicOperatorsOnly(room.Name));
            return;
        }
        registry.SetTopic(session, topic);
    }

    private void History(ChatSession session, string argument)
    {
        var count = 20;
        if (argument.Length > 0 && (!int.TryParse(argument, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out count)
            || count is < 1 or > ChatHistoryLimits.MaxLinesAtOnce))
        {
            session.Send(ServerLines.HistoryUsage);
            return;
        }
        if (!history.Enabled)
        {
            session.Send(ServerLines.HistoryOff);
            return;
        }
        var room = session.Room!;
        if (history.Recent(room, count) is { } lines)
        {
            session.Send(lines.Bytes, lines.Lines);
            return;
        }
        session.Send(ServerLines.NoHistory(room.Name));
    }

    private async ValueTask RoomsAsync(ChatSession session)
    {
        var rooms = registry.Rooms.Select(r => (r.Name, Members: r.MemberCount, r.Topic)).ToList();
        if (backplane.IsClustered)
        {
            // Rooms are cluster-wide: the members of the other instances count too, as their events told.
            var remote = await backplane.GetRemoteClientsAsync(session.Closing).ConfigureAwait(false);
            foreach (var group in remote.Where(c => c.Nickname is not null && c.Room is not null).GroupBy(c => RoomNames.Key(c.Room!)))
            {
                var at = rooms.FindIndex(r => RoomNames.Key(r.Name) == group.Key);
                if (at >= 0)
                {
                    rooms[at] = rooms[at] with { Members = rooms[at].Members + group.Count() };
                }
                else
                {
                    rooms.Add((group.First().Room!, group.Count(), null));
                }
            }
        }
        session.Send(ServerLines.Rooms(rooms));
        SayIfStale(session);
    }

    /// <summary>Who is in the client's room, or in <paramref name="roomName"/>; the default room answers as before rooms existed.</summary>
    private async ValueTask WhoAsync(ChatSession session, string? roomName)
    {
        Room? room;
        string name;
        if (string.IsNullOrEmpty(roomName))
        {
            room = session.Room!;
            name = room.Name;
        }
        else if (!RoomNames.TryValidate(roomName, out name))
        {
            session.Send(ServerLines.RoomNameInvalid);
            return;
        }
        else
        {
            room = registry.FindRoom(name);
            name = room?.Name ?? name;
        }
        var members = room?.Members.ToArray() ?? [];
        string[] nicknames;
        if (!backplane.IsClustered)
        {
            nicknames = new string[members.Length];
            for (var i = 0; i < nicknames.Length; i++)
            {
                nicknames[i] = members[i].Nickname!;
            }
        }
        else
        {
            // The whole cluster, everyone in the order they connected; other instances as their events told.
            var key = RoomNames.Key(name);
            var remote = await backplane.GetRemoteClientsAsync(session.Closing).ConfigureAwait(false);
            nicknames = members.Select(m => (m.Nickname!, m.ConnectedAt))
                .Concat(remote.Where(c => c.Nickname is not null && RoomNames.Key(c.Room ?? registry.DefaultRoom.Name) == key)
                    .Select(c => (c.Nickname!, c.ConnectedAt)))
                .OrderBy(m => m.ConnectedAt)
                .Select(m => m.Item1)
                .ToArray();
        }
        if (room is null && nicknames.Length == 0)
        {
            session.Send(ServerLines.NoSuchRoom(name));
            return;
        }
        var asked = string.IsNullOrEmpty(roomName);
        session.Send(asked && room!.IsDefault ? ServerLines.Who(nicknames) : ServerLines.WhoIn(name, nicknames));
        SayIfStale(session);
    }

    /// <summary>A list with other instances' members, answered from what is known while Redis does not answer, says so.</summary>
    private void SayIfStale(ChatSession session)
    {
        if (backplane.RemoteStaleFor is { } stale)
        {
            session.Send(ServerLines.RemoteStale(stale));
        }
    }

    private async ValueTask PrivateMessageAsync(ChatSession session, string argument)
    {
        var space = argument.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || argument[(space + 1)..].Trim().Length == 0)
        {
            session.Send(ServerLines.MsgUsage);
            return;
        }
        var target = argument[..space];
        var text = argument[(space + 1)..].Trim();
        var line = ServerLines.Private(session.Nickname!, text);
        if (registry.FindByNickname(target) is { } recipient)
        {
            recipient.Send(line);
            return;
        }
        if (await backplane.FindNicknameAsync(target, session.Closing).ConfigureAwait(false) is { } owner)
        {
            backplane.Publish(new ClusterMessage(ClusterMessageKind.ToConnection, registry.InstanceName, owner.ConnectionId, line), owner.Instance);
            return;
        }
        session.Send(ServerLines.NoSuchNickname(target));
    }

    private async ValueTask RenameAsync(ChatSession session, string argument)
    {
        if (argument.Length == 0)
        {
            session.Send(ServerLines.NickUsage);
            return;
        }
        var problem = NicknameRules.Validate(argument, out var nickname);
        if (problem != NicknameProblem.None)
        {
            session.Send(ServerLines.NicknameProblemLine(problem));
            return;
        }
        var changesName = !NicknameRules.Comparer.Equals(nickname, session.Nickname);
        if (changesName && !await backplane.TryClaimNicknameAsync(session, nickname, session.Closing).ConfigureAwait(false))
        {
            session.Send(ServerLines.NicknameTaken(nickname));
            return;
        }
        if (!registry.TryRename(session, nickname, out var oldNickname))
        {
            if (changesName)
            {
                backplane.ReleaseNickname(session, nickname);
            }
            session.Send(ServerLines.NicknameTaken(nickname));
            return;
        }
        if (changesName)
        {
            backplane.ReleaseNickname(session, oldNickname);
        }
        LogRenamed(session.Id, oldNickname, nickname);
    }

    private void Oper(ChatSession session, string password)
    {
        if (session.IsOperator)
        {
            session.Send(ServerLines.OperAlready);
            return;
        }
        if (!_options.HasOperatorPassword)
        {
            session.Send(ServerLines.OperDisabled);
            return;
        }
        var address = session.RemoteEndPoint?.Address is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip) : IPAddress.None;
        if (operatorAttempts.WaitFor(address) is var wait && wait > TimeSpan.Zero)
        {
            session.Send(ServerLines.OperTooManyFailures(wait));
            return;
        }
        if (!Secrets.Equal(password, _options.OperatorPassword!))
        {
            var (count, delay) = operatorAttempts.Failed(address);
            LogOperRefused(session.Id, session.Nickname!, session.RemoteEndPoint?.ToString(), count, delay.TotalSeconds);
            session.Send(ServerLines.OperRefused);
            return;
        }
        operatorAttempts.Succeeded(address);
        session.IsOperator = true;
        LogOperGranted(session.Id, session.Nickname!, session.RemoteEndPoint?.ToString());
        session.Send(ServerLines.OperGranted);
    }

    private void Stop(ChatSession session)
    {
        if (!session.IsOperator)
        {
            LogStopRefused(session.Id, session.Nickname!);
            session.Send(ServerLines.StopRefused);
            return;
        }
        session.Send(ServerLines.Stopping);
        shutdown.Stop($"chat operator {session.Nickname} ({session.RemoteEndPoint})");
    }

    [LoggerMessage(LogLevel.Information, "Client {ConnectionId} from {RemoteEndPoint} joined as {Nickname} (operator: {IsOperator})")]
    private partial void LogJoined(string connectionId, string nickname, string? remoteEndPoint, bool isOperator);

    [LoggerMessage(LogLevel.Information, "Client {ConnectionId} renamed {OldNickname} → {Nickname}")]
    private partial void LogRenamed(string connectionId, string oldNickname, string nickname);

    [LoggerMessage(LogLevel.Information, "Client {ConnectionId} ({Nickname}) moved to {Room}")]
    private partial void LogMoved(string connectionId, string nickname, string room);

    [LoggerMessage(LogLevel.Information, "{Nickname}: {Text}")]
    private partial void LogMessageText(string nickname, string text);

    [LoggerMessage(LogLevel.Warning, "Client {ConnectionId} ({Nickname}, {RemoteEndPoint}) gave a wrong operator password ({Failures} in a row from that address; its next try in {DelaySeconds} s)")]
    private partial void LogOperRefused(string connectionId, string nickname, string? remoteEndPoint, int failures, double delaySeconds);

    [LoggerMessage(LogLevel.Warning, "Client {ConnectionId} ({Nickname}, {RemoteEndPoint}) is now an operator")]
    private partial void LogOperGranted(string connectionId, string nickname, string? remoteEndPoint);

    [LoggerMessage(LogLevel.Warning, "Client {ConnectionId} ({Nickname}) asked to stop the server but is not an operator")]
    private partial void LogStopRefused(string connectionId, string nickname);
}
