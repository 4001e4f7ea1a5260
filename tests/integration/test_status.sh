#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Status management (spec 5.5.3, issue 5 item 2) as a user meets it: PNEs
# publish through their applications (cpnsctl -> CPNS-5 -> CPNS-1), the
# gateway serves its PN and sends the PN's changes to the server in
# batches; observers with conditional attributes are told only what their
# conditions ask for (two observers with different c.lt, c.pmin, c.pmax);
# a killed PNE goes offline within its lifetime and its observer is told;
# a policy report reaches its target PNE; a plain coap-client observes as
# docs/protocol.md says; 4.29 beyond the rate, 4.00 for invalid conditions,
# 5.03 beyond the observer cap; after kill -9 of the server the last values
# are there and a gateway's relayed observation of another PN resumes.
# Ports 42680-42699 only.
source "$(dirname "$0")/lib.sh"
# A watcher in the background is cpnsctl itself (exec), so that the cleanup's
# kill of $! ends it and not only a subshell around it.
bg_ctl() { exec "$CTL" -t 5000 -P "$NET/$1" "${@:2}"; }
BASE=42680
mknet --pnes 3 --base $BASE --lifetime 6
# Every port of the run within BASE..BASE+19: the PNEs send from +16..+18
# (mknet's default lies above the range), PN "office" uses +4..+9.
i=0
for p in $(cat "$NET/pnes"); do
  sed -i "s/^source = .*/source = 127.0.0.1:$((BASE + 16 + i))/" "$NET/$p.conf"
  i=$((i + 1))
done
# A second PN, "office", with its gateway and a PNE "laptop"; home may read it.
k() { openssl rand -hex 32 | sed 's/00/11/g'; }
gwo=$(k) laptop=$(k) lapp=$(k)
echo "$gwo" > "$NET/gw-office.key"; echo "$laptop" > "$NET/laptop.key"; echo "$lapp" > "$NET/laptop-app.key"
echo "gw-office gw office $gwo" >> "$NET/server.keys"
admin=$(cat "$NET/admin.key")
printf 'admin operator - %s\nlaptop pne office %s\n' "$admin" "$laptop" > "$NET/gw-office.keys"
printf 'app app - %s\n' "$lapp" > "$NET/laptop-apps.keys"
chmod 600 "$NET"/*.keys "$NET"/*.key
cat > "$NET/gw-office.conf" <<CONF
[gw]
id = gw-office
pn = office
owner = bob
listen = 127.0.0.1:$((BASE + 4))
keyring = $NET/gw-office.keys
database = $NET/gw-office.db
pid_file = $NET/gw-office.pid
lifetime = 6
[server]
uri = coaps://127.0.0.1:$BASE
key_file = $NET/gw-office.key
source = 127.0.0.1:$((BASE + 5))
retry = 1
[discovery]
enabled = no
CONF
cat > "$NET/laptop.conf" <<CONF
[pne]
id = laptop
pn = office
key_file = $NET/laptop.key
gateway = coaps://127.0.0.1:$((BASE + 4))
source = 127.0.0.1:$((BASE + 6))
lifetime = 6
retry = 1
pid_file = $NET/laptop.pid
[status]
attributes = battery=90
[local]
listen = 127.0.0.1:$((BASE + 7))
keyring = $NET/laptop-apps.keys
[discovery]
enabled = no
CONF
printf '[cpnsctl]\nuri = coaps://127.0.0.1:%d\nidentity = app\nkey_file = %s\n' $((BASE + 7)) \
  "$NET/laptop-app.key" > "$NET/laptop.ctl"

SRV=coaps://127.0.0.1:$BASE
GWURI=coaps://127.0.0.1:$((BASE + 1))
raw_key() { printf '%s' "$(cat "$NET/$1")" | xxd -r -p; }
start_server
# A small observer cap per resource, to see the 5.03.
start_gw -o limits.max_observers=3
for p in $(cat "$NET/pnes"); do start_pne "$p"; done
for p in $(cat "$NET/pnes"); do wait_for 20 is_state gw.ctl home "$p" online; done
(cd "$NET" && "$GW" -f -c gw-office.conf >>gw-office.log 2>&1 &)
wait_for 10 test -s "$NET/gw-office.pid"
start_pne laptop
wait_for 20 bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' status show office laptop 2>/dev/null | grep -q battery=90" ||
  fail "the laptop's first status reached the server"

# ---- publish, batch, serve ----
check "an application sets its device's status (busy, battery 57)" \
  ctl phone.ctl status set busy --attr battery=57 --text "in a meeting"
check "the gateway serves it to its PN" \
  wait_for 5 bash -c "'$CTL' -t 5000 -P '$NET/gw.ctl' status show home phone | grep -q 'busy.*battery=57'"
check "the server has it (one PN's changes are one stream of batches)" \
  wait_for 5 bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' status show home phone | grep -q 'busy.*battery=57'"
batches=$(ctlj gw.ctl status stats | sed -n 's/.*"batches": \([0-9]*\).*/\1/p')
check "the gateway sent them in batches ($batches so far)" test "${batches:-0}" -ge 1
out=$(ctl mp3-player.ctl status show home)
check "a PNE's application lists its PN's statuses" has "$out" 'phone +busy +battery=57'

# ---- two observers with different thresholds ----
bg_ctl mp3-player.ctl -j status watch home phone battery --lt 20 --for 14 > "$T/lt20.out" 2>&1 &
CLEANUPS+=("kill $!")
bg_ctl set-top-box.ctl -j status watch home phone battery --lt 10 --for 14 > "$T/lt10.out" 2>&1 &
CLEANUPS+=("kill $!")
bg_ctl gw.ctl -j status watch home phone battery --pmin 3 --for 14 > "$T/pmin.out" 2>&1 &
CLEANUPS+=("kill $!")
bg_ctl gw.ctl -j status watch home mp3-player state --pmax 2 --for 9 > "$T/pmax.out" 2>&1 &
CLEANUPS+=("kill $!")
wait_for 5 grep -q '"first":true' "$T/lt20.out"
wait_for 5 grep -q '"first":true' "$T/lt10.out"
wait_for 5 grep -q '"first":true' "$T/pmin.out"
for v in 40 30 15 14 13; do ctl phone.ctl status set --attr battery=$v >/dev/null; sleep 0.6; done
sleep 4
check "the observer of c.lt=20 is told when the battery crosses 20 (and only then)" \
  bash -c "[ \$(grep -c '\"first\":false' '$T/lt20.out') = 1 ] && grep -q '\"value\":15' '$T/lt20.out'"
check "the observer of c.lt=10 is told nothing" \
  bash -c "[ \$(grep -c '\"first\":false' '$T/lt10.out') = 0 ]"
# c.pmin=3: five changes in 3 s: never two notifications within 3 s
check "c.pmin: notifications at least 3 s apart, the last value last" bash -c "
  ts=\$(grep -o '\"received_ms\":[0-9]*' '$T/pmin.out' | cut -d: -f2)
  prev=0; for t in \$ts; do [ \$prev -eq 0 ] || [ \$((t - prev)) -ge 2900 ] || exit 1; prev=\$t; done
  [ \$(echo \"\$ts\" | wc -l) -le 3 ] && tail -1 '$T/pmin.out' | grep -q '\"value\":13'"
check "c.pmax=2: told at least every 2 s with nothing changed (3 times in 9 s)" \
  wait_for 10 bash -c "[ \$(grep -c '\"first\":false' '$T/pmax.out') -ge 3 ]"

# ---- a plain coap-client, as docs/protocol.md shows ----
timeout 20 coap-client-openssl -B 15 -s 15 -u admin -k "$(raw_key admin.key)" -A 50 -m get \
  "$GWURI/cpns/v1/pns/home/entities/phone/status/battery?c.gt=60" > "$T/coap.out" 2>&1 &
CLEANUPS+=("kill $!")
check "coap-client registers and gets the current value" wait_for 5 grep -q '"value":13' "$T/coap.out"
ctl phone.ctl status set --attr battery=50 >/dev/null
ctl phone.ctl status set --attr battery=70 >/dev/null
check "coap-client is told when the battery rises above 60" wait_for 5 grep -q '"value":70' "$T/coap.out"
check "...and was not told of 50" bash -c "! grep -q '\"value\":50' '$T/coap.out'"

# ---- bad input ----
out=$(ctl gw.ctl get 'pns/home/entities/phone/status/battery?c.lt=abc' 2>&1 || true)
check "a malformed threshold is 4.00" has "$out" '4\.00'
out=$(ctl server.ctl get 'pns/home/entities/phone/status/battery?c.pmin=10&c.pmax=5' 2>&1 || true)
check "pmax not above pmin is 4.00 (server)" has "$out" '4\.00.*pmax'
out=$(ctl gw.ctl get 'pns/home/entities/phone/status?c.lt=20' 2>&1 || true)
check "a threshold on the whole document is 4.00" has "$out" '4\.00.*numeric'
out=$(ctl gw.ctl get 'pns/home/entities/phone/status/battery?c.gt=1&gt=2' 2>&1 || true)
check "c.gt and gt together are 4.00" has "$out" '4\.00.*twice'
out=$(ctl phone.ctl status set --attr 'battery=1e13' 2>&1 || true)
check "nonsense attribute values are refused before they are sent" has "$out" 'not a valid|number'
out=$(ctl phone.ctl post status '{"attrs":{"battery":"full"}}' 2>&1 || true)
check "a non-numeric attribute is 4.00" has "$out" '4\.00.*finite number'
out=$(ctl phone.ctl post status '{"mood":"great"}' 2>&1 || true)
check "an unknown member is 4.00" has "$out" '4\.00.*unknown member'
for n in $(seq 1 12); do
  ("$CTL" -t 5000 -P "$NET/phone.ctl" status set --attr "n=$n" > "$T/flood$n.out" 2>&1 &)
done
sleep 3
check "a flood of status updates beyond the rate gets 4.29" bash -c "cat '$T'/flood*.out | grep -q '4\.29'"
rl=$(ctlj gw.ctl status stats | sed -n 's/.*"rate_limited": \([0-9]*\).*/\1/p')
check "and is counted ($rl refused)" test "${rl:-0}" -ge 1
for n in 1 2 3; do
  timeout 12 coap-client-openssl -B 10 -s 10 -u admin -k "$(raw_key admin.key)" -A 50 -m get \
    "$GWURI/cpns/v1/pns/home/entities/phone/status/text" > "$T/cap$n.out" 2>&1 &
  CLEANUPS+=("kill $!")
done
sleep 1
out=$(ctl gw.ctl get 'pns/home/entities/phone/status/text' 2>&1 || true)
check "a plain GET is no observer" has "$out" 'in a meeting'
out=$(timeout 5 coap-client-openssl -B 3 -s 2 -u admin -k "$(raw_key admin.key)" -A 50 -m get \
  "$GWURI/cpns/v1/pns/home/entities/phone/status/text" 2>&1 || true)
check "a fourth observer of one resource (cap 3) gets 5.03" has "$out" '5\.03'

# ---- policy-based reports (5.5.3.2) ----
check "a PNE's application adds a rule: when the phone's battery falls below 20, tell the mp3 player" \
  ctl phone.ctl policy add home phone 'battery<20' mp3-player --id low-batt
out=$(ctl server.ctl policy list home)
check "the server holds it" has "$out" 'low-batt +phone +battery<20 +mp3-player'
ctl phone.ctl status set --attr battery=12 >/dev/null
check "the report reaches its target PNE through its gateway" \
  wait_for 10 bash -c "'$CTL' -t 5000 -P '$NET/mp3-player.ctl' reports | grep -Eq 'low-batt +phone +battery=12'"
check "the rule counted one report" \
  bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' policy list home | grep -Eq 'low-batt .* 1$'"
check "a rule is removed by a member" ctl phone.ctl policy remove home low-batt
out=$(ctl phone.ctl policy add home ghost 'battery<20' mp3-player 2>&1 || true)
check "a rule about an entity not in the PN is 4.04" has "$out" '4\.04'

# ---- a killed PNE goes offline, and its observer is told ----
bg_ctl server.ctl -j status watch home set-top-box state --for 30 > "$T/off.out" 2>&1 &
CLEANUPS+=("kill $!")
wait_for 5 grep -q '"first":true' "$T/off.out"
t0=$SECONDS
kill9 set-top-box
check "the set-top box's observer at the server is told it is offline" \
  wait_for 20 grep -q '"state":"offline"' "$T/off.out"
check "within its lifetime (6 s) and a batch: $((SECONDS - t0)) s" test $((SECONDS - t0)) -le 12

# ---- another PN's status, relayed; a server restart ----
check "the owner of office lets home read it" ctl server.ctl pn readers office home
bg_ctl phone.ctl -j status watch office laptop battery --for 60 > "$T/remote.out" 2>&1 &
CLEANUPS+=("kill $!")
check "an application of PN home observes the laptop of PN office (relayed by both gateways)" \
  wait_for 10 grep -q '"value":90' "$T/remote.out"
ctl laptop.ctl status set --attr battery=80 >/dev/null
check "and is told of its change" wait_for 10 grep -q '"value":80' "$T/remote.out"
check "the server keeps home's gateway's observation" \
  bash -c "sqlite3 '$NET/server.db' 'select count(*) from status_observer' | grep -qv '^0$'"
kill9 server
start_server
check "after kill -9 the server still has the last values" \
  wait_for 10 bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' status show home phone | grep -q 'battery=12'"
check "the kept observation is restored, waiting for its gateway" \
  wait_for 5 grep -q "observation(s) of PN GWs kept" "$NET/server.log"
# (The server logs a registration only for a PN it had offline: the
# gateways' own logs tell each new registration.)
check "the gateways register again" \
  wait_for 40 bash -c "[ \$(grep -c 'PN home registered with' '$NET/gw.log') -ge 2 ] &&
                       [ \$(grep -c 'PN office registered with' '$NET/gw-office.log') -ge 2 ]"
wait_for 40 bash -c "'$CTL' -t 5000 -j -P '$NET/server.ctl' status stats | grep -Eq '\"resumed\": [1-9]'"
check "home's gateway's observation resumed on its new session" \
  bash -c "'$CTL' -t 5000 -j -P '$NET/server.ctl' status stats | grep -Eq '\"resumed\": [1-9]'"
ctl laptop.ctl status set --attr battery=33 >/dev/null
check "the application of PN home is told of the laptop's change after the restart" \
  wait_for 20 grep -q '"value":33' "$T/remote.out"
check "the daemons keep serving" ctl server.ctl status show home

# ---- an entity twice in one batch (last: a second session of the gateway) ----
printf '[cpnsctl]\nuri = coaps://127.0.0.1:%s\nidentity = gw-home\nkey_file = %s\n' \
  "$BASE" "$NET/gw.key" > "$NET/gw-at-server.ctl"
up() { printf '{"id":"mp3-player","status":{"state":"online","attrs":{"dup":%s}}}' "$1"; }
out=$(ctlj gw-at-server.ctl post pns/home/status "{\"updates\":[$(up 1),$(up '"x"')]}" 2>&1 || true)
check "a refused later update of an entity is answered in refused" has "$out" '"code": 400'
check "... and the earlier one of the batch is stored" \
  bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' status show home mp3-player | grep -q 'dup=1'"
out=$(ctlj gw-at-server.ctl post pns/home/status "{\"updates\":[$(up 2),$(up 3)]}" 2>&1 || true)
check "of two accepted updates of an entity the later is stored" \
  bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' status show home mp3-player | grep -q 'dup=3'"
finish
