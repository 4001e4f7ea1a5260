#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds cpns with AddressSanitizer and UndefinedBehaviorSanitizer and runs
# every test: unit tests, fuzz-corpus replays and integration tests (real
# daemons on loopback; the multicast and NAT tests make network namespaces and
# need root, and are skipped with a notice without it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
build=$top/build-test
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCPNS_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Every decoder's fuzz target runs for a bounded time (clang's libFuzzer),
# before the main suite so that its summary is the last thing printed. 12 s
# each keeps the whole run within 15 minutes on 2 CPUs; for a longer hunt:
# CPNS_FUZZ_SECONDS=600 scripts/test.sh
if command -v clang >/dev/null; then
  fuzz=$top/build-fuzz
  CC=clang cmake -S "$top" -B "$fuzz" -DCMAKE_BUILD_TYPE=Debug -DCPNS_SANITIZE=ON -DCPNS_FUZZ=ON \
    -DCPNS_FUZZ_SECONDS="${CPNS_FUZZ_SECONDS:-12}" >/dev/null
  cmake --build "$fuzz" -j"$(nproc)" --target $(cd "$top/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//') >/dev/null
  (cd "$fuzz" && ctest -L fuzzrun --output-on-failure -j"$(nproc)")
fi

cd "$build"
ctest --output-on-failure --timeout 300 -j"$(nproc)" -LE fuzzrun "$@"
