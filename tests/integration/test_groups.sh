#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Service Groups with Group Keys at the server (spec 5.5.9, 5.5.7.2): a
# gateway creates a group, invites another, which joins (the key epoch
# grows); members pull the key and get it pushed (Observe); a non-member is
# refused; an expelled member is refused the key afterwards and cannot open
# what is sealed after its expulsion with the key it had.
source "$(dirname "$0")/lib.sh"
mknet --pnes 1 --base 31680
start_server
URI=coaps://127.0.0.1:31680

# Gateways of four PNs at the server. gw-b's key has no NUL byte and no
# trailing newline, so that coap-client can take it raw on the command line.
umask 077
for p in a b c d; do add_identity server.keys "gw-$p" gw "$p" "gw-$p.ctl" "$URI"; done
kill -HUP "$(pid_of server)"
sleep 1
epoch_of() { ctlj "$1" group show fam | sed -n 's/.*"epoch": \([0-9]*\).*/\1/p'; }

check "a gateway creates a group" ctl gw-a.ctl group create fam
out=$(ctl gw-a.ctl group show fam)
check "the creator is owner and member, key epoch 1" \
  bash -c "grep -q 'owner gw-a' <<<'$out' && grep -q 'key epoch 1' <<<'$out' && grep -Eq '^gw-a +member' <<<'$out'"
check "a second group of the same id is refused" bash -c "! '$CTL' -P '$NET/gw-b.ctl' group create fam 2>/dev/null"
out=$(ctl gw-b.ctl group key fam 2>&1 || true)
check "a non-member is refused the key (4.03)" has "$out" '4\.03'
out=$(ctl gw-b.ctl group join fam 2>&1 || true)
check "joining without an invitation is refused (4.03)" has "$out" '4\.03'
out=$(ctl gw-b.ctl group invite fam gw-c 2>&1 || true)
check "only the owner invites (4.03)" has "$out" '4\.03'
check "the owner invites gw-b" ctl gw-a.ctl group invite fam gw-b
out=$(ctl gw-c.ctl group join fam gw-b 2>&1 || true)
check "nobody joins for another identity (4.03)" has "$out" '4\.03'
check "the invitee joins" ctl gw-b.ctl group join fam
check "the join rotated the key: epoch 2" test "$(epoch_of gw-a.ctl)" = 2
out=$(ctlj gw-b.ctl group key fam)
secrets_in <(echo "$out") "group key"
check "the new member pulls the key of epoch 2" has "$out" '"epoch": ?2'
check "the owner sees the same key" test "$(ctlj gw-a.ctl group key fam)" = "$out"

# Push: gw-b observes the key; gw-c's join sends it the key of epoch 3.
KEYB=$(printf '%s' "$(cat "$NET/gw-b.key")" | xxd -r -p)
timeout 20 coap-client-openssl -B 12 -s 12 -u gw-b -k "$KEYB" -A 50 -m get \
  "$URI/cpns/v1/groups/fam/key" > "$T/observe.out" 2>&1 &
OBS=$!
CLEANUPS+=("kill $OBS")
wait_for 10 grep -q '"epoch":2' "$T/observe.out" || true
check "an observer gets the current key first" grep -q '"epoch":2' "$T/observe.out"
check "the owner invites gw-c" ctl gw-a.ctl group invite fam gw-c
check "gw-c joins" ctl gw-c.ctl group join fam
check "the observer is pushed the key of epoch 3" wait_for 10 grep -q '"epoch":3' "$T/observe.out"

# The crypto property: gw-b keeps the key it had; after its expulsion the
# group's new content cannot be opened with it.
ctlj gw-b.ctl group key fam > "$T/b-key.json"
secrets_in "$T/b-key.json" "group key"
echo "before the expulsion" > "$T/old.txt"
ctl gw-a.ctl group seal fam "$T/old.txt" > "$T/old.sealed"
check "the saved key opens what was sealed while gw-b was a member" \
  bash -c "'$CTL' -P '$NET/gw-b.ctl' group open fam '$T/old.sealed' --key-json '$T/b-key.json' | grep -q 'before the expulsion'"
out=$(ctl gw-c.ctl group expel fam gw-b 2>&1 || true)
check "a member who is not the owner may not expel (4.03)" has "$out" '4\.03'
check "the owner expels gw-b" ctl gw-a.ctl group expel fam gw-b
check "the expulsion rotated the key: epoch 4" test "$(epoch_of gw-a.ctl)" = 4
out=$(ctl gw-b.ctl group key fam 2>&1 || true)
check "the expelled member is refused the key (4.03)" has "$out" '4\.03'
echo "after the expulsion" > "$T/new.txt"
ctl gw-a.ctl group seal fam "$T/new.txt" > "$T/new.sealed"
check "a member opens the new content" \
  bash -c "'$CTL' -P '$NET/gw-c.ctl' group open fam '$T/new.sealed' | grep -q 'after the expulsion'"
rc=0; out=$("$CTL" -P "$NET/gw-b.ctl" group open fam "$T/new.sealed" --key-json "$T/b-key.json" 2>&1) || rc=$?
check "the expelled member's key cannot open the new content" test "$rc" -ne 0
check "  (it is the key of an earlier epoch)" has "$out" 'epoch 4 of fam; the key is of epoch 3'
sed -i 's/"epoch": *3/"epoch": 4/' "$T/b-key.json"
rc=0; out=$("$CTL" -P "$NET/gw-b.ctl" group open fam "$T/new.sealed" --key-json "$T/b-key.json" 2>&1) || rc=$?
check "relabelling the old key with the new epoch does not help either" test "$rc" -ne 0
check "the expelled observer's next notification carries no key, only the refusal" \
  wait_for 10 grep -q 'may not' "$T/observe.out"

check "a member leaves by itself" ctl gw-c.ctl group leave fam
check "leaving rotated the key: epoch 5" test "$(epoch_of gw-a.ctl)" = 5
out=$(ctl gw-d.ctl group show fam 2>&1 || true)
check "an outsider may not read the group (4.03)" has "$out" '4\.03'
check "the operator reads the group" ctl server.ctl group show fam
out=$(ctl server.ctl group key fam 2>&1 || true)
check "the operator is not a member: no key (4.03)" has "$out" '4\.03'
out=$(ctl gw-d.ctl group delete fam 2>&1 || true)
check "an outsider may not delete the group (4.03)" has "$out" '4\.03'
check "the owner deletes the group" ctl gw-a.ctl group delete fam
out=$(ctl server.ctl group show fam 2>&1 || true)
check "the group is gone with its key (4.04)" has "$out" '4\.04'

# An open group: anyone joins without an invitation; groups survive a restart.
check "an open group" ctl gw-d.ctl group create club open
check "anyone joins an open group" ctl gw-a.ctl group join club
stop server
start_server
ctlj gw-a.ctl group key club > "$T/club-key.json" || true
secrets_in "$T/club-key.json" "group key"
check "after a restart the group and its key are there" grep -Eq '"epoch": ?2' "$T/club-key.json"
# Every group key pulled or pushed above (and every key file), in no log.
secrets_in "$T/observe.out" "group key"
check "no group key appears in any log" no_secret_in_logs
finish
