/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/cpns4.c, what CPNS-4 reads from an HTTP request
 * before anything else: the bearer token of the Authorization header, the
 * method and path (the operation table), and the scopes of a token: as the
 * text of a token record, and as the JSON list of a token creation body
 * (POST /tokens, server/tokens.c). The input is
 * "METHOD\nPATH\nSCOPES\nTOKEN" (missing parts are empty); SCOPES is read
 * both as text and as JSON, a list of names or a body {"scopes": [...]}. A
 * token that parses must be of the documented shape, and parsing it again
 * gives the same id and hash; an operation found must match the method;
 * scopes that parse format back to a text that parses to the same bits; a
 * list of scopes that is accepted names each of its bits once and comes
 * back from cpns4_scopes_to_json as the same bits; a refused one says why
 * and leaves the bits untouched. Any violation aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "cpns4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PART_MAX 4096

/* The next '\n'-separated part of the input, NUL-terminated in out. */
static const uint8_t *part(const uint8_t *p, const uint8_t *end, char *out, size_t outlen) {
  size_t n = 0;
  while (p < end && *p != '\n') {
    if (n + 1 < outlen) out[n++] = (char)*p;
    p++;
  }
  out[n] = '\0';
  return p < end ? p + 1 : p;
}

static unsigned count_bits(unsigned bits) {
  unsigned n = 0;
  for (; bits; bits &= bits - 1) n++;
  return n;
}

/* One JSON value as the "scopes" of a token creation body. */
static void fuzz_scope_list(const json_t *list) {
  unsigned bits = 0xdeadu, again = 0;
  char err[160] = "", text[CPNS4_SCOPES_TEXT_MAX + 1];
  int rc = cpns4_scopes_from_json(list, &bits, err, sizeof err);
  if (rc) {
    if (rc != CPNS_ERR_INVAL || !err[0] || bits != 0xdeadu) abort();
    return;
  }
  /* Known names, each once: as many bits as names. */
  if (!bits || (bits & ~CPNS4_SCOPES_ALL) || !json_is_array(list) ||
      count_bits(bits) != json_array_size(list))
    abort();
  json_t *back = cpns4_scopes_to_json(bits);
  if (!back || cpns4_scopes_from_json(back, &again, err, sizeof err) || again != bits) abort();
  json_decref(back);
  cpns4_scopes_format(bits, text);
  if (cpns4_scopes_parse(text, &again, err, sizeof err) || again != bits) abort();
}

static void fuzz_scopes_json(const char *scopes) {
  json_t *v = NULL;
  char err[160];
  if (cpns_codec_decode((const uint8_t *)scopes, strlen(scopes), CPNS_CF_JSON,
                        &cpns_codec_default_limits, &v, err, sizeof err))
    return;
  fuzz_scope_list(v);
  /* As post_token reads it: the member of the body (NULL when absent). */
  fuzz_scope_list(json_object_get(v, "scopes"));
  json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char method[FUZZ_PART_MAX], path[FUZZ_PART_MAX], scopes[FUZZ_PART_MAX];
  const uint8_t *p = data, *end = data + size;
  p = part(p, end, method, sizeof method);
  p = part(p, end, path, sizeof path);
  p = part(p, end, scopes, sizeof scopes);
  /* The token is the rest, unterminated, as the header gives it. */
  const char *tok = (const char *)p;
  size_t toklen = (size_t)(end - p);

  char id[CPNS4_TOKEN_ID_LEN + 1], id2[CPNS4_TOKEN_ID_LEN + 1];
  uint8_t hash[CPNS4_TOKEN_HASH_LEN], hash2[CPNS4_TOKEN_HASH_LEN];
  if (cpns4_token_parse(tok, toklen, id, hash) == 0) {
    if (toklen != CPNS4_TOKEN_LEN || memcmp(tok, CPNS4_TOKEN_PREFIX, 6) != 0 ||
        !cpns4_valid_token_id(id) || memcmp(tok + 6, id, CPNS4_TOKEN_ID_LEN) != 0)
      abort();
    if (cpns4_token_parse(tok, toklen, id2, hash2) || strcmp(id, id2) ||
        !cpns4_hash_equal(hash, hash2))
      abort();
  }

  const struct cpns4_op *op = NULL;
  char allow[64];
  int rc = cpns4_op_find(method, path, &op, allow, sizeof allow);
  if (rc == 0 && (!op || strcmp(op->method, method) != 0 || !cpns4_scope_name(op->scope))) abort();
  if (rc != 0 && op) abort();
  if (rc == CPNS_ERR_DENIED && !allow[0]) abort();
  if (strlen(allow) >= sizeof allow) abort();

  unsigned bits = 0, again = 0;
  char err[160], text[CPNS4_SCOPES_TEXT_MAX + 1];
  if (cpns4_scopes_parse(scopes, &bits, err, sizeof err) == 0) {
    if (!bits || (bits & ~CPNS4_SCOPES_ALL)) abort();
    cpns4_scopes_format(bits, text);
    if (cpns4_scopes_parse(text, &again, err, sizeof err) || again != bits) abort();
  }
  fuzz_scopes_json(scopes);
  return 0;
}
