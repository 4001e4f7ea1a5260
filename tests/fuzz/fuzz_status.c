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
 * encodings as the same document.
 *
 * The same input goes through cpns_status_batch_decode as the body of
 * POST pns/{pn}/status (a batch {"updates":[{"id","status"}...]}): a refused
 * batch says why and leaves the outputs untouched; an accepted one has one
 * update per member, 1..CPNS_STATUS_BATCH_MAX, each with the id of its
 * member, and a fault that matches it: a well-formed update has a valid id
 * and the document cpns_status_decode makes of its status (checked as
 * above); a refused one says why. Any violation aborts. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "msg.h"
#include "status.h"
#include "fuzz_util.h"

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
  for (size_t i = 0; i < FUZZ_NCFS; i++) {
    json_t *j = cpns_status_to_json(d);
    if (!j) abort();
    json_t *v = fuzz_reencode(j, fuzz_cfs[i], &cpns_codec_default_limits);
    if (cpns_status_decode(v, &back, err, sizeof err) || !cpns_status_same(d, &back)) abort();
    json_decref(j);
    json_decref(v);
  }
}

/* One update of an accepted batch against its member m. */
static void check_update(const json_t *m, const struct cpns_status_update *u) {
  if (u->id != json_string_value(json_object_get(m, "id"))) abort();
  if (u->fault != CPNS_STATUS_UPDATE_OK) {
    if (!memchr(u->err, '\0', sizeof u->err) || !u->err[0]) abort();
    if (u->fault == CPNS_STATUS_UPDATE_SHAPE) {
      if (u->rc != CPNS_ERR_INVAL) abort();
      /* a member of the right shape is not refused for its shape */
      if (json_is_object(m) && json_object_size(m) == 2 && u->id && json_object_get(m, "status"))
        abort();
    } else if (u->fault == CPNS_STATUS_UPDATE_ID) {
      if (u->rc != CPNS_ERR_INVAL || !u->id || cpns_valid_id(u->id)) abort();
    } else if (u->fault == CPNS_STATUS_UPDATE_DOC) {
      check_fail(u->rc, u->err);
      if (!u->id || !cpns_valid_id(u->id)) abort();
    } else {
      abort();
    }
    return;
  }
  if (u->rc || !u->id || !cpns_valid_id(u->id)) abort();
  struct cpns_status_doc d;
  char err[160] = "";
  if (cpns_status_decode(json_object_get(m, "status"), &d, err, sizeof err)) abort();
  if (!cpns_status_same(&d, &u->doc) || d.updated != u->doc.updated) abort();
  check_doc(&u->doc);
}

/* The input as the body of a batch (POST pns/{pn}/status). */
static void fuzz_batch(const json_t *v) {
  struct cpns_status_update *ups = (struct cpns_status_update *)&ups;
  size_t n = 12345;
  char err[160] = "";
  int rc = cpns_status_batch_decode(v, &ups, &n, err, sizeof err);
  const json_t *list = json_object_get(v, "updates");
  if (rc) {
    if (rc != CPNS_ERR_INVAL && rc != CPNS_ERR_TOOBIG && rc != CPNS_ERR_NOMEM) abort();
    if (!err[0] || ups != (struct cpns_status_update *)&ups || n != 12345) abort();
    if (rc == CPNS_ERR_TOOBIG && json_array_size(list) <= CPNS_STATUS_BATCH_MAX) abort();
    return;
  }
  if (!json_is_object(v) || json_object_size(v) != 1 || !json_is_array(list)) abort();
  if (n == 0 || n > CPNS_STATUS_BATCH_MAX || n != json_array_size(list) || !ups) abort();
  for (size_t i = 0; i < n; i++) check_update(json_array_get(list, i), &ups[i]);
  free(ups);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v = fuzz_input_body(data, size);
  if (!v) return 0;
  char err[160] = "";
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
  fuzz_batch(v);
  json_decref(v);
  return 0;
}
