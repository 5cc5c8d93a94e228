using System.Net;
using KestrelChat.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace KestrelChat.Tests;

/// <summary>The dashboard in a real (headless) Chromium, as an operator or a teacher uses it.</summary>
public sealed class DashboardTests
{
    private const string ApiKey = "dashboard-key-0123456789";

    // Generous: Chromium shares two cores with the rest of the suite. Playwright waits for each step, never sleeps.
    private const float StepTimeoutMs = 30_000;

    [Fact]
    public async Task With_the_key_it_shows_a_client_appear_its_bytes_grow_the_kick_button_kicks_and_it_leaves()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey));
        await using var chromium = await HeadlessChromium.LaunchAsync();
        var page = await chromium.Browser.NewPageAsync();
        page.SetDefaultTimeout(StepTimeoutMs);
        page.Dialog += (_, dialog) => _ = dialog.AcceptAsync("spamming"); // the kick's reason

        await page.GotoAsync(new Uri(server.AdminUri, "dashboard").ToString());
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("the admin API key is needed", new() { Timeout = StepTimeoutMs });
        await page.GetByLabel("Admin API key").FillAsync(ApiKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Use key" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("live", new() { Timeout = StepTimeoutMs });

        await using var alice = await server.JoinAsync("alice");
        var row = page.Locator("#connections tbody tr", new() { HasText = "alice" });
        await Expect(row).ToContainTextAsync("#lobby", new() { Timeout = StepTimeoutMs });
        await Expect(row).ToContainTextAsync("tcp", new() { Timeout = StepTimeoutMs });
        var bytesIn = row.Locator("td").Nth(7);
        var before = long.Parse(await bytesIn.TextContentAsync() ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        await alice.SendLineAsync("a line that the dashboard counts");
        await Expect(bytesIn).Not.ToHaveTextAsync(before.ToString(System.Globalization.CultureInfo.InvariantCulture), new() { Timeout = StepTimeoutMs });

        // The wire view: from now on, both ways, hex and text.
        await row.GetByRole(AriaRole.Button, new() { Name = "Watch" }).ClickAsync();
        var wire = page.Locator("#wire-bytes");
        await Expect(wire).ToContainTextAsync("watching from now on", new() { Timeout = StepTimeoutMs });
        await alice.SendLineAsync("hello wire");
        await Expect(wire).ToContainTextAsync("68 65 6c 6c 6f 20 77 69 72 65 0a", new() { Timeout = StepTimeoutMs });
        await Expect(wire.Locator(".in")).Not.ToHaveCountAsync(0, new() { Timeout = StepTimeoutMs });
        await alice.SendLineAsync("/who");
        await Expect(wire.Locator(".out", new() { HasText = "* In the chat (1" })).Not.ToHaveCountAsync(0, new() { Timeout = StepTimeoutMs });

        await row.GetByRole(AriaRole.Button, new() { Name = "Kick" }).ClickAsync();
        Assert.Equal("! You were disconnected by an operator: spamming", (await alice.ReadLineUntilAsync(l => l.StartsWith('!'))).Line);
        await Expect(row).ToHaveCountAsync(0, new() { Timeout = StepTimeoutMs });
        await Expect(wire.Locator(".out", new() { HasText = "! You were disco" })).Not.ToHaveCountAsync(0, new() { Timeout = StepTimeoutMs }); // 16 bytes a row
        await Expect(wire).ToContainTextAsync("the connection closed", new() { Timeout = StepTimeoutMs });
        if (Environment.GetEnvironmentVariable("KESTRELCHAT_SCREENSHOTS") is { Length: > 0 } folder)
        {
            await page.ScreenshotAsync(new() { Path = Path.Combine(folder, "dashboard.png"), FullPage = true }); // scripts/screenshots.sh
        }
    }

    [Fact]
    public async Task Without_the_key_the_page_loads_but_its_data_is_refused()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey));
        using var http = new HttpClient { BaseAddress = server.AdminUri };

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/dashboard")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/dashboard/dashboard.js")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/dashboard/appsettings.json")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/dashboard/events")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/dashboard/wire/0HNQ")).StatusCode);
        using var unknown = new HttpRequestMessage(HttpMethod.Get, "/dashboard/wire/no-such-connection") { Headers = { { "X-Api-Key", ApiKey } } };
        Assert.Equal(HttpStatusCode.NotFound, (await http.SendAsync(unknown)).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/events") { Headers = { { "X-Api-Key", ApiKey } } };
        using var stream = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal("event: snapshot", await reader.ReadLineAsync());
        Assert.StartsWith("data: {\"at\":", await reader.ReadLineAsync(), StringComparison.Ordinal);
    }
}
