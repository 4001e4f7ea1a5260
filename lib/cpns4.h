/* SPDX-License-Identifier: Apache-2.0 */
/* CPNS-4 (spec 5.3.2.4): what the HTTPS interface for external
 * Application/Content Servers needs that involves no network, so that it
 * can be unit-tested and fuzzed: bearer tokens (their text, the hash that
 * is stored instead of them), scopes, the table of the operations CPNS-4
 * exposes with the scope each needs, and the mapping of CoAP response codes
 * to HTTP statuses (RFC 8075 §7). The HTTP server itself is
 * server/http.c; the token resources are server/tokens.c.
 *
 * A token is "cpns4_<id>_<secret>": id is 16 hex digits (64 random bits,
 * not secret: it names the token in lists and revocations, and finds its
 * record), secret 64 hex digits (256 random bits). The server keeps only
 * SHA-256(secret) and compares hashes in constant time. */
#ifndef CPNS_CPNS4_H
#define CPNS_CPNS4_H

#include <coap3/coap.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cpns/cpns.h>

#define CPNS4_TOKEN_PREFIX "cpns4_"
#define CPNS4_TOKEN_ID_LEN 16     /* hex digits of a token's id */
#define CPNS4_TOKEN_SECRET_LEN 32 /* bytes of a token's secret */
#define CPNS4_TOKEN_HASH_LEN 32   /* SHA-256 */
/* Characters of a token's text: prefix, id, '_', secret in hex. */
#define CPNS4_TOKEN_LEN (sizeof CPNS4_TOKEN_PREFIX - 1 + CPNS4_TOKEN_ID_LEN + 1 + 2 * CPNS4_TOKEN_SECRET_LEN)
/* A token's name, whose holder is the identity "ext.<name>": an id. */
#define CPNS4_IDENTITY_PREFIX "ext."
#define CPNS4_NAME_MAX (CPNS_ID_MAX - (int)(sizeof CPNS4_IDENTITY_PREFIX - 1))
/* Bytes of the scopes of a token as text ("services:read,services:write"). */
#define CPNS4_SCOPES_TEXT_MAX 128

/* What a token lets its holder do. */
enum cpns4_scope {
  CPNS4_SCOPE_SERVICES_READ = 1u << 0,   /* look services up, read them */
  CPNS4_SCOPE_SERVICES_WRITE = 1u << 1,  /* publish, update, refresh, unpublish its own */
  CPNS4_SCOPE_INTERESTS_READ = 1u << 2,  /* list and read its own saved interests */
  CPNS4_SCOPE_INTERESTS_WRITE = 1u << 3, /* save and remove its own interests */
  CPNS4_SCOPE_USAGE_READ = 1u << 4,      /* read usage summaries (what users let be reported) */
  CPNS4_SCOPE_CAPS_READ = 1u << 5,       /* read capabilities of PNs that list it as a reader */
  CPNS4_SCOPE_STATUS_READ = 1u << 6,     /* read statuses of PNs that list it as a reader */
};
#define CPNS4_SCOPES_ALL 0x7Fu

/* The name of one scope bit ("services:read"), or NULL. */
const char *cpns4_scope_name(unsigned scope);
/* "services:read,services:write" (commas, no spaces; each known, none
 * twice; at least one) into bits. CPNS_ERR_INVAL with the reason in err. */
int cpns4_scopes_parse(const char *text, unsigned *out, char *err, size_t errlen);
/* The same from a JSON list of 1..7 scope names (the "scopes" of POST
 * /tokens; list is borrowed and may be NULL). CPNS_ERR_INVAL with the
 * reason in err for anything else, an unknown name or one given twice; *out
 * is written only on success. */
int cpns4_scopes_from_json(const json_t *list, unsigned *out, char *err, size_t errlen);
/* Bits to "services:read,services:write" (in table order); "" for none. */
void cpns4_scopes_format(unsigned scopes, char out[CPNS4_SCOPES_TEXT_MAX + 1]);
/* Bits to a JSON list of names (new reference; NULL when out of memory). */
json_t *cpns4_scopes_to_json(unsigned scopes);

/* A new token: its text (shown once to the operator, then forgotten), its
 * id and the hash of its secret (what is stored). CPNS_ERR_CRYPTO when the
 * random generator fails. The caller should cleanse text after use. */
int cpns4_token_new(char text[CPNS4_TOKEN_LEN + 1], char id[CPNS4_TOKEN_ID_LEN + 1],
                    uint8_t hash[CPNS4_TOKEN_HASH_LEN]);
/* A presented token (len bytes, not NUL-terminated): CPNS_ERR_INVAL when it
 * is not of the form above; else its id and the hash of its secret. */
int cpns4_token_parse(const char *text, size_t len, char id[CPNS4_TOKEN_ID_LEN + 1],
                      uint8_t hash[CPNS4_TOKEN_HASH_LEN]);
/* Constant-time equality of two hashes. */
bool cpns4_hash_equal(const uint8_t a[CPNS4_TOKEN_HASH_LEN], const uint8_t b[CPNS4_TOKEN_HASH_LEN]);
/* A token id: 16 lower-case hex digits. */
bool cpns4_valid_token_id(const char *id);
/* A token name: an id of at most CPNS4_NAME_MAX bytes. */
bool cpns4_valid_name(const char *name);

/* One operation of CPNS-4: an HTTP method on a path pattern relative to
 * /cpns/v1 ('*' is one segment), the CoAP method it runs as, the scope it
 * needs, and whether it refuses any query: the status reads, whose CoAP
 * query is conditional attributes, which only mean something with Observe,
 * which CPNS-4 does not offer (an external server polls). */
struct cpns4_op {
  const char *method;   /* "GET" */
  coap_pdu_code_t code; /* COAP_REQUEST_CODE_GET */
  const char *pattern;  /* "services/ *" without the space */
  unsigned scope;       /* one CPNS4_SCOPE_* bit */
  bool no_query;        /* a query is 400 over HTTPS */
};
/* The table, in the order of docs/protocol.md; *n gets its length. */
const struct cpns4_op *cpns4_ops(size_t *n);
/* Finds the operation of method on path (relative to /cpns/v1, without a
 * query): 0 and *op; CPNS_ERR_NOTFOUND when CPNS-4 has no such path;
 * CPNS_ERR_DENIED when it has the path but not this method (405), with the methods
 * it has in allow ("GET, POST"). */
int cpns4_op_find(const char *method, const char *path, const struct cpns4_op **op, char *allow,
                  size_t allowlen);

/* The HTTP status for a CoAP code given as a number (205 -> 200, 404 ->
 * 404, 202 -> 204 or 200 with a body, ...), after RFC 8075 §7. Codes that
 * have no mapping give 500. */
int cpns4_http_status(int coap_code, bool has_body);

#endif
