/* SPDX-License-Identifier: Apache-2.0 */
/* bench_cpns4: the keyword lookups of bench_directory over CPNS-4 (HTTPS,
 * JSON, a bearer token) instead of CoAP, against cpns-servers that
 * bench_directory filled (service i has the keywords "common", "tag<i/10>"
 * and "fam<i/10>-<i%10>", all public). One thread, one epoll loop,
 * --concurrency keep-alive TLS connections per server with one request in
 * flight on each, as the CoAP side has one per DTLS session. For each kind
 * of lookup, the servers take turns a second at a time (order alternating),
 * for --seconds on each; every answer must be 200 with exactly the page
 * expected. Prints rates and latencies, and "# results" lines
 * (https.kw3_lookups_per_s@1000 ...) for bench/cpns4.sh to print beside the
 * CoAP figures.
 *
 *   bench_cpns4 --server https://127.0.0.1:PORT --services N --token-file F
 *               [--server ... --services ... --token-file ...]
 *               --cacert FILE [--concurrency 32] [--seconds 5]
 * Exit status 0 when every request succeeded, 1 otherwise. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"

#define BENCH_MAX_SERVERS 4
#define BENCH_MAX_CONC 256
#define BENCH_PAGE 10
#define BENCH_SMALL_PAGE 3
#define BENCH_RESPONSE_MAX (256 * 1024) /* bytes of one answer, headers included */
#define BENCH_REQUEST_MAX 1024
#define BENCH_TOKEN_MAX 128
#define BENCH_LAT_MAX 4000000 /* latencies kept per phase */
#define BENCH_EVENTS 64
#define BENCH_TIMEOUT_S 30

enum kind { K_KW3, K_KW10, K_PREFIX, K_ALL, K_N };
static const char *const kind_key[K_N] = {"kw3", "kw10", "prefix", "all"};
static const char *const kind_label[K_N] = {
    "lookups/s, one keyword, page of 3", "lookups/s, one keyword, page of 10",
    "lookups/s, prefix (10 keywords), page of 10", "lookups/s, all of two keywords, page 10"};

struct conn {
  SSL *ssl;
  int fd;
  bool busy;
  uint64_t t0;
  char *buf;
  size_t len;
  char req[BENCH_REQUEST_MAX];
  size_t reqlen, sent;
};

struct server {
  char host[64];
  int port;
  unsigned long services;
  char token[BENCH_TOKEN_MAX + 1];
  struct conn conns[BENCH_MAX_CONC];
  /* per kind: answers, seconds, latencies */
  unsigned long done[K_N];
  double secs[K_N];
  uint32_t *lat[K_N];
  size_t nlat[K_N];
};

static struct {
  struct server sv[BENCH_MAX_SERVERS];
  unsigned nsv, conc, seconds;
  SSL_CTX *ctx;
  int ep;
  uint64_t rng;
  bool failed;
} g = {.conc = 32, .seconds = 5, .rng = 0x9E3779B97F4A7C15ULL};

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  if (g.failed) return;
  g.failed = true;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_cpns4: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static uint64_t rnd(void) { /* xorshift64* */
  g.rng ^= g.rng >> 12;
  g.rng ^= g.rng << 25;
  g.rng ^= g.rng >> 27;
  return g.rng * 0x2545F4914F6CDD1DULL;
}

/* ---- connections ---- */

static int open_conn(struct server *s, struct conn *c) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)s->port);
  if (inet_pton(AF_INET, s->host, &a.sin_addr) != 1) {
    fail("%s: an IPv4 address is needed", s->host);
    return -1;
  }
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a)) {
    fail("connect %s:%d: %s", s->host, s->port, strerror(errno));
    return -1;
  }
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->ssl = SSL_new(g.ctx);
  if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) || SSL_connect(c->ssl) != 1) {
    fail("TLS handshake with %s:%d failed", s->host, s->port);
    return -1;
  }
  fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  c->buf = malloc(BENCH_RESPONSE_MAX + 1);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (!c->buf || epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &ev)) {
    fail("out of memory");
    return -1;
  }
  return 0;
}

static void close_conn(struct conn *c) {
  if (c->ssl) {
    SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
  }
  if (c->fd >= 0) close(c->fd);
  free(c->buf);
  memset(c, 0, sizeof *c);
  c->fd = -1;
}

/* ---- requests ---- */

static unsigned expected_page(enum kind k) { return k == K_KW3 ? BENCH_SMALL_PAGE : BENCH_PAGE; }

static void send_request(struct server *s, struct conn *c, enum kind k) {
  unsigned long t = rnd() % (s->services / BENCH_PAGE);
  char q[128];
  switch (k) {
  case K_KW3: snprintf(q, sizeof q, "kw=tag%lu&limit=%d", t, BENCH_SMALL_PAGE); break;
  case K_KW10: snprintf(q, sizeof q, "kw=tag%lu&limit=%d", t, BENCH_PAGE); break;
  case K_PREFIX: snprintf(q, sizeof q, "kw=fam%lu-&match=prefix&limit=%d", t, BENCH_PAGE); break;
  default: snprintf(q, sizeof q, "kw=common,tag%lu&limit=%d", t, BENCH_PAGE); break;
  }
  int n = snprintf(c->req, sizeof c->req,
                   "GET /cpns/v1/services?%s HTTP/1.1\r\nHost: %s:%d\r\n"
                   "Authorization: Bearer %s\r\nAccept: application/json\r\n\r\n",
                   q, s->host, s->port, s->token);
  c->reqlen = (size_t)n;
  c->sent = 0;
  c->len = 0;
  c->busy = true;
  c->t0 = bench_now_us();
  int w = SSL_write(c->ssl, c->req, (int)c->reqlen);
  if (w != (int)c->reqlen) fail("a request could not be written at once");
}

/* The answer in c->buf, once whole: 1 when complete (and checked), 0 when
 * more is needed, -1 on an error. */
static int answer_complete(struct conn *c, enum kind k) {
  c->buf[c->len] = '\0';
  char *end = strstr(c->buf, "\r\n\r\n");
  if (!end) return c->len >= BENCH_RESPONSE_MAX ? -1 : 0;
  size_t head = (size_t)(end - c->buf) + 4;
  long clen = -1;
  for (char *p = strstr(c->buf, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n"))
    if (!strncasecmp(p + 2, "Content-Length:", 15)) clen = strtol(p + 17, NULL, 10);
  if (clen < 0 || head + (size_t)clen > BENCH_RESPONSE_MAX) return -1;
  if (c->len < head + (size_t)clen) return 0;
  if (strncmp(c->buf, "HTTP/1.1 200 ", 13) != 0) {
    fail("answer: %.*s", (int)strcspn(c->buf, "\r"), c->buf);
    return -1;
  }
  json_t *v = json_loadb(c->buf + head, (size_t)clen, 0, NULL);
  size_t n = json_array_size(json_object_get(v, "services"));
  json_decref(v);
  if (n != expected_page(k)) {
    fail("a %s lookup answered %zu services, not %u", kind_key[k], n, expected_page(k));
    return -1;
  }
  if (c->len != head + (size_t)clen) return -1; /* nothing pipelined was asked for */
  return 1;
}

/* One phase: every connection to s keeps one lookup of kind k in flight for
 * secs seconds; the answers count, with their latencies. */
static void run_phase(struct server *s, enum kind k, double secs) {
  uint64_t t0 = bench_now_us(), stop = t0 + (uint64_t)(secs * 1e6);
  unsigned inflight = 0;
  for (unsigned i = 0; i < g.conc; i++) {
    send_request(s, &s->conns[i], k);
    inflight++;
  }
  struct epoll_event evs[BENCH_EVENTS];
  while (inflight && !g.failed) {
    if (bench_now_us() - t0 > (uint64_t)(secs + BENCH_TIMEOUT_S) * 1000000u) {
      fail("no answer for %d s", BENCH_TIMEOUT_S);
      break;
    }
    int n = epoll_wait(g.ep, evs, BENCH_EVENTS, 100);
    for (int e = 0; e < n && !g.failed; e++) {
      struct conn *c = evs[e].data.ptr;
      if (!c->busy) continue;
      for (;;) {
        int r = SSL_read(c->ssl, c->buf + c->len, (int)(BENCH_RESPONSE_MAX - c->len));
        if (r <= 0) {
          int err = SSL_get_error(c->ssl, r);
          if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            fail("the server closed a connection (%d)", err);
          break;
        }
        c->len += (size_t)r;
        int done = answer_complete(c, k);
        if (done < 0) {
          fail("a malformed answer");
          break;
        }
        if (done == 0) continue;
        uint64_t now = bench_now_us();
        if (s->nlat[k] < BENCH_LAT_MAX) s->lat[k][s->nlat[k]++] = (uint32_t)(now - c->t0);
        s->done[k]++;
        c->busy = false;
        inflight--;
        if (now < stop) {
          send_request(s, c, k);
          inflight++;
        }
        break;
      }
    }
  }
  s->secs[k] += (double)(bench_now_us() - t0) / 1e6;
}

static double pct(uint32_t *v, size_t n, double p) {
  if (!n) return 0;
  size_t i = bench_rank(n, p);
  return v[i] / 1000.0;
}

static int add_server(const char *url) {
  if (g.nsv >= BENCH_MAX_SERVERS) return -1;
  struct server *s = &g.sv[g.nsv];
  if (sscanf(url, "https://%63[^:]:%d", s->host, &s->port) != 2 || s->port <= 0 || s->port > 65535)
    return -1;
  g.nsv++;
  return 0;
}

static int read_token(struct server *s, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  bool ok = fgets(s->token, sizeof s->token, f) != NULL;
  fclose(f);
  s->token[strcspn(s->token, "\r\n")] = '\0';
  return ok && s->token[0] ? 0 : -1;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"server", required_argument, NULL, 's'},     {"services", required_argument, NULL, 'n'},
      {"token-file", required_argument, NULL, 't'}, {"cacert", required_argument, NULL, 'C'},
      {"concurrency", required_argument, NULL, 'c'}, {"seconds", required_argument, NULL, 'S'},
      {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0}};
  const char *cacert = NULL;
  unsigned nserv = 0, ntok = 0;
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 's':
      if (add_server(optarg)) {
        fprintf(stderr, "bench_cpns4: --server https://IPv4:PORT, at most %d\n", BENCH_MAX_SERVERS);
        return 2;
      }
      break;
    case 'n':
      if (nserv >= g.nsv || (g.sv[nserv].services = strtoul(optarg, NULL, 10)) < BENCH_PAGE) {
        fprintf(stderr, "bench_cpns4: --services N (at least %d) after each --server\n", BENCH_PAGE);
        return 2;
      }
      nserv++;
      break;
    case 't':
      if (ntok >= g.nsv || read_token(&g.sv[ntok], optarg)) {
        fprintf(stderr, "bench_cpns4: --token-file FILE after each --server\n");
        return 2;
      }
      ntok++;
      break;
    case 'C': cacert = optarg; break;
    case 'c': g.conc = (unsigned)strtoul(optarg, NULL, 10); break;
    case 'S': g.seconds = (unsigned)strtoul(optarg, NULL, 10); break;
    default:
      fprintf(stderr, "usage: bench_cpns4 --server https://IP:PORT --services N --token-file F "
                      "[...] --cacert FILE [--concurrency 32] [--seconds 5]\n");
      return o == 'h' ? 0 : 2;
    }
  }
  if (!g.nsv || nserv != g.nsv || ntok != g.nsv || !cacert || !g.conc ||
      g.conc > BENCH_MAX_CONC || !g.seconds) {
    fprintf(stderr, "bench_cpns4: each --server needs --services and --token-file; --cacert; "
                    "--concurrency 1..%d\n", BENCH_MAX_CONC);
    return 2;
  }
  g.ctx = SSL_CTX_new(TLS_client_method());
  if (!g.ctx || SSL_CTX_load_verify_locations(g.ctx, cacert, NULL) != 1) {
    fprintf(stderr, "bench_cpns4: cannot load %s\n", cacert);
    return 1;
  }
  SSL_CTX_set_verify(g.ctx, SSL_VERIFY_PEER, NULL);
  g.ep = epoll_create1(EPOLL_CLOEXEC);
  for (unsigned i = 0; i < g.nsv && !g.failed; i++) {
    struct server *s = &g.sv[i];
    for (int k = 0; k < K_N; k++) s->lat[k] = malloc(BENCH_LAT_MAX * sizeof(uint32_t));
    uint64_t t0 = bench_now_us();
    for (unsigned c = 0; c < g.conc && !g.failed; c++) s->conns[c].fd = -1;
    for (unsigned c = 0; c < g.conc && !g.failed; c++) open_conn(s, &s->conns[c]);
    fprintf(stderr, "%s:%d: %u TLS connections in %.2f s\n", s->host, s->port, g.conc,
            (double)(bench_now_us() - t0) / 1e6);
  }
  for (int k = 0; k < K_N && !g.failed; k++) {
    for (unsigned r = 0; r < g.seconds && !g.failed; r++)
      for (unsigned i = 0; i < g.nsv && !g.failed; i++)
        run_phase(&g.sv[(i + r) % g.nsv], (enum kind)k, 1.0);
    for (unsigned i = 0; i < g.nsv; i++) {
      struct server *s = &g.sv[i];
      bench_sort_u32(s->lat[k], s->nlat[k]);
      fprintf(stderr, "%-6s @%-7lu %8.0f/s  p50 %.1f ms  p99 %.1f ms\n", kind_key[k], s->services,
              s->done[k] / s->secs[k], pct(s->lat[k], s->nlat[k], 0.5),
              pct(s->lat[k], s->nlat[k], 0.99));
    }
  }
  if (!g.failed) {
    printf("%-46s", "CPNS-4 (HTTPS), same lookups");
    for (unsigned i = 0; i < g.nsv; i++) printf(" %10lu svc", g.sv[i].services);
    printf("\n");
    for (int k = 0; k < K_N; k++) {
      printf("%-46s", kind_label[k]);
      for (unsigned i = 0; i < g.nsv; i++) printf(" %14.0f", g.sv[i].done[k] / g.sv[i].secs[k]);
      printf("\n%-46s", "  p50 / p99 ms");
      for (unsigned i = 0; i < g.nsv; i++) {
        char pp[32];
        snprintf(pp, sizeof pp, "%.1f / %.1f", pct(g.sv[i].lat[k], g.sv[i].nlat[k], 0.5),
                 pct(g.sv[i].lat[k], g.sv[i].nlat[k], 0.99));
        printf(" %14s", pp);
      }
      printf("\n");
    }
    printf("\n# results\n");
    for (unsigned i = 0; i < g.nsv; i++)
      for (int k = 0; k < K_N; k++) {
        struct server *s = &g.sv[i];
        printf("https.%s_lookups_per_s@%lu %.0f\n", kind_key[k], s->services, s->done[k] / s->secs[k]);
        printf("https.%s_p50_ms@%lu %.1f\n", kind_key[k], s->services, pct(s->lat[k], s->nlat[k], 0.5));
      }
  }
  for (unsigned i = 0; i < g.nsv; i++) {
    for (unsigned c = 0; c < g.conc; c++)
      if (g.sv[i].conns[c].ssl) close_conn(&g.sv[i].conns[c]);
    for (int k = 0; k < K_N; k++) free(g.sv[i].lat[k]);
  }
  SSL_CTX_free(g.ctx);
  close(g.ep);
  return g.failed ? 1 : 0;
}
