/* SPDX-License-Identifier: Apache-2.0 */
/* The narrow storage interface of the server and the gateway: the PN
 * Inventory (PNs, their entities, who may read them, who was expelled), the
 * Entity-User Key credentials with their pending enrollments, and a small
 * key/value table. One implementation today, SQLite (store_sqlite.c);
 * PostgreSQL can follow behind the same struct. Every call that returns 0 has
 * committed its change: a caller may acknowledge it to a peer. */
#ifndef CPNS_STORE_H
#define CPNS_STORE_H

#include <cpns/capabilities.h>
#include <cpns/cpns.h>
#include <stdbool.h>
#include <stdint.h>

enum cpns_entity_state {
  CPNS_STATE_ADDED = 0,   /* added by another member, not registered yet */
  CPNS_STATE_ONLINE = 1,  /* registered and refreshing */
  CPNS_STATE_OFFLINE = 2, /* stopped refreshing: lifetime ran out */
};

const char *cpns_entity_state_name(enum cpns_entity_state s);
/* Returns -1 for an unknown name. */
int cpns_entity_state_parse(const char *name);

struct cpns_entity_rec {
  char pn[CPNS_ID_MAX + 1];
  char id[CPNS_ID_MAX + 1];
  char name[CPNS_NAME_MAX + 1];
  char device_type[CPNS_TYPE_MAX + 1];
  char addr[CPNS_ADDR_MAX + 1]; /* where the entity was last seen */
  unsigned roles;               /* CPNS_ROLE_* bits */
  enum cpns_entity_state state;
  uint32_t lifetime;            /* seconds */
  int64_t registered_at;        /* unix seconds, first registration */
  int64_t updated_at;           /* unix seconds, last registration/refresh */
  int64_t expires_at;           /* unix seconds; 0 when not ONLINE */
};

struct cpns_pn_rec {
  char id[CPNS_ID_MAX + 1];
  char name[CPNS_NAME_MAX + 1];
  char owner[CPNS_ID_MAX + 1];  /* the user who owns the PN */
  char gw[CPNS_ID_MAX + 1];     /* entity id of its PN GW */
  char gw_addr[CPNS_ADDR_MAX + 1];
  bool open;                    /* any authenticated PNE may join */
  enum cpns_entity_state state; /* of the PN GW's registration */
  uint32_t lifetime;
  int64_t created_at, updated_at, expires_at;
};

#define CPNS_SECRET_LEN 32 /* bytes of an Entity-User Key or an enrollment PSK */

/* An Entity-User Key issued to one identity (issue 3: key provisioning). */
struct cpns_credential {
  char identity[CPNS_ID_MAX + 1];
  char role[16];                /* "pne", "gw", "operator", "app" */
  char pn[CPNS_ID_MAX + 1];     /* "" when none */
  uint8_t key[CPNS_SECRET_LEN]; /* the Entity-User Key */
  uint32_t generation;          /* 1 at first issue, +1 at each rotation */
  int64_t created_at, rotated_at;
};

/* A pending enrollment: a device may present the code once, before expires_at.
 * Only psk, a key derived from the code, is stored; never the code. */
struct cpns_enrollment {
  char identity[CPNS_ID_MAX + 1];
  char role[16];
  char pn[CPNS_ID_MAX + 1];
  uint8_t psk[CPNS_SECRET_LEN];
  int64_t created_at, expires_at;
  char created_by[CPNS_ID_MAX + 1];
};

/* A Service Group (spec 5.5.9) with its current Group Key (5.5.7.2): the
 * key is replaced, with epoch + 1, on every membership change. */
struct cpns_group_rec {
  char id[CPNS_ID_MAX + 1];
  char owner[CPNS_ID_MAX + 1];  /* identity of the creator */
  char pn[CPNS_ID_MAX + 1];     /* the creator's PN, "" when none */
  bool open;                    /* anyone may join without an invitation */
  uint32_t epoch;               /* of the current key: 1 at creation */
  uint8_t key[CPNS_SECRET_LEN]; /* the current Group Key */
  int64_t key_expires;          /* unix seconds, 0 = none */
  int64_t created_at;
  bool replica;                 /* a gateway's copy of a server group (its own PN's
                                   members only); false: this node is its authority */
};

enum cpns_member_state {
  CPNS_MEMBER_INVITED = 0, /* may join; holds no key */
  CPNS_MEMBER_JOINED = 1,  /* a member: gets the key */
};
const char *cpns_member_state_name(enum cpns_member_state s); /* "invited", "member" */

/* Called once per row; return non-zero to stop the iteration. */
typedef int (*cpns_entity_cb)(void *arg, const struct cpns_entity_rec *e);
typedef int (*cpns_pn_cb)(void *arg, const struct cpns_pn_rec *p);
/* pn: the member's PN ("" for none: an operator, or an invitation not
 * yet taken up by a PN). */
typedef int (*cpns_member_cb)(void *arg, const char *member, const char *pn,
                              enum cpns_member_state state);

/* The Metadata Directory (spec 5.5.5, issue 4): published services
 * (lib/service.h) and the interests consumers saved. */
struct cpns_service;
struct cpns_service_query;
typedef int (*cpns_service_cb)(void *arg, const struct cpns_service *s);

#define CPNS_INTEREST_TEXT_MAX 8192 /* bytes of an interest's stored query, and of its events */

/* A saved interest: a query its owner observes, told of services that
 * appear, change or go away. What it may see is its owner's, as it was when
 * it was saved. */
struct cpns_interest_rec {
  char id[CPNS_ID_MAX + 1];
  char owner[CPNS_ID_MAX + 1];    /* the identity that saved it */
  char owner_pn[CPNS_ID_MAX + 1]; /* its PN, "" for none */
  bool see_all;                   /* its owner is the operator */
  char query[CPNS_INTEREST_TEXT_MAX + 1];  /* the query, JSON (cpns_service_query_to_json) */
  char events[CPNS_INTEREST_TEXT_MAX + 1]; /* the latest events, a JSON list */
  uint64_t seq;                   /* of the latest event; 0 before the first */
  int64_t created_at;
};

/* A lookup as the store runs it: the query (its keywords, match, offerer,
 * PN, capabilities and the paging cursor q->after) and who asks. */
struct cpns_service_find {
  const struct cpns_service_query *q;
  bool see_all;          /* the operator: the private services of every PN */
  const char *viewer_pn; /* the caller's PN, whose private services it sees; "" for none */
  int64_t now;           /* services with expires_at <= now are passed over */
  unsigned budget;       /* candidates examined at most (> 0) */
};

/* Device capabilities (spec 5.5.1, issue 5): an entity's document as its
 * canonical JSON text (lib/capabilities.h), with the holder's revision. */
struct cpns_caps_rec {
  char pn[CPNS_ID_MAX + 1];
  char id[CPNS_ID_MAX + 1];
  uint64_t rev;       /* 1 for the first document, +1 on every change */
  int64_t updated_at; /* unix seconds of the last change */
  char doc[CPNS_CAPDOC_TEXT_MAX + 1];
};
typedef int (*cpns_caps_cb)(void *arg, const struct cpns_caps_rec *c);

/* Status management (spec 5.5.3, lib/status.h). The latest status
 * document of an entity, as its compact JSON text; it goes with its entity
 * (leave, expulsion, PN removal). */
#define CPNS_STORE_STATUS_TEXT_MAX 1024 /* = CPNS_STATUS_ENCODED_MAX */
#define CPNS_STORE_ATTR_MAX 24          /* = CPNS_STATUS_ATTR_NAME_MAX */
struct cpns_status_rec {
  char pn[CPNS_ID_MAX + 1];
  char id[CPNS_ID_MAX + 1];
  char doc[CPNS_STORE_STATUS_TEXT_MAX + 1];
  int64_t updated_at; /* unix seconds of the last change */
};
typedef int (*cpns_status_cb)(void *arg, const struct cpns_status_rec *r);

/* An observer of a status resource kept by identity (a PN GW's), resumed on
 * that identity's next session, with what was last reported to it. */
#define CPNS_STORE_TOKEN_MAX 8
#define CPNS_STORE_QUERY_MAX 256
struct cpns_statobs_rec {
  char session_identity[CPNS_ID_MAX + 1]; /* key, with token */
  uint8_t token[CPNS_STORE_TOKEN_MAX];
  size_t toklen;
  char identity[CPNS_ID_MAX + 1]; /* who observes (a PNE when relayed for it) */
  char pn[CPNS_ID_MAX + 1];
  int role;                       /* enum cpns_peer_role */
  char via[CPNS_ID_MAX + 1];
  char topic[2 * CPNS_ID_MAX + 2]; /* "pn/id" */
  char attr[CPNS_STORE_ATTR_MAX + 1];
  char query[CPNS_STORE_QUERY_MAX + 1];
  int accept;
  int ref_state;   /* the last reported sample (condobs.h) */
  bool ref_has;
  double ref_value;
  uint64_t ref_digest;
  int ref_zone;
  uint32_t seq;
  int64_t updated_at;
};

/* A policy-based report rule (spec 5.5.3.2): when entity's attribute
 * crosses threshold (op lt: falls below, gt: rises above) or its state
 * becomes state (op state), report to target of PN target_pn. */
enum cpns_policy_op { CPNS_POLICY_LT = 0, CPNS_POLICY_GT = 1, CPNS_POLICY_STATE = 2 };
struct cpns_policy_rec {
  char pn[CPNS_ID_MAX + 1]; /* key, with id */
  char id[CPNS_ID_MAX + 1];
  char entity[CPNS_ID_MAX + 1];
  char attr[CPNS_STORE_ATTR_MAX + 1]; /* "" for a state rule */
  enum cpns_policy_op op;
  double threshold;
  char state[16];                     /* a presence name, for a state rule */
  char target_pn[CPNS_ID_MAX + 1];
  char target[CPNS_ID_MAX + 1];
  char created_by[CPNS_ID_MAX + 1];
  int64_t created_at;
  bool active;         /* its condition held at the last evaluation */
  uint64_t fired;      /* reports sent */
  int64_t last_fired;  /* unix seconds, 0 = never */
};
typedef int (*cpns_policy_cb)(void *arg, const struct cpns_policy_rec *p);

/* Usage statistics (spec 5.5.4, lib/usage.h): records, the filter of a
 * summary and its rows. */
struct cpns_usage_rec;
struct cpns_usage_filter;
struct cpns_usage_total;
typedef int (*cpns_usage_cb)(void *arg, const struct cpns_usage_rec *r);
typedef int (*cpns_usage_total_cb)(void *arg, const struct cpns_usage_total *t);

/* A CPNS-4 bearer token (server/tokens.c): its secret is never stored,
 * only the SHA-256 of it. */
#define CPNS_TOKEN_SCOPES_MAX 128 /* bytes of the scopes as text */
#define CPNS_TOKEN_HASH_LEN 32
struct cpns_token_rec {
  char id[CPNS_ID_MAX + 1];         /* 16 hex digits, part of the token's text */
  char name[CPNS_ID_MAX + 1];       /* its holder is the identity "ext.<name>" */
  char scopes[CPNS_TOKEN_SCOPES_MAX + 1]; /* "services:read,services:write" */
  uint8_t hash[CPNS_TOKEN_HASH_LEN];      /* SHA-256 of the secret */
  char created_by[CPNS_ID_MAX + 1];
  int64_t created_at;
  int64_t expires_at; /* unix seconds; 0 = never */
};

struct cpns_store;

struct cpns_store_ops {
  void (*close)(struct cpns_store *st);

  /* PNs. pn_put inserts or replaces everything but created_at. pn_delete
   * removes the PN with its entities, readers and bans (CPNS_ERR_NOTFOUND if
   * absent). pn_list visits PNs ordered by id, starting after `after` (""
   * for the first page), at most `limit`. */
  int (*pn_put)(struct cpns_store *st, const struct cpns_pn_rec *p);
  int (*pn_get)(struct cpns_store *st, const char *pn, struct cpns_pn_rec *out);
  int (*pn_delete)(struct cpns_store *st, const char *pn);
  int (*pn_list)(struct cpns_store *st, const char *after, unsigned limit, cpns_pn_cb cb,
                 void *arg);
  int (*pn_count)(struct cpns_store *st, uint64_t *out);

  /* Which other PNs may read this PN's inventory (its owner's choice). */
  int (*pn_set_readers)(struct cpns_store *st, const char *pn, const char *const *readers,
                        unsigned n);
  int (*pn_list_readers)(struct cpns_store *st, const char *pn,
                         int (*cb)(void *arg, const char *reader), void *arg);
  int (*pn_reader_allowed)(struct cpns_store *st, const char *pn, const char *reader,
                           bool *allowed);

  /* Entities, keyed by (pn, id). entity_put inserts or replaces all fields
   * but registered_at (kept from the first insert). entity_list visits one
   * PN's entities ordered by id. */
  int (*entity_put)(struct cpns_store *st, const struct cpns_entity_rec *e);
  int (*entity_get)(struct cpns_store *st, const char *pn, const char *id,
                    struct cpns_entity_rec *out);
  int (*entity_delete)(struct cpns_store *st, const char *pn, const char *id);
  int (*entity_list)(struct cpns_store *st, const char *pn, cpns_entity_cb cb, void *arg);
  int (*entity_count)(struct cpns_store *st, const char *pn, uint64_t *out); /* pn NULL: all */

  /* Expelled entities may not register again until added back. */
  int (*ban_add)(struct cpns_store *st, const char *pn, const char *id);
  int (*ban_remove)(struct cpns_store *st, const char *pn, const char *id);
  int (*ban_check)(struct cpns_store *st, const char *pn, const char *id, bool *banned);

  /* Marks every ONLINE entity and PN whose expires_at <= now as OFFLINE (with
   * expires_at 0) in one transaction, calling the callbacks for each one
   * changed (after the commit). Either callback may be NULL. */
  int (*expire)(struct cpns_store *st, int64_t now, cpns_pn_cb pn_cb, cpns_entity_cb ent_cb,
                void *arg);

  /* Small key/value settings (e.g. the gateway's own state). value_len is
   * the buffer size; CPNS_ERR_NOTFOUND if the key is absent. */
  int (*kv_get)(struct cpns_store *st, const char *key, char *value, size_t value_len);
  int (*kv_set)(struct cpns_store *st, const char *key, const char *value);

  /* Membership changes applied whole or not at all. entity_expel deletes the
   * entity (if present: *existed) and bans it. entity_admit lifts a ban on
   * e->id and inserts e unless the entity exists (*existed). */
  int (*entity_expel)(struct cpns_store *st, const char *pn, const char *id, bool *existed);
  int (*entity_admit)(struct cpns_store *st, const struct cpns_entity_rec *e, bool *existed);

  /* Credentials, keyed by identity. cred_put inserts or replaces (keeping
   * created_at of the first insert). identity and role must not be empty.
   * The get calls copy the secret into *out: the caller wipes it after use. */
  int (*cred_put)(struct cpns_store *st, const struct cpns_credential *c);
  int (*cred_get)(struct cpns_store *st, const char *identity,
                  struct cpns_credential *out);                    /* CPNS_ERR_NOTFOUND */
  int (*cred_delete)(struct cpns_store *st, const char *identity); /* CPNS_ERR_NOTFOUND */
  int (*cred_count)(struct cpns_store *st, uint64_t *out);
  /* Enrollments, keyed by identity (a new one replaces a pending one for the
   * same identity). */
  int (*enroll_put)(struct cpns_store *st, const struct cpns_enrollment *e);
  int (*enroll_get)(struct cpns_store *st, const char *identity,
                    struct cpns_enrollment *out); /* CPNS_ERR_NOTFOUND */
  /* Redeems atomically: in one transaction, checks the pending enrollment
   * exists and has not expired (expires_at > now), deletes it, and stores the
   * credential c (whose identity must equal the enrollment's, else
   * CPNS_ERR_INVAL). Returns CPNS_ERR_NOTFOUND when there is none,
   * CPNS_ERR_DENIED when it has expired (and deletes it), 0 on success. A
   * code therefore works once. */
  int (*enroll_redeem)(struct cpns_store *st, const char *identity, int64_t now,
                       const struct cpns_credential *c);
  int (*enroll_delete)(struct cpns_store *st, const char *identity); /* CPNS_ERR_NOTFOUND */
  /* Deletes enrollments with expires_at <= now; *removed (may be NULL) gets
   * how many. */
  int (*enroll_expire)(struct cpns_store *st, int64_t now, unsigned *removed);

  /* Service Groups and their members. group_put inserts or replaces the
   * whole record (created_at kept from the first insert); group_get copies
   * the key into *out (the caller wipes it); group_delete removes the group
   * with its members and its key (CPNS_ERR_NOTFOUND if absent). */
  int (*group_put)(struct cpns_store *st, const struct cpns_group_rec *g);
  int (*group_get)(struct cpns_store *st, const char *id, struct cpns_group_rec *out);
  int (*group_delete)(struct cpns_store *st, const char *id);
  /* Membership rows, keyed by (group, member), each with the member's PN
   * (pn may be NULL for ""); the group must exist (CPNS_ERR_NOTFOUND
   * otherwise). member_get copies the PN into pn_out[CPNS_ID_MAX + 1] when
   * not NULL. member_list visits a group's rows ordered by member. */
  int (*member_put)(struct cpns_store *st, const char *group, const char *member, const char *pn,
                    enum cpns_member_state state);
  int (*member_get)(struct cpns_store *st, const char *group, const char *member,
                    enum cpns_member_state *out, char *pn_out); /* CPNS_ERR_NOTFOUND */
  int (*member_delete)(struct cpns_store *st, const char *group, const char *member);
  int (*member_list)(struct cpns_store *st, const char *group, cpns_member_cb cb, void *arg);
  /* A membership change and the key rotation it causes, whole or not at
   * all: sets member's state to *state (or removes the member when state is
   * NULL: CPNS_ERR_NOTFOUND if it was not there) and replaces the group's
   * key with key (CPNS_SECRET_LEN bytes), epoch and key_expires. The group
   * must exist (CPNS_ERR_NOTFOUND). */
  int (*group_member_change)(struct cpns_store *st, const char *group, const char *member,
                             const char *pn, const enum cpns_member_state *state,
                             const uint8_t *key, uint32_t epoch, int64_t key_expires);
  /* Visits every group id, ordered; cb must not use the store. */
  int (*group_list_ids)(struct cpns_store *st, int (*cb)(void *arg, const char *id), void *arg);
  /* A gateway's replica of a server group, whole or not at all: g (with
   * replica set) replaces the record, and its members become exactly
   * members[0..n) (joined, of PN pn). */
  int (*group_sync)(struct cpns_store *st, const struct cpns_group_rec *g, const char *pn,
                    const char *const *members, size_t n);
  /* Visits, ordered, the ids of the groups that have a joined member of PN
   * pn; cb must not use the store. */
  int (*group_ids_of_pn)(struct cpns_store *st, const char *pn,
                         int (*cb)(void *arg, const char *id), void *arg);
  /* Visits, ordered, the distinct PNs of a group's joined members (not "");
   * cb must not use the store. */
  int (*group_member_pns)(struct cpns_store *st, const char *group,
                          int (*cb)(void *arg, const char *pn), void *arg);

  /* Services of the Metadata Directory, keyed by id, indexed by keyword
   * (with the scope that may see it: public, or its PN), offerer, PN and
   * expiry. service_put inserts or replaces the whole service with its
   * keywords in one transaction (created_at kept from the first insert); a
   * PN-private service needs a PN (CPNS_ERR_INVAL). service_count counts
   * one offerer's services (all of them for NULL). */
  int (*service_put)(struct cpns_store *st, const struct cpns_service *s);
  int (*service_get)(struct cpns_store *st, const char *id,
                     struct cpns_service *out);                 /* CPNS_ERR_NOTFOUND */
  int (*service_delete)(struct cpns_store *st, const char *id); /* CPNS_ERR_NOTFOUND */
  int (*service_count)(struct cpns_store *st, const char *offerer, uint64_t *out);
  /* A lookup, by index range scans only: visits in id order, after
   * f->q->after, the services that answer f->q, that the caller may see and
   * that have not expired, until cb returns non-zero or f->budget candidates
   * were examined. last (CPNS_ID_MAX + 1 bytes) gets the id of the last
   * candidate examined ("" when none was), and *more whether candidates
   * remain after it. The candidates come from the offerer's services when
   * f->q names one, else from the keywords' index entries (a prefix stands
   * for the keywords it begins), else from the PN's services; a query with
   * none of the three is CPNS_ERR_INVAL, a prefix standing for more than
   * CPNS_PREFIX_EXPANSION_MAX keywords CPNS_ERR_TOOBIG. The lookup reads one
   * snapshot (a read transaction, unless the caller has one open): cb may
   * read the store; a write from it fails if another process wrote since. */
  int (*service_find)(struct cpns_store *st, const struct cpns_service_find *f, cpns_service_cb cb,
                      void *arg, char *last, bool *more);
  /* Deletes the services with expires_at <= now, in transactions of a
   * bounded number, calling cb with each after its transaction committed
   * (cb may use the store). */
  int (*service_expire)(struct cpns_store *st, int64_t now, cpns_service_cb cb, void *arg);
  /* The same for the services of offerer in PN pn (an entity that left),
   * or, when offerer is NULL, of every offerer of pn (a PN removed). */
  int (*service_remove)(struct cpns_store *st, const char *pn, const char *offerer,
                        cpns_service_cb cb, void *arg);

  /* Saved interests, keyed by id. interest_put inserts or replaces;
   * interest_count counts one owner's (all for NULL); interest_list visits
   * every interest ordered by id (cb may use the store); interest_event
   * records the latest events of one. */
  int (*interest_put)(struct cpns_store *st, const struct cpns_interest_rec *i);
  int (*interest_get)(struct cpns_store *st, const char *id,
                      struct cpns_interest_rec *out);            /* CPNS_ERR_NOTFOUND */
  int (*interest_delete)(struct cpns_store *st, const char *id); /* CPNS_ERR_NOTFOUND */
  int (*interest_count)(struct cpns_store *st, const char *owner, uint64_t *out);
  int (*interest_list)(struct cpns_store *st,
                       int (*cb)(void *arg, const struct cpns_interest_rec *i), void *arg);
  int (*interest_event)(struct cpns_store *st, const char *id, uint64_t seq,
                        const char *events); /* CPNS_ERR_NOTFOUND */

  /* Device capabilities, one document per entity, keyed by (pn, id); a
   * document goes with its entity (leave, expulsion, PN removal). caps_put
   * inserts or replaces the record as given (CPNS_ERR_NOTFOUND when there is
   * no such entity). caps_list visits one PN's documents ordered by id,
   * after `after` ("" for the first), at most limit of them. caps_keys
   * visits the (pn, id) of every document, ordered. Their callbacks may use
   * the store. */
  int (*caps_put)(struct cpns_store *st, const struct cpns_caps_rec *c);
  int (*caps_get)(struct cpns_store *st, const char *pn, const char *id,
                  struct cpns_caps_rec *out); /* CPNS_ERR_NOTFOUND */
  int (*caps_list)(struct cpns_store *st, const char *pn, const char *after, unsigned limit,
                   cpns_caps_cb cb, void *arg);
  int (*caps_keys)(struct cpns_store *st, int (*cb)(void *arg, const char *pn, const char *id),
                   void *arg);

  /* Status documents, keyed by (pn, id); the entity must exist
   * (CPNS_ERR_NOTFOUND otherwise). status_put_many writes n of them in one
   * transaction, whole or not at all. status_list visits one PN's ordered
   * by id; its callback may use the store. */
  int (*status_put)(struct cpns_store *st, const struct cpns_status_rec *r);
  int (*status_put_many)(struct cpns_store *st, const struct cpns_status_rec *r, size_t n);
  int (*status_get)(struct cpns_store *st, const char *pn, const char *id,
                    struct cpns_status_rec *out); /* CPNS_ERR_NOTFOUND */
  int (*status_list)(struct cpns_store *st, const char *pn, cpns_status_cb cb, void *arg);
  /* Observers kept by identity, keyed by (session_identity, token):
   * statobs_put inserts or replaces; statobs_list visits all (its callback
   * must not use the store). */
  int (*statobs_put)(struct cpns_store *st, const struct cpns_statobs_rec *r);
  int (*statobs_delete)(struct cpns_store *st, const char *session_identity, const uint8_t *token,
                        size_t toklen);
  int (*statobs_list)(struct cpns_store *st, int (*cb)(void *arg, const struct cpns_statobs_rec *r),
                      void *arg);
  /* Policy-based report rules, keyed by (pn, id). policy_put inserts or
   * replaces; policy_list visits one PN's ordered by id, policy_of_entity
   * those about one entity (callbacks must not use the store);
   * policy_count counts one PN's (all for NULL); policy_mark records an
   * evaluation. policy_delete: CPNS_ERR_NOTFOUND when absent. */
  int (*policy_put)(struct cpns_store *st, const struct cpns_policy_rec *p);
  int (*policy_get)(struct cpns_store *st, const char *pn, const char *id,
                    struct cpns_policy_rec *out); /* CPNS_ERR_NOTFOUND */
  int (*policy_delete)(struct cpns_store *st, const char *pn, const char *id);
  int (*policy_list)(struct cpns_store *st, const char *pn, cpns_policy_cb cb, void *arg);
  int (*policy_of_entity)(struct cpns_store *st, const char *pn, const char *entity,
                          cpns_policy_cb cb, void *arg);
  int (*policy_count)(struct cpns_store *st, const char *pn, uint64_t *out);
  int (*policy_mark)(struct cpns_store *st, const char *pn, const char *id, bool active,
                     uint64_t fired, int64_t last_fired);

  /* Usage records (spec 5.5.4): kept by a PNE and a gateway until the next
   * hop has them, by the server for its summaries; each with a seq, the
   * order in which this store received it. usage_add inserts n records in
   * one transaction, whole or not at all, passing over those whose (pn,
   * entity, rid) is held already (a resend): *added (may be NULL) gets how
   * many were new. usage_list visits at most limit records with seq > after,
   * in seq order (cb must not use the store; non-zero stops). usage_remove
   * deletes records by seq, in one transaction. usage_purge deletes at most
   * limit records of service (NULL: any) whose day (the UTC day of start) is
   * before before_day (INT64_MAX: any), *removed (may be NULL) gets how
   * many. usage_count counts every record. usage_summary visits the totals
   * of the records f selects (its PN, service and entity when not "", its
   * days), grouped by f->by and ordered by key, at most limit rows (cb must
   * not use the store). */
  int (*usage_add)(struct cpns_store *st, const struct cpns_usage_rec *r, size_t n,
                   unsigned *added);
  int (*usage_list)(struct cpns_store *st, uint64_t after, unsigned limit, cpns_usage_cb cb,
                    void *arg);
  int (*usage_remove)(struct cpns_store *st, const uint64_t *seq, size_t n);
  int (*usage_purge)(struct cpns_store *st, const char *service, int64_t before_day,
                     unsigned limit, unsigned *removed);
  int (*usage_count)(struct cpns_store *st, uint64_t *out);
  int (*usage_summary)(struct cpns_store *st, const struct cpns_usage_filter *f, unsigned limit,
                       cpns_usage_total_cb cb, void *arg);

  /* CPNS-4 bearer tokens, keyed by id. token_put inserts (CPNS_ERR_EXISTS
   * when the id is taken); token_list visits all ordered by id (cb must not
   * use the store; non-zero stops); token_count counts them. */
  int (*token_put)(struct cpns_store *st, const struct cpns_token_rec *t);
  int (*token_get)(struct cpns_store *st, const char *id,
                   struct cpns_token_rec *out);              /* CPNS_ERR_NOTFOUND */
  int (*token_delete)(struct cpns_store *st, const char *id); /* CPNS_ERR_NOTFOUND */
  int (*token_list)(struct cpns_store *st, int (*cb)(void *arg, const struct cpns_token_rec *t),
                    void *arg);
  int (*token_count)(struct cpns_store *st, uint64_t *out);
};

struct cpns_store {
  const struct cpns_store_ops *ops;
};

enum cpns_store_sync { CPNS_STORE_SYNC_NORMAL, CPNS_STORE_SYNC_FULL };

/* Opens (creating and migrating as needed) an SQLite store at path, with the
 * file mode 0600. SYNC_NORMAL survives a crash of the process (kill -9);
 * SYNC_FULL also a crash of the machine. Returns 0 and *out, or an error with
 * the reason in err. */
/* The schema version a store opened now has (its number of migrations). */
int cpns_store_sqlite_schema_version(void);
int cpns_store_sqlite_open(const char *path, enum cpns_store_sync sync, struct cpns_store **out,
                           char *err, size_t errlen);

static inline void cpns_store_close(struct cpns_store *st) {
  if (st) st->ops->close(st);
}

#endif
