using Microsoft.Playwright;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>
/// Debian's Chromium (package <c>chromium</c>) driven by Playwright. Playwright's own browser download is
/// never used: the driver shipped in the NuGet package launches <see cref="ExecutablePath"/> directly.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;

    private HeadlessChromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    /// <summary>Launches Chromium, or fails the test (never skips it) when it is not installed.</summary>
    public static async Task<HeadlessChromium> LaunchAsync()
    {
        Assert.True(File.Exists(ExecutablePath),
            $"{ExecutablePath} is missing: install Debian's Chromium (apt-get install chromium); .ci/run does.");
        var playwright = await Playwright.CreateAsync();
        try
        {
            // Playwright passes --no-sandbox itself (ChromiumSandbox is false by default), which root needs.
            var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = ExecutablePath, Headless = true });
            return new HeadlessChromium(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
    }
}
