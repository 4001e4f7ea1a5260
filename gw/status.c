/* SPDX-License-Identifier: Apache-2.0 */
/* Status management at the PN GW (spec 5.5.3). Each PNE publishes its
 * status here (CPNS-1, PUT pns/{pn}/entities/{id}/status), held to a
 * configured rate (4.29, RFC 8516, beyond it; counted). The gateway stores
 * it, serves its PN (GET and Observe with conditional attributes,
 * lib/condobs.c) and aggregates towards the server: the PN's changes are
 * gathered for a short configured time and sent as one batch (POST
 * pns/{pn}/status), one batch in flight at a time, so that one PN's
 * chatter is one stream on CPNS-2; after each registration everything is
 * sent again. A PNE that stops refreshing goes offline (pn.c's expiry) and
 * its observers are told.
 *
 * Statuses of other PNs are the server's: plain reads are relayed, and
 * observations are relayed once per remote entity (lib/status_mirror.c) —
 * the server keeps those by the gateway's identity and resumes them on its
 * next session. Policy rules are the server's too, relayed On-Behalf-Of the
 * PNE; the server's reports (CPNS-7, POST reports) are passed on to their
 * target PNE on the session it opened (CPNS-6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "condobs.h"
#include "gw.h"
#include "log.h"
#include "msg.h"
#include "obsclient.h"
#include "ratelimit.h"
#include "status.h"
#include "status_mirror.h"

#define MOD "status"
#define STATUS_TICK_MS 50
/* Bytes of status documents in one batch: with ids and framing it stays
 * within the server's default request body limit (16 KiB). */
#define STATUS_BATCH_BYTES 12000
/* A batch refused for an entity the server does not know yet (its
 * registration is still in the change queue) is tried again after this. */
#define STATUS_NOT_YET_MS 1000
#define STATUS_RETRY_MS 2000
/* The longest wait a server's 4.29 "retry" may ask for (seconds): a larger
 * one, or a malformed one, would hold the PN's status back without end. */
#define STATUS_RETRY_MAX_S 3600

struct dirty {
  char id[CPNS_ID_MAX + 1];
  uint64_t gen; /* of the latest change */
};

struct gw_status {
  bool alive;
  struct gw *gw;
  struct cpns_condobs *co;
  struct cpns_obsclient *oc;
  struct cpns_status_mirror *mirror;
  struct cpns_ratebook *rates;
  struct dirty *dirty; /* entities whose status the server has not acknowledged */
  size_t ndirty, cap;
  uint64_t gen;
  struct dirty *sent; /* in the batch in flight */
  size_t nsent;
  bool in_flight, was_ready;
  uint64_t flush_at_ms, not_before_ms;
  unsigned long updates, unchanged, rate_limited, refused, batches, batch_updates, offline;
  unsigned long reports, reports_undelivered;
};

static struct gw_status GS;

static int64_t now_s(void) { return (int64_t)time(NULL); }

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool is_mine(const char *pn) { return strcmp(pn, GS.gw->conf.pn) == 0; }

static void topic_of(const char *pn, const char *id, char *out, size_t size) {
  snprintf(out, size, "%s/%s", pn, id);
}

/* ---- the aggregated stream to the server ------------------------------------------ */

static void mark_dirty(const char *id) {
  uint64_t g = ++GS.gen;
  for (size_t i = 0; i < GS.ndirty; i++)
    if (strcmp(GS.dirty[i].id, id) == 0) {
      GS.dirty[i].gen = g;
      goto scheduled;
    }
  if (GS.ndirty == GS.cap) {
    size_t cap = GS.cap ? GS.cap * 2 : 32;
    struct dirty *n = realloc(GS.dirty, cap * sizeof *n);
    if (!n) return; /* out of memory: the next registration sends it again */
    GS.dirty = n;
    GS.cap = cap;
  }
  snprintf(GS.dirty[GS.ndirty].id, sizeof GS.dirty[0].id, "%s", id);
  GS.dirty[GS.ndirty++].gen = g;
scheduled:
  if (!GS.flush_at_ms) GS.flush_at_ms = mono_ms() + (uint64_t)GS.gw->conf.status.batch_ms;
}

static void clean(const char *id, uint64_t gen) {
  for (size_t i = 0; i < GS.ndirty; i++)
    if (strcmp(GS.dirty[i].id, id) == 0) {
      if (GS.dirty[i].gen == gen) GS.dirty[i] = GS.dirty[--GS.ndirty];
      return;
    }
}

static void batch_answer(void *arg, int code, const json_t *body, const char *diag) {
  (void)arg;
  if (!GS.alive) return;
  GS.in_flight = false;
  uint64_t now = mono_ms();
  if (code < 0 || code >= 500) {
    /* The server is away or busy: everything stays to be sent. */
    GS.not_before_ms = now + STATUS_RETRY_MS;
    if (!GS.flush_at_ms) GS.flush_at_ms = GS.not_before_ms;
    GS.nsent = 0;
    return;
  }
  if (code >= 400) {
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "the server refused a status batch: %d %s", code, diag);
    GS.not_before_ms = now + STATUS_RETRY_MS;
  }
  /* Per update: a refusal keeps it to be sent again, unless it is final. */
  json_t *refused = code < 300 ? json_object_get(body, "refused") : NULL;
  for (size_t i = 0; i < GS.nsent; i++) {
    bool again = code >= 400;
    size_t j;
    json_t *r;
    json_array_foreach(refused, j, r) {
      const char *id = json_string_value(json_object_get(r, "id"));
      if (!id || strcmp(id, GS.sent[i].id) != 0) continue;
      int c = (int)json_integer_value(json_object_get(r, "code"));
      json_t *retry = json_object_get(r, "retry");
      if (c == 429 || c == 404 || c >= 500) {
        again = true;
        json_int_t secs = json_is_integer(retry) ? json_integer_value(retry) : 0;
        if (secs > STATUS_RETRY_MAX_S) secs = STATUS_RETRY_MAX_S;
        uint64_t wait = c == 429 && secs > 0 ? (uint64_t)secs * 1000 : STATUS_NOT_YET_MS;
        if (GS.not_before_ms < now + wait) GS.not_before_ms = now + wait;
      } else {
        CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "the server refused the status of %s: %d %s",
                    GS.sent[i].id, c, json_string_value(json_object_get(r, "diag")));
      }
    }
    if (!again) clean(GS.sent[i].id, GS.sent[i].gen);
  }
  GS.nsent = 0;
  if (GS.ndirty && !GS.flush_at_ms) GS.flush_at_ms = now;
}

/* Sends the PN's pending changes as one batch (at most batch_max updates,
 * STATUS_BATCH_BYTES of documents). */
static void flush(void) {
  struct gw *gw = GS.gw;
  coap_session_t *up = upstream__session(gw);
  if (GS.in_flight || !GS.ndirty || !up) return;
  size_t max = (size_t)gw->conf.status.batch_max, bytes = 0;
  json_t *ups = json_array();
  struct dirty *sent = calloc(max, sizeof *sent);
  if (!ups || !sent) {
    json_decref(ups);
    free(sent);
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < GS.ndirty && n < max; i++) {
    struct cpns_status_rec r;
    if (gw->store->ops->status_get(gw->store, gw->conf.pn, GS.dirty[i].id, &r)) {
      GS.dirty[i--] = GS.dirty[--GS.ndirty]; /* gone since: nothing to send */
      continue;
    }
    size_t len = strlen(r.doc) + strlen(r.id) + 32;
    if (n && bytes + len > STATUS_BATCH_BYTES) break;
    json_error_t je;
    json_t *doc = json_loads(r.doc, JSON_REJECT_DUPLICATES, &je);
    if (!doc) continue;
    json_array_append_new(ups, json_pack("{s:s, s:o}", "id", r.id, "status", doc));
    sent[n++] = GS.dirty[i];
    bytes += len;
  }
  if (!n) {
    json_decref(ups);
    free(sent);
    GS.flush_at_ms = 0;
    return;
  }
  char path[CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "pns/%s/status", gw->conf.pn);
  json_t *body = json_pack("{s:o}", "updates", ups);
  free(GS.sent);
  GS.sent = sent;
  GS.nsent = n;
  GS.in_flight = true;
  if (cpns_node_request(gw->node, up, COAP_REQUEST_CODE_POST, path, NULL, body, batch_answer, NULL)) {
    GS.in_flight = false;
    GS.nsent = 0;
    GS.not_before_ms = mono_ms() + STATUS_RETRY_MS;
  } else {
    GS.batches++;
    GS.batch_updates += n;
    GS.flush_at_ms = 0;
  }
  json_decref(body);
}

static int mark_each(void *arg, const struct cpns_status_rec *r) {
  (void)arg;
  mark_dirty(r->id);
  return 0;
}

static void tick(void *arg) {
  (void)arg;
  struct gw *gw = GS.gw;
  bool ready = upstream__ready(gw);
  if (ready && !GS.was_ready) {
    /* (Re)registered: the server may have missed anything, or restarted. */
    gw->store->ops->status_list(gw->store, gw->conf.pn, mark_each, NULL);
    log_info(MOD, "sending the PN's %zu status(es) to the server", GS.ndirty);
  }
  GS.was_ready = ready;
  uint64_t now = mono_ms();
  if (ready && GS.flush_at_ms && now >= GS.flush_at_ms && now >= GS.not_before_ms) flush();
}

/* ---- local changes --------------------------------------------------------------- */

/* Stores id's new document d (updated now), tells its observers and queues
 * it for the server. */
static int commit(const char *id, struct cpns_status_doc *d) {
  struct gw *gw = GS.gw;
  d->updated = now_s();
  struct cpns_status_rec r;
  memset(&r, 0, sizeof r);
  snprintf(r.pn, sizeof r.pn, "%s", gw->conf.pn);
  snprintf(r.id, sizeof r.id, "%s", id);
  r.updated_at = d->updated;
  int rc = cpns_status_to_text(d, r.doc, sizeof r.doc);
  if (!rc) rc = gw->store->ops->status_put(gw->store, &r);
  if (rc) return rc;
  char topic[CPNS_TOPIC_MAX + 1];
  topic_of(gw->conf.pn, id, topic, sizeof topic);
  cpns_condobs_update(GS.co, topic, d);
  mark_dirty(id);
  return 0;
}

/* The stored document of id, or one made from its registration. */
static int load_doc(const char *id, struct cpns_status_doc *d, bool *stored) {
  struct gw *gw = GS.gw;
  struct cpns_status_rec r;
  *stored = false;
  if (gw->store->ops->status_get(gw->store, gw->conf.pn, id, &r) == 0 &&
      cpns_status_from_text(r.doc, d, NULL, 0) == 0) {
    d->updated = r.updated_at;
    *stored = true;
    return 0;
  }
  struct cpns_entity_rec e;
  int rc = gw->store->ops->entity_get(gw->store, gw->conf.pn, id, &e);
  if (rc) return rc;
  cpns_status_init(d, e.state == CPNS_STATE_ONLINE ? CPNS_PRESENCE_ONLINE : CPNS_PRESENCE_OFFLINE);
  d->updated = e.updated_at;
  return 0;
}

void status__entity_offline(struct gw *gw, const char *id) {
  (void)gw;
  if (!GS.alive) return;
  struct cpns_status_doc d;
  bool stored;
  if (load_doc(id, &d, &stored) || (stored && d.state == CPNS_PRESENCE_OFFLINE)) return;
  d.state = CPNS_PRESENCE_OFFLINE;
  if (commit(id, &d) == 0) {
    GS.offline++;
    log_info(MOD, "%s is offline: its observers are told", id);
  }
}

void status__entity_gone(struct gw *gw, const char *id) {
  if (!GS.alive) return;
  char topic[CPNS_TOPIC_MAX + 1];
  topic_of(gw->conf.pn, id, topic, sizeof topic);
  cpns_condobs_fail(GS.co, topic, 404, "the entity left its PN");
}

/* PUT pns/{pn}/entities/{id}/status: a PNE publishes its own status. */
static void put_status(struct cpns_req *req, void *arg) {
  (void)arg;
  struct gw *gw = GS.gw;
  const char *pn = req->seg[1], *id = req->seg[3];
  if (!is_mine(pn)) {
    cpns_reply_error(req, 404, "this gateway serves PN %s", gw->conf.pn);
    return;
  }
  struct cpns_entity_rec e;
  if (gw->store->ops->entity_get(gw->store, pn, id, &e) || e.state == CPNS_STATE_ADDED) {
    cpns_reply_error(req, 403, "%s must register in PN %s first", id, pn);
    return;
  }
  struct cpns_status_doc d;
  char err[CPNS_DIAG_MAX];
  int rc = cpns_status_decode(req->body, &d, err, sizeof err);
  if (rc) {
    GS.refused++;
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "%s: status refused: %s", id, err);
    cpns_reply_error(req, rc == CPNS_ERR_TOOBIG ? 413 : 400, "%s", err);
    return;
  }
  char key[CPNS_TOPIC_MAX + 1];
  topic_of(pn, id, key, sizeof key);
  long wait = d.state == CPNS_PRESENCE_OFFLINE ? 0 : cpns_ratebook_take(GS.rates, key, mono_ms());
  if (wait) {
    GS.rate_limited++;
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "%s: status updates beyond %ld/s: 4.29", id,
                gw->conf.status.max_rate);
    uint8_t b[4];
    coap_add_option(req->response, COAP_OPTION_MAXAGE,
                    coap_encode_var_safe(b, sizeof b, (unsigned)wait), b);
    cpns_reply_error(req, 429, "too many status updates; retry in %ld s", wait);
    return;
  }
  GS.updates++;
  struct cpns_status_doc old;
  bool stored;
  if (load_doc(id, &old, &stored) == 0 && stored && cpns_status_same(&old, &d)) {
    GS.unchanged++;
    cpns_reply(req, 204, NULL);
    return;
  }
  if (commit(id, &d)) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  cpns_reply(req, 204, NULL);
}

/* ---- reads ---------------------------------------------------------------------- */

static coap_session_t *upstream_of(void *arg) { return upstream__session(arg); }

/* GET pns/{pn}/entities/{id}/status[/{attr}]: this PN's from here, another
 * PN's from the server (an observation relayed once per entity). */
static void get_status(struct cpns_req *req, void *arg) {
  (void)arg;
  const char *pn = req->seg[1], *id = req->seg[3];
  const char *attr = req->nseg == 6 ? req->seg[5] : "";
  if (!cpns_valid_id(pn) || !cpns_valid_id(id)) {
    cpns_reply_error(req, 400, "not a valid id");
    return;
  }
  if (!is_mine(pn)) {
    if (req->peer->role == CPNS_PEER_SERVER) {
      cpns_reply_error(req, 404, "not this gateway's PN");
      return;
    }
    cpns_status_mirror_serve(GS.mirror, req, pn, id, attr);
    return;
  }
  struct cpns_status_doc d;
  bool stored;
  int rc = load_doc(id, &d, &stored);
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such entity" : "store failure");
    return;
  }
  char topic[CPNS_TOPIC_MAX + 1];
  topic_of(pn, id, topic, sizeof topic);
  cpns_condobs_serve(GS.co, req, topic, attr, &d);
}

static int add_entity_status(void *arg, const struct cpns_entity_rec *e) {
  struct cpns_status_doc d;
  bool stored;
  if (load_doc(e->id, &d, &stored)) return 0;
  json_array_append_new(arg, json_pack("{s:s, s:o}", "id", e->id, "status", cpns_status_to_json(&d)));
  return 0;
}

/* GET pns/{pn}/status: the PN's entities with their statuses. */
static void list_status(struct cpns_req *req, void *arg) {
  (void)arg;
  struct gw *gw = GS.gw;
  if (!is_mine(req->seg[1])) {
    if (req->peer->role == CPNS_PEER_SERVER) cpns_reply_error(req, 404, "not this gateway's PN");
    else cpns_relay(req, upstream__session(gw));
    return;
  }
  json_t *arr = json_array();
  if (gw->store->ops->entity_list(gw->store, gw->conf.pn, add_entity_status, arr)) {
    json_decref(arr);
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  cpns_reply(req, 205, json_pack("{s:s, s:o}", "pn", gw->conf.pn, "entities", arr));
}

/* pns/{pn}/policies...: the server's rules, asked for by a PNE of this PN
 * (On-Behalf-Of it) or by the operator here (as the gateway). */
static void relay_policy(struct cpns_req *req, void *arg) {
  (void)arg;
  const char *who = req->peer->role == CPNS_PEER_PNE ? req->peer->identity : NULL;
  cpns_relay_for(req, upstream__session(GS.gw), who);
}

static void stats(struct cpns_req *req, void *arg) {
  (void)arg;
  struct cpns_condobs_stats o;
  cpns_condobs_get_stats(GS.co, &o);
  cpns_reply(req, 205,
             json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                       "updates", (json_int_t)GS.updates, "unchanged", (json_int_t)GS.unchanged,
                       "rate_limited", (json_int_t)GS.rate_limited, "refused",
                       (json_int_t)GS.refused, "offline", (json_int_t)GS.offline, "batches",
                       (json_int_t)GS.batches, "batch_updates", (json_int_t)GS.batch_updates,
                       "pending", (json_int_t)GS.ndirty, "observers", (json_int_t)o.observers,
                       "notifications", (json_int_t)o.notifications, "refused_cap",
                       (json_int_t)o.refused_cap, "mirrored",
                       (json_int_t)cpns_status_mirror_count(GS.mirror), "reports",
                       (json_int_t)GS.reports, "reports_undelivered",
                       (json_int_t)GS.reports_undelivered));
}

/* ---- policy reports (CPNS-7 from the server, CPNS-6 to the PNE) ---------------------- */

static void report_answer(void *arg, int code, const json_t *body, const char *diag) {
  (void)body;
  struct cpns_deferred *d = arg;
  if (code < 0) {
    if (GS.alive) GS.reports_undelivered++;
    cpns_deferred_reply(d, 504, NULL, "the target entity did not answer");
    return;
  }
  cpns_deferred_reply(d, code, NULL, diag);
}

/* POST reports: a policy report for one of this PN's entities. */
static void post_report(struct cpns_req *req, void *arg) {
  (void)arg;
  struct gw *gw = GS.gw;
  char err[CPNS_DIAG_MAX];
  if (!req->body || cpns_status_report_check(req->body, err, sizeof err)) {
    cpns_reply_error(req, 400, "not a policy report: %s", req->body ? err : "no body");
    return;
  }
  const char *target = json_string_value(json_object_get(req->body, "target"));
  GS.reports++;
  if (strcmp(target, gw->conf.id) == 0) {
    const char *policy = json_string_value(json_object_get(req->body, "policy"));
    const char *entity = json_string_value(json_object_get(req->body, "entity"));
    log_notice(MOD, "policy report for this gateway: %s about %s", policy ? policy : "?",
               entity ? entity : "?");
    cpns_reply(req, 204, NULL);
    return;
  }
  coap_session_t *s = cpns_node_session_of(gw->node, target);
  if (!s) {
    GS.reports_undelivered++;
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "policy report for %s: it is not connected", target);
    cpns_reply_error(req, 503, "%s is not connected to its gateway", target);
    return;
  }
  struct cpns_deferred *d = cpns_req_defer(req);
  if (!d) return;
  if (cpns_node_request(gw->node, s, COAP_REQUEST_CODE_POST, "reports", NULL, req->body,
                        report_answer, d))
    cpns_deferred_reply(d, 503, NULL, "cannot reach the target entity");
}

/* ---- observers' rights -------------------------------------------------------------- */

static bool observer_allowed(void *arg, const struct cpns_condobs_who *who, const char *topic) {
  (void)topic;
  struct gw *gw = arg;
  if (who->role == CPNS_PEER_OPERATOR || who->role == CPNS_PEER_SERVER) return true;
  if (who->role != CPNS_PEER_PNE) return false;
  struct cpns_entity_rec e;
  return gw->store->ops->entity_get(gw->store, gw->conf.pn, who->identity, &e) == 0 &&
         e.state != CPNS_STATE_ADDED;
}

static void observer_idle(void *arg, const char *topic) {
  (void)arg;
  if (GS.alive && GS.mirror) cpns_status_mirror_idle(GS.mirror, topic);
}

/* ---- life cycle ----------------------------------------------------------------- */

int status__init(struct gw *gw) {
  memset(&GS, 0, sizeof GS);
  GS.gw = gw;
  const struct cpns_status_conf *sc = &gw->conf.status;
  struct cpns_condobs_limits lim = {.max_per_path = gw->conf.limits.max_observers,
                                    .max_total = sc->max_observers,
                                    .refresh_s = sc->refresh,
                                    .resume_ttl_s = 1};
  struct cpns_condobs_hooks hooks = {.allowed = observer_allowed, .idle = observer_idle, .arg = gw};
  size_t keys = (size_t)gw->conf.max_entities + 16;
  int rc = cpns_ratebook_new(keys, (double)sc->max_rate, (double)sc->burst, &GS.rates);
  if (!rc) rc = cpns_condobs_new(gw->node, MOD, &lim, &hooks, &GS.co);
  if (!rc) rc = cpns_obsclient_new(gw->node, &GS.oc);
  struct cpns_status_mirror_config mc = {.name = "status-relay",
                                         .node = gw->node,
                                         .co = GS.co,
                                         .oc = GS.oc,
                                         .upstream = upstream_of,
                                         .arg = gw,
                                         .upstream_resumes = true,
                                         .pmax = sc->mirror_pmax,
                                         .max_entities = (size_t)sc->max_mirrored};
  if (!rc) rc = cpns_status_mirror_new(&mc, &GS.mirror);
  if (!rc) rc = cpns_node_every(gw->node, STATUS_TICK_MS, tick, NULL);
  if (rc) return rc;
  GS.alive = true;
  /* The gateway is an entity of its PN: online while it runs. */
  struct cpns_status_doc d;
  bool stored;
  if (load_doc(gw->conf.id, &d, &stored) == 0 && (!stored || d.state == CPNS_PRESENCE_OFFLINE)) {
    d.state = CPNS_PRESENCE_ONLINE;
    commit(gw->conf.id, &d);
  }
  struct cpns_node *n = gw->node;
  const unsigned readers = CPNS_REL_MEMBER | CPNS_REL_OPERATOR | CPNS_REL_SERVER;
  const unsigned members = CPNS_REL_MEMBER | CPNS_REL_OPERATOR;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "stats/status", members,
                           "read status counters", stats, NULL);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/status", readers, "read statuses",
                           list_status, NULL);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/entities/*/status", readers,
                           "read statuses", get_status, NULL);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/entities/*/status/*", readers,
                           "read statuses", get_status, NULL);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "pns/*/entities/*/status", CPNS_REL_SELF,
                           "publish another entity's status", put_status, NULL);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/policies", members, "read policies",
                           relay_policy, NULL);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "pns/*/policies", members, "set policies",
                           relay_policy, NULL);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/policies/*", members, "read policies",
                           relay_policy, NULL);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "pns/*/policies/*", members,
                           "set policies", relay_policy, NULL);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "reports", CPNS_REL_SERVER,
                           "hand policy reports to this gateway", post_report, NULL);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void status__free(void) {
  if (!GS.alive) return;
  GS.alive = false;
  cpns_status_mirror_free(GS.mirror);
  cpns_obsclient_free(GS.oc);
  cpns_condobs_free(GS.co);
  cpns_ratebook_free(GS.rates);
  free(GS.dirty);
  free(GS.sent);
  GS.mirror = NULL;
  GS.oc = NULL;
  GS.co = NULL;
  GS.rates = NULL;
}
