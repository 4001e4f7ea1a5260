/* SPDX-License-Identifier: Apache-2.0 */
/* A bounded table of keyring entries (identity -> role, PN, key) that
 * changes at run time: the credentials a server issued, or the PNE keys a
 * gateway obtained from its server. Entries live at stable addresses until
 * the cache is freed, so a pointer handed to a request stays valid even if
 * the entry is revoked meanwhile (it is then only skipped by lookups). */
#ifndef CPNS_KEYCACHE_H
#define CPNS_KEYCACHE_H

#include "keyring.h"

struct cpns_keycache;

struct cpns_keycache *cpns_keycache_new(size_t max_entries);
void cpns_keycache_free(struct cpns_keycache *kc); /* wipes every key */
/* Inserts or replaces. CPNS_ERR_LIMIT when full of live entries. */
int cpns_keycache_put(struct cpns_keycache *kc, const struct cpns_key_entry *e);
/* Borrowed; NULL when absent or removed. identity need not be NUL-terminated. */
const struct cpns_key_entry *cpns_keycache_get(const struct cpns_keycache *kc, const char *identity,
                                               size_t len);
/* Forgets the entry (its key is wiped). CPNS_ERR_NOTFOUND when absent. */
int cpns_keycache_remove(struct cpns_keycache *kc, const char *identity);
size_t cpns_keycache_count(const struct cpns_keycache *kc);

#endif
