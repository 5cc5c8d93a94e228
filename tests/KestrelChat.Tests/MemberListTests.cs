using System.IO.Pipelines;
using KestrelChat.Chat;
using KestrelChat.Codecs;
using Microsoft.AspNetCore.Connections;

namespace KestrelChat.Tests;

/// <summary>The room's member list (Chat/MemberList.cs): join order, churn, and walks that run during changes.</summary>
public sealed class MemberListTests
{
    [Fact]
    public void After_heavy_churn_the_members_are_exactly_those_left_in_the_order_they_joined()
    {
        var list = new MemberList();
        var sessions = Enumerable.Range(0, 1000).Select(NewSession).ToArray();
        foreach (var session in sessions)
        {
            list.Add(session);
        }
        // Nine of every ten leave (compacting the list several times), then newcomers join.
        foreach (var session in sessions.Where((_, i) => i % 10 != 0))
        {
            list.Remove(session);
        }
        var newcomers = Enumerable.Range(1000, 50).Select(NewSession).ToArray();
        foreach (var session in newcomers)
        {
            list.Add(session);
        }

        var expected = sessions.Where((_, i) => i % 10 == 0).Concat(newcomers).Select(s => s.Id);
        Assert.Equal(expected, list.Current.ToArray().Select(s => s.Id));
        Assert.Equal(150, list.Current.Count);
    }

    [Fact]
    public void A_walk_over_a_snapshot_sees_no_one_twice_and_no_one_who_joined_after_it()
    {
        var list = new MemberList();
        var first = Enumerable.Range(0, 20).Select(NewSession).ToArray();
        foreach (var session in first)
        {
            list.Add(session);
        }
        var snapshot = list.Current;

        // Changes while the walk is under way: leaves (with compaction) and joins.
        foreach (var session in first.Take(15))
        {
            list.Remove(session);
        }
        for (var i = 20; i < 100; i++)
        {
            list.Add(NewSession(i));
        }

        var walked = new List<string>();
        foreach (var member in snapshot.Slots)
        {
            if (member is not null)
            {
                walked.Add(member.Id);
            }
        }
        Assert.Equal(walked.Distinct(), walked);
        Assert.All(walked, id => Assert.Contains(id, first.Select(s => s.Id)));
    }

    [Fact]
    public void Removing_someone_who_is_not_a_member_changes_nothing()
    {
        var list = new MemberList();
        var alice = NewSession(1);
        var bob = NewSession(2);
        list.Add(alice);

        list.Remove(bob);
        list.Remove(alice);
        list.Remove(alice);

        Assert.Empty(list.Current.ToArray());
        Assert.Equal(0, list.Current.Count);
    }

    private static ChatSession NewSession(int i)
    {
        var pipe = new Pipe();
        var connection = new DefaultConnectionContext($"c{i}", new DuplexPipe(pipe.Reader, pipe.Writer), new DuplexPipe(pipe.Reader, pipe.Writer));
        return new ChatSession(connection, new LineCodec(1024), isOperator: false, sendQueueBytes: 1024 * 1024, onOverflow: _ => { });
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
