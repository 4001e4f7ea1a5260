/* SPDX-License-Identifier: Apache-2.0 */
/* The enrolling side of enrollment (spec 5.5.7.2), shared by
 * `cpns-pne --enroll` (which redeems its code through its gateway) and
 * `cpns-gw --enroll` (which redeems it directly at the server): derive the
 * PSK of "enroll.<id>" from the one-time code, open a DTLS session with it,
 * POST /cpns/v1/enroll, and write the issued Entity-User Key to the key file
 * (mode 0600, created atomically, never over an existing file). The code and
 * the key are never logged nor printed. Private to the daemons. */
#ifndef CPNS_ENROLL_CLIENT_H
#define CPNS_ENROLL_CLIENT_H

#include <stddef.h>

#include "enroll.h"

#define CPNS_ENROLL_ATTEMPTS_MAX 16

/* Where to enroll and where the key goes. Borrowed for the call only. */
struct cpns_enroll_client {
  const char *uri;       /* coaps://host:port of the peer that redeems the code */
  const char *id;        /* this entity's id; the session's identity is "enroll.<id>" */
  const char *key_file;  /* the issued key goes here; it must not exist yet */
  const char *peer_name; /* "gateway" or "server", for messages */
  const char *expect_pn; /* the PN this entity is configured for: warns when the
                            enrollment is for another; NULL or "" = any */
  unsigned attempts;     /* sessions tried, 1..CPNS_ENROLL_ATTEMPTS_MAX */
  long timeout_ms;       /* per attempt */
};

/* Reads a code as a person gives it: CODE itself, or "-" to read one line
 * from standard input (which keeps it out of `ps`). Upper case is folded.
 * Writes CPNS_ENROLL_CODE_LEN characters of [a-z2-7] and a NUL to out, or
 * returns CPNS_ERR_INVAL (never saying what was given). */
int cpns_enroll_code_parse(const char *arg, char out[CPNS_ENROLL_CODE_LEN + 1]);

/* Redeems code and writes the issued key to ec->key_file. Whether the key
 * file may be created is checked before anything is sent, so that a code is
 * not spent for a key that cannot be kept. Returns 0, or:
 *   CPNS_ERR_EXISTS  the key file exists already (nothing was sent);
 *   CPNS_ERR_DENIED  the peer refused: the code is used, expired or was not
 *                    made for this id, or the peer holds no enrollment;
 *   CPNS_ERR_UNAVAIL no session came up: the peer is unreachable, or the
 *                    code is wrong (DTLS answers a wrong key with silence,
 *                    so the two look alike);
 *   CPNS_ERR_IO      the key file could not be written (the code is spent:
 *                    the entity needs a new one);
 *   CPNS_ERR_PROTO   the answer held no valid key;
 *   CPNS_ERR_INVAL   a bad id or argument.
 * Logs what happens; never the code nor the key. */
int cpns_enroll_redeem(const struct cpns_enroll_client *ec, const char *code);

/* The exit status of `--enroll` for a result of cpns_enroll_redeem():
 * 0, 73 key file exists or unwritable, 77 refused, 69 no session, 70, 64. */
int cpns_enroll_exit_status(int rc);

#endif
