/* SPDX-License-Identifier: Apache-2.0 */
/* Enrollment of a new PNE (spec 5.5.7.2): `cpns-pne -c FILE --enroll CODE`.
 * The PNE finds its gateway (configured or discovered) and redeems its
 * one-time code there as "enroll.<id>" (lib/enroll_client.c, shared with
 * `cpns-gw --enroll`). The gateway obtains the code-derived PSK from the
 * server, so the first handshake fails while it does: several attempts.
 * The code is never logged nor written anywhere. */
#include <cpns/client.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "enroll_client.h"
#include "log.h"
#include "pne.h"

#define MOD "enroll"
#define ENROLL_ATTEMPTS 8        /* handshakes tried (the first may fail) */
#define ENROLL_DISCOVERY_ROUNDS 6 /* one-second discovery rounds */

struct pick {
  char *uri;
  size_t len;
  const char *pn;
  bool found;
};

static int pick_gateway(void *arg, const struct cpns_discovered *e) {
  struct pick *c = arg;
  if (!(e->roles & CPNS_ROLE_GW) || (c->pn[0] && strcmp(c->pn, e->pn) != 0)) return 0;
  bool v6 = strchr(e->host, ':') != NULL;
  snprintf(c->uri, c->len, "coaps://%s%s%s:%u", v6 ? "[" : "", e->host, v6 ? "]" : "",
           (unsigned)e->port);
  c->found = true;
  return 1;
}

/* The configured gateway, or the first one discovered (of our PN if set). */
static int find_gateway(struct pne *p, char *uri, size_t urilen) {
  if (p->conf.gateway[0]) {
    snprintf(uri, urilen, "%s", p->conf.gateway);
    return 0;
  }
  struct cpns_discovery_config dc = {.port = cpns_daemon_port_of(p->conf.discovery_listen, 5683),
                                     .ifname = p->conf.interface[0] ? p->conf.interface : NULL,
                                     .max_entries = 64,
                                     .max_age = 60,
                                     .self_id = p->conf.id};
  struct cpns_discovery *d;
  if (cpns_discovery_new(&dc, &d)) return CPNS_ERR_IO;
  struct pick c = {uri, urilen, p->conf.pn, false};
  for (int round = 0; !c.found && round < ENROLL_DISCOVERY_ROUNDS; round++) {
    cpns_discovery_search(d, "cpns.gw");
    if (p->conf.discovery_unicast[0]) cpns_discovery_search_unicast(d, p->conf.discovery_unicast);
    struct pollfd pfd = {cpns_discovery_fd(d), POLLIN, 0};
    if (poll(&pfd, 1, 1000) > 0) cpns_discovery_read(d);
    cpns_discovery_foreach(d, pick_gateway, &c);
  }
  cpns_discovery_free(d);
  return c.found ? 0 : CPNS_ERR_NOTFOUND;
}

int enroll__run(struct pne *p, const char *arg) {
  char code[CPNS_ENROLL_CODE_LEN + 1], uri[256];
  if (cpns_enroll_code_parse(arg, code)) {
    log_err(MOD, "an enrollment code is %d characters of a-z and 2-7", CPNS_ENROLL_CODE_LEN);
    return CPNS_EXIT_USAGE;
  }
  if (find_gateway(p, uri, sizeof uri)) {
    log_err(MOD, "no gateway: set [pne] gateway, or [discovery] unicast/multicast");
    OPENSSL_cleanse(code, sizeof code);
    return CPNS_EXIT_UNAVAILABLE;
  }
  struct cpns_enroll_client ec = {.uri = uri,
                                  .id = p->conf.id,
                                  .key_file = p->conf.key_file,
                                  .peer_name = "gateway",
                                  .expect_pn = p->conf.pn,
                                  .attempts = ENROLL_ATTEMPTS,
                                  .timeout_ms = 4000};
  int rc = cpns_enroll_redeem(&ec, code);
  OPENSSL_cleanse(code, sizeof code);
  return cpns_enroll_exit_status(rc);
}
