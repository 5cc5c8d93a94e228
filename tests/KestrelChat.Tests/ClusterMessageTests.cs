using System.Text;
using KestrelChat.Cluster;

namespace KestrelChat.Tests;

/// <summary>What goes over the backplane: the line as clients get it, once, and nothing malformed is fatal.</summary>
public sealed class ClusterMessageTests
{
    [Fact]
    public void A_message_comes_back_from_the_wire_as_it_went_in()
    {
        var line = Encoding.UTF8.GetBytes("alice: привет\n");
        var sent = new ClusterMessage(ClusterMessageKind.ToConnection, "chat1", "0HNQA5P9KPK4F", line);

        var received = ClusterMessage.Deserialize(sent.Serialize());

        Assert.NotNull(received);
        Assert.Equal((ClusterMessageKind.ToConnection, "chat1", "0HNQA5P9KPK4F"), (received.Kind, received.Origin, received.Target));
        Assert.Equal(line, received.Line);
        Assert.Null(ClusterMessage.Deserialize(new ClusterMessage(ClusterMessageKind.ToMembers, "chat1", null, line).Serialize())!.Target);
    }

    [Theory]
    [InlineData("")]
    [InlineData("09")]             // an unknown kind
    [InlineData("01056100")]       // origin longer than the message
    [InlineData("01016109")]       // target longer than the message
    public void Anything_malformed_on_the_channel_is_ignored(string hex)
    {
        Assert.Null(ClusterMessage.Deserialize(Convert.FromHexString(hex)));
    }
}
