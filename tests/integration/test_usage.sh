#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage statistics (spec 5.5.4), end to end: applications on two PNEs record
# service consumptions (CPNS-5); the user's preferences at the phone keep
# iptv private and let game through; the gateway batches the PN's records to
# the server (CPNS-2), which stores them and adds them up per service, PN,
# entity and day. A denied service's records are never seen by the gateway
# nor the server (their stores and debug logs of every request and record);
# records acknowledged while the server is away survive kill -9 of the
# server and of the gateway; floods get 4.29, bad records and queries 4.00
# or 4.13; another PN's gateway may not read this PN's summary (4.03).
source "$(dirname "$0")/lib.sh"
mknet --pnes 2 --base 44680 --lifetime 10
SRV=coaps://127.0.0.1:44680

# Another PN's gateway, known to the server.
add_identity server.keys gw-work gw work gw-work.ctl "$SRV"
# The phone's battery, as its capabilities read it.
PS=$T/power_supply
mkdir -p "$PS/BAT0"
echo Battery > "$PS/BAT0/type"; echo 64 > "$PS/BAT0/capacity"; echo Discharging > "$PS/BAT0/status"
# The user of the phone: the operator key of the device's keyring.
cat > "$NET/phone-user.ctl" <<CONF
[cpnsctl]
uri = coaps://127.0.0.1:44690
identity = admin
key_file = $NET/admin.key
CONF
cat > "$NET/gw-home.ctl" <<CONF
[cpnsctl]
uri = $SRV
identity = gw-home
key_file = $NET/gw.key
CONF

# Debug logs at the gateway and the server: each request they serve is a
# line, and the gateway logs every record it receives, with its service.
start_server -o log.level=debug
start_gw -o log.level=debug -o usage.batch_ms=1500
start_pne phone -o capabilities.power_supply="$PS"
start_pne mp3-player -o usage.max_rate=1 -o usage.burst=5
for p in phone mp3-player; do wait_for 20 is_state gw.ctl home "$p" online; done

summary() { ctlj server.ctl usage summary "$@"; }
# total FIELD KEY JSON: FIELD of the row KEY of a summary in JSON
row_of() { tr -d ' \n' <<<"$3" | grep -Eo "\"key\":\"$2\",[^}]*" | grep -Eo "\"$1\":[0-9]+" | cut -d: -f2; }
records_of() { row_of records "$1" "$(summary --by "${2:-service}")"; }
counter() { ctlj "$1" usage counters | tr -d ' \n' | grep -Eo "\"$2\":[0-9]+" | cut -d: -f2; }
records_is() { [ "$(records_of "$1")" = "$2" ]; }
counter_is() { [ "$(counter "$1" "$2")" = "$3" ]; }
now=$(date +%s)
# The sessions below happen yesterday and the day before (UTC), whatever the
# time of the run: a summary per day groups them by the day they started.
d1=$((now / 86400 * 86400 - 86400)); d2=$((d1 - 86400))
day1=$(date -u -d @$d1 +%F); day2=$(date -u -d @$d2 +%F)

# ---- preferences: the user's, at the PNE ----
check "the user denies iptv at the phone" ctl phone-user.ctl usage pref set iptv deny
check "the user allows game" ctl phone-user.ctl usage pref set game allow
out=$(ctl phone-user.ctl usage pref list)
check "the preferences list iptv deny, game allow, others as configured" \
  bash -c "grep -Eq '^iptv +deny' <<<'$out' && grep -Eq '^game +allow' <<<'$out' && grep -q 'as configured' <<<'$out'"
out=$(ctl phone.ctl usage pref set iptv allow 2>&1 || true)
check "an application may not change the preferences (4.03)" has "$out" '4\.03'
out=$(ctlj phone.ctl usage pref list)
check "an application may read them" has "$out" '"iptv": "deny"'

# ---- records ----
check "a game session is recorded at the phone" \
  ctl phone.ctl usage record game --start $((d1 + 1000)) --seconds 600 --in 1000 --out 200 --battery 77
check "another game session" ctl phone.ctl usage record game --start $((d1 + 2000)) --seconds 300
check "a game session of the day before" ctl phone.ctl usage record game --start $((d2 + 100)) --seconds 100
check "a radio session" ctl phone.ctl usage record radio --start $((d1 + 3000)) --seconds 60
out=$(ctl phone.ctl usage record iptv --start $((d1 + 4000)) --seconds 3600 --in 999999)
check "an iptv session is not reported: the preferences keep it on the device" has "$out" 'not reported'
out=$(ctlj phone.ctl usage record iptv --seconds 10)
check "... and says so in JSON" has "$out" '"reported": false'
check "the mp3 player records a game session" ctl mp3-player.ctl usage record game --start $((d1 + 5000)) --seconds 120

check "the server adds the games up: 4 records" wait_for 20 records_is game 4
s=$(summary --by service)
check "game: 600 + 300 + 100 + 120 seconds" test "$(row_of seconds game "$s")" = 1120
check "game: 1000 bytes in" test "$(row_of bytes_in game "$s")" = 1000
check "radio: one record" test "$(row_of records radio "$s")" = 1
check "iptv is nowhere in the summary" bash -c "! grep -q iptv <<<'$s'"
s=$(summary --by pn)
check "per PN: home has 5 records" test "$(row_of records home "$s")" = 5
s=$(summary --by day)
check "per day: $day1 4, $day2 1" \
  bash -c "[ '$(row_of records "$day1" "$s")' = 4 ] && [ '$(row_of records "$day2" "$s")' = 1 ]"
s=$(summary --by entity --service game)
check "per entity, games only: phone 3, mp3-player 1" \
  bash -c "[ '$(row_of records phone "$s")' = 3 ] && [ '$(row_of records mp3-player "$s")' = 1 ]"
out=$(ctl server.ctl usage summary --by service)
dev() { sqlite3 "$NET/server.db" "SELECT device FROM usage_record WHERE $1 LIMIT 1"; }
dev1=$(dev "bytes_in = 1000"); dev2=$(dev "service = 'radio'")
check "a record keeps the device during use: the application's battery (77), the phone's type" \
  has "$dev1" '"battery":77,.*"type":"phone"'
check "... or the battery the phone's capabilities read (64), not charging" \
  has "$dev2" '"battery":64,"charging":false'
check "... and the phone's status then (online)" has "$dev2" '"state":"online"'
check "cpnsctl prints a table of the summary" bash -c "grep -Eq '^SERVICE +RECORDS' <<<'$out' && grep -Eq '^game +4 +00:18:40' <<<'$out'"

# ---- a denied service's records never leave the device ----
check "the gateway logged each record it received (debug)" grep -q "phone used game for 600 s" "$NET/gw.log"
check "the gateway never saw an iptv record (its log of every request and record)" \
  bash -c "! grep -qi iptv '$NET/gw.log'"
check "the server never saw one (its log)" bash -c "! grep -qi iptv '$NET/server.log'"
check "the server's store holds none" test "$(sqlite3 "$NET/server.db" "SELECT count(*) FROM usage_record WHERE service = 'iptv'")" = 0
check "the gateway's store holds none" test "$(sqlite3 "$NET/gw.db" "SELECT count(*) FROM usage_record WHERE service = 'iptv'")" = 0
check "the phone's own store holds none" test "$(sqlite3 "$NET/phone-usage.db" "SELECT count(*) FROM usage_record WHERE service = 'iptv'")" = 0
check "the phone counted 2 denied records" test "$(counter phone.ctl denied)" = 2
check "the gateway received exactly the 5 allowed records" test "$(counter gw.ctl received)" = 5

# ---- batching ----
b=$(counter server.ctl batches); r=$(counter server.ctl records)
check "the gateway batched: $r records in $b batch(es) to the server" test "$b" -lt "$r"

# ---- a service denied later: its waiting records are deleted ----
stop gw
check "with the gateway away, a news session is recorded (it waits at the phone)" \
  ctl phone.ctl usage record news --seconds 30
check "it waits" test "$(counter phone.ctl pending)" = 1
check "the user denies news" ctl phone-user.ctl usage pref set news deny
check "the waiting news record is deleted" test "$(counter phone.ctl pending)" = 0
start_gw -o log.level=debug -o usage.batch_ms=1500
wait_for 20 is_state gw.ctl home phone online
check "the default may deny too" ctl phone-user.ctl usage pref default deny
out=$(ctl phone.ctl usage record weather --seconds 5)
check "a service not named then is not reported" has "$out" 'not reported'
check "the default back as configured" ctl phone-user.ctl usage pref default reset

# ---- kill -9 of the server, then of the gateway: nothing acknowledged is lost ----
kill9 server
for i in 1 2 3; do ctl phone.ctl usage record radio --seconds $((10 * i)) >/dev/null; done
check "with the server away, the gateway holds the 3 new records" wait_for 30 counter_is gw.ctl pending 3
kill9 gw
start_gw -o log.level=debug -o usage.batch_ms=1500
start_server -o log.level=debug
check "after both restarts, the server has all 4 radio records" wait_for 30 records_is radio 4
check "no news ever reached the server" bash -c "! grep -q news '$NET/server.log' '$NET/gw.log'"

# ---- who may read a summary ----
out=$(ctl gw-work.ctl usage summary --pn home 2>&1 || true)
check "another PN's gateway may not read this PN's summary (4.03)" has "$out" '4\.03'
out=$(ctl gw-work.ctl usage summary 2>&1 || true)
check "... its own PN's it may (empty)" has "$out" 'no usage reported'
out=$(ctlj gw-home.ctl usage summary --by pn)
check "the PN's own gateway reads its PN's" has "$out" '"key": "home"'
# The PNEs find the restarted gateway at their next refresh (lifetime 10 s).
reads_home() { ctlj phone.ctl usage summary --by pn 2>/dev/null | grep -q '"key": "home"'; }
check "a PNE reads its PN's through its gateway" wait_for 30 reads_home
out=$(ctl phone.ctl usage summary --pn work 2>&1 || true)
check "a PNE may not read another PN's (4.03)" has "$out" '4\.03'

# ---- a summary relayed by the PNE and the gateway: every row (test_relay_blocks.sh) ----
for i in 1 2 3 4 5 6 7 8 9; do ctl phone.ctl usage record "svc$i" --seconds $i >/dev/null; done
check "the server holds 11 services" wait_for 20 bash -c "[ \"\$('$CTL' -t 5000 -j -P '$NET/server.ctl' usage summary | grep -c '\"key\"')\" = 11 ]"
out=$(ctl phone.ctl usage summary)
check "through the phone: all 11 rows" \
  bash -c "[ \$(grep -Ec '^(game|radio|svc)' <<<'$out') = 11 ] && ! grep -q 'more rows' <<<'$out'"

# ---- bad input ----
out=$(ctl phone.ctl post usage '{"service":"game","start":20,"stop":10}' 2>&1 || true)
check "a record that stops before it starts: 4.00" has "$out" "4\.00.*before"
out=$(ctl phone.ctl post usage '{"service":"game","start":1,"stop":2,"colour":"red"}' 2>&1 || true)
check "an unknown member: 4.00" has "$out" "4\.00.*unknown member"
long=$(printf 'x%.0s' $(seq 1 70))
out=$(ctl phone.ctl post usage "{\"service\":\"$long\",\"start\":1,\"stop\":2}" 2>&1 || true)
check "a service id of 70 bytes: 4.13" has "$out" '4\.13'
big=$(printf 'y%.0s' $(seq 1 17000))
out=$(ctl phone.ctl post usage "{\"service\":\"game\",\"start\":1,\"stop\":2,\"device\":{\"type\":\"$big\"}}" 2>&1 || true)
check "a body over the payload limit: 4.13" has "$out" '4\.13'
out=$(ctl phone.ctl post usage '{"service":"game","start":1,"stop":2,"device":{"battery":140}}' 2>&1 || true)
check "a battery of 140%: 4.00" has "$out" '4\.00.*battery'
for q in 'by=week' 'from=2026-02-30' 'from=2020-01-01&to=2026-01-01' 'limit=0' 'colour=red' 'pn=home&pn=home'; do
  out=$(ctl server.ctl get "usage/summary?$q" 2>&1 || true)
  check "a bad summary query '$q': 4.00" has "$out" '4\.00'
done
out=$(ctl mp3-player.ctl usage record game --seconds 1 --repeat 30 2>&1 || true)
check "a flood beyond the rate gets 4.29 (mp3 player: 1/s, burst 5): $(echo $out)" \
  bash -c "grep -Eq '^cpnsctl: [0-9]+ of 30 recorded' <<<'$out' && grep -q '4\.29' <<<'$out'"
check "... and the PNE counted it" test "$(counter mp3-player.ctl rate_limited)" -ge 1
out=$(ctl gw.ctl post pns/home/entities/phone/usage '{"records":[]}' 2>&1 || true)
check "the gateway refuses a batch from someone else than its PNE (4.03)" has "$out" '4\.03'
out=$(coap-client-openssl -B 5 -u phone -k "$(printf '%s' "$(cat "$NET/phone.key")" | xxd -r -p)" -m post \
  -t 50 -e '{"records":[{"service":"game","start":1,"stop":2}]}' \
  "coaps://127.0.0.1:44681/cpns/v1/pns/home/entities/phone/usage" 2>&1 || true)
check "the gateway refuses a PNE's record without its id (4.00)" has "$out" '4\.00|id. is missing'

check "no sanitizer report, daemons alive" bash -c "kill -0 $(pid_of server) && kill -0 $(pid_of gw) && kill -0 $(pid_of phone)"
finish
