#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Service Groups of PNEs (spec 5.5.9, 5.5.7.2), through their gateway:
# applications on the PNEs create, invite, join and expel (CPNS-5 -> CPNS-1
# -> CPNS-2, the gateway speaking On-Behalf-Of each PNE); the gateway holds a
# replica of the group and pushes each new key to its member PNEs observing
# it (a plain coap-client here); the server's membership resource is
# observable; while the server is down a PNE's new group is local to the
# gateway, and it is handed over to the server when it returns.
source "$(dirname "$0")/lib.sh"
mknet --pnes 3 --base 38680
start_all
SRV=coaps://127.0.0.1:38680
GWURI=coaps://127.0.0.1:38681
raw_key() { printf '%s' "$(cat "$NET/$1")" | xxd -r -p; }
epoch_at() { ctlj "$1" group show "$2" | sed -n 's/.*"epoch": \([0-9]*\).*/\1/p'; }

check "an application on the phone creates a group (at the server)" ctl phone.ctl group create fam
out=$(ctl server.ctl group show fam)
check "the server holds it, owned by the PNE phone of PN home" \
  bash -c "grep -q 'owner phone' <<<'$out' && grep -Eq '^phone +member' <<<'$out'"
check "the gateway relayed it On-Behalf-Of the phone" \
  wait_for 5 grep -q "group fam created by phone" "$NET/server.log"
out=$(ctl mp3-player.ctl group join fam mp3-player 2>&1 || true)
check "a PNE that is not invited may not join (4.03, the server's rule)" has "$out" '4\.03'
check "the phone invites the mp3 player" ctl phone.ctl group invite fam mp3-player
check "the mp3 player joins" ctl mp3-player.ctl group join fam mp3-player
check "the join rotated the key: epoch 2" test "$(epoch_at server.ctl fam)" = 2

# The server's membership resource, observed by the operator.
timeout 30 coap-client-openssl -B 25 -s 25 -u admin -k "$(raw_key admin.key)" -A 50 -m get \
  "$SRV/cpns/v1/groups/fam" > "$T/members.out" 2>&1 &
CLEANUPS+=("kill $!")
check "an observer of the group sees its members" wait_for 10 grep -q '"mp3-player"' "$T/members.out"

# Push at the gateway: the mp3 player observes the key there, as itself.
timeout 30 coap-client-openssl -B 25 -s 25 -u mp3-player -k "$(raw_key mp3-player.key)" -A 50 \
  -m get "$GWURI/cpns/v1/groups/fam/key" > "$T/key.out" 2>&1 &
CLEANUPS+=("kill $!")
check "the gateway serves the key of epoch 2 to its member PNE" wait_for 10 grep -q '"epoch":2' "$T/key.out"
check "the phone invites the set-top box" ctl phone.ctl group invite fam set-top-box
check "the set-top box joins" ctl set-top-box.ctl group join fam set-top-box
check "the member observing at the gateway is pushed the key of epoch 3" \
  wait_for 10 grep -q '"epoch":3' "$T/key.out"
check "the membership observer is told of the new member" \
  wait_for 10 grep -q '"set-top-box"' "$T/members.out"
out=$(ctlj set-top-box.ctl group key fam)
secrets_in <(echo "$out") "group key"
check "a member pulls the key through its PNE and gateway" has "$out" '"epoch": ?3'

out=$(ctl mp3-player.ctl group expel fam set-top-box 2>&1 || true)
check "a member that is not the owner may not expel (4.03)" has "$out" '4\.03'
check "the owner expels the mp3 player" ctl phone.ctl group expel fam mp3-player
check "the expelled observer's next notification is the refusal, with no key" \
  wait_for 10 grep -q '"error":403' "$T/key.out"
out=$(ctl mp3-player.ctl group key fam 2>&1 || true)
check "the expelled PNE is refused the key at the gateway (4.03)" has "$out" '4\.03'
check "the set-top box has the key of epoch 4" \
  bash -c "'$CTL' -t 5000 -j -P '$NET/set-top-box.ctl' group key fam | grep -Eq '\"epoch\": ?4'"

# A PNE may not speak for another: the gateway sends only the caller's own
# identity, and the server refuses a gateway speaking for a stranger.
out=$(coap-client-openssl -B 5 -u gw-home -k "$(raw_key gw.key)" -A 50 -m get \
  -O 65003,stranger "$SRV/cpns/v1/groups/fam" 2>&1 || true)
check "the server refuses On-Behalf-Of an identity not in the gateway's PN (4.03)" has "$out" '4\.03|may not act'

# The server goes away: the replica still serves the key; a new group is
# local to the gateway.
stop server
check "with the server down, a member still pulls the key of its group" \
  bash -c "'$CTL' -t 5000 -j -P '$NET/phone.ctl' group key fam | grep -Eq '\"epoch\": ?4'"
out=$(ctl phone.ctl group invite fam mp3-player 2>&1 || true)
check "with the server down, changes to its group are refused (5.03)" has "$out" '5\.0[34]'
check "with the server down, the phone creates a local group" ctl phone.ctl group create trip
check "the gateway logged it as local" grep -q "created here, as a local group" "$NET/gw.log"
check "the phone invites the mp3 player to the local group" ctl phone.ctl group invite trip mp3-player
check "the mp3 player joins the local group" ctl mp3-player.ctl group join trip mp3-player
check "the local group's key is at epoch 2" test "$(epoch_at phone.ctl trip)" = 2
out=$(ctl set-top-box.ctl group key trip 2>&1 || true)
check "a PNE outside the local group is refused its key (4.03)" has "$out" '4\.03'

# The server returns: the local group is handed over, epochs keep growing.
start_server
check "the gateway hands the local group over to the server" \
  wait_for 30 grep -q "local group trip handed over" "$NET/gw.log"
out=$(ctl server.ctl group show trip)
check "the server has it with its owner and members" \
  bash -c "grep -q 'owner phone' <<<'$out' && grep -Eq '^mp3-player +member' <<<'$out'"
check "its key epoch went on from the local one: 3" test "$(epoch_at server.ctl trip)" = 3
check "the gateway's copy is the server's now" \
  wait_for 10 bash -c "'$CTL' -t 5000 -j -P '$NET/mp3-player.ctl' group key trip | grep -Eq '\"epoch\": ?3'"
check "the daemons keep serving" ctl server.ctl pn show home
ctlj mp3-player.ctl group key trip > "$T/trip-key.json" || true
secrets_in "$T/trip-key.json" "group key"
secrets_in "$T/key.out" "group key"
check "no group key appears in any log" no_secret_in_logs
finish
