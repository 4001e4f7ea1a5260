/* SPDX-License-Identifier: Apache-2.0 */
/* Group Keys (spec 5.5.7.2, 5.5.9; docs DESIGN "Security"): the key all
 * members of a Service Group share, in the shape of ACE key groupcomm
 * (RFC 9594): a group id, a version number (the epoch, one more on every
 * membership change) and an expiry. The server, or a gateway for a local
 * group, creates a key with the group, replaces it with a fresh one of the
 * next epoch whenever a member joins, leaves or is expelled, and hands it to
 * members as a JSON message inside their DTLS sessions. Content shared in the
 * group is sealed with AES-256-GCM under a key derived from the group key, so
 * that an expelled member, who holds only the keys of earlier epochs, cannot
 * open what is sealed after its expulsion.
 *
 * Sealed message, bytes (all lengths checked by every decoder):
 *
 *     0          format version, CPNS_GROUP_SEAL_VERSION (1)
 *     1          n = length of the group id, 1..CPNS_ID_MAX
 *     2 .. 2+n   group id, n bytes of [A-Za-z0-9._-], no NUL
 *     next 4     epoch, unsigned big-endian
 *     next 12    nonce, random per message
 *     next m     ciphertext, m = plaintext length, 0..CPNS_GROUP_SEAL_MAX
 *     last 16    GCM authentication tag
 *
 * The first 2+n+4 bytes are the header. The content key is
 *     HKDF-SHA256(IKM = group key, salt = group id, info = "cpns group content v1")
 * (RFC 5869; 32 bytes), the GCM associated data is the header followed by the
 * caller's optional aad (the header is self-delimiting, so the two cannot be
 * confused). The header is thus authenticated: a key relabelled with another
 * epoch or group fails with CPNS_ERR_CRYPTO. The group key itself is fresh
 * and random in every epoch, which is what makes the content key per epoch.
 *
 * Every function here is reentrant. Key material is never logged and never
 * appears in an error text; wipe keys with cpns_group_key_wipe(). */
#ifndef CPNS_GROUPKEY_H
#define CPNS_GROUPKEY_H

#include <cpns/cpns.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CPNS_GROUP_KEY_LEN 32                /* bytes (AES-256) */
#define CPNS_GROUP_SEAL_VERSION 1            /* byte 0 of a sealed message */
#define CPNS_GROUP_NONCE_LEN 12              /* bytes, GCM's 96-bit nonce */
#define CPNS_GROUP_TAG_LEN 16                /* bytes, GCM tag */
#define CPNS_GROUP_SEAL_MAX (1024u * 1024u)  /* largest plaintext, bytes */
#define CPNS_GROUP_KEY_INFO "cpns group content v1" /* HKDF info of the content key */
/* Bytes a sealed message adds to the plaintext, for a group id of n bytes. */
#define CPNS_GROUP_SEAL_OVERHEAD(n) \
  ((size_t)2 + (size_t)(n) + 4 + CPNS_GROUP_NONCE_LEN + CPNS_GROUP_TAG_LEN)

struct cpns_group_key {
  char group[CPNS_ID_MAX + 1]; /* group id, NUL-terminated */
  uint32_t epoch;              /* version: +1 on every membership change */
  int64_t expires;             /* unix seconds; 0 = no expiry */
  uint8_t key[CPNS_GROUP_KEY_LEN];
};

/* Fills out with a fresh random key (OpenSSL's CSPRNG) for group, epoch and
 * expires (>= 0). CPNS_ERR_INVAL for a bad group id or a negative expiry,
 * CPNS_ERR_CRYPTO when the CSPRNG fails; on failure out is zeroed. The caller
 * owns out and wipes it with cpns_group_key_wipe(). */
int cpns_group_key_new(const char *group, uint32_t epoch, int64_t expires,
                       struct cpns_group_key *out);

/* Zeroes the whole of k in a way the compiler cannot elide. NULL is ignored. */
void cpns_group_key_wipe(struct cpns_group_key *k);

/* Seals pt (ptlen bytes, at most CPNS_GROUP_SEAL_MAX; pt may be NULL when
 * ptlen is 0) for k's group and epoch, binding the optional aad (aadlen
 * bytes; NULL when 0), which the receiver must present again to open. A
 * fresh random nonce is drawn for every call, so two seals of the same
 * plaintext differ. The expiry of k is not checked here: a sender checks it
 * against its own clock before it seals.
 * On success *out is a new buffer of *outlen = CPNS_GROUP_SEAL_OVERHEAD(n) +
 * ptlen bytes, owned by the caller (free()). Errors: CPNS_ERR_INVAL (NULL
 * arguments, a key with a bad group id), CPNS_ERR_TOOBIG, CPNS_ERR_NOMEM,
 * CPNS_ERR_CRYPTO; then *out is NULL and *outlen 0. */
int cpns_group_seal(const struct cpns_group_key *k, const uint8_t *aad, size_t aadlen,
                    const uint8_t *pt, size_t ptlen, uint8_t **out, size_t *outlen);

/* Reads the header of a sealed message without a key, so that the receiver
 * can pick the key of the right group and epoch. Checks the version, the id
 * length and characters, and that in is long enough for a nonce and a tag
 * and not longer than the largest plaintext allows. group receives the
 * NUL-terminated id, *epoch the epoch. CPNS_ERR_INVAL for a malformed header
 * (nothing written), CPNS_ERR_TOOBIG for a message above the limit. */
int cpns_group_sealed_info(const uint8_t *in, size_t inlen, char group[CPNS_ID_MAX + 1],
                           uint32_t *epoch);

/* Opens a sealed message with k, which must be the key of the message's
 * group and epoch, under the aad (aadlen bytes; NULL when 0) given to the
 * seal. now is the current unix time, checked against k->expires; 0 skips the
 * check. Errors, in the order they are checked:
 *   CPNS_ERR_INVAL   malformed message or NULL arguments
 *   CPNS_ERR_TOOBIG  longer than CPNS_GROUP_SEAL_MAX of plaintext allows
 *   CPNS_ERR_DENIED  k is for another group or epoch than the header, or
 *                    has expired (now >= k->expires)
 *   CPNS_ERR_CRYPTO  authentication failed (wrong key bytes, wrong aad, or
 *                    anything altered); no plaintext is released
 *   CPNS_ERR_NOMEM
 * On success *out is a new buffer of *outlen bytes owned by the caller
 * (free()); it is not NULL even for an empty plaintext. On failure *out is
 * NULL and *outlen 0. */
int cpns_group_open(const struct cpns_group_key *k, int64_t now, const uint8_t *aad,
                    size_t aadlen, const uint8_t *in, size_t inlen, uint8_t **out,
                    size_t *outlen);

/* The key as a distribution message (push or pull; RFC 9594's "num" is our
 * "epoch"): {"group": id, "epoch": 0..2^32-1, "exp": unix seconds (0 = none),
 * "key": 43 characters of base64url without padding (RFC 4648 §5)}.
 * The message holds the secret: it only ever travels inside DTLS to a member
 * and is never logged. Jansson's copy of the key text is not wiped when the
 * object is freed, so keep such objects short-lived.
 * New reference (json_decref), NULL for a key with a bad group id, a negative
 * expiry, or out of memory. */
json_t *cpns_group_key_to_json(const struct cpns_group_key *k);

/* Decodes a distribution message into out. Strict: a map with exactly the
 * members above ("exp" may be left out and then means 0), a valid group id,
 * integers in range, and a key that is canonical base64url (no padding, no
 * stray bits) of exactly 32 bytes. CPNS_ERR_INVAL with the reason in err
 * (which never holds key material); out is written only on success. err may
 * be NULL when errlen is 0. */
int cpns_group_key_from_json(const json_t *v, struct cpns_group_key *out, char *err,
                             size_t errlen);

#endif
