#!/usr/bin/env bash
# The cluster benchmark: two KestrelChat instances sharing one redis-server, the load generator's
# clients split over both (client i on instance i mod 2), so about half of all deliveries cross the
# Redis backplane. Prints cross-instance deliveries/s and latency beside the totals (docs/benchmarks.md).
#
#   bench/cluster.sh            room and paced, 1 run each
#   bench/cluster.sh paced      only paced
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
command -v redis-server >/dev/null || { echo "bench/cluster.sh needs redis-server (apt-get install redis-server)" >&2; exit 2; }

declare -A LOAD=(
  [room]="--clients 100 --senders 10 --messages 2000"
  [paced]="--clients 100 --senders 10 --messages 300 --rate 100"
)
workloads=("$@")
[[ $# -gt 0 ]] || workloads=(room paced)

out=bench/publish
echo "== building (Release): KestrelChat and the load generator" >&2
dotnet publish src/KestrelChat -c Release -o "$out/server" -v q >&2
dotnet publish bench/KestrelChat.LoadGen -c Release -o "$out/loadgen" -v q >&2
# shellcheck source=bench/servers.sh
source bench/servers.sh
results=$out/results/cluster
rm -rf "$results" && mkdir -p "$results"

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$results/redis.log" 2>&1 &
redis_pid=$!
pids=()
trap 'kill "${pids[@]}" "$redis_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break; sleep 0.1; done

channel=bench$RANDOM
ports=()
for name in c1 c2; do
  port=$(free_port)
  Chat__Redis__Configuration=127.0.0.1:$redis_port Chat__Redis__Channel=$channel Chat__Redis__InstanceName=$name \
    start_server kestrelchat "$port" "$results/$name.log" "$out/server/KestrelChat.dll"
  pids+=("$server_pid")
  ports+=("$port")
done
cluster_ports="${ports[0]},${ports[1]}"
echo "== warm-up (room-sized, across both instances)" >&2
"$out/loadgen/KestrelChat.LoadGen" --clients 100 --senders 10 --messages 2000 --port "$cluster_ports" --timeout-seconds 60 >/dev/null \
  || echo "warm-up failed" >&2
sleep 1

# shellcheck disable=SC2086 # LOAD holds several arguments
for w in "${workloads[@]}"; do
  echo "== $w across two instances: ${LOAD[$w]}" >&2
  "$out/loadgen/KestrelChat.LoadGen" ${LOAD[$w]} --port "$cluster_ports" --timeout-seconds 60 --json >"$results/$w.json" || true
done

echo "Machine: $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), Linux $(uname -r);" \
  "redis-server $(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2); load average $(cut -d' ' -f1 /proc/loadavg) at the end."
echo
python3 - "$results" "${workloads[@]}" <<'PY'
import json, sys
results, workloads = sys.argv[1], sys.argv[2:]
print("| workload | deliveries/s (all) | across instances/s | lost | p50 | p99 | p99 across | max |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for w in workloads:
    try:
        r = json.load(open(f"{results}/{w}.json"))
    except (OSError, ValueError):
        print(f"| {w} | failed | | | | | | |"); continue
    print(f"| {w} | {r['deliveriesPerSecond']:,.0f} | {r.get('crossDeliveriesPerSecond') or 0:,.0f} | {r['lost']:,} "
          f"| {r['latencyP50Ms']:.2f} ms | {r['latencyP99Ms']:.2f} ms | {r.get('crossLatencyP99Ms') or 0:.2f} ms | {r['latencyMaxMs']:.2f} ms |")
PY
