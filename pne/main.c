/* SPDX-License-Identifier: Apache-2.0 */
/* cpns-pne: the PNE agent of a personal device. Start-up, options, reload
 * and shutdown; registration is in agent.c, the application interface
 * (CPNS-5) in local.c, discovery in libcpns (neighbors.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostcaps.h"
#include "log.h"
#include "msg.h"
#include "pne.h"
#include "trustlink.h"

/* Applications on one device: a handful; the bound keeps a stray file small. */
#define PNE_APP_KEYS_MAX 1024

#define S struct pne_conf
static const struct cpns_option pne_options[] = {
    CPNS_OPT_S("pne", "id", S, id, "pne", "This PNE's identity (its PSK identity towards the gateway)."),
    CPNS_OPT_S("pne", "name", S, name, "", "Human-readable name of the device."),
    CPNS_OPT_S("pne", "type", S, type, "device", "Device type, e.g. phone, mp3-player, set-top-box."),
    CPNS_OPT_S("pne", "pn", S, pn, "", "PN to join; empty = the PN of the first gateway discovered."),
    CPNS_OPT_S("pne", "source", S, source, "",
               "Local address:port to send from (firewalls, NAT rules); empty = any."),
    CPNS_OPT_S("pne", "key_file", S, key_file, "/etc/cpns/pne.key",
               "This PNE's Entity-User Key: 64 hex digits, mode 0600."),
    CPNS_OPT_S("pne", "gateway", S, gateway, "",
               "The gateway, coaps://host:port; empty = find one by discovery."),
    CPNS_TRUSTED_LINK_OPTION("pne", S, "pne.gateway"),
    CPNS_OPT_I("pne", "lifetime", S, lifetime, "60", 2, 86400, false,
               "Seconds a registration lasts; refreshed at half of it."),
    CPNS_OPT_B("pne", "auto_join", S, auto_join, "yes", "Join the PN at start (unless it was left)."),
    CPNS_OPT_I("pne", "retry", S, retry, "2", 1, 3600, false, "Seconds between attempts to register."),
    CPNS_OPT_S("pne", "state_file", S, state_file, "",
               "Remembers a leave across restarts; empty = not remembered."),
    CPNS_OPT_S("pne", "pid_file", S, pid_file, "", "Write the process id here when set."),
    CPNS_OPT_S("local", "listen", S, local_listen, "127.0.0.1:5694",
               "CPNS-5 listener for applications on this device (CoAP over DTLS)."),
    CPNS_OPT_B("local", "plain", S, local_plain, "no", "Plain CoAP on the CPNS-5 listener. Development only."),
    CPNS_TRUSTED_LISTEN_OPTIONS("local", S),
    CPNS_OPT_S("local", "keyring", S, local_keyring, "/etc/cpns/pne-apps.keys",
               "Keys of the applications (role app) that may use this PNE, mode 0600."),
    CPNS_DISCOVERY_OPTIONS(S, "gateways and PNEs", "64"),
    CPNS_CAPS_OPTIONS(S),
    CPNS_USAGE_PNE_OPTIONS(S),
    CPNS_NODE_LIMIT_OPTIONS(S, "32", "8", "64", "8000", "1000", "2"),
    CPNS_OPT_I("limits", "keepalive", S, limits.keepalive, "15", 0, 3600, false,
               "Seconds between pings on the gateway session; 0 = off."),
    CPNS_STATUS_PNE_OPTIONS(S),
    CPNS_OPT_S("services", "interests", S, interests, "",
               "This PNE's own interests, saved through its gateway after each registration and "
               "observed: lookup queries as in GET /services, without paging, separated by ';' "
               "(e.g. kw=tv,video&match=any; kw=radio), at most 8. Each new matching service is "
               "an advert (logged, kept, GET /self/adverts)."),
    CPNS_OPT_I("services", "max_adverts", S, max_adverts, "32", 1, 1024, false,
               "Adverts kept for GET /self/adverts (the latest)."),
    CPNS_OPT_I("services", "max_relayed", S, max_relayed_interests, "16", 1, 1000, false,
               "Interests observed at the gateway at once (the PNE's own and its applications'; one "
               "observation each, shared by its observers here); beyond, 5.03."),
    CPNS_LOG_OPTIONS(S),
};
#undef S

static void on_hup(void *arg) {
  struct pne *p = arg;
  cpns_daemon_reload(&p->daemon);
  if (p->keyring)
    cpns_daemon_reload_keyring(p->node, p->conf.local_keyring, PNE_APP_KEYS_MAX, &p->keyring);
  cpns_daemon_reload_trusted_peers(p->node, p->conf.trusted_peers, p->conf.trusted_peers_max,
                                   &p->trusted);
  caps__reload(p);
}

int main(int argc, char **argv) {
  static struct pne p;
  p.daemon = (struct cpns_daemon){
      .prog = "cpns-pne",
      .summary = "The PNE agent: registers this device in its Personal Network and serves its applications.",
      .options = pne_options,
      .noptions = sizeof pne_options / sizeof pne_options[0],
      .conf = &p.conf,
      .log_level = &p.conf.log_level,
      .log_target = p.conf.log_target,
      .accepts_enroll = true,
  };
  cpns_node_limits_default(&p.conf.limits);
  int ex = cpns_daemon_init(&p.daemon, argc, argv);
  if (ex >= 0) return ex;
  char err[512];
  if (!cpns_valid_id(p.conf.id) || (p.conf.pn[0] && !cpns_valid_id(p.conf.pn))) {
    log_err("pne", "pne.id and pne.pn must be ids ([A-Za-z0-9._-], 1..64)");
    return CPNS_EXIT_CONFIG;
  }
  if (p.daemon.print_authz) {
    p.conf.local_listen[0] = '\0';
    p.conf.local_plain = true;
    p.conf.discovery = false;
    p.conf.trusted_listen[0] = p.conf.trusted_peers[0] = '\0';
  }
  if (p.daemon.enroll_code) return enroll__run(&p, p.daemon.enroll_code);
  if (!p.conf.name[0]) snprintf(p.conf.name, sizeof p.conf.name, "%s", p.conf.id);
  if (cpns_daemon_check_link("pne.gateway", p.conf.gateway, "pne", p.conf.trusted_link,
                             p.conf.local_plain) ||
      cpns_daemon_trusted_peers_load("local", p.conf.trusted_listen, p.conf.trusted_peers,
                                     p.conf.trusted_peers_max, &p.trusted))
    return CPNS_EXIT_CONFIG;
  if ((!p.daemon.print_authz && cpns_key_read_file(p.conf.key_file, p.key, err, sizeof err)) ||
      ((!p.conf.local_plain || p.trusted) && cpns_keyring_load(p.conf.local_keyring, PNE_APP_KEYS_MAX, &p.keyring, err, sizeof err))) {
    log_err("pne", "%s", err);
    return CPNS_EXIT_CONFIG;
  }
  struct cpns_node_config nc = {
      .name = "pne", .listen = p.conf.local_listen, .plain = p.conf.local_plain,
      .keyring = p.keyring, .discovery = p.conf.discovery ? p.conf.discovery_listen : NULL,
      .multicast = p.conf.multicast, .mcast_ifname = p.conf.interface, .client_source = p.conf.source, .limits = p.conf.limits,
      .trusted_listen = p.conf.trusted_listen, .trusted_peers = p.trusted,
      .trusted_upstream = p.conf.trusted_link ? p.conf.gateway : NULL};
  if (cpns_node_new(&nc, &p.node, err, sizeof err)) {
    log_err("pne", "%s", err);
    ex = CPNS_EXIT_UNAVAILABLE;
    goto out;
  }
  struct cpns_neighbors_config ncfg = {
      .self_id = p.conf.id,
      .self_pn = p.conf.pn,
      .self_roles = CPNS_ROLE_PNE,
      .secure_port = 0, /* our listener is for local applications only */
      .rt_filter = "cpns.*",
      .period = p.conf.discovery ? p.conf.discovery_period : 0,
      .unicast = p.conf.discovery_unicast[0] ? p.conf.discovery_unicast : NULL,
      .discovery = {.port = cpns_daemon_port_of(p.conf.discovery_listen, 5683),
                    .ifname = p.conf.interface[0] ? p.conf.interface : NULL,
                    .max_entries = (size_t)p.conf.max_neighbors,
                    .max_age = p.conf.neighbor_max_age,
                    .self_id = p.conf.id},
  };
  if (cpns_neighbors_start(p.node, &ncfg, &p.neighbors) || local__init(&p) || agent__init(&p) ||
      caps__init(&p)) {
    log_err("pne", "initialization failed");
    ex = CPNS_EXIT_SOFTWARE;
    goto out;
  }
  if (status__init(&p)) {
    log_err("pne", "initialization failed (status)");
    ex = CPNS_EXIT_SOFTWARE;
    goto out;
  }
  if (usage__init(&p)) {
    log_err("pne", "initialization failed (usage)");
    ex = CPNS_EXIT_SOFTWARE;
    goto out;
  }
  if (services__init(&p)) {
    log_err("pne", "initialization failed (services)");
    ex = CPNS_EXIT_CONFIG;
    goto out;
  }
  if (p.daemon.print_authz) {
    cpns_node_write_authz(p.node, stdout);
    ex = 0;
    goto out;
  }
  ex = cpns_daemon_detach(&p.daemon, p.conf.pid_file);
  if (ex) goto out;
  log_notice("pne", "cpns-pne %s: %s (%s), gateway %s, CPNS-5 on %s", CPNS_VERSION_STRING, p.conf.id,
             p.conf.type, p.conf.gateway[0] ? p.conf.gateway : "by discovery", p.conf.local_listen);
  ex = cpns_node_run(p.node, on_hup, &p) ? CPNS_EXIT_SOFTWARE : 0;
  log_notice("pne", "stopped");
out:
  if (p.to_release) coap_session_release(p.to_release);
  if (p.session) coap_session_release(p.session);
  cpns_neighbors_free(p.neighbors);
  status__free(); /* before the node: it holds references to sessions */
  services__free(); /* likewise */
  cpns_node_free(p.node);
  usage__free(); /* after the node: its last callbacks still use it */
  caps__free(); /* after the node: its last callbacks still use it */
  cpns_keyring_free(p.keyring);
  cpns_trustlink_free(p.trusted);
  if (p.conf.pid_file[0]) remove(p.conf.pid_file);
  return ex;
}
