/* SPDX-License-Identifier: Apache-2.0 */
/* cpns-server: shared state of its modules. */
#ifndef CPNS_SERVER_H
#define CPNS_SERVER_H

#include "daemon.h"
#include "http.h"
#include "keyring.h"
#include "node.h"
#include "store.h"
#include "usage_options.h"
#include "status_options.h"

struct server_conf {
  char id[CPNS_ID_MAX + 1];
  char listen[128];
  bool plain;
  char trusted_listen[CPNS_ADDR_MAX + 1];
  char trusted_peers[4096];
  long trusted_peers_max;
  char keyring[4096];
  char database[4096];
  bool sync_full;
  char pid_file[4096];
  long keyring_max;
  long max_pns;
  long max_entities_per_pn;
  long max_group_members;
  long list_page_max;
  long max_services;             /* the Metadata Directory (directory.c) */
  long max_services_per_offerer;
  long service_page_max;
  long lookup_budget;
  long max_interests;
  long max_interests_per_owner;
  long caps_page_max;            /* device capabilities (caps.c) */
  struct cpns_node_limits limits;
  struct cpns_usage_conf usage;   /* [usage] (usage.c) */
  struct http_conf http;         /* [http]: CPNS-4 (http.c, tokens.c) */
  int log_level;
  char log_target[16];
  struct cpns_status_conf status; /* [status] (status.c) */
};

struct gwlinks;
struct cpns_keycache;
struct cpns_groups;

struct server {
  struct server_conf conf;
  struct cpns_daemon daemon;
  struct cpns_node *node;
  struct cpns_store *store;
  struct cpns_keyring *keyring;
  struct cpns_trustlink *trusted; /* peers of [server] trusted_listen, or NULL */
  struct gwlinks *links;
  struct cpns_keycache *creds; /* issued keys and pending enrollments, cached */
  struct cpns_groups *groups;  /* the Service Groups' authority (lib/groups.h) */
  struct status_srv *status;   /* Status management (status.c) */
  struct directory *dir;       /* the Metadata Directory's interests (directory.c) */
  struct http *http;           /* CPNS-4's HTTPS listener (http.c), or NULL */
};

/* inventory.c: PN registration (5.5.6) and PN management (5.5.10). */
int inventory__init(struct server *srv);
/* Sends a request to the gateway of pn over the session it opened (CPNS-7),
 * if it is connected; the answer is only logged. body is borrowed. */
void inventory__tell_gateway(struct server *srv, const char *pn, coap_pdu_code_t method,
                             const char *path, const json_t *body);
/* The delegation rule of On-Behalf-Of: a PN GW speaks for the PNEs
 * registered in its PN (see node.h). */
bool inventory__delegate(void *arg, const struct cpns_key_entry *caller, const char *identity,
                         struct cpns_key_entry *out);
void inventory__expire(void *arg);

/* keys.c: enrollment codes, key issue, rotation and revocation (5.5.7.2). */
int keys__init(struct server *srv);
void keys__free(struct server *srv);

/* groups.c: Service Groups with their Group Keys (5.5.9, 5.5.7.2). */
int groups__init(struct server *srv);
void groups__free(struct server *srv);
/* The caller's relations to the group in a groups/... path: owner, member,
 * itself as the path's member, and whether it may join. */
unsigned groups__relations(struct server *srv, const struct cpns_req *req, unsigned wanted);

/* directory.c: the Metadata Directory, service publication and discovery
 * (5.5.5). */
int directory__init(struct server *srv);
void directory__free(struct server *srv);
/* The caller's relations to a services/{id} or interests/{id} path: the
 * service's offerer, the interest's owner, a PNE through its gateway. */
unsigned directory__relations(struct server *srv, const struct cpns_req *req, unsigned wanted);
/* Entity offerer left PN pn (or was expelled): its services go. offerer
 * NULL: the PN is gone, and every service of it. */
void directory__entity_gone(struct server *srv, const char *pn, const char *offerer);

/* caps.c: device capabilities (5.5.1), reported by gateways, read with
 * Observe by whoever may read the PN's inventory. */
int caps__init(struct server *srv);
void caps__free(struct server *srv);
/* Entity id of PN pn left or was expelled (id NULL: the PN is gone): its
 * document went with it; its observers are told. */
void caps__entity_gone(struct server *srv, const char *pn, const char *id);

/* status.c: Status management (5.5.3): statuses reported by gateways,
 * observed with conditional attributes, policy-based reports. */
struct status_srv;
int status__init(struct server *srv);
void status__free(struct server *srv);
/* The caller's relations to a pns/{pn}/status..., .../entities/{id}/status...
 * or pns/{pn}/policies... path: a PNE relayed by its gateway, as a member
 * of the PN or a reader of it. */
unsigned status__relations(struct server *srv, const struct cpns_req *req, unsigned wanted);
/* Entity id of PN pn went offline (its gateway stopped refreshing): its
 * status says so and its observers are told. */
void status__entity_offline(struct server *srv, const char *pn, const char *id);
/* It left or was expelled: its observers are told (4.04). */
void status__entity_gone(struct server *srv, const char *pn, const char *id);

/* usage.c: Usage statistics (5.5.4): batches of records from gateways,
 * stored and summarized per service, PN, entity and day. */
int usage__init(struct server *srv);
void usage__free(struct server *srv);
/* The caller's relations to usage/summary: the gateway of the PN the query
 * names (or of its own), a PNE of it relayed by its gateway. */
unsigned usage__relations(struct server *srv, const struct cpns_req *req, unsigned wanted);

/* gwlinks.c: the session each PN GW opened, for CPNS-7 requests. */
struct gwlinks *gwlinks__new(size_t max);
void gwlinks__free(struct gwlinks *l);
void gwlinks__set(struct gwlinks *l, const char *pn, coap_session_t *s);
coap_session_t *gwlinks__get(struct gwlinks *l, const char *pn);
void gwlinks__drop_pn(struct gwlinks *l, const char *pn);
void gwlinks__session_event(void *arg, coap_session_t *s, bool up);

#endif
