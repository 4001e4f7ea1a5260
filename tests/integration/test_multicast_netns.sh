#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Multicast CoAP discovery (CPNS-8, /.well-known/core with rt= per role)
# between three hosts made with network namespaces on one bridge:
#   h1 10.77.0.1: cpns-server (on 127.0.0.1 inside h1) and cpns-gw
#   h2 10.77.0.2: cpns-pne "phone"       no gateway, no unicast: multicast only
#   h3 10.77.0.3: cpns-pne "mp3-player"  likewise
# Each PNE finds the gateway by its multicast search, the PNEs find each
# other, the gateway finds both, and both register. Needs root; skips without.
source "$(dirname "$0")/lib.sh"

# ---- namespace helpers (private to this test) ------------------------------
# Everything gets a per-run name: namespaces carry the pid, interfaces a
# 5-digit suffix so that names stay within IFNAMSIZ (15 characters).
SFX=$(($$ % 100000))
NSP=cpns-mc$$
BR=$NSP-br H1=$NSP-h1 H2=$NSP-h2 H3=$NSP-h3
declare -a MY_NS=()

netns_cleanup() {
  # Daemons first (they live in the namespaces), then the namespaces: deleting
  # a namespace deletes the veths and the bridge inside it.
  for f in "$NET"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
  for ns in "${MY_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  return 0
}
CLEANUPS+=("netns_cleanup")

skip() { echo "SKIP: $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root and network namespaces"
command -v ip >/dev/null || skip "needs root and network namespaces (no ip command)"
mkns() { ip netns add "$1" 2>/dev/null || return 1; MY_NS+=("$1"); ip -n "$1" link set lo up; }
mkns "$BR" || skip "needs root and network namespaces"
for ns in "$H1" "$H2" "$H3"; do mkns "$ns" || { echo "cannot create namespace $ns"; exit 1; }; done

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# nctl NS PROFILE ARGS...: cpnsctl inside a namespace
nctl() { ip netns exec "$1" "$CTL" -t 5000 -P "$NET/$2" "${@:3}"; }
# nstart NS NAME BINARY: a daemon in NS, foreground, logging to $NET/NAME.log
nstart() {
  (cd "$NET" && ip netns exec "$1" "$3" -f -c "$2.conf" "${@:4}" >>"$2.log" 2>&1 &)
  wait_for 10 test -s "$NET/$2.pid"
}
# nstate NS PROFILE PN ID: the entity's state in the inventory PROFILE shows
nstate() {
  local out
  out=$(nctl "$1" "$2" get "pns/$3/entities/$4" 2>&1) || { echo absent; return; }
  sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p' <<<"$out"
}
# reachable NS ADDR: NS reaches ADDR (ping when installed, else a TCP connect
# to a closed port: "refused" means the host answered)
reachable() {
  if command -v ping >/dev/null; then ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1; return; fi
  local out
  out=$(ip netns exec "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1 || true)
  [[ $out == *"Connection refused"* ]]
}
is_nstate() { [ "$(nstate "$1" "$2" "$3" "$4")" = "$5" ]; }
# neighbor NS PROFILE ID ROLE [ADDR-REGEX]: PROFILE's entity lists neighbor ID
# with ROLE among its roles (and, if given, an address matching the regex)
neighbor() {
  nctl "$1" "$2" neighbors 2>/dev/null | awk -v id="$3" -v role="$4" -v addr="${5:-}" '
    $1 == id { n = split($3, r, "+"); for (i = 1; i <= n; i++) if (r[i] == role && (addr == "" || $4 ~ addr)) ok = 1 }
    END { exit !ok }'
}

# ---- the link: a bridge in its own namespace, a veth to each host ---------
ip -n "$BR" link add "mcbr$SFX" type bridge
# No IGMP snooping: there is no querier on this link, and the test is about
# the daemons, not about the bridge learning group members in time.
ip -n "$BR" link set "mcbr$SFX" type bridge mcast_snooping 0
ip -n "$BR" link set "mcbr$SFX" up
i=0
for ns in "$H1" "$H2" "$H3"; do
  i=$((i + 1))
  ip -n "$BR" link add "b${i}v$SFX" type veth peer name "h${i}v$SFX" netns "$ns"
  ip -n "$BR" link set "b${i}v$SFX" master "mcbr$SFX" up
  ip -n "$ns" addr add "10.77.0.$i/24" dev "h${i}v$SFX"
  ip -n "$ns" link set "h${i}v$SFX" up
  ip -n "$ns" route add 224.0.0.0/4 dev "h${i}v$SFX"
done
check "the three hosts reach each other over the bridge" \
  wait_for 10 eval "reachable $H2 10.77.0.1 && reachable $H3 10.77.0.2 && reachable $H1 10.77.0.3"

# ---- configuration: mknet, then multicast-only discovery -------------------
mknet --pnes 2 --base 24680 --lifetime 10
# The gateway: CPNS-1 on its link address, discovery on the wildcard address
# with multicast on its veth, searching every 2 s.
sed -i -e 's/^listen = 127.0.0.1:24681$/listen = 10.77.0.1:5684/' \
  -e '/^\[discovery\]/,$ { s/^listen = .*/listen = 0.0.0.0:5683/; s/^multicast = .*/multicast = yes/; s/^period = .*/period = 2/ }' \
  -e "/^multicast = yes/a interface = h1v$SFX" "$NET/gw.conf"
sed -i 's#^uri = .*#uri = coaps://10.77.0.1:5684#' "$NET/gw.ctl"
i=1
for p in phone mp3-player; do
  i=$((i + 1))
  # No gateway (mknet writes none), no unicast search, and no source address:
  # 127.0.0.1 cannot reach the gateway's link address.
  sed -i -e '/^unicast = /d' -e '/^source = /d' \
    -e '/^\[discovery\]/,$ { s/^listen = .*/listen = 0.0.0.0:5683/; s/^multicast = .*/multicast = yes/; s/^period = .*/period = 2/ }' \
    -e "/^multicast = yes/a interface = h${i}v$SFX" "$NET/$p.conf"
done
check "the PNE configurations have no gateway and no unicast search" \
  bash -c "! grep -Eq '^(gateway|unicast) *=' $NET/phone.conf $NET/mp3-player.conf"
check "the gateway configuration searches by multicast on its veth" \
  grep -q "^interface = h1v$SFX" "$NET/gw.conf"

# ---- run --------------------------------------------------------------------
# Searches go every 2 s, and an answer counts only in the round it answers
# (each round has a new token). Multicast answers come after a random delay
# of up to 5 s (libcoap's RFC 7252 §8.2 leisure), so a round finds a given
# neighbor with probability ~0.4: the waits below allow ~20 rounds.
t0=$SECONDS
nstart "$H1" server "$SERVER"
nstart "$H1" gw "$GW"
nstart "$H2" phone "$PNE"
nstart "$H3" mp3-player "$PNE"

check "the phone (h2) discovers the gateway with role gw, at 10.77.0.1:5684" \
  wait_for 40 neighbor "$H2" phone.ctl gw-home gw '^10\.77\.0\.1:5684$'
check "the mp3 player (h3) discovers the gateway with role gw, at 10.77.0.1:5684" \
  wait_for 40 neighbor "$H3" mp3-player.ctl gw-home gw '^10\.77\.0\.1:5684$'
check "the phone is registered at the gateway (online)" wait_for 40 is_nstate "$H1" gw.ctl home phone online
check "the mp3 player is registered at the gateway (online)" wait_for 40 is_nstate "$H1" gw.ctl home mp3-player online
echo "  (both registered $((SECONDS - t0)) s after start)"
check "the phone discovers the mp3 player with role pne" wait_for 40 neighbor "$H2" phone.ctl mp3-player pne '^10\.77\.0\.3:'
check "the mp3 player discovers the phone with role pne" wait_for 40 neighbor "$H3" mp3-player.ctl phone pne '^10\.77\.0\.2:'
check "the gateway's search finds the phone with role pne" wait_for 40 neighbor "$H1" gw.ctl phone pne '^10\.77\.0\.2:'
check "the gateway's search finds the mp3 player with role pne" wait_for 40 neighbor "$H1" gw.ctl mp3-player pne '^10\.77\.0\.3:'
out=$(nctl "$H2" phone.ctl neighbors 2>&1 || echo "cpnsctl failed")
check "a PNE's neighbor list does not show itself" eval "! has \"\$out\" '^phone |cpnsctl failed'"
check "the server inventory (h1) shows the phone online" wait_for 15 is_nstate "$H1" server.ctl home phone online
check "the server inventory (h1) shows the mp3 player online" wait_for 15 is_nstate "$H1" server.ctl home mp3-player online
out=$(nctl "$H1" gw.ctl pn show home 2>&1 || true)
check "the gateway inventory shows the PNEs at their link addresses" \
  eval "has \"\$out\" '^phone .* 10\.77\.0\.2:' && has \"\$out\" '^mp3-player .* 10\.77\.0\.3:'"

# The wire format, seen by a plain CoAP client on h3: one multicast GET, an
# answer per host, each with the rt of its role; a filter selects by role.
# Answers may come up to 5 s late (RFC 7252 §8.2 leisure), so each client
# listens 7 s; the three run at once. A query whose answers are not all in
# is asked again (at most 3 times); answers accumulate, so a wrong answer in
# any round still fails the negative checks.
if command -v coap-client-openssl >/dev/null; then
  mcq() { # mcq NAME QUERY: one multicast GET from h3, answers appended to $T/mc-NAME.out
    nsx "$H3" timeout 15 coap-client-openssl -N -B 7 -m get \
      "coap://224.0.1.187:5683/.well-known/core$2" >>"$T/mc-$1.out" 2>&1 || true
  }
  mc_has() { grep -Eq -- "$2" "$T/mc-$1.out" 2>/dev/null; }
  mc_in() { # mc_in NAME: the answers expected from this query are all in
    case $1 in
      all) mc_has all 'ep="gw-home"' && mc_has all 'ep="phone"' && mc_has all 'ep="mp3-player"' ;;
      gw) mc_has gw 'ep="gw-home"' ;;
      pne) mc_has pne 'ep="phone"' && mc_has pne 'ep="mp3-player"' ;;
    esac
  }
  for attempt in 1 2 3; do
    for q in all:"" gw:"?rt=cpns.gw" pne:"?rt=cpns.pne"; do
      mc_in "${q%%:*}" || mcq "${q%%:*}" "${q#*:}" &
    done
    wait
    if mc_in all && mc_in gw && mc_in pne; then break; fi
    echo "  (multicast query round $attempt: not all answers in yet, asking again)"
  done
  check "multicast GET /.well-known/core: the gateway answers rt=\"cpns.gw\" with its secure port" \
    mc_has all 'rt="cpns\.gw";ep="gw-home";pn="home";sp=5684'
  check "multicast GET /.well-known/core: each PNE answers rt=\"cpns.pne\" with the PN it joined, without sp" \
    eval "mc_has all 'rt=\"cpns\.pne\";ep=\"phone\";pn=\"home\";ct=' && mc_has all 'rt=\"cpns\.pne\";ep=\"mp3-player\";pn=\"home\";ct='"
  check "multicast ?rt=cpns.gw: only the gateway answers with a link" \
    eval "mc_has gw 'ep=\"gw-home\"' && ! mc_has gw 'cpns\.pne'"
  check "multicast ?rt=cpns.pne: only the PNEs answer with a link" \
    eval "mc_in pne && ! mc_has pne 'cpns\.gw'"
  for f in all gw pne; do echo "  ($f: $(cat "$T/mc-$f.out" 2>/dev/null))"; done
else
  echo "  (coap-client-openssl not installed: wire-format checks skipped)"
fi

# Clean stop, so that sanitizer leak reports, if any, reach the logs.
for d in phone mp3-player gw server; do
  p=$(pid_of $d)
  kill "$p"
  check "$d stops cleanly on SIGTERM" wait_for 10 bash -c "! kill -0 $p && [ ! -f $NET/$d.pid ]"
done
finish
