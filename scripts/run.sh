#!/usr/bin/env bash
# Installs what is missing, builds, and starts Switchboard on its embedded
# store (SQLite under ./data, no Redis) on port 8080 with a demo agent.
# Extra arguments go to the server, e.g. scripts/run.sh --port 9000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j2 --target switchboard
exec ./build/release/switchboard --data data --web web-widget --demo-agent "$@"
