/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/blockcache.c, the node's cache of answers sent block by
 * block (RFC 7959 Block2): slicing at every size and at the end, refused
 * sizes and numbers; the key (each of its parts tells entries apart);
 * replacing an answer; the per-session, entry and byte limits at their
 * bound and one past, evicting the least recently used; the age limit on
 * lookups and sweeps; dropping a session; a cache of no entries; ETags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cpns/cpns.h>

#include "blockcache.h"

static int sa, sb, sc; /* stand-ins for sessions: only their addresses count */

static struct cpns_blockcache_key key(const void *s, const char *query) {
  struct cpns_blockcache_key k = {s, "phone", 1, "usage/summary", query, 60};
  return k;
}

static struct cpns_blockcache *make(long entries, long per_session, long bytes, long age_ms) {
  struct cpns_blockcache_limits lim = {entries, per_session, bytes, age_ms};
  struct cpns_blockcache *bc = NULL;
  assert_int_equal(cpns_blockcache_new(&lim, &bc), 0);
  assert_non_null(bc);
  return bc;
}

static bool has(struct cpns_blockcache *bc, const void *s, const char *query, uint64_t now) {
  struct cpns_blockcache_entry_view v;
  struct cpns_blockcache_key k = key(s, query);
  return cpns_blockcache_get(bc, &k, now, &v);
}

static void put(struct cpns_blockcache *bc, const void *s, const char *query, size_t len,
                uint64_t now) {
  uint8_t body[4096];
  memset(body, 'x', sizeof body);
  struct cpns_blockcache_key k = key(s, query);
  assert_true(len <= sizeof body);
  assert_int_equal(cpns_blockcache_put(bc, &k, 205, body, len, cpns_blockcache_etag(body, len), now),
                   0);
}

static void test_slice(void **state) {
  (void)state;
  struct cpns_block b;
  /* 2581 bytes in blocks of 1024: 1024, 1024, 533. */
  assert_int_equal(cpns_block_slice(2581, 0, 6, &b), 0);
  assert_int_equal(b.offset, 0);
  assert_int_equal(b.len, 1024);
  assert_true(b.more);
  assert_int_equal(cpns_block_slice(2581, 2, 6, &b), 0);
  assert_int_equal(b.offset, 2048);
  assert_int_equal(b.len, 533);
  assert_false(b.more);
  assert_int_equal(cpns_block_slice(2581, 3, 6, &b), CPNS_ERR_NOTFOUND);
  /* Exactly two blocks: the second is the last. */
  assert_int_equal(cpns_block_slice(2048, 1, 6, &b), 0);
  assert_int_equal(b.len, 1024);
  assert_false(b.more);
  assert_int_equal(cpns_block_slice(2048, 2, 6, &b), CPNS_ERR_NOTFOUND);
  /* Smallest blocks; block 0 of an empty answer. */
  assert_int_equal(cpns_block_slice(40, 2, 0, &b), 0);
  assert_int_equal(b.offset, 32);
  assert_int_equal(b.len, 8);
  assert_int_equal(cpns_block_slice(0, 0, 6, &b), 0);
  assert_int_equal(b.len, 0);
  assert_false(b.more);
  /* szx 7 (BERT) and numbers beyond 20 bits are refused. */
  assert_int_equal(cpns_block_slice(1u << 30, 0, 7, &b), CPNS_ERR_INVAL);
  assert_int_equal(cpns_block_slice((size_t)1 << 40, CPNS_BLOCK_NUM_MAX, 6, &b), 0);
  assert_int_equal(cpns_block_slice((size_t)1 << 40, CPNS_BLOCK_NUM_MAX + 1, 6, &b), CPNS_ERR_INVAL);
}

static void test_szx_for(void **state) {
  (void)state;
  assert_int_equal(cpns_block_szx_for(5000), 6);
  assert_int_equal(cpns_block_szx_for(1024), 6);
  assert_int_equal(cpns_block_szx_for(1023), 5);
  assert_int_equal(cpns_block_szx_for(16), 0);
  assert_int_equal(cpns_block_szx_for(15), -1);
  assert_int_equal(cpns_block_szx_for(0), -1);
}

static void test_etag(void **state) {
  (void)state;
  const uint8_t a[] = "some answer", b[] = "some answes";
  assert_int_equal(cpns_blockcache_etag(a, sizeof a), cpns_blockcache_etag(a, sizeof a));
  assert_int_not_equal(cpns_blockcache_etag(a, sizeof a), cpns_blockcache_etag(b, sizeof b));
  assert_int_not_equal(cpns_blockcache_etag(a, 0), 0);
}

static void test_key_parts(void **state) {
  (void)state;
  struct cpns_blockcache *bc = make(16, 16, 1 << 20, 10000);
  uint8_t body[2000];
  memset(body, 7, sizeof body);
  struct cpns_blockcache_key k = key(&sa, "limit=10");
  assert_int_equal(cpns_blockcache_put(bc, &k, 205, body, sizeof body, 42, 0), 0);
  struct cpns_blockcache_entry_view v;
  assert_true(cpns_blockcache_get(bc, &k, 1, &v));
  assert_int_equal(v.len, sizeof body);
  assert_int_equal(v.code, 205);
  assert_int_equal(v.etag, 42);
  assert_memory_equal(v.body, body, sizeof body);
  /* Each part of the key tells answers apart. */
  struct cpns_blockcache_key o = k;
  o.session = &sb;
  assert_false(cpns_blockcache_get(bc, &o, 1, &v));
  o = k;
  o.identity = "mp3-player";
  assert_false(cpns_blockcache_get(bc, &o, 1, &v));
  o = k;
  o.method = 2;
  assert_false(cpns_blockcache_get(bc, &o, 1, &v));
  o = k;
  o.path = "usage/summar";
  assert_false(cpns_blockcache_get(bc, &o, 1, &v));
  o = k;
  o.query = "limit=1";
  assert_false(cpns_blockcache_get(bc, &o, 1, &v));
  o = k;
  o.cf = 50;
  assert_false(cpns_blockcache_get(bc, &o, 1, &v));
  /* Strings are not run together: "phone" + "usage/summary" is not "phoneu" + "sage/summary". */
  o = k;
  o.identity = "phoneu";
  o.path = "sage/summary";
  assert_false(cpns_blockcache_get(bc, &o, 1, &v));
  /* A new answer under the same key replaces the old one. */
  body[0] = 9;
  assert_int_equal(cpns_blockcache_put(bc, &k, 205, body, 100, 43, 2), 0);
  assert_true(cpns_blockcache_get(bc, &k, 3, &v));
  assert_int_equal(v.len, 100);
  assert_int_equal(v.etag, 43);
  assert_int_equal(v.body[0], 9);
  struct cpns_blockcache_stats st;
  cpns_blockcache_get_stats(bc, &st);
  assert_int_equal(st.entries, 1);
  assert_int_equal(st.bytes, 100);
  assert_int_equal(st.hits, 2);
  assert_int_equal(st.misses, 7);
  cpns_blockcache_free(bc);
}

static void test_per_session(void **state) {
  (void)state;
  struct cpns_blockcache *bc = make(100, 3, 1 << 20, 10000);
  put(bc, &sa, "q=1", 2000, 0);
  put(bc, &sb, "q=1", 2000, 1);
  put(bc, &sa, "q=2", 2000, 2);
  put(bc, &sa, "q=3", 2000, 3); /* at the bound: 3 for sa */
  assert_true(has(bc, &sa, "q=1", 4)); /* q=1 now the most recently used of sa */
  put(bc, &sa, "q=4", 2000, 5); /* one past: sa's least recently used (q=2) goes */
  assert_false(has(bc, &sa, "q=2", 6));
  assert_true(has(bc, &sa, "q=1", 6));
  assert_true(has(bc, &sa, "q=3", 6));
  assert_true(has(bc, &sa, "q=4", 6));
  assert_true(has(bc, &sb, "q=1", 6)); /* another session's entry stays */
  struct cpns_blockcache_stats st;
  cpns_blockcache_get_stats(bc, &st);
  assert_int_equal(st.entries, 4);
  assert_int_equal(st.evicted, 1);
  cpns_blockcache_free(bc);
}

static void test_entries_and_bytes(void **state) {
  (void)state;
  struct cpns_blockcache *bc = make(3, 10, 10000, 10000);
  put(bc, &sa, "q=1", 3000, 0);
  put(bc, &sb, "q=1", 3000, 1);
  put(bc, &sc, "q=1", 3000, 2); /* 3 entries, 9000 bytes: at the entry bound */
  put(bc, &sc, "q=2", 100, 3);  /* one past: the oldest (sa) goes */
  assert_false(has(bc, &sa, "q=1", 4));
  assert_true(has(bc, &sb, "q=1", 4));
  put(bc, &sa, "q=3", 1, 5);    /* evicts sc q=1, the least recently used */
  assert_false(has(bc, &sc, "q=1", 6));
  /* Bytes: 3000 + 100 + 1 held; 4000 more would pass 10000 only after
   * evicting, by entries first (3 held). */
  put(bc, &sb, "q=4", 4000, 7);
  struct cpns_blockcache_stats st;
  cpns_blockcache_get_stats(bc, &st);
  assert_true(st.entries <= 3);
  assert_true(st.bytes <= 10000);
  assert_true(has(bc, &sb, "q=4", 8));
  cpns_blockcache_free(bc);

  /* Exactly the byte limit fits; one byte more is refused, not stored. */
  bc = make(10, 10, 4096, 10000);
  put(bc, &sa, "all", 4096, 0);
  assert_true(has(bc, &sa, "all", 1));
  uint8_t body[4097] = {0};
  struct cpns_blockcache_key k = key(&sa, "over");
  assert_int_equal(cpns_blockcache_put(bc, &k, 205, body, sizeof body, 1, 2), CPNS_ERR_TOOBIG);
  assert_false(has(bc, &sa, "over", 3));
  assert_true(has(bc, &sa, "all", 3));
  cpns_blockcache_free(bc);
}

static void test_age(void **state) {
  (void)state;
  struct cpns_blockcache *bc = make(10, 10, 1 << 20, 1000);
  put(bc, &sa, "q=1", 2000, 100);
  put(bc, &sa, "q=2", 2000, 600);
  assert_true(has(bc, &sa, "q=1", 1100)); /* exactly the age: still served */
  assert_false(has(bc, &sa, "q=1", 1101)); /* one past: dropped */
  cpns_blockcache_expire(bc, 1600);
  assert_true(has(bc, &sa, "q=2", 1600));
  cpns_blockcache_expire(bc, 1601);
  struct cpns_blockcache_stats st;
  cpns_blockcache_get_stats(bc, &st);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.expired, 2);
  cpns_blockcache_free(bc);
}

static void test_drop_session(void **state) {
  (void)state;
  struct cpns_blockcache *bc = make(10, 10, 1 << 20, 10000);
  put(bc, &sa, "q=1", 2000, 0);
  put(bc, &sb, "q=1", 2000, 0);
  put(bc, &sa, "q=2", 2000, 0);
  cpns_blockcache_drop_session(bc, &sa);
  cpns_blockcache_drop_session(bc, &sc); /* nothing kept for it */
  assert_false(has(bc, &sa, "q=1", 1));
  assert_false(has(bc, &sa, "q=2", 1));
  assert_true(has(bc, &sb, "q=1", 1));
  /* The session may come back (its address reused) and start afresh. */
  put(bc, &sa, "q=1", 10, 2);
  assert_true(has(bc, &sa, "q=1", 3));
  cpns_blockcache_drop_session(NULL, &sa);
  cpns_blockcache_free(bc);
  cpns_blockcache_free(NULL);
}

static void test_limits(void **state) {
  (void)state;
  struct cpns_blockcache *bc = make(0, 16, 1 << 20, 1000);
  uint8_t body[2000] = {0};
  struct cpns_blockcache_key k = key(&sa, "");
  assert_int_equal(cpns_blockcache_put(bc, &k, 205, body, sizeof body, 1, 0), CPNS_ERR_TOOBIG);
  assert_false(has(bc, &sa, "", 1));
  cpns_blockcache_free(bc);
  struct cpns_blockcache_limits bad = {-1, 16, 1, 1};
  bc = NULL;
  assert_int_equal(cpns_blockcache_new(&bad, &bc), CPNS_ERR_INVAL);
  assert_null(bc);
  assert_int_equal(cpns_blockcache_new(NULL, &bc), CPNS_ERR_INVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_slice),        cmocka_unit_test(test_szx_for),
      cmocka_unit_test(test_etag),         cmocka_unit_test(test_key_parts),
      cmocka_unit_test(test_per_session),  cmocka_unit_test(test_entries_and_bytes),
      cmocka_unit_test(test_age),          cmocka_unit_test(test_drop_session),
      cmocka_unit_test(test_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
