/* SPDX-License-Identifier: Apache-2.0 */
/* The client side of Observe (RFC 7641) on a cpns node: a GET with
 * Observe 0 whose answer and notifications all come back to one callback.
 * Used by the C API (cpns_status_watch), and by a PN GW and a PNE that relay
 * their peers' observations upstream (status_mirror.c).
 *
 * Notifications are matched by token alone, on any session: a CPNS Server
 * that keeps a PN GW's observation by identity resumes it on the gateway's
 * next session with the same token. Stale notifications are dropped by the
 * freshness rule of RFC 7641 §3.4. A notification of an observation that is
 * not (or no longer) ours is reset by the node (node.h). Not thread-safe. */
#ifndef CPNS_OBSCLIENT_H
#define CPNS_OBSCLIENT_H

#include <jansson.h>
#include <stdbool.h>

#include "node.h"

struct cpns_obsclient;
struct cpns_observation;

/* Called with the answer to the registration and with each notification:
 * code is a CoAP code number (205, 403...) or a negative cpns_err
 * (CPNS_ERR_TIMEOUT: no answer to the registration; CPNS_ERR_UNAVAIL: its
 * session went away); body is the decoded payload (borrowed) or NULL; diag
 * the text of an error answer or "". observing says whether the
 * observation goes on: when false it is over, and o is freed after the
 * callback returns (do not stop it). */
typedef void (*cpns_obs_fn)(void *arg, struct cpns_observation *o, int code, const json_t *body,
                            const char *diag, bool observing);

/* One per node: registers the node's unmatched-response and nack hooks. */
int cpns_obsclient_new(struct cpns_node *node, struct cpns_obsclient **out);
/* Frees every observation without a callback and without sending. Call it
 * before the node is freed. NULL does nothing. */
void cpns_obsclient_free(struct cpns_obsclient *oc);

/* Sends GET path?query with Observe 0 (and On-Behalf-Of when on_behalf is
 * not NULL or "") on session. resumable: the observation outlives its
 * session (the observed end resumes it on the next one): when the session
 * goes, cb is called with CPNS_ERR_UNAVAIL and observing true. *out (may be
 * NULL) is valid until the callback says observing false or
 * cpns_obsclient_stop(). path is relative to /cpns/v1. */
int cpns_obsclient_start(struct cpns_obsclient *oc, coap_session_t *session, const char *path,
                         const char *query, const char *on_behalf, bool resumable, cpns_obs_fn cb,
                         void *arg, struct cpns_observation **out);
/* Registers o again (RFC 7641 §3.3.1: a GET with Observe 0 and the same
 * token) on session, which may differ from the one it was made on: the
 * observed end keeps one observation for it (libcoap replaces an observer
 * that registers again), and one that forgot it (restarted) makes it anew.
 * Its answer comes to the callback like a notification; the freshness of
 * Observe values starts again from it. 0, or CPNS_ERR_UNAVAIL / NOMEM /
 * INVAL / IO (o is unchanged and still ours). */
int cpns_obsclient_renew(struct cpns_obsclient *oc, struct cpns_observation *o,
                         coap_session_t *session);
/* Ends o without calling its callback. With a session, a deregistration
 * (GET with Observe 1) is sent on it; without, the next notification is
 * reset. */
void cpns_obsclient_stop(struct cpns_obsclient *oc, struct cpns_observation *o,
                         coap_session_t *session);
/* Observations in progress. */
unsigned cpns_obsclient_count(const struct cpns_obsclient *oc);

#endif
