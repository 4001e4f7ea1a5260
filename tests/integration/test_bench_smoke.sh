#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark still runs end to end (a quick, small run against this build).
# It checks that every request was answered and that the server's counts
# match; it asserts nothing about speed.
source "$(dirname "$0")/lib.sh"
out=$(BENCH_QUICK=1 BENCH_BUILD="$BUILD" "$TOP/bench/run.sh" 2>&1) && rc=0 || rc=$?
echo "$out" | tail -25
check "the quick benchmark completes with every request answered" test "$rc" -eq 0
check "it prints our figure beside the peer's" has "$out" 'coap-server'
finish
