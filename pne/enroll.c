/* SPDX-License-Identifier: Apache-2.0 */
/* Enrollment of a new PNE (spec 5.5.7.2): `cpns-pne -c FILE --enroll CODE`.
 * The device derives a PSK from its one-time code, opens a DTLS session to
 * its gateway as "enroll.<id>" (the gateway obtains the same PSK from the
 * server, so the first handshake may fail while it does: we retry), asks
 * for its key, and writes it to its key file, readable by its user alone.
 * The code is never logged nor written anywhere. */
#include <cpns/client.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discovery.h"
#include "enroll.h"
#include "log.h"
#include "msg.h"
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

/* Writes the key file atomically, mode 0600. */
static int write_key(const char *path, const char *hex) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return CPNS_ERR_IO;
  size_t len = strlen(hex);
  bool ok = write(fd, hex, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return CPNS_ERR_IO;
  }
  return 0;
}

int enroll__run(struct pne *p, const char *code) {
  char identity[CPNS_ID_MAX + 1], uri[256];
  uint8_t psk[CPNS_PSK_LEN];
  if (cpns_enroll_identity(p->conf.id, identity) || cpns_enroll_psk(code, identity, psk)) {
    log_err(MOD, "pne.id is too long to enroll");
    return CPNS_EXIT_CONFIG;
  }
  if (find_gateway(p, uri, sizeof uri)) {
    log_err(MOD, "no gateway: set [pne] gateway, or [discovery] unicast/multicast");
    OPENSSL_cleanse(psk, sizeof psk);
    return CPNS_EXIT_UNAVAILABLE;
  }
  int ex = CPNS_EXIT_UNAVAILABLE;
  for (int attempt = 1; attempt <= ENROLL_ATTEMPTS; attempt++) {
    cpns_client_config_t cfg = CPNS_CLIENT_CONFIG_INIT;
    cfg.uri = uri;
    cfg.identity = identity;
    cfg.key = psk;
    cfg.timeout_ms = 4000;
    cpns_client_t *c;
    if (cpns_client_new(&cfg, &c)) break;
    char *answer = NULL;
    int rc = cpns_client_request(c, "POST", "enroll", NULL, NULL, &answer);
    int status = cpns_client_status(c);
    if (rc && status) log_err(MOD, "the gateway refused: %s", cpns_client_error(c));
    cpns_client_free(c);
    if (rc && status) {
      ex = CPNS_EXIT_CONFIG; /* a wrong, used or expired code: retrying will not help */
      break;
    }
    if (rc) {
      log_info(MOD, "attempt %d: no answer yet from %s", attempt, uri);
      sleep(1);
      continue;
    }
    json_t *doc = answer ? json_loads(answer, 0, NULL) : NULL;
    if (answer) OPENSSL_cleanse(answer, strlen(answer));
    free(answer);
    const char *hex = json_string_value(json_object_get(doc, "key"));
    uint8_t check[CPNS_PSK_LEN];
    if (!hex || cpns_key_from_hex(hex, check) || write_key(p->conf.key_file, hex)) {
      log_err(MOD, "cannot store the key in %s", p->conf.key_file);
      ex = CPNS_EXIT_SOFTWARE;
    } else {
      log_notice(MOD, "%s enrolled through %s; key written to %s", p->conf.id, uri, p->conf.key_file);
      ex = 0;
    }
    OPENSSL_cleanse(check, sizeof check);
    json_decref(doc);
    break;
  }
  OPENSSL_cleanse(psk, sizeof psk);
  if (ex == CPNS_EXIT_UNAVAILABLE)
    log_err(MOD, "no session with %s: a wrong, used or expired code, or no gateway there", uri);
  return ex;
}
