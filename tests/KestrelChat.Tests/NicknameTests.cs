using System.Text;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>The first minute of a connection: the NICK greeting, choosing a nickname, rejections.</summary>
public sealed class NicknameTests : ServerPerTest
{
    [Fact]
    public async Task First_bytes_are_exactly_NICK_and_a_quick_answer_gets_NICK_on_a_line_of_its_own_then_the_welcome()
    {
        await using var client = await Server.ConnectAsync();

        Assert.Equal("NICK", await client.ReadBytesAsync(4));
        await client.SendLineAsync("alice");

        // Nothing came between NICK and our answer; a program reading lines reads "NICK", then the
        // welcome, never "NICK* Welcome…".
        Assert.Equal("", await client.ReadLineAsync());
        Assert.Equal("* Welcome, alice! In the chat now: 1 (you included). Type /help for the commands.",
            await client.ReadLineAsync());
    }

    [Fact]
    public async Task A_person_who_types_nothing_is_asked_for_a_nickname_in_words()
    {
        await using var client = await Server.ConnectAsync();
        Assert.Equal("NICK", await client.ReadBytesAsync(4));

        Assert.Equal("", await client.ReadLineAsync()); // ends the NICK line on a terminal
        Assert.Equal("* Welcome to KestrelChat! Please type a nickname and press Enter.", await client.ReadLineAsync());

        await client.SendLineAsync("late");
        Assert.StartsWith("* Welcome, late!", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ALICE", "! The nickname 'ALICE' is taken. Choose another one.")]
    [InlineData("Alice", "! The nickname 'Alice' is taken. Choose another one.")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456", "! That nickname is too long: at most 32 characters.")]
    [InlineData("al ice", "! A nickname may contain only letters, digits, '_', '-' and '.'.")]
    [InlineData("*server", "! A nickname may contain only letters, digits, '_', '-' and '.'.")]
    [InlineData("bob!", "! A nickname may contain only letters, digits, '_', '-' and '.'.")]
    [InlineData("eve:", "! A nickname may contain only letters, digits, '_', '-' and '.'.")]
    [InlineData("   ", "! A nickname can't be empty.")]
    public async Task A_rejected_nickname_is_explained_and_the_server_asks_again(string nickname, string expectedError)
    {
        await using var alice = await Server.JoinAsync("alice");
        await using var client = await Server.ConnectAsync();
        Assert.Equal("NICK", await client.ReadBytesAsync(4));

        await client.SendLineAsync(nickname);

        Assert.Equal("", await client.ReadLineAsync()); // the LF that ends "NICK"
        Assert.Equal(expectedError, await client.ReadLineAsync());
        Assert.Equal("* Please type a nickname and press Enter.", await client.ReadLineAsync());
        // The connection stays open and the next try works.
        await client.SendLineAsync("bob");
        Assert.StartsWith("* Welcome, bob! In the chat now: 2", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());
    }

    [Theory]
    [InlineData("Борис")]
    [InlineData("ñandú_2")]
    [InlineData("李小龙")]
    [InlineData("a.b-c_d")]
    [InlineData("abcdefghijklmnopqrstuvwxyz012345")] // exactly 32
    [InlineData("नमस्ते")] // combining marks after letters
    public async Task Letters_of_any_script_digits_and_the_three_signs_are_accepted(string nickname)
    {
        await using var client = await Server.JoinAsync(nickname);
    }

    [Fact]
    public async Task Two_names_that_differ_only_in_case_are_one_nickname_in_Cyrillic_too()
    {
        await using var first = await Server.JoinAsync("Борис");
        await using var second = await Server.ConnectAsync();
        await second.ReadBytesAsync(4);

        await second.SendLineAsync("БОРИС");

        Assert.Equal("", await second.ReadLineAsync()); // the LF that ends "NICK"
        Assert.Equal("! The nickname 'БОРИС' is taken. Choose another one.", await second.ReadLineAsync());
    }

    [Fact]
    public async Task A_nickname_sent_in_two_tcp_segments_split_inside_a_character_is_read_whole()
    {
        await using var client = await Server.ConnectAsync();
        await client.ReadBytesAsync(4);
        var bytes = Encoding.UTF8.GetBytes("Жанна\r\n");

        await client.SendAsync(bytes[..1]); // half of 'Ж'
        await client.SendAsync(bytes[1..]);

        Assert.Equal("", await client.ReadLineAsync()); // the LF that ends "NICK"
        Assert.StartsWith("* Welcome, Жанна!", await client.ReadLineAsync(), StringComparison.Ordinal);
    }
}
