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
 * An interest's Observe is not relayed (a relay carries one request and one
 * answer): a PNE reads its interest's events with GET through the gateway,
 * or observes it at the server directly when it may reach it. */
#include <string.h>

#include "gw.h"
#include "log.h"

static void relay(struct cpns_req *req, void *arg) {
  struct gw *gw = arg;
  if (!upstream__ready(gw)) {
    cpns_reply_error(req, 503, "the server is unreachable: no directory to ask");
    return;
  }
  cpns_relay_for(req, upstream__session(gw), req->peer->identity);
}

int services__init(struct gw *gw) {
  static const struct {
    coap_pdu_code_t method;
    const char *path, *action;
  } routes[] = {
      {COAP_REQUEST_CODE_POST, "services", "publish services"},
      {COAP_REQUEST_CODE_GET, "services", "look up services"},
      {COAP_REQUEST_CODE_FETCH, "services", "look up services"},
      {COAP_REQUEST_CODE_GET, "services/*", "read services"},
      {COAP_REQUEST_CODE_PUT, "services/*", "change services"},
      {COAP_REQUEST_CODE_POST, "services/*", "refresh services"},
      {COAP_REQUEST_CODE_DELETE, "services/*", "remove services"},
      {COAP_REQUEST_CODE_POST, "interests", "save interests"},
      {COAP_REQUEST_CODE_GET, "interests", "list interests"},
      {COAP_REQUEST_CODE_GET, "interests/*", "read interests"},
      {COAP_REQUEST_CODE_DELETE, "interests/*", "remove interests"},
  };
  int rc = 0;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    rc |= cpns_node_route_as(gw->node, routes[i].method, routes[i].path, CPNS_REL_MEMBER,
                             routes[i].action, relay, gw);
  return rc ? CPNS_ERR_LIMIT : 0;
}
