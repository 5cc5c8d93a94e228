using System.Diagnostics;
using System.Text;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>Our console client (src/KestrelChat.Client) as a process against the real server.</summary>
public sealed class ClientTests
{
    [Fact]
    public async Task The_client_joins_sends_stdin_prints_what_arrives_and_exits_0_when_the_server_stops()
    {
        await using var server = ChatServer.Start();
        await using var bob = await server.JoinAsync("bob");
        var clientDll = Path.Combine(AppContext.BaseDirectory, "KestrelChat.Client.dll");
        var info = new ProcessStartInfo("dotnet", [clientDll, "--host", "127.0.0.1", "--port", server.ChatEndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--nick", "алиса"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardInputEncoding = new UTF8Encoding(false),
        };
        using var client = Process.Start(info)!;
        var output = client.StandardOutput.ReadToEndAsync();

        Assert.Equal("* алиса joined the chat.", await bob.ReadLineAsync(TimeSpan.FromSeconds(30)));
        await client.StandardInput.WriteLineAsync("привет, bob");
        await client.StandardInput.FlushAsync();
        Assert.Equal("алиса: привет, bob", await bob.ReadLineAsync());
        await bob.SendLineAsync("hi Алиса");
        using (var admin = server.Admin())
        {
            await admin.PostAsync("/stop", null);
        }

        await client.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, client.ExitCode);
        var printed = await output;
        Assert.Contains("* Welcome, алиса!", printed, StringComparison.Ordinal);
        Assert.Contains("bob: hi Алиса", printed, StringComparison.Ordinal);
        Assert.Contains("* Server is shutting down. Bye!", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("NICK", printed, StringComparison.Ordinal);
    }
}
