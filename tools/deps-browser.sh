#!/usr/bin/env bash
# Installs what the browser tests (tests/browser, `make test-browser`) need: Debian's chromium,
# driven headless, and playwright-core pinned by tests/browser/package-lock.json. Playwright's own
# browser download is never used (it is not reachable here, and Debian's build is the one CI has).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps_lib.sh
# fonts-wqy-microhei: a CJK font, so that the public page's Chinese shows in the screenshots.
deps_apt deps-browser chromium fonts-wqy-microhei
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 deps_npm deps-browser tests/browser playwright-core
