/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file client.h
 * @brief The CPNS-5 client API: how an application on a device uses its PNE
 * (and how operators' tools talk to gateways and servers).
 *
 * A client holds one DTLS-PSK session to one CPNS entity, usually the local
 * cpns-pne on the loopback address. Every call is synchronous: it sends one
 * CoAP request and waits for the answer, at most the configured timeout.
 * A client is not thread-safe; use one per thread.
 *
 * Errors: every int-returning function returns 0 or a negative cpns_err.
 * After an error, cpns_client_error() gives the peer's diagnostic text and
 * cpns_client_status() the CoAP code (such as 403), or 0 when none came.
 *
 * @code
 *   uint8_t key[32];   // the application's key, from its key file
 *   cpns_client_config_t cfg = CPNS_CLIENT_CONFIG_INIT;
 *   cfg.uri = "coaps://127.0.0.1:5694";
 *   cfg.identity = "player-app";
 *   cfg.key = key;
 *   cpns_client_t *c;
 *   if (cpns_client_new(&cfg, &c) == 0) {
 *     cpns_inventory_t *inv;
 *     if (cpns_pn_get_inventory(c, "home", &inv) == 0) {
 *       for (size_t i = 0; i < inv->count; i++) puts(inv->entities[i].id);
 *       cpns_inventory_free(inv);
 *     }
 *     cpns_client_free(c);
 *   }
 * @endcode
 */
#ifndef CPNS_CLIENT_H
#define CPNS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cpns/cpns.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPNS_CLIENT_CONFIG_VERSION 1

/** How to reach the entity. Borrowed during cpns_client_new() only. */
typedef struct cpns_client_config {
  int version;          /**< CPNS_CLIENT_CONFIG_VERSION */
  const char *uri;      /**< "coaps://host:port" (or "coap://" for development) */
  const char *identity; /**< PSK identity */
  const uint8_t *key;   /**< CPNS_PSK_LEN bytes */
  long timeout_ms;      /**< per request; 0 = 10000 */
  bool json;            /**< send JSON instead of CBOR on the wire */
} cpns_client_config_t;

#define CPNS_CLIENT_CONFIG_INIT {CPNS_CLIENT_CONFIG_VERSION, NULL, NULL, NULL, 0, false}

typedef struct cpns_client cpns_client_t;

/** Opens a client. Free with cpns_client_free(). */
CPNS_EXPORT int cpns_client_new(const cpns_client_config_t *cfg, cpns_client_t **out);
/** Closes the session and frees the client. NULL does nothing. */
CPNS_EXPORT void cpns_client_free(cpns_client_t *c);
/** The diagnostic of the last failed call; "" after a success. Borrowed. */
CPNS_EXPORT const char *cpns_client_error(const cpns_client_t *c);
/** The CoAP code of the last answer as a number (205, 403...), 0 if none. */
CPNS_EXPORT int cpns_client_status(const cpns_client_t *c);

/**
 * A raw request, for resources without a typed call. method is "GET",
 * "PUT", "POST" or "DELETE"; path is relative to /cpns/v1 ("pns/home");
 * query may be NULL; body_json is a JSON text or NULL. On success *out_json
 * (if out_json is not NULL) receives the answer as JSON text, or NULL when
 * the answer had no body; free it with cpns_free().
 */
CPNS_EXPORT int cpns_client_request(cpns_client_t *c, const char *method, const char *path,
                                    const char *query, const char *body_json, char **out_json);
/** Frees memory returned by libcpns. NULL does nothing. */
CPNS_EXPORT void cpns_free(void *p);

/** One entity of a PN Inventory. Text fields are NUL-terminated. */
typedef struct cpns_entity_info {
  char id[CPNS_ID_MAX + 1];
  char pn[CPNS_ID_MAX + 1];
  char name[CPNS_NAME_MAX + 1];
  char type[CPNS_TYPE_MAX + 1];
  char state[16];   /**< "added", "online" or "offline" */
  char addr[CPNS_ADDR_MAX + 1];
  unsigned roles;   /**< CPNS_ROLE_* bits */
  uint32_t lifetime;
  int64_t registered, updated, expires; /**< unix seconds; 0 when unknown */
} cpns_entity_info_t;

typedef struct cpns_pn_info {
  char id[CPNS_ID_MAX + 1];
  char name[CPNS_NAME_MAX + 1];
  char owner[CPNS_ID_MAX + 1];
  char gw[CPNS_ID_MAX + 1];
  char state[16];
  bool open;
} cpns_pn_info_t;

typedef struct cpns_inventory {
  cpns_pn_info_t pn;
  size_t count;
  cpns_entity_info_t *entities;
} cpns_inventory_t;

/** The inventory of a PN: the local one, or a remote one whose owner allowed
 * it. Free with cpns_inventory_free(). */
CPNS_EXPORT int cpns_pn_get_inventory(cpns_client_t *c, const char *pn, cpns_inventory_t **out);
CPNS_EXPORT void cpns_inventory_free(cpns_inventory_t *inv);
/** Asks the PNE to join pn (NULL: its configured or discovered PN). */
CPNS_EXPORT int cpns_pn_join(cpns_client_t *c, const char *pn);
/** Asks the PNE to leave its PN. */
CPNS_EXPORT int cpns_pn_leave(cpns_client_t *c);
/** Allows entity id into pn (also lifts an expulsion). name may be NULL. */
CPNS_EXPORT int cpns_pn_add_entity(cpns_client_t *c, const char *pn, const char *id,
                                   const char *name);
/** Expels entity id from pn. */
CPNS_EXPORT int cpns_pn_expel_entity(cpns_client_t *c, const char *pn, const char *id);
/** Removes pn: all its entities and expulsions. */
CPNS_EXPORT int cpns_pn_remove(cpns_client_t *c, const char *pn);
/** Sets which other PNs may read pn's inventory (the owner's choice). */
CPNS_EXPORT int cpns_pn_set_readers(cpns_client_t *c, const char *pn, const char *const *readers,
                                    size_t n);

#ifdef __cplusplus
}
#endif
#endif
