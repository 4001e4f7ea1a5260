/* SPDX-License-Identifier: Apache-2.0 */
/* The PNE's registration with its gateway (spec 5.5.6): find a gateway (from
 * the configuration, or by discovery), open a DTLS session to it, register
 * with a lifetime, refresh at half of it, and start again when the gateway
 * stops answering. Joining and leaving the PN (5.5.10) are registration and
 * deregistration; leaving is remembered across restarts in the state file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "msg.h"
#include "pne.h"

#define MOD "agent"
#define PNE_REFUSED_RETRY 30 /* seconds between attempts to join a closed PN */

static int64_t now_s(void) { return (int64_t)time(NULL); }

const char *agent__state_name(enum pne_state s) {
  switch (s) {
  case PNE_SEARCHING: return "searching";
  case PNE_REGISTERING: return "registering";
  case PNE_REGISTERED: return "registered";
  case PNE_REFUSED: return "refused";
  case PNE_EXPELLED: return "expelled";
  case PNE_LEFT: return "left";
  }
  return "?";
}

/* The state file holds "left" after a leave, so a restart does not rejoin. */
static void save_state(struct pne *p) {
  if (!p->conf.state_file[0]) return;
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", p->conf.state_file);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    log_err(MOD, "cannot write %s: %s", tmp, strerror(errno));
    return;
  }
  fprintf(f, "%s %s\n", p->state == PNE_LEFT ? "left" : "joined", p->pn[0] ? p->pn : "-");
  if (fclose(f) == 0) rename(tmp, p->conf.state_file);
}

static void load_state(struct pne *p) {
  if (!p->conf.state_file[0]) return;
  FILE *f = fopen(p->conf.state_file, "r");
  if (!f) return;
  char word[16] = "", pn[CPNS_ID_MAX + 2] = "";
  if (fscanf(f, "%15s %65s", word, pn) == 2) {
    if (strcmp(word, "left") == 0) p->state = PNE_LEFT;
    if (strcmp(pn, "-") != 0 && cpns_valid_id(pn) && !p->conf.pn[0]) snprintf(p->pn, sizeof p->pn, "%.64s", pn);
  }
  fclose(f);
}

/* Forget the gateway session; released from the timer, not from inside
 * libcoap's callbacks. */
static void drop_session(struct pne *p) {
  if (p->session && !p->to_release) p->to_release = p->session;
  p->session = NULL;
}

static void retry_later(struct pne *p, enum pne_state s, long seconds, const char *why) {
  if (p->state != s || strcmp(p->last_error, why) != 0)
    log_warn(MOD, "%s; retrying in %lds", why, seconds);
  /* Cut to fit: the reason is for people, and may quote a long diagnostic. */
  size_t n = strnlen(why, sizeof p->last_error - 1);
  memcpy(p->last_error, why, n);
  p->last_error[n] = '\0';
  p->state = s;
  p->next_attempt = now_s() + seconds;
}

static void registered(void *arg, int code, const json_t *body, const char *diag) {
  struct pne *p = arg;
  if (p->state == PNE_LEFT) return; /* left meanwhile */
  if (code < 0) {
    drop_session(p);
    if (!p->conf.gateway[0]) p->gw_uri[0] = '\0'; /* discover again */
    retry_later(p, PNE_SEARCHING, p->conf.retry, "the gateway does not answer");
    return;
  }
  if (code == 403) {
    bool expelled = strstr(diag, "expelled") != NULL;
    char why[CPNS_DIAG_MAX + 32];
    snprintf(why, sizeof why, "gateway refused us: %s", diag);
    retry_later(p, expelled ? PNE_EXPELLED : PNE_REFUSED, PNE_REFUSED_RETRY, why);
    return;
  }
  if (code != 201 && code != 204) {
    char why[CPNS_DIAG_MAX + 32];
    snprintf(why, sizeof why, "registration answered %d %s", code, diag);
    retry_later(p, PNE_SEARCHING, p->conf.retry, why);
    return;
  }
  json_t *lt = json_object_get(body, "lt");
  p->granted_lifetime = json_is_integer(lt) && json_integer_value(lt) >= CPNS_LIFETIME_MIN
                            ? (long)json_integer_value(lt)
                            : p->conf.lifetime;
  if (p->state != PNE_REGISTERED) {
    log_notice(MOD, "registered in PN %s via %s (lifetime %lds)", p->pn, p->gw_uri, p->granted_lifetime);
    cpns_neighbors_set_pn(p->neighbors, p->pn);
    p->last_error[0] = '\0';
    save_state(p);
  }
  bool fresh = p->state != PNE_REGISTERED;
  p->state = PNE_REGISTERED;
  p->next_refresh = now_s() + (p->granted_lifetime / 2 > 1 ? p->granted_lifetime / 2 : 1);
  if (fresh) {
    caps__registered(p);
    services__registered(p);
  }
}

static void send_registration(struct pne *p) {
  char err[256];
  if (!p->session &&
      cpns_node_connect(p->node, p->gw_uri, p->conf.id, p->key, &p->session, err, sizeof err)) {
    retry_later(p, PNE_SEARCHING, p->conf.retry, err);
    return;
  }
  char path[2 * CPNS_ID_MAX + 32];
  snprintf(path, sizeof path, "pns/%s/entities/%s", p->pn, p->conf.id);
  json_t *body = json_pack("{s:s, s:s, s:[s], s:I}", "name", p->conf.name, "type", p->conf.type,
                           "roles", "pne", "lt", (json_int_t)p->conf.lifetime);
  if (p->state != PNE_REGISTERED) p->state = PNE_REGISTERING;
  if (cpns_node_request(p->node, p->session, COAP_REQUEST_CODE_PUT, path, NULL, body, registered, p))
    retry_later(p, PNE_SEARCHING, p->conf.retry, "cannot send the registration");
  json_decref(body);
}

static void tick(void *arg) {
  struct pne *p = arg;
  if (p->to_release) {
    coap_session_t *s = p->to_release;
    p->to_release = NULL;
    cpns_node_close_session(p->node, s);
  }
  int64_t now = now_s();
  switch (p->state) {
  case PNE_LEFT:
  case PNE_REGISTERING:
    return;
  case PNE_REGISTERED:
    if (now >= p->next_refresh) {
      p->next_refresh = now + 3600; /* set properly by the answer */
      send_registration(p);
    }
    return;
  case PNE_SEARCHING:
  case PNE_REFUSED:
  case PNE_EXPELLED:
    if (now < p->next_attempt) return;
    break;
  }
  if (!p->gw_uri[0]) {
    char pn[CPNS_ID_MAX + 1] = "";
    if (cpns_neighbors_find(p->neighbors, CPNS_ROLE_GW, p->conf.pn, p->gw_uri, sizeof p->gw_uri, pn)) {
      retry_later(p, PNE_SEARCHING, p->conf.retry, "no gateway discovered yet");
      return;
    }
    if (!p->pn[0]) snprintf(p->pn, sizeof p->pn, "%s", pn);
    log_notice(MOD, "discovered gateway %s of PN %s", p->gw_uri, pn);
  }
  if (!p->pn[0]) {
    retry_later(p, PNE_SEARCHING, p->conf.retry, "no PN to join: set pne.pn");
    return;
  }
  send_registration(p);
}

static void session_event(void *arg, coap_session_t *s, bool up) {
  struct pne *p = arg;
  if (!up && s == p->session && p->state != PNE_LEFT) {
    drop_session(p);
    retry_later(p, PNE_SEARCHING, 1, "gateway session closed");
  }
}

void agent__join(struct pne *p, const char *pn) {
  if (pn && *pn) snprintf(p->pn, sizeof p->pn, "%s", pn);
  p->state = PNE_SEARCHING;
  p->next_attempt = 0;
  save_state(p);
  tick(p);
}

struct leave_ctx {
  void (*done)(void *arg, int code, const char *diag);
  void *arg;
};

static void left(void *arg, int code, const json_t *body, const char *diag) {
  (void)body;
  struct leave_ctx *c = arg;
  c->done(c->arg, code, diag);
  free(c);
}

void agent__leave(struct pne *p, void (*done)(void *arg, int code, const char *diag), void *arg) {
  bool was_registered = p->state == PNE_REGISTERED && p->session;
  p->state = PNE_LEFT;
  save_state(p);
  log_notice(MOD, "leaving PN %s", p->pn);
  if (!was_registered) {
    done(arg, 202, "");
    return;
  }
  struct leave_ctx *c = malloc(sizeof *c);
  char path[2 * CPNS_ID_MAX + 32];
  snprintf(path, sizeof path, "pns/%s/entities/%s", p->pn, p->conf.id);
  if (!c) {
    done(arg, 500, "out of memory");
    return;
  }
  c->done = done;
  c->arg = arg;
  if (cpns_node_request(p->node, p->session, COAP_REQUEST_CODE_DELETE, path, NULL, NULL, left, c)) {
    free(c);
    done(arg, 503, "cannot reach the gateway");
  }
}

int agent__init(struct pne *p) {
  snprintf(p->pn, sizeof p->pn, "%s", p->conf.pn);
  snprintf(p->gw_uri, sizeof p->gw_uri, "%s", p->conf.gateway);
  p->state = p->conf.auto_join ? PNE_SEARCHING : PNE_LEFT;
  load_state(p);
  snprintf(p->gw_peer.identity, sizeof p->gw_peer.identity, "gateway");
  p->gw_peer.role = CPNS_PEER_GW;
  cpns_node_set_upstream_peer(p->node, &p->gw_peer);
  cpns_node_on_session(p->node, session_event, p);
  return cpns_node_every(p->node, 250, tick, p);
}
