/* SPDX-License-Identifier: Apache-2.0 */
/* Service Group management at the server (spec 5.5.9) with Group Keys
 * (5.5.7.2; DESIGN "Security"). The membership and key logic is the group
 * authority of lib/groups.c; this file declares who may call what, and keeps
 * the gateways informed: a PN GW holds a replica of every group that has
 * members in its PN (their ids and the key), so that it can serve the key to
 * its PNEs by pull and push, and go on doing so while the server is away.
 * After every change the server sends each such PN's gateway its new view
 * (CPNS-7 PUT groups/{id}), or DELETE when the PN has no member left; a
 * gateway that was offline asks for all its views (GET groups) when it
 * registers again. */
#include <stdio.h>
#include <string.h>

#include "groups.h"
#include "log.h"
#include "msg.h"
#include "server.h"

#define MOD "groups"

static const char *caller_pn(void *arg, const struct cpns_req *req) {
  (void)arg;
  return req->peer->pn;
}

/* A group handed over by a gateway (its local group, made while the server
 * was away) may list members of the gateway's PN only, as the server's
 * inventory knows them. */
static bool may_list_member(void *arg, const struct cpns_req *req, const char *member,
                            char pn[CPNS_ID_MAX + 1]) {
  struct server *srv = arg;
  const struct cpns_key_entry *p = req->via ? req->via : req->peer;
  if (p->role != CPNS_PEER_GW || !p->pn[0]) return false;
  struct cpns_entity_rec e;
  if (srv->store->ops->entity_get(srv->store, p->pn, member, &e)) return false;
  snprintf(pn, CPNS_ID_MAX + 1, "%s", p->pn);
  return true;
}

struct sync_ctx {
  struct server *srv;
  const char *group;
  json_t *views;
};

static void tell_pn(struct sync_ctx *c, const char *pn) {
  char path[CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "groups/%s", c->group);
  json_t *view = c->views ? json_object_get(c->views, pn) : NULL;
  inventory__tell_gateway(c->srv, pn, view ? COAP_REQUEST_CODE_PUT : COAP_REQUEST_CODE_DELETE,
                          path, view);
}

/* True when pn's gateway is connected, so that it can be told now; one that
 * is not asks for all its views when it registers again. */
static bool linked(struct server *srv, const char *pn) {
  return pn && gwlinks__get(srv->links, pn) != NULL;
}

static bool any_linked(struct server *srv, const json_t *pns) {
  size_t i;
  json_t *v;
  json_array_foreach(pns, i, v) if (linked(srv, json_string_value(v))) return true;
  return false;
}

/* Every connected PN that had or has members gets its new view (or a
 * DELETE). The views are built only when some such PN is connected. */
static void changed(void *arg, const char *group, const json_t *before, bool deleted) {
  struct server *srv = arg;
  json_t *after = deleted ? json_array() : cpns_groups_member_pns(srv->groups, group);
  if (!after || (!any_linked(srv, before) && !any_linked(srv, after))) {
    json_decref(after);
    return;
  }
  struct sync_ctx c = {srv, group, deleted ? NULL : cpns_groups_views(srv->groups, group)};
  size_t i;
  json_t *v;
  json_array_foreach(before, i, v) {
    const char *pn = json_string_value(v);
    if (linked(srv, pn) && !(c.views && json_object_get(c.views, pn))) tell_pn(&c, pn);
  }
  const char *pn;
  json_object_foreach(c.views, pn, v) if (linked(srv, pn)) tell_pn(&c, pn);
  cpns_groups_view_free(c.views);
  json_decref(after);
}

unsigned groups__relations(struct server *srv, const struct cpns_req *req, unsigned wanted) {
  unsigned rel = cpns_groups_relations(srv->groups, req, wanted);
  if (req->via && req->peer->role == CPNS_PEER_PNE) rel |= CPNS_REL_VIA_GW;
  return rel;
}

struct list_ctx {
  struct server *srv;
  json_t *out;
  const char *pn; /* NULL: the operator's list of ids */
  unsigned n;
  bool truncated;
};

static int list_one(void *arg, const char *id) {
  struct list_ctx *c = arg;
  if (c->n >= CPNS_GROUP_LIST_MAX) {
    c->truncated = true;
    return 1;
  }
  json_t *item = c->pn ? cpns_groups_view(c->srv->groups, id, c->pn) : json_string(id);
  if (item) {
    json_array_append_new(c->out, item);
    c->n++;
  }
  return 0;
}

/* GET /groups: to a PN GW, its views of every group with members in its PN
 * (what it holds; keys included, inside its DTLS session); to the operator,
 * the ids of all groups. At most CPNS_GROUP_LIST_MAX. */
static void get_groups(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  bool gw = req->peer->role == CPNS_PEER_GW && !req->via;
  struct list_ctx c = {srv, json_array(), gw ? req->peer->pn : NULL, 0, false};
  int rc = gw ? srv->store->ops->group_ids_of_pn(srv->store, c.pn, list_one, &c)
              : srv->store->ops->group_list_ids(srv->store, list_one, &c);
  if (rc < 0) {
    json_decref(c.out);
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  cpns_reply(req, 205, json_pack("{s:o, s:b}", "groups", c.out, "truncated", c.truncated));
}

int groups__init(struct server *srv) {
  struct cpns_groups_hooks hooks = {caller_pn, may_list_member, changed, srv};
  int rc = cpns_groups_new(srv->node, srv->store, MOD, srv->conf.max_group_members, &hooks,
                           &srv->groups);
  if (rc) return rc;
  struct cpns_node *n = srv->node;
  struct cpns_groups *gs = srv->groups;
  const unsigned op = CPNS_REL_OPERATOR, owner = CPNS_REL_OWNER, member = CPNS_REL_GROUP_MEMBER;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "groups", op | CPNS_REL_GW, "list groups",
                           get_groups, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "groups", op | CPNS_REL_GW | CPNS_REL_VIA_GW,
                           "create groups", cpns_groups_create, gs);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "groups/*", op | owner | member,
                           "read this group", cpns_groups_read, gs);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "groups/*", op | owner, "delete this group",
                           cpns_groups_delete, gs);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "groups/*/invitations", owner,
                           "invite to this group", cpns_groups_invite, gs);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "groups/*/members/*", CPNS_REL_JOINER,
                           "join this group", cpns_groups_join, gs);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "groups/*/members/*",
                           op | owner | CPNS_REL_SELF, "remove members of this group",
                           cpns_groups_remove_member, gs);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "groups/*/key", member,
                           "read this group's key", cpns_groups_read_key, gs);
  rc |= cpns_node_add_link(n, "groups", "rt=\"cpns.groups\";ct=\"60 50\"");
  return rc ? CPNS_ERR_LIMIT : 0;
}

void groups__free(struct server *srv) {
  cpns_groups_free(srv->groups);
  srv->groups = NULL;
}
