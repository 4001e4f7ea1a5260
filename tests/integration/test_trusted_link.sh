#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Links on a secure underlying network (spec Appendix D). The server runs a
# second, plain CoAP listener whose peers are known by source address
# ([server] trusted_listen, trusted_peers); the gateway reaches it with
# coap:// and [server] trusted_link = yes. The gateway does the same for the
# phone ([gw] trusted_listen, [pne] trusted_link); the mp3 player stays on
# DTLS. Both ends log the declaration at start. A coap:// link that is not
# declared, a declaration on a coaps:// link or without a uri, a trusted
# listener without its peers and a bad line of trusted_peers refuse to start
# (78). On the trusted listener an unlisted address, or one listed as an
# identity the keyring lacks, gets 4.01; SIGHUP re-reads the table and keeps
# the old one when the new one is bad.
source "$(dirname "$0")/lib.sh"
mknet --pnes 2 --base 34680
TPORT=34685
printf '# address identity\n127.0.0.1 gw-home   # the gateway, over the secure WAN\n' > "$NET/server.trusted"
cat >> "$NET/server.conf" <<CONF
trusted_listen = 127.0.0.1:$TPORT
trusted_peers = $NET/server.trusted
CONF
sed -i -e "s#^uri = coaps://127.0.0.1:34680\$#uri = coap://127.0.0.1:$TPORT\ntrusted_link = yes#" "$NET/gw.conf"
# The phone reaches its gateway the same way (CPNS-1 on a secure PN
# technology); the mp3 player stays on DTLS.
GPORT=34686
printf '127.0.0.1 phone\n' > "$NET/gw.trusted"
sed -i -e "s#^keyring = $NET/gw.keys\$#&\ntrusted_listen = 127.0.0.1:$GPORT\ntrusted_peers = $NET/gw.trusted#" "$NET/gw.conf"
sed -i -e "s#^id = phone\$#&\npn = home\ngateway = coap://127.0.0.1:$GPORT\ntrusted_link = yes#" "$NET/phone.conf"

# Refusals at start: exit 78 with a message naming the option.
expect_78() { # expect_78 OUTFILE PATTERN command...
  local out=$1 pat=$2; shift 2
  local rc=0
  (cd "$NET" && timeout 20 "$@") >"$out" 2>&1 || rc=$?
  [ "$rc" -eq 78 ] && grep -Eq -- "$pat" "$out" || { echo "  rc=$rc: $(cat "$out")"; return 1; }
}
sed '/^trusted_link = yes$/d' "$NET/gw.conf" > "$NET/gw-undeclared.conf"
check "a gateway with a coap:// server uri but no trusted_link refuses to start (78)" \
  expect_78 "$T/undeclared.out" 'server\.trusted_link' "$GW" -f -c gw-undeclared.conf
sed "s#^uri = coap://127.0.0.1:$TPORT\$#uri = coaps://127.0.0.1:34680#" "$NET/gw.conf" > "$NET/gw-coaps.conf"
check "trusted_link = yes with a coaps:// uri refuses to start (78)" \
  expect_78 "$T/coaps.out" 'trusted_link = yes is for a coap://' "$GW" -f -c gw-coaps.conf
printf '127.0.0.1 gw-home\n300.1.2.3 gw-home\n' > "$NET/bad.trusted"
sed "s#^trusted_peers = .*#trusted_peers = $NET/bad.trusted#" "$NET/server.conf" > "$NET/server-bad.conf"
check "a bad address in trusted_peers stops the server at start (78, file:line)" \
  expect_78 "$T/bad.out" "bad\.trusted:2: bad address '300\.1\.2\.3'" "$SERVER" -f -c server-bad.conf
sed "s#^trusted_peers = .*##" "$NET/server.conf" > "$NET/server-nopeers.conf"
check "trusted_listen without trusted_peers stops the server at start (78)" \
  expect_78 "$T/nopeers.out" 'trusted_listen needs server\.trusted_peers' "$SERVER" -f -c server-nopeers.conf
check "a PNE with a coap:// gateway but no trusted_link refuses to start (78)" \
  expect_78 "$T/pne.out" 'pne\.trusted_link' "$PNE" -f -c phone.conf -o pne.trusted_link=no
check "a PNE with trusted_link but no gateway uri refuses to start (78)" \
  expect_78 "$T/pne-nouri.out" 'pne\.trusted_link = yes needs pne\.gateway' \
  "$PNE" -f -c mp3-player.conf -o pne.trusted_link=yes
check "no daemon was left running by the refusals" \
  bash -c "! test -s '$NET/server.pid' && ! test -s '$NET/gw.pid' && ! test -s '$NET/phone.pid'"

# The network, with the gateway's CPNS-2 link on the trusted listener.
check "server, gateway and PNEs start, and the PNEs register at the gateway" start_all
check "the server logs its trusted listener at start" \
  grep -q "listener 127.0.0.1:$TPORT runs WITHOUT DTLS for 1 peers: underlying network declared secure (Appendix D)" "$NET/server.log"
check "the gateway logs its declared link at start" \
  grep -q "link to coap://127.0.0.1:$TPORT runs WITHOUT DTLS: underlying network declared secure (Appendix D)" "$NET/gw.log"
check "the gateway does not call its declared link development-only" \
  bash -c "! grep -q 'development only' '$NET/gw.log'"
check "the PN registered over the trusted link" \
  wait_for 15 bash -c "'$CTL' -P $NET/server.ctl pn list | grep -q '^home .* online'"
check "its PNEs appear at the server (operator over DTLS)" wait_for 15 is_state server.ctl home phone online
check "both of them" wait_for 15 is_state server.ctl home mp3-player online
check "the server reaches the gateway back on the trusted link (CPNS-7)" \
  bash -c "'$CTL' -P $NET/server.ctl pn gw home | grep -q 'you .*server'"
check "the gateway logs its own trusted listener" \
  grep -q "listener 127.0.0.1:$GPORT runs WITHOUT DTLS for 1 peers" "$NET/gw.log"
check "the phone logs its declared link to the gateway" \
  grep -q "link to coap://127.0.0.1:$GPORT runs WITHOUT DTLS: underlying network declared secure" "$NET/phone.log"
check "the phone registered over the gateway's trusted listener" \
  grep -q "registered in PN home via coap://127.0.0.1:$GPORT" "$NET/phone.log"
check "an application on the phone reads the PN through both trusted links" \
  bash -c "'$CTL' -P $NET/phone.ctl pn show home | grep -q mp3-player"

# The trusted listener, seen by a plain CoAP client from other addresses.
get_from() { timeout 10 coap-client-openssl -a "$1" -B 3 -A 50 -m get "coap://127.0.0.1:$TPORT/cpns/v1/pns" 2>&1 || true; }
out=$(get_from 127.0.0.2)
check "an unlisted source address gets 4.01 'unknown peer on trusted link'" \
  has "$out" '^4\.01 unknown peer on trusted link'
check "the server notes the unknown peer" grep -q "127.0.0.2:.*unknown peer on trusted link" "$NET/server.log"
printf '127.0.0.1 gw-home\n127.0.0.2 admin\n127.0.0.3 nobody-in-keyring\n' > "$NET/server.trusted"
kill -HUP "$(pid_of server)"
check "SIGHUP re-reads trusted_peers" wait_for 5 grep -q "trusted peers reloaded: 3 addresses" "$NET/server.log"
out=$(get_from 127.0.0.2)
check "a newly listed address acts as its identity (the operator lists PNs)" has "$out" '"id":"home"'
out=$(get_from 127.0.0.3)
check "an address listed as an identity the keyring lacks gets 4.01" \
  has "$out" '^4\.01 unknown peer on trusted link'
printf '127.0.0.1 gw-home\n127.0.0.2\n' > "$NET/server.trusted"
kill -HUP "$(pid_of server)"
check "a bad table on SIGHUP is refused with file:line" \
  wait_for 5 grep -q "trusted peers reload failed, keeping the old table: .*server.trusted:2:" "$NET/server.log"
out=$(get_from 127.0.0.2)
check "and the old table stays in force" has "$out" '"id":"home"'
check "the gateway stayed registered throughout" is_state server.ctl home gw-home online
check "the DTLS listener still refuses plain CoAP" \
  bash -c "! timeout 10 coap-client-openssl -B 2 -m get coap://127.0.0.1:34680/cpns/v1/pns 2>&1 | grep -q home"
finish
