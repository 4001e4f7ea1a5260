/* SPDX-License-Identifier: Apache-2.0 */
/* CPNS-5: the resources applications on this device use (libcpns's client
 * API, cpnsctl, or any CoAP client on the loopback address), and CPNS-6: the
 * gateway's requests to this PNE, which arrive on the session we opened.
 * PN management, Service Group and Metadata Directory requests are relayed
 * unchanged to the gateway, under this PNE's identity: the gateway decides
 * what this PNE may do. */
#include <string.h>

#include "log.h"
#include "msg.h"
#include "pne.h"

/* The caller's relations, from its DTLS identity: applications of this
 * device and operators act through this PNE; its gateway (on the session we
 * opened, CPNS-6) and they may read. */
static unsigned relations(const struct cpns_req *req, unsigned wanted, void *arg) {
  (void)wanted;
  (void)arg;
  switch (req->peer->role) {
  case CPNS_PEER_APP: return CPNS_REL_APP;
  case CPNS_PEER_OPERATOR: return CPNS_REL_OPERATOR;
  case CPNS_PEER_GW: return CPNS_REL_GATEWAY;
  default: return 0;
  }
}

static json_t *membership(const struct pne *p) {
  return json_pack("{s:s, s:s, s:s, s:I, s:s}", "pn", p->pn, "state", agent__state_name(p->state),
                   "gateway", p->gw_uri, "lt", (json_int_t)p->granted_lifetime, "error",
                   p->last_error);
}

static void get_self(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  json_t *doc = json_pack("{s:s, s:[s], s:s, s:s, s:s, s:o}", "id", p->conf.id, "roles", "pne",
                          "name", p->conf.name, "type", p->conf.type, "version",
                          CPNS_VERSION_STRING, "membership", membership(p));
  cpns_reply(req, 205, doc);
}

static void get_neighbors(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  cpns_reply(req, 205, cpns_neighbors_json(p->neighbors));
}

static void get_membership(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  cpns_reply(req, 205, membership(p));
}

/* PUT /membership {"pn"}: join (the PN given, or the configured one). */
static void put_membership(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  static const char *const fields[] = {"pn", NULL};
  char pn[CPNS_ID_MAX + 1] = "", err[CPNS_DIAG_MAX];
  if (req->body && (cpns_msg_only(req->body, fields, err, sizeof err) ||
                    cpns_msg_str(req->body, "pn", pn, sizeof pn, false, err, sizeof err))) {
    cpns_reply_error(req, 400, "%s", err);
    return;
  }
  if (pn[0] && !cpns_valid_id(pn)) {
    cpns_reply_error(req, 400, "'pn' is not a valid id");
    return;
  }
  agent__join(p, pn);
  cpns_reply(req, 202, membership(p));
}

static void leave_done(void *arg, int code, const char *diag) {
  struct cpns_deferred *d = arg;
  if (code < 0)
    cpns_deferred_reply(d, 504, NULL, "the gateway did not answer; left locally");
  else
    cpns_deferred_reply(d, code, NULL, diag);
}

/* DELETE /membership: leave the PN. */
static void delete_membership(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  struct cpns_deferred *d = cpns_req_defer(req);
  if (d) agent__leave(p, leave_done, d);
}

static void relay(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  if (p->state != PNE_REGISTERED) {
    cpns_reply_error(req, 503, "not registered with a gateway (%s)", agent__state_name(p->state));
    return;
  }
  cpns_relay(req, p->session);
}

int local__init(struct pne *p) {
  struct cpns_node *n = p->node;
  int rc = 0;
  const unsigned local = CPNS_REL_APP | CPNS_REL_OPERATOR;
  cpns_node_set_relations(n, relations, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "entity", CPNS_REL_ANY, "read", get_self, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "neighbors", CPNS_REL_ANY, "read",
                           get_neighbors, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "membership", CPNS_REL_ANY, "read",
                           get_membership, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "membership", local, "act for this PNE",
                           put_membership, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "membership", local, "act for this PNE",
                           delete_membership, p);
  static const struct {
    coap_pdu_code_t m;
    const char *path;
  } relayed[] = {
      {COAP_REQUEST_CODE_GET, "pns"},
      {COAP_REQUEST_CODE_GET, "pns/*"},
      {COAP_REQUEST_CODE_DELETE, "pns/*"},
      {COAP_REQUEST_CODE_GET, "pns/*/readers"},
      {COAP_REQUEST_CODE_PUT, "pns/*/readers"},
      {COAP_REQUEST_CODE_POST, "pns/*/entities"},
      {COAP_REQUEST_CODE_GET, "pns/*/entities/*"},
      {COAP_REQUEST_CODE_DELETE, "pns/*/entities/*"},
      {COAP_REQUEST_CODE_GET, "pns/*/caps"},
      {COAP_REQUEST_CODE_GET, "pns/*/entities/*/caps"},
      /* Service Groups: the PNE is the member; its applications act for it. */
      {COAP_REQUEST_CODE_POST, "groups"},
      {COAP_REQUEST_CODE_GET, "groups/*"},
      {COAP_REQUEST_CODE_DELETE, "groups/*"},
      {COAP_REQUEST_CODE_POST, "groups/*/invitations"},
      {COAP_REQUEST_CODE_PUT, "groups/*/members/*"},
      {COAP_REQUEST_CODE_DELETE, "groups/*/members/*"},
      {COAP_REQUEST_CODE_GET, "groups/*/key"},
      /* The Metadata Directory (spec 5.5.5): the PNE is the offerer and the
       * owner of the interests; GET interests/{id} is services.c's (its
       * Observe is relayed once per interest). */
      {COAP_REQUEST_CODE_POST, "services"},
      {COAP_REQUEST_CODE_GET, "services"},
      {COAP_REQUEST_CODE_FETCH, "services"},
      {COAP_REQUEST_CODE_GET, "services/*"},
      {COAP_REQUEST_CODE_PUT, "services/*"},
      {COAP_REQUEST_CODE_POST, "services/*"},
      {COAP_REQUEST_CODE_DELETE, "services/*"},
      {COAP_REQUEST_CODE_POST, "interests"},
      {COAP_REQUEST_CODE_GET, "interests"},
      {COAP_REQUEST_CODE_DELETE, "interests/*"},
  };
  for (size_t i = 0; i < sizeof relayed / sizeof relayed[0]; i++)
    rc |= cpns_node_route_as(n, relayed[i].m, relayed[i].path, local, "act for this PNE", relay, p);
  return rc ? CPNS_ERR_LIMIT : 0;
}
