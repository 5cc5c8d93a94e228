using KestrelChat.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace KestrelChat.Tests;

/// <summary>Swagger UI in a real (headless) browser, used the way an operator uses it.</summary>
public sealed class SwaggerUiTests
{
    private const string ApiKey = "swagger-ui-key-0123456789";

    // Generous: Chromium shares two cores with the rest of the suite. Playwright waits for each step, never sleeps.
    private const float StepTimeoutMs = 30_000;

    [Fact]
    public async Task Authorize_with_the_key_then_GET_clients_shows_the_connected_nicknames()
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", ApiKey));
        await using var alice = await server.JoinAsync("alice");
        await using var boris = await server.JoinAsync("борис");
        await using var chromium = await HeadlessChromium.LaunchAsync();
        var page = await chromium.Browser.NewPageAsync();
        page.SetDefaultTimeout(StepTimeoutMs);

        await page.GotoAsync(new Uri(server.AdminUri, "swagger").ToString());
        await page.Locator("button.authorize").First.ClickAsync();
        var dialog = page.Locator(".dialog-ux");
        await dialog.GetByLabel("Value").FillAsync(ApiKey);
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Apply credentials" }).ClickAsync(); // the dialog's "Authorize"
        await Expect(dialog.GetByRole(AriaRole.Button, new() { Name = "Remove authorization" })).ToBeVisibleAsync(new() { Timeout = StepTimeoutMs });
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Close" }).ClickAsync();

        var getClients = page.Locator("#operations-Chat-GetClients");
        await getClients.Locator(".opblock-summary-control").ClickAsync();
        await getClients.GetByRole(AriaRole.Button, new() { Name = "Try it out" }).ClickAsync();
        await getClients.GetByRole(AriaRole.Button, new() { Name = "Execute" }).ClickAsync();

        var response = getClients.Locator(".live-responses-table .response");
        await Expect(response.Locator(".response-col_status")).ToContainTextAsync("200", new() { Timeout = StepTimeoutMs });
        var body = response.Locator(".highlight-code");
        await Expect(body).ToContainTextAsync("\"alice\"", new() { Timeout = StepTimeoutMs });
        await Expect(body).ToContainTextAsync("\"борис\"", new() { Timeout = StepTimeoutMs });
    }
}
