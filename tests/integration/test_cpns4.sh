#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CPNS-4 (spec 5.3.2.4, issue 4 item 6): cpns-server's HTTPS+JSON interface
# for external Application/Content Servers. The start is refused for a bad
# certificate, a key that is not its certificate's, a key readable by others
# and an HTTPS port in use. The operator creates, lists and revokes bearer
# tokens with cpnsctl. docs/cpns4-openapi.json is checked against the
# running server by tests/tools/openapi_check (every documented operation,
# its statuses, headers and body schemas, and its scope against tokens of
# each single scope). An external server publishes, updates, refreshes,
# discovers and unpublishes a service over HTTPS; a plain CoAP client gets
# the same bytes for the same resource, and the gateway's public services
# are visible over HTTPS but not its PN's private ones. Wrong, malformed,
# expired and revoked tokens get 401 with WWW-Authenticate; a token without
# the scope 403; oversized bodies 413; malformed JSON 400; unknown paths
# 404; paging past the end 404; connection and idle limits hold; tokens
# survive kill -9; no token appears in any log.
# Capabilities and statuses (issues 4 and 5): a PN GW and a PNE of PN home
# report them; a member lists the external server ext.eye among home's
# readers; a caps:read / status:read token of ext.eye reads them (the same
# JSON as a CoAP client gets), one that is not listed gets 403 (as another
# PN's gateway does over CoAP), one without the scope 403 insufficient_scope;
# a status change is seen by the next GET; withdrawing the reader is 403 at
# the next request, revoking the token 401. Ports 43680-43699.
source "$(dirname "$0")/lib.sh"
CHECK=$BUILD/tests/openapi_check
SPEC=$TOP/docs/cpns4-openapi.json
mknet --pnes 1 --base 43680
# Inside this test's ports: the PNE's source (mknet puts it at base+112), and
# capabilities read once an hour, so that two reads a second apart agree.
sed -i 's/^source = 127.0.0.1:.*/source = 127.0.0.1:43697/' "$NET/phone.conf"
printf '[capabilities]\nperiod = 3600\n' >> "$NET/phone.conf"
printf '[capabilities]\nperiod = 3600\n' >> "$NET/gw.conf"
URI=coaps://127.0.0.1:43680
HPORT=43685
BASE=https://127.0.0.1:$HPORT
API=$BASE/cpns/v1
umask 077

# ---- the certificate, and what the server refuses ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$NET/https.key" -out "$NET/https.crt" -subj "/CN=localhost" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$NET/other.key" 2>/dev/null
HTTP_OPTS=(-o http.listen=127.0.0.1:$HPORT -o "http.cert_file=$NET/https.crt"
           -o "http.key_file=$NET/https.key" -o http.timeout=3 -o http.max_per_ip=4)
refused() { # refused LOG-NAME PATTERN ARGS...: the server exits 78 (EX_CONFIG), saying why
  local log=$NET/$1.log pat=$2; shift 2
  local rc=0
  (cd "$NET" && timeout 20 "$SERVER" -f -c server.conf "$@" >"$log" 2>&1) || rc=$?
  [ "$rc" -eq 78 ] && grep -q -- "$pat" "$log"
}
chmod 644 "$NET/https.key"
check "refuses a key file readable by others" \
  refused refuse-mode "accessible to group or others" "${HTTP_OPTS[@]}"
chmod 600 "$NET/https.key"
check "refuses a key that is not the certificate's" \
  refused refuse-pair "is not the key of the certificate" "${HTTP_OPTS[@]}" \
  -o "http.key_file=$NET/other.key"
check "refuses a certificate file without a certificate" \
  refused refuse-cert "no PEM certificate" "${HTTP_OPTS[@]}" -o "http.cert_file=$NET/https.key"
check "refuses a missing key file" \
  refused refuse-missing "No such file" "${HTTP_OPTS[@]}" -o "http.key_file=$NET/none.key"
start_server "${HTTP_OPTS[@]}" -o limits.max_services_per_offerer=3 -o log.level=debug
check "the server says where CPNS-4 listens" \
  wait_for 5 grep -q "CPNS-4 listening on https://127.0.0.1:$HPORT/cpns/v1/" "$NET/server.log"
check "a second server cannot take the same HTTPS port" \
  refused refuse-busy "cannot start HTTPS" "${HTTP_OPTS[@]}" -o server.listen=127.0.0.1:43686 \
  -o "server.database=$NET/other.db" -o "server.pid_file=$NET/other.pid"

# A PN GW at the server, for the CoAP side.
k=$(openssl rand -hex 32 | tr -d '\n')
while echo "$k" | grep -Eq '^([0-9a-f]{2})*00|0a$'; do k=$(openssl rand -hex 32); done
echo "$k" > "$NET/gw-a.key"
echo "gw-a gw a $k" >> "$NET/server.keys"
printf '[cpnsctl]\nuri = %s\nidentity = gw-a\nkey_file = %s\n' "$URI" "$NET/gw-a.key" > "$NET/gw-a.ctl"
kill -HUP "$(pid_of server)"
sleep 1
coapc() { timeout 20 coap-client-openssl -B 5 -u gw-a -k "$(printf '%s' "$k" | xxd -r -p)" "$@"; }
coapa() { timeout 20 coap-client-openssl -B 5 -u admin -k "$(printf '%s' "$(cat "$NET/admin.key")" | xxd -r -p)" "$@"; }

# ---- PN home: a gateway and a PNE, their capabilities and statuses ----
start_gw
start_pne phone
check "the phone registers in PN home" wait_for 20 is_state server.ctl home phone online
check "the phone's capabilities reach the server" \
  wait_for 20 bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' get pns/home/entities/phone/caps >/dev/null 2>&1"
check "the phone's application sets its status" ctl phone.ctl status set busy --attr battery=57 --text "at home"
check "... which reaches the server" \
  wait_for 10 bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' status show home phone | grep -q 'busy.*battery=57'"
out=$(ctl phone.ctl pn readers home ext. 2>&1 || true)
check "a reader 'ext.' without a name is refused (4.00)" has "$out" "4\.00.*ext\.<name>"
check "a member of PN home lists the external server ext.eye among its readers" \
  ctl phone.ctl pn readers home ext.eye
check "... which the server keeps" has "$(ctlj server.ctl pn readers home)" '"ext\.eye"'

# ---- tokens ----
# token NAME SCOPES [TTL]: creates it, saves it to $T/NAME.tok and its id to $T/NAME.id
token() {
  local out
  out=$(ctlj server.ctl token create "$1" --scope "$2" ${3:+--ttl "$3"}) || return 1
  sed -n 's/.*"token": "\([^"]*\)".*/\1/p' <<<"$out" > "$T/$1.tok"
  sed -n 's/.*"id": "\([^"]*\)".*/\1/p' <<<"$out" > "$T/$1.id"
  secret "$(cat "$T/$1.tok")" "CPNS-4 token $1"
  [ -s "$T/$1.tok" ]
}
check "the operator creates tokens" token acme services:read,services:write
token reader services:read
token other services:read,services:write
token watcher interests:read,interests:write
token all services:read,services:write,interests:read,interests:write
token short services:read 1
token usage usage:read
check "a token may read capabilities and statuses" token eye caps:read,status:read
token blind caps:read,status:read
token nocaps services:read
for s in services:read services:write interests:read interests:write usage:read caps:read status:read; do
  token "only-${s/:/-}" "$s"
done
out=$(ctl server.ctl token create bad --scope services:admin 2>&1 || true)
check "an unknown scope is refused" has "$out" "unknown scope"
out=$(ctl server.ctl token create bad --scope caps:write 2>&1 || true)
check "... caps:write too (read-only), naming the scopes there are" has "$out" "unknown scope.*caps:read.*status:read"
check "the scopes are kept" has "$(ctl server.ctl token list)" "ext\.eye +caps:read,status:read"
out=$("$CTL" -t 5000 -P "$NET/gw-a.ctl" token create gwtoken --scope services:read 2>&1 || true)
check "only the operator creates tokens (4.03)" has "$out" "4\.03"
out=$(ctl server.ctl token list)
check "token list shows holders and scopes" \
  bash -c "grep -q 'ext.acme .*services:read,services:write' <<<'$out' && grep -q 'ext.short' <<<'$out'"
out=$(ctlj server.ctl token list)
check "token list never shows a token" bash -c "! grep -Fq '$(cut -c24- "$T/acme.tok")' <<<'$out'"
check "tokens are stored as hashes only" \
  bash -c "! sqlite3 '$NET/server.db' 'SELECT hex(hash), id, name FROM api_token' | grep -Fqi '$(cut -c24- "$T/acme.tok")'"
printf 'cpns4_%s_%s\n' "$(cat "$T/acme.id")" "$(openssl rand -hex 32)" > "$T/wrong.tok"
echo "not-a-token" > "$T/garbage.tok"

# ---- the document against the running server ----
cat > "$T/pub.json" <<'EOF'
{"name":"Acme TV","description":"Films on demand","keywords":["acmetv","video"],"visibility":"public",
 "requires":{"screen_width":{"min":640},"codecs":{"has":["h264"]}},"uris":["https://acme.example/tv"],"lt":3600}
EOF
cat > "$T/pub2.json" <<'EOF'
{"name":"Acme TV 2","keywords":["acmetv","video","hd"],"visibility":"public","uris":["https://acme.example/tv2"]}
EOF
printf '{"name":"bad",' > "$T/bad.json"
printf '{"name":"x","keywords":["x"],"visibility":"pn","uris":["a:b"]}' > "$T/private.json"
printf '{"name":"x","keywords":["x"],"visibility":"public","uris":["a:b"],"offerer":"someone"}' > "$T/forged.json"
printf '{"name":"x","description":"%s","keywords":["x"],"uris":["a:b"]}' "$(head -c 20000 /dev/zero | tr '\0' a)" > "$T/big.json"
printf '{"kw":["acmetv"],"match":"all"}' > "$T/interest.json"
LONGKW=$(head -c 300 /dev/zero | tr '\0' k)
# Usage records of PN a, from its gateway (CPNS-2): what an external server may read.
now=$(date +%s)
out=$(coapc -m post -t 50 -A 50 -e "{\"records\":[{\"id\":\"r1\",\"entity\":\"tv\",\"service\":\"game\",\"start\":$((now - 600)),\"stop\":$now}]}" \
  "$URI/cpns/v1/pns/a/usage" 2>&1 || true)
check "PN a's gateway reports a usage record" has "$out" '"stored":1'
cat > "$T/plan" <<EOF
# an interest first, so that it sees the service appear and go
201 POST /cpns/v1/interests @$T/interest.json token=watcher save=IID:id header=Location
# an external server publishes, reads, looks up, updates, refreshes
201 POST /cpns/v1/services @$T/pub.json token=acme save=SID:id header=Location
200 GET /cpns/v1/services/\${SID} token=reader expect="offerer":"ext.acme"
200 GET /cpns/v1/services?kw=acmetv token=reader expect=\${SID}
200 GET /cpns/v1/services?kw=acm&match=prefix&limit=1 token=reader expect=\${SID}
200 GET /cpns/v1/services?offerer=ext.acme&caps=screen_width:1080,codecs:h264 token=reader expect=\${SID}
200 GET /cpns/v1/services?kw=acmetv&caps=screen_width:320,codecs:h264 token=reader expect="services":[]
200 PUT /cpns/v1/services/\${SID} @$T/pub2.json token=acme
200 GET /cpns/v1/services/\${SID} token=reader expect="hd"
200 POST /cpns/v1/services/\${SID}?lt=600 token=acme expect="lt":600
200 GET /cpns/v1/interests token=watcher expect=\${IID}
200 GET /cpns/v1/interests/\${IID} token=watcher expect="type":"appeared"
# usage summaries: what the users' preferences let reach the server
200 GET /cpns/v1/usage/summary?pn=a token=usage expect="key":"game"
200 GET /cpns/v1/usage/summary?by=pn&from=2020-01-01&to=2020-12-31 token=usage expect="rows":[]
400 GET /cpns/v1/usage/summary?by=week token=usage expect=by
403 GET /cpns/v1/usage/summary token=reader header=WWW-Authenticate expect=usage:read
# who may do what
403 PUT /cpns/v1/services/\${SID} @$T/pub2.json token=other expect=ext.other
403 DELETE /cpns/v1/services/\${SID} token=other
403 POST /cpns/v1/services @$T/pub.json token=reader header=WWW-Authenticate expect=services:write
403 GET /cpns/v1/interests/\${IID} token=all
401 GET /cpns/v1/services?kw=acmetv token=- header=WWW-Authenticate
401 GET /cpns/v1/services?kw=acmetv token=wrong header=WWW-Authenticate
401 GET /cpns/v1/services?kw=acmetv token=garbage header=WWW-Authenticate
401 POST /cpns/v1/services @$T/pub.json token=- header=WWW-Authenticate
# bad input
400 POST /cpns/v1/services @$T/bad.json token=acme expect=JSON
400 POST /cpns/v1/services @$T/private.json token=acme expect=visibility
400 POST /cpns/v1/services @$T/forged.json token=acme expect=offerer
400 POST /cpns/v1/services token=acme expect=description
400 POST /cpns/v1/interests token=watcher
413 POST /cpns/v1/services @$T/big.json token=acme
413 PUT /cpns/v1/services/\${SID} @$T/big.json token=acme
413 POST /cpns/v1/interests @$T/big.json token=watcher
415 POST /cpns/v1/services @$T/pub.json ctype=text/plain token=acme
415 PUT /cpns/v1/services/\${SID} @$T/pub.json ctype=text/plain token=acme
415 POST /cpns/v1/interests @$T/interest.json ctype=text/plain token=watcher
400 PUT /cpns/v1/services/\${SID} @$T/bad.json token=acme
400 GET /cpns/v1/services token=reader expect=everything
400 GET /cpns/v1/services?kw=a,b,c,d,e,f,g,h,i token=reader
400 GET /cpns/v1/services?kw=tv&limit=5000 token=reader
400 POST /cpns/v1/services/\${SID}?lt=1 token=acme
414 GET /cpns/v1/services?kw=$LONGKW token=reader
404 GET /cpns/v1/services?kw=acmetv&after=ffffffffffffffff token=reader expect=past
404 GET /cpns/v1/services/0000000000000000 token=reader
# only an offerer may change a service: one that does not exist has none (as over CoAP)
403 PUT /cpns/v1/services/0000000000000000 @$T/pub2.json token=acme
403 POST /cpns/v1/services/0000000000000000 token=acme
403 DELETE /cpns/v1/interests/0000000000000000 token=watcher
404 GET /cpns/v1/nothing token=all schema=Error
404 GET /cpns/v1/tokens token=all schema=Error
404 GET /cpns/v1/pns token=all schema=Error
404 GET /cpns/v1 token=all schema=Error
404 GET /elsewhere token=all schema=Error
405 PATCH /cpns/v1/services/\${SID} token=acme schema=Error header=Allow
405 DELETE /cpns/v1/services token=acme schema=Error header=Allow
# the offerer's limit (limits.max_services_per_offerer=3 here)
201 POST /cpns/v1/services @$T/pub2.json token=acme save=S2:id
201 POST /cpns/v1/services @$T/pub2.json token=acme save=S3:id
503 POST /cpns/v1/services @$T/pub2.json token=acme
204 DELETE /cpns/v1/services/\${S2} token=acme
204 DELETE /cpns/v1/services/\${S3} token=acme
# unpublished: gone, and the interest saw it go
204 DELETE /cpns/v1/services/\${SID} token=acme
404 GET /cpns/v1/services/\${SID} token=reader
200 GET /cpns/v1/interests/\${IID} token=watcher expect="type":"gone"
204 DELETE /cpns/v1/interests/\${IID} token=watcher
403 GET /cpns/v1/interests/\${IID} token=watcher
# capabilities of PN home, whose readers list ext.eye
200 GET /cpns/v1/pns/home/caps token=eye expect="id":"phone"
200 GET /cpns/v1/pns/home/caps?limit=1 token=eye expect="next":"
400 GET /cpns/v1/pns/home/caps?limit=0 token=eye expect=limit
400 GET /cpns/v1/pns/home/caps?after=a,b token=eye expect=paging
200 GET /cpns/v1/pns/home/entities/phone/caps token=eye expect="device_type":"phone"
200 GET /cpns/v1/pns/home/entities/gw-home/caps token=eye expect="device_type":"gateway"
404 GET /cpns/v1/pns/home/entities/nobody/caps token=eye expect=capabilities
403 GET /cpns/v1/pns/home/caps token=blind expect=ext.blind
403 GET /cpns/v1/pns/home/entities/phone/caps token=blind expect=ext.blind
403 GET /cpns/v1/pns/a/caps token=eye expect=ext.eye
403 GET /cpns/v1/pns/nowhere/entities/phone/caps token=eye expect=ext.eye
403 GET /cpns/v1/pns/home/caps token=nocaps header=WWW-Authenticate expect=caps:read
403 GET /cpns/v1/pns/home/entities/phone/caps token=only-status-read header=WWW-Authenticate expect=caps:read
405 PUT /cpns/v1/pns/home/entities/phone/caps token=eye schema=Error header=Allow
405 PATCH /cpns/v1/pns/home/entities/phone/caps token=eye schema=Error header=Allow
# statuses of PN home
200 GET /cpns/v1/pns/home/status token=eye expect="id":"phone"
200 GET /cpns/v1/pns/home/entities/phone/status token=eye expect="state":"busy"
200 GET /cpns/v1/pns/home/entities/phone/status/battery token=eye expect="value":57
200 GET /cpns/v1/pns/home/entities/phone/status/state token=eye expect="state":"busy"
200 GET /cpns/v1/pns/home/entities/phone/status/text token=eye expect=home
404 GET /cpns/v1/pns/home/entities/phone/status/signal token=eye expect=signal
404 GET /cpns/v1/pns/home/entities/nobody/status token=eye expect=entity
400 GET /cpns/v1/pns/home/entities/phone/status/battery?c.lt=20 token=eye expect=Observe
400 GET /cpns/v1/pns/home/status?x=1 token=eye expect=query
403 GET /cpns/v1/pns/home/status token=blind expect=ext.blind
403 GET /cpns/v1/pns/home/entities/phone/status token=blind expect=ext.blind
403 GET /cpns/v1/pns/home/entities/phone/status/battery token=blind expect=ext.blind
403 GET /cpns/v1/pns/a/status token=eye expect=ext.eye
403 GET /cpns/v1/pns/home/entities/phone/status token=nocaps header=WWW-Authenticate expect=status:read
403 GET /cpns/v1/pns/home/status token=only-caps-read header=WWW-Authenticate expect=status:read
405 POST /cpns/v1/pns/home/status token=eye schema=Error header=Allow
405 PUT /cpns/v1/pns/home/entities/phone/status token=eye schema=Error header=Allow
# a reader of a PN's capabilities and statuses reads nothing else of it
404 GET /cpns/v1/pns/home token=eye schema=Error
404 GET /cpns/v1/pns/home/readers token=eye schema=Error
404 GET /cpns/v1/pns/home/entities/phone token=eye schema=Error
404 GET /cpns/v1/pns/home/policies token=eye schema=Error
404 GET /cpns/v1/stats/status token=eye schema=Error
EOF
targs=()
for n in acme reader other watcher all wrong garbage usage eye blind nocaps only-caps-read only-status-read; do
  targs+=(--token "$n=$T/$n.tok")
done
for s in services:read services:write interests:read interests:write usage:read caps:read status:read; do
  targs+=(--scope-token "$s=$T/only-${s/:/-}.tok")
done
rc=0
"$CHECK" --spec "$SPEC" --base "$BASE" --cacert "$NET/https.crt" "${targs[@]}" < "$T/plan" \
  > "$T/check.out" 2>&1 || rc=$?
grep -v '^ok - ' "$T/check.out" | redact
check "docs/cpns4-openapi.json matches the running server ($(grep -c '^ok - ' "$T/check.out") checks)" test "$rc" -eq 0

# ---- the same resources as CoAP ----
hc() { curl -sS --cacert "$NET/https.crt" -H @"$T/hdr-$1" "${@:2}"; }
for n in acme reader other all short eye blind; do printf 'Authorization: Bearer %s\n' "$(cat "$T/$n.tok")" > "$T/hdr-$n"; done
SID=$(hc acme -H 'Content-Type: application/json' --data-binary @"$T/pub.json" "$API/services" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
check "an external server publishes over HTTPS" test -n "$SID"
hc reader "$API/services/$SID" > "$T/http.json"
coapc -A 50 -m get "$URI/cpns/v1/services/$SID" > "$T/coap.json"
check "a CoAP client reads the same service, byte for byte" \
  bash -c "diff <(tr -d '\n' < '$T/http.json') <(tr -d '\n' < '$T/coap.json')"
hc reader "$API/services?kw=acmetv&caps=screen_width:1080,codecs:h264" > "$T/http-find.json"
coapc -A 50 -m get "$URI/cpns/v1/services?kw=acmetv&caps=screen_width:1080,codecs:h264" > "$T/coap-find.json"
check "... and gets the same lookup answer" \
  bash -c "diff <(tr -d '\n' < '$T/http-find.json') <(tr -d '\n' < '$T/coap-find.json') && grep -q '$SID' '$T/coap-find.json'"
out=$("$CTL" -t 5000 -P "$NET/gw-a.ctl" service show "$SID")
check "cpnsctl shows the external server's service, offered by ext.acme" has "$out" "offerer +ext\.acme"
printf '{"name":"A lamp","keywords":["gwlamp"],"visibility":"public","uris":["coap://lamp.example/x"]}' > "$T/lamp.json"
printf '{"name":"A safe","keywords":["gwsafe"],"visibility":"pn","uris":["coap://safe.example/x"]}' > "$T/safe.json"
LAMP=$("$CTL" -t 5000 -j -P "$NET/gw-a.ctl" service publish "$T/lamp.json" | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p')
"$CTL" -t 5000 -P "$NET/gw-a.ctl" service publish "$T/safe.json" >/dev/null
check "a gateway's public service is found over HTTPS" has "$(hc reader "$API/services?kw=gwlamp")" "\"$LAMP\""
check "... its PN's private one is not" has "$(hc reader "$API/services?kw=gwsafe")" '"services":\[\]'
code=$(hc other -o /dev/null -w '%{http_code}' -X DELETE "$API/services/$LAMP")
check "an external server cannot remove a gateway's service (403)" test "$code" = 403
code=$(hc other -o /dev/null -w '%{http_code}' -X DELETE "$API/services/$SID")
check "... nor another external server's (403)" test "$code" = 403
out=$(coapc -m delete "$URI/cpns/v1/services/$SID" 2>&1 || true)
check "a gateway cannot remove the external server's service over CoAP (4.03)" has "$out" "4\.03"
code=$(hc acme -o /dev/null -w '%{http_code}' -X DELETE "$API/services/$SID")
check "its offerer unpublishes it over HTTPS (204)" test "$code" = 204
out=$(coapc -m get "$URI/cpns/v1/services/$SID" 2>&1 || true)
check "... and CoAP clients see it gone (4.04)" has "$out" "4\.04"

# ---- capabilities and statuses: the same as CoAP, fresh, only while allowed ----
# same_as_coap PATH: ext.eye over HTTPS and the operator over CoAP (Accept:
# JSON) get the same bytes; tried up to 3 times, in case a report fell between.
same_as_coap() {
  local i
  for i in 1 2 3; do
    hc eye "$API/$1" > "$T/same-http.json"
    coapa -A 50 -m get "$URI/cpns/v1/$1" > "$T/same-coap.json" 2>/dev/null
    grep -q '"updated"' "$T/same-http.json" &&
      diff -q <(tr -d '\n' < "$T/same-http.json") <(tr -d '\n' < "$T/same-coap.json") >/dev/null && return 0
    sleep 1
  done
  echo "  HTTPS: $(head -c 300 "$T/same-http.json")"; echo "  CoAP:  $(head -c 300 "$T/same-coap.json")"
  return 1
}
check "the phone's capabilities over HTTPS are the CoAP answer, byte for byte" \
  same_as_coap pns/home/entities/phone/caps
check "... and so is the PN's page of capabilities" same_as_coap pns/home/caps
check "... the phone's status" same_as_coap pns/home/entities/phone/status
check "... one attribute of it" same_as_coap pns/home/entities/phone/status/battery
check "... and the PN's statuses" same_as_coap pns/home/status
out=$(coapc -m get "$URI/cpns/v1/pns/home/caps" 2>&1 || true)
check "over CoAP another PN's gateway is still refused home's capabilities (4.03)" has "$out" "4\.03"
out=$(coapc -m get "$URI/cpns/v1/pns/home/entities/phone/status" 2>&1 || true)
check "... and its statuses (4.03)" has "$out" "4\.03"
code=$(hc eye -o /dev/null -w '%{http_code}' -H 'Observe: 0' "$API/pns/home/entities/phone/status")
check "an Observe header means nothing over HTTPS: a plain answer (200)" test "$code" = 200
check "the phone's application changes its status" ctl phone.ctl status set away --attr battery=31
check "... which the server has soon" \
  wait_for 10 bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' status show home phone | grep -q 'away.*battery=31'"
out=$(hc eye "$API/pns/home/entities/phone/status")
check "... and the external server's next GET shows it" has "$out" '"state":"away".*"battery":31'
check "... so does its next GET of the attribute" \
  has "$(hc eye "$API/pns/home/entities/phone/status/battery")" '"value":31,"state":"away"'
check "... and of the PN's statuses" has "$(hc eye "$API/pns/home/status")" '"id":"phone","status":\{"state":"away"'
check "a member withdraws ext.eye from home's readers" ctl phone.ctl put pns/home/readers '{"readers":[]}'
code=$(hc eye -o /dev/null -w '%{http_code}' "$API/pns/home/entities/phone/caps")
check "... the external server's next read of capabilities is 403" test "$code" = 403
code=$(hc eye -o /dev/null -w '%{http_code}' "$API/pns/home/entities/phone/status")
check "... and of statuses" test "$code" = 403
check "the operator lists it again" ctl server.ctl pn readers home ext.eye
code=$(hc eye -o /dev/null -w '%{http_code}' "$API/pns/home/caps")
check "... and it reads again (200)" test "$code" = 200
check "the operator revokes ext.eye's token" ctl server.ctl token revoke "$(cat "$T/eye.id")"
out=$(hc eye -i "$API/pns/home/caps")
check "... its next read of capabilities is 401 invalid_token" \
  bash -c "grep -q '^HTTP/1.1 401' <<<'$out' && grep -qi '^WWW-Authenticate: Bearer .*error=\"invalid_token\"' <<<'$out'"
code=$(hc eye -o /dev/null -w '%{http_code}' "$API/pns/home/entities/phone/status")
check "... and of statuses" test "$code" = 401

# ---- tokens that expire, are revoked, survive ----
sleep 2
out=$(hc short -i "$API/services?kw=acmetv")
check "an expired token gets 401 invalid_token" \
  bash -c "grep -q '^HTTP/1.1 401' <<<'$out' && grep -qi '^WWW-Authenticate: Bearer .*error=\"invalid_token\"' <<<'$out'"
code=$(hc other -o /dev/null -w '%{http_code}' "$API/services?kw=acmetv")
check "a token works before it is revoked" test "$code" = 200
check "the operator revokes it" ctl server.ctl token revoke "$(cat "$T/other.id")"
code=$(hc other -o /dev/null -w '%{http_code}' "$API/services?kw=acmetv")
check "a revoked token gets 401" test "$code" = 401
out=$(ctl server.ctl token revoke "$(cat "$T/other.id")" 2>&1 || true)
check "revoking it again: 4.04" has "$out" "4\.04"
kill9 server
start_server "${HTTP_OPTS[@]}" -o log.level=debug
wait_for 5 grep -q "CPNS-4 listening" "$NET/server.log"
code=$(hc acme -o /dev/null -w '%{http_code}' "$API/services?kw=gwlamp")
check "tokens survive kill -9" test "$code" = 200
code=$(hc other -o /dev/null -w '%{http_code}' "$API/services?kw=gwlamp")
check "... and so do revocations" test "$code" = 401

# ---- connection limits and idle timeout ----
for fd in 5 6 7 8; do eval "exec $fd<>/dev/tcp/127.0.0.1/$HPORT"; done
sleep 0.5
code=$(hc reader -o /dev/null -w '%{http_code}' --max-time 5 "$API/services?kw=gwlamp" 2>/dev/null || true)
check "a fifth connection from one address is refused (max_per_ip = 4)" test "$code" != 200
sleep 4 # http.timeout = 3 s
check "idle connections are closed after the timeout" \
  bash -c "for fd in 5 6 7 8; do timeout 2 cat <&\$fd >/dev/null || exit 1; done"
for fd in 5 6 7 8; do eval "exec $fd<&-"; done
code=$(hc reader -o /dev/null -w '%{http_code}' "$API/services?kw=gwlamp")
check "... after which new connections are served" test "$code" = 200
check "the server is still running" kill -0 "$(pid_of server)"
# A clean stop with an HTTPS connection open and a request half sent: exit 0,
# and (under ASan) nothing leaked, which the log check at the end sees.
exec 5<>/dev/tcp/127.0.0.1/$HPORT
sleep 0.3
check "SIGTERM stops the server with HTTPS connections open" stop server
exec 5<&-
check "... saying so" grep -q "stopped" "$NET/server.log"
check "no log line holds a token" no_secret_in_logs
finish
