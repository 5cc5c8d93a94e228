using System.IO.Pipelines;
using KestrelChat.Chat;
using KestrelChat.Hosting;
using Microsoft.AspNetCore.Connections;

namespace KestrelChat.Tests;

/// <summary>The lesson client's own forms turned into plain lines, without a socket.</summary>
public sealed class LessonClientLinesTests
{
    [Fact]
    public void A_first_message_that_names_an_unframed_client_is_two_lines_the_name_and_the_message()
    {
        var session = Session(unframed: true);

        Assert.Equal("alice", LessonClientLines.ToLines(session, "alice: hello", out var then));
        Assert.Equal("hello", then);
        Assert.Equal("alice", LessonClientLines.ToLines(session, "alice", out then)); // a plain name stays one line
        Assert.Null(then);
    }

    [Fact]
    public void A_client_that_speaks_in_lines_gets_its_lines_untouched()
    {
        var session = Session(unframed: false);

        Assert.Equal("alice: hello", LessonClientLines.ToLines(session, "alice: hello", out var then)); // refused as a name, as typed
        Assert.Null(then);
    }

    [Theory]
    [InlineData("alice: hi", "hi")]
    [InlineData("alice :hi", "hi")]
    [InlineData("alice : hi", "hi")]
    [InlineData("ALICE: /who", "/who")]
    [InlineData("bob: I am bob", "bob: I am bob")] // only its own name: nobody can pose as bob
    [InlineData("alice: alice: twice", "alice: twice")] // removed once
    public void Once_named_an_unframed_clients_own_prefix_is_removed_in_every_spacing(string message, string line)
    {
        var session = Session(unframed: true);
        session.Nickname = "alice";
        LessonClientLines.Named(session);
        session.Nickname = "alicia"; // a /nick later: the client still writes the name it started with

        Assert.Equal(line, LessonClientLines.ToLines(session, message, out var then));
        Assert.Null(then);
    }

    private static ChatSession Session(bool unframed)
    {
        var output = new Pipe();
        var input = new Pipe();
        var connection = new DefaultConnectionContext("c", new DuplexPipe(input.Reader, output.Writer), new DuplexPipe(output.Reader, input.Writer));
        return new ChatSession(connection, isOperator: false, new ChatLimitsOptions().SendQueueBytes, onOverflow: _ => { }) { Unframed = unframed };
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
