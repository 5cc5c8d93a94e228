#!/usr/bin/env bash
# What the UDP chat's receive path allocates per datagram (issue 19: nothing, in the steady state), read from
# the server's own GC counter (dotnet.gc.heap.total_allocated, in GET /metrics) around each phase:
#   keepalive   a client in the chat sends empty datagrams ("still here"): the receive loop alone
#   strangers   datagrams from an address that never proves itself: each answered with its code
#   lines       a client in the chat, alone in its room, sends chat lines: the receive loop, the queue to its
#               session and the whole chat pipeline behind it (decoding, the room, history)
# Beside each phase, what the server allocates idle in as long (its timers, the scrape of /metrics itself).
# N runs each (median).
#
#   bench/udp.sh [-n RUNS] [-d DATAGRAMS]     (default: 3 runs of 200,000)    Output: a Markdown table on stdout.
# Needs: python3. Builds into bench/run.sh's folders.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 count=200000
while getopts "n:d:" opt; do case $opt in n) runs=$OPTARG ;; d) count=$OPTARG ;; *) exit 2 ;; esac; done
out=bench/publish
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
dotnet publish src/KestrelChat -c Release -o "$out/server" -v q >&2
# shellcheck source=bench/servers.sh
source bench/servers.sh
results=$out/udp-results
rm -rf "$results" && mkdir -p "$results"

for run in $(seq "$runs"); do
  port=$(free_port) admin_port=$(free_port)
  # The chat port's number for UDP too; start_server turns every limit off (flood control included).
  Chat__Udp__Port=$port start_server kestrelchat "$port" "$results/server.$run.log" "$out/server/KestrelChat.dll"
  echo "== run $run of $runs" >&2
  python3 - "$port" "$admin_port" "$count" "$server_pid" >"$results/run.$run.json" <<'PY'
import json, re, socket, sys, time, urllib.request
port, admin, count, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
server = ("127.0.0.1", port)

def allocated():
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10).read().decode()
    return int(float(re.search(r"^dotnet_gc_heap_total_allocated_bytes_total(?:\{[^}]*\})? (\S+)", text, re.M).group(1)))

def kernel_drops():
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])

def proved(name):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.connect(server)
    s.send(b"hello, server\n")
    code = re.search(rb"\d{6}", s.recv(2048)).group()
    s.send(code + b"\n")
    assert s.recv(2048) == b"NICK\n"
    s.send(name.encode() + b"\n")
    while b"* Welcome" not in s.recv(2048):
        pass
    return s

def settle():
    time.sleep(1.0)  # the session's queue and pipeline drain; tier-1 code is in by then

def measure(name, send):
    """Allocation during send() (and the settling after it), and what an idle interval as long allocates (timers, the scrape itself)."""
    settle()
    idle_start = allocated(); t0 = time.monotonic()
    time.sleep(0.5)
    idle_bytes, idle_seconds = allocated() - idle_start, time.monotonic() - t0
    drops = kernel_drops()
    start = allocated(); t0 = time.monotonic()
    send()
    settle()
    seconds = time.monotonic() - t0
    spent = allocated() - start
    return {"phase": name, "datagrams": count, "bytesPerDatagram": round(spent / count, 1),
            "idleBytesPerDatagram": round(idle_bytes / idle_seconds * seconds / count, 1),
            "seconds": round(seconds, 2), "kernelDrops": kernel_drops() - drops}

alice = proved("alice")
alice.send(b"/join #alone\n")
def keepalive():
    for _ in range(count):
        alice.send(b"")
def lines():
    for i in range(count):
        alice.send(b"a chat line of about forty bytes, %d\n" % i)
stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
stranger.connect(server)
stranger.setblocking(False)
def strangers():
    for _ in range(count):
        stranger.send(b"hi there!\n")
        try:
            while stranger.recv(2048):
                pass
        except BlockingIOError:
            pass

# Warm-up: every path 20,000 times, so JIT (tier 1) and the pools are warm before anything is measured.
measured, count = count, 20000
keepalive(); strangers(); lines()
count = measured
print(json.dumps([measure("keepalive", keepalive), measure("strangers", strangers), measure("lines", lines)]))
PY
  stop_server
done

python3 - "$results" "$runs" <<'PY'
import json, pathlib, statistics, sys
results, runs = pathlib.Path(sys.argv[1]), int(sys.argv[2])
reports = [json.loads((results / f"run.{r}.json").read_text()) for r in range(1, runs + 1)]
print(f"{runs} runs of {reports[0][0]['datagrams']:,} datagrams per phase; median shown (single runs in brackets).\n")
print("| phase | bytes the server allocated, per datagram | the same time idle, per datagram | seconds | datagrams the kernel dropped |")
print("|---|---:|---:|---:|---:|")
for i, phase in enumerate(p["phase"] for p in reports[0]):
    values = [r[i]["bytesPerDatagram"] for r in reports]
    idle = statistics.median(r[i]["idleBytesPerDatagram"] for r in reports)
    seconds = statistics.median(r[i]["seconds"] for r in reports)
    drops = sum(r[i]["kernelDrops"] for r in reports)
    print(f"| {phase} | {statistics.median(values):.1f} [{', '.join(f'{v:.1f}' for v in values)}] | {idle:.1f} | {seconds:.2f} | {drops:,} |")
PY
