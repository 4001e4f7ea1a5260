#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cmake --install puts programs, headers, libcpns.pc, man pages and sample
# configs in place, and an application builds against the installed library
# with pkg-config alone and talks to a running network.
source "$(dirname "$0")/lib.sh"
P=$T/prefix
cmake --install "$BUILD" --prefix "$P" >/dev/null
for f in sbin/cpns-server sbin/cpns-gw bin/cpns-pne bin/cpnsctl include/cpns/client.h include/cpns/cpns.h \
         include/cpns/version.h share/man/man8/cpns-server.8 share/man/man1/cpnsctl.1 \
         share/man/man5/cpns.conf.5 etc/cpns/cpns-gw.conf; do
  check "installed $f" test -e "$P/$f"
done
pc=$(find "$P" -name libcpns.pc | head -1)
check "installed libcpns.pc" test -n "$pc"
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir libcpns)
san=""
grep -q '^CPNS_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" && san="-fsanitize=address,undefined"
check "an application compiles against the installed library" \
  cc -std=c11 -Wall -Werror $san "$TOP/examples/pn_inventory.c" $(pkg-config --cflags --libs libcpns) -o "$T/pn_inventory"
mknet --pnes 1 --base 25680
start_all
out=$(LD_LIBRARY_PATH=$libdir "$T/pn_inventory" coaps://127.0.0.1:25690 app "$NET/phone-app.key" home 2>&1 || true)
echo "$out"
check "and reads the PN Inventory through its PNE" has "$out" 'phone +online'
check "a usage statistics application compiles against it too" \
  cc -std=c11 -Wall -Werror $san "$TOP/examples/usage_report.c" $(pkg-config --cflags --libs libcpns) -o "$T/usage_report"
out=$(LD_LIBRARY_PATH=$libdir "$T/usage_report" coaps://127.0.0.1:25690 app "$NET/phone-app.key" game 60 2>&1 || true)
echo "$out"
check "and records a use at its PNE, then reads its PN's summary" \
  bash -c "grep -q '^game: recorded' <<<'$out' && grep -q '^usage from' <<<'$out'"
check "the installed sample config is accepted" bash -c "'$P/sbin/cpns-server' -c '$P/etc/cpns/cpns-server.conf' --help >/dev/null"
finish
