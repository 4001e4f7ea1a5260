/* SPDX-License-Identifier: Apache-2.0 */
/* The authority of Service Groups (spec 5.5.9) and their Group Keys
 * (5.5.7.2): membership and keys kept in a store, with the CoAP handlers of
 * the groups/... resources. The server is the authority of its groups; a
 * gateway is the authority of the local groups it holds for its own PN while
 * the server is unreachable (gw/groups.c), so both run this same code.
 *
 * A member is an identity with its PN: a PN GW (its PN), a PNE speaking
 * through its gateway (the gateway's PN), an operator (none). Relations
 * compare both, so two PNs that each name a device "phone" never share a
 * membership. Every join, leave and expulsion replaces the key with a fresh
 * one of the next epoch in the same transaction as the membership change;
 * the key resource (groups/{id}/key) and the group resource (groups/{id},
 * its membership) are observable and notified on every change. */
#ifndef CPNS_GROUPS_H
#define CPNS_GROUPS_H

#include <jansson.h>
#include <stdbool.h>

#include "node.h"
#include "store.h"

#define CPNS_GROUP_MEMBERS_MAX_DEFAULT 4096 /* members and invitations of one group */
#define CPNS_GROUP_LIST_MAX 1000            /* groups in one answer of GET /groups */

struct cpns_groups;

struct cpns_groups_hooks {
  /* The PN a caller acts in ("" for none). NULL: the keyring's PN
   * (req->peer->pn). */
  const char *(*caller_pn)(void *arg, const struct cpns_req *req);
  /* May the caller create a group that already lists member (a gateway
   * handing over a group it held while the server was away)? Fills pn (the
   * member's PN) and returns true; NULL refuses every such list. */
  bool (*may_list_member)(void *arg, const struct cpns_req *req, const char *member,
                          char pn[CPNS_ID_MAX + 1]);
  /* After a committed change of a group: before is a JSON array of the PNs
   * that had members before it (borrowed), deleted whether the group went.
   * The observers are notified already. */
  void (*changed)(void *arg, const char *group, const json_t *before, bool deleted);
  void *arg;
};

/* The body of POST groups {"id", "open"?, "epoch"?, "members"?, "invited"?}:
 * the id (a valid id) and open into *g, the epoch of a group handed over
 * (0..UINT32_MAX - 1, 0 when absent) into *after. "members" and "invited",
 * when present, must be arrays of ids (who may be listed is decided by the
 * caller). Returns 0 or CPNS_ERR_INVAL with the reason in err; *g and
 * *after are written only on success. */
int cpns_group_create_decode(const json_t *body, struct cpns_group_rec *g, uint32_t *after,
                             char *err, size_t errlen);

/* A group view as the server sends it to a PN's gateway (see
 * cpns_groups_view), decoded. */
struct cpns_group_view {
  struct cpns_group_rec g;  /* id, owner, pn, open, created, and the key's epoch, bytes, expiry */
  const char **members;     /* n ids, borrowed from the view's tree */
  size_t n;
};
/* Decodes view {"id", "owner", "pn"?, "open"?, "created"?, "key", "members"}
 * (at most max_members ids, a key of this group) into *out. Returns 0,
 * CPNS_ERR_INVAL with the reason in err, or CPNS_ERR_NOMEM; on failure
 * *out holds nothing to clean up. On success the caller ends it with
 * cpns_group_view_cleanup(), which wipes the key. */
int cpns_group_view_decode(const json_t *view, long max_members, struct cpns_group_view *out,
                           char *err, size_t errlen);
void cpns_group_view_cleanup(struct cpns_group_view *v);

/* store and node are borrowed for the life of the authority; log_mod is the
 * log tag (a static string). Makes every stored group's resources observable
 * again. Returns 0 or a cpns_err. */
int cpns_groups_new(struct cpns_node *node, struct cpns_store *store, const char *log_mod,
                    long max_members, const struct cpns_groups_hooks *hooks,
                    struct cpns_groups **out);
void cpns_groups_free(struct cpns_groups *gs);

/* The caller's relations to the group in a groups/{id}/... path, from the
 * store: CPNS_REL_OWNER, CPNS_REL_GROUP_MEMBER, CPNS_REL_SELF (the path's
 * member is the caller), CPNS_REL_JOINER (and it may join). */
unsigned cpns_groups_relations(struct cpns_groups *gs, const struct cpns_req *req,
                               unsigned wanted);

/* The handlers (arg: the struct cpns_groups). The route rules decide who
 * may call them; see server/groups.c for the table. */
void cpns_groups_create(struct cpns_req *req, void *arg);        /* POST groups */
void cpns_groups_read(struct cpns_req *req, void *arg);          /* GET groups/{id} */
void cpns_groups_delete(struct cpns_req *req, void *arg);        /* DELETE groups/{id} */
void cpns_groups_invite(struct cpns_req *req, void *arg);        /* POST groups/{id}/invitations */
void cpns_groups_join(struct cpns_req *req, void *arg);          /* PUT groups/{id}/members/{m} */
void cpns_groups_remove_member(struct cpns_req *req, void *arg); /* DELETE groups/{id}/members/{m} */
void cpns_groups_read_key(struct cpns_req *req, void *arg);      /* GET groups/{id}/key */

/* What a PN's gateway holds of a group: id, owner, pn, open, epoch, key,
 * expires and the ids of that PN's members. NULL when the group is gone or
 * has no member of pn. New reference; it carries the key: wipe it with
 * cpns_groups_view_free(). */
json_t *cpns_groups_view(struct cpns_groups *gs, const char *group, const char *pn);
void cpns_groups_view_free(json_t *view);
/* Every PN's view of group, in one pass: {pn: view}. NULL when the group is
 * gone. Same ownership as a view. */
json_t *cpns_groups_views(struct cpns_groups *gs, const char *group);
/* Stores a view (from the server) as a replica, whole or not at all, and
 * notifies the observers. 0, or CPNS_ERR_INVAL with a reason in err. */
int cpns_groups_apply_view(struct cpns_groups *gs, const json_t *view, const char *pn, char *err,
                           size_t errlen);
/* Removes a group (a replica the server dropped) and its resources. */
int cpns_groups_forget(struct cpns_groups *gs, const char *group);
/* The JSON array of the PNs with members in group (new reference). */
json_t *cpns_groups_member_pns(struct cpns_groups *gs, const char *group);

#endif
