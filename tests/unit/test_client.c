/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of lib/client.c (include/cpns/client.h), end to end. A forked child
 * runs a server node on a free loopback port that plays a PNE's CPNS-5
 * resources just far enough to check what the client sends: each handler
 * verifies the body it gets and answers 4.00 with the reason when it is not
 * the expected one. The parent uses only the public client API: the raw
 * request with JSON text, the typed calls, the mapping of CoAP codes to
 * cpns_err with cpns_client_status() and cpns_client_error(), timeouts and
 * bad credentials. The child is stopped with SIGTERM and must exit 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cpns/client.h>
#include <cpns/cpns.h>

#include "keyring.h"
#include "msg.h"
#include "node.h"

/* test_node uses 24600-24649 */
#define PORT_FIRST 24650
#define PORT_LAST 24699
#define SLOW_MS 1500

static struct {
  char dir[1024];
  char keyring[1100];
  uint8_t key_app[CPNS_PSK_LEN], key_op[CPNS_PSK_LEN];
  pid_t pid;
  uint16_t port;
  char uri[64];
} g;

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ==== the server (child process) ======================================== */

static struct {
  struct cpns_node *node;
  struct {
    struct cpns_deferred *d;
    uint64_t due;
  } later[32];
  unsigned nlater;
} srv;

static void later_tick(void *arg) {
  (void)arg;
  uint64_t now = mono_ms();
  for (unsigned i = 0; i < srv.nlater;) {
    if (srv.later[i].due > now) {
      i++;
      continue;
    }
    cpns_deferred_reply(srv.later[i].d, 205, json_pack("{s:b}", "slow", 1), NULL);
    srv.later[i] = srv.later[--srv.nlater];
  }
}

/* Answers 4.00 with a reason unless body equals the JSON text want. */
static bool body_is(struct cpns_req *req, const char *want) {
  json_t *w = json_loads(want, 0, NULL);
  bool ok = w && req->body && json_equal(w, req->body);
  if (!ok) {
    char *got = req->body ? json_dumps(req->body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    cpns_reply_error(req, 400, "got %.60s, want %.60s", got ? got : "no body", want);
    free(got);
  }
  json_decref(w);
  return ok;
}

static void h_echo(struct cpns_req *req, void *arg) {
  (void)arg;
  if (req->method == COAP_REQUEST_CODE_DELETE) {
    cpns_reply(req, 202, NULL);
    return;
  }
  cpns_reply(req, req->method == COAP_REQUEST_CODE_GET ? 205 : 204,
             json_pack("{s:s?, s:i, s:s, s:O?}", "peer", req->peer ? req->peer->identity : NULL,
                       "accept", req->accept, "query", req->query, "body", req->body));
}

static void h_status(struct cpns_req *req, void *arg) {
  (void)arg;
  int code = atoi(req->seg[1]);
  if (code < 300)
    cpns_reply(req, code, code == 205 ? json_pack("{s:i}", "code", code) : NULL);
  else
    cpns_reply_error(req, code, "code %d", code);
}

static void h_status_nodiag(struct cpns_req *req, void *arg) {
  (void)arg;
  cpns_reply_error(req, atoi(req->seg[1]), "%s", "");
}

static void h_slow(struct cpns_req *req, void *arg) {
  (void)arg;
  struct cpns_deferred *d = cpns_req_defer(req);
  if (!d) return;
  if (srv.nlater >= sizeof srv.later / sizeof srv.later[0]) abort();
  srv.later[srv.nlater].d = d;
  srv.later[srv.nlater++].due = mono_ms() + SLOW_MS;
}

/* A 2.05 whose payload does not decode as its content format says. */
static void h_garbage(struct cpns_req *req, void *arg) {
  bool json = arg != NULL;
  uint8_t b[4];
  coap_pdu_set_code(req->response, COAP_RESPONSE_CODE(205));
  coap_add_option(req->response, COAP_OPTION_CONTENT_FORMAT,
                  coap_encode_var_safe(b, sizeof b, json ? CPNS_CF_JSON : CPNS_CF_CBOR), b);
  if (json)
    coap_add_data(req->response, 5, (const uint8_t *)"{oops");
  else
    coap_add_data(req->response, 2, (const uint8_t[]){0xff, 0x00});
  req->replied = true;
}

static void fill_entity(struct cpns_entity_rec *e, const char *id, unsigned roles,
                        enum cpns_entity_state st) {
  memset(e, 0, sizeof *e);
  snprintf(e->pn, sizeof e->pn, "home");
  snprintf(e->id, sizeof e->id, "%s", id);
  snprintf(e->name, sizeof e->name, "Name of %s", id);
  snprintf(e->device_type, sizeof e->device_type, "phone");
  snprintf(e->addr, sizeof e->addr, "127.0.0.1:16792");
  e->roles = roles;
  e->state = st;
  e->lifetime = 60;
  e->registered_at = 0;
  e->updated_at = 1795720151;
  e->expires_at = st == CPNS_STATE_ONLINE ? 1795720211 : INT64_MAX;
}

static void h_pn(struct cpns_req *req, void *arg) {
  (void)arg;
  const char *pn = req->seg[1];
  if (strcmp(pn, "home") == 0 || strcmp(pn, "empty") == 0) {
    struct cpns_pn_rec p;
    memset(&p, 0, sizeof p);
    snprintf(p.id, sizeof p.id, "%s", pn);
    snprintf(p.name, sizeof p.name, "Demo personal network");
    snprintf(p.owner, sizeof p.owner, "alice");
    snprintf(p.gw, sizeof p.gw, "gw-home");
    snprintf(p.gw_addr, sizeof p.gw_addr, "127.0.0.1:16683");
    p.open = true;
    p.state = CPNS_STATE_ONLINE;
    p.lifetime = 60;
    p.updated_at = 1795720150;
    p.expires_at = 1795720210;
    json_t *ents = json_array();
    if (pn[0] == 'h') {
      struct cpns_entity_rec e;
      fill_entity(&e, "gw-home", CPNS_ROLE_GW | CPNS_ROLE_PNE, CPNS_STATE_ONLINE);
      json_array_append_new(ents, cpns_msg_entity(&e));
      fill_entity(&e, "phone", CPNS_ROLE_PNE, CPNS_STATE_ADDED);
      json_array_append_new(ents, cpns_msg_entity(&e));
    }
    cpns_reply(req, 205, json_pack("{s:o, s:o}", "pn", cpns_msg_pn(&p), "entities", ents));
  } else if (strcmp(pn, "odd") == 0) {
    /* members of the wrong type or missing: read as empty or 0 */
    cpns_reply(req, 205,
               json_pack("{s:{s:i}, s:[{s:i, s:s, s:s}, {s:[s]}]}", "pn", "id", 5, "entities",
                         "id", 7, "roles", "pne", "lt", "x", "roles", "nope"));
  } else if (strcmp(pn, "bad") == 0) {
    cpns_reply(req, 205, json_pack("{s:i, s:[]}", "pn", 1, "entities"));
  } else if (strcmp(pn, "bad2") == 0) {
    cpns_reply(req, 205, json_pack("{s:{}}", "pn"));
  } else {
    cpns_reply_error(req, 404, "no such PN");
  }
}

static void h_join(struct cpns_req *req, void *arg) {
  (void)arg;
  if (!req->body) {
    cpns_reply_error(req, 400, "a body is required");
    return;
  }
  if (json_object_size(req->body) && !body_is(req, "{\"pn\":\"home\"}")) return;
  cpns_reply(req, 202, json_pack("{s:s, s:s}", "pn", "home", "state", "registering"));
}

static void h_leave(struct cpns_req *req, void *arg) {
  (void)arg;
  if (req->body) cpns_reply_error(req, 400, "no body expected");
  else cpns_reply(req, 202, NULL);
}

static void h_add(struct cpns_req *req, void *arg) {
  (void)arg;
  const char *name = json_string_value(json_object_get(req->body, "name"));
  if (strcmp(req->seg[1], "home") != 0) {
    cpns_reply_error(req, 404, "no such PN");
    return;
  }
  if (!(name ? body_is(req, "{\"id\":\"laptop\",\"name\":\"Work laptop\"}")
             : body_is(req, "{\"id\":\"laptop\"}")))
    return;
  cpns_reply(req, 201, NULL);
}

static void h_expel(struct cpns_req *req, void *arg) {
  (void)arg;
  if (strcmp(req->seg[1], "home") || strcmp(req->seg[3], "laptop") || req->body)
    cpns_reply_error(req, 400, "expel %s/%s", req->seg[1], req->seg[3]);
  else
    cpns_reply(req, 202, NULL);
}

static void h_remove(struct cpns_req *req, void *arg) {
  (void)arg;
  if (strcmp(req->seg[1], "home") != 0) cpns_reply_error(req, 404, "no such PN");
  else cpns_reply(req, 202, NULL);
}

static void h_readers(struct cpns_req *req, void *arg) {
  (void)arg;
  json_t *r = json_object_get(req->body, "readers");
  if (json_object_size(req->body) != 1 || !json_is_array(r)) {
    cpns_reply_error(req, 400, "expected {\"readers\":[pn,...]}");
    return;
  }
  /* the client test sends "pn0", "pn1"... in order */
  size_t i;
  json_t *v;
  json_array_foreach(r, i, v) {
    char want[32];
    snprintf(want, sizeof want, "pn%zu", i);
    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0) {
      cpns_reply_error(req, 400, "reader %zu is not %s", i, want);
      return;
    }
  }
  cpns_reply(req, 204, NULL);
}

static bool port_free(uint16_t port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  return ok;
}

static void server_main(int wfd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  alarm(120);
  struct cpns_keyring *kr = NULL;
  char err[512];
  if (cpns_keyring_load(g.keyring, 100, &kr, err, sizeof err)) {
    fprintf(stderr, "server: %s\n", err);
    _exit(3);
  }
  struct cpns_node_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.name = "test-pne";
  cfg.keyring = kr;
  cpns_node_limits_default(&cfg.limits);
  cfg.limits.keepalive = 0;
  unsigned span = PORT_LAST - PORT_FIRST + 1;
  unsigned start = (unsigned)getpid() % span;
  uint16_t port = 0;
  for (unsigned i = 0; i < span && !srv.node; i++) {
    uint16_t p = (uint16_t)(PORT_FIRST + (start + i) % span);
    if (!port_free(p)) continue;
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", p);
    cfg.listen = listen;
    if (cpns_node_new(&cfg, &srv.node, err, sizeof err) == 0) port = p;
  }
  if (!srv.node) _exit(4);
  struct cpns_node *n = srv.node;
  int rc = 0;
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_GET, "echo", h_echo, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_PUT, "echo", h_echo, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_POST, "echo", h_echo, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_DELETE, "echo", h_echo, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_GET, "status/*", h_status, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_GET, "nodiag/*", h_status_nodiag, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_GET, "slow", h_slow, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_GET, "garbage", h_garbage, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_GET, "garbage-json", h_garbage, "json");
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_GET, "pns/*", h_pn, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_DELETE, "pns/*", h_remove, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_PUT, "membership", h_join, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_DELETE, "membership", h_leave, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_POST, "pns/*/entities", h_add, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_DELETE, "pns/*/entities/*", h_expel, NULL);
  rc |= cpns_node_route(n, COAP_REQUEST_CODE_PUT, "pns/*/readers", h_readers, NULL);
  rc |= cpns_node_every(n, 20, later_tick, NULL);
  if (rc) _exit(5);
  if (write(wfd, &port, sizeof port) != (ssize_t)sizeof port) _exit(6);
  close(wfd);
  rc = cpns_node_run(n, NULL, NULL);
  cpns_node_free(n);
  cpns_keyring_free(kr);
  exit(rc ? 7 : 0);
}

/* ==== set-up ============================================================ */

static int mkdir_p(const char *path) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int group_setup(void **state) {
  (void)state;
  const char *base = getenv("CPNS_TEST_TMP");
  if (!base || !*base) base = "/tmp";
  if (mkdir_p(base) != 0) return -1;
  snprintf(g.dir, sizeof g.dir, "%s/client-XXXXXX", base);
  if (!mkdtemp(g.dir)) return -1;
  snprintf(g.keyring, sizeof g.keyring, "%s/pne-apps.keys", g.dir);
  if (cpns_key_generate(g.key_app) || cpns_key_generate(g.key_op)) return -1;
  int fd = open(g.keyring, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  FILE *f = fdopen(fd, "w");
  char h1[65], h2[65];
  cpns_key_to_hex(g.key_app, h1);
  cpns_key_to_hex(g.key_op, h2);
  fprintf(f, "player-app app home %s\nadmin operator - %s\n", h1, h2);
  fclose(f);

  int pfd[2];
  if (pipe(pfd)) return -1;
  fflush(NULL);
  g.pid = fork();
  if (g.pid < 0) return -1;
  if (g.pid == 0) {
    close(pfd[0]);
    server_main(pfd[1]);
  }
  close(pfd[1]);
  struct pollfd p = {pfd[0], POLLIN, 0};
  if (poll(&p, 1, 20000) != 1 || read(pfd[0], &g.port, sizeof g.port) != (ssize_t)sizeof g.port) {
    fprintf(stderr, "the server did not start\n");
    kill(g.pid, SIGKILL);
    waitpid(g.pid, NULL, 0);
    g.pid = 0;
    close(pfd[0]);
    return -1;
  }
  close(pfd[0]);
  snprintf(g.uri, sizeof g.uri, "coaps://127.0.0.1:%u", g.port);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  int rc = 0;
  if (g.pid > 0) {
    kill(g.pid, SIGTERM);
    int st = 0;
    uint64_t deadline = mono_ms() + 10000;
    pid_t w;
    while ((w = waitpid(g.pid, &st, WNOHANG)) == 0 && mono_ms() < deadline) usleep(10000);
    if (w == 0) {
      fprintf(stderr, "the server did not stop on SIGTERM\n");
      kill(g.pid, SIGKILL);
      waitpid(g.pid, &st, 0);
      rc = -1;
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "the server ended badly (status 0x%x)\n", (unsigned)st);
      rc = -1;
    }
  }
  unlink(g.keyring);
  rmdir(g.dir);
  return rc;
}

static cpns_client_t *open_client(const char *identity, const uint8_t *key, long timeout_ms,
                                  bool json) {
  cpns_client_config_t cfg = CPNS_CLIENT_CONFIG_INIT;
  cfg.uri = g.uri;
  cfg.identity = identity;
  cfg.key = key;
  cfg.timeout_ms = timeout_ms;
  cfg.json = json;
  cpns_client_t *c = NULL;
  int rc = cpns_client_new(&cfg, &c);
  if (rc) fail_msg("cpns_client_new: %s", cpns_strerror(rc));
  return c;
}

static int setup(void **state) {
  *state = open_client("player-app", g.key_app, 10000, false);
  return 0;
}

static int teardown(void **state) {
  cpns_client_free(*state);
  return 0;
}

/* Parses JSON text from the client, and frees it. */
static json_t *take_json(char *text) {
  assert_non_null(text);
  json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
  assert_non_null(v);
  cpns_free(text);
  return v;
}

#define EXPECT_OK(c, call)                                                                     \
  do {                                                                                         \
    int rc_ = (call);                                                                          \
    if (rc_) fail_msg("%s: %d (%s)", #call, rc_, cpns_client_error(c));                       \
    assert_string_equal(cpns_client_error(c), "");                                             \
  } while (0)

/* ==== tests ============================================================= */

static void test_new_errors(void **state) {
  (void)state;
  cpns_client_t *c = (cpns_client_t *)0x1;
  static const uint8_t key[CPNS_PSK_LEN];
  cpns_client_config_t cfg = CPNS_CLIENT_CONFIG_INIT;
  assert_int_equal(cpns_client_new(NULL, &c), CPNS_ERR_INVAL);
  assert_int_equal(cpns_client_new(&cfg, &c), CPNS_ERR_INVAL); /* no uri */
  cfg.uri = "coaps://127.0.0.1:5694";
  assert_int_equal(cpns_client_new(&cfg, &c), CPNS_ERR_INVAL); /* no identity, no key */
  cfg.identity = "x";
  assert_int_equal(cpns_client_new(&cfg, &c), CPNS_ERR_INVAL); /* no key */
  cfg.identity = NULL;
  cfg.key = key;
  assert_int_equal(cpns_client_new(&cfg, &c), CPNS_ERR_INVAL); /* no identity */
  cfg.identity = "x";
  assert_int_equal(cpns_client_new(&cfg, NULL), CPNS_ERR_INVAL);
  cfg.version = CPNS_CLIENT_CONFIG_VERSION + 1;
  assert_int_equal(cpns_client_new(&cfg, &c), CPNS_ERR_INVAL);
  cfg.version = CPNS_CLIENT_CONFIG_VERSION;
  cfg.uri = "http://127.0.0.1:5694";
  assert_int_equal(cpns_client_new(&cfg, &c), CPNS_ERR_CONFIG);
  cfg.uri = "coaps://[::1";
  assert_int_equal(cpns_client_new(&cfg, &c), CPNS_ERR_CONFIG);
  cfg.uri = "coaps://127.0.0.1:70000";
  assert_int_equal(cpns_client_new(&cfg, &c), CPNS_ERR_CONFIG);
  assert_ptr_equal(c, (cpns_client_t *)0x1); /* untouched on failure */
  /* NULL is harmless */
  cpns_client_free(NULL);
  cpns_free(NULL);
  assert_string_equal(cpns_client_error(NULL), "");
  assert_int_equal(cpns_client_status(NULL), 0);
}

static void test_request(void **state) {
  cpns_client_t *c = *state;
  char *out = NULL;
  EXPECT_OK(c, cpns_client_request(c, "GET", "echo", NULL, NULL, &out));
  assert_int_equal(cpns_client_status(c), 205);
  json_t *v = take_json(out);
  assert_string_equal(json_string_value(json_object_get(v, "peer")), "player-app");
  assert_int_equal(json_integer_value(json_object_get(v, "accept")), 60); /* CBOR on the wire */
  assert_true(json_is_null(json_object_get(v, "body")));
  json_decref(v);
  /* a query and a JSON body */
  const char *body = "{\"a\":[1,2.5,\"x\",null,true],\"b\":{\"c\":\"\xc3\xa9\"}}";
  EXPECT_OK(c, cpns_client_request(c, "PUT", "echo", "k=v&w", body, &out));
  assert_int_equal(cpns_client_status(c), 204);
  v = take_json(out);
  json_t *want = json_loads(body, 0, NULL);
  assert_true(json_equal(json_object_get(v, "body"), want));
  assert_string_equal(json_string_value(json_object_get(v, "query")), "k=v&w");
  json_decref(want);
  json_decref(v);
  /* a bare JSON value is a body too */
  EXPECT_OK(c, cpns_client_request(c, "POST", "echo", NULL, "[1]", &out));
  v = take_json(out);
  assert_int_equal(json_array_size(json_object_get(v, "body")), 1);
  json_decref(v);
  /* no answer body: NULL */
  out = (char *)0x1;
  EXPECT_OK(c, cpns_client_request(c, "DELETE", "echo", NULL, NULL, &out));
  assert_null(out);
  assert_int_equal(cpns_client_status(c), 202);
  /* out_json may be NULL */
  EXPECT_OK(c, cpns_client_request(c, "GET", "echo", NULL, NULL, NULL));
  /* an absolute path */
  EXPECT_OK(c, cpns_client_request(c, "GET", "/cpns/v1/echo", NULL, NULL, NULL));
}

static void test_request_local_errors(void **state) {
  cpns_client_t *c = *state;
  char *out = (char *)0x1;
  assert_int_equal(cpns_client_request(c, "PATCH", "echo", NULL, NULL, &out), CPNS_ERR_INVAL);
  assert_int_equal(cpns_client_request(c, "get", "echo", NULL, NULL, &out), CPNS_ERR_INVAL);
  assert_int_equal(cpns_client_request(c, "PUT", "echo", NULL, "{bad", &out), CPNS_ERR_INVAL);
  assert_int_equal(strncmp(cpns_client_error(c), "body is not JSON", 16), 0);
  assert_int_equal(cpns_client_request(c, "PUT", "echo", NULL, "{\"a\":1,\"a\":2}", &out),
                   CPNS_ERR_INVAL);
  assert_int_equal(cpns_client_request(c, "PUT", "echo", NULL, "", &out), CPNS_ERR_INVAL);
  /* the next good call clears the error */
  EXPECT_OK(c, cpns_client_request(c, "GET", "echo", NULL, NULL, NULL));
}

static void test_json_wire(void **state) {
  (void)state;
  cpns_client_t *c = open_client("admin", g.key_op, 10000, true);
  char *out = NULL;
  EXPECT_OK(c, cpns_client_request(c, "PUT", "echo", NULL, "{\"x\":1}", &out));
  json_t *v = take_json(out);
  assert_string_equal(json_string_value(json_object_get(v, "peer")), "admin");
  assert_int_equal(json_integer_value(json_object_get(v, "accept")), 50);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "body"), "x")), 1);
  json_decref(v);
  cpns_client_free(c);
}

/* CoAP codes to cpns_err, as client.h documents. */
static void test_error_mapping(void **state) {
  cpns_client_t *c = *state;
  static const struct {
    int code, err;
  } map[] = {
      {201, 0},
      {202, 0},
      {204, 0},
      {205, 0},
      {400, CPNS_ERR_INVAL},
      {401, CPNS_ERR_UNAUTH},
      {402, CPNS_ERR_INVAL},
      {403, CPNS_ERR_DENIED},
      {404, CPNS_ERR_NOTFOUND},
      {405, CPNS_ERR_INVAL},
      {406, CPNS_ERR_INVAL},
      {409, CPNS_ERR_EXISTS},
      {412, CPNS_ERR_EXISTS},
      {413, CPNS_ERR_TOOBIG},
      {414, CPNS_ERR_TOOBIG},
      {415, CPNS_ERR_INVAL},
      {500, CPNS_ERR_PROTO},
      {501, CPNS_ERR_PROTO},
      {502, CPNS_ERR_PROTO},
      {503, CPNS_ERR_UNAVAIL},
      {504, CPNS_ERR_TIMEOUT},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    char path[32], want[64];
    snprintf(path, sizeof path, "status/%d", map[i].code);
    char *out = (char *)0x1;
    int rc = cpns_client_request(c, "GET", path, NULL, NULL, &out);
    if (rc != map[i].err) fail_msg("%d: rc %d, want %d", map[i].code, rc, map[i].err);
    assert_int_equal(cpns_client_status(c), map[i].code);
    if (map[i].err) {
      snprintf(want, sizeof want, "%d.%02d code %d", map[i].code / 100, map[i].code % 100,
               map[i].code);
      assert_string_equal(cpns_client_error(c), want);
      assert_null(out); /* set to NULL on failure too */
    } else {
      assert_string_equal(cpns_client_error(c), "");
      if (map[i].code == 205) {
        json_t *v = take_json(out);
        assert_int_equal(json_integer_value(json_object_get(v, "code")), 205);
        json_decref(v);
      } else {
        assert_null(out);
      }
    }
  }
  /* without a diagnostic, the error text is the code and cpns_strerror() */
  assert_int_equal(cpns_client_request(c, "GET", "nodiag/403", NULL, NULL, NULL), CPNS_ERR_DENIED);
  char want[96];
  snprintf(want, sizeof want, "4.03 %s", cpns_strerror(CPNS_ERR_DENIED));
  assert_string_equal(cpns_client_error(c), want);
  /* the router's own answers */
  assert_int_equal(cpns_client_request(c, "GET", "nope", NULL, NULL, NULL), CPNS_ERR_NOTFOUND);
  assert_int_equal(cpns_client_status(c), 404);
  assert_string_equal(cpns_client_error(c), "4.04 no such resource");
  assert_int_equal(cpns_client_request(c, "PUT", "status/1", NULL, NULL, NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_client_status(c), 405);
  assert_string_equal(cpns_client_error(c), "4.05 method not allowed");
  /* and a success resets both */
  EXPECT_OK(c, cpns_client_request(c, "GET", "echo", NULL, NULL, NULL));
  assert_int_equal(cpns_client_status(c), 205);
}

/* An answer that does not decode is a protocol error, with no status. */
static void test_bad_answer(void **state) {
  cpns_client_t *c = *state;
  char *out = (char *)0x1;
  assert_int_equal(cpns_client_request(c, "GET", "garbage", NULL, NULL, &out), CPNS_ERR_PROTO);
  assert_null(out);
  assert_int_equal(cpns_client_status(c), 0);
  assert_int_equal(strncmp(cpns_client_error(c), "CBOR", 4), 0);
  assert_int_equal(cpns_client_request(c, "GET", "garbage-json", NULL, NULL, NULL), CPNS_ERR_PROTO);
  assert_int_equal(strncmp(cpns_client_error(c), "JSON", 4), 0);
  /* the client goes on working */
  EXPECT_OK(c, cpns_client_request(c, "GET", "echo", NULL, NULL, NULL));
}

static void test_timeout(void **state) {
  (void)state;
  cpns_client_t *c = open_client("player-app", g.key_app, 300, false);
  EXPECT_OK(c, cpns_client_request(c, "GET", "echo", NULL, NULL, NULL)); /* handshake */
  uint64_t t0 = mono_ms();
  char *out = (char *)0x1;
  assert_int_equal(cpns_client_request(c, "GET", "slow", NULL, NULL, &out), CPNS_ERR_TIMEOUT);
  assert_true(mono_ms() - t0 < SLOW_MS);
  assert_null(out);
  assert_int_equal(cpns_client_status(c), 0);
  assert_string_equal(cpns_client_error(c), "timed out");
  /* the late answer does not confuse the next call */
  uint64_t until = mono_ms() + SLOW_MS;
  while (mono_ms() < until) usleep(50000);
  char *echo = NULL;
  EXPECT_OK(c, cpns_client_request(c, "GET", "echo", "after", NULL, &echo));
  json_t *v = take_json(echo);
  assert_string_equal(json_string_value(json_object_get(v, "query")), "after");
  json_decref(v);
  cpns_client_free(c);
}

static void test_bad_credentials(void **state) {
  (void)state;
  struct {
    const char *id;
    const uint8_t *key;
  } cases[] = {{"player-app", g.key_op}, {"stranger", g.key_app}};
  for (size_t i = 0; i < 2; i++) {
    cpns_client_t *c = open_client(cases[i].id, cases[i].key, 2000, false);
    uint64_t t0 = mono_ms();
    int rc = cpns_client_request(c, "GET", "echo", NULL, NULL, NULL);
    if (rc != CPNS_ERR_TIMEOUT && rc != CPNS_ERR_UNAVAIL)
      fail_msg("%s: rc %d (%s)", cases[i].id, rc, cpns_client_error(c));
    assert_true(mono_ms() - t0 < 8000);
    assert_int_equal(cpns_client_status(c), 0);
    assert_true(cpns_client_error(c)[0] != '\0');
    /* the typed calls fail the same way */
    rc = cpns_pn_leave(c);
    assert_true(rc == CPNS_ERR_TIMEOUT || rc == CPNS_ERR_UNAVAIL);
    cpns_client_free(c);
  }
}

static void test_inventory(void **state) {
  cpns_client_t *c = *state;
  cpns_inventory_t *inv = NULL;
  EXPECT_OK(c, cpns_pn_get_inventory(c, "home", &inv));
  assert_non_null(inv);
  assert_string_equal(inv->pn.id, "home");
  assert_string_equal(inv->pn.name, "Demo personal network");
  assert_string_equal(inv->pn.owner, "alice");
  assert_string_equal(inv->pn.gw, "gw-home");
  assert_string_equal(inv->pn.state, "online");
  assert_true(inv->pn.open);
  assert_int_equal(inv->count, 2);
  cpns_entity_info_t *e = &inv->entities[0];
  assert_string_equal(e->id, "gw-home");
  assert_string_equal(e->pn, "home");
  assert_string_equal(e->name, "Name of gw-home");
  assert_string_equal(e->type, "phone");
  assert_string_equal(e->state, "online");
  assert_string_equal(e->addr, "127.0.0.1:16792");
  assert_int_equal(e->roles, CPNS_ROLE_GW | CPNS_ROLE_PNE);
  assert_int_equal(e->lifetime, 60);
  assert_int_equal(e->registered, 0); /* null */
  assert_int_equal(e->updated, 1795720151);
  assert_int_equal(e->expires, 1795720211);
  e = &inv->entities[1];
  assert_string_equal(e->id, "phone");
  assert_string_equal(e->state, "added");
  assert_int_equal(e->roles, CPNS_ROLE_PNE);
  assert_int_equal(e->expires, 0); /* INT64_MAX is sent as null */
  cpns_inventory_free(inv);

  inv = NULL;
  EXPECT_OK(c, cpns_pn_get_inventory(c, "empty", &inv));
  assert_int_equal(inv->count, 0);
  assert_null(inv->entities);
  cpns_inventory_free(inv);
  cpns_inventory_free(NULL);

  /* members of the wrong type read as empty */
  inv = NULL;
  EXPECT_OK(c, cpns_pn_get_inventory(c, "odd", &inv));
  assert_string_equal(inv->pn.id, "");
  assert_false(inv->pn.open);
  assert_int_equal(inv->count, 2);
  assert_string_equal(inv->entities[0].id, "");
  assert_int_equal(inv->entities[0].roles, 0);
  assert_int_equal(inv->entities[0].lifetime, 0);
  assert_int_equal(inv->entities[1].roles, 0);
  cpns_inventory_free(inv);

  inv = (cpns_inventory_t *)0x1;
  assert_int_equal(cpns_pn_get_inventory(c, "bad", &inv), CPNS_ERR_PROTO);
  assert_string_equal(cpns_client_error(c), "malformed inventory");
  assert_int_equal(cpns_pn_get_inventory(c, "bad2", &inv), CPNS_ERR_PROTO);
  assert_int_equal(cpns_pn_get_inventory(c, "nope", &inv), CPNS_ERR_NOTFOUND);
  assert_int_equal(cpns_client_status(c), 404);
  assert_string_equal(cpns_client_error(c), "4.04 no such PN");
  assert_ptr_equal(inv, (cpns_inventory_t *)0x1); /* untouched on failure */
  /* checked before anything is sent */
  assert_int_equal(cpns_pn_get_inventory(c, "a b", &inv), CPNS_ERR_INVAL);
  assert_int_equal(cpns_pn_get_inventory(c, "", &inv), CPNS_ERR_INVAL);
  assert_int_equal(cpns_pn_get_inventory(c, NULL, &inv), CPNS_ERR_INVAL);
  assert_int_equal(cpns_pn_get_inventory(c, "home", NULL), CPNS_ERR_INVAL);
}

static void test_membership(void **state) {
  cpns_client_t *c = *state;
  EXPECT_OK(c, cpns_pn_join(c, "home"));
  assert_int_equal(cpns_client_status(c), 202);
  EXPECT_OK(c, cpns_pn_join(c, NULL)); /* {} */
  assert_int_equal(cpns_pn_join(c, "office"), CPNS_ERR_INVAL); /* the server wants home */
  assert_int_equal(cpns_client_status(c), 400);
  assert_int_equal(cpns_pn_join(c, "a/b"), CPNS_ERR_INVAL);
  EXPECT_OK(c, cpns_pn_leave(c));
  assert_int_equal(cpns_client_status(c), 202);
}

static void test_management(void **state) {
  cpns_client_t *c = *state;
  EXPECT_OK(c, cpns_pn_add_entity(c, "home", "laptop", "Work laptop"));
  assert_int_equal(cpns_client_status(c), 201);
  EXPECT_OK(c, cpns_pn_add_entity(c, "home", "laptop", NULL));
  assert_int_equal(cpns_pn_add_entity(c, "office", "laptop", NULL), CPNS_ERR_NOTFOUND);
  assert_int_equal(cpns_pn_add_entity(c, "home", "lap top", NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_pn_add_entity(c, "ho/me", "laptop", NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_pn_add_entity(c, NULL, "laptop", NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_pn_add_entity(c, "home", NULL, NULL), CPNS_ERR_INVAL);

  EXPECT_OK(c, cpns_pn_expel_entity(c, "home", "laptop"));
  assert_int_equal(cpns_client_status(c), 202);
  assert_int_equal(cpns_pn_expel_entity(c, "home", "phone"), CPNS_ERR_INVAL);
  assert_int_equal(cpns_pn_expel_entity(c, "home", ""), CPNS_ERR_INVAL);
  assert_int_equal(cpns_pn_expel_entity(c, NULL, "x"), CPNS_ERR_INVAL);

  EXPECT_OK(c, cpns_pn_remove(c, "home"));
  assert_int_equal(cpns_pn_remove(c, "office"), CPNS_ERR_NOTFOUND);
  assert_int_equal(cpns_pn_remove(c, "x y"), CPNS_ERR_INVAL);
  assert_int_equal(cpns_pn_remove(c, NULL), CPNS_ERR_INVAL);

  /* readers: none, a few, the most allowed, one too many */
  char names[CPNS_READERS_MAX + 1][16];
  const char *readers[CPNS_READERS_MAX + 1];
  for (int i = 0; i <= CPNS_READERS_MAX; i++) {
    snprintf(names[i], sizeof names[i], "pn%d", i);
    readers[i] = names[i];
  }
  EXPECT_OK(c, cpns_pn_set_readers(c, "home", readers, 0));
  EXPECT_OK(c, cpns_pn_set_readers(c, "home", readers, 2));
  assert_int_equal(cpns_client_status(c), 204);
  EXPECT_OK(c, cpns_pn_set_readers(c, "home", readers, CPNS_READERS_MAX));
  assert_int_equal(cpns_pn_set_readers(c, "home", readers, CPNS_READERS_MAX + 1), CPNS_ERR_INVAL);
  assert_int_equal(cpns_client_status(c), 204); /* nothing was sent */
  readers[1] = "not an id";
  assert_int_equal(cpns_pn_set_readers(c, "home", readers, 2), CPNS_ERR_INVAL);
  readers[1] = NULL;
  assert_int_equal(cpns_pn_set_readers(c, "home", readers, 2), CPNS_ERR_INVAL);
  assert_int_equal(cpns_pn_set_readers(c, "", readers, 0), CPNS_ERR_INVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_errors),
      cmocka_unit_test_setup_teardown(test_request, setup, teardown),
      cmocka_unit_test_setup_teardown(test_request_local_errors, setup, teardown),
      cmocka_unit_test(test_json_wire),
      cmocka_unit_test_setup_teardown(test_error_mapping, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_answer, setup, teardown),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_bad_credentials),
      cmocka_unit_test_setup_teardown(test_inventory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_membership, setup, teardown),
      cmocka_unit_test_setup_teardown(test_management, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
