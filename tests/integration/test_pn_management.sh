#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Discovery (unicast), PN registration and every PN management operation of
# spec 5.5.10, through cpnsctl as a user would run it, including the refusals.
source "$(dirname "$0")/lib.sh"
mknet --pnes 3 --base 21680 --lifetime 6
start_all

check "gateway inventory lists three online PNEs" bash -c "[ \$('$CTL' -P $NET/gw.ctl pn show home | grep -c ' pne  *online ') -eq 3 ]"
check "server inventory has them too" wait_for 10 is_state server.ctl home phone online
check "server lists the PN as online" bash -c "'$CTL' -P $NET/server.ctl pn list | grep -q 'home .* online'"
check "the phone discovered the gateway and its role" bash -c "'$CTL' -P $NET/phone.ctl neighbors | grep -q '^gw-home .* gw '"
check "the PN GW is in its PN's inventory with its role" bash -c "'$CTL' -P $NET/gw.ctl pn show home | grep -q '^gw-home .* gw  *online'"
check "and so at the server" wait_for 10 is_state server.ctl home gw-home online
out=$("$CTL" -P "$NET/phone.ctl" pn expel home gw-home 2>&1 || true)
check "the PN GW cannot be expelled from its own PN (4.03)" has "$out" '4\.03'
check "a PNE reads its local PN through its gateway" bash -c "'$CTL' -P $NET/phone.ctl pn show home | grep -q set-top-box"
check "the server reaches the gateway over CPNS-7" bash -c "'$CTL' -P $NET/server.ctl pn gw home | grep -q 'you .*server'"

# A member expels another; the expelled one can neither register nor read.
check "phone expels the mp3 player" ctl phone.ctl pn expel home mp3-player
check "expelled PNE is gone from the gateway" is_state gw.ctl home mp3-player absent
check "and from the server" wait_for 10 is_state server.ctl home mp3-player absent
check "expelled PNE is refused at its next refresh" wait_for 15 bash -c "'$CTL' -P $NET/mp3-player.ctl info | grep -q 'state .*expelled'"
check "expelled PNE may not read the inventory" bash -c "! '$CTL' -P $NET/mp3-player.ctl pn show home"
out=$("$CTL" -P "$NET/mp3-player.ctl" pn show home 2>&1 || true)
check "and is told why (4.03 or not registered)" has "$out" '4.03|5.03' 

# Added back, it rejoins by itself at its next attempt.
check "phone adds the mp3 player back" ctl phone.ctl pn add home mp3-player "MP3 player"
check "the mp3 player rejoins" wait_for 40 is_state gw.ctl home mp3-player online

# Leave and join.
check "set-top box leaves" ctl set-top-box.ctl pn leave
check "it is removed from the gateway" is_state gw.ctl home set-top-box absent
check "and from the server" wait_for 10 is_state server.ctl home set-top-box absent
sleep 4
check "a PNE that left stays out (no refresh)" is_state gw.ctl home set-top-box absent
check "it joins again on request" ctl set-top-box.ctl pn join home
check "and is back online" wait_for 10 is_state gw.ctl home set-top-box online

# An application key may not act for another device's PNE; bad ids are refused.
check "a bad id is refused by cpnsctl" bash -c "! '$CTL' -P $NET/phone.ctl pn expel home 'bad/id' 2>/dev/null"
out=$("$CTL" -P "$NET/phone.ctl" put pns/home/entities/phone '{"name":"x"}' 2>&1 || true)
check "an app cannot register entities through the PNE (4.05: not relayed)" has "$out" '4.05' 

# Another PN on the same server: reads of a remote PN need the owner's consent.
umask 077
k=$(openssl rand -hex 32)
echo "$k" > "$NET/gw2.key"
echo "gw-office gw office $k" >> "$NET/server.keys"
kill -HUP "$(pid_of server)"
sed -e "s/^id = gw-home/id = gw-office/" -e "s/^pn = home/pn = office/" -e "s/21681/21731/" -e "s/21682/21732/" \
    -e "s/21683/21733/" -e "s#/gw.key\$#/gw2.key#" -e "s#gw.db#gw2.db#" -e "s#gw.pid#gw2.pid#" "$NET/gw.conf" > "$NET/gw2.conf"
(cd "$NET" && "$GW" -f -c gw2.conf >>gw2.log 2>&1 &)
check "a second PN registers after the server reloaded its keyring (SIGHUP)" \
  wait_for 15 bash -c "'$CTL' -P $NET/server.ctl pn list | grep -q '^office .* online'"
out=$("$CTL" -P "$NET/phone.ctl" pn show office 2>&1 || true)
check "a PNE may not read a remote PN by default (4.03)" has "$out" '4.03' 
check "the owner of office lets home read it" ctl server.ctl pn readers office home
check "now the phone reads the remote PN through gateway and server" bash -c "'$CTL' -P $NET/phone.ctl pn show office | grep -q '^PN office'"

# Removing a PN.
check "the operator removes PN office" ctl server.ctl pn remove office
check "office is gone from the server until its gateway registers it again" \
  bash -c "! '$CTL' -P $NET/server.ctl pn show office 2>/dev/null || true"
check "a PNE removes its own PN: everything goes" ctl phone.ctl pn remove home
check "the PNEs register again into the fresh PN" wait_for 20 is_state gw.ctl home phone online

# Lifetimes: a PNE that stops refreshing goes offline.
check "the mp3 player is registered again too" wait_for 20 is_state gw.ctl home mp3-player online
kill -STOP "$(pid_of mp3-player)"
check "a frozen PNE goes offline within its lifetime" wait_for 15 is_state gw.ctl home mp3-player offline
kill -CONT "$(pid_of mp3-player)"
check "and comes back when it refreshes again" wait_for 20 is_state gw.ctl home mp3-player online
kill "$(cat "$NET/gw2.pid")" 2>/dev/null || true
finish
