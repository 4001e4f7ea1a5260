/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/usage.c: usage records (spec 5.5.4) in their three
 * forms decoded strictly (each limit at its bound and one past it, every
 * class of bad input), batches, device snapshots, the user's preferences,
 * summary queries and the calendar of summaries per day. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "usage.h"

/* Test inputs are built with snprintf from strings made to each limit and
 * one past it; a cut would show as a failed check. GCC's -O2/-O3 truncation
 * warning cannot see the lengths and would make that an error. */
#if defined(__GNUC__) && !defined(__clang__) /* clang has no such warning */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

static json_t *parse(const char *text) {
  json_error_t je;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
  if (!v) fail_msg("bad test JSON '%s': %s", text, je.text);
  return v;
}

static int decode_text(const char *text, enum cpns_usage_form form, struct cpns_usage_rec *r,
                       char *err, size_t errlen) {
  json_t *v = parse(text);
  int rc = cpns_usage_decode(v, form, r, err, errlen);
  json_decref(v);
  return rc;
}

static void expect_refused(const char *text, enum cpns_usage_form form, int code, const char *why) {
  struct cpns_usage_rec r;
  cpns_usage_rec_init(&r);
  snprintf(r.service, sizeof r.service, "untouched");
  char err[160] = "";
  int rc = decode_text(text, form, &r, err, sizeof err);
  if (rc != code) fail_msg("'%s': got %d, want %d (%s)", text, rc, code, err);
  if (!strstr(err, why)) fail_msg("'%s': reason '%s' lacks '%s'", text, err, why);
  assert_string_equal(r.service, "untouched");
}

static const char *rep(char c, size_t n) {
  static char buf[2048];
  assert_true(n < sizeof buf);
  memset(buf, c, n);
  buf[n] = '\0';
  return buf;
}

static void test_decode_app(void **state) {
  (void)state;
  struct cpns_usage_rec r;
  char err[160] = "";
  assert_int_equal(decode_text("{\"service\":\"game\",\"start\":1000,\"stop\":1600,\"bytes_in\":5,"
                               "\"bytes_out\":7,\"device\":{\"type\":\"phone\",\"battery\":80,"
                               "\"charging\":false,\"network\":\"wifi\",\"state\":\"busy\"}}",
                               CPNS_USAGE_FROM_APP, &r, err, sizeof err),
                   0);
  assert_string_equal(r.service, "game");
  assert_int_equal(r.start, 1000);
  assert_int_equal(r.stop, 1600);
  assert_int_equal(r.bytes_in, 5);
  assert_int_equal(r.bytes_out, 7);
  assert_string_equal(r.device.type, "phone");
  assert_int_equal(r.device.battery, 80);
  assert_int_equal(r.device.charging, 0);
  assert_string_equal(r.device.network, "wifi");
  assert_string_equal(r.device.state, "busy");
  assert_string_equal(r.rid, "");
  /* the minimum: bytes and device optional, unknown device fields unknown */
  assert_int_equal(decode_text("{\"service\":\"iptv\",\"start\":0,\"stop\":0}", CPNS_USAGE_FROM_APP,
                               &r, err, sizeof err),
                   0);
  assert_int_equal(r.bytes_in, 0);
  assert_int_equal(r.device.battery, -1);
  assert_int_equal(r.device.charging, -1);
  assert_string_equal(r.device.type, "");
}

static void test_decode_forms(void **state) {
  (void)state;
  struct cpns_usage_rec r;
  char err[160] = "";
  const char *pne = "{\"id\":\"a1b2\",\"service\":\"game\",\"start\":1,\"stop\":2}";
  const char *gw = "{\"id\":\"a1b2\",\"entity\":\"phone\",\"service\":\"game\",\"start\":1,\"stop\":2}";
  assert_int_equal(decode_text(pne, CPNS_USAGE_FROM_PNE, &r, err, sizeof err), 0);
  assert_string_equal(r.rid, "a1b2");
  assert_int_equal(decode_text(gw, CPNS_USAGE_FROM_GW, &r, err, sizeof err), 0);
  assert_string_equal(r.entity, "phone");
  /* each form refuses what it may not carry, and needs what it must */
  expect_refused(pne, CPNS_USAGE_FROM_APP, CPNS_ERR_INVAL, "unknown member 'id'");
  expect_refused(gw, CPNS_USAGE_FROM_PNE, CPNS_ERR_INVAL, "unknown member 'entity'");
  expect_refused("{\"service\":\"game\",\"start\":1,\"stop\":2}", CPNS_USAGE_FROM_PNE,
                 CPNS_ERR_INVAL, "'id' is missing");
  expect_refused(pne, CPNS_USAGE_FROM_GW, CPNS_ERR_INVAL, "'entity' is missing");
  expect_refused("{\"id\":\"a b\",\"service\":\"game\",\"start\":1,\"stop\":2}",
                 CPNS_USAGE_FROM_PNE, CPNS_ERR_INVAL, "'id' is not an id");
}

static void test_decode_refusals(void **state) {
  (void)state;
  const enum cpns_usage_form A = CPNS_USAGE_FROM_APP;
  expect_refused("[]", A, CPNS_ERR_INVAL, "map");
  expect_refused("{\"start\":1,\"stop\":2}", A, CPNS_ERR_INVAL, "'service' is missing");
  expect_refused("{\"service\":\"g\",\"stop\":2}", A, CPNS_ERR_INVAL, "'start' is missing");
  expect_refused("{\"service\":\"g\",\"start\":2}", A, CPNS_ERR_INVAL, "'stop' is missing");
  expect_refused("{\"service\":\"g\",\"start\":3,\"stop\":2}", A, CPNS_ERR_INVAL, "before");
  expect_refused("{\"service\":\"g\",\"start\":-1,\"stop\":2}", A, CPNS_ERR_INVAL, "'start'");
  expect_refused("{\"service\":\"g\",\"start\":1.5,\"stop\":2}", A, CPNS_ERR_INVAL, "integer");
  expect_refused("{\"service\":\"g\",\"start\":\"1\",\"stop\":2}", A, CPNS_ERR_INVAL, "integer");
  expect_refused("{\"service\":\"g/x\",\"start\":1,\"stop\":2}", A, CPNS_ERR_INVAL, "not an id");
  expect_refused("{\"service\":\"\",\"start\":1,\"stop\":2}", A, CPNS_ERR_INVAL, "not an id");
  expect_refused("{\"service\":7,\"start\":1,\"stop\":2}", A, CPNS_ERR_INVAL, "string");
  expect_refused("{\"service\":\"g\",\"start\":1,\"stop\":2,\"x\":1}", A, CPNS_ERR_INVAL,
                 "unknown member 'x'");
  expect_refused("{\"service\":\"g\",\"start\":1,\"stop\":2,\"bytes_in\":-1}", A, CPNS_ERR_INVAL,
                 "bytes_in");
  expect_refused("{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":[]}", A, CPNS_ERR_INVAL,
                 "'device' must be a map");
  expect_refused("{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"battery\":101}}", A,
                 CPNS_ERR_INVAL, "device.battery");
  expect_refused("{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"battery\":-1}}", A,
                 CPNS_ERR_INVAL, "device.battery");
  expect_refused("{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"charging\":1}}", A,
                 CPNS_ERR_INVAL, "device.charging");
  expect_refused("{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"network\":\"Wi Fi\"}}", A,
                 CPNS_ERR_INVAL, "device.network");
  expect_refused("{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"state\":\"asleep\"}}", A,
                 CPNS_ERR_INVAL, "device.state");
  expect_refused("{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"type\":\"a\\u0001\"}}", A,
                 CPNS_ERR_INVAL, "control");
  expect_refused("{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"type\":\"\"}}", A,
                 CPNS_ERR_INVAL, "empty");
  expect_refused("{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"color\":\"red\"}}", A,
                 CPNS_ERR_INVAL, "unknown member 'device.color'");
}

static void test_decode_limits(void **state) {
  (void)state;
  const enum cpns_usage_form A = CPNS_USAGE_FROM_APP;
  struct cpns_usage_rec r;
  char text[1024], err[160];
  /* times: at the bound and one past */
  snprintf(text, sizeof text, "{\"service\":\"g\",\"start\":%lld,\"stop\":%lld}",
           CPNS_USAGE_TIME_MAX, CPNS_USAGE_TIME_MAX);
  assert_int_equal(decode_text(text, A, &r, err, sizeof err), 0);
  snprintf(text, sizeof text, "{\"service\":\"g\",\"start\":1,\"stop\":%lld}", CPNS_USAGE_TIME_MAX + 1);
  expect_refused(text, A, CPNS_ERR_INVAL, "'stop'");
  /* duration */
  snprintf(text, sizeof text, "{\"service\":\"g\",\"start\":10,\"stop\":%d}",
           10 + CPNS_USAGE_DURATION_MAX);
  assert_int_equal(decode_text(text, A, &r, err, sizeof err), 0);
  snprintf(text, sizeof text, "{\"service\":\"g\",\"start\":10,\"stop\":%d}",
           11 + CPNS_USAGE_DURATION_MAX);
  expect_refused(text, A, CPNS_ERR_INVAL, "spans at most");
  /* bytes */
  snprintf(text, sizeof text, "{\"service\":\"g\",\"start\":1,\"stop\":2,\"bytes_out\":%llu}",
           (unsigned long long)CPNS_USAGE_BYTES_MAX);
  assert_int_equal(decode_text(text, A, &r, err, sizeof err), 0);
  assert_int_equal(r.bytes_out, CPNS_USAGE_BYTES_MAX);
  snprintf(text, sizeof text, "{\"service\":\"g\",\"start\":1,\"stop\":2,\"bytes_out\":%llu}",
           (unsigned long long)CPNS_USAGE_BYTES_MAX + 1);
  expect_refused(text, A, CPNS_ERR_INVAL, "bytes_out");
  /* texts */
  snprintf(text, sizeof text, "{\"service\":\"%s\",\"start\":1,\"stop\":2}", rep('s', CPNS_ID_MAX));
  assert_int_equal(decode_text(text, A, &r, err, sizeof err), 0);
  snprintf(text, sizeof text, "{\"service\":\"%s\",\"start\":1,\"stop\":2}",
           rep('s', CPNS_ID_MAX + 1));
  expect_refused(text, A, CPNS_ERR_TOOBIG, "longer than 64");
  snprintf(text, sizeof text, "{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"type\":\"%s\"}}",
           rep('t', CPNS_TYPE_MAX));
  assert_int_equal(decode_text(text, A, &r, err, sizeof err), 0);
  snprintf(text, sizeof text, "{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"type\":\"%s\"}}",
           rep('t', CPNS_TYPE_MAX + 1));
  expect_refused(text, A, CPNS_ERR_TOOBIG, "device.type");
  snprintf(text, sizeof text,
           "{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"network\":\"%s\"}}",
           rep('n', CPNS_USAGE_NETWORK_MAX));
  assert_int_equal(decode_text(text, A, &r, err, sizeof err), 0);
  snprintf(text, sizeof text,
           "{\"service\":\"g\",\"start\":1,\"stop\":2,\"device\":{\"network\":\"%s\"}}",
           rep('n', CPNS_USAGE_NETWORK_MAX + 1));
  expect_refused(text, A, CPNS_ERR_TOOBIG, "device.network");
}

/* A batch of n records of the gateway's form, with every member, as text. */
static char *batch_text(size_t n) {
  size_t cap = 256 + n * 256;
  char *s = malloc(cap);
  assert_non_null(s);
  size_t used = (size_t)snprintf(s, cap, "{\"records\":[");
  for (size_t i = 0; i < n; i++)
    used += (size_t)snprintf(s + used, cap - used,
                             "%s{\"id\":\"r%zu\",\"entity\":\"phone\",\"service\":\"game\","
                             "\"start\":1,\"stop\":2,\"bytes_in\":3,\"bytes_out\":4,\"device\":"
                             "{\"type\":\"phone\",\"battery\":9,\"charging\":true,\"network\":"
                             "\"lte\",\"state\":\"online\"}}",
                             i ? "," : "", i);
  snprintf(s + used, cap - used, "]}");
  return s;
}

static void test_batches(void **state) {
  (void)state;
  struct cpns_usage_rec recs[CPNS_USAGE_BATCH_MAX];
  size_t n = 0;
  char err[160] = "";
  /* a full batch with every member passes the codec's limits and decodes */
  char *text = batch_text(CPNS_USAGE_BATCH_MAX);
  uint8_t *cbor;
  size_t len;
  json_t *j = parse(text), *back = NULL;
  assert_int_equal(cpns_codec_encode(j, CPNS_CF_CBOR, &cbor, &len), 0);
  assert_int_equal(cpns_codec_decode(cbor, len, CPNS_CF_CBOR, &cpns_codec_default_limits, &back,
                                     err, sizeof err),
                   0);
  assert_int_equal(cpns_usage_batch_decode(back, CPNS_USAGE_FROM_GW, recs, CPNS_USAGE_BATCH_MAX,
                                           &n, err, sizeof err),
                   0);
  assert_int_equal(n, CPNS_USAGE_BATCH_MAX);
  assert_string_equal(recs[63].rid, "r63");
  /* one more than the caller's bound */
  assert_int_equal(cpns_usage_batch_decode(back, CPNS_USAGE_FROM_GW, recs, 10, &n, err, sizeof err),
                   CPNS_ERR_TOOBIG);
  assert_non_null(strstr(err, "more than 10"));
  free(cbor);
  json_decref(j);
  json_decref(back);
  free(text);
  /* a bad record is named by its index */
  j = parse("{\"records\":[{\"id\":\"a\",\"service\":\"g\",\"start\":1,\"stop\":2},"
            "{\"id\":\"b\",\"service\":\"g\",\"start\":3,\"stop\":2}]}");
  assert_int_equal(cpns_usage_batch_decode(j, CPNS_USAGE_FROM_PNE, recs, 64, &n, err, sizeof err),
                   CPNS_ERR_INVAL);
  assert_non_null(strstr(err, "records[1]: 'stop' is before"));
  json_decref(j);
  static const char *const bad[] = {"{\"records\":[]}", "{\"records\":{}}", "{}", "[]",
                                    "{\"records\":[],\"x\":1}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    j = parse(bad[i]);
    assert_int_equal(cpns_usage_batch_decode(j, CPNS_USAGE_FROM_PNE, recs, 64, &n, err, sizeof err),
                     CPNS_ERR_INVAL);
    json_decref(j);
  }
}

static void test_encode_round_trip(void **state) {
  (void)state;
  struct cpns_usage_rec r, back;
  cpns_usage_rec_init(&r);
  snprintf(r.service, sizeof r.service, "game");
  snprintf(r.rid, sizeof r.rid, "0123456789abcdef");
  snprintf(r.entity, sizeof r.entity, "phone");
  r.start = 100;
  r.stop = 200;
  r.bytes_in = CPNS_USAGE_BYTES_MAX;
  r.device.battery = 0;
  r.device.charging = 1;
  snprintf(r.device.type, sizeof r.device.type, "%s", rep('"', CPNS_TYPE_MAX));
  char err[160] = "";
  for (int f = CPNS_USAGE_FROM_APP; f <= CPNS_USAGE_FROM_GW; f++) {
    json_t *j = cpns_usage_to_json(&r, (enum cpns_usage_form)f);
    assert_non_null(j);
    assert_int_equal(cpns_usage_decode(j, (enum cpns_usage_form)f, &back, err, sizeof err), 0);
    assert_string_equal(back.service, "game");
    assert_int_equal(back.bytes_in, CPNS_USAGE_BYTES_MAX);
    assert_int_equal(back.device.charging, 1);
    assert_int_equal(back.device.battery, 0);
    assert_string_equal(back.rid, f == CPNS_USAGE_FROM_APP ? "" : r.rid);
    assert_string_equal(back.entity, f == CPNS_USAGE_FROM_GW ? "phone" : "");
    json_decref(j);
  }
  /* the largest snapshot (a type of 64 escaped quotes) fits its text */
  snprintf(r.device.network, sizeof r.device.network, "%s", rep('n', CPNS_USAGE_NETWORK_MAX));
  snprintf(r.device.state, sizeof r.device.state, "offline");
  char text[CPNS_USAGE_DEVICE_TEXT_MAX + 1];
  assert_int_equal(cpns_usage_device_to_text(&r.device, text, sizeof text), 0);
  cpns_usage_device_t d;
  assert_int_equal(cpns_usage_device_from_text(text, &d), 0);
  assert_memory_equal(&d, &r.device, sizeof d);
  assert_int_equal(cpns_usage_device_from_text("{\"battery\":200}", &d), CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_device_from_text("not json", &d), CPNS_ERR_INVAL);
  /* an empty snapshot is left out of the record */
  cpns_usage_rec_init(&r);
  snprintf(r.service, sizeof r.service, "g");
  json_t *j = cpns_usage_to_json(&r, CPNS_USAGE_FROM_APP);
  assert_null(json_object_get(j, "device"));
  json_decref(j);
}

static void test_device_fill(void **state) {
  (void)state;
  cpns_usage_device_t d, self;
  cpns_usage_device_init(&d);
  cpns_usage_device_init(&self);
  d.battery = 40;
  snprintf(self.type, sizeof self.type, "phone");
  self.battery = 90;
  self.charging = 0;
  snprintf(self.state, sizeof self.state, "online");
  cpns_usage_device_fill(&d, &self);
  assert_int_equal(d.battery, 40); /* the application's word stays */
  assert_string_equal(d.type, "phone");
  assert_int_equal(d.charging, 0);
  assert_string_equal(d.network, "");
  assert_string_equal(d.state, "online");
}

static void test_prefs(void **state) {
  (void)state;
  struct cpns_usage_prefset p;
  char err[160] = "";
  json_t *j = parse("{\"default\":\"deny\",\"services\":{\"iptv\":\"deny\",\"game\":\"allow\"}}");
  assert_int_equal(cpns_usage_prefs_decode(j, &p, err, sizeof err), 0);
  json_decref(j);
  assert_true(p.default_set);
  assert_false(p.default_allow);
  assert_int_equal(p.n, 2);
  assert_string_equal(p.e[0].service, "game"); /* ordered */
  assert_true(cpns_usage_prefs_allows(&p, "game", false));
  assert_false(cpns_usage_prefs_allows(&p, "iptv", true));
  assert_false(cpns_usage_prefs_allows(&p, "radio", true)); /* the user's default */
  p.default_set = false;
  assert_true(cpns_usage_prefs_allows(&p, "radio", true)); /* the configured one */
  assert_false(cpns_usage_prefs_allows(&p, "radio", false));
  assert_true(cpns_usage_prefs_allows(&p, "bad id", true)); /* not a service: the default */
  /* set, change, clear */
  assert_int_equal(cpns_usage_prefs_set(&p, "iptv", true), 0);
  assert_true(cpns_usage_prefs_allows(&p, "iptv", false));
  assert_int_equal(p.n, 2);
  assert_true(cpns_usage_prefs_clear(&p, "iptv"));
  assert_false(cpns_usage_prefs_clear(&p, "iptv"));
  assert_int_equal(p.n, 1);
  assert_int_equal(cpns_usage_prefs_set(&p, "a b", true), CPNS_ERR_INVAL);
  /* the bound */
  cpns_usage_prefs_init(&p);
  char svc[32];
  for (int i = 0; i < CPNS_USAGE_PREFS_MAX; i++) {
    snprintf(svc, sizeof svc, "s%03d", i);
    assert_int_equal(cpns_usage_prefs_set(&p, svc, i % 2), 0);
  }
  assert_int_equal(cpns_usage_prefs_set(&p, "s000", true), 0); /* a change, not a new one */
  assert_int_equal(cpns_usage_prefs_set(&p, "one-more", true), CPNS_ERR_LIMIT);
  /* round trip through the stored form */
  json_t *stored = cpns_usage_prefs_to_json(&p, false, true);
  struct cpns_usage_prefset q;
  assert_int_equal(cpns_usage_prefs_decode(stored, &q, err, sizeof err), 0);
  assert_int_equal(q.n, CPNS_USAGE_PREFS_MAX);
  assert_false(q.default_set);
  assert_memory_equal(q.e, p.e, sizeof p.e);
  /* one past the bound */
  json_object_set_new(json_object_get(stored, "services"), "one-more", json_string("allow"));
  assert_int_equal(cpns_usage_prefs_decode(stored, &q, err, sizeof err), CPNS_ERR_TOOBIG);
  json_decref(stored);
  /* the effective form */
  cpns_usage_prefs_init(&p);
  j = cpns_usage_prefs_to_json(&p, true, false);
  assert_string_equal(json_string_value(json_object_get(j, "default")), "deny");
  assert_true(json_is_false(json_object_get(j, "default_set")));
  json_decref(j);
  static const char *const bad[] = {
      "[]",
      "{\"default\":\"maybe\"}",
      "{\"default\":true}",
      "{\"services\":[]}",
      "{\"services\":{\"iptv\":\"never\"}}",
      "{\"services\":{\"a/b\":\"deny\"}}",
      "{\"other\":1}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    j = parse(bad[i]);
    err[0] = '\0';
    if (cpns_usage_prefs_decode(j, &q, err, sizeof err) != CPNS_ERR_INVAL)
      fail_msg("'%s' was not refused", bad[i]);
    assert_true(err[0] != '\0');
    json_decref(j);
  }
  assert_int_equal(cpns_usage_pref_parse("allow"), 1);
  assert_int_equal(cpns_usage_pref_parse("deny"), 0);
  assert_int_equal(cpns_usage_pref_parse("Allow"), -1);
  assert_int_equal(cpns_usage_pref_parse(NULL), -1);
}

static void test_days(void **state) {
  (void)state;
  int64_t d;
  char text[CPNS_USAGE_DAY_LEN + 1];
  assert_int_equal(cpns_usage_day_parse("1970-01-01", &d), 0);
  assert_int_equal(d, 0);
  assert_int_equal(cpns_usage_day_parse("2000-03-01", &d), 0);
  assert_int_equal(d, 11017);
  assert_int_equal(cpns_usage_day_parse("2026-11-26", &d), 0);
  assert_int_equal(d, 1795651200 / 86400);
  assert_int_equal(cpns_usage_day_parse("2024-02-29", &d), 0);
  assert_int_equal(cpns_usage_day_parse("2023-02-29", &d), CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_day_parse("1900-02-28", &d), CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_day_parse("2026-13-01", &d), CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_day_parse("2026-00-01", &d), CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_day_parse("2026-1-01", &d), CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_day_parse("2026-01-011", &d), CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_day_parse("2026/01/01", &d), CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_day_parse(NULL, &d), CPNS_ERR_INVAL);
  /* every day of the years the records may hold reads back */
  int64_t last;
  assert_int_equal(cpns_usage_day_parse("9999-12-31", &last), 0);
  assert_int_equal(last, cpns_usage_day_of(CPNS_USAGE_TIME_MAX));
  for (int64_t day = 0; day <= last; day += (day < 30000 ? 1 : 997)) {
    cpns_usage_day_text(day, text, sizeof text);
    int64_t back = -1;
    if (cpns_usage_day_parse(text, &back) || back != day) fail_msg("day %lld: %s", (long long)day, text);
  }
  cpns_usage_day_text(last, text, sizeof text);
  assert_string_equal(text, "9999-12-31");
  assert_int_equal(cpns_usage_day_of(86399), 0);
  assert_int_equal(cpns_usage_day_of(86400), 1);
}

static void test_query(void **state) {
  (void)state;
  struct cpns_usage_filter q;
  char err[160] = "";
  int64_t today;
  assert_int_equal(cpns_usage_day_parse("2026-11-26", &today), 0);
  assert_int_equal(cpns_usage_query_parse("", today, 366, 1000, &q, err, sizeof err), 0);
  assert_int_equal(q.by, CPNS_USAGE_BY_SERVICE);
  assert_int_equal(q.to_day, today);
  assert_int_equal(q.from_day, today - 30);
  assert_false(q.pn_given);
  assert_int_equal(cpns_usage_query_parse("by=day&pn=home&service=game&entity=phone&from=2026-11-01"
                                          "&to=2026-11-30&limit=5",
                                          today, 366, 1000, &q, err, sizeof err),
                   0);
  assert_int_equal(q.by, CPNS_USAGE_BY_DAY);
  assert_string_equal(q.pn, "home");
  assert_true(q.pn_given);
  assert_string_equal(q.service, "game");
  assert_string_equal(q.entity, "phone");
  assert_int_equal(q.to_day - q.from_day, 29);
  assert_int_equal(q.limit, 5);
  assert_int_equal(cpns_usage_query_parse("from=2026-01-01", today, 366, 1000, &q, err, sizeof err), 0);
  assert_int_equal(q.to_day - q.from_day, 30);
  assert_int_equal(cpns_usage_query_parse("to=2026-01-31", today, 366, 1000, &q, err, sizeof err), 0);
  assert_int_equal(q.to_day - q.from_day, 30);
  /* the span at its bound and one past it */
  assert_int_equal(cpns_usage_query_parse("from=2026-01-01&to=2026-01-10", today, 10, 1000, &q,
                                          err, sizeof err),
                   0);
  assert_int_equal(cpns_usage_query_parse("from=2026-01-01&to=2026-01-11", today, 10, 1000, &q,
                                          err, sizeof err),
                   CPNS_ERR_INVAL);
  assert_non_null(strstr(err, "at most 10 days"));
  /* limit at its bound and one past */
  assert_int_equal(cpns_usage_query_parse("limit=1000", today, 366, 1000, &q, err, sizeof err), 0);
  assert_int_equal(cpns_usage_query_parse("limit=1001", today, 366, 1000, &q, err, sizeof err),
                   CPNS_ERR_INVAL);
  static const char *const bad[] = {
      "by=week",          "by=",         "pn=a/b",        "pn=home&pn=work", "color=red",
      "from=2026-02-30",  "to=yesterday", "limit=0",       "limit=-1",        "limit=5x",
      "from=2026-11-02&to=2026-11-01",     "service=",      "by",              "limit=+3",
      "entity=x%20y",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    if (cpns_usage_query_parse(bad[i], today, 366, 1000, &q, err, sizeof err) != CPNS_ERR_INVAL)
      fail_msg("'%s' was not refused", bad[i]);
    assert_true(err[0] != '\0');
  }
  /* a parameter longer than any valid one */
  char longq[200];
  snprintf(longq, sizeof longq, "pn=%s", rep('p', 100));
  assert_int_equal(cpns_usage_query_parse(longq, today, 366, 1000, &q, err, sizeof err),
                   CPNS_ERR_INVAL);
  assert_int_equal(cpns_usage_by_parse("entity"), CPNS_USAGE_BY_ENTITY);
  assert_int_equal(cpns_usage_by_parse("Day"), -1);
  assert_string_equal(cpns_usage_by_name(CPNS_USAGE_BY_PN), "pn");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_app),     cmocka_unit_test(test_decode_forms),
      cmocka_unit_test(test_decode_refusals), cmocka_unit_test(test_decode_limits),
      cmocka_unit_test(test_batches),        cmocka_unit_test(test_encode_round_trip),
      cmocka_unit_test(test_device_fill),    cmocka_unit_test(test_prefs),
      cmocka_unit_test(test_days),           cmocka_unit_test(test_query),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
