/* SPDX-License-Identifier: Apache-2.0 */
/* Device capabilities at the server (spec 5.5.1): each PN GW reports its
 * own and its PNEs' documents on CPNS-2, whole (PUT) or as merge patches of
 * what changed (PATCH); the server keeps them (lib/capstore.h) and serves
 * them to whoever may read the PN's inventory, with Observe for those who
 * follow changes (what the spec leaves to OMA DPE, 5.1.2). */
#include "capstore.h"
#include "log.h"
#include "server.h"

#define MOD "caps"

static struct cpns_capstore *g_caps;

int caps__init(struct server *srv) {
  /* No rate here: a gateway's queue sends one change at a time, and a
   * refused one would have to wait in it; the gateway bounds its PNEs. */
  struct cpns_capstore_config cfg = {srv->conf.caps_page_max, 0, 0};
  int rc = cpns_capstore_new(srv->node, srv->store, MOD, &cfg, NULL, &g_caps);
  if (rc) return rc;
  struct cpns_node *n = srv->node;
  /* Readers are those of the PN's inventory (inventory.c): the operator,
   * the PN's gateway, and a gateway whose PN the owner lets read it; and,
   * over CPNS-4 (http.c, scope caps:read), an external server that the
   * owner lists among the readers as ext.<name>. Only the PN's gateway
   * reports. */
  const unsigned readers =
      CPNS_REL_OPERATOR | CPNS_REL_GW_OF_PN | CPNS_REL_READER | CPNS_REL_EXTERNAL;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/caps", readers,
                           "read this PN's capabilities", cpns_capstore_list, g_caps);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/entities/*/caps", readers,
                           "read this PN's capabilities", cpns_capstore_get, g_caps);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "pns/*/entities/*/caps", CPNS_REL_GW_OF_PN,
                           "report capabilities in this PN", cpns_capstore_put, g_caps);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PATCH, "pns/*/entities/*/caps", CPNS_REL_GW_OF_PN,
                           "report capabilities in this PN", cpns_capstore_patch, g_caps);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void caps__entity_gone(struct server *srv, const char *pn, const char *id) {
  (void)srv;
  if (g_caps) cpns_capstore_entity_gone(g_caps, pn, id);
}

void caps__free(struct server *srv) {
  (void)srv;
  cpns_capstore_free(g_caps);
  g_caps = NULL;
}
