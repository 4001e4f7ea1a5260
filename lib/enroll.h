/* SPDX-License-Identifier: Apache-2.0 */
/* Enrollment codes (spec 5.5.7.2: provisioning of Entity-User Keys). An
 * operator or a PN owner creates a one-time code for a new device; the
 * device proves it knows the code by completing a DTLS-PSK handshake with
 * identity "enroll.<id>" and a PSK derived from the code, and receives its
 * Entity-User Key on that session. Only the derived PSK is stored; the code
 * itself is shown once and never stored or logged. */
#ifndef CPNS_ENROLL_H
#define CPNS_ENROLL_H

#include <cpns/cpns.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CPNS_ENROLL_PREFIX "enroll."
#define CPNS_ENROLL_CODE_LEN 26 /* base32 of 128 random bits */
#define CPNS_ENROLL_TTL_MAX (7 * 86400)
#define CPNS_ENROLL_TTL_DEFAULT 3600 /* seconds a code is valid when the request names none */

/* A fresh code: CPNS_ENROLL_CODE_LEN characters of [a-z2-7] and a NUL. */
int cpns_enroll_code_new(char code[CPNS_ENROLL_CODE_LEN + 1]);
/* PSK = HKDF-SHA256(ikm = code, salt = "cpns enrollment v1", info = identity). */
int cpns_enroll_psk(const char *code, const char *identity, uint8_t psk[CPNS_PSK_LEN]);
/* "enroll.<id>" for id, or CPNS_ERR_TOOBIG. */
int cpns_enroll_identity(const char *id, char out[CPNS_ID_MAX + 1]);
/* The device id inside an enrollment identity, or NULL if it is not one. */
const char *cpns_enroll_id_of(const char *identity);

/* What POST /enrollments asks for. */
struct cpns_enroll_request {
  char id[CPNS_ID_MAX + 1]; /* the device; its "enroll.<id>" fits CPNS_ID_MAX */
  char role[16];            /* "pne" (the default) or "gw" */
  char pn[CPNS_ID_MAX + 1];
  long ttl;                 /* 1..CPNS_ENROLL_TTL_MAX, CPNS_ENROLL_TTL_DEFAULT when absent */
};
/* Decodes {"id", "pn", "role"?, "ttl"?} into *out. Who may ask for it is
 * the caller's rule. Returns 0 or CPNS_ERR_INVAL with the reason in err;
 * *out is written only on success. */
int cpns_enroll_request_decode(const json_t *body, struct cpns_enroll_request *out, char *err,
                               size_t errlen);

#endif
