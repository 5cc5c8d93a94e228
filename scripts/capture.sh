#!/usr/bin/env bash
# Records a short KestrelChat session with tshark and prints what Wireshark would show:
# the TCP stream of one client as text (Follow TCP Stream) and its segments (handshake, data, FIN).
#
#   scripts/capture.sh            run it (needs tshark and the right to capture on lo: root or the wireshark group)
#   scripts/capture.sh --check    the same, then check that the stream is plain text and ends with the server's FIN (CI)
#   scripts/capture.sh --udp      alice over UDP instead (Chat:Udp:Port, the same port number): her datagrams, one a line
#   scripts/capture.sh --udp --check   … and check that: a datagram a line, no handshake, nothing after the last line
#
# The session: alice, bob and carol join; alice and bob chat (Russian and English); carol asks
# "кто в чате"; then POST /stop ends the server, which sends each client its last line and a FIN
# (alice over UDP: her last datagram, and nothing more — UDP has no FIN).
set -euo pipefail
cd "$(dirname "$0")/.."

check=false udp=false
for arg in "$@"; do
  case $arg in
    --check) check=true ;;
    --udp) udp=true ;;
    *) echo "usage: scripts/capture.sh [--udp] [--check]" >&2; exit 2 ;;
  esac
done
command -v tshark >/dev/null || { echo "capture.sh needs tshark (apt-get install tshark)" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
chat_port=${CHAT_PORT:-$(free_port)}
admin_port=$(free_port)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

dotnet build src/KestrelChat -v quiet -nologo >/dev/null
# A fresh history file: what earlier runs said must not show up in this one's capture.
udp_setting=$($udp && echo "$chat_port" || true)
Chat__Port=$chat_port Chat__Udp__Port=$udp_setting Chat__BindAddress=127.0.0.1 Admin__Url=http://127.0.0.1:$admin_port Chat__Web__Url= \
  Chat__History__Path="$work/history.db" dotnet src/KestrelChat/bin/Debug/net10.0/KestrelChat.dll >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "KestrelChat started" "$work/server.log" && break; sleep 0.1; done
grep -q "KestrelChat started" "$work/server.log" || { cat "$work/server.log"; exit 1; }

tshark -i lo -f "$($udp && echo udp || echo tcp) port $chat_port" -w "$work/chat.pcapng" -q 2>"$work/tshark.log" &
capture=$!
for _ in $(seq 100); do grep -q "Capturing on" "$work/tshark.log" && break; sleep 0.1; done

python3 - "$chat_port" "$admin_port" "$udp" <<'PY'
import re, socket, sys, time, urllib.request
chat, admin, udp = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "true"

class Datagrams:
    """alice on UDP, as nc -u: a datagram per line; she sends back the code the server sent her."""
    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.settimeout(10)
        self.s.connect(("127.0.0.1", chat))
        self.sendall(b"alice\n")
        code = re.search(rb"\d{6}", self.s.recv(2048)).group()
        self.sendall(code + b"\n")
        assert self.s.recv(2048) == b"NICK\n"
    def sendall(self, data):
        self.s.send(data)
    def recv(self, size):
        try:
            return self.s.recv(size)
        except socket.timeout:
            return b""  # UDP: no FIN ends it; silence does
    def close(self):
        self.s.close()

def join(name):
    if udp and name == "alice":
        s = Datagrams()
        s.sendall(name.encode() + b"\n")
        read_until(s, b"* Welcome")
        return s
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
    if isinstance(s, Datagrams):
        s.close()  # nothing more will come: no FIN to wait for
        continue
    while s.recv(4096):
        pass  # until the server's FIN
    s.close()
PY
wait "$server"
sleep 0.5   # let tshark write the last segments (the final ACKs) before it stops
kill -INT "$capture"; wait "$capture" || true
[ -n "${KEEP_PCAP:-}" ] && cp "$work/chat.pcapng" "$KEEP_PCAP"  # KEEP_PCAP=file.pcapng: keep it for Wireshark

if $udp; then
  echo "== alice over UDP: every datagram, its ports, its UDP length (8 bytes of header + the payload) and the payload as UTF-8"
  echo "   (tshark -T fields -e frame.number -e udp.srcport -e udp.dstport -e udp.length -e data.data; decoded)"
  tshark -r "$work/chat.pcapng" -Y udp -T fields -E separator=' ' -e frame.number -e udp.srcport -e udp.dstport -e udp.length -e data.data 2>/dev/null \
    | python3 -c '
import sys
for line in sys.stdin:
    number, source, destination, length, *data = line.split()
    text = bytes.fromhex(data[0]).decode("utf-8", "replace") if data else ""
    print(number, source, destination, length, repr(text))
' | tee "$work/datagrams.txt"
  echo
  echo "== the protocols in the capture: UDP only — no handshake, no ACK, no FIN"
  tshark -r "$work/chat.pcapng" -T fields -e _ws.col.Protocol 2>/dev/null | sort | uniq -c | tee "$work/protocols.txt"
  if $check; then
    fail() { echo "check failed: $*" >&2; exit 1; }
    [ "$(awk '{print $NF}' "$work/protocols.txt" | sort -u | tr '\n' ' ')" = "UDP " ] || fail "the capture holds something other than UDP"
    # Each line: frame, source port, destination port, UDP length, the payload as Python prints it ('…\n').
    has() { from=$1 text=$2 awk '$2 == ENVIRON["from"] && index($0, ENVIRON["text"]) {found=1} END {exit !found}' "$work/datagrams.txt"; }
    has "$chat_port" "'NICK\\n'" || fail "NICK is not a datagram of its own"
    has "$chat_port" "'bob: hello from bob\\n'" || fail "bob's line is not one datagram to alice"
    has "$chat_port" "alice: привет" && fail "alice got her own line back"
    awk -v p="$chat_port" '$3 == p' "$work/datagrams.txt" | grep -qF "'привет, это alice\\n'" || fail "alice's line is not one datagram to the server"
    last=$(tail -n 1 "$work/datagrams.txt")
    [[ $last == *"'* Server is shutting down. Bye!\\n'" ]] || fail "the server's last datagram is not the shutdown line: $last"
    echo "capture check (UDP): one datagram a line, UDP only, and the shutdown line is the last thing sent"
  fi
  exit 0
fi

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
