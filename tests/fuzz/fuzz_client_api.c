/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the answer decoders of the typed CPNS-5 calls
 * (lib/client_api.h). The first byte picks the decoder, the rest is the
 * answer text (NUL-terminated here, as cpns_client_request() gives it):
 *
 *   'c'  client_enroll__decode_code, for id "tablet", pn "home", role "pne"
 *   'k'  client_enroll__decode_key, for identity "camera"
 *   'g'  client_groups__decode_group, for group "fam"
 *   'q'  client_groups__decode_key, for group "fam"
 *
 * Checked, aborting on any violation: a failure is CPNS_ERR_PROTO (or
 * CPNS_ERR_NOMEM) and leaves the outputs untouched; what decodes holds what
 * the header promises (a code of 26 characters of [a-z2-7]; a generation of
 * at least 1; a group named "fam" of valid ids, known words, at most
 * CPNS_GROUP_MEMBERS_MAX rows; a key of group "fam"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok) {
  if (!ok) abort();
}

static bool word_in(const char *s, const char *a, const char *b) {
  return !strcmp(s, a) || !strcmp(s, b);
}

static void fuzz_code(const char *text) {
  char code[CPNS_ENROLL_CODE_LEN + 1];
  memset(code, 0x5a, sizeof code);
  int rc = client_enroll__decode_code(text, "tablet", "home", "pne", code);
  if (rc) {
    check(rc == CPNS_ERR_PROTO || rc == CPNS_ERR_NOMEM);
    for (size_t i = 0; i < sizeof code; i++) check(code[i] == 0x5a);
    return;
  }
  check(strlen(code) == CPNS_ENROLL_CODE_LEN);
  for (size_t i = 0; i < CPNS_ENROLL_CODE_LEN; i++)
    check((code[i] >= 'a' && code[i] <= 'z') || (code[i] >= '2' && code[i] <= '7'));
}

static void fuzz_key(const char *text) {
  uint8_t key[CPNS_PSK_LEN];
  memset(key, 0x5a, sizeof key);
  uint32_t gen = 0;
  int rc = client_enroll__decode_key(text, "camera", key, &gen);
  if (rc) {
    check(rc == CPNS_ERR_PROTO || rc == CPNS_ERR_NOMEM);
    check(gen == 0);
    for (size_t i = 0; i < sizeof key; i++) check(key[i] == 0x5a);
    return;
  }
  check(gen >= 1);
}

static void fuzz_group(const char *text) {
  cpns_group_t *g = (cpns_group_t *)&g;
  int rc = client_groups__decode_group(text, "fam", &g);
  if (rc) {
    check(rc == CPNS_ERR_PROTO || rc == CPNS_ERR_NOMEM);
    check(g == (cpns_group_t *)&g);
    return;
  }
  check(!strcmp(g->id, "fam") && client_api__id_ok(g->owner));
  check(!g->pn[0] || client_api__id_ok(g->pn));
  check(word_in(g->scope, "here", "server"));
  check(g->count <= CPNS_GROUP_MEMBERS_MAX && (g->count == 0 || g->members));
  for (size_t i = 0; i < g->count; i++) {
    check(client_api__id_ok(g->members[i].id));
    check(!g->members[i].pn[0] || client_api__id_ok(g->members[i].pn));
    check(word_in(g->members[i].state, "member", "invited"));
  }
  cpns_group_free(g);
}

static void fuzz_group_key(const char *text) {
  cpns_group_key_t k;
  memset(&k, 0x5a, sizeof k);
  int rc = client_groups__decode_key(text, "fam", &k);
  if (rc) {
    check(rc == CPNS_ERR_PROTO || rc == CPNS_ERR_NOMEM);
    const uint8_t *b = (const uint8_t *)&k;
    for (size_t i = 0; i < sizeof k; i++) check(b[i] == 0x5a);
    return;
  }
  check(!strcmp(k.group, "fam") && k.expires >= 0);
  cpns_group_key_cleanup(&k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 65536) return 0;
  char *text = malloc(size);
  if (!text) return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  switch (data[0]) {
  case 'c': fuzz_code(text); break;
  case 'k': fuzz_key(text); break;
  case 'g': fuzz_group(text); break;
  case 'q': fuzz_group_key(text); break;
  default: break;
  }
  free(text);
  return 0;
}
