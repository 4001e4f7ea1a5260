/* SPDX-License-Identifier: Apache-2.0 */
/* Adverts: the events of a saved interest (spec 5.5.5) as a PNE reads them.
 * The server records an event on an interest each time a matching service
 * appears, changes or goes away (server/directory.c), and sends the
 * interest's observers its latest events, oldest first:
 *
 *     {"id", "owner", "query", "seq",
 *      "events": [{"seq": 7, "type": "appeared", "service": "S",
 *                  "name": "N", "offerer": "O", "at": 1700000000}, ...]}
 *
 * The gateway relays that body to the PNE as it is, so the PNE checks every
 * field here before it keeps an event as an advert (pne/services.c, served
 * at self/adverts). Pure: no I/O, no clock, no allocation beyond the json_t
 * the encoder returns. docs/protocol.md ("Service publication and
 * discovery") documents the same events for users. */
#ifndef CPNS_ADVERT_H
#define CPNS_ADVERT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <cpns/cpns.h>

/* Bytes of an event's type: "appeared", "changed" or "gone". */
#define CPNS_ADVERT_TYPE_MAX 15
/* Events of one interest's body. The server keeps its latest few (and at
 * most CPNS_INTEREST_TEXT_MAX bytes of them); a longer list is not its. */
#define CPNS_ADVERT_EVENTS_MAX 64

/* One event of an interest, as cpns_advert_decode() leaves it. */
struct cpns_advert {
  char interest[CPNS_ID_MAX + 1];      /* the caller's: left "" by the decoder */
  int64_t seq;                         /* 1..LONG_MAX, the interest's event number */
  char type[CPNS_ADVERT_TYPE_MAX + 1]; /* "appeared", "changed" or "gone" */
  char service[CPNS_ID_MAX + 1];       /* a valid id (cpns_valid_id) */
  char name[CPNS_NAME_MAX + 1];        /* "" when absent; no control characters */
  char offerer[CPNS_ID_MAX + 1];       /* "" when absent, else a valid id */
  int64_t at;                          /* unix seconds at the server, 0 when absent */
  int64_t received;                    /* the caller's (unix seconds): left 0 */
};

/* The list of events of an interest's body: body must be a map whose
 * "events" member is an array of at most CPNS_ADVERT_EVENTS_MAX elements
 * (the elements themselves are not looked at: decode each with
 * cpns_advert_decode). body is borrowed; on success *events is the array,
 * borrowed from body (valid while body lives). Returns 0, or
 * CPNS_ERR_INVAL (not such a map) or CPNS_ERR_TOOBIG (too many events) with
 * the reason in err; *events is written only on success. */
int cpns_advert_events(const json_t *body, const json_t **events, char *err, size_t errlen);

/* Decodes one event ({"seq", "type", "service"} required, "name",
 * "offerer" and "at" optional, other members ignored) into *out, which is
 * cleared first: interest and received stay empty for the caller to set.
 * ev is borrowed; nothing is allocated. Returns 0, or CPNS_ERR_INVAL
 * (not a map, a wrong type, a missing field, an unknown type, an invalid
 * id, a control character in the name) or CPNS_ERR_TOOBIG (a text longer
 * than its field) with the reason in err; on failure *out is cleared but
 * may hold the fields read before the bad one. */
int cpns_advert_decode(const json_t *ev, struct cpns_advert *out, char *err, size_t errlen);

/* The advert as served at self/adverts: the event's fields with "interest"
 * and "received" (new reference, free with json_decref; NULL only when out
 * of memory). What it makes decodes back to the same event. */
json_t *cpns_advert_to_json(const struct cpns_advert *a);

#endif
