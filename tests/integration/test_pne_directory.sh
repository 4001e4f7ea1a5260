#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Metadata Directory from PNEs (spec 5.5.5, issue 4 item 4): an
# application on a PNE of PN home publishes through its PNE and gateway
# (CPNS-5 -> CPNS-1 -> CPNS-2, On-Behalf-Of the PNE); a PNE of PN b (its
# own gateway) cannot see the PN-private service, and sees it once it is
# public; an application saves an interest and observes it through PNE ->
# gateway -> server (one observation per interest at each hop), and is told
# when a matching service appears, changes and goes; the PNE's configured
# interests ([services] interests) turn another PN's matching service into
# adverts at self/adverts; after kill -9 of the server the relayed
# observations resume; the bound on relayed observations answers 5.03.
# Ports 46680-46699.
source "$(dirname "$0")/lib.sh"
mknet --pnes 2 --base 46680
SRV=coaps://127.0.0.1:46680
idof() { sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | head -1; }
find_ids() { ctlj "$1" service find "${@:2}" | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | sort | tr '\n' ' '; }
desc() { # desc NAME VISIBILITY KEYWORDS-JSON
  printf '{"name":"%s","keywords":%s,"visibility":"%s","uris":["coap://x.example/%s"]}' \
    "$1" "$3" "$2" "$(echo "$1" | tr -c 'a-z0-9\n' '-')" > "$T/d.json"
}
publish() { desc "$2" "$3" "$4"; ctlj "$1" service publish "$T/d.json" | idof; }
# Background watchers are cpnsctl itself (exec), so that the cleanup ends them.
bg_ctl() { exec "$CTL" -t 5000 -P "$NET/$1" "${@:2}"; }

# The phone's own interest; the gateway relays at most 2 interests' observations.
printf '[services]\ninterests = kw=radio,music&match=any\nmax_adverts = 3\n' >> "$NET/phone.conf"

# PN b: a gateway and one PNE of their own, on the same server.
nul_key() { nul_free_key; }
GWB_KEY=$(nul_key); TVB_KEY=$(nul_key); TVB_APP=$(nul_key)
(umask 077
 echo "$GWB_KEY" > "$NET/gw-b.key"; echo "$TVB_KEY" > "$NET/tv-b.key"; echo "$TVB_APP" > "$NET/tv-b-app.key"
 echo "gw-b gw b $GWB_KEY" >> "$NET/server.keys"
 { echo "# identity role pn key"; echo "admin operator - $(cat "$NET/admin.key")"; echo "tv-b pne b $TVB_KEY"; } > "$NET/gw-b.keys"
 { echo "app app - $TVB_APP"; } > "$NET/tv-b-apps.keys")
cat > "$NET/gw-b.conf" <<CONF
[gw]
id = gw-b
pn = b
listen = 127.0.0.1:46696
keyring = $NET/gw-b.keys
database = $NET/gw-b.db
pid_file = $NET/gw-b.pid
lifetime = 60
[server]
uri = $SRV
key_file = $NET/gw-b.key
source = 127.0.0.1:46698
retry = 1
[discovery]
listen = 127.0.0.1:46697
multicast = no
CONF
cat > "$NET/tv-b.conf" <<CONF
[pne]
id = tv-b
type = set-top-box
key_file = $NET/tv-b.key
gateway = coaps://127.0.0.1:46696
pn = b
source = 127.0.0.1:46699
retry = 1
pid_file = $NET/tv-b.pid
[local]
listen = 127.0.0.1:46694
keyring = $NET/tv-b-apps.keys
[discovery]
listen = 127.0.0.1:46695
multicast = no
[limits]
ack_timeout_ms = 500
[usage]
database = $NET/tv-b-usage.db
CONF
printf '[cpnsctl]\nuri = coaps://127.0.0.1:46694\nidentity = app\nkey_file = %s\n' "$NET/tv-b-app.key" > "$NET/tv-b.ctl"
printf '[cpnsctl]\nuri = coaps://127.0.0.1:46696\nidentity = admin\nkey_file = %s\n' "$NET/admin.key" > "$NET/gw-b.ctl"

# Two observers per resource at most, at the server and at the gateway: the
# relayed observations, registered again every 20-30 s over a run of minutes,
# must be renewed in place (the same token), never piled up.
start_server -o limits.max_observers=2
(cd "$NET" && "$GW" -f -c gw.conf -o limits.max_relayed_interests=2 -o limits.max_observers=2 >>gw.log 2>&1 &)
wait_for 10 test -s "$NET/gw.pid"
for p in phone mp3-player; do start_pne "$p"; done
(cd "$NET" && "$GW" -f -c gw-b.conf >>gw-b.log 2>&1 &)
wait_for 10 test -s "$NET/gw-b.pid"
(cd "$NET" && "$PNE" -f -c tv-b.conf >>tv-b.log 2>&1 &)
wait_for 10 test -s "$NET/tv-b.pid"
for p in phone mp3-player; do wait_for 20 is_state gw.ctl home "$p" online; done
check "the PNE of PN b registers with its own gateway" wait_for 20 is_state gw-b.ctl b tv-b online

# ---- publication through PNE and gateway; visibility across PNs ----
TV=$(publish phone.ctl "Home TV" pn '["tv","video"]')
check "an application publishes through its PNE (2.01 with an id)" test -n "$TV"
out=$(ctl server.ctl service show "$TV")
check "the PNE is the offerer, in its gateway's PN" has "$out" 'offerer +phone of PN home'
check "a PNE of the same PN finds the private service" test "$(find_ids mp3-player.ctl --kw tv)" = "$TV "
check "a PNE of PN b does not find it" test -z "$(find_ids tv-b.ctl --kw tv)"
out=$(ctl tv-b.ctl service show "$TV" 2>&1 || true)
check "... nor read it by its id (4.04)" has "$out" '4\.04'
desc "Home TV" public '["tv","video"]'
check "the offerer makes it public" ctl phone.ctl service update "$TV" "$T/d.json"
check "now the PNE of PN b finds it" test "$(find_ids tv-b.ctl --kw tv)" = "$TV "
out=$(ctl tv-b.ctl service unpublish "$TV" 2>&1 || true)
check "another PN's PNE may not unpublish it (4.03)" has "$out" '4\.03'

check "before any matching service, the phone has no adverts" \
  wait_for 10 has "$(ctl phone.ctl service adverts)" 'no adverts yet'

# ---- an application's interest, observed through PNE -> gateway -> server ----
IID=$(ctlj mp3-player.ctl interest add --kw radio | idof)
check "an application saves an interest through its PNE" test -n "$IID"
out=$(ctlj mp3-player.ctl interest list)
check "the interest is the PNE's" has "$out" '"owner": "mp3-player"'
WATCH_START=$SECONDS
(bg_ctl mp3-player.ctl interest watch "$IID" --for 250 > "$T/w1.out" 2>&1) &
(bg_ctl mp3-player.ctl interest watch "$IID" --for 250 > "$T/w2.out" 2>&1) &
sleep 2
RADIO=$(publish tv-b.ctl "B radio" public '["radio"]')
check "PN b's PNE publishes a matching public service" test -n "$RADIO"
check "the observing application is told it appeared" wait_for 10 grep -Eq "appeared +$RADIO +B radio +tv-b" "$T/w1.out"
check "... and so is its second observer (the same observation upstream)" \
  wait_for 10 grep -Eq "appeared +$RADIO" "$T/w2.out"
desc "B radio, louder" public '["radio","fm"]'
check "its offerer changes it" ctl tv-b.ctl service update "$RADIO" "$T/d.json"
check "the observer is told it changed" wait_for 10 grep -Eq "changed +$RADIO +B radio, louder" "$T/w1.out"
check "its offerer unpublishes it" ctl tv-b.ctl service unpublish "$RADIO"
check "the observer is told it is gone" wait_for 10 grep -Eq "gone +$RADIO" "$T/w1.out"

# ---- the PNE's own interest: adverts ----
check "the phone saved its configured interest after registering" \
  wait_for 10 grep -q "interest .* saved\|interest .* reused" "$NET/phone.log"
out=$(ctlj phone.ctl interest list)
check "the phone owns exactly one interest (its own)" test "$(grep -c '"owner": "phone"' <<<"$out")" = 1
check "the events above reached the phone too (B radio is music-or-radio)" \
  wait_for 10 has "$(ctlj phone.ctl service adverts)" "\"service\": \"$RADIO\""
(bg_ctl phone.ctl service adverts --watch --for 250 > "$T/adverts.out" 2>&1) &
MUSIC=$(publish tv-b.ctl "B music" public '["music"]')
check "a new matching service of PN b becomes an advert at the phone" \
  wait_for 10 has "$(ctlj phone.ctl service adverts)" "\"service\": \"$MUSIC\""
check "... told to the application watching the adverts" wait_for 10 grep -Eq "appeared +$MUSIC +B music" "$T/adverts.out"
check "... and logged by the PNE" grep -q "advert: service $MUSIC (B music, offered by tv-b) appeared" "$NET/phone.log"
out=$(ctlj phone.ctl service adverts)
check "of its 4 adverts the phone keeps the latest [services] max_adverts (3)" \
  test "$(grep -c '"interest":' <<<"$out")" = 3 -a "$(grep -c "\"$MUSIC\"" <<<"$out")" = 1 -a \
  "$(grep -c '"total": 4' <<<"$out")" = 1

# The phone restarts: it reuses its interest instead of saving another.
stop phone
start_pne phone
wait_for 20 is_state gw.ctl home phone online
check "after a restart the phone reuses its interest" wait_for 15 grep -q "interest .* reused" "$NET/phone.log"
out=$(ctlj phone.ctl interest list)
check "... still one interest of the phone" test "$(grep -c '"owner": "phone"' <<<"$out")" = 1

# ---- the server restarts: the relayed observations resume ----
# Past a renewal at the PNE (every 30 s) and two at the gateway (20 s).
while [ $((SECONDS - WATCH_START)) -lt 45 ]; do sleep 1; done
desc "B radio, late" public '["radio"]'
LATE=$(ctlj tv-b.ctl service publish "$T/d.json" | idof)
check "renewed in place: after 45 s the observer is still told" wait_for 10 grep -Eq "appeared +$LATE" "$T/w1.out"
check "... and no observer limit was reached at the server or the gateway" \
  test "$(cat "$NET/gw.log" "$NET/server.log" | grep -c 'observer limit')" = 0
kill -9 "$(pid_of server)"
sleep 1
rm -f "$NET/server.pid"
start_server -o limits.max_observers=2
registrations() { [ "$(grep -c "registered with" "$NET/$1")" -ge 2 ]; }
check "both gateways register again" wait_for 60 bash -c "$(declare -f registrations); NET=$NET; registrations gw.log && registrations gw-b.log"
sleep 1
RADIO2=$(publish tv-b.ctl "B radio 2" public '["radio"]' || true)
check "after the restart PN b publishes again" test -n "$RADIO2"
check "the application observing through PNE and gateway is told (the observation resumed)" \
  wait_for 40 grep -Eq "appeared +$RADIO2" "$T/w1.out"
check "the phone's own interest gets the advert too" \
  wait_for 40 has "$(ctlj phone.ctl service adverts)" "\"service\": \"$RADIO2\""


# Notifications are one message each (not block-wise): a body that would not
# fit leaves out its oldest events, and the newest still arrive.
LONG=$(printf 'L%.0s' $(seq 1 120))
for i in 1 2 3 4 5; do LAST=$(publish tv-b.ctl "$LONG $i" public '["radio"]'); done
check "with 8 events of long names, the observer is still told of the newest" \
  wait_for 15 grep -Eq "appeared +$LAST" "$T/w1.out"
check "... and the phone gets it as an advert" \
  wait_for 15 has "$(ctlj phone.ctl service adverts)" "\"service\": \"$LAST\""

# ---- limits and endings ----
I2=$(ctlj mp3-player.ctl interest add --kw printer | idof)
out=$(ctl mp3-player.ctl interest watch "$I2" --for 3 2>&1 || true)
check "beyond [limits] max_relayed_interests the gateway answers 5.03" has "$out" '5\.?03 too many relayed observations \(at most 2\)'
out=$(ctl tv-b.ctl interest watch "$IID" --for 3 2>&1 || true)
check "a PNE of another PN may not observe the interest (4.03)" has "$out" '4\.?03 tv-b may not read this interest'
check "the application removes its interest" ctl mp3-player.ctl interest remove "$IID"
check "its observers' observation ends with the server's answer" \
  wait_for 40 bash -c "! pgrep -f '[i]nterest watch $IID' >/dev/null"
check "... with 4.04" grep -q "interests/$IID: 404" "$T/w1.out"
finish
