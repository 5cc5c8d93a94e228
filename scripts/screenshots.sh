#!/usr/bin/env bash
# The screenshots in the docs, taken by the browser tests themselves (Playwright, Debian's chromium): what a
# learner sees at the end of tests/KestrelChat.Tests/WebChatPageTests.cs, on a phone-sized screen, and what an
# operator sees in DashboardTests (the wire view of a client that was just kicked).
#
#   scripts/screenshots.sh      writes docs/images/web-chat.png and docs/images/dashboard.png
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
mkdir -p docs/images
KESTRELCHAT_SCREENSHOTS="$PWD/docs/images" dotnet test tests/KestrelChat.Tests --filter "FullyQualifiedName~WebChatPageTests|FullyQualifiedName~DashboardTests" -v q
ls -l docs/images
