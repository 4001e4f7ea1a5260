/* SPDX-License-Identifier: Apache-2.0 */
/* The status document of one CPNS entity (spec 5.5.3, Status management):
 * its presence state (online, offline, busy, away), a free-form text and a
 * few numeric attributes (battery level, signal...), with the time it was
 * last changed. Every field is bounded by a named constant and the decoders
 * are strict: unknown members, wrong types, non-finite or out-of-range
 * numbers, attribute names outside [a-z0-9_-] and documents whose encoding
 * would not fit one CoAP notification are refused with a reason in err.
 * The schema is documented in docs/protocol.md, "Status". */
#ifndef CPNS_STATUS_H
#define CPNS_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cpns/cpns.h>
#include <cpns/status.h> /* the limits, enum cpns_presence, the document's structs */

/* Bytes of a document's JSON text: it must fit, with the CoAP header and
 * options, in one notification of a DTLS session (libcoap's default MTU is
 * 1152), because notifications are sent without block-wise transfer. */
#define CPNS_STATUS_ENCODED_MAX 1024
/* Members of one batch of status updates (a gateway's stream on CPNS-2). */
#define CPNS_STATUS_BATCH_MAX 64

/* "online", "offline", "busy", "away"; never NULL. */
const char *cpns_presence_name(enum cpns_presence p);
/* -1 for anything else. */
int cpns_presence_parse(const char *name);

/* 1..CPNS_STATUS_ATTR_NAME_MAX bytes of [a-z0-9_-], starting with a letter,
 * and not "state" or "text" (the names of the document's own fields, which
 * are addressable beside the attributes: .../status/state). */
bool cpns_status_attr_name_valid(const char *name);

/* A document with state s, no text, no attributes, updated 0. */
void cpns_status_init(struct cpns_status_doc *d, enum cpns_presence s);

/* Decodes a whole document {"state", "text"?, "attrs"?, "updated"?} into
 * *out (replacing it). "updated" is accepted (a gateway reports when its PNE
 * changed) and checked to be 0..CPNS_STATUS_TIME_MAX. Returns 0,
 * CPNS_ERR_INVAL or CPNS_ERR_TOOBIG with the reason in err; *out is
 * written only on success. */
#define CPNS_STATUS_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */
int cpns_status_decode(const json_t *body, struct cpns_status_doc *out, char *err, size_t errlen);

/* Applies a partial update {"state"?, "text"? (null clears), "attrs"?:
 * {name: number | null (removes)}} to *doc, whole or not at all. Same
 * errors as cpns_status_decode; *doc is unchanged on failure. */
int cpns_status_merge(const json_t *patch, struct cpns_status_doc *doc, char *err, size_t errlen);

/* Sets (or adds) an attribute, keeping the order; CPNS_ERR_INVAL for a bad
 * name or value, CPNS_ERR_LIMIT when the document holds
 * CPNS_STATUS_ATTRS_MAX already. */
int cpns_status_set_attr(struct cpns_status_doc *d, const char *name, double value);
/* The attribute, or NULL. */
const struct cpns_status_attr *cpns_status_get_attr(const struct cpns_status_doc *d,
                                                    const char *name);

/* The document as a JSON tree (new reference): {"state","text"?,"attrs"?,"updated"}. */
json_t *cpns_status_to_json(const struct cpns_status_doc *d);
/* The same as compact JSON text into buf; CPNS_ERR_TOOBIG when it does not
 * fit in bufsize (CPNS_STATUS_ENCODED_MAX + 1 always fits a decoded one). */
int cpns_status_to_text(const struct cpns_status_doc *d, char *buf, size_t bufsize);
/* Parses text written by cpns_status_to_text (e.g. read back from a store):
 * as strict as cpns_status_decode. */
int cpns_status_from_text(const char *text, struct cpns_status_doc *out, char *err, size_t errlen);

/* True when state, text and attributes are equal (updated is not compared). */
bool cpns_status_same(const struct cpns_status_doc *a, const struct cpns_status_doc *b);

/* A policy report (spec 5.5.3.2) as the server sends it over CPNS-7 to the
 * target's PN GW, which passes it on to the target entity (CPNS-6):
 * {"policy", "entity", "target" (ids), "pn"?, "target_pn"? (ids), "at"?
 * (unix seconds), "state"?, "became"? (presence names), "attr"? (an
 * attribute name), "value"? (a number or null), "lt"?, "gt"? (numbers)}.
 * Unknown members and wrong types are refused. Returns 0 or CPNS_ERR_INVAL
 * with the reason in err. */
int cpns_status_report_check(const json_t *report, char *err, size_t errlen);

/* ---- the request bodies of the server's status resources ---- */

struct cpns_policy_rec; /* lib/store.h */

/* A policy rule, the body of POST pns/{pn}/policies (spec 5.5.3.2;
 * docs/protocol.md, "Policies"): {"id"?, "entity", "target", "target_pn"?
 * (ids), and exactly one condition: "state" (a presence name), or "attr"
 * (an attribute name) with one of "lt" and "gt" (a finite number,
 * |v| <= CPNS_STATUS_VALUE_MAX)}. body is borrowed. On success *out is
 * replaced by the rule: id ("" when the body names none: the server picks
 * one), entity, target, target_pn ("" for the rule's own PN), op, and
 * attr and threshold or state; every other field (pn, created_by, the
 * counters) is zero, for the caller to fill. Returns 0 or CPNS_ERR_INVAL
 * (not an object, an unknown member, a wrong type, a text too long, a bad
 * id or name, no condition or more than one) with the reason in err; *out
 * is written only on success. */
int cpns_status_policy_decode(const json_t *body, struct cpns_policy_rec *out, char *err,
                              size_t errlen);

/* Bytes of the reason an update of a batch is refused (the diagnostic the
 * server sends back for it). */
#define CPNS_STATUS_ERR_MAX 160

/* Why one update of a batch is refused, in the order of the checks. */
enum cpns_status_update_fault {
  CPNS_STATUS_UPDATE_OK = 0,
  CPNS_STATUS_UPDATE_SHAPE, /* not an object of "id" (a text) and "status", nothing else */
  CPNS_STATUS_UPDATE_ID,    /* "id" is not a valid id */
  CPNS_STATUS_UPDATE_DOC,   /* "status" is not a valid document (rc says how) */
};

/* One update of a batch, as cpns_status_batch_decode() leaves it. */
struct cpns_status_update {
  /* The "id" member, borrowed from the body (valid while the body lives);
   * NULL when it is missing or not a text. */
  const char *id;
  enum cpns_status_update_fault fault;
  int rc;                      /* 0; CPNS_ERR_INVAL; CPNS_ERR_TOOBIG (a document too large) */
  struct cpns_status_doc doc;  /* when fault is OK: the document, "updated" as given (0 if not) */
  char err[CPNS_STATUS_ERR_MAX]; /* when fault is not OK: the reason */
};

/* A batch of one PN's status updates, the body of POST pns/{pn}/status (a
 * gateway's stream on CPNS-2): {"updates": [{"id", "status"}...]} of
 * 1..CPNS_STATUS_BATCH_MAX updates, counted before anything is allocated.
 * Each update is decoded on its own (cpns_status_decode for its status): a
 * bad update does not refuse the batch, it says why in its fault, rc and
 * err. Updates are kept in order, an entity named twice included: which one
 * counts is the caller's rule (the server keeps the latest accepted one).
 *
 * body is borrowed, and so are the ids in the result. On success *out is a
 * new array of *n updates (1..CPNS_STATUS_BATCH_MAX), free it with free().
 * Returns 0; CPNS_ERR_INVAL (not such an envelope) or CPNS_ERR_TOOBIG (too
 * many updates) with the reason in err; CPNS_ERR_NOMEM. *out and *n are
 * written only on success. */
int cpns_status_batch_decode(const json_t *body, struct cpns_status_update **out, size_t *n,
                             char *err, size_t errlen);

/* Strict, bounded number parsing for query values and command lines:
 * a decimal number (no hex, inf or nan), finite, |v| <= CPNS_STATUS_VALUE_MAX. */
int cpns_status_parse_number(const char *s, double *out);

#endif
