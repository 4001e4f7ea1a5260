/* SPDX-License-Identifier: Apache-2.0 */
/* cpns-gw: shared state of the gateway's modules. */
#ifndef CPNS_GW_H
#define CPNS_GW_H

#include "daemon.h"
#include "keyring.h"
#include "node.h"
#include "store.h"
#include "usage_options.h"
#include "status_options.h"

struct gw_conf {
  char id[CPNS_ID_MAX + 1];
  char pn[CPNS_ID_MAX + 1];
  char pn_name[CPNS_NAME_MAX + 1];
  char owner[CPNS_ID_MAX + 1];
  bool open;
  bool also_pne;
  char listen[CPNS_ADDR_MAX + 1];
  bool plain;
  char trusted_listen[CPNS_ADDR_MAX + 1];
  char trusted_peers[4096];
  long trusted_peers_max;
  bool trusted_link; /* [server] uri is coap:// on a secure network (Appendix D) */
  char keyring[4096];
  long keyring_max;
  char database[4096];
  bool sync_full;
  char pid_file[4096];
  long lifetime;
  char server_uri[256];
  char key_file[4096];
  char source[128];
  long retry;
  bool discovery;
  char discovery_listen[128];
  bool multicast;
  char interface[32];
  char discovery_unicast[128];
  long discovery_period;
  long max_neighbors;
  long neighbor_max_age;
  long max_entities;
  long pne_lifetime_max;
  bool caps_host;              /* [capabilities] (caps.c) */
  char caps_file[4096];
  char caps_power_supply[4096];
  long caps_period;
  long caps_min_interval;
  long caps_page_max;
  long caps_reports_per_minute;
  long max_relayed_interests; /* [limits] (services.c) */
  struct cpns_node_limits limits;
  struct cpns_usage_conf usage; /* [usage] (usage.c) */
  int log_level;
  char log_target[16];
  struct cpns_status_conf status; /* [status] (status.c) */
};

struct upstream;
struct cpns_discovery;

struct gw {
  struct gw_conf conf;
  struct cpns_daemon daemon;
  struct cpns_node *node;
  struct cpns_store *store;
  struct cpns_keyring *keyring;
  struct cpns_trustlink *trusted; /* peers of [gw] trusted_listen, or NULL */
  uint8_t key[CPNS_PSK_LEN];
  struct upstream *up;
  struct cpns_discovery *disc;
};

/* pn.c: the PN's own inventory and PN management on CPNS-1 (from PNEs) and
 * CPNS-7 (from the server). */
int pn__init(struct gw *gw);
/* (Re)creates the PN record of this gateway in the local store. */
int pn__ensure_record(struct gw *gw);

/* keys.c: PNE keys fetched from the server and cached; enrollment through
 * the gateway; rotation; withdrawal on the server's word (5.5.7.2). */
int keys__init(struct gw *gw);
void keys__free(void);

/* groups.c: Service Groups for the PNEs of this PN: relayed to the server
 * with a replica of each group's key, or local while the server is away. */
int groups__init(struct gw *gw);
void groups__free(void);
/* Relations of a PNE to a groups/... path (member_of_pn: it is registered
 * in this PN). */
unsigned groups__relations(struct gw *gw, const struct cpns_req *req, unsigned wanted,
                           bool member_of_pn);
/* The PN is registered (again) at the server: resynchronize the replicas
 * and hand the local groups over. */
void groups__registered(struct gw *gw);

/* services.c: the PNEs' requests to the Metadata Directory (services,
 * interests), relayed to the server On-Behalf-Of each PNE. */
int services__init(struct gw *gw);
void services__free(void);

/* caps.c: device capabilities (5.5.1) of the PN's entities and the
 * gateway's own, reported to the server through the change queue. */
int caps__init(struct gw *gw);
void caps__free(void);
void caps__reload(struct gw *gw);
/* Entity id left or was expelled: its document went with it. */
void caps__entity_gone(struct gw *gw, const char *id);
/* The PN was removed and started afresh: every document went with it. */
void caps__pn_reset(struct gw *gw);
/* Every document goes to the server whole again (after a registration). */
void caps__reconcile(struct gw *gw);
/* For a queued UP_CAPS of id: the request to send (method, query, body: a
 * new reference). Returns 1 when there is nothing to send. */
int caps__upstream_prepare(struct gw *gw, const char *id, coap_pdu_code_t *method, char *query,
                           size_t qlen, json_t **body);
/* Its answer; true when the change must be sent again (whole). */
bool caps__upstream_done(struct gw *gw, const char *id, int code, const json_t *body);

/* status.c: Status management (5.5.3) for the PN: its PNEs publish here,
 * the PN is served, the server gets the PN's changes in batches; other
 * PNs' statuses and policies are relayed to the server. */
int status__init(struct gw *gw);
void status__free(void);
/* Entity id stopped refreshing: its status says offline, observers are told. */
void status__entity_offline(struct gw *gw, const char *id);
/* Entity id left or was expelled (its status went with it): 4.04 to its observers. */
void status__entity_gone(struct gw *gw, const char *id);

/* usage.c: Usage statistics (5.5.4): the PNEs' records, kept until the
 * server has them and sent to it in batches; summaries relayed. */
int usage__init(struct gw *gw);
void usage__free(void);

/* upstream.c: the CPNS-2 session to the server, PN registration, refresh,
 * and the queue that carries local changes to the server in order. */
enum up_op { UP_PN_PUT, UP_PN_DELETE, UP_ENT_PUT, UP_ENT_DELETE, UP_ENT_EXPEL, UP_ENT_ADD, UP_CAPS };
int upstream__init(struct gw *gw);
void upstream__free(struct upstream *up);
void upstream__queue(struct gw *gw, enum up_op op, const char *id);
coap_session_t *upstream__session(struct gw *gw);
bool upstream__ready(const struct gw *gw);
const char *upstream__state(const struct gw *gw);


#endif
