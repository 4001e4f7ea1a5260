/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the policy-based reports of status management (spec
 * 5.5.3.2): the rule of POST pns/{pn}/policies, decoded by
 * cpns_status_policy_decode() (lib/status.c), and a report (POST reports at
 * a PN GW and at the target PNE), checked by cpns_status_report_check(). The
 * first byte picks the decoder of the rest (odd: CBOR, even: JSON, as in
 * fuzz_codec.c, so seeds can start with 'c' or 'j'); what decodes goes
 * through both. When the first byte is 'a', the rest is instead the answer
 * text of GET pns/{pn}/policies for the C API
 * (client_status__decode_policies).
 *
 * Checked, aborting on any violation: a refusal is CPNS_ERR_INVAL with a
 * reason and leaves the rule untouched; an accepted rule has valid ids,
 * exactly one condition (a known presence state, or an attribute name with
 * a finite bounded threshold), nothing but the rule's own fields set, and
 * its JSON (as the server writes it, less the server's fields) decodes to
 * the same rule; an accepted report names its policy, entity and target by
 * id and is accepted again after a trip through both encodings; an
 * accepted answer holds rules of valid ids and one known condition each,
 * and a refused one leaves the outputs untouched. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_api.h"
#include "codec.h"
#include "msg.h"
#include "node.h" /* CPNS_DIAG_MAX: the server's buffer of a reason */
#include "status.h"
#include "store.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Integral thresholds below 2^53 are written as integers, as the server
 * writes them (server/status.c). */
#define FUZZ_EXACT_INT_MAX 9007199254740992.0

static void check_fail(int rc, const char *err) {
  if (rc != CPNS_ERR_INVAL || !err[0]) abort();
}

static void check_terminated(const char *s, size_t size) {
  if (!memchr(s, '\0', size)) abort();
}

static bool same_rule(const struct cpns_policy_rec *a, const struct cpns_policy_rec *b) {
  return strcmp(a->id, b->id) == 0 && strcmp(a->entity, b->entity) == 0 &&
         strcmp(a->attr, b->attr) == 0 && strcmp(a->state, b->state) == 0 &&
         strcmp(a->target, b->target) == 0 && strcmp(a->target_pn, b->target_pn) == 0 &&
         a->op == b->op && (a->op == CPNS_POLICY_STATE || a->threshold == b->threshold);
}

/* The rule as the server's answer carries it, less the server's own fields
 * (a client copying a rule). */
static json_t *rule_json(const struct cpns_policy_rec *p) {
  json_t *o = json_pack("{s:s, s:s}", "entity", p->entity, "target", p->target);
  if (!o) abort();
  if (p->id[0]) json_object_set_new(o, "id", json_string(p->id));
  if (p->target_pn[0]) json_object_set_new(o, "target_pn", json_string(p->target_pn));
  if (p->op == CPNS_POLICY_STATE) {
    json_object_set_new(o, "state", json_string(p->state));
  } else {
    double t = p->threshold;
    json_object_set_new(o, "attr", json_string(p->attr));
    json_object_set_new(o, p->op == CPNS_POLICY_LT ? "lt" : "gt",
                        t == floor(t) && fabs(t) < FUZZ_EXACT_INT_MAX
                            ? json_integer((json_int_t)t)
                            : json_real(t));
  }
  return o;
}

static void fuzz_rule(const json_t *v) {
  struct cpns_policy_rec p, before;
  memset(&p, 0xa5, sizeof p);
  before = p;
  char err[CPNS_DIAG_MAX] = "";
  int rc = cpns_status_policy_decode(v, &p, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    if (memcmp(&p, &before, sizeof p) != 0) abort();
    return;
  }
  check_terminated(p.id, sizeof p.id);
  check_terminated(p.attr, sizeof p.attr);
  check_terminated(p.state, sizeof p.state);
  check_terminated(p.target_pn, sizeof p.target_pn);
  if ((p.id[0] && !cpns_valid_id(p.id)) || !cpns_valid_id(p.entity) || !cpns_valid_id(p.target) ||
      (p.target_pn[0] && !cpns_valid_id(p.target_pn)))
    abort();
  /* The caller's fields are left for it to fill. */
  if (p.pn[0] || p.created_by[0] || p.created_at || p.active || p.fired || p.last_fired) abort();
  switch (p.op) {
  case CPNS_POLICY_STATE:
    if (cpns_presence_parse(p.state) < 0 || p.attr[0]) abort();
    break;
  case CPNS_POLICY_LT:
  case CPNS_POLICY_GT:
    if (p.state[0] || !cpns_status_attr_name_valid(p.attr) || !isfinite(p.threshold) ||
        fabs(p.threshold) > CPNS_STATUS_VALUE_MAX)
      abort();
    break;
  default: abort();
  }
  json_t *o = rule_json(&p);
  struct cpns_policy_rec back;
  if (cpns_status_policy_decode(o, &back, err, sizeof err) || !same_rule(&p, &back)) abort();
  json_decref(o);
}

static void fuzz_report(const json_t *v) {
  char err[CPNS_DIAG_MAX] = "";
  int rc = cpns_status_report_check(v, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    return;
  }
  static const char *const ids[] = {"policy", "entity", "target"};
  for (size_t i = 0; i < 3; i++) {
    const char *s = json_string_value(json_object_get(v, ids[i]));
    if (!s || !cpns_valid_id(s)) abort();
  }
  for (size_t i = 0; i < FUZZ_NCFS; i++) {
    json_t *back = fuzz_reencode(v, fuzz_cfs[i], NULL);
    if (cpns_status_report_check(back, err, sizeof err)) abort();
    json_decref(back);
  }
}

static void fuzz_answer(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return;
  memcpy(text, data, size);
  text[size] = '\0';
  cpns_policy_t *ps = (cpns_policy_t *)&ps;
  size_t n = 12345;
  int rc = client_status__decode_policies(text, &ps, &n);
  free(text);
  if (rc) {
    if ((rc != CPNS_ERR_PROTO && rc != CPNS_ERR_NOMEM) || ps != (cpns_policy_t *)&ps || n != 12345)
      abort();
    return;
  }
  if (n && !ps) abort();
  for (size_t i = 0; i < n; i++) {
    const cpns_policy_t *p = &ps[i];
    if (!cpns_valid_id(p->id) || !cpns_valid_id(p->entity) || !cpns_valid_id(p->target) ||
        !cpns_valid_id(p->target_pn) || (p->created_by[0] && !cpns_valid_id(p->created_by)))
      abort();
    if (p->kind == CPNS_POLICY_BECOMES) {
      if (cpns_presence_parse(cpns_presence_name(p->state)) != (int)p->state) abort();
    } else if (p->kind == CPNS_POLICY_BELOW || p->kind == CPNS_POLICY_ABOVE) {
      if (!cpns_status_attr_name_valid(p->attr) || !isfinite(p->threshold)) abort();
    } else {
      abort();
    }
  }
  free(ps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] == 'a') {
    fuzz_answer(data + 1, size - 1);
    return 0;
  }
  json_t *v = fuzz_input_body(data, size);
  if (!v) return 0;
  fuzz_rule(v);
  fuzz_report(v);
  json_decref(v);
  return 0;
}
