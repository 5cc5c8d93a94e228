using System.Globalization;
using System.Text;

namespace KestrelChat.Protocol;

/// <summary>
/// Every line the server writes, in one place (docs/protocol.md lists them). Server lines start
/// with "* " (notice) or "! " (error); chat lines start with a nickname, and a nickname can hold
/// neither '*', '!' nor a space, so a user can never produce a line that reads as the server's.
/// Each line is encoded to UTF-8 once, LF included, and the same array goes to every recipient.
/// </summary>
internal static class ServerLines
{
    /// <summary>The first bytes of every connection: exactly "NICK", no newline (the lesson's client waits for it).</summary>
    public static readonly byte[] NickGreeting = "NICK"u8.ToArray();

    /// <summary>A lone LF: ends the "NICK" line before a notice reaches a client that has typed nothing yet.</summary>
    public static readonly byte[] LineEnd = "\n"u8.ToArray();

    /// <summary>The greeting as a line of its own (a WebSocket frame).</summary>
    public static readonly byte[] NickGreetingLine = "NICK\n"u8.ToArray();

    public static readonly byte[] NicknamePrompt = Encode("\n* ", "Welcome to KestrelChat! Please type a nickname and press Enter.");
    public static readonly byte[] NicknameRetry = Notice("Please type a nickname and press Enter.");
    public static readonly byte[] ShuttingDown = Notice("Server is shutting down. Bye!");
    public static readonly byte[] Goodbye = Notice("Bye!");
    public static readonly byte[] StopRefused = Error("Only operators can stop the server (see /oper).");
    public static readonly byte[] Stopping = Notice("Stopping the server.");
    public static readonly byte[] OperGranted = Notice("You are now an operator.");
    public static readonly byte[] OperAlready = Notice("You are an operator already.");
    public static readonly byte[] OperRefused = Error("Wrong operator password.");
    public static readonly byte[] OperDisabled = Error("Operator login is disabled on this server (Chat:OperatorPassword is not set).");
    public static readonly byte[] InvalidUtf8 = Error("Line rejected: it is not valid UTF-8. Set your terminal or client to UTF-8.");
    public static readonly byte[] ControlCharacters = Error("Line rejected: it contains control characters (escape sequences, backspace, a lone CR…).");
    public static readonly byte[] DirectionControls = Error("Line rejected: it contains a character that reorders text (a bidi control such as U+202E).");
    public static readonly byte[] InvisibleCharacters = Error("Line rejected: it contains an invisible character (zero-width space, word joiner, BOM, line separator…).");
    public static readonly byte[] TooManyMarks = Error($"Line rejected: more than {ChatText.MaxMarksPerCharacter} combining marks on one character.");
    public static readonly byte[] NicknameEmpty = Error("A nickname can't be empty.");
    public static readonly byte[] NicknameTooLong = Error($"That nickname is too long: at most {NicknameRules.MaxLength} characters.");
    public static readonly byte[] NicknameBadCharacter = Error("A nickname may contain only letters, digits, '_', '-' and '.'.");
    public static readonly byte[] NicknameInvisible = Error("A nickname can't contain invisible characters.");
    public static readonly byte[] NicknameTooManyMarks = Error($"A nickname may have at most {NicknameRules.MaxMarksPerLetter} combining marks on a letter.");
    public static readonly byte[] NicknameMixedScripts = Error("A nickname can't mix Latin, Cyrillic and Greek letters: they look alike. Use one script.");
    public static readonly byte[] NickUsage = Error("Usage: /nick NEW_NICKNAME");
    public static readonly byte[] MsgUsage = Error("Usage: /msg NICKNAME text");

    public static readonly byte[] Help = Encode(
        "* Commands:\n",
        "*   /who or кто в чате    who is in your room (only you see the answer); /who #room: another room\n",
        "*   /msg NICK text        a private message to NICK, in any room\n",
        "*   /me does something    \"* yourname does something\" to your room\n",
        "*   /rooms                the rooms, how many are in each, their topics\n",
        "*   /join #room           go to #room (made if it does not exist); /part: back to the first room\n",
        "*   /topic [text]         show or set your room's topic\n",
        "*   /history [N]          the last N lines of your room (20 unless you say; at most 200)\n",
        "*   /nick NEW             change your nickname\n",
        "*   /oper PASSWORD        become an operator\n",
        "*   /stop or стоп         stop the server (operators only)\n",
        "*   /quit                 leave the chat\n",
        "* Any other line goes to everyone else in your room as \"yourname: text\".");

    public static byte[] Notice(string text) => Encode("* ", text);

    public static byte[] Error(string text) => Encode("! ", text);

    /// <summary>"alice: text", the line the others see.</summary>
    public static byte[] Chat(string nickname, string text)
    {
        var line = new byte[ChatByteCount(nickname, text)];
        WriteChat(nickname, text, line);
        return line;
    }

    /// <summary>The length of <see cref="Chat"/>'s line, LF included.</summary>
    public static int ChatByteCount(string nickname, string text) =>
        Encoding.UTF8.GetByteCount(nickname) + ChatSeparator.Length + Encoding.UTF8.GetByteCount(text) + 1;

    /// <summary>Writes <see cref="Chat"/>'s line into <paramref name="destination"/>; returns its length.</summary>
    public static int WriteChat(string nickname, string text, Span<byte> destination)
    {
        var written = Encoding.UTF8.GetBytes(nickname, destination);
        ChatSeparator.CopyTo(destination[written..]);
        written += ChatSeparator.Length;
        written += Encoding.UTF8.GetBytes(text, destination[written..]);
        destination[written++] = (byte)'\n';
        return written;
    }

    private static ReadOnlySpan<byte> ChatSeparator => ": "u8;

    /// <summary>"alice (private): text", seen by the recipient of /msg only.</summary>
    /// <summary>After /who or /rooms while Redis does not answer: the other servers' members are as last heard.</summary>
    public static byte[] RemoteStale(TimeSpan age) => Notice(string.Create(CultureInfo.InvariantCulture,
        $"Members on other servers as last heard {age.TotalSeconds:0} s ago: the servers cannot reach each other right now."));

    /// <summary>To a room's members when lines said in it on another instance will never arrive (the instances lost touch past Chat:Redis:CatchUpSeconds).</summary>
    public static byte[] LinesMissed(string room) => Notice($"Some lines said in {room} on other servers of this chat were missed here: the servers lost touch for too long.");

    public static byte[] Private(string nickname, string text) => Encode(nickname, " (private): ", text);

    public static byte[] Welcome(string nickname, int count) => Notice(
        $"Welcome, {nickname}! In the chat now: {count} (you included). Type /help for the commands.");

    /// <summary>Where a notice says something happened: "the chat" in the default room (as before rooms existed), else the room's name.</summary>
    public const string TheChat = "the chat";

    public static byte[] Joined(string nickname, string place = TheChat) => Notice($"{nickname} joined {place}.");

    public static byte[] Left(string nickname, string place = TheChat) => Notice($"{nickname} left {place}.");

    /// <summary>Coalesced joins: "* alice, bob, carol and 310 others joined the chat." (see PresenceNotices).</summary>
    public static byte[] JoinedMany(IReadOnlyList<string> nicknames, string place = TheChat) => Notice($"{NameList(nicknames)} joined {place}.");

    public static byte[] LeftMany(IReadOnlyList<string> nicknames, string place = TheChat) => Notice($"{NameList(nicknames)} left {place}.");

    /// <summary>A leave the server decided, with why: "* alice left the chat (no datagram for 5 minutes)."</summary>
    public static byte[] LeftBecause(string nickname, string place, string why) => Notice($"{nickname} left {place} ({why}).");

    /// <summary>To the room a member leaves for another: "* alice left for #dev."</summary>
    public static byte[] LeftFor(string nickname, string room) => Notice($"{nickname} left for {room}.");

    /// <summary>To the member who moved: "* You are in #dev now: 2 here (you included)." and its topic, if it has one.</summary>
    public static byte[] Moved(string room, int count, string? topic) => topic is null
        ? Notice(string.Create(CultureInfo.InvariantCulture, $"You are in {room} now: {count} here (you included)."))
        : Encode(string.Create(CultureInfo.InvariantCulture, $"* You are in {room} now: {count} here (you included).\n* Topic: "), topic);

    /// <summary>The welcome when the first room is not the default one (never today: everyone starts in it).</summary>
    public static byte[] WelcomeTo(string nickname, string room, int count) => Notice(string.Create(CultureInfo.InvariantCulture,
        $"Welcome, {nickname}! In {room} now: {count} (you included). Type /help for the commands."));

    /// <summary>"/me waves" → "* alice waves".</summary>
    public static byte[] Action(string nickname, string text) => Encode("* ", nickname, " ", text);

    /// <summary>
    /// True when "* <paramref name="nickname"/> <paramref name="text"/>" would read as one of the notices
    /// above: a user must not be able to announce their own leave or rename ("/me left the chat."), nor,
    /// named "Server", "* Server is shutting down. Bye!". Every notice that starts with a nickname, and
    /// every one whose first word could be a nickname, is listed here; a test checks each notice above
    /// against it.
    /// </summary>
    public static bool ActionReadsLikeNotice(string nickname, string text)
    {
        foreach (var verb in NoticeVerbs)
        {
            if (text.StartsWith(verb, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        foreach (var (word, next) in FixedNoticeStarts)
        {
            if (nickname.Equals(word, StringComparison.OrdinalIgnoreCase) && text.StartsWith(next, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    // What follows the nickname in a notice about someone: joined/left (one name or a list), renamed, topic set.
    private static readonly string[] NoticeVerbs = ["joined ", "left ", "is now known as ", "set the topic ", "and ", ","];

    // Notices whose first word is a valid nickname, and what follows it.
    private static readonly (string Word, string Next)[] FixedNoticeStarts =
    [
        ("Welcome", "to "), ("In", "the chat"), ("In", "#"), ("Server", "is shutting"), ("Stopping", "the server"),
        ("You", "are "), ("Please", "type"), ("Topic", "of "), ("Rooms", "("),
    ];

    /// <summary>"/who" outside the default room, or "/who #room": "* In #dev (2): alice, bob".</summary>
    public static byte[] WhoIn(string room, IReadOnlyList<string> nicknames) =>
        Notice($"In {room} ({nicknames.Count}): {string.Join(", ", nicknames)}");

    /// <summary>"/rooms": one line per room, with its members and topic.</summary>
    public static byte[] Rooms(IReadOnlyList<(string Name, int Members, string? Topic)> rooms)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"* Rooms ({rooms.Count}):");
        foreach (var (name, members, topic) in rooms)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n*   {name} ({members})");
            if (topic is not null)
            {
                text.Append(": ").Append(topic);
            }
        }
        return Encode(text.ToString());
    }

    public static byte[] Topic(string room, string? topic) => topic is null ? Notice($"{room} has no topic.") : Notice($"Topic of {room}: {topic}");

    public static byte[] TopicSet(string nickname, string room, string topic) => Notice($"{nickname} set the topic of {room}: {topic}");

    /// <summary>Before a join's history: "* Last 20 messages in #lobby:".</summary>
    public static byte[] LastMessages(int count, string room) =>
        Notice(count == 1 ? $"Last message in {room}:" : $"Last {count} messages in {room}:");

    /// <summary>Before what a returning member missed; when it was more than is shown, says how much is not.</summary>
    public static byte[] MissedWhileAway(long said, int shown) => Notice(
        said == shown
            ? (said == 1 ? "You missed 1 message while you were away:" : $"You missed {said} messages while you were away:")
            : $"You missed {said} messages while you were away; the last {shown} of them:");

    public static readonly byte[] HistoryEnd = Notice("End of history.");

    public static readonly byte[] HistoryUsage = Error($"Usage: /history [N], N from 1 to {Hosting.ChatHistoryLimits.MaxLinesAtOnce}");

    public static readonly byte[] HistoryOff = Notice("This server keeps no history (Chat:History:Enabled is false).");

    public static byte[] NoHistory(string room) => Notice($"Nothing has been said in {room} yet.");

    /// <summary>
    /// One line of history: "[14:02] alice: hi", "[14:02] * alice waves", "[14:02] * alice set the topic: …".
    /// It starts with '[', which no nickname can hold, so no live line reads as one.
    /// </summary>
    public static byte[] HistoryLine(string stamp, string nickname, History.HistoryKind kind, string text) => kind switch
    {
        History.HistoryKind.Action => Encode("[", stamp, "] * ", nickname, " ", text),
        History.HistoryKind.Topic => Encode("[", stamp, "] * ", nickname, " set the topic: ", text),
        _ => Encode("[", stamp, "] ", nickname, ": ", text),
    };

    public static byte[] AlreadyIn(string room) => Error($"You are in {room} already.");

    public static byte[] NoSuchRoom(string room) => Error($"There is no room {room} (see /rooms).");

    public static byte[] TooManyRooms(string room, int max) => Error(string.Create(CultureInfo.InvariantCulture,
        $"Can't create {room}: the server has its maximum of {max} rooms. Join one of them (/rooms)."));

    public static byte[] TopicOperatorsOnly(string room) => Error($"Only operators can set the topic of {room}.");

    public static readonly byte[] RoomNameInvalid = Error($"A room name is '#' and 1–{RoomNames.MaxLength} letters, digits, '-' or '_', like #dev.");
    public static readonly byte[] JoinUsage = Error("Usage: /join #room");
    public static readonly byte[] MeUsage = Error("Usage: /me does something");
    public static readonly byte[] ActionLooksLikeNotice = Error("That would read like a notice from the server; say it another way.");

    public static byte[] Renamed(string oldNickname, string newNickname) => Notice($"{oldNickname} is now known as {newNickname}.");

    public static byte[] NicknameTaken(string nickname) => Error($"The nickname '{nickname}' is taken. Choose another one.");

    public static byte[] Who(IReadOnlyList<string> nicknames) =>
        Notice($"In the chat ({nicknames.Count}): {string.Join(", ", nicknames)}");

    public static byte[] NoSuchNickname(string nickname) => Error($"No one called '{nickname}' is in the chat.");

    public static byte[] UnknownCommand(string command) => Error($"Unknown command {command}. Type /help for the list.");

    public static byte[] NoLineEnd(long bytes) => Error($"Disconnected: more than {bytes} bytes without a line end (LF).");

    public static byte[] ServerFull(int limit) => Error($"The server is full ({limit} connections). Try again later.");

    public static byte[] TooManyFromAddress(int limit) =>
        Error($"Too many connections from your address (at most {limit}). Close one and try again.");

    public static byte[] NicknameTimeout(int seconds) =>
        Error($"Disconnected: no nickname within {seconds} seconds.");

    public static byte[] LineTooLong(int maxLineBytes) => Error($"Line rejected: longer than {maxLineBytes} bytes.");

    public static byte[] Flooding(int backlogBytes, double messagesPerSecond) => Error(string.Create(CultureInfo.InvariantCulture,
        $"Disconnected: flooding (more than {backlogBytes} bytes waiting; at most {messagesPerSecond} lines per second)."));

    /// <summary>The last line of a connection the server failed to serve (the cause is in the server's log).</summary>
    /// <summary>To a UDP client that has been silent: it is removed unless a datagram comes within <paramref name="left"/>.</summary>
    public static byte[] UdpIdleWarning(TimeSpan silent, TimeSpan left) => Notice(string.Create(CultureInfo.InvariantCulture,
        $"No datagram from you for {Duration(silent)}: UDP has no connection, so silence is how a client leaves. You will be removed in {Duration(left)} unless you send something (an empty line will do)."));

    /// <summary>Why a silent UDP client left, in its leave notice and its last line.</summary>
    public static string UdpIdleReason(TimeSpan silent) => $"no datagram for {Duration(silent)}";

    public static byte[] UdpIdleRemoved(TimeSpan silent) => Notice($"Removed from the chat: {UdpIdleReason(silent)}.");

    /// <summary>
    /// The answer to a datagram from an address that has not shown it receives (docs/protocol.md, "UDP"): the code
    /// to send back, in the longest form that is at most <paramref name="budget"/> bytes (3 × the datagram that
    /// asked, QUIC's bound), written into <paramref name="destination"/>; 0 when none fits. Nothing else ever goes
    /// to such an address. Written, not allocated: a flood of forged datagrams costs no garbage.
    /// </summary>
    public static int UdpProof(ReadOnlySpan<byte> code, int budget, Span<byte> destination)
    {
        foreach (var (before, after) in UdpProofForms)
        {
            var length = before.Length + code.Length + after.Length;
            if (length <= budget && length <= destination.Length)
            {
                before.CopyTo(destination);
                code.CopyTo(destination[before.Length..]);
                after.CopyTo(destination[(before.Length + code.Length)..]);
                return length;
            }
        }
        return 0;
    }

    /// <summary>The longest answer <see cref="UdpProof"/> gives, for a code of <paramref name="codeBytes"/>.</summary>
    public static int UdpProofMaxBytes(int codeBytes) => UdpProofForms.Max(f => f.Before.Length + f.After.Length) + codeBytes;

    private static readonly (byte[] Before, byte[] After)[] UdpProofForms =
    [
        ("* KestrelChat over UDP. To join, send back this code: "u8.ToArray(),
            " (it shows that you receive at your address; see \"UDP\" in docs/protocol.md).\n"u8.ToArray()),
        ("* To join, send back: "u8.ToArray(), "\n"u8.ToArray()),
        ("* Code: "u8.ToArray(), "\n"u8.ToArray()),
    ];

    private static string Duration(TimeSpan time) => time.TotalSeconds >= 120 && time.TotalSeconds % 60 == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{time.TotalMinutes:0} minutes")
        : string.Create(CultureInfo.InvariantCulture, $"{time.TotalSeconds:0} s");

    public static readonly byte[] InternalError = Error("Disconnected: something went wrong on the server (it is in the server's log). Please connect again.");

    public static readonly byte[] SendQueueExceeded = Error("Disconnected: you are not reading fast enough (send queue exceeded).");

    /// <summary>"* Announcement: text", from POST /broadcast to every connection.</summary>
    public static byte[] Announcement(string text) => Notice($"Announcement: {text}");

    /// <summary>The last line of a client an operator disconnected (DELETE /clients/{id}).</summary>
    public static byte[] Kicked(string? reason) => reason is null
        ? Error("You were disconnected by an operator.")
        : Error($"You were disconnected by an operator: {reason}");

    /// <summary>"/oper" while the address must still wait after wrong passwords.</summary>
    public static byte[] OperTooManyFailures(TimeSpan wait) =>
        Error(string.Create(CultureInfo.InvariantCulture, $"Too many wrong operator passwords: try again in {Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds))} seconds."));

    public static byte[] NicknameProblemLine(NicknameProblem problem) => problem switch
    {
        NicknameProblem.Empty => NicknameEmpty,
        NicknameProblem.TooLong => NicknameTooLong,
        NicknameProblem.Invisible => NicknameInvisible,
        NicknameProblem.TooManyMarks => NicknameTooManyMarks,
        NicknameProblem.MixedScripts => NicknameMixedScripts,
        _ => NicknameBadCharacter,
    };

    /// <summary>The error line for a line <see cref="ChatText"/> refused.</summary>
    public static byte[] TextProblemLine(TextResult problem) => problem switch
    {
        TextResult.InvalidUtf8 => InvalidUtf8,
        TextResult.DirectionControl => DirectionControls,
        TextResult.Invisible => InvisibleCharacters,
        TextResult.TooManyMarks => TooManyMarks,
        _ => ControlCharacters,
    };

    /// <summary>"alice", "alice and bob", "alice, bob and carol", "alice, bob, carol and 7 others".</summary>
    private static string NameList(IReadOnlyList<string> names) => names.Count switch
    {
        1 => names[0],
        2 => $"{names[0]} and {names[1]}",
        3 => $"{names[0]}, {names[1]} and {names[2]}",
        _ => string.Create(CultureInfo.InvariantCulture, $"{names[0]}, {names[1]}, {names[2]} and {names.Count - 3} others"),
    };

    /// <summary>Encodes the parts and a final LF into one exactly-sized array.</summary>
    private static byte[] Encode(params ReadOnlySpan<string> parts)
    {
        var length = 1;
        foreach (var part in parts)
        {
            length += Encoding.UTF8.GetByteCount(part);
        }
        var bytes = new byte[length];
        var written = 0;
        foreach (var part in parts)
        {
            written += Encoding.UTF8.GetBytes(part, bytes.AsSpan(written));
        }
        bytes[written] = (byte)'\n';
        return bytes;
    }
}
