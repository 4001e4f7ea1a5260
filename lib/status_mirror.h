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
 * ends the upstream one too. */
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
  size_t max_entities;   /* remote entities mirrored at once */
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
/* Remote entities mirrored now. */
size_t cpns_status_mirror_count(const struct cpns_status_mirror *m);

#endif
