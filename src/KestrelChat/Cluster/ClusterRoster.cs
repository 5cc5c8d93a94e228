using System.Globalization;
using System.Text;
using KestrelChat.Admin;

namespace KestrelChat.Cluster;

/// <summary>
/// Who is on the other instances, as this instance knows it: changed by their events (a join, a rename, a move, a
/// leave: <see cref="ClusterMessageKind.Roster"/>), which come through the rooms' streams just before the notices
/// that tell them, so /who, /rooms and GET /clients agree with what members have read; repaired from each
/// instance's heartbeat list (byte counters, connections without a nickname, anything an event missed); an
/// instance declared dead or gone is forgotten. Answers from memory: a slow Redis delays none of them.
/// Each instance numbers its changes (<see cref="RedisBackplane"/>'s roster version): an event or a list older
/// than what is known of a client or an instance changes nothing (events of one client may come through two
/// rooms' streams, in either order).
/// </summary>
internal sealed class ClusterRoster
{
    private readonly Lock _gate = new(); // a leaf
    private readonly Dictionary<string, InstanceRoster> _instances = new(StringComparer.Ordinal); // _gate

    /// <summary>An event: <paramref name="message"/>'s origin changed one of its clients.</summary>
    public void Apply(ClusterMessage message)
    {
        if (message.Target is not { } id || !TryReadEvent(message.Line, out var version, out var client))
        {
            return;
        }
        lock (_gate)
        {
            var instance = Instance(message.Origin);
            if (instance.Clients.TryGetValue(id, out var known) && known.Version >= version)
            {
                return; // the same change through another room's stream, or an older one
            }
            instance.Clients[id] = Entry.Of(client, version, known);
            instance.Version = Math.Max(instance.Version, version);
        }
    }

    /// <summary>An instance's own list, as of its change number <paramref name="version"/>: replaces what is known if not older.</summary>
    public void Repair(string name, long version, IReadOnlyList<ClusterClient> clients)
    {
        lock (_gate)
        {
            var instance = Instance(name);
            if (version < instance.Version)
            {
                return; // events newer than the list came since it was written
            }
            var before = instance.Clients;
            instance.Clients = new(StringComparer.Ordinal);
            foreach (var client in clients)
            {
                instance.Clients[client.Id] = Entry.Of(client, version, before.GetValueOrDefault(client.Id));
            }
            instance.Version = version;
        }
    }

    /// <summary>The newest change of instance <paramref name="name"/> known here (from its events or its list); 0 if none.</summary>
    public long VersionOf(string name)
    {
        lock (_gate)
        {
            return _instances.TryGetValue(name, out var instance) ? instance.Version : 0;
        }
    }

    /// <summary>An instance that is gone (declared dead, stopped, or no longer listed as live).</summary>
    public void Forget(string name)
    {
        lock (_gate)
        {
            _instances.Remove(name);
        }
    }

    /// <summary>The instances known, for the repair to forget those no longer live.</summary>
    public IReadOnlyList<string> Instances
    {
        get
        {
            lock (_gate)
            {
                return [.. _instances.Keys];
            }
        }
    }

    /// <summary>Every client of the other instances, each with its instance.</summary>
    public IReadOnlyList<ClientInfo> Clients()
    {
        lock (_gate)
        {
            return [.. _instances.SelectMany(i => i.Value.Clients.Values.Where(c => c.Client is not null).Select(c => c.Client!.ToClientInfo(i.Key)))];
        }
    }

    /// <summary>The clients of instance <paramref name="name"/> as known here (for the survivor that declares it dead).</summary>
    public IReadOnlyList<ClusterClient> ClientsOf(string name)
    {
        lock (_gate)
        {
            return _instances.TryGetValue(name, out var instance)
                ? [.. instance.Clients.Values.Where(c => c.Client is not null).Select(c => c.Client!)]
                : [];
        }
    }

    /// <summary>Who holds <paramref name="nickname"/> on another instance, by look as nicknames compare.</summary>
    public NicknameOwner? Find(string nickname)
    {
        var key = Protocol.NicknameRules.Key(nickname);
        lock (_gate)
        {
            foreach (var (name, instance) in _instances)
            {
                foreach (var (id, entry) in instance.Clients)
                {
                    if (entry.Client?.Nick is { } nick && string.Equals(entry.Key, key, StringComparison.Ordinal))
                    {
                        return new NicknameOwner(name, id, nick);
                    }
                }
            }
            return null;
        }
    }

    /// <summary>An event's line: its change number, then the client as JSON (nothing: the client is gone).</summary>
    public static byte[] EventLine(long version, ClusterClient? client) =>
        Encoding.UTF8.GetBytes(client is null
            ? version.ToString(CultureInfo.InvariantCulture)
            : $"{version.ToString(CultureInfo.InvariantCulture)}\n{System.Text.Json.JsonSerializer.Serialize(client, Admin.ChatJsonContext.Default.ClusterClient)}");

    private static bool TryReadEvent(byte[] line, out long version, out ClusterClient? client)
    {
        client = null;
        var text = Encoding.UTF8.GetString(line);
        var newline = text.IndexOf('\n', StringComparison.Ordinal);
        if (!long.TryParse(newline < 0 ? text : text[..newline], NumberStyles.None, CultureInfo.InvariantCulture, out version))
        {
            return false;
        }
        if (newline >= 0)
        {
            client = ClusterClient.Deserialize(text[(newline + 1)..]);
            return client is not null;
        }
        return true;
    }

    // Under _gate.
    private InstanceRoster Instance(string name)
    {
        ref var instance = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_instances, name, out _);
        return instance ??= new InstanceRoster();
    }

    private sealed class InstanceRoster
    {
        public long Version; // the newest change known
        public Dictionary<string, Entry> Clients = new(StringComparer.Ordinal); // by connection id
    }

    /// <summary>
    /// A client as of change <paramref name="Version"/> (null: gone, kept against an older event), with its
    /// nickname's key (<see cref="Protocol.NicknameRules.Key"/>), worked out once per nickname: /msg looks
    /// nicknames up by look, and working out every key on each lookup cost two Unicode skeletons per client of
    /// the cluster (166,000 at 100,000 clients), under this lock.
    /// </summary>
    private readonly record struct Entry(ClusterClient? Client, long Version, string? Key)
    {
        public static Entry Of(ClusterClient? client, long version, Entry before) =>
            new(client, version, client?.Nick is not { } nick ? null
                : string.Equals(before.Client?.Nick, nick, StringComparison.Ordinal) ? before.Key
                : Protocol.NicknameRules.Key(nick));
    }
}
