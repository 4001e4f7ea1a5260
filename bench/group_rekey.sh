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
BENCH_NAME=group_rekey.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
members=${BENCH_MEMBERS:-1000}
conc=${BENCH_CONCURRENCY:-32}
timeout=${BENCH_TIMEOUT:-120}
port=${BENCH_PORT:-27720}
if [ "$port" -lt 27720 ] || [ "$port" -gt 27740 ]; then
  bench_fail "BENCH_PORT must be in 27720-27740"
fi

bench_build cpns-server bench_group_rekey
SERVER=$B/server/cpns-server TOOL=$B/bench/bench_group_rekey
bench_workdir cpns-rekey
bench_ports_free "$port"

"$TOOL" keyring "$W/server.keys" "$members"
"$SERVER" -f -o server.listen=127.0.0.1:$port -o server.keyring="$W/server.keys" \
  -o server.database="$W/server.db" \
  -o server.keyring_max="$(max 10000 "$members")" \
  -o limits.max_observers="$(max 2000 $((members * 2)))" \
  -o limits.max_sessions="$(max 4000 $((members * 4)))" \
  -o limits.max_handshakes=256 \
  -o limits.max_pending="$(max 8000 $((members * 8)))" >"$W/server.log" 2>&1 &
server_pid=$!
BENCH_PIDS+=("$server_pid")
wait_bound udp "$port" "$server_pid"

echo "cpns-server (pid $server_pid) on 127.0.0.1:$port; $members members; $(bench_machine)"
"$TOOL" run --server "coaps://127.0.0.1:$port" --keyring "$W/server.keys" \
  --members "$members" --concurrency "$conc" --timeout "$timeout" \
  ${BENCH_VICTIM_NO_OBSERVE:+--victim-no-observe}
