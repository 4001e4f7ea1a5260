/* SPDX-License-Identifier: Apache-2.0 */
/* Service publication and discovery at the PNE (spec 5.5.5), and the
 * advertisement of services to this device.
 *
 * Applications' /services... and /interests... requests are relayed to the
 * gateway under this PNE's identity (pne/local.c), which relays them to the
 * server On-Behalf-Of this PNE. An application observing an interest here
 * (GET interests/{id} with Observe) is served from one observation of it
 * at the gateway per interest (lib/status_mirror.c, relay mode), shared by
 * all the device's observers of it.
 *
 * The PNE's own interests ([services] interests, each a lookup query as in
 * GET /services) are saved through the gateway after each registration:
 * looked up first among this PNE's interests (GET /interests, by their
 * canonical query), so that restarts reuse them instead of piling up
 * copies, and created (POST /interests) only when missing. They are
 * observed like the applications' ones; every new event of theirs (a
 * matching service appeared, changed or went away) is an advert: checked
 * by lib/advert.c (it comes from the network), logged, kept (the latest
 * [services] max_adverts) and served at self/adverts, observable, so that
 * the server's advertisement reaches the device without an application
 * staying connected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "advert.h"
#include "log.h"
#include "msg.h"
#include "obsclient.h"
#include "pne.h"
#include "service.h"
#include "status_mirror.h"

#define MOD "services"
#define SERVICES_TICK_MS 500
/* Seconds between attempts to save the PNE's own interests after a failure. */
#define SERVICES_SYNC_RETRY_S 5
/* Seconds between registrations of a relayed observation at the gateway
 * (the gateway forgets it when it restarts). */
#define SERVICES_RENEW_S 30
#define ADVERTS_PATH "self/adverts"
/* Adverts in a notification of self/adverts (the latest): a notification
 * must fit one message; a reader wanting them all GETs the list. */
#define ADVERTS_NOTIFY_MAX 4

struct own {
  json_t *query;               /* canonical (cpns_service_query_to_json), owned */
  char id[CPNS_ID_MAX + 1];    /* at the server, "" until known */
  bool pinned;
  bool seen_any;               /* a body came this run: last_seq is meaningful */
  long long last_seq;          /* the newest event turned into an advert */
};

static struct {
  struct pne *p;
  struct cpns_obsclient *oc;
  struct cpns_status_mirror *mirror;
  struct own own[PNE_OWN_INTERESTS_MAX];
  size_t nown;
  bool sync, busy, was_registered;
  time_t next_sync;
  struct cpns_advert *adverts; /* a ring of max_adverts */
  size_t nadverts, head;
  unsigned long long total;
} SV;

static coap_session_t *upstream_of(void *arg) {
  struct pne *p = arg;
  return p->state == PNE_REGISTERED ? p->session : NULL;
}

/* ---- the configured interests ---- */

/* "kw=tv,video&match=any; kw=radio": queries of GET /services without
 * paging, separated by ';'. Each is decoded by the lookup's own parser. */
int services__parse_interests(const char *text, json_t **out, size_t max, size_t *n, char *err,
                              size_t errlen) {
  *n = 0;
  const char *p = text;
  while (p && *p) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    while (len && (*p == ' ' || *p == '\t')) p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    if (len) {
      char q[CPNS_QUERY_MAX + 1], why[CPNS_DIAG_MAX];
      if (len > CPNS_QUERY_MAX) {
        snprintf(err, errlen, "an interest is longer than %d bytes", CPNS_QUERY_MAX);
        goto fail;
      }
      if (*n >= max) {
        snprintf(err, errlen, "more than %zu interests", max);
        goto fail;
      }
      memcpy(q, p, len);
      q[len] = '\0';
      struct cpns_service_query *sq = malloc(sizeof *sq);
      if (!sq) {
        snprintf(err, errlen, "out of memory");
        goto fail;
      }
      int rc = cpns_service_query_parse_uri(q, sq, why, sizeof why);
      if (!rc && (strstr(q, "limit=") || strstr(q, "after="))) {
        snprintf(why, sizeof why, "an interest has no paging (limit, after)");
        rc = CPNS_ERR_INVAL;
      }
      if (!rc && !cpns_service_query_selective(sq)) {
        snprintf(why, sizeof why, "name kw, offerer or pn");
        rc = CPNS_ERR_INVAL;
      }
      json_t *j = rc ? NULL : cpns_service_query_to_json(sq);
      free(sq);
      if (rc || !j) {
        snprintf(err, errlen, "interest '%s': %s", q, rc ? why : "out of memory");
        goto fail;
      }
      out[(*n)++] = j;
    }
    p = end ? end + 1 : NULL;
  }
  return 0;
fail:
  while (*n) json_decref(out[--*n]);
  return CPNS_ERR_INVAL;
}

/* ---- adverts ---- */

static void advert_add(const struct cpns_advert *a) {
  size_t max = (size_t)SV.p->conf.max_adverts;
  size_t slot = (SV.head + SV.nadverts) % max;
  if (SV.nadverts < max) SV.nadverts++;
  else SV.head = (SV.head + 1) % max;
  SV.adverts[slot] = *a;
  SV.total++;
  log_notice(MOD, "advert: service %s (%s, offered by %s) %s, interest %s", a->service, a->name,
             a->offerer[0] ? a->offerer : "-", a->type, a->interest);
}

static struct own *own_of(const char *id) {
  for (size_t i = 0; i < SV.nown; i++)
    if (SV.own[i].id[0] && strcmp(SV.own[i].id, id) == 0) return &SV.own[i];
  return NULL;
}

/* The gateway's notification of an interest: the events of one of ours
 * that are new become adverts. The first body of a run only sets the mark
 * (what happened before is not news), unless the interest is new. */
static void on_body(void *arg, const char *topic, const json_t *body) {
  (void)arg;
  struct own *o = own_of(topic);
  if (!o) return;
  const json_t *events;
  char err[CPNS_DIAG_MAX];
  if (cpns_advert_events(body, &events, err, sizeof err)) {
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "interest %s: the gateway sent a bad body: %s", topic, err);
    return;
  }
  size_t i;
  const json_t *ev;
  bool any = false;
  long long newest = o->last_seq;
  time_t now = time(NULL);
  json_array_foreach(events, i, ev) {
    struct cpns_advert a;
    if (cpns_advert_decode(ev, &a, err, sizeof err)) {
      CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "interest %s: the gateway sent a bad event: %s", topic,
                  err);
      continue;
    }
    snprintf(a.interest, sizeof a.interest, "%s", topic);
    a.received = (int64_t)now;
    if (a.seq > newest) newest = a.seq;
    if (!o->seen_any || a.seq <= o->last_seq) continue;
    advert_add(&a);
    any = true;
  }
  o->seen_any = true;
  o->last_seq = newest;
  if (any) cpns_node_notify(SV.p->node, ADVERTS_PATH);
}

static void on_end(void *arg, const char *topic, int code, const char *diag) {
  (void)arg;
  struct own *o = own_of(topic);
  if (!o || (code != 404 && code != 403)) return;
  /* Gone at the server (removed, or the server's store was reset): saved
   * again at the next turn. */
  log_notice(MOD, "interest %s ended (%d %s): saving it again", topic, code, diag);
  o->id[0] = '\0';
  o->pinned = false;
  o->seen_any = true; /* the new one's events are all news */
  o->last_seq = 0;
  SV.sync = true;
}

/* GET self/adverts: the latest adverts, oldest first (observable; a
 * notification carries the ADVERTS_NOTIFY_MAX latest). */
static void get_adverts(struct cpns_req *req, void *arg) {
  (void)arg;
  json_t *list = json_array();
  size_t max = (size_t)SV.p->conf.max_adverts;
  size_t first = req->notification && SV.nadverts > ADVERTS_NOTIFY_MAX ? SV.nadverts - ADVERTS_NOTIFY_MAX : 0;
  for (size_t i = first; list && i < SV.nadverts; i++)
    json_array_append_new(list, cpns_advert_to_json(&SV.adverts[(SV.head + i) % max]));
  json_t *ids = json_array();
  for (size_t i = 0; ids && i < SV.nown; i++)
    json_array_append_new(ids, json_pack("{s:s, s:O}", "id", SV.own[i].id, "query", SV.own[i].query));
  cpns_reply(req, 205, json_pack("{s:o, s:I, s:o}", "adverts", list, "total", (json_int_t)SV.total,
                                 "interests", ids));
}

/* ---- saving the configured interests through the gateway ---- */

static void sync_step(void);

static void sync_failed(const char *why) {
  log_warn(MOD, "cannot save this PNE's interests: %s (again in %ds)", why, SERVICES_SYNC_RETRY_S);
  SV.busy = false;
  SV.next_sync = time(NULL) + SERVICES_SYNC_RETRY_S;
}

static void created(void *arg, int code, const json_t *body, const char *diag) {
  struct own *o = arg;
  const char *id = json_string_value(json_object_get(body, "id"));
  if (code != 201 || !id || !cpns_valid_id(id)) {
    char why[CPNS_DIAG_MAX + 32];
    snprintf(why, sizeof why, "POST interests answered %d %s", code, diag);
    sync_failed(why);
    return;
  }
  snprintf(o->id, sizeof o->id, "%s", id);
  o->seen_any = true; /* new: every event is news */
  o->last_seq = 0;
  log_notice(MOD, "interest %s saved", id);
  sync_step();
}

/* Creates the first missing interest, or (none missing) observes them all. */
static void sync_step(void) {
  struct pne *p = SV.p;
  for (size_t i = 0; i < SV.nown; i++) {
    struct own *o = &SV.own[i];
    if (o->id[0]) continue;
    int rc = p->state == PNE_REGISTERED
                 ? cpns_node_request(p->node, p->session, COAP_REQUEST_CODE_POST, "interests", NULL,
                                     o->query, created, o)
                 : CPNS_ERR_UNAVAIL;
    if (rc) sync_failed(cpns_strerror(rc));
    return;
  }
  for (size_t i = 0; i < SV.nown; i++) {
    struct own *o = &SV.own[i];
    if (o->pinned) continue;
    char path[CPNS_ID_MAX + 16];
    snprintf(path, sizeof path, "interests/%s", o->id);
    int rc = cpns_status_mirror_pin(SV.mirror, o->id, path, NULL);
    if (rc) {
      log_warn(MOD, "cannot observe interest %s: %s", o->id, cpns_strerror(rc));
      continue;
    }
    o->pinned = true;
  }
  SV.busy = false;
  SV.sync = false;
}

/* This PNE's interests at the server: each configured query reuses the
 * one with the same canonical query. */
static void listed(void *arg, int code, const json_t *body, const char *diag) {
  (void)arg;
  const json_t *list = json_object_get(body, "interests");
  if (code != 205 || !json_is_array(list)) {
    char why[CPNS_DIAG_MAX + 32];
    snprintf(why, sizeof why, "GET interests answered %d %s", code, diag);
    sync_failed(why);
    return;
  }
  size_t i;
  const json_t *it;
  json_array_foreach(list, i, it) {
    const char *id = json_string_value(json_object_get(it, "id"));
    const json_t *q = json_object_get(it, "query");
    if (!id || !cpns_valid_id(id) || !q || own_of(id)) continue;
    for (size_t k = 0; k < SV.nown; k++)
      if (!SV.own[k].id[0] && json_equal(SV.own[k].query, (json_t *)q)) {
        snprintf(SV.own[k].id, sizeof SV.own[k].id, "%s", id);
        log_notice(MOD, "interest %s reused", id);
        break;
      }
  }
  sync_step();
}

static void tick(void *arg) {
  (void)arg;
  struct pne *p = SV.p;
  bool registered = p->state == PNE_REGISTERED;
  /* A new registration: the gateway may be another, or restarted. */
  if (registered && !SV.was_registered) cpns_status_mirror_renew(SV.mirror);
  SV.was_registered = registered;
  if (!SV.sync || SV.busy || !registered || time(NULL) < SV.next_sync) return;
  bool missing = false;
  for (size_t i = 0; i < SV.nown; i++) missing |= !SV.own[i].id[0];
  SV.busy = true;
  if (!missing) {
    sync_step();
    return;
  }
  int rc = cpns_node_request(p->node, p->session, COAP_REQUEST_CODE_GET, "interests", NULL, NULL,
                             listed, NULL);
  if (rc) sync_failed(cpns_strerror(rc));
}

void services__registered(struct pne *p) {
  (void)p;
  if (SV.nown) SV.sync = true;
}

/* ---- relayed requests ---- */

/* GET interests/{id}: with Observe, from the one observation at the
 * gateway; otherwise relayed as it is. */
static void get_interest(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  if (p->state != PNE_REGISTERED) {
    cpns_reply_error(req, 503, "not registered with a gateway (%s)", agent__state_name(p->state));
    return;
  }
  const char *id = req->seg[1];
  if (cpns_valid_id(id)) {
    char path[CPNS_ID_MAX + 16];
    snprintf(path, sizeof path, "interests/%s", id);
    if (cpns_status_mirror_relay(SV.mirror, req, id, path, NULL)) return;
  }
  cpns_relay(req, p->session);
}

int services__init(struct pne *p) {
  memset(&SV, 0, sizeof SV);
  SV.p = p;
  char err[CPNS_DIAG_MAX];
  json_t *queries[PNE_OWN_INTERESTS_MAX];
  size_t n = 0;
  if (services__parse_interests(p->conf.interests, queries, PNE_OWN_INTERESTS_MAX, &n, err,
                                sizeof err)) {
    log_err(MOD, "[services] interests: %s", err);
    return CPNS_ERR_INVAL;
  }
  for (size_t i = 0; i < n; i++) SV.own[i].query = queries[i];
  SV.nown = n;
  SV.adverts = calloc((size_t)p->conf.max_adverts, sizeof *SV.adverts);
  if (!SV.adverts) return CPNS_ERR_NOMEM;
  int rc = cpns_obsclient_new(p->node, &SV.oc);
  struct cpns_status_mirror_config mc = {.name = MOD,
                                         .node = p->node,
                                         .oc = SV.oc,
                                         .upstream = upstream_of,
                                         .arg = p,
                                         .max_entities = (size_t)p->conf.max_relayed_interests,
                                         .max_observers = (size_t)p->conf.limits.max_observers,
                                         .renew_s = SERVICES_RENEW_S,
                                         .trim_array = "events",
                                         .on_body = on_body,
                                         .on_end = on_end};
  if (!rc) rc = cpns_status_mirror_new(&mc, &SV.mirror);
  if (!rc) rc = cpns_node_every(p->node, SERVICES_TICK_MS, tick, NULL);
  if (!rc) rc = cpns_node_observable(p->node, ADVERTS_PATH);
  if (rc) return rc;
  const unsigned local = CPNS_REL_APP | CPNS_REL_OPERATOR;
  rc |= cpns_node_route_as(p->node, COAP_REQUEST_CODE_GET, ADVERTS_PATH, local, "read adverts",
                           get_adverts, p);
  rc |= cpns_node_route_as(p->node, COAP_REQUEST_CODE_GET, "interests/*", local, "act for this PNE",
                           get_interest, p);
  if (n) log_info(MOD, "%zu interest(s) of this PNE to save at each registration", n);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void services__free(void) {
  cpns_status_mirror_free(SV.mirror);
  cpns_obsclient_free(SV.oc);
  for (size_t i = 0; i < SV.nown; i++) json_decref(SV.own[i].query);
  free(SV.adverts);
  memset(&SV, 0, sizeof SV);
}
