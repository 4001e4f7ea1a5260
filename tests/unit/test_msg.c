/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/msg.c: the id rule, the typed field readers, roles, the
 * registration and PN bodies (each field at and one past its limit, wrong
 * types, unknown members, the gateway-only fields), and the Entity and PN
 * objects of docs/protocol.md, through both encodings. */
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

#include "codec.h"
#include "msg.h"

/* ---- helpers ---------------------------------------------------------- */

static json_t *parse(const char *text) {
  json_error_t je;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
  if (!v) fail_msg("bad test JSON '%s': %s", text, je.text);
  return v;
}

/* snprintf into an array that must hold the whole text: a test input cut
 * short would test something else, so a cut fails the test. */
#define FMT(buf, ...) assert_true(snprintf((buf), sizeof(buf), __VA_ARGS__) < (int)sizeof(buf))

/* A string of n copies of c, in a static buffer (one at a time). */
static const char *rep(char c, size_t n) {
  static char buf[1024];
  assert_true(n < sizeof buf);
  memset(buf, c, n);
  buf[n] = '\0';
  return buf;
}

/* ---- ids -------------------------------------------------------------- */

static void test_valid_id(void **state) {
  (void)state;
  assert_true(cpns_valid_id("a"));
  assert_true(cpns_valid_id("Z"));
  assert_true(cpns_valid_id("0"));
  assert_true(cpns_valid_id("."));
  assert_true(cpns_valid_id("-"));
  assert_true(cpns_valid_id("_"));
  assert_true(cpns_valid_id("gw-home_2.local"));
  /* every allowed character, 64 of them at once */
  const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
  assert_int_equal(strlen(all), 65);
  assert_false(cpns_valid_id(all));
  assert_true(cpns_valid_id(all + 1));
  assert_true(cpns_valid_id(rep('x', CPNS_ID_MAX)));
  assert_false(cpns_valid_id(rep('x', CPNS_ID_MAX + 1)));
  assert_false(cpns_valid_id(rep('x', 500)));
  assert_false(cpns_valid_id(""));
  static const char *const bad[] = {"a b", "a/b", "a#b", "a@b", "a:b", "a\nb", "a\tb",
                                    "a&b", "a=b", "a?b", "a%b", "a+b", "caf\xc3\xa9", "\x7f",
                                    "a\"", "a\\", "a,b", "a;b", "[a]", "~a"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (cpns_valid_id(bad[i])) fail_msg("'%s' accepted", bad[i]);
  /* a bad character at the last allowed position */
  char id[CPNS_ID_MAX + 1];
  memset(id, 'a', CPNS_ID_MAX);
  id[CPNS_ID_MAX] = '\0';
  id[CPNS_ID_MAX - 1] = '/';
  assert_false(cpns_valid_id(id));
}

/* ---- field readers ---------------------------------------------------- */

static void test_msg_str(void **state) {
  (void)state;
  char err[128], out[5];
  json_t *o = parse("{\"s\":\"abcd\",\"long\":\"abcde\",\"e\":\"\",\"i\":5,\"n\":null,"
                    "\"a\":[\"x\"],\"b\":true,\"u\":\"\xc3\xa9t\xc3\xa9\"}");
  strcpy(out, "keep");
  assert_int_equal(cpns_msg_str(o, "absent", out, sizeof out, false, err, sizeof err), 0);
  assert_string_equal(out, "keep");
  assert_int_equal(cpns_msg_str(o, "absent", out, sizeof out, true, err, sizeof err),
                   CPNS_ERR_INVAL);
  assert_string_equal(err, "'absent' is required");
  assert_int_equal(cpns_msg_str(o, "s", out, sizeof out, true, err, sizeof err), 0);
  assert_string_equal(out, "abcd"); /* outsize - 1 bytes fit */
  strcpy(out, "keep");
  assert_int_equal(cpns_msg_str(o, "long", out, sizeof out, false, err, sizeof err),
                   CPNS_ERR_TOOBIG);
  assert_string_equal(err, "'long' is longer than 4 bytes");
  assert_string_equal(out, "keep");
  assert_int_equal(cpns_msg_str(o, "e", out, sizeof out, true, err, sizeof err), 0);
  assert_string_equal(out, "");
  /* length is in bytes, not characters: "été" is 5 bytes */
  assert_int_equal(cpns_msg_str(o, "u", out, sizeof out, true, err, sizeof err), CPNS_ERR_TOOBIG);
  static const char *const wrong[] = {"i", "n", "a", "b"};
  for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
    strcpy(out, "keep");
    assert_int_equal(cpns_msg_str(o, wrong[i], out, sizeof out, false, err, sizeof err),
                     CPNS_ERR_INVAL);
    char want[64];
    FMT(want, "'%s' must be a text string", wrong[i]);
    assert_string_equal(err, want);
    assert_string_equal(out, "keep");
  }
  json_decref(o);
}

static void test_msg_int(void **state) {
  (void)state;
  char err[128];
  long v = 77;
  json_t *o = parse("{\"lo\":2,\"hi\":86400,\"under\":1,\"over\":86401,\"neg\":-5,\"real\":60.0,"
                    "\"str\":\"60\",\"t\":true,\"n\":null,\"big\":9223372036854775807}");
  assert_int_equal(cpns_msg_int(o, "absent", 2, 86400, &v, false, err, sizeof err), 0);
  assert_int_equal(v, 77);
  assert_int_equal(cpns_msg_int(o, "absent", 2, 86400, &v, true, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(err, "'absent' is required");
  assert_int_equal(cpns_msg_int(o, "lo", 2, 86400, &v, true, err, sizeof err), 0);
  assert_int_equal(v, 2);
  assert_int_equal(cpns_msg_int(o, "hi", 2, 86400, &v, true, err, sizeof err), 0);
  assert_int_equal(v, 86400);
  assert_int_equal(cpns_msg_int(o, "neg", -5, 0, &v, true, err, sizeof err), 0);
  assert_int_equal(v, -5);
  static const char *const bad[] = {"under", "over", "neg", "real", "str", "t", "n", "big"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    v = 77;
    if (cpns_msg_int(o, bad[i], 2, 86400, &v, false, err, sizeof err) != CPNS_ERR_INVAL)
      fail_msg("'%s' accepted", bad[i]);
    char want[64];
    FMT(want, "'%s' must be an integer in 2..86400", bad[i]);
    assert_string_equal(err, want);
    assert_int_equal(v, 77);
  }
  /* the full long range */
  assert_int_equal(cpns_msg_int(o, "big", LONG_MIN, LONG_MAX, &v, true, err, sizeof err), 0);
  assert_int_equal(v, LONG_MAX);
  json_decref(o);
}

static void test_msg_bool(void **state) {
  (void)state;
  char err[128];
  json_t *o = parse("{\"t\":true,\"f\":false,\"one\":1,\"s\":\"true\",\"n\":null}");
  bool b = true;
  assert_int_equal(cpns_msg_bool(o, "absent", &b, err, sizeof err), 0);
  assert_true(b);
  assert_int_equal(cpns_msg_bool(o, "f", &b, err, sizeof err), 0);
  assert_false(b);
  assert_int_equal(cpns_msg_bool(o, "t", &b, err, sizeof err), 0);
  assert_true(b);
  static const char *const bad[] = {"one", "s", "n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    b = false;
    assert_int_equal(cpns_msg_bool(o, bad[i], &b, err, sizeof err), CPNS_ERR_INVAL);
    char want[64];
    FMT(want, "'%s' must be true or false", bad[i]);
    assert_string_equal(err, want);
    assert_false(b);
  }
  json_decref(o);
}

static void test_msg_only(void **state) {
  (void)state;
  static const char *const allowed[] = {"a", "b", NULL};
  static const char *const none[] = {NULL};
  char err[128];
  json_t *o = parse("{\"a\":1,\"b\":2}");
  assert_int_equal(cpns_msg_only(o, allowed, err, sizeof err), 0);
  assert_int_equal(cpns_msg_only(o, none, err, sizeof err), CPNS_ERR_INVAL);
  json_decref(o);
  o = parse("{}");
  assert_int_equal(cpns_msg_only(o, none, err, sizeof err), 0);
  json_decref(o);
  o = parse("{\"a\":1,\"c\":2}");
  assert_int_equal(cpns_msg_only(o, allowed, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(err, "unknown member 'c'");
  json_decref(o);
  o = parse("{\"A\":1}"); /* case-sensitive */
  assert_int_equal(cpns_msg_only(o, allowed, err, sizeof err), CPNS_ERR_INVAL);
  json_decref(o);
  o = parse("{\"ab\":1}"); /* not a prefix match */
  assert_int_equal(cpns_msg_only(o, allowed, err, sizeof err), CPNS_ERR_INVAL);
  json_decref(o);
  /* a long unknown key is cut to 40 bytes in the diagnostic */
  o = json_object();
  json_object_set_new(o, rep('k', 300), json_integer(1));
  assert_int_equal(cpns_msg_only(o, allowed, err, sizeof err), CPNS_ERR_INVAL);
  char want[64];
  FMT(want, "unknown member '%s'", rep('k', 40));
  assert_string_equal(err, want);
  json_decref(o);
  /* not a map */
  static const char *const notmap[] = {"[]", "[{\"a\":1}]", "1", "\"a\"", "null", "true"};
  for (size_t i = 0; i < sizeof notmap / sizeof notmap[0]; i++) {
    o = parse(notmap[i]);
    assert_int_equal(cpns_msg_only(o, allowed, err, sizeof err), CPNS_ERR_INVAL);
    assert_string_equal(err, "the body must be a map");
    json_decref(o);
  }
  assert_int_equal(cpns_msg_only(NULL, allowed, err, sizeof err), CPNS_ERR_INVAL);
}

/* ---- roles ------------------------------------------------------------ */

static void expect_roles_json(unsigned roles, const char *text) {
  json_t *got = cpns_msg_roles(roles), *want = parse(text);
  assert_non_null(got);
  if (!json_equal(got, want)) fail_msg("roles %u: not %s", roles, text);
  json_decref(got);
  json_decref(want);
}

static void test_roles(void **state) {
  (void)state;
  expect_roles_json(0, "[]");
  expect_roles_json(CPNS_ROLE_PNE, "[\"pne\"]");
  expect_roles_json(CPNS_ROLE_GW, "[\"gw\"]");
  expect_roles_json(CPNS_ROLE_PNE | CPNS_ROLE_GW, "[\"pne\",\"gw\"]");
  expect_roles_json(CPNS_ROLE_GW | 0x100, "[\"gw\"]"); /* unknown bits are left out */

  static const struct {
    const char *text;
    unsigned roles;
  } good[] = {{"[\"pne\"]", CPNS_ROLE_PNE},
              {"[\"gw\"]", CPNS_ROLE_GW},
              {"[\"pne\",\"gw\"]", CPNS_ROLE_PNE | CPNS_ROLE_GW},
              {"[\"gw\",\"pne\"]", CPNS_ROLE_PNE | CPNS_ROLE_GW}};
  char err[128];
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    json_t *a = parse(good[i].text);
    unsigned r = 0xdead;
    if (cpns_msg_parse_roles(a, &r, err, sizeof err)) fail_msg("%s: %s", good[i].text, err);
    assert_int_equal(r, good[i].roles);
    /* and back */
    json_t *back = cpns_msg_roles(r);
    unsigned r2 = 0;
    assert_int_equal(cpns_msg_parse_roles(back, &r2, err, sizeof err), 0);
    assert_int_equal(r2, r);
    json_decref(back);
    json_decref(a);
  }
  static const char *const bad[] = {"[]",          "[\"PNE\"]",   "[\"server\"]",
                                    "[1]",         "[null]",      "[[\"pne\"]]",
                                    "[\"pne\",\"gw\",\"pne\"]",   "\"pne\"",
                                    "{\"pne\":1}", "null",        "[\"pne\",2]",
                                    "[\"\"]"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *a = parse(bad[i]);
    unsigned r = 0xdead;
    if (cpns_msg_parse_roles(a, &r, err, sizeof err) != CPNS_ERR_INVAL)
      fail_msg("'%s' accepted", bad[i]);
    assert_int_equal(r, 0xdead); /* untouched on failure */
    assert_true(err[0] != '\0');
    json_decref(a);
  }
  unsigned r = 0xdead;
  assert_int_equal(cpns_msg_parse_roles(NULL, &r, err, sizeof err), CPNS_ERR_INVAL);
}

/* ---- registration bodies ---------------------------------------------- */

static void fresh_entity(struct cpns_entity_rec *e) {
  memset(e, 0, sizeof *e);
  strcpy(e->pn, "home");
  strcpy(e->id, "phone");
  strcpy(e->name, "old name");
  strcpy(e->device_type, "old type");
  strcpy(e->addr, "old addr");
  e->roles = CPNS_ROLE_GW;
  e->state = CPNS_STATE_ADDED;
  e->lifetime = 60;
}

static int reg(const char *text, struct cpns_entity_rec *e, bool from_gw, char *err,
               size_t errlen) {
  json_t *b = parse(text);
  err[0] = '\0';
  int rc = cpns_msg_parse_registration(b, e, from_gw, err, errlen);
  json_decref(b);
  return rc;
}

static void test_registration_pne(void **state) {
  (void)state;
  struct cpns_entity_rec e;
  char err[160];
  fresh_entity(&e);
  int rc = reg("{\"name\":\"My phone\",\"type\":\"phone\",\"roles\":[\"pne\"],\"lt\":120}", &e,
               false, err, sizeof err);
  if (rc) fail_msg("%s", err);
  assert_string_equal(e.name, "My phone");
  assert_string_equal(e.device_type, "phone");
  assert_int_equal(e.roles, CPNS_ROLE_PNE);
  assert_int_equal(e.lifetime, 120);
  /* pn and id come from the path, not the body; addr and state from the gw */
  assert_string_equal(e.pn, "home");
  assert_string_equal(e.id, "phone");
  assert_string_equal(e.addr, "old addr");
  assert_int_equal(e.state, CPNS_STATE_ADDED);

  /* {} will do, and changes nothing */
  fresh_entity(&e);
  struct cpns_entity_rec before;
  memcpy(&before, &e, sizeof e);
  assert_int_equal(reg("{}", &e, false, err, sizeof err), 0);
  assert_memory_equal(&e, &before, sizeof e);

  /* fields that only the gateway may send */
  fresh_entity(&e);
  assert_int_equal(reg("{\"state\":\"online\"}", &e, false, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(err, "unknown member 'state'");
  assert_int_equal(reg("{\"addr\":\"1.2.3.4:5\"}", &e, false, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(err, "unknown member 'addr'");
  static const char *const unknown[] = {"{\"id\":\"x\"}", "{\"pn\":\"home\"}",
                                        "{\"name\":\"a\",\"lifetime\":60}", "{\"Name\":\"a\"}"};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    assert_int_equal(reg(unknown[i], &e, false, err, sizeof err), CPNS_ERR_INVAL);
    assert_non_null(strstr(err, "unknown member"));
  }
  assert_int_equal(cpns_msg_parse_registration(NULL, &e, false, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(err, "a body is required");
  static const char *const notmap[] = {"[]", "\"x\"", "3", "null"};
  for (size_t i = 0; i < sizeof notmap / sizeof notmap[0]; i++) {
    assert_int_equal(reg(notmap[i], &e, false, err, sizeof err), CPNS_ERR_INVAL);
    assert_string_equal(err, "the body must be a map");
  }
}

static void test_registration_lifetime(void **state) {
  (void)state;
  struct cpns_entity_rec e;
  char err[160], text[64];
  static const long good[] = {CPNS_LIFETIME_MIN, 60, CPNS_LIFETIME_MAX};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    fresh_entity(&e);
    FMT(text, "{\"lt\":%ld}", good[i]);
    assert_int_equal(reg(text, &e, false, err, sizeof err), 0);
    assert_int_equal(e.lifetime, good[i]);
  }
  static const char *const bad[] = {"{\"lt\":1}",     "{\"lt\":0}",       "{\"lt\":-60}",
                                    "{\"lt\":86401}", "{\"lt\":4294967356}", "{\"lt\":60.0}",
                                    "{\"lt\":\"60\"}", "{\"lt\":null}",   "{\"lt\":[60]}",
                                    "{\"lt\":true}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fresh_entity(&e);
    if (reg(bad[i], &e, false, err, sizeof err) != CPNS_ERR_INVAL) fail_msg("%s accepted", bad[i]);
    assert_string_equal(err, "'lt' must be an integer in 2..86400");
    assert_int_equal(e.lifetime, 60); /* untouched */
  }
}

static void test_registration_sizes_and_types(void **state) {
  (void)state;
  struct cpns_entity_rec e;
  char err[160], text[1200];
  /* name: 128 bytes fit, 129 do not */
  fresh_entity(&e);
  FMT(text, "{\"name\":\"%s\"}", rep('n', CPNS_NAME_MAX));
  assert_int_equal(reg(text, &e, false, err, sizeof err), 0);
  assert_int_equal(strlen(e.name), CPNS_NAME_MAX);
  FMT(text, "{\"name\":\"%s\"}", rep('n', CPNS_NAME_MAX + 1));
  assert_int_equal(reg(text, &e, false, err, sizeof err), CPNS_ERR_TOOBIG);
  assert_string_equal(err, "'name' is longer than 128 bytes");
  /* type: 64 and 65 */
  fresh_entity(&e);
  FMT(text, "{\"type\":\"%s\"}", rep('t', CPNS_TYPE_MAX));
  assert_int_equal(reg(text, &e, false, err, sizeof err), 0);
  assert_int_equal(strlen(e.device_type), CPNS_TYPE_MAX);
  FMT(text, "{\"type\":\"%s\"}", rep('t', CPNS_TYPE_MAX + 1));
  assert_int_equal(reg(text, &e, false, err, sizeof err), CPNS_ERR_TOOBIG);
  assert_string_equal(err, "'type' is longer than 64 bytes");
  /* wrong types */
  static const char *const bad[] = {"{\"name\":1}",        "{\"name\":null}",
                                    "{\"type\":[\"x\"]}",  "{\"type\":{}}",
                                    "{\"roles\":\"pne\"}", "{\"roles\":[\"x\"]}",
                                    "{\"roles\":[]}",      "{\"roles\":null}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fresh_entity(&e);
    if (reg(bad[i], &e, false, err, sizeof err) != CPNS_ERR_INVAL) fail_msg("%s accepted", bad[i]);
    assert_true(err[0] != '\0');
    assert_int_equal(e.roles, CPNS_ROLE_GW);
  }
  /* UTF-8 names are fine; the schema counts bytes */
  fresh_entity(&e);
  assert_int_equal(reg("{\"name\":\"Téléphone de Zoé\"}", &e, false, err, sizeof err), 0);
  assert_string_equal(e.name, "Téléphone de Zoé");
}

static void test_registration_from_gw(void **state) {
  (void)state;
  struct cpns_entity_rec e;
  char err[160], text[300];
  fresh_entity(&e);
  int rc = reg("{\"name\":\"n\",\"type\":\"t\",\"roles\":[\"pne\",\"gw\"],\"lt\":30,"
               "\"state\":\"online\",\"addr\":\"[2001:db8::1]:5684\"}",
               &e, true, err, sizeof err);
  if (rc) fail_msg("%s", err);
  assert_string_equal(e.name, "n");
  assert_string_equal(e.device_type, "t");
  assert_int_equal(e.roles, CPNS_ROLE_PNE | CPNS_ROLE_GW);
  assert_int_equal(e.lifetime, 30);
  assert_int_equal(e.state, CPNS_STATE_ONLINE);
  assert_string_equal(e.addr, "[2001:db8::1]:5684");

  static const struct {
    const char *name;
    enum cpns_entity_state st;
  } states[] = {{"added", CPNS_STATE_ADDED},
                {"online", CPNS_STATE_ONLINE},
                {"offline", CPNS_STATE_OFFLINE}};
  for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
    fresh_entity(&e);
    e.state = CPNS_STATE_OFFLINE == states[i].st ? CPNS_STATE_ONLINE : CPNS_STATE_OFFLINE;
    FMT(text, "{\"state\":\"%s\"}", states[i].name);
    assert_int_equal(reg(text, &e, true, err, sizeof err), 0);
    assert_int_equal(e.state, states[i].st);
  }
  /* an empty state leaves it as it was */
  fresh_entity(&e);
  assert_int_equal(reg("{\"state\":\"\"}", &e, true, err, sizeof err), 0);
  assert_int_equal(e.state, CPNS_STATE_ADDED);

  static const char *const bad_state[] = {"{\"state\":\"Online\"}", "{\"state\":\"gone\"}",
                                          "{\"state\":\"registered\"}"};
  for (size_t i = 0; i < sizeof bad_state / sizeof bad_state[0]; i++) {
    fresh_entity(&e);
    assert_int_equal(reg(bad_state[i], &e, true, err, sizeof err), CPNS_ERR_INVAL);
    assert_string_equal(err, "'state' must be added, online or offline");
    assert_int_equal(e.state, CPNS_STATE_ADDED);
  }
  fresh_entity(&e);
  assert_int_equal(reg("{\"state\":1}", &e, true, err, sizeof err), CPNS_ERR_INVAL);
  assert_int_equal(reg("{\"state\":\"offlineofflineoffline\"}", &e, true, err, sizeof err),
                   CPNS_ERR_TOOBIG);
  assert_int_equal(e.state, CPNS_STATE_ADDED);

  /* addr: 96 bytes fit, 97 do not */
  fresh_entity(&e);
  FMT(text, "{\"addr\":\"%s\"}", rep('a', CPNS_ADDR_MAX));
  assert_int_equal(reg(text, &e, true, err, sizeof err), 0);
  assert_int_equal(strlen(e.addr), CPNS_ADDR_MAX);
  FMT(text, "{\"addr\":\"%s\"}", rep('a', CPNS_ADDR_MAX + 1));
  assert_int_equal(reg(text, &e, true, err, sizeof err), CPNS_ERR_TOOBIG);
  assert_string_equal(err, "'addr' is longer than 96 bytes");
  assert_int_equal(reg("{\"addr\":5684}", &e, true, err, sizeof err), CPNS_ERR_INVAL);

  /* still no other members */
  assert_int_equal(reg("{\"id\":\"x\"}", &e, true, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(err, "unknown member 'id'");
  /* and the common checks hold */
  assert_int_equal(reg("{\"lt\":1}", &e, true, err, sizeof err), CPNS_ERR_INVAL);
  assert_int_equal(cpns_msg_parse_registration(NULL, &e, true, err, sizeof err), CPNS_ERR_INVAL);
}

/* ---- PN bodies -------------------------------------------------------- */

static void fresh_pn(struct cpns_pn_rec *p) {
  memset(p, 0, sizeof *p);
  strcpy(p->id, "home");
  strcpy(p->name, "old");
  strcpy(p->owner, "alice");
  strcpy(p->gw, "gw-home");
  p->open = true;
  p->lifetime = 60;
}

static int pn(const char *text, struct cpns_pn_rec *p, char *err, size_t errlen) {
  json_t *b = parse(text);
  err[0] = '\0';
  int rc = cpns_msg_parse_pn(b, p, err, errlen);
  json_decref(b);
  return rc;
}

static void test_parse_pn(void **state) {
  (void)state;
  struct cpns_pn_rec p;
  char err[160], text[400];
  fresh_pn(&p);
  int rc = pn("{\"name\":\"Demo personal network\",\"owner\":\"bob\",\"open\":false,\"lt\":90}",
              &p, err, sizeof err);
  if (rc) fail_msg("%s", err);
  assert_string_equal(p.name, "Demo personal network");
  assert_string_equal(p.owner, "bob");
  assert_false(p.open);
  assert_int_equal(p.lifetime, 90);
  assert_string_equal(p.id, "home");   /* from the path */
  assert_string_equal(p.gw, "gw-home"); /* from the caller */

  /* fields left out keep their value */
  fresh_pn(&p);
  struct cpns_pn_rec before;
  memcpy(&before, &p, sizeof p);
  assert_int_equal(pn("{}", &p, err, sizeof err), 0);
  assert_memory_equal(&p, &before, sizeof p);

  /* owner must be an id; 64 bytes fit */
  fresh_pn(&p);
  FMT(text, "{\"owner\":\"%s\"}", rep('o', CPNS_ID_MAX));
  assert_int_equal(pn(text, &p, err, sizeof err), 0);
  FMT(text, "{\"owner\":\"%s\"}", rep('o', CPNS_ID_MAX + 1));
  assert_int_equal(pn(text, &p, err, sizeof err), CPNS_ERR_TOOBIG);
  static const char *const bad_owner[] = {"{\"owner\":\"a b\"}", "{\"owner\":\"a/b\"}",
                                          "{\"owner\":\"\xc3\xa9\"}"};
  for (size_t i = 0; i < sizeof bad_owner / sizeof bad_owner[0]; i++) {
    fresh_pn(&p);
    assert_int_equal(pn(bad_owner[i], &p, err, sizeof err), CPNS_ERR_INVAL);
    assert_string_equal(err, "'owner' must be an id ([A-Za-z0-9._-], 1..64)");
  }
  /* name: 128 and 129 */
  fresh_pn(&p);
  FMT(text, "{\"name\":\"%s\"}", rep('n', CPNS_NAME_MAX));
  assert_int_equal(pn(text, &p, err, sizeof err), 0);
  FMT(text, "{\"name\":\"%s\"}", rep('n', CPNS_NAME_MAX + 1));
  assert_int_equal(pn(text, &p, err, sizeof err), CPNS_ERR_TOOBIG);
  /* lifetime bounds */
  fresh_pn(&p);
  assert_int_equal(pn("{\"lt\":2}", &p, err, sizeof err), 0);
  assert_int_equal(p.lifetime, 2);
  assert_int_equal(pn("{\"lt\":86400}", &p, err, sizeof err), 0);
  assert_int_equal(p.lifetime, 86400);
  assert_int_equal(pn("{\"lt\":1}", &p, err, sizeof err), CPNS_ERR_INVAL);
  assert_int_equal(pn("{\"lt\":86401}", &p, err, sizeof err), CPNS_ERR_INVAL);
  assert_int_equal(p.lifetime, 86400);
  /* wrong types and members */
  static const char *const bad[] = {"{\"open\":1}",      "{\"open\":\"yes\"}", "{\"name\":5}",
                                    "{\"owner\":null}",  "{\"lt\":\"60\"}",    "{\"gw\":\"x\"}",
                                    "{\"id\":\"home\"}", "{\"readers\":[]}",   "[]"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fresh_pn(&p);
    if (pn(bad[i], &p, err, sizeof err) != CPNS_ERR_INVAL) fail_msg("%s accepted", bad[i]);
    assert_true(err[0] != '\0');
  }
  assert_int_equal(cpns_msg_parse_pn(NULL, &p, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(err, "a body is required");
}

/* ---- Entity and PN objects (docs/protocol.md) -------------------------- */

static void expect_keys(const json_t *o, const char *const *keys) {
  size_t n = 0;
  for (const char *const *k = keys; *k; k++, n++)
    if (!json_object_get(o, *k)) fail_msg("member '%s' missing", *k);
  assert_int_equal(json_object_size(o), n);
}

/* Both encodings carry the object unchanged. */
static void expect_round_trip(const json_t *o) {
  static const int cfs[] = {CPNS_CF_CBOR, CPNS_CF_JSON};
  for (size_t i = 0; i < 2; i++) {
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *back = NULL;
    char err[128];
    assert_int_equal(cpns_codec_encode(o, cfs[i], &buf, &len), 0);
    assert_int_equal(cpns_codec_decode(buf, len, cfs[i], NULL, &back, err, sizeof err), 0);
    assert_true(json_equal(o, back));
    json_decref(back);
    free(buf);
  }
}

static void test_entity_object(void **state) {
  (void)state;
  struct cpns_entity_rec e;
  memset(&e, 0, sizeof e);
  strcpy(e.pn, "home");
  strcpy(e.id, "phone");
  strcpy(e.name, "My phone");
  strcpy(e.device_type, "phone");
  strcpy(e.addr, "127.0.0.1:16792");
  e.roles = CPNS_ROLE_PNE;
  e.state = CPNS_STATE_ONLINE;
  e.lifetime = 60;
  e.registered_at = 0;
  e.updated_at = 1795720151;
  e.expires_at = 1795720211;
  json_t *o = cpns_msg_entity(&e);
  assert_non_null(o);
  static const char *const keys[] = {"id",    "pn",   "name", "type",       "roles",   "state",
                                     "addr",  "lt",   "registered", "updated", "expires", NULL};
  expect_keys(o, keys);
  json_t *want = parse("{\"id\":\"phone\",\"pn\":\"home\",\"name\":\"My phone\",\"type\":\"phone\","
                       "\"roles\":[\"pne\"],\"state\":\"online\",\"addr\":\"127.0.0.1:16792\","
                       "\"lt\":60,\"registered\":null,\"updated\":1795720151,"
                       "\"expires\":1795720211}");
  if (!json_equal(o, want)) {
    char *s = json_dumps(o, 0);
    fail_msg("got %s", s);
  }
  expect_round_trip(o);
  json_decref(o);
  json_decref(want);

  /* "never expires" (INT64_MAX) and "not online" (0) are both null */
  e.expires_at = INT64_MAX;
  e.registered_at = 1700000000;
  e.state = CPNS_STATE_ADDED;
  e.roles = CPNS_ROLE_PNE | CPNS_ROLE_GW;
  e.lifetime = 86400;
  o = cpns_msg_entity(&e);
  assert_non_null(o);
  assert_true(json_is_null(json_object_get(o, "expires")));
  assert_int_equal(json_integer_value(json_object_get(o, "registered")), 1700000000);
  assert_string_equal(json_string_value(json_object_get(o, "state")), "added");
  assert_int_equal(json_integer_value(json_object_get(o, "lt")), 86400);
  assert_int_equal(json_array_size(json_object_get(o, "roles")), 2);
  expect_round_trip(o);
  json_decref(o);

  /* an empty record still has every member */
  memset(&e, 0, sizeof e);
  e.state = CPNS_STATE_OFFLINE;
  o = cpns_msg_entity(&e);
  assert_non_null(o);
  expect_keys(o, keys);
  assert_string_equal(json_string_value(json_object_get(o, "state")), "offline");
  assert_int_equal(json_array_size(json_object_get(o, "roles")), 0);
  assert_true(json_is_null(json_object_get(o, "registered")));
  assert_true(json_is_null(json_object_get(o, "updated")));
  assert_true(json_is_null(json_object_get(o, "expires")));
  json_decref(o);

  /* full-size fields */
  memset(&e, 0, sizeof e);
  memcpy(e.id, rep('i', CPNS_ID_MAX), CPNS_ID_MAX);
  memcpy(e.name, rep('n', CPNS_NAME_MAX), CPNS_NAME_MAX);
  memcpy(e.addr, rep('a', CPNS_ADDR_MAX), CPNS_ADDR_MAX);
  o = cpns_msg_entity(&e);
  assert_non_null(o);
  assert_int_equal(strlen(json_string_value(json_object_get(o, "name"))), CPNS_NAME_MAX);
  json_decref(o);
}

/* What cpns_msg_entity makes, a gateway's report parses back. */
static void test_entity_report_round_trip(void **state) {
  (void)state;
  struct cpns_entity_rec e, back;
  memset(&e, 0, sizeof e);
  strcpy(e.name, "TV");
  strcpy(e.device_type, "set-top-box");
  strcpy(e.addr, "10.0.0.7:5684");
  e.roles = CPNS_ROLE_PNE;
  e.state = CPNS_STATE_OFFLINE;
  e.lifetime = 300;
  json_t *o = cpns_msg_entity(&e);
  /* keep the members a gateway reports */
  static const char *const drop[] = {"id", "pn", "registered", "updated", "expires"};
  for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) json_object_del(o, drop[i]);
  char err[160];
  memset(&back, 0, sizeof back);
  back.state = CPNS_STATE_ONLINE;
  assert_int_equal(cpns_msg_parse_registration(o, &back, true, err, sizeof err), 0);
  assert_string_equal(back.name, e.name);
  assert_string_equal(back.device_type, e.device_type);
  assert_string_equal(back.addr, e.addr);
  assert_int_equal(back.roles, e.roles);
  assert_int_equal(back.state, e.state);
  assert_int_equal(back.lifetime, e.lifetime);
  json_decref(o);
}

static void test_pn_object(void **state) {
  (void)state;
  struct cpns_pn_rec p;
  memset(&p, 0, sizeof p);
  strcpy(p.id, "office");
  strcpy(p.name, "Demo personal network");
  strcpy(p.owner, "alice");
  strcpy(p.gw, "gw-office");
  strcpy(p.gw_addr, "127.0.0.1:16687");
  p.open = true;
  p.state = CPNS_STATE_ONLINE;
  p.lifetime = 60;
  p.created_at = 0;
  p.updated_at = 1795720389;
  p.expires_at = 1795720449;
  json_t *o = cpns_msg_pn(&p);
  assert_non_null(o);
  static const char *const keys[] = {"id",  "name", "owner",   "gw",      "gw_addr", "open",
                                     "state", "lt", "created", "updated", "expires", NULL};
  expect_keys(o, keys);
  json_t *want = parse("{\"id\":\"office\",\"name\":\"Demo personal network\",\"owner\":\"alice\","
                       "\"gw\":\"gw-office\",\"gw_addr\":\"127.0.0.1:16687\",\"open\":true,"
                       "\"state\":\"online\",\"lt\":60,\"created\":null,\"updated\":1795720389,"
                       "\"expires\":1795720449}");
  if (!json_equal(o, want)) {
    char *s = json_dumps(o, 0);
    fail_msg("got %s", s);
  }
  expect_round_trip(o);
  json_decref(o);
  json_decref(want);

  p.expires_at = INT64_MAX;
  p.created_at = 1;
  p.open = false;
  p.state = CPNS_STATE_OFFLINE;
  o = cpns_msg_pn(&p);
  assert_non_null(o);
  assert_true(json_is_null(json_object_get(o, "expires")));
  assert_int_equal(json_integer_value(json_object_get(o, "created")), 1);
  assert_true(json_is_false(json_object_get(o, "open")));
  assert_string_equal(json_string_value(json_object_get(o, "state")), "offline");
  expect_round_trip(o);
  json_decref(o);

  /* negative times are not "unknown": only 0 is null */
  p.expires_at = -1;
  o = cpns_msg_pn(&p);
  assert_int_equal(json_integer_value(json_object_get(o, "expires")), -1);
  json_decref(o);

  /* the body of a PN registration parses back into the same fields */
  o = cpns_msg_pn(&p);
  static const char *const drop[] = {"id", "gw", "gw_addr", "state", "created", "updated",
                                     "expires"};
  for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) json_object_del(o, drop[i]);
  struct cpns_pn_rec back;
  memset(&back, 0, sizeof back);
  back.open = true;
  char err[160];
  assert_int_equal(cpns_msg_parse_pn(o, &back, err, sizeof err), 0);
  assert_string_equal(back.name, p.name);
  assert_string_equal(back.owner, p.owner);
  assert_int_equal(back.open, p.open);
  assert_int_equal(back.lifetime, p.lifetime);
  json_decref(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_id),
      cmocka_unit_test(test_msg_str),
      cmocka_unit_test(test_msg_int),
      cmocka_unit_test(test_msg_bool),
      cmocka_unit_test(test_msg_only),
      cmocka_unit_test(test_roles),
      cmocka_unit_test(test_registration_pne),
      cmocka_unit_test(test_registration_lifetime),
      cmocka_unit_test(test_registration_sizes_and_types),
      cmocka_unit_test(test_registration_from_gw),
      cmocka_unit_test(test_parse_pn),
      cmocka_unit_test(test_entity_object),
      cmocka_unit_test(test_entity_report_round_trip),
      cmocka_unit_test(test_pn_object),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
