using System.Diagnostics.Metrics;
using KestrelChat.Chat;
using KestrelChat.Cluster;
using KestrelChat.History;
using KestrelChat.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>A registry with its rooms and no server around it: room and command logic without sockets (history in memory only).</summary>
internal static class TestRegistry
{
    public static ChatRegistry Create(ChatOptions? options = null, ChatLimitsOptions? limits = null) =>
        new(new LocalBackplane(Options.Create(new RedisOptions())),
            new ChatMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>()),
            new ChatHistory(Options.Create(new HistoryOptions()), TimeProvider.System, store: null, NullLogger<ChatHistory>.Instance),
            Options.Create(options ?? new ChatOptions()),
            Options.Create(limits ?? new ChatLimitsOptions()));
}
