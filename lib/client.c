/* SPDX-License-Identifier: Apache-2.0 */
/* The CPNS-5 client (see include/cpns/client.h): a node without listeners,
 * one session, and a loop that runs until the one answer arrives. */
#include <cpns/client.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"
#include "msg.h"
#include "node.h"
#include "obsclient.h"

struct cpns_client {
  struct cpns_node *node;
  coap_session_t *session;
  long timeout_ms;
  int status;
  char error[CPNS_DIAG_MAX + 64];
  struct cpns_obsclient *obs; /* made at the first observation */
};

struct wait {
  bool done;
  int code;
  json_t *body;
  char diag[CPNS_DIAG_MAX];
};

static void on_answer(void *arg, int code, const json_t *body, const char *diag) {
  struct wait *w = arg;
  w->done = true;
  w->code = code;
  w->body = body ? json_deep_copy(body) : NULL;
  snprintf(w->diag, sizeof w->diag, "%s", diag ? diag : "");
}

int client__code_to_err(int code) {
  if (code >= 200 && code < 300) return 0;
  switch (code) {
  case 400: case 402: case 405: case 406: case 415: return CPNS_ERR_INVAL;
  case 401: return CPNS_ERR_UNAUTH;
  case 403: return CPNS_ERR_DENIED;
  case 404: return CPNS_ERR_NOTFOUND;
  case 409: case 412: return CPNS_ERR_EXISTS;
  case 429: return CPNS_ERR_LIMIT; /* RFC 8516: too many requests */
  case 413: case 414: return CPNS_ERR_TOOBIG;
  case 503: return CPNS_ERR_UNAVAIL;
  case 504: return CPNS_ERR_TIMEOUT;
  default: return code < 0 ? code : CPNS_ERR_PROTO;
  }
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sends one request and runs the loop until its answer (or the timeout). */
static int call(cpns_client_t *c, coap_pdu_code_t method, const char *path, const char *query,
                const json_t *body, json_t **out) {
  struct wait w = {false, 0, NULL, ""};
  c->status = 0;
  c->error[0] = '\0';
  int rc = cpns_node_request(c->node, c->session, method, path, query, body, on_answer, &w);
  if (rc) {
    snprintf(c->error, sizeof c->error, "cannot send: %s", cpns_strerror(rc));
    return rc;
  }
  uint64_t deadline = mono_ms() + (uint64_t)c->timeout_ms + 1000;
  while (!w.done && mono_ms() < deadline) cpns_node_step(c->node, 100);
  if (!w.done) {
    snprintf(c->error, sizeof c->error, "no answer");
    return CPNS_ERR_TIMEOUT;
  }
  c->status = w.code > 0 ? w.code : 0;
  rc = client__code_to_err(w.code);
  if (rc) {
    if (w.code > 0)
      snprintf(c->error, sizeof c->error, "%d.%02d %s", w.code / 100, w.code % 100,
               w.diag[0] ? w.diag : cpns_strerror(rc));
    else
      snprintf(c->error, sizeof c->error, "%s", w.diag[0] ? w.diag : cpns_strerror(rc));
    json_decref(w.body);
    return rc;
  }
  if (out)
    *out = w.body;
  else
    json_decref(w.body);
  return 0;
}

int cpns_client_new(const cpns_client_config_t *cfg, cpns_client_t **out) {
  if (!cfg || cfg->version != CPNS_CLIENT_CONFIG_VERSION || !cfg->uri || !out) return CPNS_ERR_INVAL;
  bool secure = strncmp(cfg->uri, "coaps://", 8) == 0;
  if (secure && (!cfg->identity || !cfg->key)) return CPNS_ERR_INVAL;
  cpns_client_t *c = calloc(1, sizeof *c);
  if (!c) return CPNS_ERR_NOMEM;
  struct cpns_node_config nc;
  memset(&nc, 0, sizeof nc);
  nc.name = "client";
  cpns_node_limits_default(&nc.limits);
  nc.limits.keepalive = 0;
  nc.limits.max_pending = 16;
  nc.limits.request_timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
  c->timeout_ms = nc.limits.request_timeout_ms;
  char err[256];
  static const uint8_t no_key[CPNS_PSK_LEN];
  int rc = cpns_node_new(&nc, &c->node, err, sizeof err);
  if (!rc)
    rc = cpns_node_connect(c->node, cfg->uri, cfg->identity ? cfg->identity : "",
                           cfg->key ? cfg->key : no_key, &c->session, err, sizeof err);
  if (rc) {
    cpns_client_free(c);
    return rc;
  }
  cpns_node_set_json(c->node, cfg->json);
  *out = c;
  return 0;
}

struct cpns_node *client__node(cpns_client_t *c) { return c->node; }
coap_session_t *client__session(cpns_client_t *c) { return c->session; }

struct cpns_obsclient *client__obsclient(cpns_client_t *c) {
  if (!c->obs && cpns_obsclient_new(c->node, &c->obs)) c->obs = NULL;
  return c->obs;
}

int client__connect(cpns_client_t *c) {
  uint64_t deadline = mono_ms() + (uint64_t)c->timeout_ms;
  for (;;) {
    coap_session_state_t st = coap_session_get_state(c->session);
    if (st == COAP_SESSION_STATE_ESTABLISHED) return 0;
    if (st == COAP_SESSION_STATE_NONE) return CPNS_ERR_UNAVAIL;
    if (mono_ms() >= deadline) return CPNS_ERR_TIMEOUT;
    cpns_node_step(c->node, 100);
  }
}

void client__set_error(cpns_client_t *c, int status, const char *diag) {
  c->status = status > 0 ? status : 0;
  if (status > 0)
    snprintf(c->error, sizeof c->error, "%d.%02d %s", status / 100, status % 100, diag);
  else
    snprintf(c->error, sizeof c->error, "%s", diag);
}

void cpns_client_free(cpns_client_t *c) {
  if (!c) return;
  if (c->session) cpns_node_close_session(c->node, c->session);
  cpns_node_free(c->node);
  /* After the node: its hooks point at the observations until it is gone. */
  cpns_obsclient_free(c->obs);
  free(c);
}

const char *cpns_client_error(const cpns_client_t *c) { return c ? c->error : ""; }
int cpns_client_status(const cpns_client_t *c) { return c ? c->status : 0; }
void cpns_free(void *p) { free(p); }

int cpns_client_request(cpns_client_t *c, const char *method, const char *path, const char *query,
                        const char *body_json, char **out_json) {
  coap_pdu_code_t m;
  if (!strcmp(method, "GET")) m = COAP_REQUEST_CODE_GET;
  else if (!strcmp(method, "PUT")) m = COAP_REQUEST_CODE_PUT;
  else if (!strcmp(method, "POST")) m = COAP_REQUEST_CODE_POST;
  else if (!strcmp(method, "DELETE")) m = COAP_REQUEST_CODE_DELETE;
  else return CPNS_ERR_INVAL;
  json_t *body = NULL;
  if (body_json) {
    json_error_t je;
    body = json_loads(body_json, JSON_REJECT_DUPLICATES, &je);
    if (!body) {
      snprintf(c->error, sizeof c->error, "body is not JSON: %s", je.text);
      return CPNS_ERR_INVAL;
    }
  }
  json_t *answer = NULL;
  int rc = call(c, m, path, query, body, &answer);
  json_decref(body);
  if (out_json) *out_json = NULL;
  if (!rc && out_json && answer) *out_json = json_dumps(answer, JSON_INDENT(2) | JSON_ENCODE_ANY);
  json_decref(answer);
  return rc;
}

static void copy_str(const json_t *obj, const char *key, char *out, size_t size) {
  const char *s = json_string_value(json_object_get(obj, key));
  snprintf(out, size, "%s", s ? s : "");
}

static int64_t get_time(const json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

int cpns_pn_get_inventory(cpns_client_t *c, const char *pn, cpns_inventory_t **out) {
  if (!pn || !cpns_valid_id(pn) || !out) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 8];
  snprintf(path, sizeof path, "pns/%s", pn);
  json_t *doc = NULL;
  int rc = call(c, COAP_REQUEST_CODE_GET, path, NULL, NULL, &doc);
  if (rc) return rc;
  json_t *ents = json_object_get(doc, "entities"), *p = json_object_get(doc, "pn");
  if (!json_is_array(ents) || !json_is_object(p)) {
    json_decref(doc);
    snprintf(c->error, sizeof c->error, "malformed inventory");
    return CPNS_ERR_PROTO;
  }
  cpns_inventory_t *inv = calloc(1, sizeof *inv);
  size_t n = json_array_size(ents);
  if (!inv || (n && !(inv->entities = calloc(n, sizeof *inv->entities)))) {
    free(inv);
    json_decref(doc);
    return CPNS_ERR_NOMEM;
  }
  copy_str(p, "id", inv->pn.id, sizeof inv->pn.id);
  copy_str(p, "name", inv->pn.name, sizeof inv->pn.name);
  copy_str(p, "owner", inv->pn.owner, sizeof inv->pn.owner);
  copy_str(p, "gw", inv->pn.gw, sizeof inv->pn.gw);
  copy_str(p, "state", inv->pn.state, sizeof inv->pn.state);
  inv->pn.open = json_is_true(json_object_get(p, "open"));
  size_t i;
  json_t *e;
  json_array_foreach(ents, i, e) {
    cpns_entity_info_t *x = &inv->entities[i];
    copy_str(e, "id", x->id, sizeof x->id);
    copy_str(e, "pn", x->pn, sizeof x->pn);
    copy_str(e, "name", x->name, sizeof x->name);
    copy_str(e, "type", x->type, sizeof x->type);
    copy_str(e, "state", x->state, sizeof x->state);
    copy_str(e, "addr", x->addr, sizeof x->addr);
    char err[64];
    json_t *roles = json_object_get(e, "roles");
    if (roles) cpns_msg_parse_roles(roles, &x->roles, err, sizeof err);
    x->lifetime = (uint32_t)get_time(e, "lt");
    x->registered = get_time(e, "registered");
    x->updated = get_time(e, "updated");
    x->expires = get_time(e, "expires");
  }
  inv->count = n;
  json_decref(doc);
  *out = inv;
  return 0;
}

void cpns_inventory_free(cpns_inventory_t *inv) {
  if (!inv) return;
  free(inv->entities);
  free(inv);
}

int cpns_pn_join(cpns_client_t *c, const char *pn) {
  if (pn && !cpns_valid_id(pn)) return CPNS_ERR_INVAL;
  json_t *body = pn ? json_pack("{s:s}", "pn", pn) : json_object();
  int rc = call(c, COAP_REQUEST_CODE_PUT, "membership", NULL, body, NULL);
  json_decref(body);
  return rc;
}

int cpns_pn_leave(cpns_client_t *c) {
  return call(c, COAP_REQUEST_CODE_DELETE, "membership", NULL, NULL, NULL);
}

int cpns_pn_add_entity(cpns_client_t *c, const char *pn, const char *id, const char *name) {
  if (!pn || !id || !cpns_valid_id(pn) || !cpns_valid_id(id)) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "pns/%s/entities", pn);
  json_t *body = name ? json_pack("{s:s, s:s}", "id", id, "name", name) : json_pack("{s:s}", "id", id);
  int rc = call(c, COAP_REQUEST_CODE_POST, path, NULL, body, NULL);
  json_decref(body);
  return rc;
}

int cpns_pn_expel_entity(cpns_client_t *c, const char *pn, const char *id) {
  if (!pn || !id || !cpns_valid_id(pn) || !cpns_valid_id(id)) return CPNS_ERR_INVAL;
  char path[2 * CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "pns/%s/entities/%s", pn, id);
  return call(c, COAP_REQUEST_CODE_DELETE, path, NULL, NULL, NULL);
}

int cpns_pn_remove(cpns_client_t *c, const char *pn) {
  if (!pn || !cpns_valid_id(pn)) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 8];
  snprintf(path, sizeof path, "pns/%s", pn);
  return call(c, COAP_REQUEST_CODE_DELETE, path, NULL, NULL, NULL);
}

int cpns_pn_set_readers(cpns_client_t *c, const char *pn, const char *const *readers, size_t n) {
  if (!pn || !cpns_valid_id(pn) || n > CPNS_READERS_MAX) return CPNS_ERR_INVAL;
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    if (!readers[i] || !cpns_valid_id(readers[i])) {
      json_decref(arr);
      return CPNS_ERR_INVAL;
    }
    json_array_append_new(arr, json_string(readers[i]));
  }
  char path[CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "pns/%s/readers", pn);
  json_t *body = json_pack("{s:o}", "readers", arr);
  int rc = call(c, COAP_REQUEST_CODE_PUT, path, NULL, body, NULL);
  json_decref(body);
  return rc;
}
