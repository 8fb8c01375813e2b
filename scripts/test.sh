#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test: unit and
# integration (and e2e, in a real Chromium) on a normal build, then unit and
# integration again on an AddressSanitizer + UndefinedBehaviorSanitizer build.
# Ends with one summary line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test || exit 1

jobs=2
passed=0
failed=0
status=0

# Runs ctest in a build dir and adds its counts to the totals.
run_ctest() {
  local dir=$1; shift
  local log
  log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure --timeout 600 "$@") 2>&1 | tee "$log"
  local line total fails
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [[ -z "$line" ]]; then
    echo "test.sh: ctest in $dir gave no summary" >&2
    failed=$((failed + 1)); status=1
  else
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    fails=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
    passed=$((passed + total - fails)); failed=$((failed + fails))
    ((fails == 0)) || status=1
  fi
  rm -f "$log"
}

build() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DSB_WERROR=ON "$@" >/dev/null &&
    cmake --build "$dir" -j"$jobs"
}

echo "== build (RelWithDebInfo, -Werror)"
if build build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
  run_ctest build/test
else
  echo "test.sh: build failed" >&2; failed=$((failed + 1)); status=1
fi

echo "== build (ASan + UBSan)"
if build build/asan -DCMAKE_BUILD_TYPE=Debug -DSB_SANITIZE=ON; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest build/asan -L 'unit|integration'
else
  echo "test.sh: sanitizer build failed" >&2; failed=$((failed + 1)); status=1
fi

echo "${passed} passed, ${failed} failed"
exit $status
