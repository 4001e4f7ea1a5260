/* SPDX-License-Identifier: Apache-2.0 */
/* Entity discovery run by a daemon (spec 5.5.6, CPNS-8): the periodic
 * multicast search of discovery.c wired into a node's event loop, the
 * advertisement of this entity in /.well-known/core, and the neighbour list
 * as a message (GET /cpns/v1/neighbors). */
#ifndef CPNS_NEIGHBORS_H
#define CPNS_NEIGHBORS_H

#include "discovery.h"
#include "node.h"

struct cpns_neighbors_config {
  const char *self_id;
  const char *self_pn;      /* may be "" */
  unsigned self_roles;      /* CPNS_ROLE_* we advertise */
  uint16_t secure_port;     /* our DTLS port, advertised as sp= */
  const char *rt_filter;    /* what we search for: "cpns.*", "cpns.gw", "cpns.pne" */
  long period;              /* seconds between searches; 0 = never search */
  const char *unicast;      /* also ask this "host:port" each round; NULL = none */
  struct cpns_discovery_config discovery;
};

struct cpns_neighbors;

/* Advertises this entity on the node and starts searching. */
int cpns_neighbors_start(struct cpns_node *node, const struct cpns_neighbors_config *cfg,
                         struct cpns_neighbors **out);
void cpns_neighbors_free(struct cpns_neighbors *nb);
/* Advertises another PN from now on (a PNE that joined one). */
int cpns_neighbors_set_pn(struct cpns_neighbors *nb, const char *pn);
/* Runs a search round now (also done every period). */
void cpns_neighbors_search(struct cpns_neighbors *nb);
/* {"neighbors":[{"id","pn","roles","host","port","first_seen","last_seen"}...]} */
json_t *cpns_neighbors_json(const struct cpns_neighbors *nb);
/* The first neighbour playing role (CPNS_ROLE_GW...) in pn ("" = any), as
 * "coaps://host:port" in uri and its PN in found_pn (CPNS_ID_MAX + 1 bytes);
 * CPNS_ERR_NOTFOUND if none yet. */
int cpns_neighbors_find(const struct cpns_neighbors *nb, unsigned role, const char *pn, char *uri,
                        size_t urilen, char *found_pn);

#endif
