/* SPDX-License-Identifier: Apache-2.0 */
/* Service Groups at the gateway (spec 5.5.9, 5.5.7.2), for the PNEs of its
 * PN on CPNS-1.
 *
 * - Server groups. The server is their authority: a PNE's requests about
 *   them are relayed on the gateway's CPNS-2 session, On-Behalf-Of the PNE,
 *   and the server's rules decide. The gateway holds a replica of each
 *   server group that has members in its PN (their ids and the current key),
 *   which the server pushes after every change (CPNS-7 PUT/DELETE groups/{id})
 *   and which the gateway asks for whole (GET groups) each time it registers.
 *   From it the gateway serves the key to its member PNEs, by pull and by
 *   push (Observe on groups/{id}/key), also while the server is away.
 * - Local groups. A PNE that creates a group while the server is unreachable
 *   gets a local group, whose authority is the gateway (lib/groups.c, the
 *   same code as the server's), among the PNEs of this PN. When the server is
 *   back the gateway hands each local group over (POST groups On-Behalf-Of
 *   its owner, with its members and invitations and its key epoch, so that
 *   epochs only grow); the server's view then replaces it as a replica. A
 *   local group whose id the server already has stays local (logged). */
#include <stdio.h>
#include <string.h>

#include "groups.h"
#include "log.h"
#include "msg.h"
#include "gw.h"

#define MOD "groups"
#define RESYNC_PERIOD_MS 5000

struct gw_groups {
  struct gw *gw;
  struct cpns_groups *auth;
  bool resync;     /* ask for every view at the next tick */
  bool handover;   /* offer the local groups to the server at the next tick */
  unsigned flying; /* requests of a resync or handover in flight */
};

static struct gw_groups G;

static const char *caller_pn(void *arg, const struct cpns_req *req) {
  struct gw *gw = arg;
  return req->peer->role == CPNS_PEER_PNE ? gw->conf.pn : req->peer->pn;
}

/* 1: a local group, 0: a replica, -1: unknown here. */
static int locality(const char *id) {
  struct cpns_group_rec g;
  if (!cpns_valid_id(id) || G.gw->store->ops->group_get(G.gw->store, id, &g)) return -1;
  bool replica = g.replica;
  memset(&g, 0, sizeof g);
  return replica ? 0 : 1;
}

unsigned groups__relations(struct gw *gw, const struct cpns_req *req, unsigned wanted,
                           bool member_of_pn) {
  (void)gw;
  if (req->nseg < 1 || strcmp(req->seg[0], "groups") != 0 || req->peer->role != CPNS_PEER_PNE)
    return 0;
  unsigned rel = req->nseg >= 2 ? cpns_groups_relations(G.auth, req, wanted) : 0;
  if (member_of_pn && (req->nseg < 2 || locality(req->seg[1]) != 1)) rel |= CPNS_REL_RELAYED;
  return rel;
}

static void relay(struct cpns_req *req) {
  cpns_relay_for(req, upstream__session(G.gw), req->peer->identity);
}

/* ---- CPNS-1 ---- */

/* POST /groups: at the server when it is there, else a local group. */
static void post_group(struct cpns_req *req, void *arg) {
  (void)arg;
  if (upstream__ready(G.gw)) {
    relay(req);
    return;
  }
  log_notice(MOD, "server unreachable: a group of %s is created here, as a local group",
             req->peer->identity);
  cpns_groups_create(req, G.auth);
}

static void get_group(struct cpns_req *req, void *arg) {
  (void)arg;
  if (locality(req->seg[1]) == 1)
    cpns_groups_read(req, G.auth);
  else
    relay(req);
}

/* DELETE /groups/{id}: a PNE's (local, or relayed), or the server's word that
 * this PN has no member left in a server group. */
static void delete_group(struct cpns_req *req, void *arg) {
  (void)arg;
  int where = locality(req->seg[1]);
  if (req->peer->role == CPNS_PEER_SERVER) {
    if (where == 0) {
      cpns_groups_forget(G.auth, req->seg[1]);
      log_info(MOD, "group %s: no member of this PN any more (server)", req->seg[1]);
    }
    cpns_reply(req, 202, NULL);
  } else if (where == 1) {
    cpns_groups_delete(req, G.auth);
  } else {
    relay(req);
  }
}

static void post_invitation(struct cpns_req *req, void *arg) {
  (void)arg;
  if (locality(req->seg[1]) == 1)
    cpns_groups_invite(req, G.auth);
  else
    relay(req);
}

static void put_member(struct cpns_req *req, void *arg) {
  (void)arg;
  if (locality(req->seg[1]) == 1)
    cpns_groups_join(req, G.auth);
  else
    relay(req);
}

static void delete_member(struct cpns_req *req, void *arg) {
  (void)arg;
  if (locality(req->seg[1]) == 1)
    cpns_groups_remove_member(req, G.auth);
  else
    relay(req);
}

/* GET /groups/{id}/key: from the local group or the replica to a member of
 * it; otherwise (the replica may lag behind a join) asked of the server. */
static void get_key(struct cpns_req *req, void *arg) {
  (void)arg;
  unsigned rel = cpns_groups_relations(G.auth, req, CPNS_REL_GROUP_MEMBER);
  int where = locality(req->seg[1]);
  if (where >= 0 && (rel & CPNS_REL_GROUP_MEMBER)) {
    cpns_groups_read_key(req, G.auth);
  } else if (req->notification || where == 1) {
    /* An observer that is no member (any more): the refusal, as a 2.05
     * (see node.c: libcoap 4.3.1 and erroring observers). */
    if (req->notification)
      cpns_reply(req, 205, json_pack("{s:i, s:s}", "error", 403, "diag",
                                     "not a member of this group"));
    else
      cpns_reply_error(req, 403, "%s may not read this group's key", req->peer->identity);
  } else {
    relay(req);
  }
}

/* ---- CPNS-7: the server's views ---- */

/* PUT /groups/{id}: this PN's view of a server group. */
static void put_view(struct cpns_req *req, void *arg) {
  (void)arg;
  char err[CPNS_DIAG_MAX];
  const char *id = req->body ? json_string_value(json_object_get(req->body, "id")) : NULL;
  if (!req->body || !id || strcmp(id, req->seg[1]) != 0) {
    cpns_reply_error(req, 400, "a group view of groups/%s is required", req->seg[1]);
    return;
  }
  if (locality(id) == 1)
    log_notice(MOD, "local group %s handed over: the server's copy replaces it", id);
  int rc = cpns_groups_apply_view(G.auth, req->body, G.gw->conf.pn, err, sizeof err);
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_INVAL ? 400 : 500, "%s", err);
    return;
  }
  cpns_reply(req, 204, NULL);
}

/* ---- resynchronization and handover ---- */

struct kept {
  char ids[CPNS_GROUP_LIST_MAX][CPNS_ID_MAX + 1];
  size_t n;
};

static int keep_id(void *arg, const char *id) {
  struct kept *k = arg;
  if (k->n >= CPNS_GROUP_LIST_MAX) return 1;
  snprintf(k->ids[k->n++], CPNS_ID_MAX + 1, "%s", id);
  return 0;
}

static void views_answer(void *arg, int code, const json_t *body, const char *diag) {
  (void)arg;
  G.flying--;
  json_t *list = body ? json_object_get(body, "groups") : NULL;
  if (code != 205 || !json_is_array(list)) {
    log_warn(MOD, "cannot read this PN's groups from the server: %d %s", code, diag);
    G.resync = true;
    return;
  }
  /* Replicas the server no longer lists go (when it listed them all). */
  struct kept *k = json_is_true(json_object_get(body, "truncated")) ? NULL : calloc(1, sizeof *k);
  if (k && G.gw->store->ops->group_list_ids(G.gw->store, keep_id, k) == 0) {
    for (size_t i = 0; i < k->n; i++) {
      if (locality(k->ids[i]) != 0) continue;
      bool listed = false;
      size_t j;
      json_t *v;
      json_array_foreach(list, j, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        if (id && strcmp(id, k->ids[i]) == 0) listed = true;
      }
      if (!listed) cpns_groups_forget(G.auth, k->ids[i]);
    }
  }
  free(k);
  size_t i;
  json_t *v;
  unsigned applied = 0;
  json_array_foreach(list, i, v) {
    char err[CPNS_DIAG_MAX];
    const char *id = json_string_value(json_object_get(v, "id"));
    if (id && locality(id) == 1) continue; /* ours, handed over separately */
    if (cpns_groups_apply_view(G.auth, v, G.gw->conf.pn, err, sizeof err))
      log_warn(MOD, "a group view from the server is refused: %s", err);
    else
      applied++;
  }
  log_info(MOD, "%u server group(s) with members in PN %s", applied, G.gw->conf.pn);
}

struct handover {
  char id[CPNS_ID_MAX + 1];
};

static void handover_answer(void *arg, int code, const json_t *body, const char *diag) {
  (void)body;
  struct handover *h = arg;
  G.flying--;
  if (code == 201)
    log_notice(MOD, "local group %s handed over to the server", h->id);
  else if (code == 409)
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD,
                "local group %s stays local: the server has a group of that id", h->id);
  else
    G.handover = true; /* e.g. its owner is not registered there yet: again later */
  if (code != 201 && code != 409)
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "cannot hand local group %s over: %d %s", h->id, code,
                diag);
  free(h);
}

struct members_body {
  json_t *members, *invited;
  const char *owner;
};

static int add_listed(void *arg, const char *member, const char *pn,
                      enum cpns_member_state state) {
  (void)pn;
  struct members_body *b = arg;
  if (strcmp(member, b->owner) == 0) return 0;
  json_t *a = state == CPNS_MEMBER_JOINED ? b->members : b->invited;
  return json_array_append_new(a, json_string(member)) ? 1 : 0;
}

static void hand_over(const char *id) {
  struct gw *gw = G.gw;
  struct cpns_group_rec g;
  if (gw->store->ops->group_get(gw->store, id, &g)) return;
  memset(g.key, 0, sizeof g.key);
  struct members_body b = {json_array(), json_array(), g.owner};
  json_t *body = NULL;
  if (gw->store->ops->member_list(gw->store, id, add_listed, &b) == 0)
    body = json_pack("{s:s, s:b, s:O, s:O, s:I}", "id", g.id, "open", g.open, "members",
                     b.members, "invited", b.invited, "epoch", (json_int_t)g.epoch);
  json_decref(b.members);
  json_decref(b.invited);
  struct handover *h = body ? calloc(1, sizeof *h) : NULL;
  if (h) {
    snprintf(h->id, sizeof h->id, "%s", id);
    if (cpns_node_request_for(gw->node, upstream__session(gw), COAP_REQUEST_CODE_POST, "groups",
                              NULL, body, g.owner, handover_answer, h) == 0)
      G.flying++;
    else
      free(h);
  }
  json_decref(body);
}

static void tick(void *arg) {
  (void)arg;
  if (!upstream__ready(G.gw) || G.flying) return;
  struct kept *k = calloc(1, sizeof *k);
  if (!k) return;
  bool due = G.handover;
  G.handover = false;
  if (due && G.gw->store->ops->group_list_ids(G.gw->store, keep_id, k) == 0)
    for (size_t i = 0; i < k->n; i++)
      if (locality(k->ids[i]) == 1) hand_over(k->ids[i]);
  free(k);
  if (G.resync && cpns_node_request(G.gw->node, upstream__session(G.gw), COAP_REQUEST_CODE_GET,
                                    "groups", NULL, NULL, views_answer, NULL) == 0) {
    G.resync = false;
    G.flying++;
  }
}

void groups__registered(struct gw *gw) {
  (void)gw;
  G.resync = true;
  G.handover = true;
}

int groups__init(struct gw *gw) {
  G.gw = gw;
  G.resync = G.handover = true;
  struct cpns_groups_hooks hooks = {caller_pn, NULL, NULL, gw};
  int rc = cpns_groups_new(gw->node, gw->store, MOD, CPNS_GROUP_MEMBERS_MAX_DEFAULT, &hooks,
                           &G.auth);
  if (rc) return rc;
  struct cpns_node *n = gw->node;
  const unsigned relayed = CPNS_REL_RELAYED, owner = CPNS_REL_OWNER;
  const unsigned member = CPNS_REL_GROUP_MEMBER, op = CPNS_REL_OPERATOR;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "groups", CPNS_REL_MEMBER, "create groups",
                           post_group, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "groups/*", owner | member | relayed,
                           "read this group", get_group, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "groups/*", CPNS_REL_SERVER,
                           "hand group views to this gateway", put_view, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "groups/*",
                           op | owner | relayed | CPNS_REL_SERVER, "delete this group",
                           delete_group, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "groups/*/invitations", owner | relayed,
                           "invite to this group", post_invitation, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "groups/*/members/*",
                           CPNS_REL_JOINER | relayed, "join this group", put_member, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "groups/*/members/*",
                           op | owner | CPNS_REL_SELF | relayed, "remove members of this group",
                           delete_member, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "groups/*/key", member | relayed,
                           "read this group's key", get_key, gw);
  rc |= cpns_node_every(n, RESYNC_PERIOD_MS, tick, NULL);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void groups__free(void) {
  cpns_groups_free(G.auth);
  G.auth = NULL;
}
