/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/status.c, the status document (spec 5.5.3). The first
 * byte picks the decoder (odd: CBOR, even: JSON, as in fuzz_codec.c, so
 * seeds can start with 'c' or 'j'); the rest is a request body. Whatever
 * decodes goes through the whole-document decoder and, as a partial update,
 * through the merge. Besides not crashing, the results must hold together:
 * a refusal says why with a documented code and leaves the document as it
 * was; an accepted document keeps every limit (text, attribute count,
 * sorted unique valid names, finite bounded values), encodes within
 * CPNS_STATUS_ENCODED_MAX, and reads back from its text and from both wire
 * encodings as the same document. Any violation aborts. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fail(int rc, const char *err) {
  if (rc != CPNS_ERR_INVAL && rc != CPNS_ERR_TOOBIG) abort();
  if (err[0] == '\0') abort();
}

static void check_doc(const struct cpns_status_doc *d) {
  if (cpns_presence_parse(cpns_presence_name(d->state)) != (int)d->state) abort();
  if (!memchr(d->text, '\0', sizeof d->text)) abort();
  if (d->nattrs > CPNS_STATUS_ATTRS_MAX) abort();
  for (unsigned i = 0; i < d->nattrs; i++) {
    if (!cpns_status_attr_name_valid(d->attrs[i].name)) abort();
    if (!isfinite(d->attrs[i].value) || fabs(d->attrs[i].value) > CPNS_STATUS_VALUE_MAX) abort();
    if (i && strcmp(d->attrs[i - 1].name, d->attrs[i].name) >= 0) abort();
  }
  char text[CPNS_STATUS_ENCODED_MAX + 1], err[160] = "";
  if (cpns_status_to_text(d, text, sizeof text)) abort();
  struct cpns_status_doc back;
  if (cpns_status_from_text(text, &back, err, sizeof err)) abort();
  if (!cpns_status_same(d, &back) || back.updated != d->updated) abort();
  static const int cfs[] = {CPNS_CF_CBOR, CPNS_CF_JSON};
  for (int i = 0; i < 2; i++) {
    json_t *j = cpns_status_to_json(d), *v = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!j || cpns_codec_encode(j, cfs[i], &buf, &len)) abort();
    if (cpns_codec_decode(buf, len, cfs[i], &cpns_codec_default_limits, &v, err, sizeof err)) abort();
    if (cpns_status_decode(v, &back, err, sizeof err) || !cpns_status_same(d, &back)) abort();
    json_decref(j);
    json_decref(v);
    free(buf);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int cf = (data[0] & 1) ? CPNS_CF_CBOR : CPNS_CF_JSON;
  json_t *v = NULL;
  char err[160] = "";
  if (cpns_codec_decode(data + 1, size - 1, cf, &cpns_codec_default_limits, &v, err, sizeof err))
    return 0;
  struct cpns_status_doc d;
  cpns_status_init(&d, CPNS_PRESENCE_AWAY);
  cpns_status_set_attr(&d, "battery", 50);
  struct cpns_status_doc before = d;
  err[0] = '\0';
  int rc = cpns_status_decode(v, &d, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    if (memcmp(&d, &before, sizeof d) != 0) abort();
  } else {
    check_doc(&d);
  }
  /* the same input as a partial update of a document */
  struct cpns_status_doc m = before;
  err[0] = '\0';
  rc = cpns_status_merge(v, &m, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    if (memcmp(&m, &before, sizeof m) != 0) abort();
  } else {
    check_doc(&m);
  }
  json_decref(v);
  return 0;
}
