using KestrelChat.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace KestrelChat.Tests;

/// <summary>Start-up refuses configuration that is wrong or unsafe, and says why.</summary>
public sealed class ConfigurationTests
{
    [Theory]
    [InlineData("Admin:Url", "http://0.0.0.0:0", "is not a loopback address and Admin:ApiKey is not set")]
    [InlineData("Admin:Url", "https://127.0.0.1:0", "Admin:Url must look like http://127.0.0.1:8080")]
    [InlineData("Admin:Url", "http://example.org:0", "Admin:Url must name an IP address")]
    [InlineData("Admin:ApiKey", "short", "Admin:ApiKey must be at least 16 characters")]
    [InlineData("Admin:FailedKeyAttemptsPerMinute", "-1", "Admin:FailedKeyAttemptsPerMinute must be 0 (no limit) or more")]
    [InlineData("Chat:Port", "70000", "Chat:Port must be 0–65535")]
    [InlineData("Chat:BindAddress", "everywhere", "Chat:BindAddress must be an IP address")]
    [InlineData("Chat:DefaultRoom", "lobby", "Chat:DefaultRoom must be '#' and 1–32 letters")]
    [InlineData("Chat:LargeRoom", "-1", "Chat:LargeRoom must be 0 (every room small) or more; it is -1.")]
    [InlineData("Chat:Limits:MaxRooms", "0", "Chat:Limits:MaxRooms must be at least 1")]
    public void Bad_settings_stop_the_start_with_a_clear_message(string key, string value, string expected)
    {
        var error = Assert.ThrowsAny<OptionsValidationException>(() =>
        {
            using var server = ChatServer.Start((key, value));
        });

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_instance_name_longer_than_a_cluster_message_can_carry_stops_the_start_instead_of_every_publish()
    {
        var error = Assert.ThrowsAny<OptionsValidationException>(() =>
        {
            using var server = ChatServer.Start(("Chat:Redis:InstanceName", new string('я', 128))); // 256 bytes in UTF-8
        });

        Assert.Contains("Chat:Redis:InstanceName must be at most 255 bytes in UTF-8; it is 256.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_non_loopback_admin_address_is_fine_with_a_key()
    {
        await using var server = ChatServer.Start(("Admin:Url", "http://0.0.0.0:0"), ("Admin:ApiKey", "0123456789abcdef0123"));

        using var admin = server.Admin("0123456789abcdef0123");
        Assert.True((await admin.GetAsync("/health")).IsSuccessStatusCode);
    }
}
