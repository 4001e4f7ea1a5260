#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Guessing keys or enrollment codes costs a DTLS handshake per guess; a source
# address that fails more than limits.handshake_failures handshakes a minute
# has its new handshakes dropped for a minute, while sessions already
# established keep working.
source "$(dirname "$0")/lib.sh"
mknet --pnes 1 --base 32680 --lifetime 4
start_server -o limits.handshake_failures=4
start_gw
start_pne phone
check "the network is up" wait_for 20 is_state server.ctl home phone online
umask 077
openssl rand -hex 32 > "$NET/wrong.key"
for i in 1 2 3 4 5 6; do
  "$CTL" -t 1500 -H coaps://127.0.0.1:32680 -i admin -k "$NET/wrong.key" info >/dev/null 2>&1 || true
done
check "the server bans the source after repeated failed handshakes" \
  wait_for 5 grep -q "too many failed handshakes from one source" "$NET/server.log"
out=$("$CTL" -t 3000 -P "$NET/server.ctl" info 2>&1 || true)
check "then even a right key from that source gets no new session" bash -c "! grep -q cpns-server <<<'$out'"
before=$(grep -c "lost the server" "$NET/gw.log" || true)
sleep 5
check "the gateway's established session keeps working through the ban" \
  bash -c "[ \$(grep -c 'lost the server' $NET/gw.log || true) -eq $before ]"
check "and the phone stays online at the server" is_state gw.ctl home phone online
check "no key appears in the log" bash -c "! grep -q \$(cat $NET/wrong.key) $NET/server.log"
finish
