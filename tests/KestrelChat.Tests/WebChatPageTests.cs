using KestrelChat.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace KestrelChat.Tests;

/// <summary>The web chat's page in a real (headless) Chromium, used as a learner at a school machine would.</summary>
public sealed class WebChatPageTests
{
    // Generous: Chromium shares two cores with the rest of the suite. Playwright waits for each step, never sleeps.
    private const float StepTimeoutMs = 30_000;

    [Fact]
    public async Task A_browser_user_and_a_TCP_user_chat_both_ways_markup_shows_as_text_and_a_click_joins_a_room()
    {
        await using var server = ChatServer.Start();
        await using var bob = await server.JoinAsync("bob");
        await bob.SendLineAsync("/join #dev");
        await bob.ReadLineUntilAsync(l => l.StartsWith("* You are in #dev", StringComparison.Ordinal));
        await using var chromium = await HeadlessChromium.LaunchAsync();
        var page = await chromium.Browser.NewPageAsync(new() { ViewportSize = new() { Width = 390, Height = 844 } }); // a phone
        page.SetDefaultTimeout(StepTimeoutMs);
        var dialogs = 0;
        page.Dialog += (_, dialog) => { dialogs++; _ = dialog.DismissAsync(); };

        await page.GotoAsync(server.WebUri.ToString());
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("connected", new() { Timeout = StepTimeoutMs });
        var message = page.GetByLabel("Message");
        await message.FillAsync("вера");
        await message.PressAsync("Enter");
        var lines = page.Locator("#lines");
        await Expect(lines).ToContainTextAsync("* Welcome, вера!", new() { Timeout = StepTimeoutMs });
        await Expect(page.Locator("#rooms")).ToContainTextAsync("#dev (1)", new() { Timeout = StepTimeoutMs });

        await page.Locator("#rooms").GetByRole(AriaRole.Button, new() { NameString = "#dev (1)" }).ClickAsync();
        await bob.ReadLineUntilAsync(l => l == "* вера joined #dev.");
        await Expect(page.Locator("#members")).ToContainTextAsync("bob", new() { Timeout = StepTimeoutMs });

        await message.FillAsync("привет, bob! hello");
        await message.PressAsync("Enter");
        Assert.Equal("вера: привет, bob! hello", (await bob.ReadLineUntilAsync(l => !l.StartsWith('*'))).Line);

        await bob.SendLineAsync("<script>alert('x')</script> <b>bold</b> привет");
        await Expect(lines).ToContainTextAsync("bob: <script>alert('x')</script> <b>bold</b> привет", new() { Timeout = StepTimeoutMs });
        Assert.Equal(0, await lines.Locator("script, b").CountAsync()); // text, not markup
        Assert.Equal(0, dialogs);
        if (Environment.GetEnvironmentVariable("KESTRELCHAT_SCREENSHOTS") is { Length: > 0 } folder)
        {
            await page.ScreenshotAsync(new() { Path = Path.Combine(folder, "web-chat.png") }); // scripts/screenshots.sh
        }
    }
}
