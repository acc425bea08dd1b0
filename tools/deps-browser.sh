#!/usr/bin/env bash
# Installs what the browser tests (tests/browser, `make test-browser`) need: Debian's chromium,
# driven headless, and playwright-core pinned by tests/browser/package-lock.json. Playwright's own
# browser download is never used (it is not reachable here, and Debian's build is the one CI has).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
# fonts-wqy-microhei: a CJK font, so that the public page's Chinese shows in the screenshots.
for p in chromium fonts-wqy-microhei; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# npm may come with a nodejs package that is not Debian's; Debian's npm only when there is none.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps-browser: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps-browser: run as root (apt-get) or install: ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cd tests/browser
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] &&
    [ -d node_modules/playwright-core ]; then
    exit 0
fi
echo "deps-browser: npm ci in tests/browser"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
