/* SPDX-License-Identifier: Apache-2.0 */
/* PN Inventory operations that the server and the gateway perform alike on
 * their own store (spec 5.5.10), so that both answer the same request the
 * same way. */
#ifndef CPNS_PNOPS_H
#define CPNS_PNOPS_H

#include <jansson.h>
#include <stdbool.h>

#include "store.h"

/* POST /pns/{pn}/entities {"id","name"}: lets an entity into pn (lifting an
 * expulsion), as "added" unless it is there already, within max_entities.
 * Returns 0 (e gets the entity, *existed whether it was there) or a CoAP
 * error code with a diagnostic in diag. */
int cpns_pn_admit(struct cpns_store *st, const char *pn, const json_t *body, long max_entities,
                  int64_t now, struct cpns_entity_rec *e, bool *existed, char *diag, size_t diaglen);

#endif
