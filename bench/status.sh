#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark of issue 5, status management: status updates per second
# into cpns-server (one entity per PUT, and batches as gateways send them),
# the time for one status change to reach 1,000 observers (median, p99), and
# the server's memory per subscription; beside Debian's mosquitto, started
# here on loopback, delivering one publish to 1,000 subscribers (QoS 1), over
# plain TCP and over TLS-PSK, in the same run.
#
#   bench/status.sh
#   BENCH_OBSERVERS=200 bench/status.sh
#
# Environment (all optional):
#   BENCH_BUILD        build directory (default: <repo>/build-bench, Release)
#   BENCH_OBSERVERS    observers / subscribers (1000)
#   BENCH_GATEWAYS     gateways sending updates (16), each with BENCH_ENTITIES (64)
#   BENCH_ROUNDS       status changes / publishes measured (20)
#   BENCH_SECONDS      length of each update phase (5)
#   BENCH_PORT_BASE    first UDP/TCP port (27741): cpns-server on it, mosquitto on
#                      +1 (TCP) and +2 (TLS-PSK); all within 27741-27760
#   BENCH_KEEP         keep the work directory
# Exit status: 0 when every step of both succeeded, 1 otherwise.
set -euo pipefail
BENCH_NAME=status.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
observers=${BENCH_OBSERVERS:-1000}
gateways=${BENCH_GATEWAYS:-16}
entities=${BENCH_ENTITIES:-64}
rounds=${BENCH_ROUNDS:-20}
seconds=${BENCH_SECONDS:-5}
port=${BENCH_PORT_BASE:-27741}
timeout=${BENCH_TIMEOUT:-120}
if [ "$port" -lt 27741 ] || [ $((port + 2)) -gt 27760 ]; then
  bench_fail "BENCH_PORT_BASE must leave its 3 ports within 27741-27760"
fi
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
bench_require mosquitto openssl

bench_build cpns-server bench_status bench_status_mqtt
SERVER=$B/server/cpns-server

# One process holds a socket per observer, and so does each server.
need=$((observers * 2 + 256))
[ "$(ulimit -n)" -ge "$need" ] || ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"

bench_workdir cpns-status
bench_ports_free "$port" $((port + 1)) $((port + 2))

echo "$(bench_machine); $observers observers, $gateways gateways x $entities entities"

# ---- cpns-server ----
"$B/bench/bench_status" keyring "$W/server.keys" "$gateways" "$observers"
sessions=$((gateways + observers))
"$SERVER" -f -o server.listen=127.0.0.1:$port -o server.keyring="$W/server.keys" \
  -o server.database="$W/server.db" \
  -o server.keyring_max="$(max 10000 "$sessions")" \
  -o limits.max_sessions="$(max 4000 $((sessions * 2)))" \
  -o limits.max_handshakes=256 \
  -o limits.max_pending="$(max 8000 $((sessions * 4)))" \
  -o limits.max_observers="$(max 2000 $((observers * 2)))" \
  -o status.max_observers="$(max 100000 $((observers * 4)))" \
  -o status.max_rate=100000 -o status.burst=100000 >"$W/server.log" 2>&1 &
server_pid=$!
BENCH_PIDS+=("$server_pid")
wait_bound udp "$port" "$server_pid"
"$B/bench/bench_status" run --server "coaps://127.0.0.1:$port" --keyring "$W/server.keys" \
  --server-pid "$server_pid" --gateways "$gateways" --entities "$entities" \
  --observers "$observers" --rounds "$rounds" --seconds "$seconds" --timeout "$timeout" \
  > "$W/cpns.out"
kill "$server_pid"

# ---- mosquitto, plain TCP and TLS-PSK ----
grep -E '^op-' "$W/server.keys" | head -n "$observers" | awk '{print $1 ":" $4}' > "$W/mqtt.psk"
echo "pub:$(openssl rand -hex 32)" >> "$W/mqtt.psk"
# As root, mosquitto would become user "mosquitto", who cannot read $W.
cat > "$W/mosquitto.conf" <<CONF
user $(id -un)
per_listener_settings true
persistence false
log_dest stderr
log_type error
log_type warning
max_queued_messages 1000
set_tcp_nodelay true
listener $((port + 1)) 127.0.0.1
allow_anonymous true
listener $((port + 2)) 127.0.0.1
psk_hint cpns
psk_file $W/mqtt.psk
use_identity_as_username true
allow_anonymous true
CONF
mosquitto -c "$W/mosquitto.conf" >"$W/mosquitto.log" 2>&1 &
mq_pid=$!
BENCH_PIDS+=("$mq_pid")
wait_bound tcp $((port + 1)) "$mq_pid"
wait_bound tcp $((port + 2)) "$mq_pid"
"$B/bench/bench_status_mqtt" --port $((port + 1)) --broker-pid "$mq_pid" \
  --subscribers "$observers" --rounds "$rounds" --timeout "$timeout" > "$W/mqtt.out"
"$B/bench/bench_status_mqtt" --port $((port + 2)) --broker-pid "$mq_pid" --psk-file "$W/mqtt.psk" \
  --subscribers "$observers" --rounds "$rounds" --timeout "$timeout" > "$W/mqtt-psk.out"

# ---- the table ----
r() { sed -n "s/^$2 //p" "$W/$1"; }
printf '\n%-52s %14s %14s %14s\n' "metric" "cpns-server" "mosquitto" "mosquitto"
printf '%-52s %14s %14s %14s\n' "" "(DTLS-PSK)" "(TCP)" "(TLS-PSK)"
printf '%-52s %14s %14s %14s\n' "status updates/s, one PUT each" "$(r cpns.out cpns.updates_per_s)" n/a n/a
printf '%-52s %14s %14s %14s\n' "status updates/s, batches of $entities" "$(r cpns.out cpns.batched_updates_per_s)" n/a n/a
printf '%-52s %14s %14s %14s\n' "one change to each of $observers observers: median ms" \
  "$(r cpns.out cpns.fanout_median_ms)" "$(r mqtt.out mqtt.fanout_median_ms)" "$(r mqtt-psk.out mqtt_psk.fanout_median_ms)"
printf '%-52s %14s %14s %14s\n' "one change to each of $observers observers: p99 ms" \
  "$(r cpns.out cpns.fanout_p99_ms)" "$(r mqtt.out mqtt.fanout_p99_ms)" "$(r mqtt-psk.out mqtt_psk.fanout_p99_ms)"
printf '%-52s %14s %14s %14s\n' "one change to all $observers: median of $rounds rounds, ms" \
  "$(r cpns.out cpns.fanout_all_median_ms)" "$(r mqtt.out mqtt.fanout_all_median_ms)" "$(r mqtt-psk.out mqtt_psk.fanout_all_median_ms)"
printf '%-52s %14s %14s %14s\n' "server RSS per subscription, bytes" \
  "$(r cpns.out cpns.bytes_per_subscription)" "$(r mqtt.out mqtt.bytes_per_subscription)" "$(r mqtt-psk.out mqtt_psk.bytes_per_subscription)"
echo
echo "# results"
for f in cpns.out mqtt.out mqtt-psk.out; do sed -n '/^# results/,$p' "$W/$f" | sed 1d; done
