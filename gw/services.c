/* SPDX-License-Identifier: Apache-2.0 */
/* Service publication and discovery at the gateway (spec 5.5.5): the
 * Metadata Directory is the server's, so the gateway relays its PNEs'
 * requests about services and interests (CPNS-1) to the server on its own
 * CPNS-2 session, On-Behalf-Of the PNE. The server then sees the PNE as the
 * caller, in this gateway's PN: it is the offerer of what it publishes, sees
 * what this PN may see, and its rules decide the rest. Only PNEs registered
 * in this PN are relayed. While the server is unreachable there is no
 * directory to ask: 5.03.
 *
 * The advertisement: a PNE observing its interest here (GET
 * interests/{id} with Observe) is relayed as an observation at the server
 * On-Behalf-Of that PNE (lib/status_mirror.c, relay mode): one upstream
 * observation per interest and PNE, shared by all that PNE's observers of
 * it, ended with the last of them, at most [limits] max_relayed_interests
 * at once. Each notification of the server is passed on; a 4.03 or 4.04
 * ends the PNE's observations with it. After every registration with the
 * server (it may have restarted: libcoap does not keep observers across
 * restarts) and every SERVICES_RENEW_S, the upstream observations are
 * registered again. */
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "log.h"
#include "msg.h"
#include "obsclient.h"
#include "status_mirror.h"

#define MOD "services"
/* Seconds between registrations of a relayed observation at the server:
 * bounds how long a server restart that the gateway did not notice (its
 * session outlived it) leaves an interest's observers unserved. */
#define SERVICES_RENEW_S 20
#define SERVICES_TICK_MS 500

static struct {
  struct gw *gw;
  struct cpns_obsclient *oc;
  struct cpns_status_mirror *mirror;
  bool was_ready;
} GV;

static coap_session_t *upstream_of(void *arg) { return upstream__session(arg); }

static void relay(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  if (!upstream__ready(gw)) {
    cpns_reply_error(req, 503, "the server is unreachable: no directory to ask");
    return;
  }
  cpns_relay_for(req, upstream__session(gw), req->peer->identity);
}

/* GET interests/{id}: with Observe, relayed as an observation (one per
 * interest and PNE); otherwise as any request. */
static void get_interest(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  const char *id = req->seg[1];
  if (cpns_valid_id(id) && GV.mirror) {
    char topic[CPNS_TOPIC_MAX + 1], path[CPNS_ID_MAX + 16];
    /* Keyed by the PNE too: the server decides per owner, so two PNEs never
     * share what only one of them may read. */
    snprintf(topic, sizeof topic, "%s/%s", req->peer->identity, id);
    snprintf(path, sizeof path, "interests/%s", id);
    if (cpns_status_mirror_relay(GV.mirror, req, topic, path, req->peer->identity)) return;
  }
  relay(req, gw);
}

static void tick(void *arg) {
  (void)arg;
  bool ready = upstream__ready(GV.gw);
  /* (Re)registered: the server may have restarted and forgotten them. */
  if (ready && !GV.was_ready) cpns_status_mirror_renew(GV.mirror);
  GV.was_ready = ready;
}

int services__init(struct gw *gw) {
  memset(&GV, 0, sizeof GV);
  GV.gw = gw;
  int rc = cpns_obsclient_new(gw->node, &GV.oc);
  struct cpns_status_mirror_config mc = {.name = MOD,
                                         .node = gw->node,
                                         .oc = GV.oc,
                                         .upstream = upstream_of,
                                         .arg = gw,
                                         .max_entities = (size_t)gw->conf.max_relayed_interests,
                                         .max_observers = (size_t)gw->conf.limits.max_observers,
                                         .renew_s = SERVICES_RENEW_S,
                                         .trim_array = "events"};
  if (!rc) rc = cpns_status_mirror_new(&mc, &GV.mirror);
  if (!rc) rc = cpns_node_every(gw->node, SERVICES_TICK_MS, tick, NULL);
  if (rc) return rc;
  static const struct {
    coap_pdu_code_t method;
    const char *path, *action;
    cpns_handler_fn fn;
  } routes[] = {
      {COAP_REQUEST_CODE_POST, "services", "publish services", relay},
      {COAP_REQUEST_CODE_GET, "services", "look up services", relay},
      {COAP_REQUEST_CODE_FETCH, "services", "look up services", relay},
      {COAP_REQUEST_CODE_GET, "services/*", "read services", relay},
      {COAP_REQUEST_CODE_PUT, "services/*", "change services", relay},
      {COAP_REQUEST_CODE_POST, "services/*", "refresh services", relay},
      {COAP_REQUEST_CODE_DELETE, "services/*", "remove services", relay},
      {COAP_REQUEST_CODE_POST, "interests", "save interests", relay},
      {COAP_REQUEST_CODE_GET, "interests", "list interests", relay},
      {COAP_REQUEST_CODE_GET, "interests/*", "read interests", get_interest},
      {COAP_REQUEST_CODE_DELETE, "interests/*", "remove interests", relay},
  };
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    rc |= cpns_node_route_as(gw->node, routes[i].method, routes[i].path, CPNS_REL_MEMBER,
                             routes[i].action, routes[i].fn, gw);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void services__free(void) {
  cpns_status_mirror_free(GV.mirror);
  cpns_obsclient_free(GV.oc);
  GV.mirror = NULL;
  GV.oc = NULL;
}
