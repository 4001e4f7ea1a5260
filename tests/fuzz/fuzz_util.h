/* SPDX-License-Identifier: Apache-2.0 */
/* What the fuzz targets share: how an input becomes a request body, and the
 * round trip of a value through one wire encoding. Header-only, so that each
 * target stays one file for libFuzzer and for the corpus replay. */
#ifndef CPNS_FUZZ_UTIL_H
#define CPNS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>

#include "codec.h"

/* The wire encodings a round trip goes through. */
static const int fuzz_cfs[] = {CPNS_CF_CBOR, CPNS_CF_JSON};
#define FUZZ_NCFS (sizeof fuzz_cfs / sizeof fuzz_cfs[0])

/* The body an input holds: its first byte picks the decoder (odd: CBOR,
 * even: JSON, so that seeds can start with 'c' or 'j'), the rest is the
 * payload, decoded under the daemons' default limits. NULL when the input
 * is empty or does not decode; the caller owns the result. */
static inline json_t *fuzz_input_body(const uint8_t *data, size_t size) {
  if (size < 1) return NULL;
  int cf = (data[0] & 1) ? CPNS_CF_CBOR : CPNS_CF_JSON;
  json_t *v = NULL;
  char err[160];
  if (cpns_codec_decode(data + 1, size - 1, cf, &cpns_codec_default_limits, &v, err, sizeof err))
    return NULL;
  return v;
}

/* v encoded in cf and decoded again (lim: the decoder's limits, NULL for
 * none); aborts when either step fails, since what our encoders write must
 * read back. The caller owns the result. */
static inline json_t *fuzz_reencode(const json_t *v, int cf, const struct cpns_codec_limits *lim) {
  uint8_t *buf = NULL;
  size_t len = 0;
  json_t *back = NULL;
  char err[160];
  if (cpns_codec_encode(v, cf, &buf, &len)) abort();
  if (cpns_codec_decode(buf, len, cf, lim, &back, err, sizeof err)) abort();
  free(buf);
  return back;
}

#endif
