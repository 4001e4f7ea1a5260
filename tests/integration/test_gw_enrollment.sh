#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A new PN Gateway enrolls directly at the server (spec 5.5.7.2): the
# operator makes a one-time code of role gw, `cpns-gw --enroll CODE` redeems
# it and writes [server] key_file (0600, never over an existing file); the
# gateway then starts with that key and registers its PN. A code works
# once; expired and wrong codes and an unreachable server fail with their
# own exit codes; the code is never printed nor logged.
source "$(dirname "$0")/lib.sh"
mknet --pnes 0 --base 35680
start_server
code_of() { sed -n 's/.*"code": "\([a-z2-7]*\)".*/\1/p'; }

newgw() { # newgw ID PN PORT-OFFSET: a gateway config whose key file does not exist yet
  local b=$((35690 + $3))
  cat > "$NET/$1.conf" <<CONF
[gw]
id = $1
pn = $2
listen = 127.0.0.1:$b
keyring = $NET/gw.keys
database = $NET/$1.db
pid_file = $NET/$1.pid
lifetime = 6
[server]
uri = coaps://127.0.0.1:35680
key_file = $NET/$1.key
source = 127.0.0.1:$((b + 1))
retry = 1
[discovery]
enabled = no
CONF
}
enroll() { # enroll ID [ARGS...]: runs cpns-gw --enroll; its output goes to ID-enroll.log
  local id=$1; shift
  rc=0
  "$GW" -f -c "$NET/$id.conf" "$@" >>"$NET/$id-enroll.log" 2>&1 || rc=$?
}

check "--help describes --enroll" bash -c "'$GW' --help | grep -q -- '--enroll CODE'"

# The operator enrolls a new gateway; it redeems the code at the server.
newgw gw-new newpn 0
code=$(ctlj server.ctl enroll gw-new newpn gw | code_of)
secret "$code" "enrollment code"
check "the operator gets a one-time code of role gw" test ${#code} -eq 26
check "the gateway has no key file yet" test ! -e "$NET/gw-new.key"
enroll gw-new --enroll "$code"
check "cpns-gw --enroll exits 0" test "$rc" -eq 0
check "it says what it did" grep -q "gw-new enrolled at coaps://127.0.0.1:35680 as gw of PN newpn; key written to $NET/gw-new.key" "$NET/gw-new-enroll.log"
check "the key file holds one key, mode 0600" \
  bash -c "test \"\$(stat -c %a '$NET/gw-new.key')\" = 600 && grep -Eqx '[0-9a-f]{64}' '$NET/gw-new.key'"
check "no temporary file is left beside it" bash -c "! ls '$NET' | grep -q 'gw-new.key.enroll'"
check "the code appears nowhere in the output" bash -c "! grep -Fq '$code' '$NET/gw-new-enroll.log'"

# With the issued key, the gateway starts and registers its PN at the server.
(cd "$NET" && "$GW" -f -c gw-new.conf >>gw-new.log 2>&1 &)
wait_for 10 test -s "$NET/gw-new.pid"
check "the enrolled gateway registers PN newpn (the operator's pn show: gw-new, online)" \
  wait_for 20 bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' pn show newpn | grep -Eq '^PN newpn .*gateway gw-new +online'"

# A code works once; an existing key file is never replaced.
before=$(cat "$NET/gw-new.key")
enroll gw-new --enroll "$code"
check "an existing key file is kept: exit 73, nothing sent" test "$rc" -eq 73
check "  and the key in it is unchanged" test "$(cat "$NET/gw-new.key")" = "$before"
enroll gw-new -o "server.key_file=$NET/gw-new-again.key" --enroll "$code"
check "the second use of the code is refused: exit 77" test "$rc" -eq 77
check "  and writes no key file" test ! -e "$NET/gw-new-again.key"
check "the gateway is still registered with its key" \
  bash -c "'$CTL' -t 5000 -P '$NET/server.ctl' pn show newpn | grep -Eq '^PN newpn .*gateway gw-new +online'"

# An expired code.
newgw gw-late latepn 10
code=$(ctlj server.ctl enroll gw-late latepn gw 1 | code_of)
secret "$code" "enrollment code"
sleep 2
enroll gw-late --enroll "$code"
check "an expired code is refused: exit 77" test "$rc" -eq 77
check "  and leaves no key file" test ! -e "$NET/gw-late.key"

# The code through standard input (kept out of ps), and in capitals.
newgw gw-pipe pipepn 20
code=$(ctlj server.ctl enroll gw-pipe pipepn gw | code_of)
secret "$code" "enrollment code"
rc=0; echo "${code^^}" | "$GW" -f -c "$NET/gw-pipe.conf" --enroll - >>"$NET/gw-pipe-enroll.log" 2>&1 || rc=$?
check "a code read from standard input, in capitals, enrolls" test "$rc" -eq 0
check "  and the key file is written" test -s "$NET/gw-pipe.key"

# A wrong code, a malformed one, and no server: distinct exit codes.
newgw gw-wrong wrongpn 30
code=$(ctlj server.ctl enroll gw-wrong wrongpn gw | code_of)
secret "$code" "enrollment code"
enroll gw-wrong --enroll abcdefghijklmnopqrstuvwxyz
check "a wrong code gets no session (DTLS answers a wrong key with silence): exit 69" test "$rc" -eq 69
enroll gw-wrong --enroll "not-a-code"
check "a malformed code is a usage error: exit 64" test "$rc" -eq 64
enroll gw-wrong -o server.uri=coaps://127.0.0.1:35699 --enroll "$code"
check "no server there: exit 69" test "$rc" -eq 69
check "  and no key file" test ! -e "$NET/gw-wrong.key"
check "the right code still works after those failures" \
  bash -c "'$GW' -f -c '$NET/gw-wrong.conf' --enroll '$code' >>'$NET/gw-wrong-enroll.log' 2>&1"

# A key file that cannot be created: refused before the code is presented.
newgw gw-nodir nodirpn 40
code=$(ctlj server.ctl enroll gw-nodir nodirpn gw | code_of)
secret "$code" "enrollment code"
enroll gw-nodir -o "server.key_file=$NET/missing/dir/gw.key" --enroll "$code"
check "a key file in a missing directory: exit 73" test "$rc" -eq 73
enroll gw-nodir --enroll "$code"
check "  and the code was not spent: it works afterwards" test "$rc" -eq 0

# An enrollment for another PN than the configured one: enrolled, with a warning.
newgw gw-mixed configuredpn 50
code=$(ctlj server.ctl enroll gw-mixed enrolledpn gw | code_of)
secret "$code" "enrollment code"
enroll gw-mixed --enroll "$code"
check "a PN mismatch still enrolls" test "$rc" -eq 0
check "  but warns that [gw] pn and the enrollment disagree" \
  grep -q 'the enrollment is for PN enrolledpn, but this entity is configured for PN configuredpn' \
  "$NET/gw-mixed-enroll.log"

# The PN's own gateway may not make a code for a gateway (4.03).
printf '[cpnsctl]\nuri = coaps://127.0.0.1:35680\nidentity = gw-new\nkey_file = %s\n' "$NET/gw-new.key" > "$NET/gw-new.ctl"
out=$(ctl gw-new.ctl enroll gw-other newpn gw 2>&1 || true)
check "a gateway cannot enroll another gateway (4.03)" has "$out" '4\.03'

check "no code or key in any log (also checked at exit)" no_secret_in_logs
finish
