using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>
/// Names and lines that impersonate or hide: look-alike nicknames are one nickname, invisible and
/// direction-changing characters are refused, and every real script keeps working.
/// </summary>
public sealed class UnicodeRulesTests
{
    [Theory]
    [InlineData("аlice")] // Cyrillic а
    [InlineData("alice\u034F")] // combining grapheme joiner
    [InlineData("ALİCE")] // Turkish dotted capital I
    [InlineData("ａｌｉｃｅ")] // fullwidth
    [InlineData("𝓪𝓵𝓲𝓬𝓮")] // mathematical script
    [InlineData("ALICE")]
    [InlineData("a1ice")] // digit one for l
    public async Task A_look_alike_of_a_present_nickname_is_refused(string lookAlike)
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var impostor = await server.ConnectAsync();
        Assert.Equal("NICK", await impostor.ReadBytesAsync(4));

        await impostor.SendLineAsync(lookAlike);

        var answer = await impostor.ReadLineUntilAsync(line => line.StartsWith('!'));
        Assert.StartsWith("! ", answer.Line);
        await impostor.SendLineAsync("bob");
        Assert.StartsWith("* Welcome, bob!", (await impostor.ReadLineUntilAsync(line => line.StartsWith("* Welcome", StringComparison.Ordinal))).Line);
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());
    }

    [Theory]
    // Every first line is a line before it is a nickname: what no line may hold is refused as such.
    [InlineData("\u3164", "! Line rejected: it contains an invisible character (zero-width space, word joiner, BOM, line separator…).")] // Hangul filler: shows as blank
    [InlineData("bob\u200B", "! Line rejected: it contains an invisible character (zero-width space, word joiner, BOM, line separator…).")]
    [InlineData("bob\u200D", "! Line rejected: it contains an invisible character (zero-width space, word joiner, BOM, line separator…).")]
    [InlineData("z\u200Dz", "! A nickname can't contain invisible characters.")] // a joiner a line may hold
    [InlineData("z\u0301\u0301\u0301\u0301\u0301", "! A nickname may have at most 3 combining marks on a letter.")]
    [InlineData("z" + "\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301",
        "! Line rejected: more than 8 combining marks on one character.")]
    [InlineData("pаypal", "! A nickname can't mix Latin, Cyrillic and Greek letters: they look alike. Use one script.")]
    public async Task Invisible_and_mixed_script_nicknames_are_refused_with_a_reason(string nickname, string reason)
    {
        await using var server = ChatServer.Start();
        await using var client = await server.ConnectAsync();
        Assert.Equal("NICK", await client.ReadBytesAsync(4));

        await client.SendLineAsync(nickname);

        Assert.Equal(reason, (await client.ReadLineUntilAsync(line => line.StartsWith('!'))).Line);
    }

    [Theory]
    [InlineData("Алиса")]
    [InlineData("Ελένη")]
    [InlineData("नमस्ते")]
    [InlineData("สมชาย")]
    [InlineData("محمد")]
    [InlineData("דוד")]
    [InlineData("李小龙")]
    [InlineData("さくら")]
    [InlineData("민준")]
    [InlineData("Nguyễn")]
    [InlineData("Øystein_Åsen")]
    [InlineData("Ђорђе")]
    [InlineData("ნინო")]
    public async Task Names_in_real_scripts_join_and_chat(string nickname)
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var other = await server.JoinAsync(nickname);
        Assert.Equal($"* {nickname} joined the chat.", await alice.ReadLineAsync());

        await other.SendLineAsync("привет, 你好, مرحبا");

        Assert.Equal($"{nickname}: привет, 你好, مرحبا", await alice.ReadLineAsync());
    }

    [Theory]
    [InlineData("abc \u202Egnp.exe", "! Line rejected: it contains a character that reorders text (a bidi control such as U+202E).")]
    [InlineData("x \u2066y\u2069", "! Line rejected: it contains a character that reorders text (a bidi control such as U+202E).")]
    [InlineData("in\u200Bvisible", "! Line rejected: it contains an invisible character (zero-width space, word joiner, BOM, line separator…).")]
    [InlineData("word\u2060joiner", "! Line rejected: it contains an invisible character (zero-width space, word joiner, BOM, line separator…).")]
    [InlineData("\u200Dlead", "! Line rejected: it contains an invisible character (zero-width space, word joiner, BOM, line separator…).")]
    [InlineData("one\u2028two", "! Line rejected: it contains an invisible character (zero-width space, word joiner, BOM, line separator…).")]
    [InlineData("para\u2029graph", "! Line rejected: it contains an invisible character (zero-width space, word joiner, BOM, line separator…).")]
    [InlineData("\uFEFFbom", "! Line rejected: it contains an invisible character (zero-width space, word joiner, BOM, line separator…).")]
    public async Task A_line_that_hides_or_reorders_text_is_refused_and_the_connection_goes_on(string line, string reason)
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendLineAsync(line);
        await bob.SendLineAsync("plain");

        Assert.Equal(reason, await bob.ReadLineAsync());
        Assert.Equal("bob: plain", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task A_tower_of_2000_combining_marks_is_refused_but_Vietnamese_and_pointed_Hebrew_pass()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendLineAsync("e" + new string('\u0301', 2000));
        await bob.SendLineAsync("Tiếng Việt: e\u0323\u0302"); // ệ spelled with two marks
        await bob.SendLineAsync("שָׁלוֹם");

        Assert.Equal("! Line rejected: more than 8 combining marks on one character.", await bob.ReadLineAsync());
        Assert.Equal("bob: Tiếng Việt: e\u0323\u0302", await alice.ReadLineAsync());
        Assert.Equal("bob: שָׁלוֹם", await alice.ReadLineAsync());
    }

    [Theory]
    [InlineData("👨\u200D👩\u200D👧 family")] // emoji joined by ZWJ
    [InlineData("❤\uFE0F")] // emoji presentation selector
    [InlineData("می\u200Cخواهم")] // Persian with a zero-width non-joiner
    public async Task Joiners_and_variation_selectors_after_a_visible_character_pass(string line)
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await alice.ReadLineAsync();

        await bob.SendLineAsync(line);

        Assert.Equal($"bob: {line}", await alice.ReadLineAsync());
    }
}
