#!/usr/bin/env bash
# The cluster at scale (issue 20): INSTANCES KestrelChat instances and one redis-server on this machine,
# CLIENTS clients spread over them by SHARDS load generator processes (one process may hold only 20,000
# open files here), each binding its clients to its own 127.0.0.x source address (ephemeral ports run
# out near 28,000 per address). All of them name themselves and are in one room; then one of them says
# MESSAGES lines, one a second, and every other client must get each line: deliveries, loss and the
# latency percentiles over all the shards, the set's peak RSS and the CPU of Redis and the instances.
#
#   bench/cluster-scale.sh                          100,000 clients, 6 instances, 8 generator processes
#   bench/cluster-scale.sh -c 12000 -i 3 -s 2       smaller
#   AOT=1 bench/cluster-scale.sh                    the instances as the Native AOT build (the Docker image's)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
command -v redis-server >/dev/null || { echo "bench/cluster-scale.sh needs redis-server (apt-get install redis-server)" >&2; exit 2; }

clients=100000 instances=6 shards=8 messages=5
while getopts c:i:s:m: opt; do
  case $opt in
    c) clients=$OPTARG ;; i) instances=$OPTARG ;; s) shards=$OPTARG ;; m) messages=$OPTARG ;;
    *) echo "usage: $0 [-c CLIENTS] [-i INSTANCES] [-s SHARDS] [-m MESSAGES]" >&2; exit 2 ;;
  esac
done
per_instance=$(( (clients + instances - 1) / instances ))
per_shard=$(( (clients + shards - 1) / shards ))
(( per_instance <= 19000 && per_shard <= 19000 )) \
  || { echo "$clients clients need more instances and shards: each process may hold 20,000 open files" >&2; exit 2; }

out=bench/publish
echo "== building (Release): KestrelChat and the load generator" >&2
# shellcheck source=bench/servers.sh
source bench/servers.sh
publish_servers "$out"
dotnet publish bench/KestrelChat.LoadGen -c Release -o "$out/loadgen" -v q >&2
ulimit -n "$(ulimit -Hn)"
results=$out/results/cluster-scale
rm -rf "$results" && mkdir -p "$results"

pids=() gen_pids=() server_pids=()
# Redis last: instances that lose it while they stop log every write that failed.
cleanup() {
  kill "${gen_pids[@]}" "${server_pids[@]}" 2>/dev/null || true
  wait "${gen_pids[@]}" "${server_pids[@]}" 2>/dev/null || true
  kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true
}
trap cleanup EXIT

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --maxclients 10000 >"$results/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break; sleep 0.1; done

channel=scale$RANDOM
# CLUSTER_LOG=Debug: the backplane's own log lines (catch-ups, retries) in the instances' logs
server_env=("Serilog__MinimumLevel__Override__KestrelChat.Cluster=${CLUSTER_LOG:-Warning}")
ports=() admin_ports=()
for n in $(seq "$instances"); do
  port=$(free_port) admin_port=$(free_port)
  # DeadAfterSeconds 30 instead of 5: with every process of the run on two cores, the connect storm stalls an
  # instance's liveness beat for longer than 5 s, and the others would declare it dead (docs/benchmarks.md).
  Chat__Redis__Configuration=127.0.0.1:$redis_port Chat__Redis__Channel=$channel Chat__Redis__InstanceName=i$n \
    Chat__Redis__DeadAfterSeconds=${DEAD_AFTER:-30} \
    start_server kestrelchat "$port" "$results/instance$n.log" "$kestrelchat_program"
  pids+=("$server_pid") server_pids+=("$server_pid")
  ports+=("$port") admin_ports+=("$admin_port")
done
port_list=$(IFS=,; echo "${ports[*]}")

# user + system CPU seconds of a process, from /proc/PID/stat (fields 14 and 15, in clock ticks)
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
rss_mb() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
peak_mb() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

idle_rss=0
for pid in "${server_pids[@]}"; do idle_rss=$(( idle_rss + $(rss_mb "$pid") )); done

start_file=$results/start
prefix="s$RANDOM."
echo "== $clients clients over $instances instances ($port_list) from $shards generator processes" >&2
connect_start=$(date +%s.%N)
for k in $(seq 0 $((shards - 1))); do
  # shellcheck disable=SC2046 # one argument per word
  "$out/loadgen/KestrelChat.LoadGen" --clients "$clients" --shard "$k/$shards" --senders 1 --messages "$messages" --rate 1 \
    --port "$port_list" --source "127.0.0.$((k + 2))" --name-prefix "$prefix" --start-file "$start_file" \
    --connect-concurrency "${CONCURRENCY:-100}" --timeout-seconds 600 --send-timeout-seconds 120 --json >"$results/shard$k.json" 2>"$results/shard$k.err" &
  gen_pids+=($!)
done

# The barrier: every generator process says "ready" once all its clients have their welcome.
deadline=$(( $(date +%s) + 900 ))
while true; do
  ready=$(cat "$results"/shard*.err | grep -c '^ready' || true)
  (( ready == shards )) && break
  for pid in "${gen_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a generator process exited before it was ready:" >&2; cat "$results"/shard*.err >&2; exit 1; }
  done
  (( $(date +%s) < deadline )) || { echo "not every client was in the chat after 900 s" >&2; exit 1; }
  sleep 1
done
connect_seconds=$(echo "$(date +%s.%N) - $connect_start" | bc)
rss_all=0
for pid in "${server_pids[@]}"; do rss_all=$(( rss_all + $(rss_mb "$pid") )); done
redis_rss=$(rss_mb "$redis_pid")
echo "== all $clients in the chat after ${connect_seconds%.*} s; RSS of the instances ${rss_all} MB; the line goes out" >&2
# The storm's tail: the joins cross to the other instances as roster events in the room's stream, ahead of any
# line said after them. The timed phase measures a line in a settled cluster: it starts once, for 3 s in a row,
# Redis has been quiet (under 300 commands a second) and no instance has stream entries waiting to be delivered
# to its clients or confirmed by Redis (kestrelchat.cluster.entries.waiting in each instance's GET /metrics).
waiting_entries() {
  local total=0 port n
  for port in "${admin_ports[@]}"; do
    n=$(curl -s --max-time 5 "http://127.0.0.1:$port/metrics" | awk '/^kestrelchat_cluster_entries_waiting/ { sum += $NF } END { print sum + 0 }') || n=1
    total=$((total + n))
  done
  echo "$total"
}
settle_start=$(date +%s)
quiet=0
while (( quiet < 3 && $(date +%s) - settle_start < 600 )); do
  ops=$(redis-cli -p "$redis_port" info stats | awk -F: '/^instantaneous_ops_per_sec/ { print $2 + 0 }')
  waiting=$(waiting_entries)
  if (( ops < 300 && waiting == 0 )); then quiet=$((quiet + 1)); else quiet=0; fi
  sleep 1
done
settle_seconds=$(( $(date +%s) - settle_start ))
echo "== the cluster was quiet ${settle_seconds} s after the last client got in" >&2
redis_cpu_before=$(cpu_seconds "$redis_pid")
servers_cpu_before=0
for pid in "${server_pids[@]}"; do servers_cpu_before=$(echo "$servers_cpu_before + $(cpu_seconds "$pid")" | bc); done
touch "$start_file"
failed=0
for pid in "${gen_pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
gen_pids=()
(( failed == 0 )) || echo "$failed of $shards generator processes reported a failed run (their reports say why)" >&2
redis_cpu=$(echo "$(cpu_seconds "$redis_pid") - $redis_cpu_before" | bc)
servers_cpu=0
for pid in "${server_pids[@]}"; do servers_cpu=$(echo "$servers_cpu + $(cpu_seconds "$pid")" | bc); done
servers_cpu=$(echo "$servers_cpu - $servers_cpu_before" | bc)
peak_all=0
for pid in "${server_pids[@]}"; do peak_all=$(( peak_all + $(peak_mb "$pid") )); done
redis_peak=$(peak_mb "$redis_pid")

echo "Machine: $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), Linux $(uname -r);" \
  "redis-server $(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2); load average $(cut -d' ' -f1 /proc/loadavg) at the end."
echo
python3 - "$results" "$shards" "$clients" "$instances" "$connect_seconds" "$idle_rss" "$rss_all" "$peak_all" \
  "$redis_rss" "$redis_peak" "$redis_cpu" "$servers_cpu" "$messages" "$settle_seconds" <<'PY'
import json, sys
(results, shards, clients, instances, connect, idle, rss, peak, redis_rss, redis_peak, redis_cpu, servers_cpu,
 messages, settle) = sys.argv[1:]
reports = []
for k in range(int(shards)):
    try:
        reports.append(json.load(open(f"{results}/shard{k}.json")))
    except (OSError, ValueError):
        print(f"shard {k}: no report", file=sys.stderr)
expected = sum(r["expected"] for r in reports)
delivered = sum(r["delivered"] for r in reports)
disorder = sum(r["outOfOrder"] for r in reports)
ready = sum(r["readyClients"] for r in reports)
buckets = sorted(b for r in reports for b in (r.get("latencyBuckets") or []))
count = sum(c for _, c in buckets)
def percentile(p):
    rank, seen = max(1, -(-count * p // 100)), 0
    for bound, c in buckets:
        seen += c
        if seen >= rank:
            return bound / 1000
    return 0.0
errors = [e for r in reports for e in r["errors"]]
print("| clients in the chat | instances | connect all | quiet after | deliveries | lost | out of order | p50 | p99 | max "
      "| instances' RSS idle → with all | instances' peak RSS | Redis RSS (peak) | Redis CPU | instances' CPU |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
print(f"| {ready:,} of {int(clients):,} | {instances} | {float(connect):.0f} s | {settle} s | {delivered:,} of {expected:,} | {expected - delivered:,} "
      f"| {disorder:,} | {percentile(50):.1f} ms | {percentile(99):.1f} ms | {max((b for b, _ in buckets), default=0) / 1000:.1f} ms "
      f"| {idle} → {rss} MB | {peak} MB | {redis_rss} ({redis_peak}) MB | {float(redis_cpu):.2f} s | {float(servers_cpu):.2f} s |")
print(f"\n{messages} lines, one a second, from one client to all the others: the CPU columns are the timed phase's.")
for e in errors[:10]:
    print(f"error: {e}", file=sys.stderr)
ok = ready == int(clients) and delivered == expected and disorder == 0 and not errors
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
PY
