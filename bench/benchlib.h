/* SPDX-License-Identifier: Apache-2.0 */
/* What the benchmark tools share: a monotonic clock, sorting latencies, and
 * the keyrings they give the servers they measure. Never installed. */
#ifndef CPNS_BENCHLIB_H
#define CPNS_BENCHLIB_H

#include <stddef.h>
#include <stdint.h>

/* Microseconds on the monotonic clock. */
uint64_t bench_now_us(void);
/* Seconds since t0, a bench_now_us() reading. */
double bench_since_s(uint64_t t0);

/* Sort n latencies in place, smallest first. */
void bench_sort_u32(uint32_t *v, size_t n);
void bench_sort_u64(uint64_t *v, size_t n);

/* The index of quantile p (0..1) in a sorted array of n > 0 values, nearest
 * rank. */
static inline size_t bench_rank(size_t n, double p) { return (size_t)(p * (double)(n - 1) + 0.5); }

/* Writes a keyring (mode 0600, replacing path): gateways gw-0.. (role gw,
 * PN pn-i), then operators op-0.., each with a fresh key. tool names the
 * writer in its first line. 0, or 1 with the reason on stderr. Needs
 * libcpns (bench_keys.c). */
int bench_keyring_write(const char *path, const char *tool, unsigned long gateways,
                        unsigned long operators);

#endif
