#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark of issue 3: group rekey time for a group of N members (1,000
# by default): gw-0 creates an open group, all N join over their own DTLS-PSK
# sessions and observe the group key; gw-0 expels one member, and the time
# from that DELETE until each of the N-1 others got the new epoch by push.
#
#   bench/group_rekey.sh
#   BENCH_MEMBERS=200 bench/group_rekey.sh
#
# Environment (all optional):
#   BENCH_BUILD        build directory (default: <repo>/build-bench, Release)
#   BENCH_MEMBERS      group size (1000)
#   BENCH_CONCURRENCY  requests and handshakes in flight (32)
#   BENCH_TIMEOUT      seconds allowed per phase (120)
#   BENCH_PORT         cpns-server's UDP port on 127.0.0.1 (27720; 27720-27740)
#   BENCH_KEEP         keep the work directory (keyring, database, server log)
#   BENCH_VICTIM_NO_OBSERVE  when set, the member to be expelled does not
#                      observe the key (works around the server crash on the
#                      4.03 that ends an expelled member's observation)
# Exit status: 0 when every remaining member got the new key, 1 otherwise.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${BENCH_BUILD:-$TOP/build-bench}
members=${BENCH_MEMBERS:-1000}
conc=${BENCH_CONCURRENCY:-32}
timeout=${BENCH_TIMEOUT:-120}
port=${BENCH_PORT:-27720}
if [ "$port" -lt 27720 ] || [ "$port" -gt 27740 ]; then
  echo "group_rekey.sh: BENCH_PORT must be in 27720-27740" >&2
  exit 1
fi

# ---- build (as run.sh) ----
if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S "$TOP" -B "$B" -DCMAKE_BUILD_TYPE=Release -DCPNS_TESTS=OFF >/dev/null
fi
cmake --build "$B" -j"$(nproc)" --target cpns-server >/dev/null
TOOL=$B/bench/bench_group_rekey
if cmake --build "$B" --target help | grep bench_group_rekey >/dev/null; then
  cmake --build "$B" --target bench_group_rekey >/dev/null
else
  # An older build directory that does not know the target yet: reconfigure.
  cmake -S "$TOP" -B "$B" >/dev/null
  cmake --build "$B" --target bench_group_rekey >/dev/null
fi
SERVER=$B/server/cpns-server

# ---- run ----
W=$(mktemp -d "${TMPDIR:-/tmp}/cpns-rekey.XXXXXX")
chmod 700 "$W"
server_pid=
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$W/server.log" ]; then
    echo "--- $W/server.log"; tail -15 "$W/server.log"
  fi
  if [ -n "${BENCH_KEEP:-}" ]; then echo "work directory kept: $W"; else rm -rf "$W"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

udp_bound() { grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") " /proc/net/udp; }
if udp_bound "$port"; then echo "group_rekey.sh: UDP port $port is in use (set BENCH_PORT)" >&2; exit 1; fi

"$TOOL" keyring "$W/server.keys" "$members"
max() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }
"$SERVER" -f -o server.listen=127.0.0.1:$port -o server.keyring="$W/server.keys" \
  -o server.database="$W/server.db" \
  -o server.keyring_max="$(max 10000 "$members")" \
  -o limits.max_observers="$(max 2000 $((members * 2)))" \
  -o limits.max_sessions="$(max 4000 $((members * 4)))" \
  -o limits.max_handshakes=256 \
  -o limits.max_pending="$(max 8000 $((members * 8)))" >"$W/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  udp_bound "$port" && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
udp_bound "$port" || { echo "group_rekey.sh: cpns-server does not listen on $port" >&2; exit 1; }

echo "cpns-server (pid $server_pid) on 127.0.0.1:$port; $members members;" \
  "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
"$TOOL" run --server "coaps://127.0.0.1:$port" --keyring "$W/server.keys" \
  --members "$members" --concurrency "$conc" --timeout "$timeout" \
  ${BENCH_VICTIM_NO_OBSERVE:+--victim-no-observe}
