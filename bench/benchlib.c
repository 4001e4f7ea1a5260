/* SPDX-License-Identifier: Apache-2.0 */
/* The clock and the sorting of bench/benchlib.h: libc only, so that the
 * tools measuring the peers (mosquitto, HTTPS) link it too. */
#include <stdlib.h>
#include <time.h>

#include "benchlib.h"

uint64_t bench_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double bench_since_s(uint64_t t0) { return (double)(bench_now_us() - t0) / 1e6; }

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

void bench_sort_u32(uint32_t *v, size_t n) {
  if (n) qsort(v, n, sizeof *v, cmp_u32);
}

void bench_sort_u64(uint64_t *v, size_t n) {
  if (n) qsort(v, n, sizeof *v, cmp_u64);
}
