/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the typed enrollment, key and Service Group calls
 * (include/cpns/enroll.h, include/cpns/groups.h; lib/client_enroll.c,
 * lib/client_groups.c) without a peer: every invalid argument is refused
 * before anything is sent and leaves the caller's secret buffers zeroed; the
 * answer decoders (lib/client_api.h) accept the answers the daemons send and
 * refuse malformed ones (types, ranges, lengths, ids, members naming
 * something else, too many rows, too long a text); and sealing and opening
 * through the public key type round-trip, with expiry, epoch, group, aad and
 * tampering refused. The calls against live daemons are in
 * tests/integration/test_c_api_groups.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <cpns/client.h>
#include <cpns/enroll.h>
#include <cpns/groups.h>

#include "client_api.h"
#include "groupkey.h"

#define KEY_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define CODE "w5ftryhwqpq55e77o23nuysdxe"

static bool all_zero(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return false;
  return true;
}

/* A client on a port nobody serves (the integration test's range): the
 * calls below must fail before they send anything. */
static cpns_client_t *offline_client(void) {
  cpns_client_config_t cfg = CPNS_CLIENT_CONFIG_INIT;
  cfg.uri = "coap://127.0.0.1:39699";
  cfg.timeout_ms = 200;
  cpns_client_t *c = NULL;
  assert_int_equal(cpns_client_new(&cfg, &c), 0);
  return c;
}

static void test_bad_arguments(void **state) {
  (void)state;
  cpns_client_t *c = offline_client();
  char long_id[CPNS_ID_MAX + 2];
  memset(long_id, 'a', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  char id58[CPNS_ENROLL_ID_MAX + 2];
  memset(id58, 'b', sizeof id58 - 1);
  id58[sizeof id58 - 1] = '\0';
  char id57[CPNS_ENROLL_ID_MAX + 1];
  memset(id57, 'b', sizeof id57 - 1);
  id57[sizeof id57 - 1] = '\0';

  char code[CPNS_ENROLL_CODE_LEN + 1];
  const char *bad_ids[] = {NULL, "", "a b", "a/b", "x?y", "ü", long_id};
  for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
    const char *b = bad_ids[i];
    memset(code, 'x', sizeof code);
    assert_int_equal(cpns_enrollment_create(c, b, "home", "pne", 0, code), CPNS_ERR_INVAL);
    assert_true(all_zero(code, sizeof code));
    assert_int_equal(cpns_enrollment_create(c, "tablet", b, "pne", 0, code), CPNS_ERR_INVAL);
    uint8_t key[CPNS_PSK_LEN];
    memset(key, 0xaa, sizeof key);
    assert_int_equal(cpns_key_rotate(c, b, key, NULL), CPNS_ERR_INVAL);
    assert_true(all_zero(key, sizeof key));
    assert_int_equal(cpns_key_revoke(c, b), CPNS_ERR_INVAL);
    assert_int_equal(cpns_group_create(c, b, false), CPNS_ERR_INVAL);
    assert_int_equal(cpns_group_delete(c, b), CPNS_ERR_INVAL);
    assert_int_equal(cpns_group_invite(c, b, "gw-b"), CPNS_ERR_INVAL);
    assert_int_equal(cpns_group_invite(c, "fam", b), CPNS_ERR_INVAL);
    assert_int_equal(cpns_group_join(c, b, "gw-b"), CPNS_ERR_INVAL);
    assert_int_equal(cpns_group_join(c, "fam", b), CPNS_ERR_INVAL);
    assert_int_equal(cpns_group_leave(c, "fam", b), CPNS_ERR_INVAL);
    assert_int_equal(cpns_group_expel(c, b, "gw-b"), CPNS_ERR_INVAL);
    cpns_group_t *g = (cpns_group_t *)&g;
    assert_int_equal(cpns_group_get(c, b, &g), CPNS_ERR_INVAL);
    assert_null(g);
    cpns_group_key_t k;
    memset(&k, 0xaa, sizeof k);
    assert_int_equal(cpns_group_key_get(c, b, &k), CPNS_ERR_INVAL);
    assert_true(all_zero(&k, sizeof k));
  }
  /* enrollment: id length, enrollment identities, role, ttl */
  assert_int_equal(cpns_enrollment_create(c, id58, "home", "pne", 0, code), CPNS_ERR_INVAL);
  assert_int_equal(cpns_enrollment_create(c, "enroll.x", "home", "pne", 0, code), CPNS_ERR_INVAL);
  assert_int_equal(cpns_enrollment_create(c, "tablet", "home", "admin", 0, code), CPNS_ERR_INVAL);
  assert_int_equal(cpns_enrollment_create(c, "tablet", "home", "", 0, code), CPNS_ERR_INVAL);
  assert_int_equal(cpns_enrollment_create(c, "tablet", "home", "pne", CPNS_ENROLL_TTL_MAX + 1, code),
                   CPNS_ERR_INVAL);
  assert_int_equal(cpns_enrollment_create(c, "tablet", "home", "pne", 0, NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_enrollment_create(NULL, "tablet", "home", "pne", 0, code), CPNS_ERR_INVAL);
  (void)id57; /* 57 bytes are valid: they would be sent (not here: no peer) */
  /* NULL clients and out arguments */
  assert_int_equal(cpns_key_rotate(c, "tablet", NULL, NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_key_revoke(NULL, "tablet"), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_create(NULL, "fam", true), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_get(c, "fam", NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_key_get(c, "fam", NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_key_get(NULL, "fam", NULL), CPNS_ERR_INVAL);
  /* nothing was sent: no status, no error */
  assert_int_equal(cpns_client_status(c), 0);
  assert_string_equal(cpns_client_error(c), "");
  cpns_group_free(NULL);
  cpns_group_key_cleanup(NULL);
  cpns_client_free(c);
}

static void test_decode_code(void **state) {
  (void)state;
  char code[CPNS_ENROLL_CODE_LEN + 1];
  const char *good = "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"home\",\"code\":\"" CODE
                     "\",\"expires\":1795727370,\"later\":[1]}";
  assert_int_equal(client_enroll__decode_code(good, "tablet", "home", "pne", code), 0);
  assert_string_equal(code, CODE);

  memset(code, 0, sizeof code);
  const char *bad[] = {
      NULL,
      "",
      "[]",
      "{\"id\":\"tablet\"",
      /* other id, pn or role than asked */
      "{\"id\":\"phone\",\"role\":\"pne\",\"pn\":\"home\",\"code\":\"" CODE "\",\"expires\":1}",
      "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"work\",\"code\":\"" CODE "\",\"expires\":1}",
      "{\"id\":\"tablet\",\"role\":\"gw\",\"pn\":\"home\",\"code\":\"" CODE "\",\"expires\":1}",
      /* the code: length, alphabet, type */
      "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"home\",\"code\":\"w5ftryhwqpq55e77o23nuysdx\",\"expires\":1}",
      "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"home\",\"code\":\"w5ftryhwqpq55e77o23nuysdxee\",\"expires\":1}",
      "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"home\",\"code\":\"W5ftryhwqpq55e77o23nuysdxe\",\"expires\":1}",
      "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"home\",\"code\":\"w5ftryhwqpq55e77o23nuysdx1\",\"expires\":1}",
      "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"home\",\"code\":12,\"expires\":1}",
      "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"home\",\"expires\":1}",
      /* expires: missing, negative, not an integer */
      "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"home\",\"code\":\"" CODE "\"}",
      "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"home\",\"code\":\"" CODE "\",\"expires\":-1}",
      "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"home\",\"code\":\"" CODE "\",\"expires\":1.5}",
      /* a duplicate member */
      "{\"id\":\"tablet\",\"role\":\"pne\",\"pn\":\"home\",\"code\":\"" CODE "\",\"code\":\"" CODE
      "\",\"expires\":1}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(client_enroll__decode_code(bad[i], "tablet", "home", "pne", code),
                     CPNS_ERR_PROTO);
    assert_true(all_zero(code, sizeof code)); /* written only on success */
  }
}

static void test_decode_rotated_key(void **state) {
  (void)state;
  uint8_t key[CPNS_PSK_LEN];
  uint32_t gen = 0;
  assert_int_equal(client_enroll__decode_key("{\"identity\":\"camera\",\"role\":\"pne\",\"pn\":\"home\","
                                             "\"key\":\"" KEY_HEX "\",\"generation\":2}",
                                             "camera", key, &gen),
                   0);
  assert_int_equal(gen, 2);
  assert_int_equal(key[0], 0x00);
  assert_int_equal(key[1], 0x11);
  assert_int_equal(key[31], 0xff);
  assert_int_equal(client_enroll__decode_key("{\"identity\":\"camera\",\"role\":\"pne\",\"pn\":\"\","
                                             "\"key\":\"" KEY_HEX "\",\"generation\":4294967295}",
                                             "camera", key, NULL),
                   0);
  memset(key, 0, sizeof key);
  gen = 7;
  const char *bad[] = {
      "{\"identity\":\"phone\",\"role\":\"pne\",\"pn\":\"home\",\"key\":\"" KEY_HEX "\",\"generation\":2}",
      "{\"role\":\"pne\",\"pn\":\"home\",\"key\":\"" KEY_HEX "\",\"generation\":2}",
      "{\"identity\":\"camera\",\"role\":\"pne\",\"pn\":\"home\",\"key\":\"" KEY_HEX "0\",\"generation\":2}",
      "{\"identity\":\"camera\",\"role\":\"pne\",\"pn\":\"home\",\"key\":\"0" KEY_HEX "\",\"generation\":2}",
      "{\"identity\":\"camera\",\"role\":\"pne\",\"pn\":\"home\",\"key\":\"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\",\"generation\":2}",
      "{\"identity\":\"camera\",\"role\":\"pne\",\"pn\":\"home\",\"generation\":2}",
      "{\"identity\":\"camera\",\"role\":\"pne\",\"pn\":\"home\",\"key\":\"" KEY_HEX "\",\"generation\":0}",
      "{\"identity\":\"camera\",\"role\":\"pne\",\"pn\":\"home\",\"key\":\"" KEY_HEX "\",\"generation\":4294967296}",
      "{\"identity\":\"camera\",\"role\":\"pne\",\"pn\":\"home\",\"key\":\"" KEY_HEX "\",\"generation\":\"2\"}",
      "{\"identity\":\"camera\",\"role\":1,\"pn\":\"home\",\"key\":\"" KEY_HEX "\",\"generation\":2}",
      "{\"identity\":\"camera\",\"role\":\"pne\",\"key\":\"" KEY_HEX "\",\"generation\":2}",
      "\"" KEY_HEX "\"",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(client_enroll__decode_key(bad[i], "camera", key, &gen), CPNS_ERR_PROTO);
    assert_true(all_zero(key, sizeof key));
    assert_int_equal(gen, 7);
  }
}

#define GROUP_OK                                                                              \
  "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,"           \
  "\"created\":1700000000,\"scope\":\"here\",\"members\":[{\"id\":\"gw-a\",\"pn\":\"a\"," \
  "\"state\":\"member\"},{\"id\":\"gw-c\",\"pn\":\"\",\"state\":\"invited\"}]}"

static void test_decode_group(void **state) {
  (void)state;
  cpns_group_t *g = NULL;
  assert_int_equal(client_groups__decode_group(GROUP_OK, "fam", &g), 0);
  assert_string_equal(g->id, "fam");
  assert_string_equal(g->owner, "gw-a");
  assert_string_equal(g->pn, "a");
  assert_string_equal(g->scope, "here");
  assert_false(g->open);
  assert_int_equal(g->epoch, 2);
  assert_int_equal(g->created, 1700000000);
  assert_int_equal(g->count, 2);
  assert_string_equal(g->members[0].id, "gw-a");
  assert_string_equal(g->members[0].state, "member");
  assert_string_equal(g->members[1].pn, "");
  assert_string_equal(g->members[1].state, "invited");
  cpns_group_free(g);

  /* no members; an operator's group has no PN; a replica */
  g = NULL;
  assert_int_equal(client_groups__decode_group("{\"id\":\"x\",\"owner\":\"admin\",\"pn\":\"\",\"open\":true,"
                                               "\"epoch\":1,\"created\":0,\"scope\":\"server\","
                                               "\"members\":[]}",
                                               "x", &g),
                   0);
  assert_true(g->open);
  assert_int_equal(g->count, 0);
  cpns_group_free(g);

  /* the largest group, and one row more */
  size_t cap = 64 + (CPNS_GROUP_MEMBERS_MAX + 1) * 48;
  char *big = malloc(cap);
  assert_non_null(big);
  for (int extra = 0; extra <= 1; extra++) {
    size_t n = (size_t)snprintf(big, cap, "{\"id\":\"big\",\"owner\":\"m0\",\"pn\":\"p\",\"open\":true,"
                                          "\"epoch\":9,\"created\":1,\"scope\":\"here\",\"members\":[");
    for (int i = 0; i < CPNS_GROUP_MEMBERS_MAX + extra; i++)
      n += (size_t)snprintf(big + n, cap - n, "%s{\"id\":\"m%d\",\"pn\":\"p\",\"state\":\"member\"}",
                            i ? "," : "", i);
    snprintf(big + n, cap - n, "]}");
    g = NULL;
    assert_int_equal(client_groups__decode_group(big, "big", &g), extra ? CPNS_ERR_PROTO : 0);
    if (!extra) assert_int_equal(g->count, CPNS_GROUP_MEMBERS_MAX);
    cpns_group_free(g);
  }
  free(big);

  char long_id[CPNS_ID_MAX + 2];
  memset(long_id, 'a', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  char with_long[512];
  snprintf(with_long, sizeof with_long,
           "{\"id\":\"fam\",\"owner\":\"%s\",\"pn\":\"a\",\"open\":false,\"epoch\":2,"
           "\"created\":1,\"scope\":\"here\",\"members\":[]}",
           long_id);
  const char *bad[] = {
      with_long,
      /* another group than asked */
      "{\"id\":\"other\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":1,"
      "\"scope\":\"here\",\"members\":[]}",
      /* each required member missing or of the wrong type */
      "{\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":1,\"scope\":\"here\","
      "\"members\":[]}",
      "{\"id\":\"fam\",\"owner\":\"\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":1,"
      "\"scope\":\"here\",\"members\":[]}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a b\",\"open\":false,\"epoch\":2,\"created\":1,"
      "\"scope\":\"here\",\"members\":[]}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":0,\"epoch\":2,\"created\":1,"
      "\"scope\":\"here\",\"members\":[]}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":-1,\"created\":1,"
      "\"scope\":\"here\",\"members\":[]}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":4294967296,"
      "\"created\":1,\"scope\":\"here\",\"members\":[]}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":-5,"
      "\"scope\":\"here\",\"members\":[]}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":1,"
      "\"scope\":\"everywhere\",\"members\":[]}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":1,"
      "\"scope\":\"here\"}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":1,"
      "\"scope\":\"here\",\"members\":{}}",
      /* bad rows */
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":1,"
      "\"scope\":\"here\",\"members\":[\"gw-a\"]}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":1,"
      "\"scope\":\"here\",\"members\":[{\"id\":\"gw-a\",\"pn\":\"a\",\"state\":\"owner\"}]}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":1,"
      "\"scope\":\"here\",\"members\":[{\"id\":\"\",\"pn\":\"a\",\"state\":\"member\"}]}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":1,"
      "\"scope\":\"here\",\"members\":[{\"id\":\"gw-a\",\"state\":\"member\"}]}",
      "{\"id\":\"fam\",\"owner\":\"gw-a\",\"pn\":\"a\",\"open\":false,\"epoch\":2,\"created\":1,"
      "\"scope\":\"here\",\"members\":[{\"id\":\"gw-a\",\"pn\":\"a\",\"state\":\"memberrrrrrrrrrrrrrrr\"}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    g = (cpns_group_t *)&g;
    assert_int_equal(client_groups__decode_group(bad[i], "fam", &g), CPNS_ERR_PROTO);
    assert_ptr_equal(g, (cpns_group_t *)&g); /* untouched */
  }
}

static void test_decode_group_key(void **state) {
  (void)state;
  struct cpns_group_key p;
  assert_int_equal(cpns_group_key_new("fam", 3, 0, &p), 0);
  json_t *j = cpns_group_key_to_json(&p);
  char *text = json_dumps(j, JSON_INDENT(2));
  cpns_group_key_t k;
  assert_int_equal(client_groups__decode_key(text, "fam", &k), 0);
  assert_string_equal(k.group, "fam");
  assert_int_equal(k.epoch, 3);
  assert_int_equal(k.expires, 0);
  assert_memory_equal(k.key, p.key, CPNS_GROUP_KEY_LEN);
  /* a key of another group than asked */
  memset(&k, 0, sizeof k);
  assert_int_equal(client_groups__decode_key(text, "other", &k), CPNS_ERR_PROTO);
  assert_true(all_zero(&k, sizeof k));
  free(text);
  /* an extra member, a short key */
  json_object_set_new(j, "extra", json_true());
  text = json_dumps(j, 0);
  assert_int_equal(client_groups__decode_key(text, "fam", &k), CPNS_ERR_PROTO);
  free(text);
  json_object_del(j, "extra");
  json_object_set_new(j, "key", json_string("AAAA"));
  text = json_dumps(j, 0);
  assert_int_equal(client_groups__decode_key(text, "fam", &k), CPNS_ERR_PROTO);
  assert_true(all_zero(&k, sizeof k));
  free(text);
  json_decref(j);
  cpns_group_key_wipe(&p);
}

static void test_answer_bounds(void **state) {
  (void)state;
  /* A text above the limit is refused before it is parsed. */
  size_t n = CLIENT_ANSWER_TEXT_MAX + 16;
  char *t = malloc(n + 1);
  assert_non_null(t);
  memset(t, ' ', n);
  memcpy(t, "{\"id\":\"fam\"}", 12);
  t[n] = '\0';
  json_t *v = NULL;
  assert_int_equal(client_api__parse(t, &v), CPNS_ERR_PROTO);
  assert_null(v);
  t[CLIENT_ANSWER_TEXT_MAX] = '\0';
  assert_int_equal(client_api__parse(t, &v), 0);
  json_decref(v);
  free(t);
  assert_int_equal(client_api__parse("{\"a\":\"x\\u0000y\"}", &v), CPNS_ERR_PROTO);
  assert_true(client_api__id_ok("a.b-c_D9"));
  assert_false(client_api__id_ok(NULL));
}

static cpns_group_key_t make_key(const char *group, uint32_t epoch, int64_t expires) {
  cpns_group_key_t k;
  memset(&k, 0, sizeof k);
  snprintf(k.group, sizeof k.group, "%s", group);
  k.epoch = epoch;
  k.expires = expires;
  for (size_t i = 0; i < sizeof k.key; i++) k.key[i] = (uint8_t)(i * 7 + epoch);
  return k;
}

static void test_seal_open(void **state) {
  (void)state;
  cpns_group_key_t k = make_key("fam", 2, 0);
  const uint8_t msg[] = "hello, group";
  const uint8_t aad[] = "coap:/g/fam";
  uint8_t *sealed = NULL, *pt = NULL;
  size_t slen = 0, plen = 0;
  assert_int_equal(cpns_group_key_seal(&k, aad, sizeof aad, msg, sizeof msg, &sealed, &slen), 0);
  assert_int_equal(slen, CPNS_GROUP_SEALED_OVERHEAD(3) + sizeof msg);
  char group[CPNS_ID_MAX + 1];
  uint32_t epoch = 0;
  assert_int_equal(cpns_group_message_info(sealed, slen, group, &epoch), 0);
  assert_string_equal(group, "fam");
  assert_int_equal(epoch, 2);
  assert_int_equal(cpns_group_key_open(&k, aad, sizeof aad, sealed, slen, &pt, &plen), 0);
  assert_int_equal(plen, sizeof msg);
  assert_memory_equal(pt, msg, sizeof msg);
  cpns_free(pt);

  /* the wrong aad; a key of the next epoch, of another group, other bytes */
  assert_int_equal(cpns_group_key_open(&k, NULL, 0, sealed, slen, &pt, &plen), CPNS_ERR_CRYPTO);
  assert_null(pt);
  assert_int_equal(plen, 0);
  cpns_group_key_t next = make_key("fam", 3, 0);
  assert_int_equal(cpns_group_key_open(&next, aad, sizeof aad, sealed, slen, &pt, &plen),
                   CPNS_ERR_DENIED);
  cpns_group_key_t other = make_key("club", 2, 0);
  assert_int_equal(cpns_group_key_open(&other, aad, sizeof aad, sealed, slen, &pt, &plen),
                   CPNS_ERR_DENIED);
  cpns_group_key_t wrong = k;
  wrong.key[5] ^= 1;
  assert_int_equal(cpns_group_key_open(&wrong, aad, sizeof aad, sealed, slen, &pt, &plen),
                   CPNS_ERR_CRYPTO);
  /* a flipped ciphertext byte; a truncated message; garbage */
  sealed[slen - 20] ^= 0x40;
  assert_int_equal(cpns_group_key_open(&k, aad, sizeof aad, sealed, slen, &pt, &plen),
                   CPNS_ERR_CRYPTO);
  sealed[slen - 20] ^= 0x40;
  assert_int_equal(cpns_group_key_open(&k, aad, sizeof aad, sealed, 10, &pt, &plen), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_message_info(sealed, 3, group, &epoch), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_message_info((const uint8_t *)"\x02xyz", 4, group, &epoch),
                   CPNS_ERR_INVAL);
  cpns_free(sealed);

  /* an empty plaintext */
  assert_int_equal(cpns_group_key_seal(&k, NULL, 0, NULL, 0, &sealed, &slen), 0);
  assert_int_equal(cpns_group_key_open(&k, NULL, 0, sealed, slen, &pt, &plen), 0);
  assert_non_null(pt);
  assert_int_equal(plen, 0);
  cpns_free(pt);

  /* expiry: a key past it neither seals nor opens */
  cpns_group_key_t old = k;
  old.expires = (int64_t)time(NULL) - 1;
  uint8_t *s2 = (uint8_t *)&s2;
  size_t l2 = 99;
  assert_int_equal(cpns_group_key_seal(&old, NULL, 0, msg, sizeof msg, &s2, &l2), CPNS_ERR_DENIED);
  assert_null(s2);
  assert_int_equal(l2, 0);
  assert_int_equal(cpns_group_key_open(&old, NULL, 0, sealed, slen, &pt, &plen), CPNS_ERR_DENIED);
  cpns_group_key_t later = k;
  later.expires = (int64_t)time(NULL) + 3600;
  assert_int_equal(cpns_group_key_open(&later, NULL, 0, sealed, slen, &pt, &plen), 0);
  cpns_free(pt);
  cpns_free(sealed);

  /* bad arguments and limits */
  cpns_group_key_t nogroup = k;
  nogroup.group[0] = '\0';
  assert_int_equal(cpns_group_key_seal(&nogroup, NULL, 0, msg, 1, &s2, &l2), CPNS_ERR_INVAL);
  cpns_group_key_t unterminated = k;
  memset(unterminated.group, 'a', sizeof unterminated.group);
  assert_int_equal(cpns_group_key_seal(&unterminated, NULL, 0, msg, 1, &s2, &l2), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_key_seal(NULL, NULL, 0, msg, 1, &s2, &l2), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_key_seal(&k, NULL, 0, NULL, 1, &s2, &l2), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_key_seal(&k, NULL, 3, msg, 1, &s2, &l2), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_key_seal(&k, NULL, 0, msg, 1, NULL, &l2), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_key_seal(&k, NULL, 0, msg, CPNS_GROUP_CONTENT_MAX + 1, &s2, &l2),
                   CPNS_ERR_TOOBIG);
  assert_int_equal(cpns_group_key_open(&k, NULL, 0, NULL, 40, &pt, &plen), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_key_open(NULL, NULL, 0, msg, sizeof msg, &pt, &plen), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_message_info(NULL, 0, group, &epoch), CPNS_ERR_INVAL);

  cpns_group_key_cleanup(&k);
  assert_true(all_zero(&k, sizeof k));
  cpns_group_key_cleanup(&next);
  cpns_group_key_cleanup(&other);
  cpns_group_key_cleanup(&wrong);
  cpns_group_key_cleanup(&old);
  cpns_group_key_cleanup(&later);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_arguments),    cmocka_unit_test(test_decode_code),
      cmocka_unit_test(test_decode_rotated_key), cmocka_unit_test(test_decode_group),
      cmocka_unit_test(test_decode_group_key), cmocka_unit_test(test_answer_bounds),
      cmocka_unit_test(test_seal_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
