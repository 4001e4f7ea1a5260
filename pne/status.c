/* SPDX-License-Identifier: Apache-2.0 */
/* Status management at the PNE (spec 5.5.3). The device's status starts
 * from the configuration ([status] state, text, attributes) and its
 * applications change it through CPNS-5 (PUT status replaces it, POST
 * status updates part of it); each change is published to the gateway
 * (CPNS-1) before it is acknowledged, so that a refusal there (4.29 beyond
 * the rate, 4.00) reaches the application and changes nothing. It is
 * published again after each registration. Applications read and observe
 * other entities' statuses through the PNE: reads are relayed to the
 * gateway, observations relayed once per entity (lib/status_mirror.c) and
 * served here with each application's own conditions. Policy reports for
 * this PNE arrive from the gateway (CPNS-6, POST reports) and are kept for
 * the applications (GET reports, observable). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "condobs.h"
#include "log.h"
#include "msg.h"
#include "obsclient.h"
#include "pne.h"
#include "status.h"
#include "status_mirror.h"

#define MOD "status"
#define STATUS_TICK_MS 250
#define STATUS_QUEUE_MAX 8      /* applications' changes waiting for the one in flight */
#define STATUS_RETRY_S 2        /* a publication that failed is tried again after this */

struct change {
  struct cpns_deferred *d; /* the application's request; NULL: the agent's own */
  json_t *body;            /* a whole document (replace) or a partial one */
  bool replace;
};

struct pne_status {
  bool alive;
  struct pne *p;
  struct cpns_status_doc doc;  /* the device's status, as published last */
  bool published;              /* since the last registration */
  bool in_flight;
  struct change queue[STATUS_QUEUE_MAX];
  size_t qlen;
  struct cpns_status_doc candidate; /* of the change in flight */
  int64_t retry_at;
  enum pne_state last_state;
  struct cpns_condobs *co;
  struct cpns_obsclient *oc;
  struct cpns_status_mirror *mirror;
  json_t *reports; /* the latest policy reports, oldest first */
};

static struct pne_status PS;

static coap_session_t *upstream(void *arg) {
  struct pne *p = arg;
  return p->state == PNE_REGISTERED ? p->session : NULL;
}

/* ---- publishing ------------------------------------------------------------------ */

static void pump(void);

static void finish_change(int code, const char *diag) {
  struct change c = PS.queue[0];
  memmove(&PS.queue[0], &PS.queue[1], (PS.qlen - 1) * sizeof PS.queue[0]);
  PS.qlen--;
  if (c.d) {
    if (code >= 200 && code < 300)
      cpns_deferred_reply(c.d, 204, cpns_status_to_json(&PS.doc), NULL);
    else
      cpns_deferred_reply(c.d, code, NULL, diag);
  }
  json_decref(c.body);
}

static void published(void *arg, int code, const json_t *body, const char *diag) {
  (void)arg;
  (void)body;
  if (!PS.alive) return;
  PS.in_flight = false;
  bool app = PS.qlen > 0;
  if (code >= 200 && code < 300) {
    PS.doc = PS.candidate;
    PS.published = true;
    if (app) finish_change(204, NULL);
  } else if (code >= 400 && code < 500) {
    /* Refused (4.29, 4.00...): the application learns it, nothing changed. */
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "the gateway refused our status: %d %s", code, diag);
    if (app) finish_change(code, diag);
    else PS.retry_at = time(NULL) + STATUS_RETRY_S;
  } else {
    /* No answer, or the gateway is in trouble: the change is the device's
     * truth all the same; it is published when the gateway is back. */
    PS.doc = PS.candidate;
    PS.published = false;
    PS.retry_at = time(NULL) + STATUS_RETRY_S;
    if (app) finish_change(204, NULL);
  }
  pump();
}

static int send_doc(const struct cpns_status_doc *d) {
  struct pne *p = PS.p;
  coap_session_t *s = upstream(p);
  if (!s) return CPNS_ERR_UNAVAIL;
  char path[2 * CPNS_ID_MAX + 32];
  snprintf(path, sizeof path, "pns/%s/entities/%s/status", p->pn, p->conf.id);
  json_t *body = cpns_status_to_json(d);
  json_object_del(body, "updated"); /* the gateway's clock says when */
  PS.candidate = *d;
  int rc = cpns_node_request(p->node, s, COAP_REQUEST_CODE_PUT, path, NULL, body, published, NULL);
  json_decref(body);
  if (!rc) PS.in_flight = true;
  return rc;
}

/* Starts the next publication: the first waiting change, else the device's
 * status when the gateway has not had it since the registration. */
static void pump(void) {
  if (PS.in_flight) return;
  while (PS.qlen) {
    struct change *c = &PS.queue[0];
    struct cpns_status_doc d = PS.doc;
    char err[CPNS_DIAG_MAX];
    int rc = c->replace ? cpns_status_decode(c->body, &d, err, sizeof err)
                        : cpns_status_merge(c->body, &d, err, sizeof err);
    if (rc) {
      finish_change(rc == CPNS_ERR_TOOBIG ? 413 : 400, err);
      continue;
    }
    if (d.state == CPNS_PRESENCE_OFFLINE) {
      finish_change(400, "a device that runs is not offline: leave the PN instead");
      continue;
    }
    if (!upstream(PS.p)) {
      /* Not registered: kept, published at the registration. */
      PS.doc = d;
      PS.published = false;
      finish_change(204, NULL);
      continue;
    }
    if (send_doc(&d) == 0) return;
    PS.doc = d;
    PS.published = false;
    finish_change(204, NULL);
  }
  if (!PS.published && upstream(PS.p) && time(NULL) >= PS.retry_at) send_doc(&PS.doc);
}

static void tick(void *arg) {
  (void)arg;
  enum pne_state st = PS.p->state;
  if (st == PNE_REGISTERED && PS.last_state != PNE_REGISTERED) PS.published = false;
  PS.last_state = st;
  pump();
}

/* ---- CPNS-5 --------------------------------------------------------------------- */

static void get_own(struct cpns_req *req, void *arg) {
  (void)arg;
  json_t *o = cpns_status_to_json(&PS.doc);
  json_object_set_new(o, "published", json_boolean(PS.published));
  cpns_reply(req, 205, o);
}

static void change(struct cpns_req *req, bool replace) {
  if (!req->body) {
    cpns_reply_error(req, 400, "a status document is required");
    return;
  }
  if (PS.qlen >= STATUS_QUEUE_MAX) {
    cpns_reply_error(req, 503, "too many status changes waiting");
    return;
  }
  struct cpns_deferred *d = cpns_req_defer(req);
  if (!d) return;
  PS.queue[PS.qlen++] = (struct change){d, json_incref(req->body), replace};
  pump();
}

static void put_own(struct cpns_req *req, void *arg) {
  (void)arg;
  change(req, true);
}

static void post_own(struct cpns_req *req, void *arg) {
  (void)arg;
  change(req, false);
}

/* GET pns/{pn}/entities/{id}/status[/attr]: from the gateway; observed once
 * per entity there, each application with its own conditions here. */
static void get_other(struct cpns_req *req, void *arg) {
  (void)arg;
  if (!cpns_valid_id(req->seg[1]) || !cpns_valid_id(req->seg[3])) {
    cpns_reply_error(req, 400, "not a valid id");
    return;
  }
  cpns_status_mirror_serve(PS.mirror, req, req->seg[1], req->seg[3], req->nseg == 6 ? req->seg[5] : "");
}

static void relay(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  if (!upstream(p)) {
    cpns_reply_error(req, 503, "not registered with a gateway (%s)", agent__state_name(p->state));
    return;
  }
  cpns_relay(req, p->session);
}

/* POST reports: a policy report from the gateway (CPNS-6). */
static void post_report(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  char err[CPNS_DIAG_MAX];
  if (!req->body || cpns_status_report_check(req->body, err, sizeof err)) {
    cpns_reply_error(req, 400, "not a policy report: %s", req->body ? err : "no body");
    return;
  }
  const char *policy = json_string_value(json_object_get(req->body, "policy"));
  const char *entity = json_string_value(json_object_get(req->body, "entity"));
  log_notice(MOD, "policy report %s about %s", policy, entity);
  while (json_array_size(PS.reports) >= (size_t)p->conf.status.max_reports)
    json_array_remove(PS.reports, 0);
  json_t *r = json_deep_copy(req->body);
  json_object_set_new(r, "received", json_integer((json_int_t)time(NULL)));
  json_array_append_new(PS.reports, r);
  cpns_node_notify(p->node, "reports");
  cpns_reply(req, 204, NULL);
}

/* GET reports: the latest policy reports (observable). */
static void get_reports(struct cpns_req *req, void *arg) {
  (void)arg;
  cpns_reply(req, 205, json_pack("{s:O}", "reports", PS.reports));
}

/* ---- life cycle ----------------------------------------------------------------- */

/* "battery=80,volume=3" into d. */
static int parse_attributes(const char *s, struct cpns_status_doc *d) {
  char buf[sizeof PS.p->conf.status.attributes];
  snprintf(buf, sizeof buf, "%s", s);
  char *save = NULL;
  for (char *kv = strtok_r(buf, ", ", &save); kv; kv = strtok_r(NULL, ", ", &save)) {
    char *eq = strchr(kv, '=');
    double v;
    if (!eq) return CPNS_ERR_CONFIG;
    *eq = '\0';
    if (cpns_status_parse_number(eq + 1, &v) || cpns_status_set_attr(d, kv, v)) return CPNS_ERR_CONFIG;
  }
  return 0;
}

static bool observer_allowed(void *arg, const struct cpns_condobs_who *who, const char *topic) {
  (void)arg;
  (void)topic;
  return who->role == CPNS_PEER_APP || who->role == CPNS_PEER_OPERATOR;
}

static void observer_idle(void *arg, const char *topic) {
  (void)arg;
  if (PS.alive && PS.mirror) cpns_status_mirror_idle(PS.mirror, topic);
}

/* A usage record's snapshot (usage.c): the presence, and the battery when
 * the status carries one, where the application left them unknown. */
static void usage_snapshot(void *arg, cpns_usage_device_t *d) {
  (void)arg;
  if (!d->state[0]) snprintf(d->state, sizeof d->state, "%s", cpns_presence_name(PS.doc.state));
  const struct cpns_status_attr *b = cpns_status_get_attr(&PS.doc, "battery");
  if (d->battery < 0 && b && b->value >= 0 && b->value <= 100) d->battery = (int)b->value;
}

int status__init(struct pne *p) {
  memset(&PS, 0, sizeof PS);
  PS.p = p;
  const struct cpns_status_conf *sc = &p->conf.status;
  int s = cpns_presence_parse(sc->state);
  if (s < 0 || s == CPNS_PRESENCE_OFFLINE) {
    log_err(MOD, "[status] state must be online, busy or away");
    return CPNS_ERR_CONFIG;
  }
  cpns_status_init(&PS.doc, (enum cpns_presence)s);
  if (strnlen(sc->text, sizeof sc->text) > CPNS_STATUS_TEXT_MAX) return CPNS_ERR_CONFIG;
  snprintf(PS.doc.text, sizeof PS.doc.text, "%s", sc->text);
  if (parse_attributes(sc->attributes, &PS.doc)) {
    log_err(MOD, "[status] attributes: name=number pairs, at most %d, names [a-z0-9_-]",
            CPNS_STATUS_ATTRS_MAX);
    return CPNS_ERR_CONFIG;
  }
  PS.doc.updated = (int64_t)time(NULL);
  usage__add_snapshot_source(usage_snapshot, NULL);
  PS.reports = json_array();
  struct cpns_condobs_limits lim = {.max_per_path = p->conf.limits.max_observers,
                                    .max_total = sc->max_observers,
                                    .refresh_s = 0,
                                    .resume_ttl_s = 1};
  struct cpns_condobs_hooks hooks = {.allowed = observer_allowed, .idle = observer_idle};
  int rc = PS.reports ? 0 : CPNS_ERR_NOMEM;
  if (!rc) rc = cpns_condobs_new(p->node, MOD, &lim, &hooks, &PS.co);
  if (!rc) rc = cpns_obsclient_new(p->node, &PS.oc);
  struct cpns_status_mirror_config mc = {.name = "status-relay",
                                         .node = p->node,
                                         .co = PS.co,
                                         .oc = PS.oc,
                                         .upstream = upstream,
                                         .arg = p,
                                         .upstream_resumes = false,
                                         .pmax = sc->mirror_pmax,
                                         .max_entities = (size_t)sc->max_mirrored};
  if (!rc) rc = cpns_status_mirror_new(&mc, &PS.mirror);
  if (!rc) rc = cpns_node_every(p->node, STATUS_TICK_MS, tick, NULL);
  if (!rc) rc = cpns_node_observable(p->node, "reports");
  if (rc) return rc;
  PS.alive = true;
  struct cpns_node *n = p->node;
  const unsigned local = CPNS_REL_APP | CPNS_REL_OPERATOR;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "status", CPNS_REL_ANY, "read", get_own, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "status", local, "act for this PNE", put_own, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "status", local, "act for this PNE", post_own, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/status", local, "act for this PNE",
                           relay, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/entities/*/status", local,
                           "act for this PNE", get_other, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/entities/*/status/*", local,
                           "act for this PNE", get_other, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/policies", local, "act for this PNE",
                           relay, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "pns/*/policies", local, "act for this PNE",
                           relay, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/policies/*", local, "act for this PNE",
                           relay, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "pns/*/policies/*", local,
                           "act for this PNE", relay, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "reports", CPNS_REL_GATEWAY,
                           "hand policy reports to this PNE", post_report, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "reports", local, "act for this PNE",
                           get_reports, p);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void status__free(void) {
  if (!PS.alive) return;
  PS.alive = false;
  for (size_t i = 0; i < PS.qlen; i++) json_decref(PS.queue[i].body);
  PS.qlen = 0;
  cpns_status_mirror_free(PS.mirror);
  cpns_obsclient_free(PS.oc);
  cpns_condobs_free(PS.co);
  json_decref(PS.reports);
  PS.mirror = NULL;
  PS.oc = NULL;
  PS.co = NULL;
  PS.reports = NULL;
}
