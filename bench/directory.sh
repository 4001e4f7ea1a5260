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
BENCH_NAME=directory.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [ -n "${BENCH_QUICK:-}" ]; then
  stages=${BENCH_STAGES:-1000,5000} secs=${BENCH_SECONDS:-1}
else
  stages=${BENCH_STAGES:-1000,100000} secs=${BENCH_SECONDS:-5}
fi
conc=${BENCH_CONCURRENCY:-32}
port=${BENCH_PORT:-27760}
peer_port=$port # coap-server: CoAP on it, DTLS on +1
IFS=, read -r -a sizes <<<"$stages"

bench_require coap-server-openssl openssl
bench_build cpns-server bench_directory
SERVER=$B/server/cpns-server TOOL=$B/bench/bench_directory
bench_workdir cpns-dir-bench
ports=($peer_port $((peer_port + 1)))
for k in "${!sizes[@]}"; do ports+=($((port + 4 + k))); done
bench_ports_free "${ports[@]}"

"$TOOL" keyring "$W/server.keys" "$conc"
args=()
for k in "${!sizes[@]}"; do
  n=${sizes[$k]} p=$((port + 4 + k))
  # Any one session's gateway may publish them all (sessions are picked at random).
  "$SERVER" -f -o server.listen=127.0.0.1:$p -o server.keyring="$W/server.keys" \
    -o server.database="$W/server-$n.db" -o server.pid_file= \
    -o limits.max_services_per_offerer=$((n + 1)) -o limits.max_services=$((n + 1)) \
    -o limits.max_pending=$((conc * 4 + 64)) >"$W/server-$n.log" 2>&1 &
  BENCH_PIDS+=($!)
  wait_bound udp "$p" $!
  args+=(--server "coaps://127.0.0.1:$p" --database "$W/server-$n.db")
done
peer_key=$(openssl rand -hex 16) # 32 characters, used as the 32 key bytes
coap-server-openssl -A 127.0.0.1 -p "$peer_port" -k "$peer_key" -h bench -d 8 >"$W/peer.log" 2>&1 &
peer_pid=$!
BENCH_PIDS+=("$peer_pid")
wait_bound udp $((peer_port + 1)) "$peer_pid"

echo "cpns-servers and coap-server-openssl (pids ${BENCH_PIDS[*]}) on 127.0.0.1:$((port + 4)).." \
  "and :$((peer_port + 1)); $(bench_machine)"
"$TOOL" run "${args[@]}" --keyring "$W/server.keys" --stages "$stages" \
  --concurrency "$conc" --lookup-seconds "$secs" \
  --peer "coaps://127.0.0.1:$((peer_port + 1))" --peer-key "$peer_key"
# The same lookups through the store in one process, without the network:
# what the indexes give at each size when nothing else shares the measurement.
echo "the store alone (in-process, $stages services):" >&2
"$TOOL" store "$W" "$stages" "$secs"
