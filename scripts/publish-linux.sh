#!/usr/bin/env bash
# A self-contained, single-file Linux build: one executable that runs on a VM without the .NET SDK or
# runtime (it needs only glibc and libicu, which Ubuntu and Debian have).
#
#   scripts/publish-linux.sh            build publish/linux-x64/KestrelChat (and its appsettings.json)
#   scripts/publish-linux.sh --check    build it, then start it on free ports, stop it with POST /stop (CI)
#
# Copy the folder to the VM and run ./KestrelChat there (./KestrelChat --help lists the settings).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
rid=${RID:-linux-x64}
out=publish/$rid
rm -rf "$out"
dotnet publish src/KestrelChat -c Release -r "$rid" --self-contained -p:PublishSingleFile=true \
  -p:DebugType=none -o "$out" -v q >&2
echo "$out/KestrelChat ($(du -h "$out/KestrelChat" | cut -f1))"
[[ ${1:-} == --check ]] || exit 0

"$out/KestrelChat" --version
log=$(mktemp)
history=$(mktemp -d)
trap 'rm -rf "$log" "$history"' EXIT
# Started from another directory, as on a VM: appsettings.json is found beside the binary.
(cd /tmp && exec "$OLDPWD/$out/KestrelChat" --Chat:Port=0 --Chat:BindAddress=127.0.0.1 --Admin:Url=http://127.0.0.1:0 --Chat:Web:Url=http://127.0.0.1:0 --Chat:History:Path="$history/history.db") >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  grep -q "KestrelChat started" "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "the single-file build exited at start" >&2; exit 1; }
  sleep 0.2
done
admin=$(grep -o 'Admin API listening on http://[0-9.]*:[0-9]*' "$log" | sed 's/.* on //')
chat=$(grep -o 'Chat listening on tcp://[0-9.]*:[0-9]*' "$log" | sed 's/.*://')
[[ -n "$admin" && -n "$chat" ]] || { cat "$log"; echo "the single-file build did not say where it listens" >&2; exit 1; }
reply=$(printf 'ci\n' | timeout 5 nc -q 1 127.0.0.1 "$chat" | tr -d '\r' | grep -m1 'Welcome, ci' || true)
[[ -n "$reply" ]] || { cat "$log"; echo "no welcome from the single-file build" >&2; exit 1; }
# The web chat's page travels beside the single file (web/): it must be served.
web=$(grep -o 'Web chat listening on http://[0-9.]*:[0-9]*' "$log" | sed 's/.* on //')
curl -sf "$web/" | grep -q '<title>KestrelChat</title>' || { cat "$log"; echo "the single-file build did not serve the web chat's page" >&2; exit 1; }
# SQLite's native library travels inside the single file: the history store must open.
grep -q "History: 0 rooms, 0 lines in $history/history.db" "$log" || { cat "$log"; echo "the single-file build could not open its history file" >&2; exit 1; }
curl -s -X POST "$admin/stop" >/dev/null
wait "$pid"
echo "single-file build OK: listened on tcp $chat, $web and $admin, greeted a client ('$reply'), stopped with exit code 0"
