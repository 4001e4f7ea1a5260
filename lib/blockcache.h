/* SPDX-License-Identifier: Apache-2.0 */
/* The answers a node sends block by block (RFC 7959 Block2), kept for the
 * requests of their later blocks.
 *
 * libcoap 4.3.1 keeps every large response of a session in a list that each
 * new large response and each block request scans, for 8 s after its last
 * block went out; answers to requests with different queries never replace
 * one another, so under load the list grows to hundreds of entries per
 * session and the scans dominate. node.c therefore slices the answers of
 * ordinary requests itself and keeps each one here, in a table with bounds
 * of its own: entries per session, entries and bytes in all, and an age.
 * The least recently used entry goes first.
 *
 * An entry is found by its key: the session (borrowed, never dereferenced:
 * only compared), the identity the request ran as, the method, the path,
 * the query and the content format of the answer. Its ETag is a hash of the
 * bytes, so an answer made again with the same bytes (after its entry was
 * evicted) keeps its ETag, and a changed one gets another.
 *
 * Nothing here is thread-safe; a node owns one cache. */
#ifndef CPNS_BLOCKCACHE_H
#define CPNS_BLOCKCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 7959 §2.2: block sizes are 2^(szx + 4), szx 0..6 (7 is BERT, for
 * reliable transports only: not ours). */
#define CPNS_BLOCK_SZX_MAX 6
#define CPNS_BLOCK_NUM_MAX 0xFFFFFu /* 20 bits */

struct cpns_blockcache_limits {
  long entries;     /* answers kept in all; 0 = none (every later block runs the handler again) */
  long per_session; /* answers kept for one session */
  long bytes;       /* bytes of answers kept in all */
  long age_ms;      /* an answer older than this is not served */
};

struct cpns_blockcache_key {
  const void *session;  /* compared only */
  const char *identity; /* the identity the request ran as ("" when anonymous) */
  unsigned method;
  const char *path;  /* relative to /cpns/v1 */
  const char *query; /* "a=1&b=2" or "" */
  int cf;            /* content format of the answer */
};

/* A cached answer, borrowed until the next call that changes the cache. */
struct cpns_blockcache_entry_view {
  const uint8_t *body;
  size_t len;
  int code; /* CoAP code as a number (205) */
  uint64_t etag;
};

struct cpns_blockcache_stats {
  unsigned long entries, bytes, hits, misses, stored, evicted, expired, refused;
};

struct cpns_blockcache;

/* A new, empty cache with these limits (copied). CPNS_ERR_INVAL for a
 * negative limit, CPNS_ERR_NOMEM. Free with cpns_blockcache_free(). */
int cpns_blockcache_new(const struct cpns_blockcache_limits *lim, struct cpns_blockcache **out);
void cpns_blockcache_free(struct cpns_blockcache *bc);

/* Keeps a copy of body (borrowed) under key, replacing what the key held,
 * evicting the least recently used entries of the session and then of all
 * until the limits hold. now_ms is a monotonic clock. Returns 0,
 * CPNS_ERR_TOOBIG when the answer alone is larger than the byte limit (or
 * the cache holds no entries: limit 0), CPNS_ERR_NOMEM. */
int cpns_blockcache_put(struct cpns_blockcache *bc, const struct cpns_blockcache_key *key, int code,
                        const uint8_t *body, size_t len, uint64_t etag, uint64_t now_ms);
/* The answer under key, unless it is older than the age limit (then it is
 * dropped); true when found. Marks it used. */
bool cpns_blockcache_get(struct cpns_blockcache *bc, const struct cpns_blockcache_key *key,
                         uint64_t now_ms, struct cpns_blockcache_entry_view *out);
/* Drops every answer kept for session (it went away: a later session may
 * get its address). */
void cpns_blockcache_drop_session(struct cpns_blockcache *bc, const void *session);
/* Drops the answers older than the age limit. */
void cpns_blockcache_expire(struct cpns_blockcache *bc, uint64_t now_ms);
void cpns_blockcache_get_stats(const struct cpns_blockcache *bc, struct cpns_blockcache_stats *out);

/* The ETag of an answer: a 64-bit FNV-1a hash of its bytes, never 0. */
uint64_t cpns_blockcache_etag(const uint8_t *body, size_t len);

/* One block of an answer of total bytes (RFC 7959 §2.2): block num of size
 * 2^(szx + 4). offset and len say which bytes it holds; more is the M bit.
 * CPNS_ERR_INVAL for szx > CPNS_BLOCK_SZX_MAX or num > CPNS_BLOCK_NUM_MAX,
 * CPNS_ERR_NOTFOUND when the block starts at or beyond the end (block 0 of
 * an empty answer exists). */
struct cpns_block {
  uint32_t num;
  unsigned szx;
  bool more;
  size_t offset, len;
};
int cpns_block_slice(size_t total, uint32_t num, unsigned szx, struct cpns_block *out);
/* The largest szx whose block fits in room bytes (at most
 * CPNS_BLOCK_SZX_MAX), or -1 when not even 16 bytes fit. */
int cpns_block_szx_for(size_t room);

#endif
