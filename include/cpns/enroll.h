/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file enroll.h
 * @brief Enrollment codes and Entity-User Keys (spec 5.5.7.2) for operators'
 * tools and gateways: make a one-time code for a new device, rotate a key,
 * revoke one.
 *
 * Every call is a synchronous request on a cpns_client_t (see client.h). The
 * resources, and who may call them, are in docs/protocol.md, "Enrollment and
 * keys"; the whole provisioning flow in docs/security.md §2b. In short: the
 * operator may enroll any PNE or PN GW and rotate or revoke any key; a PN GW
 * may enroll PNEs of its own PN and rotate or revoke their keys; an entity
 * may rotate its own key.
 *
 * Errors: every function returns 0 or a negative cpns_err.
 *   - CPNS_ERR_INVAL for an invalid argument: nothing is sent, and
 *     cpns_client_error() and cpns_client_status() still tell the call before.
 *   - The peer's refusal as mapped by client.h (CPNS_ERR_DENIED for 4.03,
 *     CPNS_ERR_NOTFOUND for 4.04, CPNS_ERR_EXISTS for 4.09...):
 *     cpns_client_status() gives the CoAP code as a number and
 *     cpns_client_error() the peer's diagnostic.
 *   - CPNS_ERR_PROTO when a successful answer is malformed (cpns_client_status()
 *     is then its 2.xx code). Answers are decoded strictly: the required
 *     members with their types, ranges and lengths, and the identity, PN and
 *     role they name must be the ones asked for. Unknown members are ignored.
 *
 * Secrets: codes and keys are returned in the caller's buffers, which the
 * caller owns and must wipe (OPENSSL_cleanse(), explicit_bzero()) as soon as
 * they have been handed on; on failure those buffers are zeroed. The library
 * wipes its own copies (the answer text, decoded buffers); copies inside the
 * CoAP and JSON libraries it uses are not wiped. Never log a code or a key.
 */
#ifndef CPNS_CPNS_ENROLL_H
#define CPNS_CPNS_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include <cpns/client.h>
#include <cpns/cpns.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPNS_ENROLL_CODE_LEN 26          /**< characters of a code, [a-z2-7], without NUL */
#define CPNS_ENROLL_TTL_MAX (7 * 86400)  /**< longest validity of a code, seconds */
#define CPNS_ENROLL_ID_MAX 57            /**< bytes of an id that can enroll ("enroll.<id>" fits 64) */

/**
 * Creates a one-time enrollment code for the device id in PN pn
 * (POST enrollments). role is "pne" or "gw" (NULL: "pne"). ttl_s is how long
 * the code stays valid, 1..CPNS_ENROLL_TTL_MAX seconds, or 0 for the
 * server's default (3600). id must be an id of at most CPNS_ENROLL_ID_MAX
 * bytes that is not itself an enrollment identity ("enroll.x"); pn an id.
 * A new code for the same id replaces a pending one.
 *
 * On success code_out receives the code, CPNS_ENROLL_CODE_LEN characters and
 * a NUL. It is a secret shown once: hand it to the device's owner, then wipe
 * code_out; never log it. On failure code_out is zeroed. CPNS_ERR_DENIED
 * (4.03) for a gateway enrolling outside its PN or enrolling a gateway,
 * CPNS_ERR_EXISTS (4.09) when id has a key in the server's keyring file.
 * Strings are borrowed for the call.
 */
CPNS_EXPORT int cpns_enrollment_create(cpns_client_t *c, const char *id, const char *pn,
                                       const char *role, uint32_t ttl_s,
                                       char code_out[CPNS_ENROLL_CODE_LEN + 1]);

/**
 * Issues a new Entity-User Key for id (POST keys/{id}/rotate); the old one
 * stops working at once and id's sessions are closed. On success key_out
 * receives the CPNS_PSK_LEN key bytes (a secret the caller wipes once it is
 * stored) and *generation (if generation is not NULL) its generation, one
 * more than before. On failure key_out is zeroed. CPNS_ERR_NOTFOUND when id
 * has no issued key. id is borrowed.
 */
CPNS_EXPORT int cpns_key_rotate(cpns_client_t *c, const char *id, uint8_t key_out[CPNS_PSK_LEN],
                                uint32_t *generation);

/**
 * Revokes id's key (DELETE keys/{id}): its sessions are closed at the server
 * and at its gateway, and it can open no new one. CPNS_ERR_NOTFOUND when id
 * has no issued key. id is borrowed.
 */
CPNS_EXPORT int cpns_key_revoke(cpns_client_t *c, const char *id);

#ifdef __cplusplus
}
#endif
#endif
