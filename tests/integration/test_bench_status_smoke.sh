#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The status benchmark (bench/status.sh) still runs end to end: a small run
# against this build, cpns-server beside mosquitto. It checks that every
# update was accepted, every observer and subscriber got every change, and
# that both figures are printed; it asserts nothing about speed.
source "$(dirname "$0")/lib.sh"
out=$(BENCH_BUILD="$BUILD" BENCH_OBSERVERS=20 BENCH_GATEWAYS=2 BENCH_ROUNDS=3 BENCH_SECONDS=1 \
      "$TOP/bench/status.sh" 2>&1) && rc=0 || rc=$?
echo "$out" | tail -12
check "the small status benchmark completes" test "$rc" -eq 0
check "it prints our fan-out beside mosquitto's" has "$out" 'cpns.fanout_median_ms [0-9.]+'
check "...mosquitto's over TCP and TLS-PSK" \
  bash -c "grep -Eq 'mqtt.fanout_median_ms [0-9.]+' <<<'$out' && grep -Eq 'mqtt_psk.fanout_median_ms [0-9.]+' <<<'$out'"
check "updates were accepted" has "$out" 'cpns.updates_per_s [1-9]'
finish
