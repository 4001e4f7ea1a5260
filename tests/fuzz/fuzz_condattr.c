/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the conditional attributes of lib/condobs.c: the input is
 * the query string of an observation (the first byte picks the target: the
 * document, its state, its text or a numeric attribute). A refusal is
 * CPNS_ERR_INVAL with a reason; accepted conditions keep their rules
 * (periods within bounds, pmax > pmin, st > 0, value conditions only on a
 * numeric target), format to a query that parses back to the same
 * conditions, and decide on a few samples without trouble. Any violation
 * aborts. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "condobs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool period_ok(long p) { return p == -1 || (p >= 0 && p <= CPNS_COND_PERIOD_MAX); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > CPNS_QUERY_MAX + 1) return 0;
  enum cpns_cond_target t = (enum cpns_cond_target)(data[0] % 4);
  char q[CPNS_QUERY_MAX + 1];
  memcpy(q, data + 1, size - 1);
  q[size - 1] = '\0';
  struct cpns_cond c;
  memset(&c, 0x5a, sizeof c);
  char err[160] = "";
  int rc = cpns_cond_parse(q, t, &c, err, sizeof err);
  if (rc) {
    if (rc != CPNS_ERR_INVAL || !err[0]) abort();
    return 0;
  }
  if (!period_ok(c.pmin) || !period_ok(c.pmax) || !period_ok(c.epmin) || !period_ok(c.epmax)) abort();
  if (c.pmax == 0 || (c.pmax > 0 && c.pmin >= 0 && c.pmax <= c.pmin)) abort();
  if (c.epmax == 0 || (c.epmax > 0 && c.epmin >= 0 && c.epmax <= c.epmin)) abort();
  if (c.has_st && !(c.st > 0)) abort();
  if (c.band && !c.has_gt && !c.has_lt) abort();
  if ((c.has_gt || c.has_lt || c.has_st || c.band) && t != CPNS_TARGET_ATTR) abort();
  char back_q[CPNS_QUERY_MAX + 1];
  if (cpns_cond_format(&c, back_q, sizeof back_q)) abort();
  struct cpns_cond back;
  if (cpns_cond_parse(back_q, t, &back, err, sizeof err)) abort();
  if (memcmp(&c, &back, sizeof c) != 0) abort();
  /* a few decisions: must not trap on any accepted conditions */
  static const double vals[] = {-1e12, -20, 0, 19.5, 20, 57, 80, 1e12};
  struct cpns_status_doc d;
  cpns_status_init(&d, CPNS_PRESENCE_ONLINE);
  cpns_status_set_attr(&d, "battery", vals[data[0] % 8]);
  struct cpns_cond_sample s;
  struct cpns_cond_ref ref = {.zone = 0};
  cpns_cond_sample(&d, t, "battery", &s);
  cpns_cond_ref_set(&c, &ref, &s);
  for (size_t i = 0; i < 8; i++) {
    cpns_status_set_attr(&d, "battery", vals[i]);
    cpns_cond_sample(&d, t, "battery", &s);
    if (cpns_cond_due(&c, t, &ref, &s)) cpns_cond_ref_set(&c, &ref, &s);
  }
  return 0;
}
