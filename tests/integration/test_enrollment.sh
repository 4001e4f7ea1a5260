#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Entity-User Key provisioning (spec 5.5.7.2): a one-time enrollment code made
# by the operator or the PN's gateway, presented once by the new device
# through its gateway; the gateway fetches the new key from the server; keys
# are rotated and revoked, and a revoked entity's sessions close at once.
source "$(dirname "$0")/lib.sh"
mknet --pnes 1 --base 29680 --lifetime 6
start_all

newpne() { # newpne ID PORTS-OFFSET: a PNE config without a key yet
  sed -e "s/^id = phone/id = $1/" -e "s/^name = .*/name = $1/" -e "s#/phone.key#/$1.key#" \
      -e "s#phone.state#$1.state#" -e "s#phone.pid#$1.pid#" -e "s/29690/$((29690 + $2))/" \
      -e "s/29691/$((29691 + $2))/" -e "s/29792/$((29792 + $2))/" -e "s#phone-apps#$1-apps#" \
      "$NET/phone.conf" > "$NET/$1.conf"
  cp "$NET/phone-apps.keys" "$NET/$1-apps.keys"
}
code_of() { sed -n 's/.*"code": "\([a-z2-7]*\)".*/\1/p'; }

newpne tablet 10
out=$("$CTL" -j -P "$NET/server.ctl" enroll tablet home)
code=$(echo "$out" | code_of)
secret "$code" "enrollment code"
check "the operator gets a one-time code" test ${#code} -eq 26
check "the device enrolls with it through its gateway" "$PNE" -f -c "$NET/tablet.conf" --enroll "$code"
check "its key file is private (0600)" test "$(stat -c %a "$NET/tablet.key")" = 600
rc=0; "$PNE" -f -c "$NET/tablet.conf" --enroll "$code" 2>/dev/null || rc=$?
check "an existing key file is never replaced (exit 73)" test "$rc" -eq 73
rc=0; "$PNE" -f -c "$NET/tablet.conf" -o "pne.key_file=$NET/tablet-again.key" --enroll "$code" 2>/dev/null || rc=$?
check "the code works only once (refused: exit 77)" test "$rc" -eq 77
check "  and no second key file is written" test ! -e "$NET/tablet-again.key"
start_pne tablet
check "the enrolled PNE registers (the gateway got its key from the server)" wait_for 20 is_state gw.ctl home tablet online
check "the server has it too" wait_for 10 is_state server.ctl home tablet online

# A gateway enrolls PNEs of its own PN only.
printf '[cpnsctl]\nuri = coaps://127.0.0.1:29680\nidentity = gw-home\nkey_file = %s\n' "$NET/gw.key" > "$NET/gwsrv.ctl"
"$CTL" -j -P "$NET/gwsrv.ctl" enroll watch home > "$T/watch-code.json" || true
secret "$(code_of < "$T/watch-code.json")" "enrollment code"
check "the PN's gateway may create a code for its PN" grep -q code "$T/watch-code.json"
out=$("$CTL" -P "$NET/gwsrv.ctl" enroll watch office 2>&1 || true)
check "but not for another PN (4.03)" has "$out" '4\.03'

# Expired and wrong codes.
newpne watch 20
out=$("$CTL" -j -P "$NET/server.ctl" enroll watch home pne 1)
code=$(echo "$out" | code_of)
secret "$code" "enrollment code"
sleep 2
check "an expired code is refused" bash -c "! '$PNE' -f -c $NET/watch.conf --enroll $code 2>/dev/null"
secret "$("$CTL" -j -P "$NET/server.ctl" enroll watch home | code_of)" "enrollment code"
check "a wrong code is refused" bash -c "! '$PNE' -f -c $NET/watch.conf --enroll abcdefghijklmnopqrstuvwxyz 2>/dev/null"

# Revocation closes the entity's sessions at once and keeps it out.
check "the operator revokes the tablet's key" ctl server.ctl key revoke tablet
check "its gateway closes its session at once" wait_for 5 grep -q "key of tablet withdrawn" "$NET/gw.log"
check "its next handshake fails: it goes offline" wait_for 20 is_state gw.ctl home tablet offline
check "and stays out" bash -c "sleep 3; ! grep -q 'registered' <(tail -n 3 $NET/tablet.log)"

# Rotation: a new key is issued; the old one stops working at once.
newpne camera 30
code=$("$CTL" -j -P "$NET/server.ctl" enroll camera home | code_of)
secret "$code" "enrollment code"
check "a camera enrolls" "$PNE" -f -c "$NET/camera.conf" --enroll "$code"
start_pne camera
check "and registers" wait_for 20 is_state gw.ctl home camera online
secret "$(cat "$NET/camera.key")" "issued key" # replaced below
out=$("$CTL" -j -P "$NET/server.ctl" key rotate camera)
secret "$(echo "$out" | sed -n 's/.*"key": "\([0-9a-f]*\)".*/\1/p')" "issued key"
check "rotation issues generation 2" has "$out" '"generation": 2'
check "the camera's session with the old key is closed" wait_for 5 grep -q "key of camera withdrawn" "$NET/gw.log"
check "and the old key opens no new one: it goes offline" wait_for 20 is_state gw.ctl home camera offline
echo "$out" | sed -n 's/.*"key": "\([0-9a-f]*\)".*/\1/p' > "$NET/camera.key"
kill9 camera
start_pne camera
check "with the new key it is back" wait_for 20 is_state gw.ctl home camera online

# Nothing secret in any log: every code and key above (lib.sh checks it
# again when the test ends).
check "no enrollment code or key appears in any log" no_secret_in_logs
finish
