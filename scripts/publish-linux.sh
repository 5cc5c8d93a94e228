#!/usr/bin/env bash
# A Linux build that runs on a VM without the .NET SDK or runtime (it needs only glibc and libicu, which
# Ubuntu and Debian have). Two kinds:
#   self-contained single file (the default): publish/linux-x64/KestrelChat, about 100 MB;
#   Native AOT (--aot): publish/linux-x64-aot/KestrelChat, about 27 MB of machine code beside SQLite's
#     libe_sqlite3.so; it starts at once and idles in about 30 MB less memory (docs/benchmarks.md). Building it
#     needs a C toolchain (clang or gcc, and zlib1g-dev); the Dockerfile builds this one.
#
#   scripts/publish-linux.sh [--aot]            build it (with its appsettings.json, web/ and dashboard/)
#   scripts/publish-linux.sh [--aot] --check    build it, then use it as people do (CI): start it on free ports,
#       chat with nc, read the admin API (/clients, the OpenAPI document, Swagger UI, a 400's explanation, the
#       history), log to a file set in configuration, join two instances through redis-server when there is
#       one, and stop it with POST /stop
#
# Copy the folder to the VM and run ./KestrelChat there (./KestrelChat --help lists the settings).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
rid=${RID:-linux-x64}
aot=false check=false
for arg in "$@"; do
  case $arg in
    --aot) aot=true ;;
    --check) check=true ;;
    *) echo "usage: scripts/publish-linux.sh [--aot] [--check]" >&2; exit 2 ;;
  esac
done
if $aot; then
  kind="Native AOT build" out=publish/$rid-aot
  rm -rf "$out"
  dotnet publish src/KestrelChat -c Release -r "$rid" -p:PublishAot=true -p:StripSymbols=true -o "$out" -v q >&2
  rm -f "$out"/*.dbg
else
  kind="single-file build" out=publish/$rid
  rm -rf "$out"
  dotnet publish src/KestrelChat -c Release -r "$rid" --self-contained -p:PublishSingleFile=true \
    -p:DebugType=none -o "$out" -v q >&2
fi
echo "$out/KestrelChat ($(du -h "$out/KestrelChat" | cut -f1))"
$check || exit 0

"$out/KestrelChat" --version
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { cat "$work"/*.log >&2; echo "the $kind: $*" >&2; exit 1; }
# has URL PATTERN: GET URL answers 2xx with a body that matches PATTERN (read whole first: grep -q in a pipe
# would close it early, and pipefail would count curl's broken pipe as a failure).
has() { curl -sf "$1" >"$work/body" && grep -q -- "$2" "$work/body"; }
# soon URL PATTERN: has, within 5 s.
soon() { for _ in $(seq 50); do has "$1" "$2" && return 0; sleep 0.1; done; return 1; }

# start NAME [SETTING...]: starts the build from another directory, as on a VM (appsettings.json is found beside
# the binary), on free ports, and waits for it; sets pid, admin, chat and web.
start() {
  local name=$1; shift
  (cd /tmp && exec "$OLDPWD/$out/KestrelChat" --Chat:Port=0 --Chat:BindAddress=127.0.0.1 --Admin:Url=http://127.0.0.1:0 \
    --Chat:Web:Url=http://127.0.0.1:0 --Chat:History:Path="$work/$name.db" "$@") >"$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    grep -q "KestrelChat started" "$work/$name.log" && break
    kill -0 "$pid" 2>/dev/null || fail "$name exited at start"
    sleep 0.2
  done
  admin=$(grep -o 'Admin API listening on http://[0-9.]*:[0-9]*' "$work/$name.log" | sed 's/.* on //')
  chat=$(grep -o 'Chat listening on tcp://[0-9.]*:[0-9]*' "$work/$name.log" | sed 's/.*://')
  web=$(grep -o 'Web chat listening on http://[0-9.]*:[0-9]*' "$work/$name.log" | sed 's/.* on //')
  [[ -n "$admin" && -n "$chat" && -n "$web" ]] || fail "$name did not say where it listens"
}

# Serilog's section from configuration: Debug lines, and a File sink named there.
start one --Serilog:MinimumLevel:Default=Debug --Serilog:WriteTo:0:Name=File --Serilog:WriteTo:0:Args:path="$work/file-sink.txt"
(printf 'ci\nпривет из сборки\n'; sleep 2) | timeout 5 nc -q 1 127.0.0.1 "$chat" | tr -d '\r' >"$work/ci.txt" &
client=$!
# The admin API's JSON (source-generated: the AOT build has no reflection to fall back on).
soon "$admin/clients" '"nickname":"ci"' || fail "GET /clients does not list the client"
wait "$client" || true
reply=$(grep -m1 'Welcome, ci' "$work/ci.txt" || true)
[[ -n "$reply" ]] || fail "no welcome"
# The web chat's page travels beside the binary (web/): it must be served.
has "$web/" '<title>KestrelChat</title>' || fail "the web chat's page was not served"
# SQLite's native library: the history store must open, and keep the line.
grep -q "History: 0 rooms, 0 lines in $work/one.db" "$work/one.log" || fail "the history file did not open"
has "$admin/rooms/lobby/messages" '"nickname":"ci","kind":"text","text":"привет из сборки"' || fail "GET /rooms/lobby/messages lacks the line"
# Its OpenAPI document and UI, and a bad body explained.
has "$admin/swagger/v1/swagger.json" '"/clients"' || fail "the OpenAPI document lacks /clients"
has "$admin/swagger/index.html" 'swagger-ui' || fail "Swagger UI was not served"
bad=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"text":' "$admin/broadcast")
[[ $bad == *'The body must be JSON like {\"text\": \"…\", \"room\": \"…\"}'* ]] || fail "a bad body was answered $bad"
has "$admin/metrics" '^kestrelchat_' || fail "GET /metrics has no kestrelchat_ series"
grep -q '\[DBG\]' "$work/file-sink.txt" || fail "the File sink set in configuration wrote no Debug line"
curl -s -X POST "$admin/stop" >/dev/null
wait "$pid" || fail "exited with code $? after POST /stop"
checked="chatted, served history, /clients, the OpenAPI document, Swagger UI and /metrics, logged to a configured file"

# Two instances, one chat, through Redis (StackExchange.Redis and the cluster's JSON in this build).
if command -v redis-server >/dev/null; then
  # shellcheck source=bench/servers.sh
  source bench/servers.sh   # free_port
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break; sleep 0.1; done
  start a --Chat:Redis:Configuration=127.0.0.1:"$redis_port" --Chat:Redis:InstanceName=a
  a_admin=$admin a_chat=$chat a_pid=$pid
  start b --Chat:Redis:Configuration=127.0.0.1:"$redis_port" --Chat:Redis:InstanceName=b
  (printf 'bob\n'; sleep 4) | timeout 6 nc -q 1 127.0.0.1 "$chat" >"$work/bob.txt" &
  listener=$!
  soon "$a_admin/clients" '"nickname":"bob".*"instance":"b"' || fail "A's /clients does not list bob on B"
  (printf 'alice\nhello across\n'; sleep 1) | timeout 5 nc -q 1 127.0.0.1 "$a_chat" >/dev/null
  wait "$listener" || true
  grep -q '^alice: hello across' <(tr -d '\r' <"$work/bob.txt") || fail "bob on B did not get alice's line from A"
  curl -s -X POST "$admin/stop" >/dev/null; wait "$pid" || fail "B exited with code $?"
  curl -s -X POST "$a_admin/stop" >/dev/null; wait "$a_pid" || fail "A exited with code $?"
  checked+="; two instances through redis-server: A listed B's client and B's client got A's line"
fi
echo "$kind OK: greeted a client ('$reply'), $checked, stopped with exit code 0"
