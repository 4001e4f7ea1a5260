/* SPDX-License-Identifier: Apache-2.0 */
/* The Metadata Directory at the server (spec 5.5.5; issue 4): service
 * publication and discovery over CoAP, shaped after the CoRE Resource
 * Directory (RFC 9176). An offerer (a PN GW for itself, a PNE through its
 * gateway, the operator) publishes a description with POST /services and
 * gets the service's own resource (2.01 with its Location-Path, as an RD
 * registration), which it updates (PUT), refreshes (POST, RFC 9176 §5.3.1)
 * and removes (DELETE); a description lives for its lifetime unless
 * refreshed, and goes when its offerer leaves its PN. Consumers look
 * services up by keywords (all of, any of, by prefix), offerer, PN and
 * their device's capabilities, a page at a time in id order, and see only
 * what they may: public services, their own PN's private ones (the operator
 * sees all). A consumer may also save a query as an interest, an observable
 * resource that tells it (RFC 7641) of each matching service that appears,
 * changes or goes away: the server's advertisement of new services.
 *
 * Who may call what is decided by the route rules from the relations
 * computed here (directory__relations); the handlers do the work. The
 * directory is in the store, indexed so that no lookup scans (see
 * service_find in store.h); the saved interests are also kept in memory,
 * where each change of a service is matched against them. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "msg.h"
#include "server.h"
#include "service.h"

#define MOD "directory"
/* Bytes of randomness in a service or interest id (hex: twice as many characters). */
#define DIR_ID_BYTES 8
/* Events an interest keeps for its observers to catch up with (each names a
 * service; a notification carries them all, the newest last). */
#define INTEREST_EVENTS_MAX 8
/* Ids tried before a publication gives up on finding a free one (with 64
 * random bits, a second try is already a curiosity). */
#define DIR_ID_TRIES 4

/* A saved interest, in memory for matching (the store has the same). */
struct interest {
  char id[CPNS_ID_MAX + 1];
  char owner[CPNS_ID_MAX + 1];
  char owner_pn[CPNS_ID_MAX + 1];
  bool see_all;
  struct cpns_service_query q;
  uint64_t seq;
  json_t *events; /* a list of at most INTEREST_EVENTS_MAX events, owned */
};

struct directory {
  struct interest **interests; /* max_interests slots, n used, in no order */
  unsigned n;
  uint64_t services; /* how many the store holds: kept in step, read once at start */
};

static int64_t now_s(void) { return (int64_t)time(NULL); }

static bool is_operator(const struct cpns_key_entry *p) { return p->role == CPNS_PEER_OPERATOR; }

static void interest_path(const char *id, char *out, size_t len) {
  snprintf(out, len, "interests/%s", id);
}

static struct interest *interest_find(struct directory *d, const char *id) {
  for (unsigned i = 0; i < d->n; i++)
    if (strcmp(d->interests[i]->id, id) == 0) return d->interests[i];
  return NULL;
}

/* A fresh random id of DIR_ID_BYTES in hex. */
static int new_id(char out[CPNS_ID_MAX + 1]) {
  unsigned char b[DIR_ID_BYTES];
  if (RAND_bytes(b, sizeof b) != 1) return CPNS_ERR_CRYPTO;
  for (size_t i = 0; i < sizeof b; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
  return 0;
}

/* RFC 9176 §5: a created resource is named by Location-Path options, which
 * must precede the payload that cpns_reply adds. */
static void set_location(struct cpns_req *req, const char *collection, const char *id) {
  const char *segs[] = {"cpns", "v1", collection, id};
  for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++)
    coap_add_option(req->response, COAP_OPTION_LOCATION_PATH, strlen(segs[i]),
                    (const uint8_t *)segs[i]);
}

unsigned directory__relations(struct server *srv, const struct cpns_req *req, unsigned wanted) {
  const struct cpns_key_entry *p = req->peer;
  unsigned rel = 0;
  /* A PNE speaks to the server through its gateway (On-Behalf-Of), which
   * vouched that it is registered in the gateway's PN. */
  if (req->via && p->role == CPNS_PEER_PNE) rel |= CPNS_REL_VIA_GW;
  if (req->nseg != 2 || !cpns_valid_id(req->seg[1])) return rel;
  if (strcmp(req->seg[0], "services") == 0 && (wanted & CPNS_REL_OFFERER)) {
    struct cpns_service *s = malloc(sizeof *s);
    if (s && srv->store->ops->service_get(srv->store, req->seg[1], s) == 0 &&
        strcmp(s->offerer, p->identity) == 0 && strcmp(s->pn, p->pn) == 0)
      rel |= CPNS_REL_OFFERER;
    free(s);
  } else if (strcmp(req->seg[0], "interests") == 0 && (wanted & CPNS_REL_SUBSCRIBER)) {
    struct interest *it = interest_find(srv->dir, req->seg[1]);
    if (it && strcmp(it->owner, p->identity) == 0) rel |= CPNS_REL_SUBSCRIBER;
  }
  return rel;
}

/* ---- interests: matching and events ---- */

static bool interest_wants(const struct interest *it, const struct cpns_service *s) {
  return s && cpns_service_visible(s, it->see_all, it->owner_pn) &&
         cpns_service_query_matches(&it->q, s);
}

/* Records an event on an interest (memory and store) and tells its
 * observers. A failure to store it is logged: the observers are told all
 * the same, and the interest itself is intact. */
static void interest_event(struct server *srv, struct interest *it, const char *type,
                           const struct cpns_service *s) {
  json_t *ev = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I}", "seq", (json_int_t)(it->seq + 1),
                         "type", type, "service", s->id, "name", s->name, "offerer", s->offerer,
                         "at", (json_int_t)now_s());
  if (!ev || json_array_append_new(it->events, ev)) return;
  it->seq++;
  while (json_array_size(it->events) > INTEREST_EVENTS_MAX) json_array_remove(it->events, 0);
  char *text = json_dumps(it->events, JSON_COMPACT);
  /* Names are bounded, so this never loops more than the list is long. */
  while (text && strlen(text) > CPNS_INTEREST_TEXT_MAX && json_array_size(it->events) > 1) {
    free(text);
    json_array_remove(it->events, 0);
    text = json_dumps(it->events, JSON_COMPACT);
  }
  if (!text || srv->store->ops->interest_event(srv->store, it->id, it->seq, text))
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "interest %s: event %llu not stored", it->id,
                (unsigned long long)it->seq);
  free(text);
  char path[CPNS_ID_MAX + 16];
  interest_path(it->id, path, sizeof path);
  cpns_node_notify(srv->node, path);
}

/* A service changed from before to after (either NULL: it appeared, or went
 * away): every interest that matched it, or does now, hears of it. */
static void directory_changed(struct server *srv, const struct cpns_service *before,
                              const struct cpns_service *after) {
  struct directory *d = srv->dir;
  for (unsigned i = 0; i < d->n; i++) {
    struct interest *it = d->interests[i];
    bool was = interest_wants(it, before), is = interest_wants(it, after);
    if (is) interest_event(srv, it, was ? "changed" : "appeared", after);
    else if (was) interest_event(srv, it, "gone", before);
  }
}

/* A service the store removed (expiry, its offerer gone). */
static int removed(void *arg, const struct cpns_service *s) {
  struct server *srv = arg;
  if (srv->dir->services) srv->dir->services--;
  directory_changed(srv, s, NULL);
  return 0;
}

static void expire_services(void *arg) {
  struct server *srv = arg;
  uint64_t before = srv->dir->services;
  if (srv->store->ops->service_expire(srv->store, now_s(), removed, srv))
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "expiring services failed");
  if (before != srv->dir->services)
    log_info(MOD, "%llu services expired", (unsigned long long)(before - srv->dir->services));
}

void directory__entity_gone(struct server *srv, const char *pn, const char *offerer) {
  if (!srv->dir) return;
  uint64_t before = srv->dir->services;
  if (srv->store->ops->service_remove(srv->store, pn, offerer, removed, srv))
    log_warn(MOD, "withdrawing the services of %s%s%s failed", offerer ? offerer : "PN ",
             offerer ? " of PN " : "", pn);
  if (before != srv->dir->services)
    log_notice(MOD, "%llu services of %s%s%s withdrawn", (unsigned long long)(before - srv->dir->services),
               offerer ? offerer : "PN ", offerer ? " of PN " : "", pn);
}

/* ---- services ---- */

/* The service in the path, or an answer (404 also for one the caller may
 * not see, which it cannot tell from one that does not exist) and false. */
static bool load_service(struct server *srv, struct cpns_req *req, struct cpns_service *s,
                         bool check_visible) {
  int rc = cpns_valid_id(req->seg[1]) ? srv->store->ops->service_get(srv->store, req->seg[1], s)
                                      : CPNS_ERR_NOTFOUND;
  if (!rc && s->expires_at <= now_s()) rc = CPNS_ERR_NOTFOUND; /* the timer has not run yet */
  if (!rc && check_visible && !cpns_service_visible(s, is_operator(req->peer), req->peer->pn))
    rc = CPNS_ERR_NOTFOUND;
  if (rc == 0) return true;
  if (rc == CPNS_ERR_NOTFOUND)
    cpns_reply_error(req, 404, "no such service");
  else
    cpns_reply_error(req, 500, "store failure");
  return false;
}

/* The body as a description: 4.00 with the reason otherwise. A private
 * service needs its offerer's PN. */
static bool parse_description(struct cpns_req *req, const char *pn, struct cpns_service *s) {
  char err[CPNS_DIAG_MAX];
  if (!req->body) {
    cpns_reply_error(req, 400, "a service description is required (see docs/protocol.md)");
    return false;
  }
  int rc = cpns_service_parse(req->body, s, err, sizeof err);
  if (rc) {
    CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "%s: description refused: %s", req->peer->identity, err);
    cpns_reply_error(req, 400, "%s", err);
    return false;
  }
  if (s->visibility == CPNS_VIS_PN && !pn[0]) {
    cpns_reply_error(req, 400, "'visibility' \"pn\" needs a PN and %s has none: publish it \"public\"",
                     req->peer->identity);
    return false;
  }
  return true;
}

static json_t *published(const struct cpns_service *s) {
  return json_pack("{s:s, s:I, s:I}", "id", s->id, "lt", (json_int_t)s->lifetime, "expires",
                   (json_int_t)s->expires_at);
}

/* POST /services: publish (RFC 9176 §5.3 registration). The offerer is
 * the caller, its PN the caller's. */
static void post_service(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct directory *d = srv->dir;
  const struct cpns_key_entry *p = req->peer;
  struct cpns_service *s = malloc(sizeof *s);
  if (!s) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  if (!parse_description(req, p->pn, s)) goto out;
  uint64_t mine = 0;
  if (srv->store->ops->service_count(srv->store, p->identity, &mine)) {
    cpns_reply_error(req, 500, "store failure");
    goto out;
  }
  if (mine >= (uint64_t)srv->conf.max_services_per_offerer) {
    cpns_reply_error(req, 503, "%s has %llu services, the most one offerer may publish", p->identity,
                     (unsigned long long)mine);
    goto out;
  }
  if (d->services >= (uint64_t)srv->conf.max_services) {
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "service limit (%ld) reached; refusing %s's",
                srv->conf.max_services, p->identity);
    cpns_reply_error(req, 503, "the directory is full");
    goto out;
  }
  int rc = CPNS_ERR_EXISTS;
  for (int i = 0; i < DIR_ID_TRIES && rc == CPNS_ERR_EXISTS; i++) {
    struct cpns_service *old = malloc(sizeof *old);
    rc = old ? new_id(s->id) : CPNS_ERR_NOMEM;
    if (!rc) {
      int g = srv->store->ops->service_get(srv->store, s->id, old);
      rc = g == 0 ? CPNS_ERR_EXISTS : g == CPNS_ERR_NOTFOUND ? 0 : g;
    }
    free(old);
  }
  if (rc) {
    cpns_reply_error(req, 500, "cannot name the service");
    goto out;
  }
  snprintf(s->offerer, sizeof s->offerer, "%s", p->identity);
  snprintf(s->pn, sizeof s->pn, "%s", p->pn);
  s->created_at = s->updated_at = now_s();
  s->expires_at = s->created_at + s->lifetime;
  if (srv->store->ops->service_put(srv->store, s)) {
    cpns_reply_error(req, 500, "store failure");
    goto out;
  }
  d->services++;
  log_info(MOD, "service %s \"%s\" published by %s%s%s (%s)", s->id, s->name, s->offerer,
           s->pn[0] ? " of " : "", s->pn, cpns_visibility_name(s->visibility));
  set_location(req, "services", s->id);
  cpns_reply(req, 201, published(s));
  directory_changed(srv, NULL, s);
out:
  free(s);
}

/* GET /services/{id}: the whole description, to whoever may see it. */
static void get_service(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_service *s = malloc(sizeof *s);
  if (!s) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  if (load_service(srv, req, s, true)) cpns_reply(req, 205, cpns_service_to_json(s));
  free(s);
}

/* PUT /services/{id}: a new description replaces the old, with a new
 * lifetime from now; id, offerer, PN and creation stay. */
static void put_service(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_service *old = malloc(sizeof *old), *s = malloc(sizeof *s);
  if (!old || !s) {
    cpns_reply_error(req, 500, "out of memory");
    goto out;
  }
  if (!load_service(srv, req, old, false) || !parse_description(req, old->pn, s)) goto out;
  memcpy(s->id, old->id, sizeof s->id);
  memcpy(s->offerer, old->offerer, sizeof s->offerer);
  memcpy(s->pn, old->pn, sizeof s->pn);
  s->created_at = old->created_at;
  s->updated_at = now_s();
  s->expires_at = s->updated_at + s->lifetime;
  if (srv->store->ops->service_put(srv->store, s)) {
    cpns_reply_error(req, 500, "store failure");
    goto out;
  }
  log_info(MOD, "service %s updated by %s", s->id, req->peer->identity);
  cpns_reply(req, 204, published(s));
  directory_changed(srv, old, s);
out:
  free(old);
  free(s);
}

/* POST /services/{id}[?lt=N]: a refresh (RFC 9176 §5.3.1, Registration
 * Update): the lifetime starts again, optionally a new one. */
static void refresh_service(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  if (req->body) {
    cpns_reply_error(req, 400, "a refresh has no body: PUT replaces a description");
    return;
  }
  long lt = 0;
  if (req->query[0]) {
    char *end = NULL;
    if (strncmp(req->query, "lt=", 3) == 0) lt = strtol(req->query + 3, &end, 10);
    if (!end || *end || end == req->query + 3 || lt < CPNS_SERVICE_LT_MIN ||
        lt > CPNS_SERVICE_LT_MAX) {
      cpns_reply_error(req, 400, "a refresh takes only lt=SECONDS, %d..%d", CPNS_SERVICE_LT_MIN,
                       CPNS_SERVICE_LT_MAX);
      return;
    }
  }
  struct cpns_service *s = malloc(sizeof *s);
  if (!s) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  if (!load_service(srv, req, s, false)) goto out;
  if (lt) s->lifetime = (uint32_t)lt;
  s->updated_at = now_s();
  s->expires_at = s->updated_at + s->lifetime;
  if (srv->store->ops->service_put(srv->store, s)) {
    cpns_reply_error(req, 500, "store failure");
    goto out;
  }
  cpns_reply(req, 204, published(s));
out:
  free(s);
}

/* DELETE /services/{id}: unpublish. */
static void delete_service(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_service *s = malloc(sizeof *s);
  if (!s) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  if (!load_service(srv, req, s, false)) goto out;
  int rc = srv->store->ops->service_delete(srv->store, s->id);
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such service" : "store failure");
    goto out;
  }
  if (srv->dir->services) srv->dir->services--;
  log_info(MOD, "service %s unpublished by %s", s->id, req->peer->identity);
  cpns_reply(req, 202, NULL);
  directory_changed(srv, s, NULL);
out:
  free(s);
}

/* ---- lookup ---- */

struct page {
  json_t *list;
  unsigned limit, n;
};

static int add_to_page(void *arg, const struct cpns_service *s) {
  struct page *pg = arg;
  json_array_append_new(pg->list, cpns_service_to_json(s));
  return ++pg->n >= pg->limit;
}

/* Runs a parsed lookup for the caller and answers it: a page of services
 * and the cursor of the next ({"services": [...], "next": id | null}). */
static void lookup(struct server *srv, struct cpns_req *req, struct cpns_service_query *q) {
  if (!cpns_service_query_selective(q)) {
    cpns_reply_error(req, 400,
                     "name kw, offerer or pn: a lookup of everything is refused (page through "
                     "one PN with pn=)");
    return;
  }
  long page_max = srv->conf.service_page_max;
  if (q->limit > (unsigned long)page_max) {
    cpns_reply_error(req, 400, "limit must be 1..%ld", page_max);
    return;
  }
  struct page pg = {json_array(), q->limit ? q->limit : (unsigned)page_max, 0};
  const struct cpns_key_entry *p = req->peer;
  struct cpns_service_find f = {q, is_operator(p), p->pn, now_s(), (unsigned)srv->conf.lookup_budget};
  char last[CPNS_ID_MAX + 1];
  bool more = false;
  int rc = pg.list ? srv->store->ops->service_find(srv->store, &f, add_to_page, &pg, last, &more)
                   : CPNS_ERR_NOMEM;
  if (rc) {
    json_decref(pg.list);
    if (rc == CPNS_ERR_TOOBIG)
      cpns_reply_error(req, 400, "a prefix stands for more than %d keywords: make it longer",
                       CPNS_PREFIX_EXPANSION_MAX);
    else if (rc == CPNS_ERR_INVAL)
      cpns_reply_error(req, 400, "not a lookup this directory can answer");
    else
      cpns_reply_error(req, 500, "store failure");
    return;
  }
  if (q->after[0] && !last[0]) {
    /* Nothing at all after the cursor: not an empty page of a longer list
     * but a page past the end. A cursor this server gave out is never
     * that, unless the services after it went away since. */
    json_decref(pg.list);
    cpns_reply_error(req, 404, "nothing after '%s': past the end of the results", q->after);
    return;
  }
  cpns_reply(req, 205, json_pack("{s:o, s:o}", "services", pg.list, "next",
                                 more ? json_string(last) : json_null()));
}

/* GET /services?kw=a,b&match=all|any|prefix&offerer=X&pn=P&caps=...&limit=N&after=ID */
static void get_services(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_service_query *q = malloc(sizeof *q);
  char err[CPNS_DIAG_MAX];
  if (!q) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  if (cpns_service_query_parse_uri(req->query, q, err, sizeof err))
    cpns_reply_error(req, 400, "%s", err);
  else
    lookup(srv, req, q);
  free(q);
}

/* FETCH /services with the query as a body (RFC 8132): the same lookup,
 * for queries (capabilities above all) longer than a URI carries. */
static void fetch_services(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_service_query *q = malloc(sizeof *q);
  char err[CPNS_DIAG_MAX];
  if (!q) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  if (!req->body)
    cpns_reply_error(req, 400, "FETCH takes the query as its body");
  else if (req->query[0])
    cpns_reply_error(req, 400, "FETCH takes the query in its body, not in the URI");
  else if (cpns_service_query_parse_json(req->body, true, q, err, sizeof err))
    cpns_reply_error(req, 400, "%s", err);
  else
    lookup(srv, req, q);
  free(q);
}

/* ---- interests ---- */

static void interest_free(struct interest *it) {
  if (!it) return;
  json_decref(it->events);
  free(it);
}

/* A stored interest into memory (and its observable resource). */
static int interest_load(struct server *srv, const struct cpns_interest_rec *r) {
  struct directory *d = srv->dir;
  if (d->n >= (unsigned)srv->conf.max_interests) return CPNS_ERR_LIMIT;
  struct interest *it = calloc(1, sizeof *it);
  if (!it) return CPNS_ERR_NOMEM;
  memcpy(it->id, r->id, sizeof it->id);
  memcpy(it->owner, r->owner, sizeof it->owner);
  memcpy(it->owner_pn, r->owner_pn, sizeof it->owner_pn);
  it->see_all = r->see_all;
  it->seq = r->seq;
  char err[CPNS_DIAG_MAX] = "";
  json_t *q = json_loads(r->query, JSON_REJECT_DUPLICATES, NULL);
  it->events = json_loads(r->events[0] ? r->events : "[]", JSON_REJECT_DUPLICATES, NULL);
  int rc = !q || cpns_service_query_parse_json(q, false, &it->q, err, sizeof err) ||
                   !json_is_array(it->events)
               ? CPNS_ERR_STORE
               : 0;
  json_decref(q);
  char path[CPNS_ID_MAX + 16];
  interest_path(it->id, path, sizeof path);
  if (!rc) rc = cpns_node_observable(srv->node, path);
  if (rc) {
    interest_free(it);
    return rc;
  }
  d->interests[d->n++] = it;
  return 0;
}

static int load_stored(void *arg, const struct cpns_interest_rec *r) {
  struct server *srv = arg;
  int rc = interest_load(srv, r);
  if (rc) log_warn(MOD, "interest %s of %s not restored: %s", r->id, r->owner, cpns_strerror(rc));
  return 0;
}

/* POST /interests {"kw","match","offerer","pn","caps"}: saves a query; its
 * resource interests/{id} may be observed. */
static void post_interest(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct directory *d = srv->dir;
  const struct cpns_key_entry *p = req->peer;
  struct cpns_service_query *q = malloc(sizeof *q);
  struct cpns_interest_rec *r = calloc(1, sizeof *r);
  char err[CPNS_DIAG_MAX];
  json_t *canon = NULL;
  char *text = NULL;
  if (!q || !r) {
    cpns_reply_error(req, 500, "out of memory");
    goto out;
  }
  if (!req->body) {
    cpns_reply_error(req, 400, "the query is the body: {\"kw\": [...], \"match\": ...}");
    goto out;
  }
  if (cpns_service_query_parse_json(req->body, false, q, err, sizeof err)) {
    cpns_reply_error(req, 400, "%s", err);
    goto out;
  }
  if (!cpns_service_query_selective(q)) {
    cpns_reply_error(req, 400, "name kw, offerer or pn: an interest in everything is refused");
    goto out;
  }
  uint64_t mine = 0;
  if (srv->store->ops->interest_count(srv->store, p->identity, &mine)) {
    cpns_reply_error(req, 500, "store failure");
    goto out;
  }
  if (mine >= (uint64_t)srv->conf.max_interests_per_owner) {
    cpns_reply_error(req, 503, "%s has %llu interests, the most one identity may save",
                     p->identity, (unsigned long long)mine);
    goto out;
  }
  if (d->n >= (unsigned)srv->conf.max_interests) {
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "interest limit (%ld) reached", srv->conf.max_interests);
    cpns_reply_error(req, 503, "no room for more interests");
    goto out;
  }
  canon = cpns_service_query_to_json(q);
  text = canon ? json_dumps(canon, JSON_COMPACT) : NULL;
  if (!text || strlen(text) > CPNS_INTEREST_TEXT_MAX || new_id(r->id)) {
    cpns_reply_error(req, 500, "cannot save the interest");
    goto out;
  }
  snprintf(r->owner, sizeof r->owner, "%s", p->identity);
  snprintf(r->owner_pn, sizeof r->owner_pn, "%s", p->pn);
  r->see_all = is_operator(p);
  memcpy(r->query, text, strlen(text) + 1);
  snprintf(r->events, sizeof r->events, "[]");
  r->created_at = now_s();
  int rc = interest_find(d, r->id) ? CPNS_ERR_EXISTS : srv->store->ops->interest_put(srv->store, r);
  if (!rc && (rc = interest_load(srv, r))) srv->store->ops->interest_delete(srv->store, r->id);
  if (rc) {
    if (rc == CPNS_ERR_LIMIT)
      cpns_reply_error(req, 503, "no room for more observable resources (limits.max_observables)");
    else
      cpns_reply_error(req, 500, "cannot save the interest");
    goto out;
  }
  log_info(MOD, "interest %s saved by %s: %s", r->id, r->owner, text);
  set_location(req, "interests", r->id);
  cpns_reply(req, 201, json_pack("{s:s}", "id", r->id));
out:
  json_decref(canon);
  free(text);
  free(r);
  free(q);
}

static json_t *interest_json(const struct interest *it) {
  return json_pack("{s:s, s:s, s:o, s:I, s:O}", "id", it->id, "owner", it->owner, "query",
                   cpns_service_query_to_json(&it->q), "seq", (json_int_t)it->seq, "events",
                   it->events);
}

/* GET /interests/{id}: the query and its latest events (what an observer
 * is sent at each one). */
static void get_interest(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct interest *it = cpns_valid_id(req->seg[1]) ? interest_find(srv->dir, req->seg[1]) : NULL;
  if (!it) {
    cpns_reply_error(req, 404, "no such interest");
    return;
  }
  cpns_reply(req, 205, interest_json(it));
}

/* GET /interests: the caller's own (the operator's: all). */
static void get_interests(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct directory *d = srv->dir;
  json_t *list = json_array();
  for (unsigned i = 0; list && i < d->n; i++)
    if (is_operator(req->peer) || strcmp(d->interests[i]->owner, req->peer->identity) == 0)
      json_array_append_new(list, interest_json(d->interests[i]));
  cpns_reply(req, 205, json_pack("{s:o}", "interests", list));
}

/* DELETE /interests/{id}: its observers are told it is gone (4.04). */
static void delete_interest(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct directory *d = srv->dir;
  int rc = srv->store->ops->interest_delete(srv->store, req->seg[1]);
  if (rc && rc != CPNS_ERR_NOTFOUND) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  bool found = false;
  for (unsigned i = 0; i < d->n; i++) {
    if (strcmp(d->interests[i]->id, req->seg[1]) != 0) continue;
    interest_free(d->interests[i]);
    d->interests[i] = d->interests[--d->n];
    found = true;
    break;
  }
  if (!found) {
    cpns_reply_error(req, 404, "no such interest");
    return;
  }
  char path[CPNS_ID_MAX + 16];
  interest_path(req->seg[1], path, sizeof path);
  cpns_node_observable_remove(srv->node, path);
  log_info(MOD, "interest %s removed by %s", req->seg[1], req->peer->identity);
  cpns_reply(req, 202, NULL);
}

/* ---- set-up ---- */

int directory__init(struct server *srv) {
  struct directory *d = calloc(1, sizeof *d);
  if (!d) return CPNS_ERR_NOMEM;
  srv->dir = d;
  d->interests = calloc((size_t)srv->conf.max_interests + 1, sizeof *d->interests);
  if (!d->interests) return CPNS_ERR_NOMEM;
  if (srv->store->ops->service_count(srv->store, NULL, &d->services)) return CPNS_ERR_STORE;
  struct cpns_node *n = srv->node;
  const unsigned op = CPNS_REL_OPERATOR, gw = CPNS_REL_GW, pne = CPNS_REL_VIA_GW;
  /* External Application/Content Servers over CPNS-4 (http.c), within their
   * token's scopes; FETCH is CoAP's alone. */
  const unsigned ext = CPNS_REL_EXTERNAL;
  int rc = 0;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "services", op | gw | pne | ext,
                           "publish services", post_service, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "services", op | gw | pne | ext,
                           "look up services", get_services, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_FETCH, "services", op | gw | pne,
                           "look up services", fetch_services, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "services/*", op | gw | pne | ext,
                           "read services", get_service, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "services/*", op | CPNS_REL_OFFERER,
                           "change this service", put_service, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "services/*", op | CPNS_REL_OFFERER,
                           "refresh this service", refresh_service, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "services/*", op | CPNS_REL_OFFERER,
                           "remove this service", delete_service, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "interests", op | gw | pne | ext,
                           "save interests", post_interest, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "interests", op | gw | pne | ext,
                           "list interests", get_interests, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "interests/*", op | CPNS_REL_SUBSCRIBER,
                           "read this interest", get_interest, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "interests/*", op | CPNS_REL_SUBSCRIBER,
                           "remove this interest", delete_interest, srv);
  /* RFC 9176 §4.3 resource types, ours: the lookup and the interests. */
  rc |= cpns_node_add_link(n, "services", "rt=\"cpns.directory\";ct=\"60 50\"");
  rc |= cpns_node_add_link(n, "interests", "rt=\"cpns.interests\";ct=\"60 50\";obs");
  rc |= cpns_node_every(n, 1000, expire_services, srv);
  if (rc) return CPNS_ERR_LIMIT;
  /* Interests of an earlier run: in memory and observable again. */
  if (srv->store->ops->interest_list(srv->store, load_stored, srv)) return CPNS_ERR_STORE;
  if (d->n) log_info(MOD, "%u interests restored", d->n);
  return 0;
}

void directory__free(struct server *srv) {
  struct directory *d = srv->dir;
  if (!d) return;
  for (unsigned i = 0; i < d->n; i++) interest_free(d->interests[i]);
  free(d->interests);
  free(d);
  srv->dir = NULL;
}
