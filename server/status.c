/* SPDX-License-Identifier: Apache-2.0 */
/* Status management at the server (spec 5.5.3): the statuses that each PN
 * GW reports for its PN (one entity at a time, or a batch: one PN's changes
 * as one stream on CPNS-2), stored and served to the PN's gateway and
 * members, its readers and the operator, by GET and by Observe with
 * conditional attributes (lib/condobs.c); policy-based reports (5.5.3.2):
 * rules evaluated on every update, a report going to the target entity's
 * PN GW over CPNS-7. Updates beyond a configured rate per entity get 4.29
 * (RFC 8516) and are counted. An entity whose gateway stops refreshing goes
 * offline with its PN (inventory.c), and its observers are told.
 *
 * PN GWs' observations (a gateway relays its PNEs' observations of other
 * PNs) are kept in the store by identity, with what was last reported to
 * them, and resume on the gateway's next session, also after a restart. */
#include <inttypes.h>
#include <math.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "condobs.h"
#include "log.h"
#include "msg.h"
#include "ratelimit.h"
#include "server.h"
#include "status.h"

#define MOD "status"
/* Buckets of the rate limit: every entity that may report at once, and
 * then some; beyond, the longest idle is forgotten. */
#define STATUS_RATE_KEYS_MIN 4096

_Static_assert(CPNS_STORE_STATUS_TEXT_MAX == CPNS_STATUS_ENCODED_MAX, "a stored status fits");
_Static_assert(CPNS_STORE_ATTR_MAX == CPNS_STATUS_ATTR_NAME_MAX, "a stored attribute name fits");
_Static_assert(CPNS_STORE_QUERY_MAX == CPNS_QUERY_MAX, "stored conditions fit");
_Static_assert(CPNS_STORE_TOKEN_MAX == CPNS_OBS_TOKEN_MAX, "stored tokens fit");
_Static_assert(CPNS_STATUS_ERR_MAX == CPNS_DIAG_MAX, "an update's reason is a diagnostic");

struct status_srv {
  struct server *srv;
  struct cpns_condobs *co;
  struct cpns_ratebook *rates;
  unsigned long updates, unchanged, batches, rate_limited, refused, offline;
  unsigned long reports, report_failures;
};

static int64_t now_s(void) { return (int64_t)time(NULL); }

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- who may read a PN's statuses ------------------------------------------ */

/* The rule of the status resources of PN pn, for one caller: the operator,
 * the PN's own gateway, a PNE of the PN (relayed by its gateway), and a
 * gateway or a PNE of a PN that pn's owner lets read it (like the
 * inventory, docs/security.md). */
static bool may_read(struct server *srv, enum cpns_peer_role role, const char *identity,
                     const char *caller_pn, bool relayed, const char *pn) {
  if (role == CPNS_PEER_OPERATOR) return true;
  if (!caller_pn[0] || !cpns_valid_id(pn)) return false;
  if (role == CPNS_PEER_GW && strcmp(caller_pn, pn) == 0) return true;
  if (role == CPNS_PEER_PNE && relayed && strcmp(caller_pn, pn) == 0) {
    struct cpns_entity_rec e;
    return srv->store->ops->entity_get(srv->store, pn, identity, &e) == 0 &&
           e.state != CPNS_STATE_ADDED;
  }
  if (role != CPNS_PEER_GW && !(role == CPNS_PEER_PNE && relayed)) return false;
  bool allowed = false;
  return srv->store->ops->pn_reader_allowed(srv->store, pn, caller_pn, &allowed) == 0 && allowed;
}

/* pns/{pn}/status..., pns/{pn}/entities/{id}/status..., pns/{pn}/policies... */
static bool status_path(const struct cpns_req *req) {
  if (req->nseg < 3 || strcmp(req->seg[0], "pns") != 0) return false;
  if (strcmp(req->seg[2], "status") == 0 || strcmp(req->seg[2], "policies") == 0) return true;
  return req->nseg >= 5 && strcmp(req->seg[2], "entities") == 0 && strcmp(req->seg[4], "status") == 0;
}

unsigned status__relations(struct server *srv, const struct cpns_req *req, unsigned wanted) {
  if (!status_path(req) || !req->via || req->peer->role != CPNS_PEER_PNE) return 0;
  /* A PNE relayed by its gateway (On-Behalf-Of): a member of its own PN,
   * a reader of a PN that lets its PN read. */
  const char *pn = req->seg[1];
  unsigned rel = 0;
  if ((wanted & CPNS_REL_MEMBER) && strcmp(req->peer->pn, pn) == 0 &&
      may_read(srv, CPNS_PEER_PNE, req->peer->identity, req->peer->pn, true, pn))
    rel |= CPNS_REL_MEMBER;
  if ((wanted & CPNS_REL_READER) && strcmp(req->peer->pn, pn) != 0 &&
      may_read(srv, CPNS_PEER_PNE, req->peer->identity, req->peer->pn, true, pn))
    rel |= CPNS_REL_READER;
  return rel;
}

/* condobs: before each notification. */
static bool observer_allowed(void *arg, const struct cpns_condobs_who *who, const char *topic) {
  struct server *srv = arg;
  char pn[CPNS_ID_MAX + 1];
  size_t n = strcspn(topic, "/");
  if (n > CPNS_ID_MAX) return false;
  memcpy(pn, topic, n);
  pn[n] = '\0';
  return may_read(srv, who->role, who->identity, who->pn, who->via[0] != '\0', pn);
}

/* condobs: a PN GW's observations are kept by identity. */
static bool observer_kept(void *arg, const struct cpns_key_entry *session_peer) {
  (void)arg;
  return session_peer && session_peer->role == CPNS_PEER_GW;
}

static void observer_saved(void *arg, const struct cpns_condobs_record *r) {
  struct server *srv = arg;
  struct cpns_statobs_rec s;
  memset(&s, 0, sizeof s);
  snprintf(s.session_identity, sizeof s.session_identity, "%s", r->session_identity);
  memcpy(s.token, r->token, r->toklen);
  s.toklen = r->toklen;
  snprintf(s.identity, sizeof s.identity, "%s", r->who.identity);
  snprintf(s.pn, sizeof s.pn, "%s", r->who.pn);
  s.role = (int)r->who.role;
  snprintf(s.via, sizeof s.via, "%s", r->who.via);
  snprintf(s.topic, sizeof s.topic, "%s", r->topic);
  snprintf(s.attr, sizeof s.attr, "%s", r->attr);
  snprintf(s.query, sizeof s.query, "%s", r->query);
  s.accept = r->accept;
  s.ref_state = r->ref.last.state;
  s.ref_has = r->ref.last.has_value;
  s.ref_value = r->ref.last.value;
  s.ref_digest = r->ref.last.digest;
  s.ref_zone = r->ref.zone;
  s.seq = r->seq;
  s.updated_at = now_s();
  if (srv->store->ops->statobs_put(srv->store, &s))
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "cannot keep the observation of %s", r->session_identity);
}

static void observer_forgotten(void *arg, const char *session_identity, const uint8_t *token,
                               size_t toklen) {
  struct server *srv = arg;
  srv->store->ops->statobs_delete(srv->store, session_identity, token, toklen);
}

/* ---- documents ------------------------------------------------------------------- */

static void topic_of(const char *pn, const char *id, char *out, size_t size) {
  snprintf(out, size, "%s/%s", pn, id);
}

/* The stored document of pn/id, or one made from the inventory for an
 * entity that never published any (its registration state). Returns 0,
 * or CPNS_ERR_NOTFOUND when there is no such entity. */
static int load_doc(struct server *srv, const char *pn, const char *id, struct cpns_status_doc *d) {
  struct cpns_status_rec r;
  int rc = srv->store->ops->status_get(srv->store, pn, id, &r);
  if (rc == 0) {
    char err[CPNS_DIAG_MAX];
    if (cpns_status_from_text(r.doc, d, err, sizeof err) == 0) {
      d->updated = r.updated_at;
      return 0;
    }
    log_err(MOD, "%s/%s: stored status unreadable: %s", pn, id, err);
  }
  struct cpns_entity_rec e;
  rc = srv->store->ops->entity_get(srv->store, pn, id, &e);
  if (rc) return rc;
  cpns_status_init(d, e.state == CPNS_STATE_ONLINE ? CPNS_PRESENCE_ONLINE : CPNS_PRESENCE_OFFLINE);
  d->updated = e.updated_at;
  return 0;
}

static int to_record(const char *pn, const char *id, const struct cpns_status_doc *d,
                     struct cpns_status_rec *r) {
  memset(r, 0, sizeof *r);
  snprintf(r->pn, sizeof r->pn, "%s", pn);
  snprintf(r->id, sizeof r->id, "%s", id);
  r->updated_at = d->updated;
  return cpns_status_to_text(d, r->doc, sizeof r->doc);
}

/* ---- policy-based reports (5.5.3.2) ------------------------------------------------ */

static bool policy_holds(const struct cpns_policy_rec *p, const struct cpns_status_doc *d) {
  if (p->op == CPNS_POLICY_STATE) return strcmp(cpns_presence_name(d->state), p->state) == 0;
  const struct cpns_status_attr *a = cpns_status_get_attr(d, p->attr);
  if (!a) return false;
  return p->op == CPNS_POLICY_LT ? a->value < p->threshold : a->value > p->threshold;
}

static json_t *number_json(double v) {
  if (v == floor(v) && fabs(v) < 9007199254740992.0) return json_integer((json_int_t)v);
  return json_real(v);
}

static json_t *policy_json(const struct cpns_policy_rec *p) {
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:I, s:I}", "id", p->id, "entity",
                        p->entity, "target", p->target, "target_pn", p->target_pn, "created_by",
                        p->created_by, "created", (json_int_t)p->created_at, "active", p->active,
                        "fired", (json_int_t)p->fired, "last_fired", (json_int_t)p->last_fired);
  if (!o) return NULL;
  if (p->op == CPNS_POLICY_STATE) {
    json_object_set_new(o, "state", json_string(p->state));
  } else {
    json_object_set_new(o, "attr", json_string(p->attr));
    json_object_set_new(o, p->op == CPNS_POLICY_LT ? "lt" : "gt", number_json(p->threshold));
  }
  return o;
}

struct policies {
  struct cpns_policy_rec *p;
  size_t n, cap;
};

static int collect_policy(void *arg, const struct cpns_policy_rec *p) {
  struct policies *ps = arg;
  if (ps->n == ps->cap) {
    size_t cap = ps->cap ? ps->cap * 2 : 8;
    struct cpns_policy_rec *np = realloc(ps->p, cap * sizeof *np);
    if (!np) return 1;
    ps->p = np;
    ps->cap = cap;
  }
  ps->p[ps->n++] = *p;
  return 0;
}

/* Evaluates pn/id's rules against its new document: a rule whose condition
 * begins to hold is reported to its target's PN GW (CPNS-7), which passes
 * the report on to the target entity. */
static void evaluate_policies(struct status_srv *ss, const char *pn, const char *id,
                              const struct cpns_status_doc *d) {
  struct server *srv = ss->srv;
  struct policies ps = {NULL, 0, 0};
  srv->store->ops->policy_of_entity(srv->store, pn, id, collect_policy, &ps);
  for (size_t i = 0; i < ps.n; i++) {
    struct cpns_policy_rec *p = &ps.p[i];
    bool holds = policy_holds(p, d);
    if (holds == p->active) continue;
    if (holds) {
      p->fired++;
      p->last_fired = now_s();
      json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "policy", p->id, "pn", pn,
                            "entity", id, "state", cpns_presence_name(d->state), "target",
                            p->target, "target_pn", p->target_pn, "at", (json_int_t)p->last_fired);
      if (r && p->op != CPNS_POLICY_STATE) {
        const struct cpns_status_attr *a = cpns_status_get_attr(d, p->attr);
        json_object_set_new(r, "attr", json_string(p->attr));
        json_object_set_new(r, "value", a ? number_json(a->value) : json_null());
        json_object_set_new(r, p->op == CPNS_POLICY_LT ? "lt" : "gt", number_json(p->threshold));
      } else if (r) {
        json_object_set_new(r, "became", json_string(p->state));
      }
      char cond[CPNS_STORE_ATTR_MAX + 48];
      if (p->op == CPNS_POLICY_STATE) snprintf(cond, sizeof cond, "state = %s", p->state);
      else snprintf(cond, sizeof cond, "%s %s %g", p->attr, p->op == CPNS_POLICY_LT ? "<" : ">", p->threshold);
      log_notice(MOD, "policy %s/%s: %s: %s; reporting to %s of PN %s", pn, p->id, id, cond,
                 p->target, p->target_pn);
      ss->reports++;
      if (r) inventory__tell_gateway(srv, p->target_pn, COAP_REQUEST_CODE_POST, "reports", r);
      else ss->report_failures++;
      json_decref(r);
    }
    p->active = holds;
    srv->store->ops->policy_mark(srv->store, pn, p->id, p->active, p->fired, p->last_fired);
  }
  free(ps.p);
}

/* A new document of pn/id is stored: its observers and its rules learn it. */
static void changed(struct status_srv *ss, const char *pn, const char *id,
                    const struct cpns_status_doc *d) {
  char topic[CPNS_TOPIC_MAX + 1];
  topic_of(pn, id, topic, sizeof topic);
  cpns_condobs_update(ss->co, topic, d);
  evaluate_policies(ss, pn, id, d);
}

/* ---- updates -------------------------------------------------------------------- */

/* A document of pn/id that does not decode: logged, counted, and the code
 * of its refusal. */
static int doc_refused(struct status_srv *ss, const char *pn, const char *id, int rc,
                       const char *err) {
  CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "%s/%s: status refused: %s", pn, id, err);
  ss->refused++;
  return rc == CPNS_ERR_TOOBIG ? 413 : 400;
}

/* Admits the decoded document *d of pn/id: its entity must exist (404),
 * and it is held to the entity's rate (429, *retry seconds) unless it says
 * offline; finds whether it changes anything. On 0 d->updated is set (now,
 * or when the same content was stored). */
static int admit_update(struct status_srv *ss, const char *pn, const char *id,
                        struct cpns_status_doc *d, bool *same, long *retry, char *err,
                        size_t errlen) {
  struct server *srv = ss->srv;
  struct cpns_entity_rec e;
  if (srv->store->ops->entity_get(srv->store, pn, id, &e)) {
    snprintf(err, errlen, "no entity %.64s in PN %.64s", id, pn);
    return 404;
  }
  if (d->state != CPNS_PRESENCE_OFFLINE) {
    char key[CPNS_TOPIC_MAX + 1];
    topic_of(pn, id, key, sizeof key);
    long wait = cpns_ratebook_take(ss->rates, key, mono_ms());
    if (wait) {
      ss->rate_limited++;
      CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "%s/%s: status updates beyond %ld/s: 4.29", pn, id,
                  srv->conf.status.max_rate);
      snprintf(err, errlen, "too many status updates; retry in %ld s", wait);
      *retry = wait;
      return 429;
    }
  }
  /* The same content again (a refresh, a resynchronization) changes
   * nothing and tells nobody; a document made from the inventory is no
   * stored one, so a first report is always stored. */
  struct cpns_status_rec cur;
  struct cpns_status_doc old;
  *same = srv->store->ops->status_get(srv->store, pn, id, &cur) == 0 &&
          cpns_status_from_text(cur.doc, &old, NULL, 0) == 0 && cpns_status_same(&old, d);
  d->updated = *same ? cur.updated_at : now_s();
  return 0;
}

/* Checks one update of pn/id: decodes it (400, 413), then admits it
 * (admit_update). On 0 *d is the new document. */
static int check_update(struct status_srv *ss, const char *pn, const char *id, const json_t *body,
                        struct cpns_status_doc *d, bool *same, long *retry, char *err,
                        size_t errlen) {
  if (!cpns_valid_id(id)) {
    snprintf(err, errlen, "'%.64s' is not a valid id", id);
    return 400;
  }
  int rc = cpns_status_decode(body, d, err, errlen);
  if (rc) return doc_refused(ss, pn, id, rc, err);
  return admit_update(ss, pn, id, d, same, retry, err, errlen);
}

static void reply_429(struct cpns_req *req, long retry, const char *diag) {
  /* RFC 8516: Max-Age says when to try again. Options before the payload. */
  uint8_t b[4];
  coap_add_option(req->response, COAP_OPTION_MAXAGE,
                  coap_encode_var_safe(b, sizeof b, (unsigned)retry), b);
  cpns_reply_error(req, 429, "%s", diag);
}

/* PUT pns/{pn}/entities/{id}/status: the PN's gateway reports one status. */
static void put_status(struct cpns_req *req, void *arg) {
  struct status_srv *ss = arg;
  const char *pn = req->seg[1], *id = req->seg[3];
  if (!cpns_valid_id(pn)) {
    cpns_reply_error(req, 400, "'%.64s' is not a valid id", pn);
    return;
  }
  struct cpns_status_doc d;
  bool same = false;
  long retry = 0;
  char err[CPNS_DIAG_MAX];
  int code = check_update(ss, pn, id, req->body, &d, &same, &retry, err, sizeof err);
  if (code == 429) {
    reply_429(req, retry, err);
    return;
  }
  if (code) {
    cpns_reply_error(req, code, "%s", err);
    return;
  }
  ss->updates++;
  if (same) {
    ss->unchanged++;
    cpns_reply(req, 204, NULL);
    return;
  }
  struct cpns_status_rec r;
  if (to_record(pn, id, &d, &r) || ss->srv->store->ops->status_put(ss->srv->store, &r)) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  changed(ss, pn, id, &d);
  cpns_reply(req, 204, NULL);
}

/* POST pns/{pn}/status {"updates":[{"id","status"}...]}: one batch of the
 * PN's status changes from its gateway, stored in one transaction. Each
 * update is answered on its own in "refused" (with its code; 4.29 with
 * "retry" seconds); the batch as a whole is 2.04. */
static void post_batch(struct cpns_req *req, void *arg) {
  struct status_srv *ss = arg;
  struct server *srv = ss->srv;
  const char *pn = req->seg[1];
  char err[CPNS_DIAG_MAX];
  struct cpns_status_update *ups = NULL;
  size_t n = 0;
  int rc = cpns_valid_id(pn) ? cpns_status_batch_decode(req->body, &ups, &n, err, sizeof err)
                             : CPNS_ERR_INVAL;
  if (rc && rc != CPNS_ERR_NOMEM) {
    ss->refused++;
    cpns_reply_error(req, 400, "expected {\"updates\":[{\"id\",\"status\"}...]} of 1..%d updates",
                     CPNS_STATUS_BATCH_MAX);
    return;
  }
  struct cpns_status_rec *recs = rc ? NULL : calloc(n, sizeof *recs);
  struct cpns_status_doc *docs = rc ? NULL : calloc(n, sizeof *docs);
  json_t *refused = rc ? NULL : json_array();
  if (!recs || !docs || !refused) {
    free(ups);
    free(recs);
    free(docs);
    json_decref(refused);
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const struct cpns_status_update *u = &ups[i];
    const char *diag = u->err;
    long retry = 0;
    bool same = false;
    int code = 400;
    if (u->fault == CPNS_STATUS_UPDATE_SHAPE) {
      ss->refused++;
    } else if (u->fault == CPNS_STATUS_UPDATE_DOC) {
      code = doc_refused(ss, pn, u->id, u->rc, u->err);
    } else if (u->fault == CPNS_STATUS_UPDATE_OK) {
      struct cpns_status_doc d = u->doc;
      err[0] = '\0';
      code = admit_update(ss, pn, u->id, &d, &same, &retry, err, sizeof err);
      diag = err;
      if (!code) {
        /* An entity twice in one batch: the later accepted update wins (the
         * stream carries the latest status only); a refused one leaves the
         * earlier in place. */
        for (size_t j = 0; j < k; j++)
          if (strcmp(recs[j].id, u->id) == 0) {
            memmove(&recs[j], &recs[j + 1], (k - j - 1) * sizeof *recs);
            memmove(&docs[j], &docs[j + 1], (k - j - 1) * sizeof *docs);
            k--;
            break;
          }
        docs[k] = d;
      }
    }
    if (code) {
      json_t *r = json_pack("{s:s, s:i, s:s}", "id", u->id ? u->id : "", "code", code, "diag", diag);
      if (r && code == 429) json_object_set_new(r, "retry", json_integer(retry));
      json_array_append_new(refused, r);
      continue;
    }
    ss->updates++;
    if (same) {
      ss->unchanged++;
      continue;
    }
    if (to_record(pn, u->id, &docs[k], &recs[k])) continue;
    k++;
  }
  free(ups);
  ss->batches++;
  rc = srv->store->ops->status_put_many(srv->store, recs, k);
  if (rc) {
    free(recs);
    free(docs);
    json_decref(refused);
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500, "store failure");
    return;
  }
  for (size_t j = 0; j < k; j++) changed(ss, pn, recs[j].id, &docs[j]);
  cpns_reply(req, 204, json_pack("{s:I, s:o}", "accepted", (json_int_t)(n - json_array_size(refused)),
                                 "refused", refused));
  free(recs);
  free(docs);
}

/* ---- reads ---------------------------------------------------------------------- */

/* GET pns/{pn}/entities/{id}/status[/{attr}]: the document, one part of it,
 * or (Observe 0) an observation with the caller's conditions. */
static void get_status(struct cpns_req *req, void *arg) {
  struct status_srv *ss = arg;
  const char *pn = req->seg[1], *id = req->seg[3];
  const char *attr = req->nseg == 6 ? req->seg[5] : "";
  if (!cpns_valid_id(pn) || !cpns_valid_id(id)) {
    cpns_reply_error(req, 400, "not a valid id");
    return;
  }
  struct cpns_status_doc d;
  int rc = load_doc(ss->srv, pn, id, &d);
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such entity" : "store failure");
    return;
  }
  char topic[CPNS_TOPIC_MAX + 1];
  topic_of(pn, id, topic, sizeof topic);
  cpns_condobs_serve(ss->co, req, topic, attr, &d);
}

struct list_ctx {
  struct server *srv;
  json_t *arr;
};

static int add_entity_status(void *arg, const struct cpns_entity_rec *e) {
  struct list_ctx *c = arg;
  struct cpns_status_doc d;
  if (load_doc(c->srv, e->pn, e->id, &d)) return 0;
  json_array_append_new(c->arr, json_pack("{s:s, s:o}", "id", e->id, "status", cpns_status_to_json(&d)));
  return 0;
}

/* GET pns/{pn}/status: every entity of the PN with its status. */
static void list_status(struct cpns_req *req, void *arg) {
  struct status_srv *ss = arg;
  const char *pn = req->seg[1];
  struct cpns_pn_rec p;
  if (!cpns_valid_id(pn) || ss->srv->store->ops->pn_get(ss->srv->store, pn, &p)) {
    cpns_reply_error(req, 404, "no such PN");
    return;
  }
  struct list_ctx c = {ss->srv, json_array()};
  if (ss->srv->store->ops->entity_list(ss->srv->store, pn, add_entity_status, &c)) {
    json_decref(c.arr);
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  cpns_reply(req, 205, json_pack("{s:s, s:o}", "pn", pn, "entities", c.arr));
}

/* GET stats/status: counters, for operators and tests. */
static void get_stats(struct cpns_req *req, void *arg) {
  struct status_srv *ss = arg;
  struct cpns_condobs_stats o;
  cpns_condobs_get_stats(ss->co, &o);
  uint64_t policies = 0;
  ss->srv->store->ops->policy_count(ss->srv->store, NULL, &policies);
  cpns_reply(req, 205,
             json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                       "updates", (json_int_t)ss->updates, "unchanged", (json_int_t)ss->unchanged,
                       "batches", (json_int_t)ss->batches, "rate_limited",
                       (json_int_t)ss->rate_limited, "refused", (json_int_t)ss->refused,
                       "offline", (json_int_t)ss->offline, "observers", (json_int_t)o.observers,
                       "dormant", (json_int_t)o.dormant, "notifications",
                       (json_int_t)o.notifications, "refused_cap", (json_int_t)o.refused_cap,
                       "resumed", (json_int_t)o.resumed, "policies", (json_int_t)policies,
                       "reports", (json_int_t)ss->reports, "report_failures",
                       (json_int_t)ss->report_failures, "rate_keys",
                       (json_int_t)cpns_ratebook_count(ss->rates)));
}

/* ---- policies ------------------------------------------------------------------- */

/* POST pns/{pn}/policies: a rule about one of the PN's entities. */
static void post_policy(struct cpns_req *req, void *arg) {
  struct status_srv *ss = arg;
  struct server *srv = ss->srv;
  const char *pn = req->seg[1];
  struct cpns_policy_rec p;
  memset(&p, 0, sizeof p);
  char err[CPNS_DIAG_MAX] = "not a valid PN id";
  if (!cpns_valid_id(pn) || cpns_status_policy_decode(req->body, &p, err, sizeof err)) {
    CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "policy refused: %s", err);
    cpns_reply_error(req, 400, "%s", err);
    return;
  }
  struct cpns_entity_rec e;
  if (srv->store->ops->entity_get(srv->store, pn, p.entity, &e)) {
    cpns_reply_error(req, 404, "no entity %s in PN %s", p.entity, pn);
    return;
  }
  uint64_t in_pn = 0, all = 0;
  srv->store->ops->policy_count(srv->store, pn, &in_pn);
  srv->store->ops->policy_count(srv->store, NULL, &all);
  if (in_pn >= (uint64_t)srv->conf.status.max_policies_per_pn ||
      all >= (uint64_t)srv->conf.status.max_policies) {
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "PN %s: policy limit reached", pn);
    cpns_reply_error(req, 503, "policy limit reached (%ld per PN)", srv->conf.status.max_policies_per_pn);
    return;
  }
  if (!p.id[0]) {
    uint8_t rnd[4];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
      cpns_reply_error(req, 500, "no randomness");
      return;
    }
    snprintf(p.id, sizeof p.id, "p-%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
  }
  struct cpns_policy_rec old;
  if (srv->store->ops->policy_get(srv->store, pn, p.id, &old) == 0) {
    cpns_reply_error(req, 409, "PN %s has a policy %s already", pn, p.id);
    return;
  }
  snprintf(p.pn, sizeof p.pn, "%s", pn);
  if (!p.target_pn[0]) snprintf(p.target_pn, sizeof p.target_pn, "%s", pn);
  snprintf(p.created_by, sizeof p.created_by, "%s", req->peer->identity);
  p.created_at = now_s();
  /* A rule reports a crossing: what holds already is not news. */
  struct cpns_status_doc d;
  if (load_doc(srv, pn, p.entity, &d) == 0) p.active = policy_holds(&p, &d);
  if (srv->store->ops->policy_put(srv->store, &p)) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  log_notice(MOD, "policy %s/%s on %s created by %s, reporting to %s of PN %s", pn, p.id, p.entity,
             p.created_by, p.target, p.target_pn);
  cpns_reply(req, 201, policy_json(&p));
}

static int add_policy_json(void *arg, const struct cpns_policy_rec *p) {
  json_array_append_new(arg, policy_json(p));
  return 0;
}

static void list_policies(struct cpns_req *req, void *arg) {
  struct status_srv *ss = arg;
  json_t *arr = json_array();
  if (!cpns_valid_id(req->seg[1]) ||
      ss->srv->store->ops->policy_list(ss->srv->store, req->seg[1], add_policy_json, arr)) {
    json_decref(arr);
    cpns_reply_error(req, 400, "cannot list policies");
    return;
  }
  cpns_reply(req, 205, json_pack("{s:s, s:o}", "pn", req->seg[1], "policies", arr));
}

static void get_policy(struct cpns_req *req, void *arg) {
  struct status_srv *ss = arg;
  struct cpns_policy_rec p;
  if (!cpns_valid_id(req->seg[1]) || !cpns_valid_id(req->seg[3]) ||
      ss->srv->store->ops->policy_get(ss->srv->store, req->seg[1], req->seg[3], &p)) {
    cpns_reply_error(req, 404, "no such policy");
    return;
  }
  cpns_reply(req, 205, policy_json(&p));
}

static void delete_policy(struct cpns_req *req, void *arg) {
  struct status_srv *ss = arg;
  int rc = cpns_valid_id(req->seg[1]) && cpns_valid_id(req->seg[3])
               ? ss->srv->store->ops->policy_delete(ss->srv->store, req->seg[1], req->seg[3])
               : CPNS_ERR_NOTFOUND;
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
                     rc == CPNS_ERR_NOTFOUND ? "no such policy" : "store failure");
    return;
  }
  log_notice(MOD, "policy %s/%s deleted by %s", req->seg[1], req->seg[3], req->peer->identity);
  cpns_reply(req, 202, NULL);
}

/* ---- the inventory's events -------------------------------------------------------- */

void status__entity_offline(struct server *srv, const char *pn, const char *id) {
  struct status_srv *ss = srv->status;
  if (!ss) return;
  struct cpns_status_doc d;
  if (load_doc(srv, pn, id, &d)) return;
  if (d.state == CPNS_PRESENCE_OFFLINE) return;
  d.state = CPNS_PRESENCE_OFFLINE;
  d.updated = now_s();
  struct cpns_status_rec r;
  if (to_record(pn, id, &d, &r) == 0) srv->store->ops->status_put(srv->store, &r);
  ss->offline++;
  changed(ss, pn, id, &d);
}

void status__entity_gone(struct server *srv, const char *pn, const char *id) {
  struct status_srv *ss = srv->status;
  if (!ss) return;
  char topic[CPNS_TOPIC_MAX + 1];
  topic_of(pn, id, topic, sizeof topic);
  cpns_condobs_fail(ss->co, topic, 404, "the entity left its PN");
}

/* ---- life cycle ------------------------------------------------------------------ */

struct restore_ctx {
  struct status_srv *ss;
  unsigned restored, refused;
  char (*topics)[CPNS_TOPIC_MAX + 1]; /* restored topics, to give them their documents */
  size_t ntopics, cap;
};

static int restore_one(void *arg, const struct cpns_statobs_rec *s) {
  struct restore_ctx *c = arg;
  struct cpns_condobs_record r;
  memset(&r, 0, sizeof r);
  snprintf(r.session_identity, sizeof r.session_identity, "%s", s->session_identity);
  snprintf(r.who.identity, sizeof r.who.identity, "%s", s->identity);
  snprintf(r.who.pn, sizeof r.who.pn, "%s", s->pn);
  r.who.role = (enum cpns_peer_role)s->role;
  snprintf(r.who.via, sizeof r.who.via, "%s", s->via);
  memcpy(r.token, s->token, s->toklen);
  r.toklen = s->toklen;
  snprintf(r.topic, sizeof r.topic, "%s", s->topic);
  snprintf(r.attr, sizeof r.attr, "%s", s->attr);
  snprintf(r.query, sizeof r.query, "%s", s->query);
  r.accept = s->accept;
  r.ref.last.state = s->ref_state;
  r.ref.last.has_value = s->ref_has;
  r.ref.last.value = s->ref_value;
  r.ref.last.digest = s->ref_digest;
  r.ref.zone = s->ref_zone;
  r.seq = s->seq;
  /* The topic's document is read after the store's cursor is done. */
  if (cpns_condobs_restore(c->ss->co, &r, NULL)) {
    c->refused++;
    return 0;
  }
  c->restored++;
  if (c->ntopics == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    char(*t)[CPNS_TOPIC_MAX + 1] = realloc(c->topics, cap * sizeof *t);
    if (!t) return 0;
    c->topics = t;
    c->cap = cap;
  }
  snprintf(c->topics[c->ntopics++], CPNS_TOPIC_MAX + 1, "%s", r.topic);
  return 0;
}

int status__init(struct server *srv) {
  struct status_srv *ss = calloc(1, sizeof *ss);
  if (!ss) return CPNS_ERR_NOMEM;
  ss->srv = srv;
  const struct cpns_status_conf *sc = &srv->conf.status;
  size_t keys = (size_t)srv->conf.max_entities_per_pn * 16;
  if (keys < STATUS_RATE_KEYS_MIN) keys = STATUS_RATE_KEYS_MIN;
  struct cpns_condobs_limits lim = {.max_per_path = srv->conf.limits.max_observers,
                                    .max_total = sc->max_observers,
                                    .refresh_s = sc->refresh,
                                    .resume_ttl_s = sc->resume_ttl};
  struct cpns_condobs_hooks hooks = {.allowed = observer_allowed,
                                     .persist = observer_kept,
                                     .saved = observer_saved,
                                     .forgotten = observer_forgotten,
                                     .arg = srv};
  int rc = cpns_ratebook_new(keys, (double)sc->max_rate, (double)sc->burst, &ss->rates);
  if (!rc) rc = cpns_condobs_new(srv->node, MOD, &lim, &hooks, &ss->co);
  if (rc) {
    cpns_ratebook_free(ss->rates);
    free(ss);
    return rc;
  }
  srv->status = ss;
  /* PN GWs' observations from before a restart: dormant until they are back. */
  struct restore_ctx rc_ = {ss, 0, 0, NULL, 0, 0};
  srv->store->ops->statobs_list(srv->store, restore_one, &rc_);
  for (size_t i = 0; i < rc_.ntopics; i++) {
    char pn[CPNS_ID_MAX + 1], id[CPNS_ID_MAX + 1];
    const char *slash = strchr(rc_.topics[i], '/');
    if (!slash || (size_t)(slash - rc_.topics[i]) > CPNS_ID_MAX || strlen(slash + 1) > CPNS_ID_MAX) continue;
    snprintf(pn, sizeof pn, "%.*s", (int)(slash - rc_.topics[i]), rc_.topics[i]);
    snprintf(id, sizeof id, "%s", slash + 1);
    struct cpns_status_doc d;
    if (load_doc(srv, pn, id, &d) == 0) cpns_condobs_update(ss->co, rc_.topics[i], &d);
  }
  free(rc_.topics);
  if (rc_.restored)
    log_notice(MOD, "%u observation(s) of PN GWs kept from before; they resume when their gateway "
                    "connects", rc_.restored);
  if (rc_.refused) log_warn(MOD, "%u kept observation(s) could not be restored", rc_.refused);

  struct cpns_node *n = srv->node;
  enum {
    OP = CPNS_REL_OPERATOR,
    OWN_GW = CPNS_REL_GW_OF_PN,
    READER = CPNS_REL_READER,
    MEMBER = CPNS_REL_MEMBER,
  };
  const unsigned readers = OP | OWN_GW | READER | MEMBER;
  /* Over CPNS-4 (http.c, scope status:read) an external server that the
   * owner lists among the readers as ext.<name> (inventory.c) reads too:
   * plain GETs only, it never observes. */
  const unsigned ext_readers = readers | CPNS_REL_EXTERNAL;
  rc = 0;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "stats/status", OP | CPNS_REL_GW,
                           "read status counters", get_stats, ss);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/status", ext_readers,
                           "read this PN's statuses", list_status, ss);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "pns/*/status", OWN_GW,
                           "report this PN's statuses", post_batch, ss);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/entities/*/status", ext_readers,
                           "read this PN's statuses", get_status, ss);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "pns/*/entities/*/status", OWN_GW,
                           "report this PN's statuses", put_status, ss);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/entities/*/status/*", ext_readers,
                           "read this PN's statuses", get_status, ss);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/policies", OP | OWN_GW | MEMBER,
                           "read this PN's policies", list_policies, ss);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "pns/*/policies", OP | OWN_GW | MEMBER,
                           "set policies of this PN", post_policy, ss);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "pns/*/policies/*", OP | OWN_GW | MEMBER,
                           "read this PN's policies", get_policy, ss);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "pns/*/policies/*", OP | OWN_GW | MEMBER,
                           "set policies of this PN", delete_policy, ss);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void status__free(struct server *srv) {
  struct status_srv *ss = srv->status;
  if (!ss) return;
  cpns_condobs_free(ss->co);
  cpns_ratebook_free(ss->rates);
  free(ss);
  srv->status = NULL;
}
