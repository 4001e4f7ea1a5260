/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file groups.h
 * @brief Service Groups and Group Keys (spec 5.5.9, 5.5.7.2) for applications:
 * create a group, invite, join, leave and expel members, read it, fetch its
 * current Group Key, and seal and open content shared in the group.
 *
 * The calls that take a cpns_client_t are synchronous requests on that
 * client (see client.h: one answer awaited, at most the client's timeout; a
 * client is not thread-safe). The resources are described in
 * docs/protocol.md, "Service Groups and Group Keys"; who may call what in
 * docs/security.md §3. Through a PNE (CPNS-5) an application acts as its
 * PNE, so the member it names is the PNE's id.
 *
 * Errors: every int-returning function returns 0 or a negative cpns_err.
 *   - CPNS_ERR_INVAL for an invalid argument (a NULL pointer, an id that is
 *     not 1..64 bytes of [A-Za-z0-9._-]): nothing is sent, and
 *     cpns_client_error() and cpns_client_status() still tell the call before.
 *   - The peer's refusal as mapped by client.h (CPNS_ERR_DENIED for 4.03,
 *     CPNS_ERR_NOTFOUND for 4.04, CPNS_ERR_EXISTS for 4.09, CPNS_ERR_UNAVAIL
 *     for 5.03...): cpns_client_status() gives the CoAP code as a number
 *     (403) and cpns_client_error() the peer's diagnostic.
 *   - CPNS_ERR_PROTO when a successful answer is malformed (a member of the
 *     wrong type, out of range or too long, a key for another group): then
 *     cpns_client_status() is the answer's 2.xx code and nothing is stored
 *     in the caller's out arguments. Answers are decoded strictly (types,
 *     ranges, lengths and the required members); members this library does
 *     not know are ignored, so that a newer peer may add some.
 *
 * Keys: a cpns_group_key_t holds a secret. It belongs to the caller, who
 * wipes it with cpns_group_key_cleanup() when done. The library wipes its own
 * copies (the answer text, decoded buffers, the derived content key); copies
 * inside the CoAP and JSON libraries it uses are not wiped, so keep clients
 * that fetch keys in processes you trust.
 *
 * @code
 *   cpns_group_key_t k;
 *   if (cpns_group_key_get(c, "fam", &k) == 0) {
 *     uint8_t *msg; size_t len;
 *     if (cpns_group_key_seal(&k, NULL, 0, (const uint8_t *)"hi", 2, &msg, &len) == 0) {
 *       send_to_the_others(msg, len);   // any transport: the message is sealed
 *       cpns_free(msg);
 *     }
 *     cpns_group_key_cleanup(&k);
 *   }
 * @endcode
 */
#ifndef CPNS_CPNS_GROUPS_H
#define CPNS_CPNS_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cpns/client.h>
#include <cpns/cpns.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPNS_GROUP_KEY_LEN 32                  /**< bytes of a Group Key (AES-256) */
#define CPNS_GROUP_MEMBERS_MAX 4096            /**< members and invitations of one group */
#define CPNS_GROUP_CONTENT_MAX (1024u * 1024u) /**< largest plaintext to seal, bytes */
/** Bytes a sealed message adds to the plaintext, for a group id of n bytes:
 * a header (version, id length, id, epoch), a 12-byte nonce, a 16-byte tag. */
#define CPNS_GROUP_SEALED_OVERHEAD(n) ((size_t)2 + (size_t)(n) + 4 + 12 + 16)

/** One row of a group: a member or an invitee. Text fields are NUL-terminated. */
typedef struct cpns_group_member {
  char id[CPNS_ID_MAX + 1];
  char pn[CPNS_ID_MAX + 1]; /**< its PN; "" for an operator, or an invitee not yet bound to a PN */
  char state[16];           /**< "member" or "invited" (an invitee holds no key) */
} cpns_group_member_t;

/** A Service Group as its members, its owner and the operator see it. */
typedef struct cpns_group {
  char id[CPNS_ID_MAX + 1];
  char owner[CPNS_ID_MAX + 1]; /**< the identity that created it */
  char pn[CPNS_ID_MAX + 1];    /**< the owner's PN; "" for an operator */
  char scope[16];              /**< "here": the peer is the group's authority;
                                    "server": a gateway's replica of a server group */
  bool open;                   /**< anyone may join without an invitation */
  uint32_t epoch;              /**< of the current Group Key; +1 on every membership change */
  int64_t created;             /**< unix seconds */
  size_t count;                /**< rows in members */
  cpns_group_member_t *members;
} cpns_group_t;

/**
 * A Group Key of one epoch. The tag is cpns_group_key_s (as libuv's
 * uv_loop_s) because the library's private struct of the same role is named
 * cpns_group_key. Owned by the caller; holds a secret: wipe it with
 * cpns_group_key_cleanup().
 */
typedef struct cpns_group_key_s {
  char group[CPNS_ID_MAX + 1];     /**< group id, NUL-terminated */
  uint32_t epoch;                  /**< the key's version */
  int64_t expires;                 /**< unix seconds; 0 = no expiry */
  uint8_t key[CPNS_GROUP_KEY_LEN]; /**< the secret */
} cpns_group_key_t;

/**
 * Creates group id (POST groups); the caller becomes its owner and first
 * member, and the key starts at epoch 1. open lets anyone join without an
 * invitation. CPNS_ERR_EXISTS (4.09) when the id is taken, CPNS_ERR_UNAVAIL
 * (5.03) when the peer's group capacity is exhausted. id is borrowed for the
 * call.
 */
CPNS_EXPORT int cpns_group_create(cpns_client_t *c, const char *id, bool open);

/** Deletes group id with its members and its key (owner or operator).
 * CPNS_ERR_NOTFOUND when there is no such group. id is borrowed. */
CPNS_EXPORT int cpns_group_delete(cpns_client_t *c, const char *id);

/** Lets member join group id (owner only). CPNS_ERR_EXISTS when it is a
 * member already, CPNS_ERR_UNAVAIL when the group is full. Strings borrowed. */
CPNS_EXPORT int cpns_group_invite(cpns_client_t *c, const char *id, const char *member);

/** Joins group id as member, which must be the caller's own identity (an
 * application through its PNE: the PNE's id), invited or the group open.
 * The key is rotated (epoch + 1) unless member had joined already.
 * CPNS_ERR_DENIED (4.03) without an invitation. Strings borrowed. */
CPNS_EXPORT int cpns_group_join(cpns_client_t *c, const char *id, const char *member);

/**
 * Removes member from group id: DELETE groups/{id}/members/{member}.
 * cpns_group_leave() and cpns_group_expel() send the very same request; the
 * peer decides by who asks. When member is the caller itself it leaves;
 * otherwise the caller must be the owner or an operator and expels member,
 * and it is refused the key from then on. Either way the key is rotated, so
 * that member cannot open what is sealed afterwards (withdrawing an
 * invitation rotates nothing). CPNS_ERR_NOTFOUND when member is not listed,
 * CPNS_ERR_DENIED when the caller may not remove it. Strings borrowed.
 */
CPNS_EXPORT int cpns_group_leave(cpns_client_t *c, const char *id, const char *member);
/** The same request as cpns_group_leave(), named for the owner's use. */
CPNS_EXPORT int cpns_group_expel(cpns_client_t *c, const char *id, const char *member);

/**
 * Reads group id with its members and invitees (members, the owner and the
 * operator; no key material). On success *out is a new group, freed with
 * cpns_group_free(); on failure *out is NULL. CPNS_ERR_DENIED for anyone
 * else, CPNS_ERR_NOTFOUND when there is no such group.
 */
CPNS_EXPORT int cpns_group_get(cpns_client_t *c, const char *id, cpns_group_t **out);
/** Frees a group from cpns_group_get(). NULL does nothing. */
CPNS_EXPORT void cpns_group_free(cpns_group_t *g);

/**
 * Fetches the current Group Key of group id (members only). On success *out
 * holds the key of the group's current epoch; the caller owns it and wipes
 * it with cpns_group_key_cleanup(). On failure *out is zeroed.
 * CPNS_ERR_DENIED (4.03) for a non-member, or a member expelled since;
 * CPNS_ERR_PROTO when the answer is not a well-formed key of group id.
 */
CPNS_EXPORT int cpns_group_key_get(cpns_client_t *c, const char *id, cpns_group_key_t *out);

/** Zeroes the whole of k in a way the compiler cannot elide. NULL does nothing. */
CPNS_EXPORT void cpns_group_key_cleanup(cpns_group_key_t *k);

/**
 * Seals pt (ptlen bytes, at most CPNS_GROUP_CONTENT_MAX; pt may be NULL when
 * ptlen is 0) for k's group and epoch with AES-256-GCM under a key derived
 * from k, binding the optional aad (aadlen bytes, NULL when 0), which the
 * receiver must present again to open. Every call draws a fresh random
 * nonce. k is borrowed for the call. On success *out is a new buffer of
 * *outlen = CPNS_GROUP_SEALED_OVERHEAD(strlen(k->group)) + ptlen bytes,
 * freed with cpns_free(). Errors: CPNS_ERR_INVAL (NULL arguments, k's group
 * not a NUL-terminated id), CPNS_ERR_DENIED (k has expired by this host's
 * clock: fetch the current key), CPNS_ERR_TOOBIG, CPNS_ERR_NOMEM,
 * CPNS_ERR_CRYPTO; then *out is NULL and *outlen 0. Reentrant; needs no client.
 */
CPNS_EXPORT int cpns_group_key_seal(const cpns_group_key_t *k, const uint8_t *aad, size_t aadlen,
                                    const uint8_t *pt, size_t ptlen, uint8_t **out,
                                    size_t *outlen);

/**
 * Opens a message sealed by cpns_group_key_seal() with k, which must be the
 * key of the message's group and epoch, under the same aad (aadlen bytes,
 * NULL when 0). k is borrowed. Errors, in the order they are checked:
 * CPNS_ERR_INVAL (a malformed message, NULL arguments), CPNS_ERR_TOOBIG,
 * CPNS_ERR_DENIED (k is for another group or epoch than the message, or has
 * expired by this host's clock: see cpns_group_message_info() for the epoch
 * the message needs), CPNS_ERR_CRYPTO (authentication failed: wrong key
 * bytes, wrong aad, or anything altered; no plaintext is released),
 * CPNS_ERR_NOMEM. On success *out is a new buffer of *outlen bytes (not NULL
 * even when empty), freed with cpns_free(); wipe it first if the content is
 * secret. On failure *out is NULL and *outlen 0. Reentrant; needs no client.
 */
CPNS_EXPORT int cpns_group_key_open(const cpns_group_key_t *k, const uint8_t *aad, size_t aadlen,
                                    const uint8_t *in, size_t inlen, uint8_t **out,
                                    size_t *outlen);

/**
 * Reads which group and epoch a sealed message is for, without a key, so
 * that a receiver can pick (or fetch) the right one. group receives the
 * NUL-terminated id and *epoch the epoch. CPNS_ERR_INVAL for a malformed
 * message (nothing written), CPNS_ERR_TOOBIG for one above the size limit.
 * in is borrowed. Reentrant; needs no client.
 */
CPNS_EXPORT int cpns_group_message_info(const uint8_t *in, size_t inlen,
                                        char group[CPNS_ID_MAX + 1], uint32_t *epoch);

#ifdef __cplusplus
}
#endif
#endif
