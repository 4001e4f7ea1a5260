/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's part in key provisioning (spec 5.5.7.2: "key provision
 * signalling is intermediated by PN GW"). The gateway terminates its PNEs'
 * DTLS sessions, so it needs their keys: those not in its keyring file it
 * fetches from the server over its own session and caches. A handshake with
 * an identity not cached yet fails once while the key is fetched; the PNE's
 * retry succeeds. An enrolling PNE ("enroll.<id>") is handled the same way
 * with the code-derived PSK, then redeems its code through the gateway. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enroll.h"
#include "gw.h"
#include "keycache.h"
#include "log.h"
#include "msg.h"

#define MOD "keys"
#define FETCH_MAX 16          /* key fetches in flight */
#define NEGATIVE_MAX 256      /* identities recently unknown to the server */
#define NEGATIVE_SECONDS 5    /* ... not asked again for this long */

struct negative {
  char identity[CPNS_ID_MAX + 1];
  time_t until;
};

struct fetch {
  struct gw *gw;
  char identity[CPNS_ID_MAX + 1];
};

static struct cpns_keycache *g_cache;
static struct negative g_negative[NEGATIVE_MAX];
static unsigned g_fetching;

static bool recently_unknown(const char *id) {
  time_t now = time(NULL);
  for (unsigned i = 0; i < NEGATIVE_MAX; i++)
    if (g_negative[i].until > now && strcmp(g_negative[i].identity, id) == 0) return true;
  return false;
}

static void remember_unknown(const char *id) {
  unsigned oldest = 0;
  for (unsigned i = 0; i < NEGATIVE_MAX; i++)
    if (g_negative[i].until < g_negative[oldest].until) oldest = i;
  snprintf(g_negative[oldest].identity, sizeof g_negative[oldest].identity, "%s", id);
  g_negative[oldest].until = time(NULL) + NEGATIVE_SECONDS;
}

static int cache_key(const char *identity, enum cpns_peer_role role, const char *pn, const char *hex) {
  struct cpns_key_entry e;
  memset(&e, 0, sizeof e);
  snprintf(e.identity, sizeof e.identity, "%s", identity);
  snprintf(e.pn, sizeof e.pn, "%s", pn ? pn : "");
  e.role = role;
  int rc = hex ? cpns_key_from_hex(hex, e.key) : CPNS_ERR_INVAL;
  if (!rc) rc = cpns_keycache_put(g_cache, &e);
  OPENSSL_cleanse(&e, sizeof e);
  return rc;
}

static void fetched(void *arg, int code, const json_t *body, const char *diag) {
  struct fetch *f = arg;
  g_fetching--;
  const char *device = cpns_enroll_id_of(f->identity);
  if (code == 205) {
    const char *hex = json_string_value(json_object_get(body, device ? "psk" : "key"));
    const char *pn = json_string_value(json_object_get(body, "pn"));
    if (pn && strcmp(pn, f->gw->conf.pn) == 0 &&
        cache_key(f->identity, device ? CPNS_PEER_ENROLLEE : CPNS_PEER_PNE, pn, hex) == 0)
      log_info(MOD, "obtained the %s of %s from the server", device ? "enrollment PSK" : "key",
               f->identity);
  } else {
    remember_unknown(f->identity);
    if (code != 404) CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "key of %s: server answered %d %s", f->identity, code, diag);
  }
  free(f);
}

/* Identities beyond the keyring file: cached, or fetched for next time. */
static const struct cpns_key_entry *lookup(void *arg, const char *identity, size_t len) {
  struct gw *gw = arg;
  const struct cpns_key_entry *hit = cpns_keycache_get(g_cache, identity, len);
  if (hit) return hit;
  if (len == 0 || len > CPNS_ID_MAX || memchr(identity, '\0', len)) return NULL;
  char id[CPNS_ID_MAX + 1];
  memcpy(id, identity, len);
  id[len] = '\0';
  coap_session_t *up = upstream__session(gw);
  if (!up || g_fetching >= FETCH_MAX || recently_unknown(id) || !cpns_valid_id(id)) return NULL;
  const char *device = cpns_enroll_id_of(id);
  char path[CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "%s/%s", device ? "enrollments" : "keys", device ? device : id);
  struct fetch *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->gw = gw;
  snprintf(f->identity, sizeof f->identity, "%s", id);
  if (cpns_node_request(gw->node, up, COAP_REQUEST_CODE_GET, path, NULL, NULL, fetched, f)) {
    free(f);
    return NULL;
  }
  g_fetching++;
  remember_unknown(id); /* at most one fetch per identity per few seconds */
  return NULL;
}

/* POST /enroll: a PNE that proved its code (as "enroll.<id>") gets its key:
 * the gateway redeems the code at the server, keeps the key for the PNE's
 * sessions, and hands it over on this DTLS session. */
struct redeem_ctx {
  struct gw *gw;
  struct cpns_deferred *d;
  char enroll_identity[CPNS_ID_MAX + 1];
};

static void redeemed(void *arg, int code, const json_t *body, const char *diag) {
  struct redeem_ctx *c = arg;
  if (code == 201) {
    const char *id = json_string_value(json_object_get(body, "identity"));
    const char *hex = json_string_value(json_object_get(body, "key"));
    const char *pn = json_string_value(json_object_get(body, "pn"));
    if (id && cache_key(id, CPNS_PEER_PNE, pn, hex) == 0) {
      cpns_keycache_remove(g_cache, c->enroll_identity);
      log_notice(MOD, "%s enrolled through this gateway", id);
      cpns_deferred_reply(c->d, 201, json_deep_copy(body), NULL);
    } else {
      cpns_deferred_reply(c->d, 502, NULL, "malformed answer from the server");
    }
  } else if (code < 0) {
    cpns_deferred_reply(c->d, 504, NULL, "the server did not answer");
  } else {
    cpns_deferred_reply(c->d, code, NULL, diag);
  }
  free(c);
}

static void post_enroll(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  const char *device = cpns_enroll_id_of(req->peer->identity);
  coap_session_t *up = upstream__session(gw);
  if (!device || !up) {
    cpns_reply_error(req, device ? 503 : 403, device ? "the server is not reachable" : "not enrolling");
    return;
  }
  struct redeem_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  c->gw = gw;
  snprintf(c->enroll_identity, sizeof c->enroll_identity, "%s", req->peer->identity);
  c->d = cpns_req_defer(req);
  if (!c->d) {
    free(c);
    return;
  }
  char path[CPNS_ID_MAX + 24];
  snprintf(path, sizeof path, "enrollments/%s/redeem", device);
  if (cpns_node_request(gw->node, up, COAP_REQUEST_CODE_POST, path, NULL, NULL, redeemed, c)) {
    cpns_deferred_reply(c->d, 503, NULL, "cannot reach the server");
    free(c);
  }
}

/* POST /keys/{id}/rotate by the PNE itself: relayed; the new key replaces
 * the cached one and the PNE's sessions close, so it reconnects with it. */
struct rotate_ctx {
  struct gw *gw;
  struct cpns_deferred *d;
};

static void rotated(void *arg, int code, const json_t *body, const char *diag) {
  struct rotate_ctx *c = arg;
  if (code == 201) {
    const char *id = json_string_value(json_object_get(body, "identity"));
    if (id && cache_key(id, CPNS_PEER_PNE, json_string_value(json_object_get(body, "pn")),
                        json_string_value(json_object_get(body, "key"))) == 0)
      cpns_node_close_identity(c->gw->node, id);
    cpns_deferred_reply(c->d, 201, json_deep_copy(body), NULL);
  } else {
    cpns_deferred_reply(c->d, code < 0 ? 504 : code, NULL, code < 0 ? "the server did not answer" : diag);
  }
  free(c);
}

static void rotate_key(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  coap_session_t *up = upstream__session(gw);
  if (!up) {
    cpns_reply_error(req, 503, "the server is not reachable");
    return;
  }
  struct rotate_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  c->gw = gw;
  c->d = cpns_req_defer(req);
  if (!c->d) {
    free(c);
    return;
  }
  char path[CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "keys/%s/rotate", req->seg[1]);
  if (cpns_node_request(gw->node, up, COAP_REQUEST_CODE_POST, path, NULL, NULL, rotated, c)) {
    cpns_deferred_reply(c->d, 503, NULL, "cannot reach the server");
    free(c);
  }
}

/* DELETE /keys/{id} from the server (CPNS-7): the key was revoked or
 * rotated; forget it and close the entity's sessions here. */
static void forget_key(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  const char *id = req->seg[1];
  cpns_keycache_remove(g_cache, id);
  unsigned n = cpns_node_close_identity(gw->node, id);
  log_notice(MOD, "key of %s withdrawn by the server; closing %u session(s)", id, n);
  cpns_reply(req, 202, NULL);
}

int keys__init(struct gw *gw) {
  g_cache = cpns_keycache_new((size_t)gw->conf.keyring_max);
  if (!g_cache) return CPNS_ERR_NOMEM;
  struct cpns_node *n = gw->node;
  cpns_node_set_psk_lookup(n, lookup, gw);
  int rc = 0;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "enroll", CPNS_REL_ENROLLEE, "enroll",
                           post_enroll, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "keys/*/rotate", CPNS_REL_SELF,
                           "rotate another entity's key", rotate_key, gw);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "keys/*", CPNS_REL_SERVER,
                           "withdraw keys", forget_key, gw);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void keys__free(void) {
  cpns_keycache_free(g_cache);
  g_cache = NULL;
}
