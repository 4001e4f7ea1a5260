/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for cpns_capabilities_decode() (lib/client_caps.c), the C
 * API's decoder of a capability answer or notification (JSON text from a
 * peer: {"pn"?, "id"?, "rev"?, "updated"?, "static", "dynamic"}). The input
 * is the text (NUL-terminated here, as the API receives it).
 *
 * Checked, aborting on any violation: a refusal is CPNS_ERR_PROTO (or
 * NOMEM) with *out NULL; what decodes keeps the header's promises: every
 * text terminated within its field, ids valid or empty, every list within
 * its CPNS_CAPDOC_*_MAX, numbers within their bounds or -1, and the
 * document's JSON text a map that decodes again to the same capabilities. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/capabilities.h>
#include <cpns/cpns.h>
#include <jansson.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TEXT_MAX (2 * CPNS_CAPDOC_TEXT_MAX)

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

static void check(bool ok) {
  if (!ok) abort();
}

static void check_caps(const cpns_capabilities_t *c) {
  check(TERMINATED(c->pn) && (!c->pn[0] || cpns_valid_id(c->pn)));
  check(TERMINATED(c->id) && (!c->id[0] || cpns_valid_id(c->id)));
  check(c->rev >= -1);
  check(TERMINATED(c->device_type) && TERMINATED(c->battery_technology) &&
        TERMINATED(c->cpu_model) && TERMINATED(c->cpu_arch) && TERMINATED(c->os_name) &&
        TERMINATED(c->os_version) && TERMINATED(c->os_build));
  check(c->screen_width >= -1 && c->screen_width <= CPNS_CAPDOC_SCREEN_PX_MAX);
  check(c->screen_height >= -1 && c->screen_height <= CPNS_CAPDOC_SCREEN_PX_MAX);
  check(c->screen_dpi >= -1 && c->screen_dpi <= CPNS_CAPDOC_DPI_MAX);
  check(c->screen_touch >= -1 && c->screen_touch <= 1);
  check(c->cpu_cores >= -1 && c->cpu_cores <= CPNS_CAPDOC_CORES_MAX);
  check(c->battery_level >= -1 && c->battery_level <= 100);
  check(c->battery_charging >= -1 && c->battery_charging <= 1);
  check(c->nchipsets <= CPNS_CAPDOC_CHIPSETS_MAX && c->napps <= CPNS_CAPDOC_APPS_MAX &&
        c->ndrivers <= CPNS_CAPDOC_DRIVERS_MAX && c->nnetworks <= CPNS_CAPDOC_NETWORKS_MAX &&
        c->nrunning <= CPNS_CAPDOC_RUNNING_MAX && c->nactive_drivers <= CPNS_CAPDOC_ACTIVE_MAX);
  const cpns_capability_item_t *lists[] = {c->chipsets, c->apps, c->drivers};
  const size_t counts[] = {c->nchipsets, c->napps, c->ndrivers};
  for (size_t l = 0; l < 3; l++)
    for (size_t i = 0; i < counts[l]; i++)
      check(TERMINATED(lists[l][i].name) && TERMINATED(lists[l][i].value));
  for (size_t i = 0; i < c->nnetworks; i++) {
    check(TERMINATED(c->networks[i].name) && TERMINATED(c->networks[i].type));
    check(c->networks[i].naddrs <= CPNS_CAPDOC_ADDRS_MAX);
    for (size_t k = 0; k < c->networks[i].naddrs; k++) check(TERMINATED(c->networks[i].addrs[k]));
  }
  for (size_t i = 0; i < c->nrunning; i++) check(TERMINATED(c->running[i].name));
  for (size_t i = 0; i < c->nactive_drivers; i++) check(TERMINATED(c->active_drivers[i].name));
  check(c->json != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FUZZ_TEXT_MAX) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  cpns_capabilities_t *c = (cpns_capabilities_t *)&c;
  int rc = cpns_capabilities_decode(text, &c);
  free(text);
  if (rc) {
    check((rc == CPNS_ERR_PROTO || rc == CPNS_ERR_NOMEM) && c == NULL);
    return 0;
  }
  check(c != NULL);
  check_caps(c);
  /* The document's text is an answer by itself, of the same capabilities. */
  cpns_capabilities_t *again = NULL;
  check(cpns_capabilities_decode(c->json, &again) == 0);
  check(strcmp(again->json, c->json) == 0 && strcmp(again->device_type, c->device_type) == 0 &&
        again->napps == c->napps && again->nnetworks == c->nnetworks &&
        again->battery_level == c->battery_level && again->memory_total == c->memory_total);
  cpns_capabilities_free(again);
  cpns_capabilities_free(c);
  return 0;
}
