/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/keyring.c. The input is a keyring file: it is written
 * with mode 0600 to /tmp/cpns-fuzz-keyring-<pid> and loaded with room for 64
 * entries. A refusal must be clean (no keyring, a reason, a documented
 * code). A keyring that loads must hold exactly the entries of the file's
 * lines, and each must be found by its identity, also from a buffer that is
 * not NUL-terminated, with the role, PN and key of its line; a name one byte
 * longer or shorter must not find it. Any violation aborts. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpns/cpns.h>

#include "keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ENTRIES 64

/* Checks the entry of one line (its text up to '\n', cut at a NUL and at
 * '#', as the loader sees it); returns 1 for an entry, 0 for a blank line. */
static int check_line(const struct cpns_keyring *kr, const char *line) {
  char id[CPNS_ID_MAX + 2], role[16], pn[CPNS_ID_MAX + 2], hex[2 * CPNS_PSK_LEN + 2], extra[2];
  int n = sscanf(line, "%65s %15s %65s %65s %1s", id, role, pn, hex, extra);
  if (n <= 0) return 0;
  if (n != 4) abort(); /* the loader should have refused this line */
  size_t len = strlen(id);
  /* a heap copy without NUL, so that ASan sees any read past len */
  char *copy = malloc(len + 1);
  if (!copy) abort();
  memcpy(copy, id, len);
  const struct cpns_key_entry *e = cpns_keyring_find(kr, copy, len);
  if (!e || strcmp(e->identity, id) != 0) abort();
  if ((int)e->role != cpns_peer_role_parse(role)) abort();
  if (strcmp(e->pn, strcmp(pn, "-") == 0 ? "" : pn) != 0) abort();
  uint8_t key[CPNS_PSK_LEN];
  if (cpns_key_from_hex(hex, key) || memcmp(key, e->key, CPNS_PSK_LEN) != 0) abort();
  /* a prefix is another identity, or none */
  const struct cpns_key_entry *p = cpns_keyring_find(kr, copy, len - 1);
  if (p && (strlen(p->identity) != len - 1 || memcmp(p->identity, id, len - 1) != 0)) abort();
  free(copy);
  /* and so is an extension */
  if (len < CPNS_ID_MAX) {
    char longer[CPNS_ID_MAX + 1];
    memcpy(longer, id, len);
    longer[len] = '.';
    p = cpns_keyring_find(kr, longer, len + 1);
    if (p && (strlen(p->identity) != len + 1 || memcmp(p->identity, longer, len + 1) != 0))
      abort();
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/cpns-fuzz-keyring-%ld", (long)getpid());
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) abort();
  if (fchmod(fd, 0600) != 0) abort();
  for (size_t off = 0; off < size;) {
    ssize_t w = write(fd, data + off, size - off);
    if (w <= 0) abort();
    off += (size_t)w;
  }
  close(fd);

  struct cpns_keyring *kr = NULL;
  char err[256] = "";
  int rc = cpns_keyring_load(path, FUZZ_MAX_ENTRIES, &kr, err, sizeof err);
  unlink(path);
  if (rc) {
    if (kr || err[0] == '\0') abort();
    if (rc != CPNS_ERR_CONFIG && rc != CPNS_ERR_LIMIT && rc != CPNS_ERR_NOMEM) abort();
    return 0;
  }
  if (!kr || cpns_keyring_count(kr) > FUZZ_MAX_ENTRIES) abort();

  /* every line, as the loader reads it */
  size_t entries = 0;
  char line[600];
  for (size_t off = 0; off < size;) {
    const uint8_t *nl = memchr(data + off, '\n', size - off);
    size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
    if (len >= sizeof line) abort(); /* the loader refuses lines this long */
    memcpy(line, data + off, len);
    line[len] = '\0';
    line[strcspn(line, "#")] = '\0';
    entries += (size_t)check_line(kr, line);
    off += len + (nl ? 1 : 0);
  }
  if (entries != cpns_keyring_count(kr)) abort();
  if (cpns_keyring_find(kr, "", 0)) abort();
  cpns_keyring_free(kr);
  return 0;
}
