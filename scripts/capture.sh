#!/usr/bin/env bash
# Records a short KestrelChat session with tshark and prints what Wireshark would show:
# the TCP stream of one client as text (Follow TCP Stream) and its segments (handshake, data, FIN).
#
#   scripts/capture.sh            run it (needs tshark and the right to capture on lo: root or the wireshark group)
#   scripts/capture.sh --check    the same, then check that the stream is plain text and ends with the server's FIN (CI)
#
# The session: alice, bob and carol join; alice and bob chat (Russian and English); carol asks
# "кто в чате"; then POST /stop ends the server, which sends each client its last line and a FIN.
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
[ "${1:-}" = "--check" ] && check=true
command -v tshark >/dev/null || { echo "capture.sh needs tshark (apt-get install tshark)" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
chat_port=${CHAT_PORT:-$(free_port)}
admin_port=$(free_port)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

dotnet build src/KestrelChat -v quiet -nologo >/dev/null
# A fresh history file: what earlier runs said must not show up in this one's capture.
Chat__Port=$chat_port Chat__BindAddress=127.0.0.1 Admin__Url=http://127.0.0.1:$admin_port Chat__Web__Url= Chat__History__Path="$work/history.db" \
  dotnet src/KestrelChat/bin/Debug/net10.0/KestrelChat.dll >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "KestrelChat started" "$work/server.log" && break; sleep 0.1; done
grep -q "KestrelChat started" "$work/server.log" || { cat "$work/server.log"; exit 1; }

tshark -i lo -f "tcp port $chat_port" -w "$work/chat.pcapng" -q 2>"$work/tshark.log" &
capture=$!
for _ in $(seq 100); do grep -q "Capturing on" "$work/tshark.log" && break; sleep 0.1; done

python3 - "$chat_port" "$admin_port" <<'PY'
import socket, sys, time, urllib.request
chat, admin = int(sys.argv[1]), int(sys.argv[2])

def join(name):
    s = socket.create_connection(("127.0.0.1", chat), timeout=10)
    assert s.recv(4) == b"NICK"
    s.sendall(name.encode() + b"\n")
    read_until(s, b"* Welcome")
    return s

def read_until(s, marker):
    data = b""
    while marker not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit(f"connection closed before {marker!r}")
        data += chunk
    return data

alice = join("alice"); bob = join("bob"); carol = join("carol")
read_until(alice, b"carol joined")
alice.sendall("привет, это alice\n".encode()); read_until(bob, "alice: привет".encode())
bob.sendall(b"hello from bob\n"); read_until(alice, b"bob: hello from bob")
carol.sendall("кто в чате\n".encode()); read_until(carol, b"In the chat (3)")
urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{admin}/stop", method="POST"), timeout=10)
for s in (alice, bob, carol):
    read_until(s, b"shutting down")
    while s.recv(4096):
        pass  # until the server's FIN
    s.close()
PY
wait "$server"
sleep 0.5   # let tshark write the last segments (the final ACKs) before it stops
kill -INT "$capture"; wait "$capture" || true
[ -n "${KEEP_PCAP:-}" ] && cp "$work/chat.pcapng" "$KEEP_PCAP"  # KEEP_PCAP=file.pcapng: keep it for Wireshark

echo "== alice's connection, as Wireshark's Follow TCP Stream shows it (tshark -z follow,tcp,ascii,0)"
echo "   (tab-indented: server → client; ASCII mode prints each byte of a Cyrillic letter as '.')"
tshark -r "$work/chat.pcapng" -q -z follow,tcp,ascii,0 2>/dev/null | tee "$work/follow.txt"
echo
echo "== the same stream decoded as UTF-8 (Wireshark: Show data as UTF-8; tshark 4.0 has no such mode, so from raw)"
tshark -r "$work/chat.pcapng" -q -z follow,tcp,raw,0 2>/dev/null | python3 -c '
import sys
for line in sys.stdin:
    data = line.strip()
    if not data or not all(c in "0123456789abcdef" for c in data):
        continue
    arrow = "server → client" if line.startswith("\t") else "client → server"
    text = bytes.fromhex(data).decode("utf-8", "replace")
    print(arrow + ": " + repr(text))
' | tee "$work/utf8.txt"
echo
echo "== its segments: handshake, data (PSH), the server's FIN on /stop, the client's FIN"
tshark -r "$work/chat.pcapng" -Y "tcp.stream == 0" 2>/dev/null \
  -T fields -E separator=' ' -e frame.number -e tcp.srcport -e tcp.dstport -e tcp.flags.str -e tcp.len | tee "$work/segments.txt"

if $check; then
  for text in "NICK" "alice" "bob: hello from bob" "* Server is shutting down. Bye!"; do
    grep -qF "$text" "$work/follow.txt" || { echo "check failed: '$text' is not in the stream as plain text" >&2; exit 1; }
  done
  grep -qF "привет, это alice" "$work/utf8.txt" || { echo "check failed: the Russian line is not in the stream as UTF-8 text" >&2; exit 1; }
  # The first FIN of the stream is the server's (source port = the chat port), and nothing comes from the server after it.
  first_fin=$(awk '$4 ~ /F/ {print $2; exit}' "$work/segments.txt")
  [ "$first_fin" = "$chat_port" ] || { echo "check failed: the first FIN came from port $first_fin, not the server ($chat_port)" >&2; exit 1; }
  after=$(awk -v p="$chat_port" 'f && $2 == p && $5 > 0 {n++} $4 ~ /F/ && $2 == p {f=1} END {print n+0}' "$work/segments.txt")
  [ "$after" = "0" ] || { echo "check failed: the server sent data after its FIN" >&2; exit 1; }
  echo "capture check: the messages are plain text in the stream and it ends with the server's FIN"
fi
