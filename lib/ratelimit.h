/* SPDX-License-Identifier: Apache-2.0 */
/* Per-key token buckets in a bounded table: how a daemon holds each entity
 * to a configured rate of status updates (answering 4.29, RFC 8516, beyond
 * it). The table keeps at most max_keys buckets; when it is full, the bucket
 * used longest ago is forgotten, which only ever forgives (a forgotten key
 * starts again with a full bucket). Not thread-safe. */
#ifndef CPNS_RATELIMIT_H
#define CPNS_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define CPNS_RATE_KEY_MAX 160 /* bytes of a key ("pn/id" fits) */

struct cpns_ratebook;

/* rate: tokens added per second; burst: the bucket's size (>= 1). */
int cpns_ratebook_new(size_t max_keys, double rate, double burst, struct cpns_ratebook **out);
void cpns_ratebook_free(struct cpns_ratebook *rb);
/* Takes a token of key's bucket at now_ms (a monotonic clock). Returns 0
 * when there was one, otherwise the whole seconds until there is (>= 1),
 * for the Max-Age of a 4.29. A key longer than CPNS_RATE_KEY_MAX is held to
 * one shared bucket. */
long cpns_ratebook_take(struct cpns_ratebook *rb, const char *key, uint64_t now_ms);
/* Buckets held now. */
size_t cpns_ratebook_count(const struct cpns_ratebook *rb);

#endif
