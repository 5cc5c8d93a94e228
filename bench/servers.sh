# Sourced by bench/run.sh and bench/smoke.sh: both start the two servers the same way.

# A TCP port nobody listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# publish_servers OUT [floor]: KestrelChat (and, when asked, the Kestrel floor) in Release, JIT-compiled (run as
# dotnet X.dll), or with AOT=1 in the environment as Native AOT executables (what the Dockerfile ships); sets
# kestrelchat_program and floor_program.
publish_servers() {
  local out=$1 with_floor=${2:-}
  if [[ ${AOT:-0} == 1 ]]; then
    dotnet publish src/KestrelChat -c Release -r linux-x64 -p:PublishAot=true -o "$out/server-aot" -v q >&2
    [[ -z $with_floor ]] || dotnet publish bench/KestrelChat.Floor -c Release -r linux-x64 -p:PublishAot=true -o "$out/floor-aot" -v q >&2
    kestrelchat_program=$out/server-aot/KestrelChat floor_program=$out/floor-aot/KestrelChat.Floor
  else
    dotnet publish src/KestrelChat -c Release -o "$out/server" -v q >&2
    [[ -z $with_floor ]] || dotnet publish bench/KestrelChat.Floor -c Release -o "$out/floor" -v q >&2
    kestrelchat_program=$out/server/KestrelChat.dll floor_program=$out/floor/KestrelChat.Floor.dll
  fi
}

# start_server kestrelchat|floor|reference PORT LOG PROGRAM: starts the server in the background with
# its output in LOG, waits until PORT accepts connections, and sets server_pid.
# PROGRAM is KestrelChat.dll, KestrelChat.Floor.dll (run with dotnet) or an executable (a Native AOT build, the relay). KestrelChat also gets the NAME=VALUE
# settings in the array server_env, if set (names with dots, such as Serilog's overrides, cannot be shell variables).
start_server() {
  local kind=$1 port=$2 log=$3 program=$4 launcher=
  [[ $program == *.dll ]] && launcher=dotnet
  if [[ $kind == kestrelchat ]]; then
    # Every limit that would throttle or refuse the load is off; the send queue holds a whole run. History is
    # on, as by default, in a fresh file each start (bench/history.sh measures it against history off).
    # The web chat and the admin API listen only when the caller names their ports (web_port, admin_port).
    Chat__Port=$port Chat__BindAddress=127.0.0.1 Admin__Url=http://127.0.0.1:${admin_port:-0} \
      Chat__Web__Url=${web_port:+http://127.0.0.1:$web_port} \
      Chat__Limits__MessagesPerSecond=0 Chat__Limits__MaxConnections=0 Chat__Limits__MaxConnectionsPerIp=0 \
      Chat__Limits__SendQueueBytes=67108864 Serilog__MinimumLevel__Default=Warning \
      Chat__History__Path="${Chat__History__Path:-$(mktemp -d)/history.db}" \
      env ${server_env[@]+"${server_env[@]}"} $launcher "$program" >"$log" 2>&1 &
  elif [[ $kind == floor ]]; then
    $launcher "$program" "$port" >"$log" 2>&1 &
  else
    "$program" "$port" >"$log" 2>&1 &
  fi
  server_pid=$!
  for _ in $(seq 300); do   # up to 30 s
    kill -0 "$server_pid" 2>/dev/null || { echo "$kind exited at start:" >&2; cat "$log" >&2; return 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$kind did not listen on $port within 30 s" >&2
  return 1
}

# stop_server: SIGTERM, as systemd and docker stop do, then wait for the exit.
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || echo "the server had already exited" >&2
  wait "$server_pid" || true
}
