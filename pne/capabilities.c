/* SPDX-License-Identifier: Apache-2.0 */
/* The PNE's device capabilities (spec 5.5.1): read from the host and the
 * configuration (lib/hostcaps.h), served to the device's applications and
 * its gateway at self/caps (CPNS-5, CPNS-6; observable), and reported to
 * the gateway (CPNS-1): the whole document at each registration, then, when
 * the dynamic part (read every [capabilities] period) or the file changed,
 * only what changed as a merge patch (RFC 7386) from the revision the
 * gateway acknowledged, at most once per [capabilities] min_interval. A
 * gateway that holds another revision or none answers 4.12 or 4.04, and
 * the whole document goes again. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capabilities.h"
#include "hostcaps.h"
#include "log.h"
#include "pne.h"

#define MOD "caps"
#define SELF_PATH "self/caps"

struct pne_caps {
  struct cpns_hostcaps *host;
  json_t *doc;        /* the document now */
  json_t *acked;      /* what the gateway acknowledged; NULL: send it whole */
  uint64_t acked_rev; /* the gateway's revision of it */
  json_t *flying;     /* the document of the request in flight, or NULL */
  bool flying_patch;
  bool whole_now;     /* the gateway refused a patch: the whole, without waiting */
  time_t next_read, next_send;
};

static struct pne_caps C;

static struct cpns_hostcaps_config host_config(const struct pne *p) {
  return (struct cpns_hostcaps_config){p->conf.caps_host, p->conf.caps_file,
                                       p->conf.caps_power_supply, p->conf.type};
}

static void try_send(struct pne *p);

/* Reads the document; observers of self/caps hear of a change. */
static void read_now(struct pne *p) {
  json_t *doc = cpns_hostcaps_document(C.host);
  if (!doc) return;
  if (C.doc && json_equal(doc, C.doc)) {
    json_decref(doc);
    return;
  }
  json_decref(C.doc);
  C.doc = doc;
  cpns_node_notify(p->node, SELF_PATH);
}

static void answered(void *arg, int code, const json_t *body, const char *diag) {
  struct pne *p = arg;
  json_t *doc = C.flying;
  C.flying = NULL;
  json_t *rev = json_object_get(body, "rev");
  if ((code == 201 || code == 204) && json_is_integer(rev) && json_integer_value(rev) > 0) {
    json_decref(C.acked);
    C.acked = doc;
    C.acked_rev = (uint64_t)json_integer_value(rev);
    C.whole_now = false;
    log_debug(MOD, "gateway holds our capabilities at rev %llu", (unsigned long long)C.acked_rev);
  } else {
    json_decref(doc);
    if (C.flying_patch && (code == 404 || code == 412)) {
      log_info(MOD, "gateway answered %d to a patch (%s): sending the whole document", code, diag);
      json_decref(C.acked);
      C.acked = NULL;
      C.whole_now = true;
    } else {
      C.whole_now = false; /* no loop: the next try waits for min_interval */
      if (code == 429)
        CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "gateway: %s; min_interval is below its bound", diag);
      else if (code < 0)
        log_info(MOD, "gateway did not answer a capability report; will try again");
      else
        CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "gateway refused our capabilities: %d %s", code, diag);
    }
  }
  if (!cpns_node_stopping(p->node)) try_send(p);
}

/* Sends what the gateway lacks, if anything, within the rate bound. */
static void try_send(struct pne *p) {
  if (p->state != PNE_REGISTERED || !p->session || C.flying || !C.doc) return;
  if (C.acked && json_equal(C.acked, C.doc)) return;
  time_t now = time(NULL);
  if (now < C.next_send && !C.whole_now) return;
  json_t *body = NULL;
  char query[32] = "";
  coap_pdu_code_t method = COAP_REQUEST_CODE_PUT;
  if (C.acked && !C.whole_now) {
    body = cpns_capdoc_diff(C.acked, C.doc);
    method = COAP_REQUEST_CODE_PATCH;
    snprintf(query, sizeof query, "base=%llu", (unsigned long long)C.acked_rev);
  }
  if (!body) {
    method = COAP_REQUEST_CODE_PUT;
    query[0] = '\0';
    body = json_incref(C.doc);
  }
  char path[2 * CPNS_ID_MAX + 32];
  snprintf(path, sizeof path, "pns/%s/entities/%s/caps", p->pn, p->conf.id);
  C.flying = json_incref(C.doc);
  C.flying_patch = method == COAP_REQUEST_CODE_PATCH;
  C.whole_now = false;
  C.next_send = now + p->conf.caps_min_interval;
  if (cpns_node_request(p->node, p->session, method, path, query[0] ? query : NULL, body, answered,
                        p)) {
    json_decref(C.flying);
    C.flying = NULL;
  }
  json_decref(body);
}

static void tick(void *arg) {
  struct pne *p = arg;
  time_t now = time(NULL);
  if (now >= C.next_read) {
    C.next_read = now + p->conf.caps_period;
    read_now(p);
  }
  try_send(p);
}

void caps__registered(struct pne *p) {
  /* Static capabilities go once at each registration: the gateway may be
   * another one, or have restarted without them. */
  json_decref(C.acked);
  C.acked = NULL;
  C.whole_now = true;
  try_send(p);
}

void caps__reload(struct pne *p) {
  struct cpns_hostcaps_config c = host_config(p);
  cpns_hostcaps_reload(C.host, &c);
  read_now(p);
  C.next_read = time(NULL) + p->conf.caps_period;
  try_send(p);
}

/* A usage record's snapshot (usage.c): the battery and a network in use,
 * as last read, where the application left them unknown. */
static void usage_snapshot(void *arg, cpns_usage_device_t *d) {
  (void)arg;
  const json_t *dyn = json_object_get(C.doc, "dynamic");
  const json_t *bat = json_object_get(dyn, "battery");
  const json_t *level = json_object_get(bat, "level"), *charging = json_object_get(bat, "charging");
  if (d->battery < 0 && json_is_integer(level) && json_integer_value(level) >= 0 &&
      json_integer_value(level) <= 100)
    d->battery = (int)json_integer_value(level);
  if (d->charging < 0 && json_is_boolean(charging)) d->charging = json_is_true(charging) ? 1 : 0;
  if (d->network[0]) return;
  const char *name;
  json_t *net;
  json_object_foreach(json_object_get(dyn, "networks"), name, net) {
    const char *type = json_string_value(json_object_get(net, "type"));
    if (type && strcmp(type, "other") != 0 && strlen(type) <= CPNS_USAGE_NETWORK_MAX) {
      snprintf(d->network, sizeof d->network, "%s", type);
      return;
    }
  }
}

/* GET self/caps: the document as this PNE reports it, with the revision
 * its gateway acknowledged (0 before). */
static void get_self_caps(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  json_t *env = json_pack("{s:s, s:I}", "id", p->conf.id, "rev", (json_int_t)C.acked_rev);
  if (p->pn[0]) json_object_set_new(env, "pn", json_string(p->pn));
  if (C.doc) json_object_update(env, C.doc);
  cpns_reply(req, 205, env);
}

int caps__init(struct pne *p) {
  struct cpns_hostcaps_config c = host_config(p);
  int rc = cpns_hostcaps_new(&c, MOD, &C.host);
  if (rc) return rc;
  read_now(p);
  C.next_read = time(NULL) + p->conf.caps_period;
  usage__add_snapshot_source(usage_snapshot, NULL);
  rc |= cpns_node_route_as(p->node, COAP_REQUEST_CODE_GET, SELF_PATH, CPNS_REL_ANY, "read",
                           get_self_caps, p);
  rc |= cpns_node_observable(p->node, SELF_PATH);
  rc |= cpns_node_every(p->node, 1000, tick, p);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void caps__free(void) {
  json_decref(C.doc);
  json_decref(C.acked);
  json_decref(C.flying);
  cpns_hostcaps_free(C.host);
  memset(&C, 0, sizeof C);
}
