#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark of issue 4, item 8's last part: the Metadata Directory's
# keyword lookups over CPNS-4 (HTTPS, JSON, a bearer token) beside the same
# lookups over CoAP, against the same servers in the same run. Two
# cpns-servers (1,000 and 100,000 services) with [http] on;
# bench_directory fills them and measures publishes and CoAP lookups (and
# libcoap's coap-server GET of the same bytes), then bench_cpns4 runs the
# same four lookups over HTTPS with as many keep-alive connections as
# bench_directory had DTLS sessions, one request in flight on each, the
# servers taking turns a second at a time. The last table puts them side by
# side.
#
#   bench/cpns4.sh
#   BENCH_QUICK=1 bench/cpns4.sh     # 1,000 then 5,000 services, 1 s phases
#
# Environment (all optional):
#   BENCH_BUILD        build directory (default: <repo>/build-bench, Release)
#   BENCH_STAGES       service counts (1000,100000)
#   BENCH_CONCURRENCY  DTLS sessions and HTTPS connections per server (32)
#   BENCH_SECONDS      length of each lookup phase (5)
#   BENCH_PORT         first port on 127.0.0.1 (27770): coap-server takes it and
#                      the next (UDP), the cpns-servers +4, +5 (UDP) and their
#                      HTTPS +8, +9 (TCP); all within 27761-27780 by default
#   BENCH_KEEP         keep the work directory (keyring, databases, logs)
# Exit status: 0 when every request succeeded, 1 otherwise.
set -euo pipefail
BENCH_NAME=cpns4.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [ -n "${BENCH_QUICK:-}" ]; then
  stages=${BENCH_STAGES:-1000,5000} secs=${BENCH_SECONDS:-1}
else
  stages=${BENCH_STAGES:-1000,100000} secs=${BENCH_SECONDS:-5}
fi
conc=${BENCH_CONCURRENCY:-32}
port=${BENCH_PORT:-27770}
peer_port=$port
IFS=, read -r -a sizes <<<"$stages"

bench_require coap-server-openssl openssl
bench_build cpns-server cpnsctl bench_directory bench_cpns4
SERVER=$B/server/cpns-server CTL=$B/tools/cpnsctl
bench_workdir cpns4-bench
umask 077
ports=($peer_port $((peer_port + 1)))
for k in "${!sizes[@]}"; do ports+=($((port + 4 + k)) $((port + 8 + k))); done
bench_ports_free "${ports[@]}"

"$B/bench/bench_directory" keyring "$W/server.keys" "$conc"
# An operator, who creates the external server's token at each server.
admin=$(openssl rand -hex 32)
echo "$admin" > "$W/admin.key"
echo "admin operator - $admin" >> "$W/server.keys"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$W/https.key" -out "$W/https.crt" -subj "/CN=localhost" \
  -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
dir_args=() https_args=()
for k in "${!sizes[@]}"; do
  n=${sizes[$k]} p=$((port + 4 + k)) h=$((port + 8 + k))
  "$SERVER" -f -o server.listen=127.0.0.1:$p -o server.keyring="$W/server.keys" \
    -o server.database="$W/server-$n.db" -o server.pid_file= \
    -o limits.max_services_per_offerer=$((n + 1)) -o limits.max_services=$((n + 1)) \
    -o limits.max_pending=$((conc * 4 + 64)) \
    -o http.listen=127.0.0.1:$h -o http.cert_file="$W/https.crt" -o http.key_file="$W/https.key" \
    -o http.max_connections=$((conc + 16)) -o http.max_per_ip=0 -o http.timeout=600 \
    >"$W/server-$n.log" 2>&1 &
  BENCH_PIDS+=($!)
  wait_bound udp "$p" $!
  wait_bound tcp "$h" "${BENCH_PIDS[-1]}"
  printf '[cpnsctl]\nuri = coaps://127.0.0.1:%s\nidentity = admin\nkey_file = %s\n' "$p" "$W/admin.key" \
    > "$W/admin-$n.ctl"
  "$CTL" -j -P "$W/admin-$n.ctl" token create bench --scope services:read |
    sed -n 's/.*"token": "\([^"]*\)".*/\1/p' > "$W/token-$n"
  [ -s "$W/token-$n" ] || bench_fail "no token from the server of $n"
  dir_args+=(--server "coaps://127.0.0.1:$p" --database "$W/server-$n.db")
  https_args+=(--server "https://127.0.0.1:$h" --services "$n" --token-file "$W/token-$n")
done
peer_key=$(openssl rand -hex 16) # 32 characters, used as the 32 key bytes
coap-server-openssl -A 127.0.0.1 -p "$peer_port" -k "$peer_key" -h bench -d 8 >"$W/peer.log" 2>&1 &
peer_pid=$!
BENCH_PIDS+=("$peer_pid")
wait_bound udp $((peer_port + 1)) "$peer_pid"

echo "cpns-servers on 127.0.0.1:$((port + 4)).. (CoAP) and :$((port + 8)).. (HTTPS)," \
  "coap-server-openssl on :$((peer_port + 1)); $(bench_machine)"
echo "== CoAP (bench_directory: fills the servers, then looks up)"
"$B/bench/bench_directory" run "${dir_args[@]}" --keyring "$W/server.keys" --stages "$stages" \
  --concurrency "$conc" --lookup-seconds "$secs" \
  --peer "coaps://127.0.0.1:$((peer_port + 1))" --peer-key "$peer_key" | tee "$W/coap.out"
echo
echo "== CPNS-4 (bench_cpns4: the same lookups over HTTPS; load average $(cut -d' ' -f1 /proc/loadavg))"
"$B/bench/bench_cpns4" "${https_args[@]}" --cacert "$W/https.crt" --concurrency "$conc" \
  --seconds "$secs" | tee "$W/https.out"

# Side by side, from both tools' "# results" lines.
val() { sed -n "s/^$1 //p" "$2" | head -1; }
echo
printf '%-44s' "lookups/s (p50 ms over HTTPS)"
for n in "${sizes[@]}"; do printf ' %11s %18s' "CoAP@$n" "HTTPS@$n"; done
echo
labels=("one keyword, page of 3" "one keyword, page of 10" "prefix (10 keywords), page of 10"
        "all of two keywords, page of 10")
keys=(kw3 kw10 prefix all)
for i in 0 1 2 3; do
  printf '%-44s' "${labels[$i]}"
  for n in "${sizes[@]}"; do
    printf ' %11s %18s' "$(val "cpns.${keys[$i]}_lookups_per_s@$n" "$W/coap.out")" \
      "$(val "https.${keys[$i]}_lookups_per_s@$n" "$W/https.out") ($(val "https.${keys[$i]}_p50_ms@$n" "$W/https.out"))"
  done
  echo
done
for f in coap https; do
  grep -q "^# results" "$W/$f.out" || bench_fail "no results from the $f side"
done
