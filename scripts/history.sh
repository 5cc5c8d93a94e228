#!/usr/bin/env bash
# Makes the history examples in docs/protocol.md ("History") from a real run: alice on nc says a few
# lines, bob joins late and sees them, leaves, comes back and gets what he missed; then GET
# /rooms/lobby/messages as an operator sees it. Each client is a real `nc`, its screen is what it read.
#
#   scripts/history.sh           rewrites the generated blocks of docs/protocol.md (<!-- run: … --> marks)
#   scripts/history.sh --check   the doc untouched: checks what the run shows (frames, order, the JSON) (CI)
#
# Needs: nc (netcat-openbsd), python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
export LANG=C.UTF-8

check=false
[ "${1:-}" = "--check" ] && check=true
for tool in nc python3 curl; do
  command -v "$tool" >/dev/null || { echo "history.sh needs $tool" >&2; exit 2; }
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
chat=$(free_port); admin=$(free_port)
work=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_for() {  # FILE TEXT: up to 30 s
  for _ in $(seq 300); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "history.sh: '$2' never appeared in $1:" >&2; cat "$1" >&2; exit 1
}

dotnet build src/KestrelChat -v quiet -nologo >/dev/null
dotnet run --no-build --project src/KestrelChat -- --Chat:Port="$chat" --Admin:Url="http://127.0.0.1:$admin" --Chat:Web:Url= \
  --Chat:History:Path="$work/history.db" >"$work/server.log" 2>&1 &
wait_for "$work/server.log" "KestrelChat started"

# A client: nc reading from a FIFO we write to, its output in NAME.out.
open_client() {
  mkfifo "$work/$1.in"
  nc 127.0.0.1 "$chat" <"$work/$1.in" >"$work/$1.out" &
  exec {fd}>"$work/$1.in"
  eval "fd_$1=$fd"
}
say() { local fd="fd_$1"; printf '%s\n' "$2" >&"${!fd}"; }
close_client() { local fd="fd_$1"; exec {fd}>&-; }

open_client alice
wait_for "$work/alice.out" "NICK"
say alice alice
wait_for "$work/alice.out" "* Welcome, alice!"
say alice "Доброе утро! Today: TCP handshakes."
say alice "/me draws SYN, SYN-ACK, ACK on the board"
say alice "/history 1"
wait_for "$work/alice.out" "* End of history."

open_client bob
wait_for "$work/bob.out" "NICK"
say bob bob
wait_for "$work/bob.out" "* End of history."
say bob "/quit"
wait_for "$work/alice.out" "* bob left the chat."
close_client bob; wait_for "$work/bob.out" "* Bye!"
cp "$work/bob.out" "$work/history-join.txt"

say alice "Now the four-way close: FIN, ACK, FIN, ACK."
say alice "Who can say what TIME-WAIT is for?"
say alice "/history 1"
wait_for "$work/alice.out" "] alice: Who can say what TIME-WAIT is for?"  # her /history 1: both lines are in
rm "$work/bob.in"; open_client bob
wait_for "$work/bob.out" "NICK"
say bob bob
wait_for "$work/bob.out" "* End of history."
cp "$work/bob.out" "$work/history-return.txt"

# The store is written in batches, so GET (which reads it) can be a moment behind the chat: ask until it has the line.
for _ in $(seq 100); do
  curl -s "http://127.0.0.1:$admin/rooms/lobby/messages?limit=2" | python3 -m json.tool --no-ensure-ascii > "$work/history-api.txt" || true
  grep -q 'TIME-WAIT' "$work/history-api.txt" && break
  sleep 0.1
done
say bob "/quit"; close_client bob; say alice "/quit"; close_client alice

for f in "$work"/history-*.txt; do sed -i -e "s/\b$chat\b/55555/g" "$f"; done

if $check; then
  fail() { echo "history check failed: $*" >&2; for f in "$work"/history-*.txt; do echo "== $f"; cat "$f"; done >&2; exit 1; }
  grep -qx '\* Last 2 messages in #lobby:' "$work/history-join.txt" || fail "bob's join shows no framed history"
  grep -Eqx '\[[0-9]{2}:[0-9]{2}\] alice: Доброе утро! Today: TCP handshakes\.' "$work/history-join.txt" || fail "the Cyrillic line is not in bob's history"
  grep -Eqx '\[[0-9]{2}:[0-9]{2}\] \* alice draws SYN, SYN-ACK, ACK on the board' "$work/history-join.txt" || fail "the /me line is not in bob's history"
  grep -qx '\* You missed 2 messages while you were away:' "$work/history-return.txt" || fail "bob's return shows no missed lines"
  [ "$(grep -c 'TCP handshakes' "$work/history-return.txt")" = 0 ] || fail "bob's return shows lines he had seen"
  grep -q '"text": "Who can say what TIME-WAIT is for?"' "$work/history-api.txt" || fail "GET /rooms/lobby/messages lacks the newest line"
  echo "history check: join, return and the admin API look as docs/protocol.md says"
  exit 0
fi

python3 scripts/run-blocks.py docs/protocol.md "$work"
echo "docs/protocol.md: history examples regenerated from this run"
