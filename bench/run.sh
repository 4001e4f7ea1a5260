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
BENCH_NAME=run.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [ -n "${BENCH_QUICK:-}" ]; then
  stages=${BENCH_STAGES:-20,40} pnes=${BENCH_PNES:-25} reads=${BENCH_READ_SECONDS:-1}
else
  stages=${BENCH_STAGES:-100,1000} pnes=${BENCH_PNES:-100} reads=${BENCH_READ_SECONDS:-5}
fi
conc=${BENCH_CONCURRENCY:-32}
base=${BENCH_PORT_BASE:-27680}
server_port=$((base + 4)) peer_port=$((base + 10)) # coap-server: UDP on it, DTLS on +1
gateways=${stages##*,}

bench_require coap-server-openssl openssl
bench_build cpns-server bench_registration
SERVER=$B/server/cpns-server TOOL=$B/bench/bench_registration
bench_workdir cpns-bench
bench_ports_free $server_port $peer_port $((peer_port + 1))

"$TOOL" keyring "$W/server.keys" "$gateways"
"$SERVER" -f -o server.listen=127.0.0.1:$server_port -o server.keyring="$W/server.keys" \
  -o server.database="$W/server.db" -o server.keyring_max="$(max 200000 "$gateways")" \
  -o limits.max_sessions="$(max 4096 $((gateways * 2)))" \
  -o limits.max_handshakes="$(max 128 $((conc * 2)))" \
  -o limits.max_entities_per_pn="$(max 256 "$pnes")" >"$W/server.log" 2>&1 &
server_pid=$!
BENCH_PIDS+=("$server_pid")
peer_key=$(openssl rand -hex 16) # 32 characters, used as the 32 key bytes
coap-server-openssl -A 127.0.0.1 -p "$peer_port" -k "$peer_key" -h cpns -d 8 >"$W/peer.log" 2>&1 &
peer_pid=$!
BENCH_PIDS+=("$peer_pid")
wait_bound udp "$server_port" "$server_pid"
wait_bound udp $((peer_port + 1)) "$peer_pid"

echo "cpns-server (pid $server_pid) on 127.0.0.1:$server_port," \
  "coap-server-openssl (pid $peer_pid) on 127.0.0.1:$((peer_port + 1))"
coap_version=$(coap-server-openssl -? 2>&1 | sed -n 's/.* v\([0-9.]*\) .*/\1/p' | head -1 || true)
echo "$(nproc) CPUs, $(uname -sr), libcoap $coap_version, $(openssl version | cut -d' ' -f1-2)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
"$TOOL" run --server coaps://127.0.0.1:$server_port --keyring "$W/server.keys" \
  --server-pid "$server_pid" --database "$W/server.db" --stages "$stages" --pnes "$pnes" \
  --concurrency "$conc" --read-seconds "$reads" \
  --peer coaps://127.0.0.1:$((peer_port + 1)) --peer-key "$peer_key" --peer-pid "$peer_pid"
