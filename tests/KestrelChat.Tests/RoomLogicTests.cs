using System.IO.Pipelines;
using System.Text;
using KestrelChat.Chat;
using KestrelChat.Codecs;
using KestrelChat.Hosting;
using KestrelChat.Protocol;
using KestrelChat.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;

namespace KestrelChat.Tests;

/// <summary>The registry, rooms and the server's notices without a socket or a server: sessions over in-memory pipes.</summary>
public sealed class RoomLogicTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_move_is_announced_in_both_rooms_and_the_last_one_out_closes_a_room_but_never_the_default()
    {
        using var registry = TestRegistry.Create();
        var (alice, aliceOutput) = Member(registry, "alice");
        var (bob, bobOutput) = Member(registry, "bob");

        Assert.Equal(MoveResult.Moved, registry.TryMove(bob, "#dev"));
        Assert.Equal(MoveResult.AlreadyThere, registry.TryMove(bob, "#Dev"));

        Assert.Equal("#dev", bob.Room!.Name);
        Assert.Equal(["#lobby", "#dev"], registry.Rooms.Select(r => r.Name));
        Assert.Contains("* bob left for #dev.", await PipeLines.ReadLinesAsync(aliceOutput, "* bob left for #dev.", Deadline));
        Assert.Contains("* You are in #dev now: 1 here (you included).",
            await PipeLines.ReadLinesAsync(bobOutput, "* You are in #dev now: 1 here (you included).", Deadline));

        var dev = bob.Room;
        registry.Disconnect(bob);
        Assert.True(dev.IsClosed);
        Assert.Null(registry.FindRoom("#dev"));
        registry.Disconnect(alice);
        Assert.Same(registry.DefaultRoom, registry.FindRoom("#LOBBY"));
    }

    [Fact]
    public async Task What_a_read_says_before_a_move_goes_to_the_room_it_was_said_in()
    {
        using var registry = TestRegistry.Create();
        var (alice, _) = Member(registry, "alice");
        var (bob, bobOutput) = Member(registry, "bob");
        var (carol, carolOutput) = Member(registry, "carol");
        Assert.Equal(MoveResult.Moved, registry.TryMove(carol, "#dev"));

        // One read of alice: a line, a move, a line: the first is the lobby's, the second #dev's.
        var scope = FanOutScope.Rent(alice);
        registry.DefaultRoom.Publish(new ChatMessage(registry.DefaultRoom, "alice", MessageKind.Text, "bye lobby"), scope);
        scope.SendPending(); // what the commands do before a command acts
        Assert.Equal(MoveResult.Moved, registry.TryMove(alice, "#dev"));
        alice.Room!.Publish(new ChatMessage(alice.Room, "alice", MessageKind.Action, "arrives"), scope);
        scope.Return();

        var bobSaw = await PipeLines.ReadLinesAsync(bobOutput, "* alice left for #dev.", Deadline);
        Assert.Equal(["alice: bye lobby", "* alice left for #dev."], bobSaw[^2..]);
        var carolSaw = await PipeLines.ReadLinesAsync(carolOutput, "* alice arrives", Deadline);
        Assert.Equal(["* alice joined #dev.", "* alice arrives"], carolSaw[^2..]);
    }

    [Fact]
    public void A_message_published_in_another_room_than_its_own_is_a_bug_and_says_so()
    {
        using var registry = TestRegistry.Create();
        var (alice, _) = Member(registry, "alice");
        registry.TryMove(alice, "#dev");
        var scope = FanOutScope.Rent(alice);

        Assert.Throws<ArgumentException>(() => registry.DefaultRoom.Publish(new ChatMessage(alice.Room!, "alice", MessageKind.Text, "x"), scope));
        scope.Return();
    }

    [Fact]
    public void Every_notice_the_server_sends_about_a_nickname_is_one_no_action_can_imitate()
    {
        // Each notice whose first word could be a nickname: "* NICK rest" must be refused as "/me rest" from NICK.
        string[] names = ["alice", "bob", "carol", "dave"];
        var notices = new List<byte[]>
        {
            ServerLines.Joined("alice"), ServerLines.Left("alice"), ServerLines.Joined("alice", "#dev"), ServerLines.Left("alice", "#dev"),
            ServerLines.LeftFor("alice", "#dev"), ServerLines.Renamed("alice", "bob"), ServerLines.TopicSet("alice", "#dev", "x"),
            ServerLines.JoinedMany(names[..2]), ServerLines.JoinedMany(names[..3]), ServerLines.JoinedMany(names), ServerLines.LeftMany(names, "#dev"),
            ServerLines.Welcome("alice", 3), ServerLines.WelcomeTo("alice", "#dev", 2), ServerLines.NicknamePrompt, ServerLines.Who(names),
            ServerLines.WhoIn("#dev", names), ServerLines.ShuttingDown, ServerLines.Stopping, ServerLines.OperGranted, ServerLines.OperAlready,
            ServerLines.NicknameRetry, ServerLines.Moved("#dev", 2, null), ServerLines.Moved("#dev", 2, "t"), ServerLines.Topic("#dev", "t"),
            ServerLines.Rooms([("#lobby", 2, null)]), ServerLines.Goodbye, ServerLines.Announcement("x"),
        };
        var checkedNotices = 0;
        foreach (var line in notices.SelectMany(n => Encoding.UTF8.GetString(n).Split('\n', StringSplitOptions.RemoveEmptyEntries)))
        {
            Assert.StartsWith("* ", line, StringComparison.Ordinal);
            var rest = line[2..];
            var space = rest.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || NicknameRules.Validate(rest[..space], out var nickname) != NicknameProblem.None || nickname != rest[..space])
            {
                continue; // its first word cannot be anyone's nickname ("Welcome,", "Announcement:", "#dev")
            }
            Assert.True(ServerLines.ActionReadsLikeNotice(nickname, rest[(space + 1)..]), $"'{nickname}' could send \"/me {rest[(space + 1)..]}\"");
            checkedNotices++;
        }
        Assert.True(checkedNotices >= 20, $"{checkedNotices} notices checked");
        Assert.False(ServerLines.ActionReadsLikeNotice("alice", "waves"));
        Assert.False(ServerLines.ActionReadsLikeNotice("Server", "room is cold"));
    }

    /// <summary>A named member on an in-memory connection; its output pipe is what the client would read.</summary>
    private static (ChatSession Session, PipeReader Output) Member(ChatRegistry registry, string nickname)
    {
        var output = new Pipe();
        var input = new Pipe();
        var connection = new DefaultConnectionContext(nickname, new DuplexPipe(input.Reader, output.Writer), new DuplexPipe(output.Reader, input.Writer));
        var session = new ChatSession(connection, new LineCodec(1024), isOperator: false, new ChatLimitsOptions().SendQueueBytes, onOverflow: _ => { });
        registry.Connect(session);
        Assert.True(registry.TryJoin(session, nickname));
        return (session, output.Reader);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
