/* SPDX-License-Identifier: Apache-2.0 */
/* Discovery wired into a node (see neighbors.h). */
#include "neighbors.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "msg.h"

struct cpns_neighbors {
  struct cpns_node *node;
  char id[CPNS_ID_MAX + 1];
  char pn[CPNS_ID_MAX + 1];
  unsigned roles;
  uint16_t secure_port;
  struct cpns_discovery *disc;
  char rt_filter[32];
  char unicast[128];
  long period;
};

static void on_readable(void *arg, int fd) {
  (void)fd;
  struct cpns_neighbors *nb = arg;
  int found = cpns_discovery_read(nb->disc);
  if (found > 0) log_info("discovery", "%d new entities discovered", found);
}

void cpns_neighbors_search(struct cpns_neighbors *nb) {
  cpns_discovery_expire(nb->disc, (int64_t)time(NULL));
  cpns_discovery_search(nb->disc, nb->rt_filter);
  if (nb->unicast[0]) cpns_discovery_search_unicast(nb->disc, nb->unicast);
}

static void on_timer(void *arg) { cpns_neighbors_search(arg); }

/* (Re)writes our /.well-known/core link from what we are now. */
static int advertise(struct cpns_neighbors *nb) {
  char attrs[256], rt[40] = "";
  if (nb->roles & CPNS_ROLE_GW) strcat(rt, "cpns.gw");
  if (nb->roles & CPNS_ROLE_PNE) strcat(rt, rt[0] ? " cpns.pne" : "cpns.pne");
  char sp[16] = "";
  if (nb->secure_port) snprintf(sp, sizeof sp, ";sp=%u", (unsigned)nb->secure_port);
  int n = snprintf(attrs, sizeof attrs, "rt=\"%s\";ep=\"%s\"%s%s%s%s;ct=\"60 50\"", rt, nb->id,
                   nb->pn[0] ? ";pn=\"" : "", nb->pn, nb->pn[0] ? "\"" : "", sp);
  if (n < 0 || (size_t)n >= sizeof attrs) return CPNS_ERR_TOOBIG;
  return cpns_node_add_link(nb->node, "entity", attrs);
}

int cpns_neighbors_set_pn(struct cpns_neighbors *nb, const char *pn) {
  if (!nb) return 0;
  snprintf(nb->pn, sizeof nb->pn, "%s", pn ? pn : "");
  return advertise(nb);
}

int cpns_neighbors_start(struct cpns_node *node, const struct cpns_neighbors_config *cfg,
                         struct cpns_neighbors **out) {
  struct cpns_neighbors *nb = calloc(1, sizeof *nb);
  if (!nb) return CPNS_ERR_NOMEM;
  nb->node = node;
  snprintf(nb->id, sizeof nb->id, "%s", cfg->self_id);
  snprintf(nb->pn, sizeof nb->pn, "%s", cfg->self_pn ? cfg->self_pn : "");
  nb->roles = cfg->self_roles;
  nb->secure_port = cfg->secure_port;
  int rc = advertise(nb);
  if (rc) {
    free(nb);
    return rc;
  }
  nb->period = cfg->period;
  snprintf(nb->rt_filter, sizeof nb->rt_filter, "%s", cfg->rt_filter ? cfg->rt_filter : "cpns.*");
  snprintf(nb->unicast, sizeof nb->unicast, "%s", cfg->unicast ? cfg->unicast : "");
  if (cfg->period > 0) {
    rc = cpns_discovery_new(&cfg->discovery, &nb->disc);
    if (!rc) rc = cpns_node_watch_fd(node, cpns_discovery_fd(nb->disc), on_readable, nb);
    if (!rc) rc = cpns_node_every(node, cfg->period * 1000, on_timer, nb);
    if (rc) {
      cpns_neighbors_free(nb);
      return rc;
    }
    cpns_neighbors_search(nb);
  }
  *out = nb;
  return 0;
}

void cpns_neighbors_free(struct cpns_neighbors *nb) {
  if (!nb) return;
  cpns_discovery_free(nb->disc);
  free(nb);
}

static int add_one(void *arg, const struct cpns_discovered *e) {
  json_array_append_new(arg, json_pack("{s:s, s:s, s:o, s:s, s:i, s:I, s:I}", "id", e->id, "pn",
                                       e->pn, "roles", cpns_msg_roles(e->roles), "host", e->host,
                                       "port", (int)e->port, "first_seen", (json_int_t)e->first_seen,
                                       "last_seen", (json_int_t)e->last_seen));
  return 0;
}

json_t *cpns_neighbors_json(const struct cpns_neighbors *nb) {
  json_t *arr = json_array();
  if (nb && nb->disc) cpns_discovery_foreach(nb->disc, add_one, arr);
  return json_pack("{s:o}", "neighbors", arr);
}

struct find_ctx {
  unsigned role;
  const char *pn;
  char *uri;
  size_t urilen;
  char *found_pn;
  bool found;
};

static int find_one(void *arg, const struct cpns_discovered *e) {
  struct find_ctx *c = arg;
  if (!(e->roles & c->role) || (c->pn[0] && strcmp(c->pn, e->pn) != 0)) return 0;
  bool v6 = strchr(e->host, ':') != NULL;
  snprintf(c->uri, c->urilen, "coaps://%s%s%s:%u", v6 ? "[" : "", e->host, v6 ? "]" : "",
           (unsigned)e->port);
  snprintf(c->found_pn, CPNS_ID_MAX + 1, "%s", e->pn);
  c->found = true;
  return 1;
}

int cpns_neighbors_find(const struct cpns_neighbors *nb, unsigned role, const char *pn, char *uri,
                        size_t urilen, char *found_pn) {
  struct find_ctx c = {role, pn ? pn : "", uri, urilen, found_pn, false};
  if (nb && nb->disc) cpns_discovery_foreach(nb->disc, find_one, &c);
  return c.found ? 0 : CPNS_ERR_NOTFOUND;
}
