#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Device capabilities (spec 5.5.1, issue 5 item 1), end to end: a PNE reads
# its host (the memory total of /proc/meminfo, a battery in a power supply
# directory the test makes) and its configuration file, reports them to its
# gateway, which keeps a copy and reports them with its own to the server;
# a change of a dynamic value travels as a merge patch (PATCH) and reaches
# a plain coap-client observing the server's resource; reads per entity
# and per PN, through a PNE, the gateway and the server; another PN's
# gateway is refused until the owner lets it read; changes made while the
# server is away reach it when it is back; kill -9 of the server loses
# nothing; bad input gets its own answer.
source "$(dirname "$0")/lib.sh"
mknet --pnes 2 --base 41680
SRV=coaps://127.0.0.1:41680
GWURI=coaps://127.0.0.1:41681
raw_key() { printf '%s' "$(cat "$NET/$1")" | xxd -r -p; }
PS=$T/power_supply
mkdir -p "$PS/BAT0" "$PS/AC"
echo Battery > "$PS/BAT0/type"; echo Mains > "$PS/AC/type"
echo 80 > "$PS/BAT0/capacity"; echo Discharging > "$PS/BAT0/status"
echo 4000000 > "$PS/BAT0/charge_full_design"; echo Li-ion > "$PS/BAT0/technology"
cat > "$NET/phone-caps.json" <<'JSON'
{"static":{"hardware":{"screen":{"width":1080,"height":2340,"dpi":401,"touch":true},
  "chipsets":{"main":"SM8250"}},
  "software":{"apps":{"player":"1.0"},"drivers":{"wifi":"2.1"}}},
 "dynamic":{"running":["player"]}}
JSON
cat >> "$NET/phone.conf" <<CONF
[capabilities]
file = $NET/phone-caps.json
power_supply = $PS
period = 1
min_interval = 1
CONF
# The requests are logged at debug level: the test reads their methods.
start_server -v
start_gw -v
for p in $(cat "$NET/pnes"); do start_pne "$p"; done
for p in $(cat "$NET/pnes"); do wait_for 20 is_state gw.ctl home "$p" online; done

field() { sed -n "s/.*\"$1\": \\([^,}]*\\).*/\\1/p" | head -1; }
caps_at() { "$CTL" -t 5000 -j -P "$NET/$1" caps show "${@:2}" 2>/dev/null; }
level_at() { caps_at "$1" home phone | tr -d '\n ' | sed -n 's/.*"battery":{[^}]*"level":\([0-9]*\).*/\1/p'; }
level_is() { [ "$(level_at "$1")" = "$2" ]; } # level_is PROFILE LEVEL: the phone's battery there

check "the phone's capabilities reach the server" wait_for 20 bash -c "'$CTL' -P '$NET/server.ctl' get pns/home/entities/phone/caps"
out=$(caps_at server.ctl home phone)
total=$(( $(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) * 1024 ))
check "the memory total is /proc/meminfo's ($total bytes)" has "$out" "\"total\": $total"
check "the processor and the OS come from the host" \
  bash -c "grep -q '\"cores\": [1-9]' <<<'$out' && grep -q '\"name\": \"Linux\"' <<<'$out'"
check "the battery comes from the power supply directory" \
  bash -c "grep -q '\"capacity_mah\": 4000' <<<'$out' && grep -q '\"level\": 80' <<<'$out'"
check "the configuration file adds the screen, apps and drivers" \
  bash -c "grep -q '\"width\": 1080' <<<'$out' && grep -q '\"player\": \"1.0\"' <<<'$out' && grep -q '\"wifi\": \"2.1\"' <<<'$out'"
check "the device type is the PNE's [pne] type" has "$out" '"device_type": "phone"'
check "the static part went whole at registration (PUT, CPNS-1)" \
  grep -q "PUT phone .*pns/home -> 2.01" "$NET/gw.log"
gwcopy=$(caps_at gw.ctl home phone)
check "the gateway keeps its own copy" has "$gwcopy" '"width": 1080'
check "the gateway reports its own capabilities" \
  wait_for 10 bash -c "'$CTL' -t 5000 -j -P '$NET/server.ctl' caps show home gw-home | grep -q '\"device_type\": \"gateway\"'"

# An operator observes the phone's capabilities at the server with a plain
# CoAP client; the battery falls.
timeout 40 coap-client-openssl -s 30 -B 32 -u admin -k "$(raw_key admin.key)" -A 50 -m get \
  "$SRV/cpns/v1/pns/home/entities/phone/caps" > "$T/observe.out" 2>&1 &
CLEANUPS+=("kill $!")
check "the observer gets the document" wait_for 10 grep -q '"level":80' "$T/observe.out"
rev1=$(caps_at server.ctl home phone | field rev)
echo 15 > "$PS/BAT0/level_tmp"; mv "$PS/BAT0/level_tmp" "$PS/BAT0/capacity"
check "the change reaches the server" wait_for 15 level_is server.ctl 15
check "the observer is notified of the new level" wait_for 10 grep -q '"level":15' "$T/observe.out"
rev2=$(caps_at server.ctl home phone | field rev)
check "a new revision at the server ($rev1 -> $rev2)" test "$rev2" -gt "$rev1"
check "the change travelled as a merge patch from the PNE (CPNS-1)" \
  grep -q "PATCH phone .*pns/home -> 2.04" "$NET/gw.log"
check "and from the gateway to the server (CPNS-2)" \
  grep -q "PATCH gw-home .*pns/home -> 2.04" "$NET/server.log"

# The configuration file changes, SIGHUP.
sed -i 's/"player":"1.0"/"player":"1.1","maps":"4.2"/' "$NET/phone-caps.json"
kill -HUP "$(pid_of phone)"
check "a new app in the file reaches the server after SIGHUP" \
  wait_for 15 bash -c "'$CTL' -t 5000 -j -P '$NET/server.ctl' caps show home phone | grep -q '\"maps\": \"4.2\"'"

# Reads per entity and per PN, by those allowed.
out=$(ctl server.ctl caps show home)
check "the operator lists the PN: the gateway and both PNEs" \
  bash -c "grep -q '^gw-home ' <<<'$out' && grep -q '^phone ' <<<'$out' && grep -q '^mp3-player ' <<<'$out'"
out=$(ctl mp3-player.ctl caps show home)
check "an application on another PNE of the PN lists it through its PNE" \
  bash -c "grep -q '^phone .*15%' <<<'$out'"
out=$(ctl mp3-player.ctl caps show home phone)
check "and reads one entity in full" has "$out" 'screen +1080x2340, 401 dpi, touch'
out=$(ctl phone.ctl caps show)
check "an application reads its own PNE's capabilities (self/caps)" has "$out" 'apps +.*maps 4.2'
out=$(ctlj server.ctl get 'pns/home/caps?limit=1')
check "per PN in pages (limit=1 gives a next cursor)" has "$out" '"next": "gw-home"'

# Another PN's gateway: refused until the owner lets it read.
add_identity server.keys gw-office gw office office.ctl "$SRV"
kill -HUP "$(pid_of server)"
sleep 1
office_get() {
  coap-client-openssl -B 5 -u gw-office -k "$(raw_key gw-office.key)" -A 50 -m get "$SRV/cpns/v1/$1" 2>&1 || true
}
out=$(office_get pns/home/entities/phone/caps)
check "another PN's gateway may not read them (4.03)" has "$out" '4\.03|may not read'
out=$(office_get pns/home/caps)
check "nor the PN's list (4.03)" has "$out" '4\.03|may not read'
ctl server.ctl pn readers home office >/dev/null
out=$(office_get pns/home/entities/phone/caps)
check "once the owner lists office as a reader, its gateway reads them" has "$out" '"level":15'
out=$(office_get pns/home/caps)
check "and the PN's list" has "$out" '"id":"phone"'
out=$(coap-client-openssl -B 5 -u gw-office -k "$(raw_key gw-office.key)" -m put -t 50 -e '{}' \
  "$SRV/cpns/v1/pns/home/entities/phone/caps" 2>&1 || true)
check "a reader may not report them (4.03)" has "$out" '4\.03|may not report'

# The server goes away: changes are kept at the gateway and reach the
# server when it is back.
stop server
echo 7 > "$PS/BAT0/level_tmp"; mv "$PS/BAT0/level_tmp" "$PS/BAT0/capacity"
check "while the server is away the gateway takes the change" wait_for 15 level_is gw.ctl 7
start_server -v
check "the server has it once it is back" wait_for 30 level_is server.ctl 7

# kill -9 of the server, then of the gateway: what each acknowledged is
# there after a restart.
before=$(caps_at server.ctl home phone | field rev)
kill9 server
start_server -v
out=$(caps_at server.ctl home phone)
check "after kill -9 and a restart the server still has them (rev $before or later)" \
  bash -c "grep -q '\"level\": 7' <<<'$out' && [ \"\$(sed -n 's/.*\"rev\": \\([0-9]*\\).*/\\1/p' <<<'$out' | head -1)\" -ge $before ]"
check "and the gateway's own" bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' caps show home gw-home >/dev/null"
kill9 gw
start_gw -v
check "after kill -9 and a restart the gateway still has its copy" wait_for 5 level_is gw.ctl 7
check "and the server link comes back" wait_for 20 bash -c "'$CTL' -t 5000 -P '$NET/gw.ctl' info | grep -Eq 'server +connected'"

# Bad input, each with its own answer, at the gateway (CPNS-1) as the phone.
phone_req() { # METHOD PATH [BODY]
  local m=$1 p=$2; shift 2
  coap-client-openssl -B 5 -u phone -k "$(raw_key phone.key)" -m "$m" -t 50 -A 50 "$@" \
    "$GWURI/cpns/v1/$p" 2>&1 || true
}
P=pns/home/entities/phone/caps
out=$(phone_req put "$P" -e '{"dynamic":{"battery":{"level":150}}}')
check "a nonsense value is 4.00 with the place" has "$out" '4\.00.*dynamic\.battery\.level: 150 is not within 0\.\.100'
out=$(phone_req put "$P" -e '{"dynamic":{"networks":{"wlan0":{"type":"carrier-pigeon"}}}}')
check "an unknown network type is 4.00" has "$out" "4\\.00.*not a known type"
out=$(phone_req put "$P" -e '{"dynamic":{"networks":{"wlan0":{"addrs":["10.0.0.300"]}}}}')
check "an address that is none is 4.00" has "$out" '4\.00.*not an IPv4 or IPv6 address'
out=$(phone_req put "$P" -e '{"static":{"cpu":"fast"}}')
check "an unknown member is 4.00" has "$out" "4\\.00.*unknown member 'cpu'"
apps=$(for i in $(seq 1 65); do printf '"app%d":"1",' "$i"; done)
out=$(phone_req put "$P" -e "{\"static\":{\"software\":{\"apps\":{${apps%,}}}}}")
check "too many entries is 4.13" has "$out" '4\.13.*more than 64 entries'
head -c 20000 /dev/zero | tr '\0' 'x' | sed 's/^/{"static":{"device_type":"/; s/$/"}}/' > "$T/huge.json"
out=$(phone_req put "$P" -f "$T/huge.json")
check "a huge document is 4.13" has "$out" '4\.13'
out=$(phone_req patch "$P" -e '{"dynamic":{"battery":{"level":1}}}')
check "a patch without its base revision is 4.00" has "$out" '4\.00.*base'
out=$(phone_req patch "$P?base=1" -e '{"dynamic":{"battery":{"level":1}}}')
check "a patch of another revision is 4.12" has "$out" '4\.12.*PUT the whole document'
out=$(phone_req put pns/home/entities/mp3-player/caps -e '{}')
check "a PNE may not report another's (4.03)" has "$out" '4\.03'
out=$(phone_req get pns/home/entities/nobody/caps)
check "an entity without capabilities is 4.04" has "$out" '4\.04'
codes=$(for i in $(seq 1 8); do phone_req patch "$P?base=1" -e '{}' | grep -Eo '4\.[0-9]{2}'; done)
check "a flood of reports beyond [limits] caps_reports_per_minute is 4.29" has "$codes" '4\.29'
check "the phone's document is unchanged by all that" level_is gw.ctl 7
check "the daemons keep serving" ctl server.ctl caps show home
finish
