using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KestrelChat.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace KestrelChat.Tests;

/// <summary>Chat:Tls: the same chat on a second, encrypted listener, with a certificate made in the test.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly TestCertificate _certificate = TestCertificate.Create();

    public void Dispose() => _certificate.Dispose();

    [Fact]
    public async Task A_TLS_client_and_a_plain_client_are_in_one_chat_and_talk_both_ways()
    {
        await using var server = ChatServer.Start(_certificate.PfxSettings);
        Assert.NotEqual(server.ChatEndPoint.Port, server.ChatTlsEndPoint.Port);

        await using var alice = await ChatTestClient.ConnectTlsAsync(server.ChatTlsEndPoint, _certificate.Certificate);
        Assert.NotNull(alice.TlsProtocol);
        Assert.Equal("NICK", await alice.ReadBytesAsync(4)); // the same greeting as on the plain port
        await alice.SendLineAsync("алиса");
        Assert.Equal("", await alice.ReadLineAsync()); // the LF that ends "NICK"
        Assert.Equal("* Welcome, алиса! In the chat now: 1 (you included). Type /help for the commands.", await alice.ReadLineAsync());
        await using var boris = await server.JoinAsync("борис");
        Assert.Equal("* борис joined the chat.", await alice.ReadLineAsync());

        await boris.SendLineAsync("привет, это открытый порт");
        Assert.Equal("борис: привет, это открытый порт", await alice.ReadLineAsync());
        await alice.SendLineAsync("а это шифрованный ✓");
        Assert.Equal("алиса: а это шифрованный ✓", await boris.ReadLineAsync());
        await alice.SendLineAsync("кто в чате");
        Assert.Equal("* In the chat (2): алиса, борис", await alice.ReadLineAsync());

        using var admin = server.Admin();
        var clients = await admin.GetFromJsonAsync<JsonElement[]>("/clients");
        Assert.True(Assert.Single(clients!, c => c.GetProperty("nickname").GetString() == "алиса").GetProperty("tls").GetBoolean());
        Assert.False(Assert.Single(clients!, c => c.GetProperty("nickname").GetString() == "борис").GetProperty("tls").GetBoolean());
    }

    [Fact]
    public async Task Openssl_s_client_chats_verifies_the_certificate_and_exits_0_after_quit()
    {
        await using var server = ChatServer.Start(_certificate.PfxSettings);
        await using var bob = await server.JoinAsync("bob");
        var info = new ProcessStartInfo("openssl", ["s_client", "-quiet", "-connect", $"127.0.0.1:{server.ChatTlsEndPoint.Port}",
            "-CAfile", _certificate.PemCertificatePath, "-verify_return_error"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        using var openssl = Process.Start(info) ?? throw new InvalidOperationException("openssl did not start (apt-get install openssl)");
        var output = openssl.StandardOutput.ReadToEndAsync();
        var errors = openssl.StandardError.ReadToEndAsync();

        await openssl.StandardInput.WriteAsync("алиса\n");
        await openssl.StandardInput.FlushAsync();
        Assert.Equal("* алиса joined the chat.", await bob.ReadLineAsync(TimeSpan.FromSeconds(15)));
        await openssl.StandardInput.WriteAsync("привет из openssl\n");
        await openssl.StandardInput.FlushAsync();
        Assert.Equal("алиса: привет из openssl", await bob.ReadLineAsync());
        await bob.SendLineAsync("и тебе привет");
        await bob.SendLineAsync("/who"); // answered after bob's line went out to алиса, so /quit cannot overtake it
        await bob.ReadLineUntilAsync(l => l.StartsWith("* In the chat", StringComparison.Ordinal));
        await openssl.StandardInput.WriteAsync("/quit\n");
        await openssl.StandardInput.FlushAsync();

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await openssl.WaitForExitAsync(deadline.Token);
        // Exit code 0 needs the server's close_notify: without it OpenSSL 3 reports "unexpected eof while reading".
        Assert.True(openssl.ExitCode == 0, $"openssl exited {openssl.ExitCode}: {await errors}");
        var printed = await output;
        Assert.StartsWith("NICK", printed, StringComparison.Ordinal);
        Assert.Contains("* Welcome, алиса!", printed, StringComparison.Ordinal);
        Assert.Contains("bob: и тебе привет\n* Bye!\n", printed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_TLS_client_leaves_and_gets_the_shutdown_notice_like_any_other()
    {
        await using var server = ChatServer.Start(_certificate.PfxSettings);
        await using var alice = await (await ChatTestClient.ConnectTlsAsync(server.ChatTlsEndPoint, _certificate.Certificate)).JoinAsAsync("alice");
        var bob = await (await ChatTestClient.ConnectTlsAsync(server.ChatTlsEndPoint, _certificate.Certificate)).JoinAsAsync("bob");
        Assert.Equal("* bob joined the chat.", await alice.ReadLineAsync());

        await bob.SendLineAsync("/quit");
        Assert.Equal(["* Bye!"], await bob.ReadToEndAsync());
        await bob.DisposeAsync();
        Assert.Equal("* bob left the chat.", await alice.ReadLineAsync());

        server.Lifetime.StopApplication();
        Assert.Equal(["* Server is shutting down. Bye!"], await alice.ReadToEndAsync());
    }

    [Fact]
    public async Task A_TLS_nickname_without_LF_waits_for_its_LF_the_unframed_mode_is_for_the_plain_port_only()
    {
        await using var server = ChatServer.Start(_certificate.PfxSettings);
        await using var alice = await ChatTestClient.ConnectTlsAsync(server.ChatTlsEndPoint, _certificate.Certificate);
        Assert.Equal("NICK", await alice.ReadBytesAsync(4));
        await alice.SendAsync("alice"u8.ToArray()); // as the lesson client would: no LF, then silence
        await WaitUntilReadAsync(server, bytes: 5);

        // carol does the same on the plain port a little later: once her silence made her unframed,
        // alice's longer silence would have done so too, had TLS connections that mode.
        await using var carol = await server.ConnectAsync();
        Assert.Equal("NICK", await carol.ReadBytesAsync(4));
        await carol.SendAsync("carol"u8.ToArray());
        const string CarolWelcome = "* Welcome, carol! In the chat now: 1 (you included). Type /help for the commands.";
        Assert.Equal(CarolWelcome, await carol.ReadBytesAsync(System.Text.Encoding.UTF8.GetByteCount(CarolWelcome)));

        await alice.SendAsync("\n"u8.ToArray());
        Assert.Equal("", await alice.ReadLineAsync()); // the LF that ends "NICK"
        Assert.Equal("* Welcome, alice! In the chat now: 2 (you included). Type /help for the commands.", await alice.ReadLineAsync());
    }

    [Fact]
    public async Task A_PEM_certificate_and_key_work_as_well_as_a_pfx()
    {
        await using var server = ChatServer.Start(("Chat:Tls:Port", "0"),
            ("Chat:Tls:CertificatePath", _certificate.PemCertificatePath), ("Chat:Tls:KeyPath", _certificate.PemKeyPath));

        await using var alice = await (await ChatTestClient.ConnectTlsAsync(server.ChatTlsEndPoint, _certificate.Certificate)).JoinAsAsync("alice");
    }

    [Fact]
    public async Task TLS_connections_get_TCP_keepalive_too()
    {
        // Kestrel's TLS middleware keeps the socket feature on the connection, so the handler still reaches the socket.
        await using var server = ChatServer.Start([.. _certificate.PfxSettings, ("Chat:Limits:KeepAliveSeconds", "45")]);
        await using var alice = await (await ChatTestClient.ConnectTlsAsync(server.ChatTlsEndPoint, _certificate.Certificate)).JoinAsAsync("alice");

        var line = await Ss.IdleServerSocketAsync(server.ChatTlsEndPoint.Port, alice.LocalEndPoint);

        Assert.True(Ss.KeepAliveSeconds(line) is >= 1 and <= 45, line);
    }

    [Fact]
    public async Task Without_Chat_Tls_Port_there_is_no_TLS_listener()
    {
        await using var server = ChatServer.Start(("Chat:Tls:CertificatePath", _certificate.PfxPath));

        Assert.Throws<InvalidOperationException>(() => server.ChatTlsEndPoint);
        await using var plain = await server.JoinAsync("alice");
    }

    [Theory]
    [InlineData("wrong password", "is not a .pfx file that Chat:Tls:CertificatePassword opens")]
    [InlineData("no password", "is not a .pfx file that Chat:Tls:CertificatePassword opens")]
    [InlineData("missing file", "does not exist")]
    [InlineData("no path", "Chat:Tls:CertificatePath must name the server certificate")]
    [InlineData("bad port", "Chat:Tls:Port must be 0–65535")]
    public void A_bad_TLS_setting_stops_the_start_with_a_clear_message(string what, string expected)
    {
        (string, string?)[] settings = what switch
        {
            "wrong password" => [("Chat:Tls:Port", "0"), ("Chat:Tls:CertificatePath", _certificate.PfxPath), ("Chat:Tls:CertificatePassword", "not-the-password")],
            "no password" => [("Chat:Tls:Port", "0"), ("Chat:Tls:CertificatePath", _certificate.PfxPath)],
            "missing file" => [("Chat:Tls:Port", "0"), ("Chat:Tls:CertificatePath", _certificate.PfxPath + ".missing")],
            "no path" => [("Chat:Tls:Port", "0")],
            _ => [("Chat:Tls:Port", "70000"), ("Chat:Tls:CertificatePath", _certificate.PfxPath), ("Chat:Tls:CertificatePassword", TestCertificate.Password)],
        };

        var error = Assert.ThrowsAny<OptionsValidationException>(() =>
        {
            using var server = ChatServer.Start(settings);
        });

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    /// <summary>Waits (with a deadline) until the server has read <paramref name="bytes"/> bytes from its only connection.</summary>
    private static async Task WaitUntilReadAsync(ChatServer server, long bytes)
    {
        using var admin = server.Admin();
        var until = DateTime.UtcNow + ChatTestClient.DefaultTimeout;
        while (true)
        {
            var client = Assert.Single((await admin.GetFromJsonAsync<JsonElement[]>("/clients"))!);
            if (client.GetProperty("bytesIn").GetInt64() >= bytes)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < until, $"the server read {client.GetProperty("bytesIn")} bytes, not {bytes}");
        }
    }

    [Fact]
    public async Task A_wrong_certificate_password_ends_the_process_with_a_message_and_exit_code_1()
    {
        await using var server = ServerProcess.Start(("Chat__Tls__Port", "0"), ("Chat__Tls__CertificatePath", _certificate.PfxPath),
            ("Chat__Tls__CertificatePassword", "not-the-password"));

        Assert.Equal(1, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains($"KestrelChat cannot start: Chat:Tls:CertificatePath '{_certificate.PfxPath}' is not a .pfx file that Chat:Tls:CertificatePassword opens",
            server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_the_process_cannot_read_is_reported_as_such_not_as_a_wrong_password()
    {
        var unreadable = Path.Combine(Path.GetTempPath(), $"kestrelchat-{Guid.NewGuid():N}.pfx");
        File.Copy(_certificate.PfxPath, unreadable);
        try
        {
            // Another user's 0600 file, as root's certificate is to the container's user (UID 1654).
            using (var chown = System.Diagnostics.Process.Start("sh", ["-c", "chown nobody \"$0\" && chmod 600 \"$0\"", unreadable]))
            {
                await chown.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                Assert.Equal(0, chown.ExitCode);
            }
            await using var server = ServerProcess.StartWithoutReadingOthersFiles(("Chat__Tls__Port", "0"), ("Chat__Tls__CertificatePath", unreadable),
                ("Chat__Tls__CertificatePassword", TestCertificate.Password));

            Assert.Equal(1, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains($"KestrelChat cannot start: Chat:Tls:CertificatePath '{unreadable}' cannot be read by this process (user ", server.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("password", server.Output, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            File.Delete(unreadable);
        }
    }

    [Fact]
    public async Task With_dotnet_run_a_relative_certificate_path_is_found_from_where_the_command_was_typed()
    {
        // README's recipe, typed in a directory that holds chat.pfx (not in src/KestrelChat, where dotnet run used to start it).
        var here = Directory.CreateTempSubdirectory("kestrelchat-cwd-");
        try
        {
            File.Copy(_certificate.PfxPath, Path.Combine(here.FullName, "chat.pfx"));
            var project = Path.Combine(Repository.Root, "src", "KestrelChat");
            await using var server = ServerProcess.StartWithDotnetRunIn(here.FullName, project, ("Chat__Tls__Port", "0"), ("Chat__Tls__CertificatePath", "chat.pfx"),
                ("Chat__Tls__CertificatePassword", TestCertificate.Password));

            await server.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
            Assert.Contains("Chat (TLS) listening on tls://", await server.WaitForOutputAsync("Chat (TLS) listening", TimeSpan.FromSeconds(30)), StringComparison.Ordinal);
        }
        finally
        {
            here.Delete(recursive: true);
        }
    }
}
