#!/usr/bin/env bash
# What the idle process is made of (issue 20: idle process ≤ 70 MB): KestrelChat and the Kestrel floor
# (bench/KestrelChat.Floor: a bare Kestrel ConnectionHandler), each started fresh and read SETTLE seconds later,
# RUNS times, alternating; then, from the last run of each, RSS by mapping (/proc/PID/smaps: each file, the
# runtime's /memfd:doublemapper — JIT-compiled code and the type system's data, mapped through a memfd by W^X —
# the native heap and the anonymous rest), the largest differences first.
#
#   bench/idle.sh [-n RUNS] [-s SETTLE_SECONDS] [-t TOP]      Output: Markdown on stdout.
#   AOT=1 bench/idle.sh …                                      both servers as Native AOT executables
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 settle=4 top=30
while getopts "n:s:t:" opt; do case $opt in n) runs=$OPTARG ;; s) settle=$OPTARG ;; t) top=$OPTARG ;; *) exit 2 ;; esac; done
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
out=bench/publish
# shellcheck source=bench/servers.sh
source bench/servers.sh
publish_servers "$out" floor
results=$out/idle
rm -rf "$results" && mkdir -p "$results"
trap 'kill "${server_pid:-}" 2>/dev/null || true' EXIT

# RSS (kB) by mapping name, as JSON: files by their name, the rest as the kernel names it ([heap], [anon], …).
mappings() {
  python3 - "$1" <<'PY'
import collections, json, sys
rss, name = collections.Counter(), None
for line in open(f"/proc/{sys.argv[1]}/smaps"):
    parts = line.split()
    if len(parts) >= 5 and "-" in parts[0] and ":" in parts[3]:
        name = parts[5].rsplit("/", 1)[-1] if len(parts) > 5 else "[anonymous]"
    elif parts and parts[0] == "Rss:":
        rss[name] += int(parts[1])
print(json.dumps(rss))
PY
}

for run in $(seq "$runs"); do
  for server in kestrelchat floor; do
    port=$(free_port) admin_port=$(free_port)
    if [[ $server == kestrelchat ]]; then program=$kestrelchat_program; else program=$floor_program; fi
    start_server "$server" "$port" "$results/$server.$run.log" "$program"
    sleep "$settle"
    mappings "$server_pid" >"$results/$server.$run.json"
    stop_server
  done
done

echo "Machine: $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), Linux $(uname -r), .NET $(dotnet --list-runtimes | awk '/NETCore.App/ {v = $2} END {print v}') ($([[ ${AOT:-0} == 1 ]] && echo "Native AOT" || echo "JIT-compiled")); each server read ${settle} s after its start, $runs runs each (bench/idle.sh)."
echo
python3 - "$results" "$runs" "$top" <<'PY'
import json, pathlib, statistics, sys
results, runs, top = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
read = lambda server, run: json.loads((results / f"{server}.{run}.json").read_text())
totals = {s: [sum(read(s, r).values()) / 1024 for r in range(1, runs + 1)] for s in ("kestrelchat", "floor")}
print("| server | idle RSS, each run | median |")
print("|---|---|---:|")
for server, label in (("kestrelchat", "KestrelChat"), ("floor", "Kestrel floor")):
    print(f"| {label} | {', '.join(f'{t:.1f}' for t in totals[server])} MB | {statistics.median(totals[server]):.1f} MB |")
kc, floor = read("kestrelchat", runs), read("floor", runs)
names = sorted(set(kc) | set(floor), key=lambda n: -abs(kc.get(n, 0) - floor.get(n, 0)))
print(f"\nRSS by mapping in run {runs}, the {top} largest differences (KestrelChat − floor: "
      f"{(sum(kc.values()) - sum(floor.values())) / 1024:.1f} MB in all):\n")
print("| mapping | KestrelChat | Kestrel floor | difference |")
print("|---|---:|---:|---:|")
for name in names[:top]:
    print(f"| `{name}` | {kc.get(name, 0):,} kB | {floor.get(name, 0):,} kB | {kc.get(name, 0) - floor.get(name, 0):+,} kB |")
PY
