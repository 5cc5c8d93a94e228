#!/usr/bin/env bash
# The web chat's and the dashboard's cost (issue 18), KestrelChat against itself, side by side in one run:
#   crowd       2,000 clients over TCP and 2,000 over the web chat's WebSocket (/ws), against the same server,
#               one after the other (the order alternates between runs): deliveries/s, CPU per delivery, loss.
#               Target: WebSocket ≥ 0.5 × TCP.
#   dashboard   a longer crowd over TCP (2,000 clients, 4 senders × 12,000 lines: ~10 s of load) with a
#               dashboard open and without, one after the other (alternating): the open dashboard is what a page
#               keeps open, a reader of GET /dashboard/events (curl: the server's side of it; the browser's own
#               work happens on the operator's machine). Target: with ≥ 0.95 × without.
#
#   bench/web.sh [-n RUNS] [crowd] [dashboard]    (default: 5 runs, both)    Output: a Markdown table on stdout.
# Each run is a fresh server (history on, as by default) with warm-up loads over both transports first.
# Needs: curl. Builds into bench/run.sh's folders; reports stay in bench/publish/web-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
[[ ${1:-} == -n ]] && { runs=$2; shift 2; }
workloads=("$@")
[[ ${#workloads[@]} -gt 0 ]] || workloads=(crowd dashboard)
out=bench/publish
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
dotnet publish src/KestrelChat -c Release -o "$out/server" -v q >&2
dotnet publish bench/KestrelChat.LoadGen -c Release -o "$out/loadgen" -v q >&2
# shellcheck source=bench/servers.sh
source bench/servers.sh
ulimit -n "$(ulimit -Hn)"
results=$out/web-results
rm -rf "$results" && mkdir -p "$results"
CROWD="--clients 2000 --senders 4 --messages 200"
LONG="--clients 2000 --senders 4 --messages 12000"
WARMUP="--clients 100 --senders 10 --messages 2000"
loadgen() { "$out/loadgen/KestrelChat.LoadGen" "$@"; }

load_start=$(cut -d' ' -f1 /proc/loadavg)
for w in "${workloads[@]}"; do
  for run in $(seq "$runs"); do
    port=$(free_port) web_port=$(free_port) admin_port=$(free_port)
    start_server kestrelchat "$port" "$results/$w.$run.log" "$out/server/KestrelChat.dll"
    echo "== $w, run $run of $runs" >&2
    # Warm-up: both paths JIT-optimized before either is measured (docs/benchmarks.md: the first loads are slower).
    for _ in 1 2 3; do
      loadgen $WARMUP --port "$port" --timeout-seconds 30 >/dev/null || echo "warm-up (tcp) failed" >&2
      loadgen $WARMUP --transport ws --port "$web_port" --timeout-seconds 30 >/dev/null || echo "warm-up (ws) failed" >&2
    done
    sleep 1   # tier-1 compilation happens in the background
    # The order alternates, so neither setting always runs on the warmer server.
    if [[ $w == crowd ]]; then
      order=(tcp ws); (( run % 2 == 0 )) && order=(ws tcp)
      for t in "${order[@]}"; do
        p=$port; [[ $t == ws ]] && p=$web_port
        # shellcheck disable=SC2086 # CROWD holds several arguments
        loadgen $CROWD --transport "$t" --port "$p" --server-pid "$server_pid" --timeout-seconds 60 --json >"$results/crowd.$t.$run.json" || true
      done
    else
      order=(off on); (( run % 2 == 0 )) && order=(on off)
      for d in "${order[@]}"; do
        reader=""
        if [[ $d == on ]]; then
          curl -sN "http://127.0.0.1:$admin_port/dashboard/events" >"$results/dashboard.events.$run" &
          reader=$!
        fi
        # shellcheck disable=SC2086 # LONG holds several arguments
        loadgen $LONG --port "$port" --server-pid "$server_pid" --timeout-seconds 60 --json >"$results/dashboard.$d.$run.json" || true
        if [[ -n $reader ]]; then
          kill "$reader" 2>/dev/null; wait "$reader" 2>/dev/null || true
        fi
      done
    fi
    stop_server
    sleep 1
  done
done

echo "Machine: $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), Linux $(uname -r);" \
  "load average $load_start at the start, $(cut -d' ' -f1 /proc/loadavg) at the end; $runs runs, alternating, median shown (single runs in brackets)."
echo
python3 - "$results" "$runs" "${workloads[@]}" <<'PY'
import json, pathlib, statistics, sys
results, runs, workloads = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
SETTINGS = {"crowd": [("tcp", "TCP"), ("ws", "WebSocket")], "dashboard": [("off", "no dashboard"), ("on", "dashboard open")]}
TARGET = {"crowd": ("WebSocket ≥ 0.5 × TCP", 0.5), "dashboard": ("with the dashboard ≥ 0.95 × without", 0.95)}
print("| workload | setting | deliveries/s | lost | CPU per delivery | server CPU | peak RSS | ratio |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
checks = []
for w in workloads:
    medians = []
    for key, name in SETTINGS[w]:
        reports = []
        for r in range(1, runs + 1):
            f = results / f"{w}.{key}.{r}.json"
            try:
                reports.append(json.loads(f.read_text()))
            except (OSError, ValueError):
                print(f"{w}/{key} run {r}: no report", file=sys.stderr)
        if not reports:
            print(f"| {w} | {name} | no report | | | | | |")
            medians.append(None)
            continue
        for x in reports:
            if not x["ok"]:
                print(f"{w}/{key}: FAILED run: " + "; ".join(x["errors"] or [f"lost {x['lost']}"]), file=sys.stderr)
        rates = [x["deliveriesPerSecond"] for x in reports]
        d = statistics.median(rates)
        medians.append(d)
        lost = sum(x["lost"] for x in reports)
        failed = sum(not x["ok"] for x in reports)
        ns = statistics.median([x["serverCpuNsPerDelivery"] or 0 for x in reports])
        cpu = statistics.median([x["serverCpuPercent"] or 0 for x in reports])
        rss = statistics.median([x["serverPeakRssMB"] or 0 for x in reports])
        ratio = f"{d / medians[0]:.2f}×" if len(medians) == 2 and medians[0] else ""
        singles = ", ".join(f"{v / 1e6:.2f}" for v in rates)
        print(f"| {w} | {name} | {d:,.0f} [{singles} M] | {lost:,}{' ✗' * failed} | {ns:.0f} ns | {cpu:.0f} % | {rss:.0f} MB | {ratio} |")
    if w == "dashboard":
        events = [p.read_text().count("event: snapshot") for p in sorted(results.glob("dashboard.events.*"))]
        sizes = [len(p.read_bytes()) / max(p.read_text().count("event: snapshot"), 1) / 1024 for p in sorted(results.glob("dashboard.events.*"))]
        if events:
            print(f"\nThe dashboard's stream: {statistics.median(events):.0f} snapshots per run, {statistics.median(sizes):.0f} KiB each (median).")
    if None not in medians:
        name, at_least = TARGET[w]
        ratio = medians[1] / medians[0]
        failed = sum(1 for key, _ in SETTINGS[w] for r in range(1, runs + 1)
                     if (f := results / f"{w}.{key}.{r}.json").exists() and not json.loads(f.read_text())["ok"])
        checks.append((name, ratio >= at_least and failed == 0, f"{ratio:.2f}×, {failed} failed runs"))
if checks:
    print("\n| target | holds | measured |\n|---|---|---|")
    for name, ok, measured in checks:
        print(f"| {name} | {'yes' if ok else 'no'} | {measured} |")
PY
