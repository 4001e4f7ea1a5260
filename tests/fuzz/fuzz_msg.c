/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/msg.c. The first byte picks the decoder (odd: CBOR,
 * even: JSON, as in fuzz_codec.c, so seeds can start with 'c' or 'j'); the
 * rest is a request body. Whatever decodes goes through every schema: the
 * registration body in both modes, the PN body, roles and the field
 * readers. Besides not crashing, the results must hold together: a failure
 * says why and uses a documented code, a success leaves every field within
 * its limits and the path fields untouched, and what cpns_msg_entity() and
 * cpns_msg_pn() make of a parsed record parses back to the same record.
 * Any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/cpns.h>

#include "codec.h"
#include "msg.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fail(int rc, const char *err) {
  if (rc != CPNS_ERR_INVAL && rc != CPNS_ERR_TOOBIG) abort();
  if (err[0] == '\0') abort();
}

static void check_terminated(const char *s, size_t size) {
  if (!memchr(s, '\0', size)) abort();
}

static void fresh_entity(struct cpns_entity_rec *e) {
  memset(e, 0, sizeof *e);
  memcpy(e->pn, "path-pn", 8);
  memcpy(e->id, "path-id", 8);
  e->roles = CPNS_ROLE_PNE;
  e->state = CPNS_STATE_ADDED;
  e->lifetime = 60;
  e->registered_at = 1;
  e->updated_at = 2;
  e->expires_at = 3;
}

static void check_entity(const struct cpns_entity_rec *e) {
  check_terminated(e->name, sizeof e->name);
  check_terminated(e->device_type, sizeof e->device_type);
  check_terminated(e->addr, sizeof e->addr);
  if (strcmp(e->pn, "path-pn") != 0 || strcmp(e->id, "path-id") != 0) abort();
  if (e->registered_at != 1 || e->updated_at != 2 || e->expires_at != 3) abort();
  if (e->lifetime < CPNS_LIFETIME_MIN || e->lifetime > CPNS_LIFETIME_MAX) abort();
  if (e->roles == 0 || (e->roles & ~(unsigned)(CPNS_ROLE_PNE | CPNS_ROLE_GW))) abort();
  if (e->state != CPNS_STATE_ADDED && e->state != CPNS_STATE_ONLINE &&
      e->state != CPNS_STATE_OFFLINE)
    abort();
}

/* The Entity object of a parsed record, less what a gateway does not
 * report, is a registration body that gives the same record. */
static void entity_round_trip(const struct cpns_entity_rec *e) {
  json_t *o = cpns_msg_entity(e);
  if (!o) abort();
  static const char *const drop[] = {"id", "pn", "registered", "updated", "expires"};
  for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
    if (json_object_del(o, drop[i])) abort();
  struct cpns_entity_rec back;
  fresh_entity(&back);
  back.state = e->state == CPNS_STATE_ONLINE ? CPNS_STATE_OFFLINE : CPNS_STATE_ONLINE;
  char err[160] = "";
  if (cpns_msg_parse_registration(o, &back, true, err, sizeof err)) abort();
  if (strcmp(back.name, e->name) || strcmp(back.device_type, e->device_type) ||
      strcmp(back.addr, e->addr) || back.roles != e->roles || back.state != e->state ||
      back.lifetime != e->lifetime)
    abort();
  /* and through both encodings */
  for (size_t i = 0; i < FUZZ_NCFS; i++) {
    json_t *v = fuzz_reencode(o, fuzz_cfs[i], NULL);
    if (!json_equal(v, o)) abort();
    json_decref(v);
  }
  json_decref(o);
}

static void fuzz_registration(const json_t *body, bool from_gw) {
  struct cpns_entity_rec e;
  fresh_entity(&e);
  char err[160] = "";
  int rc = cpns_msg_parse_registration(body, &e, from_gw, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    return;
  }
  check_entity(&e);
  /* the PNE's own registration cannot set what only its gateway reports */
  if (!from_gw && (e.addr[0] || e.state != CPNS_STATE_ADDED)) abort();
  entity_round_trip(&e);
}

static void fuzz_pn(const json_t *body) {
  struct cpns_pn_rec p;
  memset(&p, 0, sizeof p);
  memcpy(p.id, "path-pn", 8);
  memcpy(p.gw, "caller", 7);
  p.lifetime = 60;
  char err[160] = "";
  int rc = cpns_msg_parse_pn(body, &p, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    return;
  }
  check_terminated(p.name, sizeof p.name);
  check_terminated(p.owner, sizeof p.owner);
  if (strcmp(p.id, "path-pn") != 0 || strcmp(p.gw, "caller") != 0) abort();
  if (p.owner[0] && !cpns_valid_id(p.owner)) abort();
  if (p.lifetime < CPNS_LIFETIME_MIN || p.lifetime > CPNS_LIFETIME_MAX) abort();
  json_t *o = cpns_msg_pn(&p);
  if (!o) abort();
  static const char *const drop[] = {"id", "gw", "gw_addr", "state", "created", "updated",
                                     "expires"};
  for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
    if (json_object_del(o, drop[i])) abort();
  struct cpns_pn_rec back;
  memset(&back, 0, sizeof back);
  back.open = !p.open;
  if (cpns_msg_parse_pn(o, &back, err, sizeof err)) abort();
  if (strcmp(back.name, p.name) || strcmp(back.owner, p.owner) || back.open != p.open ||
      back.lifetime != p.lifetime)
    abort();
  json_decref(o);
}

static void fuzz_roles(const json_t *v) {
  unsigned roles = 0x5a5a;
  char err[160] = "";
  int rc = cpns_msg_parse_roles(v, &roles, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    if (roles != 0x5a5a) abort(); /* untouched */
    return;
  }
  if (roles == 0 || (roles & ~(unsigned)(CPNS_ROLE_PNE | CPNS_ROLE_GW))) abort();
  json_t *back = cpns_msg_roles(roles);
  unsigned again = 0;
  if (!back || cpns_msg_parse_roles(back, &again, err, sizeof err) || again != roles) abort();
  json_decref(back);
}

/* The field readers on one member, with a small buffer. */
static void fuzz_fields(const json_t *obj, const char *key) {
  char out[8], err[160] = "";
  memcpy(out, "keep", 5);
  int rc = cpns_msg_str(obj, key, out, sizeof out, true, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    if (strcmp(out, "keep") != 0) abort();
  } else {
    check_terminated(out, sizeof out);
  }
  long l = 12345;
  err[0] = '\0';
  rc = cpns_msg_int(obj, key, -100, 100, &l, true, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
    if (l != 12345) abort();
  } else if (l < -100 || l > 100) {
    abort();
  }
  bool b = false;
  err[0] = '\0';
  rc = cpns_msg_bool(obj, key, &b, err, sizeof err);
  if (rc) check_fail(rc, err);
  const json_t *v = json_object_get(obj, key);
  if (json_is_string(v)) (void)cpns_valid_id(json_string_value(v));
  if (json_is_array(v)) fuzz_roles(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v = fuzz_input_body(data, size);
  if (!v) return 0;
  char err[160] = "";
  fuzz_registration(v, false);
  fuzz_registration(v, true);
  fuzz_pn(v);
  fuzz_roles(v);
  static const char *const allowed[] = {"name", "type", "roles", "lt", NULL};
  int rc = cpns_msg_only(v, allowed, err, sizeof err);
  if (rc) check_fail(rc, err);
  if (json_is_object(v)) {
    const char *key;
    json_t *member;
    json_object_foreach(v, key, member) fuzz_fields(v, key);
  }
  json_decref(v);
  return 0;
}
