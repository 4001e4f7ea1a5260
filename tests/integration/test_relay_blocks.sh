#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Answers larger than one CoAP block (RFC 7959 Block2), end to end: a usage
# summary of 45 rows (several KiB) read by an application through its PNE,
# the gateway and the server (two relays, each answering with a separate
# response sliced from its block cache); a PN's capabilities (three
# documents, several KiB) read through a PNE in one request; many large
# lookups with different queries at the server, each whole; a plain
# coap-client-openssl reading a large answer straight from the server, also
# in the small blocks it asks for; observations of a document over one block
# (notified whole, by libcoap's own large responses).
source "$(dirname "$0")/lib.sh"
mknet --pnes 2 --base 45680 --lifetime 10
SRV=coaps://127.0.0.1:45680
raw_key() { printf '%s' "$(cat "$NET/$1")" | xxd -r -p; }
ROWS=45

# Capability documents with many apps, so that a page of three is > 1 KiB.
apps=$(for i in $(seq 1 40); do printf '"application-%02d":"1.%d",' "$i" "$i"; done)
for p in phone mp3-player; do
  printf '{"static":{"software":{"apps":{%s}}}}\n' "${apps%,}" > "$NET/$p-caps.json"
  printf '[capabilities]\nfile = %s\nperiod = 1\nmin_interval = 1\n' "$NET/$p-caps.json" >> "$NET/$p.conf"
done

start_server -v
start_gw -v -o usage.batch_ms=500
start_pne phone -o usage.max_rate=1000 -o usage.burst=1000
start_pne mp3-player
for p in phone mp3-player; do wait_for 20 is_state gw.ctl home "$p" online; done

rows_in() { grep -c '"key"' <<<"$1"; }

# ---- a usage summary of 45 rows through the PNE and the gateway ----
for i in $(seq 1 $ROWS); do ctl phone.ctl usage record "service-$i" --seconds "$i" >/dev/null; done
server_rows() { [ "$(rows_in "$(ctlj server.ctl usage summary --limit 100)")" = "$ROWS" ]; }
check "the server holds $ROWS services" wait_for 30 server_rows
direct=$(ctlj server.ctl usage summary --pn home --limit 100)
check "the summary is larger than one block (${#direct} bytes of JSON)" test "${#direct}" -gt 2048
out=$(ctlj phone.ctl usage summary --limit 100)
check "through the phone and its gateway: all $ROWS rows" test "$(rows_in "$out")" = "$ROWS"
check "... the same rows as the server's" \
  bash -c "diff <(grep -Eo '\"key\": \"[^\"]*\"' <<<'$direct' | sort) <(grep -Eo '\"key\": \"[^\"]*\"' <<<'$out' | sort)"
check "... and nothing said to be left out" bash -c "! grep -q '\"truncated\": true' <<<'$out'"
out=$(ctl phone.ctl usage summary)
check "without a limit, the server's default (100) applies: all $ROWS rows as a table" \
  test "$(grep -Ec '^service-[0-9]+ ' <<<"$out")" = "$ROWS"
out=$(ctlj gw.ctl usage summary --limit 100)
check "the operator at the gateway reads the $ROWS rows too (one relay)" test "$(rows_in "$out")" = "$ROWS"
out=$(ctl phone.ctl get 'usage/summary?limit=1001' 2>&1 || true)
check "a limit over the normal maximum is still refused by the server (4.00)" has "$out" '4\.00'

# ---- a PN's capabilities through a PNE, in one request ----
has_docs() { [ "$(ctlj server.ctl caps show home | grep -c '"application-40"')" = 2 ]; }
check "the server has the PNEs' documents with 40 apps each" wait_for 30 has_docs
out=$(ctlj mp3-player.ctl caps show home)
check "the page is larger than one block (${#out} bytes of JSON)" test "${#out}" -gt 2048
check "an application lists the PN through its PNE: gw-home, phone and mp3-player" \
  bash -c "for id in gw-home phone mp3-player; do grep -q \"\\\"id\\\": \\\"\$id\\\"\" <<<'$out' || exit 1; done"
check "... with every document whole" test "$(grep -c '"application-40"' <<<"$out")" = 2
out=$(ctl mp3-player.ctl caps show home phone)
check "one document in full through the PNE" has "$out" 'application-40 1\.40'

# ---- observations of a document over one block keep libcoap's way ----
# The phone's document changes every second (memory available): notified.
timeout 20 coap-client-openssl -s 6 -B 8 -u admin -k "$(raw_key admin.key)" -A 50 -m get \
  "$SRV/cpns/v1/pns/home/entities/phone/caps" > "$T/observe.out" 2>&1 &
CLEANUPS+=("kill $!")
timeout 6 "$CTL" -t 5000 -j -P "$NET/server.ctl" caps show home phone --watch > "$T/watch.out" 2>&1 || true
check "cpnsctl --watch gets the document whole, then whole notifications" \
  test "$(grep -c '"application-40"' "$T/watch.out")" -ge 2
# coap-client prints the documents one after the other: each must be whole
# (longer than one block, its last app there, its object closed).
docs_whole() { # prints "WHOLE ALL"
  awk 'BEGIN { RS = "[{]\"pn\":" } NR > 1 { n++; if ($0 ~ /"application-40"/ && $0 ~ /}[[:space:]]*$/ && length($0) > 1100) ok++ }
       END { print ok + 0, n + 0 }' "$T/observe.out"
}
notified_whole() { local w; w=$(docs_whole); [ "${w% *}" -ge 2 ] && [ "${w% *}" = "${w#* }" ]; }
check "coap-client-openssl observing gets the document and its notifications whole (over 1 KiB each)" \
  wait_for 10 notified_whole

# ---- many large lookups with different queries, straight at the server ----
bad=0
for n in $(seq 20 44); do
  got=$(rows_in "$(ctlj server.ctl usage summary --limit "$n")")
  [ "$got" = "$n" ] || { bad=$((bad + 1)); echo "limit=$n: $got rows"; }
done
check "25 summaries with 25 different limits, each whole" test "$bad" = 0

# ---- a plain CoAP client, straight at the server ----
out=$(coap-client-openssl -B 10 -u admin -k "$(raw_key admin.key)" -A 50 -m get \
  "$SRV/cpns/v1/usage/summary?limit=100" 2>&1 || true)
check "coap-client-openssl gets the whole large answer (${#out} bytes)" \
  test "$(grep -o '"key"' <<<"$out" | wc -l)" = "$ROWS"

out=$(coap-client-openssl -B 10 -b 64 -u admin -k "$(raw_key admin.key)" -A 50 -m get \
  "$SRV/cpns/v1/usage/summary?limit=100" 2>&1 || true)
check "... also in the 64-byte blocks it asks for (Block2 szx 2)" \
  test "$(grep -o '"key"' <<<"$out" | wc -l)" = "$ROWS"

check "the daemons keep serving" ctl phone.ctl usage summary --limit 1
finish
