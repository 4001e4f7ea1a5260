/* SPDX-License-Identifier: Apache-2.0 */
/* bench_registration: the load generator of issue 2. One libcpns node opens
 * many client DTLS-PSK sessions to cpns-server, each as a different gateway
 * identity (gw-i, bound to PN pn-i in the server's keyring), and measures
 * over loopback: DTLS handshakes per second, PN registrations (PUT pns/{pn})
 * and PNE registrations (PUT pns/{pn}/entities/{id}) per second, PN
 * Inventory reads (GET pns/{pn} and GET pns/{pn}/entities/{id}) per second,
 * and the server's resident memory per registered PNE read from
 * /proc/PID/status. The same generator then drives libcoap's example
 * coap-server over DTLS-PSK with the same concurrency and the same number of
 * sessions, reading resources that hold the bodies cpns-server answered (put
 * there by the generator, CBOR from the same encoder), so the two GET rates
 * compare the servers and not the payloads.
 *
 * At most --concurrency requests (and handshakes) are in flight at once, and
 * at most one per session (libcoap keeps NSTART = 1). Every phase is bounded
 * in requests and in time; the first error (a non-2.xx answer, a timeout, a
 * session that fails) ends the run with exit status 1.
 *
 *   bench_registration keyring FILE GATEWAYS
 *   bench_registration run --server URI --keyring FILE [options]   (see usage())
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cpns/cpns.h>

#include "benchlib.h"
#include "codec.h"
#include "keyring.h"
#include "log.h"
#include "msg.h"
#include "node.h"

#define BENCH_MAX_GATEWAYS 100000
#define BENCH_MAX_PNES 65536
#define BENCH_MAX_CONCURRENCY 256
#define BENCH_MAX_STAGES 8
#define BENCH_MAX_READS 5000000UL /* per read phase, whatever --read-seconds says */
#define BENCH_STEP_MS 50
#define BENCH_SETTLE_MS 2000 /* after closing sessions, before reading RSS */
#define BENCH_CLOSE_BATCH 16    /* sessions closed at once... */
#define BENCH_CLOSE_PAUSE_MS 20 /* ...then a pause: about 800 closes a second */

enum kind {
  K_PUT_PN,
  K_PUT_PNE,
  K_GET_PN,
  K_GET_ENTITY,
  K_SELF,
  K_PEER_PUT,
  K_PEER_GET_PN,
  K_PEER_GET_ENTITY,
};

/* One client session: a gateway identity at cpns-server, or a plain
 * session at the peer. */
struct gw {
  coap_session_t *s;
  char id[CPNS_ID_MAX + 1];
  char pn[CPNS_ID_MAX + 1];
  uint8_t key[CPNS_PSK_LEN];
  unsigned next_pne; /* PNEs of this PN registered or in flight */
  bool pn_sent;
  bool connecting, up, busy;
};

struct phase {
  const char *name;
  enum kind kind;
  struct gw *gws;
  size_t lo, hi;        /* the sessions it uses */
  unsigned long target; /* requests to complete */
  double seconds;       /* stop issuing after this long; 0 = when target is reached */
  size_t cursor;
  unsigned long issued, done;
  double elapsed;
  uint32_t *lat_us; /* one per completed request, up to target */
  const char *peer_path;
  const json_t *peer_body;
};

struct slot {
  struct bench *b;
  struct gw *gw;
  uint64_t t0_us;
  int next_free;
};

struct bench {
  struct cpns_node *node;
  unsigned conc;
  unsigned pnes;
  double time_limit;
  uint64_t rng;

  struct gw *gws; /* the gateways, gw-0 .. */
  size_t ngws;
  struct gw *peers; /* sessions at the peer */
  size_t npeers;

  struct slot slots[BENCH_MAX_CONCURRENCY];
  int free_slot;
  unsigned inflight;
  unsigned connecting;
  bool closing; /* sessions going down are expected */
  bool failed;

  struct phase *cur;
  json_t *sample_pn, *sample_entity, *self; /* bodies kept from the answers */
  json_t *peer_pn, *peer_entity;            /* what the peer answered */
};

/* Ends the run at the first error: the message goes to stderr, the phase
 * loop stops at its next turn and main() exits with 1. */
static void fail(struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct bench *b, const char *fmt, ...) {
  if (b->failed) return;
  b->failed = true;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench: error: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* xorshift64*: reproducible picks of which gateway reads next. */
static uint64_t rnd(struct bench *b) {
  b->rng ^= b->rng >> 12;
  b->rng ^= b->rng << 25;
  b->rng ^= b->rng >> 27;
  return b->rng * 2685821657736338717ULL;
}

/* ---- the server's memory and database ---- */

struct mem {
  long rss_kb, hwm_kb;
  long long db_bytes, wal_bytes;
};

static long status_field(const char *text, const char *name) {
  const char *p = strstr(text, name);
  return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

/* Reads VmRSS and VmHWM of pid and the sizes of the database and its WAL.
 * Fields it cannot read are -1. */
static void read_mem(pid_t pid, const char *db, struct mem *m) {
  m->rss_kb = m->hwm_kb = -1;
  m->db_bytes = m->wal_bytes = -1;
  if (pid > 0) {
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f) {
      size_t n = fread(text, 1, sizeof text - 1, f);
      text[n] = '\0';
      fclose(f);
      m->rss_kb = status_field(text, "VmRSS:");
      m->hwm_kb = status_field(text, "VmHWM:");
    }
  }
  if (db && *db) {
    struct stat st;
    char wal[4200];
    if (stat(db, &st) == 0) m->db_bytes = (long long)st.st_size;
    snprintf(wal, sizeof wal, "%s-wal", db);
    if (stat(wal, &st) == 0) m->wal_bytes = (long long)st.st_size;
  }
}

static double mib(long long bytes) { return (double)bytes / (1024.0 * 1024.0); }

/* ---- sessions ---- */

static void on_session(void *arg, coap_session_t *s, bool up) {
  struct bench *b = arg;
  struct gw *g = coap_session_get_app_data(s);
  if (!g) return;
  if (up) {
    if (g->connecting) {
      g->connecting = false;
      b->connecting--;
    }
    g->up = true;
    return;
  }
  bool was = g->up || g->connecting;
  if (g->connecting) b->connecting--;
  g->connecting = g->up = false;
  if (was && !b->closing) fail(b, "the session of %s went down", g->id);
}

/* Opens sessions gws[lo..hi) to uri, at most b->conc handshakes at once, and
 * waits until all are up. Returns the elapsed seconds, or -1 on failure. */
static double connect_range(struct bench *b, const char *uri, struct gw *gws, size_t lo,
                            size_t hi) {
  uint64_t t0 = bench_now_us();
  size_t next = lo, up = 0;
  char err[256];
  while (!b->failed) {
    while (b->connecting < b->conc && next < hi) {
      struct gw *g = &gws[next++];
      if (cpns_node_connect(b->node, uri, g->id, g->key, &g->s, err, sizeof err)) {
        fail(b, "%s", err);
        return -1;
      }
      coap_session_set_app_data(g->s, g);
      g->connecting = true;
      b->connecting++;
    }
    up = 0;
    for (size_t i = lo; i < hi; i++) up += gws[i].up;
    if (up == hi - lo) break;
    if (bench_since_s(t0) > b->time_limit) {
      fail(b, "only %zu of %zu DTLS handshakes with %s done after %.0f s", up, hi - lo, uri,
           b->time_limit);
      return -1;
    }
    if (cpns_node_step(b->node, BENCH_STEP_MS)) fail(b, "event loop failed");
  }
  return b->failed ? -1 : bench_since_s(t0);
}

/* Closes every session in gws[0..n), BENCH_CLOSE_BATCH at a time with a
 * pause between: a thousand close_notify alerts at once overflow the
 * server's UDP receive buffer, and a session whose alert was dropped stays
 * at the server until its session_timeout. */
static void close_all(struct bench *b, struct gw *gws, size_t n) {
  b->closing = true;
  for (size_t i = 0; i < n; i++) {
    if (gws[i].s) {
      coap_session_set_app_data(gws[i].s, NULL);
      cpns_node_close_session(b->node, gws[i].s);
      gws[i].s = NULL;
    }
    gws[i].up = gws[i].connecting = false;
    if ((i + 1) % BENCH_CLOSE_BATCH == 0) {
      cpns_node_step(b->node, 0);
      nanosleep(&(struct timespec){0, BENCH_CLOSE_PAUSE_MS * 1000000L}, NULL);
    }
  }
  b->connecting = 0;
  uint64_t t0 = bench_now_us();
  while (bench_since_s(t0) < 0.5) cpns_node_step(b->node, BENCH_STEP_MS);
  b->closing = false;
}

/* Runs the loop for a while so that the server has taken in the closes. */
static void settle(struct bench *b) {
  uint64_t t0 = bench_now_us();
  while (bench_since_s(t0) < BENCH_SETTLE_MS / 1000.0) cpns_node_step(b->node, BENCH_STEP_MS);
}

/* ---- requests ---- */

static struct slot *slot_take(struct bench *b) {
  if (b->free_slot < 0) return NULL;
  struct slot *s = &b->slots[b->free_slot];
  b->free_slot = s->next_free;
  return s;
}

static void slot_put(struct bench *b, struct slot *s) {
  s->next_free = b->free_slot;
  b->free_slot = (int)(s - b->slots);
}

static const char *kind_what(enum kind k) {
  switch (k) {
  case K_PUT_PN: return "PUT pns/{pn}";
  case K_PUT_PNE: return "PUT pns/{pn}/entities/{id}";
  case K_GET_PN: return "GET pns/{pn}";
  case K_GET_ENTITY: return "GET pns/{pn}/entities/{id}";
  case K_SELF: return "GET entity";
  case K_PEER_PUT: return "PUT (peer)";
  case K_PEER_GET_PN:
  case K_PEER_GET_ENTITY: return "GET (peer)";
  }
  return "?";
}

static void on_answer(void *arg, int code, const json_t *body, const char *diag) {
  struct slot *sl = arg;
  struct bench *b = sl->b;
  struct phase *ph = b->cur;
  struct gw *g = sl->gw;
  uint64_t lat = bench_now_us() - sl->t0_us;
  b->inflight--;
  g->busy = false;
  slot_put(b, sl);
  if (!ph) return; /* the run is over: the node is answering what was left in flight */
  if (code < 200 || code >= 300) {
    if (code < 0)
      fail(b, "%s by %s: %s (%s)", kind_what(ph->kind), g->id, cpns_strerror(code), diag);
    else
      fail(b, "%s by %s: %d.%02d %s", kind_what(ph->kind), g->id, code / 100, code % 100, diag);
    return;
  }
  if (ph->done < ph->target) ph->lat_us[ph->done] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
  ph->done++;
  json_t **keep = ph->kind == K_GET_PN            ? &b->sample_pn
                  : ph->kind == K_GET_ENTITY      ? &b->sample_entity
                  : ph->kind == K_SELF            ? &b->self
                  : ph->kind == K_PEER_GET_PN     ? &b->peer_pn
                  : ph->kind == K_PEER_GET_ENTITY ? &b->peer_entity
                                                  : NULL;
  if (keep && !*keep && body) *keep = json_deep_copy(body);
}

static json_t *pn_body(const struct gw *g) {
  return json_pack("{s:s, s:s, s:b, s:i}", "name", g->pn, "owner", "bench", "open", 1, "lt",
                   CPNS_LIFETIME_MAX);
}

/* Sends the next request of ph on g. Returns 0, or -1 after fail(). */
static int issue(struct bench *b, struct phase *ph, struct gw *g) {
  char path[3 * CPNS_ID_MAX + 32];
  json_t *body = NULL;
  coap_pdu_code_t method = COAP_REQUEST_CODE_GET;
  switch (ph->kind) {
  case K_PUT_PN:
    method = COAP_REQUEST_CODE_PUT;
    snprintf(path, sizeof path, "pns/%s", g->pn);
    body = pn_body(g);
    g->pn_sent = true;
    break;
  case K_PUT_PNE:
    method = COAP_REQUEST_CODE_PUT;
    snprintf(path, sizeof path, "pns/%s/entities/pne-%u", g->pn, g->next_pne);
    body = json_pack("{s:s, s:s, s:[s], s:s}", "name", "Bench PNE", "type", "sensor", "roles",
                     "pne", "state", "online");
    g->next_pne++;
    break;
  case K_GET_PN: snprintf(path, sizeof path, "pns/%s", g->pn); break;
  case K_GET_ENTITY:
    snprintf(path, sizeof path, "pns/%s/entities/pne-%u", g->pn,
             (unsigned)(rnd(b) % (b->pnes ? b->pnes : 1)));
    break;
  case K_SELF: snprintf(path, sizeof path, "entity"); break;
  case K_PEER_PUT:
    method = COAP_REQUEST_CODE_PUT;
    snprintf(path, sizeof path, "%s", ph->peer_path);
    body = json_incref((json_t *)ph->peer_body);
    break;
  case K_PEER_GET_PN:
  case K_PEER_GET_ENTITY: snprintf(path, sizeof path, "%s", ph->peer_path); break;
  }
  struct slot *sl = slot_take(b);
  if (!sl) {
    json_decref(body);
    fail(b, "no free request slot");
    return -1;
  }
  sl->b = b;
  sl->gw = g;
  sl->t0_us = bench_now_us();
  g->busy = true;
  b->inflight++;
  ph->issued++;
  /* The callback may already run inside cpns_node_request (send failure). */
  int rc = cpns_node_request(b->node, g->s, method, path, NULL, body, on_answer, sl);
  json_decref(body);
  if (rc) {
    b->inflight--;
    g->busy = false;
    slot_put(b, sl);
    fail(b, "cannot send %s: %s", kind_what(ph->kind), cpns_strerror(rc));
    return -1;
  }
  return 0;
}

/* The next idle session of ph that has work left; NULL when none now. */
static struct gw *pick(struct bench *b, struct phase *ph) {
  size_t n = ph->hi - ph->lo;
  bool random = ph->kind == K_GET_PN || ph->kind == K_GET_ENTITY || ph->kind == K_PEER_GET_PN ||
                ph->kind == K_PEER_GET_ENTITY;
  size_t start = random ? (size_t)(rnd(b) % n) : ph->cursor;
  for (size_t k = 0; k < n; k++) {
    size_t i = (start + k) % n;
    struct gw *g = &ph->gws[ph->lo + i];
    if (g->busy || !g->up) continue;
    if (ph->kind == K_PUT_PN && g->pn_sent) continue;
    if (ph->kind == K_PUT_PNE && g->next_pne >= b->pnes) continue;
    ph->cursor = (i + 1) % n;
    return g;
  }
  return NULL;
}

static double pct_ms(const struct phase *ph, double p) {
  size_t n = ph->done < ph->target ? ph->done : ph->target;
  if (!n) return 0;
  size_t i = bench_rank(n, p);
  return ph->lat_us[i] / 1000.0;
}

static double rate(const struct phase *ph) {
  return ph->elapsed > 0 ? (double)ph->done / ph->elapsed : 0;
}

/* Runs ph to its end: target requests answered, or its time is up and the
 * requests in flight have come back. Keeps b->conc requests in flight. */
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
    while (!stop && b->inflight < b->conc && ph->issued < ph->target) {
      struct gw *g = pick(b, ph);
      if (!g || issue(b, ph, g)) break;
    }
    if (t > b->time_limit + (ph->seconds > 0 ? ph->seconds : 0)) {
      fail(b, "%s: %lu of %lu requests answered after %.0f s", ph->name, ph->done, ph->target, t);
      break;
    }
    if (cpns_node_step(b->node, BENCH_STEP_MS)) fail(b, "event loop failed");
  }
  ph->elapsed = bench_since_s(t0);
  size_t n = ph->done < ph->target ? ph->done : ph->target;
  bench_sort_u32(ph->lat_us, n);
  if (!b->failed)
    fprintf(stderr, "  %-34s %8lu in %7.2f s = %9.0f/s   p50 %6.2f ms  p99 %6.2f ms\n", ph->name,
            ph->done, ph->elapsed, rate(ph), pct_ms(ph, 0.50), pct_ms(ph, 0.99));
  return b->failed ? -1 : 0;
}

static void phase_free(struct phase *ph) {
  free(ph->lat_us);
  ph->lat_us = NULL;
}

static size_t encoded_size(const json_t *v) {
  uint8_t *buf = NULL;
  size_t len = 0;
  if (!v || cpns_codec_encode(v, CPNS_CF_CBOR, &buf, &len)) return 0;
  free(buf);
  return len;
}

/* ---- keyring ---- */

/* ---- main ---- */

static void usage(FILE *out) {
  fprintf(out, "Usage: bench_registration keyring FILE GATEWAYS\n"
               "       bench_registration run --server URI --keyring FILE [options]\n"
               "  --server URI          cpns-server, coaps://127.0.0.1:PORT\n"
               "  --keyring FILE        the keyring the server loaded (gw-0.. from 'keyring')\n"
               "  --server-pid PID      read the server's VmRSS/VmHWM from /proc/PID/status\n"
               "  --database FILE       the server's SQLite file, for its size\n"
               "  --stages N1,N2,...    register PNs up to N1, measure memory, then up to N2...\n"
               "                        (default 100,1000)\n"
               "  --pnes M              PNEs per PN (default 100)\n"
               "  --concurrency C       requests and handshakes in flight (default 32)\n"
               "  --read-seconds S      length of each GET phase (default 5)\n"
               "  --time-limit S        give up on a phase after S more seconds (default 600)\n"
               "  --peer URI            libcoap coap-server, coaps://127.0.0.1:PORT\n"
               "  --peer-key KEY        its PSK, 32 characters (used as the 32 key bytes)\n"
               "  --peer-identity ID    PSK identity at the peer (default bench)\n"
               "  --peer-sessions N     sessions at the peer (default: as many as gateways)\n"
               "  --peer-pid PID        read the peer's VmRSS around its handshakes\n"
               "  --seed N              seed of the random read order (default 1)\n");
}

struct opts {
  const char *server, *keyring, *database, *peer, *peer_key, *peer_identity;
  pid_t server_pid, peer_pid;
  unsigned long stages[BENCH_MAX_STAGES];
  unsigned nstages;
  unsigned long pnes, conc, peer_sessions;
  double read_seconds, time_limit;
  unsigned long long seed;
};

static int parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o) {
  static const struct option longs[] = {
      {"server", required_argument, NULL, 's'},
      {"keyring", required_argument, NULL, 'k'},
      {"server-pid", required_argument, NULL, 'p'},
      {"database", required_argument, NULL, 'd'},
      {"stages", required_argument, NULL, 'S'},
      {"pnes", required_argument, NULL, 'm'},
      {"concurrency", required_argument, NULL, 'c'},
      {"read-seconds", required_argument, NULL, 'r'},
      {"time-limit", required_argument, NULL, 't'},
      {"peer", required_argument, NULL, 'P'},
      {"peer-key", required_argument, NULL, 'K'},
      {"peer-identity", required_argument, NULL, 'I'},
      {"peer-sessions", required_argument, NULL, 'n'},
      {"seed", required_argument, NULL, 'x'},
      {"peer-pid", required_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  *o = (struct opts){.peer_identity = "bench",
                     .stages = {100, 1000},
                     .nstages = 2,
                     .pnes = 100,
                     .conc = 32,
                     .read_seconds = 5,
                     .time_limit = 600,
                     .seed = 1};
  unsigned long v;
  int c;
  while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
    switch (c) {
    case 's': o->server = optarg; break;
    case 'k': o->keyring = optarg; break;
    case 'd': o->database = optarg; break;
    case 'P': o->peer = optarg; break;
    case 'K': o->peer_key = optarg; break;
    case 'I': o->peer_identity = optarg; break;
    case 'p':
      if (parse_ulong(optarg, 1, 1UL << 22, &v)) goto bad;
      o->server_pid = (pid_t)v;
      break;
    case 'q':
      if (parse_ulong(optarg, 1, 1UL << 22, &v)) goto bad;
      o->peer_pid = (pid_t)v;
      break;
    case 'S': {
      char buf[256];
      snprintf(buf, sizeof buf, "%s", optarg);
      o->nstages = 0;
      char *save = NULL;
      for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->nstages == BENCH_MAX_STAGES || parse_ulong(t, 1, BENCH_MAX_GATEWAYS, &v) ||
            (o->nstages && v <= o->stages[o->nstages - 1]))
          goto bad;
        o->stages[o->nstages++] = v;
      }
      if (!o->nstages) goto bad;
      break;
    }
    case 'm':
      if (parse_ulong(optarg, 1, BENCH_MAX_PNES, &o->pnes)) goto bad;
      break;
    case 'c':
      if (parse_ulong(optarg, 1, BENCH_MAX_CONCURRENCY, &o->conc)) goto bad;
      break;
    case 'n':
      if (parse_ulong(optarg, 1, BENCH_MAX_GATEWAYS, &o->peer_sessions)) goto bad;
      break;
    case 'r':
      if (parse_ulong(optarg, 1, 3600, &v)) goto bad;
      o->read_seconds = (double)v;
      break;
    case 't':
      if (parse_ulong(optarg, 1, 86400, &v)) goto bad;
      o->time_limit = (double)v;
      break;
    case 'x':
      if (parse_ulong(optarg, 1, ~0UL, &v)) goto bad;
      o->seed = v;
      break;
    case 'h': usage(stdout); exit(0);
    default: goto bad;
    }
  }
  if (!o->server || !o->keyring) {
    fprintf(stderr, "bench: --server and --keyring are required\n");
    return -1;
  }
  if (o->peer && (!o->peer_key || strlen(o->peer_key) != CPNS_PSK_LEN)) {
    fprintf(stderr, "bench: --peer-key must be %d characters\n", CPNS_PSK_LEN);
    return -1;
  }
  return 0;
bad:
  fprintf(stderr, "bench: bad value for an option (%s)\n", optarg ? optarg : argv[optind - 1]);
  return -1;
}

/* A session count needs a file descriptor each. */
static void raise_nofile(size_t need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl)) return;
  rlim_t want = (rlim_t)need + 64;
  if (rl.rlim_cur >= want) return;
  rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

struct results {
  double hs_s, hs_n, pn_s, pn_n, pne_s, pne_n;
  struct phase get_pn, get_entity;
  struct mem base, at[BENCH_MAX_STAGES], closed, after_reads;
  long sessions_kb; /* RSS the server grew by while our sessions were opened */
  long sessions_kb_at[BENCH_MAX_STAGES];
  unsigned long sessions;
  struct mem peer_before, peer_after; /* the peer around its handshakes */
  unsigned long pnes_at[BENCH_MAX_STAGES];
  double peer_hs_n, peer_hs_s;
  struct phase peer_get_pn, peer_get_entity;
  bool peer;
  size_t pn_bytes, entity_bytes;
};

static void print_mem_line(const char *what, const struct mem *m, const struct mem *base,
                           unsigned long pnes) {
  fprintf(stderr, "  %-34s", what);
  if (m->rss_kb >= 0)
    fprintf(stderr, " RSS %7.1f MiB (HWM %7.1f MiB)", m->rss_kb / 1024.0, m->hwm_kb / 1024.0);
  if (pnes && m->rss_kb >= 0 && base->rss_kb >= 0)
    fprintf(stderr, "  +%.1f MiB = %.0f B/PNE", (m->rss_kb - base->rss_kb) / 1024.0,
            (double)(m->rss_kb - base->rss_kb) * 1024.0 / (double)pnes);
  if (m->db_bytes >= 0)
    fprintf(stderr, "  DB %.1f MiB + WAL %.1f MiB", mib(m->db_bytes),
            mib(m->wal_bytes > 0 ? m->wal_bytes : 0));
  fputc('\n', stderr);
}

/* One row of the table and, under key, one line of the "# results" block
 * (collected in keys[] and printed after the table). */
struct table {
  char keys[40][96];
  unsigned nkeys;
};

static void row(struct table *t, const char *label, const char *key, double ours, const char *unit,
                bool have_peer, double peer) {
  char a[48] = "n/a", p[48] = "n/a";
  if (ours >= 0) snprintf(a, sizeof a, "%.0f%s", ours, unit);
  if (have_peer && peer >= 0) snprintf(p, sizeof p, "%.0f%s", peer, unit);
  printf("%-48s %-18s %s\n", label, a, p);
  if (ours >= 0 && t->nkeys < 40)
    snprintf(t->keys[t->nkeys++], sizeof t->keys[0], "cpns.%s %.0f", key, ours);
  if (have_peer && peer >= 0 && t->nkeys < 40)
    snprintf(t->keys[t->nkeys++], sizeof t->keys[0], "peer.%s %.0f", key, peer);
}

static double per(double num, double den) { return den > 0 ? num / den : -1; }

/* Bytes of RSS per PNE since start, optionally without what our sessions
 * cost; -1 when unknown. */
static double rss_per_pne(const struct mem *m, const struct mem *base, long minus_kb,
                          unsigned long pnes) {
  if (m->rss_kb < 0 || base->rss_kb < 0 || !pnes) return -1;
  return (double)(m->rss_kb - base->rss_kb - minus_kb) * 1024.0 / (double)pnes;
}

static void print_results(const struct opts *o, const struct results *r) {
  struct table t = {.nkeys = 0};
  char label[96], key[64];
  unsigned long last = r->pnes_at[o->nstages - 1];
  bool mem = r->base.rss_kb >= 0;
  printf("\n%-48s %-18s %s\n", "metric", "cpns-server", "coap-server (peer)");
  row(&t, "DTLS-PSK handshakes/s", "handshakes_per_s", per(r->hs_n, r->hs_s), "", r->peer,
      per(r->peer_hs_n, r->peer_hs_s));
  row(&t, "PN registrations/s", "pn_registrations_per_s", per(r->pn_n, r->pn_s), "", false, 0);
  row(&t, "PNE registrations/s", "pne_registrations_per_s", per(r->pne_n, r->pne_s), "", false, 0);
  snprintf(label, sizeof label, "GET/s one entity (%zu B CBOR) vs same body", r->entity_bytes);
  row(&t, label, "get_entity_per_s", rate(&r->get_entity), "", r->peer, rate(&r->peer_get_entity));
  snprintf(label, sizeof label, "GET/s whole PN (%lu PNEs, %zu B) vs same", o->pnes, r->pn_bytes);
  row(&t, label, "get_pn_per_s", rate(&r->get_pn), "", r->peer, rate(&r->peer_get_pn));
  double peer_sess = -1;
  if (r->peer && r->peer_before.rss_kb >= 0 && r->peer_after.rss_kb >= 0)
    peer_sess = (double)(r->peer_after.rss_kb - r->peer_before.rss_kb) * 1024.0 / r->peer_hs_n;
  row(&t, "RSS per DTLS session (server side)", "rss_bytes_per_session",
      mem ? (double)r->sessions_kb * 1024.0 / (double)r->sessions : -1, " B", r->peer, peer_sess);
  for (unsigned i = 0; i < o->nstages; i++) {
    snprintf(label, sizeof label, "RSS per PNE @%lu, %lu sessions open", r->pnes_at[i],
             o->stages[i]);
    snprintf(key, sizeof key, "rss_bytes_per_pne@%lu", r->pnes_at[i]);
    row(&t, label, key, rss_per_pne(&r->at[i], &r->base, 0, r->pnes_at[i]), " B", false, 0);
    snprintf(label, sizeof label, "RSS per PNE @%lu, sessions' growth excluded", r->pnes_at[i]);
    snprintf(key, sizeof key, "rss_bytes_per_pne_net@%lu", r->pnes_at[i]);
    row(&t, label, key, rss_per_pne(&r->at[i], &r->base, r->sessions_kb_at[i], r->pnes_at[i]), " B",
        false, 0);
  }
  snprintf(label, sizeof label, "RSS per PNE @%lu, after closing sessions", last);
  snprintf(key, sizeof key, "rss_bytes_per_pne_closed@%lu", last);
  row(&t, label, key, rss_per_pne(&r->closed, &r->base, 0, last), " B", false, 0);
  snprintf(label, sizeof label, "RSS per PNE @%lu, after the reads", last);
  snprintf(key, sizeof key, "rss_bytes_per_pne_after_reads@%lu", last);
  row(&t, label, key, rss_per_pne(&r->after_reads, &r->base, 0, last), " B", false, 0);
  snprintf(label, sizeof label, "DB file (without WAL) per PNE @%lu", last);
  snprintf(key, sizeof key, "db_bytes_per_pne@%lu", last);
  row(&t, label, key, r->closed.db_bytes >= 0 ? (double)r->closed.db_bytes / (double)last : -1,
      " B", false, 0);

  /* key value lines, for scripts and tests */
  printf("\n# results\ncpns.pnes %lu\n", last);
  for (unsigned i = 0; i < t.nkeys; i++) printf("%s\n", t.keys[i]);
}

/* The peer: the same number of sessions, resources holding the bodies
 * cpns-server answered, the same GET phases. */
static int run_peer(struct bench *b, const struct opts *o, struct results *r) {
  size_t n = o->peer_sessions ? o->peer_sessions : b->ngws;
  b->peers = calloc(n, sizeof *b->peers);
  if (!b->peers) return -1;
  b->npeers = n;
  for (size_t i = 0; i < n; i++) {
    snprintf(b->peers[i].id, sizeof b->peers[i].id, "%s", o->peer_identity);
    memcpy(b->peers[i].key, o->peer_key, CPNS_PSK_LEN);
  }
  fprintf(stderr, "peer %s: %zu sessions\n", o->peer, n);
  read_mem(o->peer_pid, NULL, &r->peer_before);
  r->peer_hs_s = connect_range(b, o->peer, b->peers, 0, n);
  if (r->peer_hs_s < 0) return -1;
  read_mem(o->peer_pid, NULL, &r->peer_after);
  r->peer_hs_n = (double)n;
  fprintf(stderr, "  %-34s %8zu in %7.2f s = %9.0f/s", "DTLS-PSK handshakes", n, r->peer_hs_s,
          (double)n / r->peer_hs_s);
  if (r->peer_before.rss_kb >= 0 && r->peer_after.rss_kb >= 0)
    fprintf(stderr, "   peer RSS %.1f -> %.1f MiB = %.1f KiB/session",
            r->peer_before.rss_kb / 1024.0, r->peer_after.rss_kb / 1024.0,
            (double)(r->peer_after.rss_kb - r->peer_before.rss_kb) / (double)n);
  fputc('\n', stderr);
  struct phase put_pn = {.name = "PUT /bench-pn",
                         .kind = K_PEER_PUT,
                         .gws = b->peers,
                         .lo = 0,
                         .hi = 1,
                         .target = 1,
                         .peer_path = "/bench-pn",
                         .peer_body = b->sample_pn};
  struct phase put_ent = {.name = "PUT /bench-entity",
                          .kind = K_PEER_PUT,
                          .gws = b->peers,
                          .lo = 0,
                          .hi = 1,
                          .target = 1,
                          .peer_path = "/bench-entity",
                          .peer_body = b->sample_entity};
  int rc = run_phase(b, &put_pn) || run_phase(b, &put_ent);
  phase_free(&put_pn);
  phase_free(&put_ent);
  if (rc) return -1;
  r->peer_get_entity = (struct phase){.name = "GET /bench-entity",
                                      .kind = K_PEER_GET_ENTITY,
                                      .gws = b->peers,
                                      .lo = 0,
                                      .hi = n,
                                      .target = BENCH_MAX_READS,
                                      .seconds = o->read_seconds,
                                      .peer_path = "/bench-entity"};
  if (run_phase(b, &r->peer_get_entity)) return -1;
  r->peer_get_pn = (struct phase){.name = "GET /bench-pn",
                                  .kind = K_PEER_GET_PN,
                                  .gws = b->peers,
                                  .lo = 0,
                                  .hi = n,
                                  .target = BENCH_MAX_READS,
                                  .seconds = o->read_seconds,
                                  .peer_path = "/bench-pn"};
  if (run_phase(b, &r->peer_get_pn)) return -1;
  /* The comparison holds only if the peer served the very same bodies. */
  if (!json_equal(b->peer_pn, b->sample_pn) || !json_equal(b->peer_entity, b->sample_entity)) {
    fail(b, "the peer did not answer the bodies it was given");
    return -1;
  }
  r->peer = true;
  close_all(b, b->peers, n);
  return 0;
}

static int run(const struct opts *o) {
  static struct bench bench;
  static struct results r;
  struct bench *b = &bench;
  b->conc = (unsigned)o->conc;
  b->pnes = (unsigned)o->pnes;
  b->time_limit = o->time_limit;
  b->rng = o->seed * 0x9E3779B97F4A7C15ULL + 1;
  b->free_slot = -1;
  for (int i = BENCH_MAX_CONCURRENCY - 1; i >= 0; i--) slot_put(b, &b->slots[i]);

  char err[512];
  struct cpns_keyring *kr = NULL;
  if (cpns_keyring_load(o->keyring, BENCH_MAX_GATEWAYS + 16, &kr, err, sizeof err)) {
    fprintf(stderr, "bench: %s\n", err);
    return 1;
  }
  b->ngws = o->stages[o->nstages - 1];
  b->gws = calloc(b->ngws, sizeof *b->gws);
  if (!b->gws) return 1;
  for (size_t i = 0; i < b->ngws; i++) {
    struct gw *g = &b->gws[i];
    snprintf(g->id, sizeof g->id, "gw-%zu", i);
    const struct cpns_key_entry *e = cpns_keyring_find(kr, g->id, strlen(g->id));
    if (!e || e->role != CPNS_PEER_GW) {
      fprintf(stderr, "bench: %s: no gateway %s (write it with 'bench_registration keyring')\n",
              o->keyring, g->id);
      cpns_keyring_free(kr);
      return 1;
    }
    snprintf(g->pn, sizeof g->pn, "%s", e->pn);
    memcpy(g->key, e->key, CPNS_PSK_LEN);
  }
  cpns_keyring_free(kr);
  raise_nofile(b->ngws > o->peer_sessions ? b->ngws : o->peer_sessions);

  struct cpns_node_config nc = {.name = "bench"};
  cpns_node_limits_default(&nc.limits);
  nc.limits.max_pending = (long)o->conc + 16;
  nc.limits.request_timeout_ms = 30000;
  nc.limits.ack_timeout_ms = 2000;
  nc.limits.keepalive = 0; /* pings would be load the server does not see in production */
  if (cpns_node_new(&nc, &b->node, err, sizeof err)) {
    fprintf(stderr, "bench: %s\n", err);
    return 1;
  }
  cpns_node_on_session(b->node, on_session, b);

  read_mem(o->server_pid, o->database, &r.base);
  fprintf(stderr, "cpns-server %s: %zu gateways, %lu PNEs each, %lu in flight\n", o->server,
          b->ngws, o->pnes, o->conc);
  print_mem_line("at start", &r.base, &r.base, 0);

  size_t lo = 0;
  int rc = 1;
  char what[64];
  struct phase pn = {.lat_us = NULL}, pne = {.lat_us = NULL}, self = {.lat_us = NULL};
  for (unsigned st = 0; st < o->nstages; st++) {
    size_t hi = o->stages[st];
    fprintf(stderr, "stage %u: PNs %zu..%zu\n", st + 1, lo, hi - 1);
    struct mem m0, m1;
    read_mem(o->server_pid, NULL, &m0);
    double hs = connect_range(b, o->server, b->gws, lo, hi);
    if (hs < 0) goto out;
    read_mem(o->server_pid, NULL, &m1);
    fprintf(stderr, "  %-34s %8zu in %7.2f s = %9.0f/s", "DTLS-PSK handshakes", hi - lo, hs,
            (double)(hi - lo) / hs);
    if (m0.rss_kb >= 0 && m1.rss_kb >= 0) {
      r.sessions_kb += m1.rss_kb - m0.rss_kb;
      fprintf(stderr, "   server RSS +%.1f MiB = %.1f KiB/session",
              (m1.rss_kb - m0.rss_kb) / 1024.0,
              (double)(m1.rss_kb - m0.rss_kb) / (double)(hi - lo));
    }
    fputc('\n', stderr);
    r.sessions += hi - lo;
    r.hs_s += hs;
    r.hs_n += (double)(hi - lo);
    pn = (struct phase){.name = "PN registrations",
                        .kind = K_PUT_PN,
                        .gws = b->gws,
                        .lo = lo,
                        .hi = hi,
                        .target = hi - lo};
    if (run_phase(b, &pn)) goto out;
    r.pn_s += pn.elapsed;
    r.pn_n += (double)pn.done;
    phase_free(&pn);
    pne = (struct phase){.name = "PNE registrations",
                         .kind = K_PUT_PNE,
                         .gws = b->gws,
                         .lo = lo,
                         .hi = hi,
                         .target = (hi - lo) * o->pnes};
    if (run_phase(b, &pne)) goto out;
    r.pne_s += pne.elapsed;
    r.pne_n += (double)pne.done;
    phase_free(&pne);
    r.pnes_at[st] = hi * o->pnes;
    r.sessions_kb_at[st] = r.sessions_kb;
    read_mem(o->server_pid, o->database, &r.at[st]);
    snprintf(what, sizeof what, "@%lu PNEs, %zu sessions", r.pnes_at[st], hi);
    print_mem_line(what, &r.at[st], &r.base, r.pnes_at[st]);
    lo = hi;
  }

  /* Registered state alone: without our sessions, before any read. */
  close_all(b, b->gws, b->ngws);
  settle(b);
  read_mem(o->server_pid, o->database, &r.closed);
  print_mem_line("sessions closed", &r.closed, &r.base, r.pnes_at[o->nstages - 1]);

  fprintf(stderr, "reads: each gateway its own PN, %.0f s each\n", o->read_seconds);
  double hs = connect_range(b, o->server, b->gws, 0, b->ngws);
  if (hs < 0) goto out;
  fprintf(stderr, "  %-34s %8zu in %7.2f s = %9.0f/s\n", "DTLS-PSK handshakes (again)", b->ngws, hs,
          (double)b->ngws / hs);
  r.get_entity = (struct phase){.name = "GET pns/{pn}/entities/{id}",
                                .kind = K_GET_ENTITY,
                                .gws = b->gws,
                                .lo = 0,
                                .hi = b->ngws,
                                .target = BENCH_MAX_READS,
                                .seconds = o->read_seconds};
  if (run_phase(b, &r.get_entity)) goto out;
  r.get_pn = (struct phase){.name = "GET pns/{pn}",
                            .kind = K_GET_PN,
                            .gws = b->gws,
                            .lo = 0,
                            .hi = b->ngws,
                            .target = BENCH_MAX_READS,
                            .seconds = o->read_seconds};
  if (run_phase(b, &r.get_pn)) goto out;
  r.pn_bytes = encoded_size(b->sample_pn);
  r.entity_bytes = encoded_size(b->sample_entity);
  json_t *ents = b->sample_pn ? json_object_get(b->sample_pn, "entities") : NULL;
  if (json_array_size(ents) != o->pnes) {
    fail(b, "GET pns/{pn} listed %zu entities, not %lu", json_array_size(ents), o->pnes);
    goto out;
  }

  /* The server's own count must match what was registered. */
  self = (struct phase){
      .name = "GET entity (check)", .kind = K_SELF, .gws = b->gws, .lo = 0, .hi = 1, .target = 1};
  if (run_phase(b, &self)) goto out;
  json_int_t pns = json_integer_value(json_object_get(b->self, "pns"));
  json_int_t ents_n = json_integer_value(json_object_get(b->self, "entities"));
  if ((unsigned long)pns != b->ngws || (unsigned long)ents_n != b->ngws * o->pnes) {
    fail(b, "the server counts %lld PNs and %lld entities, not %zu and %lu", (long long)pns,
         (long long)ents_n, b->ngws, b->ngws * o->pnes);
    goto out;
  }
  /* Requests the server's router saw, against requests we sent: a body
   * sent block-wise (RFC 7959) may call the handler once per block. */
  json_int_t handled =
      json_integer_value(json_object_get(json_object_get(b->self, "stats"), "requests"));
  unsigned long sent = 0;
  for (size_t i = 0; i < b->ngws; i++) sent += 1 + b->gws[i].next_pne;
  sent += r.get_entity.done + r.get_pn.done + 1;
  fprintf(stderr,
          "  server counts %lld PNs, %lld entities; its router ran %lld times for %lu requests\n",
          (long long)pns, (long long)ents_n, (long long)handled, sent);
  read_mem(o->server_pid, o->database, &r.after_reads);
  snprintf(what, sizeof what, "after reads, %zu sessions", b->ngws);
  print_mem_line(what, &r.after_reads, &r.base, r.pnes_at[o->nstages - 1]);
  close_all(b, b->gws, b->ngws);

  if (o->peer && run_peer(b, o, &r)) goto out;
  print_results(o, &r);
  rc = 0;
out:
  if (b->failed) rc = 1;
  b->cur = NULL;
  cpns_node_free(b->node);
  phase_free(&pn);
  phase_free(&pne);
  phase_free(&self);
  phase_free(&r.get_pn);
  phase_free(&r.get_entity);
  phase_free(&r.peer_get_pn);
  phase_free(&r.peer_get_entity);
  json_decref(b->sample_pn);
  json_decref(b->sample_entity);
  json_decref(b->self);
  json_decref(b->peer_pn);
  json_decref(b->peer_entity);
  free(b->gws);
  free(b->peers);
  return rc;
}

int main(int argc, char **argv) {
  cpns_log_setup("bench", CPNS_LOG_SINK_STDERR, CPNS_LOG_WARNING);
  if (argc >= 2 && strcmp(argv[1], "keyring") == 0) {
    unsigned long n;
    if (argc != 4 || parse_ulong(argv[3], 1, BENCH_MAX_GATEWAYS, &n)) {
      usage(stderr);
      return 64;
    }
    return bench_keyring_write(argv[2], "bench_registration", n, 0);
  }
  if (argc >= 2 && strcmp(argv[1], "run") == 0) {
    struct opts o;
    if (parse_opts(argc - 1, argv + 1, &o)) {
      usage(stderr);
      return 64;
    }
    return run(&o);
  }
  usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
  return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 64;
}
