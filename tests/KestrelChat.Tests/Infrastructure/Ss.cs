using System.Diagnostics;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>Runs `ss` (iproute2), the tool the lesson uses to watch the chat's sockets.</summary>
public static class Ss
{
    /// <summary>The established TCP sockets whose local port is <paramref name="port"/>, with timers (`ss -tnoH`).</summary>
    public static async Task<string[]> EstablishedFromPortAsync(int port)
    {
        var info = new ProcessStartInfo("ss", ["-tnoH", "state", "established", $"( sport = :{port} )"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var ss = Process.Start(info) ?? throw new InvalidOperationException("ss did not start (install iproute2).");
        var output = await ss.StandardOutput.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ss.WaitForExitAsync(deadline.Token);
        Assert.True(ss.ExitCode == 0, $"ss failed: {await ss.StandardError.ReadToEndAsync()}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>
    /// The server-side socket of the connection from <paramref name="client"/>, once everything it
    /// sent is acknowledged (Send-Q 0): until then ss shows the retransmission timer, not keepalive.
    /// </summary>
    public static async Task<string> IdleServerSocketAsync(int serverPort, System.Net.IPEndPoint client)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            // Recv-Q Send-Q Local Peer [timer]: the server socket's peer is the client's own address.
            var line = Assert.Single(await EstablishedFromPortAsync(serverPort),
                l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3] == client.ToString());
            if (line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] == "0" || DateTime.UtcNow > until)
            {
                return line;
            }
        }
    }

    /// <summary>The seconds left on an <c>ss -o</c> line's keepalive timer ("timer:(keepalive,44sec,0)"); null if it has none.</summary>
    public static int? KeepAliveSeconds(string line) =>
        System.Text.RegularExpressions.Regex.Match(line, @"timer:\(keepalive,(\d+)sec") is { Success: true } timer
            ? int.Parse(timer.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
            : null;
}
