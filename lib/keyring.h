/* SPDX-License-Identifier: Apache-2.0 */
/* The keyring: identities an entity accepts on its DTLS-PSK listener, each
 * with its role, its PN and its Entity-User Key. Loaded from a file readable
 * by the daemon's user alone, one entry a line:
 *
 *     # identity  role      pn     key (64 hex digits = 256 bits)
 *     gw-home     gw        home   9f0c...
 *     phone       pne       home   41aa...
 *     admin       operator  -      77b2...
 *
 * Roles: operator, server, gw, pne, app (a local application on CPNS-5);
 * enrollee and external are given at run time, never by a file.
 * The identity of a DTLS session is what authorization is keyed on. */
#ifndef CPNS_KEYRING_H
#define CPNS_KEYRING_H

#include <cpns/cpns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPNS_KEYRING_MAX_DEFAULT 200000 /* entries; configurable per daemon */

enum cpns_peer_role {
  CPNS_PEER_NONE = 0, /* unauthenticated (plain CoAP) */
  CPNS_PEER_OPERATOR,
  CPNS_PEER_SERVER,
  CPNS_PEER_GW,
  CPNS_PEER_PNE,
  CPNS_PEER_APP,
  CPNS_PEER_ENROLLEE, /* "enroll.<id>": proved an enrollment code; never in a file */
  CPNS_PEER_EXTERNAL, /* "ext.<name>": a CPNS-4 bearer token's holder; never in a file */
};

struct cpns_key_entry {
  char identity[CPNS_ID_MAX + 1];
  char pn[CPNS_ID_MAX + 1]; /* "" when none */
  enum cpns_peer_role role;
  uint8_t key[CPNS_PSK_LEN];
};

struct cpns_keyring; /* sorted by identity; lookups are O(log n) */

const char *cpns_peer_role_name(enum cpns_peer_role r);
int cpns_peer_role_parse(const char *name); /* -1 when unknown */

/* Loads path. Refuses a file that others may read or write (mode & 077),
 * malformed lines, duplicate identities and more than max_entries. The
 * reason, with the line number and never a key, goes to err. */
int cpns_keyring_load(const char *path, size_t max_entries, struct cpns_keyring **out,
                      char *err, size_t errlen);
void cpns_keyring_free(struct cpns_keyring *kr);
/* Borrowed from kr; NULL when unknown. */
const struct cpns_key_entry *cpns_keyring_find(const struct cpns_keyring *kr, const char *identity,
                                               size_t identity_len);
size_t cpns_keyring_count(const struct cpns_keyring *kr);

/* Parses 64 hex digits into 32 bytes. */
int cpns_key_from_hex(const char *hex, uint8_t key[CPNS_PSK_LEN]);
/* Writes 64 hex digits and a NUL into hex[65]. */
void cpns_key_to_hex(const uint8_t key[CPNS_PSK_LEN], char hex[2 * CPNS_PSK_LEN + 1]);
/* A fresh random key from OpenSSL's CSPRNG. */
int cpns_key_generate(uint8_t key[CPNS_PSK_LEN]);
/* Reads a key file holding one line of 64 hex digits (mode must be 0600 or
 * stricter). */
int cpns_key_read_file(const char *path, uint8_t key[CPNS_PSK_LEN], char *err, size_t errlen);

#endif
