/* SPDX-License-Identifier: Apache-2.0 */
/* The peers of a trusted link (spec Appendix D): a listener that runs plain
 * CoAP because its underlying network (WPA2 WiFi, a paired Bluetooth link, an
 * IPsec tunnel of a secure WAN) already authenticates who may send on it. The
 * peer is then known by its source address, and this table maps each address
 * to an identity of the keyring, which gives role and PN. Loaded from a file,
 * one entry a line:
 *
 *     # address       identity
 *     192.0.2.10      gw-home
 *     2001:db8::7     gw-office
 *
 * Addresses are IPv4 or IPv6 literals (no names, no brackets, no ports, no
 * zones); an identity may appear on several lines, an address only once. The
 * table never holds keys. */
#ifndef CPNS_TRUSTLINK_H
#define CPNS_TRUSTLINK_H

#include <stddef.h>
#include <sys/socket.h>

#define CPNS_TRUSTLINK_LINE_MAX 255         /* bytes of one line, without its '\n' */
#define CPNS_TRUSTED_PEERS_MAX_DEFAULT 1024 /* lines of the file; configurable per daemon */

struct cpns_trustlink; /* sorted by address; lookups are O(log n) */

/* Parses the text of a trusted-peers file (len bytes, not NUL-terminated;
 * name is used in messages). Refuses more than max_lines lines (comments and
 * blank lines count), a line longer than CPNS_TRUSTLINK_LINE_MAX bytes, a NUL
 * byte, an address that is not a unicast IPv4 or IPv6 literal, an identity
 * that is not an id, a missing or extra field and an address listed twice:
 * err gets "name:line: why". Returns 0 and a table in *out (free with
 * cpns_trustlink_free()), or CPNS_ERR_CONFIG, CPNS_ERR_LIMIT or
 * CPNS_ERR_NOMEM with *out untouched. */
int cpns_trustlink_parse(const char *name, const char *text, size_t len, size_t max_lines,
                         struct cpns_trustlink **out, char *err, size_t errlen);
/* Reads path and parses it as above. Refuses a file that others may write
 * (mode & 022: it decides who is authenticated: CPNS_ERR_DENIED), one larger
 * than max_lines full lines (CPNS_ERR_LIMIT) and one that cannot be read
 * (CPNS_ERR_IO). */
int cpns_trustlink_load(const char *path, size_t max_lines, struct cpns_trustlink **out,
                        char *err, size_t errlen);
void cpns_trustlink_free(struct cpns_trustlink *t);
size_t cpns_trustlink_count(const struct cpns_trustlink *t);
/* The identity listed for the source address sa (AF_INET or AF_INET6; an
 * IPv4-mapped IPv6 address is looked up as IPv4), or NULL. Borrowed from t;
 * t may be NULL. */
const char *cpns_trustlink_find(const struct cpns_trustlink *t, const struct sockaddr *sa);

#endif
