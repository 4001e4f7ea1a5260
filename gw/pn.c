/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's PN: registration of PNEs (spec 5.5.6) and PN management
 * (5.5.10) on CPNS-1, the same requests from the server on CPNS-7, and the
 * gateway's own PN Inventory. Every change is committed locally before it is
 * acknowledged, then queued for the server (upstream.c). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "log.h"
#include "msg.h"
#include "pnops.h"

#define MOD "pn"

static int64_t now_s(void) { return (int64_t)time(NULL); }

static bool is_mine(const struct gw *gw, const char *pn) { return strcmp(pn, gw->conf.pn) == 0; }

static bool from_server(const struct cpns_req *req) {
  return req->peer && req->peer->role == CPNS_PEER_SERVER;
}

/* The caller's relations, from its DTLS identity: the input of the
 * authorization rules declared in pn__init. A member is a PNE registered in
 * this gateway's PN (an "added" one has not joined yet). */
static unsigned relations(const struct cpns_req *req, unsigned wanted, void *arg) {
  struct gw *gw = arg;
  const struct cpns_key_entry *p = req->peer;
  switch (p->role) {
  case CPNS_PEER_OPERATOR: return CPNS_REL_OPERATOR;
  case CPNS_PEER_SERVER: return CPNS_REL_SERVER;
  case CPNS_PEER_ENROLLEE: return CPNS_REL_ENROLLEE;
  case CPNS_PEER_PNE: break;
  default: return 0;
  }
  unsigned rel = 0;
  if (req->nseg >= 4 && strcmp(req->seg[3], p->identity) == 0) rel |= CPNS_REL_SELF;
  if (req->nseg >= 2 && strcmp(req->seg[0], "keys") == 0 && strcmp(req->seg[1], p->identity) == 0)
    rel |= CPNS_REL_SELF;
  bool groups = req->nseg >= 1 && strcmp(req->seg[0], "groups") == 0;
  if (groups) rel &= ~CPNS_REL_SELF; /* there it is the group's member itself */
  if (wanted & (CPNS_REL_MEMBER | CPNS_REL_RELAYED)) {
    struct cpns_entity_rec e;
    if (gw->store->ops->entity_get(gw->store, gw->conf.pn, p->identity, &e) == 0 &&
        e.state != CPNS_STATE_ADDED)
      rel |= CPNS_REL_MEMBER;
  }
  if (groups) rel |= groups__relations(gw, req, wanted, (rel & CPNS_REL_MEMBER) != 0);
  return rel;
}

static bool valid_path_ids(struct cpns_req *req) {
  for (unsigned i = 1; i < req->nseg; i += 2)
    if (!cpns_valid_id(req->seg[i])) {
      cpns_reply_error(req, 400, "'%s' is not a valid id", req->seg[i]);
      return false;
    }
  return true;
}

/* A request about another PN goes to the server, which knows it and decides
 * (CPNS-2); the server itself only ever asks about ours. Returns true when
 * the request was answered here or relayed. */
static bool relayed_if_remote(struct gw *gw, struct cpns_req *req) {
  if (is_mine(gw, req->seg[1])) return false;
  if (from_server(req))
    cpns_reply_error(req, 404, "not this gateway's PN");
  else
    cpns_relay(req, upstream__session(gw));
  return true;
}

int pn__ensure_record(struct gw *gw) {
  struct cpns_pn_rec p;
  memset(&p, 0, sizeof p);
  snprintf(p.id, sizeof p.id, "%s", gw->conf.pn);
  snprintf(p.name, sizeof p.name, "%s", gw->conf.pn_name);
  snprintf(p.owner, sizeof p.owner, "%s", gw->conf.owner);
  snprintf(p.gw, sizeof p.gw, "%s", gw->conf.id);
  snprintf(p.gw_addr, sizeof p.gw_addr, "%s", gw->conf.listen);
  p.open = gw->conf.open;
  p.state = CPNS_STATE_ONLINE;
  p.lifetime = (uint32_t)gw->conf.lifetime;
  p.updated_at = p.created_at = now_s();
  p.expires_at = INT64_MAX; /* our own PN never expires here */
  int rc = gw->store->ops->pn_put(gw->store, &p);
  if (rc) return rc;
  /* The PN GW belongs to its PN's inventory too (spec 5.5.10), with both
   * roles when this device is also a PNE (Appendix B.2). */
  struct cpns_entity_rec e;
  memset(&e, 0, sizeof e);
  snprintf(e.pn, sizeof e.pn, "%s", gw->conf.pn);
  snprintf(e.id, sizeof e.id, "%s", gw->conf.id);
  snprintf(e.name, sizeof e.name, "%s", gw->conf.id);
  snprintf(e.device_type, sizeof e.device_type, "gateway");
  snprintf(e.addr, sizeof e.addr, "%s", gw->conf.listen);
  e.roles = CPNS_ROLE_GW | (gw->conf.also_pne ? CPNS_ROLE_PNE : 0);
  e.state = CPNS_STATE_ONLINE;
  e.lifetime = (uint32_t)gw->conf.lifetime;
  e.registered_at = e.updated_at = p.created_at;
  e.expires_at = INT64_MAX; /* online while this process runs */
  return gw->store->ops->entity_put(gw->store, &e);
}

static int add_entity_json(void *arg, const struct cpns_entity_rec *e) {
  json_array_append_new(arg, cpns_msg_entity(e));
  return 0;
}

/* GET /entity: who this gateway is (answers CPNS-7 status requests too). */
static void get_self(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  uint64_t n = 0;
  gw->store->ops->entity_count(gw->store, gw->conf.pn, &n);
  unsigned roles = CPNS_ROLE_GW | (gw->conf.also_pne ? CPNS_ROLE_PNE : 0);
  cpns_reply(req, 205,
             json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:I, s:s}", "id", gw->conf.id, "roles",
                       cpns_msg_roles(roles), "pn", gw->conf.pn, "name", gw->conf.pn_name, "server",
                       upstream__state(gw), "version", CPNS_VERSION_STRING, "entities",
                       (json_int_t)n, "you", req->peer->identity));
}

static void get_pns(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  struct cpns_pn_rec p;
  json_t *arr = json_array();
  if (gw->store->ops->pn_get(gw->store, gw->conf.pn, &p) == 0) json_array_append_new(arr, cpns_msg_pn(&p));
  cpns_reply(req, 205, json_pack("{s:o, s:n}", "pns", arr, "next"));
}

/* GET /pns/{pn}: the local PN from our own inventory; a remote PN through
 * the server, which checks that its owner allows us. */
static void get_pn(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  if (!valid_path_ids(req)) return;
  if (relayed_if_remote(gw, req)) return;
  struct cpns_pn_rec p;
  if (gw->store->ops->pn_get(gw->store, gw->conf.pn, &p)) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  snprintf(p.gw_addr, sizeof p.gw_addr, "%s", gw->conf.listen);
  p.state = upstream__ready(gw) ? CPNS_STATE_ONLINE : CPNS_STATE_OFFLINE;
  json_t *ents = json_array();
  gw->store->ops->entity_list(gw->store, gw->conf.pn, add_entity_json, ents);
  cpns_reply(req, 205, json_pack("{s:o, s:o, s:s}", "pn", cpns_msg_pn(&p), "entities", ents,
                                 "server", upstream__state(gw)));
}

/* GET /pns/{pn}/entities/{id}: one entity of the local PN, or of a remote
 * one through the server. */
static void get_entity(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  if (!valid_path_ids(req)) return;
  if (relayed_if_remote(gw, req)) return;
  struct cpns_entity_rec e;
  int rc = gw->store->ops->entity_get(gw->store, gw->conf.pn, req->seg[3], &e);
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such entity" : "store failure");
    return;
  }
  cpns_reply(req, 205, cpns_msg_entity(&e));
}

/* PUT /pns/{pn}/entities/{id}: a PNE registers itself, or refreshes. */
static void put_entity(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  if (!valid_path_ids(req)) return;
  const char *pn = req->seg[1], *id = req->seg[3];
  if (!is_mine(gw, pn)) {
    cpns_reply_error(req, 404, "this gateway serves PN %s", gw->conf.pn);
    return;
  }
  if (req->peer->pn[0] && strcmp(req->peer->pn, pn) != 0) {
    cpns_reply_error(req, 403, "%s may not join a PN other than its own", id);
    return;
  }
  bool banned = false;
  gw->store->ops->ban_check(gw->store, pn, id, &banned);
  if (banned) {
    cpns_reply_error(req, 403, "%s was expelled from %s", id, pn);
    return;
  }
  struct cpns_entity_rec e, before;
  bool exists = gw->store->ops->entity_get(gw->store, pn, id, &e) == 0;
  if (!exists) {
    if (!gw->conf.open) {
      cpns_reply_error(req, 403, "PN %s is closed: a member must add %s first", pn, id);
      return;
    }
    uint64_t count = 0;
    gw->store->ops->entity_count(gw->store, pn, &count);
    if (count >= (uint64_t)gw->conf.max_entities) {
      CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "PN full (%ld); refusing %s", gw->conf.max_entities, id);
      cpns_reply_error(req, 503, "PN %s is full", pn);
      return;
    }
    memset(&e, 0, sizeof e);
    snprintf(e.pn, sizeof e.pn, "%s", pn);
    snprintf(e.id, sizeof e.id, "%s", id);
    e.roles = CPNS_ROLE_PNE;
    e.registered_at = now_s();
  }
  before = e;
  e.lifetime = 60;
  char err[CPNS_DIAG_MAX];
  if (cpns_msg_parse_registration(req->body, &e, false, err, sizeof err)) {
    cpns_reply_error(req, 400, "%s", err);
    return;
  }
  if (e.lifetime > (uint32_t)gw->conf.pne_lifetime_max) e.lifetime = (uint32_t)gw->conf.pne_lifetime_max;
  cpns_session_addr(req->session, e.addr, sizeof e.addr);
  e.state = CPNS_STATE_ONLINE;
  e.updated_at = now_s();
  e.expires_at = e.updated_at + e.lifetime;
  if (gw->store->ops->entity_put(gw->store, &e)) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  bool changed = !exists || before.state != e.state || strcmp(before.name, e.name) ||
                 strcmp(before.device_type, e.device_type) || before.roles != e.roles ||
                 strcmp(before.addr, e.addr) || before.lifetime != e.lifetime;
  if (changed) {
    if (!exists || before.state != CPNS_STATE_ONLINE)
      log_notice(MOD, "%s registered in PN %s from %s", id, pn, e.addr);
    upstream__queue(gw, UP_ENT_PUT, id);
  }
  cpns_reply(req, exists && before.state != CPNS_STATE_ADDED ? 204 : 201,
             json_pack("{s:I}", "lt", (json_int_t)e.lifetime));
}

/* DELETE /pns/{pn}/entities/{id}: an entity leaves (itself) or is expelled
 * (by a member, the operator or the server). */
static void delete_entity(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  if (!valid_path_ids(req)) return;
  const char *pn = req->seg[1], *id = req->seg[3];
  bool self = req->peer->role == CPNS_PEER_PNE && strcmp(req->peer->identity, id) == 0;
  if (strcmp(id, gw->conf.id) == 0) {
    cpns_reply_error(req, 403, "the PN GW cannot be expelled from its own PN");
    return;
  }
  if (relayed_if_remote(gw, req)) return;
  bool existed = true;
  int rc = self ? gw->store->ops->entity_delete(gw->store, pn, id)
                : gw->store->ops->entity_expel(gw->store, pn, id, &existed);
  if (rc == CPNS_ERR_NOTFOUND) existed = false;
  if (rc && rc != CPNS_ERR_NOTFOUND) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  if (!existed && self) {
    cpns_reply_error(req, 404, "%s is not in PN %s", id, pn);
    return;
  }
  log_notice(MOD, "%s %s PN %s%s%s", id, self ? "left" : "was expelled from", pn,
             self ? "" : " by ", self ? "" : req->peer->identity);
  status__entity_gone(gw, id);
  caps__entity_gone(gw, id); /* its capabilities went with it */
  if (!from_server(req)) upstream__queue(gw, self ? UP_ENT_DELETE : UP_ENT_EXPEL, id);
  cpns_reply(req, 202, NULL);
}

/* POST /pns/{pn}/entities {"id","name"}: a member adds another PNE, which
 * may then join even a closed PN (and an expelled one is let back). */
static void add_entity(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  if (!valid_path_ids(req)) return;
  const char *pn = req->seg[1];
  if (relayed_if_remote(gw, req)) return;
  struct cpns_entity_rec e;
  bool exists = false;
  char err[CPNS_DIAG_MAX];
  int code = cpns_pn_admit(gw->store, pn, req->body, gw->conf.max_entities, now_s(), &e, &exists,
                           err, sizeof err);
  if (code) {
    cpns_reply_error(req, code, "%s", err);
    return;
  }
  log_notice(MOD, "%s added to PN %s by %s", e.id, pn, req->peer->identity);
  if (!from_server(req)) {
    upstream__queue(gw, UP_ENT_ADD, e.id);
    if (!exists) upstream__queue(gw, UP_ENT_PUT, e.id);
  }
  cpns_reply(req, exists ? 204 : 201, NULL);
}

/* DELETE /pns/{pn}: removes the PN: every entity and expulsion goes, the
 * server's copy too; the gateway then registers a fresh, empty PN. */
static void delete_pn(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  if (!valid_path_ids(req)) return;
  if (relayed_if_remote(gw, req)) return;
  if (gw->store->ops->pn_delete(gw->store, gw->conf.pn) || pn__ensure_record(gw)) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  log_notice(MOD, "PN %s removed by %s; starting afresh", gw->conf.pn, req->peer->identity);
  if (!from_server(req)) upstream__queue(gw, UP_PN_DELETE, NULL);
  upstream__queue(gw, UP_PN_PUT, NULL);
  caps__pn_reset(gw); /* after the PN's removal in the queue */
  cpns_reply(req, 202, NULL);
}

/* /pns/{pn}/readers: the owner's sharing choice is kept by the server. */
static void readers(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  if (!valid_path_ids(req)) return;
  if (!is_mine(gw, req->seg[1])) {
    cpns_reply_error(req, 403, "%s may only change who reads its own PN", req->peer->identity);
    return;
  }
  cpns_relay(req, upstream__session(gw));
}

static void expire_tick(void *arg);

static int entity_expired(void *arg, const struct cpns_entity_rec *e) {
  struct gw *gw = arg;
  log_notice(MOD, "%s stopped refreshing: offline", e->id);
  status__entity_offline(gw, e->id); /* its observers are told */
  upstream__queue(gw, UP_ENT_PUT, e->id);
  return 0;
}

static void expire_tick(void *arg) {
  struct gw *gw = arg;
  gw->store->ops->expire(gw->store, now_s(), NULL, entity_expired, gw);
}

int pn__init(struct gw *gw) {
  struct cpns_node *n = gw->node;
  int rc = pn__ensure_record(gw);
  /* Who may manage the PN: its member PNEs, the operator, and the server. */
  const unsigned managers = CPNS_REL_OPERATOR | CPNS_REL_SERVER | CPNS_REL_MEMBER;
  cpns_node_set_relations(n, relations, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "entity", CPNS_REL_ANY, "read", get_self, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns", managers, "list PNs", get_pns, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*", managers, "read PN inventories",
                           get_pn, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "pns/*", managers, "remove the PN",
                           delete_pn, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/readers",
                           CPNS_REL_OPERATOR | CPNS_REL_MEMBER, "see who reads this PN", readers, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "pns/*/readers",
                           CPNS_REL_OPERATOR | CPNS_REL_MEMBER, "change who reads this PN", readers,
                           gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "pns/*/entities", managers, "add entities",
                           add_entity, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/entities/*", managers,
                           "read PN inventories", get_entity, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "pns/*/entities/*", CPNS_REL_SELF,
                           "register another entity", put_entity, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "pns/*/entities/*",
                           managers | CPNS_REL_SELF, "expel entities", delete_entity, gw);
  rc |= cpns_node_every(n, 1000, expire_tick, gw);
  return rc ? CPNS_ERR_STORE : 0;
}
