#!/usr/bin/env bash
# Installs the web console's JavaScript dependencies (uPlot, pinned by server/web/package-lock.json)
# into server/web/node_modules, from which the build embeds them into jialingd.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps_lib.sh
deps_npm deps-web server/web uplot/dist/uPlot.iife.min.js
