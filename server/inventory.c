/* SPDX-License-Identifier: Apache-2.0 */
/* The server's PN Inventory: PN registration by gateways (spec 5.5.6) and PN
 * management (5.5.10) on CPNS-2, with operator access, and the CPNS-7
 * requests the server sends back to a gateway when the operator changes its
 * PN. Who may do what is decided here, from the DTLS identity alone. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cpns4.h"
#include "log.h"
#include "msg.h"
#include "pnops.h"
#include "server.h"

#define MOD "inventory"

static int64_t now_s(void) { return (int64_t)time(NULL); }

static bool is_operator(const struct cpns_req *req) {
  return req->peer && req->peer->role == CPNS_PEER_OPERATOR;
}

/* An identity reserved for external servers (CPNS-4): "ext.<name>". */
static bool is_external_id(const char *id) {
  return strncmp(id, CPNS4_IDENTITY_PREFIX, sizeof CPNS4_IDENTITY_PREFIX - 1) == 0;
}

/* Whether PN pn's owner lists the external server identity among its
 * readers (PUT /pns/{pn}/readers). A store failure is a no. */
static bool external_reads(struct server *srv, const char *pn, const char *identity) {
  bool allowed = false;
  return cpns_valid_id(pn) && is_external_id(identity) &&
         srv->store->ops->pn_reader_allowed(srv->store, pn, identity, &allowed) == 0 && allowed;
}

/* The caller's relations to the PN in the path (seg[1]), from its DTLS
 * identity: the input of the authorization rules declared in
 * inventory__init. A gateway reads another PN on behalf of its PNEs only
 * when that PN's owner listed the asking PN among its readers. */
static unsigned relations(const struct cpns_req *req, unsigned wanted, void *arg) {
  struct server *srv = arg;
  const struct cpns_key_entry *p = req->peer;
  unsigned rel = 0;
  if (p->role == CPNS_PEER_OPERATOR) rel |= CPNS_REL_OPERATOR;
  if (p->role == CPNS_PEER_ENROLLEE) rel |= CPNS_REL_ENROLLEE;
  rel |= usage__relations(srv, req, wanted); /* usage/summary?pn=... */
  rel |= status__relations(srv, req, wanted); /* a PNE relayed to pns/{pn}/status... */
  if (p->role == CPNS_PEER_EXTERNAL) {
    /* CPNS-4 (http.c): an external server takes part in the directory, as
     * an offerer, a subscriber or a consumer, and reads usage summaries
     * (usage.c); no other relation. Under pns/{pn} it is "external" only
     * when pn's owner lists its identity (ext.<name>) among the readers,
     * as a gateway is a reader only when its PN is listed: whoever is not
     * gets 4.03 (403), whether the PN exists or not. */
    if (req->nseg >= 2 && strcmp(req->seg[0], "pns") == 0)
      return external_reads(srv, req->seg[1], p->identity) ? CPNS_REL_EXTERNAL : 0;
    rel = CPNS_REL_EXTERNAL;
    if (req->nseg >= 1 && (strcmp(req->seg[0], "services") == 0 || strcmp(req->seg[0], "interests") == 0))
      rel |= directory__relations(srv, req, wanted);
    return rel;
  }
  if (req->nseg >= 1 && strcmp(req->seg[0], "groups") == 0) {
    rel |= groups__relations(srv, req, wanted); /* SELF there is groups/{g}/members/{id} */
  } else if (req->nseg >= 1 &&
             (strcmp(req->seg[0], "services") == 0 || strcmp(req->seg[0], "interests") == 0)) {
    rel |= directory__relations(srv, req, wanted);
  } else if (req->nseg >= 2 && strcmp(p->identity, req->seg[1]) == 0) {
    rel |= CPNS_REL_SELF; /* keys/{id} */
  }
  if (p->role != CPNS_PEER_GW) return rel;
  rel |= CPNS_REL_GW;
  if (req->nseg < 2) return rel;
  if (strcmp(p->pn, req->seg[1]) == 0) rel |= CPNS_REL_GW_OF_PN;
  /* A reader "ext.<name>" names an external server, never a PN of that id. */
  if ((wanted & CPNS_REL_READER) && p->pn[0] && cpns_valid_id(req->seg[1]) && !is_external_id(p->pn)) {
    bool allowed = false;
    if (srv->store->ops->pn_reader_allowed(srv->store, req->seg[1], p->pn, &allowed) == 0 && allowed)
      rel |= CPNS_REL_READER;
  }
  return rel;
}


static int store_code(int rc) {
  switch (rc) {
  case CPNS_ERR_NOTFOUND: return 404;
  case CPNS_ERR_TOOBIG: return 413;
  case CPNS_ERR_INVAL: return 400;
  case CPNS_ERR_LIMIT: return 503;
  default: return 500;
  }
}

static bool valid_path_ids(struct cpns_req *req) {
  for (unsigned i = 1; i < req->nseg; i += 2)
    if (!cpns_valid_id(req->seg[i])) {
      cpns_reply_error(req, 400, "'%s' is not a valid id", req->seg[i]);
      return false;
    }
  return true;
}

/* ---- reads ---- */

struct list_ctx {
  json_t *arr;
  char last[CPNS_ID_MAX + 1];
  unsigned n;
};

static int add_pn(void *arg, const struct cpns_pn_rec *p) {
  struct list_ctx *c = arg;
  json_array_append_new(c->arr, cpns_msg_pn(p));
  snprintf(c->last, sizeof c->last, "%s", p->id);
  c->n++;
  return 0;
}

static int add_entity(void *arg, const struct cpns_entity_rec *e) {
  json_array_append_new(arg, cpns_msg_entity(e));
  return 0;
}

/* GET /pns: the operator pages through every PN; a gateway sees its own. */
static void get_pns(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct list_ctx c = {json_array(), "", 0};
  if (is_operator(req)) {
    char after[CPNS_ID_MAX + 1] = "", limit_s[12] = "";
    long limit = srv->conf.list_page_max;
    if (cpns_req_query(req, "after", after, sizeof after) == CPNS_ERR_TOOBIG ||
        cpns_req_query(req, "limit", limit_s, sizeof limit_s) == CPNS_ERR_TOOBIG) {
      json_decref(c.arr);
      cpns_reply_error(req, 400, "bad paging parameters");
      return;
    }
    if (limit_s[0]) {
      char *end;
      limit = strtol(limit_s, &end, 10);
      if (*end || limit < 1 || limit > srv->conf.list_page_max) {
        json_decref(c.arr);
        cpns_reply_error(req, 400, "limit must be 1..%ld", srv->conf.list_page_max);
        return;
      }
    }
    int rc = srv->store->ops->pn_list(srv->store, after, (unsigned)limit, add_pn, &c);
    if (rc) {
      json_decref(c.arr);
      cpns_reply_error(req, 500, "store failure");
      return;
    }
    json_t *next = c.n == (unsigned)limit ? json_string(c.last) : json_null();
    cpns_reply(req, 205, json_pack("{s:o, s:o}", "pns", c.arr, "next", next));
    return;
  }
  if (req->peer && req->peer->role == CPNS_PEER_GW) {
    struct cpns_pn_rec p;
    if (srv->store->ops->pn_get(srv->store, req->peer->pn, &p) == 0) add_pn(&c, &p);
    cpns_reply(req, 205, json_pack("{s:o, s:n}", "pns", c.arr, "next"));
    return;
  }
  json_decref(c.arr); /* unreachable: the rule admits operators and gateways only */
  cpns_reply_error(req, 403, "%s may not list PNs", req->peer->identity);
}


/* GET /pns/{pn}: the PN and its entities. */
static void get_pn(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  if (!valid_path_ids(req)) return;
  const char *pn = req->seg[1];
  struct cpns_pn_rec p;
  int rc = srv->store->ops->pn_get(srv->store, pn, &p);
  if (rc) {
    cpns_reply_error(req, store_code(rc), rc == CPNS_ERR_NOTFOUND ? "no such PN" : "store failure");
    return;
  }
  json_t *ents = json_array();
  if (srv->store->ops->entity_list(srv->store, pn, add_entity, ents)) {
    json_decref(ents);
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  cpns_reply(req, 205, json_pack("{s:o, s:o}", "pn", cpns_msg_pn(&p), "entities", ents));
}

/* GET /pns/{pn}/entities/{id} */
static void get_entity(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  if (!valid_path_ids(req)) return;
  struct cpns_entity_rec e;
  int rc = srv->store->ops->entity_get(srv->store, req->seg[1], req->seg[3], &e);
  if (rc) {
    cpns_reply_error(req, store_code(rc), rc == CPNS_ERR_NOTFOUND ? "no such entity" : "store failure");
    return;
  }
  cpns_reply(req, 205, cpns_msg_entity(&e));
}

/* ---- PN registration (gateway) ---- */

/* PUT /pns/{pn}: a gateway registers or refreshes its PN. */
static void put_pn(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  if (!valid_path_ids(req)) return;
  const char *pn = req->seg[1];
  struct cpns_pn_rec p;
  bool exists = srv->store->ops->pn_get(srv->store, pn, &p) == 0;
  if (!exists) {
    uint64_t count = 0;
    srv->store->ops->pn_count(srv->store, &count);
    if (count >= (uint64_t)srv->conf.max_pns) {
      CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "PN limit (%ld) reached; refusing %s", srv->conf.max_pns, pn);
      cpns_reply_error(req, 503, "PN limit reached");
      return;
    }
    memset(&p, 0, sizeof p);
    snprintf(p.id, sizeof p.id, "%s", pn);
    p.lifetime = 60;
    p.created_at = now_s();
  }
  char err[CPNS_DIAG_MAX];
  if (cpns_msg_parse_pn(req->body, &p, err, sizeof err)) {
    cpns_reply_error(req, 400, "%s", err);
    return;
  }
  snprintf(p.gw, sizeof p.gw, "%s", req->peer->identity);
  cpns_session_addr(req->session, p.gw_addr, sizeof p.gw_addr);
  bool was_offline = exists && p.state != CPNS_STATE_ONLINE;
  p.state = CPNS_STATE_ONLINE;
  p.updated_at = now_s();
  p.expires_at = p.updated_at + p.lifetime;
  int rc = srv->store->ops->pn_put(srv->store, &p);
  if (rc) {
    cpns_reply_error(req, store_code(rc), "store failure");
    return;
  }
  gwlinks__set(srv->links, pn, req->session);
  if (!exists || was_offline)
    log_notice(MOD, "PN %s registered by %s from %s", pn, p.gw, p.gw_addr);
  cpns_reply(req, exists ? 204 : 201, json_pack("{s:I}", "lt", (json_int_t)p.lifetime));
}

/* Entities at the server follow their gateway's reports; they go offline
 * with their PN when the gateway stops refreshing (see inventory__expire). */
#define SERVER_ENTITY_NO_EXPIRY INT64_MAX

/* PUT /pns/{pn}/entities/{id}: the gateway reports one of its entities. */
static void put_entity(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  if (!valid_path_ids(req)) return;
  const char *pn = req->seg[1], *id = req->seg[3];
  struct cpns_pn_rec p;
  if (srv->store->ops->pn_get(srv->store, pn, &p)) {
    cpns_reply_error(req, 404, "register the PN first");
    return;
  }
  bool banned = false;
  srv->store->ops->ban_check(srv->store, pn, id, &banned);
  if (banned) {
    cpns_reply_error(req, 403, "%s was expelled from %s", id, pn);
    return;
  }
  struct cpns_entity_rec e;
  bool exists = srv->store->ops->entity_get(srv->store, pn, id, &e) == 0;
  if (!exists) {
    uint64_t count = 0;
    srv->store->ops->entity_count(srv->store, pn, &count);
    if (count >= (uint64_t)srv->conf.max_entities_per_pn) {
      cpns_reply_error(req, 503, "PN %s is full (%ld entities)", pn, srv->conf.max_entities_per_pn);
      return;
    }
    memset(&e, 0, sizeof e);
    snprintf(e.pn, sizeof e.pn, "%s", pn);
    snprintf(e.id, sizeof e.id, "%s", id);
    e.roles = CPNS_ROLE_PNE;
    e.lifetime = 60;
    e.state = CPNS_STATE_ONLINE;
    e.registered_at = now_s();
  }
  char err[CPNS_DIAG_MAX];
  if (cpns_msg_parse_registration(req->body, &e, true, err, sizeof err)) {
    cpns_reply_error(req, 400, "%s", err);
    return;
  }
  e.updated_at = now_s();
  e.expires_at = e.state == CPNS_STATE_ONLINE ? SERVER_ENTITY_NO_EXPIRY : 0;
  int rc = srv->store->ops->entity_put(srv->store, &e);
  if (rc) {
    cpns_reply_error(req, store_code(rc), "store failure");
    return;
  }
  cpns_reply(req, exists ? 204 : 201, NULL);
}

/* ---- PN management ---- */

static void cpns7_done(void *arg, int code, const json_t *body, const char *diag) {
  (void)body;
  char *what = arg;
  if (code >= 200 && code < 300)
    log_info("cpns7", "%s: gateway answered %d", what, code);
  else
    log_warn("cpns7", "%s: gateway answered %d %s", what, code, diag);
  free(what);
}

/* Tells the PN's gateway, over the session it opened (CPNS-7), about a
 * change the operator made. The server's copy is already committed; a
 * gateway that is offline learns it at its next resynchronization. */
void inventory__tell_gateway(struct server *srv, const char *pn, coap_pdu_code_t method,
                             const char *path, const json_t *body) {
  coap_session_t *s = gwlinks__get(srv->links, pn);
  if (!s) {
    log_info("cpns7", "gateway of %s not connected; it will resynchronize", pn);
    return;
  }
  char *what = malloc(strlen(path) + 16);
  if (!what) return;
  sprintf(what, "%s %s", method == COAP_REQUEST_CODE_DELETE ? "DELETE"
                         : method == COAP_REQUEST_CODE_PUT  ? "PUT"
                                                             : "POST",
          path);
  if (cpns_node_request(srv->node, s, method, path, NULL, body, cpns7_done, what)) free(what);
}

/* DELETE /pns/{pn}/entities/{id}: a gateway reports a PNE that left or was
 * expelled (?expel); the operator expels. */
static void delete_entity(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  if (!valid_path_ids(req)) return;
  const char *pn = req->seg[1], *id = req->seg[3];
  bool op = is_operator(req);
  char flag[4];
  bool expel = op || cpns_req_query(req, "expel", flag, sizeof flag) == 0;
  bool existed = true;
  int rc = expel ? srv->store->ops->entity_expel(srv->store, pn, id, &existed)
                 : srv->store->ops->entity_delete(srv->store, pn, id);
  if (rc == CPNS_ERR_NOTFOUND) existed = false;
  if (rc && rc != CPNS_ERR_NOTFOUND) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  if (!existed && !expel) {
    cpns_reply_error(req, 404, "no such entity");
    return;
  }
  log_notice(MOD, "%s %s from PN %s (by %s)", id, expel ? "expelled" : "removed", pn,
             req->peer->identity);
  directory__entity_gone(srv, pn, id); /* its services leave with it */
  status__entity_gone(srv, pn, id);
  caps__entity_gone(srv, pn, id);      /* its capabilities went with it */
  if (op) {
    char path[2 * CPNS_ID_MAX + 32];
    snprintf(path, sizeof path, "pns/%s/entities/%s", pn, id);
    inventory__tell_gateway(srv, pn, COAP_REQUEST_CODE_DELETE, path, NULL);
  }
  cpns_reply(req, 202, NULL);
}

/* POST /pns/{pn}/entities {"id","name"}: allows an entity into the PN (and
 * lifts an expulsion). */
static void add_entity_req(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  if (!valid_path_ids(req)) return;
  const char *pn = req->seg[1];
  bool op = is_operator(req);
  struct cpns_pn_rec p;
  if (srv->store->ops->pn_get(srv->store, pn, &p)) {
    cpns_reply_error(req, 404, "no such PN");
    return;
  }
  struct cpns_entity_rec e;
  bool existed = false;
  char err[CPNS_DIAG_MAX];
  int code = cpns_pn_admit(srv->store, pn, req->body, srv->conf.max_entities_per_pn, now_s(), &e,
                           &existed, err, sizeof err);
  if (code) {
    cpns_reply_error(req, code, "%s", err);
    return;
  }
  log_notice(MOD, "%s added to PN %s (by %s)", e.id, pn, req->peer->identity);
  if (op) {
    char path[CPNS_ID_MAX + 32];
    snprintf(path, sizeof path, "pns/%s/entities", pn);
    inventory__tell_gateway(srv, pn, COAP_REQUEST_CODE_POST, path, req->body);
  }
  cpns_reply(req, 201, NULL);
}

/* DELETE /pns/{pn}: the PN's gateway or the operator removes the PN. */
static void delete_pn(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  if (!valid_path_ids(req)) return;
  const char *pn = req->seg[1];
  bool op = is_operator(req);
  int rc = srv->store->ops->pn_delete(srv->store, pn);
  if (rc) {
    cpns_reply_error(req, store_code(rc), rc == CPNS_ERR_NOTFOUND ? "no such PN" : "store failure");
    return;
  }
  log_notice(MOD, "PN %s removed (by %s)", pn, req->peer->identity);
  directory__entity_gone(srv, pn, NULL);
  caps__entity_gone(srv, pn, NULL);
  if (op) {
    char path[CPNS_ID_MAX + 8];
    snprintf(path, sizeof path, "pns/%s", pn);
    inventory__tell_gateway(srv, pn, COAP_REQUEST_CODE_DELETE, path, NULL);
  }
  gwlinks__drop_pn(srv->links, pn);
  cpns_reply(req, 202, NULL);
}

/* PUT /pns/{pn}/readers {"readers":[pn...]}: the owner's choice of which
 * other PNs may read this PN's inventory, and which external servers
 * ("ext.<name>", CPNS-4) may read its capabilities and statuses. */
static void put_readers(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  if (!valid_path_ids(req)) return;
  const char *pn = req->seg[1];
  static const char *const fields[] = {"readers", NULL};
  char err[CPNS_DIAG_MAX];
  json_t *arr = req->body ? json_object_get(req->body, "readers") : NULL;
  if (!req->body || cpns_msg_only(req->body, fields, err, sizeof err) || !json_is_array(arr) ||
      json_array_size(arr) > CPNS_READERS_MAX) {
    cpns_reply_error(req, 400, "expected {\"readers\":[pn,...]} with at most %d PNs",
                     CPNS_READERS_MAX);
    return;
  }
  const char *list[CPNS_READERS_MAX];
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    list[i] = json_string_value(v);
    if (!list[i] || !cpns_valid_id(list[i]) ||
        (is_external_id(list[i]) && !cpns4_valid_name(list[i] + sizeof CPNS4_IDENTITY_PREFIX - 1))) {
      cpns_reply_error(req, 400, "readers must be PN ids, or ext.<name> for an external server");
      return;
    }
  }
  struct cpns_pn_rec p;
  if (srv->store->ops->pn_get(srv->store, pn, &p)) {
    cpns_reply_error(req, 404, "no such PN");
    return;
  }
  if (srv->store->ops->pn_set_readers(srv->store, pn, list, (unsigned)json_array_size(arr))) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  cpns_reply(req, 204, NULL);
}

static int add_reader(void *arg, const char *reader) {
  json_array_append_new(arg, json_string(reader));
  return 0;
}

static void get_readers(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  if (!valid_path_ids(req)) return;
  json_t *arr = json_array();
  srv->store->ops->pn_list_readers(srv->store, req->seg[1], add_reader, arr);
  cpns_reply(req, 205, json_pack("{s:o}", "readers", arr));
}

/* GET /pns/{pn}/gw: asks the PN's gateway for its entity document, live,
 * over CPNS-7: shows that the server reaches a gateway behind NAT. */
static void gw_answer(void *arg, int code, const json_t *body, const char *diag) {
  struct cpns_deferred *d = arg;
  if (code < 0)
    cpns_deferred_reply(d, 504, NULL, "gateway did not answer");
  else
    cpns_deferred_reply(d, code, body ? json_deep_copy(body) : NULL, diag);
}

static void get_pn_gw(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  if (!valid_path_ids(req)) return;
  coap_session_t *s = gwlinks__get(srv->links, req->seg[1]);
  if (!s) {
    cpns_reply_error(req, 404, "the gateway of %s is not connected", req->seg[1]);
    return;
  }
  struct cpns_deferred *d = cpns_req_defer(req);
  if (!d) return;
  if (cpns_node_request(srv->node, s, COAP_REQUEST_CODE_GET, "entity", NULL, NULL, gw_answer, d))
    cpns_deferred_reply(d, 503, NULL, "cannot reach the gateway");
}

/* GET /entity: who this server is, and the size of its inventory. */
static void get_self(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  uint64_t pns = 0, ents = 0;
  srv->store->ops->pn_count(srv->store, &pns);
  srv->store->ops->entity_count(srv->store, NULL, &ents);
  struct cpns_node_stats st;
  cpns_node_get_stats(srv->node, &st);
  cpns_reply(req, 205,
             json_pack("{s:s, s:[s], s:s, s:s, s:I, s:I, s:{s:I, s:I, s:I, s:I}}", "id", srv->conf.id,
                       "roles", "server", "version", CPNS_VERSION_STRING, "you",
                       req->peer->identity, "pns", (json_int_t)pns, "entities", (json_int_t)ents,
                       "stats", "requests", (json_int_t)st.requests, "errors_4xx",
                       (json_int_t)st.replies_4xx, "errors_5xx", (json_int_t)st.replies_5xx,
                       "sessions_replaced", (json_int_t)st.stale_sessions_replaced));
}

/* ---- lifetimes ---- */

static int entity_offline(void *arg, const struct cpns_entity_rec *e) {
  struct server *srv = arg;
  if (e->state != CPNS_STATE_ONLINE) return 0;
  struct cpns_entity_rec off = *e;
  off.state = CPNS_STATE_OFFLINE;
  off.expires_at = 0;
  srv->store->ops->entity_put(srv->store, &off);
  status__entity_offline(srv, e->pn, e->id); /* its observers are told */
  return 0;
}

static int pn_expired(void *arg, const struct cpns_pn_rec *p) {
  struct server *srv = arg;
  log_notice(MOD, "PN %s: gateway %s stopped refreshing; PN offline", p->id, p->gw);
  srv->store->ops->entity_list(srv->store, p->id, entity_offline, srv);
  gwlinks__drop_pn(srv->links, p->id);
  return 0;
}

void inventory__expire(void *arg) {
  struct server *srv = arg;
  srv->store->ops->expire(srv->store, now_s(), pn_expired, NULL, srv);
}

/* A PN GW terminates its PNEs' DTLS sessions, so only it can speak for
 * them at the server: for a PNE registered in its PN (not merely "added"),
 * and never for an identity the server knows with another role or PN. */
bool inventory__delegate(void *arg, const struct cpns_key_entry *caller, const char *identity,
                         struct cpns_key_entry *out) {
  struct server *srv = arg;
  if (caller->role != CPNS_PEER_GW || !caller->pn[0] || strcmp(caller->identity, identity) == 0)
    return false;
  struct cpns_entity_rec e;
  if (srv->store->ops->entity_get(srv->store, caller->pn, identity, &e) ||
      e.state == CPNS_STATE_ADDED)
    return false;
  const struct cpns_key_entry *k =
      cpns_keyring_find(srv->keyring, identity, strnlen(identity, CPNS_ID_MAX + 1));
  if (k && (k->role != CPNS_PEER_PNE || strcmp(k->pn, caller->pn) != 0)) return false;
  struct cpns_credential c;
  int rc = srv->store->ops->cred_get(srv->store, identity, &c);
  bool other = rc == 0 && (strcmp(c.role, "pne") != 0 || strcmp(c.pn, caller->pn) != 0);
  OPENSSL_cleanse(&c, sizeof c);
  if (other || (rc && rc != CPNS_ERR_NOTFOUND)) return false;
  snprintf(out->identity, sizeof out->identity, "%s", identity);
  snprintf(out->pn, sizeof out->pn, "%s", caller->pn);
  out->role = CPNS_PEER_PNE;
  return true;
}

int inventory__init(struct server *srv) {
  struct cpns_node *n = srv->node;
  cpns_node_set_delegation(n, inventory__delegate, srv);
  int rc = 0;
  enum {
    OP = CPNS_REL_OPERATOR,
    OWN_GW = CPNS_REL_GW_OF_PN,
    READER = CPNS_REL_READER,
  };
  cpns_node_set_relations(n, relations, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "entity", CPNS_REL_ANY, "read", get_self, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns", OP | CPNS_REL_GW, "list PNs", get_pns, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*", OP | OWN_GW | READER,
                           "read this PN's inventory", get_pn, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "pns/*", OWN_GW, "register this PN", put_pn, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "pns/*", OP | OWN_GW, "remove this PN",
                           delete_pn, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/gw", OP, "query gateways", get_pn_gw, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/readers", OP | OWN_GW,
                           "see who reads this PN", get_readers, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "pns/*/readers", OP | OWN_GW,
                           "change who reads this PN", put_readers, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "pns/*/entities", OP | OWN_GW,
                           "add entities to this PN", add_entity_req, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/entities/*", OP | OWN_GW | READER,
                           "read this PN's inventory", get_entity, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "pns/*/entities/*", OWN_GW,
                           "register entities in this PN", put_entity, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "pns/*/entities/*", OP | OWN_GW,
                           "remove entities from this PN", delete_entity, srv);
  rc |= cpns_node_add_link(n, "entity", "rt=\"cpns.server\";ct=\"60 50\"");
  rc |= cpns_node_add_link(n, "pns", "rt=\"cpns.inventory\";ct=\"60 50\"");
  rc |= cpns_node_every(n, 1000, inventory__expire, srv);
  return rc ? CPNS_ERR_LIMIT : 0;
}
