/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/codec.c. The first byte picks the decoder: odd is CBOR,
 * even is JSON (so seeds can start with a readable 'c' = 0x63 or 'j' = 0x6a);
 * with its top bit set, small limits are used instead of the defaults, so the
 * limit paths get exercised too. The rest is the payload. Whatever decodes
 * must survive the trip through both encoders: the CBOR and the JSON
 * encodings decode again, under the same depth, item and string limits, to an
 * equal tree, and the CBOR encoding is a fixed point. Any mismatch aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/cpns.h>

#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct cpns_codec_limits small_limits = {256, 3, 16, 16};

/* Encodes v as cf and decodes it again; aborts unless the tree comes back
 * equal and encodes to the same bytes again (the encoders are deterministic).
 * Returns the encoding (malloc'd) and the decoded tree. A re-encoding may be
 * longer than the input (a half float becomes float64, JSON escapes grow), so
 * the size limit is lifted; the other limits describe the tree and still hold. */
static uint8_t *roundtrip(const json_t *v, int cf, const struct cpns_codec_limits *lim,
                          size_t *len, json_t **back) {
  struct cpns_codec_limits relaxed = *lim;
  relaxed.max_bytes = SIZE_MAX;
  uint8_t *buf = NULL, *buf2 = NULL;
  size_t len2 = 0;
  char err[128];
  if (cpns_codec_encode(v, cf, &buf, len) != 0) abort();
  if (cpns_codec_decode(buf, *len, cf, &relaxed, back, err, sizeof err) != 0) abort();
  if (!json_equal(v, *back)) abort();
  if (cpns_codec_encode(*back, cf, &buf2, &len2) != 0) abort();
  if (len2 != *len || memcmp(buf, buf2, len2) != 0) abort();
  free(buf2);
  return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int cf = (data[0] & 1) ? CPNS_CF_CBOR : CPNS_CF_JSON;
  const struct cpns_codec_limits *lim =
      (data[0] & 0x80) ? &small_limits : &cpns_codec_default_limits;
  json_t *v = NULL;
  char err[128];
  int rc = cpns_codec_decode(data + 1, size - 1, cf, lim, &v, err, sizeof err);
  if (rc != 0) {
    /* Failure is clean: no tree, a reason, one of the documented codes. */
    if (v || err[0] == '\0') abort();
    if (rc != CPNS_ERR_INVAL && rc != CPNS_ERR_TOOBIG && rc != CPNS_ERR_NOMEM) abort();
    return 0;
  }
  size_t clen, jlen, clen2;
  json_t *from_cbor = NULL, *from_json = NULL;
  uint8_t *cbor = roundtrip(v, CPNS_CF_CBOR, lim, &clen, &from_cbor);
  uint8_t *json = roundtrip(v, CPNS_CF_JSON, lim, &jlen, &from_json);
  /* Both formats carry the same document, key order included, so the tree
   * that came through JSON has the same CBOR encoding. */
  uint8_t *cbor2 = NULL;
  if (cpns_codec_encode(from_json, CPNS_CF_CBOR, &cbor2, &clen2) != 0) abort();
  if (clen2 != clen || memcmp(cbor, cbor2, clen) != 0) abort();
  free(cbor2);
  free(cbor);
  free(json);
  json_decref(from_cbor);
  json_decref(from_json);
  json_decref(v);
  return 0;
}
