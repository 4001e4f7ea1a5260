/* SPDX-License-Identifier: Apache-2.0 */
/* CPNS-8 entity discovery, client side. Every CPNS entity (gateway, PNE)
 * answers CoAP GET /.well-known/core on its plain discovery port, which has
 * joined All-CoAP-Nodes (224.0.1.187, ff02::fd), with a link such as
 *
 *     </cpns/v1/entity>;rt="cpns.gw cpns.pne";ep="gw-home";pn="home";sp=5684
 *
 * This module finds them: it owns one non-blocking UDP socket, writes the
 * RFC 7252 request itself (no libcoap, so that it fits any event loop and
 * the decoders can be fuzzed alone), sends it to the multicast group(s) and
 * to unicast targets, and keeps a bounded table of the entities that
 * answered, keyed by entity id. A search round is one random token; answers
 * carrying any other token (late answers to an earlier round, strangers) are
 * dropped.
 *
 * What is learned here is a hint, not a fact: anyone on the link can answer
 * with any id. Trust comes only from the DTLS-PSK handshake made afterwards
 * with the host and secure port found here.
 *
 * Nothing here is thread-safe; one thread owns a cpns_discovery. */
#ifndef CPNS_DISCOVERY_H
#define CPNS_DISCOVERY_H

#include <cpns/cpns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPNS_DISCOVERY_GROUP4 "224.0.1.187" /* All-CoAP-Nodes, RFC 7252 §12.8 */
#define CPNS_DISCOVERY_GROUP6 "ff02::fd"    /* All-CoAP-Nodes, link-local scope */
#define CPNS_DISCOVERY_PORT 5683
#define CPNS_DISCOVERY_MAX_ENTRIES_DEFAULT 256
#define CPNS_DISCOVERY_MAX_ENTRIES_CAP 65536 /* larger max_entries is a config error */
#define CPNS_DISCOVERY_MAX_AGE_DEFAULT 300   /* seconds */
#define CPNS_DISCOVERY_RT_MAX 64             /* bytes of an rt filter */
#define CPNS_DISCOVERY_READ_BATCH 64         /* datagrams per cpns_discovery_read() */
#define CPNS_DISCOVERY_HOST_MAX 64           /* bytes of a numeric host with NUL */

/* Bounds of the link-format parser (RFC 6690). */
#define CPNS_LINKFORMAT_MAX_BYTES 4096 /* bytes of a payload looked at */
#define CPNS_LINKFORMAT_MAX_LINKS 32   /* links looked at */
#define CPNS_LINKFORMAT_MAX_ATTRS 16   /* attributes in any one link */

/* The path of the link an entity publishes its identity on. */
#define CPNS_DISCOVERY_ENTITY_URI "/cpns/v1/entity"

/** One entity that answered. */
struct cpns_discovered {
  char id[CPNS_ID_MAX + 1]; /**< its entity id (the ep attribute) */
  char pn[CPNS_ID_MAX + 1]; /**< its PN id (pn), "" if absent */
  unsigned roles;           /**< CPNS_ROLE_PNE | CPNS_ROLE_GW, from rt cpns.pne / cpns.gw */
  /** Numeric source address of the answer: "10.0.0.2", "fe80::1%eth0" (an
   * IPv6 address without brackets, with its scope for link-local ones). An
   * IPv4 answer received on the dual-stack socket is shown as plain IPv4. */
  char host[CPNS_DISCOVERY_HOST_MAX];
  uint16_t port;                 /**< the sp attribute: its secure (DTLS) port on host */
  int64_t first_seen, last_seen; /**< unix seconds */
};

struct cpns_discovery;

struct cpns_discovery_config {
  uint16_t port;       /**< destination port of searches; 0 = 5683 */
  const char *ifname;  /**< interface for multicast sends; NULL or "" = the routing default */
  bool ipv6;           /**< also search ff02::fd (needs ifname); the socket is then dual-stack */
  size_t max_entries;  /**< bound of the table; 0 = 256; at most 65536 */
  long max_age;        /**< seconds; older entries go at cpns_discovery_expire(); <= 0 = 300 */
  const char *self_id; /**< our own entity id, ignored in answers (copied); NULL = none */
};

/** Opens the socket (bound to an ephemeral port on any address) and sets it
 * up for multicast: TTL/hop limit 1, loopback on (entities on this host must
 * hear us), the interface named by ifname. cfg may be NULL for defaults and
 * is not kept. Returns 0 and *out (free with cpns_discovery_free()),
 * CPNS_ERR_CONFIG (unknown interface, ipv6 without ifname, max_entries too
 * large, self_id not an id), CPNS_ERR_IO (socket), CPNS_ERR_NOMEM. */
int cpns_discovery_new(const struct cpns_discovery_config *cfg, struct cpns_discovery **out);

/** Closes the socket and frees the table. NULL does nothing. */
void cpns_discovery_free(struct cpns_discovery *d);

/** The socket, to watch for input in the caller's (level-triggered) loop;
 * call cpns_discovery_read() when it is readable. Owned by d. */
int cpns_discovery_fd(const struct cpns_discovery *d);

/** Starts a search round: a new random token and message id, and one NON
 * GET /.well-known/core?rt=<rt_filter> sent to 224.0.1.187 (and ff02::fd with
 * ipv6) on the configured port. rt_filter is 1..64 characters of
 * [A-Za-z0-9._-], optionally ending in '*' (a prefix match, RFC 6690 §4.1),
 * e.g. "cpns.*" or "cpns.gw"; NULL or "" asks for every link. Answers to
 * earlier rounds are dropped from now on.
 *
 * A failed multicast send does not fail the call: machines without a
 * multicast route are common, and unicast targets may still be asked in this
 * round with cpns_discovery_search_unicast(). The first failure (and each
 * change of its cause) is logged as a warning, the recovery as info.
 * Returns 0, CPNS_ERR_INVAL (bad filter), CPNS_ERR_CRYPTO (no randomness). */
int cpns_discovery_search(struct cpns_discovery *d, const char *rt_filter);

/** Sends the current round's request also to one unicast target, for
 * networks without multicast. hostport is a numeric address with an
 * optional port: "10.0.0.2:5683", "10.0.0.2", "[fe80::1%eth0]:5683",
 * "fe80::1%eth0"; without a port the configured one is used. Names are not
 * resolved (that would block the caller's loop). An IPv6 target needs
 * cfg.ipv6. Returns 0, CPNS_ERR_INVAL (no round started yet, a malformed or
 * unusable target), CPNS_ERR_IO (the send failed; logged). */
int cpns_discovery_search_unicast(struct cpns_discovery *d, const char *hostport);

/** Reads the pending datagrams, at most CPNS_DISCOVERY_READ_BATCH per call
 * (the fd stays readable if more are queued), parses them and updates the
 * table. Malformed datagrams, answers to other rounds, answers that are not
 * 2.05 link-format or carry no valid entity link, and our own answer
 * (self_id) are dropped (logged, rate-limited). A CON answer is
 * acknowledged. Returns the number of entities added to the table (updates
 * of known ids do not count), or CPNS_ERR_IO when the socket failed before
 * anything was added. */
int cpns_discovery_read(struct cpns_discovery *d);

/** Drops the entries whose last answer is more than max_age seconds older
 * than now (unix seconds). */
void cpns_discovery_expire(struct cpns_discovery *d, int64_t now);

/** Calls cb for each entry in id order (bytewise), with a pointer valid only
 * during the call; cb must not change d. Stops when cb returns non-zero and
 * returns that value; returns 0 when every entry was visited. */
int cpns_discovery_foreach(const struct cpns_discovery *d,
                           int (*cb)(void *arg, const struct cpns_discovered *e), void *arg);

/** Number of entries in the table. */
size_t cpns_discovery_count(const struct cpns_discovery *d);

/* ---- pure parsers, exposed for tests and fuzzing ---- */

/** Checks that buf is a well-formed CoAP message (RFC 7252 §3) answering our
 * request: a 2.05 (Content) response of type CON, NON or ACK whose token is
 * token[0..token_len), with Content-Format 40 (link-format) or none, no
 * unrecognised critical option (§5.4.1) and, if Block2 is present, block 0.
 * On 0, *payload points into buf (NULL if there is none) for *payload_len
 * bytes. Returns CPNS_ERR_INVAL (malformed: bad version, token length > 8,
 * truncated header, token or option, option nibble 15, option number past
 * 65535, a repeated or over-long Content-Format or Block2, payload marker
 * without payload), CPNS_ERR_NOTFOUND (well-formed but not an answer to this
 * token: another token, a request, an empty or reset message) or
 * CPNS_ERR_PROTO (our answer, but not a usable one: another code, another
 * content format, a critical option we do not know, a later block). */
int cpns_coap_parse_response(const uint8_t *buf, size_t len, const uint8_t *token,
                             size_t token_len, const uint8_t **payload, size_t *payload_len);

/** Finds the first </cpns/v1/entity> link in an RFC 6690 payload and fills
 * out->id (ep), out->pn (pn, "" if absent), out->roles (rt) and out->port
 * (sp); the other fields of *out are zeroed. out is written only on success.
 *
 * Grammar: links separated by ','; each is <uri> then ;name, ;name=token or
 * ;name="quoted string" (which may hold ',' and ';', and \-escapes);
 * attribute names compare case-insensitively; whitespace between items is
 * tolerated. Only the first 4096 bytes are looked at: past that, the link
 * that crosses the bound is ignored as possibly cut. Only the first 32 links
 * are looked at; the links before the entity link must be well-formed.
 * The entity link needs rt with cpns.gw and/or cpns.pne among its
 * space-separated words (others are ignored), ep, and sp in 1..65535; pn is
 * optional; ep and pn are 1..64 characters of [A-Za-z0-9._-]; none of these
 * may appear twice. Other attributes are ignored.
 *
 * Returns 0, CPNS_ERR_NOTFOUND (no entity link among those looked at) or
 * CPNS_ERR_INVAL (malformed payload, more than 16 attributes in a link, or
 * an entity link with a missing, repeated or invalid attribute). */
int cpns_linkformat_find_entity(const char *payload, size_t len, struct cpns_discovered *out);

/* ---- internal, for tests ---- */

/** Adds or updates e (by id) in the table as seen at now, exactly as an
 * answer does: a known id gets pn, roles, host, port and last_seen; a new one
 * evicts the entry with the oldest last_seen when the table is full. Returns
 * 1 when added, 0 when updated, CPNS_ERR_INVAL. */
int discovery__update(struct cpns_discovery *d, const struct cpns_discovered *e, int64_t now);

#endif
