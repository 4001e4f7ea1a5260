/* SPDX-License-Identifier: Apache-2.0 */
/* Relayed status observations (status_mirror.h). An entry per remote
 * entity: its upstream observation, its latest document, and what the
 * timer has to do about it (register again, end it). Entries are changed
 * from the timer when a callback asks for it, never freed inside the
 * callbacks of condobs or obsclient that report on them.
 *
 * A relayed entry (cpns_status_mirror_relay) keeps a JSON body instead of
 * a status document, and its local observers here (struct lobs): each is
 * answered and notified by this module with confirmable 2.05s carrying the
 * Observe option, as condobs does for statuses. */
#include "status_mirror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "log.h"
#include "msg.h"

#define MIRROR_TICK_MS 500
/* Silence tolerated beyond twice the heartbeat before registering again:
 * covers a retransmission or two of the heartbeat itself. */
#define MIRROR_SLACK_S 10
/* How long local observers wait for the upstream's first answer. */
#define MIRROR_FIRST_ANSWER_S 10
#define MIRROR_SEQ_MASK 0xFFFFFFu /* RFC 7641 §4.4: 24-bit Observe values */
#define MIRROR_TOKEN_MAX 8
#define MIRROR_PATH_MAX 256
/* Bytes of a notification that are not its payload: header, token,
 * Observe and Content-Format, with room to spare. */
#define MIRROR_PDU_OVERHEAD 64

/* A local observer of a relayed entry. */
struct lobs {
  struct lobs *next;
  coap_session_t *session; /* referenced */
  uint8_t token[MIRROR_TOKEN_MAX];
  size_t toklen;
  int accept;
  uint32_t seq;
  struct cpns_deferred *awaiting; /* registration not answered yet (no body) */
};

struct entry {
  struct entry *next;
  struct cpns_status_mirror *m;
  char pn[CPNS_ID_MAX + 1], id[CPNS_ID_MAX + 1];
  char topic[CPNS_TOPIC_MAX + 1];
  struct cpns_observation *obs; /* upstream; NULL when none is running */
  coap_session_t *obs_session;  /* the session it was registered on (compared only) */
  bool has_doc;
  struct cpns_status_doc doc;
  time_t last_heard, created;
  bool restart; /* register again at the next tick */
  bool cancel;  /* no local observer left: end it at the next tick */
  bool dead;    /* the upstream refused: drop at the next tick */
  /* Relayed entries (relay true): */
  bool relay, pinned;
  char path[MIRROR_PATH_MAX];
  char on_behalf[CPNS_ID_MAX + 1];
  json_t *body; /* the upstream's latest, owned */
  struct lobs *lobs;
  size_t nlobs;
  time_t registered; /* when the upstream observation was last registered */
};

struct cpns_status_mirror {
  struct cpns_status_mirror_config cfg;
  char name[32];
  struct entry *list;
  size_t n;
  coap_session_t **release; /* session references dropped inside libcoap's callbacks */
  size_t nrelease, release_cap;
  bool hooked; /* the session and nack hooks are registered (first relay) */
};

static struct entry *find(struct cpns_status_mirror *m, const char *topic) {
  for (struct entry *e = m->list; e; e = e->next)
    if (strcmp(e->topic, topic) == 0) return e;
  return NULL;
}

static void on_upstream(void *arg, struct cpns_observation *o, int code, const json_t *body,
                        const char *diag, bool observing);

static int start(struct entry *e) {
  struct cpns_status_mirror *m = e->m;
  coap_session_t *s = m->cfg.upstream(m->cfg.arg);
  if (!s) return CPNS_ERR_UNAVAIL;
  int rc;
  if (e->relay) {
    /* Resumable at our end: when its session goes the entry is told and
     * registers again on the next one (the upstream does not keep it). */
    rc = cpns_obsclient_start(m->cfg.oc, s, e->path, NULL, e->on_behalf, true, on_upstream, e,
                              &e->obs);
  } else {
    char path[2 * CPNS_ID_MAX + 32], query[32];
    snprintf(path, sizeof path, "pns/%s/entities/%s/status", e->pn, e->id);
    snprintf(query, sizeof query, "c.pmax=%ld", m->cfg.pmax);
    rc = cpns_obsclient_start(m->cfg.oc, s, path, query, NULL, m->cfg.upstream_resumes,
                              on_upstream, e, &e->obs);
  }
  if (rc) {
    e->obs = NULL;
    return rc;
  }
  e->obs_session = s;
  e->last_heard = e->registered = time(NULL);
  e->restart = false;
  return 0;
}

/* ---- local observers of relayed entries ---- */

static void release_later(struct cpns_status_mirror *m, coap_session_t *s) {
  if (m->nrelease == m->release_cap) {
    size_t cap = m->release_cap ? m->release_cap * 2 : 16;
    coap_session_t **n = realloc(m->release, cap * sizeof *n);
    if (!n) {
      /* Releasing inside a libcoap callback may free the session under
       * libcoap's feet: a leaked reference is the lesser harm. */
      log_err(m->name, "out of memory: a session reference is kept");
      return;
    }
    m->release = n;
    m->release_cap = cap;
  }
  m->release[m->nrelease++] = s;
}

static void lobs_drop(struct cpns_status_mirror *m, struct entry *e, struct lobs *o) {
  for (struct lobs **pp = &e->lobs; *pp; pp = &(*pp)->next)
    if (*pp == o) {
      *pp = o->next;
      e->nlobs--;
      break;
    }
  if (o->awaiting) cpns_deferred_reply(o->awaiting, 503, NULL, "observation ended");
  release_later(m, o->session);
  free(o);
  /* The last one gone: the upstream observation ends at the next tick. */
  if (!e->nlobs && !e->pinned) e->cancel = true;
}

/* body as it fits one message of session s in content format cf: itself,
 * or (cfg.trim_array) a copy without the oldest entries of that array,
 * as few as need be. A separate response or a notification of ours cannot
 * be block-wise (libcoap 4.3.1 clients fetch no later blocks of those), and
 * the newest entries are the news. New reference; NULL when out of memory. */
static json_t *fitted(struct cpns_status_mirror *m, coap_session_t *s, const json_t *body, int cf) {
  size_t room = coap_session_max_pdu_size(s);
  room = room > MIRROR_PDU_OVERHEAD ? room - MIRROR_PDU_OVERHEAD : 0;
  json_t *b = json_incref((json_t *)body);
  for (;;) {
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = cpns_codec_encode(b, cf, &buf, &len);
    free(buf);
    if (rc || len <= room) return b;
    json_t *arr = m->cfg.trim_array ? json_object_get(b, m->cfg.trim_array) : NULL;
    if (!json_is_array(arr) || json_array_size(arr) == 0) return b; /* said when sent */
    if (b == body) {
      json_decref(b);
      b = json_deep_copy(body);
      if (!b) return NULL;
      arr = json_object_get(b, m->cfg.trim_array);
    }
    json_array_remove(arr, 0);
  }
}

/* A confirmable message to o on its session: a 2.05 notification with the
 * next Observe value, or (code >= 400) the final answer without one
 * (RFC 7641 §3.2: a response without Observe ends the observation). */
static int lobs_send(struct cpns_status_mirror *m, struct lobs *o, int code, const json_t *body,
                     const char *diag) {
  coap_session_t *s = o->session;
  if (coap_session_get_state(s) != COAP_SESSION_STATE_ESTABLISHED) return CPNS_ERR_UNAVAIL;
  uint8_t *buf = NULL;
  size_t len = 0;
  json_t *fit = body ? fitted(m, s, body, o->accept) : NULL;
  if (body && !fit) return CPNS_ERR_NOMEM;
  int erc = fit ? cpns_codec_encode(fit, o->accept, &buf, &len) : 0;
  json_decref(fit);
  if (erc) return CPNS_ERR_INVAL;
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, (coap_pdu_code_t)COAP_RESPONSE_CODE(code),
                                  coap_new_message_id(s), coap_session_max_pdu_size(s));
  if (!pdu) {
    free(buf);
    return CPNS_ERR_NOMEM;
  }
  uint8_t b[4];
  bool ok = coap_add_token(pdu, o->toklen, o->token) != 0;
  if (ok && code < 300) {
    o->seq = (o->seq + 1) & MIRROR_SEQ_MASK;
    ok = coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(b, sizeof b, o->seq), b) != 0;
  }
  if (ok && buf)
    ok = coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                         coap_encode_var_safe(b, sizeof b, (unsigned)o->accept), b) != 0;
  if (ok && buf && len) ok = coap_add_data(pdu, len, buf) != 0;
  if (ok && !buf && diag && *diag) ok = coap_add_data(pdu, strlen(diag), (const uint8_t *)diag) != 0;
  free(buf);
  if (!ok) {
    coap_delete_pdu(pdu);
    CPNS_LOG_RL(CPNS_LOG_WARNING, m->name, "a relayed notification does not fit one message");
    return CPNS_ERR_TOOBIG;
  }
  /* libcoap owns the PDU from here, also on failure. */
  return coap_send(s, pdu) == COAP_INVALID_MID ? CPNS_ERR_IO : 0;
}

/* A new body from the upstream: the waiting registrations are answered,
 * the others notified. */
static void relay_body(struct cpns_status_mirror *m, struct entry *e) {
  for (struct lobs *o = e->lobs; o; o = o->next) {
    if (o->awaiting) {
      struct cpns_deferred *d = o->awaiting;
      o->awaiting = NULL;
      o->seq = (o->seq + 1) & MIRROR_SEQ_MASK;
      cpns_deferred_observe(d, o->seq);
      cpns_deferred_reply(d, 205, fitted(m, o->session, e->body, o->accept), NULL);
    } else {
      lobs_send(m, o, 205, e->body, NULL);
    }
  }
}

/* The upstream ended: every local observer gets code (an error) and goes. */
static void relay_fail(struct cpns_status_mirror *m, struct entry *e, int code, const char *diag) {
  while (e->lobs) {
    struct lobs *o = e->lobs;
    if (o->awaiting) {
      cpns_deferred_reply(o->awaiting, code, NULL, diag);
      o->awaiting = NULL;
    } else {
      lobs_send(m, o, code, NULL, diag);
    }
    lobs_drop(m, e, o);
  }
}

static struct lobs *lobs_find(struct cpns_status_mirror *m, coap_session_t *s, coap_bin_const_t tok,
                              struct entry **owner) {
  for (struct entry *e = m->list; e; e = e->next)
    for (struct lobs *o = e->lobs; o; o = o->next)
      if (o->session == s && o->toklen == tok.length && memcmp(o->token, tok.s, tok.length) == 0) {
        *owner = e;
        return o;
      }
  return NULL;
}

static void on_session(void *arg, coap_session_t *s, bool up) {
  struct cpns_status_mirror *m = arg;
  if (up) return;
  for (struct entry *e = m->list; e; e = e->next) {
    struct lobs *o = e->lobs;
    while (o) {
      struct lobs *next = o->next;
      if (o->session == s) lobs_drop(m, e, o);
      o = next;
    }
  }
}

/* A notification of ours reset (RFC 7641 §3.6: the observer has lost
 * interest) or never acknowledged: that observer goes. */
static bool on_nack(void *arg, coap_session_t *s, const coap_pdu_t *sent, int reason) {
  (void)reason;
  struct cpns_status_mirror *m = arg;
  if (COAP_RESPONSE_CLASS(coap_pdu_get_code(sent)) < 2) return false;
  struct entry *e = NULL;
  struct lobs *o = lobs_find(m, s, coap_pdu_get_token(sent), &e);
  if (!o) return false;
  lobs_drop(m, e, o);
  return true;
}

static void on_upstream(void *arg, struct cpns_observation *o, int code, const json_t *body,
                        const char *diag, bool observing) {
  struct entry *e = arg;
  struct cpns_status_mirror *m = e->m;
  if (o != e->obs) return; /* an earlier registration of this entry, ended since */
  if (!observing) e->obs = NULL;
  if (code == CPNS_ERR_UNAVAIL && observing) {
    /* Its session went: a server resumes it on our next session; anything
     * else must be asked again. */
    if (!m->cfg.upstream_resumes) e->restart = true;
    return;
  }
  if (e->relay) {
    if (code == CPNS_ERR_UNAVAIL && observing) {
      e->restart = true; /* registered again on the next session */
      return;
    }
    if (code >= 200 && code < 300 && body && observing) {
      json_decref(e->body);
      e->body = json_incref((json_t *)body);
      e->last_heard = time(NULL);
      if (m->cfg.on_body) m->cfg.on_body(m->cfg.arg, e->topic, body);
      relay_body(m, e);
      return;
    }
    if (observing) return;
    int local = code >= 400 ? code : code == CPNS_ERR_TIMEOUT ? 504 : 503;
    const char *why = code >= 400 ? diag : code < 0 ? "upstream unreachable" : "upstream ended the observation";
    log_info(m->name, "%s: upstream observation ended (%d %s)", e->topic, code, why);
    if (m->cfg.on_end) m->cfg.on_end(m->cfg.arg, e->topic, code, why);
    if (code >= 400 || !e->pinned) {
      e->dead = true;
      relay_fail(m, e, local, why);
    } else {
      e->restart = true; /* ours: try again */
    }
    return;
  }
  if (code >= 200 && code < 300 && body) {
    struct cpns_status_doc d;
    char err[CPNS_DIAG_MAX];
    if (cpns_status_decode(body, &d, err, sizeof err)) {
      CPNS_LOG_RL(CPNS_LOG_WARNING, m->name, "%s: upstream sent a bad status: %s", e->topic, err);
    } else {
      e->doc = d;
      e->has_doc = true;
      e->last_heard = time(NULL);
      cpns_condobs_update(m->cfg.co, e->topic, &d);
    }
    if (observing) return;
  }
  if (observing) return;
  /* The observation is over: an error, or an answer without Observe. */
  int local = code >= 400 ? code : code == CPNS_ERR_TIMEOUT ? 504 : 503;
  const char *why = code >= 400 ? diag : code < 0 ? "upstream unreachable" : "upstream ended the observation";
  log_info(m->name, "%s: upstream observation ended (%d %s)", e->topic, code, why);
  e->dead = true;
  cpns_condobs_fail(m->cfg.co, e->topic, local, why);
}

static void entry_free(struct cpns_status_mirror *m, struct entry *e, bool deregister) {
  for (struct entry **pp = &m->list; *pp; pp = &(*pp)->next)
    if (*pp == e) {
      *pp = e->next;
      m->n--;
      break;
    }
  if (e->obs)
    cpns_obsclient_stop(m->cfg.oc, e->obs, deregister ? m->cfg.upstream(m->cfg.arg) : NULL);
  while (e->lobs) {
    struct lobs *o = e->lobs;
    e->lobs = o->next;
    if (o->awaiting) cpns_deferred_reply(o->awaiting, 503, NULL, "observation ended");
    release_later(m, o->session);
    free(o);
  }
  json_decref(e->body);
  free(e);
}

static void tick(void *arg) {
  struct cpns_status_mirror *m = arg;
  time_t now = time(NULL);
  while (m->nrelease) coap_session_release(m->release[--m->nrelease]);
  coap_session_t *up = m->cfg.upstream(m->cfg.arg);
  struct entry *e = m->list;
  while (e) {
    struct entry *next = e->next;
    if (e->relay && !e->dead && !e->cancel) {
      bool stale = e->obs && up && e->obs_session != up;
      bool due = m->cfg.renew_s > 0 && now >= e->registered + m->cfg.renew_s;
      if (e->nlobs && !e->body && now > e->created + MIRROR_FIRST_ANSWER_S) {
        e->dead = true;
        relay_fail(m, e, 504, "upstream did not answer");
      } else if (up && (e->restart || stale || due || !e->obs)) {
        /* The same token again (RFC 7641 §3.3.1): the upstream replaces
         * its observer instead of gathering one per renewal. */
        if (e->obs && cpns_obsclient_renew(m->cfg.oc, e->obs, up) == 0) {
          e->obs_session = up;
          e->registered = now;
          e->restart = false;
        } else {
          if (e->obs) cpns_obsclient_stop(m->cfg.oc, e->obs, NULL);
          e->obs = NULL;
          if (start(e)) e->restart = true;
        }
      }
      e = next;
      continue;
    }
    if (e->cancel || e->dead) {
      entry_free(m, e, e->cancel);
    } else if (!e->has_doc && now > e->created + MIRROR_FIRST_ANSWER_S) {
      e->dead = true;
      cpns_condobs_fail(m->cfg.co, e->topic, 504, "upstream did not answer");
    } else if (up) {
      bool silent = e->obs && now > e->last_heard + 2 * m->cfg.pmax + MIRROR_SLACK_S;
      if (silent) log_info(m->name, "%s: no heartbeat from upstream: observing again", e->topic);
      if (e->restart || silent || (!e->obs && !e->dead)) {
        if (e->obs) cpns_obsclient_stop(m->cfg.oc, e->obs, NULL);
        e->obs = NULL;
        if (start(e)) e->restart = true;
      }
    }
    e = next;
  }
}

int cpns_status_mirror_new(const struct cpns_status_mirror_config *cfg,
                           struct cpns_status_mirror **out) {
  struct cpns_status_mirror *m = calloc(1, sizeof *m);
  if (!m) return CPNS_ERR_NOMEM;
  m->cfg = *cfg;
  snprintf(m->name, sizeof m->name, "%s", cfg->name ? cfg->name : "mirror");
  m->cfg.name = m->name;
  int rc = cpns_node_every(cfg->node, MIRROR_TICK_MS, tick, m);
  if (rc) {
    free(m);
    return rc;
  }
  *out = m;
  return 0;
}

void cpns_status_mirror_free(struct cpns_status_mirror *m) {
  if (!m) return;
  while (m->list) entry_free(m, m->list, false);
  while (m->nrelease) coap_session_release(m->release[--m->nrelease]);
  free(m->release);
  free(m);
}

size_t cpns_status_mirror_count(const struct cpns_status_mirror *m) { return m ? m->n : 0; }

void cpns_status_mirror_idle(struct cpns_status_mirror *m, const char *topic) {
  struct entry *e = find(m, topic);
  if (e) e->cancel = true;
}

void cpns_status_mirror_serve(struct cpns_status_mirror *m, struct cpns_req *req, const char *pn,
                              const char *id, const char *attr) {
  coap_session_t *up = m->cfg.upstream(m->cfg.arg);
  int action = cpns_condobs_action(req);
  char topic[CPNS_TOPIC_MAX + 1];
  snprintf(topic, sizeof topic, "%s/%s", pn, id);
  struct entry *e = find(m, topic);
  if (action == COAP_OBSERVE_CANCEL && e && e->has_doc) {
    cpns_condobs_serve(m->cfg.co, req, topic, attr, &e->doc);
    return;
  }
  if (action != COAP_OBSERVE_ESTABLISH) {
    cpns_relay(req, up);
    return;
  }
  if (!up && !(e && e->has_doc)) {
    cpns_reply_error(req, 503, "upstream not connected");
    return;
  }
  if (e && (e->dead || e->cancel)) {
    /* Ended (or ending) from the timer: start afresh. */
    if (e->dead) {
      entry_free(m, e, false);
      e = NULL;
    } else {
      e->cancel = false;
    }
  }
  if (!e) {
    if (m->n >= m->cfg.max_entities) {
      CPNS_LOG_RL(CPNS_LOG_NOTICE, m->name, "relayed observation limit (%zu) reached", m->cfg.max_entities);
      cpns_reply_error(req, 503, "too many relayed observations");
      return;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
      cpns_reply_error(req, 500, "out of memory");
      return;
    }
    e->m = m;
    snprintf(e->pn, sizeof e->pn, "%s", pn);
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->topic, sizeof e->topic, "%s", topic);
    e->created = time(NULL);
    e->next = m->list;
    m->list = e;
    m->n++;
    if (start(e)) e->restart = true;
  }
  /* Registered here, answered from the mirror: now, or when the upstream's
   * first answer comes (condobs defers it). */
  cpns_condobs_serve(m->cfg.co, req, topic, attr, e->has_doc ? &e->doc : NULL);
}

/* ---- relayed JSON resources ---- */

static struct entry *relay_entry(struct cpns_status_mirror *m, const char *topic, const char *path,
                                 const char *on_behalf, int *rc) {
  struct entry *e = find(m, topic);
  if (e && e->dead) {
    entry_free(m, e, false);
    e = NULL;
  }
  if (e) {
    e->cancel = false;
    *rc = 0;
    return e;
  }
  if (strlen(path) >= MIRROR_PATH_MAX || strlen(topic) > CPNS_TOPIC_MAX) {
    *rc = CPNS_ERR_INVAL;
    return NULL;
  }
  if (m->n >= m->cfg.max_entities) {
    CPNS_LOG_RL(CPNS_LOG_NOTICE, m->name, "relayed observation limit (%zu) reached",
                m->cfg.max_entities);
    *rc = CPNS_ERR_LIMIT;
    return NULL;
  }
  if (!m->hooked) {
    int hr = cpns_node_on_nack(m->cfg.node, on_nack, m);
    if (hr) {
      *rc = hr;
      return NULL;
    }
    cpns_node_on_session(m->cfg.node, on_session, m);
    m->hooked = true;
  }
  e = calloc(1, sizeof *e);
  if (!e) {
    *rc = CPNS_ERR_NOMEM;
    return NULL;
  }
  e->m = m;
  e->relay = true;
  snprintf(e->topic, sizeof e->topic, "%s", topic);
  snprintf(e->path, sizeof e->path, "%s", path);
  snprintf(e->on_behalf, sizeof e->on_behalf, "%s", on_behalf ? on_behalf : "");
  e->created = time(NULL);
  e->next = m->list;
  m->list = e;
  m->n++;
  if (start(e)) e->restart = true;
  *rc = 0;
  return e;
}

bool cpns_status_mirror_relay(struct cpns_status_mirror *m, struct cpns_req *req, const char *topic,
                              const char *path, const char *on_behalf) {
  int action = cpns_condobs_action(req);
  if (action != COAP_OBSERVE_ESTABLISH && action != COAP_OBSERVE_CANCEL) return false;
  if (!req->session) return false; /* a local dispatch has nobody to notify */
  coap_bin_const_t tok = coap_pdu_get_token(req->pdu);
  struct entry *owner = NULL;
  struct lobs *o = lobs_find(m, req->session, tok, &owner);
  if (action == COAP_OBSERVE_CANCEL) {
    /* RFC 7641 §3.6: deregistered, and answered as a plain GET. */
    if (o) lobs_drop(m, owner, o);
    return false;
  }
  if (o && strcmp(owner->topic, topic) != 0) {
    lobs_drop(m, owner, o); /* the token now observes something else */
    o = NULL;
  }
  coap_session_t *up = m->cfg.upstream(m->cfg.arg);
  struct entry *e = find(m, topic);
  if (!up && !(e && e->body && !e->dead)) {
    cpns_reply_error(req, 503, "upstream not connected");
    return true;
  }
  int rc = 0;
  e = relay_entry(m, topic, path, on_behalf, &rc);
  if (!e) {
    if (rc == CPNS_ERR_LIMIT)
      cpns_reply_error(req, 503, "too many relayed observations (at most %zu)", m->cfg.max_entities);
    else
      cpns_reply_error(req, rc == CPNS_ERR_INVAL ? 400 : 500, "cannot relay this observation: %s",
                       cpns_strerror(rc));
    return true;
  }
  if (!o) {
    if (e->nlobs >= m->cfg.max_observers || tok.length > MIRROR_TOKEN_MAX) {
      CPNS_LOG_RL(CPNS_LOG_NOTICE, m->name, "%s: observer limit (%zu) reached", topic,
                  m->cfg.max_observers);
      cpns_reply_error(req, 503, "too many observers of this resource");
      if (!e->nlobs && !e->pinned) e->cancel = true;
      return true;
    }
    o = calloc(1, sizeof *o);
    if (!o) {
      cpns_reply_error(req, 500, "out of memory");
      return true;
    }
    o->session = coap_session_reference(req->session);
    o->toklen = tok.length;
    memcpy(o->token, tok.s, tok.length);
    o->next = e->lobs;
    e->lobs = o;
    e->nlobs++;
  }
  o->accept = req->accept;
  if (e->body) {
    o->seq = (o->seq + 1) & MIRROR_SEQ_MASK;
    cpns_reply_observe(req, o->seq, fitted(m, req->session, e->body, req->accept));
    return true;
  }
  /* Answered when the upstream's first answer comes. */
  if (o->awaiting) cpns_deferred_reply(o->awaiting, 503, NULL, "observation registered again");
  o->awaiting = cpns_req_defer(req);
  return true;
}

int cpns_status_mirror_pin(struct cpns_status_mirror *m, const char *topic, const char *path,
                           const char *on_behalf) {
  int rc = 0;
  struct entry *e = relay_entry(m, topic, path, on_behalf, &rc);
  if (e) e->pinned = true;
  return rc;
}

void cpns_status_mirror_unpin(struct cpns_status_mirror *m, const char *topic) {
  struct entry *e = find(m, topic);
  if (!e || !e->relay) return;
  e->pinned = false;
  if (!e->nlobs) e->cancel = true;
}

const json_t *cpns_status_mirror_body(struct cpns_status_mirror *m, const char *topic) {
  struct entry *e = find(m, topic);
  return e && e->relay ? e->body : NULL;
}

void cpns_status_mirror_renew(struct cpns_status_mirror *m) {
  for (struct entry *e = m->list; e; e = e->next)
    if (e->relay) e->restart = true;
}
