#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Authorization: docs/security.md shows the rules each daemon enforces (as it
# prints them with --authz-table), and every "no" of those tables is tried
# against running daemons by an identity that lacks the relations: each gets
# 4.03 (and an anonymous request 4.01).
source "$(dirname "$0")/lib.sh"
mknet --pnes 2 --base 26680
start_all

# Each daemon's table must appear verbatim in docs/security.md.
for d in "$SERVER" "$GW" "$PNE"; do
  "$d" --authz-table > "$T/table"
  check "docs/security.md shows $(basename "$d")'s rules as enforced" \
    bash -c "while IFS= read -r line; do grep -qF -- \"\$line\" '$TOP/docs/security.md' || { echo \"missing: \$line\"; exit 1; }; done < '$T/table'"
done

# More identities: another PN's gateway at the server, a PNE that is not a
# member at the gateway, and a PNE that is not a local application at the PNE.
umask 077
add_identity server.keys gw-office gw office office.ctl coaps://127.0.0.1:26680
add_identity server.keys gwhome-at-server gw home gwhome.ctl coaps://127.0.0.1:26680
add_identity gw.keys stranger pne home stranger.ctl coaps://127.0.0.1:26681
add_identity gw.keys phone-at-gw pne home phone-gw.ctl coaps://127.0.0.1:26681
add_identity phone-apps.keys intruder pne - intruder.ctl coaps://127.0.0.1:26690
kill -HUP "$(pid_of server)" "$(pid_of gw)" "$(pid_of phone)"
sleep 1
# phone-at-gw registers, so that it is a member (a PNE acting for itself).
check "a second member registers at the gateway" \
  "$CTL" -P "$NET/phone-gw.ctl" put pns/home/entities/phone-at-gw '{"name":"member"}'

# try DAEMON PROFILE RELATIONS...: every rule whose relations include none of
# RELATIONS must answer 4.03 to PROFILE.
try_all() {
  local daemon=$1 profile=$2; shift 2
  local tried=0 refused=0
  while IFS='|' read -r _ method resource who _; do
    method=$(echo "$method" | tr -d ' '); resource=$(echo "$resource" | tr -d ' `')
    case $method in GET|PUT|POST|DELETE) ;; *) continue;; esac
    local allowed=0 r
    for r in "$@"; do case $who in *"$r"*) allowed=1;; esac; done
    [ $allowed = 1 ] && continue
    local path=${resource#/cpns/v1/}
    path=${path/\*/home}; path=${path/\*/mp3-player}
    # The PN of a usage summary is in its query (usage/summary?pn=P).
    case $path in usage/summary) path="$path?pn=home";; esac
    local verb; verb=$(echo "$method" | tr 'A-Z' 'a-z')
    local out
    if [ "$method" = PUT ] || [ "$method" = POST ]; then
      out=$("$CTL" -t 5000 -P "$NET/$profile" "$verb" "$path" '{}' 2>&1 || true)
    else
      out=$("$CTL" -t 5000 -P "$NET/$profile" "$verb" "$path" 2>&1 || true)
    fi
    tried=$((tried + 1))
    if has "$out" '4\.03 .* may not'; then refused=$((refused + 1)); else echo "  not refused: $profile $method $path: $out"; fi
  done < <("$daemon" --authz-table)
  echo "  $profile at $(basename "$daemon"): $refused of $tried refused"
  [ "$tried" -gt 0 ] && [ "$refused" -eq "$tried" ]
}
any="any authenticated entity"
check "server: the operator is refused where only gateways may act" try_all "$SERVER" server.ctl operator "$any"
check "server: a PN's gateway is refused the operator's resources" \
  try_all "$SERVER" gwhome.ctl "own PN GW" "a PN GW" "$any"
check "server: another PN's gateway is refused everything of PN home" try_all "$SERVER" office.ctl "a PN GW" "$any"
check "gateway: a PNE that is not a member is refused management" try_all "$GW" stranger.ctl "$any"
check "gateway: a member may not act as another PNE" try_all "$GW" phone-gw.ctl "member" "$any"
check "gateway: the operator may not register PNEs" try_all "$GW" gw.ctl operator "$any"
check "PNE: a non-application identity may not act for the PNE" try_all "$PNE" intruder.ctl "$any"

# A reader relation is granted by the owner, and only then.
check "another PN's gateway may read home once home lets office read it" \
  bash -c "'$CTL' -P $NET/server.ctl pn readers home office && '$CTL' -P $NET/office.ctl pn show home | grep -q '^PN home'"

# Anonymous: the plain discovery port answers only /.well-known/core.
out=$(timeout 10 coap-client-openssl -B 3 -m get coap://127.0.0.1:26682/cpns/v1/pns/home 2>&1 || true)
check "an anonymous request gets 4.01" has "$out" '4\.01'
finish
