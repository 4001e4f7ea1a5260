/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/status.c: the status document (spec 5.5.3) decoded
 * strictly (each limit at its bound and one past it, every class of bad
 * input), partial updates applied whole or not at all, encoding round
 * trips through JSON text and both wire encodings, and the number parser. */
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_presence_names), cmocka_unit_test(test_attr_names),
      cmocka_unit_test(test_decode_whole),   cmocka_unit_test(test_decode_refusals),
      cmocka_unit_test(test_decode_limits),  cmocka_unit_test(test_merge),
      cmocka_unit_test(test_set_attr),       cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_parse_number),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
