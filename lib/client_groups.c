/* SPDX-License-Identifier: Apache-2.0 */
/* Service Groups and Group Keys for applications (include/cpns/groups.h;
 * spec 5.5.9, 5.5.7.2, docs/protocol.md "Service Groups and Group Keys"):
 * the group resources on top of cpns_client_request(), and sealing and
 * opening of group content wrapping lib/groupkey.c. The public key type is
 * converted to the private struct cpns_group_key on the stack of each call
 * and that copy is wiped before the call returns, so that no private header
 * reaches applications. */
#include <cpns/groups.h>

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_api.h"
#include "groupkey.h"

/* The public limits and layout must be the private ones. */
_Static_assert(CPNS_GROUP_CONTENT_MAX == CPNS_GROUP_SEAL_MAX, "content limit");
_Static_assert(CPNS_GROUP_SEALED_OVERHEAD(7) == CPNS_GROUP_SEAL_OVERHEAD(7), "sealed overhead");
_Static_assert(sizeof(((cpns_group_key_t *)0)->key) == sizeof(((struct cpns_group_key *)0)->key),
               "key size");
_Static_assert(sizeof(((cpns_group_key_t *)0)->group) ==
                   sizeof(((struct cpns_group_key *)0)->group),
               "group id size");

/* ---- requests ---- */

int cpns_group_create(cpns_client_t *c, const char *id, bool open) {
  if (!c || !client_api__id_ok(id)) return CPNS_ERR_INVAL;
  char body[CPNS_ID_MAX + 32];
  snprintf(body, sizeof body, "{\"id\":\"%s\",\"open\":%s}", id, open ? "true" : "false");
  return cpns_client_request(c, "POST", "groups", NULL, body, NULL);
}

int cpns_group_delete(cpns_client_t *c, const char *id) {
  if (!c || !client_api__id_ok(id)) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 8];
  snprintf(path, sizeof path, "groups/%s", id);
  return cpns_client_request(c, "DELETE", path, NULL, NULL, NULL);
}

int cpns_group_invite(cpns_client_t *c, const char *id, const char *member) {
  if (!c || !client_api__id_ok(id) || !client_api__id_ok(member)) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 24], body[CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "groups/%s/invitations", id);
  snprintf(body, sizeof body, "{\"id\":\"%s\"}", member);
  return cpns_client_request(c, "POST", path, NULL, body, NULL);
}

/* PUT (join) or DELETE (leave, expel) groups/{id}/members/{member}. */
static int member_request(cpns_client_t *c, const char *method, const char *id,
                          const char *member) {
  if (!c || !client_api__id_ok(id) || !client_api__id_ok(member)) return CPNS_ERR_INVAL;
  char path[2 * CPNS_ID_MAX + 24];
  snprintf(path, sizeof path, "groups/%s/members/%s", id, member);
  return cpns_client_request(c, method, path, NULL, NULL, NULL);
}

int cpns_group_join(cpns_client_t *c, const char *id, const char *member) {
  return member_request(c, "PUT", id, member);
}

int cpns_group_leave(cpns_client_t *c, const char *id, const char *member) {
  return member_request(c, "DELETE", id, member);
}

int cpns_group_expel(cpns_client_t *c, const char *id, const char *member) {
  return member_request(c, "DELETE", id, member);
}

/* ---- GET groups/{id} ---- */

/* A string member of at most size - 1 bytes copied into out; with id_rule,
 * it must be an id, or "" when empty_ok. */
static bool take_str(const json_t *obj, const char *key, char *out, size_t size, bool id_rule,
                     bool empty_ok) {
  json_t *v = json_object_get(obj, key);
  if (!json_is_string(v)) return false;
  size_t n = json_string_length(v);
  const char *s = json_string_value(v);
  if (n >= size || strlen(s) != n) return false; /* too long, or a NUL inside */
  if (n == 0 ? !empty_ok : id_rule && !client_api__id_ok(s)) return false;
  memcpy(out, s, n + 1);
  return true;
}

/* A string member that is one of the NULL-terminated words. */
static bool take_word(const json_t *obj, const char *key, const char *const *words, char *out,
                      size_t size) {
  if (!take_str(obj, key, out, size, false, false)) return false;
  for (; *words; words++)
    if (!strcmp(out, *words)) return true;
  return false;
}

static bool take_int(const json_t *obj, const char *key, json_int_t lo, json_int_t hi,
                     json_int_t *out) {
  json_t *v = json_object_get(obj, key);
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) return false;
  *out = json_integer_value(v);
  return true;
}

int client_groups__decode_group(const char *text, const char *id, cpns_group_t **out) {
  static const char *const scopes[] = {"here", "server", NULL};
  static const char *const states[] = {"member", "invited", NULL};
  json_t *doc;
  int rc = client_api__parse(text, &doc);
  if (rc) return rc;
  json_t *members = json_object_get(doc, "members"), *open = json_object_get(doc, "open");
  size_t n = json_array_size(members);
  if (!json_is_array(members) || n > CPNS_GROUP_MEMBERS_MAX || !json_is_boolean(open)) {
    json_decref(doc);
    return CPNS_ERR_PROTO;
  }
  cpns_group_t *g = calloc(1, sizeof *g);
  if (!g || (n && !(g->members = calloc(n, sizeof *g->members)))) {
    free(g);
    json_decref(doc);
    return CPNS_ERR_NOMEM;
  }
  json_int_t epoch, created;
  bool ok = take_str(doc, "id", g->id, sizeof g->id, true, false) && strcmp(g->id, id) == 0 &&
            take_str(doc, "owner", g->owner, sizeof g->owner, true, false) &&
            take_str(doc, "pn", g->pn, sizeof g->pn, true, true) &&
            take_word(doc, "scope", scopes, g->scope, sizeof g->scope) &&
            take_int(doc, "epoch", 0, UINT32_MAX, &epoch) &&
            take_int(doc, "created", 0, INT64_MAX, &created);
  for (size_t i = 0; ok && i < n; i++) {
    const json_t *m = json_array_get(members, i);
    cpns_group_member_t *x = &g->members[i];
    ok = json_is_object(m) && take_str(m, "id", x->id, sizeof x->id, true, false) &&
         take_str(m, "pn", x->pn, sizeof x->pn, true, true) &&
         take_word(m, "state", states, x->state, sizeof x->state);
  }
  json_decref(doc);
  if (!ok) {
    cpns_group_free(g);
    return CPNS_ERR_PROTO;
  }
  g->open = json_is_true(open);
  g->epoch = (uint32_t)epoch;
  g->created = (int64_t)created;
  g->count = n;
  *out = g;
  return 0;
}

int cpns_group_get(cpns_client_t *c, const char *id, cpns_group_t **out) {
  if (out) *out = NULL;
  if (!c || !out || !client_api__id_ok(id)) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 8];
  snprintf(path, sizeof path, "groups/%s", id);
  char *answer = NULL;
  int rc = cpns_client_request(c, "GET", path, NULL, NULL, &answer);
  if (!rc) rc = client_groups__decode_group(answer, id, out);
  cpns_free(answer);
  return rc;
}

void cpns_group_free(cpns_group_t *g) {
  if (!g) return;
  free(g->members);
  free(g);
}

/* ---- keys ---- */

static void to_private(const cpns_group_key_t *k, struct cpns_group_key *p) {
  memcpy(p->group, k->group, sizeof p->group);
  p->epoch = k->epoch;
  p->expires = k->expires;
  memcpy(p->key, k->key, sizeof p->key);
}

int client_groups__decode_key(const char *text, const char *id, cpns_group_key_t *out) {
  json_t *doc;
  int rc = client_api__parse(text, &doc);
  if (rc) return rc;
  struct cpns_group_key p;
  char err[128];
  /* Strict: exactly group, epoch, exp and a canonical 32-byte key. */
  rc = cpns_group_key_from_json(doc, &p, err, sizeof err) ? CPNS_ERR_PROTO : 0;
  if (!rc && strcmp(p.group, id) != 0) rc = CPNS_ERR_PROTO;
  if (!rc) {
    memset(out, 0, sizeof *out);
    memcpy(out->group, p.group, sizeof out->group);
    out->epoch = p.epoch;
    out->expires = p.expires;
    memcpy(out->key, p.key, sizeof out->key);
  }
  cpns_group_key_wipe(&p);
  client_api__wipe_json_string(json_object_get(doc, "key"));
  json_decref(doc);
  return rc;
}

int cpns_group_key_get(cpns_client_t *c, const char *id, cpns_group_key_t *out) {
  if (out) OPENSSL_cleanse(out, sizeof *out);
  if (!c || !out || !client_api__id_ok(id)) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 8];
  snprintf(path, sizeof path, "groups/%s/key", id);
  char *answer = NULL;
  int rc = cpns_client_request(c, "GET", path, NULL, NULL, &answer);
  if (!rc) rc = client_groups__decode_key(answer, id, out);
  client_api__free_secret_text(answer);
  return rc;
}

void cpns_group_key_cleanup(cpns_group_key_t *k) {
  if (k) OPENSSL_cleanse(k, sizeof *k);
}

/* ---- content ---- */

int cpns_group_key_seal(const cpns_group_key_t *k, const uint8_t *aad, size_t aadlen,
                        const uint8_t *pt, size_t ptlen, uint8_t **out, size_t *outlen) {
  if (out) *out = NULL;
  if (outlen) *outlen = 0;
  if (!k || !out || !outlen || !client_api__id_ok(k->group)) return CPNS_ERR_INVAL;
  /* groupkey.c leaves the expiry to the sender: a key past it is refused
   * here, so that nothing is sealed that members would no longer open. */
  if (k->expires != 0 && (int64_t)time(NULL) >= k->expires) return CPNS_ERR_DENIED;
  struct cpns_group_key p;
  to_private(k, &p);
  int rc = cpns_group_seal(&p, aad, aadlen, pt, ptlen, out, outlen);
  cpns_group_key_wipe(&p);
  return rc;
}

int cpns_group_key_open(const cpns_group_key_t *k, const uint8_t *aad, size_t aadlen,
                        const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen) {
  if (out) *out = NULL;
  if (outlen) *outlen = 0;
  if (!k || !out || !outlen) return CPNS_ERR_INVAL;
  struct cpns_group_key p;
  to_private(k, &p);
  int64_t now = (int64_t)time(NULL);
  int rc = cpns_group_open(&p, now > 0 ? now : 1, aad, aadlen, in, inlen, out, outlen);
  cpns_group_key_wipe(&p);
  return rc;
}

int cpns_group_message_info(const uint8_t *in, size_t inlen, char group[CPNS_ID_MAX + 1],
                            uint32_t *epoch) {
  if (!in || !group || !epoch) return CPNS_ERR_INVAL;
  return cpns_group_sealed_info(in, inlen, group, epoch);
}
