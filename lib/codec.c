/* SPDX-License-Identifier: Apache-2.0 */
/* Payload codecs (see codec.h): CBOR and JSON to and from a Jansson tree. The
 * CBOR decoder is our own bounded recursive descent over the bytes, not
 * libcbor's cbor_load(), because cbor_load() builds a whole libcbor tree
 * (arrays and maps sized by their declared counts) before any limit of ours
 * could apply; here every length, count and nesting level is checked against
 * cpns_codec_limits and against the bytes actually left before anything is
 * allocated. JSON goes through Jansson's parser and the finished tree is then
 * walked against the same limits. Both encoders write definite-length,
 * shortest-form output. */
#include "codec.h"

#include <cpns/cpns.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A ceiling on nesting whatever the caller's limits say. The recursion depth
 * of the CBOR decoder and encoder is bounded by it, so a caller passing
 * max_depth = UINT_MAX cannot turn a 16 KiB payload of 0x81 bytes into a stack
 * overflow. It equals Jansson's own parser limit, so both formats refuse
 * nesting at the same point. */
#define CODEC_NESTING_MAX JSON_PARSER_MAX_DEPTH

/* CBOR major types, RFC 8949 §3.1. */
enum {
  CBOR_UINT = 0,
  CBOR_NEGINT = 1,
  CBOR_BYTES = 2,
  CBOR_TEXT = 3,
  CBOR_ARRAY = 4,
  CBOR_MAP = 5,
  CBOR_TAG = 6,
  CBOR_SIMPLE = 7,
};

/* Additional-information values of major type 7, RFC 8949 §3.3. */
enum {
  CBOR_AI_FALSE = 20,
  CBOR_AI_TRUE = 21,
  CBOR_AI_NULL = 22,
  CBOR_AI_UNDEFINED = 23,
  CBOR_AI_HALF = 25,
  CBOR_AI_SINGLE = 26,
  CBOR_AI_DOUBLE = 27,
  CBOR_AI_INDEFINITE = 31,
};

const struct cpns_codec_limits cpns_codec_default_limits = {16384, 8, 1024, 1024};

/* Writes a reason into err when the caller gave room for one; always leaves
 * err NUL-terminated. Returns code so that callers can `return fail(...)`. */
__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int code,
                                                      const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* Checks UTF-8 per RFC 3629 §4: no overlong forms, no surrogates, nothing
 * above U+10FFFF. NUL is refused as well: Jansson's JSON parser refuses
 * "\u0000" (we do not pass JSON_ALLOW_NUL), since a handler reading
 * json_string_value() would see a C string cut short, and CBOR must not be a
 * way around that. Returns 0, or 1 for invalid UTF-8, 2 for a NUL, with the
 * offending byte's index in *bad. */
static int utf8_check(const uint8_t *s, size_t n, size_t *bad) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the first continuation byte */
    if (c == 0) {
      *bad = i;
      return 2;
    } else if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c == 0xe0) lo = 0xa0; /* overlong */
      if (c == 0xed) hi = 0x9f; /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c == 0xf0) lo = 0x90; /* overlong */
      if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
    } else {
      *bad = i;
      return 1;
    }
    if (n - i - 1 < need) {
      *bad = i;
      return 1;
    }
    for (size_t k = 1; k <= need; k++) {
      uint8_t cc = s[i + k];
      bool ok = k == 1 ? (cc >= lo && cc <= hi) : (cc >= 0x80 && cc <= 0xbf);
      if (!ok) {
        *bad = i + k;
        return 1;
      }
    }
    i += need + 1;
  }
  return 0;
}

/* ---- CBOR decoding ---------------------------------------------------- */

struct cbor_rd {
  const uint8_t *p;
  size_t len;
  size_t off;
  const struct cpns_codec_limits *lim;
  size_t items; /* map entries + array elements declared so far */
  char *err;
  size_t errlen;
};

/* One item head: major type, additional information and its argument (for
 * floats, the raw bits). `at` is the offset of the initial byte. */
struct cbor_head {
  unsigned major;
  unsigned ai;
  uint64_t arg;
  size_t at;
};

static size_t rd_left(const struct cbor_rd *rd) { return rd->len - rd->off; }

/* Reads an initial byte and its argument. Rejects what no accepted item can
 * start with: reserved additional information (RFC 8949 §3, 28..30) and
 * indefinite lengths (31), which would need unbounded lookahead to size. */
static int rd_head(struct cbor_rd *rd, struct cbor_head *h) {
  h->at = rd->off;
  if (rd_left(rd) < 1)
    return fail(rd->err, rd->errlen, CPNS_ERR_INVAL, "CBOR: truncated at offset %zu", rd->off);
  uint8_t ib = rd->p[rd->off++];
  h->major = ib >> 5;
  h->ai = ib & 0x1f;
  if (h->ai < 24) {
    h->arg = h->ai;
    return 0;
  }
  if (h->ai == CBOR_AI_INDEFINITE) {
    if (h->major == CBOR_SIMPLE)
      return fail(rd->err, rd->errlen, CPNS_ERR_INVAL, "CBOR: unexpected break at offset %zu",
                  h->at);
    if (h->major >= CBOR_BYTES && h->major <= CBOR_MAP)
      return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                  "CBOR: indefinite length not supported at offset %zu", h->at);
    /* RFC 8949 §3: not well-formed for integers and tags. */
    return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                "CBOR: reserved additional information %u at offset %zu", h->ai, h->at);
  }
  if (h->ai > 27)
    return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                "CBOR: reserved additional information %u at offset %zu", h->ai, h->at);
  size_t n = (size_t)1 << (h->ai - 24); /* 24..27 -> 1, 2, 4, 8 bytes */
  if (rd_left(rd) < n)
    return fail(rd->err, rd->errlen, CPNS_ERR_INVAL, "CBOR: truncated at offset %zu", h->at);
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = (v << 8) | rd->p[rd->off + i];
  rd->off += n;
  h->arg = v;
  return 0;
}

/* IEEE 754 binary16 to double, RFC 8949 Appendix D, without libm: every
 * finite half is exactly representable, so the bits can be moved over. */
static double half_to_double(uint16_t h) {
  unsigned exp = (h >> 10) & 0x1f;
  unsigned mant = h & 0x3ff;
  double v;
  if (exp == 31) {
    v = mant ? NAN : INFINITY; /* refused by the caller */
  } else if (exp == 0) {
    v = (double)mant / 16777216.0; /* subnormal: mant * 2^-24, exact */
  } else {
    uint64_t bits = ((uint64_t)(exp - 15 + 1023) << 52) | ((uint64_t)mant << 42);
    memcpy(&v, &bits, sizeof v);
  }
  return (h & 0x8000) ? -v : v;
}

/* Counts n more items against max_items before the container is built. */
static int rd_add_items(struct cbor_rd *rd, uint64_t n, size_t at) {
  if (n > rd->lim->max_items - rd->items)
    return fail(rd->err, rd->errlen, CPNS_ERR_TOOBIG,
                "CBOR: more than %zu items at offset %zu", rd->lim->max_items, at);
  rd->items += (size_t)n;
  return 0;
}

/* Validates a text string whose head has been read; on success *s and *n
 * point into the input. Checks the declared length against the bytes left
 * before the string limit, so that a lying head is reported as malformed. */
static int rd_text(struct cbor_rd *rd, const struct cbor_head *h, const char *what,
                   const char **s, size_t *n) {
  if (h->arg > rd_left(rd))
    return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                "CBOR: %s length %llu exceeds the %zu bytes left at offset %zu", what,
                (unsigned long long)h->arg, rd_left(rd), h->at);
  if (h->arg > rd->lim->max_string)
    return fail(rd->err, rd->errlen, CPNS_ERR_TOOBIG,
                "CBOR: %s longer than %zu bytes at offset %zu", what, rd->lim->max_string, h->at);
  const uint8_t *p = rd->p + rd->off;
  size_t bad = 0;
  int rc = utf8_check(p, (size_t)h->arg, &bad);
  if (rc == 1)
    return fail(rd->err, rd->errlen, CPNS_ERR_INVAL, "CBOR: invalid UTF-8 at offset %zu",
                rd->off + bad);
  if (rc == 2)
    return fail(rd->err, rd->errlen, CPNS_ERR_INVAL, "CBOR: NUL in %s at offset %zu", what,
                rd->off + bad);
  *s = (const char *)p;
  *n = (size_t)h->arg;
  rd->off += (size_t)h->arg;
  return 0;
}

static int rd_item(struct cbor_rd *rd, unsigned depth, json_t **out);

/* Enters one container level, refusing it past max_depth or the hard cap. */
static int rd_enter(struct cbor_rd *rd, unsigned depth, size_t at) {
  if (depth >= rd->lim->max_depth || depth >= CODEC_NESTING_MAX)
    return fail(rd->err, rd->errlen, CPNS_ERR_TOOBIG,
                "CBOR: nesting deeper than %u at offset %zu",
                rd->lim->max_depth < CODEC_NESTING_MAX ? rd->lim->max_depth : CODEC_NESTING_MAX,
                at);
  return 0;
}

static int rd_array(struct cbor_rd *rd, const struct cbor_head *h, unsigned depth,
                    json_t **out) {
  int rc = rd_enter(rd, depth, h->at);
  if (rc) return rc;
  /* Every element takes at least one byte. */
  if (h->arg > rd_left(rd))
    return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                "CBOR: array of %llu elements exceeds the %zu bytes left at offset %zu",
                (unsigned long long)h->arg, rd_left(rd), h->at);
  if ((rc = rd_add_items(rd, h->arg, h->at))) return rc;
  json_t *a = json_array();
  if (!a) return fail(rd->err, rd->errlen, CPNS_ERR_NOMEM, "out of memory");
  for (uint64_t i = 0; i < h->arg; i++) {
    json_t *v = NULL;
    if ((rc = rd_item(rd, depth + 1, &v))) {
      json_decref(a);
      return rc;
    }
    if (json_array_append_new(a, v)) {
      json_decref(a);
      return fail(rd->err, rd->errlen, CPNS_ERR_NOMEM, "out of memory");
    }
  }
  *out = a;
  return 0;
}

static int rd_map(struct cbor_rd *rd, const struct cbor_head *h, unsigned depth,
                  json_t **out) {
  int rc = rd_enter(rd, depth, h->at);
  if (rc) return rc;
  /* Every entry takes at least two bytes, a key and a value. */
  if (h->arg > rd_left(rd) / 2)
    return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                "CBOR: map of %llu entries exceeds the %zu bytes left at offset %zu",
                (unsigned long long)h->arg, rd_left(rd), h->at);
  if ((rc = rd_add_items(rd, h->arg, h->at))) return rc;
  json_t *m = json_object();
  if (!m) return fail(rd->err, rd->errlen, CPNS_ERR_NOMEM, "out of memory");
  for (uint64_t i = 0; i < h->arg; i++) {
    struct cbor_head kh;
    const char *key = NULL;
    size_t klen = 0;
    json_t *v = NULL;
    if ((rc = rd_head(rd, &kh))) goto out;
    if (kh.major != CBOR_TEXT) {
      rc = fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                "CBOR: map key is not a text string at offset %zu", kh.at);
      goto out;
    }
    if ((rc = rd_text(rd, &kh, "map key", &key, &klen))) goto out;
    /* Duplicate keys are refused rather than last-wins (RFC 8949 §5.6): two
     * readers must not see two different documents. */
    if (json_object_getn(m, key, klen)) {
      rc = fail(rd->err, rd->errlen, CPNS_ERR_INVAL, "CBOR: duplicate map key at offset %zu",
                kh.at);
      goto out;
    }
    if ((rc = rd_item(rd, depth + 1, &v))) goto out;
    /* The key was checked above; on failure Jansson releases v. */
    if (json_object_setn_new_nocheck(m, key, klen, v)) {
      rc = fail(rd->err, rd->errlen, CPNS_ERR_NOMEM, "out of memory");
      goto out;
    }
  }
  *out = m;
  return 0;
out:
  json_decref(m);
  return rc;
}

/* Decodes one data item at nesting level `depth` (0 for the top level). */
static int rd_item(struct cbor_rd *rd, unsigned depth, json_t **out) {
  struct cbor_head h;
  int rc = rd_head(rd, &h);
  if (rc) return rc;
  json_t *v = NULL;
  switch (h.major) {
  case CBOR_UINT:
    if (h.arg > (uint64_t)INT64_MAX)
      return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                  "CBOR: integer out of int64 range at offset %zu", h.at);
    v = json_integer((json_int_t)h.arg);
    break;
  case CBOR_NEGINT:
    /* The value is -1 - arg; it fits int64 exactly when arg <= INT64_MAX. */
    if (h.arg > (uint64_t)INT64_MAX)
      return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                  "CBOR: integer out of int64 range at offset %zu", h.at);
    v = json_integer(-1 - (json_int_t)h.arg);
    break;
  case CBOR_BYTES:
    return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                "CBOR: byte strings not supported at offset %zu", h.at);
  case CBOR_TEXT: {
    const char *s = NULL;
    size_t n = 0;
    if ((rc = rd_text(rd, &h, "text string", &s, &n))) return rc;
    v = json_stringn_nocheck(s, n);
    break;
  }
  case CBOR_ARRAY: return rd_array(rd, &h, depth, out);
  case CBOR_MAP: return rd_map(rd, &h, depth, out);
  case CBOR_TAG:
    return fail(rd->err, rd->errlen, CPNS_ERR_INVAL, "CBOR: tags not supported at offset %zu",
                h.at);
  default: { /* CBOR_SIMPLE: the major type is three bits, so nothing else */
    double d;
    switch (h.ai) {
    case CBOR_AI_FALSE: v = json_false(); break;
    case CBOR_AI_TRUE: v = json_true(); break;
    case CBOR_AI_NULL: v = json_null(); break;
    case CBOR_AI_UNDEFINED:
      return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                  "CBOR: undefined not supported at offset %zu", h.at);
    case CBOR_AI_HALF:
    case CBOR_AI_SINGLE:
    case CBOR_AI_DOUBLE:
      if (h.ai == CBOR_AI_HALF) {
        d = half_to_double((uint16_t)h.arg);
      } else if (h.ai == CBOR_AI_SINGLE) {
        uint32_t bits = (uint32_t)h.arg;
        float f;
        memcpy(&f, &bits, sizeof f);
        d = f;
      } else {
        memcpy(&d, &h.arg, sizeof d);
      }
      /* JSON, and so Jansson, has no NaN or infinity (json_real() refuses
       * them); a payload that needs one cannot be represented. */
      if (!isfinite(d))
        return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                    "CBOR: NaN or infinity not supported at offset %zu", h.at);
      v = json_real(d);
      break;
    default:
      return fail(rd->err, rd->errlen, CPNS_ERR_INVAL,
                  "CBOR: simple value not supported at offset %zu", h.at);
    }
    break;
  }
  }
  if (!v) return fail(rd->err, rd->errlen, CPNS_ERR_NOMEM, "out of memory");
  *out = v;
  return 0;
}

static int decode_cbor(const uint8_t *buf, size_t len, const struct cpns_codec_limits *lim,
                       json_t **out, char *err, size_t errlen) {
  struct cbor_rd rd = {.p = buf, .len = len, .lim = lim, .err = err, .errlen = errlen};
  if (len == 0) return fail(err, errlen, CPNS_ERR_INVAL, "CBOR: empty payload");
  json_t *v = NULL;
  int rc = rd_item(&rd, 0, &v);
  if (rc) return rc;
  if (rd.off != len) {
    json_decref(v);
    return fail(err, errlen, CPNS_ERR_INVAL, "CBOR: trailing bytes at offset %zu", rd.off);
  }
  *out = v;
  return 0;
}

/* ---- JSON decoding ---------------------------------------------------- */

/* Copies Jansson's message into err with anything but printable ASCII
 * replaced: the message quotes the offending input ("near '...'"), and err
 * may go back to the peer as a CoAP diagnostic payload, which must be UTF-8. */
static int fail_jansson(char *err, size_t errlen, int code, const json_error_t *je) {
  if (!err || !errlen) return code;
  int n = snprintf(err, errlen, "JSON: %s at offset %d", je->text, je->position);
  size_t end = n < 0 ? 0 : ((size_t)n < errlen ? (size_t)n : errlen - 1);
  for (size_t i = 0; i < end; i++)
    if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e) err[i] = '?';
  return code;
}

struct json_walk {
  const struct cpns_codec_limits *lim;
  size_t items;
  char *err;
  size_t errlen;
};

/* Checks a parsed tree against the limits; depth is the level of v. The
 * recursion is bounded by Jansson's parser, which refuses nesting beyond
 * JSON_PARSER_MAX_DEPTH. */
static int walk_json(struct json_walk *w, const json_t *v, unsigned depth) {
  switch (json_typeof(v)) {
  case JSON_STRING:
    if (json_string_length(v) > w->lim->max_string)
      return fail(w->err, w->errlen, CPNS_ERR_TOOBIG, "JSON: string longer than %zu bytes",
                  w->lim->max_string);
    return 0;
  case JSON_ARRAY:
  case JSON_OBJECT: break;
  default: return 0;
  }
  if (depth + 1 > w->lim->max_depth)
    return fail(w->err, w->errlen, CPNS_ERR_TOOBIG, "JSON: nesting deeper than %u",
                w->lim->max_depth);
  size_t n = json_is_array(v) ? json_array_size(v) : json_object_size(v);
  if (n > w->lim->max_items - w->items)
    return fail(w->err, w->errlen, CPNS_ERR_TOOBIG, "JSON: more than %zu items",
                w->lim->max_items);
  w->items += n;
  int rc;
  if (json_is_array(v)) {
    for (size_t i = 0; i < n; i++)
      if ((rc = walk_json(w, json_array_get(v, i), depth + 1))) return rc;
    return 0;
  }
  for (void *it = json_object_iter((json_t *)v); it;
       it = json_object_iter_next((json_t *)v, it)) {
    if (json_object_iter_key_len(it) > w->lim->max_string)
      return fail(w->err, w->errlen, CPNS_ERR_TOOBIG, "JSON: object key longer than %zu bytes",
                  w->lim->max_string);
    if ((rc = walk_json(w, json_object_iter_value(it), depth + 1))) return rc;
  }
  return 0;
}

static int decode_json(const uint8_t *buf, size_t len, const struct cpns_codec_limits *lim,
                       json_t **out, char *err, size_t errlen) {
  /* A raw NUL byte is never valid JSON text (RFC 8259 §7 forbids raw
   * control characters even inside strings), but Jansson 2.14 accepts one
   * right after a top-level scalar ("1\0"), so refuse it here. */
  const uint8_t *nul = len ? memchr(buf, 0, len) : NULL;
  if (nul)
    return fail(err, errlen, CPNS_ERR_INVAL, "JSON: NUL byte at offset %zu",
                (size_t)(nul - buf));
  json_error_t je = {0};
  /* Jansson refuses "\u0000" unless JSON_ALLOW_NUL is given (there is no
   * JSON_DISALLOW_NUL flag), so leaving that flag out keeps NUL out of
   * strings. */
  json_t *v = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
  if (!v) {
    switch (json_error_code(&je)) {
    case json_error_out_of_memory: return fail(err, errlen, CPNS_ERR_NOMEM, "out of memory");
    case json_error_stack_overflow: return fail_jansson(err, errlen, CPNS_ERR_TOOBIG, &je);
    default: return fail_jansson(err, errlen, CPNS_ERR_INVAL, &je);
    }
  }
  struct json_walk w = {.lim = lim, .err = err, .errlen = errlen};
  int rc = walk_json(&w, v, 0);
  if (rc) {
    json_decref(v);
    return rc;
  }
  *out = v;
  return 0;
}

/* A NULL lim means the defaults, so callers without a configured limit need
 * not name cpns_codec_default_limits. On top of CPNS_ERR_TOOBIG and
 * CPNS_ERR_INVAL this can return CPNS_ERR_NOMEM. */
int cpns_codec_decode(const uint8_t *buf, size_t len, int content_format,
                      const struct cpns_codec_limits *lim, json_t **out, char *err,
                      size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!out) return fail(err, errlen, CPNS_ERR_INVAL, "no output");
  *out = NULL;
  if (!buf && len) return fail(err, errlen, CPNS_ERR_INVAL, "no payload");
  if (!lim) lim = &cpns_codec_default_limits;
  if (content_format != CPNS_CF_CBOR && content_format != CPNS_CF_JSON)
    return fail(err, errlen, CPNS_ERR_INVAL, "unsupported content format %d", content_format);
  /* The size check comes first, before any parsing or allocation. */
  if (len > lim->max_bytes)
    return fail(err, errlen, CPNS_ERR_TOOBIG, "payload of %zu bytes exceeds %zu", len,
                lim->max_bytes);
  if (content_format == CPNS_CF_CBOR) return decode_cbor(buf, len, lim, out, err, errlen);
  return decode_json(buf, len, lim, out, err, errlen);
}

/* ---- CBOR encoding ---------------------------------------------------- */

struct cbor_wr {
  uint8_t *p;
  size_t len;
  size_t cap;
};

static int wr_bytes(struct cbor_wr *w, const void *src, size_t n) {
  if (n > w->cap - w->len) {
    size_t cap = w->cap ? w->cap : 64;
    while (cap - w->len < n) {
      if (cap > SIZE_MAX / 2) return CPNS_ERR_NOMEM;
      cap *= 2;
    }
    uint8_t *p = realloc(w->p, cap);
    if (!p) return CPNS_ERR_NOMEM;
    w->p = p;
    w->cap = cap;
  }
  memcpy(w->p + w->len, src, n);
  w->len += n;
  return 0;
}

/* Writes an item head in the shortest form (RFC 8949 §4.2.1). */
static int wr_head(struct cbor_wr *w, unsigned major, uint64_t arg) {
  uint8_t b[9];
  size_t n;
  unsigned ai;
  if (arg < 24) {
    ai = (unsigned)arg;
    n = 0;
  } else if (arg <= UINT8_MAX) {
    ai = 24;
    n = 1;
  } else if (arg <= UINT16_MAX) {
    ai = 25;
    n = 2;
  } else if (arg <= UINT32_MAX) {
    ai = 26;
    n = 4;
  } else {
    ai = 27;
    n = 8;
  }
  b[0] = (uint8_t)(major << 5 | ai);
  for (size_t i = 0; i < n; i++) b[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
  return wr_bytes(w, b, 1 + n);
}

static int wr_text(struct cbor_wr *w, const char *s, size_t n) {
  size_t bad;
  /* Jansson's *_nocheck setters let invalid UTF-8 into a tree; CBOR text
   * must be valid UTF-8 (RFC 8949 §3.1), so refuse it here. A NUL is valid
   * CBOR, though our decoder refuses it. */
  if (utf8_check((const uint8_t *)s, n, &bad) == 1) return CPNS_ERR_INVAL;
  int rc = wr_head(w, CBOR_TEXT, n);
  return rc ? rc : wr_bytes(w, s, n);
}

static int wr_item(struct cbor_wr *w, const json_t *v, unsigned depth) {
  int rc;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
  case JSON_ARRAY:
    /* Also stops a tree that contains itself. */
    if (depth >= CODEC_NESTING_MAX) return CPNS_ERR_INVAL;
    break;
  case JSON_STRING: return wr_text(w, json_string_value(v), json_string_length(v));
  case JSON_INTEGER: {
    json_int_t i = json_integer_value(v);
    /* -1 - i, computed without overflow for i == INT64_MIN. */
    return i >= 0 ? wr_head(w, CBOR_UINT, (uint64_t)i)
                  : wr_head(w, CBOR_NEGINT, (uint64_t)(-(i + 1)));
  }
  case JSON_REAL: {
    double d = json_real_value(v);
    if (!isfinite(d)) return CPNS_ERR_INVAL;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    uint8_t b[9] = {CBOR_SIMPLE << 5 | CBOR_AI_DOUBLE};
    for (int i = 0; i < 8; i++) b[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
    return wr_bytes(w, b, sizeof b);
  }
  case JSON_TRUE: return wr_head(w, CBOR_SIMPLE, CBOR_AI_TRUE);
  case JSON_FALSE: return wr_head(w, CBOR_SIMPLE, CBOR_AI_FALSE);
  case JSON_NULL: return wr_head(w, CBOR_SIMPLE, CBOR_AI_NULL);
  default: return CPNS_ERR_INVAL;
  }
  if (json_is_array(v)) {
    size_t n = json_array_size(v);
    if ((rc = wr_head(w, CBOR_ARRAY, n))) return rc;
    for (size_t i = 0; i < n; i++)
      if ((rc = wr_item(w, json_array_get(v, i), depth + 1))) return rc;
    return 0;
  }
  /* Keys go out in the object's insertion order, which Jansson keeps. */
  if ((rc = wr_head(w, CBOR_MAP, json_object_size(v)))) return rc;
  for (void *it = json_object_iter((json_t *)v); it;
       it = json_object_iter_next((json_t *)v, it)) {
    if ((rc = wr_text(w, json_object_iter_key(it), json_object_iter_key_len(it)))) return rc;
    if ((rc = wr_item(w, json_object_iter_value(it), depth + 1))) return rc;
  }
  return 0;
}

/* ---- Public encoder --------------------------------------------------- */

int cpns_codec_encode(const json_t *v, int content_format, uint8_t **buf, size_t *len) {
  if (!buf || !len) return CPNS_ERR_INVAL;
  *buf = NULL;
  *len = 0;
  if (!v) return CPNS_ERR_INVAL;
  if (content_format == CPNS_CF_CBOR) {
    struct cbor_wr w = {0};
    int rc = wr_item(&w, v, 0);
    if (rc) {
      free(w.p);
      return rc;
    }
    *buf = w.p;
    *len = w.len;
    return 0;
  }
  if (content_format == CPNS_CF_JSON) {
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    /* Jansson reports the size it needs first; 0 means it cannot encode v
     * (invalid UTF-8, a loop). Its own out-of-memory failures look the same
     * and are reported as CPNS_ERR_INVAL too. */
    size_t n = json_dumpb(v, NULL, 0, flags);
    if (n == 0) return CPNS_ERR_INVAL;
    char *p = malloc(n);
    if (!p) return CPNS_ERR_NOMEM;
    if (json_dumpb(v, p, n, flags) != n) {
      free(p);
      return CPNS_ERR_INVAL;
    }
    *buf = (uint8_t *)p;
    *len = n;
    return 0;
  }
  return CPNS_ERR_INVAL;
}
