/* SPDX-License-Identifier: Apache-2.0 */
/* The trusted-peers table of a link declared secure by its underlying
 * network (spec Appendix D; see trustlink.h): parser, loader and lookup. */
#include "trustlink.h"

#include <arpa/inet.h>
#include <cpns/cpns.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "msg.h"

#define TRUSTLINK_ADDR_TEXT_MAX 45 /* INET6_ADDRSTRLEN - 1 */

struct trust_entry {
  uint8_t len; /* 4 (IPv4) or 16 (IPv6) */
  uint8_t addr[16];
  char identity[CPNS_ID_MAX + 1];
  unsigned line; /* for the message about a duplicate */
};

struct cpns_trustlink {
  struct trust_entry *entries;
  size_t count;
};

/* Orders by length, then bytes: IPv4 before IPv6. */
static int cmp_addr(uint8_t alen, const uint8_t *a, uint8_t blen, const uint8_t *b) {
  if (alen != blen) return alen < blen ? -1 : 1;
  return memcmp(a, b, alen);
}

static int cmp_entry(const void *a, const void *b) {
  const struct trust_entry *x = a, *y = b;
  int c = cmp_addr(x->len, x->addr, y->len, y->addr);
  if (c) return c;
  /* stable on equal addresses, so the duplicate named is the later line */
  return x->line < y->line ? -1 : x->line > y->line;
}

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses an address literal into (len, bytes); an IPv4-mapped IPv6 address
 * becomes IPv4, as a dual-stack socket reports IPv4 peers that way. Only
 * addresses a datagram can come from are accepted. */
static int parse_addr(const char *s, uint8_t *len, uint8_t addr[16], const char **why) {
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, s, &a4) == 1) {
    *len = 4;
    memcpy(addr, &a4, 4);
  } else if (inet_pton(AF_INET6, s, &a6) == 1) {
    if (memcmp(a6.s6_addr, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
      *len = 4;
      memcpy(addr, a6.s6_addr + 12, 4);
    } else {
      *len = 16;
      memcpy(addr, a6.s6_addr, 16);
    }
  } else {
    *why = "not an IPv4 or IPv6 address literal";
    return CPNS_ERR_CONFIG;
  }
  static const uint8_t zero[16];
  if (*len == 4) {
    uint32_t v = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 | (uint32_t)addr[2] << 8 | addr[3];
    if (v == 0 || v == 0xffffffffu || (addr[0] & 0xf0) == 0xe0) {
      *why = "not a unicast address (unspecified, broadcast or multicast)";
      return CPNS_ERR_CONFIG;
    }
  } else if (memcmp(addr, zero, 16) == 0 || addr[0] == 0xff) {
    *why = "not a unicast address (unspecified or multicast)";
    return CPNS_ERR_CONFIG;
  }
  return 0;
}

static void addr_text(uint8_t len, const uint8_t *addr, char *out, size_t outlen) {
  char buf[INET6_ADDRSTRLEN] = "?";
  inet_ntop(len == 4 ? AF_INET : AF_INET6, addr, buf, sizeof buf);
  snprintf(out, outlen, "%s", buf);
}

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Cuts the next blank-separated word of *p; NULL when none is left. */
static char *next_word(char **p) {
  char *s = *p;
  while (*s && is_blank(*s)) s++;
  if (!*s) {
    *p = s;
    return NULL;
  }
  char *w = s;
  while (*s && !is_blank(*s)) s++;
  if (*s) *s++ = '\0';
  *p = s;
  return w;
}

void cpns_trustlink_free(struct cpns_trustlink *t) {
  if (!t) return;
  free(t->entries);
  free(t);
}

size_t cpns_trustlink_count(const struct cpns_trustlink *t) { return t ? t->count : 0; }

int cpns_trustlink_parse(const char *name, const char *text, size_t len, size_t max_lines,
                         struct cpns_trustlink **out, char *err, size_t errlen) {
  struct cpns_trustlink *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "%s: out of memory", name);
    return CPNS_ERR_NOMEM;
  }
  size_t cap = 0;
  unsigned lineno = 0;
  int rc = 0;
  for (size_t off = 0; off < len && !rc;) {
    const char *start = text + off;
    const char *nl = memchr(start, '\n', len - off);
    size_t n = nl ? (size_t)(nl - start) : len - off;
    off += n + (nl ? 1 : 0);
    if (++lineno > max_lines) {
      snprintf(err, errlen, "%s:%u: more than %zu lines", name, lineno, max_lines);
      rc = CPNS_ERR_LIMIT;
      break;
    }
    if (n > CPNS_TRUSTLINK_LINE_MAX) {
      snprintf(err, errlen, "%s:%u: line longer than %d bytes", name, lineno,
               CPNS_TRUSTLINK_LINE_MAX);
      rc = CPNS_ERR_CONFIG;
      break;
    }
    if (memchr(start, '\0', n)) {
      snprintf(err, errlen, "%s:%u: NUL byte", name, lineno);
      rc = CPNS_ERR_CONFIG;
      break;
    }
    char line[CPNS_TRUSTLINK_LINE_MAX + 1];
    memcpy(line, start, n);
    line[n] = '\0';
    line[strcspn(line, "#")] = '\0';
    char *p = line;
    char *addr = next_word(&p), *id = next_word(&p), *extra = next_word(&p);
    if (!addr) continue; /* blank or comment */
    if (!id || extra) {
      snprintf(err, errlen, "%s:%u: expected 'address identity'", name, lineno);
      rc = CPNS_ERR_CONFIG;
      break;
    }
    struct trust_entry e;
    memset(&e, 0, sizeof e);
    const char *why = NULL;
    if (strlen(addr) > TRUSTLINK_ADDR_TEXT_MAX || parse_addr(addr, &e.len, e.addr, &why)) {
      /* Quoted no longer than a valid address can be. */
      snprintf(err, errlen, "%s:%u: bad address '%.*s': %s", name, lineno,
               TRUSTLINK_ADDR_TEXT_MAX, addr, why ? why : "too long");
      rc = CPNS_ERR_CONFIG;
      break;
    }
    if (!cpns_valid_id(id)) {
      snprintf(err, errlen, "%s:%u: bad identity ([A-Za-z0-9._-], 1..%d)", name, lineno,
               CPNS_ID_MAX);
      rc = CPNS_ERR_CONFIG;
      break;
    }
    memcpy(e.identity, id, strlen(id) + 1);
    e.line = lineno;
    if (t->count == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      struct trust_entry *ne = realloc(t->entries, ncap * sizeof *ne);
      if (!ne) {
        snprintf(err, errlen, "%s: out of memory", name);
        rc = CPNS_ERR_NOMEM;
        break;
      }
      t->entries = ne;
      cap = ncap;
    }
    t->entries[t->count++] = e;
  }
  if (!rc && t->count > 1) {
    qsort(t->entries, t->count, sizeof *t->entries, cmp_entry);
    for (size_t i = 1; i < t->count; i++) {
      const struct trust_entry *a = &t->entries[i - 1], *b = &t->entries[i];
      if (cmp_addr(a->len, a->addr, b->len, b->addr) == 0) {
        char txt[INET6_ADDRSTRLEN];
        addr_text(b->len, b->addr, txt, sizeof txt);
        snprintf(err, errlen, "%s:%u: address %s listed twice (first on line %u)", name, b->line,
                 txt, a->line);
        rc = CPNS_ERR_CONFIG;
        break;
      }
    }
  }
  if (rc) {
    cpns_trustlink_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

int cpns_trustlink_load(const char *path, size_t max_lines, struct cpns_trustlink **out,
                        char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return CPNS_ERR_IO;
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    snprintf(err, errlen, "%s: not a regular file", path);
    fclose(f);
    return CPNS_ERR_IO;
  }
  if (sb.st_mode & 022) {
    snprintf(err, errlen, "%s: mode %03o lets others change who is trusted; chmod go-w it", path,
             (unsigned)(sb.st_mode & 0777));
    fclose(f);
    return CPNS_ERR_DENIED;
  }
  /* Every line at its longest, with its newline: nothing valid is larger. */
  size_t bound = max_lines > (SIZE_MAX - 1) / (CPNS_TRUSTLINK_LINE_MAX + 1)
                     ? SIZE_MAX - 1
                     : max_lines * (CPNS_TRUSTLINK_LINE_MAX + 1);
  if ((uintmax_t)sb.st_size > (uintmax_t)bound) {
    snprintf(err, errlen, "%s: larger than %zu lines of %d bytes (trusted_peers_max)", path,
             max_lines, CPNS_TRUSTLINK_LINE_MAX);
    fclose(f);
    return CPNS_ERR_LIMIT;
  }
  size_t size = (size_t)sb.st_size;
  char *buf = malloc(size + 1);
  if (!buf) {
    fclose(f);
    snprintf(err, errlen, "%s: out of memory", path);
    return CPNS_ERR_NOMEM;
  }
  /* One byte more than announced: a file that grew meanwhile is refused. */
  size_t got = fread(buf, 1, size + 1, f);
  int rc = 0;
  if (ferror(f)) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    rc = CPNS_ERR_IO;
  } else if (got > size) {
    snprintf(err, errlen, "%s: changed while being read", path);
    rc = CPNS_ERR_IO;
  }
  fclose(f);
  if (!rc) rc = cpns_trustlink_parse(path, buf, got, max_lines, out, err, errlen);
  free(buf);
  return rc;
}

const char *cpns_trustlink_find(const struct cpns_trustlink *t, const struct sockaddr *sa) {
  if (!t || !sa) return NULL;
  uint8_t len, addr[16];
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    len = 4;
    memcpy(addr, &s4->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    if (memcmp(s6->sin6_addr.s6_addr, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
      len = 4;
      memcpy(addr, s6->sin6_addr.s6_addr + 12, 4);
    } else {
      len = 16;
      memcpy(addr, s6->sin6_addr.s6_addr, 16);
    }
  } else {
    return NULL;
  }
  size_t lo = 0, hi = t->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const struct trust_entry *e = &t->entries[mid];
    int c = cmp_addr(e->len, e->addr, len, addr);
    if (c == 0) return e->identity;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}
