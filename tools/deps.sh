#!/usr/bin/env bash
# Installs the Debian packages Jialing builds, tests and benchmarks with, when any is missing.
set -euo pipefail
need=(build-essential pkg-config liblmdb-dev liblz4-dev libmicrohttpd-dev libmsgpack-dev
      lmdb-utils python3 curl tzdata zlib1g-dev)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: run as root (apt-get) or install: ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash "$(dirname "$0")/deps-web.sh"     # uPlot for the web console (npm ci in server/web)
bash "$(dirname "$0")/deps-browser.sh" # chromium and playwright-core for tests/browser
bash "$(dirname "$0")/deps-clients.sh" # node-influx and the v2 client for tests/clients
