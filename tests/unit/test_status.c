/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/status.c: the status document (spec 5.5.3) decoded
 * strictly (each limit at its bound and one past it, every class of bad
 * input), partial updates applied whole or not at all, encoding round
 * trips through JSON text and both wire encodings, the number parser, and
 * the bodies of the server's status resources: policy rules and batches. */
#include <math.h>
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
#include "status.h"
#include "store.h"

static json_t *parse(const char *text) {
  json_error_t je;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
  if (!v) fail_msg("bad test JSON '%s': %s", text, je.text);
  return v;
}

static int decode_text(const char *text, struct cpns_status_doc *d, char *err, size_t errlen) {
  json_t *v = parse(text);
  int rc = cpns_status_decode(v, d, err, errlen);
  json_decref(v);
  return rc;
}

static void expect_refused(const char *text, int code, const char *why) {
  struct cpns_status_doc d;
  cpns_status_init(&d, CPNS_PRESENCE_AWAY);
  d.nattrs = 0;
  char err[160] = "";
  int rc = decode_text(text, &d, err, sizeof err);
  if (rc != code) fail_msg("'%s': got %d, want %d (%s)", text, rc, code, err);
  assert_non_null(strstr(err, why));
  assert_int_equal(d.state, CPNS_PRESENCE_AWAY); /* untouched */
}

static const char *rep(char c, size_t n) {
  static char buf[2048];
  assert_true(n < sizeof buf);
  memset(buf, c, n);
  buf[n] = '\0';
  return buf;
}

static void test_presence_names(void **state) {
  (void)state;
  for (int p = CPNS_PRESENCE_ONLINE; p <= CPNS_PRESENCE_AWAY; p++)
    assert_int_equal(cpns_presence_parse(cpns_presence_name((enum cpns_presence)p)), p);
  assert_int_equal(cpns_presence_parse("Online"), -1);
  assert_int_equal(cpns_presence_parse(""), -1);
  assert_int_equal(cpns_presence_parse(NULL), -1);
  assert_string_equal(cpns_presence_name((enum cpns_presence)42), "unknown");
}

static void test_attr_names(void **state) {
  (void)state;
  assert_true(cpns_status_attr_name_valid("battery"));
  assert_true(cpns_status_attr_name_valid("cpu_load-1"));
  assert_true(cpns_status_attr_name_valid(rep('a', CPNS_STATUS_ATTR_NAME_MAX)));
  assert_false(cpns_status_attr_name_valid(rep('a', CPNS_STATUS_ATTR_NAME_MAX + 1)));
  assert_false(cpns_status_attr_name_valid(""));
  assert_false(cpns_status_attr_name_valid("1battery"));
  assert_false(cpns_status_attr_name_valid("Battery"));
  assert_false(cpns_status_attr_name_valid("bat tery"));
  assert_false(cpns_status_attr_name_valid("bat.tery"));
  assert_false(cpns_status_attr_name_valid("state"));
  assert_false(cpns_status_attr_name_valid("text"));
  assert_false(cpns_status_attr_name_valid(NULL));
}

static void test_decode_whole(void **state) {
  (void)state;
  struct cpns_status_doc d;
  char err[160];
  assert_int_equal(decode_text("{\"state\":\"busy\",\"text\":\"in a meeting\","
                               "\"attrs\":{\"signal\":-70.5,\"battery\":57},\"updated\":1700000000}",
                               &d, err, sizeof err),
                   0);
  assert_int_equal(d.state, CPNS_PRESENCE_BUSY);
  assert_string_equal(d.text, "in a meeting");
  assert_int_equal(d.nattrs, 2);
  assert_string_equal(d.attrs[0].name, "battery"); /* sorted */
  assert_true(d.attrs[0].value == 57);
  assert_string_equal(d.attrs[1].name, "signal");
  assert_true(d.attrs[1].value == -70.5);
  assert_int_equal(d.updated, 1700000000);
  assert_non_null(cpns_status_get_attr(&d, "signal"));
  assert_null(cpns_status_get_attr(&d, "cpu"));
  /* the minimum */
  assert_int_equal(decode_text("{\"state\":\"away\"}", &d, err, sizeof err), 0);
  assert_int_equal(d.nattrs, 0);
  assert_string_equal(d.text, "");
}

static void test_decode_refusals(void **state) {
  (void)state;
  expect_refused("[]", CPNS_ERR_INVAL, "object");
  expect_refused("{}", CPNS_ERR_INVAL, "'state' is required");
  expect_refused("{\"state\":\"sleeping\"}", CPNS_ERR_INVAL, "'state'");
  expect_refused("{\"state\":1}", CPNS_ERR_INVAL, "'state'");
  expect_refused("{\"state\":\"online\",\"mood\":\"fine\"}", CPNS_ERR_INVAL, "unknown member");
  expect_refused("{\"state\":\"online\",\"text\":7}", CPNS_ERR_INVAL, "'text'");
  expect_refused("{\"state\":\"online\",\"text\":\"a\\nb\"}", CPNS_ERR_INVAL, "control");
  expect_refused("{\"state\":\"online\",\"attrs\":[1]}", CPNS_ERR_INVAL, "'attrs'");
  expect_refused("{\"state\":\"online\",\"attrs\":{\"battery\":\"57\"}}", CPNS_ERR_INVAL, "finite number");
  expect_refused("{\"state\":\"online\",\"attrs\":{\"battery\":null}}", CPNS_ERR_INVAL, "finite number");
  expect_refused("{\"state\":\"online\",\"attrs\":{\"battery\":true}}", CPNS_ERR_INVAL, "finite number");
  expect_refused("{\"state\":\"online\",\"attrs\":{\"b\":1e13}}", CPNS_ERR_INVAL, "finite number");
  expect_refused("{\"state\":\"online\",\"attrs\":{\"Battery\":1}}", CPNS_ERR_INVAL, "attribute name");
  expect_refused("{\"state\":\"online\",\"attrs\":{\"state\":1}}", CPNS_ERR_INVAL, "reserved");
  expect_refused("{\"state\":\"online\",\"updated\":-1}", CPNS_ERR_INVAL, "'updated'");
  expect_refused("{\"state\":\"online\",\"updated\":1.5}", CPNS_ERR_INVAL, "'updated'");
}

static void test_decode_limits(void **state) {
  (void)state;
  struct cpns_status_doc d;
  char err[160], text[4096];
  /* text at its bound, and one past */
  snprintf(text, sizeof text, "{\"state\":\"online\",\"text\":\"%s\"}", rep('x', CPNS_STATUS_TEXT_MAX));
  assert_int_equal(decode_text(text, &d, err, sizeof err), 0);
  assert_int_equal(strlen(d.text), CPNS_STATUS_TEXT_MAX);
  snprintf(text, sizeof text, "{\"state\":\"online\",\"text\":\"%s\"}", rep('x', CPNS_STATUS_TEXT_MAX + 1));
  expect_refused(text, CPNS_ERR_TOOBIG, "longer than");
  /* attribute count at its bound, and one past */
  size_t used = (size_t)snprintf(text, sizeof text, "{\"state\":\"online\",\"attrs\":{");
  for (int i = 0; i < CPNS_STATUS_ATTRS_MAX; i++)
    used += (size_t)snprintf(text + used, sizeof text - used, "%s\"a%02d\":%d", i ? "," : "", i, i);
  snprintf(text + used, sizeof text - used, "}}");
  assert_int_equal(decode_text(text, &d, err, sizeof err), 0);
  assert_int_equal(d.nattrs, CPNS_STATUS_ATTRS_MAX);
  snprintf(text + used, sizeof text - used, ",\"zz\":1}}");
  expect_refused(text, CPNS_ERR_TOOBIG, "more than");
  /* value at its bound, and past it */
  assert_int_equal(decode_text("{\"state\":\"online\",\"attrs\":{\"v\":1e12,\"w\":-1e12}}", &d, err,
                               sizeof err), 0);
  expect_refused("{\"state\":\"online\",\"attrs\":{\"v\":1.0000001e12}}", CPNS_ERR_INVAL, "finite");
  /* the largest document still encodes within CPNS_STATUS_ENCODED_MAX */
  used = (size_t)snprintf(text, sizeof text, "{\"state\":\"offline\",\"text\":\"%s\",\"attrs\":{",
                          rep('y', CPNS_STATUS_TEXT_MAX));
  for (int i = 0; i < CPNS_STATUS_ATTRS_MAX; i++) {
    char name[CPNS_STATUS_ATTR_NAME_MAX + 1];
    memset(name, 'a', CPNS_STATUS_ATTR_NAME_MAX);
    name[CPNS_STATUS_ATTR_NAME_MAX] = '\0';
    name[0] = (char)('a' + i);
    used += (size_t)snprintf(text + used, sizeof text - used, "%s\"%s\":-123456789012.34567",
                             i ? "," : "", name);
  }
  snprintf(text + used, sizeof text - used, "},\"updated\":253402300799}");
  int rc = decode_text(text, &d, err, sizeof err);
  /* Either it fits, or it is refused as too big: never cut. */
  assert_true(rc == 0 || rc == CPNS_ERR_TOOBIG);
  if (rc == 0) {
    char out[CPNS_STATUS_ENCODED_MAX + 1];
    assert_int_equal(cpns_status_to_text(&d, out, sizeof out), 0);
  }
}

static void test_merge(void **state) {
  (void)state;
  struct cpns_status_doc d;
  char err[160];
  assert_int_equal(decode_text("{\"state\":\"online\",\"text\":\"hi\",\"attrs\":{\"battery\":57,"
                               "\"signal\":-60}}", &d, err, sizeof err), 0);
  json_t *p = parse("{\"state\":\"busy\",\"attrs\":{\"battery\":40,\"signal\":null,\"cpu\":3}}");
  assert_int_equal(cpns_status_merge(p, &d, err, sizeof err), 0);
  json_decref(p);
  assert_int_equal(d.state, CPNS_PRESENCE_BUSY);
  assert_string_equal(d.text, "hi");
  assert_int_equal(d.nattrs, 2);
  assert_true(cpns_status_get_attr(&d, "battery")->value == 40);
  assert_null(cpns_status_get_attr(&d, "signal"));
  assert_true(cpns_status_get_attr(&d, "cpu")->value == 3);
  p = parse("{\"text\":null}");
  assert_int_equal(cpns_status_merge(p, &d, err, sizeof err), 0);
  json_decref(p);
  assert_string_equal(d.text, "");
  /* a bad member leaves everything as it was */
  struct cpns_status_doc before = d;
  p = parse("{\"state\":\"away\",\"attrs\":{\"battery\":\"low\"}}");
  assert_int_equal(cpns_status_merge(p, &d, err, sizeof err), CPNS_ERR_INVAL);
  json_decref(p);
  assert_memory_equal(&d, &before, sizeof d);
  p = parse("{\"updated\":5}"); /* not a member of an update */
  assert_int_equal(cpns_status_merge(p, &d, err, sizeof err), CPNS_ERR_INVAL);
  json_decref(p);
  /* adding beyond the attribute limit */
  char text[1024];
  size_t used = (size_t)snprintf(text, sizeof text, "{\"attrs\":{");
  for (int i = 0; i < CPNS_STATUS_ATTRS_MAX - 1; i++)
    used += (size_t)snprintf(text + used, sizeof text - used, "%s\"n%02d\":%d", i ? "," : "", i, i);
  snprintf(text + used, sizeof text - used, "}}");
  p = parse(text);
  assert_int_equal(cpns_status_merge(p, &d, err, sizeof err), CPNS_ERR_TOOBIG); /* 2 + 15 > 16 */
  json_decref(p);
  assert_int_equal(d.nattrs, 2);
}

static void test_set_attr(void **state) {
  (void)state;
  struct cpns_status_doc d;
  cpns_status_init(&d, CPNS_PRESENCE_ONLINE);
  assert_int_equal(cpns_status_set_attr(&d, "zeta", 1), 0);
  assert_int_equal(cpns_status_set_attr(&d, "alpha", 2), 0);
  assert_int_equal(cpns_status_set_attr(&d, "mid", 3), 0);
  assert_string_equal(d.attrs[0].name, "alpha");
  assert_string_equal(d.attrs[2].name, "zeta");
  assert_int_equal(cpns_status_set_attr(&d, "mid", 4), 0);
  assert_int_equal(d.nattrs, 3);
  assert_int_equal(cpns_status_set_attr(&d, "Bad", 4), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_set_attr(&d, "ok", NAN), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_set_attr(&d, "ok", INFINITY), CPNS_ERR_INVAL);
  for (int i = 3; i < CPNS_STATUS_ATTRS_MAX; i++) {
    char n[8];
    snprintf(n, sizeof n, "x%d", i);
    assert_int_equal(cpns_status_set_attr(&d, n, i), 0);
  }
  assert_int_equal(cpns_status_set_attr(&d, "one-more", 1), CPNS_ERR_LIMIT);
}

static void test_round_trip(void **state) {
  (void)state;
  struct cpns_status_doc d, back;
  char err[160], text[CPNS_STATUS_ENCODED_MAX + 1];
  assert_int_equal(decode_text("{\"state\":\"away\",\"text\":\"gone fishing \\u00e9\","
                               "\"attrs\":{\"battery\":57,\"temp\":21.125,\"tiny\":1e-300},"
                               "\"updated\":42}", &d, err, sizeof err), 0);
  assert_int_equal(cpns_status_to_text(&d, text, sizeof text), 0);
  assert_non_null(strstr(text, "\"battery\":57,")); /* an integer stays one */
  assert_int_equal(cpns_status_from_text(text, &back, err, sizeof err), 0);
  assert_true(cpns_status_same(&d, &back));
  assert_int_equal(back.updated, 42);
  /* both wire encodings give the same document back */
  static const int cfs[] = {CPNS_CF_CBOR, CPNS_CF_JSON};
  for (int i = 0; i < 2; i++) {
    json_t *j = cpns_status_to_json(&d), *v = NULL;
    uint8_t *buf;
    size_t len;
    assert_int_equal(cpns_codec_encode(j, cfs[i], &buf, &len), 0);
    assert_int_equal(cpns_codec_decode(buf, len, cfs[i], &cpns_codec_default_limits, &v, err, sizeof err), 0);
    assert_int_equal(cpns_status_decode(v, &back, err, sizeof err), 0);
    assert_true(cpns_status_same(&d, &back));
    json_decref(j);
    json_decref(v);
    free(buf);
  }
  /* too small a buffer is refused, not cut */
  char small[16];
  assert_int_equal(cpns_status_to_text(&d, small, sizeof small), CPNS_ERR_TOOBIG);
  assert_int_equal(cpns_status_from_text("{\"state\":", &back, err, sizeof err), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_from_text(NULL, &back, err, sizeof err), CPNS_ERR_TOOBIG);
  /* sameness ignores the time, not the content */
  back = d;
  back.updated = 7;
  assert_true(cpns_status_same(&d, &back));
  back.attrs[0].value = 58;
  assert_false(cpns_status_same(&d, &back));
}

static void test_parse_number(void **state) {
  (void)state;
  double v;
  assert_int_equal(cpns_status_parse_number("20", &v), 0);
  assert_true(v == 20);
  assert_int_equal(cpns_status_parse_number("-0.5", &v), 0);
  assert_true(v == -0.5);
  assert_int_equal(cpns_status_parse_number("1e12", &v), 0);
  assert_int_equal(cpns_status_parse_number("1.5e12", &v), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_parse_number("inf", &v), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_parse_number("nan", &v), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_parse_number("0x10", &v), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_parse_number(" 1", &v), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_parse_number("1 ", &v), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_parse_number("", &v), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_parse_number("1-", &v), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_parse_number(rep('1', 70), &v), CPNS_ERR_INVAL);
}

static void test_policy_decode(void **state) {
  (void)state;
  struct cpns_policy_rec p;
  char err[160] = "";
  json_t *v = parse("{\"entity\":\"phone\",\"attr\":\"battery\",\"lt\":20,\"target\":\"tv\"}");
  assert_int_equal(cpns_status_policy_decode(v, &p, err, sizeof err), 0);
  json_decref(v);
  assert_int_equal(p.op, CPNS_POLICY_LT);
  assert_string_equal(p.attr, "battery");
  assert_true(p.threshold == 20);
  assert_string_equal(p.id, "");
  assert_string_equal(p.target_pn, "");
  assert_string_equal(p.pn, "");

  v = parse("{\"id\":\"p1\",\"entity\":\"phone\",\"state\":\"offline\",\"target\":\"tv\","
            "\"target_pn\":\"work\"}");
  assert_int_equal(cpns_status_policy_decode(v, &p, err, sizeof err), 0);
  json_decref(v);
  assert_int_equal(p.op, CPNS_POLICY_STATE);
  assert_string_equal(p.state, "offline");
  assert_string_equal(p.target_pn, "work");

  static const char *const bad[] = {
      "[]",
      "{\"entity\":\"phone\",\"target\":\"tv\"}",
      "{\"entity\":\"phone\",\"state\":\"busy\",\"attr\":\"battery\",\"lt\":1,\"target\":\"tv\"}",
      "{\"entity\":\"phone\",\"attr\":\"battery\",\"lt\":1,\"gt\":2,\"target\":\"tv\"}",
      "{\"entity\":\"phone\",\"attr\":\"battery\",\"gt\":1e13,\"target\":\"tv\"}",
      "{\"entity\":\"phone\",\"attr\":\"battery\",\"gt\":\"1\",\"target\":\"tv\"}",
      "{\"entity\":\"phone\",\"state\":\"asleep\",\"target\":\"tv\"}",
      "{\"entity\":\"bad id\",\"state\":\"busy\",\"target\":\"tv\"}",
      "{\"entity\":\"phone\",\"state\":\"busy\"}",
      "{\"entity\":\"phone\",\"state\":\"busy\",\"target\":\"tv\",\"color\":1}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct cpns_policy_rec q;
    memset(&q, 0x5a, sizeof q);
    struct cpns_policy_rec before = q;
    err[0] = '\0';
    v = parse(bad[i]);
    assert_int_equal(cpns_status_policy_decode(v, &q, err, sizeof err), CPNS_ERR_INVAL);
    json_decref(v);
    assert_true(err[0] != '\0');
    assert_memory_equal(&q, &before, sizeof q);
  }
}

/* {"updates":[n times {"id":"e<i>","status":{"state":"online"}}]} */
static json_t *batch_of(size_t n) {
  json_t *list = json_array();
  for (size_t i = 0; i < n; i++) {
    char id[CPNS_ID_MAX + 1];
    snprintf(id, sizeof id, "e%zu", i);
    json_array_append_new(list, json_pack("{s:s, s:{s:s}}", "id", id, "status", "state", "online"));
  }
  return json_pack("{s:o}", "updates", list);
}

static void test_batch_decode(void **state) {
  (void)state;
  struct cpns_status_update *ups = NULL;
  size_t n = 0;
  char err[160] = "";
  /* at the bound and one past it */
  json_t *v = batch_of(CPNS_STATUS_BATCH_MAX);
  assert_int_equal(cpns_status_batch_decode(v, &ups, &n, err, sizeof err), 0);
  assert_int_equal(n, CPNS_STATUS_BATCH_MAX);
  assert_int_equal(ups[n - 1].fault, CPNS_STATUS_UPDATE_OK);
  free(ups);
  json_decref(v);
  ups = NULL;
  v = batch_of(CPNS_STATUS_BATCH_MAX + 1);
  assert_int_equal(cpns_status_batch_decode(v, &ups, &n, err, sizeof err), CPNS_ERR_TOOBIG);
  assert_null(ups);
  json_decref(v);
  static const char *const bad[] = {"[]", "{\"updates\":[]}", "{\"updates\":{}}",
                                    "{\"updates\":[{}],\"pn\":\"home\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    v = parse(bad[i]);
    err[0] = '\0';
    assert_int_equal(cpns_status_batch_decode(v, &ups, &n, err, sizeof err), CPNS_ERR_INVAL);
    assert_string_equal(err, "expected {\"updates\":[{\"id\",\"status\"}...]} of 1..64 updates");
    json_decref(v);
  }
  /* each update on its own, in order, duplicates kept */
  v = parse("{\"updates\":[{\"id\":\"phone\",\"status\":{\"state\":\"busy\",\"updated\":5}},"
            "7, {\"id\":\"tv\"}, {\"id\":\"tv\",\"status\":{},\"x\":1},"
            "{\"id\":\"bad id\",\"status\":{\"state\":\"busy\"}},"
            "{\"id\":\"phone\",\"status\":{\"state\":\"asleep\"}}]}");
  assert_int_equal(cpns_status_batch_decode(v, &ups, &n, err, sizeof err), 0);
  assert_int_equal(n, 6);
  assert_int_equal(ups[0].fault, CPNS_STATUS_UPDATE_OK);
  assert_string_equal(ups[0].id, "phone");
  assert_int_equal(ups[0].doc.state, CPNS_PRESENCE_BUSY);
  assert_int_equal(ups[0].doc.updated, 5);
  assert_int_equal(ups[1].fault, CPNS_STATUS_UPDATE_SHAPE);
  assert_null(ups[1].id);
  assert_string_equal(ups[1].err, "an update is {\"id\",\"status\"}");
  assert_int_equal(ups[2].fault, CPNS_STATUS_UPDATE_SHAPE);
  assert_string_equal(ups[2].id, "tv");
  assert_int_equal(ups[3].fault, CPNS_STATUS_UPDATE_SHAPE);
  assert_string_equal(ups[3].err, "unknown member 'x'");
  assert_int_equal(ups[4].fault, CPNS_STATUS_UPDATE_ID);
  assert_string_equal(ups[4].err, "'bad id' is not a valid id");
  assert_int_equal(ups[5].fault, CPNS_STATUS_UPDATE_DOC);
  assert_int_equal(ups[5].rc, CPNS_ERR_INVAL);
  assert_string_equal(ups[5].id, "phone");
  free(ups);
  json_decref(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_presence_names), cmocka_unit_test(test_attr_names),
      cmocka_unit_test(test_decode_whole),   cmocka_unit_test(test_decode_refusals),
      cmocka_unit_test(test_decode_limits),  cmocka_unit_test(test_merge),
      cmocka_unit_test(test_set_attr),       cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_parse_number),   cmocka_unit_test(test_policy_decode),
      cmocka_unit_test(test_batch_decode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
