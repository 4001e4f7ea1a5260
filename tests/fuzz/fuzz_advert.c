/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/advert.c: an interest's body as the gateway relays it
 * to a PNE (pne/services.c), {"events": [{"seq", "type", "service", "name",
 * "offerer", "at"}...]}. The first byte picks the decoder of the rest, as
 * the observation's content format does: 'c' CBOR, any other byte JSON,
 * with the codec's default limits (those of lib/obsclient.c). What decodes
 * goes through cpns_advert_events() and each event of the list through
 * cpns_advert_decode(); the whole value is also decoded as one event, so
 * that seeds of a single event reach every check of the decoder.
 *
 * Checked, aborting on any violation: a refusal is CPNS_ERR_INVAL or
 * CPNS_ERR_TOOBIG with a reason, and leaves the list untouched; an accepted
 * list has at most CPNS_ADVERT_EVENTS_MAX events; an accepted event has
 * every text terminated within its field, a known type, a valid service id,
 * an empty or valid offerer, no control character in its name, seq >= 1,
 * at >= 0 and the caller's fields (interest, received) empty; and what
 * cpns_advert_to_json() makes of it decodes back to the same event through
 * both encodings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/cpns.h>

#include "advert.h"
#include "codec.h"
#include "msg.h"
#include "fuzz_util.h"
#include "node.h" /* CPNS_DIAG_MAX: the PNE's buffer of a reason */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fail(int rc, const char *err) {
  if (rc != CPNS_ERR_INVAL && rc != CPNS_ERR_TOOBIG) abort();
  if (!err[0]) abort();
}

static void check_terminated(const char *s, size_t size) {
  if (!memchr(s, '\0', size)) abort();
}

static bool same_advert(const struct cpns_advert *a, const struct cpns_advert *b) {
  return strcmp(a->interest, b->interest) == 0 && a->seq == b->seq &&
         strcmp(a->type, b->type) == 0 && strcmp(a->service, b->service) == 0 &&
         strcmp(a->name, b->name) == 0 && strcmp(a->offerer, b->offerer) == 0 &&
         a->at == b->at && a->received == b->received;
}

static void check_advert(const struct cpns_advert *a) {
  check_terminated(a->interest, sizeof a->interest);
  check_terminated(a->type, sizeof a->type);
  check_terminated(a->service, sizeof a->service);
  check_terminated(a->name, sizeof a->name);
  check_terminated(a->offerer, sizeof a->offerer);
  if (a->interest[0] || a->received) abort();
  if (strcmp(a->type, "appeared") && strcmp(a->type, "changed") && strcmp(a->type, "gone"))
    abort();
  if (!cpns_valid_id(a->service)) abort();
  if (a->offerer[0] && !cpns_valid_id(a->offerer)) abort();
  for (const char *c = a->name; *c; c++)
    if ((unsigned char)*c < 0x20) abort();
  if (a->seq < 1 || a->at < 0) abort();
}

/* The advert as self/adverts serves it, with the caller's fields set,
 * decodes back to the same event (the caller's fields left empty again),
 * after a trip through each encoding; as the one event of a body, it is
 * a list the PNE accepts. */
static void round_trip(const struct cpns_advert *a) {
  struct cpns_advert served = *a;
  memcpy(served.interest, "1c6ccce99508a1f3", sizeof "1c6ccce99508a1f3");
  served.received = 1700000000;
  json_t *o = cpns_advert_to_json(&served);
  if (!o) abort();
  char err[CPNS_DIAG_MAX] = "";
  for (size_t i = 0; i < FUZZ_NCFS; i++) {
    json_t *v = fuzz_reencode(o, fuzz_cfs[i], &cpns_codec_default_limits);
    struct cpns_advert back;
    if (cpns_advert_decode(v, &back, err, sizeof err)) abort();
    if (!same_advert(a, &back)) abort();
    json_decref(v);
  }
  json_t *body = json_pack("{s:[O]}", "events", o);
  const json_t *events = NULL;
  if (!body || cpns_advert_events(body, &events, err, sizeof err)) abort();
  if (json_array_size(events) != 1) abort();
  json_decref(body);
  json_decref(o);
}

static void fuzz_event(const json_t *ev) {
  struct cpns_advert a;
  char err[CPNS_DIAG_MAX] = "";
  int rc = cpns_advert_decode(ev, &a, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    return;
  }
  check_advert(&a);
  round_trip(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int cf = data[0] == 'c' ? CPNS_CF_CBOR : CPNS_CF_JSON;
  char err[CPNS_DIAG_MAX] = "";
  json_t *v = NULL;
  if (cpns_codec_decode(data + 1, size - 1, cf, &cpns_codec_default_limits, &v, err, sizeof err))
    return 0;
  const json_t *sentinel = v, *events = sentinel;
  err[0] = '\0';
  int rc = cpns_advert_events(v, &events, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    if (events != sentinel) abort();
  } else {
    if (!json_is_array(events) || events != json_object_get(v, "events")) abort();
    if (json_array_size(events) > CPNS_ADVERT_EVENTS_MAX) abort();
    size_t i;
    const json_t *ev;
    json_array_foreach(events, i, ev) fuzz_event(ev);
  }
  fuzz_event(v);
  json_decref(v);
  return 0;
}
