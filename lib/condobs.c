/* SPDX-License-Identifier: Apache-2.0 */
/* Observers of status resources with per-observer conditions (condobs.h).
 *
 * Topics ("pn/id") and observers live in two hash tables: topics by key,
 * observers by token (a reset, a deregistration or a re-registration is
 * found by session and token). Each topic keeps a copy of its latest
 * document, so that deferred notifications (c.pmin, epmin) and periodic
 * ones (c.pmax, epmax, the liveness refresh) can be built without asking
 * the daemon. One timer does the time-driven work: every CONDOBS_TICK_MS the
 * observers whose evaluation was put off, every CONDOBS_SCAN_MS all of them.
 * Sessions are referenced by their observers and released from the timer,
 * never inside a libcoap callback. */
#include "condobs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "log.h"
#include "msg.h"

#define CONDOBS_TICK_MS 100
#define CONDOBS_SCAN_MS 1000
#define CONDOBS_TOPIC_BUCKETS 4096 /* power of two */
#define CONDOBS_TOKEN_BUCKETS 4096 /* power of two */
#define CONDOBS_SEQ_MASK 0xFFFFFFu /* RFC 7641 §4.4: 24-bit Observe values */
/* A restored observer's sequence goes on from well past the last one
 * persisted, which may lag behind the last one sent by a flush period. */
#define CONDOBS_SEQ_RESUME_GAP 4096
/* Encoded representations kept for one notification pass: observers of one
 * topic usually want a handful of (part, format) pairs. */
#define CONDOBS_PASS_CACHE 8

/* ---- conditional attributes --------------------------------------------- */

static void say(char *err, size_t errlen, const char *msg) {
  if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static int parse_period(const char *v, long *out) {
  if (!*v || strnlen(v, 8) > 6) return CPNS_ERR_INVAL;
  long n = 0;
  for (const char *p = v; *p; p++) {
    if (*p < '0' || *p > '9') return CPNS_ERR_INVAL;
    n = n * 10 + (*p - '0');
  }
  if (n > CPNS_COND_PERIOD_MAX) return CPNS_ERR_INVAL;
  *out = n;
  return 0;
}

int cpns_cond_parse(const char *query, enum cpns_cond_target target, struct cpns_cond *out,
                    char *err, size_t errlen) {
  struct cpns_cond c = {.pmin = -1, .pmax = -1, .epmin = -1, .epmax = -1};
  /* gt lt st band pmin pmax with or without "c."; epmin epmax exist only
   * unprefixed (LwM2M), band only prefixed (the draft). */
  static const char *const names[] = {"gt", "lt", "st", "band", "pmin", "pmax", "epmin", "epmax"};
  enum { NAMES = sizeof names / sizeof names[0] };
  bool seen[NAMES] = {false};
  if (!query) query = "";
  if (strnlen(query, CPNS_QUERY_MAX + 1) > CPNS_QUERY_MAX) {
    say(err, errlen, "query too long");
    return CPNS_ERR_INVAL;
  }
  char buf[CPNS_QUERY_MAX + 1];
  snprintf(buf, sizeof buf, "%s", query);
  char *save = NULL;
  for (char *kv = strtok_r(buf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(kv, '=');
    const char *v = eq ? eq + 1 : NULL;
    if (eq) *eq = '\0';
    const char *k = strncmp(kv, "c.", 2) == 0 ? kv + 2 : kv;
    bool prefixed = k != kv;
    int which = -1;
    for (int i = 0; i < NAMES; i++)
      if (strcmp(k, names[i]) == 0) which = i;
    if (which < 0 || (prefixed && which >= 6) || (!prefixed && which == 3)) {
      if (err && errlen) snprintf(err, errlen, "unknown query parameter '%.24s'", kv);
      return CPNS_ERR_INVAL;
    }
    /* Each parameter once: c.gt and gt are the same one. */
    if (seen[which]) {
      if (err && errlen) snprintf(err, errlen, "'%s' given twice", k);
      return CPNS_ERR_INVAL;
    }
    seen[which] = true;
    if (which == 3) { /* band: bare, or a boolean */
      if (v && strcmp(v, "1") && strcmp(v, "true") && strcmp(v, "0") && strcmp(v, "false")) {
        say(err, errlen, "c.band takes no value, or true/false");
        return CPNS_ERR_INVAL;
      }
      c.band = !v || !strcmp(v, "1") || !strcmp(v, "true");
      continue;
    }
    if (!v) {
      if (err && errlen) snprintf(err, errlen, "'%s' needs a value", k);
      return CPNS_ERR_INVAL;
    }
    if (which <= 2) {
      double d;
      if (cpns_status_parse_number(v, &d)) {
        if (err && errlen) snprintf(err, errlen, "'%s' must be a finite number", k);
        return CPNS_ERR_INVAL;
      }
      if (which == 0) c.has_gt = true, c.gt = d;
      else if (which == 1) c.has_lt = true, c.lt = d;
      else c.has_st = true, c.st = d;
      continue;
    }
    long p;
    if (parse_period(v, &p)) {
      if (err && errlen) snprintf(err, errlen, "'%s' must be 0..%d seconds", k, CPNS_COND_PERIOD_MAX);
      return CPNS_ERR_INVAL;
    }
    if (which == 4) c.pmin = p;
    else if (which == 5) c.pmax = p;
    else if (which == 6) c.epmin = p;
    else c.epmax = p;
  }
  bool value_conds = c.has_gt || c.has_lt || c.has_st || c.band;
  if (value_conds && target != CPNS_TARGET_ATTR) {
    say(err, errlen, "gt, lt, st and band apply to a numeric attribute only (.../status/{attr})");
    return CPNS_ERR_INVAL;
  }
  if (c.has_st && !(c.st > 0)) {
    say(err, errlen, "st must be greater than 0");
    return CPNS_ERR_INVAL;
  }
  if (c.band && !c.has_gt && !c.has_lt) {
    say(err, errlen, "band needs gt or lt");
    return CPNS_ERR_INVAL;
  }
  if (c.pmax >= 0 && (c.pmax == 0 || (c.pmin >= 0 && c.pmax <= c.pmin))) {
    say(err, errlen, "pmax must be greater than pmin (and than 0)");
    return CPNS_ERR_INVAL;
  }
  if (c.epmax >= 0 && (c.epmax == 0 || (c.epmin >= 0 && c.epmax <= c.epmin))) {
    say(err, errlen, "epmax must be greater than epmin (and than 0)");
    return CPNS_ERR_INVAL;
  }
  *out = c;
  return 0;
}

int cpns_cond_format(const struct cpns_cond *c, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
#define ADD(...)                                                                             \
  do {                                                                                       \
    int n_ = snprintf(buf + used, size - used, "%s", used ? "&" : "");                       \
    if (n_ < 0 || (size_t)n_ >= size - used) return CPNS_ERR_TOOBIG;                          \
    used += (size_t)n_;                                                                      \
    n_ = snprintf(buf + used, size - used, __VA_ARGS__);                                     \
    if (n_ < 0 || (size_t)n_ >= size - used) return CPNS_ERR_TOOBIG;                          \
    used += (size_t)n_;                                                                      \
  } while (0)
  if (c->has_gt) ADD("c.gt=%.17g", c->gt);
  if (c->has_lt) ADD("c.lt=%.17g", c->lt);
  if (c->has_st) ADD("c.st=%.17g", c->st);
  if (c->band) ADD("c.band");
  if (c->pmin >= 0) ADD("c.pmin=%ld", c->pmin);
  if (c->pmax >= 0) ADD("c.pmax=%ld", c->pmax);
  if (c->epmin >= 0) ADD("epmin=%ld", c->epmin);
  if (c->epmax >= 0) ADD("epmax=%ld", c->epmax);
#undef ADD
  return 0;
}

/* FNV-1a, 64 bits: a digest to tell "changed" from "the same". */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211ull;
  }
  return h;
}
#define FNV_START 14695981039346656037ull

void cpns_cond_sample(const struct cpns_status_doc *d, enum cpns_cond_target t, const char *attr,
                      struct cpns_cond_sample *out) {
  memset(out, 0, sizeof *out);
  out->state = (int)d->state;
  uint64_t h = FNV_START;
  int st = (int)d->state;
  switch (t) {
  case CPNS_TARGET_DOC:
    h = fnv(h, &st, sizeof st);
    h = fnv(h, d->text, strlen(d->text) + 1);
    for (unsigned i = 0; i < d->nattrs; i++) {
      h = fnv(h, d->attrs[i].name, strlen(d->attrs[i].name) + 1);
      h = fnv(h, &d->attrs[i].value, sizeof d->attrs[i].value);
    }
    break;
  case CPNS_TARGET_STATE: h = fnv(h, &st, sizeof st); break;
  case CPNS_TARGET_TEXT: h = fnv(h, d->text, strlen(d->text) + 1); break;
  case CPNS_TARGET_ATTR: {
    const struct cpns_status_attr *a = cpns_status_get_attr(d, attr);
    out->has_value = a != NULL;
    out->value = a ? a->value : 0;
    h = fnv(h, &out->has_value, sizeof out->has_value);
    if (a) h = fnv(h, &a->value, sizeof a->value);
    break;
  }
  }
  out->digest = h;
}

static bool hysteresis(const struct cpns_cond *c) {
  return c->band && c->has_gt && c->has_lt && c->lt < c->gt;
}

static int zone_of(const struct cpns_cond *c, int previous, double v) {
  if (v > c->gt) return 1;
  if (v < c->lt) return -1;
  return previous;
}

void cpns_cond_ref_set(const struct cpns_cond *c, struct cpns_cond_ref *ref,
                       const struct cpns_cond_sample *s) {
  ref->last = *s;
  if (hysteresis(c) && s->has_value) ref->zone = zone_of(c, ref->zone, s->value);
}

static bool in_band(const struct cpns_cond *c, double v) {
  return (!c->has_gt || v >= c->gt) && (!c->has_lt || v <= c->lt);
}

static bool crossed(double threshold, double a, double b, bool strict_above) {
  /* Sides: above (> threshold) for c.gt, below (< threshold) for c.lt. */
  if (strict_above) return (a > threshold) != (b > threshold);
  return (a < threshold) != (b < threshold);
}

bool cpns_cond_due(const struct cpns_cond *c, enum cpns_cond_target t,
                   const struct cpns_cond_ref *ref, const struct cpns_cond_sample *s) {
  const struct cpns_cond_sample *r = &ref->last;
  if ((s->state == CPNS_PRESENCE_OFFLINE) != (r->state == CPNS_PRESENCE_OFFLINE)) return true;
  if (t != CPNS_TARGET_ATTR) return s->digest != r->digest;
  if (s->has_value != r->has_value) return true;
  if (!s->has_value) return false;
  double v = s->value, was = r->value;
  if (!c->has_gt && !c->has_lt && !c->has_st && !c->band) return v != was;
  if (c->has_st && fabs(v - was) >= c->st) return true;
  if (hysteresis(c)) return zone_of(c, ref->zone, v) != ref->zone && zone_of(c, ref->zone, v) != 0;
  if (c->band) {
    bool now_in = in_band(c, v), was_in = in_band(c, was);
    return now_in != was_in || (now_in && v != was);
  }
  if (c->has_gt && crossed(c->gt, was, v, true)) return true;
  if (c->has_lt && crossed(c->lt, was, v, false)) return true;
  return false;
}

/* ---- registry ------------------------------------------------------------ */

struct obs;

struct topic {
  char key[CPNS_TOPIC_MAX + 1];
  struct cpns_status_doc doc;
  bool has_doc;
  struct obs *first; /* its observers */
  unsigned nobs;
  struct topic *hnext;
};

struct obs {
  struct obs *tnext, *tprev; /* in its topic */
  struct obs *knext;         /* in the token hash */
  struct obs *dnext;         /* in the due list, when due_ms != 0 */
  struct topic *topic;
  coap_session_t *session; /* referenced; NULL while dormant */
  char session_identity[CPNS_ID_MAX + 1];
  struct cpns_condobs_who who;
  uint8_t token[CPNS_OBS_TOKEN_MAX];
  size_t toklen;
  enum cpns_cond_target target;
  char attr[CPNS_STATUS_ATTR_NAME_MAX + 1];
  struct cpns_cond cond;
  int accept;
  struct cpns_cond_ref ref;
  uint32_t seq;
  uint64_t last_notify_ms, last_eval_ms, due_ms;
  int64_t dormant_since; /* unix seconds */
  struct cpns_deferred *awaiting; /* the first answer, not sent yet */
  bool kept, dirty, due_listed;
};

struct cpns_condobs {
  struct cpns_node *node;
  char name[32];
  struct cpns_condobs_limits lim;
  struct cpns_condobs_hooks hooks;
  struct topic *topics[CONDOBS_TOPIC_BUCKETS];
  struct obs *by_token[CONDOBS_TOKEN_BUCKETS];
  struct obs *due; /* observers with an evaluation put off */
  unsigned long nobs, ndormant, ntopics;
  struct cpns_condobs_stats stats;
  coap_session_t **release; /* references to drop at the next tick */
  size_t nrelease, release_cap;
  uint64_t next_scan_ms;
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned topic_hash(const char *key) {
  return (unsigned)fnv(FNV_START, key, strlen(key)) & (CONDOBS_TOPIC_BUCKETS - 1);
}

static unsigned token_hash(const uint8_t *t, size_t n) {
  return (unsigned)fnv(FNV_START, t, n) & (CONDOBS_TOKEN_BUCKETS - 1);
}

static struct topic *topic_find(const struct cpns_condobs *co, const char *key) {
  for (struct topic *t = co->topics[topic_hash(key)]; t; t = t->hnext)
    if (strcmp(t->key, key) == 0) return t;
  return NULL;
}

static struct topic *topic_get(struct cpns_condobs *co, const char *key) {
  struct topic *t = topic_find(co, key);
  if (t) return t;
  if (strlen(key) > CPNS_TOPIC_MAX) return NULL;
  t = calloc(1, sizeof *t);
  if (!t) return NULL;
  snprintf(t->key, sizeof t->key, "%s", key);
  unsigned h = topic_hash(key);
  t->hnext = co->topics[h];
  co->topics[h] = t;
  co->ntopics++;
  return t;
}

static void topic_free_if_empty(struct cpns_condobs *co, struct topic *t) {
  if (t->first) return;
  char key[CPNS_TOPIC_MAX + 1];
  snprintf(key, sizeof key, "%s", t->key);
  for (struct topic **pp = &co->topics[topic_hash(t->key)]; *pp; pp = &(*pp)->hnext)
    if (*pp == t) {
      *pp = t->hnext;
      break;
    }
  free(t);
  co->ntopics--;
  if (co->hooks.idle) co->hooks.idle(co->hooks.arg, key);
}

static void release_later(struct cpns_condobs *co, coap_session_t *s) {
  if (!s) return;
  if (co->nrelease == co->release_cap) {
    size_t cap = co->release_cap ? co->release_cap * 2 : 64;
    coap_session_t **n = realloc(co->release, cap * sizeof *n);
    if (!n) {
      /* Out of memory: keeping a reference leaks a session; releasing it
       * inside a libcoap callback may free it under libcoap's feet. The
       * leak is the lesser harm. */
      log_err(co->name, "out of memory: a session reference is kept");
      return;
    }
    co->release = n;
    co->release_cap = cap;
  }
  co->release[co->nrelease++] = s;
}

static struct obs *obs_find(const struct cpns_condobs *co, coap_session_t *s, const uint8_t *tok,
                            size_t toklen) {
  for (struct obs *o = co->by_token[token_hash(tok, toklen)]; o; o = o->knext)
    if (o->session == s && o->toklen == toklen && memcmp(o->token, tok, toklen) == 0) return o;
  return NULL;
}

static void due_unlist(struct cpns_condobs *co, struct obs *o) {
  if (!o->due_listed) return;
  for (struct obs **pp = &co->due; *pp; pp = &(*pp)->dnext)
    if (*pp == o) {
      *pp = o->dnext;
      break;
    }
  o->due_listed = false;
  o->due_ms = 0;
}

static void due_at(struct cpns_condobs *co, struct obs *o, uint64_t when) {
  if (o->due_listed) {
    if (when < o->due_ms) o->due_ms = when;
    return;
  }
  o->due_ms = when;
  o->due_listed = true;
  o->dnext = co->due;
  co->due = o;
}

static void fill_record(const struct obs *o, struct cpns_condobs_record *r) {
  memset(r, 0, sizeof *r);
  snprintf(r->session_identity, sizeof r->session_identity, "%s", o->session_identity);
  r->who = o->who;
  memcpy(r->token, o->token, o->toklen);
  r->toklen = o->toklen;
  snprintf(r->topic, sizeof r->topic, "%s", o->topic->key);
  snprintf(r->attr, sizeof r->attr, "%s", o->attr);
  cpns_cond_format(&o->cond, r->query, sizeof r->query);
  r->accept = o->accept;
  r->ref = o->ref;
  r->seq = o->seq;
}

/* Removes o for good: unlinked, its session released later, forgotten by
 * the persistence hook when kept. A first answer still owed is given. */
static void obs_drop(struct cpns_condobs *co, struct obs *o, bool forget) {
  due_unlist(co, o);
  struct obs **pp = &co->by_token[token_hash(o->token, o->toklen)];
  for (; *pp; pp = &(*pp)->knext)
    if (*pp == o) {
      *pp = o->knext;
      break;
    }
  if (o->tprev) o->tprev->tnext = o->tnext;
  else o->topic->first = o->tnext;
  if (o->tnext) o->tnext->tprev = o->tprev;
  o->topic->nobs--;
  if (o->awaiting) cpns_deferred_reply(o->awaiting, 503, NULL, "observation ended");
  if (o->session) release_later(co, o->session);
  else co->ndormant--;
  if (o->kept && forget && co->hooks.forgotten)
    co->hooks.forgotten(co->hooks.arg, o->session_identity, o->token, o->toklen);
  co->nobs--;
  co->stats.dropped++;
  struct topic *t = o->topic;
  free(o);
  topic_free_if_empty(co, t);
}

/* Makes o dormant: it waits, by identity, for its next session. */
static void obs_sleep(struct cpns_condobs *co, struct obs *o) {
  if (!o->session) return;
  release_later(co, o->session);
  o->session = NULL;
  o->dormant_since = (int64_t)time(NULL);
  due_unlist(co, o);
  co->ndormant++;
  o->dirty = true;
}

/* ---- representations and sending ---------------------------------------- */

static json_t *number_json(double v) {
  if (v == floor(v) && fabs(v) <= 9007199254740992.0) return json_integer((json_int_t)v);
  return json_real(v);
}

static json_t *render(const struct cpns_status_doc *d, enum cpns_cond_target t, const char *attr) {
  switch (t) {
  case CPNS_TARGET_DOC: return cpns_status_to_json(d);
  case CPNS_TARGET_STATE:
    return json_pack("{s:s, s:I}", "state", cpns_presence_name(d->state), "updated",
                     (json_int_t)d->updated);
  case CPNS_TARGET_TEXT:
    return json_pack("{s:s, s:s, s:I}", "text", d->text, "state", cpns_presence_name(d->state),
                     "updated", (json_int_t)d->updated);
  case CPNS_TARGET_ATTR: {
    const struct cpns_status_attr *a = cpns_status_get_attr(d, attr);
    return json_pack("{s:s, s:o, s:s, s:I}", "attr", attr, "value",
                     a ? number_json(a->value) : json_null(), "state",
                     cpns_presence_name(d->state), "updated", (json_int_t)d->updated);
  }
  }
  return NULL;
}

struct encoded {
  enum cpns_cond_target t;
  char attr[CPNS_STATUS_ATTR_NAME_MAX + 1];
  int accept;
  uint8_t *buf;
  size_t len;
};

struct pass {
  struct encoded e[CONDOBS_PASS_CACHE];
  unsigned n;
};

static void pass_free(struct pass *p) {
  for (unsigned i = 0; i < p->n; i++) free(p->e[i].buf);
  p->n = 0;
}

/* The encoded representation for o, from the pass cache when it has it.
 * Borrowed from the pass (or from *own, freed by the caller). */
static int encode_for(struct pass *p, const struct obs *o, const struct cpns_status_doc *d,
                      const uint8_t **buf, size_t *len, uint8_t **own) {
  *own = NULL;
  for (unsigned i = 0; p && i < p->n; i++)
    if (p->e[i].t == o->target && p->e[i].accept == o->accept && strcmp(p->e[i].attr, o->attr) == 0) {
      *buf = p->e[i].buf;
      *len = p->e[i].len;
      return 0;
    }
  json_t *j = render(d, o->target, o->attr);
  uint8_t *b = NULL;
  size_t n = 0;
  int rc = j ? cpns_codec_encode(j, o->accept, &b, &n) : CPNS_ERR_NOMEM;
  json_decref(j);
  if (rc) return rc;
  if (p && p->n < CONDOBS_PASS_CACHE) {
    struct encoded *e = &p->e[p->n++];
    e->t = o->target;
    snprintf(e->attr, sizeof e->attr, "%s", o->attr);
    e->accept = o->accept;
    e->buf = b;
    e->len = n;
  } else {
    *own = b;
  }
  *buf = b;
  *len = n;
  return 0;
}

/* Sends o a confirmable message on its session: a 2.05 notification with
 * the next Observe value, or (code >= 400) the final refusal without one
 * (RFC 7641 §3.2: a response without Observe ends the observation). */
static int send_msg(struct cpns_condobs *co, struct obs *o, int code, const uint8_t *payload,
                    size_t len, int cf) {
  coap_session_t *s = o->session;
  if (!s || coap_session_get_state(s) != COAP_SESSION_STATE_ESTABLISHED) return CPNS_ERR_UNAVAIL;
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, (coap_pdu_code_t)COAP_RESPONSE_CODE(code),
                                  coap_new_message_id(s), coap_session_max_pdu_size(s));
  if (!pdu) return CPNS_ERR_NOMEM;
  uint8_t b[4];
  bool ok = coap_add_token(pdu, o->toklen, o->token) != 0;
  if (ok && code < 300) {
    o->seq = (o->seq + 1) & CONDOBS_SEQ_MASK;
    ok = coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(b, sizeof b, o->seq), b) != 0;
  }
  if (ok && payload && cf >= 0)
    ok = coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(b, sizeof b, (unsigned)cf), b) != 0;
  if (ok && payload && len) ok = coap_add_data(pdu, len, payload) != 0;
  if (!ok) {
    coap_delete_pdu(pdu);
    CPNS_LOG_RL(CPNS_LOG_WARNING, co->name, "%s: a notification does not fit one message", o->topic->key);
    return CPNS_ERR_TOOBIG;
  }
  /* libcoap owns the PDU from here, also on failure. */
  if (coap_send(s, pdu) == COAP_INVALID_MID) return CPNS_ERR_IO;
  return 0;
}

static void send_refusal(struct cpns_condobs *co, struct obs *o, int code, const char *diag) {
  send_msg(co, o, code, (const uint8_t *)diag, strlen(diag), -1);
}

/* Tells o the topic's current document (its conditions have said so, or a
 * period ran out), after checking that it may still see it. Returns false
 * when o was dropped. */
static bool notify(struct cpns_condobs *co, struct obs *o, struct pass *p, uint64_t now) {
  const struct cpns_status_doc *d = &o->topic->doc;
  if (co->hooks.allowed && !co->hooks.allowed(co->hooks.arg, &o->who, o->topic->key)) {
    char diag[CPNS_ID_MAX + CPNS_TOPIC_MAX + 32];
    snprintf(diag, sizeof diag, "%s may no longer observe %s", o->who.identity, o->topic->key);
    log_notice(co->name, "%s", diag);
    send_refusal(co, o, 403, diag);
    co->stats.refused_right++;
    obs_drop(co, o, true);
    return false;
  }
  const uint8_t *buf;
  size_t len;
  uint8_t *own;
  if (encode_for(p, o, d, &buf, &len, &own)) return true;
  int rc = send_msg(co, o, 205, buf, len, o->accept);
  free(own);
  if (rc == CPNS_ERR_TOOBIG) return true;
  o->last_notify_ms = o->last_eval_ms = now;
  struct cpns_cond_sample s;
  cpns_cond_sample(d, o->target, o->attr, &s);
  cpns_cond_ref_set(&o->cond, &o->ref, &s);
  if (o->kept) o->dirty = true;
  co->stats.notifications++;
  return true;
}

/* Evaluates o against the topic's document now: notifies, puts the
 * evaluation off (epmin) or the notification off (pmin), or does nothing. */
static void evaluate(struct cpns_condobs *co, struct obs *o, struct pass *p, uint64_t now,
                     bool forced) {
  if (!o->session || o->awaiting || !o->topic->has_doc) return;
  if (!forced && o->cond.epmin > 0 && now < o->last_eval_ms + (uint64_t)o->cond.epmin * 1000) {
    due_at(co, o, o->last_eval_ms + (uint64_t)o->cond.epmin * 1000);
    return;
  }
  o->last_eval_ms = now;
  struct cpns_cond_sample s;
  cpns_cond_sample(&o->topic->doc, o->target, o->attr, &s);
  if (!forced && !cpns_cond_due(&o->cond, o->target, &o->ref, &s)) return;
  if (o->cond.pmin > 0 && now < o->last_notify_ms + (uint64_t)o->cond.pmin * 1000) {
    /* draft-ietf-core-conditional-attributes: never sooner than c.pmin;
     * the condition is looked at again when it has passed. */
    due_at(co, o, o->last_notify_ms + (uint64_t)o->cond.pmin * 1000);
    return;
  }
  notify(co, o, p, now);
}

/* ---- the request side ---------------------------------------------------- */

int cpns_condobs_action(const struct cpns_req *req) {
  coap_opt_iterator_t it;
  coap_opt_t *opt = coap_check_option(req->pdu, COAP_OPTION_OBSERVE, &it);
  if (!opt) return -1;
  return (int)coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
}

static enum cpns_cond_target target_of(const char *attr) {
  if (!attr || !*attr) return CPNS_TARGET_DOC;
  if (strcmp(attr, "state") == 0) return CPNS_TARGET_STATE;
  if (strcmp(attr, "text") == 0) return CPNS_TARGET_TEXT;
  return CPNS_TARGET_ATTR;
}

static unsigned count_path(const struct topic *t, const char *attr) {
  unsigned n = 0;
  for (const struct obs *o = t->first; o; o = o->tnext) n += strcmp(o->attr, attr) == 0;
  return n;
}

static void who_of(const struct cpns_req *req, struct cpns_condobs_who *w) {
  memset(w, 0, sizeof *w);
  if (!req->peer) return;
  snprintf(w->identity, sizeof w->identity, "%s", req->peer->identity);
  snprintf(w->pn, sizeof w->pn, "%s", req->peer->pn);
  w->role = req->peer->role;
  if (req->via) snprintf(w->via, sizeof w->via, "%s", req->via->identity);
}

static void reply_plain(struct cpns_req *req, const struct cpns_status_doc *doc,
                        enum cpns_cond_target t, const char *attr) {
  cpns_reply(req, 205, render(doc, t, attr));
}

static struct obs *obs_new(struct cpns_condobs *co, struct topic *tp, const char *attr,
                           const uint8_t *tok, size_t toklen) {
  struct obs *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->topic = tp;
  snprintf(o->attr, sizeof o->attr, "%s", attr);
  o->target = target_of(attr);
  memcpy(o->token, tok, toklen);
  o->toklen = toklen;
  o->tnext = tp->first;
  if (tp->first) tp->first->tprev = o;
  tp->first = o;
  tp->nobs++;
  unsigned h = token_hash(tok, toklen);
  o->knext = co->by_token[h];
  co->by_token[h] = o;
  co->nobs++;
  return o;
}

void cpns_condobs_serve(struct cpns_condobs *co, struct cpns_req *req, const char *topic,
                        const char *attr, const struct cpns_status_doc *doc) {
  if (!attr) attr = "";
  enum cpns_cond_target t = target_of(attr);
  if (t == CPNS_TARGET_ATTR && !cpns_status_attr_name_valid(attr)) {
    cpns_reply_error(req, 400, "'%.32s' is not an attribute name", attr);
    return;
  }
  struct cpns_cond cond;
  char err[CPNS_DIAG_MAX];
  if (cpns_cond_parse(req->query, t, &cond, err, sizeof err)) {
    CPNS_LOG_RL(CPNS_LOG_INFO, co->name, "invalid conditional attributes: %s", err);
    cpns_reply_error(req, 400, "%s", err);
    return;
  }
  if (doc && t == CPNS_TARGET_ATTR && !cpns_status_get_attr(doc, attr)) {
    cpns_reply_error(req, 404, "no attribute '%s'", attr);
    return;
  }
  int action = cpns_condobs_action(req);
  coap_bin_const_t tok = coap_pdu_get_token(req->pdu);
  struct obs *old = tok.length <= CPNS_OBS_TOKEN_MAX ? obs_find(co, req->session, tok.s, tok.length) : NULL;
  if (action == COAP_OBSERVE_CANCEL && old) obs_drop(co, old, true);
  if (action != COAP_OBSERVE_ESTABLISH || !req->peer) {
    if (doc) reply_plain(req, doc, t, attr);
    else cpns_reply_error(req, 503, "not known yet");
    return;
  }
  if (tok.length > CPNS_OBS_TOKEN_MAX) {
    cpns_reply_error(req, 400, "token too long");
    return;
  }
  /* A registration again with the same token replaces the old one
   * (RFC 7641 §4.1), conditions included. */
  if (old) obs_drop(co, old, true);
  struct topic *tp = topic_get(co, topic);
  if (!tp) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  if (co->nobs >= (unsigned long)co->lim.max_total ||
      count_path(tp, attr) >= (unsigned long)co->lim.max_per_path) {
    co->stats.refused_cap++;
    CPNS_LOG_RL(CPNS_LOG_NOTICE, co->name, "%s%s%s: observer limit reached (%ld per resource, %ld in all)",
                topic, *attr ? "/" : "", attr, co->lim.max_per_path, co->lim.max_total);
    cpns_reply_error(req, 503, "too many observers of this resource");
    topic_free_if_empty(co, tp);
    return;
  }
  if (doc && !tp->has_doc) {
    tp->doc = *doc;
    tp->has_doc = true;
  }
  struct obs *o = obs_new(co, tp, attr, tok.s, tok.length);
  if (!o) {
    cpns_reply_error(req, 500, "out of memory");
    topic_free_if_empty(co, tp);
    return;
  }
  o->cond = cond;
  o->accept = req->accept;
  who_of(req, &o->who);
  const struct cpns_key_entry *sp = req->via ? req->via : req->peer;
  snprintf(o->session_identity, sizeof o->session_identity, "%s", sp->identity);
  o->session = coap_session_reference(req->session);
  o->seq = (uint32_t)(now_ms() / 1000) & 0xFFFFu; /* any start; increasing from here */
  o->last_notify_ms = o->last_eval_ms = now_ms();
  o->kept = co->hooks.persist && co->hooks.persist(co->hooks.arg, sp);
  co->stats.registrations++;
  if (!doc) {
    /* The document comes from upstream: the first answer waits for it. */
    o->awaiting = cpns_req_defer(req);
    if (!o->awaiting) obs_drop(co, o, false); /* answered 5.03 by the node */
    return;
  }
  struct cpns_cond_sample s;
  cpns_cond_sample(doc, t, attr, &s);
  o->ref.zone = 0;
  cpns_cond_ref_set(&cond, &o->ref, &s);
  o->seq = (o->seq + 1) & CONDOBS_SEQ_MASK;
  cpns_reply_observe(req, o->seq, render(doc, t, attr));
  if (o->kept) {
    struct cpns_condobs_record r;
    fill_record(o, &r);
    if (co->hooks.saved) co->hooks.saved(co->hooks.arg, &r);
  }
}

/* ---- document changes ---------------------------------------------------- */

/* Gives the first answer to observers that waited for the document. */
static void answer_waiting(struct cpns_condobs *co, struct topic *tp, struct obs *o) {
  struct cpns_deferred *d = o->awaiting;
  o->awaiting = NULL;
  if (o->target == CPNS_TARGET_ATTR && !cpns_status_get_attr(&tp->doc, o->attr)) {
    cpns_deferred_reply(d, 404, NULL, "no such attribute");
    obs_drop(co, o, false);
    return;
  }
  struct cpns_cond_sample s;
  cpns_cond_sample(&tp->doc, o->target, o->attr, &s);
  cpns_cond_ref_set(&o->cond, &o->ref, &s);
  o->seq = (o->seq + 1) & CONDOBS_SEQ_MASK;
  o->last_notify_ms = o->last_eval_ms = now_ms();
  cpns_deferred_observe(d, o->seq);
  cpns_deferred_reply(d, 205, render(&tp->doc, o->target, o->attr), NULL);
  if (o->kept) o->dirty = true;
}

void cpns_condobs_update(struct cpns_condobs *co, const char *topic, const struct cpns_status_doc *doc) {
  struct topic *tp = topic_find(co, topic);
  if (!tp) return;
  tp->doc = *doc;
  tp->has_doc = true;
  struct pass p = {.n = 0};
  uint64_t now = now_ms();
  struct obs *o = tp->first;
  while (o) {
    struct obs *next = o->tnext;
    if (o->awaiting) answer_waiting(co, tp, o);
    else evaluate(co, o, &p, now, false);
    o = next;
  }
  pass_free(&p);
  /* tp may be gone when every observer went: not used after the loop. */
}

void cpns_condobs_fail(struct cpns_condobs *co, const char *topic, int code, const char *diag) {
  struct topic *tp = topic_find(co, topic);
  if (!tp) return;
  struct obs *o = tp->first;
  while (o) {
    struct obs *next = o->tnext;
    if (o->awaiting) {
      cpns_deferred_reply(o->awaiting, code, NULL, diag);
      o->awaiting = NULL;
    } else {
      send_refusal(co, o, code, diag ? diag : "");
    }
    obs_drop(co, o, true);
    o = next;
  }
}

bool cpns_condobs_watched(const struct cpns_condobs *co, const char *topic) {
  return topic_find(co, topic) != NULL;
}

int cpns_condobs_restore(struct cpns_condobs *co, const struct cpns_condobs_record *r,
                         const struct cpns_status_doc *doc) {
  if (co->nobs >= (unsigned long)co->lim.max_total) return CPNS_ERR_LIMIT;
  if (r->toklen > CPNS_OBS_TOKEN_MAX || !r->session_identity[0]) return CPNS_ERR_INVAL;
  enum cpns_cond_target t = target_of(r->attr);
  struct cpns_cond cond;
  if (cpns_cond_parse(r->query, t, &cond, NULL, 0)) return CPNS_ERR_INVAL;
  struct topic *tp = topic_get(co, r->topic);
  if (!tp) return CPNS_ERR_NOMEM;
  if (doc && !tp->has_doc) {
    tp->doc = *doc;
    tp->has_doc = true;
  }
  struct obs *o = obs_new(co, tp, r->attr, r->token, r->toklen);
  if (!o) {
    topic_free_if_empty(co, tp);
    return CPNS_ERR_NOMEM;
  }
  o->cond = cond;
  o->accept = r->accept == CPNS_CF_JSON ? CPNS_CF_JSON : CPNS_CF_CBOR;
  o->who = r->who;
  snprintf(o->session_identity, sizeof o->session_identity, "%s", r->session_identity);
  o->ref = r->ref;
  o->seq = (r->seq + CONDOBS_SEQ_RESUME_GAP) & CONDOBS_SEQ_MASK;
  o->kept = true;
  o->dormant_since = (int64_t)time(NULL);
  co->ndormant++;
  return 0;
}

/* ---- sessions and failures ------------------------------------------------ */

static void on_session(void *arg, coap_session_t *s, bool up) {
  struct cpns_condobs *co = arg;
  if (!up) {
    /* Every observer on s: a kept one sleeps until its identity is back,
     * the others go. */
    for (unsigned b = 0; b < CONDOBS_TOKEN_BUCKETS; b++) {
      struct obs *o = co->by_token[b];
      while (o) {
        struct obs *next = o->knext;
        if (o->session == s) {
          if (o->kept) obs_sleep(co, o);
          else obs_drop(co, o, false);
        }
        o = next;
      }
    }
    return;
  }
  if (!co->ndormant || coap_session_get_type(s) != COAP_SESSION_TYPE_SERVER) return;
  const coap_bin_const_t *id = coap_session_get_psk_identity(s);
  if (!id || id->length == 0 || id->length > CPNS_ID_MAX) return;
  char ident[CPNS_ID_MAX + 1];
  memcpy(ident, id->s, id->length);
  ident[id->length] = '\0';
  uint64_t now = now_ms();
  for (unsigned b = 0; b < CONDOBS_TOKEN_BUCKETS; b++)
    for (struct obs *o = co->by_token[b]; o; o = o->knext) {
      if (o->session || strcmp(o->session_identity, ident) != 0) continue;
      o->session = coap_session_reference(s);
      co->ndormant--;
      co->stats.resumed++;
      /* Evaluated at the next tick, outside libcoap's event callback: told
       * what changed while it slept, by its own conditions. */
      due_at(co, o, now);
    }
}

static bool on_nack(void *arg, coap_session_t *s, const coap_pdu_t *sent, int reason) {
  struct cpns_condobs *co = arg;
  coap_bin_const_t tok = coap_pdu_get_token(sent);
  if (tok.length > CPNS_OBS_TOKEN_MAX || COAP_RESPONSE_CLASS(coap_pdu_get_code(sent)) < 2) return false;
  struct obs *o = obs_find(co, s, tok.s, tok.length);
  if (!o) return false;
  if (reason == COAP_NACK_RST) {
    /* RFC 7641 §3.6: the client is not interested any more. */
    obs_drop(co, o, true);
  } else if (o->kept) {
    obs_sleep(co, o);
  } else {
    obs_drop(co, o, false);
  }
  return true;
}

/* ---- time ------------------------------------------------------------------ */

static void flush_kept(struct cpns_condobs *co) {
  if (!co->hooks.saved) return;
  for (unsigned b = 0; b < CONDOBS_TOKEN_BUCKETS; b++)
    for (struct obs *o = co->by_token[b]; o; o = o->knext) {
      if (!o->kept || !o->dirty) continue;
      o->dirty = false;
      struct cpns_condobs_record r;
      fill_record(o, &r);
      co->hooks.saved(co->hooks.arg, &r);
    }
}

static void tick(void *arg) {
  struct cpns_condobs *co = arg;
  while (co->nrelease) coap_session_release(co->release[--co->nrelease]);
  uint64_t now = now_ms();
  /* Evaluations put off by pmin or epmin, or resumed observers. */
  struct obs *ready = NULL;
  for (struct obs **pp = &co->due; *pp;) {
    struct obs *o = *pp;
    if (o->due_ms <= now) {
      *pp = o->dnext;
      o->due_listed = false;
      o->due_ms = 0;
      o->dnext = ready;
      ready = o;
    } else {
      pp = &o->dnext;
    }
  }
  while (ready) {
    struct obs *o = ready;
    ready = o->dnext;
    /* A resumed observer is told of any change (per its conditions); a put
     * off one is evaluated again with the latest value. */
    evaluate(co, o, NULL, now, false);
  }
  if (now < co->next_scan_ms) return;
  co->next_scan_ms = now + CONDOBS_SCAN_MS;
  int64_t wall = (int64_t)time(NULL);
  for (unsigned b = 0; b < CONDOBS_TOKEN_BUCKETS; b++) {
    struct obs *o = co->by_token[b];
    while (o) {
      struct obs *next = o->knext;
      if (!o->session) {
        if (wall - o->dormant_since > co->lim.resume_ttl_s) {
          log_info(co->name, "%s: a dormant observer of %s expired", o->session_identity, o->topic->key);
          obs_drop(co, o, true);
        }
      } else if (!o->awaiting && o->topic->has_doc) {
        long pmax = o->cond.pmax > 0 ? o->cond.pmax : co->lim.refresh_s;
        if (pmax > 0 && now >= o->last_notify_ms + (uint64_t)pmax * 1000) {
          notify(co, o, NULL, now);
        } else if (o->cond.epmax > 0 && now >= o->last_eval_ms + (uint64_t)o->cond.epmax * 1000) {
          evaluate(co, o, NULL, now, false);
        }
      }
      o = next;
    }
  }
  flush_kept(co);
}

/* ---- life cycle -------------------------------------------------------------- */

int cpns_condobs_new(struct cpns_node *node, const char *name, const struct cpns_condobs_limits *lim,
                     const struct cpns_condobs_hooks *hooks, struct cpns_condobs **out) {
  struct cpns_condobs *co = calloc(1, sizeof *co);
  if (!co) return CPNS_ERR_NOMEM;
  co->node = node;
  snprintf(co->name, sizeof co->name, "%s", name ? name : "condobs");
  co->lim = *lim;
  if (hooks) co->hooks = *hooks;
  int rc = cpns_node_every(node, CONDOBS_TICK_MS, tick, co);
  if (!rc) cpns_node_on_session(node, on_session, co);
  if (!rc) rc = cpns_node_on_nack(node, on_nack, co);
  if (rc) {
    free(co);
    return rc;
  }
  *out = co;
  return 0;
}

void cpns_condobs_free(struct cpns_condobs *co) {
  if (!co) return;
  while (co->nrelease) coap_session_release(co->release[--co->nrelease]);
  for (unsigned b = 0; b < CONDOBS_TOKEN_BUCKETS; b++) {
    struct obs *o = co->by_token[b];
    while (o) {
      struct obs *next = o->knext;
      if (o->session) coap_session_release(o->session);
      free(o);
      o = next;
    }
  }
  for (unsigned b = 0; b < CONDOBS_TOPIC_BUCKETS; b++) {
    struct topic *t = co->topics[b];
    while (t) {
      struct topic *next = t->hnext;
      free(t);
      t = next;
    }
  }
  free(co->release);
  free(co);
}

void cpns_condobs_get_stats(const struct cpns_condobs *co, struct cpns_condobs_stats *out) {
  *out = co->stats;
  out->observers = co->nobs;
  out->dormant = co->ndormant;
  out->topics = co->ntopics;
}
