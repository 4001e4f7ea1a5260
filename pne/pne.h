/* SPDX-License-Identifier: Apache-2.0 */
/* cpns-pne: shared state of the PNE agent's modules. */
#ifndef CPNS_PNE_H
#define CPNS_PNE_H

#include "daemon.h"
#include "keyring.h"
#include "neighbors.h"
#include "node.h"
#include "usage_options.h"
#include "status_options.h"

struct pne_conf {
  char id[CPNS_ID_MAX + 1];
  char name[CPNS_NAME_MAX + 1];
  char type[CPNS_TYPE_MAX + 1];
  char pn[CPNS_ID_MAX + 1];
  char key_file[4096];
  char source[128];
  char gateway[256];
  bool trusted_link; /* gateway is coap:// on a secure PN technology (Appendix D) */
  long lifetime;
  bool auto_join;
  long retry;
  char state_file[4096];
  char pid_file[4096];
  char local_listen[128];
  bool local_plain;
  char trusted_listen[CPNS_ADDR_MAX + 1]; /* [local] */
  char trusted_peers[4096];
  long trusted_peers_max;
  char local_keyring[4096];
  bool discovery;
  char discovery_listen[128];
  bool multicast;
  char interface[32];
  char discovery_unicast[128];
  long discovery_period;
  long max_neighbors;
  long neighbor_max_age;
  bool caps_host; /* [capabilities] (capabilities.c) */
  char caps_file[4096];
  char caps_power_supply[4096];
  long caps_period;
  long caps_min_interval;
  struct cpns_node_limits limits;
  struct cpns_usage_conf usage; /* [usage] (usage.c) */
  int log_level;
  char log_target[16];
  struct cpns_status_conf status; /* [status] (status.c) */
  char interests[1024];           /* [services] (services.c) */
  long max_adverts;
  long max_relayed_interests;
};

/* The PNE's own interests ([services] interests): as many as the server
 * lets one identity save by default ([limits] max_interests_per_owner). */
#define PNE_OWN_INTERESTS_MAX 8

enum pne_state {
  PNE_SEARCHING,   /* no gateway known yet */
  PNE_REGISTERING, /* request sent */
  PNE_REGISTERED,
  PNE_REFUSED,     /* the PN is closed to us: retry slowly */
  PNE_EXPELLED,    /* a member expelled us: wait to be added back */
  PNE_LEFT,        /* we left; join again on request */
};

struct pne {
  struct pne_conf conf;
  struct cpns_daemon daemon;
  struct cpns_node *node;
  struct cpns_keyring *keyring;
  struct cpns_trustlink *trusted; /* peers of [local] trusted_listen, or NULL */
  struct cpns_neighbors *neighbors;
  uint8_t key[CPNS_PSK_LEN];
  enum pne_state state;
  char pn[CPNS_ID_MAX + 1];       /* the PN joined (configured or discovered) */
  char gw_uri[256];               /* the gateway in use */
  coap_session_t *session;        /* to the gateway (CPNS-1; CPNS-6 comes back on it) */
  coap_session_t *to_release;
  struct cpns_key_entry gw_peer;  /* requests on our session come from the gateway */
  long granted_lifetime;
  int64_t next_attempt, next_refresh;
  char last_error[CPNS_DIAG_MAX];
};

/* agent.c: registration with the gateway, refresh, join and leave. */
int agent__init(struct pne *p);
void agent__join(struct pne *p, const char *pn);
void agent__leave(struct pne *p, void (*done)(void *arg, int code, const char *diag), void *arg);
const char *agent__state_name(enum pne_state s);

/* enroll.c: obtain this device's key with a one-time code (--enroll). */
int enroll__run(struct pne *p, const char *code);

/* local.c: CPNS-5 for applications on this device, and CPNS-6 from the gateway. */
int local__init(struct pne *p);

/* usage.c: Usage statistics (5.5.4): the applications' records, filtered
 * by the user's preferences, kept until the gateway has them. */
int usage__init(struct pne *p);
void usage__free(void);
/* A module that knows part of what the device is like now (battery,
 * network, presence) fills it into the snapshot of each new record, where
 * the application left it unknown; at most a few sources. */
typedef void (*usage__snapshot_fn)(void *arg, cpns_usage_device_t *d);
void usage__add_snapshot_source(usage__snapshot_fn fn, void *arg);

/* status.c: this device's status (5.5.3): published to the gateway, read
 * and observed by applications (CPNS-5), with relayed observations of other
 * entities and the policy reports for this PNE. */
int status__init(struct pne *p);
void status__free(void);

/* capabilities.c: this device's capabilities (5.5.1), served at self/caps
 * and reported to the gateway, whole at registration, then what changed. */
int caps__init(struct pne *p);
void caps__free(void);
void caps__reload(struct pne *p);
/* The PNE registered (again) with its gateway. */
void caps__registered(struct pne *p);

/* services.c: service discovery (5.5.5) for the device's applications:
 * observations of interests relayed once each to the gateway, and this
 * PNE's own interests, whose events are kept as adverts (self/adverts). */
int services__init(struct pne *p);
void services__free(void);
/* The PNE registered (again) with its gateway: its interests are saved. */
void services__registered(struct pne *p);
/* Decodes [services] interests ("kw=a,b&match=any; kw=c") into at most max
 * canonical queries (new references in out[0..*n)); CPNS_ERR_INVAL with
 * the reason in err. */
int services__parse_interests(const char *text, json_t **out, size_t max, size_t *n, char *err,
                              size_t errlen);

#endif
