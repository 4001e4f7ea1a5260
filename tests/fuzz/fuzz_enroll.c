/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for enrollment (spec 5.5.7.2): the body of POST enrollments
 * (cpns_enroll_request_decode in lib/enroll.c, at the server), and the
 * texts an enrollment is named by: a code as a person types it
 * (cpns_enroll_code_parse, cpnsctl and cpns-pne --enroll) and the DTLS
 * identity of an enrolling device (cpns_enroll_id_of). The first byte
 * picks: 't' the rest is a text; otherwise it picks the decoder of a body
 * (odd: CBOR, even: JSON, as in fuzz_codec.c, so seeds can start with 'c'
 * or 'j').
 *
 * Checked, aborting on any violation: a refused body is CPNS_ERR_INVAL with
 * a reason and leaves the output untouched; an accepted one has a valid id
 * whose enrollment identity fits and is no enrollment identity itself, a
 * role pne or gw, a valid PN and a ttl in bounds. A code that parses is
 * CPNS_ENROLL_CODE_LEN characters of [a-z2-7]; the id inside an identity is
 * its tail after the prefix, never empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/cpns.h>

#include "codec.h"
#include "enroll.h"
#include "enroll_client.h"
#include "msg.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TEXT_MAX 512

static void fuzz_body(const json_t *v) {
  struct cpns_enroll_request r, before;
  memset(&r, 0x5a, sizeof r);
  before = r;
  char err[256] = "";
  int rc = cpns_enroll_request_decode(v, &r, err, sizeof err);
  if (rc) {
    if (rc != CPNS_ERR_INVAL || !err[0] || memcmp(&r, &before, sizeof r) != 0) abort();
    return;
  }
  char eid[CPNS_ID_MAX + 1];
  if (!cpns_valid_id(r.id) || cpns_enroll_identity(r.id, eid) || cpns_enroll_id_of(r.id)) abort();
  if (strcmp(cpns_enroll_id_of(eid), r.id) != 0) abort();
  if (strcmp(r.role, "pne") != 0 && strcmp(r.role, "gw") != 0) abort();
  if (!cpns_valid_id(r.pn) || r.ttl < 1 || r.ttl > CPNS_ENROLL_TTL_MAX) abort();
}

static void fuzz_text(const char *text) {
  char code[CPNS_ENROLL_CODE_LEN + 1];
  /* "-" would read a line from standard input: not a decoder of this text. */
  if (strcmp(text, "-") != 0 && cpns_enroll_code_parse(text, code) == 0) {
    if (strlen(code) != CPNS_ENROLL_CODE_LEN) abort();
    for (size_t i = 0; i < CPNS_ENROLL_CODE_LEN; i++)
      if (!((code[i] >= 'a' && code[i] <= 'z') || (code[i] >= '2' && code[i] <= '7'))) abort();
    char again[CPNS_ENROLL_CODE_LEN + 1];
    if (cpns_enroll_code_parse(code, again) || strcmp(code, again) != 0) abort();
  }
  const char *id = cpns_enroll_id_of(text);
  size_t plen = strlen(CPNS_ENROLL_PREFIX);
  if (id && (id != text + plen || !*id || strncmp(text, CPNS_ENROLL_PREFIX, plen) != 0)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] == 't') {
    if (size - 1 > FUZZ_TEXT_MAX) return 0;
    char text[FUZZ_TEXT_MAX + 1];
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    fuzz_text(text);
    return 0;
  }
  json_t *v = fuzz_input_body(data, size);
  if (!v) return 0;
  fuzz_body(v);
  json_decref(v);
  return 0;
}
