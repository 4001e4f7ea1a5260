#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages cpns needs to build, test and run, when missing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libcoap3-dev libcoap3-bin libcbor-dev libjansson-dev
      libinih-dev libsqlite3-dev libssl-dev libcmocka-dev libmicrohttpd-dev iproute2 iptables
      sqlite3 openssl xxd procps curl
      mosquitto libmosquitto-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
