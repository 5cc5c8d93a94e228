using System.Text;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>
/// What each kind of client sees of one session, byte for byte, against transcripts recorded from the
/// server before rooms existed (Transcripts/*.txt): a client that never types a room command must see
/// exactly this. The session avoids /help (it lists the commands, which grow) and anything timed
/// (presence notices are one per join here, not a storm's summary). Each step waits until the others
/// have seen the last one, so the order of events is the same on every run.
/// To record new transcripts on purpose: UPDATE_TRANSCRIPTS=1 dotnet test --filter TranscriptTests,
/// then read the diff.
/// </summary>
public sealed class TranscriptTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Nc_telnet_our_client_and_the_lesson_client_see_what_they_saw_before_rooms()
    {
        await using var server = ChatServer.Start();

        // alice on nc answers NICK at once; bob on telnet waits for the prompt in words and ends lines with CRLF.
        await using var alice = await server.ConnectAsync();
        Assert.Equal("NICK", await alice.ReadBytesAsync(4));
        await alice.SendLineAsync("alice");
        await alice.ReadLineUntilAsync(l => l.StartsWith("* Welcome, alice!", StringComparison.Ordinal), Deadline);

        await using var bob = await server.ConnectAsync();
        await bob.ReadLineUntilAsync(l => l.StartsWith("* Welcome to KestrelChat!", StringComparison.Ordinal), Deadline);
        await bob.SendAsync("bob\r\n"u8.ToArray());
        await bob.ReadLineUntilAsync(l => l.StartsWith("* Welcome, bob!", StringComparison.Ordinal), Deadline);
        await alice.ReadLineUntilAsync(l => l == "* bob joined the chat.", Deadline);

        await using var carol = LessonClientProcess.StartConsoleClient(server.ChatEndPoint, "carol");
        await carol.ReadPrintedUntilAsync(l => l.StartsWith("* Welcome, carol!", StringComparison.Ordinal), Deadline);
        await EveryoneSawAsync("* carol joined the chat.", alice, bob);

        await using var dave = LessonClientProcess.Start("lesson-client.py", server.ChatEndPoint, "dave");
        await dave.ReadPrintedUntilAsync(l => l.Contains("* Welcome, dave!", StringComparison.Ordinal), Deadline);
        await EveryoneSawAsync("* dave joined the chat.", alice, bob, carol);

        await alice.SendLineAsync("привет всем");
        await EveryoneSawAsync("alice: привет всем", bob, carol, dave);

        await bob.SendAsync("/msg alice psst\r\n"u8.ToArray());
        await alice.ReadLineUntilAsync(l => l == "bob (private): psst", Deadline);

        carol.Type("кто в чате");
        await carol.ReadPrintedUntilAsync(l => l.StartsWith("* In the chat (4)", StringComparison.Ordinal), Deadline);

        dave.Type("hi from the lesson client"); // it sends "dave: hi from the lesson client" itself
        await EveryoneSawAsync("dave: hi from the lesson client", alice, bob, carol);

        dave.Type("/who");
        await dave.ReadPrintedUntilAsync(l => l.StartsWith("* In the chat (4)", StringComparison.Ordinal), Deadline);

        await alice.SendLineAsync("/nick alicia");
        await EveryoneSawAsync("* alice is now known as alicia.", alice, bob, carol, dave);

        await bob.SendAsync("/frobnicate\r\n"u8.ToArray());
        await bob.ReadLineUntilAsync(l => l.StartsWith('!'), Deadline);
        await bob.SendAsync("/nick ALICIA\r\n"u8.ToArray());
        await bob.ReadLineUntilAsync(l => l.StartsWith('!'), Deadline);
        await bob.SendAsync("/stop\r\n"u8.ToArray()); // a loopback client is an operator by default
        await bob.ReadLineUntilAsync(l => l == "* Stopping the server.", Deadline);

        // The stop: every client gets the shutdown line, then the close.
        await alice.ReadToEndAsync(Deadline);
        await bob.ReadToEndAsync(Deadline);
        await carol.WaitForExitAsync(Deadline);
        await dave.ReadPrintedUntilAsync(l => l == "An error occured!", Deadline);

        var seen = new Dictionary<string, string>
        {
            ["nc"] = alice.Transcript,
            ["telnet"] = bob.Transcript,
            ["console-client"] = string.Join('\n', carol.PrintedSoFar) + "\n",
            ["lesson-client"] = string.Join('\n', dave.PrintedSoFar) + "\n",
        };
        foreach (var (client, transcript) in seen)
        {
            var file = Path.Combine(Repository.Root, "tests", "KestrelChat.Tests", "Transcripts", $"{client}.txt");
            if (Environment.GetEnvironmentVariable("UPDATE_TRANSCRIPTS") == "1")
            {
                await File.WriteAllTextAsync(file, transcript, new UTF8Encoding(false));
            }
            Assert.True(File.Exists(file), $"no recorded transcript {file}");
            Assert.Equal(await File.ReadAllTextAsync(file), transcript);
        }
    }

    private static async Task EveryoneSawAsync(string line, params object[] clients)
    {
        foreach (var client in clients)
        {
            switch (client)
            {
                case ChatTestClient socket:
                    await socket.ReadLineUntilAsync(l => l == line, Deadline);
                    break;
                case LessonClientProcess process:
                    await process.ReadPrintedUntilAsync(l => l.EndsWith(line, StringComparison.Ordinal), Deadline);
                    break;
            }
        }
    }
}
