/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of cpns_node_dispatch (lib/node.c): a request made inside the
 * process runs through the router with its rules and the handlers' replies
 * come back to the caller, as CPNS-4 uses it. One node without listeners;
 * nothing touches the network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keyring.h"
#include "log.h"
#include "node.h"

static struct cpns_node *g_node;
static struct cpns_key_entry g_ext, g_other;

/* What the callback was handed, copied. */
struct got {
  int calls;
  int code;
  char body[512];
  char diag[CPNS_DIAG_MAX];
  char location[256];
};

static void on_reply(void *arg, const struct cpns_local_reply *r) {
  struct got *g = arg;
  g->calls++;
  g->code = r->code;
  g->body[0] = '\0';
  if (r->body) {
    char *t = json_dumps(r->body, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(g->body, sizeof g->body, "%s", t ? t : "");
    free(t);
  }
  snprintf(g->diag, sizeof g->diag, "%s", r->diag);
  snprintf(g->location, sizeof g->location, "%s", r->location);
}

/* Echoes what the handler saw. */
static void h_echo(struct cpns_req *req, void *arg) {
  (void)arg;
  json_t *segs = json_array();
  for (unsigned i = 0; i < req->nseg; i++) json_array_append_new(segs, json_string(req->seg[i]));
  char kw[64] = "";
  cpns_req_query(req, "kw", kw, sizeof kw);
  cpns_reply(req, 205, json_pack("{s:o, s:s, s:s, s:O, s:b}", "seg", segs, "kw", kw, "peer",
                                 req->peer->identity, "body", req->body ? req->body : json_null(),
                                 "session", req->session != NULL));
}

/* Creates, naming the new resource as directory.c does. */
static void h_create(struct cpns_req *req, void *arg) {
  (void)arg;
  const char *segs[] = {"cpns", "v1", "things", "t1"};
  for (size_t i = 0; i < 4; i++)
    coap_add_option(req->response, COAP_OPTION_LOCATION_PATH, strlen(segs[i]),
                    (const uint8_t *)segs[i]);
  cpns_reply(req, 201, json_pack("{s:s}", "id", "t1"));
}

static void h_error(struct cpns_req *req, void *arg) {
  (void)arg;
  cpns_reply_error(req, 404, "no such thing as %s", req->seg[1]);
}

static void h_defer(struct cpns_req *req, void *arg) {
  (void)arg;
  struct cpns_deferred *d = cpns_req_defer(req);
  assert_null(d); /* a local request cannot be deferred: answered 5.01 */
}

static void h_silent(struct cpns_req *req, void *arg) {
  (void)req;
  (void)arg;
}

static void h_observe(struct cpns_req *req, void *arg) {
  (void)arg;
  cpns_reply_observe(req, 7, json_pack("{s:i}", "n", 1));
}

static unsigned relations(const struct cpns_req *req, unsigned wanted, void *arg) {
  (void)wanted;
  (void)arg;
  return req->peer->role == CPNS_PEER_EXTERNAL ? CPNS_REL_EXTERNAL : 0;
}

static int setup(void **state) {
  (void)state;
  cpns_log_set_level(CPNS_LOG_ERR);
  struct cpns_node_config cfg = {.name = "t"};
  cpns_node_limits_default(&cfg.limits);
  char err[256];
  if (cpns_node_new(&cfg, &g_node, err, sizeof err)) return -1;
  cpns_node_set_relations(g_node, relations, NULL);
  int rc = 0;
  rc |= cpns_node_route_as(g_node, COAP_REQUEST_CODE_GET, "things", CPNS_REL_EXTERNAL, "list things",
                           h_echo, NULL);
  rc |= cpns_node_route_as(g_node, COAP_REQUEST_CODE_POST, "things", CPNS_REL_EXTERNAL,
                           "make things", h_create, NULL);
  rc |= cpns_node_route_as(g_node, COAP_REQUEST_CODE_GET, "things/*", CPNS_REL_EXTERNAL,
                           "read things", h_error, NULL);
  rc |= cpns_node_route_as(g_node, COAP_REQUEST_CODE_PUT, "things/*", CPNS_REL_OPERATOR,
                           "change things", h_echo, NULL);
  rc |= cpns_node_route_as(g_node, COAP_REQUEST_CODE_GET, "relay", CPNS_REL_ANY, "relay", h_defer,
                           NULL);
  rc |= cpns_node_route_as(g_node, COAP_REQUEST_CODE_GET, "silent", CPNS_REL_ANY, "be silent",
                           h_silent, NULL);
  rc |= cpns_node_route_as(g_node, COAP_REQUEST_CODE_GET, "observed", CPNS_REL_ANY, "observe",
                           h_observe, NULL);
  memset(&g_ext, 0, sizeof g_ext);
  snprintf(g_ext.identity, sizeof g_ext.identity, "ext.acme");
  g_ext.role = CPNS_PEER_EXTERNAL;
  memset(&g_other, 0, sizeof g_other);
  snprintf(g_other.identity, sizeof g_other.identity, "phone");
  g_other.role = CPNS_PEER_PNE;
  return rc;
}

static int teardown(void **state) {
  (void)state;
  cpns_node_free(g_node);
  return 0;
}

static struct got run(coap_pdu_code_t m, const char *path, const char *query, json_t *body,
                      const struct cpns_key_entry *peer) {
  struct got g;
  memset(&g, 0, sizeof g);
  assert_int_equal(cpns_node_dispatch(g_node, m, path, query, body, peer, on_reply, &g), 0);
  assert_int_equal(g.calls, 1); /* exactly once, before it returned */
  return g;
}

static void test_reply(void **state) {
  (void)state;
  json_t *body = json_pack("{s:i}", "a", 1);
  struct got g = run(COAP_REQUEST_CODE_GET, "things", "kw=tv&x=1", body, &g_ext);
  json_decref(body);
  assert_int_equal(g.code, 205);
  assert_string_equal(g.body, "{\"body\":{\"a\":1},\"kw\":\"tv\",\"peer\":\"ext.acme\",\"seg\":[\"things\"],"
                              "\"session\":false}");
  assert_string_equal(g.diag, "");
  assert_string_equal(g.location, "");
}

static void test_location(void **state) {
  (void)state;
  struct got g = run(COAP_REQUEST_CODE_POST, "things", NULL, NULL, &g_ext);
  assert_int_equal(g.code, 201);
  assert_string_equal(g.body, "{\"id\":\"t1\"}");
  assert_string_equal(g.location, "/cpns/v1/things/t1");
}

static void test_errors(void **state) {
  (void)state;
  struct got g = run(COAP_REQUEST_CODE_GET, "things/x1", NULL, NULL, &g_ext);
  assert_int_equal(g.code, 404);
  assert_string_equal(g.diag, "no such thing as x1");
  assert_string_equal(g.body, "");
  g = run(COAP_REQUEST_CODE_GET, "things", NULL, NULL, &g_other); /* the rule */
  assert_int_equal(g.code, 403);
  assert_string_equal(g.diag, "phone may not list things");
  g = run(COAP_REQUEST_CODE_PUT, "things/x1", NULL, NULL, &g_ext);
  assert_int_equal(g.code, 403);
  assert_string_equal(g.diag, "ext.acme may not change things");
  g = run(COAP_REQUEST_CODE_DELETE, "things", NULL, NULL, &g_ext);
  assert_int_equal(g.code, 405);
  g = run(COAP_REQUEST_CODE_GET, "nothing", NULL, NULL, &g_ext);
  assert_int_equal(g.code, 404);
  g = run(COAP_REQUEST_CODE_GET, "relay", NULL, NULL, &g_ext);
  assert_int_equal(g.code, 501);
  assert_string_equal(g.diag, "not available over this interface");
  g = run(COAP_REQUEST_CODE_GET, "silent", NULL, NULL, &g_ext);
  assert_int_equal(g.code, 500);
  assert_string_equal(g.diag, "no reply");
  g = run(COAP_REQUEST_CODE_GET, "observed", NULL, NULL, &g_ext);
  assert_int_equal(g.code, 205);
  assert_string_equal(g.body, "{\"n\":1}");
}

static void test_bad_paths(void **state) {
  (void)state;
  const char *notfound[] = {"", "things/", "things//x", "/things"};
  for (size_t i = 0; i < sizeof notfound / sizeof notfound[0]; i++) {
    struct got g = run(COAP_REQUEST_CODE_GET, notfound[i], NULL, NULL, &g_ext);
    assert_int_equal(g.code, 404);
  }
  char longseg[CPNS_SEGMENT_MAX + 8];
  memset(longseg, 'a', sizeof longseg - 1);
  longseg[sizeof longseg - 1] = '\0';
  struct got g = run(COAP_REQUEST_CODE_GET, longseg, NULL, NULL, &g_ext);
  assert_int_equal(g.code, 414);
  g = run(COAP_REQUEST_CODE_GET, "a/b/c/d/e/f/g/h/i", NULL, NULL, &g_ext);
  assert_int_equal(g.code, 414);
  char q[CPNS_QUERY_MAX + 1];
  memset(q, 'q', sizeof q - 1);
  q[sizeof q - 1] = '\0';
  g = run(COAP_REQUEST_CODE_GET, "things", q, NULL, &g_ext);
  assert_int_equal(g.code, 414);
  q[CPNS_QUERY_MAX - 1] = '\0'; /* 255 bytes: the most */
  g = run(COAP_REQUEST_CODE_GET, "things", q, NULL, &g_ext);
  assert_int_equal(g.code, 205);
}

static void test_arguments(void **state) {
  (void)state;
  struct got g;
  memset(&g, 0, sizeof g);
  assert_int_equal(cpns_node_dispatch(NULL, COAP_REQUEST_CODE_GET, "x", NULL, NULL, &g_ext, on_reply, &g),
                   CPNS_ERR_INVAL);
  assert_int_equal(cpns_node_dispatch(g_node, COAP_REQUEST_CODE_GET, NULL, NULL, NULL, &g_ext, on_reply, &g),
                   CPNS_ERR_INVAL);
  assert_int_equal(cpns_node_dispatch(g_node, COAP_REQUEST_CODE_GET, "x", NULL, NULL, NULL, on_reply, &g),
                   CPNS_ERR_INVAL);
  assert_int_equal(cpns_node_dispatch(g_node, COAP_REQUEST_CODE_GET, "x", NULL, NULL, &g_ext, NULL, &g),
                   CPNS_ERR_INVAL);
  assert_int_equal(g.calls, 0); /* a call that fails never calls back */
  struct cpns_node_stats st;
  cpns_node_get_stats(g_node, &st);
  assert_true(st.requests > 0);
  assert_true(st.replies_4xx > 0);
  assert_true(st.replies_5xx > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reply),     cmocka_unit_test(test_location),
      cmocka_unit_test(test_errors),    cmocka_unit_test(test_bad_paths),
      cmocka_unit_test(test_arguments),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
