# KestrelChat container image: chat (TCP 55555), web chat (HTTP 8000) + admin API (HTTP 8080) in one process.
#
#   docker build -t kestrelchat:latest .
#   docker run -d -p 55555:55555 -p 8000:8000 -p 8080:8080 -e Admin__ApiKey="$(openssl rand -hex 32)" kestrelchat:latest
#
# Without Admin__ApiKey (16+ characters) the container refuses to start: the admin API listens
# on 0.0.0.0 here.

# ---------- build stage: full SDK, thrown away after publish ----------
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Restore first, from the project files only, so the NuGet layer stays cached
# until a .csproj or the shared build props change (not on every .cs edit).
# (If a global.json, NuGet.config or Directory.Packages.props is added, copy it here too.)
COPY ["KestrelChat.sln", "Directory.Build.props", "./"]
COPY ["src/KestrelChat/KestrelChat.csproj", "src/KestrelChat/"]
COPY ["src/KestrelChat.Client/KestrelChat.Client.csproj", "src/KestrelChat.Client/"]
RUN dotnet restore src/KestrelChat/KestrelChat.csproj

# Now the sources (tests/ is excluded by .dockerignore; the image never needs it).
COPY src/ src/
# UseAppHost=false: we start it with `dotnet KestrelChat.dll`, the native launcher is dead weight.
RUN dotnet publish src/KestrelChat/KestrelChat.csproj -c Release -o /app --no-restore -p:UseAppHost=false

# ---------- runtime stage: ASP.NET Core runtime only (Ubuntu 24.04 based for .NET 10) ----------
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
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

# Non-root: the aspnet image ships the user `app` (UID 1654, in $APP_UID).
USER $APP_UID

# The aspnet image has no curl/wget; bash (always present in the Ubuntu base) can speak HTTP
# through /dev/tcp. Healthy = the status line of GET /health contains " 200 ".
# Port 8080 here must match Admin__Url; change both together.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 || exit 1; printf "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3; IFS= read -r -t 4 status <&3; [[ $status == *" 200 "* ]]'

# SIGTERM (docker stop) → graceful shutdown in ~2 s, exit code 0.
# Exec form: dotnet is PID 1 and receives the signal directly (no shell in between).
ENTRYPOINT ["dotnet", "KestrelChat.dll"]
