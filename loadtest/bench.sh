#!/usr/bin/env bash
# One benchmark figure, side by side: the Switchboard server (embedded SQLite
# store, persistence on) and the Node reference relay, each on core 0, driven
# by the same switchboard-loadtest on core 1, in the same run.
#
#   loadtest/bench.sh OUT_DIR SCENARIO [harness options...]
#   e.g. loadtest/bench.sh /tmp/bench conversations --pairs 500 --rate 75 --duration 10
#
# Needs: build-bench/ built (BENCHMARKS.md), loadtest/reference/install.sh run once.
# Env: SB_BUILD (default <repo>/build-bench), SB_TARGETS ("switchboard relay"),
#      SB_DATA_ROOT (where the server's data folder is made; default /tmp, on disk here),
#      SB_SERVER_ARGS (more switchboard flags, e.g. "--wal-checkpoint-pages 0" for an A/B).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${SB_BUILD:-$repo/build-bench}
out=$1; shift
scenario=$1; shift
harness_args=("$@")
targets=${SB_TARGETS:-switchboard relay}
mkdir -p "$out"
email=bench@switchboard.local
password=bench-password

server_pid=""
cleanup() { [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; true; }
trap cleanup EXIT

# Waits for "... listening on http://127.0.0.1:PORT" in a log; prints PORT.
wait_port() {
  local log=$1
  for _ in $(seq 1 200); do
    if grep -q 'listening on http://127.0.0.1:' "$log"; then
      grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | head -1 | grep -o '[0-9]*$'
      return 0
    fi
    sleep 0.1
  done
  echo "bench.sh: no listening line in $log" >&2; cat "$log" >&2; return 1
}

run_harness() {
  local label=$1 port=$2
  echo "== $label: load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  taskset -c 1 "$build/loadtest/switchboard-loadtest" "$scenario" --port "$port" \
    --server-pid "$server_pid" --agent-email "$email" --agent-password "$password" \
    --label "$label" --json "$out/$label-$scenario.json" "${harness_args[@]}" | tee "$out/$label-$scenario.txt"
}

for target in $targets; do
  case $target in
    switchboard)
      data=$(mktemp -d "${SB_DATA_ROOT:-/tmp}/sb-bench-XXXXXX")
      hash=$(echo "$password" | "$build/switchboard" hash-password | tail -1)
      # One agent account with room for every pair of the run.
      printf '{"agents":[{"id":"bench","name":"Bench","email":"%s","password_hash":"%s","role":"agent","capacity":1000000,"departments":[]}]}\n' \
        "$email" "$hash" > "$data/agents.json"
      # The bot off (where the build has one): conversations go straight to the queue.
      # (Not `--help | grep -q`: under pipefail, grep leaving early can SIGPIPE
      # the server and fail the test, which left the bot on in some runs.)
      bot=()
      help=$("$build/switchboard" --help 2>&1 || true)
      [[ $help == *"--bot "* ]] && bot=(--bot off)
      taskset -c 0 "$build/switchboard" --port 0 --bind 127.0.0.1 --data "$data" \
        --agents "$data/agents.json" --web "$repo/web-widget" --assign-mode manual \
        --rate-per-s 1000000 --rate-burst 1000000 --max-connections 20000 \
        --send-queue-bytes 16777216 "${bot[@]}" ${SB_SERVER_ARGS:-} \
        > "$out/switchboard-server.log" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out/switchboard-server.log")
      run_harness switchboard "$port" || true
      cleanup; server_pid=""
      rm -rf "$data"
      ;;
    relay)
      taskset -c 0 node "$repo/loadtest/reference/relay.js" --port 0 --email "$email" \
        --password "$password" > "$out/relay-server.log" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out/relay-server.log")
      run_harness relay "$port" || true
      cleanup; server_pid=""
      ;;
  esac
done
python3 "$repo/loadtest/compare.py" "$out/switchboard-$scenario.json" "$out/relay-$scenario.json" || true
