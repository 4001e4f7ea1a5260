/* SPDX-License-Identifier: Apache-2.0 */
/* What every cpns daemon shares: command-line parsing (-c FILE, -f, -o
 * section.name=value, -v, --help, --version, --sample-config), loading its
 * option table, log set-up, and the pid file. */
#ifndef CPNS_DAEMON_H
#define CPNS_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct cpns_daemon {
  const char *prog;        /* "cpns-server" */
  const char *summary;     /* one line for --help */
  const struct cpns_option *options;
  size_t noptions;
  void *conf;              /* the struct the options point into */
  char conf_path[4096];
  bool foreground;
  bool print_authz;        /* --authz-table: print the rules and exit */
  bool accepts_enroll;     /* cpns-pne, cpns-gw: --enroll CODE is one of their actions */
  const char *enroll_code; /* --enroll CODE */
  int *log_level;          /* the conf field holding [log] level */
  const char *log_target;  /* the conf field holding [log] target: stderr|syslog */
};

/* Parses argv, loads defaults and the config file. Returns -1 to go on, or
 * an exit code (0 after --help, --version; 64 usage; 78 config). */
int cpns_daemon_init(struct cpns_daemon *d, int argc, char **argv);
/* Re-reads the reloadable options (SIGHUP); logs what failed. */
void cpns_daemon_reload(struct cpns_daemon *d);
/* The [limits] options of every node (see cpns_node_limits), with each
 * daemon's defaults, and the [log] options: declared once for all daemons. */
#define CPNS_NODE_LIMIT_OPTIONS(S, sessions, handshakes, pending, timeout_ms, ack_ms, retransmit) \
  CPNS_OPT_I("limits", "max_sessions", S, limits.max_sessions, sessions, 1, 1000000, false,       \
             "Most idle DTLS sessions kept."),                                                   \
  CPNS_OPT_I("limits", "max_handshakes", S, limits.max_handshakes, handshakes, 1, 100000, false,  \
             "Most DTLS handshakes in progress at once."),                                       \
  CPNS_OPT_I("limits", "session_timeout", S, limits.session_timeout, "300", 10, 86400, false,     \
             "Seconds before an idle session is dropped."),                                      \
  CPNS_OPT_I("limits", "max_pending", S, limits.max_pending, pending, 1, 1000000, false,          \
             "Most outgoing requests, relayed requests and deferred replies at once."),           \
  CPNS_OPT_I("limits", "max_payload", S, limits.max_payload, "16384", 256, 1048576, false,        \
             "Most bytes in one request body."),                                                 \
  CPNS_OPT_I("limits", "request_timeout_ms", S, limits.request_timeout_ms, timeout_ms, 100,       \
             600000, false, "Give up on an outgoing request after this many milliseconds."),     \
  CPNS_OPT_I("limits", "ack_timeout_ms", S, limits.ack_timeout_ms, ack_ms, 100, 60000, false,     \
             "CoAP ACK_TIMEOUT of the requests this daemon sends."),                             \
  CPNS_OPT_I("limits", "max_retransmit", S, limits.max_retransmit, retransmit, 0, 10, false,      \
             "CoAP MAX_RETRANSMIT of the requests this daemon sends."),                          \
  CPNS_OPT_I("limits", "max_observables", S, limits.max_observables, "10000", 1, 1000000, false,  \
             "Most observable resources (one per Service Group key)."),                          \
  CPNS_OPT_I("limits", "max_observers", S, limits.max_observers, "32", 1, 100000, false,          \
             "Most observers of one resource; more get 5.03."),                                   \
  CPNS_OPT_I("limits", "handshake_failures", S, limits.handshake_failures, "30", 0, 100000, false, \
             "DTLS handshakes one source address may leave unfinished per minute (wrong keys, guessed "  \
             "codes); beyond, its new handshakes are dropped for a minute (0 = no limit)."),            \
  CPNS_OPT_I("limits", "block_cache_entries", S, limits.block_cache_entries, "256", 0, 1000000,    \
             false, "Answers larger than one CoAP block kept for the requests of their later blocks " \
             "(RFC 7959), in all; 0 = none (each later block runs the request again)."),           \
  CPNS_OPT_I("limits", "block_cache_per_session", S, limits.block_cache_per_session, "16", 1,      \
             100000, false, "Answers kept for their later blocks per session."),                    \
  CPNS_OPT_I("limits", "block_cache_bytes", S, limits.block_cache_bytes, "4194304", 0, 1073741824, \
             false, "Bytes of the answers kept for their later blocks, in all."),                   \
  CPNS_OPT_I("limits", "block_cache_age", S, limits.block_cache_age, "10", 1, 300, false,          \
             "Seconds an answer is kept for its later blocks.")

/* The [discovery] options of the daemons that discover (gateway and PNE). */
#define CPNS_DISCOVERY_OPTIONS(S, searched, max_neighbors_default)                              \
  CPNS_OPT_B("discovery", "enabled", S, discovery, "yes",                                       \
             "Search for " searched " and answer searches."),                                   \
  CPNS_OPT_S("discovery", "listen", S, discovery_listen, "0.0.0.0:5683",                        \
             "Plain CoAP listener for /.well-known/core (multicast cannot be secured)."),       \
  CPNS_OPT_B("discovery", "multicast", S, multicast, "yes",                                     \
             "Join All-CoAP-Nodes (224.0.1.187, ff02::fd)."),                                   \
  CPNS_OPT_S("discovery", "interface", S, interface, "", "Interface for multicast; empty = default."), \
  CPNS_OPT_S("discovery", "unicast", S, discovery_unicast, "",                                  \
             "Also search this host:port each round (networks without multicast)."),           \
  CPNS_OPT_I("discovery", "period", S, discovery_period, "30", 1, 86400, false,                 \
             "Seconds between searches for " searched "."),                                     \
  CPNS_OPT_I("discovery", "max_neighbors", S, max_neighbors, max_neighbors_default, 1, 65536,   \
             false, "Most discovered entities remembered."),                                    \
  CPNS_OPT_I("discovery", "max_age", S, neighbor_max_age, "120", 1, 86400, false,               \
             "Forget a discovered entity not heard of for this many seconds.")

/* Spec Appendix D, listener side: a plain CoAP listener for a link whose
 * underlying network is secure, in the section that owns the daemon's
 * listener. The conf struct has trusted_listen, trusted_peers (char arrays)
 * and trusted_peers_max (long). */
#define CPNS_TRUSTED_LISTEN_OPTIONS(sec, S)                                                     \
  CPNS_OPT_S(sec, "trusted_listen", S, trusted_listen, "",                                      \
             "Plain CoAP listener (addr:port) WITHOUT DTLS, for a link whose underlying network " \
             "is secure (Appendix D); its peers are known by source address; empty = none."),   \
  CPNS_OPT_S(sec, "trusted_peers", S, trusted_peers, "",                                        \
             "File of 'address identity' lines: who may use trusted_listen, as which keyring "  \
             "identity (re-read on SIGHUP with the keyring)."),                                 \
  CPNS_OPT_I(sec, "trusted_peers_max", S, trusted_peers_max, "1024", 1, 1000000, false,         \
             "Most lines the trusted_peers file may have.")

/* Spec Appendix D, client side: the conf struct has bool trusted_link. */
#define CPNS_TRUSTED_LINK_OPTION(sec, S, uri_option)                                            \
  CPNS_OPT_B(sec, "trusted_link", S, trusted_link, "no",                                        \
             "The link to " uri_option " runs on a secure underlying network (Appendix D): "     \
             "yes lets it be coap://, without DTLS.")

#define CPNS_LOG_OPTIONS(S)                                                                     \
  CPNS_OPT_L("log", "level", S, log_level, "notice", "Log level: err, warning, notice, info, debug."), \
  CPNS_OPT_S("log", "target", S, log_target, "stderr", "Where logs go: stderr or syslog.")

struct cpns_node;
struct cpns_keyring;
/* SIGHUP for a listener's keyring: loads path anew and hands it to node,
 * freeing the old one; on failure logs why and keeps the old one. */
void cpns_daemon_reload_keyring(struct cpns_node *node, const char *path, size_t max_entries,
                                struct cpns_keyring **keyring);
/* Spec Appendix D, listener side. Checks that trusted_listen and
 * trusted_peers (options "<section>.trusted_listen", ".trusted_peers") come
 * together and loads the table when they do: *out is the table (free with
 * cpns_trustlink_free()) or NULL when there is no trusted listener. Returns 0
 * or CPNS_ERR_CONFIG after logging why ("file:line: ..."). */
struct cpns_trustlink;
int cpns_daemon_trusted_peers_load(const char *section, const char *listen, const char *path,
                                   long max_lines, struct cpns_trustlink **out);
/* SIGHUP: loads path anew and hands it to node, freeing the old table; on
 * failure logs why and keeps the old one. Nothing happens when *t is NULL. */
void cpns_daemon_reload_trusted_peers(struct cpns_node *node, const char *path, long max_lines,
                                      struct cpns_trustlink **t);
/* Spec Appendix D, client side: a coap:// uri is a link without DTLS and
 * must be declared (trusted_link, the option "<section>.trusted_link"),
 * unless the daemon runs in development plain mode; trusted_link with any
 * other uri is a mistake. Logs the declared link at notice. Returns 0 or
 * CPNS_ERR_CONFIG after logging why. uri_option names the uri ("server.uri"). */
int cpns_daemon_check_link(const char *uri_option, const char *uri, const char *section,
                           bool trusted_link, bool plain);
/* The port of "host:port" (dflt when it has none); 0 when it does not parse. */
uint16_t cpns_daemon_port_of(const char *hostport, uint16_t dflt);

/* Exit codes, as sysexits.h. */
#define CPNS_EXIT_USAGE 64
#define CPNS_EXIT_CONFIG 78
#define CPNS_EXIT_SOFTWARE 70
#define CPNS_EXIT_UNAVAILABLE 69
#define CPNS_EXIT_CANTCREAT 73 /* --enroll: the key file exists or cannot be written */
#define CPNS_EXIT_NOPERM 77    /* --enroll: the code was refused */

/* Unless -f was given, detaches from the terminal (after the sockets are
 * bound, so that start-up errors still reach the caller) and writes pid_file
 * when one is set. Returns 0 or an exit code. */
int cpns_daemon_detach(struct cpns_daemon *d, const char *pid_file);

#endif
