/* SPDX-License-Identifier: Apache-2.0 */
/* The node's cache of answers sent block by block (see blockcache.h): a
 * hash table by key, one list in order of use for eviction, and a small
 * table of sessions with their count of entries. */
#include "blockcache.h"

#include <cpns/cpns.h>
#include <stdlib.h>
#include <string.h>

/* Buckets of the session table (sessions with entries are few). */
#define BC_SESSION_BUCKETS 64u
/* Key buckets per entry allowed (the table never grows). */
#define BC_BUCKETS_PER_ENTRY 2u
#define BC_BUCKETS_MIN 16u

struct bc_session {
  const void *session;
  unsigned long count;
  struct bc_session *next;
};

struct bc_entry {
  struct bc_entry *hnext;        /* in its bucket */
  struct bc_entry *older, *newer; /* in the list of use */
  struct bc_session *sess;
  uint64_t hash;
  unsigned method;
  int cf;
  int code;
  uint64_t etag;
  uint64_t created_ms;
  char *identity, *path, *query; /* in one allocation with the entry */
  uint8_t *body;
  size_t len;
};

struct cpns_blockcache {
  struct cpns_blockcache_limits lim;
  struct bc_entry **buckets;
  size_t nbuckets; /* a power of two */
  struct bc_entry *oldest, *newest;
  struct bc_session *sessions[BC_SESSION_BUCKETS];
  struct cpns_blockcache_stats st;
};

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

#define FNV_BASIS 0xcbf29ce484222325ull

uint64_t cpns_blockcache_etag(const uint8_t *body, size_t len) {
  uint64_t h = fnv_bytes(FNV_BASIS, body, len);
  return h ? h : 1;
}

static uint64_t key_hash(const struct cpns_blockcache_key *k) {
  uint64_t h = fnv_bytes(FNV_BASIS, &k->session, sizeof k->session);
  h = fnv_bytes(h, &k->method, sizeof k->method);
  h = fnv_bytes(h, &k->cf, sizeof k->cf);
  /* The terminating NULs separate the strings: "a" + "bc" differs from "ab" + "c". */
  h = fnv_bytes(h, k->identity, strlen(k->identity) + 1);
  h = fnv_bytes(h, k->path, strlen(k->path) + 1);
  return fnv_bytes(h, k->query, strlen(k->query) + 1);
}

static bool key_equal(const struct bc_entry *e, uint64_t hash, const struct cpns_blockcache_key *k) {
  return e->hash == hash && e->sess->session == k->session && e->method == k->method &&
         e->cf == k->cf && strcmp(e->identity, k->identity) == 0 && strcmp(e->path, k->path) == 0 &&
         strcmp(e->query, k->query) == 0;
}

static size_t session_bucket(const void *s) {
  uintptr_t v = (uintptr_t)s;
  return (size_t)((v >> 4) ^ (v >> 12)) % BC_SESSION_BUCKETS;
}

static struct bc_session *session_find(struct cpns_blockcache *bc, const void *s, bool create) {
  size_t b = session_bucket(s);
  for (struct bc_session *x = bc->sessions[b]; x; x = x->next)
    if (x->session == s) return x;
  if (!create) return NULL;
  struct bc_session *x = calloc(1, sizeof *x);
  if (!x) return NULL;
  x->session = s;
  x->next = bc->sessions[b];
  bc->sessions[b] = x;
  return x;
}

static void session_release(struct cpns_blockcache *bc, struct bc_session *x) {
  if (--x->count) return;
  for (struct bc_session **pp = &bc->sessions[session_bucket(x->session)]; *pp; pp = &(*pp)->next)
    if (*pp == x) {
      *pp = x->next;
      free(x);
      return;
    }
}

int cpns_blockcache_new(const struct cpns_blockcache_limits *lim, struct cpns_blockcache **out) {
  if (!lim || !out || lim->entries < 0 || lim->per_session < 0 || lim->bytes < 0 || lim->age_ms < 0)
    return CPNS_ERR_INVAL;
  struct cpns_blockcache *bc = calloc(1, sizeof *bc);
  if (!bc) return CPNS_ERR_NOMEM;
  bc->lim = *lim;
  size_t want = (size_t)lim->entries * BC_BUCKETS_PER_ENTRY;
  bc->nbuckets = BC_BUCKETS_MIN;
  while (bc->nbuckets < want) bc->nbuckets <<= 1;
  bc->buckets = calloc(bc->nbuckets, sizeof *bc->buckets);
  if (!bc->buckets) {
    free(bc);
    return CPNS_ERR_NOMEM;
  }
  *out = bc;
  return 0;
}

static void entry_remove(struct cpns_blockcache *bc, struct bc_entry *e) {
  struct bc_entry **pp = &bc->buckets[e->hash & (bc->nbuckets - 1)];
  while (*pp && *pp != e) pp = &(*pp)->hnext;
  if (*pp) *pp = e->hnext;
  if (e->older) e->older->newer = e->newer;
  else bc->oldest = e->newer;
  if (e->newer) e->newer->older = e->older;
  else bc->newest = e->older;
  bc->st.entries--;
  bc->st.bytes -= e->len;
  session_release(bc, e->sess);
  free(e->body);
  free(e);
}

static void entry_touch(struct cpns_blockcache *bc, struct bc_entry *e) {
  if (bc->newest == e) return;
  if (e->older) e->older->newer = e->newer;
  else bc->oldest = e->newer;
  e->newer->older = e->older; /* e is not the newest: it has a newer one */
  e->older = bc->newest;
  e->newer = NULL;
  bc->newest->newer = e;
  bc->newest = e;
}

void cpns_blockcache_free(struct cpns_blockcache *bc) {
  if (!bc) return;
  while (bc->oldest) entry_remove(bc, bc->oldest);
  free(bc->buckets);
  free(bc);
}

static struct bc_entry *lookup(struct cpns_blockcache *bc, const struct cpns_blockcache_key *k,
                               uint64_t hash) {
  for (struct bc_entry *e = bc->buckets[hash & (bc->nbuckets - 1)]; e; e = e->hnext)
    if (key_equal(e, hash, k)) return e;
  return NULL;
}

static bool too_old(const struct cpns_blockcache *bc, const struct bc_entry *e, uint64_t now_ms) {
  return now_ms >= e->created_ms && now_ms - e->created_ms > (uint64_t)bc->lim.age_ms;
}

/* The least recently used entry of session x. Only called when x holds
 * per_session entries, so the walk ends at one of them. */
static struct bc_entry *oldest_of(struct cpns_blockcache *bc, const struct bc_session *x) {
  for (struct bc_entry *e = bc->oldest; e; e = e->newer)
    if (e->sess == x) return e;
  return NULL;
}

int cpns_blockcache_put(struct cpns_blockcache *bc, const struct cpns_blockcache_key *key, int code,
                        const uint8_t *body, size_t len, uint64_t etag, uint64_t now_ms) {
  uint64_t hash = key_hash(key);
  struct bc_entry *old = lookup(bc, key, hash);
  if (old) entry_remove(bc, old);
  if (bc->lim.entries == 0 || bc->lim.per_session == 0 || len > (size_t)bc->lim.bytes) {
    bc->st.refused++;
    return CPNS_ERR_TOOBIG;
  }
  struct bc_session *x = session_find(bc, key->session, true);
  if (!x) return CPNS_ERR_NOMEM;
  x->count++; /* held while evicting, so that x is not freed under us */
  while (x->count - 1 >= (unsigned long)bc->lim.per_session) {
    struct bc_entry *victim = oldest_of(bc, x);
    if (!victim) break;
    entry_remove(bc, victim);
    bc->st.evicted++;
  }
  while (bc->oldest && (bc->st.entries >= (unsigned long)bc->lim.entries ||
                        bc->st.bytes + len > (unsigned long)bc->lim.bytes)) {
    entry_remove(bc, bc->oldest);
    bc->st.evicted++;
  }
  size_t il = strlen(key->identity) + 1, pl = strlen(key->path) + 1, ql = strlen(key->query) + 1;
  struct bc_entry *e = calloc(1, sizeof *e + il + pl + ql);
  uint8_t *copy = malloc(len ? len : 1);
  if (!e || !copy) {
    free(e);
    free(copy);
    session_release(bc, x);
    return CPNS_ERR_NOMEM;
  }
  char *s = (char *)(e + 1);
  e->identity = memcpy(s, key->identity, il);
  e->path = memcpy(s + il, key->path, pl);
  e->query = memcpy(s + il + pl, key->query, ql);
  if (len) memcpy(copy, body, len);
  e->body = copy;
  e->len = len;
  e->sess = x; /* keeps the count taken above */
  e->hash = hash;
  e->method = key->method;
  e->cf = key->cf;
  e->code = code;
  e->etag = etag;
  e->created_ms = now_ms;
  size_t b = hash & (bc->nbuckets - 1);
  e->hnext = bc->buckets[b];
  bc->buckets[b] = e;
  e->older = bc->newest;
  if (bc->newest) bc->newest->newer = e;
  else bc->oldest = e;
  bc->newest = e;
  bc->st.entries++;
  bc->st.bytes += len;
  bc->st.stored++;
  return 0;
}

bool cpns_blockcache_get(struct cpns_blockcache *bc, const struct cpns_blockcache_key *key,
                         uint64_t now_ms, struct cpns_blockcache_entry_view *out) {
  struct bc_entry *e = lookup(bc, key, key_hash(key));
  if (e && too_old(bc, e, now_ms)) {
    entry_remove(bc, e);
    bc->st.expired++;
    e = NULL;
  }
  if (!e) {
    bc->st.misses++;
    return false;
  }
  entry_touch(bc, e);
  bc->st.hits++;
  out->body = e->body;
  out->len = e->len;
  out->code = e->code;
  out->etag = e->etag;
  return true;
}

void cpns_blockcache_drop_session(struct cpns_blockcache *bc, const void *session) {
  if (!bc || !session_find(bc, session, false)) return;
  struct bc_entry *e = bc->oldest;
  while (e) {
    struct bc_entry *next = e->newer;
    if (e->sess->session == session) entry_remove(bc, e);
    e = next;
  }
}

void cpns_blockcache_expire(struct cpns_blockcache *bc, uint64_t now_ms) {
  struct bc_entry *e = bc->oldest;
  while (e) {
    struct bc_entry *next = e->newer;
    if (too_old(bc, e, now_ms)) {
      entry_remove(bc, e);
      bc->st.expired++;
    }
    e = next;
  }
}

void cpns_blockcache_get_stats(const struct cpns_blockcache *bc, struct cpns_blockcache_stats *out) {
  *out = bc->st;
}

int cpns_block_slice(size_t total, uint32_t num, unsigned szx, struct cpns_block *out) {
  if (szx > CPNS_BLOCK_SZX_MAX || num > CPNS_BLOCK_NUM_MAX) return CPNS_ERR_INVAL;
  size_t size = (size_t)1 << (szx + 4);
  size_t offset = (size_t)num * size;
  if (num > 0 && offset >= total) return CPNS_ERR_NOTFOUND;
  out->num = num;
  out->szx = szx;
  out->offset = offset;
  out->len = total - offset < size ? total - offset : size;
  out->more = offset + out->len < total;
  return 0;
}

int cpns_block_szx_for(size_t room) {
  for (int szx = CPNS_BLOCK_SZX_MAX; szx >= 0; szx--)
    if (((size_t)1 << (szx + 4)) <= room) return szx;
  return -1;
}
