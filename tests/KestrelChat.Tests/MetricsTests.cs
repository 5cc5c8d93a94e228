using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>GET /metrics as Prometheus scrapes it, and the health endpoints an orchestrator probes.</summary>
/// <remarks>
/// Serial: OpenTelemetry listens to every meter named "KestrelChat" in the process, so servers of
/// other tests running beside these would show up in this server's /metrics (in production there is one).
/// </remarks>
[Collection(nameof(SerialTests))]
public sealed partial class MetricsTests
{
    [Fact]
    public async Task Metrics_show_the_chat_as_it_is_clients_messages_bytes_closes_by_reason_and_Kestrels_own()
    {
        await using var server = ChatServer.Start();
        await using var alice = await server.JoinAsync("alice");
        await using var bob = await server.JoinAsync("bob");
        await using var carol = await server.JoinAsync("carol");
        await alice.ReadLineUntilAsync(l => l == "* carol joined the chat.");
        await bob.SendLineAsync("hello");
        await alice.ReadLineAsync();
        await carol.SendLineAsync("/quit");
        await alice.ReadLineUntilAsync(l => l == "* carol left the chat.");
        using var admin = server.Admin();

        var metrics = await admin.GetStringAsync("/metrics");

        Assert.Equal(2, Value(metrics, "kestrelchat_clients_named"));
        Assert.Equal(3, Value(metrics, "kestrelchat_connections_opened_total"));
        Assert.Equal(1, Value(metrics, "kestrelchat_connections_closed_total", "reason=\"quit\""));
        Assert.Equal(5, Value(metrics, "kestrelchat_messages_in_total")); // 3 nicknames, "hello" and "/quit"
        Assert.True(Value(metrics, "kestrelchat_bytes_out_bytes_total") > 0);
        Assert.Equal(1, Value(metrics, "kestrelchat_broadcast_recipients_count"));
        Assert.Equal(2, Value(metrics, "kestrelchat_broadcast_recipients_sum")); // bob's line went to alice and carol
        Assert.Contains("kestrel_active_connections{", metrics, StringComparison.Ordinal);
        Assert.Contains("aspnetcore_memory_pool_pooled_bytes{", metrics, StringComparison.Ordinal); // Kestrel's pinned buffers
    }

    [Fact]
    public async Task With_a_key_set_metrics_need_it_as_a_bearer_token_like_the_rest_of_the_admin_API()
    {
        const string Key = "metrics-key-0123456789";
        await using var server = ChatServer.Start(("Admin:ApiKey", Key));
        using var anonymous = server.Admin();
        using var prometheus = server.Admin();
        prometheus.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);
        Assert.Contains("kestrelchat_clients_connected", await prometheus.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task While_Redis_is_frozen_metrics_count_the_lines_waiting_for_the_other_instances_until_Redis_takes_them()
    {
        await using var redis = await RedisServer.StartAsync();
        // One instance: OpenTelemetry would show a second instance's gauge of this process here as well.
        await using var server = ChatServer.Start(("Chat:Redis:Configuration", redis.Configuration), ("Chat:Redis:Channel", $"m{Guid.NewGuid():N}"[..16]));
        using var admin = server.Admin();
        await Poll.UntilAsync(() => admin.GetStringAsync("/health"), h => h == "Healthy");
        await using var alice = await server.JoinAsync("alice");
        await Poll.UntilAsync(() => admin.GetStringAsync("/metrics"), // alice's join, confirmed
            m => Value(m, "kestrelchat_cluster_entries_waiting", "direction=\"out\"") == 0);

        redis.Freeze(); // SIGSTOP: the connection stays open, nothing is confirmed
        try
        {
            await alice.SendLineAsync("said while Redis is frozen");
            await Poll.UntilAsync(() => admin.GetStringAsync("/metrics"),
                m => Value(m, "kestrelchat_cluster_entries_waiting", "direction=\"out\"") >= 1);
        }
        finally
        {
            redis.Thaw();
        }
        await Poll.UntilAsync(() => admin.GetStringAsync("/metrics"),
            m => Value(m, "kestrelchat_cluster_entries_waiting", "direction=\"out\"") == 0 && Value(m, "kestrelchat_cluster_entries_waiting", "direction=\"in\"") == 0,
            TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Health_endpoints_answer_Healthy_while_the_chat_accepts(string path)
    {
        await using var server = ChatServer.Start(("Admin:ApiKey", "health-key-0123456789"));
        using var probe = server.Admin(); // probes carry no key

        var response = await probe.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    /// <summary>The value of the first sample of <paramref name="name"/> whose labels contain <paramref name="label"/>.</summary>
    private static double Value(string metrics, string name, string label = "")
    {
        foreach (Match sample in Sample().Matches(metrics))
        {
            if (sample.Groups["name"].Value == name && sample.Groups["labels"].Value.Contains(label, StringComparison.Ordinal))
            {
                return double.Parse(sample.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        throw new Xunit.Sdk.XunitException($"No sample {name}{{{label}}} in:\n{metrics}");
    }

    [GeneratedRegex(@"^(?<name>[a-z_]+)\{(?<labels>[^}]*)\} (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex Sample();
}
