#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds cpns and starts a complete local personal network on 127.0.0.1: one
# cpns-server, one cpns-gw and three cpns-pne (a phone, an MP3 player and a
# set-top box), each with its SQLite state in ./run/. Then it shows the
# network working through cpnsctl: discovery, registration and the PN
# Inventory, a Service Group and its key, a service published and found,
# status, capabilities and usage statistics. The daemons keep running; stop
# them with: scripts/run-local-pn.sh stop
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
run=$top/run
stop() {
  for f in "$run"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  for f in "$run"/*.pid; do
    for _ in $(seq 1 50); do [ -f "$f" ] || break; sleep 0.1; done
  done
}
if [ "${1:-}" = stop ]; then stop; echo "stopped"; exit 0; fi

"$top/scripts/deps.sh"
cmake -S "$top" -B "$top/build-run" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCPNS_TESTS=OFF >/dev/null
cmake --build "$top/build-run" -j"$(nproc)" >/dev/null
bin=$top/build-run
stop
rm -rf "$run"
"$top/scripts/mknet.sh" "$run" --pnes 3 --base 15680
cd "$run"
"$bin/server/cpns-server" -c server.conf 2>>server.log
"$bin/gw/cpns-gw" -c gw.conf 2>>gw.log
for p in $(cat pnes); do "$bin/pne/cpns-pne" -c "$p.conf" 2>>"$p.log"; done
ctl() { echo "\$ cpnsctl -P run/$1$(printf " %q" "${@:2}")"; "$bin/tools/cpnsctl" -P "$@"; echo; }
echo "Started cpns-server, cpns-gw and three cpns-pne; waiting for them to register..."
for _ in $(seq 1 30); do
  n=$("$bin/tools/cpnsctl" -P gw.ctl --json pn show home 2>/dev/null | grep -c '"online"' || true)
  [ "$n" -ge 4 ] && break
  sleep 0.5
done
echo
echo "== Discovery: what the phone found around it (CPNS-8, with roles) =="
ctl phone.ctl neighbors
echo "== The phone's registration =="
ctl phone.ctl info
echo "== PN Inventory kept by the gateway (asked by the phone's app over CPNS-5) =="
ctl phone.ctl pn show home
echo "== PN Inventory kept by the CPNS Server (asked by the operator over CPNS-2) =="
ctl server.ctl pn list
ctl server.ctl pn show home
echo "== The server reaches the gateway on the session the gateway opened (CPNS-7) =="
ctl server.ctl pn gw home
echo "== A Service Group of the PN's devices, with its Group Key (through the gateway) =="
ctl phone.ctl group create family
ctl phone.ctl group invite family mp3-player
ctl mp3-player.ctl group join family mp3-player
ctl server.ctl group show family
echo "Only members hold the key (epoch 2 now); the phone seals a note, the mp3 player opens it:"
echo "dinner at eight" > note.txt
"$bin/tools/cpnsctl" -P phone.ctl group seal family note.txt > note.sealed
ctl mp3-player.ctl group open family note.sealed
echo "== Services (spec 5.5.5): the set-top box publishes through its gateway, the phone finds it =="
cat > tv.json <<'JSON'
{"name": "Living-room TV", "description": "Plays the PN's videos on the big screen",
 "keywords": ["tv", "video"], "visibility": "pn", "uris": ["coap://127.0.0.1:15700/tv"], "lt": 3600}
JSON
ctl set-top-box.ctl service publish tv.json
ctl phone.ctl service find --kw vid --match prefix
echo "== Status (spec 5.5.3): the phone is busy, its battery low; the operator reads it at the server =="
ctl phone.ctl status set busy --text "in a meeting" --attr battery=17
for _ in $(seq 1 20); do # the gateway sends its PN's changes in batches
  "$bin/tools/cpnsctl" -P server.ctl status show home phone 2>/dev/null | grep -q 'battery=17' && break
  sleep 0.25
done
ctl server.ctl status show home
echo "== Capabilities (spec 5.5.1), read from this host by each PNE, kept by the server =="
ctl server.ctl caps show home phone
echo "== Usage statistics (spec 5.5.4): the user keeps iptv private; only the game session is reported =="
printf '[cpnsctl]\nuri = %s\nidentity = admin\nkey_file = %s\n' \
  "$(sed -n 's/^uri = //p' phone.ctl)" "$run/admin.key" > phone-user.ctl
ctl phone-user.ctl usage pref set iptv deny
ctl phone.ctl usage record iptv --seconds 3600 --in 900000000
ctl phone.ctl usage record game --seconds 600 --in 1200000
for _ in $(seq 1 40); do # the PNE and the gateway batch the records
  "$bin/tools/cpnsctl" -P server.ctl usage summary --by service 2>/dev/null | grep -q game && break
  sleep 0.25
done
ctl server.ctl usage summary --by service
cat <<MSG
The network keeps running. Try, from $top:
  build-run/tools/cpnsctl -P run/mp3-player.ctl pn leave
  build-run/tools/cpnsctl -P run/phone.ctl pn expel home set-top-box
  build-run/tools/cpnsctl -P run/server.ctl pn show home
  build-run/tools/cpnsctl -P run/phone.ctl group expel family mp3-player
  build-run/tools/cpnsctl -P run/server.ctl status watch home phone battery --lt 20
  build-run/tools/cpnsctl -P run/phone.ctl status set --attr battery=12
Logs are in run/*.log. Stop everything with: scripts/run-local-pn.sh stop
MSG
