/* SPDX-License-Identifier: Apache-2.0 */
/* CPNS-4's network-free parts: tokens, scopes, the operation table and the
 * CoAP-to-HTTP code mapping (see cpns4.h). */
#include "cpns4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "msg.h"

static const struct {
  unsigned bit;
  const char *name;
} scope_names[] = {
    {CPNS4_SCOPE_SERVICES_READ, "services:read"},
    {CPNS4_SCOPE_SERVICES_WRITE, "services:write"},
    {CPNS4_SCOPE_INTERESTS_READ, "interests:read"},
    {CPNS4_SCOPE_INTERESTS_WRITE, "interests:write"},
    {CPNS4_SCOPE_USAGE_READ, "usage:read"},
    {CPNS4_SCOPE_CAPS_READ, "caps:read"},
    {CPNS4_SCOPE_STATUS_READ, "status:read"},
};
#define NSCOPES (sizeof scope_names / sizeof scope_names[0])
/* Longest scope name, for the parser's buffer. */
#define SCOPE_NAME_MAX 32

const char *cpns4_scope_name(unsigned scope) {
  for (size_t i = 0; i < NSCOPES; i++)
    if (scope_names[i].bit == scope) return scope_names[i].name;
  return NULL;
}

static unsigned scope_bit(const char *name, size_t len) {
  for (size_t i = 0; i < NSCOPES; i++)
    if (strlen(scope_names[i].name) == len && memcmp(scope_names[i].name, name, len) == 0)
      return scope_names[i].bit;
  return 0;
}

/* Adds one named scope to *bits: unknown or repeated names are errors. */
static int add_scope(const char *name, size_t len, unsigned *bits, char *err, size_t errlen) {
  unsigned b = scope_bit(name, len);
  if (!b) {
    snprintf(err, errlen, "unknown scope '%.*s' (known: services:read, services:write, "
             "interests:read, interests:write, usage:read, caps:read, status:read)",
             (int)(len < SCOPE_NAME_MAX ? len : SCOPE_NAME_MAX), name);
    return CPNS_ERR_INVAL;
  }
  if (*bits & b) {
    snprintf(err, errlen, "scope '%s' given twice", cpns4_scope_name(b));
    return CPNS_ERR_INVAL;
  }
  *bits |= b;
  return 0;
}

int cpns4_scopes_parse(const char *text, unsigned *out, char *err, size_t errlen) {
  unsigned bits = 0;
  if (!text || !*text || strlen(text) > CPNS4_SCOPES_TEXT_MAX) {
    snprintf(err, errlen, "scopes: 1..%d bytes, names separated by commas", CPNS4_SCOPES_TEXT_MAX);
    return CPNS_ERR_INVAL;
  }
  const char *p = text;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    int rc = add_scope(p, len, &bits, err, errlen);
    if (rc) return rc;
    if (!end) break;
    p = end + 1;
  }
  *out = bits;
  return 0;
}

int cpns4_scopes_from_json(const json_t *list, unsigned *out, char *err, size_t errlen) {
  unsigned bits = 0;
  if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > NSCOPES) {
    snprintf(err, errlen, "'scopes' must be a list of 1..%zu scope names", NSCOPES);
    return CPNS_ERR_INVAL;
  }
  for (size_t i = 0; i < json_array_size(list); i++) {
    const json_t *v = json_array_get(list, i);
    if (!json_is_string(v)) {
      snprintf(err, errlen, "'scopes' must be a list of scope names");
      return CPNS_ERR_INVAL;
    }
    int rc = add_scope(json_string_value(v), json_string_length(v), &bits, err, errlen);
    if (rc) return rc;
  }
  *out = bits;
  return 0;
}

void cpns4_scopes_format(unsigned scopes, char out[CPNS4_SCOPES_TEXT_MAX + 1]) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < NSCOPES; i++) {
    if (!(scopes & scope_names[i].bit)) continue;
    int n = snprintf(out + used, CPNS4_SCOPES_TEXT_MAX + 1 - used, "%s%s", used ? "," : "",
                     scope_names[i].name);
    if (n < 0 || (size_t)n >= CPNS4_SCOPES_TEXT_MAX + 1 - used) break; /* cannot happen: 7 names */
    used += (size_t)n;
  }
}

json_t *cpns4_scopes_to_json(unsigned scopes) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < NSCOPES; i++)
    if ((scopes & scope_names[i].bit) &&
        json_array_append_new(list, json_string(scope_names[i].name))) {
      json_decref(list);
      return NULL;
    }
  return list;
}

/* ---- tokens ---- */

static const char hexdigits[] = "0123456789abcdef";

static void to_hex(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hexdigits[b[i] >> 4];
    out[2 * i + 1] = hexdigits[b[i] & 15];
  }
  out[2 * n] = '\0';
}

static int from_hex(const char *s, size_t n, uint8_t *out) {
  for (size_t i = 0; i < n; i++) {
    const char *hi = memchr(hexdigits, s[2 * i], 16), *lo = memchr(hexdigits, s[2 * i + 1], 16);
    if (!s[2 * i] || !s[2 * i + 1] || !hi || !lo) return CPNS_ERR_INVAL;
    out[i] = (uint8_t)((hi - hexdigits) << 4 | (lo - hexdigits));
  }
  return 0;
}

static int sha256(const uint8_t *in, size_t len, uint8_t out[CPNS4_TOKEN_HASH_LEN]) {
  unsigned n = 0;
  if (EVP_Digest(in, len, out, &n, EVP_sha256(), NULL) != 1 || n != CPNS4_TOKEN_HASH_LEN)
    return CPNS_ERR_CRYPTO;
  return 0;
}

bool cpns4_valid_token_id(const char *id) {
  if (!id || strlen(id) != CPNS4_TOKEN_ID_LEN) return false;
  for (size_t i = 0; i < CPNS4_TOKEN_ID_LEN; i++)
    if (!memchr(hexdigits, id[i], 16)) return false;
  return true;
}

bool cpns4_valid_name(const char *name) {
  return name && strlen(name) <= (size_t)CPNS4_NAME_MAX && cpns_valid_id(name);
}

int cpns4_token_new(char text[CPNS4_TOKEN_LEN + 1], char id[CPNS4_TOKEN_ID_LEN + 1],
                    uint8_t hash[CPNS4_TOKEN_HASH_LEN]) {
  uint8_t idb[CPNS4_TOKEN_ID_LEN / 2], secret[CPNS4_TOKEN_SECRET_LEN];
  int rc = 0;
  if (RAND_bytes(idb, sizeof idb) != 1 || RAND_bytes(secret, sizeof secret) != 1) {
    rc = CPNS_ERR_CRYPTO;
  } else if (!(rc = sha256(secret, sizeof secret, hash))) {
    to_hex(idb, sizeof idb, id);
    size_t p = sizeof CPNS4_TOKEN_PREFIX - 1;
    memcpy(text, CPNS4_TOKEN_PREFIX, p);
    memcpy(text + p, id, CPNS4_TOKEN_ID_LEN);
    p += CPNS4_TOKEN_ID_LEN;
    text[p++] = '_';
    to_hex(secret, sizeof secret, text + p);
  }
  OPENSSL_cleanse(secret, sizeof secret);
  return rc;
}

int cpns4_token_parse(const char *text, size_t len, char id[CPNS4_TOKEN_ID_LEN + 1],
                      uint8_t hash[CPNS4_TOKEN_HASH_LEN]) {
  const size_t pre = sizeof CPNS4_TOKEN_PREFIX - 1;
  if (!text || len != CPNS4_TOKEN_LEN || memcmp(text, CPNS4_TOKEN_PREFIX, pre) != 0 ||
      text[pre + CPNS4_TOKEN_ID_LEN] != '_')
    return CPNS_ERR_INVAL;
  memcpy(id, text + pre, CPNS4_TOKEN_ID_LEN);
  id[CPNS4_TOKEN_ID_LEN] = '\0';
  if (!cpns4_valid_token_id(id)) return CPNS_ERR_INVAL;
  uint8_t secret[CPNS4_TOKEN_SECRET_LEN];
  int rc = from_hex(text + pre + CPNS4_TOKEN_ID_LEN + 1, sizeof secret, secret);
  if (!rc) rc = sha256(secret, sizeof secret, hash);
  OPENSSL_cleanse(secret, sizeof secret);
  return rc;
}

bool cpns4_hash_equal(const uint8_t a[CPNS4_TOKEN_HASH_LEN], const uint8_t b[CPNS4_TOKEN_HASH_LEN]) {
  return CRYPTO_memcmp(a, b, CPNS4_TOKEN_HASH_LEN) == 0;
}

/* ---- operations ---- */

static const struct cpns4_op ops[] = {
    {"GET", COAP_REQUEST_CODE_GET, "services", CPNS4_SCOPE_SERVICES_READ, false},
    {"POST", COAP_REQUEST_CODE_POST, "services", CPNS4_SCOPE_SERVICES_WRITE, false},
    {"GET", COAP_REQUEST_CODE_GET, "services/*", CPNS4_SCOPE_SERVICES_READ, false},
    {"PUT", COAP_REQUEST_CODE_PUT, "services/*", CPNS4_SCOPE_SERVICES_WRITE, false},
    {"POST", COAP_REQUEST_CODE_POST, "services/*", CPNS4_SCOPE_SERVICES_WRITE, false},
    {"DELETE", COAP_REQUEST_CODE_DELETE, "services/*", CPNS4_SCOPE_SERVICES_WRITE, false},
    {"GET", COAP_REQUEST_CODE_GET, "interests", CPNS4_SCOPE_INTERESTS_READ, false},
    {"POST", COAP_REQUEST_CODE_POST, "interests", CPNS4_SCOPE_INTERESTS_WRITE, false},
    {"GET", COAP_REQUEST_CODE_GET, "interests/*", CPNS4_SCOPE_INTERESTS_READ, false},
    {"DELETE", COAP_REQUEST_CODE_DELETE, "interests/*", CPNS4_SCOPE_INTERESTS_WRITE, false},
    {"GET", COAP_REQUEST_CODE_GET, "usage/summary", CPNS4_SCOPE_USAGE_READ, false},
    /* Read-only, and only of PNs whose readers name the caller (ext.<name>):
     * the route rules of server/caps.c and server/status.c decide that. */
    {"GET", COAP_REQUEST_CODE_GET, "pns/*/caps", CPNS4_SCOPE_CAPS_READ, false},
    {"GET", COAP_REQUEST_CODE_GET, "pns/*/entities/*/caps", CPNS4_SCOPE_CAPS_READ, false},
    {"GET", COAP_REQUEST_CODE_GET, "pns/*/status", CPNS4_SCOPE_STATUS_READ, true},
    {"GET", COAP_REQUEST_CODE_GET, "pns/*/entities/*/status", CPNS4_SCOPE_STATUS_READ, true},
    {"GET", COAP_REQUEST_CODE_GET, "pns/*/entities/*/status/*", CPNS4_SCOPE_STATUS_READ, true},
};

const struct cpns4_op *cpns4_ops(size_t *n) {
  *n = sizeof ops / sizeof ops[0];
  return ops;
}

/* path matches pattern: the same number of non-empty segments, '*' any. */
static bool path_matches(const char *pattern, const char *path) {
  for (;;) {
    size_t pl = strcspn(pattern, "/"), l = strcspn(path, "/");
    if (l == 0) return false;
    if (!(pl == 1 && pattern[0] == '*') && (pl != l || memcmp(pattern, path, l) != 0)) return false;
    pattern += pl;
    path += l;
    if (!*pattern || !*path) return !*pattern && !*path;
    pattern++;
    path++;
  }
}

int cpns4_op_find(const char *method, const char *path, const struct cpns4_op **op, char *allow,
                  size_t allowlen) {
  bool known = false;
  size_t used = 0;
  if (allowlen) allow[0] = '\0';
  *op = NULL;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    if (!path_matches(ops[i].pattern, path)) continue;
    if (strcmp(ops[i].method, method) == 0) {
      *op = &ops[i];
      return 0;
    }
    known = true;
    int n = allowlen > used ? snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "",
                                       ops[i].method)
                            : -1;
    if (n > 0 && (size_t)n < allowlen - used) used += (size_t)n;
  }
  return known ? CPNS_ERR_DENIED : CPNS_ERR_NOTFOUND;
}

/* ---- codes ---- */

int cpns4_http_status(int coap_code, bool has_body) {
  switch (coap_code) {
  case 201: return 201;
  case 202: /* Deleted */
  case 204: /* Changed */
    return has_body ? 200 : 204;
  case 203: return 304; /* Valid */
  case 205: return 200; /* Content */
  case 402: return 400; /* Bad Option */
  case 408: return 400; /* Request Entity Incomplete */
  case 505: return 502; /* Proxying Not Supported */
  default: break;
  }
  /* The rest keep their number: 4.00 -> 400, 4.13 -> 413, 5.03 -> 503. */
  if ((coap_code >= 400 && coap_code <= 431) || (coap_code >= 500 && coap_code <= 505))
    return coap_code;
  return 500;
}
