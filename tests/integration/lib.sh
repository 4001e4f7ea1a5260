# SPDX-License-Identifier: Apache-2.0
# Helpers for the integration tests: each test sources this with the build
# directory as $1, gets a private directory, starts real daemons from configs
# written by scripts/mknet.sh, and checks what a user would check with
# cpnsctl. Every wait is bounded; everything started is stopped on exit.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SERVER=$BUILD/server/cpns-server
GW=$BUILD/gw/cpns-gw
PNE=$BUILD/pne/cpns-pne
CTL=$BUILD/tools/cpnsctl
T=$(mktemp -d "${TMPDIR:-/tmp}/cpns-it.XXXXXX")
chmod 700 "$T"
PASSED=0
FAILED=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
declare -a CLEANUPS=()

# Secrets of the run, checked against every log when the test ends. The keys
# in key files and keyrings are found by themselves; a test records every
# other secret it sees (enrollment codes, issued or group keys) with
#   secret VALUE [KIND]     e.g. secret "$code" "enrollment code"
#   secrets_in FILE [KIND]  every 64-hex-digit key in FILE (a saved answer),
#                           and every JSON "key" value (group keys: base64url)
SECRETS=$T/.secrets
secret() {
  [ -n "${1:-}" ] || return 0
  printf '%s\t%s\n' "${2:-secret}" "$1" >> "$SECRETS"
}
secrets_in() {
  local k
  for k in $( { grep -Eoi '[0-9a-f]{64}' "$1"; grep -Eo '"key": ?"[^"]+"' "$1" | sed -E 's/.*"([^"]+)"$/\1/'; } \
              2>/dev/null | sort -u); do
    secret "$k" "${2:-key in $(basename "$1")}"
  done
}

# Fails when any log under $T holds a secret of the run: the keys of every
# key file (*.key) and keyring (*.keys, one per line, 64 hex digits) under
# $T, and what the test recorded with `secret`. Hex matches in any case.
# Reports the log and the kind of secret, never the secret itself.
no_secret_in_logs() {
  local pat=$T/.patterns f kind log found=0
  rm -rf "$pat"; mkdir -p "$pat"
  while IFS= read -r f; do
    case $f in *.key) kind="key file $(basename "$f")";; *) kind="keyring $(basename "$f")";; esac
    grep -Eoi '(^|[^0-9a-f])[0-9a-f]{64}([^0-9a-f]|$)' "$f" 2>/dev/null | grep -Eoi '[0-9a-f]{64}' \
      > "$pat/$kind" || rm -f "$pat/$kind"
  done < <(find "$T" -type f \( -name '*.key' -o -name '*.keys' \) 2>/dev/null)
  if [ -f "$SECRETS" ]; then
    while IFS=$'\t' read -r kind f; do
      # Too short to be a secret of ours; as a pattern it would match anything.
      [ ${#f} -ge 16 ] && printf '%s\n' "$f" >> "$pat/recorded ${kind//\//_}"
    done < "$SECRETS"
  fi
  cat "$pat"/* > "$T/.all-secrets" 2>/dev/null || true
  while IFS= read -r log; do
    for f in "$pat"/*; do
      [ -s "$f" ] || continue
      if grep -Fqi -f "$f" "$log"; then
        echo "FAIL: ${log#"$T"/} holds a secret: $(basename "$f")"
        found=1
      fi
    done
  done < <(find "$T" -type f -name '*.log' 2>/dev/null)
  rm -rf "$pat"
  return "$found"
}
# Prints stdin, withholding every line that holds a secret of the run.
redact() {
  local line
  while IFS= read -r line; do
    if [ -s "$T/.all-secrets" ] && printf '%s\n' "$line" | grep -Fqi -f "$T/.all-secrets"; then
      echo "[a line holding a secret, withheld]"
    else
      printf '%s\n' "$line"
    fi
  done
}

cleanup() {
  local rc=$?
  for c in "${CLEANUPS[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  for f in "$T"/net/*.pid "$T"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
  # Sanitizer reports in any daemon log fail the test.
  if grep -l "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$T"/net/*.log "$T"/*.log 2>/dev/null; then
    echo "FAIL: a sanitizer reported an error in a daemon log (above)"
    for f in $(grep -l "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$T"/net/*.log "$T"/*.log 2>/dev/null); do
      grep -A20 "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$f" | head -40
    done
    rc=1
  fi
  no_secret_in_logs || rc=1
  if [ "$rc" -ne 0 ] && [ -d "$T/net" ]; then
    for f in "$T"/net/*.log; do echo "--- $f"; tail -15 "$f" | redact; done
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT

ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }
check() { # check "description" command...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# wait_for SECONDS command...: retries every 0.2 s until it succeeds.
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  while [ $SECONDS -lt "$end" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

NET=$T/net
mknet() { "$TOP/scripts/mknet.sh" "$NET" "$@"; }
ctl() { "$CTL" -t 5000 -P "$NET/$1" "${@:2}"; }
ctlj() { "$CTL" -t 5000 -j -P "$NET/$1" "${@:2}"; }

start_server() { (cd "$NET" && "$SERVER" -f -c server.conf "$@" >>server.log 2>&1 &); wait_for 10 test -s "$NET/server.pid"; }
start_gw() { (cd "$NET" && "$GW" -f -c gw.conf "$@" >>gw.log 2>&1 &); wait_for 10 test -s "$NET/gw.pid"; }
start_pne() { local id=$1; shift; (cd "$NET" && "$PNE" -f -c "$id.conf" "$@" >>"$id.log" 2>&1 &); wait_for 10 test -s "$NET/$id.pid"; }
pid_of() { cat "$NET/$1.pid"; }
kill9() { local p; p=$(pid_of "$1"); kill -9 "$p"; rm -f "$NET/$1.pid"; wait_for 5 bash -c "! kill -0 $p"; }
stop() { local p; p=$(pid_of "$1"); kill "$p"; wait_for 10 bash -c "! kill -0 $p"; }

# state_at PROFILE PN ID: the entity's state in that entity's view of PN
state_at() {
  local out
  out=$("$CTL" -t 5000 -P "$NET/$1" get "pns/$2/entities/$3" 2>&1) || { echo absent; return; }
  echo "$out" | sed -n 's/.*"state": "\([a-z]*\)".*/\1/p'
}
is_state() { [ "$(state_at "$1" "$2" "$3")" = "$4" ]; }

start_all() {
  start_server
  start_gw
  for p in $(cat "$NET/pnes"); do start_pne "$p"; done
  for p in $(cat "$NET/pnes"); do wait_for 20 is_state gw.ctl home "$p" online || return 1; done
}

# A key of 64 hex digits whose bytes hold no NUL and that does not end in a
# newline byte, so that libcoap's coap-client can take it raw (-k).
nul_free_key() {
  local k
  while :; do
    k=$(openssl rand -hex 32)
    echo "$k" | grep -Eq '^([0-9a-f]{2})*00' && continue
    case $k in *0a) continue;; esac
    echo "$k"; return
  done
}

# add_identity KEYRING IDENTITY ROLE PN PROFILE URI: a new identity with its key
# file, its line in $NET/KEYRING (send the daemon SIGHUP to load it) and a
# cpnsctl profile $NET/PROFILE that talks to URI as it.
add_identity() {
  local k; k=$(nul_free_key)
  (umask 077; echo "$k" > "$NET/$2.key"; echo "$2 $3 $4 $k" >> "$NET/$1")
  printf '[cpnsctl]\nuri = %s\nidentity = %s\nkey_file = %s\n' "$6" "$2" "$NET/$2.key" > "$NET/$5"
}

# has TEXT PATTERN: TEXT matches the extended regular expression PATTERN.
has() { grep -Eq -- "$2" <<<"$1"; }
