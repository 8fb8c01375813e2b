#!/usr/bin/env bash
# Installs the relay's one dependency (ws, pinned by package-lock.json) from
# npm into loadtest/reference/node_modules (not committed).
set -euo pipefail
cd "$(dirname "$0")"
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund --omit=dev --loglevel=error
else
  npm install --no-audit --no-fund --omit=dev --loglevel=error
fi
