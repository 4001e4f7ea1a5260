# SPDX-License-Identifier: Apache-2.0
# What the benchmark drivers (run.sh, directory.sh, cpns4.sh, group_rekey.sh,
# status.sh) share: the build they run, a private work directory whose
# cleanup stops every process the driver started, and the loopback ports.
# A driver sets BENCH_NAME (for its messages), then sources this file.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${BENCH_BUILD:-$TOP/build-bench}
BENCH_PIDS=()

bench_fail() {
  echo "$BENCH_NAME: $*" >&2
  exit 1
}

# bench_require CMD...: each command is installed (scripts/deps.sh installs them).
bench_require() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null || bench_fail "$c not found (scripts/deps.sh installs it)"
  done
}

# bench_build TARGET...: builds the targets in $B. A missing build directory
# is made as Release with tests off; an existing one (a test's) is used as it
# is configured, and configured again when it predates one of the targets.
bench_build() {
  if [ ! -f "$B/CMakeCache.txt" ]; then
    cmake -S "$TOP" -B "$B" -DCMAKE_BUILD_TYPE=Release -DCPNS_TESTS=OFF >/dev/null
  fi
  local known t
  known=$(cmake --build "$B" --target help)
  for t in "$@"; do
    if ! grep -qw -- "$t" <<<"$known"; then
      cmake -S "$TOP" -B "$B" >/dev/null
      break
    fi
  done
  cmake --build "$B" -j"$(nproc)" --target "$@" >/dev/null
}

# Stops what the driver started (BENCH_PIDS: TERM, then KILL after 5 s), shows
# the tails of its logs when it failed, and removes the work directory unless
# BENCH_KEEP is set.
bench__cleanup() {
  local rc=$? p f
  for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BENCH_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$W"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
  fi
  if [ -n "${BENCH_KEEP:-}" ]; then echo "work directory kept: $W"; else rm -rf "$W"; fi
  exit "$rc"
}

# bench_workdir PREFIX: makes the work directory $W (mode 0700: it holds keys)
# and arms the cleanup.
bench_workdir() {
  W=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  chmod 700 "$W"
  trap bench__cleanup EXIT
  trap 'exit 130' INT TERM
}

# udp_bound PORT, tcp_bound PORT: something listens on 127.0.0.1:PORT.
udp_bound() { grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") " /proc/net/udp; }
tcp_bound() { grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp; }

# bench_ports_free PORT...: none of them is in use, on UDP or TCP.
bench_ports_free() {
  local p
  for p in "$@"; do
    if udp_bound "$p" || tcp_bound "$p"; then
      bench_fail "port $p on 127.0.0.1 is in use (choose other ports: see the header)"
    fi
  done
}

# wait_bound udp|tcp PORT PID: up to 10 s for PID to listen on PORT.
wait_bound() {
  for _ in $(seq 100); do
    "${1}_bound" "$2" && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.1
  done
  bench_fail "nothing listens on $1 port $2"
}

max() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }

# The line every driver prints first: what the figures were measured on.
bench_machine() {
  echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
}
