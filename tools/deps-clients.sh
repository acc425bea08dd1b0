#!/usr/bin/env bash
# Installs the npm packages of tests/clients (InfluxDB clients pinned by package-lock.json) with
# `npm ci`, and Debian's nodejs/npm first when they are missing. Called by tools/deps.sh.
set -euo pipefail
cd "$(dirname "$0")/../tests/clients"
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps-clients: npm is missing; run as root or install nodejs and npm" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -d node_modules ] || ! cmp -s package-lock.json node_modules/.package-lock.json 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
fi
