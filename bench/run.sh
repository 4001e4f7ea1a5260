#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark of issue 2: PN and PNE registrations per second and PN
# Inventory reads per second against cpns-server on loopback, beside libcoap's
# own coap-server (coap-server-openssl) serving the same bodies over DTLS-PSK
# in the same run, and the server's memory per registered PNE.
#
#   bench/run.sh                 # 100 PNs, then 1,000 PNs x 100 PNEs (100,000)
#   BENCH_QUICK=1 bench/run.sh   # smoke run: 1,000 PNEs, about 10 seconds
#
# Environment (all optional):
#   BENCH_BUILD        build directory (default: <repo>/build-bench, Release).
#                      An existing build is used as configured (e.g. a test's).
#   BENCH_STAGES       cumulative PN counts at which memory is read (100,1000)
#   BENCH_PNES         PNEs per PN (100)
#   BENCH_CONCURRENCY  requests and handshakes in flight (32)
#   BENCH_READ_SECONDS length of each GET phase (5)
#   BENCH_PORT_BASE    first of the loopback ports used (27680; uses +4, +10, +11)
#   BENCH_KEEP         keep the work directory (logs, database) when set
# Exit status: 0 when every request succeeded, 1 on any error.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${BENCH_BUILD:-$TOP/build-bench}
if [ -n "${BENCH_QUICK:-}" ]; then
  stages=${BENCH_STAGES:-20,40} pnes=${BENCH_PNES:-25} reads=${BENCH_READ_SECONDS:-1}
else
  stages=${BENCH_STAGES:-100,1000} pnes=${BENCH_PNES:-100} reads=${BENCH_READ_SECONDS:-5}
fi
conc=${BENCH_CONCURRENCY:-32}
base=${BENCH_PORT_BASE:-27680}
server_port=$((base + 4)) peer_port=$((base + 10)) # coap-server: UDP on it, DTLS on +1
gateways=${stages##*,}

# ---- build ----
if ! command -v coap-server-openssl >/dev/null; then
  echo "run.sh: coap-server-openssl not found (Debian: libcoap3-bin)" >&2
  exit 1
fi
if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S "$TOP" -B "$B" -DCMAKE_BUILD_TYPE=Release -DCPNS_TESTS=OFF >/dev/null
fi
cmake --build "$B" -j"$(nproc)" --target cpns-server >/dev/null
TOOL=$B/bench/bench_registration
if cmake --build "$B" --target help | grep -q bench_registration; then
  cmake --build "$B" --target bench_registration >/dev/null
else
  # The top-level CMakeLists.txt does not build bench/ yet: same flags, by hand.
  mkdir -p "$B/bench"
  san=
  grep -q '^CPNS_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" && san=-fsanitize=address,undefined
  "${CC:-cc}" $san -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
    -I"$TOP/include" -I"$B/include" -I"$TOP/lib" "$TOP/bench/bench_registration.c" \
    -o "$TOOL" "$B/lib/libcpns_internal.a" \
    $(pkg-config --libs libcoap-3-openssl libcbor jansson inih sqlite3 libcrypto) -lm
fi
SERVER=$B/server/cpns-server

# ---- run ----
W=$(mktemp -d "${TMPDIR:-/tmp}/cpns-bench.XXXXXX")
chmod 700 "$W"
server_pid= peer_pid=
cleanup() {
  local rc=$?
  for p in $server_pid $peer_pid; do kill "$p" 2>/dev/null || true; done
  for p in $server_pid $peer_pid; do
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

# udp_bound PORT: someone listens on 127.0.0.1:PORT (UDP).
udp_bound() { grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") " /proc/net/udp; }
# wait_bound PORT PID: up to 10 s for PID to listen on PORT.
wait_bound() {
  for _ in $(seq 100); do
    udp_bound "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: nothing listens on UDP port $1" >&2
  return 1
}
for p in $server_port $peer_port $((peer_port + 1)); do
  if udp_bound "$p"; then echo "run.sh: UDP port $p is in use (set BENCH_PORT_BASE)" >&2; exit 1; fi
done

"$TOOL" keyring "$W/server.keys" "$gateways"
max() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }
"$SERVER" -f -o server.listen=127.0.0.1:$server_port -o server.keyring="$W/server.keys" \
  -o server.database="$W/server.db" -o server.keyring_max="$(max 200000 "$gateways")" \
  -o limits.max_sessions="$(max 4096 $((gateways * 2)))" \
  -o limits.max_handshakes="$(max 128 $((conc * 2)))" \
  -o limits.max_entities_per_pn="$(max 256 "$pnes")" >"$W/server.log" 2>&1 &
server_pid=$!
peer_key=$(openssl rand -hex 16) # 32 characters, used as the 32 key bytes
coap-server-openssl -A 127.0.0.1 -p "$peer_port" -k "$peer_key" -h cpns -d 8 >"$W/peer.log" 2>&1 &
peer_pid=$!
wait_bound "$server_port" "$server_pid"
wait_bound $((peer_port + 1)) "$peer_pid"

echo "cpns-server (pid $server_pid) on 127.0.0.1:$server_port," \
  "coap-server-openssl (pid $peer_pid) on 127.0.0.1:$((peer_port + 1))"
coap_version=$(coap-server-openssl -? 2>&1 | sed -n 's/.* v\([0-9.]*\) .*/\1/p' | head -1 || true)
echo "$(nproc) CPUs, $(uname -sr), libcoap $coap_version, $(openssl version | cut -d' ' -f1-2)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
"$TOOL" run --server coaps://127.0.0.1:$server_port --keyring "$W/server.keys" \
  --server-pid "$server_pid" --database "$W/server.db" --stages "$stages" --pnes "$pnes" \
  --concurrency "$conc" --read-seconds "$reads" \
  --peer coaps://127.0.0.1:$((peer_port + 1)) --peer-key "$peer_key" --peer-pid "$peer_pid"
