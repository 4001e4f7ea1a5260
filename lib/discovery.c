/* SPDX-License-Identifier: Apache-2.0 */
/* CPNS-8 entity discovery client (see discovery.h): the request writer, the
 * bounded CoAP response and RFC 6690 link-format decoders, the socket and
 * the neighbour table. Every byte that arrives is hostile until proven
 * otherwise: the decoders never read past len, never trust a length field
 * and allocate nothing. The table is a sorted array of at most max_entries,
 * allocated once, so a flood of answers costs CPU, never memory. */
#include "discovery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define MOD "discovery"

/* RFC 7252 §3 and §12. */
#define COAP_VERSION 1
#define COAP_TYPE_CON 0
#define COAP_TYPE_NON 1
#define COAP_TYPE_ACK 2
#define COAP_TYPE_RST 3
#define COAP_CODE_GET 0x01
#define COAP_CODE_CONTENT 0x45 /* 2.05 */
#define COAP_TOKEN_MAX 8
#define COAP_OPT_URI_PATH 11
#define COAP_OPT_CONTENT_FORMAT 12
#define COAP_OPT_URI_QUERY 15
#define COAP_OPT_BLOCK2 23 /* RFC 7959 */
#define COAP_CF_LINK_FORMAT 40 /* RFC 6690 §7.2 */

/* RFC 7252 §5.3.1 asks for enough randomness in tokens that an off-path
 * attacker cannot guess them; the longest token gives the most. */
#define DISC_TOKEN_LEN 8
#define DISC_REQ_MAX 128   /* 4 + 8 + 12 + 5 + 2 + 3 + 64 = 98 bytes at most */
#define DISC_RECV_MAX 8192 /* larger datagrams are dropped, not cut */

struct cpns_discovery {
  int fd;
  int family;       /* AF_INET, or AF_INET6 dual-stack when ipv6 */
  unsigned ifindex; /* 0 = routing default */
  uint16_t port;
  size_t max_entries;
  long max_age;
  char self_id[CPNS_ID_MAX + 1];

  bool round; /* a search was started: token and req are valid */
  uint8_t token[DISC_TOKEN_LEN];
  uint16_t mid;
  uint8_t req[DISC_REQ_MAX];
  size_t req_len;
  int mcast4_errno, mcast6_errno; /* last failure, so it is logged once */

  size_t n;                      /* entries used */
  struct cpns_discovered *table; /* max_entries, sorted by id */
  uint8_t rbuf[DISC_RECV_MAX];
};

/* ---- CoAP response decoder ------------------------------------------- */

struct coap_msg {
  unsigned type;
  uint8_t code;
  uint16_t mid;
  const uint8_t *token;
  size_t token_len;
  int content_format; /* -1 when absent */
  uint32_t block2_num;
  bool block2_more;     /* Block2 M bit: the payload is only the first part */
  bool unknown_critical;
  const uint8_t *payload;
  size_t payload_len;
};

/* Reads the extended form of an option delta or length (RFC 7252 §3.1):
 * nibble 13 adds one byte (+13), 14 two bytes (+269); 15 is reserved for the
 * payload marker and is a format error anywhere else. */
static int coap_ext(const uint8_t *buf, size_t len, size_t *pos, uint32_t *v) {
  if (*v < 13) return 0;
  if (*v == 13) {
    if (len - *pos < 1) return CPNS_ERR_INVAL;
    *v = 13u + buf[*pos];
    *pos += 1;
    return 0;
  }
  if (*v == 14) {
    if (len - *pos < 2) return CPNS_ERR_INVAL;
    *v = 269u + ((uint32_t)buf[*pos] << 8 | buf[*pos + 1]);
    *pos += 2;
    return 0;
  }
  return CPNS_ERR_INVAL;
}

static uint32_t coap_uint(const uint8_t *p, size_t len) {
  uint32_t v = 0;
  for (size_t i = 0; i < len; i++) v = v << 8 | p[i];
  return v;
}

/* Splits a datagram into header, token, options and payload (RFC 7252 §3).
 * Only the options a discovery answer may need are interpreted; unknown
 * critical ones are noted, for the caller to refuse (§5.4.1). */
static int coap_decode(const uint8_t *buf, size_t len, struct coap_msg *m) {
  memset(m, 0, sizeof *m);
  m->content_format = -1;
  if (!buf || len < 4) return CPNS_ERR_INVAL;
  if ((buf[0] >> 6) != COAP_VERSION) return CPNS_ERR_INVAL;
  m->type = (buf[0] >> 4) & 3u;
  size_t tkl = buf[0] & 0x0fu;
  if (tkl > COAP_TOKEN_MAX) return CPNS_ERR_INVAL; /* §3: 9..15 are a format error */
  m->code = buf[1];
  m->mid = (uint16_t)((unsigned)buf[2] << 8 | buf[3]);
  if (len - 4 < tkl) return CPNS_ERR_INVAL;
  m->token = buf + 4;
  m->token_len = tkl;

  size_t pos = 4 + tkl;
  uint32_t number = 0;
  bool seen_cf = false, seen_block2 = false;
  while (pos < len) {
    uint8_t b = buf[pos++];
    if (b == 0xff) {
      /* §3: a marker followed by a zero-length payload is a format error. */
      if (pos == len) return CPNS_ERR_INVAL;
      m->payload = buf + pos;
      m->payload_len = len - pos;
      return 0;
    }
    uint32_t delta = b >> 4, olen = b & 0x0fu;
    if (coap_ext(buf, len, &pos, &delta) || coap_ext(buf, len, &pos, &olen))
      return CPNS_ERR_INVAL;
    number += delta; /* both at most 65804: no overflow */
    if (number > 0xffff) return CPNS_ERR_INVAL;
    if (olen > len - pos) return CPNS_ERR_INVAL;
    const uint8_t *val = buf + pos;
    pos += olen;
    switch (number) {
    case COAP_OPT_CONTENT_FORMAT: /* uint, 0..2 bytes, not repeatable */
      if (seen_cf || olen > 2) return CPNS_ERR_INVAL;
      seen_cf = true;
      m->content_format = (int)coap_uint(val, olen);
      break;
    case COAP_OPT_BLOCK2: /* RFC 7959 §2.2: uint, 0..3 bytes: NUM, M, SZX */
      if (seen_block2 || olen > 3) return CPNS_ERR_INVAL;
      seen_block2 = true;
      {
        uint32_t v = coap_uint(val, olen);
        m->block2_num = v >> 4;
        m->block2_more = (v & 0x08u) != 0;
      }
      break;
    default:
      if (number & 1u) m->unknown_critical = true; /* §5.4.6: odd = critical */
      break;
    }
  }
  return 0;
}

/* Is m a usable answer to the request with this token? NOTFOUND when it is
 * not an answer to it at all, PROTO when it is but cannot be used. */
static int coap_accept(const struct coap_msg *m, const uint8_t *token, size_t token_len) {
  if (m->type == COAP_TYPE_RST || (m->code >> 5) == 0) return CPNS_ERR_NOTFOUND;
  if (m->token_len != token_len || (token_len && memcmp(m->token, token, token_len) != 0))
    return CPNS_ERR_NOTFOUND;
  if (m->code != COAP_CODE_CONTENT) return CPNS_ERR_PROTO;
  if (m->unknown_critical) return CPNS_ERR_PROTO;
  if (m->content_format >= 0 && m->content_format != COAP_CF_LINK_FORMAT) return CPNS_ERR_PROTO;
  if (m->block2_num != 0) return CPNS_ERR_PROTO; /* we never asked for a later block */
  return 0;
}

int cpns_coap_parse_response(const uint8_t *buf, size_t len, const uint8_t *token,
                             size_t token_len, const uint8_t **payload, size_t *payload_len) {
  if (payload) *payload = NULL;
  if (payload_len) *payload_len = 0;
  if (token_len > COAP_TOKEN_MAX || (!token && token_len)) return CPNS_ERR_INVAL;
  struct coap_msg m;
  int rc = coap_decode(buf, len, &m);
  if (rc) return rc;
  rc = coap_accept(&m, token, token_len);
  if (rc) return rc;
  if (payload) *payload = m.payload;
  if (payload_len) *payload_len = m.payload_len;
  return 0;
}

/* ---- RFC 6690 link-format -------------------------------------------- */

/* A link cut by the end of the input: malformed in a whole payload, merely
 * unknown in a partial one (internal; never returned to callers). */
#define LF_INCOMPLETE 1

struct lf_attr {
  const char *name, *val;
  size_t nlen, vlen;
  bool has_val;
};

struct lf_link {
  const char *uri;
  size_t ulen;
  unsigned nattrs;
  struct lf_attr attrs[CPNS_LINKFORMAT_MAX_ATTRS];
};

static bool lf_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool lf_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5987 attr-char: the characters of a parameter name. */
static bool lf_parmchar(unsigned char c) {
  return lf_alnum(c) || (c && strchr("!#$&+-.^_`|~", c));
}

/* RFC 6690 §2 ptokenchar: an unquoted value. */
static bool lf_ptokenchar(unsigned char c) {
  return lf_alnum(c) || (c && strchr("!#$%&'()*+-./:<=>?@[]^_`{|}~", c));
}

/* Inside <...>: printable, no '<' (a '>' ends it). */
static bool lf_urichar(unsigned char c) { return c > 0x20 && c < 0x7f && c != '<'; }

static size_t lf_skip_ws(const char *b, size_t len, size_t pos) {
  while (pos < len && lf_ws(b[pos])) pos++;
  return pos;
}

/* Parses the link at b[pos] up to (not including) the ',' that ends it or
 * the end of the input; *next is that position. */
static int lf_link(const char *b, size_t len, size_t pos, struct lf_link *l, size_t *next) {
  if (b[pos] != '<') return CPNS_ERR_INVAL;
  size_t start = ++pos;
  while (pos < len && b[pos] != '>') {
    if (!lf_urichar((unsigned char)b[pos])) return CPNS_ERR_INVAL;
    pos++;
  }
  if (pos == len) return LF_INCOMPLETE;
  l->uri = b + start;
  l->ulen = pos - start;
  l->nattrs = 0;
  pos++;
  for (;;) {
    pos = lf_skip_ws(b, len, pos);
    if (pos == len || b[pos] == ',') {
      *next = pos;
      return 0;
    }
    if (b[pos] != ';') return CPNS_ERR_INVAL;
    pos = lf_skip_ws(b, len, pos + 1);
    if (l->nattrs == CPNS_LINKFORMAT_MAX_ATTRS) return CPNS_ERR_INVAL;
    struct lf_attr *a = &l->attrs[l->nattrs];
    start = pos;
    while (pos < len && lf_parmchar((unsigned char)b[pos])) pos++;
    if (pos == start) return pos == len ? LF_INCOMPLETE : CPNS_ERR_INVAL;
    a->name = b + start;
    a->nlen = pos - start;
    a->val = NULL;
    a->vlen = 0;
    a->has_val = false;
    if (pos < len && b[pos] == '=') {
      if (++pos == len) return LF_INCOMPLETE;
      if (b[pos] == '"') {
        /* quoted-string: ',' and ';' are data; a backslash escapes the next
         * byte. The raw text is kept: the values we use admit no escapes. */
        start = ++pos;
        while (pos < len && b[pos] != '"') {
          if (b[pos] == '\\' && ++pos == len) break;
          pos++;
        }
        if (pos >= len) return LF_INCOMPLETE;
        a->val = b + start;
        a->vlen = pos - start;
        pos++;
      } else {
        start = pos;
        while (pos < len && lf_ptokenchar((unsigned char)b[pos])) pos++;
        if (pos == start) return CPNS_ERR_INVAL;
        a->val = b + start;
        a->vlen = pos - start;
      }
      a->has_val = true;
    }
    l->nattrs++;
  }
}

static bool lf_name_is(const struct lf_attr *a, const char *name) {
  size_t n = strlen(name);
  if (a->nlen != n) return false;
  for (size_t i = 0; i < n; i++) {
    char c = a->name[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != name[i]) return false;
  }
  return true;
}

/* An entity or PN id: 1..64 characters of [A-Za-z0-9._-]. */
static bool valid_id(const char *s, size_t len) {
  if (len < 1 || len > CPNS_ID_MAX) return false;
  for (size_t i = 0; i < len; i++)
    if (!lf_alnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
      return false;
  return true;
}

/* rt is a space-separated list of resource types (RFC 6690 §3.1). */
static unsigned rt_roles(const char *v, size_t len) {
  unsigned roles = 0;
  size_t i = 0;
  while (i < len) {
    while (i < len && v[i] == ' ') i++;
    size_t s = i;
    while (i < len && v[i] != ' ') i++;
    size_t w = i - s;
    if (w == 7 && memcmp(v + s, "cpns.gw", 7) == 0) roles |= CPNS_ROLE_GW;
    if (w == 8 && memcmp(v + s, "cpns.pne", 8) == 0) roles |= CPNS_ROLE_PNE;
  }
  return roles;
}

static int parse_port(const char *v, size_t len, uint16_t *out) {
  if (len < 1 || len > 5) return CPNS_ERR_INVAL;
  unsigned long p = 0;
  for (size_t i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9') return CPNS_ERR_INVAL;
    p = p * 10 + (unsigned long)(v[i] - '0');
  }
  if (p < 1 || p > 65535) return CPNS_ERR_INVAL;
  *out = (uint16_t)p;
  return 0;
}

static int lf_entity(const struct lf_link *l, struct cpns_discovered *out) {
  struct cpns_discovered e;
  memset(&e, 0, sizeof e);
  bool have_rt = false, have_ep = false, have_pn = false, have_sp = false;
  for (unsigned i = 0; i < l->nattrs; i++) {
    const struct lf_attr *a = &l->attrs[i];
    bool *seen;
    if (lf_name_is(a, "rt")) seen = &have_rt;
    else if (lf_name_is(a, "ep")) seen = &have_ep;
    else if (lf_name_is(a, "pn")) seen = &have_pn;
    else if (lf_name_is(a, "sp")) seen = &have_sp;
    else continue;
    /* RFC 6690 §3.1: rt must not appear twice; a second ep, pn or sp would
     * be as ambiguous. */
    if (*seen || !a->has_val) return CPNS_ERR_INVAL;
    *seen = true;
    if (seen == &have_rt) {
      e.roles = rt_roles(a->val, a->vlen);
    } else if (seen == &have_sp) {
      if (parse_port(a->val, a->vlen, &e.port)) return CPNS_ERR_INVAL;
    } else {
      if (!valid_id(a->val, a->vlen)) return CPNS_ERR_INVAL;
      char *dst = seen == &have_ep ? e.id : e.pn;
      memcpy(dst, a->val, a->vlen);
      dst[a->vlen] = '\0';
    }
  }
  /* A gateway must say where its DTLS listener is; a PNE that only opens
   * sessions itself (CPNS-6 comes back on them) has none to advertise. */
  if (!have_ep || !e.roles || (!have_sp && (e.roles & CPNS_ROLE_GW))) return CPNS_ERR_INVAL;
  *out = e;
  return 0;
}

/* partial: the input may have been cut (longer than the bound, or the first
 * of several blocks), so the last link, which may end mid-value, is not
 * trusted unless a ',' shows that it is complete. */
static int lf_find_entity(const char *buf, size_t len, bool partial, struct cpns_discovered *out) {
  if (!buf) len = 0;
  if (len > CPNS_LINKFORMAT_MAX_BYTES) {
    len = CPNS_LINKFORMAT_MAX_BYTES;
    partial = true;
  }
  size_t pos = 0;
  for (unsigned nlinks = 0;; nlinks++) {
    pos = lf_skip_ws(buf, len, pos);
    if (pos == len || nlinks == CPNS_LINKFORMAT_MAX_LINKS) return CPNS_ERR_NOTFOUND;
    struct lf_link l;
    size_t next = 0;
    int rc = lf_link(buf, len, pos, &l, &next);
    if (rc == LF_INCOMPLETE) return partial ? CPNS_ERR_NOTFOUND : CPNS_ERR_INVAL;
    if (rc) return rc;
    bool complete = next < len; /* ended by ',' */
    if (!complete && partial) return CPNS_ERR_NOTFOUND;
    if (l.ulen == strlen(CPNS_DISCOVERY_ENTITY_URI) &&
        memcmp(l.uri, CPNS_DISCOVERY_ENTITY_URI, l.ulen) == 0)
      return lf_entity(&l, out);
    if (!complete) return CPNS_ERR_NOTFOUND;
    pos = next + 1;
  }
}

int cpns_linkformat_find_entity(const char *payload, size_t len, struct cpns_discovered *out) {
  if (!out || (!payload && len)) return CPNS_ERR_INVAL;
  return lf_find_entity(payload, len, false, out);
}

/* ---- the table ------------------------------------------------------- */

/* Binary search by id; *at is where it is or would be inserted. */
static bool table_find(const struct cpns_discovery *d, const char *id, size_t *at) {
  size_t lo = 0, hi = d->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(d->table[mid].id, id);
    if (c == 0) {
      *at = mid;
      return true;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  *at = lo;
  return false;
}

static void table_remove(struct cpns_discovery *d, size_t i) {
  memmove(&d->table[i], &d->table[i + 1], (d->n - i - 1) * sizeof d->table[0]);
  d->n--;
}

int discovery__update(struct cpns_discovery *d, const struct cpns_discovered *e, int64_t now) {
  if (!d || !e || !valid_id(e->id, strnlen(e->id, sizeof e->id))) return CPNS_ERR_INVAL;
  size_t i;
  if (table_find(d, e->id, &i)) {
    struct cpns_discovered *t = &d->table[i];
    if (strcmp(t->host, e->host) != 0 || t->port != e->port)
      log_info(MOD, "%s moved from %s port %u to %s port %u", e->id, t->host, t->port, e->host,
               e->port);
    memcpy(t->pn, e->pn, sizeof t->pn);
    memcpy(t->host, e->host, sizeof t->host);
    t->pn[sizeof t->pn - 1] = t->host[sizeof t->host - 1] = '\0';
    t->roles = e->roles;
    t->port = e->port;
    t->last_seen = now;
    return 0;
  }
  if (d->n == d->max_entries) {
    /* Full: the one heard from longest ago makes room (ties: the one first
     * seen earliest), so that a live neighbourhood is kept current. */
    size_t old = 0;
    for (size_t j = 1; j < d->n; j++) {
      const struct cpns_discovered *a = &d->table[j], *b = &d->table[old];
      if (a->last_seen < b->last_seen ||
          (a->last_seen == b->last_seen && a->first_seen < b->first_seen))
        old = j;
    }
    log_info(MOD, "table full (%zu): %s forgotten for %s", d->max_entries, d->table[old].id,
             e->id);
    table_remove(d, old);
    if (old < i) i--;
  }
  memmove(&d->table[i + 1], &d->table[i], (d->n - i) * sizeof d->table[0]);
  struct cpns_discovered *t = &d->table[i];
  *t = *e;
  t->id[sizeof t->id - 1] = t->pn[sizeof t->pn - 1] = t->host[sizeof t->host - 1] = '\0';
  t->first_seen = t->last_seen = now;
  d->n++;
  log_info(MOD, "found %s (%s%s%s%s%s) at %s port %u", t->id,
           (t->roles & CPNS_ROLE_GW) ? "gw" : "",
           (t->roles & CPNS_ROLE_GW) && (t->roles & CPNS_ROLE_PNE) ? "+" : "",
           (t->roles & CPNS_ROLE_PNE) ? "pne" : "", t->pn[0] ? ", pn " : "", t->pn, t->host,
           t->port);
  return 1;
}

void cpns_discovery_expire(struct cpns_discovery *d, int64_t now) {
  if (!d) return;
  size_t w = 0;
  for (size_t r = 0; r < d->n; r++) {
    if (now - d->table[r].last_seen > d->max_age) {
      log_info(MOD, "%s not heard for %lld s: dropped", d->table[r].id,
               (long long)(now - d->table[r].last_seen));
      continue;
    }
    if (w != r) d->table[w] = d->table[r];
    w++;
  }
  d->n = w;
}

int cpns_discovery_foreach(const struct cpns_discovery *d,
                           int (*cb)(void *arg, const struct cpns_discovered *e), void *arg) {
  if (!d || !cb) return CPNS_ERR_INVAL;
  for (size_t i = 0; i < d->n; i++) {
    int rc = cb(arg, &d->table[i]);
    if (rc) return rc;
  }
  return 0;
}

size_t cpns_discovery_count(const struct cpns_discovery *d) { return d ? d->n : 0; }

/* ---- socket ---------------------------------------------------------- */

int cpns_discovery_fd(const struct cpns_discovery *d) { return d ? d->fd : -1; }

/* Sets an int socket option, logging (not failing) when the kernel refuses:
 * discovery still works unicast without any of the multicast settings. */
static void set_int_opt(int fd, int level, int opt, int val, const char *what) {
  if (setsockopt(fd, level, opt, &val, sizeof val) != 0)
    log_warn(MOD, "cannot set %s: %s", what, strerror(errno));
}

static int open_socket(struct cpns_discovery *d) {
  d->fd = socket(d->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (d->fd < 0) {
    log_err(MOD, "cannot open a UDP%s socket: %s", d->family == AF_INET6 ? "v6" : "",
            strerror(errno));
    return CPNS_ERR_IO;
  }
  int rc;
  if (d->family == AF_INET6) {
    /* Dual-stack, so that one socket reaches both groups; IPv4 peers then
     * appear as ::ffff:a.b.c.d. */
    int off = 0;
    if (setsockopt(d->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0) {
      log_err(MOD, "cannot make the socket dual-stack: %s", strerror(errno));
      return CPNS_ERR_IO;
    }
    struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
    rc = bind(d->fd, (const struct sockaddr *)&any, sizeof any);
  } else {
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    rc = bind(d->fd, (const struct sockaddr *)&any, sizeof any);
  }
  if (rc != 0) {
    log_err(MOD, "cannot bind the discovery socket: %s", strerror(errno));
    return CPNS_ERR_IO;
  }

  /* Answers come from the link only (TTL 1, RFC 7252 §12.8 groups are
   * link-local in practice), and loopback is on because entities running on
   * this very host must hear us too. On the dual-stack socket Linux applies
   * the IPv4 options to v4-mapped destinations. */
  set_int_opt(d->fd, IPPROTO_IP, IP_MULTICAST_TTL, 1, "IP_MULTICAST_TTL");
  set_int_opt(d->fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1, "IP_MULTICAST_LOOP");
  if (d->ifindex) {
    struct ip_mreqn mr;
    memset(&mr, 0, sizeof mr);
    mr.imr_ifindex = (int)d->ifindex;
    if (setsockopt(d->fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr) != 0)
      log_warn(MOD, "cannot set IP_MULTICAST_IF: %s", strerror(errno));
  }
  if (d->family == AF_INET6) {
    set_int_opt(d->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1, "IPV6_MULTICAST_HOPS");
    set_int_opt(d->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1, "IPV6_MULTICAST_LOOP");
    set_int_opt(d->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)d->ifindex, "IPV6_MULTICAST_IF");
  }
  return 0;
}

int cpns_discovery_new(const struct cpns_discovery_config *cfg, struct cpns_discovery **out) {
  if (!out) return CPNS_ERR_INVAL;
  *out = NULL;
  struct cpns_discovery_config def;
  memset(&def, 0, sizeof def);
  if (!cfg) cfg = &def;
  const char *ifname = cfg->ifname && *cfg->ifname ? cfg->ifname : NULL;
  size_t max_entries = cfg->max_entries ? cfg->max_entries : CPNS_DISCOVERY_MAX_ENTRIES_DEFAULT;
  if (max_entries > CPNS_DISCOVERY_MAX_ENTRIES_CAP) {
    log_err(MOD, "max_entries %zu is above %d", max_entries, CPNS_DISCOVERY_MAX_ENTRIES_CAP);
    return CPNS_ERR_CONFIG;
  }
  if (cfg->ipv6 && !ifname) {
    log_err(MOD, "IPv6 discovery needs an interface: %s is link-local", CPNS_DISCOVERY_GROUP6);
    return CPNS_ERR_CONFIG;
  }
  if (cfg->self_id && !valid_id(cfg->self_id, strnlen(cfg->self_id, CPNS_ID_MAX + 1))) {
    log_err(MOD, "self id is not a valid entity id");
    return CPNS_ERR_CONFIG;
  }
  unsigned ifindex = 0;
  if (ifname && (ifindex = if_nametoindex(ifname)) == 0) {
    log_err(MOD, "unknown interface %s", ifname);
    return CPNS_ERR_CONFIG;
  }

  struct cpns_discovery *d = calloc(1, sizeof *d);
  if (!d) return CPNS_ERR_NOMEM;
  d->table = calloc(max_entries, sizeof *d->table);
  if (!d->table) {
    free(d);
    return CPNS_ERR_NOMEM;
  }
  d->fd = -1;
  d->family = cfg->ipv6 ? AF_INET6 : AF_INET;
  d->ifindex = ifindex;
  d->port = cfg->port ? cfg->port : CPNS_DISCOVERY_PORT;
  d->max_entries = max_entries;
  d->max_age = cfg->max_age > 0 ? cfg->max_age : CPNS_DISCOVERY_MAX_AGE_DEFAULT;
  if (cfg->self_id) snprintf(d->self_id, sizeof d->self_id, "%s", cfg->self_id);
  /* RFC 7252 §4.4: start message ids at a random value. */
  if (getrandom(&d->mid, sizeof d->mid, 0) != (ssize_t)sizeof d->mid) {
    cpns_discovery_free(d);
    return CPNS_ERR_CRYPTO;
  }
  int rc = open_socket(d);
  if (rc) {
    cpns_discovery_free(d);
    return rc;
  }
  *out = d;
  return 0;
}

void cpns_discovery_free(struct cpns_discovery *d) {
  if (!d) return;
  if (d->fd >= 0) close(d->fd);
  free(d->table);
  free(d);
}

/* ---- searching -------------------------------------------------------- */

/* Appends one option (RFC 7252 §3.1) with the delta from *last; the caller
 * has checked that it fits (values here are at most 64 + 3 bytes). */
static size_t put_option(uint8_t *p, unsigned *last, unsigned number, const void *val,
                         size_t len) {
  size_t n = 0;
  unsigned delta = number - *last;
  *last = number;
  /* Our deltas are all below 13; lengths may need the one-byte form. */
  if (len < 13) {
    p[n++] = (uint8_t)(delta << 4 | len);
  } else {
    p[n++] = (uint8_t)(delta << 4 | 13);
    p[n++] = (uint8_t)(len - 13);
  }
  memcpy(p + n, val, len);
  return n + len;
}

static bool valid_filter(const char *f, size_t len) {
  if (len > CPNS_DISCOVERY_RT_MAX) return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)f[i];
    if (c == '*' && i == len - 1) continue; /* RFC 6690 §4.1: only as the last character */
    if (!lf_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

static void build_request(struct cpns_discovery *d, const char *filter, size_t flen) {
  uint8_t *p = d->req;
  size_t n = 0;
  p[n++] = (uint8_t)(COAP_VERSION << 6 | COAP_TYPE_NON << 4 | DISC_TOKEN_LEN);
  p[n++] = COAP_CODE_GET;
  p[n++] = (uint8_t)(d->mid >> 8);
  p[n++] = (uint8_t)d->mid;
  memcpy(p + n, d->token, DISC_TOKEN_LEN);
  n += DISC_TOKEN_LEN;
  unsigned last = 0;
  n += put_option(p + n, &last, COAP_OPT_URI_PATH, ".well-known", 11);
  n += put_option(p + n, &last, COAP_OPT_URI_PATH, "core", 4);
  if (flen) {
    char q[3 + CPNS_DISCOVERY_RT_MAX];
    memcpy(q, "rt=", 3);
    memcpy(q + 3, filter, flen);
    n += put_option(p + n, &last, COAP_OPT_URI_QUERY, q, 3 + flen);
  }
  d->req_len = n;
}

/* A multicast send that fails is logged when it starts failing or fails
 * differently, and when it works again; never per round. */
static void send_group(struct cpns_discovery *d, const struct sockaddr *sa, socklen_t salen,
                       const char *group, int *last_errno) {
  if (sendto(d->fd, d->req, d->req_len, 0, sa, salen) == (ssize_t)d->req_len) {
    if (*last_errno) log_info(MOD, "search to %s works again", group);
    *last_errno = 0;
    return;
  }
  int e = errno ? errno : EIO;
  if (e != *last_errno)
    log_warn(MOD, "cannot search %s port %u: %s (is there a multicast route?)", group, d->port,
             strerror(e));
  *last_errno = e;
}

int cpns_discovery_search(struct cpns_discovery *d, const char *rt_filter) {
  if (!d) return CPNS_ERR_INVAL;
  size_t flen = rt_filter ? strnlen(rt_filter, CPNS_DISCOVERY_RT_MAX + 1) : 0;
  if (!valid_filter(rt_filter, flen)) return CPNS_ERR_INVAL;
  if (getrandom(d->token, sizeof d->token, 0) != (ssize_t)sizeof d->token) {
    log_err(MOD, "no randomness for a token: %s", strerror(errno));
    d->round = false;
    return CPNS_ERR_CRYPTO;
  }
  d->mid++;
  build_request(d, rt_filter, flen);
  d->round = true;

  if (d->family == AF_INET6) {
    struct sockaddr_in6 g4 = {.sin6_family = AF_INET6, .sin6_port = htons(d->port)};
    inet_pton(AF_INET6, "::ffff:" CPNS_DISCOVERY_GROUP4, &g4.sin6_addr);
    send_group(d, (const struct sockaddr *)&g4, sizeof g4, CPNS_DISCOVERY_GROUP4,
               &d->mcast4_errno);
    struct sockaddr_in6 g6 = {.sin6_family = AF_INET6, .sin6_port = htons(d->port),
                              .sin6_scope_id = d->ifindex};
    inet_pton(AF_INET6, CPNS_DISCOVERY_GROUP6, &g6.sin6_addr);
    send_group(d, (const struct sockaddr *)&g6, sizeof g6, CPNS_DISCOVERY_GROUP6,
               &d->mcast6_errno);
  } else {
    struct sockaddr_in g4 = {.sin_family = AF_INET, .sin_port = htons(d->port)};
    inet_pton(AF_INET, CPNS_DISCOVERY_GROUP4, &g4.sin_addr);
    send_group(d, (const struct sockaddr *)&g4, sizeof g4, CPNS_DISCOVERY_GROUP4,
               &d->mcast4_errno);
  }
  return 0;
}

/* Parses a numeric "host:port", "[v6]:port", "host" or bare "v6" into an
 * address this socket can send to; *why says what is wrong. */
static int parse_target(const struct cpns_discovery *d, const char *s,
                        struct sockaddr_storage *ss, socklen_t *sslen, const char **why) {
  *why = "not a numeric address with an optional port";
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  const char *port = NULL;
  size_t hlen;
  if (s[0] == '[') {
    const char *close_br = strchr(s, ']');
    if (!close_br) return CPNS_ERR_INVAL;
    hlen = (size_t)(close_br - s - 1);
    s++;
    if (close_br[1] == ':') port = close_br + 2;
    else if (close_br[1] != '\0') return CPNS_ERR_INVAL;
  } else {
    const char *colon = strchr(s, ':');
    if (colon && !strchr(colon + 1, ':')) { /* one colon: host:port */
      hlen = (size_t)(colon - s);
      port = colon + 1;
    } else {
      hlen = strlen(s); /* no port, or a bare IPv6 address */
    }
  }
  if (hlen == 0 || hlen >= sizeof host) return CPNS_ERR_INVAL;
  memcpy(host, s, hlen);
  host[hlen] = '\0';
  uint16_t p = d->port;
  if (port && parse_port(port, strlen(port), &p)) {
    *why = "bad port";
    return CPNS_ERR_INVAL;
  }

  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST;
  if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) return CPNS_ERR_INVAL;
  int rc = 0;
  memset(ss, 0, sizeof *ss);
  if (res->ai_family == AF_INET && d->family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    memcpy(sin, res->ai_addr, sizeof *sin);
    sin->sin_port = htons(p);
    *sslen = sizeof *sin;
  } else if (res->ai_family == AF_INET) { /* to the dual-stack socket, v4-mapped */
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)res->ai_addr;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(p);
    sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&sin6->sin6_addr.s6_addr[12], &v4->sin_addr, 4);
    *sslen = sizeof *sin6;
  } else if (res->ai_family == AF_INET6 && d->family == AF_INET6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    memcpy(sin6, res->ai_addr, sizeof *sin6);
    sin6->sin6_port = htons(p);
    *sslen = sizeof *sin6;
  } else {
    *why = "an IPv6 target needs ipv6 discovery";
    rc = CPNS_ERR_INVAL;
  }
  freeaddrinfo(res);
  return rc;
}

int cpns_discovery_search_unicast(struct cpns_discovery *d, const char *hostport) {
  if (!d || !hostport || !d->round) return CPNS_ERR_INVAL;
  struct sockaddr_storage ss;
  socklen_t sslen = 0;
  const char *why = "";
  if (parse_target(d, hostport, &ss, &sslen, &why)) {
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "bad unicast discovery target \"%.*s\": %s",
                CPNS_ADDR_MAX, hostport, why);
    return CPNS_ERR_INVAL;
  }
  if (sendto(d->fd, d->req, d->req_len, 0, (const struct sockaddr *)&ss, sslen) !=
      (ssize_t)d->req_len) {
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "cannot search %.*s: %s", CPNS_ADDR_MAX, hostport,
                strerror(errno));
    return CPNS_ERR_IO;
  }
  return 0;
}

/* ---- answers ------------------------------------------------------------ */

/* The numeric source address, IPv4-mapped addresses shown as IPv4. */
static int format_host(const struct sockaddr_storage *ss, socklen_t len, char *out,
                       size_t outlen) {
  struct sockaddr_in v4;
  const struct sockaddr *sa = (const struct sockaddr *)ss;
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
      memset(&v4, 0, sizeof v4);
      v4.sin_family = AF_INET;
      memcpy(&v4.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
      sa = (const struct sockaddr *)&v4;
      len = sizeof v4;
    }
  }
  if (getnameinfo(sa, len, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST) != 0)
    return CPNS_ERR_INVAL;
  return 0;
}

/* RFC 7252 §4.2: a CON answer is acknowledged with an empty ACK carrying its
 * message id, or it would be sent again. */
static void send_ack(struct cpns_discovery *d, const struct coap_msg *m,
                     const struct sockaddr_storage *from, socklen_t flen) {
  uint8_t ack[4] = {(uint8_t)(COAP_VERSION << 6 | COAP_TYPE_ACK << 4), 0,
                    (uint8_t)(m->mid >> 8), (uint8_t)m->mid};
  if (sendto(d->fd, ack, sizeof ack, 0, (const struct sockaddr *)from, flen) !=
      (ssize_t)sizeof ack)
    CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "cannot acknowledge an answer: %s", strerror(errno));
}

/* One datagram. Returns 1 when it added an entity, else 0. */
static int handle_datagram(struct cpns_discovery *d, size_t n,
                           const struct sockaddr_storage *from, socklen_t flen) {
  char host[CPNS_DISCOVERY_HOST_MAX];
  if (format_host(from, flen, host, sizeof host)) {
    CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "datagram from an unprintable address dropped");
    return 0;
  }
  struct coap_msg m;
  if (coap_decode(d->rbuf, n, &m)) {
    CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "malformed CoAP datagram (%zu bytes) from %s dropped", n,
                host);
    return 0;
  }
  int rc = d->round ? coap_accept(&m, d->token, sizeof d->token) : CPNS_ERR_NOTFOUND;
  if (rc == CPNS_ERR_NOTFOUND) {
    /* Late answers to an earlier round are normal after a new search. */
    CPNS_LOG_RL(CPNS_LOG_DEBUG, MOD, "datagram from %s is not an answer to this round", host);
    return 0;
  }
  if (m.type == COAP_TYPE_CON) send_ack(d, &m, from, flen);
  if (rc) {
    CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "answer %u.%02u from %s is not a usable link-format 2.05",
                m.code >> 5, m.code & 0x1fu, host);
    return 0;
  }
  struct cpns_discovered e;
  rc = lf_find_entity((const char *)m.payload, m.payload_len, m.block2_more, &e);
  if (rc == CPNS_ERR_NOTFOUND) {
    CPNS_LOG_RL(CPNS_LOG_DEBUG, MOD, "answer from %s has no CPNS entity link", host);
    return 0;
  }
  if (rc) {
    CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "answer from %s has a malformed entity link", host);
    return 0;
  }
  if (strcmp(e.id, d->self_id) == 0) return 0; /* we heard ourselves */
  memcpy(e.host, host, sizeof e.host);
  return discovery__update(d, &e, (int64_t)time(NULL)) == 1;
}

int cpns_discovery_read(struct cpns_discovery *d) {
  if (!d) return CPNS_ERR_INVAL;
  int added = 0;
  for (int i = 0; i < CPNS_DISCOVERY_READ_BATCH; i++) {
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    /* MSG_TRUNC: the datagram's real length, so a cut one is recognised. */
    ssize_t n = recvfrom(d->fd, d->rbuf, sizeof d->rbuf, MSG_TRUNC, (struct sockaddr *)&from,
                         &flen);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      /* Interruptions and ICMP errors queued by earlier sends concern
       * nobody in particular; the next datagram may be fine. */
      if (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH ||
          errno == ENETUNREACH)
        continue;
      CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "cannot read: %s", strerror(errno));
      return added ? added : CPNS_ERR_IO;
    }
    if ((size_t)n > sizeof d->rbuf) {
      CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "oversized datagram (%zd bytes) dropped", n);
      continue;
    }
    added += handle_datagram(d, (size_t)n, &from, flen);
  }
  return added;
}
