#!/usr/bin/env bash
# Makes the outputs in docs/observing.md from a real run, as the lesson does it: the server, alice on
# `nc`, bob on the lesson's Python client, carol on our console client (in a real terminal: tmux),
# then `ss`, `netstat`, GET /clients, the stop and the states it leaves, and the capture (capture.sh).
#
#   scripts/observing.sh           chat on 55555, admin on 8080 (as the doc's commands say); rewrites
#                                  the generated blocks of docs/observing.md (between <!-- run: … --> marks)
#   scripts/observing.sh --check   free ports, the doc untouched: checks the structure of what the run
#                                  shows (who owns which socket, the states, the JSON fields), not its numbers (CI)
#
# Needs: nc (netcat-openbsd), python3, tmux, ss (iproute2), curl; netstat (net-tools) if installed; tshark for capture.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export LANG=C.UTF-8

check=false
[ "${1:-}" = "--check" ] && check=true
for tool in nc python3 tmux ss curl; do
  command -v "$tool" >/dev/null || { echo "observing.sh needs $tool" >&2; exit 2; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
if $check; then chat=$(free_port); admin=$(free_port); else chat=55555; admin=8080; fi
work=$(mktemp -d)
tmux_socket="observing-$$"
cleanup() {
  tmux -L "$tmux_socket" kill-server 2>/dev/null || true
  kill $(jobs -p) 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Waits (up to 30 s) until FILE contains TEXT: each client's output shows when its line has arrived.
wait_for() {
  local file=$1 text=$2
  for _ in $(seq 300); do grep -qF -- "$text" "$file" 2>/dev/null && return 0; sleep 0.1; done
  echo "observing.sh: '$text' never appeared in $file:" >&2; cat "$file" >&2; exit 1
}

dotnet build src/KestrelChat -v quiet -nologo >/dev/null
dotnet build src/KestrelChat.Client -v quiet -nologo >/dev/null
# As the doc says: `dotnet run` starts the apphost, so ss and netstat name the processes as people see them.
# Each server a fresh history file, as on a new install: what earlier runs said must not show up in this one's screens.
# The web chat is off except where it is looked at (a later --Chat:Web:Url wins).
run_server() { dotnet run --no-build --project src/KestrelChat -- --Chat:Port="$chat" --Admin:Url="http://127.0.0.1:$admin" --Chat:Web:Url= --Chat:History:Path="$(mktemp -d "$work/history.XXXX")/history.db" "$@"; }

run_server >"$work/server.log" 2>&1 &
server=$!
wait_for "$work/server.log" "KestrelChat started"

# Each client in a terminal of its own (tmux), typed into key by key: the screens below are what
# the three people see, their typing echoed by the terminal included.
term() { tmux -L "$tmux_socket" "$@"; }
screen() { term capture-pane -p -t "$1" | sed -e 's/[[:space:]]*$//' -e '/^Pane is dead/d' | awk 'NF {n=NR} {l[NR]=$0} END {for (i=1;i<=n;i++) print l[i]}'; }
wait_screen() {  # waits (up to 30 s) until client $1's screen shows $2
  for _ in $(seq 300); do screen "$1" | grep -qF -- "$2" && return 0; sleep 0.1; done
  echo "observing.sh: $1's screen never showed '$2':" >&2; screen "$1" >&2; exit 1
}
type_line() { term send-keys -t "$1" -l "$2"; term send-keys -t "$1" Enter; }
wait_running() {  # waits (up to 30 s) until the program in client $1's terminal is $2: nc -u shows nothing until it is answered
  for _ in $(seq 300); do [ "$(term display-message -p -t "$1" '#{pane_current_command}')" = "$2" ] && return 0; sleep 0.1; done
  echo "observing.sh: $1's terminal never ran $2" >&2; exit 1
}

term new-session -d -s alice -x 96 -y 14 "nc 127.0.0.1 $chat"
term set-option -g remain-on-exit on
wait_screen alice "Please type a nickname"   # a person takes more than a second to start typing
type_line alice alice
wait_screen alice "* Welcome, alice!"

term new-session -d -s bob -x 96 -y 14 "python3 docs/lesson-client.py 127.0.0.1 $chat"
wait_screen bob "Choose your nickname:"
type_line bob bob
wait_screen alice "* bob joined the chat."

term new-session -d -s carol -x 96 -y 14 "dotnet run --no-build --project src/KestrelChat.Client -- --port $chat --nick carol"
wait_screen alice "* carol joined the chat."

type_line alice "привет всем"
wait_screen bob "alice: привет всем"
type_line bob "hi alice"
wait_screen alice "bob: hi alice"
type_line carol "кто в чате"
wait_screen carol "In the chat (3)"
wait_screen carol "carol>"
for who in alice bob carol; do screen "$who" >"$work/$who-chat.txt"; done

filter="( dport = :$chat or sport = :$chat )"
{ echo "\$ ss -tanp '( dport = :55555 or sport = :55555 )'"; ss -tanp "$filter" | sed -e 's/[[:space:]]*$//'; } >"$work/ss.txt"
if command -v netstat >/dev/null; then
  { echo "\$ netstat -tanp | grep 55555"; netstat -tanp 2>/dev/null | awk 'NR == 2' ; netstat -tanp 2>/dev/null | grep ":$chat\b" | sed -e 's/[[:space:]]*$//'; } >"$work/netstat.txt"
fi
{ echo "\$ curl -s http://127.0.0.1:8080/clients | python3 -m json.tool"; curl -s "http://127.0.0.1:$admin/clients" | python3 -m json.tool; } >"$work/clients.txt"

{ echo "\$ curl -s -X POST http://127.0.0.1:8080/stop"; curl -s -X POST "http://127.0.0.1:$admin/stop"; echo; } >"$work/stop.txt"
wait "$server" || true
wait_screen alice "* Server is shutting down. Bye!"
wait_screen bob "An error occured!"
for _ in $(seq 100); do ss -tanH "$filter" | grep -q ESTAB || break; sleep 0.1; done
{ echo "\$ ss -tan '( dport = :55555 or sport = :55555 )'"; ss -tan "$filter" | sed -e 's/[[:space:]]*$//'; } >"$work/closing.txt"
for who in alice bob carol; do screen "$who" | tail -n 3 >"$work/$who-stop.txt"; done

# The same short session on the plain port (nc) and through TLS (openssl s_client), each captured by tshark.
if command -v tshark >/dev/null && command -v openssl >/dev/null; then
  tls=$($check && free_port || echo 55556)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=localhost" \
    -keyout "$work/chat.key" -out "$work/chat.crt" 2>/dev/null
  run_server --Chat:Tls:Port="$tls" --Chat:Tls:CertificatePath="$work/chat.crt" --Chat:Tls:KeyPath="$work/chat.key" >"$work/server-tls.log" 2>&1 &
  server=$!
  wait_for "$work/server-tls.log" "KestrelChat started"
  tshark -i lo -f "tcp port $chat" -w "$work/plain.pcapng" -q 2>"$work/tshark-plain.log" &
  plain_capture=$!
  tshark -i lo -f "tcp port $tls" -w "$work/tls.pcapng" -q 2>"$work/tshark-tls.log" &
  tls_capture=$!
  wait_for "$work/tshark-plain.log" "Capturing on"
  wait_for "$work/tshark-tls.log" "Capturing on"
  session() {  # $1: output file; the rest: the client command. Types alice, the password line, /quit.
    local out=$1; shift
    mkfifo "$out.in"
    "$@" <"$out.in" >"$out" 2>/dev/null &
    local client=$!
    exec 5>"$out.in"
    wait_for "$out" "NICK"
    echo alice >&5
    wait_for "$out" "* Welcome, alice!"
    printf 'my password is swordfish\n/quit\n' >&5
    wait_for "$out" "* Bye!"
    exec 5>&-
    wait "$client" || true
  }
  session "$work/nc.out" nc 127.0.0.1 "$chat"
  session "$work/s_client.out" openssl s_client -quiet -connect "127.0.0.1:$tls"
  curl -s -X POST "http://127.0.0.1:$admin/stop" >/dev/null
  wait "$server" || true
  sleep 0.5   # let tshark write the last segments before it stops
  kill -INT "$plain_capture" "$tls_capture"; wait "$plain_capture" "$tls_capture" || true
  cmp -s "$work/nc.out" "$work/s_client.out" || { echo "nc and openssl s_client printed different things" >&2; diff "$work/nc.out" "$work/s_client.out" >&2; exit 1; }
  { echo "\$ nc 127.0.0.1 55555            # and: openssl s_client -quiet -connect 127.0.0.1:55556"; cat "$work/nc.out"; } >"$work/tls-clients.txt"
  { echo "\$ tshark -r plain.pcapng -q -z follow,tcp,ascii,0"; tshark -r "$work/plain.pcapng" -q -z follow,tcp,ascii,0 2>/dev/null | sed -n '/^Node 0/,/^====/p' | sed '$d'; } >"$work/follow-plain.txt"
  { echo "\$ tshark -r tls.pcapng -q -z follow,tcp,ascii,0 | cut -c1-96"; tshark -r "$work/tls.pcapng" -q -z follow,tcp,ascii,0 2>/dev/null | sed -n '/^Node 0/,/^====/p' | sed '$d' | cut -c1-96 | head -n 24; echo "…"; } >"$work/follow-tls.txt"
  { echo "\$ tshark -r tls.pcapng -Y tls -T fields -e frame.number -e tcp.srcport -e tcp.dstport -e tcp.len -e _ws.col.Info"
    tshark -r "$work/tls.pcapng" -Y tls -T fields -E separator=' ' -e frame.number -e tcp.srcport -e tcp.dstport -e tcp.len -e _ws.col.Info 2>/dev/null; } >"$work/tls-records.txt"
  swordfish_plain=$(tshark -r "$work/plain.pcapng" -Y 'frame contains "swordfish"' 2>/dev/null | wc -l)
  swordfish_tls=$(tshark -r "$work/tls.pcapng" -Y 'frame contains "swordfish"' 2>/dev/null | wc -l)
  { echo "\$ tshark -r plain.pcapng -Y 'frame contains \"swordfish\"' | wc -l"; echo "$swordfish_plain"
    echo "\$ tshark -r tls.pcapng -Y 'frame contains \"swordfish\"' | wc -l"; echo "$swordfish_tls"; } >"$work/swordfish.txt"
  sed -i -e "s/\b$tls\b/55556/g" "$work"/tls-*.txt "$work"/follow-*.txt
  if ! $check; then  # capture.sh's own session, on the chat port the doc names (--check runs it separately in CI)
    CHAT_PORT=$chat scripts/capture.sh >"$work/capture.txt" 2>&1
    sed -i '1i $ scripts/capture.sh' "$work/capture.txt"
  fi
fi

# The same session through the web chat's WebSocket (wscat), captured by tshark: frames instead of lines.
if command -v tshark >/dev/null && command -v wscat >/dev/null; then
  web=$($check && free_port || echo 8000)
  run_server --Chat:Web:Url="http://127.0.0.1:$web" >"$work/server-ws.log" 2>&1 &
  server=$!
  wait_for "$work/server-ws.log" "KestrelChat started"
  tshark -i lo -f "tcp port $web" -w "$work/ws.pcapng" -q 2>"$work/tshark-ws.log" &
  ws_capture=$!
  wait_for "$work/tshark-ws.log" "Capturing on"
  mkfifo "$work/wscat.in"
  wscat --no-color -c "ws://127.0.0.1:$web/ws" <"$work/wscat.in" >"$work/wscat.out" 2>/dev/null &
  client=$!
  exec 6>"$work/wscat.in"
  wait_for "$work/wscat.out" "NICK"   # connected: wscat sends nothing typed before
  echo alice >&6
  wait_for "$work/wscat.out" "* Welcome, alice!"
  printf 'my password is swordfish\n/quit\n' >&6
  wait_for "$work/wscat.out" "* Bye!"
  exec 6>&-
  wait "$client" || true
  curl -s -X POST "http://127.0.0.1:$admin/stop" >/dev/null
  wait "$server" || true
  sleep 0.5   # let tshark write the last segments before it stops
  kill -INT "$ws_capture"; wait "$ws_capture" || true
  { echo "\$ tshark -r ws.pcapng -q -z follow,tcp,ascii,0"
    tshark -r "$work/ws.pcapng" -q -z follow,tcp,ascii,0 2>/dev/null | sed -n '/^Node 0/,/^====/p' | sed '$d' | grep -v '^Date: '; } >"$work/follow-ws.txt"
  { echo "\$ tshark -r ws.pcapng -Y websocket -T fields -e frame.number -e tcp.srcport -e tcp.dstport -e websocket.opcode \\"
    echo "    -e websocket.mask -e websocket.masking_key -e websocket.payload_length -e websocket.payload.text -e websocket.payload.close.status_code"
    tshark -r "$work/ws.pcapng" -Y websocket -T fields -E separator=' ' -E aggregator='|' -e frame.number -e tcp.srcport -e tcp.dstport \
      -e websocket.opcode -e websocket.mask -e websocket.masking_key -e websocket.payload_length -e websocket.payload.text \
      -e websocket.payload.close.status_code 2>/dev/null | sed -e 's/[[:space:]]*$//'; } >"$work/ws-frames.txt"
  swordfish_ws=$(tshark -r "$work/ws.pcapng" -Y 'frame contains "swordfish"' 2>/dev/null | wc -l)
  sed -i -e "s/\b$web\b/8000/g" "$work/follow-ws.txt" "$work/ws-frames.txt"
fi

# A person on nc in terminal $2 joins as $1.
join_as() { wait_screen "$2" "Please type a nickname"; type_line "$2" "$1"; wait_screen "$2" "* Welcome, $1!"; }
# alice on nc -u in terminal $1: types her name, reads the code she is sent, types it back, then her name.
join_over_udp() {
  wait_running "$1" nc
  type_line "$1" alice
  wait_screen "$1" "* Code: "
  type_line "$1" "$(screen "$1" | grep -o '[0-9]\{6\}' | head -n 1)"
  wait_screen "$1" "NICK"
  type_line "$1" alice
}

# UDP beside TCP (Chat:Udp:Port, the chat port's number in the other protocol): alice on `nc -u`, bob on `nc`,
# in terminals as in section 1; ss, GET /clients, the datagrams and bob's segments in tshark; then alice just
# stops (Ctrl+C: nothing goes on the wire) and the server notices only by her silence (IdleSeconds 6 here).
if command -v tshark >/dev/null; then
  for who in alice bob carol; do term send-keys -t "$who" C-c; done   # section 1's clients are done: their sockets close
  # The capture first: "Capturing on" comes a moment before packets are really recorded, and bob's handshake must be in it.
  tshark -i lo -f "port $chat" -w "$work/udp.pcapng" -q 2>"$work/tshark-udp.log" &
  udp_capture=$!
  wait_for "$work/tshark-udp.log" "Capturing on"
  run_server --Chat:Udp:Port="$chat" --Chat:Udp:IdleSeconds=6 >"$work/server-udp.log" 2>&1 &
  server=$!
  wait_for "$work/server-udp.log" "KestrelChat started"
  term new-session -d -s udp-bob -x 96 -y 16 "nc 127.0.0.1 $chat"
  join_as bob udp-bob
  term new-session -d -s udp-alice -x 96 -y 16 "nc -u 127.0.0.1 $chat"
  join_over_udp udp-alice
  wait_screen udp-alice "* Welcome, alice!"
  wait_screen udp-bob "* alice joined the chat."
  type_line udp-alice "привет всем"
  wait_screen udp-bob "alice: привет всем"
  type_line udp-bob "hi alice"
  wait_screen udp-alice "bob: hi alice"
  { echo "\$ ss -uanp '( dport = :55555 or sport = :55555 )'"; ss -uanp "$filter" | sed -e 's/[[:space:]]*$//'
    echo "\$ ss -tanp state listening state established '( dport = :55555 or sport = :55555 )'"
    ss -tanp state listening state established "$filter" | sed -e 's/[[:space:]]*$//'; } >"$work/udp-ss.txt"
  { echo "\$ curl -s http://127.0.0.1:8080/clients | python3 -m json.tool   # alice's entry"
    curl -s "http://127.0.0.1:$admin/clients" | python3 -c 'import json, sys; print(json.dumps([c for c in json.load(sys.stdin) if c["transport"] == "udp"], indent=4, ensure_ascii=False))'; } >"$work/udp-clients.txt"
  term send-keys -t udp-alice C-c   # alice closes nc -u: UDP has nothing to send for that
  wait_screen udp-bob "* alice left the chat (no datagram for 6 s)."
  type_line udp-bob /quit
  wait_screen udp-bob "* Bye!"
  screen udp-alice >"$work/udp-alice.txt"
  screen udp-bob >"$work/udp-bob.txt"
  curl -s -X POST "http://127.0.0.1:$admin/stop" >/dev/null
  wait "$server" || true
  sleep 0.5   # let tshark write the last segments before it stops
  kill -INT "$udp_capture"; wait "$udp_capture" || true
  # tshark's fields, the last one (data.data) hex: printed as the text it is (Wireshark: Show data as UTF-8).
  decode='import sys
fields = int(sys.argv[1])
for line in sys.stdin:
    parts = line.split()
    data = parts[fields] if len(parts) > fields else ""
    print(*parts[:fields], repr(bytes.fromhex(data).decode("utf-8", "replace")))'
  { echo "\$ tshark -r udp.pcapng -Y udp -T fields -e frame.number -e frame.time_relative -e udp.srcport -e udp.dstport -e udp.length -e data.data"
    echo "# (the payloads decoded as UTF-8, as Wireshark shows them with Show data as UTF-8)"
    tshark -r "$work/udp.pcapng" -Y udp -T fields -E separator=' ' -e frame.number -e frame.time_relative -e udp.srcport -e udp.dstport -e udp.length -e data.data 2>/dev/null \
      | awk '{ $2 = sprintf("%.3f", $2); print }' | python3 -c "$decode" 5; } >"$work/udp-datagrams.txt"
  { echo "\$ tshark -r udp.pcapng -Y tcp -T fields -e frame.number -e frame.time_relative -e tcp.srcport -e tcp.dstport -e tcp.flags.str -e tcp.len"
    tshark -r "$work/udp.pcapng" -Y tcp -T fields -E separator=' ' -e frame.number -e frame.time_relative -e tcp.srcport -e tcp.dstport -e tcp.flags.str -e tcp.len 2>/dev/null \
      | awk '{ $2 = sprintf("%.3f", $2); print }'; } >"$work/udp-segments.txt"
fi

# A datagram lost in the network: the same pair in a network namespace of their own, where nftables drops
# alice's datagrams that start with "lost" on their way in to the server (tshark still sees them leave).
if command -v tshark >/dev/null && command -v nft >/dev/null && command -v ip >/dev/null && ip netns add "kc-observing-$$" 2>/dev/null; then
  ns="kc-observing-$$"
  trap 'ip netns del "$ns" 2>/dev/null || true; cleanup' EXIT
  in_ns() { ip netns exec "$ns" "$@"; }
  in_ns ip link set lo up
  in_ns nft -f - <<NFT
table inet lesson {
  chain input {
    type filter hook input priority 0;
    udp dport $chat @th,64,32 0x6c6f7374 drop comment "a datagram whose text starts with lost"
  }
}
NFT
  { echo "\$ nft list ruleset     # in the namespace the server and both clients run in"; in_ns nft list ruleset; } >"$work/loss-rule.txt"
  ip netns exec "$ns" tshark -i lo -f "udp port $chat" -w "$work/loss.pcapng" -q 2>"$work/tshark-loss.log" &   # ip execs it: $! is tshark
  loss_capture=$!
  wait_for "$work/tshark-loss.log" "Capturing on"
  ip netns exec "$ns" dotnet run --no-build --project src/KestrelChat -- --Chat:Port="$chat" --Admin:Url="http://127.0.0.1:$admin" --Chat:Web:Url= \
    --Chat:History:Path="$(mktemp -d "$work/history.XXXX")/history.db" --Chat:Udp:Port="$chat" >"$work/server-loss.log" 2>&1 &
  server=$!
  wait_for "$work/server-loss.log" "KestrelChat started"
  term new-session -d -s loss-bob -x 96 -y 12 "ip netns exec $ns nc 127.0.0.1 $chat"
  join_as bob loss-bob
  term new-session -d -s loss-alice -x 96 -y 12 "ip netns exec $ns nc -u 127.0.0.1 $chat"
  join_over_udp loss-alice
  wait_screen loss-bob "* alice joined the chat."
  for line in "one" "lost in the network" "three"; do type_line loss-alice "$line"; done
  wait_screen loss-bob "alice: three"
  screen loss-alice >"$work/loss-alice.txt"
  screen loss-bob >"$work/loss-bob.txt"
  in_ns curl -s -X POST "http://127.0.0.1:$admin/stop" >/dev/null
  wait "$server" || true
  sleep 0.5
  kill -INT "$loss_capture"; wait "$loss_capture" || true
  { echo "\$ tshark -r loss.pcapng -Y 'udp.dstport == 55555' -T fields -e frame.number -e udp.length -e data.data   # alice → server"
    tshark -r "$work/loss.pcapng" -Y "udp.dstport == $chat" -T fields -E separator=' ' -e frame.number -e udp.length -e data.data 2>/dev/null \
      | python3 -c "$decode" 2; } >"$work/loss-datagrams.txt"
  ip netns del "$ns"
fi

# The server's own hex dump (Chat:TraceBytes) of a client that pipes three lines at once into nc.
run_server --Chat:TraceBytes=true >"$work/server-trace.log" 2>&1 &
server=$!
wait_for "$work/server-trace.log" "KestrelChat started"
printf 'alice\nпривет\n/quit\n' | nc -N 127.0.0.1 "$chat" >/dev/null
wait_for "$work/server-trace.log" "disconnected"
curl -s -X POST "http://127.0.0.1:$admin/stop" >/dev/null
wait "$server" || true
{ echo "\$ printf 'alice\\nпривет\\n/quit\\n' | nc -N 127.0.0.1 55555     # server: dotnet run --project src/KestrelChat -- --Chat:TraceBytes=true"
  awk '/KestrelChat.Wire: /{n++} n>=1 && n<=3' "$work/server-trace.log" | sed -e 's/[[:space:]]*$//'
  echo "…"; } >"$work/trace.txt"

# The doc shows the commands with 55555 and 8080; a --check run used other ports.
for f in "$work"/*.txt; do sed -i -e "s/:$chat\b/:55555/g" -e "s/\b$chat\b/55555/g" "$f"; done

[ -n "${KEEP_OUTPUT:-}" ] && mkdir -p "$KEEP_OUTPUT" && cp "$work"/*.txt "$KEEP_OUTPUT"/  # to look at one run's outputs

if $check; then
  fail() { echo "observing check failed: $*" >&2; for f in "$work"/*.txt; do echo "== $f"; cat "$f"; done >&2; exit 1; }
  grep -Eq '^LISTEN .*:55555 .*users:\(\("KestrelChat"' "$work/ss.txt" || fail "ss shows no LISTEN socket owned by KestrelChat"
  for owner in nc python3 KestrelChat.Cli; do
    grep -Eq "^ESTAB .*127\.0\.0\.1:[0-9]+ +127\.0\.0\.1:55555 .*users:\(\(\"$owner\"" "$work/ss.txt" || fail "ss shows no client socket owned by $owner"
  done
  [ "$(grep -Ec '^ESTAB .*127\.0\.0\.1:55555 +127\.0\.0\.1:[0-9]+ .*users:\(\("KestrelChat"' "$work/ss.txt")" = 3 ] || fail "ss does not show 3 server-side sockets"
  for field in '"nickname": "alice"' '"nickname": "bob"' '"nickname": "carol"' '"instance":' '"tls": false' '"bytesIn": 28' '"remoteEndPoint": "127.0.0.1:'; do
    grep -qF "$field" "$work/clients.txt" || fail "GET /clients lacks $field"
  done
  grep -Eq '^FIN-WAIT-2 .*127\.0\.0\.1:55555 ' "$work/closing.txt" || fail "after the stop, no server socket waits in FIN-WAIT-2 (nc has not closed)"
  grep -Eq '^CLOSE-WAIT .*127\.0\.0\.1:55555$' "$work/closing.txt" || fail "after the stop, nc's socket is not in CLOSE-WAIT"
  grep -q "^[0-9][0-9]:[0-9][0-9] \* In the chat (3): " "$work/carol-chat.txt" || fail "carol's terminal does not show the answer to кто в чате"
  grep -q "^carol>" "$work/carol-chat.txt" || fail "carol's terminal has no prompt"
  grep -qx "bob: hi alice" "$work/alice-chat.txt" || fail "alice (nc) did not get bob's line as a line"
  grep -qx "alice: привет всем" "$work/bob-chat.txt" || fail "bob (the lesson client) did not print alice's line as one message"
  grep -qx "An error occured!" "$work/bob-stop.txt" || fail "the lesson client did not end on the server's reset"
  grep -qx "\* Server is shutting down. Bye!" "$work/alice-stop.txt" || fail "nc did not show the shutdown line"
  grep -q "KestrelChat.Wire: ReadAsync\[25\]" "$work/trace.txt" || fail "the hex dump does not show the three piped lines in one read"
  if [ -f "$work/swordfish.txt" ]; then
    [ "$swordfish_plain" -ge 1 ] && [ "$swordfish_tls" = 0 ] || fail "the password should be readable on 55555 only (plain: $swordfish_plain, TLS: $swordfish_tls packets)"
    grep -q "Client Hello" "$work/tls-records.txt" && grep -q "Server Hello" "$work/tls-records.txt" || fail "tshark shows no TLS handshake"
    grep -qx "NICK" "$work/tls-clients.txt" || fail "NICK is not a line of its own for nc and openssl s_client"
  fi
  if [ -f "$work/ws-frames.txt" ]; then
    grep -q "HTTP/1.1 101 Switching Protocols" "$work/follow-ws.txt" || fail "tshark shows no WebSocket upgrade"
    grep -Eq "^[0-9]+ [0-9]+ 8000 1 1 [0-9a-f]{8} 5 alice$" "$work/ws-frames.txt" || fail "the nickname is not one masked text frame from the client"
    grep -Eq "^[0-9]+ 8000 [0-9]+ 1 0 +6 \* Bye!$" "$work/ws-frames.txt" || fail "the farewell is not one unmasked text frame from the server"
    grep -Eq "^[0-9]+ 8000 [0-9]+ 8 0 +2 +1000$" "$work/ws-frames.txt" || fail "the server did not close with 1000"
    [ "$swordfish_ws" = 0 ] || fail "the password should not be readable in the WebSocket's bytes: the client masks its frames"
  fi
  if [ -f "$work/udp-datagrams.txt" ]; then
    grep -Eq '^UNCONN .* 0\.0\.0\.0:55555 .*users:\(\("KestrelChat"' "$work/udp-ss.txt" || fail "ss -u shows no UDP socket owned by KestrelChat"
    [ "$(grep -c '"KestrelChat"' <(sed -n '1,/^\$ ss -tanp/p' "$work/udp-ss.txt"))" = 1 ] || fail "the server should have one UDP socket, whoever talks to it"
    grep -Eq '^ESTAB .*127\.0\.0\.1:[0-9]+ +127\.0\.0\.1:55555 .*users:\(\("nc"' "$work/udp-ss.txt" || fail "nc -u's connected UDP socket is not in ss"
    grep -q '"transport": "udp"' "$work/udp-clients.txt" && grep -q '"silentSeconds": ' "$work/udp-clients.txt" || fail "GET /clients does not show alice as a UDP client"
    grep -Eq "^[0-9]+ [0-9.]+ 55555 [0-9]+ 13 'NICK\\\\n'$" "$work/udp-datagrams.txt" || fail "NICK is not a datagram of its own"
    tail -n 1 "$work/udp-datagrams.txt" | grep -q "'\* Removed from the chat: no datagram for 6 s\.\\\\n'$" || fail "the last datagram is not the removal"
    grep -qx "\* alice left the chat (no datagram for 6 s)." "$work/udp-bob.txt" || fail "bob was not told why alice left"
    grep -Eq " ·+S· 0$" "$work/udp-segments.txt" && grep -Eq "·+A···F 0$" "$work/udp-segments.txt" || fail "bob's TCP connection shows no SYN or no FIN"
  fi
  if [ -f "$work/loss-datagrams.txt" ]; then
    grep -q "'lost in the network" "$work/loss-datagrams.txt" || fail "the lost datagram did not leave alice's nc"
    grep -qx "alice: one" "$work/loss-bob.txt" && grep -qx "alice: three" "$work/loss-bob.txt" || fail "bob did not get the lines the network kept"
    grep -q "lost in the network" "$work/loss-bob.txt" && fail "bob got the datagram the network dropped"
  fi
  echo "observing check: ss, /clients, the closing states and all three clients' screens look as docs/observing.md says"
  exit 0
fi

# Replace each generated block: <!-- run: NAME --> ```…``` <!-- end -->
python3 scripts/run-blocks.py docs/observing.md "$work"
echo "docs/observing.md: regenerated from this run"
