/* SPDX-License-Identifier: Apache-2.0 */
/* Token buckets by key (ratelimit.h): a chained hash table for lookups and
 * a doubly linked list in order of use, whose tail is forgotten when the
 * table is full. */
#include "ratelimit.h"

#include <cpns/cpns.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
  char key[CPNS_RATE_KEY_MAX + 1];
  double tokens;
  uint64_t last_ms;
  struct bucket *hnext;
  struct bucket *prev, *next; /* in order of use, most recent first */
};

struct cpns_ratebook {
  size_t max_keys, n, nbuckets;
  double rate, burst;
  struct bucket **table;
  struct bucket *head, *tail;
};

static size_t hash(const char *k, size_t n) {
  uint64_t h = 14695981039346656037ull;
  for (; *k; k++) h = (h ^ (uint8_t)*k) * 1099511628211ull;
  return (size_t)(h % n);
}

int cpns_ratebook_new(size_t max_keys, double rate, double burst, struct cpns_ratebook **out) {
  if (!max_keys || !(rate > 0) || !(burst >= 1) || !out) return CPNS_ERR_INVAL;
  struct cpns_ratebook *rb = calloc(1, sizeof *rb);
  if (!rb) return CPNS_ERR_NOMEM;
  rb->max_keys = max_keys;
  rb->nbuckets = max_keys * 2 + 1;
  rb->rate = rate;
  rb->burst = burst;
  rb->table = calloc(rb->nbuckets, sizeof *rb->table);
  if (!rb->table) {
    free(rb);
    return CPNS_ERR_NOMEM;
  }
  *out = rb;
  return 0;
}

void cpns_ratebook_free(struct cpns_ratebook *rb) {
  if (!rb) return;
  struct bucket *b = rb->head;
  while (b) {
    struct bucket *next = b->next;
    free(b);
    b = next;
  }
  free(rb->table);
  free(rb);
}

size_t cpns_ratebook_count(const struct cpns_ratebook *rb) { return rb ? rb->n : 0; }

static void unlink_use(struct cpns_ratebook *rb, struct bucket *b) {
  if (b->prev) b->prev->next = b->next;
  else rb->head = b->next;
  if (b->next) b->next->prev = b->prev;
  else rb->tail = b->prev;
  b->prev = b->next = NULL;
}

static void push_front(struct cpns_ratebook *rb, struct bucket *b) {
  b->next = rb->head;
  if (rb->head) rb->head->prev = b;
  rb->head = b;
  if (!rb->tail) rb->tail = b;
}

static void forget(struct cpns_ratebook *rb, struct bucket *b) {
  unlink_use(rb, b);
  for (struct bucket **pp = &rb->table[hash(b->key, rb->nbuckets)]; *pp; pp = &(*pp)->hnext)
    if (*pp == b) {
      *pp = b->hnext;
      break;
    }
  free(b);
  rb->n--;
}

long cpns_ratebook_take(struct cpns_ratebook *rb, const char *key, uint64_t now_ms) {
  char k[CPNS_RATE_KEY_MAX + 1];
  if (strnlen(key, CPNS_RATE_KEY_MAX + 1) > CPNS_RATE_KEY_MAX) key = "(too long)";
  snprintf(k, sizeof k, "%s", key);
  size_t h = hash(k, rb->nbuckets);
  struct bucket *b = rb->table[h];
  while (b && strcmp(b->key, k) != 0) b = b->hnext;
  if (!b) {
    if (rb->n >= rb->max_keys) forget(rb, rb->tail);
    b = calloc(1, sizeof *b);
    if (!b) return 0; /* out of memory: let it through rather than refuse everyone */
    memcpy(b->key, k, sizeof b->key);
    b->tokens = rb->burst;
    b->last_ms = now_ms;
    b->hnext = rb->table[h];
    rb->table[h] = b;
    rb->n++;
  } else {
    unlink_use(rb, b);
    double add = (double)(now_ms > b->last_ms ? now_ms - b->last_ms : 0) / 1000.0 * rb->rate;
    b->tokens = fmin(rb->burst, b->tokens + add);
    b->last_ms = now_ms;
  }
  push_front(rb, b);
  if (b->tokens >= 1.0) {
    b->tokens -= 1.0;
    return 0;
  }
  long wait = (long)ceil((1.0 - b->tokens) / rb->rate);
  return wait < 1 ? 1 : wait;
}
