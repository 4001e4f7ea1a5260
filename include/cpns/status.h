/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file status.h
 * @brief Status management (spec 5.5.3) for applications: publish this
 * device's status, read another entity's, watch it with conditional
 * attributes (notified only when a threshold is crossed, a step is taken,
 * a period runs out), and manage policy-based report rules.
 *
 * A status is a presence state (online, offline, busy, away), a free-form
 * text and up to CPNS_STATUS_ATTRS_MAX numeric attributes (battery level,
 * signal...). The resources are described in docs/protocol.md, "Status";
 * who may read what in docs/security.md. Through a PNE (CPNS-5) an
 * application publishes its PNE's status and reads or watches any entity
 * its PNE may see; the same calls work against a gateway or the server with
 * an operator's key.
 *
 * The calls that take a cpns_client_t are synchronous (see client.h: one
 * answer awaited, at most the client's timeout), except cpns_status_watch(),
 * which runs until its callback, its duration or the observation ends. A
 * client is not thread-safe.
 *
 * Errors: every int-returning function returns 0 or a negative cpns_err.
 *   - CPNS_ERR_INVAL for an invalid argument (a NULL pointer, an id that is
 *     not 1..64 bytes of [A-Za-z0-9._-], a bad attribute name, a value that
 *     is not finite or beyond +-CPNS_STATUS_VALUE_MAX): nothing is sent.
 *   - The peer's refusal as mapped by client.h; in particular CPNS_ERR_LIMIT
 *     for 4.29 (too many status updates: the diagnostic says when to try
 *     again) and CPNS_ERR_UNAVAIL for 5.03 (e.g. too many observers);
 *     cpns_client_status() gives the CoAP code and cpns_client_error() the
 *     peer's diagnostic.
 *   - CPNS_ERR_PROTO when a successful answer is malformed; nothing is
 *     stored in the caller's out arguments then.
 *
 * @code
 *   cpns_status_attr_t battery = {"battery", 57};
 *   cpns_status_update(c, "busy", NULL, &battery, 1, NULL, 0);
 *
 *   cpns_status_cond_t cond = CPNS_STATUS_COND_INIT;
 *   cond.has_lt = true; cond.lt = 20;             // told when it crosses 20
 *   cpns_status_watch(c, "home", "phone", "battery", &cond, 0, on_battery, NULL);
 * @endcode
 */
#ifndef CPNS_CPNS_STATUS_H
#define CPNS_CPNS_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cpns/client.h>
#include <cpns/cpns.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPNS_STATUS_TEXT_MAX 140     /**< bytes of the free-form text */
#define CPNS_STATUS_ATTRS_MAX 16     /**< numeric attributes of one status */
#define CPNS_STATUS_ATTR_NAME_MAX 24 /**< bytes of an attribute name: [a-z][a-z0-9_-]* */
#define CPNS_STATUS_VALUE_MAX 1e12   /**< largest |value| of an attribute */

/** The presence state of an entity. */
enum cpns_presence {
  CPNS_PRESENCE_ONLINE = 0,
  CPNS_PRESENCE_OFFLINE = 1, /**< stopped refreshing, or left */
  CPNS_PRESENCE_BUSY = 2,
  CPNS_PRESENCE_AWAY = 3,
};

/** One numeric attribute. name is NUL-terminated. */
typedef struct cpns_status_attr {
  char name[CPNS_STATUS_ATTR_NAME_MAX + 1];
  double value;
} cpns_status_attr_t;

/** A status. Text fields are NUL-terminated; attributes sorted by name. */
typedef struct cpns_status_doc {
  enum cpns_presence state;
  char text[CPNS_STATUS_TEXT_MAX + 1]; /**< "" when none */
  unsigned nattrs;
  cpns_status_attr_t attrs[CPNS_STATUS_ATTRS_MAX];
  int64_t updated; /**< unix seconds of the last change */
} cpns_status_t;

/** "online", "offline", "busy", "away". Never NULL. */
CPNS_EXPORT const char *cpns_status_state_name(enum cpns_presence p);

/** Reads entity id's status in PN pn. *out is written on success only. */
CPNS_EXPORT int cpns_status_get(cpns_client_t *c, const char *pn, const char *id, cpns_status_t *out);

/** Reads this device's own status from its PNE (GET status). */
CPNS_EXPORT int cpns_status_get_own(cpns_client_t *c, cpns_status_t *out);

/**
 * Replaces this device's status (PUT status at its PNE), which publishes it
 * to its gateway before answering: a refusal there (CPNS_ERR_LIMIT for
 * 4.29) changes nothing. st->updated is ignored; st->state may not be
 * offline (leave the PN instead). st is borrowed.
 */
CPNS_EXPORT int cpns_status_set(cpns_client_t *c, const cpns_status_t *st);

/**
 * Changes parts of this device's status (POST status at its PNE): state
 * (NULL keeps it), text (NULL keeps it, "" clears it), the nattrs
 * attributes given (set or added) and the nremove attribute names (removed).
 * All borrowed. Published as cpns_status_set().
 */
CPNS_EXPORT int cpns_status_update(cpns_client_t *c, const char *state, const char *text,
                                   const cpns_status_attr_t *attrs, size_t nattrs,
                                   const char *const *remove, size_t nremove);

/**
 * Conditional attributes of an observation (draft-ietf-core-conditional-
 * attributes; LwM2M's epmin/epmax). Value conditions (gt, lt, st, band)
 * apply to a numeric attribute only. Periods are seconds, -1 when absent.
 * Without any condition every change is reported.
 */
typedef struct cpns_status_cond {
  bool has_gt, has_lt, has_st;
  double gt; /**< told when the value crosses it, either way */
  double lt; /**< told when the value crosses it, either way */
  double st; /**< told when it moved by this much since the last report (> 0) */
  bool band; /**< with lt < gt: hysteresis (above gt, then below lt); with gt <= lt: every change within [gt, lt] */
  long pmin, pmax, epmin, epmax;
} cpns_status_cond_t;

#define CPNS_STATUS_COND_INIT {false, false, false, 0, 0, 0, false, -1, -1, -1, -1}

/** What one notification says. Borrowed for the callback only. */
typedef struct cpns_status_event {
  const char *attr;            /**< the attribute watched, or NULL for the whole status */
  const cpns_status_t *status; /**< the whole status (attr NULL), else NULL */
  bool has_value;              /**< attr: the attribute exists */
  double value;                /**< attr: its value */
  enum cpns_presence state;    /**< the entity's state */
  int64_t updated;             /**< unix seconds of the entity's last change */
  bool first;                  /**< the answer to the registration, not a notification */
} cpns_status_event_t;

/** Return non-zero to end the watch (the observation is cancelled). */
typedef int (*cpns_status_watch_fn)(void *arg, const cpns_status_event_t *ev);

/**
 * Watches entity id's status in PN pn: the whole of it (attr NULL), its
 * "state", its "text", or one numeric attribute, with the conditions cond
 * (NULL: none). cb is called with the current value, then with each
 * notification, until it returns non-zero or duration_ms has passed (0:
 * no limit); both end the watch with 0, cancelling the observation. When
 * the observed entity ends the observation (the caller lost its right, the
 * entity left, the session closed) the watch returns the error it said
 * (CPNS_ERR_DENIED, CPNS_ERR_NOTFOUND, CPNS_ERR_UNAVAIL...). Invalid
 * conditions are CPNS_ERR_INVAL (4.00); too many observers CPNS_ERR_UNAVAIL
 * (5.03). Strings and cond are borrowed for the call.
 */
CPNS_EXPORT int cpns_status_watch(cpns_client_t *c, const char *pn, const char *id,
                                  const char *attr, const cpns_status_cond_t *cond,
                                  long duration_ms, cpns_status_watch_fn cb, void *arg);

/** What a policy-based report rule watches for (spec 5.5.3.2). */
enum cpns_policy_kind {
  CPNS_POLICY_BELOW = 0,   /**< attr falls below threshold */
  CPNS_POLICY_ABOVE = 1,   /**< attr rises above threshold */
  CPNS_POLICY_BECOMES = 2, /**< the state becomes state */
};

/** A rule: "when entity's attr falls below 20, report to target". */
typedef struct cpns_policy {
  char id[CPNS_ID_MAX + 1];     /**< "" to let the server choose one */
  char entity[CPNS_ID_MAX + 1];
  enum cpns_policy_kind kind;
  char attr[CPNS_STATUS_ATTR_NAME_MAX + 1]; /**< BELOW, ABOVE */
  double threshold;                         /**< BELOW, ABOVE */
  enum cpns_presence state;                 /**< BECOMES */
  char target[CPNS_ID_MAX + 1];             /**< the entity told */
  char target_pn[CPNS_ID_MAX + 1];          /**< its PN; "" for the rule's PN */
  char created_by[CPNS_ID_MAX + 1];         /**< read only */
  uint64_t fired;                           /**< read only: reports sent */
} cpns_policy_t;

/** Adds rule p to PN pn (members of the PN and the operator). id_out (may
 * be NULL) receives the rule's id. CPNS_ERR_EXISTS when the id is taken,
 * CPNS_ERR_UNAVAIL when the PN has as many rules as allowed. */
CPNS_EXPORT int cpns_policy_add(cpns_client_t *c, const char *pn, const cpns_policy_t *p,
                                char id_out[CPNS_ID_MAX + 1]);
/** PN pn's rules: *out is a new array of *n rules, freed with cpns_free(). */
CPNS_EXPORT int cpns_policy_list(cpns_client_t *c, const char *pn, cpns_policy_t **out, size_t *n);
/** Removes rule id of PN pn. */
CPNS_EXPORT int cpns_policy_remove(cpns_client_t *c, const char *pn, const char *id);

#ifdef __cplusplus
}
#endif
#endif
