/* SPDX-License-Identifier: Apache-2.0 */
/* Relayed status observations. A PNE relays its applications' observations
 * (CPNS-5) to its PN GW, and a PN GW its PNEs' observations of another PN's
 * statuses to the CPNS Server. Each remote entity is observed upstream once,
 * whole and without conditions, however many local observers it has; its
 * latest document is kept here and the local observers are served from it
 * by condobs, each with its own conditional attributes. The upstream
 * observation asks for a heartbeat (c.pmax); when none comes for twice that,
 * or when the upstream session changed and the upstream does not resume
 * observations, it is registered again. The last local observer ending it
 * ends the upstream one too.
 *
 * The same mirror relays observations of other JSON resources (an
 * interest's events, spec 5.5.5): cpns_status_mirror_relay() keys them by
 * a topic of the caller's choosing, observes the upstream path once per
 * topic (On-Behalf-Of an identity when given), keeps the latest body and
 * serves its local observers itself: each upstream notification is passed
 * on unchanged, and an upstream error answer (4.03, 4.04) ends theirs with
 * the same code. Such an observation is registered again when the upstream
 * session changes, after cpns_status_mirror_renew() and every renew_s
 * seconds (an upstream that does not keep observations across its own
 * restarts, as libcoap's, then resumes within that time). */
#ifndef CPNS_STATUS_MIRROR_H
#define CPNS_STATUS_MIRROR_H

#include <stdbool.h>
#include <stddef.h>

#include "condobs.h"
#include "node.h"
#include "obsclient.h"

struct cpns_status_mirror;

struct cpns_status_mirror_config {
  const char *name; /* log tag */
  struct cpns_node *node;
  struct cpns_condobs *co;     /* the local observers (borrowed) */
  struct cpns_obsclient *oc;   /* upstream observations (borrowed) */
  /* The upstream session now, NULL while there is none. */
  coap_session_t *(*upstream)(void *arg);
  void *arg;
  bool upstream_resumes; /* the upstream keeps our observations across sessions (a CPNS Server) */
  long pmax;             /* seconds: the heartbeat asked of the upstream */
  size_t max_entities;   /* remote entities mirrored at once (relayed topics included) */
  /* Relayed JSON resources only (co may then be NULL): */
  size_t max_observers; /* local observers of one relayed topic */
  long renew_s;         /* register each relayed observation again this often; 0 = never */
  /* Told of each body the upstream sends for a relayed topic, and of its end
   * (code as cpns_obs_fn's); both may be NULL. Must not call the mirror. */
  void (*on_body)(void *arg, const char *topic, const json_t *body);
  void (*on_end)(void *arg, const char *topic, int code, const char *diag);
  /* A body too large for one message (a separate response or a
   * notification cannot be block-wise) loses the oldest entries of this
   * array member until it fits ("events"); NULL: sent as it is. */
  const char *trim_array;
};

int cpns_status_mirror_new(const struct cpns_status_mirror_config *cfg,
                           struct cpns_status_mirror **out);
/* Ends every upstream observation without sending. Before the node. */
void cpns_status_mirror_free(struct cpns_status_mirror *m);

/* Answers a GET of pns/{pn}/entities/{id}/status[/attr] that the upstream
 * serves: with Observe 0 from the mirror (registering the caller with
 * condobs, starting the upstream observation when it is the first),
 * otherwise relayed as it is. */
void cpns_status_mirror_serve(struct cpns_status_mirror *m, struct cpns_req *req, const char *pn,
                              const char *id, const char *attr);
/* condobs' idle hook: the last local observer of topic went. */
void cpns_status_mirror_idle(struct cpns_status_mirror *m, const char *topic);
/* Answers a GET with Observe 0 or 1 of a relayed resource: registers (or
 * deregisters) the caller as a local observer of topic, observing path
 * (relative to /cpns/v1) upstream On-Behalf-Of on_behalf (NULL or "" for
 * ourselves) when it is the first. 5.03 "too many relayed observations"
 * beyond max_entities, 5.03 beyond max_observers of the topic. Returns
 * false for any other request (the caller relays it as it is). */
bool cpns_status_mirror_relay(struct cpns_status_mirror *m, struct cpns_req *req, const char *topic,
                              const char *path, const char *on_behalf);
/* Keeps topic observed upstream without a local observer (a daemon's own
 * interest): 0, CPNS_ERR_LIMIT beyond max_entities, CPNS_ERR_NOMEM.
 * cpns_status_mirror_unpin() lets it go with its last local observer. */
int cpns_status_mirror_pin(struct cpns_status_mirror *m, const char *topic, const char *path,
                           const char *on_behalf);
void cpns_status_mirror_unpin(struct cpns_status_mirror *m, const char *topic);
/* The latest body of a relayed topic (borrowed until the next turn), or NULL. */
const json_t *cpns_status_mirror_body(struct cpns_status_mirror *m, const char *topic);
/* Every relayed observation registers again at the next tick (the upstream
 * restarted, or we registered with it again). */
void cpns_status_mirror_renew(struct cpns_status_mirror *m);
/* Remote entities (and relayed topics) mirrored now. */
size_t cpns_status_mirror_count(const struct cpns_status_mirror *m);

#endif
