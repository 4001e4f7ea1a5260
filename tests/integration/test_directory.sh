#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Metadata Directory at the server (spec 5.5.5, issue 4): gateways of
# three PNs (and a PNE through its gateway) publish, update and unpublish
# services; lookups by keywords (all, any, prefix), offerer, PN and device
# capabilities, paged in a stable order; visibility (a PN's private
# services stay in it); only the offerer or the operator changes a
# service; lifetimes run out; an entity's services leave with it; a saved
# interest tells its observer (a plain coap-client) of services appearing
# and going; the directory survives kill -9; bad input gets clear errors.
# Ports 37680-37699.
source "$(dirname "$0")/lib.sh"
mknet --pnes 1 --base 37680
start_server -o limits.max_services_per_offerer=12
URI=coaps://127.0.0.1:37680
umask 077
for p in a b c; do add_identity server.keys "gw-$p" gw "$p" "gw-$p.ctl" "$URI"; done
kill -HUP "$(pid_of server)"
sleep 1
rawkey() { printf '%s' "$(cat "$NET/$1.key")" | xxd -r -p; }
# coapc IDENTITY ARGS...: libcoap's plain client, with IDENTITY's key.
coapc() { local id=$1; shift; timeout 20 coap-client-openssl -B 5 -u "$id" -k "$(rawkey "$id")" "$@"; }
idof() { sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | head -1; }
count() { grep -c '"offerer"' || true; }
none_found() { [ -z "$(find_ids "$@")" ]; }
find_ids() { ctlj "$1" service find "${@:2}" | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | sort | tr '\n' ' '; }

desc() { # desc NAME VISIBILITY KEYWORDS-JSON [EXTRA-JSON]
  printf '{"name":"%s","keywords":%s,"visibility":"%s","uris":["coap://%s.example/x"]%s}' \
    "$1" "$3" "$2" "$(echo "$1" | tr -c 'a-z0-9\n' '-')" "${4:-}"
}
publish() { # publish PROFILE NAME VISIBILITY KEYWORDS [EXTRA] -> prints the id
  desc "$2" "$3" "$4" "${5:-}" > "$T/d.json"
  ctlj "$1" service publish "$T/d.json" | idof
}

# ---- publish, lookups, visibility ----
TV=$(publish gw-a.ctl "A TV" pn '["TV","video","dlna"]' \
  ',"requires":{"screen_width":{"min":640},"codecs":{"has":["h264"]},"network":{"in":["wifi","lte"]}}')
PRINTER=$(publish gw-a.ctl "A printer" public '["printer","paper"]')
BTV=$(publish gw-b.ctl "B TV" pn '["tv"]')
MUSIC=$(publish gw-b.ctl "B music" public '["music","audio"]')
check "gateways publish (2.01 with an id)" test -n "$TV" -a -n "$PRINTER" -a -n "$BTV" -a -n "$MUSIC"
out=$(ctl gw-a.ctl service show "$TV")
check "the offerer is the caller, with its PN; keywords folded" \
  bash -c "grep -q 'offerer      gw-a of PN a' <<<'$out' && grep -q 'dlna, tv, video' <<<'$out'"
check "by keywords, all of them" test "$(find_ids gw-a.ctl --kw tv,video)" = "$TV "
check "all of them: none has tv and music" test -z "$(find_ids gw-a.ctl --kw tv,music)"
check "by keywords, any of them (public ones, for PN c)" \
  test "$(find_ids gw-c.ctl --kw printer,music --match any)" = "$(printf '%s\n' "$PRINTER" "$MUSIC" | sort | tr '\n' ' ')"
check "by prefix" test "$(find_ids gw-a.ctl --kw vid --match prefix)" = "$TV "
check "by prefix, two of them" \
  test "$(find_ids gw-c.ctl --kw pap,aud --match prefix)" = "$(printf '%s\n' "$PRINTER" "$MUSIC" | sort | tr '\n' ' ')"
check "another PN's gateway does not find a PN-private service" test "$(find_ids gw-b.ctl --kw tv)" = "$BTV "
check "... and finds the public one" test "$(find_ids gw-b.ctl --kw printer)" = "$PRINTER "
out=$(ctl gw-b.ctl service show "$TV" 2>&1 || true)
check "... and cannot read it by its id either (4.04, as if absent)" has "$out" '4\.04'
check "by offerer: another PN sees its public services only" test "$(find_ids gw-b.ctl --offerer gw-a)" = "$PRINTER "
check "by offerer: its own PN sees all" test "$(find_ids gw-a.ctl --offerer gw-a)" = "$(printf '%s\n' "$TV" "$PRINTER" | sort | tr '\n' ' ')"
check "by PN" test "$(find_ids gw-c.ctl --pn b)" = "$MUSIC "
check "the operator sees every PN's private services" \
  test "$(find_ids server.ctl --kw tv)" = "$(printf '%s\n' "$TV" "$BTV" | sort | tr '\n' ' ')"
check "capabilities met" test "$(find_ids gw-a.ctl --kw tv --caps screen_width:1080,codecs:h264,codecs:vp9,network:wifi)" = "$TV "
check "capabilities not met (screen too narrow)" \
  test -z "$(find_ids gw-a.ctl --kw tv --caps screen_width:320,codecs:h264,network:wifi)"
check "capabilities not met (a capability not reported)" test -z "$(find_ids gw-a.ctl --kw tv --caps screen_width:1080)"

# ---- who may change what ----
desc "A printer, colour" public '["printer","colour"]' > "$T/p2.json"
out=$(ctl gw-b.ctl service update "$PRINTER" "$T/p2.json" 2>&1 || true)
check "another gateway may not update a service (4.03)" has "$out" '4\.03 .*may not change this service'
out=$(ctl gw-b.ctl service unpublish "$PRINTER" 2>&1 || true)
check "... nor unpublish it (4.03)" has "$out" '4\.03 .*may not remove this service'
check "the offerer updates it" ctl gw-a.ctl service update "$PRINTER" "$T/p2.json"
check "the update is what lookups see" test "$(find_ids gw-c.ctl --kw colour)" = "$PRINTER "
check "  (its old keyword is gone)" test -z "$(find_ids gw-c.ctl --kw paper)"
check "the offerer refreshes it" ctl gw-a.ctl service refresh "$PRINTER" 600
check "the operator may unpublish any service" ctl server.ctl service unpublish "$BTV"
check "an unpublished service is gone" test -z "$(find_ids gw-b.ctl --kw tv)"

# ---- a plain CoAP client: lookup, FETCH, publish with Location-Path ----
out=$(coapc gw-c -A 50 -m get "$URI/cpns/v1/services?kw=colour" 2>&1)
check "coap-client looks up (JSON)" has "$out" "\"id\":\"$PRINTER\""
out=$(coapc gw-c -A 50 -t 50 -m fetch -e '{"kw":["music"],"limit":5}' "$URI/cpns/v1/services" 2>&1)
check "coap-client looks up with FETCH and the query as its body" has "$out" "\"id\":\"$MUSIC\""
out=$(coapc gw-c -v 7 -A 50 -t 50 -m post -e "$(desc 'C lamp' public '["lamp"]')" "$URI/cpns/v1/services" 2>&1)
check "coap-client publishes: 2.01 with the Location-Path of the new service" \
  bash -c "grep -q '2.01' <<<'$out' && grep -q 'Location-Path.*services' <<<'$out'"

# ---- interests, observed by a plain coap-client ----
IID=$(ctlj gw-c.ctl interest add --kw radio,music --match any | idof)
check "a consumer saves an interest" test -n "$IID"
coapc gw-c -s 10 -B 12 -A 50 -m get "$URI/cpns/v1/interests/$IID" > "$T/observe.out" 2>&1 &
OBS=$!
CLEANUPS+=("kill $OBS")
wait_for 5 grep -q '"seq":0' "$T/observe.out" || true
RADIO=$(publish gw-b.ctl "B radio" public '["radio"]')
check "the observer is told of a matching service that appears" \
  wait_for 8 grep -q "\"type\":\"appeared\",\"service\":\"$RADIO\"" "$T/observe.out"
ctl gw-b.ctl service unpublish "$RADIO" >/dev/null
check "... and of it going away" wait_for 8 grep -q "\"type\":\"gone\",\"service\":\"$RADIO\"" "$T/observe.out"
publish gw-a.ctl "A radio, private" pn '["radio"]' >/dev/null
sleep 1
check "  (not of another PN's private service)" bash -c "! grep -q 'A radio, private' '$T/observe.out'"
out=$(ctl gw-a.ctl interest show "$IID" 2>&1 || true)
check "only its owner reads an interest (4.03)" has "$out" '4\.03'
out=$(ctl gw-c.ctl interest show "$IID")
check "the owner reads its events" has "$out" 'gone +'"$RADIO"

# ---- lifetimes ----
SHORT=$(publish gw-c.ctl "C short" public '["short"]' ',"lt":2')
check "a service with a short lifetime is found" test "$(find_ids gw-a.ctl --kw short)" = "$SHORT "
check "... and gone when it runs out" wait_for 6 none_found gw-a.ctl --kw short
out=$(ctl gw-c.ctl service show "$SHORT" 2>&1 || true)
check "  (4.04 by its id)" has "$out" '4\.04'

# ---- an entity's services leave with it ----
ctl gw-a.ctl put pns/a '{"name":"PN a","lt":600}' >/dev/null
ctl gw-a.ctl put pns/a/entities/phone '{"name":"Phone","state":"online","roles":["pne"]}' >/dev/null
out=$(coapc gw-a -O 65003,phone -A 50 -t 50 -m post -e "$(desc 'Phone camera' pn '["camera"]')" \
  "$URI/cpns/v1/services" 2>&1)
CAM=$(sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' <<<"$out")
check "a PNE publishes through its gateway (On-Behalf-Of)" test -n "$CAM"
check "its offerer is the PNE, in the gateway's PN" \
  bash -c "'$CTL' -P '$NET/gw-a.ctl' service show '$CAM' | grep -q 'offerer      phone of PN a'"
out=$(coapc gw-a -O 65003,stranger -A 50 -t 50 -m post -e "$(desc 'X' pn '["x"]')" "$URI/cpns/v1/services" 2>&1 || true)
check "a gateway cannot publish for a PNE not registered in its PN (4.03)" has "$out" '4\.03'
check "the gateway reports that the PNE left" ctl gw-a.ctl delete pns/a/entities/phone
check "the PNE's services are gone with it" test -z "$(find_ids gw-a.ctl --kw camera)"
check "  (the gateway's own are still there)" test "$(find_ids gw-a.ctl --kw tv)" = "$TV "

# ---- a PNE through a real gateway (CPNS-1, relayed On-Behalf-Of) ----
start_gw
printf '[cpnsctl]\nuri = coaps://127.0.0.1:37681\nidentity = phone\nkey_file = %s\n' "$NET/phone.key" > "$NET/phone-gw.ctl"
check "the gateway registers its PN at the server" wait_for 20 ctl server.ctl pn show home
ctl phone-gw.ctl put pns/home/entities/phone '{"name":"Phone","type":"phone","roles":["pne"],"lt":60}' >/dev/null
check "a PNE registers with its gateway, which reports it" wait_for 20 is_state server.ctl home phone online
PCAM=$(publish phone-gw.ctl "Phone camera" pn '["camera","photo"]')
check "the PNE publishes through its gateway" test -n "$PCAM"
check "  its offerer is the PNE, in the gateway's PN" \
  bash -c "'$CTL' -P '$NET/server.ctl' service show '$PCAM' | grep -q 'offerer      phone of PN home'"
check "the PNE finds its service through the gateway" test "$(find_ids phone-gw.ctl --kw photo)" = "$PCAM "
check "another PN's gateway does not" none_found gw-a.ctl --kw photo
out=$(ctl phone-gw.ctl service unpublish "$PRINTER" 2>&1 || true)
check "the PNE may not remove another offerer's service (4.03, from the server)" has "$out" '4\.03'
check "the gateway expels the PNE" ctl gw.ctl pn expel home phone
check "the PNE's services are withdrawn at the server" wait_for 10 none_found server.ctl --kw photo
out=$(ctl phone-gw.ctl service find --kw tv 2>&1 || true)
check "an expelled PNE is no longer relayed (4.03)" has "$out" '4\.03'

# ---- paging: a stable order, a cursor, the end ----
for i in 1 2 3 4 5 6 7; do publish gw-c.ctl "C page $i" public '["page"]' >/dev/null; done
all=$(ctlj gw-a.ctl service find --kw page --limit 7 | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | tr '\n' ' ')
p1=$(ctlj gw-a.ctl service find --kw page --limit 3)
n1=$(sed -n 's/.*"next": "\([0-9a-f]*\)".*/\1/p' <<<"$p1")
p2=$(ctlj gw-a.ctl service find --kw page --limit 3 --after "$n1")
n2=$(sed -n 's/.*"next": "\([0-9a-f]*\)".*/\1/p' <<<"$p2")
p3=$(ctlj gw-a.ctl service find --kw page --limit 3 --after "$n2")
paged=$(printf '%s\n%s\n%s\n' "$p1" "$p2" "$p3" | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | tr '\n' ' ')
nall=$(wc -w <<<"$all")
sorted=$(tr ' ' '\n' <<<"$all" | sed '/^$/d' | sort | tr '\n' ' ')
check "pages of 3, 3 and 1 give the 7 services once each, in id order" \
  test "$paged" = "$all" -a "$nall" = 7 -a "$sorted" = "$all"
check "the last page says there is no more" has "$p3" '"next": null'
out=$(ctl gw-a.ctl service find --kw page --after ffffffffffffffff 2>&1 || true)
check "paging past the end is 4.04" has "$out" '4\.04 .*past the end'
out=$(ctl gw-a.ctl service find --kw page --limit 51 2>&1 || true)
check "a page larger than allowed is 4.00" has "$out" '4\.00 .*limit must be 1\.\.50'

# ---- bad input ----
bad() { # bad DESCRIPTION PATTERN PROFILE ARGS...: the command fails with PATTERN
  local what=$1 pat=$2 prof=$3; shift 3
  local out; out=$("$CTL" -t 5000 -P "$NET/$prof" "$@" 2>&1 || true)
  check "$what" has "$out" "$pat"
}
out=$(coapc gw-c -t 50 -m post -e '{"name":"x","keywords":["k"],' "$URI/cpns/v1/services" 2>&1 || true)
check "a malformed description is 4.00" has "$out" '4\.00 JSON'
out=$(coapc gw-c -t 60 -m post -e '%a1%61' "$URI/cpns/v1/services" 2>&1 || true)
check "malformed CBOR is 4.00" has "$out" '4\.00 CBOR'
echo '{"name":7,"keywords":["k"],"uris":["a:b"]}' > "$T/bad2.json"
bad "a wrongly typed field is 4.00, named" "4\.00 'name'" gw-c.ctl service publish "$T/bad2.json"
desc "x" public '["k"]' ',"offerer":"gw-a"' > "$T/bad3.json"
bad "an offerer in the body is refused: the server sets it" "4\.00 'offerer' is set by the server" gw-c.ctl service publish "$T/bad3.json"
desc "x" public "[$(seq -s, -f '"k%g"' 1 17)]" > "$T/bad4.json"
bad "a keyword flood is 4.00" '4\.00 .*more than 16 keywords' gw-c.ctl service publish "$T/bad4.json"
desc "x" public '["k"]' ",\"description\":\"$(head -c 600 /dev/zero | tr '\0' d)\"" > "$T/bad5.json"
bad "an oversized description field is 4.00" "4\.00 'description' is longer than 512" gw-c.ctl service publish "$T/bad5.json"
desc "x" public '["k"]' ",\"description\":\"$(head -c 20000 /dev/zero | tr '\0' d)\"" > "$T/bad6.json"
bad "an oversized body is 4.13" '4\.13' gw-c.ctl service publish "$T/bad6.json"
desc "x" pn '["k"]' > "$T/bad7.json"
bad "a PN-private service needs a PN (the operator has none)" "4\.00 'visibility'" server.ctl service publish "$T/bad7.json"
bad "a lookup for everything is 4.00" '4\.00 .*lookup of everything' gw-c.ctl service find
bad "a lookup by a keyword flood is 4.00" '4\.00 .*more than 8 keywords' gw-c.ctl service find --kw a,b,c,d,e,f,g,h,i
bad "a one-letter prefix is 4.00" '4\.00 .*at least 2' gw-c.ctl service find --kw p --match prefix
bad "an unknown lookup parameter is 4.00" "4\.00 unknown query parameter 'colour'" gw-c.ctl get 'services?kw=a&colour=red'
bad "a bad cursor is 4.00" "4\.00 'after'" gw-c.ctl get 'services?kw=a&after=a/b'
bad "caps that do not parse are 4.00" "4\.00 'caps'" gw-c.ctl service find --kw tv --caps screen_width
bad "an interest in everything is 4.00" '4\.00' gw-c.ctl interest add
bad "an unknown service is 4.04" '4\.04' gw-c.ctl service show 0123456789abcdef
for i in $(seq 1 12); do publish gw-b.ctl "B $i" public '["many"]' >/dev/null 2>&1 || true; done
bad "an offerer beyond its limit is 5.03" '5\.03 .*the most one offerer may publish' gw-b.ctl service publish "$T/d.json"
long_caps=$(for i in $(seq 1 20); do printf 'c%02d:1234567,' "$i"; done)
bad "a query longer than a URI may be is refused (4.14)" '4\.14' gw-c.ctl service find --kw tv \
  --caps "${long_caps%,}" --offerer "$(head -c 60 /dev/zero | tr '\0' o)"

# ---- kill -9: the directory and the interests survive ----
before=$(find_ids server.ctl --kw tv,page,colour,music --match any)
kill9 server
start_server -o limits.max_services_per_offerer=12
check "after kill -9 the directory is all there" test "$(find_ids server.ctl --kw tv,page,colour,music --match any)" = "$before"
check "... with its interests" bash -c "'$CTL' -P '$NET/gw-c.ctl' interest list | grep -q '$IID'"
coapc gw-c -s 6 -B 8 -A 50 -m get "$URI/cpns/v1/interests/$IID" > "$T/observe2.out" 2>&1 &
CLEANUPS+=("kill $!")
sleep 1
MUSIC2=$(publish gw-a.ctl "A music" public '["music"]')
check "an interest observed after the restart is told of new services" \
  wait_for 8 grep -q "\"service\":\"$MUSIC2\"" "$T/observe2.out"
finish
