#!/usr/bin/env bash
# Runs the browser tests (CTest's e2e.browser, or by hand):
#   SB_BINARY=build/switchboard SB_SOURCE_DIR=. bash tests/e2e/run.sh
# Installs playwright-core from package-lock.json only when node_modules is
# missing (so a second run needs no network), then prints the widget's gzipped
# sizes and runs run.mjs, bot.mjs, widget.mjs and console.mjs under node's test runner (TAP,
# ends "# pass N" / "# fail N"; exits non-zero on any failure). Screenshots:
# tests/e2e/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
node=${SB_NODE:-node}
npm=${SB_NPM:-npm}
command -v "$node" >/dev/null || { echo "e2e: node not found (Debian package nodejs)" >&2; exit 1; }
[[ -x ${SB_CHROMIUM:-/usr/bin/chromium} ]] || { echo "e2e: ${SB_CHROMIUM:-/usr/bin/chromium} not found (Debian package chromium)" >&2; exit 1; }
if [[ ! -f node_modules/playwright-core/package.json ]]; then
  # playwright-core never downloads a browser; the variable makes sure of it.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$npm" ci --no-audit --no-fund --prefer-offline
fi
"$node" size.mjs
exec "$node" --test --test-reporter=tap --test-concurrency=1 run.mjs bot.mjs widget.mjs console.mjs
