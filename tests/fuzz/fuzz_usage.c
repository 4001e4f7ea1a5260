/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/usage.c, usage statistics (spec 5.5.4). The first
 * byte picks what the rest is: its low bit the decoder (odd: CBOR, even:
 * JSON, as in fuzz_codec.c, so seeds can start with 'c' or 'j'); when the
 * byte is 'q', the rest is a summary query string instead. A decoded body
 * goes through the record decoder in its three forms, the batch decoder
 * and the preferences decoder; when the byte is 'a', the rest is an answer
 * text for the C API's decoders (client_usage.h). Besides not crashing, the results must hold
 * together: a refusal says why with a documented code and leaves the
 * output as it was; an accepted record keeps every limit, and reads back
 * as the same record from its JSON and both wire encodings; accepted
 * preferences are ordered, unique and within their bound; an accepted
 * query spans a valid range of days. Any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_usage.h"
#include "codec.h"
#include "msg.h"
#include "usage.h"
#include "fuzz_util.h"

#define FUZZ_QUERY_MAX 512
#define FUZZ_MAX_SPAN 366
#define FUZZ_MAX_ROWS 1000
#define FUZZ_TODAY 20783 /* 2026-11-26 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fail(int rc, const char *err) {
  if (rc != CPNS_ERR_INVAL && rc != CPNS_ERR_TOOBIG) abort();
  if (err[0] == '\0') abort();
}

static void check_device(const cpns_usage_device_t *d) {
  if (d->battery < -1 || d->battery > 100 || d->charging < -1 || d->charging > 1) abort();
  if (!memchr(d->type, '\0', sizeof d->type) || !memchr(d->network, '\0', sizeof d->network) ||
      !memchr(d->state, '\0', sizeof d->state))
    abort();
  char text[CPNS_USAGE_DEVICE_TEXT_MAX + 1];
  cpns_usage_device_t back;
  if (cpns_usage_device_to_text(d, text, sizeof text) || cpns_usage_device_from_text(text, &back) ||
      memcmp(&back, d, sizeof back) != 0)
    abort();
}

static bool same(const struct cpns_usage_rec *a, const struct cpns_usage_rec *b) {
  return strcmp(a->service, b->service) == 0 && strcmp(a->rid, b->rid) == 0 &&
         strcmp(a->entity, b->entity) == 0 && a->start == b->start && a->stop == b->stop &&
         a->bytes_in == b->bytes_in && a->bytes_out == b->bytes_out &&
         memcmp(&a->device, &b->device, sizeof a->device) == 0;
}

static void check_record(const struct cpns_usage_rec *r, enum cpns_usage_form form) {
  if (!cpns_valid_id(r->service)) abort();
  if (r->start < 0 || r->stop < r->start || r->stop > CPNS_USAGE_TIME_MAX ||
      r->stop - r->start > CPNS_USAGE_DURATION_MAX)
    abort();
  if (r->bytes_in > CPNS_USAGE_BYTES_MAX || r->bytes_out > CPNS_USAGE_BYTES_MAX) abort();
  if ((form != CPNS_USAGE_FROM_APP) != cpns_valid_id(r->rid)) abort();
  if ((form == CPNS_USAGE_FROM_GW) != cpns_valid_id(r->entity)) abort();
  check_device(&r->device);
  json_t *j = cpns_usage_to_json(r, form);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  if (!text || strlen(text) > CPNS_USAGE_RECORD_TEXT_MAX) abort();
  free(text);
  char err[160];
  for (size_t i = 0; i < FUZZ_NCFS; i++) {
    json_t *v = fuzz_reencode(j, fuzz_cfs[i], &cpns_codec_default_limits);
    struct cpns_usage_rec back;
    if (cpns_usage_decode(v, form, &back, err, sizeof err) || !same(r, &back)) abort();
    json_decref(v);
  }
  json_decref(j);
}

static void fuzz_query(const uint8_t *data, size_t size) {
  char q[FUZZ_QUERY_MAX + 1];
  if (size > FUZZ_QUERY_MAX) size = FUZZ_QUERY_MAX;
  memcpy(q, data, size);
  q[size] = '\0';
  struct cpns_usage_filter f, before;
  memset(&f, 0x5a, sizeof f);
  before = f;
  char err[160] = "";
  int rc = cpns_usage_query_parse(q, FUZZ_TODAY, FUZZ_MAX_SPAN, FUZZ_MAX_ROWS, &f, err, sizeof err);
  if (rc) {
    if (rc != CPNS_ERR_INVAL || !err[0] || memcmp(&f, &before, sizeof f) != 0) abort();
    return;
  }
  if (f.from_day < 0 || f.to_day < f.from_day || f.to_day - f.from_day + 1 > FUZZ_MAX_SPAN) abort();
  if (f.limit > FUZZ_MAX_ROWS || cpns_usage_by_parse(cpns_usage_by_name(f.by)) != (int)f.by) abort();
  if ((f.pn[0] && !cpns_valid_id(f.pn)) || (f.service[0] && !cpns_valid_id(f.service)) ||
      (f.entity[0] && !cpns_valid_id(f.entity)))
    abort();
  char day[CPNS_USAGE_DAY_LEN + 1];
  int64_t back;
  cpns_usage_day_text(f.from_day, day, sizeof day);
  if (cpns_usage_day_parse(day, &back) || back != f.from_day) abort();
}

static void fuzz_prefs(const json_t *v) {
  static struct cpns_usage_prefset p, before;
  cpns_usage_prefs_init(&p);
  cpns_usage_prefs_set(&p, "kept", true);
  before = p;
  char err[160] = "";
  int rc = cpns_usage_prefs_decode(v, &p, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    if (memcmp(&p, &before, sizeof p) != 0) abort();
    return;
  }
  if (p.n > CPNS_USAGE_PREFS_MAX) abort();
  for (size_t i = 0; i < p.n; i++) {
    if (!cpns_valid_id(p.e[i].service)) abort();
    if (i && strcmp(p.e[i - 1].service, p.e[i].service) >= 0) abort();
    if (cpns_usage_prefs_allows(&p, p.e[i].service, !p.e[i].allow) != p.e[i].allow) abort();
  }
  json_t *j = cpns_usage_prefs_to_json(&p, false, true);
  static struct cpns_usage_prefset back;
  if (!j || cpns_usage_prefs_decode(j, &back, err, sizeof err) ||
      memcmp(back.e, p.e, p.n * sizeof p.e[0]) != 0 || back.n != p.n ||
      back.default_set != p.default_set)
    abort();
  json_decref(j);
}

/* The C API's answer decoders: whatever they accept keeps its bounds. */
static void fuzz_answer(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return;
  memcpy(text, data, size);
  text[size] = '\0';
  bool reported;
  client_usage__decode_recorded(text, &reported);
  cpns_usage_prefs_t *p = NULL;
  if (client_usage__decode_prefs(text, &p) == 0) {
    if (p->count > CPNS_USAGE_PREFS_MAX) abort();
    for (size_t i = 0; i < p->count; i++)
      if (!cpns_valid_id(p->services[i].service) ||
          (i && strcmp(p->services[i - 1].service, p->services[i].service) >= 0))
        abort();
    cpns_usage_prefs_free(p);
  }
  for (int by = CPNS_USAGE_BY_SERVICE; by <= CPNS_USAGE_BY_ENTITY; by++) {
    cpns_usage_summary_t *s = NULL;
    if (client_usage__decode_summary(text, (cpns_usage_by_t)by, &s)) continue;
    if (s->count > CPNS_USAGE_ROWS_MAX || s->by != (cpns_usage_by_t)by) abort();
    for (size_t i = 0; i < s->count; i++)
      if (!memchr(s->rows[i].key, '\0', sizeof s->rows[i].key) ||
          (i && strcmp(s->rows[i - 1].key, s->rows[i].key) >= 0))
        abort();
    cpns_usage_summary_free(s);
  }
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] == 'a') {
    fuzz_answer(data + 1, size - 1);
    return 0;
  }
  if (data[0] == 'q') {
    fuzz_query(data + 1, size - 1);
    return 0;
  }
  json_t *v = fuzz_input_body(data, size);
  if (!v) return 0;
  char err[160] = "";
  for (int f = CPNS_USAGE_FROM_APP; f <= CPNS_USAGE_FROM_GW; f++) {
    struct cpns_usage_rec r, before;
    cpns_usage_rec_init(&r);
    snprintf(r.service, sizeof r.service, "kept");
    before = r;
    err[0] = '\0';
    int rc = cpns_usage_decode(v, (enum cpns_usage_form)f, &r, err, sizeof err);
    if (rc) {
      check_fail(rc, err);
      if (memcmp(&r, &before, sizeof r) != 0) abort();
    } else {
      check_record(&r, (enum cpns_usage_form)f);
    }
    static struct cpns_usage_rec batch[CPNS_USAGE_BATCH_MAX];
    size_t n = 0;
    err[0] = '\0';
    rc = cpns_usage_batch_decode(v, (enum cpns_usage_form)f, batch, CPNS_USAGE_BATCH_MAX, &n, err,
                                 sizeof err);
    if (rc) {
      check_fail(rc, err);
    } else {
      if (n < 1 || n > CPNS_USAGE_BATCH_MAX) abort();
      for (size_t i = 0; i < n; i++) check_record(&batch[i], (enum cpns_usage_form)f);
    }
  }
  fuzz_prefs(v);
  json_decref(v);
  return 0;
}
