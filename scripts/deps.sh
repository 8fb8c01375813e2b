#!/usr/bin/env bash
# Installs the Debian packages Switchboard needs to build, run and test.
# Idempotent: packages already present are skipped; apt runs only when
# something is missing. Used by the README, .ci/run and the Dockerfile.
#   scripts/deps.sh            build + run dependencies
#   scripts/deps.sh --test     also what the test suite needs
set -euo pipefail

pkgs=(g++ cmake make pkg-config libboost1.81-dev libhiredis-dev nlohmann-json3-dev
      doctest-dev libsqlite3-dev libsodium-dev libicu-dev ca-certificates)
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(redis-server python3 python3-websockets chromium fonts-lohit-deva nodejs npm procps)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # npm ships with some Node.js installs outside Debian's packages.
    if [[ "$p" == nodejs || "$p" == npm ]] && command -v "${p/nodejs/node}" >/dev/null 2>&1; then
      continue
    fi
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "deps: all present"
fi
