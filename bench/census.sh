#!/usr/bin/env bash
# Where the memory of idle clients goes (issue 20): the server idle, then with N idle named clients (default
# 19,000: what one process's 20,000 open files allow), then 60 s after they all left. At each point: RSS and
# its parts from /proc/PID/smaps_rollup, the GC's own figures (GET /metrics), and a census of the managed heap by
# type (dotnet-dump's dumpheap -stat -live: exact counts and sizes of what is reachable), per client; the RSS from one
# server, the heap censuses from another (a dump makes the dumped process's RSS grow). The clients are counted once the connect storm is past: 15 s (the socket
# buffer pools keep a burst's blocks for 10 s: Hosting/TrimmingMemoryPool.cs) and the compacting collection that
# gives them back (Hosting/MemoryTrimmer.cs); those are the storm's, not the idle clients'.
#
#   bench/census.sh [-c CLIENTS] [-s SETTLE_SECONDS]      Output: Markdown on stdout; the censuses stay in
#                                                         bench/publish/census/ (*.heapstat.txt).
#   AOT=1 bench/census.sh …                               the Native AOT build (RSS and GC figures only:
#                                                         dotnet-dump cannot read a Native AOT process's heap)
# Needs: dotnet-dump (installed here as a global tool if missing), python3; a few GB free in /tmp for the dumps.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=19000 settle=60
while getopts "c:s:" opt; do case $opt in c) clients=$OPTARG ;; s) settle=$OPTARG ;; *) exit 2 ;; esac; done
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 PATH="$PATH:$HOME/.dotnet/tools"
command -v dotnet-dump >/dev/null || dotnet tool install -g dotnet-dump --version 10.0.750501 >&2
out=bench/publish
# shellcheck source=bench/servers.sh
source bench/servers.sh
publish_servers "$out"
dotnet publish bench/KestrelChat.LoadGen -c Release -o "$out/loadgen" -v q >&2
ulimit -n "$(ulimit -Hn)"
results=$out/census
rm -rf "$results" && mkdir -p "$results"

trap 'kill "${server_pid:-}" 2>/dev/null || true' EXIT

# One point: RSS and its parts (kB), and the GC's figures (bytes), as one JSON object.
snapshot() {
  python3 - "$server_pid" "$admin_port" "$1" <<'PY'
import json, re, sys, urllib.request
pid, admin, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rollup = {}
for line in open(f"/proc/{pid}/smaps_rollup"):
    parts = line.split()
    if len(parts) >= 3 and parts[2] == "kB":
        rollup[parts[0].rstrip(":")] = int(parts[1])
metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10).read().decode()
def metric(name, label=None):
    total = 0.0
    for m in re.finditer(rf"^{name}(\{{[^}}]*\}})? (\S+)$", metrics, re.M):
        if label is None or (m.group(1) and label in m.group(1)):
            total += float(m.group(2))
    return int(total)
print(json.dumps({"point": name, "rssKB": rollup["Rss"], "anonymousKB": rollup["Anonymous"],
                  "fileKB": rollup["Rss"] - rollup["Anonymous"],
                  "gcHeapBytes": metric("dotnet_gc_last_collection_heap_size_bytes"),
                  "gcCommittedBytes": metric("dotnet_gc_last_collection_memory_committed_size_bytes"),
                  "gcFragmentationBytes": metric("dotnet_gc_last_collection_heap_fragmentation_size_bytes"),
                  "socketBuffersInUseBytes": metric("kestrelchat_socket_buffers_in_use_bytes"),
                  "socketBuffersIdleBytes": metric("kestrelchat_socket_buffers_idle_bytes")}))
PY
}

# The managed heap by type, exactly: a heap dump, read with dumpheap -stat, then deleted (it is as big as the heap).
heapstat() {
  local dump=$results/$1.dump
  dotnet-dump collect -p "$server_pid" --type Heap -o "$dump" >/dev/null 2>&1 || { echo "dotnet-dump collect ($1) failed" >&2; return 0; }
  dotnet-dump analyze "$dump" -c "dumpheap -stat -live" -c exit >"$results/$1.heapstat.txt" 2>/dev/null || echo "dumpheap ($1) failed" >&2
  rm -f "$dump"
}

# Two passes over a fresh server each: taking a dump makes the dumped process's RSS grow (by about 150 MB
# here: createdump reads its whole address space), so the RSS readings come from a server that is never
# dumped, and the heap censuses from a second one.
# pass rss|heap: idle, N idle named clients (after the storm's memory is given back), and SETTLE s after they left.
# The server's log has its give-backs ("Memory given back after a burst: …"): when they ran, and what they freed.
server_env=("Serilog__MinimumLevel__Override__KestrelChat.Hosting=Information")
pass() {
  local mode=$1
  port=$(free_port) admin_port=$(free_port)
  start_server kestrelchat "$port" "$results/server.$mode.log" "$kestrelchat_program"
  sleep 3
  if [[ $mode == rss ]]; then snapshot idle >"$results/idle.json"; else heapstat idle; fi
  "$out/loadgen/KestrelChat.LoadGen" --port "$port" --clients "$clients" --senders 0 --messages 1 --connect-concurrency 2000 \
    --timeout-seconds 120 --hold-seconds 150 --server-pid "$server_pid" >"$results/loadgen.$mode.txt" 2>"$results/loadgen.$mode.err" &
  loadgen=$!
  for _ in $(seq 1200); do grep -q holding "$results/loadgen.$mode.err" && break; sleep 0.1; done
  grep -q holding "$results/loadgen.$mode.err" || { echo "the clients never all got in:" >&2; cat "$results/loadgen.$mode.txt" "$results/loadgen.$mode.err" >&2; exit 1; }
  sleep 15   # past the pools' 10 s window: what is left is what idle clients hold
  before=$(given_back)
  for _ in $(seq 30); do sleep 2; [ "$(given_back)" != "$before" ] && break; done
  [ "$(given_back)" != "$before" ] || echo "no compacting collection within 60 s: RSS still holds the storm's garbage" >&2
  if [[ $mode == rss ]]; then snapshot "with $clients clients" >"$results/clients.json"; else heapstat clients; fi
  wait "$loadgen" || echo "the load generator reported a failure: $results/loadgen.$mode.txt" >&2
  sleep "$settle"
  if [[ $mode == rss ]]; then snapshot "$settle s after they left" >"$results/after.json"; else heapstat after; fi
  stop_server
}
given_back() { curl -s "http://127.0.0.1:$admin_port/metrics" | awk '/^kestrelchat_memory_given_back_total/ {n += $NF} END {print n + 0}'; }

pass rss
pass heap
trap - EXIT

echo "Machine: $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), Linux $(uname -r), .NET $(dotnet --list-runtimes | awk '/NETCore.App/ {v = $2} END {print v}'); $clients idle named clients (bench/census.sh)."
echo
python3 - "$results" "$clients" <<'PY'
import json, pathlib, re, sys
results, clients = pathlib.Path(sys.argv[1]), int(sys.argv[2])
points = [json.loads((results / f"{p}.json").read_text()) for p in ("idle", "clients", "after")]
mb = lambda kb: f"{kb / 1024:.1f} MB"
print("| point | RSS | anonymous | file-backed | GC heap (live after the last GC) | GC committed | GC fragmentation | socket buffers in use / idle in the pools |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for p in points:
    print(f"| {p['point']} | {mb(p['rssKB'])} | {mb(p['anonymousKB'])} | {mb(p['fileKB'])} | {p['gcHeapBytes'] / 1048576:.1f} MB "
          f"| {p['gcCommittedBytes'] / 1048576:.1f} MB | {p['gcFragmentationBytes'] / 1048576:.1f} MB "
          f"| {p['socketBuffersInUseBytes'] / 1048576:.1f} / {p['socketBuffersIdleBytes'] / 1048576:.1f} MB |")
idle, full = points[0], points[1]
print(f"\nPer client (with them − idle, ÷ {clients:,}): RSS {(full['rssKB'] - idle['rssKB']) * 1024 / clients / 1024:.1f} KB, "
      f"anonymous {(full['anonymousKB'] - idle['anonymousKB']) / clients:.1f} KB, "
      f"GC heap {(full['gcHeapBytes'] - idle['gcHeapBytes']) / clients / 1024:.1f} KB, "
      f"GC committed {(full['gcCommittedBytes'] - idle['gcCommittedBytes']) / clients / 1024:.1f} KB.")

def census(name):
    """dumpheap -stat: 'MT Count TotalSize Class Name' rows → {type: (bytes, count)}."""
    types = {}
    path = results / f"{name}.heapstat.txt"
    if not path.exists():
        return types
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*[0-9a-f]{8,16}\s+([\d,]+)\s+([\d,]+)\s+(.+?)\s*$", line)
        if m:
            count, size = int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))
            previous = types.get(m.group(3), (0, 0))
            types[m.group(3)] = (previous[0] + size, previous[1] + count)
    return types
before, after = census("idle"), census("clients")
if after:
    grown = sorted(((after[t][0] - before.get(t, (0, 0))[0], after[t][1] - before.get(t, (0, 0))[1], t) for t in after), reverse=True)
    total = sum(g[0] for g in grown)
    print(f"\nThe managed heap's growth by type (dotnet-dump, dumpheap -stat -live, with the clients − idle): {total / 1048576:.1f} MB, "
          f"{total / clients:,.0f} bytes per client. The 30 largest:\n")
    print("| type | bytes | objects | bytes per client | objects per client |")
    print("|---|---:|---:|---:|---:|")
    for size, count, name in grown[:30]:
        print(f"| `{name}` | {size:,} | {count:,} | {size / clients:,.0f} | {count / clients:.2f} |")
left = census("after")
if left:
    kept = sorted(((left[t][0] - before.get(t, (0, 0))[0], left[t][1] - before.get(t, (0, 0))[1], t) for t in left), reverse=True)
    total = sum(k[0] for k in kept)
    print(f"\nWhat the managed heap still holds after they left (dumpheap -stat -live, after − idle): {total / 1048576:.1f} MB. The 15 largest:\n")
    print("| type | bytes | objects |")
    print("|---|---:|---:|")
    for size, count, name in kept[:15]:
        print(f"| `{name}` | {size:,} | {count:,} |")
PY
