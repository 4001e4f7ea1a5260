/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/capabilities.c: a full document and the empty one are
 * accepted; every kind of field at and one past its limit; wrong types,
 * nulls, unknown members, bad names and addresses, repeats; the whole
 * document's size bound; the diagnostics name the place; merge patches
 * (RFC 7386, with the RFC's own examples where they fit the schema), diffs
 * that take one document to another and only carry what changed. */
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

#include "capabilities.h"

static json_t *parse(const char *text) {
  json_error_t je;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
  if (!v) fail_msg("bad test JSON '%s': %s", text, je.text);
  return v;
}

static const char *rep(char c, size_t n) {
  static char buf[2][CPNS_CAPDOC_TEXT_MAX + 64];
  static int which;
  which ^= 1;
  assert_true(n < sizeof buf[0]);
  memset(buf[which], c, n);
  buf[which][n] = '\0';
  return buf[which];
}

#define PHONE                                                                                   \
  "{\"static\":{\"device_type\":\"phone\",\"hardware\":{\"screen\":{\"width\":1080,"            \
  "\"height\":2340,\"dpi\":401,\"touch\":true},\"battery\":{\"capacity_mah\":4500,"             \
  "\"technology\":\"Li-ion\"},\"processor\":{\"model\":\"Snapdragon 865\",\"arch\":\"aarch64\"," \
  "\"cores\":8},\"memory\":{\"total\":8589934592},\"chipsets\":{\"main\":\"SM8250\","           \
  "\"network\":\"X55 5G\"}},\"software\":{\"os\":{\"name\":\"Linux\",\"version\":\"6.1.0\","     \
  "\"build\":\"#1 SMP Debian\"},\"apps\":{\"org.videolan.vlc\":\"3.5.4\",\"player\":\"1.0\"},"   \
  "\"drivers\":{\"wifi\":\"2.1\"}}},\"dynamic\":{\"networks\":{\"wlan0\":{\"type\":\"wifi\","    \
  "\"addrs\":[\"192.168.1.20\",\"fe80::1\"]},\"rmnet0\":{\"type\":\"nr\"}},\"memory\":"          \
  "{\"available\":2147483648},\"battery\":{\"level\":80,\"charging\":false,\"remaining\":"      \
  "36000},\"running\":[\"player\"],\"drivers\":[\"wifi\"]}}"

/* Checks text; want is 0 or a cpns_err; where (if not NULL) must appear in
 * the diagnostic. */
static void expect(const char *text, int want, const char *where) {
  json_t *doc = parse(text);
  char err[160] = "";
  int rc = cpns_capdoc_check(doc, err, sizeof err);
  if (rc != want) fail_msg("'%.200s': got %d (%s), wanted %d", text, rc, err, want);
  if (want) {
    assert_true(err[0] != '\0');
    assert_true(strlen(err) < sizeof err - 1 || err[sizeof err - 2] != '\0');
  }
  if (where && !strstr(err, where)) fail_msg("'%s' does not say '%s'", err, where);
  json_decref(doc);
}

static void test_valid(void **state) {
  (void)state;
  expect(PHONE, 0, NULL);
  expect("{}", 0, NULL);
  expect("{\"static\":{},\"dynamic\":{}}", 0, NULL);
  expect("{\"dynamic\":{\"battery\":{\"level\":0}}}", 0, NULL);
  expect("{\"dynamic\":{\"battery\":{\"level\":100}}}", 0, NULL);
  expect("{\"dynamic\":{\"networks\":{\"eth0\":{\"addrs\":[]}}}}", 0, NULL);
}

static void test_types_and_values(void **state) {
  (void)state;
  expect("[]", CPNS_ERR_INVAL, "map");
  expect("{\"extra\":1}", CPNS_ERR_INVAL, "unknown member 'extra'");
  expect("{\"static\":{\"hardware\":{\"screen\":{\"depth\":24}}}}", CPNS_ERR_INVAL,
         "static.hardware.screen: unknown member 'depth'");
  expect("{\"dynamic\":{\"battery\":{\"level\":150}}}", CPNS_ERR_INVAL,
         "dynamic.battery.level: 150 is not within 0..100");
  expect("{\"dynamic\":{\"battery\":{\"level\":-1}}}", CPNS_ERR_INVAL, "not within");
  expect("{\"dynamic\":{\"battery\":{\"level\":50.5}}}", CPNS_ERR_INVAL, "integer");
  expect("{\"dynamic\":{\"battery\":{\"level\":\"80\"}}}", CPNS_ERR_INVAL, "integer");
  expect("{\"dynamic\":{\"battery\":{\"charging\":1}}}", CPNS_ERR_INVAL, "true or false");
  expect("{\"dynamic\":{\"battery\":null}}", CPNS_ERR_INVAL, "null is not a value");
  expect("{\"static\":{\"hardware\":{\"screen\":{\"width\":0}}}}", CPNS_ERR_INVAL, "width");
  expect("{\"static\":{\"hardware\":{\"screen\":{\"width\":65536}}}}", CPNS_ERR_INVAL, "width");
  expect("{\"static\":{\"hardware\":{\"processor\":{\"cores\":4097}}}}", CPNS_ERR_INVAL, "cores");
  expect("{\"static\":{\"hardware\":{\"memory\":{\"total\":-5}}}}", CPNS_ERR_INVAL, "total");
  expect("{\"static\":{\"hardware\":{\"memory\":{\"total\":1152921504606846977}}}}",
         CPNS_ERR_INVAL, "total");
  expect("{\"dynamic\":{\"networks\":{\"wlan0\":{\"type\":\"carrier-pigeon\"}}}}",
         CPNS_ERR_INVAL, "'carrier-pigeon' is not a known type");
  expect("{\"dynamic\":{\"networks\":{\"wlan0\":{\"addrs\":[\"192.168.1.300\"]}}}}",
         CPNS_ERR_INVAL, "dynamic.networks.wlan0.addrs[0]");
  expect("{\"dynamic\":{\"networks\":{\"wlan0\":{\"addrs\":[\"::1\",\"::1\"]}}}}",
         CPNS_ERR_INVAL, "listed twice");
  expect("{\"dynamic\":{\"running\":[\"a\",\"b\",\"a\"]}}", CPNS_ERR_INVAL, "'a' is listed twice");
  expect("{\"dynamic\":{\"running\":[\"with space\"]}}", CPNS_ERR_INVAL, "name");
  expect("{\"dynamic\":{\"running\":[\"\"]}}", CPNS_ERR_INVAL, "empty");
  expect("{\"static\":{\"software\":{\"apps\":{\"bad key\":\"1\"}}}}", CPNS_ERR_INVAL,
         "'bad key' is not a name");
  expect("{\"static\":{\"software\":{\"apps\":{\"vlc\":3}}}}", CPNS_ERR_INVAL,
         "static.software.apps.vlc: must be a text");
  expect("{\"static\":{\"device_type\":\"ph\\none\"}}", CPNS_ERR_INVAL, "control");
  /* A NUL inside a text (CBOR can carry one). */
  json_t *nul = json_pack("{s:{s:o}}", "static", "device_type", json_stringn("ph\0one", 6));
  char e[160];
  assert_int_equal(cpns_capdoc_check(nul, e, sizeof e), CPNS_ERR_INVAL);
  assert_non_null(strstr(e, "NUL"));
  json_decref(nul);
  /* A hostile key is not echoed raw. */
  json_t *doc = json_pack("{s:{s:{s:i}}}", "static", "h\x01\x02'x", "a", 1);
  char err[160];
  assert_int_equal(cpns_capdoc_check(doc, err, sizeof err), CPNS_ERR_INVAL);
  assert_null(strchr(err, '\x01'));
  json_decref(doc);
}

static void test_sizes(void **state) {
  (void)state;
  char text[8192];
  /* A text at and one past its limit. */
  snprintf(text, sizeof text, "{\"static\":{\"device_type\":\"%s\"}}", rep('t', CPNS_TYPE_MAX));
  expect(text, 0, NULL);
  snprintf(text, sizeof text, "{\"static\":{\"device_type\":\"%s\"}}", rep('t', CPNS_TYPE_MAX + 1));
  expect(text, CPNS_ERR_TOOBIG, "longer than 64 bytes");
  snprintf(text, sizeof text, "{\"static\":{\"hardware\":{\"processor\":{\"model\":\"%s\"}}}}",
           rep('m', CPNS_CAPDOC_LABEL_MAX + 1));
  expect(text, CPNS_ERR_TOOBIG, "model");
  snprintf(text, sizeof text, "{\"dynamic\":{\"running\":[\"%s\"]}}",
           rep('n', CPNS_CAPDOC_NAME_MAX));
  expect(text, 0, NULL);
  snprintf(text, sizeof text, "{\"dynamic\":{\"running\":[\"%s\"]}}",
           rep('n', CPNS_CAPDOC_NAME_MAX + 1));
  expect(text, CPNS_ERR_TOOBIG, "dynamic.running[0]: longer than 64 bytes");
  snprintf(text, sizeof text, "{\"static\":{\"software\":{\"apps\":{\"%s\":\"1\"}}}}",
           rep('n', CPNS_CAPDOC_NAME_MAX + 1));
  expect(text, CPNS_ERR_TOOBIG, "longer than 64 bytes");
  /* Entry counts at and one past their limit. */
  json_t *apps = json_object(), *running = json_array(), *addrs = json_array();
  for (int i = 0; i < CPNS_CAPDOC_APPS_MAX; i++) {
    char name[16];
    snprintf(name, sizeof name, "app%d", i);
    json_object_set_new(apps, name, json_string("1"));
    json_array_append_new(running, json_string(name));
  }
  for (int i = 0; i < CPNS_CAPDOC_ADDRS_MAX; i++) {
    char a[32];
    snprintf(a, sizeof a, "10.0.0.%d", i + 1);
    json_array_append_new(addrs, json_string(a));
  }
  json_t *doc = json_pack("{s:{s:{s:O}}, s:{s:O, s:{s:{s:O}}}}", "static", "software", "apps", apps,
                          "dynamic", "running", running, "networks", "eth0", "addrs", addrs);
  char err[160];
  assert_int_equal(cpns_capdoc_check(doc, err, sizeof err), 0);
  json_object_set_new(apps, "one-more", json_string("1"));
  assert_int_equal(cpns_capdoc_check(doc, err, sizeof err), CPNS_ERR_TOOBIG);
  assert_non_null(strstr(err, "static.software.apps: more than 64 entries"));
  json_object_del(apps, "one-more");
  json_array_append_new(running, json_string("one-more"));
  assert_int_equal(cpns_capdoc_check(doc, err, sizeof err), CPNS_ERR_TOOBIG);
  assert_non_null(strstr(err, "dynamic.running"));
  json_array_remove(running, CPNS_CAPDOC_RUNNING_MAX);
  json_array_append_new(addrs, json_string("10.0.1.1"));
  assert_int_equal(cpns_capdoc_check(doc, err, sizeof err), CPNS_ERR_TOOBIG);
  assert_non_null(strstr(err, "addrs"));
  json_decref(doc);
  json_decref(apps);
  json_decref(running);
  json_decref(addrs);
}

/* Every collection within its count, the whole over CPNS_CAPDOC_TEXT_MAX. */
static void test_whole_document_bound(void **state) {
  (void)state;
  json_t *apps = json_object(), *drivers = json_object();
  for (int i = 0; i < CPNS_CAPDOC_APPS_MAX; i++) {
    char name[CPNS_CAPDOC_NAME_MAX + 1];
    snprintf(name, sizeof name, "%02d%s", i, rep('a', CPNS_CAPDOC_NAME_MAX - 2));
    json_object_set_new(apps, name, json_string(rep('1', CPNS_CAPDOC_VERSION_MAX)));
    json_object_set_new(drivers, name, json_string(rep('2', CPNS_CAPDOC_VERSION_MAX)));
  }
  json_t *doc = json_pack("{s:{s:{s:o, s:o}}}", "static", "software", "apps", apps, "drivers",
                          drivers);
  char err[160];
  assert_int_equal(cpns_capdoc_check(doc, err, sizeof err), CPNS_ERR_TOOBIG);
  assert_non_null(strstr(err, "at most 16384"));
  json_decref(doc);
}

static void test_text_round_trip(void **state) {
  (void)state;
  json_t *doc = parse(PHONE);
  char *text = cpns_capdoc_text(doc);
  json_t *back = NULL;
  char err[160];
  assert_int_equal(cpns_capdoc_parse_text(text, &back, err, sizeof err), 0);
  assert_true(json_equal(doc, back));
  char *again = cpns_capdoc_text(back);
  assert_string_equal(text, again); /* canonical: sorted keys, compact */
  free(again);
  free(text);
  json_decref(back);
  json_decref(doc);
  assert_int_equal(cpns_capdoc_parse_text("{", &back, err, sizeof err), CPNS_ERR_INVAL);
  assert_null(back);
  assert_int_equal(cpns_capdoc_parse_text("{\"a\":1,\"a\":2}", &back, err, sizeof err),
                   CPNS_ERR_INVAL);
  assert_int_equal(cpns_capdoc_parse_text("{\"x\":1}", &back, err, sizeof err), CPNS_ERR_INVAL);
  assert_int_equal(cpns_capdoc_parse_text(rep(' ', CPNS_CAPDOC_TEXT_MAX + 1), &back, err,
                                          sizeof err),
                   CPNS_ERR_TOOBIG);
}

static void merge_ok(const char *doc, const char *patch, const char *want) {
  json_t *d = doc ? parse(doc) : NULL, *p = parse(patch), *w = parse(want), *out = NULL;
  char err[160] = "";
  int rc = cpns_capdoc_merge(d, p, &out, err, sizeof err);
  if (rc) fail_msg("merge of '%s' failed: %s", patch, err);
  if (!json_equal(out, w)) {
    char *got = cpns_capdoc_text(out);
    fail_msg("merge gave %s", got);
  }
  json_decref(d);
  json_decref(p);
  json_decref(w);
  json_decref(out);
}

static void test_merge(void **state) {
  (void)state;
  const char *base = "{\"dynamic\":{\"battery\":{\"level\":80,\"charging\":false},"
                     "\"running\":[\"a\",\"b\"]}}";
  /* RFC 7386: a member replaced, one removed by null, objects merged, lists
   * replaced whole. */
  merge_ok(base, "{\"dynamic\":{\"battery\":{\"level\":15}}}",
           "{\"dynamic\":{\"battery\":{\"level\":15,\"charging\":false},\"running\":[\"a\",\"b\"]}}");
  merge_ok(base, "{\"dynamic\":{\"battery\":{\"charging\":null}}}",
           "{\"dynamic\":{\"battery\":{\"level\":80},\"running\":[\"a\",\"b\"]}}");
  merge_ok(base, "{\"dynamic\":{\"running\":[\"c\"]}}",
           "{\"dynamic\":{\"battery\":{\"level\":80,\"charging\":false},\"running\":[\"c\"]}}");
  merge_ok(base, "{\"dynamic\":null}", "{}");
  merge_ok(base, "{}", base);
  /* Into nothing; nulls inside a new object vanish. */
  merge_ok(NULL, "{\"static\":{\"device_type\":\"tv\",\"hardware\":null}}",
           "{\"static\":{\"device_type\":\"tv\"}}");
  /* A scalar replaced by an object's merge into {} (RFC 7386 §2). */
  json_t *d = parse(base), *out = NULL;
  char err[160];
  json_t *p = parse("{\"dynamic\":{\"battery\":{\"level\":{\"x\":1}}}}");
  assert_int_equal(cpns_capdoc_merge(d, p, &out, err, sizeof err), CPNS_ERR_INVAL);
  assert_non_null(strstr(err, "dynamic.battery.level: must be an integer"));
  assert_null(out);
  json_decref(p);
  /* The result is checked: a patch cannot sneak in nonsense or bulk. */
  p = parse("{\"dynamic\":{\"battery\":{\"level\":101}}}");
  assert_int_equal(cpns_capdoc_merge(d, p, &out, err, sizeof err), CPNS_ERR_INVAL);
  json_decref(p);
  p = parse("[1]");
  assert_int_equal(cpns_capdoc_merge(d, p, &out, err, sizeof err), CPNS_ERR_INVAL);
  assert_non_null(strstr(err, "merge patch is a map"));
  json_decref(p);
  p = parse("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":1}}}}}}}}}");
  assert_int_equal(cpns_capdoc_merge(d, p, &out, err, sizeof err), CPNS_ERR_INVAL);
  assert_non_null(strstr(err, "deeper"));
  json_decref(p);
  /* The original is left alone. */
  json_t *orig = parse(base);
  assert_true(json_equal(d, orig));
  json_decref(orig);
  json_decref(d);
}

static void diff_round_trip(const char *from, const char *to, const char *want_patch) {
  json_t *a = from ? parse(from) : NULL, *b = parse(to), *out = NULL;
  json_t *patch = cpns_capdoc_diff(a, b);
  assert_non_null(patch);
  if (want_patch) {
    json_t *w = parse(want_patch);
    if (!json_equal(w, patch)) fail_msg("diff gave %s", cpns_capdoc_text(patch));
    json_decref(w);
  }
  char err[160];
  assert_int_equal(cpns_capdoc_merge(a, patch, &out, err, sizeof err), 0);
  assert_true(json_equal(out, b));
  json_decref(out);
  json_decref(patch);
  json_decref(a);
  json_decref(b);
}

static void test_diff(void **state) {
  (void)state;
  diff_round_trip(PHONE, PHONE, "{}");
  diff_round_trip(NULL, PHONE, PHONE);
  diff_round_trip(PHONE, "{}", "{\"static\":null,\"dynamic\":null}");
  /* Only the battery level changed: only it travels. */
  json_t *a = parse(PHONE), *b = json_deep_copy(a);
  json_object_set_new(json_object_get(json_object_get(b, "dynamic"), "battery"), "level",
                      json_integer(15));
  json_t *patch = cpns_capdoc_diff(a, b);
  json_t *want = parse("{\"dynamic\":{\"battery\":{\"level\":15}}}");
  assert_true(json_equal(patch, want));
  assert_false(cpns_capdoc_patch_empty(patch));
  json_decref(want);
  json_decref(patch);
  /* A network goes away and another comes: one null, one new entry. */
  json_t *nets = json_object_get(json_object_get(b, "dynamic"), "networks");
  json_object_del(nets, "rmnet0");
  json_object_set_new(nets, "bnep0", json_pack("{s:s}", "type", "bluetooth"));
  patch = cpns_capdoc_diff(a, b);
  want = parse("{\"dynamic\":{\"battery\":{\"level\":15},\"networks\":{\"rmnet0\":null,"
               "\"bnep0\":{\"type\":\"bluetooth\"}}}}");
  assert_true(json_equal(patch, want));
  json_decref(want);
  json_t *out = NULL;
  char err[160];
  assert_int_equal(cpns_capdoc_merge(a, patch, &out, err, sizeof err), 0);
  assert_true(json_equal(out, b));
  json_decref(out);
  json_decref(patch);
  patch = cpns_capdoc_diff(a, a);
  assert_true(cpns_capdoc_patch_empty(patch));
  json_decref(patch);
  json_decref(a);
  json_decref(b);
  diff_round_trip("{\"dynamic\":{\"running\":[\"a\",\"b\"]}}", "{\"dynamic\":{\"running\":[\"b\"]}}",
                  "{\"dynamic\":{\"running\":[\"b\"]}}");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_types_and_values),
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_whole_document_bound),
      cmocka_unit_test(test_text_round_trip),
      cmocka_unit_test(test_merge),
      cmocka_unit_test(test_diff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
