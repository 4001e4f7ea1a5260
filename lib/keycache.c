/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded identity -> key table with stable entry addresses (see keycache.h). */
#include "keycache.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define KEYCACHE_BUCKETS 4096

struct slot {
  struct slot *next;
  bool live;
  struct cpns_key_entry e;
};

struct cpns_keycache {
  struct slot *buckets[KEYCACHE_BUCKETS];
  size_t live, slots, max;
};

static unsigned hash(const char *s, size_t len) {
  unsigned h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h % KEYCACHE_BUCKETS;
}

static struct slot *find(const struct cpns_keycache *kc, const char *id, size_t len) {
  for (struct slot *s = kc->buckets[hash(id, len)]; s; s = s->next)
    if (strlen(s->e.identity) == len && memcmp(s->e.identity, id, len) == 0) return s;
  return NULL;
}

struct cpns_keycache *cpns_keycache_new(size_t max_entries) {
  struct cpns_keycache *kc = calloc(1, sizeof *kc);
  if (kc) kc->max = max_entries;
  return kc;
}

void cpns_keycache_free(struct cpns_keycache *kc) {
  if (!kc) return;
  for (unsigned i = 0; i < KEYCACHE_BUCKETS; i++)
    while (kc->buckets[i]) {
      struct slot *s = kc->buckets[i];
      kc->buckets[i] = s->next;
      OPENSSL_cleanse(&s->e, sizeof s->e);
      free(s);
    }
  free(kc);
}

int cpns_keycache_put(struct cpns_keycache *kc, const struct cpns_key_entry *e) {
  size_t len = strnlen(e->identity, sizeof e->identity);
  if (len == 0 || len > CPNS_ID_MAX) return CPNS_ERR_INVAL;
  struct slot *s = find(kc, e->identity, len);
  if (!s) {
    /* Removed slots are kept (their address may still be borrowed) and
     * count against the bound as well. */
    if (kc->slots >= kc->max) return CPNS_ERR_LIMIT;
    s = calloc(1, sizeof *s);
    if (!s) return CPNS_ERR_NOMEM;
    unsigned b = hash(e->identity, len);
    s->next = kc->buckets[b];
    kc->buckets[b] = s;
    kc->slots++;
  }
  if (!s->live) kc->live++;
  s->e = *e;
  s->live = true;
  return 0;
}

const struct cpns_key_entry *cpns_keycache_get(const struct cpns_keycache *kc, const char *identity,
                                               size_t len) {
  if (!kc || len == 0 || len > CPNS_ID_MAX || memchr(identity, '\0', len)) return NULL;
  struct slot *s = find(kc, identity, len);
  return s && s->live ? &s->e : NULL;
}

int cpns_keycache_remove(struct cpns_keycache *kc, const char *identity) {
  struct slot *s = find(kc, identity, strlen(identity));
  if (!s || !s->live) return CPNS_ERR_NOTFOUND;
  OPENSSL_cleanse(s->e.key, sizeof s->e.key);
  s->live = false;
  kc->live--;
  return 0;
}

size_t cpns_keycache_count(const struct cpns_keycache *kc) { return kc ? kc->live : 0; }
