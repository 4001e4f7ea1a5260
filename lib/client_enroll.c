/* SPDX-License-Identifier: Apache-2.0 */
/* Enrollment codes and Entity-User Keys for applications and operators'
 * tools (include/cpns/enroll.h; spec 5.5.7.2, docs/protocol.md "Enrollment
 * and keys"), on top of cpns_client_request(). The answers hold a code or a
 * key: they are decoded strictly, and every copy made here (the answer text,
 * the parsed JSON string, decoded bytes) is wiped with OPENSSL_cleanse before
 * it is freed. Failed calls leave the caller's buffers zeroed. */
#include <cpns/enroll.h>

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "client_api.h"
#include "enroll.h" /* the private CPNS_ENROLL_* must equal the public ones */
#include "keyring.h"

_Static_assert(CPNS_ENROLL_ID_MAX == CPNS_ID_MAX - (sizeof CPNS_ENROLL_PREFIX - 1),
               "an enrolling identity is enroll.<id>, at most CPNS_ID_MAX bytes");

/* A string member equal to want. */
static bool member_is(const json_t *obj, const char *key, const char *want) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s && strcmp(s, want) == 0;
}

/* An integer member in lo..hi. */
static bool member_int(const json_t *obj, const char *key, json_int_t lo, json_int_t hi,
                       json_int_t *out) {
  json_t *v = json_object_get(obj, key);
  if (!json_is_integer(v)) return false;
  json_int_t n = json_integer_value(v);
  if (n < lo || n > hi) return false;
  *out = n;
  return true;
}

static bool base32_code_ok(const char *s, size_t n) {
  if (n != CPNS_ENROLL_CODE_LEN) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7'))) return false;
  return true;
}

int client_enroll__decode_code(const char *text, const char *id, const char *pn,
                               const char *role, char code[CPNS_ENROLL_CODE_LEN + 1]) {
  json_t *doc;
  int rc = client_api__parse(text, &doc);
  if (rc) return rc;
  json_t *cv = json_object_get(doc, "code");
  json_int_t expires;
  rc = CPNS_ERR_PROTO;
  if (json_is_string(cv) && base32_code_ok(json_string_value(cv), json_string_length(cv)) &&
      member_is(doc, "id", id) && member_is(doc, "pn", pn) && member_is(doc, "role", role) &&
      member_int(doc, "expires", 0, INT64_MAX, &expires)) {
    memcpy(code, json_string_value(cv), CPNS_ENROLL_CODE_LEN + 1);
    rc = 0;
  }
  client_api__wipe_json_string(cv);
  json_decref(doc);
  return rc;
}

int client_enroll__decode_key(const char *text, const char *id, uint8_t key[CPNS_PSK_LEN],
                              uint32_t *generation) {
  json_t *doc;
  int rc = client_api__parse(text, &doc);
  if (rc) return rc;
  json_t *kv = json_object_get(doc, "key");
  json_int_t gen;
  uint8_t k[CPNS_PSK_LEN];
  rc = CPNS_ERR_PROTO;
  if (json_is_string(kv) && json_string_length(kv) == 2 * CPNS_PSK_LEN &&
      cpns_key_from_hex(json_string_value(kv), k) == 0 && member_is(doc, "identity", id) &&
      json_is_string(json_object_get(doc, "role")) && json_is_string(json_object_get(doc, "pn")) &&
      member_int(doc, "generation", 1, UINT32_MAX, &gen)) {
    memcpy(key, k, CPNS_PSK_LEN);
    if (generation) *generation = (uint32_t)gen;
    rc = 0;
  }
  OPENSSL_cleanse(k, sizeof k);
  client_api__wipe_json_string(kv);
  json_decref(doc);
  return rc;
}

/* An id that can enroll: the daemons' id rule, short enough for the
 * enrolling identity "enroll.<id>", and not itself such an identity. */
static bool enroll_id_ok(const char *id) {
  return client_api__id_ok(id) && strlen(id) <= CPNS_ENROLL_ID_MAX && !cpns_enroll_id_of(id);
}

int cpns_enrollment_create(cpns_client_t *c, const char *id, const char *pn, const char *role,
                           uint32_t ttl_s, char code_out[CPNS_ENROLL_CODE_LEN + 1]) {
  if (code_out) OPENSSL_cleanse(code_out, CPNS_ENROLL_CODE_LEN + 1);
  if (!role) role = "pne";
  if (!c || !code_out || !enroll_id_ok(id) || !client_api__id_ok(pn) ||
      (strcmp(role, "pne") != 0 && strcmp(role, "gw") != 0) || ttl_s > CPNS_ENROLL_TTL_MAX)
    return CPNS_ERR_INVAL;
  /* Every value is an id or a number: no escaping is needed. */
  char body[3 * CPNS_ID_MAX + 64], ttl[24] = "";
  if (ttl_s) snprintf(ttl, sizeof ttl, ",\"ttl\":%u", (unsigned)ttl_s);
  snprintf(body, sizeof body, "{\"id\":\"%s\",\"pn\":\"%s\",\"role\":\"%s\"%s}", id, pn, role, ttl);
  char *answer = NULL;
  int rc = cpns_client_request(c, "POST", "enrollments", NULL, body, &answer);
  if (!rc) rc = client_enroll__decode_code(answer, id, pn, role, code_out);
  client_api__free_secret_text(answer);
  return rc;
}

int cpns_key_rotate(cpns_client_t *c, const char *id, uint8_t key_out[CPNS_PSK_LEN],
                    uint32_t *generation) {
  if (key_out) OPENSSL_cleanse(key_out, CPNS_PSK_LEN);
  if (!c || !key_out || !client_api__id_ok(id)) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "keys/%s/rotate", id);
  char *answer = NULL;
  int rc = cpns_client_request(c, "POST", path, NULL, NULL, &answer);
  if (!rc) rc = client_enroll__decode_key(answer, id, key_out, generation);
  client_api__free_secret_text(answer);
  return rc;
}

int cpns_key_revoke(cpns_client_t *c, const char *id) {
  if (!c || !client_api__id_ok(id)) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 8];
  snprintf(path, sizeof path, "keys/%s", id);
  return cpns_client_request(c, "DELETE", path, NULL, NULL, NULL);
}
