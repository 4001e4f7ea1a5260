/* SPDX-License-Identifier: Apache-2.0 */
/* Device capabilities at the gateway (spec 5.5.1). The PNEs of the PN
 * report theirs on CPNS-1 (PUT the whole document at registration, PATCH
 * what changed afterwards); the gateway keeps them (lib/capstore.h, the
 * same holder as the server's), serves them to the PN's members with
 * Observe, relays reads of other PNs to the server, and reports its own
 * capabilities, read from its host every [capabilities] period.
 *
 * Every change is committed here before it is acknowledged, then carried
 * to the server by the ordered change queue of upstream.c (UP_CAPS): a
 * merge patch from what the server acknowledged last, or the whole
 * document when the server holds none or another revision (4.04, 4.12).
 * What the server acknowledged is remembered in memory only. After each
 * registration at the server every document is reported again: whole
 * after a restart of the gateway; else what changed meanwhile, or, when
 * nothing did, an empty patch that confirms the server still holds that
 * revision. So nothing is lost while the server is away, and a server that
 * lost its copy gets it back. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capabilities.h"
#include "capstore.h"
#include "gw.h"
#include "hostcaps.h"
#include "log.h"
#include "msg.h"

#define MOD "caps"

/* What the server acknowledged of one entity's document. */
struct synced {
  char id[CPNS_ID_MAX + 1];
  json_t *doc;  /* NULL: a free slot */
  uint64_t rev; /* the server's revision of it */
  bool verify;  /* not confirmed since the last registration */
};

struct gw_caps {
  struct gw *gw;
  struct cpns_capstore *store;
  struct cpns_hostcaps *host;
  struct synced *synced;
  size_t nsynced; /* slots: limits.max_entities */
  /* The request upstream.c has in flight (one at a time). */
  char flying_id[CPNS_ID_MAX + 1];
  json_t *flying_doc;
  bool flying_patch;
  time_t next_read;
};

static struct gw_caps G;

static struct synced *synced_find(const char *id) {
  for (size_t i = 0; i < G.nsynced; i++)
    if (G.synced[i].doc && strcmp(G.synced[i].id, id) == 0) return &G.synced[i];
  return NULL;
}

static void synced_drop(const char *id) {
  struct synced *s = synced_find(id);
  if (!s) return;
  json_decref(s->doc);
  s->doc = NULL;
}

/* Takes doc. Without a free slot (more entities than configured) the
 * document is simply sent whole next time. */
static void synced_set(const char *id, json_t *doc, uint64_t rev) {
  struct synced *s = synced_find(id);
  for (size_t i = 0; !s && i < G.nsynced; i++)
    if (!G.synced[i].doc) s = &G.synced[i];
  if (!s) {
    json_decref(doc);
    return;
  }
  json_decref(s->doc);
  snprintf(s->id, sizeof s->id, "%s", id);
  s->doc = doc;
  s->rev = rev;
  s->verify = false;
}

/* While the server is away nothing is queued: the registration that
 * follows sends every document (caps__reconcile), after its entity. */
static void changed(void *arg, const char *pn, const char *id) {
  (void)pn;
  if (upstream__ready(arg)) upstream__queue(arg, UP_CAPS, id);
}

/* ---- upstream (called by upstream.c) ---- */

int caps__upstream_prepare(struct gw *gw, const char *id, coap_pdu_code_t *method, char *query,
                           size_t qlen, json_t **body) {
  *body = NULL;
  query[0] = '\0';
  json_decref(G.flying_doc);
  G.flying_doc = NULL;
  struct cpns_caps_rec *rec = malloc(sizeof *rec);
  if (!rec) return 1;
  char err[CPNS_DIAG_MAX];
  int rc = gw->store->ops->caps_get(gw->store, gw->conf.pn, id, rec);
  json_t *doc = NULL;
  if (!rc) rc = cpns_capdoc_parse_text(rec->doc, &doc, err, sizeof err);
  free(rec);
  if (rc) {
    /* Gone since (the entity left): nothing to send. */
    if (rc != CPNS_ERR_NOTFOUND) log_err(MOD, "stored capabilities of %s: %s", id, err);
    synced_drop(id);
    return 1;
  }
  struct synced *s = synced_find(id);
  if (s) {
    json_t *patch = cpns_capdoc_diff(s->doc, doc);
    if (patch && cpns_capdoc_patch_empty(patch) && !s->verify) {
      json_decref(patch);
      json_decref(doc);
      return 1; /* the server has it already */
    }
    /* After a registration an unchanged document is confirmed with an
     * empty patch: the server answers 2.04 if it still holds that
     * revision, and 4.04 or 4.12 if it lost it (then it goes whole). */
    if (patch) {
      *method = COAP_REQUEST_CODE_PATCH;
      snprintf(query, qlen, "base=%llu", (unsigned long long)s->rev);
      *body = patch;
    }
  }
  if (!*body) {
    *method = COAP_REQUEST_CODE_PUT;
    *body = json_incref(doc);
  }
  snprintf(G.flying_id, sizeof G.flying_id, "%s", id);
  G.flying_doc = doc;
  G.flying_patch = *method == COAP_REQUEST_CODE_PATCH;
  return 0;
}

bool caps__upstream_done(struct gw *gw, const char *id, int code, const json_t *body) {
  (void)gw;
  json_t *doc = strcmp(G.flying_id, id) == 0 ? G.flying_doc : NULL;
  G.flying_doc = NULL;
  json_t *rev = json_object_get(body, "rev");
  if ((code == 201 || code == 204) && doc && json_is_integer(rev) && json_integer_value(rev) > 0) {
    synced_set(id, doc, (uint64_t)json_integer_value(rev));
    return false;
  }
  json_decref(doc);
  synced_drop(id);
  if (G.flying_patch && (code == 404 || code == 412)) {
    /* The server holds none, or another revision: the whole document next. */
    log_info(MOD, "server answered %d to a patch of %s's capabilities; sending them whole", code, id);
    return true;
  }
  if (code >= 400)
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "server answered %d to the capabilities of %s", code, id);
  return false;
}

static int queue_caps(void *arg, const char *pn, const char *id) {
  struct gw *gw = arg;
  if (strcmp(pn, gw->conf.pn) == 0) upstream__queue(gw, UP_CAPS, id);
  return 0;
}

void caps__reconcile(struct gw *gw) {
  for (size_t i = 0; i < G.nsynced; i++) G.synced[i].verify = true;
  gw->store->ops->caps_keys(gw->store, queue_caps, gw);
}

/* ---- CPNS-1 ---- */

static bool is_mine(const struct gw *gw, const char *pn) { return strcmp(pn, gw->conf.pn) == 0; }

/* Reads of another PN go to the server, which decides (as for its
 * inventory); the server itself only asks about ours. */
static bool relayed_if_remote(struct gw *gw, struct cpns_req *req) {
  if (!cpns_valid_id(req->seg[1]) || is_mine(gw, req->seg[1])) return false;
  if (req->peer->role == CPNS_PEER_SERVER)
    cpns_reply_error(req, 404, "not this gateway's PN");
  else
    cpns_relay(req, upstream__session(gw));
  return true;
}

static void get_one(struct cpns_req *req, void *arg) {
  if (!relayed_if_remote(arg, req)) cpns_capstore_get(req, G.store);
}

static void get_list(struct cpns_req *req, void *arg) {
  if (!relayed_if_remote(arg, req)) cpns_capstore_list(req, G.store);
}

/* A PNE reports its own, in this gateway's PN only. */
static bool own_report(struct gw *gw, struct cpns_req *req) {
  if (!cpns_valid_id(req->seg[1]) || !is_mine(gw, req->seg[1])) {
    cpns_reply_error(req, 404, "this gateway serves PN %s", gw->conf.pn);
    return false;
  }
  if (req->peer->pn[0] && strcmp(req->peer->pn, req->seg[1]) != 0) {
    cpns_reply_error(req, 403, "%s belongs to another PN", req->peer->identity);
    return false;
  }
  return true;
}

static void put_caps(struct cpns_req *req, void *arg) {
  if (own_report(arg, req)) cpns_capstore_put(req, G.store);
}

static void patch_caps(struct cpns_req *req, void *arg) {
  if (own_report(arg, req)) cpns_capstore_patch(req, G.store);
}

/* ---- the gateway's own ---- */

static struct cpns_hostcaps_config host_config(const struct gw *gw) {
  return (struct cpns_hostcaps_config){gw->conf.caps_host, gw->conf.caps_file,
                                       gw->conf.caps_power_supply, "gateway"};
}

static void read_own(struct gw *gw) {
  json_t *doc = cpns_hostcaps_document(G.host);
  if (!doc) return;
  bool ch = false;
  int rc = cpns_capstore_set(G.store, gw->conf.pn, gw->conf.id, doc, &ch);
  if (rc) CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "own capabilities not kept: %s", cpns_strerror(rc));
  json_decref(doc);
}

static void tick(void *arg) {
  struct gw *gw = arg;
  time_t now = time(NULL);
  if (now < G.next_read) return;
  /* Its own changes are bounded like a PNE's reports. */
  G.next_read = now + (gw->conf.caps_period > gw->conf.caps_min_interval
                           ? gw->conf.caps_period
                           : gw->conf.caps_min_interval);
  read_own(gw);
}

void caps__reload(struct gw *gw) {
  struct cpns_hostcaps_config c = host_config(gw);
  cpns_hostcaps_reload(G.host, &c);
  G.next_read = 0;
  read_own(gw);
}

void caps__pn_reset(struct gw *gw) {
  for (size_t i = 0; i < G.nsynced; i++) {
    json_decref(G.synced[i].doc);
    G.synced[i].doc = NULL;
  }
  if (!G.store) return;
  cpns_capstore_entity_gone(G.store, gw->conf.pn, NULL);
  read_own(gw); /* the gateway is an entity of its new, empty PN at once */
}

void caps__entity_gone(struct gw *gw, const char *id) {
  synced_drop(id);
  if (G.store) cpns_capstore_entity_gone(G.store, gw->conf.pn, id);
}

int caps__init(struct gw *gw) {
  G.gw = gw;
  G.nsynced = (size_t)gw->conf.max_entities + 1;
  G.synced = calloc(G.nsynced, sizeof *G.synced);
  struct cpns_hostcaps_config c = host_config(gw);
  struct cpns_capstore_hooks hooks = {changed, gw};
  struct cpns_capstore_config cfg = {gw->conf.caps_page_max, gw->conf.caps_reports_per_minute,
                                     (size_t)gw->conf.max_entities + 1};
  if (!G.synced || cpns_hostcaps_new(&c, MOD, &G.host) ||
      cpns_capstore_new(gw->node, gw->store, MOD, &cfg, &hooks, &G.store))
    return CPNS_ERR_NOMEM;
  struct cpns_node *n = gw->node;
  /* Readers: as the PN's inventory (pn.c), its members, operators and the
   * server. A PNE reports its own document only. */
  const unsigned readers = CPNS_REL_OPERATOR | CPNS_REL_SERVER | CPNS_REL_MEMBER;
  int rc = 0;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/caps", readers,
                           "read PN capabilities", get_list, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/entities/*/caps", readers,
                           "read PN capabilities", get_one, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "pns/*/entities/*/caps", CPNS_REL_SELF,
                           "report another entity's capabilities", put_caps, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PATCH, "pns/*/entities/*/caps", CPNS_REL_SELF,
                           "report another entity's capabilities", patch_caps, gw);
  rc |= cpns_node_every(n, 1000, tick, gw);
  read_own(gw);
  G.next_read = time(NULL) + gw->conf.caps_period;
  return rc ? CPNS_ERR_LIMIT : 0;
}

void caps__free(void) {
  for (size_t i = 0; i < G.nsynced; i++) json_decref(G.synced[i].doc);
  free(G.synced);
  json_decref(G.flying_doc);
  cpns_capstore_free(G.store);
  cpns_hostcaps_free(G.host);
  memset(&G, 0, sizeof G);
}
