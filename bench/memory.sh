#!/usr/bin/env bash
# Memory given back: the server's RSS at idle, after bursts, and 60 s after each burst ends, for
# KestrelChat and the C reference relay in the same run (docs/benchmarks.md, "Memory given back").
#
#   bench/memory.sh            storms of 2,000 talking clients (4 in a row), then 19,000 idle clients
#   bench/memory.sh -n 3       the whole sequence 3 times per server (the table shows each run)
#   SETTLE=60 bench/memory.sh  seconds to wait after a burst before reading RSS again (default 60)
#
# Everything goes to 127.0.0.1: clients from one generator process (at most 20,000 sockets per
# process here), the server under the machine's own open-files limit.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
runs=1
if [[ ${1:-} == -n ]]; then runs=$2; shift 2; fi
settle=${SETTLE:-60}
storm="--clients 2000 --senders 2000 --messages 10"   # everyone talks at once
idle="--clients 19000 --senders 0 --messages 1 --connect-concurrency 2000"   # everyone connects, names itself, says nothing

out=bench/publish
echo "== building (Release): KestrelChat, the load generator, the reference relay" >&2
dotnet publish src/KestrelChat -c Release -o "$out/server" -v q >&2
dotnet publish bench/KestrelChat.LoadGen -c Release -o "$out/loadgen" -v q >&2
cc -O2 -o "$out/relay" bench/reference/relay.c
# shellcheck source=bench/servers.sh
source bench/servers.sh
ulimit -n "$(ulimit -Hn)"
results=$out/memory
rm -rf "$results" && mkdir -p "$results"

rss_mb() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status"; }

echo "| server | run | idle | after storm 1 / 2 / 3 / 4 | ${settle} s after the storms | 19,000 idle clients | ${settle} s after they left | given back: after − idle |"
echo "|---|---|---|---|---|---|---|---|"
for run in $(seq "$runs"); do
  for server in reference kestrelchat; do
    port=$(free_port)
    program=$out/relay
    [[ $server == kestrelchat ]] && program=$out/server/KestrelChat.dll
    start_server "$server" "$port" "$results/$server.$run.log" "$program"
    sleep 2
    idle_rss=$(rss_mb)
    storms=()
    for i in 1 2 3 4; do
      # shellcheck disable=SC2086 # storm holds several arguments
      "$out/loadgen/KestrelChat.LoadGen" $storm --port "$port" --timeout-seconds 60 >"$results/$server.$run.storm$i.txt" \
        || echo "storm $i on $server lost messages: $results/$server.$run.storm$i.txt" >&2
      storms+=("$(rss_mb)")
    done
    sleep "$settle"
    after_storms=$(rss_mb)
    # shellcheck disable=SC2086
    "$out/loadgen/KestrelChat.LoadGen" $idle --port "$port" --timeout-seconds 120 --server-pid "$server_pid" >"$results/$server.$run.idle.txt" \
      || echo "19,000 idle clients on $server failed: $results/$server.$run.idle.txt" >&2
    peak_idle=$(awk '/peak RSS/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { print $i; exit } }' "$results/$server.$run.idle.txt")
    sleep "$settle"
    after_idle=$(rss_mb)
    stop_server
    echo "| $server | $run | ${idle_rss} MB | ${storms[0]} / ${storms[1]} / ${storms[2]} / ${storms[3]} MB | ${after_storms} MB | peak ${peak_idle:-?} MB | ${after_idle} MB | +$((after_storms - idle_rss)) / +$((after_idle - idle_rss)) MB |"
    sleep 1
  done
done
