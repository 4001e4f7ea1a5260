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
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${BENCH_BUILD:-$TOP/build-bench}
observers=${BENCH_OBSERVERS:-1000}
gateways=${BENCH_GATEWAYS:-16}
entities=${BENCH_ENTITIES:-64}
rounds=${BENCH_ROUNDS:-20}
seconds=${BENCH_SECONDS:-5}
port=${BENCH_PORT_BASE:-27741}
timeout=${BENCH_TIMEOUT:-120}
if [ "$port" -lt 27741 ] || [ $((port + 2)) -gt 27760 ]; then
  echo "status.sh: BENCH_PORT_BASE must leave its 3 ports within 27741-27760" >&2
  exit 1
fi
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
command -v mosquitto >/dev/null || { echo "status.sh: mosquitto is missing (scripts/deps.sh)" >&2; exit 1; }

# ---- build (as group_rekey.sh) ----
if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S "$TOP" -B "$B" -DCMAKE_BUILD_TYPE=Release -DCPNS_TESTS=OFF >/dev/null
fi
cmake --build "$B" -j"$(nproc)" --target cpns-server >/dev/null
if ! cmake --build "$B" --target help | grep bench_status_mqtt >/dev/null; then
  cmake -S "$TOP" -B "$B" >/dev/null # an older build directory: reconfigure
fi
cmake --build "$B" --target bench_status bench_status_mqtt >/dev/null
SERVER=$B/server/cpns-server

# One process holds a socket per observer, and so does each server.
need=$((observers * 2 + 256))
[ "$(ulimit -n)" -ge "$need" ] || ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"

W=$(mktemp -d "${TMPDIR:-/tmp}/cpns-status.XXXXXX")
chmod 700 "$W"
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
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
tcp_bound() { grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") .* 0A " /proc/net/tcp; }
wait_bound() {
  local check=$1 p=$2 pid=$3
  for _ in $(seq 100); do
    $check "$p" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "status.sh: nothing listens on $p" >&2
  return 1
}
for p in "$port" $((port + 1)) $((port + 2)); do
  if udp_bound "$p" || tcp_bound "$p"; then echo "status.sh: port $p is in use" >&2; exit 1; fi
done
max() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }

echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run;" \
  "$observers observers, $gateways gateways x $entities entities"

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
pids+=("$server_pid")
wait_bound udp_bound "$port" "$server_pid"
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
pids+=("$mq_pid")
wait_bound tcp_bound $((port + 1)) "$mq_pid"
wait_bound tcp_bound $((port + 2)) "$mq_pid"
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
