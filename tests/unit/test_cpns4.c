/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of lib/cpns4.c: token text and hashes, scopes, the operation table
 * and the CoAP-to-HTTP code mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpns4.h"

static void test_token_roundtrip(void **state) {
  (void)state;
  char text[CPNS4_TOKEN_LEN + 1], id[CPNS4_TOKEN_ID_LEN + 1], id2[CPNS4_TOKEN_ID_LEN + 1];
  uint8_t hash[CPNS4_TOKEN_HASH_LEN], hash2[CPNS4_TOKEN_HASH_LEN];
  assert_int_equal(cpns4_token_new(text, id, hash), 0);
  assert_int_equal(strlen(text), CPNS4_TOKEN_LEN);
  assert_int_equal(strlen(text), 87);
  assert_memory_equal(text, "cpns4_", 6);
  assert_true(cpns4_valid_token_id(id));
  assert_memory_equal(text + 6, id, CPNS4_TOKEN_ID_LEN);
  assert_int_equal(cpns4_token_parse(text, strlen(text), id2, hash2), 0);
  assert_string_equal(id, id2);
  assert_true(cpns4_hash_equal(hash, hash2));
  /* One digit of the secret changed: same id, another hash. */
  text[CPNS4_TOKEN_LEN - 1] = text[CPNS4_TOKEN_LEN - 1] == '0' ? '1' : '0';
  assert_int_equal(cpns4_token_parse(text, strlen(text), id2, hash2), 0);
  assert_string_equal(id, id2);
  assert_false(cpns4_hash_equal(hash, hash2));
  /* Two tokens differ. */
  char other[CPNS4_TOKEN_LEN + 1];
  assert_int_equal(cpns4_token_new(other, id2, hash2), 0);
  assert_string_not_equal(id, id2);
  assert_false(cpns4_hash_equal(hash, hash2));
}

static void test_token_malformed(void **state) {
  (void)state;
  char text[CPNS4_TOKEN_LEN + 1], id[CPNS4_TOKEN_ID_LEN + 1], bad[CPNS4_TOKEN_LEN + 8];
  uint8_t hash[CPNS4_TOKEN_HASH_LEN];
  assert_int_equal(cpns4_token_new(text, id, hash), 0);
  assert_int_equal(cpns4_token_parse(text, CPNS4_TOKEN_LEN - 1, id, hash), CPNS_ERR_INVAL);
  assert_int_equal(cpns4_token_parse(NULL, 0, id, hash), CPNS_ERR_INVAL);
  assert_int_equal(cpns4_token_parse("", 0, id, hash), CPNS_ERR_INVAL);
  snprintf(bad, sizeof bad, "%sx", text);
  assert_int_equal(cpns4_token_parse(bad, strlen(bad), id, hash), CPNS_ERR_INVAL);
  const size_t positions[] = {0, 5, 6, 21, 22, 23, 86};
  const char replacements[] = {'X', 'G', '\0', '-'};
  for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++)
    for (size_t j = 0; j < sizeof replacements; j++) {
      memcpy(bad, text, sizeof text);
      if (bad[positions[i]] == replacements[j]) continue;
      bad[positions[i]] = replacements[j];
      assert_int_equal(cpns4_token_parse(bad, CPNS4_TOKEN_LEN, id, hash), CPNS_ERR_INVAL);
    }
  memcpy(bad, text, sizeof text);
  bad[30] = 'A'; /* upper-case hex is not a token of ours */
  assert_int_equal(cpns4_token_parse(bad, CPNS4_TOKEN_LEN, id, hash), CPNS_ERR_INVAL);
  assert_false(cpns4_valid_token_id("0123456789abcde"));
  assert_false(cpns4_valid_token_id("0123456789abcdeF"));
  assert_false(cpns4_valid_token_id(NULL));
  assert_true(cpns4_valid_token_id("0123456789abcdef"));
}

static void test_names(void **state) {
  (void)state;
  assert_true(cpns4_valid_name("acme"));
  assert_true(cpns4_valid_name("acme.video-2_x"));
  assert_false(cpns4_valid_name(""));
  assert_false(cpns4_valid_name("a b"));
  assert_false(cpns4_valid_name("a/b"));
  char n[CPNS_ID_MAX + 2];
  memset(n, 'a', sizeof n);
  n[CPNS4_NAME_MAX] = '\0';
  assert_true(cpns4_valid_name(n)); /* "ext." + 60 = 64 */
  n[CPNS4_NAME_MAX] = 'a';
  n[CPNS4_NAME_MAX + 1] = '\0';
  assert_false(cpns4_valid_name(n));
}

static void test_scopes(void **state) {
  (void)state;
  unsigned s = 0;
  char err[160], text[CPNS4_SCOPES_TEXT_MAX + 1];
  assert_int_equal(cpns4_scopes_parse("services:read", &s, err, sizeof err), 0);
  assert_int_equal(s, CPNS4_SCOPE_SERVICES_READ);
  assert_int_equal(cpns4_scopes_parse("services:write,services:read,interests:read", &s, err,
                                      sizeof err),
                   0);
  assert_int_equal(s, CPNS4_SCOPE_SERVICES_READ | CPNS4_SCOPE_SERVICES_WRITE |
                          CPNS4_SCOPE_INTERESTS_READ);
  cpns4_scopes_format(s, text);
  assert_string_equal(text, "services:read,services:write,interests:read");
  cpns4_scopes_format(0, text);
  assert_string_equal(text, "");
  cpns4_scopes_format(CPNS4_SCOPES_ALL, text);
  assert_int_equal(cpns4_scopes_parse(text, &s, err, sizeof err), 0);
  assert_int_equal(s, CPNS4_SCOPES_ALL);
  const char *bad[] = {"", ",", "services:read,", ",services:read", "services:read,services:read",
                       "services", "services:admin", "Services:read", "services:read ,x", NULL};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    s = 77;
    assert_int_equal(cpns4_scopes_parse(bad[i], &s, err, sizeof err), CPNS_ERR_INVAL);
    assert_int_equal(s, 77); /* untouched on failure */
  }
  json_t *j = json_pack("[s,s]", "interests:write", "services:read");
  assert_int_equal(cpns4_scopes_from_json(j, &s, err, sizeof err), 0);
  assert_int_equal(s, CPNS4_SCOPE_INTERESTS_WRITE | CPNS4_SCOPE_SERVICES_READ);
  json_decref(j);
  json_t *back = cpns4_scopes_to_json(s);
  char *dump = json_dumps(back, JSON_COMPACT);
  assert_string_equal(dump, "[\"services:read\",\"interests:write\"]");
  free(dump);
  json_decref(back);
  const char *badj[] = {"[]", "[1]", "[\"x\"]", "[\"services:read\",\"services:read\"]", "{}",
                        "\"services:read\"",
                        "[\"services:read\",\"services:write\",\"interests:read\",\"interests:write\",\"services:read\"]"};
  for (size_t i = 0; i < sizeof badj / sizeof badj[0]; i++) {
    j = json_loads(badj[i], JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    assert_int_equal(cpns4_scopes_from_json(j, &s, err, sizeof err), CPNS_ERR_INVAL);
    json_decref(j);
  }
  assert_int_equal(cpns4_scopes_from_json(NULL, &s, err, sizeof err), CPNS_ERR_INVAL);
  assert_string_equal(cpns4_scope_name(CPNS4_SCOPE_SERVICES_WRITE), "services:write");
  assert_int_equal(cpns4_scopes_parse("usage:read", &s, err, sizeof err), 0);
  assert_int_equal(s, CPNS4_SCOPE_USAGE_READ);
  assert_int_equal(cpns4_scopes_parse("caps:read,status:read", &s, err, sizeof err), 0);
  assert_int_equal(s, CPNS4_SCOPE_CAPS_READ | CPNS4_SCOPE_STATUS_READ);
  assert_int_equal(cpns4_scopes_parse("caps:write", &s, err, sizeof err), CPNS_ERR_INVAL);
  assert_non_null(strstr(err, "status:read"));
  assert_int_equal(cpns4_scopes_parse("status:write", &s, err, sizeof err), CPNS_ERR_INVAL);
  cpns4_scopes_format(CPNS4_SCOPES_ALL, text);
  assert_string_equal(text, "services:read,services:write,interests:read,interests:write,usage:read,"
                            "caps:read,status:read");
  const struct cpns4_op *op;
  char allow[64];
  assert_int_equal(cpns4_op_find("GET", "usage/summary", &op, allow, sizeof allow), 0);
  assert_int_equal(op->scope, CPNS4_SCOPE_USAGE_READ);
  assert_null(cpns4_scope_name(1u << 20));
}

static void test_ops(void **state) {
  (void)state;
  const struct cpns4_op *op;
  char allow[64];
  assert_int_equal(cpns4_op_find("GET", "services", &op, allow, sizeof allow), 0);
  assert_int_equal(op->scope, CPNS4_SCOPE_SERVICES_READ);
  assert_int_equal(op->code, COAP_REQUEST_CODE_GET);
  assert_int_equal(cpns4_op_find("POST", "services/0011223344556677", &op, allow, sizeof allow), 0);
  assert_int_equal(op->scope, CPNS4_SCOPE_SERVICES_WRITE);
  assert_string_equal(op->pattern, "services/*");
  assert_int_equal(cpns4_op_find("DELETE", "interests/ab", &op, allow, sizeof allow), 0);
  assert_int_equal(op->scope, CPNS4_SCOPE_INTERESTS_WRITE);
  assert_int_equal(cpns4_op_find("PATCH", "services/x", &op, allow, sizeof allow), CPNS_ERR_DENIED);
  assert_string_equal(allow, "GET, PUT, POST, DELETE");
  assert_int_equal(cpns4_op_find("DELETE", "services", &op, allow, sizeof allow), CPNS_ERR_DENIED);
  assert_string_equal(allow, "GET, POST");
  assert_null(op);
  const char *none[] = {"", "pns", "tokens", "tokens/x", "services/", "services//x", "/services",
                        "services/a/b", "servicesx", "service", "interests/a/events", "entity"};
  for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
    assert_int_equal(cpns4_op_find("GET", none[i], &op, allow, sizeof allow), CPNS_ERR_NOTFOUND);
  size_t n = 0;
  const struct cpns4_op *all = cpns4_ops(&n);
  assert_int_equal(n, 16);
  for (size_t i = 0; i < n; i++) assert_non_null(cpns4_scope_name(all[i].scope));
  /* Capabilities and status: read-only; status reads take no query. */
  assert_int_equal(cpns4_op_find("GET", "pns/home/caps", &op, allow, sizeof allow), 0);
  assert_int_equal(op->scope, CPNS4_SCOPE_CAPS_READ);
  assert_false(op->no_query);
  assert_int_equal(cpns4_op_find("GET", "pns/home/entities/phone/caps", &op, allow, sizeof allow), 0);
  assert_int_equal(op->scope, CPNS4_SCOPE_CAPS_READ);
  assert_int_equal(cpns4_op_find("GET", "pns/home/status", &op, allow, sizeof allow), 0);
  assert_int_equal(op->scope, CPNS4_SCOPE_STATUS_READ);
  assert_true(op->no_query);
  assert_int_equal(cpns4_op_find("GET", "pns/home/entities/phone/status", &op, allow, sizeof allow), 0);
  assert_int_equal(op->scope, CPNS4_SCOPE_STATUS_READ);
  assert_int_equal(cpns4_op_find("GET", "pns/home/entities/phone/status/battery", &op, allow, sizeof allow), 0);
  assert_true(op->no_query);
  assert_int_equal(cpns4_op_find("PUT", "pns/home/entities/phone/caps", &op, allow, sizeof allow), CPNS_ERR_DENIED);
  assert_string_equal(allow, "GET");
  assert_int_equal(cpns4_op_find("POST", "pns/home/status", &op, allow, sizeof allow), CPNS_ERR_DENIED);
  assert_int_equal(cpns4_op_find("PATCH", "pns/home/entities/phone/caps", &op, allow, sizeof allow), CPNS_ERR_DENIED);
  const char *inventory[] = {"pns/home", "pns/home/readers", "pns/home/entities", "pns/home/entities/phone",
                             "pns/home/policies", "pns/home/usage", "pns/home/entities/phone/status/battery/x",
                             "pns/home/caps/x", "stats/status"};
  for (size_t i = 0; i < sizeof inventory / sizeof inventory[0]; i++)
    assert_int_equal(cpns4_op_find("GET", inventory[i], &op, allow, sizeof allow), CPNS_ERR_NOTFOUND);
  /* A tiny allow buffer is cut, never overrun. */
  char tiny[5];
  assert_int_equal(cpns4_op_find("PATCH", "services/x", &op, tiny, sizeof tiny), CPNS_ERR_DENIED);
  assert_true(strlen(tiny) < sizeof tiny);
}

static void test_http_status(void **state) {
  (void)state;
  assert_int_equal(cpns4_http_status(201, true), 201);
  assert_int_equal(cpns4_http_status(202, false), 204);
  assert_int_equal(cpns4_http_status(202, true), 200);
  assert_int_equal(cpns4_http_status(204, true), 200);
  assert_int_equal(cpns4_http_status(204, false), 204);
  assert_int_equal(cpns4_http_status(205, true), 200);
  assert_int_equal(cpns4_http_status(400, false), 400);
  assert_int_equal(cpns4_http_status(401, false), 401);
  assert_int_equal(cpns4_http_status(402, false), 400);
  assert_int_equal(cpns4_http_status(403, false), 403);
  assert_int_equal(cpns4_http_status(404, false), 404);
  assert_int_equal(cpns4_http_status(405, false), 405);
  assert_int_equal(cpns4_http_status(408, false), 400);
  assert_int_equal(cpns4_http_status(413, false), 413);
  assert_int_equal(cpns4_http_status(414, false), 414);
  assert_int_equal(cpns4_http_status(429, false), 429);
  assert_int_equal(cpns4_http_status(500, false), 500);
  assert_int_equal(cpns4_http_status(501, false), 501);
  assert_int_equal(cpns4_http_status(503, false), 503);
  assert_int_equal(cpns4_http_status(504, false), 504);
  assert_int_equal(cpns4_http_status(505, false), 502);
  assert_int_equal(cpns4_http_status(231, false), 500);
  assert_int_equal(cpns4_http_status(0, false), 500);
  assert_int_equal(cpns4_http_status(-9, false), 500);
  assert_int_equal(cpns4_http_status(699, false), 500);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_token_roundtrip), cmocka_unit_test(test_token_malformed),
      cmocka_unit_test(test_names),           cmocka_unit_test(test_scopes),
      cmocka_unit_test(test_ops),             cmocka_unit_test(test_http_status),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
