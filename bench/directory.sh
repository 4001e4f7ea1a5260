#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark of issue 4: the Metadata Directory over CoAP. Publishes per
# second and keyword lookups per second against cpns-server at 1,000 and at
# 100,000 services (one server of each size, both running, their lookups
# interleaved a second at a time), beside libcoap's coap-server
# (coap-server-openssl) serving a lookup's answer as a stored resource over
# the same DTLS-PSK in the same run.
#
#   bench/directory.sh
#   BENCH_QUICK=1 bench/directory.sh     # 1,000 then 5,000 services, 1 s lookups
#
# Environment (all optional):
#   BENCH_BUILD        build directory (default: <repo>/build-bench, Release)
#   BENCH_STAGES       service counts at which lookups run (1000,100000)
#   BENCH_CONCURRENCY  sessions, one request in flight on each (32)
#   BENCH_SECONDS      length of each lookup phase (5)
#   BENCH_PORT         first UDP port on 127.0.0.1 (27760): coap-server takes it
#                      and the next (CoAP, DTLS), the cpns-servers +4, +5 ...
#   BENCH_KEEP         keep the work directory (keyring, database, logs)
# Exit status: 0 when every request succeeded (and every page was full), 1 otherwise.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${BENCH_BUILD:-$TOP/build-bench}
if [ -n "${BENCH_QUICK:-}" ]; then
  stages=${BENCH_STAGES:-1000,5000} secs=${BENCH_SECONDS:-1}
else
  stages=${BENCH_STAGES:-1000,100000} secs=${BENCH_SECONDS:-5}
fi
conc=${BENCH_CONCURRENCY:-32}
port=${BENCH_PORT:-27760}
peer_port=$port # coap-server: CoAP on it, DTLS on +1
IFS=, read -r -a sizes <<<"$stages"

if ! command -v coap-server-openssl >/dev/null; then
  echo "directory.sh: coap-server-openssl not found (Debian: libcoap3-bin)" >&2
  exit 1
fi
if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S "$TOP" -B "$B" -DCMAKE_BUILD_TYPE=Release -DCPNS_TESTS=OFF >/dev/null
fi
if ! cmake --build "$B" --target help | grep bench_directory >/dev/null; then
  cmake -S "$TOP" -B "$B" >/dev/null # a build directory older than the target
fi
cmake --build "$B" -j"$(nproc)" --target cpns-server bench_directory >/dev/null
SERVER=$B/server/cpns-server TOOL=$B/bench/bench_directory

W=$(mktemp -d "${TMPDIR:-/tmp}/cpns-dir-bench.XXXXXX")
chmod 700 "$W"
server_pids=() peer_pid=
cleanup() {
  local rc=$?
  for p in "${server_pids[@]}" $peer_pid; do kill "$p" 2>/dev/null || true; done
  for p in "${server_pids[@]}" $peer_pid; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$W"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
  fi
  if [ -n "${BENCH_KEEP:-}" ]; then echo "work directory kept: $W"; else rm -rf "$W"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

udp_bound() { grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") " /proc/net/udp; }
wait_bound() {
  for _ in $(seq 100); do
    udp_bound "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "directory.sh: nothing listens on UDP port $1" >&2
  return 1
}
ports=($peer_port $((peer_port + 1)))
for k in "${!sizes[@]}"; do ports+=($((port + 4 + k))); done
for p in "${ports[@]}"; do
  if udp_bound "$p"; then echo "directory.sh: UDP port $p is in use (set BENCH_PORT)" >&2; exit 1; fi
done

"$TOOL" keyring "$W/server.keys" "$conc"
args=()
for k in "${!sizes[@]}"; do
  n=${sizes[$k]} p=$((port + 4 + k))
  # Any one session's gateway may publish them all (sessions are picked at random).
  "$SERVER" -f -o server.listen=127.0.0.1:$p -o server.keyring="$W/server.keys" \
    -o server.database="$W/server-$n.db" -o server.pid_file= \
    -o limits.max_services_per_offerer=$((n + 1)) -o limits.max_services=$((n + 1)) \
    -o limits.max_pending=$((conc * 4 + 64)) >"$W/server-$n.log" 2>&1 &
  server_pids+=($!)
  wait_bound "$p" $!
  args+=(--server "coaps://127.0.0.1:$p" --database "$W/server-$n.db")
done
peer_key=$(openssl rand -hex 16) # 32 characters, used as the 32 key bytes
coap-server-openssl -A 127.0.0.1 -p "$peer_port" -k "$peer_key" -h bench -d 8 >"$W/peer.log" 2>&1 &
peer_pid=$!
wait_bound $((peer_port + 1)) "$peer_pid"

echo "cpns-servers (pids ${server_pids[*]}) on 127.0.0.1:$((port + 4))..," \
  "coap-server-openssl (pid $peer_pid) on 127.0.0.1:$((peer_port + 1));" \
  "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
"$TOOL" run "${args[@]}" --keyring "$W/server.keys" --stages "$stages" \
  --concurrency "$conc" --lookup-seconds "$secs" \
  --peer "coaps://127.0.0.1:$((peer_port + 1))" --peer-key "$peer_key"
# The same lookups through the store in one process, without the network:
# what the indexes give at each size when nothing else shares the measurement.
echo "the store alone (in-process, $stages services):" >&2
"$TOOL" store "$W" "$stages" "$secs"
