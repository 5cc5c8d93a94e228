#!/usr/bin/env bash
# History's cost (issue 16), KestrelChat against itself, side by side in one run: the same loads with
# Chat:History on (a fresh SQLite file per server) and off, alternating, N runs each; medians shown.
#   room, crowd   deliveries/s and CPU per delivery, on and off; with history on, how long after the last
#                 delivery the store holds every line of the load (counted in the file)
#   storm         10,000 clients joining a room that has 20 lines of history: the time until all are in
#
#   bench/history.sh [-n RUNS] [room] [crowd] [storm]    (default: 3 runs, all three)    Output: a Markdown table on stdout.
# Needs: python3 (its sqlite3 module counts the lines). Builds into bench/run.sh's folders.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
[[ ${1:-} == -n ]] && { runs=$2; shift 2; }
workloads=("$@")
[[ ${#workloads[@]} -gt 0 ]] || workloads=(room crowd storm)
out=bench/publish
dotnet publish src/KestrelChat -c Release -o "$out/server" -v q >&2
dotnet publish bench/KestrelChat.LoadGen -c Release -o "$out/loadgen" -v q >&2
# shellcheck source=bench/servers.sh
source bench/servers.sh
ulimit -n "$(ulimit -Hn)"
results=$out/history-results
rm -rf "$results" && mkdir -p "$results"
declare -A LOAD=(
  [room]="--clients 100 --senders 10 --messages 2000"
  [crowd]="--clients 2000 --senders 4 --messages 200"
  [storm]="--clients 10000 --senders 1 --messages 5"
)
WARMUP="--clients 100 --senders 10 --messages 2000"

# Lines in the file for the lobby, once the writer has them.
count_lines() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from messages where kind < 3').fetchone()[0])" "$1" 2>/dev/null || echo 0; }

# Says 20 lines in the lobby as one client, so that every joiner of the storm is shown them.
seed_history() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"seeder\n" + b"".join(f"history line {i}: what was said before you came\n".encode() for i in range(1, 21)) + b"/history 1\n")
data = b""
while b"* End of history." not in data and b"keeps no history" not in data:
    data += s.recv(65536)
s.sendall(b"/part\n")
s.close()
PY
}

for w in "${workloads[@]}"; do
  for run in $(seq "$runs"); do
    for history in on off; do
      name="$results/$w.$history.$run"
      port=$(free_port)
      file=$(mktemp -d)/history.db
      export Chat__History__Enabled=$([[ $history == on ]] && echo true || echo false) Chat__History__Path=$file
      start_server kestrelchat "$port" "$name.log" "$out/server/KestrelChat.dll"
      echo "== $w, history $history, run $run of $runs" >&2
      if [[ $w != storm ]]; then
        for _ in 1 2 3; do "$out/loadgen/KestrelChat.LoadGen" $WARMUP --port "$port" --timeout-seconds 30 >/dev/null || true; done
        sleep 1
      else
        seed_history "$port"
      fi
      before=$([[ $history == on ]] && count_lines "$file" || echo 0)
      # shellcheck disable=SC2086
      "$out/loadgen/KestrelChat.LoadGen" ${LOAD[$w]} --port "$port" --server-pid "$server_pid" --timeout-seconds 60 --json >"$name.json" || true
      if [[ $history == on && $w != storm ]]; then
        expected=$((before + $(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['senders']*d['messages'])" "$name.json")))
        start=$(date +%s.%N); caught=""
        for _ in $(seq 200); do   # up to 20 s
          [[ $(count_lines "$file") -ge $expected ]] && { caught=$(python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)"); break; }
          sleep 0.1
        done
        echo "${caught:-never}" >"$name.caughtup"
      fi
      stop_server
      rm -rf "$(dirname "$file")"
      sleep 1
    done
  done
done
unset Chat__History__Enabled Chat__History__Path

python3 - "$results" "$runs" <<'PY'
import json, pathlib, statistics, sys
results, runs = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def med(values): 
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
print(f"{runs} runs per workload and setting, alternating, median shown (single runs in brackets).\n")
print("| workload | history | deliveries/s | CPU per delivery | connect all | peak RSS | store has every line after | on ÷ off |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for w in ["room", "crowd", "storm"]:
    if not (results / f"{w}.on.1.json").exists():
        continue
    medians = {}
    for h in ["on", "off"]:
        reports = [json.loads((results / f"{w}.{h}.{r}.json").read_text()) for r in range(1, runs + 1) if (results / f"{w}.{h}.{r}.json").exists()]
        caught = [(results / f"{w}.{h}.{r}.caughtup").read_text().strip() for r in range(1, runs + 1) if (results / f"{w}.{h}.{r}.caughtup").exists()]
        d = med([x["deliveriesPerSecond"] for x in reports]); c = med([x["connectSeconds"] for x in reports])
        medians[h] = (d, c)
        ns = med([x.get("serverCpuNsPerDelivery") for x in reports]); rss = med([x.get("serverPeakRssMB") for x in reports])
        failed = sum(1 for x in reports if not x["ok"])
        caught_text = (f"{med([float(v) for v in caught if v != 'never'])} s [{', '.join(caught)}]" if caught else "–")
        ratio = ""
        if h == "off":
            on, off = medians["on"], medians["off"]
            ratio = f"{on[0]/off[0]:.2f}× deliveries/s" if w != "storm" else f"{on[1]/off[1]:.2f}× connect time"
        connects = ", ".join("%.2f" % x["connectSeconds"] for x in reports)
        print(f"| {w} | {h} | {d:,.0f} | {ns:.0f} ns | {c:.2f} s [{connects}] | {rss:.0f} MB | {caught_text} | {ratio}{' ✗' * failed} |")
PY
