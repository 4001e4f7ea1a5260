/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the group bodies of lib/groups.c (spec 5.5.9): the body
 * of POST groups (cpns_group_create_decode, at the server and at a gateway
 * holding local groups) and a group view, what the server sends a PN's
 * gateway on CPNS-7 (cpns_group_view_decode, behind
 * cpns_groups_apply_view). The first byte picks the decoder of the rest
 * (odd: CBOR, even: JSON, as in fuzz_codec.c, so seeds can start with 'c'
 * or 'j'); what decodes goes through both.
 *
 * Checked, aborting on any violation: a refusal is CPNS_ERR_INVAL (or
 * NOMEM) with a reason and leaves the outputs untouched; an accepted body
 * has a valid id and an epoch below 2^32 - 1; an accepted view has a valid
 * id and owner, at most FUZZ_MAX_MEMBERS valid member ids, a key of its own
 * group, and the view made again from what was decoded decodes to the
 * same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/cpns.h>

#include "codec.h"
#include "groupkey.h"
#include "groups.h"
#include "msg.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_MEMBERS 8

static void check_fail(int rc, const char *err) {
  if ((rc != CPNS_ERR_INVAL && rc != CPNS_ERR_NOMEM) || !err[0]) abort();
}

static void fuzz_create(const json_t *v) {
  struct cpns_group_rec g, before;
  memset(&g, 0x5a, sizeof g);
  before = g;
  uint32_t after = 0x5a5a5a5a;
  char err[CPNS_DIAG_MAX] = "";
  int rc = cpns_group_create_decode(v, &g, &after, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    if (memcmp(&g, &before, sizeof g) != 0 || after != 0x5a5a5a5a) abort();
    return;
  }
  if (!memchr(g.id, '\0', sizeof g.id) || !cpns_valid_id(g.id) || after == UINT32_MAX) abort();
  static const char *const lists[] = {"members", "invited"};
  for (size_t k = 0; k < 2; k++) {
    const json_t *a = json_object_get(v, lists[k]);
    for (size_t i = 0; i < json_array_size(a); i++) {
      const char *m = json_string_value(json_array_get(a, i));
      if (!m || !cpns_valid_id(m)) abort();
    }
  }
}

/* The view as cpns_groups_view() makes it, from what was decoded. */
static json_t *view_again(const struct cpns_group_view *w) {
  struct cpns_group_key k;
  memset(&k, 0, sizeof k);
  memcpy(k.group, w->g.id, sizeof k.group);
  k.epoch = w->g.epoch;
  k.expires = w->g.key_expires;
  memcpy(k.key, w->g.key, sizeof k.key);
  json_t *key = cpns_group_key_to_json(&k);
  cpns_group_key_wipe(&k);
  json_t *members = json_array();
  if (!key || !members) abort();
  for (size_t i = 0; i < w->n; i++) json_array_append_new(members, json_string(w->members[i]));
  json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:I, s:o, s:o}", "id", w->g.id, "owner", w->g.owner,
                        "pn", w->g.pn, "open", w->g.open, "created", (json_int_t)w->g.created_at,
                        "key", key, "members", members);
  if (!o) abort();
  return o;
}

static void fuzz_view(const json_t *v) {
  struct cpns_group_view w, before;
  memset(&w, 0x5a, sizeof w);
  before = w;
  char err[CPNS_DIAG_MAX] = "";
  int rc = cpns_group_view_decode(v, FUZZ_MAX_MEMBERS, &w, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    if (memcmp(&w, &before, sizeof w) != 0) abort();
    return;
  }
  if (!cpns_valid_id(w.g.id) || !cpns_valid_id(w.g.owner) || (w.g.pn[0] && !cpns_valid_id(w.g.pn)))
    abort();
  if (w.n > FUZZ_MAX_MEMBERS || !w.members || w.g.created_at < 0 || !w.g.replica) abort();
  for (size_t i = 0; i < w.n; i++)
    if (!w.members[i] || !cpns_valid_id(w.members[i])) abort();
  json_t *o = view_again(&w);
  struct cpns_group_view back;
  if (cpns_group_view_decode(o, FUZZ_MAX_MEMBERS, &back, err, sizeof err)) abort();
  if (strcmp(back.g.id, w.g.id) || strcmp(back.g.owner, w.g.owner) || strcmp(back.g.pn, w.g.pn) ||
      back.g.open != w.g.open || back.g.epoch != w.g.epoch ||
      memcmp(back.g.key, w.g.key, sizeof w.g.key) != 0 || back.g.key_expires != w.g.key_expires ||
      back.g.created_at != w.g.created_at || back.n != w.n)
    abort();
  for (size_t i = 0; i < w.n; i++)
    if (strcmp(back.members[i], w.members[i]) != 0) abort();
  cpns_group_view_cleanup(&back);
  json_decref(o);
  cpns_group_view_cleanup(&w);
  if (w.members || w.n) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v = fuzz_input_body(data, size);
  if (!v) return 0;
  fuzz_create(v);
  fuzz_view(v);
  json_decref(v);
  return 0;
}
