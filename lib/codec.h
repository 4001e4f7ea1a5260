/* SPDX-License-Identifier: Apache-2.0 */
/* Payload codecs. Every CPNS payload has one schema and two encodings: CBOR
 * (CoAP content-format 60, the default) and JSON (50). Both decode into the
 * same in-memory tree, a Jansson json_t, so handlers validate one thing.
 * Decoders treat input as hostile: sizes, depth, item counts and string
 * lengths are bounded by cpns_codec_limits and checked before allocation. */
#ifndef CPNS_CODEC_H
#define CPNS_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CPNS_CF_TEXT 0
#define CPNS_CF_LINK_FORMAT 40
#define CPNS_CF_JSON 50
#define CPNS_CF_CBOR 60

struct cpns_codec_limits {
  size_t max_bytes;   /* whole payload */
  unsigned max_depth; /* nesting of maps/arrays; a scalar top level is depth 0 */
  size_t max_items;   /* total map entries + array elements in the document */
  size_t max_string;  /* one text string or map key, bytes */
};

/* 16 KiB, depth 8, 1024 items, 1 KiB strings. */
extern const struct cpns_codec_limits cpns_codec_default_limits;

/* Decodes buf as content_format (CPNS_CF_CBOR or CPNS_CF_JSON) into *out (new
 * reference, free with json_decref). Accepted CBOR: definite-length maps with
 * text-string keys, arrays, UTF-8 text strings, integers in int64 range,
 * floats, true, false, null; no tags, byte strings, undefined or indefinite
 * lengths, no duplicate keys. JSON: one value, no duplicate keys, no NUL in
 * strings. Returns 0, CPNS_ERR_TOOBIG (a limit) or CPNS_ERR_INVAL (malformed),
 * with a short reason in err (safe to send back as a diagnostic payload). */
int cpns_codec_decode(const uint8_t *buf, size_t len, int content_format,
                      const struct cpns_codec_limits *lim, json_t **out, char *err,
                      size_t errlen);

/* Encodes v as content_format into a malloc'd buffer (*buf, free with free()).
 * Integers stay integers, reals become CBOR float64. Returns 0,
 * CPNS_ERR_INVAL (a value that cannot be encoded) or CPNS_ERR_NOMEM. */
int cpns_codec_encode(const json_t *v, int content_format, uint8_t **buf, size_t *len);

#endif
