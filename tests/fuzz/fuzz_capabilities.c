/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/capabilities.c. The first byte picks the encoding of
 * the rest: 'c' CBOR, anything else JSON. What decodes is used three ways:
 *
 *   - as a document: checked; a valid one survives its canonical text and
 *     a merge of its diff from nothing, and its diff with itself is empty;
 *   - as a merge patch onto a fixed valid document (what a PATCH body is);
 *   - when it is a list of two, as a pair: the second as a patch onto the
 *     first, and, when both are valid documents, the diff from the first to
 *     the second, which must take the one to the other.
 *
 * Checked, aborting on any violation: a failure uses a documented code and
 * says why; a success is a document that the checker accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/cpns.h>

#include "capabilities.h"
#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base_text[] =
    "{\"static\":{\"device_type\":\"phone\",\"hardware\":{\"screen\":{\"width\":1080}},"
    "\"software\":{\"apps\":{\"player\":\"1.0\"}}},\"dynamic\":{\"battery\":{\"level\":80,"
    "\"charging\":false},\"networks\":{\"wlan0\":{\"type\":\"wifi\",\"addrs\":[\"10.0.0.2\"]}},"
    "\"running\":[\"player\"]}}";

static void check_fail(int rc, const char *err) {
  if (rc != CPNS_ERR_INVAL && rc != CPNS_ERR_TOOBIG) abort();
  if (err[0] == '\0') abort();
}

static void check_doc(const json_t *doc) {
  char err[160] = "";
  if (cpns_capdoc_check(doc, err, sizeof err) != 0) abort();
}

/* A merge either fails for a documented reason or yields a valid document;
 * the inputs stay as they were. */
static json_t *try_merge(const json_t *doc, const json_t *patch) {
  json_t *before = doc ? json_deep_copy(doc) : NULL;
  json_t *out = NULL;
  char err[160] = "";
  int rc = cpns_capdoc_merge(doc, patch, &out, err, sizeof err);
  if (rc) {
    if (out) abort();
    if (rc != CPNS_ERR_NOMEM) check_fail(rc, err);
  } else {
    check_doc(out);
  }
  if (doc && !json_equal(before, doc)) abort();
  json_decref(before);
  return out;
}

static void as_document(const json_t *v) {
  char err[160] = "";
  int rc = cpns_capdoc_check(v, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    return;
  }
  char *text = cpns_capdoc_text(v);
  if (!text) abort();
  json_t *back = NULL;
  if (cpns_capdoc_parse_text(text, &back, err, sizeof err) || !json_equal(back, v)) abort();
  json_decref(back);
  free(text);
  json_t *all = cpns_capdoc_diff(NULL, v);
  json_t *out = all ? try_merge(NULL, all) : NULL;
  if (!out || !json_equal(out, v)) abort();
  json_decref(out);
  json_decref(all);
  json_t *none = cpns_capdoc_diff(v, v);
  if (!none || !cpns_capdoc_patch_empty(none)) abort();
  json_decref(none);
}

static void as_pair(const json_t *a, const json_t *b) {
  char err[160] = "";
  bool a_ok = cpns_capdoc_check(a, err, sizeof err) == 0;
  json_decref(try_merge(a_ok ? a : NULL, b));
  if (!a_ok || cpns_capdoc_check(b, err, sizeof err) != 0) return;
  json_t *patch = cpns_capdoc_diff(a, b);
  if (!patch) abort();
  json_t *out = try_merge(a, patch);
  if (!out || !json_equal(out, b)) abort();
  if (cpns_capdoc_patch_empty(patch) != json_equal(a, b)) abort();
  json_decref(out);
  json_decref(patch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int cf = data[0] == 'c' ? CPNS_CF_CBOR : CPNS_CF_JSON;
  json_t *v = NULL;
  char err[160] = "";
  if (cpns_codec_decode(data + 1, size - 1, cf, &cpns_codec_default_limits, &v, err, sizeof err))
    return 0;
  as_document(v);
  json_t *base = NULL;
  if (cpns_capdoc_parse_text(base_text, &base, err, sizeof err)) abort();
  json_decref(try_merge(base, v));
  json_decref(base);
  if (json_is_array(v) && json_array_size(v) == 2)
    as_pair(json_array_get(v, 0), json_array_get(v, 1));
  json_decref(v);
  return 0;
}
