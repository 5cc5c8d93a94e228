using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using KestrelChat.Admin;
using KestrelChat.Chat;
using KestrelChat.Hosting;
using Microsoft.Extensions.Options;
using KestrelChat.Protocol;
using StackExchange.Redis;
using ClientInfo = KestrelChat.Admin.ClientInfo;

namespace KestrelChat.Cluster;

/// <summary>
/// The cluster through one Redis, as SignalR's Redis backplane does it. Keys and channels, under
/// "kc:{Chat:Redis:Channel}":
/// <list type="bullet">
/// <item>channel ":to:{instance}" — lines for one instance;</item>
/// <item>":nick:{NICKNAME}" — who holds a nickname ("instance|connection|nickname"), claimed with
/// SET NX and an expiry the owner keeps renewing, so a crashed instance's nicknames free themselves;</item>
/// <item>":instances" — a sorted set of live instances by last heartbeat;</item>
/// <item>":dead:{instance}" — left for ten minutes by the survivor that declared an instance dead;</item>
/// <item>":clients:{instance}" — each instance's client list for GET /clients and кто в чате;</item>
/// <item>":stream:{room key}" — what the instances said in a room ("*": to everyone), in order
/// (<see cref="RoomStreamEntry"/>), kept for twice Chat:Redis:CatchUpSeconds; ":streams" — the rooms by their
/// last entry; channel ":streams" — each new entry with its id, as the script that added it published it.</item>
/// </list>
/// What is for the whole cluster goes through <see cref="ClusterOutbox"/> (kept while Redis is away) into the
/// rooms' streams, and comes in through <see cref="ClusterInbox"/> (live, or read back from the streams after an
/// outage): exactly once, in the streams' order. What is for one instance (a private message, a kick) is a
/// plain PUBLISH: at most once. Local chat never waits for Redis.
/// </summary>
internal sealed partial class RedisBackplane(
    IOptions<RedisOptions> options,
    ILogger<RedisBackplane> logger,
    IMeterFactory meters) : BackgroundService, IChatBackplane
{
    private const string RenewScript = """
        if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
        if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 2 end
        return 0
        """;

    // Many nicknames in one call: a heartbeat renews every client's claim, and one call each (a round trip and
    // a script run per nickname) kept Redis busy at 100,000 clients. Returns the positions (1-based) of the
    // keys another holds. The last argument is the TTL; ARGV[i] is KEYS[i]'s value.
    private const string RenewManyScript = """
        local ttl = ARGV[#ARGV]
        local conflicts = {}
        for i, key in ipairs(KEYS) do
          if redis.call('get', key) == ARGV[i] then redis.call('pexpire', key, ttl)
          elseif not redis.call('set', key, ARGV[i], 'NX', 'PX', ttl) then conflicts[#conflicts + 1] = i end
        end
        return conflicts
        """;

    /// <summary>Nicknames per renewal call: big enough that the call's own cost vanishes, small enough not to hold Redis for long (about a millisecond).</summary>
    private const int RenewBatch = 500;

    /// <summary>Another instance's list is read for a repair at most every this many heartbeats (15 s at the default claim time).</summary>
    private const int RepairEvery = 3;

    /// <summary>Every this many heartbeats (a minute at the default claim time) the client list is written whole and the others' lists read whole: counters, and a repair of anything a change missed.</summary>
    private const int WholeListEvery = 12;

    private const string ReleaseScript = """
        if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
        return 0
        """;

    // One entry: appended to the room's stream (trimmed to the retention, by time and length), the room marked
    // active in the index, and published with its id, all at once: subscribers see entries in the stream's order.
    private const string AppendScript = """
        local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[1])
        local ms = tonumber(string.match(id, '^(%d+)'))
        redis.call('XTRIM', KEYS[1], 'MINID', '~', ms - tonumber(ARGV[2]))
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        redis.call('ZADD', KEYS[2], ms, ARGV[4])
        redis.call('PUBLISH', ARGV[5], id .. '\n' .. ARGV[1])
        return id
        """;

    /// <summary>The most entries a room's stream keeps, whatever their age.</summary>
    internal const int StreamMaxLength = 20_000;

    private readonly RedisOptions _options = options.Value;
    private readonly string _prefix = $"kc:{options.Value.Channel}";
    private IClusterReceiver? _receiver;
    private readonly ClusterOutbox _outbox = new(TimeSpan.FromSeconds(options.Value.CatchUpSeconds),
        options.Value.CatchUpBufferMegabytes * 1024L * 1024, logger);
    private ClusterInbox? _inbox;
    private readonly ClusterRoster _roster = new();
    private long _rosterVersion;        // this instance's change number: each member change, and each list, carries it
    private long _lastAnswerAt;         // Environment.TickCount64 when Redis last answered the liveness check
    private ConnectionMultiplexer? _redis;
    private readonly SemaphoreSlim _subscribing = new(1, 1);
    private ChannelMessageQueue? _streamMessages, _myMessages;
    // Ends the live reader. Never disposed: the host may stop a service it has disposed (a test's factory does), and
    // a source without a timer holds nothing that needs it.
    private readonly CancellationTokenSource _stopping = new();
    private Task _liveReader = Task.CompletedTask;
    private int _liveBatchCount; // entries the live reader took and is delivering

    private string _instanceName = options.Value.Instance;
    private readonly string _instanceToken = Guid.NewGuid().ToString("N"); // which process holds the name's claim

    /// <summary>This instance's name: the configured or default one, or, if a live instance had the default, the one it took instead.</summary>
    public string InstanceName => Volatile.Read(ref _instanceName);

    public bool IsClustered => true;

    /// <summary>True while connected to Redis and subscribed; false means degraded (local chat only).</summary>
    public bool IsConnected => _redis?.IsConnected == true && _myMessages is not null;

    private TimeSpan ClaimTtl => TimeSpan.FromSeconds(_options.ClaimSeconds);

    /// <summary>
    /// A nickname's claim lives longer than the heartbeat's period: it is renewed only with the whole list (every
    /// <see cref="WholeListEvery"/> beats, 4 × ClaimSeconds), since renewing every claim every beat was most of
    /// Redis's work at 100,000 clients. A crashed instance's claims are freed by the survivor that declares it dead,
    /// or by the next process of its name; they expire by themselves only if neither comes.
    /// </summary>
    private TimeSpan NicknameTtl => ClaimTtl * (WholeListEvery / 3 + 1);

    public void Attach(IClusterReceiver receiver)
    {
        _receiver = receiver;
        _inbox = new ClusterInbox(_outbox.Origin, Route, ServerLines.LinesMissed, logger);
    }

    /// <summary>What the cluster said: the roster's own kinds change the roster first, the rest goes to the chat.</summary>
    private void Route(ClusterMessage message, DeferredFlushes? flushes)
    {
        switch (message.Kind)
        {
            case ClusterMessageKind.Roster:
                _roster.Apply(message);
                return;
            case ClusterMessageKind.InstanceGone when message.Target is { } gone:
                _roster.Forget(gone); // before the notices: /who agrees with them
                break;
        }
        _receiver?.Deliver(message, flushes);
    }

    public IDisposable MemberChanged(ChatSession session, string? nickname, string? room, string? previousRoom)
    {
        _outbox.Hold();
        var client = nickname is null ? null : ClusterClient.From(session) with { Nick = nickname, Room = room };
        var line = ClusterRoster.EventLine(Interlocked.Increment(ref _rosterVersion), client);
        foreach (var stream in (ReadOnlySpan<string?>)[room, previousRoom == room ? null : previousRoom])
        {
            if (stream is not null)
            {
                _outbox.Enqueue(new ClusterMessage(ClusterMessageKind.Roster, InstanceName, session.Id, line, stream));
            }
        }
        return _release ??= new OutboxRelease(_outbox);
    }

    private OutboxRelease? _release;

    private sealed class OutboxRelease(ClusterOutbox outbox) : IDisposable
    {
        public void Dispose() => outbox.Release();
    }

    public TimeSpan? RemoteStaleFor
    {
        get
        {
            var silent = TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastAnswerAt));
            // Redis answers the liveness check every LivenessInterval: two missed in a row, and what is known may be old.
            return IsConnected && silent < 2 * LivenessInterval ? null : silent;
        }
    }

    /// <summary>Messages for the whole cluster that Redis has not confirmed yet (kept while it is away).</summary>
    internal int Waiting => _outbox.Waiting;

    /// <summary>Entries the subscription brought that the clients here have not been given yet.</summary>
    internal long InboundWaiting => (_streamMessages?.TryGetCount(out var queued) == true ? queued : 0) + Volatile.Read(ref _liveBatchCount);

    /// <summary>Messages this instance dropped unsent (Redis away past the window or the bound).</summary>
    internal long Dropped => _outbox.Dropped;

    private TimeSpan Retention => TimeSpan.FromSeconds(2 * _options.CatchUpSeconds);

    private RedisChannel StreamChannel => RedisChannel.Literal($"{_prefix}:streams");

    private RedisKey StreamKey(string roomKey) => $"{_prefix}:stream:{roomKey}";

    private RedisKey StreamIndexKey => $"{_prefix}:streams";

    /// <summary>How long Redis takes to answer a PING, or null when it does not within <paramref name="bound"/> (or is away).</summary>
    public async Task<TimeSpan?> PingAsync(TimeSpan bound)
    {
        if (_redis is not { IsConnected: true } redis)
        {
            return null;
        }
        var ping = redis.GetDatabase().PingAsync();
        if (await Task.WhenAny(ping, Task.Delay(bound)).ConfigureAwait(false) != ping)
        {
            // A frozen Redis: the PING ends later, on the library's own timeout; its failure is observed there.
            _ = ping.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return null;
        }
        try
        {
            return await ping.ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            return null;
        }
    }

    /// <summary>The connection, shared with the cluster's history store (<see cref="History.RedisHistoryStore"/>); null before the start.</summary>
    internal ConnectionMultiplexer? Connection => _redis;

    /// <summary>"kc:{Chat:Redis:Channel}": every key of this cluster starts with it.</summary>
    internal string KeyPrefix => _prefix;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        meters.Create(ChatMetrics.MeterName).CreateObservableUpDownCounter("kestrelchat.cluster.entries.waiting", () => new Measurement<long>[]
            {
                new(InboundWaiting, new KeyValuePair<string, object?>("direction", "in")),
                new(_outbox.Waiting, new KeyValuePair<string, object?>("direction", "out")),
            }, "{entry}",
            "Room stream entries not yet through, by direction: in (from the other instances, not yet delivered to the clients here), out (for the other instances, not yet confirmed by Redis).");
        var configuration = ConfigurationOptions.Parse(_options.Configuration!);
        configuration.AbortOnConnectFail = false; // start and serve local clients even if Redis is down
        configuration.BacklogPolicy = BacklogPolicy.FailFast; // never queue chat lines for later: at most once
        configuration.ClientName = $"kestrelchat-{InstanceName}";
        // Back within a second of Redis: what waits in the outbox ages toward Chat:Redis:CatchUpSeconds meanwhile
        // (the library's default backs off exponentially, which added seconds after a ten-second outage).
        configuration.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
        configuration.ReconnectRetryPolicy = new LinearRetry(500);
        // The chat never waits for Redis longer than StartWait: a Redis that accepts the connection and never
        // answers held the start for over 20 s, the ports closed and nothing in the log. Without Redis this
        // instance serves its own clients; it joins the cluster when Redis answers (the heartbeat subscribes).
        LogConnecting(configuration.ToString(includePassword: false), StartWait.TotalSeconds);
        _connecting = ConnectAsync(configuration);
        using (var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(20)))
        {
            var until = DateTime.UtcNow + StartWait;
            while (_redis?.IsConnected != true && DateTime.UtcNow < until && await poll.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
            }
        }
        if (_redis?.IsConnected != true)
        {
            LogNotAnswering(configuration.ToString(includePassword: false), StartWait.TotalSeconds);
        }
        else
        {
            try
            {
                await ClaimInstanceNameAsync().ConfigureAwait(false); // a configured name a live instance has stops the start here
                _nameClaimed = true;
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                LogRedisCallFailed(ex.Message); // the heartbeat claims it
            }
        }
        await EnsureSubscribedAsync().ConfigureAwait(false);
        LogJoinedCluster(InstanceName, _options.Channel, _redis?.IsConnected == true);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The most the start waits for Redis.</summary>
    internal static readonly TimeSpan StartWait = TimeSpan.FromSeconds(3);

    private Task? _connecting; // observed by the heartbeat once it has ended

    private async Task ConnectAsync(ConfigurationOptions configuration)
    {
        var redis = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        redis.ConnectionFailed += (_, e) =>
        {
            LogRedisDown(e.EndPoint?.ToString(), e.FailureType.ToString());
            _inbox?.Suspend(); // what is published until the subscription is back is read from the streams
        };
        redis.ConnectionRestored += (_, e) =>
        {
            LogRedisBack(e.EndPoint?.ToString());
            _listLost = true;
            _ = HeartbeatAsync(); // subscribe if not yet, re-claim nicknames and re-list clients at once
        };
        _redis = redis; // late or not: the heartbeat claims the name and subscribes on its next tick
    }

    /// <summary>
    /// Two live instances with one name split the cluster without a word (each ignores the other's messages as
    /// its own): the name is claimed in Redis like a nickname, and renewed with the heartbeat. A default name
    /// that is taken becomes "NAME-2", "NAME-3"…; a configured one stops the start with the reason.
    /// </summary>
    private async Task ClaimInstanceNameAsync()
    {
        var db = Database();
        var name = InstanceName;
        for (var suffix = 2; ; suffix++)
        {
            if (await db.StringSetAsync(InstanceKey(name), _instanceToken, ClaimTtl, When.NotExists).ConfigureAwait(false)
                || await db.StringGetAsync(InstanceKey(name)).ConfigureAwait(false) == _instanceToken)
            {
                if (name != InstanceName)
                {
                    LogTookAnotherName(InstanceName, name);
                    Volatile.Write(ref _instanceName, name);
                }
                // A process of this name that crashed left its clients' nicknames claimed, and from now on nobody will
                // declare it dead (the name is live again): free them, as a survivor would have.
                await ReleaseListedAsync(db, name).ConfigureAwait(false);
                // Watched for liveness from now on: an instance that crashes within its first second is found dead too.
                await db.SortedSetAddAsync($"{_prefix}:instances", name, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()).ConfigureAwait(false);
                Volatile.Write(ref _present, true);
                Volatile.Write(ref _lastAnswerAt, Environment.TickCount64);
                return;
            }
            if (_options.InstanceNameIsExplicit)
            {
                throw new InstanceNameTakenException(
                    $"Chat:Redis:InstanceName '{name}' is the name of another live instance of cluster '{_options.Channel}'. Give each instance its own name (or leave it unset).");
            }
            name = $"{_options.Instance}-{suffix}";
        }
    }

    private RedisKey InstanceKey(string name) => $"{_prefix}:instance:{name}";

    /// <summary>Left by the survivor that declared an instance dead: if it was only stalled, it learns so when it is back.</summary>
    private RedisKey DeadKey(string name) => $"{_prefix}:dead:{name}";

    private readonly SemaphoreSlim _beating = new(1, 1); // one heartbeat at a time: the tick and a reconnect's may meet
    // What this instance's list in Redis holds, per connection: written as changes between whole writes (_beating).
    private readonly Dictionary<string, ListedClient> _listed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _repairedFrom = new(StringComparer.Ordinal); // instance → the beat its list was last read at (_beating)
    private long _beats; // _beating: heartbeats so far
    private long _wholeListBeat = -WholeListEvery; // _beating: when the list was last written whole (the first one is)
    private volatile bool _listLost = true; // Redis came back (it may have restarted empty): the next list is whole
    private bool _nameClaimed; // heartbeat only, after the start
    private bool _present;     // this instance has put itself in the instances set once (at its name claim)

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _liveReader.ConfigureAwait(false);
        if (_redis is { IsConnected: true } redis)
        {
            // Leave the cluster's lists at once rather than when the entries expire.
            await Try(() => Task.WhenAll(
                redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, [InstanceKey(InstanceName)], [_instanceToken]),
                redis.GetDatabase().SortedSetRemoveAsync($"{_prefix}:instances", InstanceName),
                redis.GetDatabase().KeyDeleteAsync(ClientsKey(InstanceName)))).ConfigureAwait(false);
        }
    }

    public override void Dispose()
    {
        _redis?.Dispose();
        _subscribing.Dispose();
        _beating.Dispose();
        _outbox.Dispose();
        _inbox?.Dispose();
        base.Dispose();
    }

    private static readonly TimeSpan LocalClaimLogPeriod = TimeSpan.FromSeconds(10);
    private long _localClaimsUnlogged;
    private long _localClaimLoggedAt = long.MinValue / 2;

    public async ValueTask<bool> TryClaimNicknameAsync(ChatSession session, string nickname, CancellationToken cancellationToken = default)
    {
        var claim = ClaimAsync(NicknameKey(nickname), ClaimValue(session, nickname));
        using (var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var timeout = Task.Delay(BackplaneHealthCheck.PingTimeout, bound.Token);
            await Task.WhenAny(claim, timeout).ConfigureAwait(false);
            await bound.CancelAsync().ConfigureAwait(false);
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (claim.IsCompletedSuccessfully && claim.Result is { } claimed)
        {
            return claimed;
        }
        // Redis is down or does not answer within the bound: a join never waits longer. The name is unique on this
        // instance only until the heartbeat re-claims it (a clash is logged then).
        // One line per LocalClaimLogPeriod with a count, not one per join: a connect storm on a busy machine can
        // make thousands of claims miss the bound in a minute, and the log must not become the storm.
        var unlogged = Interlocked.Increment(ref _localClaimsUnlogged);
        var now = Stopwatch.GetTimestamp();
        var last = Volatile.Read(ref _localClaimLoggedAt);
        if (Stopwatch.GetElapsedTime(last, now) >= LocalClaimLogPeriod && Interlocked.CompareExchange(ref _localClaimLoggedAt, now, last) == last)
        {
            LogClaimedLocally(nickname, claim.IsCompleted ? "Redis is unreachable" : $"Redis did not answer within {BackplaneHealthCheck.PingTimeout.TotalSeconds:0.#} s",
                Interlocked.Exchange(ref _localClaimsUnlogged, 0) - 1);
        }
        return true;
    }

    /// <summary>True: claimed (or already this session's); false: another holds it; null: Redis failed. Never throws.</summary>
    private async Task<bool?> ClaimAsync(RedisKey key, RedisValue value)
    {
        try
        {
            var db = Database();
            return await db.StringSetAsync(key, value, NicknameTtl, When.NotExists).ConfigureAwait(false)
                || await db.StringGetAsync(key).ConfigureAwait(false) == value;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            LogRedisCallFailed(ex.Message);
            return null;
        }
    }

    public void ReleaseNickname(ChatSession session, string nickname) => _ = Try(() =>
        Database().ScriptEvaluateAsync(ReleaseScript, [NicknameKey(nickname)], [ClaimValue(session, nickname)]));

    public void Publish(ClusterMessage message, string? instance)
    {
        if (instance is null)
        {
            _outbox.Enqueue(message); // kept until Redis takes it
            return;
        }
        if (_redis is not { IsConnected: true } redis)
        {
            return; // for one instance: at most once
        }
        try
        {
            redis.GetSubscriber().Publish(InstanceChannel(instance), message.Serialize(), CommandFlags.FireAndForget);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            LogPublishFailed(ex.Message);
        }
    }

    public Task<NicknameOwner?> FindNicknameAsync(string nickname, CancellationToken cancellationToken = default) =>
        Task.FromResult(_roster.Find(nickname));

    public Task<IReadOnlyList<ClientInfo>> GetRemoteClientsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_roster.Clients());

    /// <summary>
    /// The other live instances' own lists, read back: what events missed (or cannot carry: byte counters,
    /// connections without a nickname) is repaired, and instances no longer live are forgotten.
    /// </summary>
    private async Task RepairRosterAsync(IDatabase db, bool whole)
    {
        // Every instance still in the set: one that stopped answering stays in the roster until the survivor that
        // declares it dead says who left (the notices and the lists change together).
        var live = (await db.SortedSetRangeByRankAsync($"{_prefix}:instances").ConfigureAwait(false))
            .Select(i => (string)i!).Where(i => i != InstanceName).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _roster.Instances.Where(i => !live.Contains(i)))
        {
            _roster.Forget(gone);
        }
        foreach (var forgotten in _repairedFrom.Keys.Where(i => !live.Contains(i)).ToList())
        {
            _repairedFrom.Remove(forgotten);
        }
        foreach (var instance in live)
        {
            // Read whole on the minute (counters); otherwise only a list whose version moved past what the events
            // told (a member change they may have missed), and not more often than every RepairEvery beats: in a
            // connect storm every list moves at every beat, and reading 16,000 entries from each instance at each
            // beat held Redis the most; the events are seldom behind the list.
            if (!whole && _repairedFrom.TryGetValue(instance, out var readAt)
                && (_beats - readAt < RepairEvery
                    || ((await db.HashGetAsync(ClientsKey(instance), VersionField).ConfigureAwait(false)).TryParse(out long current)
                        && current <= _roster.VersionOf(instance)))) // the list read last, or the events since, have it all
            {
                continue;
            }
            var entries = await db.HashGetAllAsync(ClientsKey(instance)).ConfigureAwait(false);
            var version = entries.FirstOrDefault(e => e.Name == VersionField).Value;
            if (version.IsNull || !version.TryParse(out long asOf))
            {
                continue; // an instance of an older release, or a list being replaced
            }
            _roster.Repair(instance, asOf, [.. entries.Where(e => e.Name != VersionField)
                .Select(e => ClusterClient.Deserialize((string)e.Value!)).OfType<ClusterClient>()]);
            _repairedFrom[instance] = _beats;
        }
    }

    /// <summary>The field of an instance's client list that says as of which change it was written.</summary>
    private const string VersionField = "_v";

    /// <summary>Every third of the claim time: say this instance is alive, renew its nicknames, refresh its client list.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var liveness = LivenessAsync(stoppingToken);
        var outbox = _outbox.RunAsync(SendEntriesAsync, async () => await PingAsync(BackplaneHealthCheck.PingTimeout).ConfigureAwait(false) is not null,
            TimeSpan.FromSeconds(1), stoppingToken);
        var inbox = _inbox?.RunAsync(ActiveRoomsAsync, ReadStreamAsync, SubscriptionReadyAsync, IsRedisFailure, stoppingToken) ?? Task.CompletedTask;
        try
        {
            using var timer = new PeriodicTimer(ClaimTtl / 3);
            do
            {
                await HeartbeatAsync().ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        finally
        {
            await Task.WhenAll(liveness, outbox, inbox).ConfigureAwait(false);
        }
    }

    /// <summary>Appends entries to their rooms' streams, pipelined, in order; how many from the first Redis confirmed.</summary>
    private async Task<int> SendEntriesAsync(IReadOnlyList<(RoomStreamEntry Entry, byte[] Payload)> entries)
    {
        if (_redis is not { } redis)
        {
            return 0;
        }
        var db = redis.GetDatabase();
        var retention = (long)Retention.TotalMilliseconds;
        var channel = (RedisValue)StreamChannel.ToString();
        var calls = new Task[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            var key = ClusterOutbox.RoomKey(entries[i].Entry.Room);
            calls[i] = db.ScriptEvaluateAsync(AppendScript, [StreamKey(key), StreamIndexKey], [entries[i].Payload, retention, StreamMaxLength, key, channel]);
        }
        var confirmed = 0;
        foreach (var call in calls)
        {
            try
            {
                await call.ConfigureAwait(false);
                confirmed++;
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                LogRedisCallFailed(ex.Message);
                break;
            }
        }
        if (confirmed < calls.Length)
        {
            // Sent again from the first unconfirmed one; the calls after it end on their own: observe them.
            try
            {
                await Task.WhenAll(calls[confirmed..]).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                // Logged above.
            }
        }
        return confirmed;
    }

    private async Task<IReadOnlyList<string>> ActiveRoomsAsync(long sinceMilliseconds) =>
        [.. (await Database().SortedSetRangeByScoreAsync(StreamIndexKey, sinceMilliseconds).ConfigureAwait(false)).Select(k => (string)k!)];

    private async Task<IReadOnlyList<(StreamId Id, RoomStreamEntry? Entry)>> ReadStreamAsync(string roomKey, StreamId after, bool inclusive)
    {
        var entries = await Database().StreamRangeAsync(StreamKey(roomKey), inclusive ? after.ToString() : $"({after}", "+", ClusterInbox.ReadCount).ConfigureAwait(false);
        return [.. entries.Select(e => (
            StreamId.TryParse(System.Text.Encoding.ASCII.GetBytes(e.Id.ToString()), out var id) ? id : StreamId.Zero,
            e["e"] is { IsNull: false } payload ? RoomStreamEntry.Deserialize(((byte[])payload!).AsSpan()) : null))];
    }

    /// <summary>Returns once the subscription answers (entries published from then on come live); throws while it does not.</summary>
    private async Task SubscriptionReadyAsync()
    {
        await EnsureSubscribedAsync().ConfigureAwait(false);
        var subscriber = Database().Multiplexer.GetSubscriber();
        if (_streamMessages is null || !subscriber.IsConnected(StreamChannel))
        {
            throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, CommandFlags.None, "The subscription is not back yet.");
        }
        await subscriber.PingAsync().ConfigureAwait(false);
    }

    /// <summary>How often an instance says it is alive and looks for those that stopped: a fifth of Chat:Redis:DeadAfterSeconds.</summary>
    private TimeSpan LivenessInterval => TimeSpan.FromSeconds(_options.DeadAfterSeconds) / 5;

    /// <summary>Never throws: ends with the stop.</summary>
    private async Task LivenessAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(LivenessInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                try
                {
                    await Try(CheckLivenessAsync).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogLivenessFailed(ex); // a defect, not Redis: said, and the next tick tries again
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The stop.
        }
    }

    [LoggerMessage(LogLevel.Error, "The liveness check failed")]
    private partial void LogLivenessFailed(Exception exception);

    /// <summary>
    /// Says this instance is alive (its score in the instances set) and looks for instances whose score is
    /// older than Chat:Redis:DeadAfterSeconds. Removing one from the set is atomic, so exactly one survivor
    /// speaks for each dead instance: it frees the nicknames its clients had, drops its client list, and tells
    /// every instance (itself included) which members left which rooms.
    /// </summary>
    private async Task CheckLivenessAsync()
    {
        if (_redis is not { IsConnected: true } || !_nameClaimed)
        {
            return;
        }
        var db = Database();
        RedisKey instances = $"{_prefix}:instances";
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        if (await db.SortedSetAddAsync(instances, InstanceName, now).ConfigureAwait(false) && _present
            && await db.KeyDeleteAsync(DeadKey(InstanceName)).ConfigureAwait(false))
        {
            // Not an update but an add, and the survivor's word that it removed this instance (not a Redis that
            // restarted empty): its members were told that this instance's clients left. They have not: announce them
            // again (the heartbeat re-claims and re-lists).
            var back = (_receiver?.Connections ?? []).Where(c => c.Nickname is not null && c.Room is not null).ToList();
            foreach (var member in back)
            {
                MemberChanged(member, member.Nickname, member.Room!.Name, previousRoom: null).Dispose(); // in the rosters before the notices
            }
            var members = back.Select(c => $"{c.Nickname}\t{c.Room!.Name}\n").ToList();
            LogBackFromTheDead(InstanceName, members.Count);
            if (members.Count > 0)
            {
                Publish(new ClusterMessage(ClusterMessageKind.InstanceBack, InstanceName, null, System.Text.Encoding.UTF8.GetBytes(string.Concat(members))), instance: null);
            }
        }
        _present = true;
        Volatile.Write(ref _lastAnswerAt, Environment.TickCount64);
        var dead = await db.SortedSetRangeByScoreAsync(instances, double.NegativeInfinity, now - _options.DeadAfterSeconds * 1000L).ConfigureAwait(false);
        foreach (var name in dead.Select(d => (string)d!).Where(n => n != InstanceName))
        {
            if (!await db.SortedSetRemoveAsync(instances, name).ConfigureAwait(false))
            {
                continue; // another survivor took it
            }
            await db.StringSetAsync(DeadKey(name), InstanceName, TimeSpan.FromMinutes(10)).ConfigureAwait(false);
            // Its members as its list last said and as its events told since (a client who joined after its last
            // heartbeat is in the events only); by connection, the events' word last.
            var members = (await ListedClientsAsync(db, name).ConfigureAwait(false))
                .Concat(_roster.ClientsOf(name))
                .GroupBy(c => c.Id).Select(g => g.Last()).Where(c => c.Nick is not null).ToList();
            await ReleaseAsync(db, name, members).ConfigureAwait(false);
            LogInstanceDead(name, _options.DeadAfterSeconds, members.Count);
            // Even with no named members: every instance forgets its connections.
            var gone = new ClusterMessage(ClusterMessageKind.InstanceGone, InstanceName, name,
                System.Text.Encoding.UTF8.GetBytes(string.Concat(members.Select(c => $"{c.Nick}\t{c.Room}\n"))));
            Publish(gone, instance: null);
            Route(gone, flushes: null); // the others get it through Redis; this instance's members too
        }
    }

    private async Task<IEnumerable<ClusterClient>> ListedClientsAsync(IDatabase db, string instance) =>
        (await db.HashValuesAsync(ClientsKey(instance)).ConfigureAwait(false))
            .Select(json => ClusterClient.Deserialize((string)json!)).OfType<ClusterClient>();

    /// <summary>Drops <paramref name="instance"/>'s list and frees the nicknames its <paramref name="members"/> had (only claims that are still theirs).</summary>
    private async Task ReleaseAsync(IDatabase db, string instance, IEnumerable<ClusterClient> members)
    {
        await db.KeyDeleteAsync(ClientsKey(instance)).ConfigureAwait(false);
        await Task.WhenAll(members.Where(c => c.Nick is not null)
            .Select(c => db.ScriptEvaluateAsync(ReleaseScript, [NicknameKey(c.Nick!)], [$"{instance}|{c.Id}|{c.Nick}"]))).ConfigureAwait(false);
    }

    /// <summary>What an earlier process of this instance's name listed; never this process's own connections.</summary>
    private async Task ReleaseListedAsync(IDatabase db, string instance)
    {
        var mine = (_receiver?.Connections ?? []).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var listed = await ListedClientsAsync(db, instance).ConfigureAwait(false);
        await ReleaseAsync(db, instance, [.. listed.Where(c => !mine.Contains(c.Id))]).ConfigureAwait(false);
        _listLost = true; // the list is gone: the next one is written whole
    }

    /// <summary>Never throws: a failed heartbeat is retried on the next tick (a throwing BackgroundService would stop the host).</summary>
    private async Task HeartbeatAsync()
    {
        if (!_nameClaimed && _redis is { IsConnected: true })
        {
            try
            {
                await ClaimInstanceNameAsync().ConfigureAwait(false); // Redis answered only after the start
                _nameClaimed = true;
            }
            catch (InstanceNameTakenException ex)
            {
                LogRedisCallFailed(ex.Message);
                _nameClaimed = true; // said once; the renewals say the rest
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                LogRedisCallFailed(ex.Message);
            }
        }
        if (_connecting is { IsCompleted: true } connecting)
        {
            _connecting = null;
            if (connecting.Exception is { } failed)
            {
                LogRedisCallFailed(failed.GetBaseException().Message); // a configuration Redis refused outright
            }
        }
        await EnsureSubscribedAsync().ConfigureAwait(false);
        await Try(HeartbeatCoreAsync).ConfigureAwait(false);
    }

    /// <summary>
    /// Subscribes to this cluster's channel and this instance's own, once each; a failure (Redis not
    /// there yet) is retried by the next heartbeat. StackExchange.Redis re-subscribes after reconnects.
    /// ChannelMessageQueue.OnMessage keeps the order of messages; the Action overload would not.
    /// </summary>
    private async Task EnsureSubscribedAsync()
    {
        if (_myMessages is not null || _redis is not { IsConnected: true } redis || !await _subscribing.WaitAsync(0).ConfigureAwait(false))
        {
            return; // subscribed, no Redis, or another call is subscribing right now
        }
        try
        {
            var subscriber = redis.GetSubscriber();
            if (_streamMessages is null)
            {
                _streamMessages = await subscriber.SubscribeAsync(StreamChannel).ConfigureAwait(false);
                _liveReader = ReadLiveAsync(_streamMessages, _stopping.Token);
            }
            _myMessages = await subscriber.SubscribeAsync(InstanceChannel(InstanceName)).ConfigureAwait(false);
            _myMessages.OnMessage(OnMessage);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            LogRedisCallFailed(ex.Message);
        }
        finally
        {
            _subscribing.Release();
        }
    }

    private async Task HeartbeatCoreAsync()
    {
        if (_redis is not { IsConnected: true } redis || !await _beating.WaitAsync(0).ConfigureAwait(false))
        {
            return; // no Redis, or the other heartbeat is at it
        }
        _beats++;
        var whole = _listLost || _beats - _wholeListBeat >= WholeListEvery;
        try
        {
            var db = redis.GetDatabase();
            var asOf = Interlocked.Read(ref _rosterVersion); // read first: the list has every change up to it
            var sessions = _receiver?.Connections.ToArray() ?? [];
            var ttlMs = (long)ClaimTtl.TotalMilliseconds;
            _inbox?.Forget(Retention + TimeSpan.FromMinutes(1));
            await Task.WhenAll(
                whole ? RenewNicknamesAsync(db, sessions, (long)NicknameTtl.TotalMilliseconds) : Task.CompletedTask,
                RenewInstanceNameAsync(db, ttlMs),
                ListClientsAsync(db, asOf, sessions, whole),
                // Rooms quiet for longer than the streams keep: their streams have expired.
                db.SortedSetRemoveRangeByScoreAsync(StreamIndexKey, double.NegativeInfinity, DateTimeOffset.UtcNow.Subtract(Retention).ToUnixTimeMilliseconds()),
                RepairRosterAsync(db, whole)).ConfigureAwait(false);
        }
        catch when (whole)
        {
            _listLost = true; // the claims' renewal may not have happened: the next beat renews them all again
            throw;
        }
        finally
        {
            _beating.Release();
        }
    }

    private async Task RenewNicknamesAsync(IDatabase db, ChatSession[] sessions, long ttlMs)
    {
        var named = sessions.Select(s => (Session: s, Nickname: s.Nickname)).Where(n => n.Nickname is not null).ToArray();
        await Task.WhenAll(named.Chunk(RenewBatch).Select(async batch =>
        {
            RedisKey[] keys = [.. batch.Select(n => NicknameKey(n.Nickname!))];
            RedisValue[] values = [.. batch.Select(n => (RedisValue)ClaimValue(n.Session, n.Nickname!)), ttlMs];
            foreach (var conflict in (int[]?)await db.ScriptEvaluateAsync(RenewManyScript, keys, values).ConfigureAwait(false) ?? [])
            {
                var (session, nickname) = batch[conflict - 1];
                LogNicknameConflict(nickname!, session.Id); // claimed elsewhere while Redis was away
            }
        })).ConfigureAwait(false);
    }

    private async Task RenewInstanceNameAsync(IDatabase db, long ttlMs)
    {
        if ((long)await db.ScriptEvaluateAsync(RenewScript, [InstanceKey(InstanceName)], [_instanceToken, ttlMs]).ConfigureAwait(false) == 0)
        {
            LogInstanceNameClash(InstanceName); // taken while Redis was away (this instance started without it)
        }
    }

    /// <summary>
    /// This instance's client list in Redis (what a survivor reads if this instance dies, and what the others repair
    /// their rosters from): whole every <see cref="WholeListEvery"/> heartbeats and after Redis came back, otherwise
    /// only the connections that came, went or changed name, room or rank since the last write. Rewriting 16,000
    /// entries every 5 s held Redis for a fifth of a second each time, on every instance.
    /// </summary>
    private async Task ListClientsAsync(IDatabase db, long asOf, ChatSession[] sessions, bool whole)
    {
        var key = ClientsKey(InstanceName);
        var changed = whole ? sessions : [.. sessions.Where(s => !_listed.TryGetValue(s.Id, out var listed) || listed != ListedClient.Of(s))];
        var present = whole ? null : sessions.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        RedisValue[] gone = whole ? [] : [.. _listed.Keys.Where(id => !present!.Contains(id)).Select(id => (RedisValue)id)];
        // One MULTI/EXEC: the commands' own results say nothing the transaction's does not, so they are sent
        // fire-and-forget (their tasks complete at once) and ExecuteAsync alone reports a failure (to Try).
        var transaction = db.CreateTransaction();
        if (whole)
        {
            _ = transaction.KeyDeleteAsync(key, CommandFlags.FireAndForget);
        }
        if (gone.Length > 0)
        {
            _ = transaction.HashDeleteAsync(key, gone, CommandFlags.FireAndForget);
        }
        _ = transaction.HashSetAsync(key, [new(VersionField, asOf), .. changed.Select(s => new HashEntry(s.Id, ClusterClient.Serialize(s)))], CommandFlags.FireAndForget);
        // Kept past Chat:Redis:DeadAfterSeconds: the survivor that declares this instance dead reads who was here.
        // As long as the nickname claims it lists: the next process of this name frees them from it.
        _ = transaction.KeyExpireAsync(key, NicknameTtl + TimeSpan.FromSeconds(2 * _options.DeadAfterSeconds), flags: CommandFlags.FireAndForget);
        try
        {
            await transaction.ExecuteAsync().ConfigureAwait(false);
        }
        catch
        {
            _listLost = true; // whether it was applied is unknown: the next list is whole
            throw;
        }
        if (whole)
        {
            _listed.Clear();
            _wholeListBeat = _beats;
            _listLost = false;
        }
        foreach (var id in gone)
        {
            _listed.Remove((string)id!);
        }
        foreach (var session in changed)
        {
            _listed[session.Id] = ListedClient.Of(session);
        }
    }

    /// <summary>What of a connection its list entry must follow at once; its counters wait for the next whole list.</summary>
    private readonly record struct ListedClient(string? Nickname, string? Room, bool Operator)
    {
        public static ListedClient Of(ChatSession session) => new(session.Nickname, session.Room?.Name, session.IsOperator);
    }

    private void OnMessage(ChannelMessage message)
    {
        if (ClusterMessage.Deserialize(((byte[])message.Message!).AsSpan()) is { } parsed && parsed.Origin != InstanceName)
        {
            _receiver?.Deliver(parsed);
        }
    }

    /// <summary>Live entries taken from the subscription at most this many at a time.</summary>
    private const int LiveBatch = 256;

    /// <summary>
    /// Hands what the subscription brings to the inbox, in order, on this one loop: everything that queued up while
    /// the last batch went out goes as the next batch (up to <see cref="LiveBatch"/>), so a backlog of entries costs
    /// each member here one flush per batch, not one per entry. Ends with the stop, or when the library completes
    /// the subscription (the connection disposed). Never throws.
    /// </summary>
    private async Task ReadLiveAsync(ChannelMessageQueue queue, CancellationToken stopping)
    {
        var batch = new List<(StreamId Id, RoomStreamEntry Entry)>(LiveBatch);
        try
        {
            while (true)
            {
                var message = await queue.ReadAsync(stopping).ConfigureAwait(false);
                do
                {
                    var bytes = ((byte[])message.Message!).AsSpan();
                    var newline = bytes.IndexOf((byte)'\n');
                    if (newline > 0 && StreamId.TryParse(bytes[..newline], out var id) && RoomStreamEntry.Deserialize(bytes[(newline + 1)..]) is { } entry)
                    {
                        batch.Add((id, entry));
                    }
                }
                while (batch.Count < LiveBatch && queue.TryRead(out message));
                Volatile.Write(ref _liveBatchCount, batch.Count);
                try
                {
                    _inbox?.OnLive(batch);
                }
                catch (Exception ex)
                {
                    LogLiveDeliveryFailed(ex, batch.Count); // a defect: said, and the entries after these still go out
                }
                finally
                {
                    batch.Clear();
                    Volatile.Write(ref _liveBatchCount, 0);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The stop.
        }
        catch (ChannelClosedException)
        {
            // The connection was disposed.
        }
    }

    [LoggerMessage(LogLevel.Error, "Delivering {Count} entries from other instances failed")]
    private partial void LogLiveDeliveryFailed(Exception exception, int count);

    private static bool IsRedisFailure(Exception ex) => ex is RedisException or TimeoutException or ObjectDisposedException;

    private RedisChannel InstanceChannel(string instance) => RedisChannel.Literal($"{_prefix}:to:{instance}");

    // By look, as the room compares them: "аlice" on one instance and "alice" on another are one claim.
    private RedisKey NicknameKey(string nickname) => $"{_prefix}:nick:{NicknameRules.Key(nickname)}";

    private RedisKey ClientsKey(string instance) => $"{_prefix}:clients:{instance}";

    private string ClaimValue(ChatSession session, string nickname) => $"{InstanceName}|{session.Id}|{nickname}";

    /// <summary>The database; a Redis failure (caught like any other) while the start's connection has not been made yet.</summary>
    private IDatabase Database() => _redis?.GetDatabase()
        ?? throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, CommandFlags.None, "Redis has not answered yet.");

    /// <summary>Runs a Redis call whose failure must not matter to the chat (Redis away, or the process stopping).</summary>
    private async Task Try(Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            LogRedisCallFailed(ex.Message);
        }
    }

    [LoggerMessage(LogLevel.Warning, "Another live instance of the cluster is called {Taken}: this one is {Name} (set Chat:Redis:InstanceName to choose)")]
    private partial void LogTookAnotherName(string taken, string name);

    [LoggerMessage(LogLevel.Error, "Another live instance of the cluster is called {Name} as well (it took the name while this one had no Redis): lines between the two are lost; give each its own Chat:Redis:InstanceName")]
    private partial void LogInstanceNameClash(string name);

    [LoggerMessage(LogLevel.Warning, "This instance ({Instance}) was declared dead by the cluster while it was stalled; its {Members} named clients are announced again")]
    private partial void LogBackFromTheDead(string instance, int members);

    [LoggerMessage(LogLevel.Warning, "Instance {Instance} has not said it is alive for {Seconds} s: declared dead; its {Members} named clients left and their nicknames are free")]
    private partial void LogInstanceDead(string instance, int seconds, int members);

    [LoggerMessage(LogLevel.Information, "Connecting to Redis ({Configuration}); the chat starts within {Seconds} s whatever Redis does")]
    private partial void LogConnecting(string configuration, double seconds);

    [LoggerMessage(LogLevel.Warning, "Redis ({Configuration}) has not answered within {Seconds} s: starting without it, serving local clients only; this instance joins the cluster when Redis answers")]
    private partial void LogNotAnswering(string configuration, double seconds);

    [LoggerMessage(LogLevel.Information, "Instance {Instance} joined chat cluster '{Channel}' through Redis (connected: {Connected})")]
    private partial void LogJoinedCluster(string instance, string channel, bool connected);

    [LoggerMessage(LogLevel.Warning, "Redis unreachable ({EndPoint}, {Failure}): serving local clients only; lines are not crossing instances until it is back")]
    private partial void LogRedisDown(string? endPoint, string failure);

    [LoggerMessage(LogLevel.Information, "Redis connection restored ({EndPoint}): the cluster is whole again")]
    private partial void LogRedisBack(string? endPoint);

    [LoggerMessage(LogLevel.Warning, "Redis unreachable: nickname {Nickname} is unique on this instance only until Redis is back ({Error}); {Others} other nicknames likewise since the last such line")]
    private partial void LogClaimedLocally(string nickname, string error, long others);

    [LoggerMessage(LogLevel.Warning, "Nickname {Nickname} (connection {ConnectionId}) was claimed on another instance while Redis was unreachable")]
    private partial void LogNicknameConflict(string nickname, string connectionId);

    [LoggerMessage(LogLevel.Warning, "Publishing to Redis failed: {Error}")]
    private partial void LogPublishFailed(string error);

    [LoggerMessage(LogLevel.Warning, "Other instances' clients are unavailable: {Error}")]
    private partial void LogRemoteClientsUnavailable(string error);

    [LoggerMessage(LogLevel.Debug, "A Redis call failed: {Error}")]
    private partial void LogRedisCallFailed(string error);
}

/// <summary>A configured instance name that a live instance of the cluster has: the start stops with the reason.</summary>
internal sealed class InstanceNameTakenException(string message) : Exception(message);
