using System.Diagnostics;
using System.Globalization;
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
        using var client = StartClient("--host", "127.0.0.1", "--port", Port(server.ChatEndPoint.Port), "--nick", "алиса");
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
        Assert.DoesNotContain('\u001b', printed); // a pipe gets the lines as they are: no colours, no timestamps
        Assert.StartsWith("* Welcome, алиса!", printed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_tls_and_insecure_the_client_chats_through_TLS_and_shows_the_certificate_fingerprint()
    {
        using var certificate = TestCertificate.Create();
        await using var server = ChatServer.Start(certificate.PfxSettings);
        await using var bob = await server.JoinAsync("bob");
        using var client = StartClient("--port", Port(server.ChatTlsEndPoint.Port), "--tls", "--insecure", "--nick", "алиса");
        var output = client.StandardOutput.ReadToEndAsync();
        var errors = client.StandardError.ReadToEndAsync();

        Assert.Equal("* алиса joined the chat.", await bob.ReadLineAsync(TimeSpan.FromSeconds(30)));
        await client.StandardInput.WriteLineAsync("привет через TLS");
        await client.StandardInput.FlushAsync();
        // The client is a separate process (its own JIT, its own TLS stack): on a busy machine it gets the same
        // generous deadline as its start, rather than the in-process clients' 5 s.
        Assert.Equal("алиса: привет через TLS", await bob.ReadLineAsync(TimeSpan.FromSeconds(30)));
        await bob.SendLineAsync("и тебе привет");
        await bob.SendLineAsync("/who"); // answered after bob's line went out to алиса, so her leaving cannot overtake it
        await bob.ReadLineUntilAsync(l => l.StartsWith("* In the chat", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        client.StandardInput.Close(); // end of input: the client says goodbye (close_notify, FIN) and the server closes

        Assert.Equal("* алиса left the chat.", await bob.ReadLineAsync(TimeSpan.FromSeconds(30)));
        await client.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, client.ExitCode);
        Assert.Contains("* Welcome, алиса!", await output, StringComparison.Ordinal);
        Assert.Contains("bob: и тебе привет", await output, StringComparison.Ordinal);
        var fingerprint = BitConverter.ToString(certificate.Certificate.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256)).Replace('-', ':');
        Assert.Contains($"SHA-256 fingerprint is {fingerprint}", await errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_tls_the_client_refuses_a_certificate_this_machine_does_not_trust()
    {
        using var certificate = TestCertificate.Create();
        await using var server = ChatServer.Start(certificate.PfxSettings);
        using var client = StartClient("--port", Port(server.ChatTlsEndPoint.Port), "--tls", "--nick", "алиса");
        var errors = client.StandardError.ReadToEndAsync();

        await client.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, client.ExitCode);
        Assert.Contains($"TLS handshake with 127.0.0.1:{server.ChatTlsEndPoint.Port} failed: the server's certificate is not trusted here",
            await errors, StringComparison.Ordinal);
        Assert.Contains("use --insecure", await errors, StringComparison.Ordinal);
        using var admin = server.Admin();
        Assert.Equal("[]", await admin.GetStringAsync("/clients"));
    }

    private static Process StartClient(params string[] args)
    {
        var clientDll = Path.Combine(AppContext.BaseDirectory, "KestrelChat.Client.dll");
        var info = new ProcessStartInfo("dotnet", [clientDll, .. args])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            StandardInputEncoding = new UTF8Encoding(false),
        };
        return Process.Start(info)!;
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
