/* SPDX-License-Identifier: Apache-2.0 */
/* cpns-server's CPNS-4 interface (spec 5.3.2.4) for external
 * Application/Content Servers: its [http] options, the HTTPS front
 * (http.c) and the bearer tokens the operator issues for it (tokens.c). */
#ifndef CPNS_SERVER_HTTP_H
#define CPNS_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "keyring.h"

struct http_conf {
  char listen[128];     /* "addr:port"; "" = CPNS-4 off */
  char cert_file[4096]; /* PEM certificate (chain) */
  char key_file[4096];  /* PEM private key, mode 0600 */
  char priorities[256]; /* GnuTLS priority string */
  long max_connections;
  long max_per_ip;
  long timeout;           /* seconds a connection may stay idle */
  long connection_memory; /* bytes for one connection's headers and buffers */
  long max_tokens;
  long token_ttl_max;     /* seconds; 0 = tokens may live for ever */
};

/* The [http] section of cpns-server (S: the conf struct, field http). */
#define HTTP_OPTIONS(S)                                                                            \
  CPNS_OPT_S("http", "listen", S, http.listen, "",                                                 \
             "Address and port of the CPNS-4 HTTPS listener for external Application/Content "     \
             "Servers (e.g. 0.0.0.0:8443); empty: CPNS-4 is off."),                                \
  CPNS_OPT_S("http", "cert_file", S, http.cert_file, "/etc/cpns/server-https.crt",                 \
             "PEM certificate (with its chain) of the HTTPS listener."),                           \
  CPNS_OPT_S("http", "key_file", S, http.key_file, "/etc/cpns/server-https.key",                   \
             "PEM private key of the HTTPS listener; refused unless readable by its owner alone "  \
             "(mode 0600)."),                                                                      \
  CPNS_OPT_S("http", "tls_priorities", S, http.priorities,                                         \
             "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",                                         \
             "GnuTLS priority string of the HTTPS listener (protocol versions, ciphers)."),         \
  CPNS_OPT_I("http", "max_connections", S, http.max_connections, "64", 1, 10000, false,            \
             "Most HTTPS connections at once; more are refused."),                                 \
  CPNS_OPT_I("http", "max_per_ip", S, http.max_per_ip, "16", 0, 10000, false,                      \
             "Most HTTPS connections from one IP address at once (0 = no limit)."),                \
  CPNS_OPT_I("http", "timeout", S, http.timeout, "30", 1, 3600, false,                             \
             "Seconds an HTTPS connection may stay idle (also a slow TLS handshake or request)."), \
  CPNS_OPT_I("http", "connection_memory", S, http.connection_memory, "32768", 8192, 1048576,       \
             false,                                                                                \
             "Bytes for one connection's request line, headers and buffers; a request that does " \
             "not fit is refused (431 or 414). Bodies are bounded by [limits] max_payload."),      \
  CPNS_OPT_I("http", "max_tokens", S, http.max_tokens, "1000", 1, 100000, false,                   \
             "Most CPNS-4 bearer tokens at once (expired ones count until revoked)."),             \
  CPNS_OPT_I("http", "token_ttl_max", S, http.token_ttl_max, "0", 0, 315360000, false,             \
             "Longest lifetime of a bearer token in seconds, also that of a token created "        \
             "without one (0 = tokens may be created that never expire).")

struct server;

/* tokens.c: POST/GET /tokens and DELETE /tokens/{id} (operator only, over
 * CoAP), and the check of a presented token. */
int tokens__init(struct server *srv);
/* A bearer token's text (len bytes, untrusted): 0 when it is one of ours,
 * not expired; peer gets the caller it stands for (identity "ext.<name>",
 * role external, no PN, no key) and *scopes its CPNS4_SCOPE_* bits.
 * CPNS_ERR_UNAUTH otherwise (malformed, unknown, wrong, expired, revoked:
 * logged by id, never with the token), CPNS_ERR_STORE when the store
 * failed. */
int tokens__verify(struct server *srv, const char *text, size_t len, struct cpns_key_entry *peer,
                   unsigned *scopes);

/* http.c: the HTTPS listener, run in the node's loop. Does nothing when
 * [http] listen is empty; CPNS_ERR_CONFIG (logged) for a missing, bad or
 * exposed certificate or key, CPNS_ERR_IO when it cannot listen. */
int http__init(struct server *srv);
void http__free(struct server *srv);

#endif
