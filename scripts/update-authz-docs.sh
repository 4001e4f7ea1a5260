#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rewrites the authorization tables of docs/security.md from what the daemons
# enforce (--authz-table), after a change of routes or rules. test_authz
# checks that the page and the code agree.
#   scripts/update-authz-docs.sh [BUILD_DIR]   (default: build)
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$TOP/build}
DOC=$TOP/docs/security.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BUILD/server/cpns-server" --authz-table > "$tmp/server"
"$BUILD/gw/cpns-gw" --authz-table > "$tmp/gw"
"$BUILD/pne/cpns-pne" --authz-table > "$tmp/pne"
# Each table follows its heading ("### Server", "### Gateway", "### PNE"):
# the first block of lines starting with '|' after the heading is replaced.
awk -v s="$tmp/server" -v g="$tmp/gw" -v p="$tmp/pne" '
  function emit(f,   l) { while ((getline l < f) > 0) print l; close(f) }
  /^### Server/ { want = s } /^### Gateway/ { want = g } /^### PNE/ { want = p }
  /^\|/ && want != "" { if (!done[want]) { emit(want); done[want] = 1 } intable = 1; next }
  { if (intable) { intable = 0; want = "" } print }
' "$DOC" > "$tmp/doc"
cp "$tmp/doc" "$DOC"
echo "updated $DOC"
