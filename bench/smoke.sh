#!/usr/bin/env bash
# CI's smoke run of the load generator — not a benchmark (that is bench/run.sh): a few clients and
# messages against KestrelChat started from the build output (over TCP, and over the web chat's WebSocket),
# the Kestrel floor and the reference relay.
# Fails unless the generator exits 0, i.e. every client got every message, in order.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/servers.sh
source bench/servers.sh

dotnet build src/KestrelChat -v q -nologo >/dev/null
dotnet build bench/KestrelChat.LoadGen -v q -nologo >/dev/null
dotnet build bench/KestrelChat.Floor -v q -nologo >/dev/null
work=$(mktemp -d)
server_pid=
trap '[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

# smoke KIND PROGRAM [ws]: with ws, the clients speak WebSocket to the web chat's /ws.
smoke() {
  local kind=$1 program=$2 transport=${3:-tcp} port
  port=$(free_port)
  web_port=$([[ $transport == ws ]] && free_port || true)
  start_server "$kind" "$port" "$work/$kind.log" "$program"
  if ! dotnet bench/KestrelChat.LoadGen/bin/Debug/net10.0/KestrelChat.LoadGen.dll --transport "$transport" \
      --port "${web_port:-$port}" --clients 5 --senders 2 --messages 20 --timeout-seconds 20 --server-pid "$server_pid"; then
    echo "smoke run against $kind FAILED; its log:" >&2
    cat "$work/$kind.log" >&2
    return 1
  fi
  stop_server
  server_pid=
}

smoke kestrelchat src/KestrelChat/bin/Debug/net10.0/KestrelChat.dll
smoke kestrelchat src/KestrelChat/bin/Debug/net10.0/KestrelChat.dll ws
smoke floor bench/KestrelChat.Floor/bin/Debug/net10.0/KestrelChat.Floor.dll
if command -v cc >/dev/null; then
  cc -O2 -o "$work/relay" bench/reference/relay.c
  smoke reference "$work/relay"
fi
