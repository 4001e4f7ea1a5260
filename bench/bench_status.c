/* SPDX-License-Identifier: Apache-2.0 */
/* bench_status: the benchmark of issue 5 (status management), the cpns side.
 * On plain libcoap, one client context with a DTLS-PSK session per identity:
 *   1. G gateways (gw-i of PN pn-i) register their PN and K entities each;
 *   2. status updates per second into the server, for --seconds each:
 *      one entity per PUT pns/{pn}/entities/{id}/status, then batches of K
 *      (POST pns/{pn}/status), at most one request in flight per session;
 *   3. N operators (op-j) open sessions, the server's RSS is read, then each
 *      observes pns/pn-0/entities/e-0/status/battery (Observe 0) and the RSS
 *      is read again: memory per subscription;
 *   4. R rounds: gw-0 changes e-0's battery, and the time from sending that
 *      PUT until each of the N observers got the notification with the new
 *      value is recorded (median, p99 over all observers and rounds).
 * Every phase is bounded in count and in time (--timeout seconds).
 *
 *   bench_status keyring FILE GATEWAYS OPERATORS
 *   bench_status run --server coaps://127.0.0.1:PORT --keyring FILE --server-pid PID
 *                    [--gateways G] [--entities K] [--observers N] [--rounds R]
 *                    [--seconds S] [--concurrency C] [--timeout S]
 * Prints a table and a "# results" block of key value lines; exit status 0
 * when every step succeeded. */
#include <arpa/inet.h>
#include <coap3/coap.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cpns/cpns.h>

#include "benchlib.h"
#include "codec.h"
#include "keyring.h"

#define MAX_SESSIONS 20000
#define MAX_CONC 256
#define STEP_MS 5
#define PATH_MAX_LEN 256

enum kind { K_NONE, K_PN, K_ENTITY, K_PUT, K_BATCH, K_OBSERVE };

struct sess {
  coap_session_t *s;
  char id[CPNS_ID_MAX + 1];
  uint8_t key[CPNS_PSK_LEN];
  int index;          /* i of gw-i, j of op-j */
  bool gateway;
  bool connecting, up;
  enum kind pending;
  int next_entity;    /* gateways: entities registered so far, then the round robin */
  bool observing;
  uint8_t obs_token[8];
  size_t obs_token_len;
  uint64_t got_us;    /* the current round's value arrived */
};

static struct sess *S;
static size_t NS, G, N;
static unsigned K = 64;
static unsigned inflight, connecting;
static bool failed;
static uint64_t ok_updates;    /* accepted status updates of the current phase */
static uint64_t refused_updates;
static long round_value = -1;
static uint64_t t_round;

static struct sess *of(coap_session_t *s) { return coap_session_get_app_data(s); }

static json_t *body_of(const coap_pdu_t *pdu) {
  size_t len;
  const uint8_t *data;
  if (!coap_get_data(pdu, &len, &data) || !len) return NULL;
  int cf = CPNS_CF_CBOR;
  coap_opt_iterator_t it;
  coap_opt_t *o = coap_check_option(pdu, COAP_OPTION_CONTENT_FORMAT, &it);
  if (o) cf = (int)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
  json_t *j = NULL;
  char err[128];
  if (cpns_codec_decode(data, len, cf, &cpns_codec_default_limits, &j, err, sizeof err)) return NULL;
  return j;
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent,
                                   const coap_pdu_t *rcvd, const coap_mid_t mid) {
  (void)sent;
  (void)mid;
  struct sess *m = of(s);
  if (!m) return COAP_RESPONSE_OK;
  coap_pdu_code_t c = coap_pdu_get_code(rcvd);
  int code = (int)COAP_RESPONSE_CLASS(c) * 100 + (int)(c & 0x1f);
  coap_bin_const_t tok = coap_pdu_get_token(rcvd);
  bool obs_tok = m->obs_token_len && tok.length == m->obs_token_len &&
                 memcmp(tok.s, m->obs_token, tok.length) == 0;
  if (obs_tok && m->pending != K_OBSERVE) {
    if (code == 205 && round_value >= 0 && !m->got_us) {
      json_t *b = body_of(rcvd);
      json_t *v = json_object_get(b, "value");
      if (json_is_number(v) && (long)json_number_value(v) == round_value) m->got_us = bench_now_us();
      json_decref(b);
    }
    return COAP_RESPONSE_OK;
  }
  enum kind k = m->pending;
  if (k == K_NONE) return COAP_RESPONSE_OK;
  m->pending = K_NONE;
  inflight--;
  if (code < 200 || code >= 300) {
    if (code == 429 && (k == K_PUT || k == K_BATCH)) {
      refused_updates++;
      return COAP_RESPONSE_OK;
    }
    fprintf(stderr, "bench: %s: request kind %d answered %d.%02d\n", m->id, (int)k, code / 100,
            code % 100);
    failed = true;
    return COAP_RESPONSE_OK;
  }
  switch (k) {
  case K_ENTITY: m->next_entity++; break;
  case K_PUT: ok_updates++; break;
  case K_BATCH: {
    json_t *b = body_of(rcvd);
    json_t *acc = json_object_get(b, "accepted");
    ok_updates += json_is_integer(acc) ? (uint64_t)json_integer_value(acc) : 0;
    refused_updates += json_array_size(json_object_get(b, "refused"));
    json_decref(b);
    break;
  }
  case K_OBSERVE: {
    coap_opt_iterator_t it;
    m->observing = coap_check_option(rcvd, COAP_OPTION_OBSERVE, &it) != NULL;
    if (!m->observing) {
      fprintf(stderr, "bench: %s: the status GET came back without Observe\n", m->id);
      failed = true;
    }
    break;
  }
  default: break;
  }
  return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid) {
  (void)sent;
  (void)mid;
  struct sess *m = of(s);
  if (!m || m->pending == K_NONE) return;
  fprintf(stderr, "bench: %s: request kind %d got no answer (nack %d)\n", m->id, (int)m->pending,
          (int)reason);
  m->pending = K_NONE;
  inflight--;
  failed = true;
}

static int on_event(coap_session_t *s, const coap_event_t ev) {
  struct sess *m = of(s);
  if (!m) return 0;
  if (ev == COAP_EVENT_DTLS_CONNECTED) {
    if (m->connecting) connecting--;
    m->connecting = false;
    m->up = true;
  } else if (ev == COAP_EVENT_DTLS_CLOSED || ev == COAP_EVENT_DTLS_ERROR ||
             ev == COAP_EVENT_SESSION_FAILED) {
    if (m->connecting) connecting--;
    if (m->connecting || m->up) {
      fprintf(stderr, "bench: the session of %s went down (event %d)\n", m->id, (int)ev);
      failed = true;
    }
    m->connecting = m->up = false;
  }
  return 0;
}

static void release_buf(coap_session_t *s, void *p) {
  (void)s;
  free(p);
}

static void add_path(coap_pdu_t *pdu, const char *path) {
  char buf[PATH_MAX_LEN];
  snprintf(buf, sizeof buf, "cpns/v1/%s", path);
  char *save = NULL;
  for (char *seg = strtok_r(buf, "/", &save); seg; seg = strtok_r(NULL, "/", &save))
    coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(seg), (const uint8_t *)seg);
}

/* Sends method path (under /cpns/v1) on m's session with body (JSON, sent as
 * CBOR; stolen) or none; observe: Observe 0, the token kept. */
static int send_req(struct sess *m, enum kind k, coap_pdu_code_t method, const char *path,
                    json_t *body, bool observe) {
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, method, coap_new_message_id(m->s),
                                  coap_session_max_pdu_size(m->s));
  if (!pdu) {
    json_decref(body);
    return -1;
  }
  uint8_t tok[8], b[4];
  size_t toklen = 0;
  coap_session_new_token(m->s, &toklen, tok);
  coap_add_token(pdu, toklen, tok);
  if (observe) {
    coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(b, sizeof b, COAP_OBSERVE_ESTABLISH), b);
    memcpy(m->obs_token, tok, toklen);
    m->obs_token_len = toklen;
  }
  add_path(pdu, path);
  uint8_t *cbor = NULL;
  size_t cborlen = 0;
  if (body) {
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(b, sizeof b, COAP_MEDIATYPE_APPLICATION_CBOR), b);
    int rc = cpns_codec_encode(body, CPNS_CF_CBOR, &cbor, &cborlen);
    json_decref(body);
    /* libcoap keeps a large body for its later blocks and frees it then. */
    if (rc || !coap_add_data_large_request(m->s, pdu, cborlen, cbor, release_buf, cbor)) {
      free(cbor);
      coap_delete_pdu(pdu);
      return -1;
    }
  }
  m->pending = k;
  inflight++;
  coap_mid_t mid = coap_send(m->s, pdu);
  if (mid == COAP_INVALID_MID) {
    m->pending = K_NONE;
    inflight--;
    return -1;
  }
  return 0;
}

static void io(coap_context_t *ctx, unsigned ms) { coap_io_process(ctx, ms); }

static bool all_idle(void) { return inflight == 0; }

static int loop_until(coap_context_t *ctx, bool (*done)(void), double limit, const char *what) {
  uint64_t t0 = bench_now_us();
  while (!failed && !done()) {
    if (bench_since_s(t0) > limit) {
      fprintf(stderr, "bench: %s: not done after %.0f s\n", what, limit);
      failed = true;
      break;
    }
    io(ctx, STEP_MS);
  }
  return failed ? -1 : 0;
}

static long rss_kb(long pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb;
}

static void usage(void) {
  fprintf(stderr,
          "Usage: bench_status keyring FILE GATEWAYS OPERATORS\n"
          "       bench_status run --server coaps://HOST:PORT --keyring FILE --server-pid PID\n"
          "                        [--gateways G (16)] [--entities K (64)] [--observers N (1000)]\n"
          "                        [--rounds R (20)] [--seconds S (5)] [--concurrency C (32)]\n"
          "                        [--timeout S per phase (120)]\n");
}

/* Opens the sessions [from, to) with at most conc handshakes at once. */
static int connect_range(coap_context_t *ctx, const coap_address_t *dst, size_t from, size_t to,
                         unsigned conc, double limit) {
  uint64_t t0 = bench_now_us();
  size_t next = from;
  for (;;) {
    while (!failed && connecting < conc && next < to) {
      struct sess *m = &S[next++];
      coap_dtls_cpsk_t cpsk;
      memset(&cpsk, 0, sizeof cpsk);
      cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
      cpsk.psk_info.identity.s = (const uint8_t *)m->id;
      cpsk.psk_info.identity.length = strlen(m->id);
      cpsk.psk_info.key.s = m->key;
      cpsk.psk_info.key.length = CPNS_PSK_LEN;
      m->connecting = true;
      connecting++;
      m->s = coap_new_client_session_psk2(ctx, NULL, dst, COAP_PROTO_DTLS, &cpsk);
      if (!m->s) {
        fprintf(stderr, "bench: cannot open a session for %s\n", m->id);
        failed = true;
        break;
      }
      coap_session_set_app_data(m->s, m);
    }
    size_t up = 0;
    for (size_t i = from; i < to; i++) up += S[i].up;
    if (failed || up == to - from) break;
    if (bench_since_s(t0) > limit) {
      fprintf(stderr, "bench: %zu of %zu handshakes after %.0f s\n", up, to - from, limit);
      failed = true;
      break;
    }
    io(ctx, STEP_MS);
  }
  return failed ? -1 : 0;
}

static json_t *status_body(long v) {
  return json_pack("{s:s, s:{s:I}}", "state", "online", "attrs", "battery", (json_int_t)v);
}

/* Updates for `seconds`: every idle gateway session sends one request
 * (a PUT of one entity, or a batch of all its K entities). */
static int update_phase(coap_context_t *ctx, bool batch, double seconds, double *rate) {
  ok_updates = refused_updates = 0;
  uint64_t t0 = bench_now_us();
  long v = 1000;
  while (!failed && bench_since_s(t0) < seconds) {
    for (size_t i = 0; i < G; i++) {
      struct sess *m = &S[i];
      if (m->pending != K_NONE) continue;
      char path[PATH_MAX_LEN];
      if (batch) {
        json_t *ups = json_array();
        for (unsigned e = 0; e < K; e++) {
          char id[32];
          snprintf(id, sizeof id, "e-%u", e);
          json_array_append_new(ups, json_pack("{s:s, s:o}", "id", id, "status", status_body(v++)));
        }
        snprintf(path, sizeof path, "pns/pn-%d/status", m->index);
        if (send_req(m, K_BATCH, COAP_REQUEST_CODE_POST, path, json_pack("{s:o}", "updates", ups), false))
          failed = true;
      } else {
        snprintf(path, sizeof path, "pns/pn-%d/entities/e-%d/status", m->index,
                 m->next_entity++ % (int)K);
        if (send_req(m, K_PUT, COAP_REQUEST_CODE_PUT, path, status_body(v++), false)) failed = true;
      }
    }
    io(ctx, 1);
  }
  double elapsed = bench_since_s(t0);
  loop_until(ctx, all_idle, 30, "the last updates");
  elapsed = bench_since_s(t0) > elapsed ? bench_since_s(t0) : elapsed;
  *rate = (double)ok_updates / elapsed;
  fprintf(stderr, "bench: %s: %" PRIu64 " updates accepted, %" PRIu64 " refused, in %.2f s\n",
          batch ? "batches" : "single PUTs", ok_updates, refused_updates, elapsed);
  return failed ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "keyring") == 0) {
    unsigned long g = strtoul(argv[3], NULL, 10), n = strtoul(argv[4], NULL, 10);
    if (g < 1 || n < 1 || g + n > MAX_SESSIONS) {
      fprintf(stderr, "bench: 1 <= GATEWAYS, 1 <= OPERATORS, GATEWAYS + OPERATORS <= %d\n",
              MAX_SESSIONS);
      return 2;
    }
    return bench_keyring_write(argv[2], "bench_status", g, n);
  }
  if (argc < 2 || strcmp(argv[1], "run") != 0) {
    usage();
    return 2;
  }
  const char *server = NULL, *keyring = NULL;
  unsigned long gateways = 16, observers = 1000, rounds = 20, conc = 32, entities = 64;
  long server_pid = -1;
  double limit = 120, seconds = 5;
  static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                       {"keyring", required_argument, NULL, 'k'},
                                       {"server-pid", required_argument, NULL, 'p'},
                                       {"gateways", required_argument, NULL, 'g'},
                                       {"entities", required_argument, NULL, 'e'},
                                       {"observers", required_argument, NULL, 'n'},
                                       {"rounds", required_argument, NULL, 'r'},
                                       {"seconds", required_argument, NULL, 'S'},
                                       {"concurrency", required_argument, NULL, 'c'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {NULL, 0, NULL, 0}};
  int ch;
  optind = 2;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
    case 's': server = optarg; break;
    case 'k': keyring = optarg; break;
    case 'p': server_pid = strtol(optarg, NULL, 10); break;
    case 'g': gateways = strtoul(optarg, NULL, 10); break;
    case 'e': entities = strtoul(optarg, NULL, 10); break;
    case 'n': observers = strtoul(optarg, NULL, 10); break;
    case 'r': rounds = strtoul(optarg, NULL, 10); break;
    case 'S': seconds = strtod(optarg, NULL); break;
    case 'c': conc = strtoul(optarg, NULL, 10); break;
    case 't': limit = strtod(optarg, NULL); break;
    default: usage(); return 2;
    }
  }
  if (!server || !keyring || server_pid <= 0 || gateways < 1 || observers < 1 ||
      gateways + observers > MAX_SESSIONS || entities < 1 || entities > 64 || rounds < 1 ||
      rounds > 1000 || conc < 1 || conc > MAX_CONC || !(seconds > 0 && seconds <= 600) ||
      !(limit > 0 && limit <= 3600)) {
    usage();
    return 2;
  }
  G = gateways;
  N = observers;
  K = (unsigned)entities;
  NS = G + N;
  S = calloc(NS, sizeof *S);
  if (!S) return 1;
  struct cpns_keyring *kr = NULL;
  char err[256];
  if (cpns_keyring_load(keyring, MAX_SESSIONS + 16, &kr, err, sizeof err)) {
    fprintf(stderr, "bench: %s: %s\n", keyring, err);
    return 1;
  }
  for (size_t i = 0; i < NS; i++) {
    S[i].gateway = i < G;
    S[i].index = (int)(i < G ? i : i - G);
    snprintf(S[i].id, sizeof S[i].id, i < G ? "gw-%d" : "op-%d", S[i].index);
    const struct cpns_key_entry *e = cpns_keyring_find(kr, S[i].id, strlen(S[i].id));
    if (!e) {
      fprintf(stderr, "bench: %s is not in %s\n", S[i].id, keyring);
      cpns_keyring_free(kr);
      return 1;
    }
    memcpy(S[i].key, e->key, CPNS_PSK_LEN);
  }
  cpns_keyring_free(kr);

  coap_startup();
  coap_set_log_level(LOG_ERR);
  coap_dtls_set_log_level(LOG_ERR);
  coap_uri_t uri;
  if (coap_split_uri((const uint8_t *)server, strlen(server), &uri) || uri.scheme != COAP_URI_SCHEME_COAPS) {
    fprintf(stderr, "bench: --server must be coaps://HOST:PORT\n");
    return 2;
  }
  coap_address_t dst;
  coap_address_init(&dst);
  char host[64];
  snprintf(host, sizeof host, "%.*s", (int)uri.host.length, (const char *)uri.host.s);
  dst.addr.sin.sin_family = AF_INET;
  dst.addr.sin.sin_port = htons(uri.port);
  dst.size = sizeof dst.addr.sin;
  if (inet_pton(AF_INET, host, &dst.addr.sin.sin_addr) != 1) {
    fprintf(stderr, "bench: --server needs an IPv4 address\n");
    return 2;
  }
  coap_context_t *ctx = coap_new_context(NULL);
  if (!ctx) return 1;
  coap_context_set_max_idle_sessions(ctx, 0);
  coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_register_response_handler(ctx, on_response);
  coap_register_nack_handler(ctx, on_nack);
  coap_register_event_handler(ctx, on_event);

  int rc = 1;
  double single_rate = 0, batch_rate = 0;
  long rss_before = -1, rss_after = -1;
  uint64_t *lat = NULL;
  size_t nlat = 0;
  double *round_max = NULL;
  /* 1. the gateways, their PNs and their entities */
  uint64_t t0 = bench_now_us();
  if (connect_range(ctx, &dst, 0, G, (unsigned)conc, limit)) goto out;
  for (size_t i = 0; i < G; i++) {
    char path[64];
    snprintf(path, sizeof path, "pns/pn-%d", S[i].index);
    if (send_req(&S[i], K_PN, COAP_REQUEST_CODE_PUT, path,
                 json_pack("{s:s, s:s, s:b, s:i}", "name", "bench", "owner", "bench", "open", 1,
                           "lt", 86400), false))
      failed = true;
  }
  if (loop_until(ctx, all_idle, limit, "PN registrations")) goto out;
  for (;;) {
    bool done = true;
    for (size_t i = 0; i < G; i++) {
      struct sess *m = &S[i];
      if (m->next_entity >= (int)K) continue;
      done = false;
      if (m->pending != K_NONE) continue;
      char path[96];
      snprintf(path, sizeof path, "pns/pn-%d/entities/e-%d", m->index, m->next_entity);
      if (send_req(m, K_ENTITY, COAP_REQUEST_CODE_PUT, path,
                   json_pack("{s:s, s:[s], s:s}", "name", "bench", "roles", "pne", "state", "online"),
                   false))
        failed = true;
    }
    if (done || failed) break;
    if (bench_since_s(t0) > limit) {
      fprintf(stderr, "bench: entity registrations not done after %.0f s\n", limit);
      failed = true;
      break;
    }
    io(ctx, 1);
  }
  if (failed) goto out;
  fprintf(stderr, "bench: %zu gateways, %zu entities registered in %.2f s\n", G, G * K, bench_since_s(t0));

  /* 2. updates per second */
  if (update_phase(ctx, false, seconds, &single_rate)) goto out;
  if (update_phase(ctx, true, seconds, &batch_rate)) goto out;

  /* 3. observers: sessions, then the observations, RSS around them */
  t0 = bench_now_us();
  if (connect_range(ctx, &dst, G, NS, (unsigned)conc, limit)) goto out;
  fprintf(stderr, "bench: %zu observer sessions in %.2f s\n", N, bench_since_s(t0));
  {
    uint64_t q = bench_now_us();
    while (bench_since_s(q) < 1.0) io(ctx, STEP_MS);
  }
  rss_before = rss_kb(server_pid);
  /* e-0 gets a known value first */
  if (send_req(&S[0], K_PUT, COAP_REQUEST_CODE_PUT, "pns/pn-0/entities/e-0/status", status_body(1), false))
    goto out;
  if (loop_until(ctx, all_idle, limit, "the first value")) goto out;
  t0 = bench_now_us();
  size_t next = G;
  while (!failed) {
    while (inflight < conc && next < NS) {
      if (send_req(&S[next], K_OBSERVE, COAP_REQUEST_CODE_GET,
                   "pns/pn-0/entities/e-0/status/battery", NULL, true))
        failed = true;
      next++;
    }
    if (next >= NS && inflight == 0) break;
    if (bench_since_s(t0) > limit) {
      fprintf(stderr, "bench: observations not done after %.0f s\n", limit);
      failed = true;
    }
    io(ctx, STEP_MS);
  }
  if (failed) goto out;
  double t_obs = bench_since_s(t0);
  {
    uint64_t q = bench_now_us();
    while (bench_since_s(q) < 1.0) io(ctx, STEP_MS);
  }
  rss_after = rss_kb(server_pid);
  fprintf(stderr, "bench: %zu observations in %.2f s; server RSS %ld -> %ld kB\n", N, t_obs,
          rss_before, rss_after);

  /* 4. fan-out rounds */
  lat = calloc(N * rounds, sizeof *lat);
  round_max = calloc(rounds, sizeof *round_max);
  if (!lat || !round_max) goto out;
  for (unsigned long r = 0; r < rounds && !failed; r++) {
    for (size_t j = G; j < NS; j++) S[j].got_us = 0;
    round_value = (long)(r % 2 ? 10 : 90) + (long)r; /* always a change */
    t_round = bench_now_us();
    if (send_req(&S[0], K_PUT, COAP_REQUEST_CODE_PUT, "pns/pn-0/entities/e-0/status",
                 status_body(round_value), false)) {
      failed = true;
      break;
    }
    uint64_t tl = bench_now_us();
    for (;;) {
      size_t got = 0;
      for (size_t j = G; j < NS; j++) got += S[j].got_us != 0;
      if (got == N) break;
      if (bench_since_s(tl) > limit) {
        fprintf(stderr, "bench: round %lu: %zu of %zu observers told after %.0f s\n", r, got, N, limit);
        failed = true;
        break;
      }
      io(ctx, 1);
    }
    if (failed) break;
    uint64_t mx = 0;
    for (size_t j = G; j < NS; j++) {
      uint64_t d = S[j].got_us - t_round;
      lat[nlat++] = d;
      if (d > mx) mx = d;
    }
    round_max[r] = (double)mx / 1e3;
    loop_until(ctx, all_idle, 10, "the round's PUT");
    uint64_t q = bench_now_us();
    while (bench_since_s(q) < 0.3) io(ctx, STEP_MS); /* quiet: every ACK through */
  }
  if (failed) goto out;
  bench_sort_u64(lat, nlat);
  double med = (double)lat[nlat / 2] / 1e3;
  double p99 = (double)lat[bench_rank(nlat, 0.99)] / 1e3;
  double first = (double)lat[0] / 1e3;
  double all_med = 0;
  {
    double *rm = calloc(rounds, sizeof *rm);
    if (rm) {
      memcpy(rm, round_max, rounds * sizeof *rm);
      for (unsigned long a = 0; a < rounds; a++)
        for (unsigned long b = a + 1; b < rounds; b++)
          if (rm[b] < rm[a]) {
            double t = rm[a];
            rm[a] = rm[b];
            rm[b] = t;
          }
      all_med = rm[rounds / 2];
      free(rm);
    }
  }
  double per_sub = rss_after >= 0 && rss_before >= 0 ? (double)(rss_after - rss_before) * 1024.0 / (double)N : -1;
  printf("\nmetric                                              cpns-server\n");
  printf("status updates/s, one PUT each (%zu gateways)        %.0f\n", G, single_rate);
  printf("status updates/s, batches of %u (%zu gateways)        %.0f\n", K, G, batch_rate);
  printf("observers (DTLS sessions, Observe on one attribute) %zu\n", N);
  printf("change -> observer: first                           %.2f ms\n", first);
  printf("change -> observer: median                          %.2f ms\n", med);
  printf("change -> observer: p99                             %.2f ms\n", p99);
  printf("change -> all %zu observers, median of %lu rounds   %.2f ms\n", N, rounds, all_med);
  printf("server RSS per subscription                         %.0f B\n", per_sub);
  printf("\n# results\n");
  printf("cpns.updates_per_s %.0f\ncpns.batched_updates_per_s %.0f\ncpns.observers %zu\n"
         "cpns.fanout_first_ms %.2f\ncpns.fanout_median_ms %.2f\ncpns.fanout_p99_ms %.2f\n"
         "cpns.fanout_all_median_ms %.2f\ncpns.bytes_per_subscription %.0f\n",
         single_rate, batch_rate, N, first, med, p99, all_med, per_sub);
  rc = 0;
out:
  free(lat);
  free(round_max);
  for (size_t i = 0; i < NS; i++) {
    if (S[i].s) {
      coap_session_set_app_data(S[i].s, NULL);
      coap_session_release(S[i].s);
      S[i].s = NULL;
    }
    if ((i + 1) % 16 == 0) coap_io_process(ctx, COAP_IO_NO_WAIT);
  }
  coap_free_context(ctx);
  coap_cleanup();
  free(S);
  if (rc) fprintf(stderr, "bench: failed\n");
  return rc;
}
