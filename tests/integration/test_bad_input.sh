#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hostile and malformed input: each gets a clear CoAP error or is dropped by
# DTLS, is logged at a bounded rate, and the daemon keeps serving everyone
# else. Also the daemons' command-line contract (--help, --version, exit codes).
source "$(dirname "$0")/lib.sh"
mknet --pnes 1 --base 24680
# libcoap's coap-client takes the PSK as raw bytes: give the operator a key
# without NUL bytes or a trailing newline so it can be passed on the command line.
while :; do
  k=$(openssl rand -hex 32)
  echo "$k" | grep -Eq '^([0-9a-f]{2})*00' && continue
  case $k in *0a) continue;; esac
  break
done
sed -i "s/^admin operator - .*/admin operator - $k/" "$NET"/*.keys
echo "$k" > "$NET/admin.key"
KEY=$(printf '%s' "$k" | xxd -r -p)
start_server -o limits.max_pns=1 -o limits.max_payload=512
start_gw
start_pne phone
check "the network is up" wait_for 20 is_state gw.ctl home phone online
URI=coaps://127.0.0.1:24680/cpns/v1
coap() { timeout 10 coap-client-openssl -B 3 -u admin -k "$KEY" "$@" 2>&1; }

out=$(coap -m get "$URI/nowhere")
check "unknown path: 4.04" has "$out" '4\.04'
out=$(coap -m post "$URI/pns/home")
check "unknown method on a known path: 4.05" has "$out" '4\.05'
out=$(coap -m get -A 0 "$URI/pns")
check "unsupported Accept: 4.06" has "$out" '4\.06'
out=$(coap -m put -t 60 -e "$(printf '\xbf\xff\xff')" "$URI/pns/home/readers")
check "malformed CBOR: 4.00 with a diagnostic" has "$out" '4\.00.*CBOR'
out=$(coap -m put -t 50 -e '{"readers": [' "$URI/pns/home/readers")
check "malformed JSON: 4.00" has "$out" '4\.00'
out=$(coap -m put -t 50 -e '{"readers":"home"}' "$URI/pns/home/readers")
check "well-formed but wrong schema: 4.00" has "$out" '4\.00'
big=$(head -c 2000 /dev/zero | tr '\0' 'a')
out=$(coap -m put -t 50 -e "{\"readers\":[\"$big\"]}" "$URI/pns/home/readers")
check "oversized body: 4.13" has "$out" '4\.13'
deep=$(printf '[%.0s' $(seq 1 40))$(printf ']%.0s' $(seq 1 40))
out=$(coap -m put -t 50 -e "{\"readers\":$deep}" "$URI/pns/home/readers")
check "too deeply nested: 4.13" has "$out" '4\.13'
out=$(coap -m put -t 42 -e 'x' "$URI/pns/home/readers")
check "unsupported Content-Format: 4.15" has "$out" '4\.15'
long=$(head -c 70 /dev/zero | tr '\0' 'b')
out=$(coap -m get "$URI/pns/$long")
check "over-long path segment: 4.14" has "$out" '4\.14'
out=$(coap -m get "$URI/pns/bad%20id")
check "invalid id: 4.00" has "$out" '4\.00'

# Wrong credentials never get past DTLS.
out=$(timeout 10 coap-client-openssl -B 2 -u admin -k wrongkey -m get "$URI/pns" 2>&1 || true)
check "a wrong key gets no answer" bash -c "! grep -q '^{' <<<'$out' && ! grep -q 'home' <<<'$out'"
out=$(timeout 10 coap-client-openssl -B 2 -u nobody -k whatever -m get "$URI/pns" 2>&1 || true)
check "an unknown identity gets no answer" bash -c "! grep -q 'home' <<<'$out'"
check "failed handshakes are logged" grep -Eq "DTLS handshake failed|unknown PSK identity" "$NET/server.log"
out=$(timeout 10 coap-client-openssl -B 2 -m get "coap://127.0.0.1:24680/cpns/v1/pns" 2>&1 || true)
check "plain CoAP to the DTLS port gets no answer" bash -c "! grep -q 'home' <<<'$out'"

# A flood of junk datagrams on the DTLS port and the discovery port.
python_free_flood() { # port count
  for i in $(seq 1 "$2"); do printf 'junk-%05d\x16\xfe\xfd\x00\x00' "$i" >/dev/udp/127.0.0.1/"$1" || true; done
}
lines_before=$(wc -l < "$NET/server.log")
python_free_flood 24680 2000
python_free_flood 24682 500
sleep 1
lines_after=$(wc -l < "$NET/server.log")
echo "  server log grew by $((lines_after - lines_before)) lines for 2000 junk datagrams"
check "junk is logged at a bounded rate (< 60 lines)" test $((lines_after - lines_before)) -lt 60
check "the server still serves its operator" bash -c "'$CTL' -P $NET/server.ctl pn show home | grep -q phone"
check "the gateway still serves its PNEs" ctl phone.ctl pn show home

# Registrations beyond the configured limit (limits.max_pns=1).
umask 077
k2=$(openssl rand -hex 32); echo "$k2" > "$NET/gw2.key"
echo "gw-two gw two $k2" >> "$NET/server.keys"
kill -HUP "$(pid_of server)"
sleep 0.5
sed -e "s/^id = gw-home/id = gw-two/" -e "s/^pn = home/pn = two/" -e "s/24681/24731/" -e "s/24682/24732/" \
    -e "s/24683/24733/" -e "s#/gw.key\$#/gw2.key#" -e "s#gw.db#gw2.db#" -e "s#gw.pid#gw2.pid#" "$NET/gw.conf" > "$NET/gw2.conf"
(cd "$NET" && "$GW" -f -c gw2.conf >>gw2.log 2>&1 &)
check "a PN beyond limits.max_pns is refused with 5.03" wait_for 15 grep -q "503 PN limit reached" "$NET/gw2.log"
check "the refusal is logged by the server" grep -q "PN limit (1) reached" "$NET/server.log"
kill "$(cat "$NET/gw2.pid")" 2>/dev/null || true

# No key material in any log.
keys=$(cat "$NET"/*.key | tr '\n' '|' | sed 's/|$//')
check "no key appears in any log" bash -c "! grep -Eq '$keys' $NET/*.log"

# The command-line contract.
check "--help exits 0" bash -c "'$SERVER' --help >/dev/null"
check "--version names the program" bash -c "'$GW' --version | grep -q '^cpns-gw '"
"$PNE" --sample-config > "$T/sample.conf"
check "the sample config is accepted as a config file" bash -c "'$PNE' -c $T/sample.conf --help >/dev/null"
printf '[server]\nlisten = 127.0.0.1:1\nbogus = 1\n' > "$T/bad.conf"
rc=0; "$SERVER" -f -c "$T/bad.conf" 2>"$T/bad.err" || rc=$?
check "an unknown option is a config error (exit 78)" test "$rc" -eq 78
check "which names the file and line" grep -q "bad.conf:3: unknown option server.bogus" "$T/bad.err"
rc=0; "$SERVER" --no-such-flag 2>/dev/null || rc=$?
check "a bad flag is a usage error (exit 64)" test "$rc" -eq 64
chmod 644 "$NET/server.keys"
rc=0; "$SERVER" -f -c "$NET/server.conf" -o server.listen=127.0.0.1:24699 2>"$T/mode.err" || rc=$?
check "a keyring readable by others is refused (exit 78)" test "$rc" -eq 78
check "with a reason" grep -q "chmod 600" "$T/mode.err"
chmod 600 "$NET/server.keys"
finish
