/* SPDX-License-Identifier: Apache-2.0 */
/* bench_directory: the benchmark of issue 4, the Metadata Directory over
 * CoAP. One libcpns node, --concurrency DTLS-PSK sessions of gateways gw-i
 * to each cpns-server (one request in flight on each). There is one server
 * per stage, all running at once: the first gets 1,000 services, the second
 * 100,000 (publishes per second, from none to all and over the last tenth).
 * Then the lookups run a second at a time on each server in turn, so that a
 * change of the machine's load (it is shared) weighs on both sizes alike:
 * by one keyword with a page of 3 (an answer of one datagram) and of 10
 * (three blocks), by a prefix standing for 10 keywords, and by all of two
 * keywords, one of them on every service. Every answer is checked to hold
 * the expected number of services. Then libcoap's coap-server (the peer)
 * serves the two keyword answers as stored resources, read over the same
 * DTLS for the same time: its GET rate is the ceiling of "a 2.05 of these
 * bytes" on this machine.
 *
 * Service i has keywords "common" (all of them), "tag<i/10>" (ten services
 * each) and "fam<i/10>-<i%10>" (one each, ten under the prefix
 * "fam<i/10>-"), so a lookup's answer is the same size at 1,000 services as
 * at 100,000: only the directory around it grows.
 *
 *   bench_directory keyring FILE N
 *   bench_directory store DIR 1000,100000 SECONDS   (the store alone, no network)
 *   bench_directory run --server URI [--server URI...] --keyring FILE
 *                       [--stages 1000,100000] [--concurrency 32]
 *                       [--lookup-seconds 5] [--database FILE...]
 *                       [--peer URI --peer-key KEY]
 * (one --server, and --database, per stage)
 * Exit status 0 when every request succeeded, 1 otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
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
#include "node.h"
#include "service.h"
#include "store.h"

#define BENCH_MAX_CONC 256
#define BENCH_MAX_STAGES 4
#define BENCH_MAX_SERVICES 10000000UL
#define BENCH_MAX_LOOKUPS 10000000UL
#define BENCH_PAGE 10        /* services per lookup page; one tag's services */
#define BENCH_SMALL_PAGE 3   /* a page that fits one datagram (no block-wise transfer) */
#define BENCH_STEP_MS 5
#define BENCH_TIME_LIMIT 600 /* seconds any one phase may take */

enum kind { K_PUBLISH, K_LOOKUP_SMALL, K_LOOKUP_KW, K_LOOKUP_PREFIX, K_LOOKUP_ALL, K_PEER_PUT, K_PEER_GET };

struct sess {
  char id[CPNS_ID_MAX + 1];
  uint8_t key[CPNS_PSK_LEN];
  coap_session_t *s;
  bool up, connecting, busy;
};

struct phase {
  const char *name;
  enum kind kind;
  struct sess *ss;
  size_t nss;
  unsigned long target, issued, done;
  double seconds, elapsed;
  uint32_t *lat_us;
  const json_t *peer_body;
  const char *peer_path;
};

struct slot {
  struct bench *b;
  struct sess *s;
  uint64_t t0;
};

struct bench {
  struct cpns_node *node;
  unsigned conc, inflight, connecting;
  bool failed;
  unsigned long published; /* services at the server */
  uint64_t rng;
  struct phase *cur;
  struct slot slots[BENCH_MAX_CONC];
  json_t *sample;       /* a keyword lookup's answer (page of 10), for the peer */
  json_t *sample_small; /* the same, page of 3 */
  json_t *peer_answer;
};

static void fail(struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct bench *b, const char *fmt, ...) {
  if (b->failed) return;
  b->failed = true;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static uint64_t rnd(struct bench *b) { /* xorshift64* */
  b->rng ^= b->rng >> 12;
  b->rng ^= b->rng << 25;
  b->rng ^= b->rng >> 27;
  return b->rng * 0x2545F4914F6CDD1DULL;
}

/* ---- sessions ---- */

static void on_session(void *arg, coap_session_t *s, bool up) {
  struct bench *b = arg;
  struct sess *x = coap_session_get_app_data(s);
  if (!x) return;
  if (up) {
    if (x->connecting) b->connecting--;
    x->connecting = false;
    x->up = true;
    return;
  }
  if (x->connecting) b->connecting--;
  if (x->up || x->connecting) fail(b, "the session of %s went down", x->id);
  x->up = x->connecting = false;
}

static int connect_all(struct bench *b, const char *uri, struct sess *ss, size_t n) {
  char err[256];
  for (size_t i = 0; i < n; i++) {
    if (cpns_node_connect(b->node, uri, ss[i].id, ss[i].key, &ss[i].s, err, sizeof err)) {
      fail(b, "%s", err);
      return -1;
    }
    coap_session_set_app_data(ss[i].s, &ss[i]);
    ss[i].connecting = true;
    b->connecting++;
  }
  uint64_t t0 = bench_now_us();
  while (!b->failed) {
    size_t up = 0;
    for (size_t i = 0; i < n; i++) up += ss[i].up;
    if (up == n) return 0;
    if (bench_since_s(t0) > 60) fail(b, "%zu of %zu handshakes with %s after 60 s", up, n, uri);
    cpns_node_step(b->node, BENCH_STEP_MS);
  }
  return -1;
}

static void close_all(struct bench *b, struct sess *ss, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ss[i].s) {
      coap_session_set_app_data(ss[i].s, NULL);
      cpns_node_close_session(b->node, ss[i].s);
      ss[i].s = NULL;
      ss[i].up = false;
    }
  uint64_t t0 = bench_now_us();
  while (bench_since_s(t0) < 0.3) cpns_node_step(b->node, BENCH_STEP_MS);
}

/* ---- requests ---- */

static size_t page_size(const json_t *body) {
  return json_array_size(json_object_get(body, "services"));
}

static void on_answer(void *arg, int code, const json_t *body, const char *diag) {
  struct slot *sl = arg;
  struct bench *b = sl->b;
  struct phase *ph = b->cur;
  uint64_t lat = bench_now_us() - sl->t0;
  b->inflight--;
  sl->s->busy = false;
  sl->s = NULL;
  if (!ph) return;
  if (code < 200 || code >= 300) {
    fail(b, "%s: %d.%02d %s", ph->name, code < 0 ? 0 : code / 100, code < 0 ? 0 : code % 100,
         code < 0 ? cpns_strerror(code) : diag);
    return;
  }
  switch (ph->kind) {
  case K_LOOKUP_SMALL:
  case K_LOOKUP_KW:
  case K_LOOKUP_PREFIX:
  case K_LOOKUP_ALL: {
    size_t want = ph->kind == K_LOOKUP_SMALL ? BENCH_SMALL_PAGE : BENCH_PAGE;
    if (page_size(body) != want) {
      fail(b, "%s: a page of %zu services, expected %zu", ph->name, page_size(body), want);
      return;
    }
    json_t **keep = ph->kind == K_LOOKUP_KW ? &b->sample : ph->kind == K_LOOKUP_SMALL ? &b->sample_small : NULL;
    if (keep && !*keep) *keep = json_deep_copy(body);
    break;
  }
  case K_PEER_GET:
    json_decref(b->peer_answer);
    b->peer_answer = body ? json_deep_copy(body) : NULL;
    break;
  default: break;
  }
  if (ph->done < ph->target) ph->lat_us[ph->done] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
  ph->done++;
}

static json_t *service_body(unsigned long i) {
  char tag[32], fam[32], uri[64], name[64];
  snprintf(tag, sizeof tag, "tag%lu", i / BENCH_PAGE);
  snprintf(fam, sizeof fam, "fam%lu-%lu", i / BENCH_PAGE, i % BENCH_PAGE);
  snprintf(uri, sizeof uri, "coap://bench.example/s/%lu", i);
  snprintf(name, sizeof name, "Bench service %lu", i);
  return json_pack("{s:s, s:s, s:[s,s,s], s:s, s:[s], s:i}", "name", name, "description",
                   "A service of the directory benchmark", "keywords", "common", tag, fam,
                   "visibility", "public", "uris", uri, "lt", CPNS_SERVICE_LT_MAX);
}

static int issue(struct bench *b, struct phase *ph, struct sess *x) {
  char path[64] = "services", query[128] = "";
  coap_pdu_code_t method = COAP_REQUEST_CODE_GET;
  json_t *body = NULL;
  unsigned long tags = b->published / BENCH_PAGE;
  unsigned long t = tags ? (unsigned long)(rnd(b) % tags) : 0;
  switch (ph->kind) {
  case K_PUBLISH:
    method = COAP_REQUEST_CODE_POST;
    body = service_body(b->published + ph->issued);
    break;
  case K_LOOKUP_SMALL:
    snprintf(query, sizeof query, "kw=tag%lu&limit=%d", t, BENCH_SMALL_PAGE);
    break;
  case K_LOOKUP_KW: snprintf(query, sizeof query, "kw=tag%lu&limit=%d", t, BENCH_PAGE); break;
  case K_LOOKUP_PREFIX:
    snprintf(query, sizeof query, "kw=fam%lu-&match=prefix&limit=%d", t, BENCH_PAGE);
    break;
  case K_LOOKUP_ALL:
    snprintf(query, sizeof query, "kw=common,tag%lu&limit=%d", t, BENCH_PAGE);
    break;
  case K_PEER_PUT:
    method = COAP_REQUEST_CODE_PUT;
    body = json_incref((json_t *)ph->peer_body);
    /* fall through */
  case K_PEER_GET: snprintf(path, sizeof path, "%s", ph->peer_path); break;
  }
  struct slot *sl = NULL;
  for (unsigned i = 0; i < b->conc && !sl; i++)
    if (!b->slots[i].s) sl = &b->slots[i];
  if (!sl) {
    json_decref(body);
    fail(b, "no free request slot");
    return -1;
  }
  sl->b = b;
  sl->s = x;
  sl->t0 = bench_now_us();
  x->busy = true;
  b->inflight++;
  ph->issued++;
  int rc = cpns_node_request(b->node, x->s, method, path, query[0] ? query : NULL, body, on_answer,
                             sl);
  json_decref(body);
  if (rc) {
    fail(b, "cannot send: %s", cpns_strerror(rc));
    return -1;
  }
  return 0;
}

static double pct_ms(const struct phase *ph, double p) {
  size_t n = ph->done < ph->target ? ph->done : ph->target;
  if (!n) return 0;
  return ph->lat_us[bench_rank(n, p)] / 1000.0;
}

static double rate(const struct phase *ph) {
  return ph->elapsed > 0 ? (double)ph->done / ph->elapsed : 0;
}

/* Runs ph until target requests are answered or its seconds are up (and
 * what is in flight has come back), one request in flight per session. */
static int run_phase(struct bench *b, struct phase *ph) {
  ph->lat_us = calloc(ph->target ? ph->target : 1, sizeof *ph->lat_us);
  if (!ph->lat_us) {
    fail(b, "out of memory");
    return -1;
  }
  b->cur = ph;
  uint64_t t0 = bench_now_us();
  while (!b->failed) {
    double t = bench_since_s(t0);
    bool stop = ph->issued >= ph->target || (ph->seconds > 0 && t >= ph->seconds);
    if (stop && b->inflight == 0) break;
    for (size_t i = 0; !stop && i < ph->nss && ph->issued < ph->target; i++) {
      struct sess *x = &ph->ss[(i + (size_t)rnd(b)) % ph->nss];
      if (x->up && !x->busy && b->inflight < b->conc && issue(b, ph, x)) break;
    }
    if (t > BENCH_TIME_LIMIT + ph->seconds) fail(b, "%s: out of time", ph->name);
    if (cpns_node_step(b->node, BENCH_STEP_MS)) fail(b, "event loop failed");
  }
  b->cur = NULL;
  ph->elapsed = bench_since_s(t0);
  size_t n = ph->done < ph->target ? ph->done : ph->target;
  bench_sort_u32(ph->lat_us, n);
  if (!b->failed)
    fprintf(stderr, "  %-40s %8lu in %7.2f s = %9.0f/s   p50 %6.2f ms  p99 %6.2f ms\n", ph->name,
            ph->done, ph->elapsed, rate(ph), pct_ms(ph, 0.50), pct_ms(ph, 0.99));
  return b->failed ? -1 : 0;
}

/* ---- main ---- */

struct opts {
  const char *servers[BENCH_MAX_STAGES], *databases[BENCH_MAX_STAGES];
  unsigned nservers, ndatabases;
  const char *keyring, *peer, *peer_key;
  unsigned long stages[BENCH_MAX_STAGES], conc;
  unsigned nstages;
  double lookup_seconds;
};

/* One cpns-server per stage, all running at once: stage k's server holds
 * stages[k] services. Lookups alternate between the servers a second at a
 * time, so that a machine whose load changes during the run (other work on
 * it) weighs on every stage alike. */
struct target {
  const char *uri;
  struct sess *ss;
  unsigned long services;
  double publish, publish_tail;          /* per second: 0..N, and the last tenth */
  double rate[4], p50[4], p99[4];        /* per lookup kind */
  unsigned long done[4];
  double elapsed[4];
  uint32_t *lat[4];
  size_t nlat[4];
  long long db_bytes;
};

static int parse_stages(const char *s, struct opts *o) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", s);
  o->nstages = 0;
  unsigned long prev = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    char *end;
    unsigned long v = strtoul(t, &end, 10);
    if (*end || v <= prev || v > BENCH_MAX_SERVICES || v < BENCH_PAGE || v % BENCH_PAGE ||
        o->nstages >= BENCH_MAX_STAGES)
      return -1;
    o->stages[o->nstages++] = prev = v;
  }
  return o->nstages ? 0 : -1;
}

static void usage(FILE *out) {
  fprintf(out, "usage: bench_directory keyring FILE N\n"
               "       bench_directory store DIR STAGES SECONDS   (the store alone, in-process)\n"
               "       bench_directory run --server URI [--server URI...] --keyring FILE\n"
               "                           [--stages 1000,100000] [--concurrency 32]\n"
               "                           [--lookup-seconds 5] [--database FILE...]\n"
               "                           [--peer URI --peer-key KEY]\n"
               "       one --server (and --database) per stage, in the same order\n");
}

static long long file_size(const char *path) {
  struct stat st;
  return path && stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static struct sess *sessions(const struct cpns_keyring *kr, unsigned long n, const char *peer_key) {
  struct sess *ss = calloc(n, sizeof *ss);
  for (unsigned long i = 0; ss && i < n; i++) {
    if (peer_key) {
      snprintf(ss[i].id, sizeof ss[i].id, "bench");
      memcpy(ss[i].key, peer_key, CPNS_PSK_LEN);
      continue;
    }
    snprintf(ss[i].id, sizeof ss[i].id, "gw-%lu", i);
    const struct cpns_key_entry *e = cpns_keyring_find(kr, ss[i].id, strlen(ss[i].id));
    if (!e) {
      fprintf(stderr, "bench: the keyring has no %s\n", ss[i].id);
      free(ss);
      return NULL;
    }
    memcpy(ss[i].key, e->key, CPNS_PSK_LEN);
  }
  return ss;
}

/* Publishes services published..upto-1 to t. */
static int publish(struct bench *b, const struct opts *o, struct target *t, unsigned long upto,
                   double *rate_out) {
  char name[64];
  snprintf(name, sizeof name, "publish %lu..%lu (%lu svc server)", t->services + 1, upto,
           t->services ? t->services : upto);
  b->published = t->services;
  struct phase pub = {.name = name, .kind = K_PUBLISH, .ss = t->ss, .nss = o->conc,
                      .target = upto - t->services};
  int rc = run_phase(b, &pub);
  free(pub.lat_us);
  if (rc) return -1;
  *rate_out = rate(&pub);
  t->services = upto;
  return 0;
}

static const struct {
  const char *name;
  enum kind kind;
} kinds[4] = {
    {"lookup by keyword, page of 3", K_LOOKUP_SMALL},
    {"lookup by keyword, page of 10", K_LOOKUP_KW},
    {"lookup by prefix (10 keywords), 10", K_LOOKUP_PREFIX},
    {"lookup by all of common,tag, 10", K_LOOKUP_ALL},
};

/* One second of lookups of kind k at t, added to t's totals. */
static int lookup_slice(struct bench *b, const struct opts *o, struct target *t, int k,
                        double seconds) {
  char name[96];
  snprintf(name, sizeof name, "%s @%lu", kinds[k].name, t->services);
  b->published = t->services;
  struct phase ph = {.name = name, .kind = kinds[k].kind, .ss = t->ss, .nss = o->conc,
                     .target = BENCH_MAX_LOOKUPS, .seconds = seconds};
  if (run_phase(b, &ph)) {
    free(ph.lat_us);
    return -1;
  }
  t->done[k] += ph.done;
  t->elapsed[k] += ph.elapsed;
  size_t n = ph.done < ph.target ? ph.done : ph.target;
  uint32_t *grown = realloc(t->lat[k], (t->nlat[k] + n + 1) * sizeof *grown);
  if (grown) {
    memcpy(grown + t->nlat[k], ph.lat_us, n * sizeof *grown);
    t->lat[k] = grown;
    t->nlat[k] += n;
  }
  free(ph.lat_us);
  return 0;
}

static void finish_target(struct target *t) {
  for (int k = 0; k < 4; k++) {
    t->rate[k] = t->elapsed[k] > 0 ? (double)t->done[k] / t->elapsed[k] : 0;
    if (!t->nlat[k]) continue;
    bench_sort_u32(t->lat[k], t->nlat[k]);
    t->p50[k] = t->lat[k][bench_rank(t->nlat[k], 0.5)] / 1000.0;
    t->p99[k] = t->lat[k][bench_rank(t->nlat[k], 0.99)] / 1000.0;
    free(t->lat[k]);
    t->lat[k] = NULL;
  }
}

static int run(const struct opts *o) {
  static struct bench bench;
  struct bench *b = &bench;
  b->conc = (unsigned)o->conc;
  b->rng = 0x9E3779B97F4A7C15ULL;
  char err[512];
  struct cpns_keyring *kr = NULL;
  if (cpns_keyring_load(o->keyring, BENCH_MAX_CONC + 16, &kr, err, sizeof err)) {
    fprintf(stderr, "bench: %s\n", err);
    return 1;
  }
  struct target ts[BENCH_MAX_STAGES];
  memset(ts, 0, sizeof ts);
  for (unsigned st = 0; st < o->nstages; st++) {
    ts[st].uri = o->servers[st];
    if (!(ts[st].ss = sessions(kr, o->conc, NULL))) return 1;
  }
  struct sess *peers = o->peer ? sessions(kr, o->conc, o->peer_key) : NULL;
  cpns_keyring_free(kr);
  struct cpns_node_config nc = {.name = "bench"};
  cpns_node_limits_default(&nc.limits);
  nc.limits.max_pending = (long)o->conc * 2 + 16;
  nc.limits.request_timeout_ms = 30000;
  nc.limits.ack_timeout_ms = 2000;
  nc.limits.keepalive = 0;
  nc.limits.max_sessions = (long)o->conc * (BENCH_MAX_STAGES + 1) + 16;
  if (cpns_node_new(&nc, &b->node, err, sizeof err)) {
    fprintf(stderr, "bench: %s\n", err);
    return 1;
  }
  cpns_node_on_session(b->node, on_session, b);
  fprintf(stderr, "%u cpns-servers, one per stage (", o->nstages);
  for (unsigned st = 0; st < o->nstages; st++)
    fprintf(stderr, "%s%lu services at %s", st ? ", " : "", o->stages[st], o->servers[st]);
  fprintf(stderr, "); %lu sessions each; lookups %.0f s each, a second at a time per server\n",
          o->conc, o->lookup_seconds);
  for (unsigned st = 0; st < o->nstages; st++)
    if (connect_all(b, ts[st].uri, ts[st].ss, o->conc)) return 1;

  /* Publishing: each server up to its stage; the last tenth is timed on its own. */
  for (unsigned st = 0; st < o->nstages; st++) {
    struct target *t = &ts[st];
    unsigned long tail_from = o->stages[st] - o->stages[st] / 10;
    double r1, r2;
    uint64_t t0 = bench_now_us();
    if (publish(b, o, t, tail_from, &r1) || publish(b, o, t, o->stages[st], &r2)) return 1;
    t->publish = (double)o->stages[st] / bench_since_s(t0);
    t->publish_tail = r2;
    t->db_bytes = file_size(st < o->ndatabases ? o->databases[st] : NULL);
  }
  /* Lookups: round robin over the servers, a slice each, order alternating. */
  unsigned rounds = (unsigned)(o->lookup_seconds + 0.5);
  if (rounds == 0) rounds = 1;
  double slice = o->lookup_seconds / rounds;
  for (int k = 0; k < 4; k++)
    for (unsigned r = 0; r < rounds; r++)
      for (unsigned i = 0; i < o->nstages; i++) {
        unsigned st = r % 2 ? o->nstages - 1 - i : i;
        if (lookup_slice(b, o, &ts[st], k, slice)) return 1;
      }
  for (unsigned st = 0; st < o->nstages; st++) {
    finish_target(&ts[st]);
    close_all(b, ts[st].ss, o->conc);
  }

  /* The peer: each sample answer stored at coap-server and read back, the
   * same bytes over the same DTLS, for as long as a lookup phase. */
  double peer_rate[2] = {-1, -1};
  size_t peer_bytes[2] = {0, 0};
  const json_t *samples[2] = {b->sample_small, b->sample};
  static const char *const paths[2] = {"/bench-small", "/bench-page"};
  if (peers && b->sample && b->sample_small) {
    fprintf(stderr, "peer %s: the same answers as stored resources\n", o->peer);
    if (connect_all(b, o->peer, peers, o->conc)) return 1;
    for (int k = 0; k < 2; k++) {
      uint8_t *buf = NULL;
      if (!cpns_codec_encode(samples[k], CPNS_CF_CBOR, &buf, &peer_bytes[k])) free(buf);
      char pname[64], gname[64];
      snprintf(pname, sizeof pname, "PUT %s (peer)", paths[k]);
      snprintf(gname, sizeof gname, "GET %s (peer, %zu B)", paths[k], peer_bytes[k]);
      struct phase put = {.name = pname, .kind = K_PEER_PUT, .ss = peers, .nss = 1, .target = 1,
                          .peer_body = samples[k], .peer_path = paths[k]};
      struct phase get = {.name = gname, .kind = K_PEER_GET, .ss = peers, .nss = o->conc,
                          .target = BENCH_MAX_LOOKUPS, .seconds = o->lookup_seconds,
                          .peer_path = paths[k]};
      if (run_phase(b, &put) || run_phase(b, &get)) return 1;
      if (!json_equal(b->peer_answer, samples[k])) {
        fail(b, "the peer did not answer the body it was given");
        return 1;
      }
      peer_rate[k] = rate(&get);
      free(put.lat_us);
      free(get.lat_us);
    }
    close_all(b, peers, o->conc);
  }

  printf("\n%-46s", "metric");
  for (unsigned st = 0; st < o->nstages; st++) printf(" %10lu svc", ts[st].services);
  printf("   coap-server (peer), same bytes\n");
  printf("%-46s", "publishes/s, from none to this many");
  for (unsigned st = 0; st < o->nstages; st++) printf(" %14.0f", ts[st].publish);
  printf("\n%-46s", "publishes/s, the last tenth");
  for (unsigned st = 0; st < o->nstages; st++) printf(" %14.0f", ts[st].publish_tail);
  printf("\n");
  static const char *const labels[4] = {
      "lookups/s, one keyword, page of 3", "lookups/s, one keyword, page of 10",
      "lookups/s, prefix (10 keywords), page of 10", "lookups/s, all of two keywords, page 10"};
  for (int k = 0; k < 4; k++) {
    printf("%-46s", labels[k]);
    for (unsigned st = 0; st < o->nstages; st++) printf(" %14.0f", ts[st].rate[k]);
    if (k < 2 && peer_rate[k] >= 0) printf("   %.0f GET/s of %zu B", peer_rate[k], peer_bytes[k]);
    printf("\n%-46s", "  p50 / p99 ms");
    for (unsigned st = 0; st < o->nstages; st++) {
      char pp[32];
      snprintf(pp, sizeof pp, "%.1f / %.1f", ts[st].p50[k], ts[st].p99[k]);
      printf(" %14s", pp);
    }
    printf("\n");
  }
  if (o->ndatabases) {
    printf("%-46s", "database bytes per service (without WAL)");
    for (unsigned st = 0; st < o->nstages; st++)
      printf(" %14.0f", ts[st].db_bytes > 0 ? (double)ts[st].db_bytes / ts[st].services : 0);
    printf("\n");
  }
  static const char *const keys[4] = {"kw3", "kw10", "prefix", "all"};
  printf("\n# results\n");
  for (unsigned st = 0; st < o->nstages; st++) {
    printf("cpns.publishes_per_s@%lu %.0f\n", ts[st].services, ts[st].publish);
    printf("cpns.publishes_tail_per_s@%lu %.0f\n", ts[st].services, ts[st].publish_tail);
    for (int k = 0; k < 4; k++)
      printf("cpns.%s_lookups_per_s@%lu %.0f\n", keys[k], ts[st].services, ts[st].rate[k]);
  }
  for (int k = 0; k < 2; k++)
    if (peer_rate[k] >= 0) printf("peer.get_per_s@%zuB %.0f\n", peer_bytes[k], peer_rate[k]);
  json_decref(b->sample);
  json_decref(b->sample_small);
  json_decref(b->peer_answer);
  cpns_node_free(b->node);
  for (unsigned st = 0; st < o->nstages; st++) free(ts[st].ss);
  free(peers);
  return b->failed ? 1 : 0;
}

/* ---- the store alone ---- */

struct count_page {
  unsigned n, limit;
};

static int count_one(void *arg, const struct cpns_service *sv) {
  (void)sv;
  struct count_page *p = arg;
  return ++p->n >= p->limit;
}

/* bench_directory store DIR STAGES SECONDS: the same lookups through the
 * store interface in this process, without the network: what the indexes
 * give at each size when nothing else shares the measurement. One database
 * per size in DIR (kept: a rerun with the same sizes reuses them); the
 * sizes take turns, a slice at a time, as the servers do. */
static int store_fill(struct cpns_store *store, unsigned long n, uint64_t *rng, double *rate) {
  uint64_t have = 0;
  if (store->ops->service_count(store, NULL, &have) == 0 && have == n) {
    *rate = -1; /* reused */
    return 0;
  }
  if (have) {
    fprintf(stderr, "bench: the database holds %llu services, not %lu: remove it\n",
            (unsigned long long)have, n);
    return 1;
  }
  struct cpns_service *sv = malloc(sizeof *sv);
  if (!sv) return 1;
  uint64_t t0 = bench_now_us();
  for (unsigned long i = 0; i < n; i++) {
    json_t *d = service_body(i);
    char err[160];
    int rc = cpns_service_parse(d, sv, err, sizeof err);
    json_decref(d);
    *rng ^= *rng >> 12, *rng ^= *rng << 25, *rng ^= *rng >> 27;
    snprintf(sv->id, sizeof sv->id, "%016llx", (unsigned long long)(*rng * 0x2545F4914F6CDD1DULL));
    snprintf(sv->offerer, sizeof sv->offerer, "gw-%lu", i % 32);
    snprintf(sv->pn, sizeof sv->pn, "pn-%lu", i % 32);
    sv->created_at = sv->updated_at = 1;
    sv->expires_at = INT64_MAX;
    if (rc || store->ops->service_put(store, sv)) {
      fprintf(stderr, "bench: cannot store service %lu\n", i);
      free(sv);
      return 1;
    }
  }
  free(sv);
  *rate = (double)n / bench_since_s(t0);
  return 0;
}

/* Lookups of kind k on store for seconds; adds to *n. */
static int store_slice(struct cpns_store *store, unsigned long services, int k, double seconds,
                       uint64_t *rng, unsigned long *n) {
  unsigned long tags = services / BENCH_PAGE;
  uint64_t t0 = bench_now_us();
  while (bench_since_s(t0) < seconds) {
    char qs[96], err[160];
    *rng ^= *rng >> 12, *rng ^= *rng << 25, *rng ^= *rng >> 27;
    unsigned long t = (unsigned long)((*rng * 0x2545F4914F6CDD1DULL) % tags);
    unsigned limit = k == 0 ? BENCH_SMALL_PAGE : BENCH_PAGE;
    if (k < 2) snprintf(qs, sizeof qs, "kw=tag%lu", t);
    else if (k == 2) snprintf(qs, sizeof qs, "kw=fam%lu-&match=prefix", t);
    else snprintf(qs, sizeof qs, "kw=common,tag%lu", t);
    struct cpns_service_query q;
    if (cpns_service_query_parse_uri(qs, &q, err, sizeof err)) return 1;
    struct cpns_service_find f = {&q, false, "pn-0", (int64_t)time(NULL), 1000};
    struct count_page pg = {0, limit};
    char last[CPNS_ID_MAX + 1];
    bool more;
    if (store->ops->service_find(store, &f, count_one, &pg, last, &more) || pg.n != limit) {
      fprintf(stderr, "bench: store lookup %s found %u, expected %u\n", qs, pg.n, limit);
      return 1;
    }
    (*n)++;
  }
  return 0;
}

static int run_store(const char *dir, const char *stages_text, double seconds) {
  struct opts o;
  memset(&o, 0, sizeof o);
  if (parse_stages(stages_text, &o) || seconds <= 0 || seconds > 600) {
    usage(stderr);
    return 2;
  }
  static const char *const what[4] = {"keyword, page of 3", "keyword, page of 10",
                                      "prefix (10 keywords), page of 10", "all of two, page of 10"};
  struct cpns_store *stores[BENCH_MAX_STAGES] = {NULL};
  double puts_rate[BENCH_MAX_STAGES];
  unsigned long done[BENCH_MAX_STAGES][4] = {{0}};
  double spent[BENCH_MAX_STAGES][4] = {{0}};
  uint64_t rng = 0x9E3779B97F4A7C15ULL;
  int rc = 0;
  for (unsigned st = 0; !rc && st < o.nstages; st++) {
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/store-%lu.db", dir, o.stages[st]);
    if (cpns_store_sqlite_open(path, CPNS_STORE_SYNC_NORMAL, &stores[st], err, sizeof err)) {
      fprintf(stderr, "bench: %s\n", err);
      rc = 1;
      break;
    }
    rc = store_fill(stores[st], o.stages[st], &rng, &puts_rate[st]);
    if (!rc) fprintf(stderr, "  store of %lu services ready\n", o.stages[st]);
  }
  unsigned rounds = (unsigned)(seconds + 0.5);
  if (rounds == 0) rounds = 1;
  for (int k = 0; !rc && k < 4; k++)
    for (unsigned r = 0; !rc && r < rounds; r++)
      for (unsigned i = 0; !rc && i < o.nstages; i++) {
        unsigned st = r % 2 ? o.nstages - 1 - i : i;
        uint64_t t0 = bench_now_us();
        rc = store_slice(stores[st], o.stages[st], k, seconds / rounds, &rng, &done[st][k]);
        spent[st][k] += bench_since_s(t0);
      }
  for (unsigned st = 0; st < o.nstages; st++) cpns_store_close(stores[st]);
  if (rc) return 1;
  printf("\n%-46s", "the store alone, in-process (no network)");
  for (unsigned st = 0; st < o.nstages; st++) printf(" %10lu svc", o.stages[st]);
  printf("\n%-46s", "publishes/s (service_put)");
  for (unsigned st = 0; st < o.nstages; st++)
    if (puts_rate[st] >= 0) printf(" %14.0f", puts_rate[st]);
    else printf(" %14s", "(reused)");
  for (int k = 0; k < 4; k++) {
    printf("\nlookups/s, %-35s", what[k]);
    for (unsigned st = 0; st < o.nstages; st++) printf(" %14.0f", done[st][k] / spent[st][k]);
  }
  printf("\n\n# results\n");
  static const char *const keys[4] = {"kw3", "kw10", "prefix", "all"};
  for (unsigned st = 0; st < o.nstages; st++) {
    if (puts_rate[st] >= 0) printf("store.puts_per_s@%lu %.0f\n", o.stages[st], puts_rate[st]);
    for (int k = 0; k < 4; k++)
      printf("store.%s_lookups_per_s@%lu %.0f\n", keys[k], o.stages[st], done[st][k] / spent[st][k]);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "store") == 0) return run_store(argv[2], argv[3], atof(argv[4]));
  if (argc == 4 && strcmp(argv[1], "keyring") == 0) {
    char *end;
    unsigned long n = strtoul(argv[3], &end, 10);
    if (*end || n == 0 || n > BENCH_MAX_CONC) {
      fprintf(stderr, "bench: N must be 1..%d\n", BENCH_MAX_CONC);
      return 2;
    }
    return bench_keyring_write(argv[2], "bench_directory", n, 0);
  }
  if (argc < 2 || strcmp(argv[1], "run") != 0) {
    usage(stderr);
    return 2;
  }
  static const struct option longopts[] = {
      {"server", required_argument, NULL, 's'},  {"keyring", required_argument, NULL, 'k'},
      {"stages", required_argument, NULL, 'S'},  {"concurrency", required_argument, NULL, 'c'},
      {"lookup-seconds", required_argument, NULL, 'l'},
      {"database", required_argument, NULL, 'd'}, {"peer", required_argument, NULL, 'P'},
      {"peer-key", required_argument, NULL, 'K'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  struct opts o = {.conc = 32, .lookup_seconds = 5};
  parse_stages("1000,100000", &o);
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
    case 's':
      if (o.nservers >= BENCH_MAX_STAGES) goto bad;
      o.servers[o.nservers++] = optarg;
      break;
    case 'd':
      if (o.ndatabases >= BENCH_MAX_STAGES) goto bad;
      o.databases[o.ndatabases++] = optarg;
      break;
    case 'k': o.keyring = optarg; break;
    case 'P': o.peer = optarg; break;
    case 'K': o.peer_key = optarg; break;
    case 'S':
      if (parse_stages(optarg, &o)) {
        fprintf(stderr, "bench: --stages: growing multiples of %d, at most %d of them\n",
                BENCH_PAGE, BENCH_MAX_STAGES);
        return 2;
      }
      break;
    case 'c':
      o.conc = strtoul(optarg, &end, 10);
      if (*end || o.conc == 0 || o.conc > BENCH_MAX_CONC) {
        fprintf(stderr, "bench: --concurrency 1..%d\n", BENCH_MAX_CONC);
        return 2;
      }
      break;
    case 'l':
      o.lookup_seconds = strtod(optarg, &end);
      if (*end || o.lookup_seconds <= 0 || o.lookup_seconds > 600) {
        fprintf(stderr, "bench: --lookup-seconds 0..600\n");
        return 2;
      }
      break;
    case 'h': usage(stdout); return 0;
    default: goto bad;
    }
  }
  if (o.nservers != o.nstages || !o.keyring ||
      (o.peer && (!o.peer_key || strlen(o.peer_key) != CPNS_PSK_LEN)))
    goto bad;
  return run(&o);
bad:
  usage(stderr);
  return 2;
}
