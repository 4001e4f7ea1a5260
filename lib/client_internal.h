/* SPDX-License-Identifier: Apache-2.0 */
/* Private to libcpns: what client.c lends the typed calls that need more
 * than one request and one answer (an observation runs the client's loop
 * until it ends: client_caps.c, client_status.c). Borrowed pointers, valid
 * while the client lives; a client is not thread-safe. */
#ifndef CPNS_CLIENT_INTERNAL_H
#define CPNS_CLIENT_INTERNAL_H

#include <cpns/client.h>

#include "node.h"

struct cpns_obsclient;

/* A CoAP code as a number (205, 403...) or a negative cpns_err as the
 * cpns_err the typed calls return (0 for a 2.xx). */
int client__code_to_err(int code);
struct cpns_node *client__node(cpns_client_t *c);
coap_session_t *client__session(cpns_client_t *c);
/* The client's observations, made at the first call; NULL when out of memory. */
struct cpns_obsclient *client__obsclient(cpns_client_t *c);
/* Runs the loop until the client's session is up: 0, CPNS_ERR_UNAVAIL or
 * CPNS_ERR_TIMEOUT. */
int client__connect(cpns_client_t *c);
/* What cpns_client_status() and cpns_client_error() say next: the CoAP code
 * (0 when none came) and the diagnostic. */
void client__set_error(cpns_client_t *c, int status, const char *diag);

#endif
