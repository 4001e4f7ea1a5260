#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Writes keys and configuration files for a local personal network into DIR:
# one cpns-server, one cpns-gw and N cpns-pne, all on 127.0.0.1 from port BASE
# upwards, each with its own SQLite state. Used by the demo and the tests.
#   scripts/mknet.sh DIR [--pnes N] [--base PORT] [--pn ID] [--lifetime S] [--closed]
set -euo pipefail
dir=$1; shift
pnes=3 base=15680 pn=home lifetime=60 open=yes pne_lt=60
while [ $# -gt 0 ]; do
  case $1 in
    --pnes) pnes=$2; shift 2;; --base) base=$2; shift 2;; --pn) pn=$2; shift 2;;
    --lifetime) lifetime=$2; pne_lt=$2; shift 2;; --closed) open=no; shift;;
    *) echo "mknet: unknown option $1" >&2; exit 2;;
  esac
done
mkdir -p "$dir"; chmod 700 "$dir"
umask 077
# 256-bit keys. libcoap's coap-client takes a PSK as raw bytes on its command
# line, so demo keys avoid 00 bytes and a trailing 0a: then anyone can follow
# docs/protocol.md with coap-client (they lose about 0.03 bits).
key() {
  local k
  while :; do
    k=$(openssl rand -hex 32)
    echo "$k" | grep -Eq '^([0-9a-f]{2})*00' && continue
    case $k in *0a) continue;; esac
    echo "$k"; return
  done
}
names=(phone mp3-player set-top-box watch tablet camera speaker sensor)
types=(phone mp3-player set-top-box watch tablet camera speaker sensor)
admin=$(key); gwkey=$(key)
echo "$admin" > "$dir/admin.key"; echo "$gwkey" > "$dir/gw.key"
{ echo "# identity role pn key"; echo "admin operator - $admin"; echo "gw-$pn gw $pn $gwkey"; } > "$dir/server.keys"
{ echo "# identity role pn key"; echo "admin operator - $admin"; } > "$dir/gw.keys"
server_port=$base gw_port=$((base+1)) gw_disc=$((base+2))
cat > "$dir/server.conf" <<CONF
[server]
id = cpns-server
listen = 127.0.0.1:$server_port
keyring = $dir/server.keys
database = $dir/server.db
pid_file = $dir/server.pid
CONF
cat > "$dir/gw.conf" <<CONF
[gw]
id = gw-$pn
pn = $pn
pn_name = Demo personal network
owner = alice
open = $open
listen = 127.0.0.1:$gw_port
keyring = $dir/gw.keys
database = $dir/gw.db
pid_file = $dir/gw.pid
lifetime = $lifetime
[server]
uri = coaps://127.0.0.1:$server_port
key_file = $dir/gw.key
source = 127.0.0.1:$((base+3))
retry = 1
[discovery]
listen = 127.0.0.1:$gw_disc
multicast = no
period = 5
CONF
for i in $(seq 0 $((pnes-1))); do
  id=${names[$((i % ${#names[@]}))]}; [ $i -ge ${#names[@]} ] && id="$id-$i"
  k=$(key); app=$(key)
  echo "$k" > "$dir/$id.key"; echo "$app" > "$dir/$id-app.key"
  echo "$id pne $pn $k" >> "$dir/gw.keys"
  { echo "app app - $app"; echo "admin operator - $admin"; } > "$dir/$id-apps.keys"
  local_port=$((base+10+2*i)) disc_port=$((base+11+2*i))
  cat > "$dir/$id.conf" <<CONF
[pne]
id = $id
name = My $id
type = ${types[$((i % ${#types[@]}))]}
key_file = $dir/$id.key
source = 127.0.0.1:$((base+12+2*i+100))
lifetime = $pne_lt
retry = 1
state_file = $dir/$id.state
pid_file = $dir/$id.pid
[local]
listen = 127.0.0.1:$local_port
keyring = $dir/$id-apps.keys
[discovery]
listen = 127.0.0.1:$disc_port
multicast = no
unicast = 127.0.0.1:$gw_disc
period = 2
[limits]
ack_timeout_ms = 500
[usage]
database = $dir/$id-usage.db
CONF
  cat > "$dir/$id.ctl" <<CONF
[cpnsctl]
uri = coaps://127.0.0.1:$local_port
identity = app
key_file = $dir/$id-app.key
CONF
  echo "$id" >> "$dir/pnes"
done
cat > "$dir/server.ctl" <<CONF
[cpnsctl]
uri = coaps://127.0.0.1:$server_port
identity = admin
key_file = $dir/admin.key
CONF
cat > "$dir/gw.ctl" <<CONF
[cpnsctl]
uri = coaps://127.0.0.1:$gw_port
identity = admin
key_file = $dir/admin.key
CONF
