#!/usr/bin/env bash
# Installs the Debian packages Jialing builds, tests and benchmarks with, when any is missing,
# then the pinned npm packages of the web console and of the browser and client tests.
set -euo pipefail
need=(build-essential pkg-config liblmdb-dev liblz4-dev libmicrohttpd-dev libmsgpack-dev
      lmdb-utils python3 curl tzdata zlib1g-dev libjansson-dev)
. "$(dirname "$0")/deps_lib.sh"
deps_apt deps "${need[@]}"
bash "$(dirname "$0")/deps-web.sh"     # uPlot for the web console (npm ci in server/web)
bash "$(dirname "$0")/deps-browser.sh" # chromium and playwright-core for tests/browser
bash "$(dirname "$0")/deps-clients.sh" # node-influx and the v2 client for tests/clients
