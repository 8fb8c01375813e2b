#!/usr/bin/env bash
# The cluster figure: a redis-server and N Switchboard nodes (cluster mode),
# driven by switchboard-loadtest's cluster scenario (pair i's visitor on node
# i%N, its agent on node (i+1)%N), so every message crosses nodes.
#
#   loadtest/cluster.sh OUT_DIR [harness options...]
#   e.g. loadtest/cluster.sh /tmp/cluster --pairs 100 --rate 10 --duration 10
#
# Env: SB_BUILD (default <repo>/build-bench), SB_NODES (default 3),
#      SB_REDIS_FSYNC (appendfsync: "always" as docs/CLUSTER.md recommends,
#      or "everysec"; default always).
# On two cores everything shares them: Redis and the nodes on core 0, the
# harness on core 1 (see BENCHMARKS.md).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${SB_BUILD:-$repo/build-bench}
out=$1; shift
harness_args=("$@")
nodes=${SB_NODES:-3}
fsync=${SB_REDIS_FSYNC:-always}
mkdir -p "$out"
email=bench@switchboard.local
password=bench-password
work=$(mktemp -d /tmp/sb-cluster-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

redis_port=$(free_port)
taskset -c 0 redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" \
  --appendonly yes --appendfsync "$fsync" > "$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

hash=$(echo "$password" | "$build/switchboard" hash-password | tail -1)
printf '{"agents":[{"id":"bench","name":"Bench","email":"%s","password_hash":"%s","role":"agent","capacity":1000000,"departments":[]}]}\n' \
  "$email" "$hash" > "$work/agents.json"

list=""
for i in $(seq 1 "$nodes"); do
  mkdir -p "$work/n$i"
  taskset -c 0 "$build/switchboard" --port 0 --bind 127.0.0.1 --data "$work/n$i" \
    --agents "$work/agents.json" --web "$repo/web-widget" --assign-mode manual --bot off \
    --rate-per-s 1000000 --rate-burst 1000000 --max-connections 20000 \
    --send-queue-bytes 16777216 --redis "127.0.0.1:$redis_port" --node-id "n$i" \
    > "$out/node$i.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 200); do grep -q 'listening on' "$out/node$i.log" && break; sleep 0.1; done
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$out/node$i.log" | grep -o '[0-9]*$')
  list="${list:+$list,}127.0.0.1:$port"
done
# Until one node routes.
for _ in $(seq 1 100); do grep -q 'routes (lease' "$out"/node*.log && break; sleep 0.1; done
router=$(grep -l 'routes (lease' "$out"/node*.log | head -1)
router_pid=${pids[$(basename "$router" .log | tr -dc 0-9)]}
echo "== cluster of $nodes on Redis :$redis_port (appendfsync $fsync), router $(basename "$router" .log); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
taskset -c 1 "$build/loadtest/switchboard-loadtest" cluster --nodes "$list" \
  --server-pid "$router_pid" --agent-email "$email" --agent-password "$password" \
  --label cluster --json "$out/cluster.json" "${harness_args[@]}" | tee "$out/cluster.txt"
