/* SPDX-License-Identifier: Apache-2.0 */
/* Entity-User Key provisioning and lifecycle at the server (spec 5.4,
 * 5.5.7.2): one-time enrollment codes, issuing keys on redemption, handing a
 * PNE's key to the gateway of its PN, rotation and revocation. Issued keys
 * live in the store; the DTLS-PSK lookup (after the keyring file) reads them
 * through a cache. A revoked or rotated identity's live sessions are closed
 * at once, here and, over CPNS-7, at its gateway. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enroll.h"
#include "keycache.h"
#include "log.h"
#include "msg.h"
#include "server.h"

#define MOD "keys"

static int64_t now_s(void) { return (int64_t)time(NULL); }

static enum cpns_peer_role role_of(const char *name) {
  int r = cpns_peer_role_parse(name);
  return r < 0 ? CPNS_PEER_NONE : (enum cpns_peer_role)r;
}

static void entry_from_cred(const struct cpns_credential *c, struct cpns_key_entry *e) {
  memset(e, 0, sizeof *e);
  snprintf(e->identity, sizeof e->identity, "%s", c->identity);
  snprintf(e->pn, sizeof e->pn, "%s", c->pn);
  e->role = role_of(c->role);
  memcpy(e->key, c->key, CPNS_PSK_LEN);
}

/* DTLS-PSK lookup of identities beyond the keyring file: issued credentials,
 * and pending enrollments ("enroll.<id>" with the code-derived PSK). */
static const struct cpns_key_entry *lookup(void *arg, const char *identity, size_t len) {
  struct server *srv = arg;
  const struct cpns_key_entry *hit = cpns_keycache_get(srv->creds, identity, len);
  if (hit) return hit;
  char id[CPNS_ID_MAX + 1];
  if (len == 0 || len > CPNS_ID_MAX || memchr(identity, '\0', len)) return NULL;
  memcpy(id, identity, len);
  id[len] = '\0';
  struct cpns_key_entry e;
  const char *device = cpns_enroll_id_of(id);
  if (device) {
    struct cpns_enrollment en;
    if (srv->store->ops->enroll_get(srv->store, device, &en) || en.expires_at <= now_s()) return NULL;
    memset(&e, 0, sizeof e);
    snprintf(e.identity, sizeof e.identity, "%s", id);
    snprintf(e.pn, sizeof e.pn, "%s", en.pn);
    e.role = CPNS_PEER_ENROLLEE;
    memcpy(e.key, en.psk, CPNS_PSK_LEN);
    OPENSSL_cleanse(&en, sizeof en);
  } else {
    struct cpns_credential c;
    if (srv->store->ops->cred_get(srv->store, id, &c)) return NULL;
    entry_from_cred(&c, &e);
    OPENSSL_cleanse(&c, sizeof c);
  }
  int rc = cpns_keycache_put(srv->creds, &e);
  OPENSSL_cleanse(&e, sizeof e);
  if (rc) {
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "credential cache full");
    return NULL;
  }
  return cpns_keycache_get(srv->creds, id, len);
}

static json_t *key_json(const struct cpns_credential *c) {
  char hex[2 * CPNS_PSK_LEN + 1];
  cpns_key_to_hex(c->key, hex);
  json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "identity", c->identity, "role", c->role, "pn",
                        c->pn, "key", hex, "generation", (json_int_t)c->generation);
  OPENSSL_cleanse(hex, sizeof hex);
  return j;
}

/* A fresh credential for identity; stored by the caller. */
static int new_credential(const char *identity, const char *role, const char *pn, uint32_t generation,
                          struct cpns_credential *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->identity, sizeof c->identity, "%s", identity);
  snprintf(c->role, sizeof c->role, "%s", role);
  snprintf(c->pn, sizeof c->pn, "%s", pn);
  c->generation = generation;
  c->created_at = c->rotated_at = now_s();
  return cpns_key_generate(c->key);
}

/* Drops what the cache and the live sessions know of identity: its next
 * handshake meets the store as it is now. */
static void forget(struct server *srv, const char *identity) {
  cpns_keycache_remove(srv->creds, identity);
  unsigned n = cpns_node_close_identity(srv->node, identity);
  if (n) log_notice(MOD, "closing %u session(s) of %s", n, identity);
}

static void tell_done(void *arg, int code, const json_t *body, const char *diag) {
  (void)body;
  char *what = arg;
  if (code < 200 || code >= 300) log_warn("cpns7", "%s: gateway answered %d %s", what, code, diag);
  free(what);
}

/* The gateway of a PNE's PN caches its key and holds its sessions: tell it. */
static void tell_gateway_key(struct server *srv, const char *pn, const char *identity) {
  coap_session_t *s = pn[0] ? gwlinks__get(srv->links, pn) : NULL;
  if (!s) return;
  char path[CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "keys/%s", identity);
  char *what = strdup(path);
  if (what && cpns_node_request(srv->node, s, COAP_REQUEST_CODE_DELETE, path, NULL, NULL, tell_done, what))
    free(what);
}

/* POST /enrollments {"id","role","pn","ttl"}: a one-time code for a new
 * device. The operator may enroll any PNE or PN GW; a PN GW, PNEs of its own
 * PN. The code is in the answer only. */
static void post_enrollment(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_enroll_request r;
  char err[CPNS_DIAG_MAX];
  if (!req->body || cpns_enroll_request_decode(req->body, &r, err, sizeof err)) {
    cpns_reply_error(req, 400, "%s", req->body ? err : "a body {\"id\",\"pn\"} is required");
    return;
  }
  struct cpns_enrollment en;
  memset(&en, 0, sizeof en);
  memcpy(en.identity, r.id, sizeof en.identity);
  memcpy(en.role, r.role, sizeof en.role);
  memcpy(en.pn, r.pn, sizeof en.pn);
  long ttl = r.ttl;
  char enroll_id[CPNS_ID_MAX + 1];
  if (cpns_enroll_identity(en.identity, enroll_id)) {
    cpns_reply_error(req, 500, "cannot name the enrollment");
    return;
  }
  if (req->peer->role == CPNS_PEER_GW &&
      (strcmp(en.role, "pne") != 0 || strcmp(en.pn, req->peer->pn) != 0)) {
    cpns_reply_error(req, 403, "%s may only enroll PNEs of PN %s", req->peer->identity, req->peer->pn);
    return;
  }
  if (cpns_keyring_find(srv->keyring, en.identity, strlen(en.identity))) {
    cpns_reply_error(req, 409, "%s has a configured key already", en.identity);
    return;
  }
  char code[CPNS_ENROLL_CODE_LEN + 1];
  if (cpns_enroll_code_new(code) || cpns_enroll_psk(code, enroll_id, en.psk)) {
    cpns_reply_error(req, 500, "cannot make a code");
    return;
  }
  en.created_at = now_s();
  en.expires_at = en.created_at + ttl;
  snprintf(en.created_by, sizeof en.created_by, "%s", req->peer->identity);
  int rc = srv->store->ops->enroll_put(srv->store, &en);
  OPENSSL_cleanse(en.psk, sizeof en.psk);
  cpns_keycache_remove(srv->creds, enroll_id); /* a previous code no longer works */
  if (rc) {
    OPENSSL_cleanse(code, sizeof code);
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  log_notice(MOD, "enrollment of %s (%s in %s) created by %s, valid %lds", en.identity, en.role,
             en.pn, req->peer->identity, ttl);
  cpns_reply(req, 201,
             json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", en.identity, "role", en.role, "pn", en.pn,
                       "code", code, "expires", (json_int_t)en.expires_at));
  OPENSSL_cleanse(code, sizeof code);
}

/* Redeems identity's enrollment: issues its first key. */
static void redeem(struct server *srv, struct cpns_req *req, const char *identity) {
  struct cpns_enrollment en;
  int rc = srv->store->ops->enroll_get(srv->store, identity, &en);
  if (rc) {
    cpns_reply_error(req, 404, "no pending enrollment for %s", identity);
    return;
  }
  if (req->peer->role == CPNS_PEER_GW &&
      (strcmp(en.pn, req->peer->pn) != 0 || strcmp(en.role, "pne") != 0)) {
    OPENSSL_cleanse(&en, sizeof en);
    cpns_reply_error(req, 403, "%s may not redeem this enrollment", req->peer->identity);
    return;
  }
  struct cpns_credential c;
  struct cpns_credential old;
  uint32_t gen = srv->store->ops->cred_get(srv->store, identity, &old) == 0 ? old.generation + 1 : 1;
  OPENSSL_cleanse(&old, sizeof old);
  if (new_credential(identity, en.role, en.pn, gen, &c)) {
    OPENSSL_cleanse(&en, sizeof en);
    cpns_reply_error(req, 500, "cannot make a key");
    return;
  }
  OPENSSL_cleanse(&en, sizeof en);
  rc = srv->store->ops->enroll_redeem(srv->store, identity, now_s(), &c);
  if (rc) {
    OPENSSL_cleanse(&c, sizeof c);
    cpns_reply_error(req, rc == CPNS_ERR_DENIED ? 403 : rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_DENIED ? "the enrollment code has expired" : "no pending enrollment");
    return;
  }
  char enroll_id[CPNS_ID_MAX + 1];
  if (cpns_enroll_identity(identity, enroll_id) == 0) cpns_keycache_remove(srv->creds, enroll_id);
  forget(srv, identity); /* an older key of the same identity stops working */
  log_notice(MOD, "%s enrolled (%s in %s), key generation %u", identity, c.role, c.pn, c.generation);
  cpns_reply(req, 201, key_json(&c));
  OPENSSL_cleanse(&c, sizeof c);
}

/* POST /enroll: a device that completed the handshake as "enroll.<id>". */
static void post_enroll(struct cpns_req *req, void *arg) {
  const char *device = cpns_enroll_id_of(req->peer->identity);
  if (!device) {
    cpns_reply_error(req, 403, "only an enrolling device may redeem");
    return;
  }
  redeem(arg, req, device);
}

/* POST /enrollments/{id}/redeem: a gateway redeems for a PNE of its PN that
 * proved the code to it. */
static void post_redeem(struct cpns_req *req, void *arg) {
  if (!cpns_valid_id(req->seg[1])) {
    cpns_reply_error(req, 400, "bad id");
    return;
  }
  redeem(arg, req, req->seg[1]);
}

/* GET /enrollments/{id}: the gateway of the PN fetches the code-derived PSK
 * so that it can terminate the enrolling PNE's handshake. */
static void get_enrollment(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_enrollment en;
  if (!cpns_valid_id(req->seg[1]) || srv->store->ops->enroll_get(srv->store, req->seg[1], &en) ||
      en.expires_at <= now_s()) {
    cpns_reply_error(req, 404, "no pending enrollment");
    return;
  }
  if (strcmp(en.pn, req->peer->pn) != 0 || strcmp(en.role, "pne") != 0) {
    OPENSSL_cleanse(&en, sizeof en);
    cpns_reply_error(req, 403, "%s may not read this enrollment", req->peer->identity);
    return;
  }
  char hex[2 * CPNS_PSK_LEN + 1];
  cpns_key_to_hex(en.psk, hex);
  cpns_reply(req, 205, json_pack("{s:s, s:s, s:s, s:I}", "id", en.identity, "pn", en.pn, "psk", hex,
                                 "expires", (json_int_t)en.expires_at));
  OPENSSL_cleanse(hex, sizeof hex);
  OPENSSL_cleanse(&en, sizeof en);
}

/* Loads identity's credential and checks the caller may act on it: the
 * operator, the entity itself, or the PN GW of the entity's PN. */
static bool load_cred(struct server *srv, struct cpns_req *req, struct cpns_credential *c,
                      const char *action) {
  const char *id = req->seg[1];
  if (!cpns_valid_id(id) || srv->store->ops->cred_get(srv->store, id, c)) {
    cpns_reply_error(req, 404, "no issued key for %s", id);
    return false;
  }
  const struct cpns_key_entry *p = req->peer;
  bool ok = p->role == CPNS_PEER_OPERATOR || strcmp(p->identity, id) == 0 ||
            (p->role == CPNS_PEER_GW && c->pn[0] && strcmp(p->pn, c->pn) == 0 &&
             strcmp(c->role, "pne") == 0);
  if (!ok) {
    OPENSSL_cleanse(c, sizeof *c);
    cpns_reply_error(req, 403, "%s may not %s", p->identity, action);
  }
  return ok;
}

/* GET /keys/{id}: the gateway of a PNE's PN fetches its key (it terminates
 * the PNE's DTLS sessions). */
static void get_key(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_credential c;
  if (!load_cred(srv, req, &c, "read this key")) return;
  if (req->peer->role != CPNS_PEER_GW) {
    OPENSSL_cleanse(&c, sizeof c);
    cpns_reply_error(req, 403, "%s may not read keys", req->peer->identity);
    return;
  }
  cpns_reply(req, 205, key_json(&c));
  OPENSSL_cleanse(&c, sizeof c);
}

/* POST /keys/{id}/rotate: a new key for id; the old one stops working and
 * its sessions are closed. */
static void rotate_key(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_credential c;
  if (!load_cred(srv, req, &c, "rotate this key")) return;
  uint32_t gen = c.generation + 1;
  char role[16], pn[CPNS_ID_MAX + 1], id[CPNS_ID_MAX + 1];
  snprintf(role, sizeof role, "%s", c.role);
  snprintf(pn, sizeof pn, "%s", c.pn);
  snprintf(id, sizeof id, "%s", c.identity);
  int64_t created = c.created_at;
  if (new_credential(id, role, pn, gen, &c)) {
    OPENSSL_cleanse(&c, sizeof c);
    cpns_reply_error(req, 500, "cannot make a key");
    return;
  }
  c.created_at = created;
  if (srv->store->ops->cred_put(srv->store, &c)) {
    OPENSSL_cleanse(&c, sizeof c);
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  forget(srv, c.identity);
  if (req->peer->role != CPNS_PEER_GW) tell_gateway_key(srv, pn, c.identity);
  log_notice(MOD, "key of %s rotated by %s (generation %u)", c.identity, req->peer->identity, gen);
  cpns_reply(req, 201, key_json(&c));
  OPENSSL_cleanse(&c, sizeof c);
}

/* DELETE /keys/{id}: revokes id's key: it is deleted, its sessions closed,
 * and its gateway told (CPNS-7) to do the same. */
static void revoke_key(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_credential c;
  if (!load_cred(srv, req, &c, "revoke this key")) return;
  char pn[CPNS_ID_MAX + 1], id[CPNS_ID_MAX + 1];
  snprintf(pn, sizeof pn, "%s", c.pn);
  snprintf(id, sizeof id, "%s", c.identity);
  OPENSSL_cleanse(&c, sizeof c);
  if (srv->store->ops->cred_delete(srv->store, id)) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  forget(srv, id);
  if (req->peer->role != CPNS_PEER_GW) tell_gateway_key(srv, pn, id);
  log_notice(MOD, "key of %s revoked by %s", id, req->peer->identity);
  cpns_reply(req, 202, NULL);
}

static void expire_enrollments(void *arg) {
  struct server *srv = arg;
  unsigned n = 0;
  srv->store->ops->enroll_expire(srv->store, now_s(), &n);
  if (n) log_info(MOD, "%u enrollment code(s) expired unused", n);
}

int keys__init(struct server *srv) {
  srv->creds = cpns_keycache_new((size_t)srv->conf.keyring_max);
  if (!srv->creds) return CPNS_ERR_NOMEM;
  struct cpns_node *n = srv->node;
  cpns_node_set_psk_lookup(n, lookup, srv);
  const unsigned op = CPNS_REL_OPERATOR, gw = CPNS_REL_GW, self = CPNS_REL_SELF;
  int rc = 0;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "enrollments", op | gw, "create enrollments",
                           post_enrollment, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "enrollments/*", gw, "read enrollments",
                           get_enrollment, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "enrollments/*/redeem", gw,
                           "redeem enrollments", post_redeem, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "enroll", CPNS_REL_ENROLLEE, "enroll",
                           post_enroll, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "keys/*", gw, "read keys", get_key, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "keys/*/rotate", op | gw | self,
                           "rotate this key", rotate_key, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "keys/*", op | gw, "revoke this key",
                           revoke_key, srv);
  rc |= cpns_node_every(n, 10000, expire_enrollments, srv);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void keys__free(struct server *srv) {
  cpns_keycache_free(srv->creds);
  srv->creds = NULL;
}
