/* SPDX-License-Identifier: Apache-2.0 */
/* Relayed status observations (status_mirror.h). An entry per remote
 * entity: its upstream observation, its latest document, and what the
 * timer has to do about it (register again, end it). Entries are changed
 * from the timer when a callback asks for it, never freed inside the
 * callbacks of condobs or obsclient that report on them. */
#include "status_mirror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "msg.h"

#define MIRROR_TICK_MS 500
/* Silence tolerated beyond twice the heartbeat before registering again:
 * covers a retransmission or two of the heartbeat itself. */
#define MIRROR_SLACK_S 10
/* How long local observers wait for the upstream's first answer. */
#define MIRROR_FIRST_ANSWER_S 10

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
};

struct cpns_status_mirror {
  struct cpns_status_mirror_config cfg;
  char name[32];
  struct entry *list;
  size_t n;
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
  char path[2 * CPNS_ID_MAX + 32], query[32];
  snprintf(path, sizeof path, "pns/%s/entities/%s/status", e->pn, e->id);
  snprintf(query, sizeof query, "c.pmax=%ld", m->cfg.pmax);
  int rc = cpns_obsclient_start(m->cfg.oc, s, path, query, NULL, m->cfg.upstream_resumes,
                                on_upstream, e, &e->obs);
  if (rc) {
    e->obs = NULL;
    return rc;
  }
  e->obs_session = s;
  e->last_heard = time(NULL);
  e->restart = false;
  return 0;
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
  free(e);
}

static void tick(void *arg) {
  struct cpns_status_mirror *m = arg;
  time_t now = time(NULL);
  coap_session_t *up = m->cfg.upstream(m->cfg.arg);
  struct entry *e = m->list;
  while (e) {
    struct entry *next = e->next;
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
