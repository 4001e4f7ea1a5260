/* SPDX-License-Identifier: Apache-2.0 */
/* The authority of Service Groups and their Group Keys (see groups.h): the
 * server runs it for its groups, a gateway for the local groups of its PN. */
#include "groups.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupkey.h"
#include "log.h"
#include "msg.h"

struct cpns_groups {
  struct cpns_node *node;
  struct cpns_store *store;
  const char *mod;
  long max_members;
  struct cpns_groups_hooks hooks;
};

#define PATH_MAX_LEN (CPNS_ID_MAX + 16)

static int64_t now_s(void) { return (int64_t)time(NULL); }

static const char *caller_pn(struct cpns_groups *gs, const struct cpns_req *req) {
  return gs->hooks.caller_pn ? gs->hooks.caller_pn(gs->hooks.arg, req) : req->peer->pn;
}

static void key_path(const char *group, char *out, size_t len) {
  snprintf(out, len, "groups/%s/key", group);
}

static void group_path(const char *group, char *out, size_t len) {
  snprintf(out, len, "groups/%s", group);
}

/* Both resources of a group are observable: its membership and its key. */
static int make_observable(struct cpns_groups *gs, const char *group) {
  char path[PATH_MAX_LEN];
  group_path(group, path, sizeof path);
  int rc = cpns_node_observable(gs->node, path);
  key_path(group, path, sizeof path);
  if (!rc) rc = cpns_node_observable(gs->node, path);
  return rc;
}

static void notify(struct cpns_groups *gs, const char *group) {
  char path[PATH_MAX_LEN];
  group_path(group, path, sizeof path);
  cpns_node_notify(gs->node, path);
  key_path(group, path, sizeof path);
  cpns_node_notify(gs->node, path);
}

static void drop_observables(struct cpns_groups *gs, const char *group) {
  char path[PATH_MAX_LEN];
  key_path(group, path, sizeof path);
  cpns_node_observable_remove(gs->node, path);
  group_path(group, path, sizeof path);
  cpns_node_observable_remove(gs->node, path);
}

static int observe_again(void *arg, const char *id) { return make_observable(arg, id); }

int cpns_groups_new(struct cpns_node *node, struct cpns_store *store, const char *log_mod,
                    long max_members, const struct cpns_groups_hooks *hooks,
                    struct cpns_groups **out) {
  struct cpns_groups *gs = calloc(1, sizeof *gs);
  if (!gs) return CPNS_ERR_NOMEM;
  gs->node = node;
  gs->store = store;
  gs->mod = log_mod;
  gs->max_members = max_members > 0 ? max_members : CPNS_GROUP_MEMBERS_MAX_DEFAULT;
  if (hooks) gs->hooks = *hooks;
  /* Groups of an earlier run: their resources are observable again. */
  int rc = store->ops->group_list_ids(store, observe_again, gs);
  if (rc) {
    free(gs);
    return rc < 0 ? rc : CPNS_ERR_LIMIT;
  }
  *out = gs;
  return 0;
}

void cpns_groups_free(struct cpns_groups *gs) { free(gs); }

static bool is_groups_path(const struct cpns_req *req) {
  return req->nseg >= 2 && strcmp(req->seg[0], "groups") == 0;
}

unsigned cpns_groups_relations(struct cpns_groups *gs, const struct cpns_req *req,
                               unsigned wanted) {
  const struct cpns_key_entry *p = req->peer;
  if (!p || !is_groups_path(req) || !cpns_valid_id(req->seg[1])) return 0;
  const char *pn = caller_pn(gs, req);
  bool member_path = req->nseg == 4 && strcmp(req->seg[2], "members") == 0;
  bool self = member_path && strcmp(req->seg[3], p->identity) == 0;
  if (!(wanted & (CPNS_REL_OWNER | CPNS_REL_GROUP_MEMBER | CPNS_REL_JOINER | CPNS_REL_SELF)))
    return 0;
  struct cpns_group_rec g;
  if (gs->store->ops->group_get(gs->store, req->seg[1], &g)) return 0;
  bool open = g.open, owner = strcmp(g.owner, p->identity) == 0 && strcmp(g.pn, pn) == 0;
  OPENSSL_cleanse(&g, sizeof g);
  unsigned rel = owner ? CPNS_REL_OWNER : 0;
  enum cpns_member_state ms;
  char row_pn[CPNS_ID_MAX + 1] = "";
  bool listed = gs->store->ops->member_get(gs->store, req->seg[1], p->identity, &ms, row_pn) == 0;
  bool same_pn = listed && strcmp(row_pn, pn) == 0;
  if (same_pn && ms == CPNS_MEMBER_JOINED) rel |= CPNS_REL_GROUP_MEMBER;
  /* The path names the caller's own membership: not another PN's device of
   * the same name, nor an invitation meant for another PN. */
  bool mine = !listed || same_pn || (ms == CPNS_MEMBER_INVITED && !row_pn[0]);
  if (self && mine) rel |= CPNS_REL_SELF;
  if (self && mine && ((listed && ms == CPNS_MEMBER_INVITED) || open || same_pn))
    rel |= CPNS_REL_JOINER;
  return rel;
}

/* The group in the path, or an answer (404/500) and false. The caller
 * wipes *g. */
static bool load_group(struct cpns_groups *gs, struct cpns_req *req, struct cpns_group_rec *g) {
  int rc = cpns_valid_id(req->seg[1]) ? gs->store->ops->group_get(gs->store, req->seg[1], g)
                                      : CPNS_ERR_NOTFOUND;
  if (rc == 0) return true;
  if (rc == CPNS_ERR_NOTFOUND)
    cpns_reply_error(req, 404, "no such group");
  else
    cpns_reply_error(req, 500, "store failure");
  return false;
}

static int push_str(void *arg, const char *s) {
  return json_array_append_new(arg, json_string(s)) ? 1 : 0;
}

json_t *cpns_groups_member_pns(struct cpns_groups *gs, const char *group) {
  json_t *a = json_array();
  if (a && gs->store->ops->group_member_pns(gs->store, group, push_str, a)) {
    json_decref(a);
    return NULL;
  }
  return a;
}

static void changed(struct cpns_groups *gs, const char *group, const json_t *before,
                    bool deleted) {
  if (!deleted) notify(gs, group);
  if (gs->hooks.changed) gs->hooks.changed(gs->hooks.arg, group, before, deleted);
}

/* ---- create ---- */

struct listed {
  const char *ids[CPNS_GROUP_MEMBERS_MAX_DEFAULT];
  char pns[CPNS_GROUP_MEMBERS_MAX_DEFAULT][CPNS_ID_MAX + 1];
  bool joined[CPNS_GROUP_MEMBERS_MAX_DEFAULT];
  size_t n;
};

/* Reads "members" and "invited" of a handed-over group into *l; answers and
 * returns false on a refusal. */
static bool read_listed(struct cpns_groups *gs, struct cpns_req *req, const char *owner,
                        struct listed *l) {
  static const char *const keys[] = {"members", "invited"};
  for (unsigned k = 0; k < 2; k++) {
    json_t *a = json_object_get(req->body, keys[k]);
    if (!a) continue;
    if (!json_is_array(a)) {
      cpns_reply_error(req, 400, "'%s' must be an array of ids", keys[k]);
      return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
      const char *id = json_string_value(v);
      if (!id || !cpns_valid_id(id)) {
        cpns_reply_error(req, 400, "'%s' must be an array of ids", keys[k]);
        return false;
      }
      if (l->n >= CPNS_GROUP_MEMBERS_MAX_DEFAULT || (long)l->n >= gs->max_members) {
        cpns_reply_error(req, 413, "more than %ld members", gs->max_members);
        return false;
      }
      if (strcmp(id, owner) == 0) continue;
      if (!gs->hooks.may_list_member ||
          !gs->hooks.may_list_member(gs->hooks.arg, req, id, l->pns[l->n])) {
        cpns_reply_error(req, 403, "%s may not list %s as a member", req->peer->identity, id);
        return false;
      }
      if (k == 1) l->pns[l->n][0] = '\0'; /* an invitation is for whoever claims it */
      l->ids[l->n] = id;
      l->joined[l->n] = k == 0;
      l->n++;
    }
  }
  return true;
}

int cpns_group_create_decode(const json_t *body, struct cpns_group_rec *g, uint32_t *after,
                             char *err, size_t errlen) {
  static const char *const fields[] = {"id", "open", "members", "invited", "epoch", NULL};
  char id[CPNS_ID_MAX + 1] = "";
  bool open = false;
  if (cpns_msg_only(body, fields, err, errlen) ||
      cpns_msg_str(body, "id", id, sizeof id, true, err, errlen) ||
      cpns_msg_bool(body, "open", &open, err, errlen))
    return CPNS_ERR_INVAL;
  if (!cpns_valid_id(id)) {
    snprintf(err, errlen, "'id' is not a valid id");
    return CPNS_ERR_INVAL;
  }
  json_t *ej = json_object_get(body, "epoch");
  json_int_t epoch = 0;
  if (ej) {
    epoch = json_is_integer(ej) ? json_integer_value(ej) : -1;
    if (epoch < 0 || epoch >= (json_int_t)UINT32_MAX) {
      snprintf(err, errlen, "'epoch' must be an integer in 0..%u", UINT32_MAX - 1);
      return CPNS_ERR_INVAL;
    }
  }
  static const char *const lists[] = {"members", "invited"};
  for (unsigned k = 0; k < 2; k++) {
    json_t *a = json_object_get(body, lists[k]), *v;
    size_t i;
    bool ok = !a || json_is_array(a);
    if (ok) json_array_foreach(a, i, v) {
        const char *m = json_string_value(v);
        if (!m || strlen(m) != json_string_length(v) || !cpns_valid_id(m)) ok = false;
      }
    if (!ok) {
      snprintf(err, errlen, "'%s' must be an array of ids", lists[k]);
      return CPNS_ERR_INVAL;
    }
  }
  memcpy(g->id, id, sizeof g->id);
  g->open = open;
  *after = (uint32_t)epoch;
  return 0;
}

/* POST /groups {"id", "open"[, "members", "invited", "epoch"]}: the caller
 * becomes owner and first member; the key starts at epoch 1, or after the
 * epoch of a group handed over. */
void cpns_groups_create(struct cpns_req *req, void *arg) {
  struct cpns_groups *gs = arg;
  struct cpns_group_rec g;
  memset(&g, 0, sizeof g);
  uint32_t after = 0;
  char err[CPNS_DIAG_MAX];
  if (!req->body || cpns_group_create_decode(req->body, &g, &after, err, sizeof err)) {
    cpns_reply_error(req, 400, "%s", req->body ? err : "a body {\"id\",\"open\"} is required");
    return;
  }
  struct cpns_group_rec old;
  int rc = gs->store->ops->group_get(gs->store, g.id, &old);
  OPENSSL_cleanse(&old, sizeof old);
  if (rc == 0) {
    cpns_reply_error(req, 409, "group %s exists", g.id);
    return;
  }
  snprintf(g.owner, sizeof g.owner, "%s", req->peer->identity);
  snprintf(g.pn, sizeof g.pn, "%s", caller_pn(gs, req));
  struct listed *l = calloc(1, sizeof *l);
  if (!l) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  if (!read_listed(gs, req, g.owner, l)) {
    free(l);
    return;
  }
  struct cpns_group_key k;
  if (cpns_group_key_new(g.id, after + 1, 0, &k)) {
    free(l);
    cpns_reply_error(req, 500, "cannot make a key");
    return;
  }
  g.epoch = k.epoch;
  memcpy(g.key, k.key, sizeof g.key);
  cpns_group_key_wipe(&k);
  g.created_at = now_s();
  rc = gs->store->ops->group_put(gs->store, &g);
  OPENSSL_cleanse(g.key, sizeof g.key);
  if (!rc) rc = gs->store->ops->member_put(gs->store, g.id, g.owner, g.pn, CPNS_MEMBER_JOINED);
  for (size_t i = 0; !rc && i < l->n; i++)
    rc = gs->store->ops->member_put(gs->store, g.id, l->ids[i], l->pns[i],
                                    l->joined[i] ? CPNS_MEMBER_JOINED : CPNS_MEMBER_INVITED);
  size_t listed = l->n;
  free(l);
  if (!rc) rc = make_observable(gs, g.id);
  if (rc) {
    gs->store->ops->group_delete(gs->store, g.id);
    drop_observables(gs, g.id);
    if (rc == CPNS_ERR_LIMIT)
      cpns_reply_error(req, 503, "group limit reached (limits.max_observables)");
    else
      cpns_reply_error(req, 500, "cannot create the group");
    return;
  }
  log_notice(gs->mod, "group %s created by %s (%s%s%s)", g.id, g.owner,
             g.open ? "open" : "by invitation", listed ? ", handed over with its members" : "",
             "");
  json_t *none = json_array();
  changed(gs, g.id, none, false);
  json_decref(none);
  cpns_reply(req, 201, json_pack("{s:s, s:s, s:b, s:I}", "id", g.id, "owner", g.owner, "open",
                                 g.open, "epoch", (json_int_t)g.epoch));
}

/* ---- read and delete ---- */

struct member_list {
  json_t *members;
  const char *only_pn; /* NULL: all */
};

static int add_member(void *arg, const char *member, const char *pn,
                      enum cpns_member_state state) {
  struct member_list *ml = arg;
  if (ml->only_pn && (state != CPNS_MEMBER_JOINED || strcmp(pn, ml->only_pn) != 0)) return 0;
  json_t *m = ml->only_pn ? json_string(member)
                          : json_pack("{s:s, s:s, s:s}", "id", member, "pn", pn, "state",
                                      cpns_member_state_name(state));
  return json_array_append_new(ml->members, m) ? 1 : 0;
}

/* GET /groups/{id}: the group and its members (observable). */
void cpns_groups_read(struct cpns_req *req, void *arg) {
  struct cpns_groups *gs = arg;
  struct cpns_group_rec g;
  if (!load_group(gs, req, &g)) return;
  OPENSSL_cleanse(g.key, sizeof g.key);
  struct member_list ml = {json_array(), NULL};
  if (gs->store->ops->member_list(gs->store, g.id, add_member, &ml)) {
    json_decref(ml.members);
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  cpns_reply(req, 205,
             json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:s, s:o}", "id", g.id, "owner", g.owner,
                       "pn", g.pn, "open", g.open, "epoch", (json_int_t)g.epoch, "created",
                       (json_int_t)g.created_at, "scope", g.replica ? "server" : "here",
                       "members", ml.members));
}

/* DELETE /groups/{id}: the group, its members and its key go. */
void cpns_groups_delete(struct cpns_req *req, void *arg) {
  struct cpns_groups *gs = arg;
  json_t *before = cpns_groups_member_pns(gs, req->seg[1]);
  int rc = gs->store->ops->group_delete(gs->store, req->seg[1]);
  if (rc) {
    json_decref(before);
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such group" : "store failure");
    return;
  }
  drop_observables(gs, req->seg[1]);
  log_notice(gs->mod, "group %s deleted by %s", req->seg[1], req->peer->identity);
  changed(gs, req->seg[1], before, true);
  json_decref(before);
  cpns_reply(req, 202, NULL);
}

int cpns_groups_forget(struct cpns_groups *gs, const char *group) {
  int rc = gs->store->ops->group_delete(gs->store, group);
  drop_observables(gs, group);
  return rc;
}

/* ---- membership ---- */

struct counter {
  long n;
};

static int count_member(void *arg, const char *member, const char *pn,
                        enum cpns_member_state state) {
  (void)member, (void)pn, (void)state;
  ((struct counter *)arg)->n++;
  return 0;
}

/* POST /groups/{id}/invitations {"id"[, "pn"]}: lets id (of PN pn only,
 * when given) join. */
void cpns_groups_invite(struct cpns_req *req, void *arg) {
  struct cpns_groups *gs = arg;
  static const char *const fields[] = {"id", "pn", NULL};
  char id[CPNS_ID_MAX + 1] = "", pn[CPNS_ID_MAX + 1] = "", err[CPNS_DIAG_MAX];
  if (!req->body || cpns_msg_only(req->body, fields, err, sizeof err) ||
      cpns_msg_str(req->body, "id", id, sizeof id, true, err, sizeof err) ||
      cpns_msg_str(req->body, "pn", pn, sizeof pn, false, err, sizeof err)) {
    cpns_reply_error(req, 400, "%s", req->body ? err : "a body {\"id\"} is required");
    return;
  }
  if (!cpns_valid_id(id) || (pn[0] && !cpns_valid_id(pn))) {
    cpns_reply_error(req, 400, "'%s' is not a valid id", cpns_valid_id(id) ? "pn" : "id");
    return;
  }
  enum cpns_member_state ms;
  if (gs->store->ops->member_get(gs->store, req->seg[1], id, &ms, NULL) == 0 &&
      ms == CPNS_MEMBER_JOINED) {
    cpns_reply_error(req, 409, "%s is a member already", id);
    return;
  }
  struct counter c = {0};
  if (gs->store->ops->member_list(gs->store, req->seg[1], count_member, &c) == 0 &&
      c.n >= gs->max_members) {
    cpns_reply_error(req, 503, "the group has %ld members and invitations (limit)", c.n);
    return;
  }
  int rc = gs->store->ops->member_put(gs->store, req->seg[1], id, pn, CPNS_MEMBER_INVITED);
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such group" : "store failure");
    return;
  }
  log_info(gs->mod, "%s invited to group %s by %s", id, req->seg[1], req->peer->identity);
  char path[PATH_MAX_LEN];
  group_path(req->seg[1], path, sizeof path);
  cpns_node_notify(gs->node, path);
  cpns_reply(req, 201, NULL);
}

/* Changes member's membership (state NULL: removes it) and rotates the key
 * in one store transaction, then tells the observers and the hook. */
static int change_and_rekey(struct cpns_groups *gs, struct cpns_req *req, const char *member,
                            const char *pn, const enum cpns_member_state *state,
                            uint32_t *epoch) {
  struct cpns_group_rec g;
  if (!load_group(gs, req, &g)) return -1;
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
  json_t *before = cpns_groups_member_pns(gs, g.id);
  int rc = gs->store->ops->group_member_change(gs->store, g.id, member, pn, state, k.key, k.epoch,
                                               k.expires);
  *epoch = k.epoch;
  cpns_group_key_wipe(&k);
  if (rc) {
    json_decref(before);
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such member" : "store failure");
    return -1;
  }
  changed(gs, g.id, before, false);
  json_decref(before);
  return 0;
}

/* PUT /groups/{id}/members/{member}: the member itself joins (the rule
 * admits it only when invited or the group is open). */
void cpns_groups_join(struct cpns_req *req, void *arg) {
  struct cpns_groups *gs = arg;
  const char *member = req->seg[3];
  enum cpns_member_state ms;
  if (gs->store->ops->member_get(gs->store, req->seg[1], member, &ms, NULL) == 0 &&
      ms == CPNS_MEMBER_JOINED) {
    cpns_reply(req, 204, NULL); /* already a member: no new key */
    return;
  }
  struct counter c = {0};
  if (gs->store->ops->member_list(gs->store, req->seg[1], count_member, &c) == 0 &&
      c.n >= gs->max_members) {
    cpns_reply_error(req, 503, "the group has %ld members and invitations (limit)", c.n);
    return;
  }
  const enum cpns_member_state joined = CPNS_MEMBER_JOINED;
  uint32_t epoch = 0;
  if (change_and_rekey(gs, req, member, caller_pn(gs, req), &joined, &epoch)) return;
  log_notice(gs->mod, "%s joined group %s; key epoch %u", member, req->seg[1], epoch);
  cpns_reply(req, 201, json_pack("{s:I}", "epoch", (json_int_t)epoch));
}

/* DELETE /groups/{id}/members/{member}: leave (itself) or expel (owner,
 * operator). Withdrawing an invitation needs no new key: an invitee never
 * held one. */
void cpns_groups_remove_member(struct cpns_req *req, void *arg) {
  struct cpns_groups *gs = arg;
  const char *member = req->seg[3];
  enum cpns_member_state ms;
  char pn[CPNS_ID_MAX + 1] = "";
  int rc = cpns_valid_id(member)
               ? gs->store->ops->member_get(gs->store, req->seg[1], member, &ms, pn)
               : CPNS_ERR_NOTFOUND;
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such member" : "store failure");
    return;
  }
  if (ms == CPNS_MEMBER_INVITED) {
    if (gs->store->ops->member_delete(gs->store, req->seg[1], member)) {
      cpns_reply_error(req, 500, "store failure");
      return;
    }
    char path[PATH_MAX_LEN];
    group_path(req->seg[1], path, sizeof path);
    cpns_node_notify(gs->node, path);
    cpns_reply(req, 202, NULL);
    return;
  }
  uint32_t epoch = 0;
  if (change_and_rekey(gs, req, member, pn, NULL, &epoch)) return;
  bool self = strcmp(member, req->peer->identity) == 0;
  log_notice(gs->mod, "%s %s group %s%s%s; key epoch %u", member, self ? "left" : "expelled from",
             req->seg[1], self ? "" : " by ", self ? "" : req->peer->identity, epoch);
  cpns_reply(req, 202, json_pack("{s:I}", "epoch", (json_int_t)epoch));
}

/* ---- keys ---- */

static json_t *key_json(const struct cpns_group_rec *g) {
  struct cpns_group_key k;
  memset(&k, 0, sizeof k);
  snprintf(k.group, sizeof k.group, "%s", g->id);
  k.epoch = g->epoch;
  k.expires = g->key_expires;
  memcpy(k.key, g->key, sizeof k.key);
  json_t *j = cpns_group_key_to_json(&k);
  cpns_group_key_wipe(&k);
  return j;
}

/* GET /groups/{id}/key: the current key, to members (pull; and push, as
 * the notifications of an Observe run this same handler). */
void cpns_groups_read_key(struct cpns_req *req, void *arg) {
  struct cpns_groups *gs = arg;
  struct cpns_group_rec g;
  if (!load_group(gs, req, &g)) return;
  json_t *j = key_json(&g);
  OPENSSL_cleanse(&g, sizeof g);
  if (!j) {
    cpns_reply_error(req, 500, "cannot encode the key");
    return;
  }
  cpns_reply(req, 205, j);
}

/* ---- what a PN's gateway holds ---- */

json_t *cpns_groups_view(struct cpns_groups *gs, const char *group, const char *pn) {
  struct cpns_group_rec g;
  if (gs->store->ops->group_get(gs->store, group, &g)) return NULL;
  struct member_list ml = {json_array(), pn};
  json_t *key = key_json(&g);
  json_t *view = NULL;
  if (ml.members && key && gs->store->ops->member_list(gs->store, group, add_member, &ml) == 0 &&
      json_array_size(ml.members) > 0) {
    view = json_pack("{s:s, s:s, s:s, s:b, s:I, s:O, s:O}", "id", g.id, "owner", g.owner, "pn",
                     g.pn, "open", g.open, "created", (json_int_t)g.created_at, "key", key,
                     "members", ml.members);
  }
  OPENSSL_cleanse(&g, sizeof g);
  json_decref(ml.members);
  json_decref(key);
  return view;
}

void cpns_groups_view_free(json_t *view) { json_decref(view); }

static int group_by_pn(void *arg, const char *member, const char *pn,
                       enum cpns_member_state state) {
  json_t *by_pn = arg;
  if (state != CPNS_MEMBER_JOINED || !pn[0]) return 0;
  json_t *a = json_object_get(by_pn, pn);
  if (!a) {
    a = json_array();
    if (!a || json_object_set_new(by_pn, pn, a)) return 1;
  }
  return json_array_append_new(a, json_string(member)) ? 1 : 0;
}

json_t *cpns_groups_views(struct cpns_groups *gs, const char *group) {
  struct cpns_group_rec g;
  if (gs->store->ops->group_get(gs->store, group, &g)) return NULL;
  json_t *by_pn = json_object(), *key = key_json(&g), *views = json_object();
  bool ok = by_pn && key && views &&
            gs->store->ops->member_list(gs->store, group, group_by_pn, by_pn) == 0;
  const char *pn;
  json_t *members;
  json_object_foreach(by_pn, pn, members) {
    if (!ok) break;
    json_t *v = json_pack("{s:s, s:s, s:s, s:b, s:I, s:O, s:O}", "id", g.id, "owner", g.owner,
                          "pn", g.pn, "open", g.open, "created", (json_int_t)g.created_at, "key",
                          key, "members", members);
    ok = v && json_object_set_new(views, pn, v) == 0;
  }
  OPENSSL_cleanse(&g, sizeof g);
  json_decref(by_pn);
  json_decref(key);
  if (!ok) {
    json_decref(views);
    return NULL;
  }
  return views;
}

int cpns_group_view_decode(const json_t *view, long max_members, struct cpns_group_view *out,
                           char *err, size_t errlen) {
  static const char *const fields[] = {"id", "owner", "pn", "open", "created", "key", "members",
                                       NULL};
  struct cpns_group_view v;
  memset(&v, 0, sizeof v);
  json_int_t created = 0;
  if (cpns_msg_only(view, fields, err, errlen) ||
      cpns_msg_str(view, "id", v.g.id, sizeof v.g.id, true, err, errlen) ||
      cpns_msg_str(view, "owner", v.g.owner, sizeof v.g.owner, true, err, errlen) ||
      cpns_msg_str(view, "pn", v.g.pn, sizeof v.g.pn, false, err, errlen) ||
      cpns_msg_bool(view, "open", &v.g.open, err, errlen))
    return CPNS_ERR_INVAL;
  json_t *cj = json_object_get(view, "created");
  if (cj) created = json_is_integer(cj) ? json_integer_value(cj) : -1;
  json_t *members = json_object_get(view, "members");
  /* The owner and its PN are stored in the replica and compared with
   * callers' identities: ids, as everywhere else. */
  if (!cpns_valid_id(v.g.id) || !cpns_valid_id(v.g.owner) || (v.g.pn[0] && !cpns_valid_id(v.g.pn)) ||
      created < 0 || !json_is_array(members) ||
      json_array_size(members) > (size_t)max_members) {
    snprintf(err, errlen, "bad group view");
    return CPNS_ERR_INVAL;
  }
  struct cpns_group_key k;
  if (cpns_group_key_from_json(json_object_get(view, "key"), &k, err, errlen)) return CPNS_ERR_INVAL;
  if (strcmp(k.group, v.g.id) != 0) {
    cpns_group_key_wipe(&k);
    snprintf(err, errlen, "the key is for another group");
    return CPNS_ERR_INVAL;
  }
  v.g.epoch = k.epoch;
  v.g.key_expires = k.expires;
  memcpy(v.g.key, k.key, sizeof v.g.key);
  cpns_group_key_wipe(&k);
  v.g.created_at = created;
  v.g.replica = true;
  v.n = json_array_size(members);
  v.members = calloc(v.n ? v.n : 1, sizeof *v.members);
  int rc = v.members ? 0 : CPNS_ERR_NOMEM;
  if (rc) snprintf(err, errlen, "out of memory");
  for (size_t i = 0; !rc && i < v.n; i++) {
    v.members[i] = json_string_value(json_array_get(members, i));
    if (!v.members[i] || !cpns_valid_id(v.members[i])) {
      snprintf(err, errlen, "'members' must be an array of ids");
      rc = CPNS_ERR_INVAL;
    }
  }
  if (rc) {
    cpns_group_view_cleanup(&v);
    return rc;
  }
  *out = v;
  return 0;
}

void cpns_group_view_cleanup(struct cpns_group_view *v) {
  OPENSSL_cleanse(&v->g, sizeof v->g);
  free(v->members);
  v->members = NULL;
  v->n = 0;
}

int cpns_groups_apply_view(struct cpns_groups *gs, const json_t *view, const char *pn, char *err,
                           size_t errlen) {
  struct cpns_group_view v;
  int rc = cpns_group_view_decode(view, gs->max_members, &v, err, errlen);
  if (rc) return rc;
  rc = gs->store->ops->group_sync(gs->store, &v.g, pn, v.members, v.n);
  cpns_group_view_cleanup(&v);
  if (rc) {
    if (rc != CPNS_ERR_INVAL) snprintf(err, errlen, "store failure");
    return rc;
  }
  make_observable(gs, json_string_value(json_object_get(view, "id")));
  notify(gs, json_string_value(json_object_get(view, "id")));
  return 0;
}
