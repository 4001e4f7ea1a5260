/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/client_status.c (include/cpns/status.h): every argument
 * the API refuses is refused before anything is sent (CPNS_ERR_INVAL), and
 * the public limits and names agree with the daemons'. The calls that reach
 * a peer are exercised by tests/integration/test_status.sh through cpnsctl. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <cpns/status.h>

#include "status.h"

static int setup(void **state) {
  cpns_client_config_t cfg = CPNS_CLIENT_CONFIG_INIT;
  /* Plain CoAP to a port nobody answers: nothing here may need an answer. */
  cfg.uri = "coap://127.0.0.1:9";
  cfg.timeout_ms = 200;
  cpns_client_t *c = NULL;
  if (cpns_client_new(&cfg, &c)) return -1;
  *state = c;
  return 0;
}

static int teardown(void **state) {
  cpns_client_free(*state);
  return 0;
}

static int never(void *arg, const cpns_status_event_t *ev) {
  (void)arg;
  (void)ev;
  fail_msg("no event expected");
  return 1;
}

static void test_invalid_arguments(void **state) {
  cpns_client_t *c = *state;
  cpns_status_t st;
  assert_int_equal(cpns_status_get(c, "home", "bad id", &st), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_get(c, "", "phone", &st), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_get(NULL, "home", "phone", &st), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_get(c, "home", "phone", NULL), CPNS_ERR_INVAL);
  /* updates: a state, a text, names and values the daemons would refuse */
  cpns_status_attr_t a = {"battery", 57};
  assert_int_equal(cpns_status_update(c, "sleeping", NULL, NULL, 0, NULL, 0), CPNS_ERR_INVAL);
  char text[CPNS_STATUS_TEXT_MAX + 2];
  memset(text, 'x', sizeof text - 1);
  text[sizeof text - 1] = '\0';
  assert_int_equal(cpns_status_update(c, NULL, text, NULL, 0, NULL, 0), CPNS_ERR_INVAL);
  cpns_status_attr_t bad = {"Battery", 1};
  assert_int_equal(cpns_status_update(c, NULL, NULL, &bad, 1, NULL, 0), CPNS_ERR_INVAL);
  cpns_status_attr_t inf = {"battery", INFINITY};
  assert_int_equal(cpns_status_update(c, NULL, NULL, &inf, 1, NULL, 0), CPNS_ERR_INVAL);
  cpns_status_attr_t big = {"battery", 2 * CPNS_STATUS_VALUE_MAX};
  assert_int_equal(cpns_status_update(c, NULL, NULL, &big, 1, NULL, 0), CPNS_ERR_INVAL);
  const char *reserved[] = {"state"};
  assert_int_equal(cpns_status_update(c, NULL, NULL, &a, 1, reserved, 1), CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_update(c, NULL, NULL, NULL, 1, NULL, 0), CPNS_ERR_INVAL);
  cpns_status_t doc;
  memset(&doc, 0, sizeof doc);
  doc.nattrs = CPNS_STATUS_ATTRS_MAX + 1;
  assert_int_equal(cpns_status_set(c, &doc), CPNS_ERR_INVAL);
  /* watch: conditions are checked by the daemons' own rules first */
  cpns_status_cond_t cond = CPNS_STATUS_COND_INIT;
  cond.pmin = 10;
  cond.pmax = 5;
  assert_int_equal(cpns_status_watch(c, "home", "phone", "battery", &cond, 100, never, NULL),
                   CPNS_ERR_INVAL);
  cond = (cpns_status_cond_t)CPNS_STATUS_COND_INIT;
  cond.has_lt = true;
  cond.lt = 20;
  assert_int_equal(cpns_status_watch(c, "home", "phone", NULL, &cond, 100, never, NULL),
                   CPNS_ERR_INVAL); /* a threshold on the whole document */
  assert_int_equal(cpns_status_watch(c, "home", "phone", "Bad", NULL, 100, never, NULL),
                   CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_watch(c, "home", "phone", "battery", NULL, -1, never, NULL),
                   CPNS_ERR_INVAL);
  assert_int_equal(cpns_status_watch(c, "home", "phone", "battery", NULL, 100, NULL, NULL),
                   CPNS_ERR_INVAL);
  /* policies */
  cpns_policy_t p;
  memset(&p, 0, sizeof p);
  strcpy(p.entity, "phone");
  strcpy(p.target, "tablet");
  p.kind = CPNS_POLICY_BELOW;
  strcpy(p.attr, "Battery");
  assert_int_equal(cpns_policy_add(c, "home", &p, NULL), CPNS_ERR_INVAL);
  strcpy(p.attr, "battery");
  p.threshold = NAN;
  assert_int_equal(cpns_policy_add(c, "home", &p, NULL), CPNS_ERR_INVAL);
  p.kind = (enum cpns_policy_kind)9;
  assert_int_equal(cpns_policy_add(c, "home", &p, NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_policy_remove(c, "home", "x y"), CPNS_ERR_INVAL);
  cpns_policy_t *list;
  size_t n;
  assert_int_equal(cpns_policy_list(c, "home", NULL, &n), CPNS_ERR_INVAL);
  assert_int_equal(cpns_policy_list(c, "bad pn", &list, &n), CPNS_ERR_INVAL);
}

static void test_names(void **state) {
  (void)state;
  assert_string_equal(cpns_status_state_name(CPNS_PRESENCE_BUSY), "busy");
  assert_string_equal(cpns_status_state_name(CPNS_PRESENCE_OFFLINE), "offline");
  /* the public document is the one the daemons decode */
  assert_int_equal(sizeof(cpns_status_t), sizeof(struct cpns_status_doc));
  assert_int_equal(CPNS_STATUS_ATTR_NAME_MAX, 24);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_invalid_arguments, setup, teardown),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
