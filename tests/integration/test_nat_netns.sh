#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CPNS-7 behind NAT: requests from the server to the gateway travel on the
# DTLS session the gateway opened, so the server reaches a gateway it has no
# route to. Three network namespaces:
#   wan     10.78.1.1    cpns-server on 10.78.1.1:5684; no route to 10.78.2.0/24
#   router  10.78.1.254 (wan side), 10.78.2.1 (lan side): forwarding and
#           iptables MASQUERADE out of its wan side
#   lan     10.78.2.2    cpns-gw (default route via 10.78.2.1) and a cpns-pne
#           talking to it on 127.0.0.1
# Needs root and iptables; skips without them.
source "$(dirname "$0")/lib.sh"

# ---- namespace helpers (private to this test) ------------------------------
# Per-run names: namespaces carry the pid, interfaces a 5-digit suffix so
# that names stay within IFNAMSIZ (15 characters).
SFX=$(($$ % 100000))
NSP=cpns-nat$$
WAN=$NSP-wan RT=$NSP-router LAN=$NSP-lan
WAN_IF=nw$SFX RT_WAN_IF=rw$SFX RT_LAN_IF=rl$SFX LAN_IF=nl$SFX
declare -a MY_NS=()

netns_cleanup() {
  # Daemons first (they live in the namespaces), then the namespaces: deleting
  # a namespace deletes its veths, and its iptables rules go with it.
  for f in "$NET"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
  for ns in "${MY_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  return 0
}
CLEANUPS+=("netns_cleanup")

skip() { echo "SKIP: $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root and network namespaces"
command -v ip >/dev/null || skip "needs root and network namespaces (no ip command)"
command -v iptables >/dev/null || skip "needs iptables for the NAT (Debian: apt-get install iptables)"
mkns() { ip netns add "$1" 2>/dev/null || return 1; MY_NS+=("$1"); ip -n "$1" link set lo up; }
mkns "$WAN" || skip "needs root and network namespaces"
for ns in "$RT" "$LAN"; do mkns "$ns" || { echo "cannot create namespace $ns"; exit 1; }; done

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# nctl NS PROFILE ARGS...: cpnsctl inside a namespace
nctl() { ip netns exec "$1" "$CTL" -t 5000 -P "$NET/$2" "${@:3}"; }
nctlj() { ip netns exec "$1" "$CTL" -t 5000 -j -P "$NET/$2" "${@:3}"; }
# nstart NS NAME BINARY [ARGS]: a daemon in NS, foreground, logging to $NET/NAME.log
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
is_nstate() { [ "$(nstate "$1" "$2" "$3" "$4")" = "$5" ]; }
# unreachable NS ADDR: NS has no route to ADDR, and sending to it says so
unreachable() {
  local out
  ! ip -n "$1" route get "$2" >/dev/null 2>&1 || return 1
  if command -v ping >/dev/null; then ! ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1 || return 1; fi
  out=$(ip netns exec "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1 || true)
  [[ $out == *"Network is unreachable"* ]]
}
# reachable NS ADDR: NS reaches ADDR (ping when installed, else a TCP connect
# to a closed port: "refused" means the host answered)
reachable() {
  if command -v ping >/dev/null; then ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1; return; fi
  local out
  out=$(ip netns exec "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1 || true)
  [[ $out == *"Connection refused"* ]]
}

# ---- the network: wan <-> router <-> lan ------------------------------------
ip -n "$WAN" link add "$WAN_IF" type veth peer name "$RT_WAN_IF" netns "$RT"
ip -n "$LAN" link add "$LAN_IF" type veth peer name "$RT_LAN_IF" netns "$RT"
ip -n "$WAN" addr add 10.78.1.1/24 dev "$WAN_IF"
ip -n "$RT" addr add 10.78.1.254/24 dev "$RT_WAN_IF"
ip -n "$RT" addr add 10.78.2.1/24 dev "$RT_LAN_IF"
ip -n "$LAN" addr add 10.78.2.2/24 dev "$LAN_IF"
ip -n "$WAN" link set "$WAN_IF" up
ip -n "$RT" link set "$RT_WAN_IF" up
ip -n "$RT" link set "$RT_LAN_IF" up
ip -n "$LAN" link set "$LAN_IF" up
ip -n "$LAN" route add default via 10.78.2.1
nsx "$RT" sysctl -qw net.ipv4.ip_forward=1
if ! nsx "$RT" iptables -t nat -A POSTROUTING -o "$RT_WAN_IF" -j MASQUERADE; then
  echo "FAIL - iptables cannot add the MASQUERADE rule in the router namespace"
  exit 1
fi
# Short UDP conntrack timeouts in the router (per namespace), so that the NAT
# mapping would be gone after 20 idle seconds without the gateway's keepalive.
nsx "$RT" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=10 2>/dev/null &&
  nsx "$RT" sysctl -qw net.netfilter.nf_conntrack_udp_timeout_stream=10 2>/dev/null &&
  echo "  (router: UDP NAT mappings expire after 10 idle seconds)" ||
  echo "  (router: cannot shorten the UDP conntrack timeouts; the kernel defaults apply)"

check "the lan reaches the server through the NAT" wait_for 10 reachable "$LAN" 10.78.1.1
check "the server (wan) has no route to the lan: 10.78.2.2 is unreachable" unreachable "$WAN" 10.78.2.2

# ---- configuration: mknet, then the addresses of this network ---------------
mknet --pnes 1 --base 25680
sed -i 's/^listen = .*/listen = 10.78.1.1:5684/' "$NET/server.conf"
sed -i 's#^uri = .*#uri = coaps://10.78.1.1:5684#' "$NET/server.ctl"
# The gateway sends from its lan address (a fixed port, as in a firewall
# rule); the NAT rewrites it. Keepalive every 5 s keeps the mapping.
sed -i -e 's#^uri = .*#uri = coaps://10.78.1.1:5684#' -e 's/^source = .*/source = 10.78.2.2:25683/' "$NET/gw.conf"
printf '[limits]\nkeepalive = 5\n' >>"$NET/gw.conf"

# ---- run --------------------------------------------------------------------
nstart "$WAN" server "$SERVER"
nstart "$LAN" gw "$GW"
nstart "$LAN" phone "$PNE"
check "the phone registers at the gateway (lan)" wait_for 20 is_nstate "$LAN" gw.ctl home phone online
check "the server inventory (wan) shows the phone online" wait_for 15 is_nstate "$WAN" server.ctl home phone online

gw_addr() { nctlj "$WAN" server.ctl pn show home | sed -n 's/.*"gw_addr": *"\([^"]*\)".*/\1/p'; }
addr=$(gw_addr || true)
echo "  (the server sees the gateway at $addr)"
check "the server sees the gateway at the NAT's address 10.78.1.254, not 10.78.2.2" \
  eval "[[ \$addr =~ ^10\.78\.1\.254:[0-9]+\$ ]]"

# CPNS-7: GET /cpns/v1/entity from the server, on the gateway's session.
gwdoc() { nctl "$WAN" server.ctl pn gw home 2>&1; }
out=$(gwdoc || true)
while IFS= read -r line; do echo "  | $line"; done <<<"$out"
check "the server reaches the gateway behind the NAT: pn gw answers with its entity document" \
  eval "has \"\$out\" '^id +gw-home\$' && has \"\$out\" 'roles +\\[\"gw\"\\]'"
check "the gateway reports its server link as connected" has "$out" 'server.*connected'

# Idle time: the mapping must survive (the gateway's keepalive every 5 s).
t0=$SECONDS
sleep 20
out=$(gwdoc || true)
check "after $((SECONDS - t0)) idle seconds the server still reaches the gateway (NAT mapping kept)" \
  has "$out" '^id +gw-home$'
check "from the same NAT address and port" eval "[ \"\$(gw_addr)\" = \"\$addr\" ]"

# An operator's expulsion at the server reaches the gateway over CPNS-7.
expel_at_server() { nctl "$WAN" server.ctl pn expel home "$1" >/dev/null; }
check "the operator expels the phone at the server" expel_at_server phone
check "the expulsion reached the gateway: the phone is gone from its inventory" \
  wait_for 15 is_nstate "$LAN" gw.ctl home phone absent
check "by the server's request over CPNS-7 (not at a later refresh)" \
  grep -q "phone was expelled from PN home by server" "$NET/gw.log"
check "and from the server's" wait_for 10 is_nstate "$WAN" server.ctl home phone absent
# The gateway's own listing: it answers, and without the phone.
gw_lists_no_phone() {
  local out
  out=$(nctl "$LAN" gw.ctl pn show home 2>&1) || return 1
  has "$out" '^PN home ' && ! has "$out" '^phone '
}
check "the gateway's own listing no longer has the phone" wait_for 10 gw_lists_no_phone
check "the phone is refused at its next attempt (expelled)" \
  wait_for 40 bash -c "ip netns exec $LAN '$CTL' -t 5000 -P $NET/phone.ctl info | grep -q 'state .*expelled'"

for d in phone gw server; do
  p=$(pid_of $d)
  kill "$p"
  check "$d stops cleanly on SIGTERM" wait_for 10 bash -c "! kill -0 $p && [ ! -f $NET/$d.pid ]"
done
finish
