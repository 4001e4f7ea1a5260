/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's side of CPNS-2: one DTLS session to the server, opened by the
 * gateway (so the server's CPNS-7 requests can come back on it through NAT),
 * PN registration with a lifetime, refresh, reconnection with back-off, and
 * an ordered, bounded queue of local changes sent one at a time. After each
 * (re)connection the gateway reconciles: it reads the server's copy of its
 * PN, removes what the server has in excess and reports every local entity,
 * so a lost queue (a crash, an overflow) costs a resync, never consistency. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "log.h"
#include "msg.h"

#define MOD "upstream"

enum up_state { UP_DOWN, UP_REGISTERING, UP_READY };

struct op {
  enum up_op kind;
  char id[CPNS_ID_MAX + 1];
};

struct upstream {
  struct gw *gw;
  enum up_state state;
  coap_session_t *session;
  struct cpns_key_entry server_peer; /* who CPNS-7 requests come from */
  struct op *queue;                  /* ring buffer */
  size_t qcap, qhead, qlen;
  bool overflowed;
  coap_session_t *to_release; /* dropped at the next tick */
  bool in_flight;
  bool reconcile;
  time_t next_attempt, next_refresh;
  long backoff;
};

static struct upstream *up_of(const struct gw *gw) { return gw->up; }

const char *upstream__state(const struct gw *gw) {
  switch (up_of(gw)->state) {
  case UP_DOWN: return "disconnected";
  case UP_REGISTERING: return "registering";
  case UP_READY: return "connected";
  }
  return "?";
}

bool upstream__ready(const struct gw *gw) { return up_of(gw)->state == UP_READY; }
coap_session_t *upstream__session(struct gw *gw) {
  return up_of(gw)->state == UP_READY ? up_of(gw)->session : NULL;
}

static void pump(struct upstream *up);

/* Drops the session; the next attempt comes after a back-off. */
static void go_down(struct upstream *up, const char *why) {
  if (up->state != UP_DOWN)
    log_warn(MOD, "lost the server (%s); retrying in %lds", why, up->backoff);
  /* Released from the timer, never from inside libcoap's own processing
   * (this may run from one of its callbacks). */
  if (up->session && !up->to_release) up->to_release = up->session;
  up->session = NULL;
  up->state = UP_DOWN;
  up->in_flight = false;
  up->next_attempt = time(NULL) + up->backoff;
  up->backoff = up->backoff * 2 > up->gw->conf.retry * 8 ? up->gw->conf.retry * 8 : up->backoff * 2;
}

void upstream__queue(struct gw *gw, enum up_op kind, const char *id) {
  struct upstream *up = up_of(gw);
  /* A later PUT of the same entity supersedes a queued one; so does a
   * later change of its capabilities (sent as what differs when it goes). */
  if (kind == UP_ENT_PUT || kind == UP_CAPS)
    for (size_t i = 0; i < up->qlen; i++) {
      struct op *o = &up->queue[(up->qhead + i) % up->qcap];
      if (o->kind == kind && strcmp(o->id, id) == 0 && !(i == 0 && up->in_flight)) return;
    }
  if (up->qlen == up->qcap) {
    /* Bounded: forget the queue and reconcile everything instead. */
    if (!up->overflowed) log_warn(MOD, "change queue full; will resynchronize the whole PN");
    up->overflowed = true;
    up->reconcile = true;
    return;
  }
  struct op *o = &up->queue[(up->qhead + up->qlen) % up->qcap];
  o->kind = kind;
  snprintf(o->id, sizeof o->id, "%s", id ? id : "");
  up->qlen++;
  pump(up);
}

static void pop(struct upstream *up) {
  if (!up->qlen) return;
  up->qhead = (up->qhead + 1) % up->qcap;
  up->qlen--;
}

static json_t *pn_body(const struct gw *gw) {
  return json_pack("{s:s, s:s, s:b, s:I}", "name", gw->conf.pn_name, "owner", gw->conf.owner,
                   "open", gw->conf.open, "lt", (json_int_t)gw->conf.lifetime);
}

static json_t *entity_body(const struct cpns_entity_rec *e) {
  return json_pack("{s:s, s:s, s:o, s:I, s:s, s:s}", "name", e->name, "type", e->device_type,
                   "roles", cpns_msg_roles(e->roles ? e->roles : CPNS_ROLE_PNE), "lt",
                   (json_int_t)(e->lifetime ? e->lifetime : 60), "state",
                   cpns_entity_state_name(e->state), "addr", e->addr);
}

/* ---- reconciliation ---- */

struct reconcile_ctx {
  struct gw *gw;
};

static int queue_put(void *arg, const struct cpns_entity_rec *e) {
  struct gw *gw = arg;
  upstream__queue(gw, UP_ENT_PUT, e->id);
  return 0;
}

static void reconcile_answer(void *arg, int code, const json_t *body, const char *diag) {
  struct upstream *up = arg;
  struct gw *gw = up->gw;
  up->in_flight = false;
  if (code < 0) {
    go_down(up, "no answer to the reconciliation");
    return;
  }
  if (code == 205) {
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(body, "entities"), i, e) {
      const char *id = json_string_value(json_object_get(e, "id"));
      const char *state = json_string_value(json_object_get(e, "state"));
      struct cpns_entity_rec local;
      if (!id || !cpns_valid_id(id) ||
          gw->store->ops->entity_get(gw->store, gw->conf.pn, id, &local) != CPNS_ERR_NOTFOUND)
        continue;
      if (state && strcmp(state, "added") == 0) {
        /* The operator let it in while we were away: adopt that. */
        struct cpns_entity_rec add;
        memset(&add, 0, sizeof add);
        snprintf(add.pn, sizeof add.pn, "%s", gw->conf.pn);
        snprintf(add.id, sizeof add.id, "%s", id);
        add.roles = CPNS_ROLE_PNE;
        add.state = CPNS_STATE_ADDED;
        add.updated_at = add.registered_at = (int64_t)time(NULL);
        if (gw->store->ops->entity_admit(gw->store, &add, NULL) == 0)
          log_notice(MOD, "%s was added at the server while we were away", id);
      } else {
        upstream__queue(gw, UP_ENT_DELETE, id);
      }
    }
  } else {
    log_warn(MOD, "reconciliation read answered %d %s", code, diag);
  }
  gw->store->ops->entity_list(gw->store, gw->conf.pn, queue_put, gw);
  caps__reconcile(gw); /* after the entities they belong to */
  pump(up);
}

/* ---- sending one queued change ---- */

static void op_answer(void *arg, int code, const json_t *body, const char *diag) {
  struct upstream *up = arg;
  struct gw *gw = up->gw;
  up->in_flight = false;
  if (code < 0) {
    go_down(up, "a change got no answer");
    return;
  }
  struct op o = up->queue[up->qhead];
  if (o.kind == UP_CAPS && caps__upstream_done(gw, o.id, code, body)) {
    pump(up); /* again, whole */
    return;
  }
  pop(up);
  if (o.kind == UP_CAPS) {
    /* caps.c has dealt with the answer. */
  } else if (o.kind == UP_ENT_PUT && code == 403) {
    /* The operator expelled it while we were away: apply it here too. */
    log_notice(MOD, "server refuses %s (%s): removing and expelling it locally", o.id, diag);
    gw->store->ops->entity_expel(gw->store, gw->conf.pn, o.id, NULL);
  } else if (code >= 400 && !(code == 404 && (o.kind == UP_ENT_DELETE || o.kind == UP_PN_DELETE))) {
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "server answered %d %s to a change of %s", code, diag,
                o.id[0] ? o.id : "the PN");
  }
  pump(up);
}

static void pump(struct upstream *up) {
  struct gw *gw = up->gw;
  if (up->state != UP_READY || up->in_flight) return;
  char path[2 * CPNS_ID_MAX + 32];
  if (!up->qlen) {
    if (!up->reconcile) return;
    up->reconcile = false;
    up->overflowed = false;
    snprintf(path, sizeof path, "pns/%s", gw->conf.pn);
    up->in_flight = true;
    if (cpns_node_request(gw->node, up->session, COAP_REQUEST_CODE_GET, path, NULL, NULL,
                          reconcile_answer, up))
      up->in_flight = false;
    return;
  }
  const struct op *o = &up->queue[up->qhead];
  json_t *body = NULL;
  coap_pdu_code_t method = COAP_REQUEST_CODE_PUT;
  const char *query = NULL;
  char caps_query[32];
  switch (o->kind) {
  case UP_PN_PUT:
    snprintf(path, sizeof path, "pns/%s", gw->conf.pn);
    body = pn_body(gw);
    break;
  case UP_PN_DELETE:
    snprintf(path, sizeof path, "pns/%s", gw->conf.pn);
    method = COAP_REQUEST_CODE_DELETE;
    break;
  case UP_ENT_PUT: {
    struct cpns_entity_rec e;
    if (gw->store->ops->entity_get(gw->store, gw->conf.pn, o->id, &e)) {
      pop(up); /* gone since: a DELETE follows in the queue */
      pump(up);
      return;
    }
    snprintf(path, sizeof path, "pns/%s/entities/%s", gw->conf.pn, o->id);
    body = entity_body(&e);
    break;
  }
  case UP_ENT_DELETE:
  case UP_ENT_EXPEL:
    snprintf(path, sizeof path, "pns/%s/entities/%s", gw->conf.pn, o->id);
    method = COAP_REQUEST_CODE_DELETE;
    if (o->kind == UP_ENT_EXPEL) query = "expel";
    break;
  case UP_ENT_ADD:
    snprintf(path, sizeof path, "pns/%s/entities", gw->conf.pn);
    method = COAP_REQUEST_CODE_POST;
    body = json_pack("{s:s}", "id", o->id);
    break;
  case UP_CAPS:
    if (caps__upstream_prepare(gw, o->id, &method, caps_query, sizeof caps_query, &body)) {
      pop(up); /* nothing to send: gone, or the server has it */
      pump(up);
      return;
    }
    snprintf(path, sizeof path, "pns/%s/entities/%s/caps", gw->conf.pn, o->id);
    query = caps_query[0] ? caps_query : NULL;
    break;
  }
  up->in_flight = true;
  int rc = cpns_node_request(gw->node, up->session, method, path, query, body, op_answer, up);
  json_decref(body);
  if (rc) {
    up->in_flight = false;
    log_warn(MOD, "cannot send a change to the server: %s", cpns_strerror(rc));
  }
}

/* ---- registration ---- */

static void registered(void *arg, int code, const json_t *body, const char *diag) {
  (void)body;
  struct upstream *up = arg;
  struct gw *gw = up->gw;
  if (code < 0) {
    go_down(up, code == CPNS_ERR_TIMEOUT ? "registration timed out" : "server unreachable");
    return;
  }
  if (code != 201 && code != 204) {
    log_err(MOD, "server refused the registration of PN %s: %d %s", gw->conf.pn, code, diag);
    go_down(up, "registration refused");
    return;
  }
  time_t now = time(NULL);
  long refresh = gw->conf.lifetime / 2 > 1 ? gw->conf.lifetime / 2 : 1;
  up->next_refresh = now + refresh;
  if (up->state != UP_READY) {
    log_notice(MOD, "PN %s registered with %s", gw->conf.pn, gw->conf.server_uri);
    up->state = UP_READY;
    up->backoff = gw->conf.retry;
    up->reconcile = true;
    groups__registered(gw);
    pump(up);
  }
}

static void connect_and_register(struct upstream *up) {
  struct gw *gw = up->gw;
  char err[256];
  if (!up->session &&
      cpns_node_connect(gw->node, gw->conf.server_uri, gw->conf.id, gw->key, &up->session, err,
                        sizeof err)) {
    log_err(MOD, "%s", err);
    go_down(up, "cannot connect");
    return;
  }
  up->state = up->state == UP_READY ? UP_READY : UP_REGISTERING;
  json_t *body = pn_body(gw);
  char path[CPNS_ID_MAX + 8];
  snprintf(path, sizeof path, "pns/%s", gw->conf.pn);
  if (cpns_node_request(gw->node, up->session, COAP_REQUEST_CODE_PUT, path, NULL, body, registered,
                        up))
    go_down(up, "cannot send the registration");
  json_decref(body);
}

static void tick(void *arg) {
  struct upstream *up = arg;
  time_t now = time(NULL);
  if (up->to_release) {
    coap_session_t *s = up->to_release;
    up->to_release = NULL;
    cpns_node_close_session(up->gw->node, s);
  }
  if (up->state == UP_DOWN && now >= up->next_attempt) {
    connect_and_register(up);
  } else if (up->state == UP_READY && now >= up->next_refresh) {
    up->next_refresh = now + 3600; /* set properly by the answer */
    connect_and_register(up);
  }
}

/* Our session went away under us (DTLS closed, failed, replaced). */
static void session_event(void *arg, coap_session_t *s, bool up_event) {
  struct upstream *up = arg;
  if (!up_event && s == up->session) go_down(up, "session closed");
}

int upstream__init(struct gw *gw) {
  struct upstream *up = calloc(1, sizeof *up);
  if (!up) return CPNS_ERR_NOMEM;
  up->gw = gw;
  /* Per entity at most a PUT, a capabilities change and a delete or add
   * (PUTs and capabilities supersede their queued ones). */
  up->qcap = (size_t)gw->conf.max_entities * 3 + 16;
  up->queue = calloc(up->qcap, sizeof *up->queue);
  if (!up->queue) {
    free(up);
    return CPNS_ERR_NOMEM;
  }
  up->backoff = gw->conf.retry;
  snprintf(up->server_peer.identity, sizeof up->server_peer.identity, "server");
  up->server_peer.role = CPNS_PEER_SERVER;
  gw->up = up;
  cpns_node_set_upstream_peer(gw->node, &up->server_peer);
  cpns_node_on_session(gw->node, session_event, up);
  cpns_node_every(gw->node, 500, tick, up);
  return 0;
}

/* Called after the node is freed: libcoap has freed our sessions with it. */
void upstream__free(struct upstream *up) {
  if (!up) return;
  free(up->queue);
  free(up);
}
