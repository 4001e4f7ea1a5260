/* SPDX-License-Identifier: Apache-2.0 */
/* Status management for applications (include/cpns/status.h; spec 5.5.3,
 * docs/protocol.md "Status"): the status resources on top of
 * cpns_client_request(), and watching one with conditional attributes on
 * the client's loop (lib/obsclient.c). Answers are decoded strictly by
 * lib/status.c after members this library does not know are left out, so
 * that a newer peer may add some. */
#include <cpns/status.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_api.h"
#include "client_internal.h"
#include "condobs.h"
#include "msg.h"
#include "obsclient.h"
#include "status.h"

#define WATCH_STEP_MS 100
#define ANSWER_TEXT_MAX (1024u * 1024u)

const char *cpns_status_state_name(enum cpns_presence p) { return cpns_presence_name(p); }

static bool id_ok(const char *s) {
  return s && strnlen(s, CPNS_ID_MAX + 1) <= CPNS_ID_MAX && cpns_valid_id(s);
}

static json_t *parse_answer(const char *text) {
  if (!text || strnlen(text, ANSWER_TEXT_MAX + 1) > ANSWER_TEXT_MAX) return NULL;
  json_error_t je;
  json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &je);
  if (!json_is_object(v)) {
    json_decref(v);
    return NULL;
  }
  return v;
}

/* A status document from an answer's object: its known members only. */
static int decode_doc(const json_t *o, cpns_status_t *out) {
  static const char *const known[] = {"state", "text", "attrs", "updated"};
  json_t *copy = json_object();
  if (!copy) return CPNS_ERR_NOMEM;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
    json_t *v = json_object_get(o, known[i]);
    if (v) json_object_set(copy, known[i], v);
  }
  struct cpns_status_doc d;
  int rc = cpns_status_decode(copy, &d, NULL, 0) ? CPNS_ERR_PROTO : 0;
  json_decref(copy);
  if (!rc) *out = d;
  return rc;
}

static int get_doc(cpns_client_t *c, const char *path, cpns_status_t *out) {
  char *text = NULL;
  int rc = cpns_client_request(c, "GET", path, NULL, NULL, &text);
  if (rc) return rc;
  json_t *o = parse_answer(text);
  cpns_free(text);
  rc = o ? decode_doc(o, out) : CPNS_ERR_PROTO;
  json_decref(o);
  return rc;
}

int cpns_status_get(cpns_client_t *c, const char *pn, const char *id, cpns_status_t *out) {
  if (!c || !id_ok(pn) || !id_ok(id) || !out) return CPNS_ERR_INVAL;
  char path[2 * CPNS_ID_MAX + 32];
  snprintf(path, sizeof path, "pns/%s/entities/%s/status", pn, id);
  return get_doc(c, path, out);
}

int cpns_status_get_own(cpns_client_t *c, cpns_status_t *out) {
  if (!c || !out) return CPNS_ERR_INVAL;
  return get_doc(c, "status", out);
}

static int send_json(cpns_client_t *c, const char *method, const char *path, json_t *body) {
  char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(body);
  if (!text) return CPNS_ERR_NOMEM;
  int rc = cpns_client_request(c, method, path, NULL, text, NULL);
  free(text);
  return rc;
}

static bool attr_ok(const cpns_status_attr_t *a) {
  return memchr(a->name, '\0', sizeof a->name) && cpns_status_attr_name_valid(a->name) &&
         isfinite(a->value) && fabs(a->value) <= CPNS_STATUS_VALUE_MAX;
}

int cpns_status_set(cpns_client_t *c, const cpns_status_t *st) {
  if (!c || !st || st->nattrs > CPNS_STATUS_ATTRS_MAX || !memchr(st->text, '\0', sizeof st->text) ||
      cpns_presence_parse(cpns_presence_name(st->state)) < 0)
    return CPNS_ERR_INVAL;
  for (unsigned i = 0; i < st->nattrs; i++)
    if (!attr_ok(&st->attrs[i])) return CPNS_ERR_INVAL;
  json_t *body = cpns_status_to_json(st);
  if (!body) return CPNS_ERR_NOMEM;
  json_object_del(body, "updated");
  return send_json(c, "PUT", "status", body);
}

int cpns_status_update(cpns_client_t *c, const char *state, const char *text,
                       const cpns_status_attr_t *attrs, size_t nattrs, const char *const *remove,
                       size_t nremove) {
  if (!c || (nattrs && !attrs) || (nremove && !remove) || nattrs > CPNS_STATUS_ATTRS_MAX ||
      nremove > CPNS_STATUS_ATTRS_MAX)
    return CPNS_ERR_INVAL;
  if (state && cpns_presence_parse(state) < 0) return CPNS_ERR_INVAL;
  if (text && strnlen(text, CPNS_STATUS_TEXT_MAX + 1) > CPNS_STATUS_TEXT_MAX) return CPNS_ERR_INVAL;
  json_t *body = json_object(), *a = json_object();
  if (!body || !a) {
    json_decref(body);
    json_decref(a);
    return CPNS_ERR_NOMEM;
  }
  if (state) json_object_set_new(body, "state", json_string(state));
  if (text) json_object_set_new(body, "text", text[0] ? json_string(text) : json_null());
  for (size_t i = 0; i < nattrs; i++) {
    if (!attr_ok(&attrs[i])) goto inval;
    json_object_set_new(a, attrs[i].name, json_real(attrs[i].value));
  }
  for (size_t i = 0; i < nremove; i++) {
    if (!remove[i] || !cpns_status_attr_name_valid(remove[i])) goto inval;
    json_object_set_new(a, remove[i], json_null());
  }
  if (json_object_size(a)) json_object_set(body, "attrs", a);
  json_decref(a);
  return send_json(c, "POST", "status", body);
inval:
  json_decref(a);
  json_decref(body);
  return CPNS_ERR_INVAL;
}

/* ---- watching ---- */

struct watch {
  cpns_client_t *c;
  const char *attr; /* NULL: the whole document */
  cpns_status_watch_fn fn;
  void *arg;
  bool over, stopped, gone, first;
  int rc;
};

static void watch_end(struct watch *w, int status, int rc, const char *diag) {
  w->over = true;
  w->rc = rc;
  client__set_error(w->c, status, diag);
}

/* The event of one answer: the whole document, or one part of it. */
static int decode_event(const struct watch *w, const json_t *body, cpns_status_event_t *ev,
                        cpns_status_t *doc) {
  memset(ev, 0, sizeof *ev);
  ev->attr = w->attr;
  ev->first = w->first;
  if (!w->attr) {
    int rc = decode_doc(body, doc);
    if (rc) return rc;
    ev->status = doc;
    ev->state = doc->state;
    ev->updated = doc->updated;
    return 0;
  }
  int st = cpns_presence_parse(json_string_value(json_object_get(body, "state")));
  json_t *up = json_object_get(body, "updated");
  if (st < 0 || !json_is_integer(up) || json_integer_value(up) < 0) return CPNS_ERR_PROTO;
  ev->state = (enum cpns_presence)st;
  ev->updated = (int64_t)json_integer_value(up);
  if (strcmp(w->attr, "state") == 0 || strcmp(w->attr, "text") == 0) return 0;
  json_t *v = json_object_get(body, "value");
  if (json_is_null(v)) return 0;
  if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
      fabs(json_number_value(v)) > CPNS_STATUS_VALUE_MAX)
    return CPNS_ERR_PROTO;
  ev->has_value = true;
  ev->value = json_number_value(v);
  return 0;
}

static void on_notification(void *arg, struct cpns_observation *o, int code, const json_t *body,
                            const char *diag, bool observing) {
  (void)o;
  struct watch *w = arg;
  w->gone = !observing;
  if (code < 200 || code >= 300) {
    int rc = client__code_to_err(code);
    watch_end(w, code > 0 ? code : 0, rc, diag && *diag ? diag : cpns_strerror(rc));
    return;
  }
  cpns_status_event_t ev;
  cpns_status_t doc;
  int rc = body ? decode_event(w, body, &ev, &doc) : CPNS_ERR_PROTO;
  if (rc) {
    watch_end(w, code, rc, "malformed status");
    return;
  }
  w->first = false;
  if (w->fn(w->arg, &ev)) w->stopped = true;
  if (!observing && !w->stopped) watch_end(w, 0, CPNS_ERR_UNAVAIL, "the peer answered without Observe");
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The conditions as a query, checked by the same rules as the peer's. */
static int cond_query(const char *attr, const cpns_status_cond_t *cond, char *q, size_t size) {
  q[0] = '\0';
  if (!cond) return 0;
  struct cpns_cond cc = {.has_gt = cond->has_gt, .has_lt = cond->has_lt, .has_st = cond->has_st,
                         .band = cond->band, .gt = cond->gt, .lt = cond->lt, .st = cond->st,
                         .pmin = cond->pmin, .pmax = cond->pmax, .epmin = cond->epmin,
                         .epmax = cond->epmax};
  if (cpns_cond_format(&cc, q, size)) return CPNS_ERR_INVAL;
  enum cpns_cond_target t = !attr ? CPNS_TARGET_DOC
                            : strcmp(attr, "state") == 0 ? CPNS_TARGET_STATE
                            : strcmp(attr, "text") == 0 ? CPNS_TARGET_TEXT
                                                         : CPNS_TARGET_ATTR;
  struct cpns_cond back;
  return cpns_cond_parse(q, t, &back, NULL, 0) ? CPNS_ERR_INVAL : 0;
}

int cpns_status_watch(cpns_client_t *c, const char *pn, const char *id, const char *attr,
                      const cpns_status_cond_t *cond, long duration_ms, cpns_status_watch_fn cb,
                      void *arg) {
  if (!c || !cb || !id_ok(pn) || !id_ok(id) || duration_ms < 0) return CPNS_ERR_INVAL;
  if (attr && strcmp(attr, "state") != 0 && strcmp(attr, "text") != 0 &&
      !cpns_status_attr_name_valid(attr))
    return CPNS_ERR_INVAL;
  char path[3 * CPNS_ID_MAX + 40], query[CPNS_QUERY_MAX + 1];
  if (cond_query(attr, cond, query, sizeof query)) return CPNS_ERR_INVAL;
  if (attr)
    snprintf(path, sizeof path, "pns/%s/entities/%s/status/%s", pn, id, attr);
  else
    snprintf(path, sizeof path, "pns/%s/entities/%s/status", pn, id);
  struct cpns_obsclient *oc = client__obsclient(c);
  if (!oc) return CPNS_ERR_NOMEM;
  struct watch w = {c, attr, cb, arg, false, false, false, true, 0};
  struct cpns_observation *o = NULL;
  client__set_error(c, 0, "");
  int rc = client__connect(c);
  if (!rc)
    rc = cpns_obsclient_start(oc, client__session(c), path, query, NULL, false, on_notification,
                              &w, &o);
  if (rc) {
    client__set_error(c, 0, cpns_strerror(rc));
    return rc;
  }
  uint64_t end = duration_ms ? mono_ms() + (uint64_t)duration_ms : UINT64_MAX;
  while (!w.over && !w.stopped && mono_ms() < end) cpns_node_step(client__node(c), WATCH_STEP_MS);
  if (!w.gone) {
    /* Ours to end: deregister (RFC 7641 §3.6) and let the request go. */
    cpns_obsclient_stop(oc, o, client__session(c));
    cpns_node_step(client__node(c), 0);
  }
  return w.stopped || !w.over ? 0 : w.rc;
}

/* ---- policies ---- */

static json_t *policy_body(const cpns_policy_t *p) {
  if (!memchr(p->id, '\0', sizeof p->id) || (p->id[0] && !id_ok(p->id)) || !id_ok(p->entity) ||
      !id_ok(p->target) || !memchr(p->target_pn, '\0', sizeof p->target_pn) ||
      (p->target_pn[0] && !id_ok(p->target_pn)))
    return NULL;
  json_t *b = json_pack("{s:s, s:s}", "entity", p->entity, "target", p->target);
  if (!b) return NULL;
  if (p->id[0]) json_object_set_new(b, "id", json_string(p->id));
  if (p->target_pn[0]) json_object_set_new(b, "target_pn", json_string(p->target_pn));
  switch (p->kind) {
  case CPNS_POLICY_BELOW:
  case CPNS_POLICY_ABOVE:
    if (!memchr(p->attr, '\0', sizeof p->attr) || !cpns_status_attr_name_valid(p->attr) ||
        !isfinite(p->threshold) || fabs(p->threshold) > CPNS_STATUS_VALUE_MAX)
      break;
    json_object_set_new(b, "attr", json_string(p->attr));
    json_object_set_new(b, p->kind == CPNS_POLICY_BELOW ? "lt" : "gt", json_real(p->threshold));
    return b;
  case CPNS_POLICY_BECOMES:
    if (cpns_presence_parse(cpns_presence_name(p->state)) < 0) break;
    json_object_set_new(b, "state", json_string(cpns_presence_name(p->state)));
    return b;
  }
  json_decref(b);
  return NULL;
}

static bool take_id(const json_t *o, const char *k, char *out, bool may_be_empty) {
  const char *s = json_string_value(json_object_get(o, k));
  if (!s || (!*s && !may_be_empty) || (*s && !id_ok(s))) return false;
  snprintf(out, CPNS_ID_MAX + 1, "%s", s);
  return true;
}

static int decode_policy(const json_t *o, cpns_policy_t *p) {
  memset(p, 0, sizeof *p);
  if (!json_is_object(o) || !take_id(o, "id", p->id, false) || !take_id(o, "entity", p->entity, false) ||
      !take_id(o, "target", p->target, false) || !take_id(o, "target_pn", p->target_pn, false) ||
      !take_id(o, "created_by", p->created_by, true))
    return CPNS_ERR_PROTO;
  json_t *fired = json_object_get(o, "fired");
  if (json_is_integer(fired) && json_integer_value(fired) >= 0) p->fired = (uint64_t)json_integer_value(fired);
  const char *state = json_string_value(json_object_get(o, "state"));
  if (state) {
    int s = cpns_presence_parse(state);
    if (s < 0) return CPNS_ERR_PROTO;
    p->kind = CPNS_POLICY_BECOMES;
    p->state = (enum cpns_presence)s;
    return 0;
  }
  const char *attr = json_string_value(json_object_get(o, "attr"));
  json_t *lt = json_object_get(o, "lt"), *gt = json_object_get(o, "gt"), *t = lt ? lt : gt;
  if (!attr || !cpns_status_attr_name_valid(attr) || !json_is_number(t) ||
      !isfinite(json_number_value(t)))
    return CPNS_ERR_PROTO;
  snprintf(p->attr, sizeof p->attr, "%s", attr);
  p->kind = lt ? CPNS_POLICY_BELOW : CPNS_POLICY_ABOVE;
  p->threshold = json_number_value(t);
  return 0;
}

int cpns_policy_add(cpns_client_t *c, const char *pn, const cpns_policy_t *p,
                    char id_out[CPNS_ID_MAX + 1]) {
  if (!c || !id_ok(pn) || !p) return CPNS_ERR_INVAL;
  json_t *body = policy_body(p);
  if (!body) return CPNS_ERR_INVAL;
  char *btext = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(body);
  if (!btext) return CPNS_ERR_NOMEM;
  char path[CPNS_ID_MAX + 16], *answer = NULL;
  snprintf(path, sizeof path, "pns/%s/policies", pn);
  int rc = cpns_client_request(c, "POST", path, NULL, btext, &answer);
  free(btext);
  if (rc) return rc;
  json_t *o = parse_answer(answer);
  cpns_free(answer);
  cpns_policy_t back;
  rc = o ? decode_policy(o, &back) : CPNS_ERR_PROTO;
  json_decref(o);
  if (!rc && id_out) snprintf(id_out, CPNS_ID_MAX + 1, "%s", back.id);
  return rc;
}

int cpns_policy_list(cpns_client_t *c, const char *pn, cpns_policy_t **out, size_t *n) {
  if (!c || !id_ok(pn) || !out || !n) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 16], *answer = NULL;
  snprintf(path, sizeof path, "pns/%s/policies", pn);
  int rc = cpns_client_request(c, "GET", path, NULL, NULL, &answer);
  if (rc) return rc;
  rc = client_status__decode_policies(answer, out, n);
  cpns_free(answer);
  return rc;
}

int client_status__decode_policies(const char *text, cpns_policy_t **out, size_t *n) {
  json_t *o = parse_answer(text);
  json_t *arr = json_object_get(o, "policies");
  size_t k = json_array_size(arr);
  cpns_policy_t *ps = json_is_array(arr) && k ? calloc(k, sizeof *ps) : NULL;
  int rc = !json_is_array(arr) ? CPNS_ERR_PROTO : (k && !ps) ? CPNS_ERR_NOMEM : 0;
  for (size_t i = 0; !rc && i < k; i++) rc = decode_policy(json_array_get(arr, i), &ps[i]);
  json_decref(o);
  if (rc) {
    free(ps);
    return rc;
  }
  *out = ps;
  *n = k;
  return 0;
}

int cpns_policy_remove(cpns_client_t *c, const char *pn, const char *id) {
  if (!c || !id_ok(pn) || !id_ok(id)) return CPNS_ERR_INVAL;
  char path[2 * CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "pns/%s/policies/%s", pn, id);
  return cpns_client_request(c, "DELETE", path, NULL, NULL, NULL);
}
