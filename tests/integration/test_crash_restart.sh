#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kill -9 and restart: nothing acknowledged is lost (the server's and the
# gateway's SQLite state), and an entity that restarts without closing its
# DTLS session, from the same source address and port, is back within seconds
# (RFC 6347 §4.2.8: the stale session is replaced).
source "$(dirname "$0")/lib.sh"
mknet --pnes 3 --base 23680 --lifetime 6
start_all

# Acknowledged changes, then an immediate kill -9 of the gateway.
check "operator adds tablet (acknowledged)" ctl gw.ctl pn add home tablet Tablet
check "phone expels the set-top box (acknowledged)" ctl phone.ctl pn expel home set-top-box
kill9 gw
start_gw
check "after kill -9 and restart the gateway still has the added tablet" is_state gw.ctl home tablet added
check "and the expulsion: set-top box stays out" bash -c "sleep 4; ! '$CTL' -P $NET/gw.ctl pn show home | grep -q set-top-box"
check "the PNEs are back at the restarted gateway" wait_for 15 is_state gw.ctl home phone online
check "from the same source ports: the gateway replaced stale sessions or they reconnected" \
  wait_for 15 is_state gw.ctl home mp3-player online

# The server: acknowledged operator changes survive kill -9.
check "operator lets PN 'friends' read home (acknowledged)" ctl server.ctl pn readers home friends
check "the server has the tablet" wait_for 10 is_state server.ctl home tablet added
kill9 server
start_server
check "after kill -9 the server still has the readers" bash -c "'$CTL' -P $NET/server.ctl pn readers home | grep -q friends"
check "and the inventory" is_state server.ctl home tablet added
check "the gateway is back at the restarted server (CPNS-7 works again)" \
  wait_for 30 bash -c "'$CTL' -P $NET/server.ctl pn gw home | grep -q 'server.*connected'"
check "the server's inventory shows the PNEs online again" wait_for 15 is_state server.ctl home phone online

# A PNE killed hard and restarted on the same port is back within seconds.
before=$(grep -c 'registered in PN' "$NET/phone.log")
replaced=$(grep -c 'replacing it' "$NET/gw.log" || true)
kill9 phone
start_pne phone
t0=$SECONDS
check "a PNE restarted on the same source port is registered again within 8 s" wait_for 8 bash -c \
  "[ \$(grep -c 'registered in PN' $NET/phone.log) -gt $before ]"
echo "  (back after $((SECONDS - t0)) s)"
check "the gateway noticed the new handshake on the live session" \
  bash -c "[ \$(grep -c 'replacing it' $NET/gw.log) -gt $replaced ]"

# The gateway killed hard and restarted on the same ports: PNEs come back.
kill9 gw
start_gw
t0=$SECONDS
check "all PNEs are back at a gateway restarted on the same port within 20 s" wait_for 20 bash -c \
  "for p in phone mp3-player; do '$CTL' -P $NET/gw.ctl get pns/home/entities/\$p | grep -q '\"online\"' || exit 1; done"
echo "  (back after $((SECONDS - t0)) s)"

# Operator changes made while the gateway is down reach it when it is back.
kill9 gw
check "with the gateway down, the operator adds a watch" ctl server.ctl pn add home watch Watch
check "and expels the mp3 player" ctl server.ctl pn expel home mp3-player
start_gw
check "the restarted gateway adopts the watch" wait_for 15 is_state gw.ctl home watch added
check "and applies the expulsion" wait_for 15 is_state gw.ctl home mp3-player absent
check "the mp3 player stays out" bash -c "sleep 4; [ \"\$('$CTL' -P $NET/gw.ctl get pns/home/entities/mp3-player 2>&1 | grep -c online)\" = 0 ]"

# Clean shutdown: SIGTERM ends each daemon with status 0 and removes its pid file.
for d in phone gw server; do
  p=$(pid_of $d)
  kill "$p"
  check "$d stops cleanly on SIGTERM" wait_for 10 bash -c "! kill -0 $p && [ ! -f $NET/$d.pid ]"
done
check "each logged its stop" bash -c "grep -q stopped $NET/server.log && grep -q stopped $NET/gw.log"
finish
