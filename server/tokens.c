/* SPDX-License-Identifier: Apache-2.0 */
/* CPNS-4 bearer tokens at the server: the operator creates, lists and
 * revokes them over CoAP (POST and GET /tokens, DELETE /tokens/{id}; see
 * docs/protocol.md), and the HTTPS front (http.c) checks each request's
 * token here. A token is 256 random bits shown once, in the answer of its
 * creation; the store keeps only the SHA-256 of its secret, with its name,
 * scopes and expiry (lib/cpns4.h). Its holder is the identity
 * "ext.<name>", role external: several tokens may share a name (a new one
 * made before the old is revoked), and the services published under it
 * stay with the name. Neither a token nor its secret is ever logged; ids
 * are, as they are not secret. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpns4.h"
#include "log.h"
#include "msg.h"
#include "server.h"

#define MOD "tokens"
/* Ids tried before a creation gives up on finding a free one (64 random
 * bits: a second try is already a curiosity). */
#define TOKEN_ID_TRIES 4
/* The longest lifetime a token may be given when [http] token_ttl_max is 0. */
#define TOKEN_TTL_LIMIT 315360000L /* ten years */

_Static_assert(CPNS_TOKEN_HASH_LEN == CPNS4_TOKEN_HASH_LEN, "the store keeps SHA-256 hashes");
_Static_assert(CPNS_TOKEN_SCOPES_MAX >= CPNS4_SCOPES_TEXT_MAX, "scopes fit the store");
_Static_assert(CPNS4_TOKEN_ID_LEN <= CPNS_ID_MAX, "token ids fit the store");

static int64_t now_s(void) { return (int64_t)time(NULL); }

static json_t *token_json(const struct cpns_token_rec *t, int64_t now) {
  unsigned scopes = 0;
  char err[CPNS_DIAG_MAX];
  json_t *list = cpns4_scopes_parse(t->scopes, &scopes, err, sizeof err) == 0
                     ? cpns4_scopes_to_json(scopes)
                     : json_array(); /* a scope this version does not know: none */
  return json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:o, s:b}", "id", t->id, "name", t->name,
                   "identity", "", "scopes", list, "created_by", t->created_by, "created",
                   (json_int_t)t->created_at, "expires",
                   t->expires_at ? json_integer(t->expires_at) : json_null(), "expired",
                   t->expires_at && t->expires_at <= now);
}

/* The holder's identity into o's "identity" (json_pack cannot join). */
static json_t *with_identity(json_t *o, const char *name) {
  char id[CPNS_ID_MAX + sizeof CPNS4_IDENTITY_PREFIX];
  snprintf(id, sizeof id, "%s%s", CPNS4_IDENTITY_PREFIX, name);
  if (o) json_object_set_new(o, "identity", json_string(id));
  return o;
}

/* POST /tokens {"name", "scopes": [...], "ttl"}: 2.01 with the token, the
 * only time it is shown. */
static void post_token(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  static const char *const members[] = {"name", "scopes", "ttl", NULL};
  char err[CPNS_DIAG_MAX];
  struct cpns_token_rec t;
  memset(&t, 0, sizeof t);
  long ttl = 0, ttl_max = srv->conf.http.token_ttl_max ? srv->conf.http.token_ttl_max : TOKEN_TTL_LIMIT;
  unsigned scopes = 0;
  if (!req->body) {
    cpns_reply_error(req, 400, "the body is {\"name\", \"scopes\": [...], \"ttl\"}");
    return;
  }
  if (cpns_msg_only(req->body, members, err, sizeof err) ||
      cpns_msg_str(req->body, "name", t.name, sizeof t.name, true, err, sizeof err) ||
      cpns4_scopes_from_json(json_object_get(req->body, "scopes"), &scopes, err, sizeof err) ||
      cpns_msg_int(req->body, "ttl", 1, ttl_max, &ttl, false, err, sizeof err)) {
    cpns_reply_error(req, 400, "%s", err);
    return;
  }
  if (!cpns4_valid_name(t.name)) {
    cpns_reply_error(req, 400, "'name' must be an id of at most %d bytes ([A-Za-z0-9._-])",
                     CPNS4_NAME_MAX);
    return;
  }
  if (!ttl && srv->conf.http.token_ttl_max) ttl = srv->conf.http.token_ttl_max;
  uint64_t n = 0;
  if (srv->store->ops->token_count(srv->store, &n)) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  if (n >= (uint64_t)srv->conf.http.max_tokens) {
    cpns_reply_error(req, 503, "%llu tokens, the most there may be ([http] max_tokens): revoke some",
                     (unsigned long long)n);
    return;
  }
  cpns4_scopes_format(scopes, t.scopes);
  snprintf(t.created_by, sizeof t.created_by, "%s", req->peer->identity);
  t.created_at = now_s();
  t.expires_at = ttl ? t.created_at + ttl : 0;
  char text[CPNS4_TOKEN_LEN + 1];
  int rc = CPNS_ERR_EXISTS;
  for (int i = 0; i < TOKEN_ID_TRIES && rc == CPNS_ERR_EXISTS; i++) {
    rc = cpns4_token_new(text, t.id, t.hash);
    if (!rc) rc = srv->store->ops->token_put(srv->store, &t);
  }
  if (rc) {
    OPENSSL_cleanse(text, sizeof text);
    cpns_reply_error(req, 500, "cannot make a token");
    return;
  }
  log_notice(MOD, "token %s for %s%s (%s) created by %s%s", t.id, CPNS4_IDENTITY_PREFIX, t.name,
             t.scopes, t.created_by, ttl ? "" : ", never expires");
  json_t *o = with_identity(token_json(&t, t.created_at), t.name);
  if (o) json_object_set_new(o, "token", json_string(text));
  OPENSSL_cleanse(text, sizeof text);
  /* RFC 9176 style, as the directory names what it creates. */
  const char *segs[] = {"cpns", "v1", "tokens", t.id};
  for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++)
    coap_add_option(req->response, COAP_OPTION_LOCATION_PATH, strlen(segs[i]),
                    (const uint8_t *)segs[i]);
  cpns_reply(req, 201, o);
}

struct listing {
  json_t *list;
  int64_t now;
};

static int add_token(void *arg, const struct cpns_token_rec *t) {
  struct listing *l = arg;
  json_array_append_new(l->list, with_identity(token_json(t, l->now), t->name));
  return 0;
}

/* GET /tokens: every token (never its secret, which is not kept). */
static void get_tokens(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct listing l = {json_array(), now_s()};
  if (!l.list || srv->store->ops->token_list(srv->store, add_token, &l)) {
    json_decref(l.list);
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  cpns_reply(req, 205, json_pack("{s:o}", "tokens", l.list));
}

/* DELETE /tokens/{id}: revoked at once; a request already past its check
 * finishes (requests are checked one by one, on open connections too). */
static void delete_token(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  int rc = cpns4_valid_token_id(req->seg[1]) ? srv->store->ops->token_delete(srv->store, req->seg[1])
                                             : CPNS_ERR_NOTFOUND;
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such token" : "store failure");
    return;
  }
  log_notice(MOD, "token %s revoked by %s", req->seg[1], req->peer->identity);
  cpns_reply(req, 202, NULL);
}

int tokens__verify(struct server *srv, const char *text, size_t len, struct cpns_key_entry *peer,
                   unsigned *scopes) {
  char id[CPNS4_TOKEN_ID_LEN + 1];
  uint8_t hash[CPNS4_TOKEN_HASH_LEN];
  if (cpns4_token_parse(text, len, id, hash)) {
    CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "a malformed bearer token was presented");
    return CPNS_ERR_UNAUTH;
  }
  struct cpns_token_rec t;
  int rc = srv->store->ops->token_get(srv->store, id, &t);
  if (rc == CPNS_ERR_NOTFOUND) {
    CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "token %s: unknown (revoked?)", id);
    return CPNS_ERR_UNAUTH;
  }
  if (rc) return CPNS_ERR_STORE;
  bool ok = cpns4_hash_equal(t.hash, hash);
  OPENSSL_cleanse(hash, sizeof hash);
  if (!ok) {
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "token %s: wrong secret", id);
    return CPNS_ERR_UNAUTH;
  }
  if (t.expires_at && t.expires_at <= now_s()) {
    CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "token %s of %s%s: expired", id, CPNS4_IDENTITY_PREFIX, t.name);
    return CPNS_ERR_UNAUTH;
  }
  char err[CPNS_DIAG_MAX];
  if (cpns4_scopes_parse(t.scopes, scopes, err, sizeof err)) {
    log_warn(MOD, "token %s: stored scopes unreadable (%s)", id, err);
    return CPNS_ERR_UNAUTH;
  }
  const size_t pre = sizeof CPNS4_IDENTITY_PREFIX - 1, nl = strnlen(t.name, sizeof t.name);
  if (nl > (size_t)CPNS4_NAME_MAX) { /* never written so: checked at creation */
    log_warn(MOD, "token %s: stored name too long", id);
    return CPNS_ERR_UNAUTH;
  }
  memset(peer, 0, sizeof *peer);
  memcpy(peer->identity, CPNS4_IDENTITY_PREFIX, pre);
  memcpy(peer->identity + pre, t.name, nl + 1);
  peer->role = CPNS_PEER_EXTERNAL;
  return 0;
}

int tokens__init(struct server *srv) {
  struct cpns_node *n = srv->node;
  const unsigned op = CPNS_REL_OPERATOR;
  int rc = 0;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "tokens", op, "create CPNS-4 tokens",
                           post_token, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "tokens", op, "list CPNS-4 tokens",
                           get_tokens, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "tokens/*", op, "revoke CPNS-4 tokens",
                           delete_token, srv);
  return rc ? CPNS_ERR_LIMIT : 0;
}
