/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/codec.c: RFC 8949 Appendix A vectors in both directions,
 * round trips through both encodings, every class of input the decoders must
 * refuse, each limit exactly at and one past its bound, every truncation of a
 * valid document, and a torture pass that fails each Jansson allocation in
 * turn (run under ASan, a leak on any error path fails the test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cpns/cpns.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* ---- helpers ---------------------------------------------------------- */

/* Hex to bytes; spaces are ignored so vectors can be grouped by item. The
 * result is malloc'd so ASan sees reads past its end. */
static uint8_t *unhex(const char *hex, size_t *len) {
  uint8_t *out = malloc(strlen(hex) / 2 + 1);
  assert_non_null(out);
  size_t n = 0;
  for (const char *p = hex; *p;) {
    if (*p == ' ') {
      p++;
      continue;
    }
    unsigned b;
    assert_int_equal(sscanf(p, "%2x", &b), 1);
    out[n++] = (uint8_t)b;
    p += 2;
  }
  *len = n;
  return out;
}

static int decode_hex(const char *hex, const struct cpns_codec_limits *lim, json_t **out,
                      char *err, size_t errlen) {
  size_t len;
  uint8_t *buf = unhex(hex, &len);
  int rc = cpns_codec_decode(buf, len, CPNS_CF_CBOR, lim, out, err, errlen);
  free(buf);
  return rc;
}

static int decode_json(const char *text, const struct cpns_codec_limits *lim, json_t **out) {
  char err[128];
  return cpns_codec_decode((const uint8_t *)text, strlen(text), CPNS_CF_JSON, lim, out, err,
                           sizeof err);
}

static json_t *parse(const char *text) {
  json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
  assert_non_null(v);
  return v;
}

/* Decodes hex as CBOR and compares the tree with the JSON text expected. */
static void expect_cbor(const char *hex, const char *expected) {
  json_t *got = NULL;
  char err[128];
  int rc = decode_hex(hex, NULL, &got, err, sizeof err);
  if (rc) fail_msg("%s: rc %d (%s)", hex, rc, err);
  json_t *want = parse(expected);
  if (!json_equal(got, want)) {
    char *s = json_dumps(got, JSON_ENCODE_ANY);
    fail_msg("%s: got %s, want %s", hex, s ? s : "?", expected);
  }
  json_decref(got);
  json_decref(want);
}

static void expect_cbor_rc(const char *hex, const struct cpns_codec_limits *lim, int want) {
  json_t *got = (json_t *)1; /* must be reset to NULL on failure */
  char err[128];
  int rc = decode_hex(hex, lim, &got, err, sizeof err);
  if (rc != want) fail_msg("%s: rc %d (%s), want %d", hex, rc, err, want);
  if (want) {
    assert_null(got);
    assert_true(err[0] != '\0');
  }
  json_decref(got);
}

static void expect_json_rc(const char *text, const struct cpns_codec_limits *lim, int want) {
  json_t *got = (json_t *)1;
  int rc = decode_json(text, lim, &got);
  if (rc != want) fail_msg("%s: rc %d, want %d", text, rc, want);
  if (want) assert_null(got);
  json_decref(got);
}

/* Encodes the JSON text to CBOR and compares with the hex expected. */
static void expect_encode(const char *text, const char *hex) {
  json_t *v = parse(text);
  uint8_t *buf = NULL;
  size_t len = 0, wlen;
  assert_int_equal(cpns_codec_encode(v, CPNS_CF_CBOR, &buf, &len), 0);
  uint8_t *want = unhex(hex, &wlen);
  if (len != wlen || memcmp(buf, want, len) != 0) fail_msg("encoding %s: not %s", text, hex);
  free(want);
  free(buf);
  json_decref(v);
}

/* ---- RFC 8949 Appendix A --------------------------------------------- */

static void test_rfc8949_decode(void **state) {
  (void)state;
  static const char *const vec[][2] = {
      {"00", "0"},
      {"01", "1"},
      {"0a", "10"},
      {"17", "23"},
      {"1818", "24"},
      {"1819", "25"},
      {"1864", "100"},
      {"1903e8", "1000"},
      {"1a000f4240", "1000000"},
      {"1b000000e8d4a51000", "1000000000000"},
      {"20", "-1"},
      {"29", "-10"},
      {"3863", "-100"},
      {"3903e7", "-1000"},
      {"f90000", "0.0"},
      {"f98000", "-0.0"},
      {"f93c00", "1.0"},
      {"fb3ff199999999999a", "1.1"},
      {"f93e00", "1.5"},
      {"f97bff", "65504.0"},
      {"fa47c35000", "100000.0"},
      {"fa7f7fffff", "3.4028234663852886e+38"},
      {"fb7e37e43c8800759c", "1.0e+300"},
      {"f90001", "5.9604644775390625e-8"},
      {"f90400", "0.00006103515625"},
      {"f9c400", "-4.0"},
      {"fbc010666666666666", "-4.1"},
      {"f4", "false"},
      {"f5", "true"},
      {"f6", "null"},
      {"60", "\"\""},
      {"6161", "\"a\""},
      {"6449455446", "\"IETF\""},
      {"62225c", "\"\\\"\\\\\""},
      {"62c3bc", "\"\\u00fc\""},
      {"63e6b0b4", "\"\\u6c34\""},
      {"64f0908591", "\"\\ud800\\udd51\""},
      {"80", "[]"},
      {"83010203", "[1,2,3]"},
      {"8301820203820405", "[1,[2,3],[4,5]]"},
      {"98190102030405060708090a0b0c0d0e0f101112131415161718181819",
       "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]"},
      {"a0", "{}"},
      {"a26161016162820203", "{\"a\":1,\"b\":[2,3]}"},
      {"826161a161626163", "[\"a\",{\"b\":\"c\"}]"},
      {"a56161614161626142616361436164614461656145",
       "{\"a\":\"A\",\"b\":\"B\",\"c\":\"C\",\"d\":\"D\",\"e\":\"E\"}"},
      /* int64 edges; also non-shortest heads, which are well-formed. */
      {"1b7fffffffffffffff", "9223372036854775807"},
      {"3b7fffffffffffffff", "-9223372036854775808"},
      {"1800", "0"},
      {"190001", "1"},
      {"780161", "\"a\""},
      {"9a00000001f6", "[null]"},
      /* smallest subnormal single, converted exactly */
      {"fa00000001", "1.401298464324817e-45"},
  };
  for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) expect_cbor(vec[i][0], vec[i][1]);
}

static void test_rfc8949_encode(void **state) {
  (void)state;
  static const char *const vec[][2] = {
      {"0", "00"},
      {"23", "17"},
      {"24", "1818"},
      {"255", "18ff"},
      {"256", "190100"},
      {"1000", "1903e8"},
      {"65536", "1a00010000"},
      {"1000000", "1a000f4240"},
      {"4294967296", "1b0000000100000000"},
      {"1000000000000", "1b000000e8d4a51000"},
      {"9223372036854775807", "1b7fffffffffffffff"},
      {"-1", "20"},
      {"-24", "37"},
      {"-25", "3818"},
      {"-1000", "3903e7"},
      {"-9223372036854775808", "3b7fffffffffffffff"},
      {"1.1", "fb3ff199999999999a"},
      {"1.0", "fb3ff0000000000000"},
      {"-4.1", "fbc010666666666666"},
      {"1.0e+300", "fb7e37e43c8800759c"},
      {"false", "f4"},
      {"true", "f5"},
      {"null", "f6"},
      {"\"\"", "60"},
      {"\"IETF\"", "6449455446"},
      {"\"\\u00fc\"", "62c3bc"},
      {"\"aaaaaaaaaaaaaaaaaaaaaaaa\"", "7818616161616161616161616161616161616161616161616161"},
      {"[]", "80"},
      {"[1,[2,3],[4,5]]", "8301820203820405"},
      {"[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]",
       "98190102030405060708090a0b0c0d0e0f101112131415161718181819"},
      {"{}", "a0"},
      {"{\"a\":1,\"b\":[2,3]}", "a26161016162820203"},
      {"[\"a\",{\"b\":\"c\"}]", "826161a161626163"},
  };
  for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) expect_encode(vec[i][0], vec[i][1]);
}

/* ---- round trips ------------------------------------------------------ */

static const char *const nested_docs[] = {
    "{\"pn\":{\"id\":\"pn-1\",\"members\":[{\"id\":\"e1\",\"roles\":3,\"addr\":\"[::1]:5683\"},"
    "{\"id\":\"e2\",\"roles\":1,\"load\":0.25,\"up\":true}],\"keys\":[],\"meta\":{}},"
    "\"seq\":-70000,\"big\":9223372036854775807,\"small\":-9223372036854775808,"
    "\"none\":null,\"off\":false,\"pi\":3.141592653589793,\"tiny\":5e-324,"
    "\"text\":\"\\u00fc\\u6c34\\ud800\\udd51 \\\"quoted\\\" \\n\"}",
    "[[[[[[[[\"deep\"]]]]]]]]",
    "[1,[2,[3,{\"x\":[4.5,-0.0,{\"y\":{\"z\":[]}}]}]]]",
    "\"scalar\"",
    "-1",
    "1e300",
};

static void test_roundtrip_cbor(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof nested_docs / sizeof nested_docs[0]; i++) {
    json_t *v = parse(nested_docs[i]), *back = NULL, *again = NULL;
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    assert_int_equal(cpns_codec_encode(v, CPNS_CF_CBOR, &buf, &len), 0);
    char err[128];
    int rc = cpns_codec_decode(buf, len, CPNS_CF_CBOR, NULL, &back, err, sizeof err);
    if (rc) fail_msg("doc %zu: rc %d (%s)", i, rc, err);
    assert_true(json_equal(v, back));
    /* The encoding is deterministic: decoding and re-encoding gives the
     * same bytes. */
    assert_int_equal(cpns_codec_encode(back, CPNS_CF_CBOR, &buf2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    /* And CBOR -> JSON -> tree is the same tree. */
    free(buf2);
    assert_int_equal(cpns_codec_encode(back, CPNS_CF_JSON, &buf2, &len2), 0);
    assert_int_equal(cpns_codec_decode(buf2, len2, CPNS_CF_JSON, NULL, &again, NULL, 0), 0);
    assert_true(json_equal(v, again));
    free(buf);
    free(buf2);
    json_decref(v);
    json_decref(back);
    json_decref(again);
  }
}

static void test_roundtrip_json(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof nested_docs / sizeof nested_docs[0]; i++) {
    json_t *v = NULL, *back = NULL;
    const char *text = nested_docs[i];
    assert_int_equal(decode_json(text, NULL, &v), 0);
    json_t *want = parse(text);
    assert_true(json_equal(v, want));
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(cpns_codec_encode(v, CPNS_CF_JSON, &buf, &len), 0);
    /* Compact, and len counts no NUL. */
    assert_true(len > 0);
    assert_true(buf[len - 1] != '\0');
    assert_int_equal(cpns_codec_decode(buf, len, CPNS_CF_JSON, NULL, &back, NULL, 0), 0);
    assert_true(json_equal(v, back));
    free(buf);
    json_decref(v);
    json_decref(back);
    json_decref(want);
  }
}

static void test_encode_json_compact(void **state) {
  (void)state;
  json_t *v = parse("{ \"a\" : 1 , \"b\" : [ 2 , 3 ] , \"c\" : 1.5 }");
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(cpns_codec_encode(v, CPNS_CF_JSON, &buf, &len), 0);
  const char *want = "{\"a\":1,\"b\":[2,3],\"c\":1.5}";
  assert_int_equal(len, strlen(want));
  assert_memory_equal(buf, want, len);
  free(buf);
  json_decref(v);

  v = json_integer(42); /* scalars are encodable at the top level */
  assert_int_equal(cpns_codec_encode(v, CPNS_CF_JSON, &buf, &len), 0);
  assert_int_equal(len, 2);
  assert_memory_equal(buf, "42", 2);
  free(buf);
  json_decref(v);
}

static void test_encode_errors(void **state) {
  (void)state;
  uint8_t *buf = (uint8_t *)1;
  size_t len = 1;
  json_t *v = json_integer(1);
  assert_int_equal(cpns_codec_encode(NULL, CPNS_CF_CBOR, &buf, &len), CPNS_ERR_INVAL);
  assert_null(buf);
  assert_int_equal(cpns_codec_encode(v, CPNS_CF_TEXT, &buf, &len), CPNS_ERR_INVAL);
  assert_int_equal(cpns_codec_encode(v, CPNS_CF_LINK_FORMAT, &buf, &len), CPNS_ERR_INVAL);
  assert_int_equal(cpns_codec_encode(v, 61, &buf, &len), CPNS_ERR_INVAL);
  assert_null(buf);
  assert_int_equal(cpns_codec_encode(v, CPNS_CF_CBOR, NULL, &len), CPNS_ERR_INVAL);
  assert_int_equal(cpns_codec_encode(v, CPNS_CF_CBOR, &buf, NULL), CPNS_ERR_INVAL);
  json_decref(v);

  /* Invalid UTF-8 smuggled in with the unchecked setters, as value and key. */
  v = json_string_nocheck("\xff");
  assert_int_equal(cpns_codec_encode(v, CPNS_CF_CBOR, &buf, &len), CPNS_ERR_INVAL);
  assert_null(buf);
  assert_int_equal(cpns_codec_encode(v, CPNS_CF_JSON, &buf, &len), CPNS_ERR_INVAL);
  assert_null(buf);
  json_decref(v);
  v = json_object();
  assert_int_equal(json_object_set_new_nocheck(v, "\xc0\xaf", json_null()), 0);
  assert_int_equal(cpns_codec_encode(v, CPNS_CF_CBOR, &buf, &len), CPNS_ERR_INVAL);
  assert_null(buf);
  json_decref(v);

  /* Nesting beyond what any decoder accepts is refused, not recursed into. */
  json_t *top = json_array(), *cur = top;
  for (int i = 0; i < 3000; i++) {
    json_t *a = json_array();
    assert_int_equal(json_array_append_new(cur, a), 0);
    cur = a;
  }
  assert_int_equal(cpns_codec_encode(top, CPNS_CF_CBOR, &buf, &len), CPNS_ERR_INVAL);
  assert_null(buf);
  json_decref(top);
}

/* ---- rejections ------------------------------------------------------- */

static void test_reject_cbor(void **state) {
  (void)state;
  static const char *const bad[] = {
      /* indefinite lengths (RFC 8949 Appendix A) and a stray break */
      "5f42010243030405ff", "7f657374726561646d696e67ff", "9fff", "9f018202039f0405ffff",
      "83018202039f0405ff", "bf61610161629f0203ffff", "826161bf61626163ff",
      "bf6346756ef563416d7421ff", "ff", "81ff",
      /* tags */
      "c074323031332d30332d32315432303a30343a30305a", "c11a514b67b0", "d82076687474703a2f2f",
      "d6f6",
      /* byte strings */
      "40", "4401020304", "a1614140",
      /* undefined and simple values */
      "f7", "f0", "f3", "f800", "f818", "f8ff", "81f7",
      /* reserved additional information and major-7 encodings */
      "1c", "1d", "1e", "3c", "5c", "7c", "9c", "bc", "dc", "fc", "fd", "fe", "1f", "3f", "df",
      /* NaN and infinities (not representable in the tree) */
      "f97c00", "f97e00", "f9fc00", "f97c01", "fa7f800000", "fa7fc00000", "faff800000",
      "fb7ff0000000000000", "fb7ff8000000000000", "fbfff0000000000000",
      /* integers outside int64 */
      "1b8000000000000000", "1bffffffffffffffff", "3b8000000000000000", "3bffffffffffffffff",
      /* non-text map keys */
      "a10101", "a1f601", "a1800102", "a1a00102", "a1fb3ff000000000000001",
      /* duplicate map keys, also when the second is not in shortest form */
      "a2616101616102", "a36161016162026161f6", "a2616101780161f5", "81a2616101616102",
      /* invalid UTF-8 in text strings and keys */
      "61ff", "61c3", "62c328", "62c0af", "63e08080", "63eda080", "64f4908080", "64f8888080",
      "61 80", "a161ff01", "63e6b0", "62 f0 90",
      /* NUL in a text string or key */
      "6100", "6261 00", "a1610001",
      /* trailing bytes after the top-level item */
      "0000", "8000", "a0a0", "f6ff", "616161",
      /* declared lengths and counts beyond the payload */
      "61", "6261", "7a7fffffff61", "7bffffffffffffffff61", "8201", "9affffffff01",
      "9bffffffffffffffff00", "a1", "a16161", "baffffffff6161", "bbffffffffffffffff6161",
      /* truncated heads */
      "18", "19 00", "1a 0000 00", "1b 00000000 000000", "f9 00", "fa 000000", "fb 00",
      /* empty payload */
      "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_cbor_rc(bad[i], NULL, CPNS_ERR_INVAL);
}

static void test_reject_json(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",
      " ",
      "{\"a\":1,\"a\":2}",
      "[{\"k\":{\"x\":1,\"y\":2,\"x\":3}}]",
      "\"a\\u0000b\"",
      "{\"a\\u0000\":1}",
      "1 2",
      "{} x",
      "[1,]",
      "{\"a\"}",
      "NaN",
      "Infinity",
      "'single'",
      "9223372036854775808",
      "-9223372036854775809",
      "1e400",
      "\"\xff\"",
      "\"\xc0\xaf\"",
      "[\"\x01\"]",
      "{\"a\":1",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_json_rc(bad[i], NULL, CPNS_ERR_INVAL);
  /* A raw NUL byte in the payload, which strlen() would hide. */
  json_t *v = (json_t *)1;
  assert_int_equal(cpns_codec_decode((const uint8_t *)"\"a\0b\"", 5, CPNS_CF_JSON, NULL, &v,
                                     NULL, 0),
                   CPNS_ERR_INVAL);
  assert_null(v);
  /* Jansson itself would accept this one. */
  static const char *const trailing_nul[] = {"1", "-1.5", "true", "null", "\"a\"", "{}"};
  for (size_t i = 0; i < sizeof trailing_nul / sizeof trailing_nul[0]; i++) {
    char text[16];
    size_t n = strlen(trailing_nul[i]);
    memcpy(text, trailing_nul[i], n + 1); /* with its NUL */
    assert_int_equal(cpns_codec_decode((const uint8_t *)text, n + 1, CPNS_CF_JSON, NULL, &v,
                                       NULL, 0),
                     CPNS_ERR_INVAL);
    assert_null(v);
  }
  /* The int64 edges are accepted. */
  expect_json_rc("-9223372036854775808", NULL, 0);
  expect_json_rc("9223372036854775807", NULL, 0);
}

static void test_reject_args(void **state) {
  (void)state;
  uint8_t one = 0x01;
  json_t *v = (json_t *)1;
  char err[128];
  static const int formats[] = {CPNS_CF_TEXT, CPNS_CF_LINK_FORMAT, 42, 61, -1, 11542};
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    v = (json_t *)1;
    assert_int_equal(cpns_codec_decode(&one, 1, formats[i], NULL, &v, err, sizeof err),
                     CPNS_ERR_INVAL);
    assert_null(v);
    assert_non_null(strstr(err, "content format"));
  }
  assert_int_equal(cpns_codec_decode(&one, 1, CPNS_CF_CBOR, NULL, NULL, err, sizeof err),
                   CPNS_ERR_INVAL);
  assert_int_equal(cpns_codec_decode(NULL, 1, CPNS_CF_CBOR, NULL, &v, err, sizeof err),
                   CPNS_ERR_INVAL);
  assert_null(v);
  assert_int_equal(cpns_codec_decode(NULL, 0, CPNS_CF_CBOR, NULL, &v, err, sizeof err),
                   CPNS_ERR_INVAL);
  assert_int_equal(cpns_codec_decode(NULL, 0, CPNS_CF_JSON, NULL, &v, err, sizeof err),
                   CPNS_ERR_INVAL);
}

static void test_error_text(void **state) {
  (void)state;
  json_t *v = NULL;
  char err[128];
  assert_int_equal(decode_hex("83 01 02 9f ff", NULL, &v, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(err, "CBOR: indefinite length not supported at offset 3");
  assert_int_equal(decode_hex("a2 6161 01 6161 02", NULL, &v, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(err, "CBOR: duplicate map key at offset 4");
  assert_int_equal(decode_hex("00 00", NULL, &v, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(err, "CBOR: trailing bytes at offset 1");
  assert_int_equal(decode_hex("82 c1 00", NULL, &v, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(err, "CBOR: tags not supported at offset 1");

  /* err may be NULL, or too short: then it is cut, still terminated. */
  assert_int_equal(decode_hex("9fff", NULL, &v, NULL, 0), CPNS_ERR_INVAL);
  char tiny[8];
  memset(tiny, 'x', sizeof tiny);
  assert_int_equal(decode_hex("9fff", NULL, &v, tiny, sizeof tiny), CPNS_ERR_INVAL);
  assert_int_equal(strlen(tiny), sizeof tiny - 1);
  memset(tiny, 'x', sizeof tiny);
  assert_int_equal(decode_hex("9fff", NULL, &v, tiny, 1), CPNS_ERR_INVAL);
  assert_int_equal(tiny[0], '\0');
  assert_int_equal(tiny[1], 'x');

  /* Success leaves err empty. */
  strcpy(err, "stale");
  assert_int_equal(decode_hex("00", NULL, &v, err, sizeof err), 0);
  assert_string_equal(err, "");
  json_decref(v);

  /* Jansson's messages quote the input; anything not printable ASCII is
   * masked so err stays safe for a diagnostic payload. */
  const char *bad[] = {"\"\xff\xfe\"", "[\x01]", "\xc3\xbc", "{\"\xe6\xb0\xb4\" 1}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(cpns_codec_decode((const uint8_t *)bad[i], strlen(bad[i]), CPNS_CF_JSON,
                                       NULL, &v, err, sizeof err),
                     CPNS_ERR_INVAL);
    assert_true(strncmp(err, "JSON: ", 6) == 0);
    for (const char *p = err; *p; p++) assert_true(*p >= 0x20 && *p <= 0x7e);
  }
}

/* ---- limits ----------------------------------------------------------- */

static void test_default_limits(void **state) {
  (void)state;
  assert_int_equal(cpns_codec_default_limits.max_bytes, 16384);
  assert_int_equal(cpns_codec_default_limits.max_depth, 8);
  assert_int_equal(cpns_codec_default_limits.max_items, 1024);
  assert_int_equal(cpns_codec_default_limits.max_string, 1024);

  /* max_bytes, CBOR: 16 strings, 15 of 1024 bytes and one of 975, encode
   * to exactly 1 + 15 * 1027 + 978 = 16384 bytes. */
  json_t *a = json_array();
  char s[1025];
  memset(s, 'a', 1024);
  s[1024] = '\0';
  for (int i = 0; i < 15; i++) json_array_append_new(a, json_string(s));
  s[975] = '\0';
  json_array_append_new(a, json_string(s));
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(cpns_codec_encode(a, CPNS_CF_CBOR, &buf, &len), 0);
  assert_int_equal(len, 16384);
  json_t *v = NULL;
  assert_int_equal(cpns_codec_decode(buf, len, CPNS_CF_CBOR, NULL, &v, NULL, 0), 0);
  assert_true(json_equal(a, v));
  json_decref(v);
  uint8_t *more = malloc(len + 1);
  memcpy(more, buf, len);
  more[len] = 0x00;
  /* One byte more is refused for its size, not as trailing bytes. */
  assert_int_equal(cpns_codec_decode(more, len + 1, CPNS_CF_CBOR, NULL, &v, NULL, 0),
                   CPNS_ERR_TOOBIG);
  free(more);
  free(buf);
  json_decref(a);

  /* max_bytes, JSON: whitespace pads a document to the limit. */
  char *text = malloc(16386);
  memset(text, ' ', 16385);
  text[0] = '0';
  text[16385] = '\0';
  assert_int_equal(cpns_codec_decode((uint8_t *)text, 16384, CPNS_CF_JSON, NULL, &v, NULL, 0), 0);
  json_decref(v);
  assert_int_equal(cpns_codec_decode((uint8_t *)text, 16385, CPNS_CF_JSON, NULL, &v, NULL, 0),
                   CPNS_ERR_TOOBIG);
  free(text);

  /* max_depth 8, also through the defaults that a NULL lim selects. */
  expect_cbor_rc("81818181818181 81 00", NULL, 0);
  expect_cbor_rc("81818181818181 81 81 00", NULL, CPNS_ERR_TOOBIG);
  expect_cbor_rc("81818181818181 81 00", &cpns_codec_default_limits, 0);
  expect_cbor_rc("81818181818181 81 81 00", &cpns_codec_default_limits, CPNS_ERR_TOOBIG);
  expect_json_rc("[[[[[[[[0]]]]]]]]", NULL, 0);
  expect_json_rc("[[[[[[[[[0]]]]]]]]]", NULL, CPNS_ERR_TOOBIG);

  /* max_items 1024 and max_string 1024, CBOR. */
  char hex[2 * 1030 * 2 + 16];
  char *p = hex + sprintf(hex, "990400");
  for (int i = 0; i < 1024; i++) p += sprintf(p, "f6");
  expect_cbor_rc(hex, NULL, 0);
  p = hex + sprintf(hex, "990401");
  for (int i = 0; i < 1025; i++) p += sprintf(p, "f6");
  expect_cbor_rc(hex, NULL, CPNS_ERR_TOOBIG);
  p = hex + sprintf(hex, "790400");
  for (int i = 0; i < 1024; i++) p += sprintf(p, "62");
  expect_cbor_rc(hex, NULL, 0);
  p = hex + sprintf(hex, "790401");
  for (int i = 0; i < 1025; i++) p += sprintf(p, "62");
  expect_cbor_rc(hex, NULL, CPNS_ERR_TOOBIG);
}

/* Small limits so each bound is reached with short documents. */
static const struct cpns_codec_limits small = {64, 3, 5, 4};

static void test_limit_bytes(void **state) {
  (void)state;
  /* 0x78 0x3e + 62 bytes = 64; the string limit is raised out of the way. */
  const struct cpns_codec_limits lim = {64, 3, 5, 1000};
  uint8_t buf[80];
  json_t *v = NULL;
  buf[0] = 0x78;
  buf[1] = 62;
  memset(buf + 2, 'a', 63);
  assert_int_equal(cpns_codec_decode(buf, 64, CPNS_CF_CBOR, &lim, &v, NULL, 0), 0);
  assert_int_equal(json_string_length(v), 62);
  json_decref(v);
  buf[1] = 63;
  assert_int_equal(cpns_codec_decode(buf, 65, CPNS_CF_CBOR, &lim, &v, NULL, 0),
                   CPNS_ERR_TOOBIG);
  /* The size is checked before anything else, even for garbage. */
  memset(buf, 0xff, sizeof buf);
  assert_int_equal(cpns_codec_decode(buf, 65, CPNS_CF_CBOR, &lim, &v, NULL, 0),
                   CPNS_ERR_TOOBIG);
  assert_int_equal(cpns_codec_decode(buf, 65, CPNS_CF_JSON, &lim, &v, NULL, 0),
                   CPNS_ERR_TOOBIG);
  assert_int_equal(cpns_codec_decode(buf, 64, CPNS_CF_CBOR, &lim, &v, NULL, 0),
                   CPNS_ERR_INVAL);

  /* JSON: a quoted string of 62 bytes is 64 bytes of text. */
  buf[0] = '"';
  memset(buf + 1, 'a', 63);
  buf[63] = '"';
  assert_int_equal(cpns_codec_decode(buf, 64, CPNS_CF_JSON, &lim, &v, NULL, 0), 0);
  json_decref(v);
  buf[64] = '"';
  buf[63] = 'a';
  assert_int_equal(cpns_codec_decode(buf, 65, CPNS_CF_JSON, &lim, &v, NULL, 0),
                   CPNS_ERR_TOOBIG);
  /* max_bytes 0 refuses everything but is no crash. */
  const struct cpns_codec_limits zero = {0, 0, 0, 0};
  assert_int_equal(cpns_codec_decode(buf, 1, CPNS_CF_CBOR, &zero, &v, NULL, 0), CPNS_ERR_TOOBIG);
}

static void test_limit_depth(void **state) {
  (void)state;
  expect_cbor_rc("818181 00", &small, 0);
  expect_cbor_rc("81818181 00", &small, CPNS_ERR_TOOBIG);
  expect_cbor_rc("a16161 a16161 a16161 00", &small, 0);
  expect_cbor_rc("a16161 a16161 a16161 a16161 00", &small, CPNS_ERR_TOOBIG);
  expect_cbor_rc("a16161 81 a16161 00", &small, 0);
  expect_cbor_rc("a16161 81 a16161 80", &small, CPNS_ERR_TOOBIG);
  expect_json_rc("[[[0]]]", &small, 0);
  expect_json_rc("[[[[0]]]]", &small, CPNS_ERR_TOOBIG);
  expect_json_rc("{\"a\":{\"a\":{\"a\":0}}}", &small, 0);
  expect_json_rc("{\"a\":{\"a\":{\"a\":{\"a\":0}}}}", &small, CPNS_ERR_TOOBIG);
  expect_json_rc("{\"a\":[{\"a\":[]}]}", &small, CPNS_ERR_TOOBIG);
  /* Empty containers count as a level too; depth 0 allows only scalars. */
  const struct cpns_codec_limits flat = {64, 0, 5, 4};
  expect_cbor_rc("00", &flat, 0);
  expect_cbor_rc("6161", &flat, 0);
  expect_cbor_rc("80", &flat, CPNS_ERR_TOOBIG);
  expect_cbor_rc("a0", &flat, CPNS_ERR_TOOBIG);
  expect_json_rc("\"a\"", &flat, 0);
  expect_json_rc("[]", &flat, CPNS_ERR_TOOBIG);
  expect_json_rc("{}", &flat, CPNS_ERR_TOOBIG);

  /* With max_depth lifted, nesting is still capped (the CBOR decoder
   * recurses once per level; Jansson has its own cap). */
  const struct cpns_codec_limits deep = {16384, UINT_MAX, SIZE_MAX, SIZE_MAX};
  uint8_t *buf = malloc(10001);
  memset(buf, 0x81, 10000);
  buf[10000] = 0x00;
  json_t *v = NULL;
  assert_int_equal(cpns_codec_decode(buf, 10001, CPNS_CF_CBOR, &deep, &v, NULL, 0),
                   CPNS_ERR_TOOBIG);
  memset(buf, '[', 10000);
  assert_int_equal(cpns_codec_decode(buf, 10000, CPNS_CF_JSON, &deep, &v, NULL, 0),
                   CPNS_ERR_TOOBIG);
  /* 1000 levels are within both caps. */
  memset(buf, 0x81, 1000);
  buf[1000] = 0x00;
  assert_int_equal(cpns_codec_decode(buf, 1001, CPNS_CF_CBOR, &deep, &v, NULL, 0), 0);
  json_decref(v);
  free(buf);
}

static void test_limit_items(void **state) {
  (void)state;
  expect_cbor_rc("85 0102030405", &small, 0);
  expect_cbor_rc("86 010203040506", &small, CPNS_ERR_TOOBIG);
  /* Items are counted across the document: 2 + 2 + 1 = 5, then 6. */
  expect_cbor_rc("82 820102 8103", &small, 0);
  expect_cbor_rc("82 820102 820304", &small, CPNS_ERR_TOOBIG);
  expect_cbor_rc("a5 616101 616202 616303 616404 616505", &small, 0);
  expect_cbor_rc("a6 616101 616202 616303 616404 616505 616606", &small, CPNS_ERR_TOOBIG);
  expect_cbor_rc("a2 6161 820102 6162 8103", &small, 0);
  expect_cbor_rc("a2 6161 820102 6162 820304", &small, CPNS_ERR_TOOBIG);
  expect_json_rc("[1,2,3,4,5]", &small, 0);
  expect_json_rc("[1,2,3,4,5,6]", &small, CPNS_ERR_TOOBIG);
  expect_json_rc("[[1,2],[3]]", &small, 0);
  expect_json_rc("[[1,2],[3,4]]", &small, CPNS_ERR_TOOBIG);
  expect_json_rc("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}", &small, 0);
  expect_json_rc("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6}", &small, CPNS_ERR_TOOBIG);
  expect_json_rc("{\"a\":[1,2],\"b\":[3]}", &small, 0);
  expect_json_rc("{\"a\":[1,2],\"b\":[3,4]}", &small, CPNS_ERR_TOOBIG);
}

static void test_limit_string(void **state) {
  (void)state;
  expect_cbor_rc("6461626364", &small, 0);
  expect_cbor_rc("656162636465", &small, CPNS_ERR_TOOBIG);
  expect_cbor_rc("a1 6461626364 00", &small, 0);
  expect_cbor_rc("a1 656162636465 00", &small, CPNS_ERR_TOOBIG);
  /* Bytes, not characters: "üü" is 4 bytes, "üüa" 5. */
  expect_cbor_rc("64c3bcc3bc", &small, 0);
  expect_cbor_rc("65c3bcc3bc61", &small, CPNS_ERR_TOOBIG);
  expect_cbor_rc("81 656162636465", &small, CPNS_ERR_TOOBIG);
  expect_json_rc("\"abcd\"", &small, 0);
  expect_json_rc("\"abcde\"", &small, CPNS_ERR_TOOBIG);
  expect_json_rc("{\"abcd\":0}", &small, 0);
  expect_json_rc("{\"abcde\":0}", &small, CPNS_ERR_TOOBIG);
  /* The decoded length counts, not the escaped text. */
  expect_json_rc("\"\\u00fc\\u00fc\"", &small, 0);
  expect_json_rc("\"\\u00fc\\u00fca\"", &small, CPNS_ERR_TOOBIG);
  expect_json_rc("[\"abcde\"]", &small, CPNS_ERR_TOOBIG);
}

/* ---- allocation behaviour --------------------------------------------- */

static size_t alloc_count, alloc_max, alloc_fail_at = SIZE_MAX;

static void *counting_malloc(size_t n) {
  if (alloc_count++ >= alloc_fail_at) return NULL;
  if (n > alloc_max) alloc_max = n;
  return malloc(n);
}

static void counting_free(void *p) { free(p); }

static void alloc_reset(size_t fail_at) {
  alloc_count = 0;
  alloc_max = 0;
  alloc_fail_at = fail_at;
  json_set_alloc_funcs(counting_malloc, counting_free);
}

static void alloc_restore(void) { json_set_alloc_funcs(malloc, free); }

/* A head that declares more than the payload holds is refused before any
 * allocation, even with the item and string limits lifted. */
static void test_lying_lengths(void **state) {
  (void)state;
  const struct cpns_codec_limits lax = {16384, 8, SIZE_MAX, SIZE_MAX};
  static const char *const lies[] = {
      "7a7fffffff61", "7bffffffffffffffff6161", "9affffffff01", "9bffffffffffffffff00",
      "baffffffff6161", "bbffffffffffffffff616100", "a2 6161 00",
  };
  for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
    alloc_reset(SIZE_MAX);
    expect_cbor_rc(lies[i], &lax, CPNS_ERR_INVAL);
    alloc_restore();
    if (alloc_count) fail_msg("%s: %zu allocations", lies[i], alloc_count);
  }
  /* Inside a container, only the container itself has been allocated. */
  alloc_reset(SIZE_MAX);
  expect_cbor_rc("83 01 02 7bffffffffffffffff", &lax, CPNS_ERR_INVAL);
  alloc_restore();
  assert_true(alloc_max < 1024);
  /* A limit is also checked before allocation. */
  alloc_reset(SIZE_MAX);
  expect_cbor_rc("86 010203040506", &small, CPNS_ERR_TOOBIG);
  alloc_restore();
  assert_int_equal(alloc_count, 0);
}

/* Fails the first, second, ... Jansson allocation in turn: every failure is
 * reported (NOMEM for CBOR), nothing leaks (ASan), until one run succeeds. */
static void test_alloc_failures(void **state) {
  (void)state;
  static const char cbor_hex[] =
      "a3 6161 8a 01 20 1903e8 f93e00 fb3ff199999999999a 62c3bc f5 f4 f6 a1 6162 80"
      " 6163 1b000000e8d4a51000 6164 a1 6165 6166";
  static const char json_text[] =
      "{\"a\":[1,-1,1000,1.5,1.1,\"\\u00fc\",true,false,null,{\"b\":[]}],"
      "\"c\":1000000000000,\"d\":{\"e\":\"f\"}}";
  size_t len;
  uint8_t *cbor = unhex(cbor_hex, &len);
  for (int fmt = 0; fmt < 2; fmt++) {
    bool done = false;
    for (size_t n = 0; !done && n < 1000; n++) {
      json_t *v = (json_t *)1;
      alloc_reset(n);
      int rc = fmt == 0 ? cpns_codec_decode(cbor, len, CPNS_CF_CBOR, NULL, &v, NULL, 0)
                        : cpns_codec_decode((const uint8_t *)json_text, strlen(json_text),
                                            CPNS_CF_JSON, NULL, &v, NULL, 0);
      alloc_restore();
      if (rc == 0) {
        done = true;
        json_decref(v);
        continue;
      }
      assert_null(v);
      /* Jansson's lexer reports some of its allocation failures as
       * syntax errors. */
      if (fmt == 0) assert_int_equal(rc, CPNS_ERR_NOMEM);
      else assert_true(rc == CPNS_ERR_NOMEM || rc == CPNS_ERR_INVAL);
    }
    assert_true(done);
  }
  free(cbor);
}

/* ---- truncation -------------------------------------------------------- */

/* Every proper prefix of a valid document is invalid, and fails cleanly. */
static void test_truncation(void **state) {
  (void)state;
  static const char cbor_hex[] =
      "a3 6161 8b 01 20 1903e8 f93e00 fa47c35000 fb3ff199999999999a 62c3bc f5 f4 f6 a1 6162 80"
      " 6163 1b000000e8d4a51000 6164 a1 6165 3b7fffffffffffffff";
  static const char json_text[] =
      "{\"a\":[1,-1,1000,1.5,100000.0,1.1,\"\\u00fc\",true,false,null,{\"b\":[]}],"
      "\"c\":1000000000000,\"d\":{\"e\":-9223372036854775808}}";
  size_t len;
  uint8_t *full = unhex(cbor_hex, &len);
  json_t *v = NULL, *w = NULL;
  assert_int_equal(cpns_codec_decode(full, len, CPNS_CF_CBOR, NULL, &v, NULL, 0), 0);
  assert_int_equal(decode_json(json_text, NULL, &w), 0);
  assert_true(json_equal(v, w));
  json_decref(v);
  json_decref(w);
  for (size_t n = 0; n < len; n++) {
    /* An exact-size copy so ASan catches any read past the prefix. */
    uint8_t *pre = malloc(n ? n : 1);
    memcpy(pre, full, n);
    char err[64];
    v = (json_t *)1;
    int rc = cpns_codec_decode(pre, n, CPNS_CF_CBOR, NULL, &v, err, sizeof err);
    if (rc != CPNS_ERR_INVAL) fail_msg("CBOR prefix %zu: rc %d", n, rc);
    assert_null(v);
    free(pre);
  }
  free(full);
  size_t jlen = strlen(json_text);
  for (size_t n = 0; n < jlen; n++) {
    char *pre = malloc(n ? n : 1);
    memcpy(pre, json_text, n);
    v = (json_t *)1;
    int rc = cpns_codec_decode((uint8_t *)pre, n, CPNS_CF_JSON, NULL, &v, NULL, 0);
    if (rc != CPNS_ERR_INVAL) fail_msg("JSON prefix %zu: rc %d", n, rc);
    assert_null(v);
    free(pre);
  }
}

/* Every one- and two-byte CBOR input decodes or fails, without a crash. */
static void test_all_short_inputs(void **state) {
  (void)state;
  size_t ok = 0;
  for (unsigned a = 0; a < 256; a++) {
    for (unsigned b = 0; b < 257; b++) {
      uint8_t buf[2] = {(uint8_t)a, (uint8_t)b};
      size_t n = b == 256 ? 1 : 2;
      json_t *v = (json_t *)1;
      int rc = cpns_codec_decode(buf, n, CPNS_CF_CBOR, NULL, &v, NULL, 0);
      if (rc == 0) {
        ok++;
        json_decref(v);
      } else {
        assert_true(rc == CPNS_ERR_INVAL || rc == CPNS_ERR_TOOBIG);
        assert_null(v);
      }
    }
  }
  assert_true(ok > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc8949_decode),   cmocka_unit_test(test_rfc8949_encode),
      cmocka_unit_test(test_roundtrip_cbor),   cmocka_unit_test(test_roundtrip_json),
      cmocka_unit_test(test_encode_json_compact), cmocka_unit_test(test_encode_errors),
      cmocka_unit_test(test_reject_cbor),      cmocka_unit_test(test_reject_json),
      cmocka_unit_test(test_reject_args),      cmocka_unit_test(test_error_text),
      cmocka_unit_test(test_default_limits),   cmocka_unit_test(test_limit_bytes),
      cmocka_unit_test(test_limit_depth),      cmocka_unit_test(test_limit_items),
      cmocka_unit_test(test_limit_string),     cmocka_unit_test(test_lying_lengths),
      cmocka_unit_test(test_alloc_failures),   cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_all_short_inputs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
