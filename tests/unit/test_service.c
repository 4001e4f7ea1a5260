/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/service.c: keyword folding, the service description
 * (every field at and one past its limit, wrong types, the fields only the
 * server sets, defaults), the requirement language against device
 * capabilities in both their forms, lookup queries in URI and JSON form with
 * their errors, the matching rules (all, any, prefix, offerer, PN, caps),
 * visibility, and round trips through the encoders. */
#include <limits.h>
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

#include "service.h"

/* ---- helpers ---------------------------------------------------------- */

static json_t *parse(const char *text) {
  json_error_t je;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
  if (!v) fail_msg("bad test JSON '%s': %s", text, je.text);
  return v;
}

/* A string of n copies of c, in one of two static buffers. */
static const char *rep(char c, size_t n) {
  static char buf[2][4096];
  static int which;
  which ^= 1;
  assert_true(n < sizeof buf[0]);
  memset(buf[which], c, n);
  buf[which][n] = '\0';
  return buf[which];
}

#define TV                                                                                    \
  "{\"name\":\"Living-room TV\",\"description\":\"Plays video\",\"keywords\":[\"TV\","        \
  "\"video\",\"dlna\",\"tv\"],\"visibility\":\"public\",\"requires\":{\"screen_width\":"      \
  "{\"min\":640},\"codecs\":{\"has\":[\"h264\"]},\"network\":{\"in\":[\"wifi\",\"lte\"]}},"   \
  "\"uris\":[\"coaps://[2001:db8::1]:5684/tv\"],\"lt\":3600}"

static struct cpns_service svc_from(const char *text, int want) {
  struct cpns_service s;
  char err[160] = "";
  json_t *j = parse(text);
  int rc = cpns_service_parse(j, &s, err, sizeof err);
  if (rc != want) fail_msg("'%s': got %d (%s), wanted %d", text, rc, err, want);
  if (want) assert_true(err[0] != '\0');
  json_decref(j);
  return s;
}

/* Expects cpns_service_parse to fail with want and err to contain what. */
static void svc_bad(const char *text, int want, const char *what) {
  struct cpns_service s;
  char err[160] = "";
  json_t *j = parse(text);
  int rc = cpns_service_parse(j, &s, err, sizeof err);
  if (rc != want) fail_msg("'%s': got %d (%s), wanted %d", text, rc, err, want);
  if (!strstr(err, what)) fail_msg("'%s': diagnostic '%s' lacks '%s'", text, err, what);
  json_decref(j);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
  static char buf[2][16384];
  static int which;
  which ^= 1;
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf[which], sizeof buf[which], f, ap);
  va_end(ap);
  return buf[which];
}

static struct cpns_service_query query_uri(const char *q, int want) {
  struct cpns_service_query out;
  char err[160] = "";
  int rc = cpns_service_query_parse_uri(q, &out, err, sizeof err);
  if (rc != want) fail_msg("'%s': got %d (%s), wanted %d", q, rc, err, want);
  if (want) assert_true(err[0] != '\0');
  return out;
}

static struct cpns_caps caps_text(const char *t) {
  struct cpns_caps c;
  char err[160] = "";
  if (cpns_caps_parse_text(t, &c, err, sizeof err)) fail_msg("caps '%s': %s", t, err);
  return c;
}

/* ---- tests ------------------------------------------------------------- */

static void test_keyword_normalize(void **state) {
  char out[CPNS_KEYWORD_MAX + 1];
  assert_int_equal(cpns_keyword_normalize("Video-HD_1.0", 12, out), 0);
  assert_string_equal(out, "video-hd_1.0");
  assert_int_equal(cpns_keyword_normalize("tvXX", 2, out), 0); /* only len bytes */
  assert_string_equal(out, "tv");
  assert_int_equal(cpns_keyword_normalize("", 0, out), CPNS_ERR_INVAL);
  assert_int_equal(cpns_keyword_normalize("a b", 3, out), CPNS_ERR_INVAL);
  assert_int_equal(cpns_keyword_normalize("caf\xc3\xa9", 5, out), CPNS_ERR_INVAL);
  assert_int_equal(cpns_keyword_normalize("a/b", 3, out), CPNS_ERR_INVAL);
  const char *k32 = rep('k', CPNS_KEYWORD_MAX);
  assert_int_equal(cpns_keyword_normalize(k32, CPNS_KEYWORD_MAX, out), 0);
  const char *k33 = rep('k', CPNS_KEYWORD_MAX + 1);
  assert_int_equal(cpns_keyword_normalize(k33, CPNS_KEYWORD_MAX + 1, out), CPNS_ERR_TOOBIG);
  assert_int_equal(cpns_keyword_normalize(NULL, 0, out), CPNS_ERR_INVAL);
}

static void test_service_parse(void **state) {
  struct cpns_service s = svc_from(TV, 0);
  assert_string_equal(s.name, "Living-room TV");
  assert_string_equal(s.description, "Plays video");
  /* folded, sorted, repeats dropped */
  assert_int_equal(s.nkeywords, 3);
  assert_string_equal(s.keywords[0], "dlna");
  assert_string_equal(s.keywords[1], "tv");
  assert_string_equal(s.keywords[2], "video");
  assert_int_equal(s.visibility, CPNS_VIS_PUBLIC);
  assert_int_equal(s.nrequires, 3);
  assert_string_equal(s.requires[0].cap, "codecs"); /* sorted by name */
  assert_int_equal(s.requires[0].op, CPNS_REQ_HAS);
  assert_string_equal(s.requires[1].cap, "network");
  assert_int_equal(s.requires[1].op, CPNS_REQ_IN);
  assert_int_equal(s.requires[1].nvals, 2);
  assert_string_equal(s.requires[2].cap, "screen_width");
  assert_int_equal(s.requires[2].op, CPNS_REQ_RANGE);
  assert_true(s.requires[2].has_min && !s.requires[2].has_max);
  assert_int_equal(s.requires[2].min, 640);
  assert_int_equal(s.nuris, 1);
  assert_int_equal(s.lifetime, 3600);
  /* the server's fields are empty */
  assert_string_equal(s.id, "");
  assert_string_equal(s.offerer, "");
  assert_string_equal(s.pn, "");
  assert_int_equal(s.created_at, 0);
}

static void test_service_defaults(void **state) {
  struct cpns_service s =
      svc_from("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"coap://h/x\"]}", 0);
  assert_int_equal(s.visibility, CPNS_VIS_PN);
  assert_int_equal(s.lifetime, CPNS_SERVICE_LT_DEFAULT);
  assert_int_equal(s.nrequires, 0);
  assert_string_equal(s.description, "");
}

static void test_service_required_and_types(void **state) {
  svc_bad("[]", CPNS_ERR_INVAL, "map");
  svc_bad("{\"keywords\":[\"k\"],\"uris\":[\"coap://h\"]}", CPNS_ERR_INVAL, "'name' is required");
  svc_bad("{\"name\":\"n\",\"uris\":[\"coap://h\"]}", CPNS_ERR_INVAL, "'keywords' is required");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"]}", CPNS_ERR_INVAL, "'uris' is required");
  svc_bad("{\"name\":\"\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"]}", CPNS_ERR_INVAL, "'name'");
  svc_bad("{\"name\":5,\"keywords\":[\"k\"],\"uris\":[\"coap://h\"]}", CPNS_ERR_INVAL, "'name'");
  svc_bad("{\"name\":\"a\\u0001b\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"]}", CPNS_ERR_INVAL,
          "control");
  svc_from("{\"name\":\"n\",\"description\":\"line\\nnext\\tx\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"]}", 0);
  svc_bad("{\"name\":\"n\",\"description\":\"a\\u007f\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"]}",
          CPNS_ERR_INVAL, "control");
  svc_bad("{\"name\":\"n\",\"keywords\":[],\"uris\":[\"coap://h\"]}", CPNS_ERR_INVAL, "keywords");
  svc_bad("{\"name\":\"n\",\"keywords\":\"k\",\"uris\":[\"coap://h\"]}", CPNS_ERR_INVAL, "keywords");
  svc_bad("{\"name\":\"n\",\"keywords\":[1],\"uris\":[\"coap://h\"]}", CPNS_ERR_INVAL, "keywords");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"a b\"],\"uris\":[\"coap://h\"]}", CPNS_ERR_INVAL, "keywords");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[]}", CPNS_ERR_INVAL, "'uris'");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"no-scheme\"]}", CPNS_ERR_INVAL, "not a URI");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"coap://a b\"]}", CPNS_ERR_INVAL, "not a URI");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"1x:y\"]}", CPNS_ERR_INVAL, "not a URI");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"coap:\"]}", CPNS_ERR_INVAL, "not a URI");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[7]}", CPNS_ERR_INVAL, "texts");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"],\"visibility\":\"all\"}",
          CPNS_ERR_INVAL, "visibility");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"],\"visibility\":1}",
          CPNS_ERR_INVAL, "visibility");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"],\"lt\":1}", CPNS_ERR_INVAL, "'lt'");
  svc_bad(fmt("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"],\"lt\":%d}",
              CPNS_SERVICE_LT_MAX + 1),
          CPNS_ERR_INVAL, "'lt'");
  svc_from(fmt("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"],\"lt\":%d}",
               CPNS_SERVICE_LT_MAX),
           0);
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"],\"colour\":1}",
          CPNS_ERR_INVAL, "unknown member 'colour'");
}

static void test_service_server_fields(void **state) {
  static const char *const f[] = {"id", "offerer", "pn", "created", "updated", "expires"};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    svc_bad(fmt("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"],\"%s\":\"x\"}", f[i]),
            CPNS_ERR_INVAL, "set by the server");
}

static void test_service_sizes(void **state) {
  /* name, description: at the limit and one past */
  svc_from(fmt("{\"name\":\"%s\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"]}",
               rep('n', CPNS_SERVICE_NAME_MAX)), 0);
  svc_bad(fmt("{\"name\":\"%s\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"]}",
              rep('n', CPNS_SERVICE_NAME_MAX + 1)), CPNS_ERR_TOOBIG, "'name'");
  svc_from(fmt("{\"name\":\"n\",\"description\":\"%s\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"]}",
               rep('d', CPNS_SERVICE_DESC_MAX)), 0);
  svc_bad(fmt("{\"name\":\"n\",\"description\":\"%s\",\"keywords\":[\"k\"],\"uris\":[\"coap://h\"]}",
              rep('d', CPNS_SERVICE_DESC_MAX + 1)), CPNS_ERR_TOOBIG, "'description'");
  /* keywords: count and length */
  char kws[2048] = "";
  for (int i = 0; i < CPNS_SERVICE_KEYWORDS_MAX; i++)
    snprintf(kws + strlen(kws), sizeof kws - strlen(kws), "%s\"k%d\"", i ? "," : "", i);
  struct cpns_service s =
      svc_from(fmt("{\"name\":\"n\",\"keywords\":[%s],\"uris\":[\"coap://h\"]}", kws), 0);
  assert_int_equal(s.nkeywords, CPNS_SERVICE_KEYWORDS_MAX);
  svc_bad(fmt("{\"name\":\"n\",\"keywords\":[%s,\"one-more\"],\"uris\":[\"coap://h\"]}", kws),
          CPNS_ERR_TOOBIG, "more than 16 keywords");
  svc_from(fmt("{\"name\":\"n\",\"keywords\":[\"%s\"],\"uris\":[\"coap://h\"]}",
               rep('k', CPNS_KEYWORD_MAX)), 0);
  svc_bad(fmt("{\"name\":\"n\",\"keywords\":[\"%s\"],\"uris\":[\"coap://h\"]}",
              rep('k', CPNS_KEYWORD_MAX + 1)), CPNS_ERR_TOOBIG, "longer than 32");
  /* URIs: count and length */
  char uri[CPNS_SERVICE_URI_MAX + 2];
  snprintf(uri, sizeof uri, "coap://%s", rep('h', CPNS_SERVICE_URI_MAX - 7));
  svc_from(fmt("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"%s\"]}", uri), 0);
  snprintf(uri, sizeof uri, "coap://%s", rep('h', CPNS_SERVICE_URI_MAX - 6));
  svc_bad(fmt("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"%s\"]}", uri), CPNS_ERR_TOOBIG,
          "longer than 255");
  svc_from("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"a:1\",\"b:2\",\"c:3\",\"d:4\"]}", 0);
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"a:1\",\"b:2\",\"c:3\",\"d:4\",\"e:5\"]}",
          CPNS_ERR_TOOBIG, "more than 4 URIs");
  /* requirements: count, name length, list length, text length */
  char reqs[2048] = "";
  for (int i = 0; i < CPNS_SERVICE_REQUIRES_MAX; i++)
    snprintf(reqs + strlen(reqs), sizeof reqs - strlen(reqs), "%s\"c%d\":{\"min\":1}", i ? "," : "", i);
  svc_from(fmt("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"a:1\"],\"requires\":{%s}}", reqs), 0);
  svc_bad(fmt("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"a:1\"],\"requires\":{%s,\"x\":{\"min\":1}}}", reqs),
          CPNS_ERR_TOOBIG, "more than 8 constraints");
  svc_bad(fmt("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"a:1\"],\"requires\":{\"%s\":{\"min\":1}}}",
              rep('c', CPNS_CAP_NAME_MAX + 1)), CPNS_ERR_TOOBIG, "longer than 32");
  svc_bad("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"a:1\"],\"requires\":{\"c\":{\"in\":[1,2,3,4,5,6,7,8,9]}}}",
          CPNS_ERR_TOOBIG, "1..8 values");
  svc_bad(fmt("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"a:1\"],\"requires\":{\"c\":{\"has\":[\"%s\"]}}}",
              rep('v', CPNS_CAP_TEXT_MAX + 1)), CPNS_ERR_TOOBIG, "longer than 32");
}

static void test_requires_errors(void **state) {
  const char *pre = "{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"a:1\"],\"requires\":";
  svc_bad(fmt("%s[]}", pre), CPNS_ERR_INVAL, "'requires' must be a map");
  svc_bad(fmt("%s{\"c\":5}}", pre), CPNS_ERR_INVAL, "must be a map");
  svc_bad(fmt("%s{\"c\":{}}}", pre), CPNS_ERR_INVAL, "must be a map");
  svc_bad(fmt("%s{\"c\":{\"min\":1,\"has\":[\"x\"]}}}", pre), CPNS_ERR_INVAL, "min and/or max");
  svc_bad(fmt("%s{\"c\":{\"has\":[\"x\"],\"in\":[\"y\"]}}}", pre), CPNS_ERR_INVAL, "one of has");
  svc_bad(fmt("%s{\"c\":{\"above\":1}}}", pre), CPNS_ERR_INVAL, "min and/or max");
  svc_bad(fmt("%s{\"c\":{\"min\":5,\"max\":4}}}", pre), CPNS_ERR_INVAL, "min above max");
  svc_bad(fmt("%s{\"c\":{\"min\":1.5}}}", pre), CPNS_ERR_INVAL, "integers");
  svc_bad(fmt("%s{\"c\":{\"min\":10000000000000}}}", pre), CPNS_ERR_INVAL, "integers");
  svc_bad(fmt("%s{\"c\":{\"has\":[1]}}}", pre), CPNS_ERR_INVAL, "texts");
  svc_bad(fmt("%s{\"c\":{\"has\":[]}}}", pre), CPNS_ERR_INVAL, "1..8 values");
  svc_bad(fmt("%s{\"c\":{\"in\":\"x\"}}}", pre), CPNS_ERR_INVAL, "1..8 values");
  svc_bad(fmt("%s{\"c\":{\"eq\":[1]}}}", pre), CPNS_ERR_INVAL, "a value must be");
  svc_bad(fmt("%s{\"c\":{\"eq\":\"a b\"}}}", pre), CPNS_ERR_INVAL, "tokens");
  svc_bad(fmt("%s{\"bad name\":{\"min\":1}}}", pre), CPNS_ERR_INVAL, "[a-z0-9_]");
  svc_bad(fmt("%s{\"C\":{\"min\":1},\"c\":{\"max\":2}}}", pre), CPNS_ERR_INVAL, "given twice");
}

static void test_fits(void **state) {
  struct cpns_service s = svc_from(TV, 0);
  struct cpns_caps c = caps_text("screen_width:1080,codecs:h264,codecs:vp9,network:wifi");
  assert_true(cpns_service_fits(&s, &c));
  c = caps_text("screen_width:640,codecs:H264,network:LTE"); /* single codec, folded */
  assert_true(cpns_service_fits(&s, &c));
  c = caps_text("screen_width:639,codecs:h264,network:wifi");
  assert_false(cpns_service_fits(&s, &c)); /* too narrow */
  c = caps_text("screen_width:1080,codecs:vp9,network:wifi");
  assert_false(cpns_service_fits(&s, &c)); /* codec missing */
  c = caps_text("screen_width:1080,codecs:h264,network:bluetooth");
  assert_false(cpns_service_fits(&s, &c)); /* network not allowed */
  c = caps_text("screen_width:1080,codecs:h264");
  assert_false(cpns_service_fits(&s, &c)); /* a capability not reported */
  c = caps_text("screen_width:wide,codecs:h264,network:wifi");
  assert_false(cpns_service_fits(&s, &c)); /* not an integer */
  c = caps_text("screen_width:1080,codecs:h264,network:wifi,network:lte");
  assert_false(cpns_service_fits(&s, &c)); /* "in" wants one value, not a list */

  struct cpns_service e = svc_from("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"a:1\"],"
                                   "\"requires\":{\"touch\":{\"eq\":true},\"ram\":{\"max\":4}}}", 0);
  c = caps_text("touch:true,ram:4");
  assert_true(cpns_service_fits(&e, &c));
  c = caps_text("touch:false,ram:4");
  assert_false(cpns_service_fits(&e, &c));
  c = caps_text("touch:true,ram:5");
  assert_false(cpns_service_fits(&e, &c));
  c = caps_text("touch:1,ram:2"); /* 1 is an integer, not true */
  assert_false(cpns_service_fits(&e, &c));
  /* a service without requirements fits any device */
  struct cpns_service none =
      svc_from("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"a:1\"]}", 0);
  memset(&c, 0, sizeof c);
  assert_true(cpns_service_fits(&none, &c));
}

static void test_caps_json(void **state) {
  struct cpns_caps c;
  char err[160];
  json_t *j = parse("{\"codecs\":[\"H264\",\"vp9\"],\"screen_width\":1080,\"touch\":true,"
                    "\"network\":\"wifi\"}");
  assert_int_equal(cpns_caps_parse_json(j, &c, err, sizeof err), 0);
  json_decref(j);
  assert_int_equal(c.n, 4);
  assert_string_equal(c.cap[0].name, "codecs"); /* sorted */
  assert_true(c.cap[0].list);
  assert_string_equal(c.cap[0].vals[0].text, "h264");
  /* to JSON and back: the same */
  json_t *o = cpns_caps_to_json(&c);
  struct cpns_caps back;
  assert_int_equal(cpns_caps_parse_json(o, &back, err, sizeof err), 0);
  assert_memory_equal(&c, &back, sizeof c);
  json_decref(o);

  static const char *const bad[] = {
      "[]", "{\"a\":[1]}", "{\"a\":[]}", "{\"a\":{}}", "{\"a\":1.5}", "{\"a b\":1}",
      "{\"a\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}", "{\"A\":1,\"a\":2}",
      "{\"a\":2000000000000}", "{\"a\":null}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    j = parse(bad[i]);
    err[0] = '\0';
    if (cpns_caps_parse_json(j, &c, err, sizeof err) == 0) fail_msg("caps %s accepted", bad[i]);
    assert_true(err[0] != '\0');
    json_decref(j);
  }
  /* at most CPNS_CAPS_MAX */
  char big[2048] = "{";
  for (int i = 0; i <= CPNS_CAPS_MAX; i++)
    snprintf(big + strlen(big), sizeof big - strlen(big), "%s\"c%d\":1", i ? "," : "", i);
  strcat(big, "}");
  j = parse(big);
  assert_int_equal(cpns_caps_parse_json(j, &c, err, sizeof err), CPNS_ERR_TOOBIG);
  json_decref(j);
}

static void test_caps_text(void **state) {
  struct cpns_caps c = caps_text("n:-5,b:false,t:video/mp4,l:a,l:b");
  assert_int_equal(c.n, 4);
  assert_string_equal(c.cap[0].name, "b");
  assert_int_equal(c.cap[0].vals[0].kind, CPNS_CAP_BOOL);
  assert_string_equal(c.cap[1].name, "l");
  assert_true(c.cap[1].list);
  assert_int_equal(c.cap[1].nvals, 2);
  assert_int_equal(c.cap[2].vals[0].kind, CPNS_CAP_INT);
  assert_int_equal(c.cap[2].vals[0].i, -5);
  assert_string_equal(c.cap[3].vals[0].text, "video/mp4");
  static const char *const bad[] = {"",      "a",       "a:",    ":1",  "a:1,",       "a:1,,b:2",
                                    "a b:1", "a:x y",   "a:1,a:2", "a:x,a:1",
                                    "a:99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[160] = "";
    if (cpns_caps_parse_text(bad[i], &c, err, sizeof err) == 0) fail_msg("caps '%s' accepted", bad[i]);
    assert_true(err[0] != '\0');
  }
  char err[160];
  char nine[256] = "";
  for (int i = 0; i <= CPNS_CAP_VALUES_MAX; i++)
    snprintf(nine + strlen(nine), sizeof nine - strlen(nine), "%sl:v%d", i ? "," : "", i);
  assert_int_equal(cpns_caps_parse_text(nine, &c, err, sizeof err), CPNS_ERR_TOOBIG);
  char seventeen[512] = "";
  for (int i = 0; i <= CPNS_CAPS_MAX; i++)
    snprintf(seventeen + strlen(seventeen), sizeof seventeen - strlen(seventeen), "%sc%d:1",
             i ? "," : "", i);
  assert_int_equal(cpns_caps_parse_text(seventeen, &c, err, sizeof err), CPNS_ERR_TOOBIG);
  assert_int_equal(cpns_caps_parse_text(fmt("v:%s", rep('x', CPNS_CAP_TEXT_MAX + 1)), &c, err,
                                        sizeof err),
                   CPNS_ERR_TOOBIG);
}

static void test_query_uri(void **state) {
  struct cpns_service_query q =
      query_uri("kw=Video,tv,video&match=any&offerer=gw-a&pn=home&limit=5&after=abc", 0);
  assert_int_equal(q.nkw, 2);
  assert_string_equal(q.kw[0], "tv");
  assert_string_equal(q.kw[1], "video");
  assert_int_equal(q.match, CPNS_MATCH_ANY);
  assert_string_equal(q.offerer, "gw-a");
  assert_string_equal(q.pn, "home");
  assert_int_equal(q.limit, 5);
  assert_string_equal(q.after, "abc");
  assert_false(q.has_caps);
  assert_true(cpns_service_query_selective(&q));
  q = query_uri("kw=tv&caps=codecs:h264,screen_width:800", 0);
  assert_int_equal(q.match, CPNS_MATCH_ALL); /* the default */
  assert_true(q.has_caps);
  assert_int_equal(q.caps.n, 2);
  q = query_uri("", 0);
  assert_false(cpns_service_query_selective(&q));
  q = query_uri("limit=3", 0);
  assert_false(cpns_service_query_selective(&q));
  q = query_uri("offerer=x", 0);
  assert_true(cpns_service_query_selective(&q));

  query_uri("colour=red", CPNS_ERR_INVAL);
  query_uri("kw=a&kw=b", CPNS_ERR_INVAL);
  query_uri("kw=", CPNS_ERR_INVAL);
  query_uri("kw", CPNS_ERR_INVAL);
  query_uri("kw=a,,b", CPNS_ERR_INVAL);
  query_uri("kw=a b", CPNS_ERR_INVAL);
  query_uri("kw=a&", CPNS_ERR_INVAL);
  query_uri("match=any", CPNS_ERR_INVAL); /* match without keywords */
  query_uri("kw=a&match=some", CPNS_ERR_INVAL);
  query_uri("kw=a&match=prefix", CPNS_ERR_INVAL); /* too short a prefix */
  query_uri("kw=ab&match=prefix", 0);
  query_uri("kw=a&limit=0", CPNS_ERR_INVAL);
  query_uri("kw=a&limit=-1", CPNS_ERR_INVAL);
  query_uri("kw=a&limit=x", CPNS_ERR_INVAL);
  query_uri("kw=a&limit=5x", CPNS_ERR_INVAL);
  query_uri(fmt("kw=a&limit=%d", CPNS_QUERY_LIMIT_MAX + 1), CPNS_ERR_INVAL);
  query_uri("kw=a&after=a/b", CPNS_ERR_INVAL);
  query_uri("offerer=a%20b", CPNS_ERR_INVAL);
  query_uri(fmt("pn=%s", rep('p', CPNS_ID_MAX + 1)), CPNS_ERR_INVAL);
  query_uri("kw=a&caps=x", CPNS_ERR_INVAL);
  query_uri("kw=a,b,c,d,e,f,g,h", 0);
  query_uri("kw=a,b,c,d,e,f,g,h,i", CPNS_ERR_TOOBIG); /* keyword flood */
  query_uri(fmt("kw=%s", rep('k', CPNS_KEYWORD_MAX + 1)), CPNS_ERR_TOOBIG);
  query_uri(fmt("kw=%s", rep('k', 600)), CPNS_ERR_TOOBIG);
}

static void test_query_json(void **state) {
  struct cpns_service_query q;
  char err[160];
  json_t *j = parse("{\"kw\":[\"TV\"],\"match\":\"prefix\",\"pn\":\"home\",\"caps\":{\"w\":5}}");
  assert_int_equal(cpns_service_query_parse_json(j, false, &q, err, sizeof err), 0);
  json_decref(j);
  assert_int_equal(q.match, CPNS_MATCH_PREFIX);
  assert_string_equal(q.kw[0], "tv");
  assert_true(q.has_caps);
  /* to JSON and back */
  json_t *o = cpns_service_query_to_json(&q);
  struct cpns_service_query back;
  assert_int_equal(cpns_service_query_parse_json(o, false, &back, err, sizeof err), 0);
  assert_memory_equal(&q, &back, sizeof q);
  json_decref(o);
  /* paging only where asked for */
  j = parse("{\"kw\":[\"tv\"],\"limit\":3,\"after\":\"x\"}");
  assert_int_equal(cpns_service_query_parse_json(j, false, &q, err, sizeof err), CPNS_ERR_INVAL);
  assert_int_equal(cpns_service_query_parse_json(j, true, &q, err, sizeof err), 0);
  assert_int_equal(q.limit, 3);
  json_decref(j);
  static const char *const bad[] = {
      "[]", "{\"kw\":\"tv\"}", "{\"kw\":[]}", "{\"match\":\"any\"}", "{\"kw\":[\"a\"],\"match\":5}",
      "{\"offerer\":\"\"}", "{\"pn\":\"a b\"}", "{\"caps\":[]}", "{\"kw\":[\"tv\"],\"x\":1}",
      "{\"kw\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}",
      "{\"kw\":[\"a\"],\"match\":\"prefix\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    j = parse(bad[i]);
    err[0] = '\0';
    if (cpns_service_query_parse_json(j, false, &q, err, sizeof err) == 0)
      fail_msg("query %s accepted", bad[i]);
    assert_true(err[0] != '\0');
    json_decref(j);
  }
}

static void test_matches(void **state) {
  struct cpns_service s = svc_from(TV, 0); /* dlna, tv, video */
  strcpy(s.offerer, "gw-a");
  strcpy(s.pn, "home");
  struct {
    const char *q;
    bool want;
  } cases[] = {
      {"kw=tv", true},
      {"kw=tv,video", true},
      {"kw=tv,radio", false},
      {"kw=tv,radio&match=any", true},
      {"kw=radio,music&match=any", false},
      {"kw=vid&match=prefix", true},
      {"kw=vi,ra&match=prefix", true},
      {"kw=ra,mu&match=prefix", false},
      {"kw=videos&match=prefix", false},
      {"offerer=gw-a", true},
      {"offerer=gw-b", false},
      {"pn=home", true},
      {"pn=office", false},
      {"kw=tv&offerer=gw-a&pn=home", true},
      {"kw=tv&pn=office", false},
      {"kw=tv&caps=screen_width:800,codecs:h264,network:wifi", true},
      {"kw=tv&caps=screen_width:800,codecs:h265,network:wifi", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct cpns_service_query q = query_uri(cases[i].q, 0);
    if (cpns_service_query_matches(&q, &s) != cases[i].want)
      fail_msg("'%s' should %smatch", cases[i].q, cases[i].want ? "" : "not ");
  }
}

static void test_visibility(void **state) {
  struct cpns_service s = svc_from("{\"name\":\"n\",\"keywords\":[\"k\"],\"uris\":[\"a:1\"]}", 0);
  strcpy(s.pn, "home");
  assert_true(cpns_service_visible(&s, false, "home"));
  assert_false(cpns_service_visible(&s, false, "office"));
  assert_false(cpns_service_visible(&s, false, ""));
  assert_false(cpns_service_visible(&s, false, NULL));
  assert_true(cpns_service_visible(&s, true, ""));
  s.visibility = CPNS_VIS_PUBLIC;
  assert_true(cpns_service_visible(&s, false, "office"));
  assert_true(cpns_service_visible(&s, false, ""));
  /* a private service without a PN is visible to the operator only */
  s.visibility = CPNS_VIS_PN;
  s.pn[0] = '\0';
  assert_false(cpns_service_visible(&s, false, ""));
}

static void test_round_trip(void **state) {
  struct cpns_service s = svc_from(TV, 0);
  json_t *d = cpns_service_describe(&s);
  assert_non_null(d);
  struct cpns_service back;
  char err[160];
  assert_int_equal(cpns_service_parse(d, &back, err, sizeof err), 0);
  assert_memory_equal(&s, &back, sizeof s);
  json_decref(d);
  /* the whole object carries the server's fields, which a body may not */
  strcpy(s.id, "s1");
  strcpy(s.offerer, "gw-a");
  strcpy(s.pn, "home");
  s.created_at = 1;
  s.updated_at = 2;
  s.expires_at = 3;
  json_t *o = cpns_service_to_json(&s);
  assert_string_equal(json_string_value(json_object_get(o, "offerer")), "gw-a");
  assert_int_equal(json_integer_value(json_object_get(o, "expires")), 3);
  assert_int_equal(cpns_service_parse(o, &back, err, sizeof err), CPNS_ERR_INVAL);
  json_decref(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keyword_normalize),
      cmocka_unit_test(test_service_parse),
      cmocka_unit_test(test_service_defaults),
      cmocka_unit_test(test_service_required_and_types),
      cmocka_unit_test(test_service_server_fields),
      cmocka_unit_test(test_service_sizes),
      cmocka_unit_test(test_requires_errors),
      cmocka_unit_test(test_fits),
      cmocka_unit_test(test_caps_json),
      cmocka_unit_test(test_caps_text),
      cmocka_unit_test(test_query_uri),
      cmocka_unit_test(test_query_json),
      cmocka_unit_test(test_matches),
      cmocka_unit_test(test_visibility),
      cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
