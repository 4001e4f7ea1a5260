/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for cpns_req_query() (lib/node.c), which every handler uses
 * to read a parameter of a request's URI query ("after", "limit", "base",
 * "kw"...). libcoap's Uri-Query options are joined by the node into
 * req->query ("a=1&b=2", at most CPNS_QUERY_MAX bytes, no NUL). The first
 * byte of the input gives the size of the output buffer (its value mod 64,
 * plus 1), the bytes up to the first '\n' are the parameter's name and the
 * rest the query.
 *
 * Checked, aborting on any violation: a value found is the first
 * parameter named so, whole and NUL-terminated within the buffer;
 * CPNS_ERR_TOOBIG only when that value does not fit (the buffer is then
 * untouched); CPNS_ERR_NOTFOUND only when no parameter has the name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/cpns.h>

#include "node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_KEY_MAX 64

/* The first parameter of q named key: its value and length, or NULL. */
static const char *first_value(const char *q, const char *key, size_t *vlen) {
  size_t klen = strlen(key);
  for (const char *p = q;;) {
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    if (len == klen && memcmp(p, key, klen) == 0) {
      *vlen = 0;
      return p + len;
    }
    if (len > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
      *vlen = len - klen - 1;
      return p + klen + 1;
    }
    if (!amp) return NULL;
    p = amp + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t outlen = (size_t)(data[0] % 64) + 1;
  const uint8_t *p = data + 1, *end = data + size;
  const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
  if (!nl || (size_t)(nl - p) > FUZZ_KEY_MAX) return 0;
  char key[FUZZ_KEY_MAX + 1];
  memcpy(key, p, (size_t)(nl - p));
  key[nl - p] = '\0';
  /* names are C strings, never empty (the handlers' own constants) */
  if (!key[0] || strlen(key) != (size_t)(nl - p)) return 0;
  size_t qlen = (size_t)(end - nl - 1);
  if (qlen >= CPNS_QUERY_MAX || memchr(nl + 1, '\0', qlen)) return 0;

  /* On the heap, so that ASan sees any read past the request. */
  struct cpns_req *req = calloc(1, sizeof *req);
  char *out = malloc(outlen);
  if (!req || !out) abort();
  memcpy(req->query, nl + 1, qlen);
  req->query[qlen] = '\0';
  memset(out, 0x5a, outlen);

  size_t vlen = 0;
  const char *want = first_value(req->query, key, &vlen);
  int rc = cpns_req_query(req, key, out, outlen);
  if (rc == 0) {
    if (!want || vlen >= outlen || memcmp(out, want, vlen) != 0 || out[vlen] != '\0') abort();
  } else if (rc == CPNS_ERR_TOOBIG) {
    if (!want || vlen < outlen) abort();
    for (size_t i = 0; i < outlen; i++)
      if ((uint8_t)out[i] != 0x5a) abort();
  } else if (rc == CPNS_ERR_NOTFOUND) {
    if (want) abort();
  } else {
    abort();
  }
  free(out);
  free(req);
  return 0;
}
