/* SPDX-License-Identifier: Apache-2.0 */
/* Shared PN Inventory operations (see pnops.h). */
#include "pnops.h"

#include <stdio.h>
#include <string.h>

#include "msg.h"

int cpns_pn_admit(struct cpns_store *st, const char *pn, const json_t *body, long max_entities,
                  int64_t now, struct cpns_entity_rec *e, bool *existed, char *diag, size_t diaglen) {
  static const char *const fields[] = {"id", "name", NULL};
  memset(e, 0, sizeof *e);
  if (!body) {
    snprintf(diag, diaglen, "a body {\"id\":...} is required");
    return 400;
  }
  if (cpns_msg_only(body, fields, diag, diaglen) ||
      cpns_msg_str(body, "id", e->id, sizeof e->id, true, diag, diaglen) ||
      cpns_msg_str(body, "name", e->name, sizeof e->name, false, diag, diaglen))
    return 400;
  if (!cpns_valid_id(e->id)) {
    snprintf(diag, diaglen, "'id' is not a valid id");
    return 400;
  }
  struct cpns_entity_rec old;
  *existed = st->ops->entity_get(st, pn, e->id, &old) == 0;
  if (!*existed) {
    uint64_t count = 0;
    st->ops->entity_count(st, pn, &count);
    if (count >= (uint64_t)max_entities) {
      snprintf(diag, diaglen, "PN %s is full (%ld entities)", pn, max_entities);
      return 503;
    }
  }
  snprintf(e->pn, sizeof e->pn, "%s", pn);
  e->roles = CPNS_ROLE_PNE;
  e->state = CPNS_STATE_ADDED;
  e->updated_at = e->registered_at = now;
  if (st->ops->entity_admit(st, e, NULL)) {
    snprintf(diag, diaglen, "store failure");
    return 500;
  }
  return 0;
}
