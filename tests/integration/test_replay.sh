#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A replayed DTLS record has no effect (DTLS 1.2 anti-replay, RFC 6347
# §4.1.2.6). An operator creates a Service Group through a UDP relay
# (tests/tools/udp_relay.c) that records the operator's datagrams; the
# group is then deleted; the relay sends the recorded application-data
# records of the create again, byte for byte, from the same address and
# port, so they arrive on the live DTLS session of that 5-tuple with
# sequence numbers the server has already seen. The server's replay window
# drops them before CoAP sees them: the group is not created again, the
# request count does not move, no answer goes back, and the server goes on
# serving others. The relay holds back cpnsctl's close_notify so that the
# session stays up (as a long-lived peer's would); that it really was up
# when the records were replayed is shown at the end by replaying the
# ClientHello, which the server handles as a new handshake on a live
# session (the known limitation of docs/security.md §5). All traffic is on
# 127.0.0.1; every wait is bounded.
source "$(dirname "$0")/lib.sh"
RELAY=$BUILD/tests/udp_relay
mknet --pnes 0 --base 36680
start_server -v
RELAY_LOG=$T/relay.log
"$RELAY" -l 36690 -t 36680 -s 36691 -d 120 -a > "$RELAY_LOG" 2>&1 &
RELAY_PID=$!
CLEANUPS+=("kill $RELAY_PID")
wait_for 5 grep -q '^ready' "$RELAY_LOG"
sed 's#^uri = .*#uri = coaps://127.0.0.1:36690#' "$NET/server.ctl" > "$NET/relay.ctl"

requests() { ctlj server.ctl info | sed -n 's/.*"requests": \([0-9]*\).*/\1/p'; }
replaced() { ctlj server.ctl info | sed -n 's/.*"sessions_replaced": \([0-9]*\).*/\1/p'; }
from_server() { grep -c '^s2c ' "$RELAY_LOG" || true; }

# The original request, through the relay.
check "the operator creates group replayed through the relay" ctl relay.ctl group create replayed
appdata=$(grep -c '^c2s .* type 23 ' "$RELAY_LOG" || true)
check "the relay recorded the operator's application-data records ($appdata)" test "$appdata" -ge 1
check "  and held back cpnsctl's close_notify, so the session stays up" grep -q 'held back (alert)' "$RELAY_LOG"
check "the operator deletes the group (directly, on another session)" ctl server.ctl group delete replayed
out=$(ctl server.ctl group show replayed 2>&1 || true)
check "  it is gone (4.04)" has "$out" '4\.04'

# How much one `info` moves the request count, without a replay between.
r0=$(requests); r1=$(requests)
step=$((r1 - r0))
answers=$(from_server)

# The replay: the same records, from the same 5-tuple, twice.
for round in 1 2; do
  kill -USR1 "$RELAY_PID"
  wait_for 5 bash -c "test \$(grep -c '^replayed [0-9]* application-data' '$RELAY_LOG') -ge $round"
done
check "the relay replayed the records twice" \
  test "$(grep -c "^replayed $appdata application-data" "$RELAY_LOG")" -eq 2
sleep 2
r2=$(requests)
check "the server counted no replayed request (count moved by $((r2 - r1)), one info moves it by $step)" \
  test $((r2 - r1)) -eq "$step"
out=$(ctl server.ctl group show replayed 2>&1 || true)
check "the group was not created again (4.04)" has "$out" '4\.04'
check "the server sent nothing back to the replayed records" test "$(from_server)" -eq "$answers"

# The session the replays met was live: a replayed ClientHello from the
# same 5-tuple finds it established and replaces it.
before=$(replaced)
kill -USR2 "$RELAY_PID"
check "the relay replayed the first ClientHello" wait_for 5 grep -q '^replayed the ClientHello: yes' "$RELAY_LOG"
check "the server found a live session on that 5-tuple" \
  wait_for 5 grep -q '127.0.0.1:36691: new DTLS handshake on a live session' "$NET/server.log"
check "  (sessions_replaced grew by one)" test "$(replaced)" -eq $((before + 1))

# The control: the same harness, but the relay withholds the first record
# of the request (cpnsctl sends its request again in a new record, which
# creates the group). Replaying then delivers two records: the withheld
# one, whose sequence number the server never saw, is accepted and acted on
# (the group comes back: CoAP itself does not drop the late duplicate);
# the other is dropped by the replay window. So what stops a replay above
# is the window, not the relay.
"$RELAY" -l 36692 -t 36680 -s 36693 -d 120 -a -w > "$T/relay2.log" 2>&1 &
RELAY2_PID=$!
CLEANUPS+=("kill $RELAY2_PID")
wait_for 5 grep -q '^ready' "$T/relay2.log"
sed 's#^uri = .*#uri = coaps://127.0.0.1:36692#' "$NET/server.ctl" > "$NET/relay2.ctl"
check "control: the group is created although the relay withheld the first record" \
  ctl relay2.ctl group create control
check "  (the relay withheld one record)" grep -q 'withheld' "$T/relay2.log"
check "  the operator deletes it" ctl server.ctl group delete control
r0=$(requests)
kill -USR1 "$RELAY2_PID"
wait_for 5 grep -q "^replayed [0-9]* application-data" "$T/relay2.log"
sleep 2
r1=$(requests)
check "control: of the two replayed records the server acted on one (count moved by $((r1 - r0)))" \
  test $((r1 - r0)) -eq $((step + 1))
check "  the one it had never seen: the group is back" ctl server.ctl group show control

# The server goes on serving.
check "the server still serves the operator" ctl server.ctl group create after
check "  and a new session through the same relay port" ctl relay.ctl group show after
check "no sanitizer error and no secret in the server's debug log" no_secret_in_logs
finish
