/* SPDX-License-Identifier: Apache-2.0 */
/* cpns-gw: the PN Gateway. Start-up, options, reload and shutdown; PN
 * registration and management are in pn.c, the server link in upstream.c,
 * entity discovery in libcpns (neighbors.c). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enroll_client.h"
#include "gw.h"
#include "hostcaps.h"
#include "log.h"
#include "msg.h"
#include "neighbors.h"
#include "trustlink.h"

#define S struct gw_conf
static const struct cpns_option gw_options[] = {
    CPNS_OPT_S("gw", "id", S, id, "gw", "This gateway's identity (its PSK identity towards the server)."),
    CPNS_OPT_S("gw", "pn", S, pn, "home", "Id of the Personal Network this gateway serves."),
    CPNS_OPT_S("gw", "pn_name", S, pn_name, "My personal network", "Human-readable name of the PN."),
    CPNS_OPT_S("gw", "owner", S, owner, "owner", "The user who owns the PN."),
    CPNS_OPT_B("gw", "open", S, open, "yes",
               "Any PNE with a valid key may join; when no, a member must add it first."),
    CPNS_OPT_B("gw", "also_pne", S, also_pne, "no",
               "This device is also a PNE (spec Appendix B.2): advertise both roles."),
    CPNS_OPT_S("gw", "listen", S, listen, "0.0.0.0:5684",
               "Address and port of the CPNS-1 listener for PNEs (CoAP over DTLS)."),
    CPNS_OPT_B("gw", "plain", S, plain, "no", "Plain CoAP instead of DTLS. Development only."),
    CPNS_TRUSTED_LISTEN_OPTIONS("gw", S),
    CPNS_OPT_S("gw", "keyring", S, keyring, "/etc/cpns/gw.keys",
               "Keyring of the PNEs (and operators) that may connect, mode 0600."),
    CPNS_OPT_I("gw", "keyring_max", S, keyring_max, "10000", 1, 1000000, false,
               "Most entries the keyring may hold."),
    CPNS_OPT_S("gw", "database", S, database, "/var/lib/cpns/gw.db",
               "SQLite database of this PN's inventory."),
    CPNS_OPT_B("gw", "sync_full", S, sync_full, "no", "fsync every commit."),
    CPNS_OPT_S("gw", "pid_file", S, pid_file, "", "Write the process id here when set."),
    CPNS_OPT_I("gw", "lifetime", S, lifetime, "60", 2, 86400, false,
               "Seconds the PN registration lasts at the server; refreshed at half of it."),
    CPNS_OPT_S("server", "uri", S, server_uri, "coaps://127.0.0.1:5684", "The CPNS Server (CPNS-2)."),
    CPNS_TRUSTED_LINK_OPTION("server", S, "server.uri"),
    CPNS_OPT_S("server", "source", S, source, "",
               "Local address:port to send from (firewalls, NAT rules); empty = any."),
    CPNS_OPT_S("server", "key_file", S, key_file, "/etc/cpns/gw.key",
               "This gateway's Entity-User Key: 64 hex digits, mode 0600."),
    CPNS_OPT_I("server", "retry", S, retry, "2", 1, 3600, false,
               "Seconds before reconnecting; doubles up to 8 times this."),
    CPNS_DISCOVERY_OPTIONS(S, "PNEs", "256"),
    CPNS_OPT_I("limits", "max_entities", S, max_entities, "256", 1, 65536, false,
               "Most entities in the PN."),
    CPNS_OPT_I("limits", "pne_lifetime_max", S, pne_lifetime_max, "3600", 2, 86400, false,
               "Longest registration lifetime granted to a PNE."),
    CPNS_OPT_I("limits", "caps_page_max", S, caps_page_max, "16", 1, 64, false,
               "Most capability documents in one page of GET /pns/{pn}/caps."),
    CPNS_OPT_I("limits", "caps_reports_per_minute", S, caps_reports_per_minute, "60", 0, 60000,
               false, "Capability reports (PUT, PATCH) one PNE may make a minute after a burst of "
               "5; beyond, 4.29. 0 = no bound."),
    CPNS_OPT_I("limits", "max_relayed_interests", S, max_relayed_interests, "64", 1, 10000, false,
               "Interests of the PN's PNEs observed at the server at once for them (one upstream "
               "observation each, shared by its observers here); beyond, 5.03."),
    CPNS_CAPS_OPTIONS(S),
    CPNS_USAGE_GW_OPTIONS(S),
    CPNS_NODE_LIMIT_OPTIONS(S, "512", "32", "1024", "10000", "1000", "3"),
    CPNS_OPT_I("limits", "keepalive", S, limits.keepalive, "15", 0, 3600, false,
               "Seconds between pings on the server session (keeps NAT mappings); 0 = off."),
    CPNS_STATUS_GW_OPTIONS(S),
    CPNS_LOG_OPTIONS(S),
};
#undef S

static struct cpns_neighbors *g_neighbors;

static void get_neighbors(struct cpns_req *req, void *arg) {
  (void)arg;
  cpns_reply(req, 205, cpns_neighbors_json(g_neighbors));
}

/* `cpns-gw -c FILE --enroll CODE`: this gateway's first key, issued by the
 * server for an enrollment of role gw (`cpnsctl enroll ID PN gw`), redeemed
 * directly at [server] uri as "enroll.<[gw] id>" and written to [server]
 * key_file, which must not exist yet. No listener, database or keyring is
 * opened: this runs before them, and exits. */
static int enroll_self(const struct gw_conf *conf, const char *arg) {
  char code[CPNS_ENROLL_CODE_LEN + 1];
  if (cpns_enroll_code_parse(arg, code)) {
    log_err("enroll", "an enrollment code is %d characters of a-z and 2-7", CPNS_ENROLL_CODE_LEN);
    return CPNS_EXIT_USAGE;
  }
  if (strncmp(conf->server_uri, "coaps://", 8) != 0) {
    OPENSSL_cleanse(code, sizeof code);
    log_err("enroll", "[server] uri must be coaps:// to enroll");
    return CPNS_EXIT_CONFIG;
  }
  /* The server knows the code-derived PSK at once: a second attempt is
   * only for a lost datagram. */
  struct cpns_enroll_client ec = {.uri = conf->server_uri,
                                  .id = conf->id,
                                  .key_file = conf->key_file,
                                  .peer_name = "server",
                                  .expect_pn = conf->pn,
                                  .attempts = 2,
                                  .timeout_ms = 4000};
  int rc = cpns_enroll_redeem(&ec, code);
  OPENSSL_cleanse(code, sizeof code);
  return cpns_enroll_exit_status(rc);
}

static void on_hup(void *arg) {
  struct gw *gw = arg;
  cpns_daemon_reload(&gw->daemon);
  if (gw->keyring)
    cpns_daemon_reload_keyring(gw->node, gw->conf.keyring, (size_t)gw->conf.keyring_max, &gw->keyring);
  cpns_daemon_reload_trusted_peers(gw->node, gw->conf.trusted_peers, gw->conf.trusted_peers_max,
                                   &gw->trusted);
  caps__reload(gw);
}

int main(int argc, char **argv) {
  static struct gw gw;
  gw.daemon = (struct cpns_daemon){
      .prog = "cpns-gw",
      .summary = "The PN Gateway: discovers PNEs, keeps the PN Inventory, links the PN to the CPNS Server.",
      .options = gw_options,
      .noptions = sizeof gw_options / sizeof gw_options[0],
      .conf = &gw.conf,
      .log_level = &gw.conf.log_level,
      .log_target = gw.conf.log_target,
      .accepts_enroll = true,
  };
  cpns_node_limits_default(&gw.conf.limits);
  int ex = cpns_daemon_init(&gw.daemon, argc, argv);
  if (ex >= 0) return ex;
  char err[512];
  if (gw.daemon.print_authz) {
    gw.conf.listen[0] = '\0';
    gw.conf.discovery = false;
    gw.conf.plain = true;
    snprintf(gw.conf.server_uri, sizeof gw.conf.server_uri, "%s", "coap://127.0.0.1:1");
    snprintf(gw.conf.database, sizeof gw.conf.database, "%s", ":memory:");
    gw.conf.trusted_listen[0] = gw.conf.trusted_peers[0] = '\0';
    gw.conf.trusted_link = false;
  }
  if (!cpns_valid_id(gw.conf.id) || !cpns_valid_id(gw.conf.pn)) {
    log_err("gw", "gw.id and gw.pn must be ids ([A-Za-z0-9._-], 1..64)");
    return CPNS_EXIT_CONFIG;
  }
  if (gw.daemon.enroll_code) return enroll_self(&gw.conf, gw.daemon.enroll_code);
  if (cpns_daemon_check_link("server.uri", gw.conf.server_uri, "server", gw.conf.trusted_link,
                             gw.conf.plain) ||
      cpns_daemon_trusted_peers_load("gw", gw.conf.trusted_listen, gw.conf.trusted_peers,
                                     gw.conf.trusted_peers_max, &gw.trusted))
    return CPNS_EXIT_CONFIG;
  /* A trusted link's peers are keyring identities, in plain mode too. */
  if (((!gw.conf.plain || gw.trusted) &&
       cpns_keyring_load(gw.conf.keyring, (size_t)gw.conf.keyring_max, &gw.keyring, err, sizeof err)) ||
      (strncmp(gw.conf.server_uri, "coaps:", 6) == 0 &&
       cpns_key_read_file(gw.conf.key_file, gw.key, err, sizeof err))) {
    log_err("gw", "%s", err);
    return CPNS_EXIT_CONFIG;
  }
  if (cpns_store_sqlite_open(gw.conf.database,
                             gw.conf.sync_full ? CPNS_STORE_SYNC_FULL : CPNS_STORE_SYNC_NORMAL,
                             &gw.store, err, sizeof err)) {
    log_err("gw", "%s", err);
    ex = CPNS_EXIT_UNAVAILABLE;
    goto out;
  }
  struct cpns_node_config nc = {
      .name = "gw", .listen = gw.conf.listen, .plain = gw.conf.plain, .keyring = gw.keyring,
      .discovery = gw.conf.discovery ? gw.conf.discovery_listen : NULL,
      .multicast = gw.conf.multicast, .mcast_ifname = gw.conf.interface, .client_source = gw.conf.source, .limits = gw.conf.limits,
      .trusted_listen = gw.conf.trusted_listen, .trusted_peers = gw.trusted,
      .trusted_upstream = gw.conf.trusted_link ? gw.conf.server_uri : NULL};
  if (cpns_node_new(&nc, &gw.node, err, sizeof err)) {
    log_err("gw", "%s", err);
    ex = CPNS_EXIT_UNAVAILABLE;
    goto out;
  }
  if (pn__init(&gw) || upstream__init(&gw) || keys__init(&gw) || groups__init(&gw) ||
      caps__init(&gw) ||
      services__init(&gw) || usage__init(&gw) ||
      cpns_node_route_as(gw.node, COAP_REQUEST_CODE_GET, "neighbors", CPNS_REL_ANY, "read",
                         get_neighbors, &gw)) {
    log_err("gw", "initialization failed");
    ex = CPNS_EXIT_SOFTWARE;
    goto out;
  }
  if (status__init(&gw)) {
    log_err("gw", "initialization failed (status)");
    ex = CPNS_EXIT_SOFTWARE;
    goto out;
  }
  struct cpns_neighbors_config ncfg = {
      .self_id = gw.conf.id,
      .self_pn = gw.conf.pn,
      .self_roles = CPNS_ROLE_GW | (gw.conf.also_pne ? CPNS_ROLE_PNE : 0),
      .secure_port = cpns_daemon_port_of(gw.conf.listen, 5684),
      .rt_filter = "cpns.*",
      .period = gw.conf.discovery ? gw.conf.discovery_period : 0,
      .unicast = gw.conf.discovery_unicast[0] ? gw.conf.discovery_unicast : NULL,
      .discovery = {.port = cpns_daemon_port_of(gw.conf.discovery_listen, 5683),
                    .ifname = gw.conf.interface[0] ? gw.conf.interface : NULL,
                    .max_entries = (size_t)gw.conf.max_neighbors,
                    .max_age = gw.conf.neighbor_max_age,
                    .self_id = gw.conf.id},
  };
  if (cpns_neighbors_start(gw.node, &ncfg, &g_neighbors)) {
    log_err("gw", "cannot start discovery");
    ex = CPNS_EXIT_UNAVAILABLE;
    goto out;
  }
  if (gw.daemon.print_authz) {
    cpns_node_write_authz(gw.node, stdout);
    ex = 0;
    goto out;
  }
  ex = cpns_daemon_detach(&gw.daemon, gw.conf.pid_file);
  if (ex) goto out;
  log_notice("gw", "cpns-gw %s: PN %s, CPNS-1 on %s (%s), server %s", CPNS_VERSION_STRING,
             gw.conf.pn, gw.conf.listen, gw.conf.plain ? "coap" : "coaps", gw.conf.server_uri);
  ex = cpns_node_run(gw.node, on_hup, &gw) ? CPNS_EXIT_SOFTWARE : 0;
  log_notice("gw", "stopped");
out:
  cpns_neighbors_free(g_neighbors);
  status__free(); /* before the node: it holds references to sessions */
  services__free(); /* likewise */
  cpns_node_free(gw.node); /* first: its last callbacks still use gw.up */
  upstream__free(gw.up);
  groups__free();
  caps__free();
  keys__free();
  usage__free(); /* after the node: its last callbacks still use it */
  cpns_store_close(gw.store);
  cpns_keyring_free(gw.keyring);
  cpns_trustlink_free(gw.trusted);
  if (gw.conf.pid_file[0]) remove(gw.conf.pid_file);
  return ex;
}
