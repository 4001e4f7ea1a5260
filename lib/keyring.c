/* SPDX-License-Identifier: Apache-2.0 */
/* Keyring file parser and lookup (see keyring.h). */
#include "keyring.h"

#include "msg.h"
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KEYRING_LINE_MAX 512

struct cpns_keyring {
  struct cpns_key_entry *entries;
  size_t count;
};

static const char *const role_names[] = {"none", "operator", "server",  "gw",
                                         "pne",  "app",      "enrollee", "external"};

const char *cpns_peer_role_name(enum cpns_peer_role r) {
  if ((unsigned)r >= sizeof role_names / sizeof role_names[0]) return "?";
  return role_names[r];
}

int cpns_peer_role_parse(const char *name) {
  /* Only the roles a keyring file may give; "none", "enrollee" and "external" never. */
  for (int i = CPNS_PEER_OPERATOR; i <= CPNS_PEER_APP; i++)
    if (strcmp(name, role_names[i]) == 0) return i;
  return -1;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int cpns_key_from_hex(const char *hex, uint8_t key[CPNS_PSK_LEN]) {
  if (strlen(hex) != 2 * CPNS_PSK_LEN) return CPNS_ERR_INVAL;
  for (size_t i = 0; i < CPNS_PSK_LEN; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return CPNS_ERR_INVAL;
    key[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

void cpns_key_to_hex(const uint8_t key[CPNS_PSK_LEN], char hex[2 * CPNS_PSK_LEN + 1]) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < CPNS_PSK_LEN; i++) {
    hex[2 * i] = digits[key[i] >> 4];
    hex[2 * i + 1] = digits[key[i] & 15];
  }
  hex[2 * CPNS_PSK_LEN] = '\0';
}

int cpns_key_generate(uint8_t key[CPNS_PSK_LEN]) {
  return RAND_bytes(key, CPNS_PSK_LEN) == 1 ? 0 : CPNS_ERR_CRYPTO;
}

/* Secrets must not be readable by anyone but the owner. */
static int check_private(FILE *f, const char *path, char *err, size_t errlen) {
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return CPNS_ERR_IO;
  }
  if (sb.st_mode & 077) {
    snprintf(err, errlen, "%s: mode %03o lets others read secrets; chmod 600 it", path,
             (unsigned)(sb.st_mode & 0777));
    return CPNS_ERR_DENIED;
  }
  return 0;
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const struct cpns_key_entry *)a)->identity,
                ((const struct cpns_key_entry *)b)->identity);
}

int cpns_keyring_load(const char *path, size_t max_entries, struct cpns_keyring **out, char *err,
                      size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return CPNS_ERR_IO;
  }
  int rc = check_private(f, path, err, errlen);
  if (rc) {
    fclose(f);
    return rc;
  }
  struct cpns_keyring *kr = calloc(1, sizeof *kr);
  size_t cap = 0;
  char line[KEYRING_LINE_MAX];
  unsigned lineno = 0;
  rc = kr ? 0 : CPNS_ERR_NOMEM;
  while (!rc && fgets(line, sizeof line, f)) {
    lineno++;
    if (!strchr(line, '\n') && !feof(f)) {
      snprintf(err, errlen, "%s:%u: line too long", path, lineno);
      rc = CPNS_ERR_CONFIG;
      break;
    }
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char id[CPNS_ID_MAX + 2], role[16], pn[CPNS_ID_MAX + 2], hex[2 * CPNS_PSK_LEN + 2], extra[2];
    int n = sscanf(line, "%65s %15s %65s %65s %1s", id, role, pn, hex, extra);
    if (n <= 0) continue; /* blank or comment */
    if (n != 4) {
      snprintf(err, errlen, "%s:%u: expected 'identity role pn key'", path, lineno);
      rc = CPNS_ERR_CONFIG;
      break;
    }
    struct cpns_key_entry e;
    memset(&e, 0, sizeof e);
    int r = cpns_peer_role_parse(role);
    if (!cpns_valid_id(id) || r < 0 || (strcmp(pn, "-") != 0 && !cpns_valid_id(pn)) ||
        cpns_key_from_hex(hex, e.key)) {
      snprintf(err, errlen, "%s:%u: bad identity, role, pn or key", path, lineno);
      rc = CPNS_ERR_CONFIG;
      break;
    }
    OPENSSL_cleanse(hex, sizeof hex);
    if (kr->count >= max_entries) {
      snprintf(err, errlen, "%s:%u: more than %zu entries", path, lineno, max_entries);
      rc = CPNS_ERR_LIMIT;
      break;
    }
    memcpy(e.identity, id, strlen(id) + 1);
    if (strcmp(pn, "-") != 0) memcpy(e.pn, pn, strlen(pn) + 1);
    e.role = (enum cpns_peer_role)r;
    if (kr->count == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      struct cpns_key_entry *ne = realloc(kr->entries, ncap * sizeof *ne);
      if (!ne) {
        rc = CPNS_ERR_NOMEM;
        break;
      }
      kr->entries = ne;
      cap = ncap;
    }
    kr->entries[kr->count++] = e;
  }
  OPENSSL_cleanse(line, sizeof line);
  fclose(f);
  if (!rc && kr->count > 1) {
    qsort(kr->entries, kr->count, sizeof *kr->entries, cmp_entry);
    for (size_t i = 1; i < kr->count; i++)
      if (strcmp(kr->entries[i - 1].identity, kr->entries[i].identity) == 0) {
        snprintf(err, errlen, "%s: identity '%s' appears twice", path, kr->entries[i].identity);
        rc = CPNS_ERR_CONFIG;
        break;
      }
  }
  if (rc) {
    cpns_keyring_free(kr);
    return rc;
  }
  *out = kr;
  return 0;
}

void cpns_keyring_free(struct cpns_keyring *kr) {
  if (!kr) return;
  if (kr->entries) OPENSSL_cleanse(kr->entries, kr->count * sizeof *kr->entries);
  free(kr->entries);
  free(kr);
}

const struct cpns_key_entry *cpns_keyring_find(const struct cpns_keyring *kr, const char *identity,
                                               size_t identity_len) {
  if (!kr || identity_len == 0 || identity_len > CPNS_ID_MAX) return NULL;
  /* A NUL inside the identity would make "ab\0c" match "ab". */
  if (memchr(identity, '\0', identity_len)) return NULL;
  size_t lo = 0, hi = kr->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *cand = kr->entries[mid].identity;
    int c = strncmp(cand, identity, identity_len);
    if (c == 0 && cand[identity_len] != '\0') c = 1;
    if (c == 0) return &kr->entries[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

size_t cpns_keyring_count(const struct cpns_keyring *kr) { return kr ? kr->count : 0; }

int cpns_key_read_file(const char *path, uint8_t key[CPNS_PSK_LEN], char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return CPNS_ERR_IO;
  }
  int rc = check_private(f, path, err, errlen);
  char buf[2 * CPNS_PSK_LEN + 8] = {0};
  if (!rc) {
    if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
    buf[strcspn(buf, " \t\r\n")] = '\0';
    if (cpns_key_from_hex(buf, key)) {
      snprintf(err, errlen, "%s: expected one line of 64 hex digits", path);
      rc = CPNS_ERR_CONFIG;
    }
  }
  OPENSSL_cleanse(buf, sizeof buf);
  fclose(f);
  return rc;
}
