# KestrelChat container image: chat (TCP 55555), web chat (HTTP 8000) + admin API (HTTP 8080) in one process.
#
#   docker build -t kestrelchat:latest .
#   docker run -d -p 55555:55555 -p 8000:8000 -p 8080:8080 -e Admin__ApiKey="$(openssl rand -hex 32)" kestrelchat:latest
#
# Without Admin__ApiKey (16+ characters) the container refuses to start: the admin API listens
# on 0.0.0.0 here.

# ---------- build stage: full SDK and a C toolchain, thrown away after publish ----------
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# Native AOT compiles to machine code and links with the system's toolchain (clang, zlib).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Restore first, from the project files only, so the NuGet layer stays cached
# until a .csproj or the shared build props change (not on every .cs edit).
# (If a global.json, NuGet.config or Directory.Packages.props is added, copy it here too.)
COPY ["KestrelChat.sln", "Directory.Build.props", "./"]
COPY ["src/KestrelChat/KestrelChat.csproj", "src/KestrelChat/"]
COPY ["src/KestrelChat.Client/KestrelChat.Client.csproj", "src/KestrelChat.Client/"]
# --ucr: for the platform the image is built on (Native AOT does not cross-compile to another CPU).
RUN dotnet restore src/KestrelChat/KestrelChat.csproj --ucr -p:PublishAot=true

# Now the sources (tests/ is excluded by .dockerignore; the image never needs it).
COPY src/ src/
# Native AOT: one executable of machine code (about 27 MB) beside SQLite's libe_sqlite3.so; no .NET runtime in
# the image, no JIT at start, and about 30 MB less memory idle than the JIT-compiled server (docs/benchmarks.md).
# CI builds and checks exactly this: scripts/publish-linux.sh --aot --check.
RUN dotnet publish src/KestrelChat/KestrelChat.csproj -c Release --ucr -p:PublishAot=true -p:StripSymbols=true \
        -o /app --no-restore \
    && rm -f /app/*.dbg

# ---------- runtime stage: the native libraries only (Ubuntu 24.04 based for .NET 10: glibc, ICU, OpenSSL) ----------
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0 AS runtime
WORKDIR /app

# Admin API must be reachable through the published port, so bind it to all interfaces.
# The app then REQUIRES Admin__ApiKey (secure by default); docker-compose.yml passes it in.
# ASPNETCORE_HTTP_PORTS=8080 is preset by the base image; it is cleared so that only the app's
# own bindings (Admin__Url, Chat__BindAddress:Chat__Port) apply, with no "overriding" warning.
# Chat__LoopbackIsOperator=false: behind Docker's port forwarding the peer address is the bridge
# gateway, or 127.0.0.1 for EVERY client (rootless Docker/Podman); loopback proves nothing here.
ENV Admin__Url=http://0.0.0.0:8080 \
    Chat__Port=55555 \
    Chat__BindAddress=0.0.0.0 \
    Chat__LoopbackIsOperator=false \
    ASPNETCORE_HTTP_PORTS="" \
    DOTNET_NOLOGO=1

COPY --from=build /app ./

# History (Chat:History:Path, SQLite) goes to /app/data, owned by the image's user; docker-compose.yml
# mounts a named volume there so it survives rebuilds and restarts.
RUN mkdir -p /app/data && chown $APP_UID:$APP_UID /app/data
VOLUME ["/app/data"]

# Chat (TCP line protocol), web chat (HTTP and WebSocket) and admin API (HTTP). All are > 1024, so no capability is needed.
EXPOSE 55555 8000 8080

# Non-root: the runtime-deps image ships the user `app` (UID 1654, in $APP_UID).
USER $APP_UID

# The image has no curl/wget; bash (always present in the Ubuntu base) can speak HTTP
# through /dev/tcp. Healthy = the status line of GET /health contains " 200 ".
# Port 8080 here must match Admin__Url; change both together.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 || exit 1; printf "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3; IFS= read -r -t 4 status <&3; [[ $status == *" 200 "* ]]'

# SIGTERM (docker stop) → graceful shutdown in ~2 s, exit code 0.
# Exec form: the server is PID 1 and receives the signal directly (no shell in between).
ENTRYPOINT ["/app/KestrelChat"]
