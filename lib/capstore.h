/* SPDX-License-Identifier: Apache-2.0 */
/* The holder of device capabilities (spec 5.5.1): the CoAP handlers of the
 * capability resources over a store, run by the server for every PN and by
 * a gateway for its own PN, so that both answer alike.
 *
 *   GET   pns/{pn}/entities/{id}/caps         one document (observable)
 *   PUT   pns/{pn}/entities/{id}/caps         the whole document
 *   PATCH pns/{pn}/entities/{id}/caps?base=N  a merge patch (RFC 7386)
 *   GET   pns/{pn}/caps[?after=ID&limit=N]    a page of a PN's documents (observable)
 *
 * The holder numbers the documents it keeps: rev is 1 for the first and
 * grows by one with every change it accepts; a PUT or PATCH that changes
 * nothing keeps it. A PATCH applies to revision base only: otherwise (or
 * with no document held) it is refused (4.12, 4.04) and the sender sends
 * the whole document again. Who may call what is declared by the daemon's
 * routes; the handlers check the body, the ids and the existence of what
 * they touch. */
#ifndef CPNS_CAPSTORE_H
#define CPNS_CAPSTORE_H

#include <jansson.h>
#include <stdbool.h>

#include "node.h"
#include "store.h"

#define CPNS_CAPS_PAGE_MAX_DEFAULT 16 /* documents in one page of GET pns/{pn}/caps */
#define CPNS_CAPS_PAGE_LIMIT 64       /* the most a configured page may hold: 64 documents
                                         of at most 16 KiB fit an answer (1 MiB) */
#define CPNS_CAPS_RATE_BURST 5        /* reports an entity may make at once, beyond its rate */

struct cpns_capstore;

struct cpns_capstore_config {
  long page_max;           /* documents in one page of GET pns/{pn}/caps */
  long reports_per_minute; /* PUTs and PATCHes of one entity, after a burst of
                              CPNS_CAPS_RATE_BURST; beyond, 4.29 with Max-Age.
                              0: no bound (the server, fed by gateways' queues) */
  size_t rate_keys;        /* entities whose rate is followed at once */
};

struct cpns_capstore_hooks {
  /* After a committed change of (pn, id)'s document; observers are
   * notified already. */
  void (*changed)(void *arg, const char *pn, const char *id);
  void *arg;
};

/* node and store are borrowed for the holder's life; log_mod is a static
 * string. Every stored document's resources become observable (within
 * limits.max_observables; beyond, they are served without Observe). */
int cpns_capstore_new(struct cpns_node *node, struct cpns_store *store, const char *log_mod,
                      const struct cpns_capstore_config *cfg,
                      const struct cpns_capstore_hooks *hooks, struct cpns_capstore **out);
void cpns_capstore_free(struct cpns_capstore *cs);

/* The handlers (arg: the struct cpns_capstore). */
void cpns_capstore_get(struct cpns_req *req, void *arg);   /* GET pns/{pn}/entities/{id}/caps */
void cpns_capstore_put(struct cpns_req *req, void *arg);   /* PUT pns/{pn}/entities/{id}/caps */
void cpns_capstore_patch(struct cpns_req *req, void *arg); /* PATCH ...?base=N */
void cpns_capstore_list(struct cpns_req *req, void *arg);  /* GET pns/{pn}/caps */

/* Keeps doc (borrowed; checked) as the document of (pn, id), the holder's
 * own (a gateway's): a new revision when it differs from the one held.
 * *changed (may be NULL) says whether it did. 0, CPNS_ERR_NOTFOUND (no such
 * entity), or the checker's error. */
int cpns_capstore_set(struct cpns_capstore *cs, const char *pn, const char *id, const json_t *doc,
                      bool *changed);

/* The answer of a GET: {"pn","id","rev","updated","static","dynamic"} for
 * a stored record (new reference; NULL when the stored text does not
 * parse). */
json_t *cpns_capstore_envelope(const struct cpns_caps_rec *rec);

/* Entity id of PN pn left (or was expelled; id NULL: the PN is gone): its
 * document went with it in the store; its observers are told and the
 * resource dropped. */
void cpns_capstore_entity_gone(struct cpns_capstore *cs, const char *pn, const char *id);

#endif
