#!/usr/bin/env bash
# Installs the npm packages of tests/clients (InfluxDB clients pinned by package-lock.json).
# Called by tools/deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps_lib.sh
deps_npm deps-clients tests/clients influx
