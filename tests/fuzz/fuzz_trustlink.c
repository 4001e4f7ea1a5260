/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/trustlink.c, the trusted-peers table of a link whose
 * underlying network is declared secure (spec Appendix D). The input is the
 * text of a trusted-peers file, parsed with room for 64 lines. A refusal
 * must be clean (no table, a reason naming the file and a line, a documented
 * code). A table that loads must hold exactly the entries of the input's
 * lines, and each line's address, as an IPv4 or IPv6 socket address (and an
 * IPv4 one also as IPv4-mapped IPv6), must find that line's identity. Any
 * violation aborts. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/cpns.h>

#include "trustlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_LINES 64

static const char *find_v4(const struct cpns_trustlink *t, const uint8_t a[4], int mapped) {
  if (!mapped) {
    struct sockaddr_in s;
    memset(&s, 0, sizeof s);
    s.sin_family = AF_INET;
    memcpy(&s.sin_addr, a, 4);
    return cpns_trustlink_find(t, (const struct sockaddr *)&s);
  }
  struct sockaddr_in6 s;
  memset(&s, 0, sizeof s);
  s.sin6_family = AF_INET6;
  s.sin6_addr.s6_addr[10] = s.sin6_addr.s6_addr[11] = 0xff;
  memcpy(s.sin6_addr.s6_addr + 12, a, 4);
  return cpns_trustlink_find(t, (const struct sockaddr *)&s);
}

/* Checks the entry of one line (cut at '#'); returns 1 for an entry, 0 for
 * a blank line. */
static int check_line(const struct cpns_trustlink *t, char *line) {
  line[strcspn(line, "#")] = '\0';
  char addr[64], id[CPNS_ID_MAX + 2], extra[2];
  int n = sscanf(line, "%63s %65s %1s", addr, id, extra);
  if (n <= 0) return 0;
  if (n != 2) abort(); /* the parser should have refused this line */
  struct in_addr a4;
  struct in6_addr a6;
  const char *found = NULL;
  if (inet_pton(AF_INET, addr, &a4) == 1) {
    found = find_v4(t, (const uint8_t *)&a4, 0);
    if (!found || found != find_v4(t, (const uint8_t *)&a4, 1)) abort();
  } else if (inet_pton(AF_INET6, addr, &a6) == 1) {
    struct sockaddr_in6 s;
    memset(&s, 0, sizeof s);
    s.sin6_family = AF_INET6;
    s.sin6_addr = a6;
    found = cpns_trustlink_find(t, (const struct sockaddr *)&s);
  } else {
    abort(); /* accepted an address that is not a literal */
  }
  if (!found || strcmp(found, id) != 0) abort();
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct cpns_trustlink *t = NULL;
  char err[512] = "";
  int rc = cpns_trustlink_parse("fuzz", (const char *)data, size, FUZZ_MAX_LINES, &t, err,
                                sizeof err);
  if (rc) {
    if (t || strncmp(err, "fuzz:", 5) != 0) abort();
    if (rc != CPNS_ERR_CONFIG && rc != CPNS_ERR_LIMIT && rc != CPNS_ERR_NOMEM) abort();
    return 0;
  }
  if (!t || cpns_trustlink_count(t) > FUZZ_MAX_LINES) abort();
  size_t entries = 0, lines = 0;
  char line[CPNS_TRUSTLINK_LINE_MAX + 1];
  for (size_t off = 0; off < size;) {
    const uint8_t *nl = memchr(data + off, '\n', size - off);
    size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
    if (len > CPNS_TRUSTLINK_LINE_MAX) abort(); /* the parser refuses lines this long */
    if (memchr(data + off, '\0', len)) abort(); /* and NUL bytes */
    memcpy(line, data + off, len);
    line[len] = '\0';
    entries += (size_t)check_line(t, line);
    lines++;
    off += len + (nl ? 1 : 0);
  }
  if (lines > FUZZ_MAX_LINES || entries != cpns_trustlink_count(t)) abort();
  cpns_trustlink_free(t);
  return 0;
}
