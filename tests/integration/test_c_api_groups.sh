#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The public C API for Service Groups and for enrollment and keys
# (include/cpns/groups.h, include/cpns/enroll.h) against a live cpns-server:
# the example programs examples/group_share.c and examples/key_admin.c are
# compiled against the shared libcpns of the build (so only its exported
# symbols are used) and run. group_share: a gateway identity creates a group,
# invites a second, which joins; both get the key of epoch 2; one seals and
# the other opens; the owner expels the second, which is then refused the key
# (status 403) and cannot open what is sealed afterwards. key_admin: an
# enrollment code made through the API has 26 characters and works once
# (cpns-gw --enroll redeems it); the enrolled gateway's key is rotated
# (generation 2) and revoked through the API. Ports 39680-39699.
source "$(dirname "$0")/lib.sh"
mknet --pnes 0 --base 39680
start_server
URI=coaps://127.0.0.1:39680

san=""
grep -q '^CPNS_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" && san="-fsanitize=address,undefined"
for ex in group_share key_admin; do
  check "examples/$ex.c compiles against the shared libcpns" \
    cc -std=c11 -Wall -Wextra -Werror $san -I"$TOP/include" -I"$BUILD/include" "$TOP/examples/$ex.c" \
      -L"$BUILD/lib" -lcpns -Wl,-rpath,"$BUILD/lib" -o "$T/$ex"
done

# Two gateway identities at the server, as in test_groups.sh.
umask 077
add_identity server.keys "gw-a" gw "a" "gw-a.ctl" "$URI"
add_identity server.keys "gw-b" gw "b" "gw-b.ctl" "$URI"
kill -HUP "$(pid_of server)"
sleep 1

# ---- Service Groups ----
rc=0
out=$("$T/group_share" "$URI" fam gw-a "$NET/gw-a.key" gw-b "$NET/gw-b.key" 2>&1) || rc=$?
echo "$out" | redact
check "group_share: every step went as expected (exit 0)" test "$rc" -eq 0
check "the owner created the group" has "$out" '^gw-a creates group fam$'
check "  invited the member" has "$out" '^gw-a invites gw-b$'
check "  who joined" has "$out" '^gw-b joins$'
check "cpns_group_get shows the group at key epoch 2" has "$out" '^group fam, owner gw-a, key epoch 2, 2 rows:$'
check "  with both members" has "$out" '^  gw-b \(PN b\) member$'
check "  (and the owner)" has "$out" '^  gw-a \(PN a\) member$'
check "both get the key of epoch 2" has "$out" '^gw-a has the key of epoch 2, gw-b the key of epoch 2$'
check "  and it is the same key" has "$out" '^both hold the same key$'
check "a message sealed by one is opened by the other" has "$out" '^the member reads: "hello from the owner"$'
check "the sealed message names the group and the epoch" has "$out" '^sealed [0-9]+ bytes for group fam, epoch 2$'
check "the expelled member is refused the key with status 403" \
  has "$out" '^the expelled member asks for the key: permission denied, status 403 \(4\.03 '
check "the expulsion rotated the key to epoch 3" has "$out" '^the owner has the key of epoch 3$'
check "the old key cannot open what is sealed after the expulsion" \
  has "$out" "^the expelled member's key of epoch 2 opens it: permission denied$"
check "  nor can it relabelled with the new epoch" has "$out" '^relabelled as epoch 3: cryptographic failure$'
check "the owner deleted the group" has "$out" '^the owner deletes the group$'
out=$(ctl server.ctl group show fam 2>&1 || true)
check "the server agrees: the group is gone (4.04)" has "$out" '4\.04'

check "a second run works as well (the group id is free again)" \
  bash -c "'$T/group_share' '$URI' fam gw-a '$NET/gw-a.key' gw-b '$NET/gw-b.key' >/dev/null 2>&1"
rc=0
out=$("$T/group_share" "$URI" 'bad id' gw-a "$NET/gw-a.key" gw-b "$NET/gw-b.key" 2>&1) || rc=$?
check "an invalid group id is refused before anything is sent" has "$rc $out" '^1 FAILED: gw-a creates group bad id: invalid argument'

# ---- Enrollment and keys ----
newgw() { # newgw ID PN PORT: a gateway config whose key file does not exist yet
  cat > "$NET/$1.conf" <<CONF
[gw]
id = $1
pn = $2
listen = 127.0.0.1:$3
keyring = $NET/gw.keys
database = $NET/$1.db
pid_file = $NET/$1.pid
lifetime = 6
[server]
uri = $URI
key_file = $NET/$1.key
source = 127.0.0.1:$(($3 + 1))
retry = 1
[discovery]
enabled = no
CONF
}
newgw gw-new newpn 39690
rc=0
code=$("$T/key_admin" "$URI" admin "$NET/admin.key" enroll gw-new newpn gw 600 2>"$T/enroll.err") || rc=$?
secret "$code" "enrollment code"
check "cpns_enrollment_create gives a 26-character code" \
  has "$rc $code" '^0 [a-z2-7]{26}$'
rc=0
"$GW" -f -c "$NET/gw-new.conf" --enroll "$code" >>"$NET/gw-new-enroll.log" 2>&1 || rc=$?
check "the code enrolls the gateway (cpns-gw --enroll exits 0)" test "$rc" -eq 0
check "  which wrote its key file" grep -Eqx '[0-9a-f]{64}' "$NET/gw-new.key"
rc=0
"$GW" -f -c "$NET/gw-new.conf" -o "server.key_file=$NET/gw-new-again.key" --enroll "$code" \
  >>"$NET/gw-new-enroll.log" 2>&1 || rc=$?
check "the code works only once (exit 77)" test "$rc" -eq 77
rc=0
out=$("$T/key_admin" "$URI" gw-a "$NET/gw-a.key" enroll tablet newpn 2>&1) || rc=$?
check "a gateway may not enroll into another PN: status 403" \
  has "$rc $out" '^1 permission denied: 4\.03 .*\(status 403\)$'
rc=0
out=$("$T/key_admin" "$URI" admin "$NET/admin.key" enroll enroll.x newpn 2>&1) || rc=$?
check "an enrollment identity cannot be enrolled (refused before sending)" \
  has "$rc $out" '^1 invalid argument'

rc=0
out=$("$T/key_admin" "$URI" admin "$NET/admin.key" rotate gw-new "$NET/gw-new-2.key" 2>&1) || rc=$?
check "cpns_key_rotate issues generation 2" \
  has "$rc $out" "^0 key of gw-new rotated: generation 2, written to $NET/gw-new-2.key\$"
check "  a new key, mode 0600" \
  bash -c "grep -Eqx '[0-9a-f]{64}' '$NET/gw-new-2.key' && test \"\$(stat -c %a '$NET/gw-new-2.key')\" = 600 && \
           ! cmp -s '$NET/gw-new.key' '$NET/gw-new-2.key'"
cp "$NET/gw-new-2.key" "$NET/gw-new.key"
rc=0
out=$("$T/key_admin" "$URI" gw-new "$NET/gw-new.key" rotate gw-new "$NET/gw-new-3.key" 2>&1) || rc=$?
check "the entity rotates its own key with the new one: generation 3" \
  has "$rc $out" '^0 key of gw-new rotated: generation 3,'
check "cpns_key_revoke revokes it" \
  bash -c "'$T/key_admin' '$URI' admin '$NET/admin.key' revoke gw-new | grep -qx 'key of gw-new revoked'"
rc=0
out=$("$T/key_admin" "$URI" admin "$NET/admin.key" rotate gw-new "$NET/gw-new-4.key" 2>&1) || rc=$?
check "a revoked key cannot be rotated: status 404" \
  has "$rc $out" '^1 not found: 4\.04 .*\(status 404\)$'
check "  and no key file is written" test ! -e "$NET/gw-new-4.key"

check "no code or key appears in any log" no_secret_in_logs
finish
