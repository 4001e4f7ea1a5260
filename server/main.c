/* SPDX-License-Identifier: Apache-2.0 */
/* cpns-server: the CPNS Server of the operator's network. Start-up, the
 * option table, SIGHUP reload and clean shutdown; the spec functions live in
 * one file each beside this one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "trustlink.h"

#define S struct server_conf
static const struct cpns_option server_options[] = {
    CPNS_OPT_S("server", "id", S, id, "cpns-server", "Identity of this server, as gateways know it."),
    CPNS_OPT_S("server", "listen", S, listen, "0.0.0.0:5684",
               "Address and port of the CPNS-2 listener (CoAP over DTLS)."),
    CPNS_OPT_B("server", "plain", S, plain, "no",
               "Listen with plain CoAP instead of DTLS. Development only: nobody is authenticated."),
    CPNS_TRUSTED_LISTEN_OPTIONS("server", S),
    CPNS_OPT_S("server", "keyring", S, keyring, "/etc/cpns/server.keys",
               "Keyring file: identity role pn key, one a line, mode 0600 (see cpns-keyring(5))."),
    CPNS_OPT_I("server", "keyring_max", S, keyring_max, "200000", 1, 10000000, false,
               "Most entries the keyring may hold."),
    CPNS_OPT_S("server", "database", S, database, "/var/lib/cpns/server.db",
               "SQLite database holding the PN Inventory."),
    CPNS_OPT_B("server", "sync_full", S, sync_full, "no",
               "fsync every commit (survives power loss); off still survives a crash of the process."),
    CPNS_OPT_S("server", "pid_file", S, pid_file, "", "Write the process id here when set."),
    CPNS_OPT_I("limits", "max_pns", S, max_pns, "1000000", 1, 100000000, false,
               "Most PNs the inventory holds."),
    CPNS_OPT_I("limits", "max_group_members", S, max_group_members, "4096", 1, 4096, false,
               "Most members and invitations of one Service Group."),
    CPNS_OPT_I("limits", "max_entities_per_pn", S, max_entities_per_pn, "256", 1, 65536, false,
               "Most entities one PN may have."),
    CPNS_OPT_I("limits", "list_page_max", S, list_page_max, "100", 1, 1000, false,
               "Most PNs in one page of GET /pns."),
    CPNS_OPT_I("limits", "max_services", S, max_services, "1000000", 1, 100000000, false,
               "Most services the Metadata Directory holds."),
    CPNS_OPT_I("limits", "max_services_per_offerer", S, max_services_per_offerer, "64", 1, 100000000,
               false, "Most services one identity may publish."),
    CPNS_OPT_I("limits", "service_page_max", S, service_page_max, "50", 1, 1000, false,
               "Most services in one page of a lookup, and the page size when none is asked."),
    CPNS_OPT_I("limits", "lookup_budget", S, lookup_budget, "1000", 1, 1000000, false,
               "Most candidate services one lookup examines; beyond, it answers a shorter page "
               "with a cursor to go on from."),
    CPNS_OPT_I("limits", "max_interests", S, max_interests, "1000", 0, 100000, false,
               "Most saved interests (each an observable resource, within max_observables)."),
    CPNS_OPT_I("limits", "max_interests_per_owner", S, max_interests_per_owner, "8", 1, 1000, false,
               "Most interests one identity may save."),
    CPNS_OPT_I("limits", "caps_page_max", S, caps_page_max, "16", 1, 64, false,
               "Most capability documents in one page of GET /pns/{pn}/caps, and the page size "
               "when none is asked."),
    CPNS_USAGE_SERVER_OPTIONS(S),
    CPNS_NODE_LIMIT_OPTIONS(S, "4096", "128", "4096", "10000", "2000", "4"),
    CPNS_STATUS_SERVER_OPTIONS(S),
    HTTP_OPTIONS(S),
    CPNS_LOG_OPTIONS(S),
};
#undef S

static void on_hup(void *arg) {
  struct server *srv = arg;
  cpns_daemon_reload(&srv->daemon);
  if (srv->keyring)
    cpns_daemon_reload_keyring(srv->node, srv->conf.keyring, (size_t)srv->conf.keyring_max,
                               &srv->keyring);
  cpns_daemon_reload_trusted_peers(srv->node, srv->conf.trusted_peers, srv->conf.trusted_peers_max,
                                   &srv->trusted);
}

int main(int argc, char **argv) {
  static struct server srv;
  srv.daemon = (struct cpns_daemon){
      .prog = "cpns-server",
      .summary = "The CPNS Server: PN Inventory and the CPNS-2 interface for PN gateways.",
      .options = server_options,
      .noptions = sizeof server_options / sizeof server_options[0],
      .conf = &srv.conf,
      .log_level = &srv.conf.log_level,
      .log_target = srv.conf.log_target,
  };
  cpns_node_limits_default(&srv.conf.limits);
  int ex = cpns_daemon_init(&srv.daemon, argc, argv);
  if (ex >= 0) return ex;
  srv.conf.limits.keepalive = 0; /* only clients ping */

  char err[512];
  int rc = 0;
  if (srv.daemon.print_authz) {
    /* The rules as the code enforces them, without touching the network. */
    snprintf(srv.conf.listen, sizeof srv.conf.listen, "%s", "");
    snprintf(srv.conf.database, sizeof srv.conf.database, "%s", ":memory:");
    srv.conf.plain = true;
    srv.conf.trusted_listen[0] = srv.conf.trusted_peers[0] = '\0';
  }
  if (cpns_daemon_trusted_peers_load("server", srv.conf.trusted_listen, srv.conf.trusted_peers,
                                     srv.conf.trusted_peers_max, &srv.trusted))
    return CPNS_EXIT_CONFIG;
  /* A trusted link's peers are keyring identities, in plain mode too. */
  if ((!srv.conf.plain || srv.trusted) &&
      cpns_keyring_load(srv.conf.keyring, (size_t)srv.conf.keyring_max, &srv.keyring, err, sizeof err)) {
    log_err("server", "%s", err);
    cpns_trustlink_free(srv.trusted);
    return CPNS_EXIT_CONFIG;
  }
  if (cpns_store_sqlite_open(srv.conf.database,
                             srv.conf.sync_full ? CPNS_STORE_SYNC_FULL : CPNS_STORE_SYNC_NORMAL,
                             &srv.store, err, sizeof err)) {
    log_err("server", "%s", err);
    ex = CPNS_EXIT_UNAVAILABLE;
    goto out;
  }
  struct cpns_node_config nc = {
      .name = "server", .listen = srv.conf.listen, .plain = srv.conf.plain,
      .keyring = srv.keyring, .limits = srv.conf.limits,
      .trusted_listen = srv.conf.trusted_listen, .trusted_peers = srv.trusted};
  if (cpns_node_new(&nc, &srv.node, err, sizeof err)) {
    log_err("server", "%s", err);
    ex = CPNS_EXIT_UNAVAILABLE;
    goto out;
  }
  srv.links = gwlinks__new((size_t)srv.conf.limits.max_sessions);
  if (!srv.links || inventory__init(&srv) || keys__init(&srv) || groups__init(&srv) ||
      directory__init(&srv) || caps__init(&srv) || tokens__init(&srv)) {
    log_err("server", "initialization failed");
    ex = CPNS_EXIT_SOFTWARE;
    goto out;
  }
  if (status__init(&srv)) {
    log_err("server", "initialization failed (status)");
    ex = CPNS_EXIT_SOFTWARE;
    goto out;
  }
  if (usage__init(&srv)) {
    log_err("server", "initialization failed (usage)");
    ex = CPNS_EXIT_SOFTWARE;
    goto out;
  }
  cpns_node_on_session(srv.node, gwlinks__session_event, srv.links);
  if (srv.daemon.print_authz) {
    cpns_node_write_authz(srv.node, stdout);
    ex = 0;
    goto out;
  }
  /* CPNS-4: before detaching, so that a bad certificate or key stops the
   * start with its reason on the terminal. */
  if (http__init(&srv)) {
    ex = CPNS_EXIT_CONFIG;
    goto out;
  }
  ex = cpns_daemon_detach(&srv.daemon, srv.conf.pid_file);
  if (ex) goto out;
  uint64_t pns = 0;
  srv.store->ops->pn_count(srv.store, &pns);
  log_notice("server", "cpns-server %s listening on %s (%s), %zu identities, %llu PNs in %s",
             CPNS_VERSION_STRING, srv.conf.listen, srv.conf.plain ? "coap" : "coaps",
             cpns_keyring_count(srv.keyring), (unsigned long long)pns, srv.conf.database);
  rc = cpns_node_run(srv.node, on_hup, &srv);
  ex = rc ? CPNS_EXIT_SOFTWARE : 0;
  log_notice("server", "stopped");
out:
  http__free(&srv); /* its connections may still be dispatching to the node */
  gwlinks__free(srv.links);
  status__free(&srv); /* before the node: it holds references to sessions */
  cpns_node_free(srv.node);
  groups__free(&srv);
  directory__free(&srv);
  caps__free(&srv);
  keys__free(&srv);
  usage__free(&srv);
  cpns_store_close(srv.store);
  cpns_keyring_free(srv.keyring);
  cpns_trustlink_free(srv.trusted);
  if (srv.conf.pid_file[0]) remove(srv.conf.pid_file);
  return ex;
}
