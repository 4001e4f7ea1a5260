/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/client_usage.c, the usage statistics calls of the C API
 * (include/cpns/usage.h): the answer decoders fed good and malformed
 * answers (each bound at its limit and one past it), the query builder,
 * and the arguments a call refuses before it sends anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_usage.h"
#include "node.h"

static void test_recorded(void **state) {
  (void)state;
  bool r = false;
  assert_int_equal(client_usage__decode_recorded("{\"id\":\"ab\",\"reported\":true}", &r), 0);
  assert_true(r);
  assert_int_equal(client_usage__decode_recorded("{\"reported\":false}", &r), 0);
  assert_false(r);
  r = true;
  assert_int_equal(client_usage__decode_recorded("{\"reported\":1}", &r), CPNS_ERR_PROTO);
  assert_int_equal(client_usage__decode_recorded("{}", &r), CPNS_ERR_PROTO);
  assert_int_equal(client_usage__decode_recorded("[true]", &r), CPNS_ERR_PROTO);
  assert_int_equal(client_usage__decode_recorded(NULL, &r), CPNS_ERR_PROTO);
  assert_true(r); /* untouched */
}

static void test_prefs(void **state) {
  (void)state;
  cpns_usage_prefs_t *p = NULL;
  assert_int_equal(client_usage__decode_prefs("{\"default\":\"deny\",\"default_set\":true,\"services\":"
                                              "{\"radio\":\"allow\",\"iptv\":\"deny\",\"game\":\"allow\"},"
                                              "\"later\":1}",
                                              &p),
                   0);
  assert_false(p->default_allow);
  assert_true(p->default_set);
  assert_int_equal(p->count, 3);
  assert_string_equal(p->services[0].service, "game"); /* ordered */
  assert_string_equal(p->services[1].service, "iptv");
  assert_false(p->services[1].allow);
  assert_string_equal(p->services[2].service, "radio");
  cpns_usage_prefs_free(p);
  static const char *const bad[] = {
      "{\"default\":\"allow\",\"services\":{}}",                         /* no default_set */
      "{\"default\":\"maybe\",\"default_set\":true,\"services\":{}}",
      "{\"default\":\"allow\",\"default_set\":true,\"services\":[]}",
      "{\"default\":\"allow\",\"default_set\":true,\"services\":{\"a b\":\"allow\"}}",
      "{\"default\":\"allow\",\"default_set\":true,\"services\":{\"tv\":true}}",
      "not json",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    p = (cpns_usage_prefs_t *)0x1;
    if (client_usage__decode_prefs(bad[i], &p) != CPNS_ERR_PROTO) fail_msg("accepted %s", bad[i]);
    assert_ptr_equal(p, (cpns_usage_prefs_t *)0x1);
  }
  /* the bound, and one past it */
  size_t cap = 128 + (CPNS_USAGE_PREFS_MAX + 1) * 24;
  char *text = malloc(cap);
  assert_non_null(text);
  for (int extra = 0; extra <= 1; extra++) {
    size_t used = (size_t)snprintf(text, cap, "{\"default\":\"allow\",\"default_set\":false,\"services\":{");
    for (int i = 0; i < CPNS_USAGE_PREFS_MAX + extra; i++)
      used += (size_t)snprintf(text + used, cap - used, "%s\"s%04d\":\"deny\"", i ? "," : "", i);
    snprintf(text + used, cap - used, "}}");
    int rc = client_usage__decode_prefs(text, &p);
    assert_int_equal(rc, extra ? CPNS_ERR_PROTO : 0);
    if (!rc) {
      assert_int_equal(p->count, CPNS_USAGE_PREFS_MAX);
      cpns_usage_prefs_free(p);
    }
  }
  free(text);
  cpns_usage_prefs_free(NULL);
}

static void test_summary(void **state) {
  (void)state;
  cpns_usage_summary_t *s = NULL;
  const char *ok = "{\"by\":\"day\",\"from\":\"2026-11-01\",\"to\":\"2026-11-30\",\"truncated\":true,"
                   "\"pn\":\"home\",\"rows\":[{\"key\":\"2026-11-02\",\"records\":2,\"seconds\":60,"
                   "\"bytes_in\":5,\"bytes_out\":6},{\"key\":\"2026-11-03\",\"records\":1,\"seconds\":"
                   "1,\"bytes_in\":0,\"bytes_out\":0}]}";
  assert_int_equal(client_usage__decode_summary(ok, CPNS_USAGE_BY_DAY, &s), 0);
  assert_int_equal(s->count, 2);
  assert_true(s->truncated);
  assert_string_equal(s->from, "2026-11-01");
  assert_string_equal(s->rows[0].key, "2026-11-02");
  assert_int_equal(s->rows[0].records, 2);
  assert_int_equal(s->rows[0].seconds, 60);
  assert_int_equal(s->rows[0].bytes_out, 6);
  cpns_usage_summary_free(s);
  /* answered for another grouping than asked */
  s = NULL;
  assert_int_equal(client_usage__decode_summary(ok, CPNS_USAGE_BY_SERVICE, &s), CPNS_ERR_PROTO);
  assert_null(s);
  static const char *const bad[] = {
      /* a key that is not a day */
      "{\"by\":\"day\",\"from\":\"2026-11-01\",\"to\":\"2026-11-30\",\"truncated\":false,\"rows\":"
      "[{\"key\":\"game\",\"records\":1,\"seconds\":1,\"bytes_in\":0,\"bytes_out\":0}]}",
      /* out of order */
      "{\"by\":\"day\",\"from\":\"2026-11-01\",\"to\":\"2026-11-30\",\"truncated\":false,\"rows\":"
      "[{\"key\":\"2026-11-03\",\"records\":1,\"seconds\":1,\"bytes_in\":0,\"bytes_out\":0},"
      "{\"key\":\"2026-11-02\",\"records\":1,\"seconds\":1,\"bytes_in\":0,\"bytes_out\":0}]}",
      /* a negative total */
      "{\"by\":\"day\",\"from\":\"2026-11-01\",\"to\":\"2026-11-30\",\"truncated\":false,\"rows\":"
      "[{\"key\":\"2026-11-03\",\"records\":-1,\"seconds\":1,\"bytes_in\":0,\"bytes_out\":0}]}",
      /* a missing total */
      "{\"by\":\"day\",\"from\":\"2026-11-01\",\"to\":\"2026-11-30\",\"truncated\":false,\"rows\":"
      "[{\"key\":\"2026-11-03\",\"records\":1,\"seconds\":1,\"bytes_in\":0}]}",
      /* a bad day */
      "{\"by\":\"day\",\"from\":\"2026-11-31\",\"to\":\"2026-11-30\",\"truncated\":false,\"rows\":[]}",
      "{\"by\":\"day\",\"from\":\"2026-11-01\",\"to\":\"2026-11-30\",\"rows\":[]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (client_usage__decode_summary(bad[i], CPNS_USAGE_BY_DAY, &s) != CPNS_ERR_PROTO)
      fail_msg("accepted %s", bad[i]);
  /* rows at the bound and one past it */
  size_t cap = 256 + (CPNS_USAGE_ROWS_MAX + 1) * 96;
  char *text = malloc(cap);
  assert_non_null(text);
  for (int extra = 0; extra <= 1; extra++) {
    size_t used = (size_t)snprintf(text, cap, "{\"by\":\"service\",\"from\":\"2026-11-01\",\"to\":"
                                              "\"2026-11-30\",\"truncated\":false,\"rows\":[");
    for (int i = 0; i < CPNS_USAGE_ROWS_MAX + extra; i++)
      used += (size_t)snprintf(text + used, cap - used,
                               "%s{\"key\":\"s%05d\",\"records\":1,\"seconds\":1,\"bytes_in\":1,"
                               "\"bytes_out\":1}",
                               i ? "," : "", i);
    snprintf(text + used, cap - used, "]}");
    int rc = client_usage__decode_summary(text, CPNS_USAGE_BY_SERVICE, &s);
    assert_int_equal(rc, extra ? CPNS_ERR_PROTO : 0);
    if (!rc) {
      assert_int_equal(s->count, CPNS_USAGE_ROWS_MAX);
      cpns_usage_summary_free(s);
    }
  }
  free(text);
}

static void test_query(void **state) {
  (void)state;
  char q[CPNS_QUERY_MAX + 1];
  cpns_usage_query_t u;
  memset(&u, 0, sizeof u);
  assert_int_equal(client_usage__query(&u, q, sizeof q), 0);
  assert_string_equal(q, "by=service");
  u.by = CPNS_USAGE_BY_DAY;
  u.pn = "home";
  u.service = "";
  u.from = "2026-11-01";
  u.limit = 7;
  assert_int_equal(client_usage__query(&u, q, sizeof q), 0);
  assert_string_equal(q, "by=day&pn=home&from=2026-11-01&limit=7");
  u.to = "2026-02-30";
  assert_int_equal(client_usage__query(&u, q, sizeof q), CPNS_ERR_INVAL);
  u.to = NULL;
  u.entity = "a/b";
  assert_int_equal(client_usage__query(&u, q, sizeof q), CPNS_ERR_INVAL);
  u.entity = NULL;
  u.limit = CPNS_USAGE_ROWS_MAX + 1;
  assert_int_equal(client_usage__query(&u, q, sizeof q), CPNS_ERR_INVAL);
  u.limit = 0;
  u.by = (cpns_usage_by_t)9;
  assert_int_equal(client_usage__query(&u, q, sizeof q), CPNS_ERR_INVAL);
  /* every filter at its longest does not fit one CoAP query */
  char id[CPNS_ID_MAX + 1];
  memset(id, 'i', CPNS_ID_MAX);
  id[CPNS_ID_MAX] = '\0';
  cpns_usage_query_t big = {CPNS_USAGE_BY_ENTITY, id, id, id, "2026-01-01", "2026-01-02", 1000};
  assert_int_equal(client_usage__query(&big, q, sizeof q), CPNS_ERR_TOOBIG);
}

static void test_refused_before_sending(void **state) {
  (void)state;
  /* No client is needed: each call checks its arguments first. */
  cpns_usage_record_t r;
  cpns_usage_record_init(&r);
  assert_int_equal(r.device.battery, -1);
  assert_int_equal(cpns_usage_record(NULL, &r, NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_pref_set(NULL, "game", true), CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_prefs_get(NULL, NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_summary_get(NULL, NULL, NULL), CPNS_ERR_INVAL);
  assert_string_equal(cpns_usage_by_name(CPNS_USAGE_BY_ENTITY), "entity");
  cpns_usage_summary_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_recorded), cmocka_unit_test(test_prefs), cmocka_unit_test(test_summary),
      cmocka_unit_test(test_query), cmocka_unit_test(test_refused_before_sending),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
