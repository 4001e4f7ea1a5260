/* SPDX-License-Identifier: Apache-2.0 */
/* Decoding of an interest's events into adverts (spec 5.5.5), for the PNE,
 * which gets them from the server through its gateway; see advert.h. */
#include "advert.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "msg.h"

/* The types the server gives an event (server/directory.c). */
static const char *const advert_types[] = {"appeared", "changed", "gone"};

int cpns_advert_events(const json_t *body, const json_t **events, char *err, size_t errlen) {
  const json_t *list = json_is_object(body) ? json_object_get(body, "events") : NULL;
  if (!json_is_array(list)) {
    snprintf(err, errlen, "an interest's body is a map with an 'events' list");
    return CPNS_ERR_INVAL;
  }
  if (json_array_size(list) > CPNS_ADVERT_EVENTS_MAX) {
    snprintf(err, errlen, "more than %d events", CPNS_ADVERT_EVENTS_MAX);
    return CPNS_ERR_TOOBIG;
  }
  *events = list;
  return 0;
}

int cpns_advert_decode(const json_t *ev, struct cpns_advert *out, char *err, size_t errlen) {
  long seq = 0, at = 0;
  int rc;
  memset(out, 0, sizeof *out);
  if (!json_is_object(ev)) {
    snprintf(err, errlen, "an event is a map");
    return CPNS_ERR_INVAL;
  }
  if ((rc = cpns_msg_int(ev, "seq", 1, LONG_MAX, &seq, true, err, errlen)) ||
      (rc = cpns_msg_str(ev, "type", out->type, sizeof out->type, true, err, errlen)) ||
      (rc = cpns_msg_str(ev, "service", out->service, sizeof out->service, true, err, errlen)) ||
      (rc = cpns_msg_str(ev, "name", out->name, sizeof out->name, false, err, errlen)) ||
      (rc = cpns_msg_str(ev, "offerer", out->offerer, sizeof out->offerer, false, err, errlen)) ||
      (rc = cpns_msg_int(ev, "at", 0, LONG_MAX, &at, false, err, errlen)))
    return rc;
  size_t t = 0;
  while (t < sizeof advert_types / sizeof advert_types[0] && strcmp(out->type, advert_types[t]))
    t++;
  if (t == sizeof advert_types / sizeof advert_types[0]) {
    snprintf(err, errlen, "'type' is not appeared, changed or gone");
    return CPNS_ERR_INVAL;
  }
  if (!cpns_valid_id(out->service)) {
    snprintf(err, errlen, "'service' is not a valid id");
    return CPNS_ERR_INVAL;
  }
  if (out->offerer[0] && !cpns_valid_id(out->offerer)) {
    snprintf(err, errlen, "'offerer' is not a valid id");
    return CPNS_ERR_INVAL;
  }
  /* The name is logged and shown by cpnsctl: no terminal control codes. */
  for (const char *c = out->name; *c; c++)
    if ((unsigned char)*c < 0x20) {
      snprintf(err, errlen, "'name' holds a control character");
      return CPNS_ERR_INVAL;
    }
  out->seq = seq;
  out->at = at;
  return 0;
}

json_t *cpns_advert_to_json(const struct cpns_advert *a) {
  return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I}", "interest", a->interest, "seq",
                   (json_int_t)a->seq, "type", a->type, "service", a->service, "name", a->name,
                   "offerer", a->offerer, "at", (json_int_t)a->at, "received",
                   (json_int_t)a->received);
}
