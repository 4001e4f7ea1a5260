/* SPDX-License-Identifier: Apache-2.0 */
/* Service Group management at the server (spec 5.5.9) with Group Keys
 * (5.5.7.2; DESIGN "Security"): a gateway (for its PN) or the operator
 * creates a group and becomes its owner and first member; the owner invites
 * identities; an invited identity (anyone, for an open group) joins; a
 * member leaves, or the owner or the operator expels it. Every join, leave
 * and expulsion replaces the group key with a fresh one of the next epoch in
 * the same transaction as the membership change, and the members get it by
 * pull (GET groups/{id}/key) or push (Observe on that resource). Who may do
 * what is decided by the route rules from the relations computed here; the
 * handlers only do the work. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "groupkey.h"
#include "log.h"
#include "msg.h"
#include "server.h"

#define MOD "groups"

static int64_t now_s(void) { return (int64_t)time(NULL); }

static bool is_groups_path(const struct cpns_req *req) {
  return req->nseg >= 2 && strcmp(req->seg[0], "groups") == 0;
}

unsigned groups__relations(struct server *srv, const struct cpns_req *req, unsigned wanted) {
  const struct cpns_key_entry *p = req->peer;
  unsigned rel = 0;
  if (!is_groups_path(req) || !cpns_valid_id(req->seg[1])) return 0;
  bool member_path = req->nseg == 4 && strcmp(req->seg[2], "members") == 0;
  if (member_path && strcmp(req->seg[3], p->identity) == 0) rel |= CPNS_REL_SELF;
  if (!(wanted & (CPNS_REL_OWNER | CPNS_REL_GROUP_MEMBER | CPNS_REL_JOINER))) return rel;
  struct cpns_group_rec g;
  if (srv->store->ops->group_get(srv->store, req->seg[1], &g)) return rel;
  bool open = g.open, owner = strcmp(g.owner, p->identity) == 0;
  OPENSSL_cleanse(&g, sizeof g);
  if (owner) rel |= CPNS_REL_OWNER;
  enum cpns_member_state ms;
  bool listed = srv->store->ops->member_get(srv->store, req->seg[1], p->identity, &ms) == 0;
  if (listed && ms == CPNS_MEMBER_JOINED) rel |= CPNS_REL_GROUP_MEMBER;
  if ((rel & CPNS_REL_SELF) && (listed || open)) rel |= CPNS_REL_JOINER;
  return rel;
}

static void key_path(const char *group, char *out, size_t len) {
  snprintf(out, len, "groups/%s/key", group);
}

/* The group in the path, or an answer (404/500) and false. The caller
 * wipes *g. */
static bool load_group(struct server *srv, struct cpns_req *req, struct cpns_group_rec *g) {
  int rc = cpns_valid_id(req->seg[1]) ? srv->store->ops->group_get(srv->store, req->seg[1], g)
                                      : CPNS_ERR_NOTFOUND;
  if (rc == 0) return true;
  if (rc == CPNS_ERR_NOTFOUND)
    cpns_reply_error(req, 404, "no such group");
  else
    cpns_reply_error(req, 500, "store failure");
  return false;
}

/* POST /groups {"id","open"}: the caller becomes owner and first member;
 * the key starts at epoch 1. */
static void post_group(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  static const char *const fields[] = {"id", "open", NULL};
  struct cpns_group_rec g;
  memset(&g, 0, sizeof g);
  char err[CPNS_DIAG_MAX];
  if (!req->body || cpns_msg_only(req->body, fields, err, sizeof err) ||
      cpns_msg_str(req->body, "id", g.id, sizeof g.id, true, err, sizeof err) ||
      cpns_msg_bool(req->body, "open", &g.open, err, sizeof err)) {
    cpns_reply_error(req, 400, "%s", req->body ? err : "a body {\"id\",\"open\"} is required");
    return;
  }
  if (!cpns_valid_id(g.id)) {
    cpns_reply_error(req, 400, "'id' is not a valid id");
    return;
  }
  struct cpns_group_rec old;
  int rc = srv->store->ops->group_get(srv->store, g.id, &old);
  OPENSSL_cleanse(&old, sizeof old);
  if (rc == 0) {
    cpns_reply_error(req, 409, "group %s exists", g.id);
    return;
  }
  struct cpns_group_key k;
  if (cpns_group_key_new(g.id, 1, 0, &k)) {
    cpns_reply_error(req, 500, "cannot make a key");
    return;
  }
  snprintf(g.owner, sizeof g.owner, "%s", req->peer->identity);
  snprintf(g.pn, sizeof g.pn, "%s", req->peer->pn);
  g.epoch = k.epoch;
  memcpy(g.key, k.key, sizeof g.key);
  cpns_group_key_wipe(&k);
  g.created_at = now_s();
  rc = srv->store->ops->group_put(srv->store, &g);
  OPENSSL_cleanse(g.key, sizeof g.key);
  if (!rc) rc = srv->store->ops->member_put(srv->store, g.id, g.owner, CPNS_MEMBER_JOINED);
  char path[CPNS_ID_MAX + 16];
  key_path(g.id, path, sizeof path);
  if (!rc) rc = cpns_node_observable(srv->node, path);
  if (rc) {
    srv->store->ops->group_delete(srv->store, g.id);
    if (rc == CPNS_ERR_LIMIT)
      cpns_reply_error(req, 503, "group limit reached (limits.max_observables)");
    else
      cpns_reply_error(req, 500, "cannot create the group");
    return;
  }
  log_notice(MOD, "group %s created by %s (%s)", g.id, g.owner, g.open ? "open" : "by invitation");
  cpns_reply(req, 201, json_pack("{s:s, s:s, s:b, s:I}", "id", g.id, "owner", g.owner, "open",
                                 g.open, "epoch", (json_int_t)g.epoch));
}

static int add_member(void *arg, const char *member, enum cpns_member_state state) {
  json_array_append_new(arg, json_pack("{s:s, s:s}", "id", member, "state",
                                       cpns_member_state_name(state)));
  return 0;
}

/* GET /groups/{id} */
static void get_group(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_group_rec g;
  if (!load_group(srv, req, &g)) return;
  OPENSSL_cleanse(g.key, sizeof g.key);
  json_t *members = json_array();
  if (srv->store->ops->member_list(srv->store, g.id, add_member, members)) {
    json_decref(members);
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  cpns_reply(req, 205, json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:o}", "id", g.id, "owner", g.owner,
                                 "pn", g.pn, "open", g.open, "epoch", (json_int_t)g.epoch,
                                 "created", (json_int_t)g.created_at, "members", members));
}

/* DELETE /groups/{id}: the group, its members and its key go. */
static void delete_group(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  int rc = srv->store->ops->group_delete(srv->store, req->seg[1]);
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such group" : "store failure");
    return;
  }
  char path[CPNS_ID_MAX + 16];
  key_path(req->seg[1], path, sizeof path);
  cpns_node_observable_remove(srv->node, path);
  log_notice(MOD, "group %s deleted by %s", req->seg[1], req->peer->identity);
  cpns_reply(req, 202, NULL);
}

/* POST /groups/{id}/invitations {"id"}: lets id join. */
static void post_invitation(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  static const char *const fields[] = {"id", NULL};
  char id[CPNS_ID_MAX + 1] = "", err[CPNS_DIAG_MAX];
  if (!req->body || cpns_msg_only(req->body, fields, err, sizeof err) ||
      cpns_msg_str(req->body, "id", id, sizeof id, true, err, sizeof err)) {
    cpns_reply_error(req, 400, "%s", req->body ? err : "a body {\"id\"} is required");
    return;
  }
  if (!cpns_valid_id(id)) {
    cpns_reply_error(req, 400, "'id' is not a valid id");
    return;
  }
  enum cpns_member_state ms;
  if (srv->store->ops->member_get(srv->store, req->seg[1], id, &ms) == 0 && ms == CPNS_MEMBER_JOINED) {
    cpns_reply_error(req, 409, "%s is a member already", id);
    return;
  }
  int rc = srv->store->ops->member_put(srv->store, req->seg[1], id, CPNS_MEMBER_INVITED);
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such group" : "store failure");
    return;
  }
  log_info(MOD, "%s invited to group %s by %s", id, req->seg[1], req->peer->identity);
  cpns_reply(req, 201, NULL);
}

/* Changes member's membership (state NULL: removes it) and rotates the key
 * in one store transaction, then pushes the new key to the observers. */
static int change_and_rekey(struct server *srv, struct cpns_req *req, const char *member,
                            const enum cpns_member_state *state, uint32_t *epoch) {
  struct cpns_group_rec g;
  if (!load_group(srv, req, &g)) return -1;
  OPENSSL_cleanse(g.key, sizeof g.key);
  if (g.epoch == UINT32_MAX) {
    cpns_reply_error(req, 503, "the group's key epochs are exhausted; create a new group");
    return -1;
  }
  struct cpns_group_key k;
  if (cpns_group_key_new(g.id, g.epoch + 1, 0, &k)) {
    cpns_reply_error(req, 500, "cannot make a key");
    return -1;
  }
  int rc = srv->store->ops->group_member_change(srv->store, g.id, member, state, k.key, k.epoch,
                                                k.expires);
  *epoch = k.epoch;
  cpns_group_key_wipe(&k);
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such member" : "store failure");
    return -1;
  }
  char path[CPNS_ID_MAX + 16];
  key_path(g.id, path, sizeof path);
  cpns_node_notify(srv->node, path);
  return 0;
}

/* PUT /groups/{id}/members/{member}: the member itself joins (the rule
 * admits it only when invited or the group is open). */
static void put_member(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  const char *member = req->seg[3];
  enum cpns_member_state ms;
  if (srv->store->ops->member_get(srv->store, req->seg[1], member, &ms) == 0 &&
      ms == CPNS_MEMBER_JOINED) {
    cpns_reply(req, 204, NULL); /* already a member: no new key */
    return;
  }
  const enum cpns_member_state joined = CPNS_MEMBER_JOINED;
  uint32_t epoch = 0;
  if (change_and_rekey(srv, req, member, &joined, &epoch)) return;
  log_notice(MOD, "%s joined group %s; key epoch %u", member, req->seg[1], epoch);
  cpns_reply(req, 201, json_pack("{s:I}", "epoch", (json_int_t)epoch));
}

/* DELETE /groups/{id}/members/{member}: leave (itself) or expel (owner,
 * operator). Withdrawing an invitation needs no new key: an invitee never
 * held one. */
static void delete_member(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  const char *member = req->seg[3];
  enum cpns_member_state ms;
  int rc = cpns_valid_id(member) ? srv->store->ops->member_get(srv->store, req->seg[1], member, &ms)
                                 : CPNS_ERR_NOTFOUND;
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such member" : "store failure");
    return;
  }
  if (ms == CPNS_MEMBER_INVITED) {
    if (srv->store->ops->member_delete(srv->store, req->seg[1], member)) {
      cpns_reply_error(req, 500, "store failure");
      return;
    }
    cpns_reply(req, 202, NULL);
    return;
  }
  uint32_t epoch = 0;
  if (change_and_rekey(srv, req, member, NULL, &epoch)) return;
  bool self = strcmp(member, req->peer->identity) == 0;
  log_notice(MOD, "%s %s group %s%s%s; key epoch %u", member, self ? "left" : "expelled from",
             req->seg[1], self ? "" : " by ", self ? "" : req->peer->identity, epoch);
  cpns_reply(req, 202, json_pack("{s:I}", "epoch", (json_int_t)epoch));
}

/* GET /groups/{id}/key: the current key, to members (pull; and push, as
 * the notifications of an Observe run this same handler). */
static void get_key(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_group_rec g;
  if (!load_group(srv, req, &g)) return;
  struct cpns_group_key k;
  memset(&k, 0, sizeof k);
  snprintf(k.group, sizeof k.group, "%s", g.id);
  k.epoch = g.epoch;
  k.expires = g.key_expires;
  memcpy(k.key, g.key, sizeof k.key);
  OPENSSL_cleanse(&g, sizeof g);
  json_t *j = cpns_group_key_to_json(&k);
  cpns_group_key_wipe(&k);
  if (!j) {
    cpns_reply_error(req, 500, "cannot encode the key");
    return;
  }
  cpns_reply(req, 205, j);
}

static int make_observable(void *arg, const char *id) {
  struct server *srv = arg;
  char path[CPNS_ID_MAX + 16];
  key_path(id, path, sizeof path);
  return cpns_node_observable(srv->node, path);
}

int groups__init(struct server *srv) {
  struct cpns_node *n = srv->node;
  const unsigned op = CPNS_REL_OPERATOR, owner = CPNS_REL_OWNER, member = CPNS_REL_GROUP_MEMBER;
  int rc = 0;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "groups", op | CPNS_REL_GW, "create groups",
                           post_group, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "groups/*", op | owner | member,
                           "read this group", get_group, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "groups/*", op | owner, "delete this group",
                           delete_group, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "groups/*/invitations", owner,
                           "invite to this group", post_invitation, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "groups/*/members/*", CPNS_REL_JOINER,
                           "join this group", put_member, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "groups/*/members/*",
                           op | owner | CPNS_REL_SELF, "remove members of this group", delete_member,
                           srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "groups/*/key", member,
                           "read this group's key", get_key, srv);
  rc |= cpns_node_add_link(n, "groups", "rt=\"cpns.groups\";ct=\"60 50\"");
  /* Groups of an earlier run: their key resources are observable again. */
  if (!rc && srv->store->ops->group_list_ids(srv->store, make_observable, srv)) rc = 1;
  return rc ? CPNS_ERR_LIMIT : 0;
}
