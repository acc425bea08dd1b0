#!/usr/bin/env bash
# Installs the web console's JavaScript dependencies (uPlot, pinned by server/web/package-lock.json)
# into server/web/node_modules, from which the build embeds them into jialingd. Needs npm (Debian's
# `npm`, installed here when missing). Skips the install when node_modules matches the lockfile.
set -euo pipefail
cd "$(dirname "$0")/../server/web"
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps-web: npm is missing; run as root (apt-get) or install npm" >&2
        exit 1
    fi
    echo "deps-web: installing npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
# npm ci writes node_modules/.package-lock.json; equal to the lockfile's packages means done.
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] &&
    [ -f node_modules/uplot/dist/uPlot.iife.min.js ]; then
    exit 0
fi
echo "deps-web: npm ci in server/web"
npm ci --no-audit --no-fund --loglevel=error
