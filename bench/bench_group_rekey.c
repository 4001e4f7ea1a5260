/* SPDX-License-Identifier: Apache-2.0 */
/* bench_group_rekey: the benchmark of issue 3, group rekey time. On plain
 * libcoap (one client context, one DTLS-PSK session per member identity):
 * gw-0 creates an open Service Group, gw-0 .. gw-(N-1) join it (each over
 * its own session), all N observe GET groups/{g}/key (Observe 0), then gw-0
 * expels gw-(N-1) and the tool measures, from sending that DELETE, the time
 * until each of the N-1 remaining observers got a notification carrying the
 * new epoch. At most --concurrency handshakes or requests are in flight;
 * every phase is bounded in count and in time (--timeout seconds).
 *
 *   bench_group_rekey keyring FILE N
 *   bench_group_rekey run --server coaps://127.0.0.1:PORT --keyring FILE
 *                         [--members N] [--concurrency C] [--timeout S]
 * Exit status 0 when every member got the new key, 1 otherwise. */
#include <arpa/inet.h>
#include <coap3/coap.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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

#define MAX_MEMBERS 20000
#define MAX_CONC 256
#define GROUP_ID "bench-rekey"
#define STEP_MS 20

enum req_kind { R_NONE, R_CREATE, R_JOIN, R_OBSERVE, R_EXPEL };

struct member {
  coap_session_t *s;
  char id[CPNS_ID_MAX + 1];
  uint8_t key[CPNS_PSK_LEN];
  bool connecting, up, down;
  enum req_kind pending; /* the request in flight on this session */
  bool joined, observing, expelled;
  uint8_t obs_token[8];
  size_t obs_token_len;
  int64_t epoch;      /* the last epoch received by push or pull */
  uint64_t got_us;    /* when the new epoch arrived (0: not yet) */
  int last_code;
};

static struct member *M;
static size_t N;
static unsigned inflight, connecting;
static int64_t new_epoch = -1;
static uint64_t t_expel;
static bool failed;
static bool victim_observes = true; /* --victim-no-observe clears it */

static struct member *of(coap_session_t *s) { return coap_session_get_app_data(s); }

/* The "epoch" of a CBOR (or JSON) body, -1 when there is none. */
static int64_t body_epoch(const coap_pdu_t *pdu) {
  size_t len;
  const uint8_t *data;
  if (!coap_get_data(pdu, &len, &data) || !len) return -1;
  int cf = CPNS_CF_CBOR;
  coap_opt_iterator_t it;
  coap_opt_t *o = coap_check_option(pdu, COAP_OPTION_CONTENT_FORMAT, &it);
  if (o) cf = (int)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
  json_t *j = NULL;
  char err[128];
  if (cpns_codec_decode(data, len, cf, &cpns_codec_default_limits, &j, err, sizeof err)) return -1;
  json_t *e = json_object_get(j, "epoch");
  int64_t v = json_is_integer(e) ? (int64_t)json_integer_value(e) : -1;
  json_decref(j);
  return v;
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent,
                                   const coap_pdu_t *rcvd, const coap_mid_t mid) {
  struct member *m = of(s);
  if (!m) return COAP_RESPONSE_OK;
  coap_pdu_code_t c = coap_pdu_get_code(rcvd);
  int code = (int)COAP_RESPONSE_CLASS(c) * 100 + (int)(c & 0x1f);
  coap_bin_const_t tok = coap_pdu_get_token(rcvd);
  bool obs_tok = m->obs_token_len && tok.length == m->obs_token_len &&
                 memcmp(tok.s, m->obs_token, tok.length) == 0;
  if (obs_tok && m->pending != R_OBSERVE) {
    /* a notification */
    if (code == 205) {
      int64_t e = body_epoch(rcvd);
      if (e > m->epoch) m->epoch = e;
      if (new_epoch > 0 && e >= new_epoch && !m->got_us) m->got_us = bench_now_us();
    } else {
      m->observing = false; /* 4.03 for the expelled member: its observation ends */
      m->last_code = code;
    }
    return COAP_RESPONSE_OK;
  }
  enum req_kind k = m->pending;
  if (k == R_NONE) return COAP_RESPONSE_OK; /* a late duplicate */
  m->pending = R_NONE;
  inflight--;
  m->last_code = code;
  if (code < 200 || code >= 300) {
    fprintf(stderr, "bench: %s: request kind %d answered %d.%02d\n", m->id, (int)k, code / 100,
            code % 100);
    failed = true;
    return COAP_RESPONSE_OK;
  }
  switch (k) {
  case R_JOIN: m->joined = true; break;
  case R_OBSERVE:
    m->epoch = body_epoch(rcvd);
    {
      coap_opt_iterator_t it;
      m->observing = coap_check_option(rcvd, COAP_OPTION_OBSERVE, &it) != NULL;
      if (!m->observing) {
        fprintf(stderr, "bench: %s: the key GET came back without Observe\n", m->id);
        failed = true;
      }
    }
    break;
  case R_EXPEL: {
    int64_t e = body_epoch(rcvd);
    fprintf(stderr, "bench: DELETE answered %d.%02d after %.2f ms (epoch %" PRId64 ")\n",
            code / 100, code % 100, (double)(bench_now_us() - t_expel) / 1e3, e);
    if (e > 0 && e != new_epoch) {
      fprintf(stderr, "bench: the new epoch is %" PRId64 ", expected %" PRId64 "\n", e, new_epoch);
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
  struct member *m = of(s);
  if (!m || m->pending == R_NONE) return;
  fprintf(stderr, "bench: %s: request kind %d got no answer (nack %d)\n", m->id, (int)m->pending,
          (int)reason);
  m->pending = R_NONE;
  inflight--;
  failed = true;
}

static int on_event(coap_session_t *s, const coap_event_t ev) {
  struct member *m = of(s);
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
    m->down = true;
  }
  return 0;
}

static void add_path(coap_pdu_t *pdu, const char *path) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", path);
  char *save = NULL;
  for (char *seg = strtok_r(buf, "/", &save); seg; seg = strtok_r(NULL, "/", &save))
    coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(seg), (const uint8_t *)seg);
}

/* Sends method path (under /cpns/v1) on m's session; body is JSON sent as
 * CBOR, or NULL. observe: adds Observe 0 and keeps the token. */
static int send_req(struct member *m, enum req_kind k, coap_pdu_code_t method, const char *path,
                    json_t *body, bool observe) {
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, method, coap_new_message_id(m->s),
                                  coap_session_max_pdu_size(m->s));
  if (!pdu) return -1;
  uint8_t tok[8];
  size_t toklen = 0;
  coap_session_new_token(m->s, &toklen, tok);
  coap_add_token(pdu, toklen, tok);
  if (observe) {
    uint8_t b[4];
    coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(b, sizeof b, COAP_OBSERVE_ESTABLISH),
                    b);
    memcpy(m->obs_token, tok, toklen);
    m->obs_token_len = toklen;
  }
  char full[300];
  snprintf(full, sizeof full, "cpns/v1/%s", path);
  add_path(pdu, full);
  uint8_t *cbor = NULL;
  size_t cborlen = 0;
  if (body) {
    uint8_t b[4];
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(b, sizeof b, COAP_MEDIATYPE_APPLICATION_CBOR), b);
    if (cpns_codec_encode(body, CPNS_CF_CBOR, &cbor, &cborlen)) {
      coap_delete_pdu(pdu);
      return -1;
    }
    coap_add_data(pdu, cborlen, cbor);
    free(cbor);
  }
  m->pending = k;
  inflight++;
  if (coap_send(m->s, pdu) == COAP_INVALID_MID) {
    m->pending = R_NONE;
    inflight--;
    return -1;
  }
  return 0;
}

/* Runs the loop until done() or the time limit. */
static int loop_until(coap_context_t *ctx, bool (*done)(void), double limit, const char *what) {
  uint64_t t0 = bench_now_us();
  while (!failed && !done()) {
    if (bench_since_s(t0) > limit) {
      fprintf(stderr, "bench: %s: not done after %.0f s\n", what, limit);
      failed = true;
      break;
    }
    coap_io_process(ctx, STEP_MS);
  }
  return failed ? -1 : 0;
}

static size_t count_if(bool (*pred)(const struct member *)) {
  size_t n = 0;
  for (size_t i = 0; i < N; i++) n += pred(&M[i]);
  return n;
}
static bool is_up(const struct member *m) { return m->up; }
static bool is_joined(const struct member *m) { return m->joined; }
static bool is_observing(const struct member *m) { return m->observing; }
static bool got_new(const struct member *m) { return m->got_us != 0; }
static bool idle(void) { return inflight == 0; }

static void usage(void) {
  fprintf(stderr, "Usage: bench_group_rekey keyring FILE N\n"
                  "       bench_group_rekey run --server coaps://HOST:PORT --keyring FILE\n"
                  "                             [--members N (1000)] [--concurrency C (32)]\n"
                  "                             [--timeout SECONDS per phase (120)]\n"
                  "                             [--victim-no-observe: the expelled member does\n"
                  "                              not observe the key]\n");
}

/* Issues kind k on every member selected by want() (and idle), at most conc
 * in flight, until all selected got theirs or the time limit. */
static int phase(coap_context_t *ctx, const char *name, enum req_kind k, bool (*want)(const struct member *),
                 bool (*done_one)(const struct member *), unsigned conc, double limit,
                 double *elapsed) {
  uint64_t t0 = bench_now_us();
  size_t next = 0, target = 0;
  for (size_t i = 0; i < N; i++) target += want(&M[i]);
  while (!failed) {
    while (inflight < conc && next < N) {
      struct member *m = &M[next++];
      if (!want(m)) continue;
      char path[200];
      json_t *body = NULL;
      coap_pdu_code_t method = COAP_REQUEST_CODE_GET;
      if (k == R_JOIN) {
        method = COAP_REQUEST_CODE_PUT;
        snprintf(path, sizeof path, "groups/%s/members/%s", GROUP_ID, m->id);
      } else {
        snprintf(path, sizeof path, "groups/%s/key", GROUP_ID);
      }
      if (send_req(m, k, method, path, body, k == R_OBSERVE)) {
        fprintf(stderr, "bench: %s: cannot send for %s\n", name, m->id);
        failed = true;
        break;
      }
    }
    size_t done = 0;
    for (size_t i = 0; i < N; i++) done += done_one(&M[i]);
    if (next >= N && inflight == 0) break;
    if (bench_since_s(t0) > limit) {
      fprintf(stderr, "bench: %s: %zu of %zu done after %.0f s\n", name, done, target, limit);
      failed = true;
      break;
    }
    coap_io_process(ctx, STEP_MS);
  }
  *elapsed = bench_since_s(t0);
  if (!failed) fprintf(stderr, "bench: %s: %zu requests in %.2f s\n", name, target, *elapsed);
  return failed ? -1 : 0;
}

static bool want_join(const struct member *m) { return !m->joined; }
static bool want_observe(const struct member *m) {
  return !m->observing && (victim_observes || m != &M[N - 1]);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "keyring") == 0) {
    unsigned long n = strtoul(argv[3], NULL, 10);
    if (n < 2 || n > MAX_MEMBERS) {
      fprintf(stderr, "bench: N must be 2..%d\n", MAX_MEMBERS);
      return 2;
    }
    return bench_keyring_write(argv[2], "bench_group_rekey", n, 0);
  }
  if (argc < 2 || strcmp(argv[1], "run") != 0) {
    usage();
    return 2;
  }
  const char *server = NULL, *keyring = NULL;
  unsigned long members = 1000, conc = 32;
  double limit = 120;
  static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                       {"keyring", required_argument, NULL, 'k'},
                                       {"members", required_argument, NULL, 'n'},
                                       {"concurrency", required_argument, NULL, 'c'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {"victim-no-observe", no_argument, NULL, 'v'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int ch;
  optind = 2;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
    case 's': server = optarg; break;
    case 'k': keyring = optarg; break;
    case 'n': members = strtoul(optarg, NULL, 10); break;
    case 'c': conc = strtoul(optarg, NULL, 10); break;
    case 't': limit = strtod(optarg, NULL); break;
    case 'v': victim_observes = false; break;
    default: usage(); return 2;
    }
  }
  if (!server || !keyring || members < 2 || members > MAX_MEMBERS || conc < 1 || conc > MAX_CONC ||
      !(limit > 0 && limit <= 3600)) {
    usage();
    return 2;
  }
  N = members;
  M = calloc(N, sizeof *M);
  if (!M) return 1;
  struct cpns_keyring *kr = NULL;
  char err[256];
  if (cpns_keyring_load(keyring, MAX_MEMBERS + 16, &kr, err, sizeof err)) {
    fprintf(stderr, "bench: %s: %s\n", keyring, err);
    return 1;
  }
  for (size_t i = 0; i < N; i++) {
    snprintf(M[i].id, sizeof M[i].id, "gw-%zu", i);
    const struct cpns_key_entry *e = cpns_keyring_find(kr, M[i].id, strlen(M[i].id));
    if (!e) {
      fprintf(stderr, "bench: %s is not in %s\n", M[i].id, keyring);
      cpns_keyring_free(kr);
      return 1;
    }
    memcpy(M[i].key, e->key, CPNS_PSK_LEN);
    M[i].epoch = -1;
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
  coap_register_response_handler(ctx, on_response);
  coap_register_nack_handler(ctx, on_nack);
  coap_register_event_handler(ctx, on_event);

  int rc = 1;
  double t_conn = 0, t_join = 0, t_obs = 0;
  /* 1. sessions, at most conc handshakes at once */
  uint64_t t0 = bench_now_us();
  size_t next = 0;
  while (!failed) {
    while (connecting < conc && next < N) {
      struct member *m = &M[next++];
      coap_dtls_cpsk_t cpsk;
      memset(&cpsk, 0, sizeof cpsk);
      cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
      cpsk.psk_info.identity.s = (const uint8_t *)m->id;
      cpsk.psk_info.identity.length = strlen(m->id);
      cpsk.psk_info.key.s = m->key;
      cpsk.psk_info.key.length = CPNS_PSK_LEN;
      m->connecting = true;
      connecting++;
      m->s = coap_new_client_session_psk2(ctx, NULL, &dst, COAP_PROTO_DTLS, &cpsk);
      if (!m->s) {
        fprintf(stderr, "bench: cannot open a session for %s\n", m->id);
        failed = true;
        break;
      }
      coap_session_set_app_data(m->s, m);
    }
    if (count_if(is_up) == N) break;
    if (bench_since_s(t0) > limit) {
      fprintf(stderr, "bench: %zu of %zu handshakes after %.0f s\n", count_if(is_up), N, limit);
      failed = true;
      break;
    }
    coap_io_process(ctx, STEP_MS);
  }
  if (failed) goto out;
  t_conn = bench_since_s(t0);
  fprintf(stderr, "bench: %zu DTLS-PSK sessions in %.2f s\n", N, t_conn);

  /* 2. the owner creates the group: it is its first member */
  json_t *body = json_pack("{s:s, s:b}", "id", GROUP_ID, "open", 1);
  if (send_req(&M[0], R_CREATE, COAP_REQUEST_CODE_POST, "groups", body, false)) failed = true;
  json_decref(body);
  if (loop_until(ctx, idle, limit, "create")) goto out;
  M[0].joined = true;

  /* 3. everyone else joins, over its own session */
  if (phase(ctx, "join", R_JOIN, want_join, is_joined, (unsigned)conc, limit, &t_join)) goto out;
  if (count_if(is_joined) != N) {
    fprintf(stderr, "bench: only %zu of %zu joined\n", count_if(is_joined), N);
    goto out;
  }
  /* 4. everyone observes the key */
  if (phase(ctx, "observe", R_OBSERVE, want_observe, is_observing, (unsigned)conc, limit, &t_obs))
    goto out;
  int64_t e0 = M[0].epoch;
  for (size_t i = 0; i < N; i++)
    if (want_observe(&M[i]) || (M[i].observing && M[i].epoch != e0)) {
      fprintf(stderr, "bench: %s observes epoch %" PRId64 ", gw-0 %" PRId64 "\n", M[i].id,
              M[i].epoch, e0);
      goto out;
    }
  fprintf(stderr, "bench: %zu observers at epoch %" PRId64 "\n", count_if(is_observing), e0);
  /* quiet for a moment: every ACK of the observe phase is through */
  {
    uint64_t q = bench_now_us();
    while (bench_since_s(q) < 1.0) coap_io_process(ctx, STEP_MS);
  }

  /* 5. the owner expels the last member; the clock runs from the send */
  struct member *victim = &M[N - 1];
  victim->expelled = true;
  new_epoch = e0 + 1;
  char path[200];
  snprintf(path, sizeof path, "groups/%s/members/%s", GROUP_ID, victim->id);
  t_expel = bench_now_us();
  if (send_req(&M[0], R_EXPEL, COAP_REQUEST_CODE_DELETE, path, NULL, false)) {
    fprintf(stderr, "bench: cannot send the DELETE\n");
    goto out;
  }
  uint64_t tl = bench_now_us();
  while (!failed && count_if(got_new) < N - 1) {
    if (bench_since_s(tl) > limit) {
      fprintf(stderr, "bench: %zu of %zu observers got epoch %" PRId64 " after %.0f s\n",
              count_if(got_new), N - 1, new_epoch, limit);
      failed = true;
      break;
    }
    coap_io_process(ctx, 5);
  }
  /* the DELETE's answer, if it is still out */
  loop_until(ctx, idle, 10, "the DELETE's answer");
  if (failed) goto out;
  if (victim->got_us) {
    fprintf(stderr, "bench: the expelled member got the new key\n");
    goto out;
  }
  uint64_t *lat = calloc(N - 1, sizeof *lat);
  if (!lat) goto out;
  for (size_t i = 0; i + 1 < N; i++) lat[i] = M[i].got_us - t_expel;
  bench_sort_u64(lat, N - 1);
  size_t n = N - 1;
  double med = (double)lat[n / 2] / 1e3, p99 = (double)lat[bench_rank(n, 0.99)] / 1e3,
         mx = (double)lat[n - 1] / 1e3, mn = (double)lat[0] / 1e3;
  free(lat);
  printf("\nmetric                                              cpns-server\n");
  printf("group members (sessions, observers)                 %zu\n", N);
  printf("DTLS-PSK sessions opened                            %.2f s\n", t_conn);
  printf("joins (PUT members/{m}, each a rekey)               %.2f s (%.0f/s)\n", t_join,
         (double)(N - 1) / t_join);
  printf("Observe registrations on groups/{g}/key             %.2f s (%.0f/s)\n", t_obs,
         (double)N / t_obs);
  printf("expel -> new key at observer: first                 %.2f ms\n", mn);
  printf("expel -> new key at observer: median                %.2f ms\n", med);
  printf("expel -> new key at observer: p99                   %.2f ms\n", p99);
  printf("expel -> new key at observer: max (all %zu have it) %.2f ms\n", n, mx);
  if (victim_observes)
    printf("expelled member's observation ended with            %d.%02d\n", victim->last_code / 100,
           victim->last_code % 100);
  else
    printf("expelled member observed the key                    no\n");
  printf("\n# results\n");
  printf("rekey.members %zu\nrekey.epoch %" PRId64 "\nrekey.first_ms %.2f\nrekey.median_ms %.2f\n"
         "rekey.p99_ms %.2f\nrekey.max_ms %.2f\nrekey.total_ms %.2f\njoin_per_s %.0f\n",
         N, new_epoch, mn, med, p99, mx, mx, (double)(N - 1) / t_join);
  rc = 0;
out:
  /* close the sessions a few at a time, so that the alerts are not dropped */
  for (size_t i = 0; i < N; i++) {
    if (M[i].s) {
      coap_session_set_app_data(M[i].s, NULL);
      coap_session_release(M[i].s);
      M[i].s = NULL;
    }
    if ((i + 1) % 16 == 0) coap_io_process(ctx, COAP_IO_NO_WAIT);
  }
  coap_free_context(ctx);
  coap_cleanup();
  free(M);
  if (rc) fprintf(stderr, "bench: failed\n");
  return rc;
}
