/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the decoders of lib/discovery.c. The first byte gives the
 * length of the expected token (its value mod 9), the next that many bytes
 * are the token, and the rest is a datagram: it goes through
 * cpns_coap_parse_response() and, when accepted, its payload through
 * cpns_linkformat_find_entity(); the datagram is also parsed as link-format
 * by itself, so seeds may be plain payloads. Whatever is accepted must keep
 * the promises of discovery.h (payload inside the datagram, a valid id and
 * pn, a role, a port, only documented error codes); a broken one aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/cpns.h>

#include "discovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_id(const char *s, size_t max, int may_be_empty) {
  size_t n = strnlen(s, max + 1);
  if (n > max || (n == 0 && !may_be_empty)) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

static int contains(const char *hay, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; n <= len && i <= len - n; i++)
    if (memcmp(hay + i, needle, n) == 0) return 1;
  return 0;
}

static void check_linkformat(const char *p, size_t len) {
  struct cpns_discovered e;
  memset(&e, 0xa5, sizeof e);
  int rc = cpns_linkformat_find_entity(p, len, &e);
  if (rc == CPNS_ERR_NOTFOUND || rc == CPNS_ERR_INVAL) return;
  if (rc != 0) abort();
  if (!valid_id(e.id, CPNS_ID_MAX, 0) || !valid_id(e.pn, CPNS_ID_MAX, 1)) abort();
  if (e.roles == 0 || (e.roles & ~(unsigned)(CPNS_ROLE_GW | CPNS_ROLE_PNE))) abort();
  if ((e.port == 0 && (e.roles & CPNS_ROLE_GW)) || e.host[0] != '\0' || e.first_seen || e.last_seen) abort();
  /* The id was copied, not made up: it is in the bytes looked at. */
  size_t seen = len < CPNS_LINKFORMAT_MAX_BYTES ? len : CPNS_LINKFORMAT_MAX_BYTES;
  if (!contains(p, seen, e.id)) abort();
  if (e.pn[0] && !contains(p, seen, e.pn)) abort();
  /* Nothing depends on bytes past the bound or on hidden state. */
  struct cpns_discovered again;
  if (cpns_linkformat_find_entity(p, seen, &again) != 0) abort();
  if (strcmp(again.id, e.id) != 0 || strcmp(again.pn, e.pn) != 0 || again.roles != e.roles ||
      again.port != e.port)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t tkl = data[0] % 9;
  if (size < 1 + tkl) return 0;
  const uint8_t *token = data + 1;
  /* A heap copy of exactly the datagram, so that ASan sees overreads. */
  size_t len = size - 1 - tkl;
  uint8_t *msg = malloc(len ? len : 1);
  if (!msg) return 0;
  memcpy(msg, data + 1 + tkl, len);

  const uint8_t *payload = (const uint8_t *)&payload;
  size_t plen = 12345;
  int rc = cpns_coap_parse_response(msg, len, token, tkl, &payload, &plen);
  if (rc == 0) {
    if (payload) {
      if (plen == 0 || payload < msg || payload + plen != msg + len) abort();
      check_linkformat((const char *)payload, plen);
    } else if (plen != 0) {
      abort();
    }
  } else {
    if (rc != CPNS_ERR_INVAL && rc != CPNS_ERR_NOTFOUND && rc != CPNS_ERR_PROTO) abort();
    if (payload || plen) abort();
  }
  check_linkformat((const char *)msg, len);
  free(msg);
  return 0;
}
