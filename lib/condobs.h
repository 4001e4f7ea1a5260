/* SPDX-License-Identifier: Apache-2.0 */
/* Observe (RFC 7641) of status resources with conditional attributes
 * (draft-ietf-core-conditional-attributes: c.gt, c.lt, c.st, c.band,
 * c.pmin, c.pmax; and LwM2M's gt, lt, st, pmin, pmax, epmin, epmax), each
 * observer with its own conditions.
 *
 * libcoap 4.3.1 notifies every observer of a resource or none (it ignores
 * the query argument of coap_resource_notify_observers), and it keeps no
 * per-observer state, so these observations are ours: the GET with Observe 0
 * registers the observer (its session referenced, its token, its parsed
 * conditions and the value last reported to it) and is answered with the
 * Observe option; each notification is a confirmable 2.05 that this module
 * builds and sends itself on that session with the token and an increasing
 * Observe value. An observer goes on Observe 1, on a reset or an
 * unacknowledged notification (the node's nack hook), when its session
 * closes, and when it loses its right (re-checked before each
 * notification, and then told with a final 4.03).
 *
 * A topic is one entity's status ("pn/id"); an observer watches the whole
 * document, its state, its text or one numeric attribute of it. Observers
 * are bounded per resource (max_per_path) and in all (max_total); beyond,
 * 5.03. Observers of a PN GW (a persist hook decides) survive their session
 * and the daemon: kept "dormant" by identity, they resume on the next DTLS
 * session of that identity, with their token, conditions and last reported
 * value. Not thread-safe: one node, one thread. */
#ifndef CPNS_CONDOBS_H
#define CPNS_CONDOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "keyring.h"
#include "node.h"
#include "status.h"

/* ---- conditional attributes ---- */

#define CPNS_COND_PERIOD_MAX 86400 /* seconds of c.pmin, c.pmax, epmin, epmax */

struct cpns_cond {
  bool has_gt, has_lt, has_st, band;
  double gt, lt, st;
  long pmin, pmax, epmin, epmax; /* seconds; -1 when absent */
};

/* What of a status document an observer watches. */
enum cpns_cond_target {
  CPNS_TARGET_DOC,   /* .../status */
  CPNS_TARGET_STATE, /* .../status/state */
  CPNS_TARGET_TEXT,  /* .../status/text */
  CPNS_TARGET_ATTR,  /* .../status/{attr}: a number */
};

/* Parses the conditions of a query ("c.lt=20&c.pmin=2"). Value conditions
 * (gt, lt, st, band) need a numeric target. A parameter given twice (also as
 * c.gt and gt), an unknown parameter, a malformed number, c.st <= 0,
 * pmax <= pmin, epmax <= epmin or c.band without c.gt or c.lt are
 * CPNS_ERR_INVAL with the reason in err (the caller answers 4.00). */
int cpns_cond_parse(const char *query, enum cpns_cond_target target, struct cpns_cond *out,
                    char *err, size_t errlen);
/* The conditions as a canonical query ("c.gt=80&c.pmin=2"), for storage;
 * CPNS_ERR_TOOBIG when it does not fit. */
int cpns_cond_format(const struct cpns_cond *c, char *buf, size_t size);

/* The part of a document an observer watches, reduced for comparison. */
struct cpns_cond_sample {
  int state;       /* enum cpns_presence */
  bool has_value;  /* CPNS_TARGET_ATTR: the attribute exists */
  double value;
  uint64_t digest; /* of the watched part's representation */
};
/* The last reported sample, and the band zone (-1 below c.lt, 0 between,
 * 1 above c.gt) for c.band hysteresis. */
struct cpns_cond_ref {
  struct cpns_cond_sample last;
  int zone;
};
void cpns_cond_sample(const struct cpns_status_doc *d, enum cpns_cond_target t, const char *attr,
                      struct cpns_cond_sample *out);
/* The reference after reporting s. */
void cpns_cond_ref_set(const struct cpns_cond *c, struct cpns_cond_ref *ref,
                       const struct cpns_cond_sample *s);
/* Whether s is worth a notification to an observer whose last report was
 * ref, by its value conditions alone (periods are the caller's):
 *  - going offline or coming back from offline: always;
 *  - the document, its state or its text: any change;
 *  - an attribute without value conditions: any change (appearing and
 *    disappearing included);
 *  - c.gt / c.lt: the value crossed the threshold (the last reported value
 *    and the new one lie on different sides of it);
 *  - c.st: it moved by c.st or more from the last reported value;
 *  - c.band with c.lt < c.gt: hysteresis: told when it rises above c.gt, and
 *    when it falls below c.lt, and not while it stays between;
 *  - c.band otherwise: every change while inside the band (c.gt <= v <= c.lt,
 *    one side open when only one is given), and when it enters or leaves it.
 * Value conditions are OR'ed. */
bool cpns_cond_due(const struct cpns_cond *c, enum cpns_cond_target t,
                   const struct cpns_cond_ref *ref, const struct cpns_cond_sample *s);

/* ---- observers ---- */

#define CPNS_TOPIC_MAX (2 * CPNS_ID_MAX + 1) /* "pn/id" */
#define CPNS_OBS_TOKEN_MAX 8

struct cpns_condobs;

struct cpns_condobs_limits {
  long max_per_path; /* observers of one resource (the node's limits.max_observers) */
  long max_total;    /* observers in all, dormant ones included */
  long refresh_s;    /* a notification at least this often, to find observers gone (0 = never) */
  long resume_ttl_s; /* how long a dormant observer waits for its identity */
};

/* Who observes: kept to check the right again before each notification. */
struct cpns_condobs_who {
  char identity[CPNS_ID_MAX + 1];
  char pn[CPNS_ID_MAX + 1];
  enum cpns_peer_role role;
  char via[CPNS_ID_MAX + 1]; /* the PN GW speaking for it (On-Behalf-Of), "" */
};

/* A persisted observer (the server keeps its PN GWs'). */
struct cpns_condobs_record {
  char session_identity[CPNS_ID_MAX + 1]; /* whose next session resumes it */
  struct cpns_condobs_who who;
  uint8_t token[CPNS_OBS_TOKEN_MAX];
  size_t toklen;
  char topic[CPNS_TOPIC_MAX + 1];
  char attr[CPNS_STATUS_ATTR_NAME_MAX + 1]; /* "", "state", "text" or an attribute */
  char query[CPNS_QUERY_MAX + 1];           /* its conditions (cpns_cond_format) */
  int accept;                               /* content format of its notifications */
  struct cpns_cond_ref ref;
  uint32_t seq; /* the last Observe value sent */
};

struct cpns_condobs_hooks {
  /* May who still observe topic? Asked before every notification. NULL: yes. */
  bool (*allowed)(void *arg, const struct cpns_condobs_who *who, const char *topic);
  /* Whether an observer whose session belongs to this caller is kept by
   * identity (persisted, resumed after its session and the daemon). */
  bool (*persist)(void *arg, const struct cpns_key_entry *session_peer);
  /* A kept observer was registered or its reference changed (batched: at
   * most once per flush), or it is gone for good. */
  void (*saved)(void *arg, const struct cpns_condobs_record *r);
  void (*forgotten)(void *arg, const char *session_identity, const uint8_t *token, size_t toklen);
  /* The last observer of topic went away (a mirror stops its upstream). */
  void (*idle)(void *arg, const char *topic);
  void *arg;
};

/* lim and hooks are copied. */
int cpns_condobs_new(struct cpns_node *node, const char *name, const struct cpns_condobs_limits *lim,
                     const struct cpns_condobs_hooks *hooks, struct cpns_condobs **out);
/* Releases every session reference; sends nothing. NULL does nothing. */
void cpns_condobs_free(struct cpns_condobs *co);

/* The request's Observe option: -1 none, 0 register, 1 deregister, or
 * another number (answered as a plain GET). */
int cpns_condobs_action(const struct cpns_req *req);

/* Answers a GET of a status resource of topic (target from attr: "" the
 * document, "state", "text", or an attribute name) whose current document
 * is doc. Every case is answered here: the conditions are parsed (4.00);
 * with Observe 0 the caller is registered (5.03 beyond the caps) and the
 * answer carries the Observe option; Observe 1 deregisters. A missing
 * attribute is 4.04. doc NULL means the document is not known yet (a
 * mirror waiting for its upstream): the answer is deferred until
 * cpns_condobs_update() or cpns_condobs_fail(). */
void cpns_condobs_serve(struct cpns_condobs *co, struct cpns_req *req, const char *topic,
                        const char *attr, const struct cpns_status_doc *doc);

/* topic's document is now doc (copied): every observer of it is evaluated
 * and told when its conditions say so. */
void cpns_condobs_update(struct cpns_condobs *co, const char *topic, const struct cpns_status_doc *doc);
/* topic can no longer be observed: its observers get code with diag (a
 * final notification without Observe) and go. */
void cpns_condobs_fail(struct cpns_condobs *co, const char *topic, int code, const char *diag);

/* Restores a kept observer as dormant (session NULL) with topic's document
 * doc (may be NULL when unknown); it resumes on the next DTLS session of
 * r->session_identity. CPNS_ERR_LIMIT beyond max_total. */
int cpns_condobs_restore(struct cpns_condobs *co, const struct cpns_condobs_record *r,
                         const struct cpns_status_doc *doc);

/* True when topic has observers (dormant ones included). */
bool cpns_condobs_watched(const struct cpns_condobs *co, const char *topic);

struct cpns_condobs_stats {
  unsigned long observers, dormant, topics;
  unsigned long registrations, notifications, refused_cap, refused_right, dropped, resumed;
};
void cpns_condobs_get_stats(const struct cpns_condobs *co, struct cpns_condobs_stats *out);

#endif
