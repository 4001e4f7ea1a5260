/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the conditional attributes in lib/condobs.c: parsing (both
 * spellings, every refusal that becomes a 4.00) and the decision whether a
 * new value is worth a notification: threshold crossings both ways, steps,
 * c.band as hysteresis and as a band, going offline, and the non-numeric
 * targets. The observer machinery itself is exercised end to end by
 * tests/integration/test_status.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "condobs.h"

static struct cpns_cond parse_ok(const char *q, enum cpns_cond_target t) {
  struct cpns_cond c;
  char err[160] = "";
  int rc = cpns_cond_parse(q, t, &c, err, sizeof err);
  if (rc) fail_msg("'%s' refused: %s", q ? q : "(none)", err);
  return c;
}

static void refused(const char *q, enum cpns_cond_target t, const char *why) {
  struct cpns_cond c;
  char err[160] = "";
  int rc = cpns_cond_parse(q, t, &c, err, sizeof err);
  if (rc != CPNS_ERR_INVAL) fail_msg("'%s' accepted", q ? q : "(none)");
  if (!strstr(err, why)) fail_msg("'%s': '%s' does not say '%s'", q ? q : "(none)", err, why);
}

static void test_parse_both_spellings(void **state) {
  (void)state;
  struct cpns_cond c = parse_ok("c.gt=80&c.lt=20&c.st=5&c.pmin=2&c.pmax=60", CPNS_TARGET_ATTR);
  assert_true(c.has_gt && c.gt == 80 && c.has_lt && c.lt == 20 && c.has_st && c.st == 5);
  assert_int_equal(c.pmin, 2);
  assert_int_equal(c.pmax, 60);
  assert_int_equal(c.epmin, -1);
  c = parse_ok("gt=80&lt=20&st=0.5&pmin=1&pmax=10&epmin=1&epmax=5", CPNS_TARGET_ATTR);
  assert_true(c.has_gt && c.has_lt && c.st == 0.5);
  assert_int_equal(c.epmin, 1);
  assert_int_equal(c.epmax, 5);
  c = parse_ok("c.gt=80&c.lt=70&c.band", CPNS_TARGET_ATTR);
  assert_true(c.band);
  c = parse_ok("c.gt=80&c.band=false", CPNS_TARGET_ATTR);
  assert_false(c.band);
  c = parse_ok("", CPNS_TARGET_DOC);
  assert_false(c.has_gt || c.has_lt || c.has_st || c.band);
  assert_int_equal(c.pmin, -1);
  c = parse_ok("c.pmin=0&c.pmax=86400", CPNS_TARGET_STATE);
  assert_int_equal(c.pmax, 86400);
  c = parse_ok(NULL, CPNS_TARGET_DOC);
}

static void test_parse_refusals(void **state) {
  (void)state;
  refused("c.gt=80&gt=90", CPNS_TARGET_ATTR, "twice");
  refused("c.lt=1&c.lt=2", CPNS_TARGET_ATTR, "twice");
  refused("c.foo=1", CPNS_TARGET_ATTR, "unknown");
  refused("c.epmin=1", CPNS_TARGET_ATTR, "unknown");
  refused("band", CPNS_TARGET_ATTR, "unknown");
  refused("c.gt=abc", CPNS_TARGET_ATTR, "finite number");
  refused("c.gt=inf", CPNS_TARGET_ATTR, "finite number");
  refused("c.gt", CPNS_TARGET_ATTR, "needs a value");
  refused("c.lt=", CPNS_TARGET_ATTR, "finite number");
  refused("c.st=0", CPNS_TARGET_ATTR, "greater than 0");
  refused("c.st=-1", CPNS_TARGET_ATTR, "greater than 0");
  refused("c.band", CPNS_TARGET_ATTR, "band needs");
  refused("c.band=maybe", CPNS_TARGET_ATTR, "true/false");
  refused("c.pmin=10&c.pmax=10", CPNS_TARGET_ATTR, "pmax");
  refused("c.pmax=0", CPNS_TARGET_ATTR, "pmax");
  refused("epmin=5&epmax=2", CPNS_TARGET_ATTR, "epmax");
  refused("c.pmin=-1", CPNS_TARGET_ATTR, "seconds");
  refused("c.pmin=86401", CPNS_TARGET_ATTR, "seconds");
  refused("c.pmin=1.5", CPNS_TARGET_ATTR, "seconds");
  refused("c.lt=20", CPNS_TARGET_DOC, "numeric attribute");
  refused("c.st=1", CPNS_TARGET_STATE, "numeric attribute");
  refused("c.gt=1&c.band", CPNS_TARGET_TEXT, "numeric attribute");
}

static void test_format_round_trip(void **state) {
  (void)state;
  struct cpns_cond c = parse_ok("gt=80.25&c.lt=-20&c.st=0.1&c.band&c.pmin=2&pmax=60&epmin=1&epmax=9",
                                CPNS_TARGET_ATTR);
  char q[CPNS_QUERY_MAX + 1];
  assert_int_equal(cpns_cond_format(&c, q, sizeof q), 0);
  struct cpns_cond back = parse_ok(q, CPNS_TARGET_ATTR);
  assert_memory_equal(&c, &back, sizeof c);
  char small[8];
  assert_int_equal(cpns_cond_format(&c, small, sizeof small), CPNS_ERR_TOOBIG);
}

/* A document with battery = v (absent when v < -999), in state s. */
static struct cpns_status_doc doc_with(double v, enum cpns_presence s) {
  struct cpns_status_doc d;
  cpns_status_init(&d, s);
  if (v > -999) cpns_status_set_attr(&d, "battery", v);
  return d;
}

/* Feeds values one after another to an observer with conditions q, as the
 * module does: a due value becomes the new reference. Returns a string of
 * 'N' (notified) and '.' (not), one per value after the first. */
static const char *run(const char *q, const double *vals, size_t n) {
  static char out[64];
  struct cpns_cond c = parse_ok(q, CPNS_TARGET_ATTR);
  struct cpns_cond_ref ref = {.zone = 0};
  struct cpns_status_doc d = doc_with(vals[0], CPNS_PRESENCE_ONLINE);
  struct cpns_cond_sample s;
  cpns_cond_sample(&d, CPNS_TARGET_ATTR, "battery", &s);
  cpns_cond_ref_set(&c, &ref, &s);
  for (size_t i = 1; i < n; i++) {
    d = doc_with(vals[i], CPNS_PRESENCE_ONLINE);
    cpns_cond_sample(&d, CPNS_TARGET_ATTR, "battery", &s);
    bool due = cpns_cond_due(&c, CPNS_TARGET_ATTR, &ref, &s);
    out[i - 1] = due ? 'N' : '.';
    if (due) cpns_cond_ref_set(&c, &ref, &s);
  }
  out[n - 1] = '\0';
  return out;
}

#define RUN(q, ...)                                                                  \
  run(q, (const double[]){__VA_ARGS__}, sizeof((const double[]){__VA_ARGS__}) / sizeof(double))

static void test_thresholds(void **state) {
  (void)state;
  /* battery 57 -> 30 -> 15 -> 12 -> 25: c.lt=20 is told on crossing down and
   * back up; c.lt=10 never. */
  assert_string_equal(RUN("c.lt=20", 57, 30, 15, 12, 25), ".N.N");
  assert_string_equal(RUN("c.lt=10", 57, 30, 15, 12, 25), "....");
  assert_string_equal(RUN("lt=20", 57, 30, 15, 12, 25), ".N.N");
  /* c.gt: crossing up and down */
  assert_string_equal(RUN("c.gt=80", 50, 79, 81, 90, 70), ".N.N");
  /* exactly at the threshold is not above it */
  assert_string_equal(RUN("c.gt=80", 50, 80, 80.5), ".N");
  /* no conditions: every change, not a repeat */
  assert_string_equal(RUN("", 1, 1, 2, 2, 3), ".N.N");
  /* c.st: a step from the last reported value */
  assert_string_equal(RUN("c.st=5", 50, 52, 54, 55, 57, 60), "..N.N");
  /* OR of conditions */
  assert_string_equal(RUN("c.lt=20&c.st=30", 57, 25, 19, 60), "NNN");
  /* appearing and disappearing are changes */
  assert_string_equal(RUN("c.lt=20", 57, -1000, -1000, 50), "N.N");
}

static void test_band(void **state) {
  (void)state;
  /* hysteresis (c.lt < c.gt): above 80 once, not again until below 70 */
  assert_string_equal(RUN("c.gt=80&c.lt=70&c.band", 75, 81, 79, 85, 75, 69, 72, 81), "N...N.N");
  /* the same thresholds without band: every crossing of either */
  assert_string_equal(RUN("c.gt=80&c.lt=70", 75, 81, 79, 85, 75, 69, 72, 81), "NNNNNNN");
  /* a band (c.gt <= c.lt): every change inside it, and entering or leaving */
  assert_string_equal(RUN("c.gt=20&c.lt=40&c.band", 10, 15, 25, 30, 30, 45, 50), ".NN.N.");
  /* one-sided band: at or above 90 */
  assert_string_equal(RUN("c.gt=90&c.band", 80, 85, 91, 95, 89), ".NNN");
}

static void test_offline_and_targets(void **state) {
  (void)state;
  struct cpns_cond c = parse_ok("c.lt=20", CPNS_TARGET_ATTR);
  struct cpns_cond_ref ref = {.zone = 0};
  struct cpns_status_doc d = doc_with(57, CPNS_PRESENCE_ONLINE);
  struct cpns_cond_sample s;
  cpns_cond_sample(&d, CPNS_TARGET_ATTR, "battery", &s);
  cpns_cond_ref_set(&c, &ref, &s);
  /* busy is not news for a battery observer; offline is */
  d = doc_with(57, CPNS_PRESENCE_BUSY);
  cpns_cond_sample(&d, CPNS_TARGET_ATTR, "battery", &s);
  assert_false(cpns_cond_due(&c, CPNS_TARGET_ATTR, &ref, &s));
  d = doc_with(57, CPNS_PRESENCE_OFFLINE);
  cpns_cond_sample(&d, CPNS_TARGET_ATTR, "battery", &s);
  assert_true(cpns_cond_due(&c, CPNS_TARGET_ATTR, &ref, &s));
  cpns_cond_ref_set(&c, &ref, &s);
  d = doc_with(57, CPNS_PRESENCE_ONLINE);
  cpns_cond_sample(&d, CPNS_TARGET_ATTR, "battery", &s);
  assert_true(cpns_cond_due(&c, CPNS_TARGET_ATTR, &ref, &s)); /* back online */

  /* state: any state change; the document: anything but the time */
  struct cpns_cond none = parse_ok("", CPNS_TARGET_STATE);
  struct cpns_cond_ref sref = {.zone = 0};
  struct cpns_status_doc a = doc_with(57, CPNS_PRESENCE_ONLINE), b = a;
  cpns_cond_sample(&a, CPNS_TARGET_STATE, "", &s);
  cpns_cond_ref_set(&none, &sref, &s);
  cpns_status_set_attr(&b, "battery", 10);
  cpns_cond_sample(&b, CPNS_TARGET_STATE, "", &s);
  assert_false(cpns_cond_due(&none, CPNS_TARGET_STATE, &sref, &s));
  b.state = CPNS_PRESENCE_AWAY;
  cpns_cond_sample(&b, CPNS_TARGET_STATE, "", &s);
  assert_true(cpns_cond_due(&none, CPNS_TARGET_STATE, &sref, &s));

  struct cpns_cond_ref dref = {.zone = 0};
  cpns_cond_sample(&a, CPNS_TARGET_DOC, "", &s);
  cpns_cond_ref_set(&none, &dref, &s);
  b = a;
  b.updated = 99;
  cpns_cond_sample(&b, CPNS_TARGET_DOC, "", &s);
  assert_false(cpns_cond_due(&none, CPNS_TARGET_DOC, &dref, &s));
  snprintf(b.text, sizeof b.text, "lunch");
  cpns_cond_sample(&b, CPNS_TARGET_DOC, "", &s);
  assert_true(cpns_cond_due(&none, CPNS_TARGET_DOC, &dref, &s));
  cpns_cond_sample(&b, CPNS_TARGET_TEXT, "", &s);
  struct cpns_cond_ref tref = {.zone = 0};
  cpns_cond_sample(&a, CPNS_TARGET_TEXT, "", &s);
  cpns_cond_ref_set(&none, &tref, &s);
  cpns_cond_sample(&b, CPNS_TARGET_TEXT, "", &s);
  assert_true(cpns_cond_due(&none, CPNS_TARGET_TEXT, &tref, &s));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_both_spellings), cmocka_unit_test(test_parse_refusals),
      cmocka_unit_test(test_format_round_trip),    cmocka_unit_test(test_thresholds),
      cmocka_unit_test(test_band),                 cmocka_unit_test(test_offline_and_targets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
