/* SPDX-License-Identifier: Apache-2.0 */
/* PN registration and management message schemas (see msg.h). */
#include "msg.h"

#include <string.h>

bool cpns_valid_id(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > CPNS_ID_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return false;
  }
  return true;
}

int cpns_msg_str(const json_t *obj, const char *key, char *out, size_t outsize, bool required,
                 char *err, size_t errlen) {
  json_t *v = json_object_get(obj, key);
  if (!v) {
    if (!required) return 0;
    snprintf(err, errlen, "'%s' is required", key);
    return CPNS_ERR_INVAL;
  }
  if (!json_is_string(v)) {
    snprintf(err, errlen, "'%s' must be a text string", key);
    return CPNS_ERR_INVAL;
  }
  size_t len = json_string_length(v);
  if (len >= outsize) {
    snprintf(err, errlen, "'%s' is longer than %zu bytes", key, outsize - 1);
    return CPNS_ERR_TOOBIG;
  }
  memcpy(out, json_string_value(v), len + 1);
  return 0;
}

int cpns_msg_int(const json_t *obj, const char *key, long lo, long hi, long *out, bool required,
                 char *err, size_t errlen) {
  json_t *v = json_object_get(obj, key);
  if (!v) {
    if (!required) return 0;
    snprintf(err, errlen, "'%s' is required", key);
    return CPNS_ERR_INVAL;
  }
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
    snprintf(err, errlen, "'%s' must be an integer in %ld..%ld", key, lo, hi);
    return CPNS_ERR_INVAL;
  }
  *out = (long)json_integer_value(v);
  return 0;
}

int cpns_msg_bool(const json_t *obj, const char *key, bool *out, char *err, size_t errlen) {
  json_t *v = json_object_get(obj, key);
  if (!v) return 0;
  if (!json_is_boolean(v)) {
    snprintf(err, errlen, "'%s' must be true or false", key);
    return CPNS_ERR_INVAL;
  }
  *out = json_is_true(v);
  return 0;
}

int cpns_msg_only(const json_t *obj, const char *const *allowed, char *err, size_t errlen) {
  if (!json_is_object(obj)) {
    snprintf(err, errlen, "the body must be a map");
    return CPNS_ERR_INVAL;
  }
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    bool ok = false;
    for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(*a, key) == 0;
    if (!ok) {
      snprintf(err, errlen, "unknown member '%.40s'", key);
      return CPNS_ERR_INVAL;
    }
  }
  return 0;
}

json_t *cpns_msg_roles(unsigned roles) {
  json_t *a = json_array();
  if (roles & CPNS_ROLE_PNE) json_array_append_new(a, json_string("pne"));
  if (roles & CPNS_ROLE_GW) json_array_append_new(a, json_string("gw"));
  return a;
}

int cpns_msg_parse_roles(const json_t *arr, unsigned *roles, char *err, size_t errlen) {
  if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 2) {
    snprintf(err, errlen, "'roles' must be a list of \"pne\" and/or \"gw\"");
    return CPNS_ERR_INVAL;
  }
  unsigned r = 0;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    const char *s = json_string_value(v);
    if (s && strcmp(s, "pne") == 0) r |= CPNS_ROLE_PNE;
    else if (s && strcmp(s, "gw") == 0) r |= CPNS_ROLE_GW;
    else {
      snprintf(err, errlen, "unknown role in 'roles'");
      return CPNS_ERR_INVAL;
    }
  }
  *roles = r;
  return 0;
}

static json_t *time_or_null(int64_t t) { return t ? json_integer(t) : json_null(); }

json_t *cpns_msg_entity(const struct cpns_entity_rec *e) {
  return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:I, s:o, s:o, s:o}", "id", e->id, "pn",
                   e->pn, "name", e->name, "type", e->device_type, "roles", cpns_msg_roles(e->roles),
                   "state", cpns_entity_state_name(e->state), "addr", e->addr, "lt",
                   (json_int_t)e->lifetime, "registered", time_or_null(e->registered_at), "updated",
                   time_or_null(e->updated_at), "expires",
                   time_or_null(e->expires_at == INT64_MAX ? 0 : e->expires_at));
}

json_t *cpns_msg_pn(const struct cpns_pn_rec *p) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:I, s:o, s:o, s:o}", "id", p->id, "name",
                   p->name, "owner", p->owner, "gw", p->gw, "gw_addr", p->gw_addr, "open", p->open,
                   "state", cpns_entity_state_name(p->state), "lt", (json_int_t)p->lifetime,
                   "created", time_or_null(p->created_at), "updated", time_or_null(p->updated_at),
                   "expires", time_or_null(p->expires_at == INT64_MAX ? 0 : p->expires_at));
}

int cpns_msg_parse_registration(const json_t *body, struct cpns_entity_rec *e, bool from_gw,
                                char *err, size_t errlen) {
  static const char *const pne_fields[] = {"name", "type", "roles", "lt", NULL};
  static const char *const gw_fields[] = {"name", "type", "roles", "lt", "state", "addr", NULL};
  if (!body) {
    snprintf(err, errlen, "a body is required");
    return CPNS_ERR_INVAL;
  }
  int rc = cpns_msg_only(body, from_gw ? gw_fields : pne_fields, err, errlen);
  if (!rc) rc = cpns_msg_str(body, "name", e->name, sizeof e->name, false, err, errlen);
  if (!rc) rc = cpns_msg_str(body, "type", e->device_type, sizeof e->device_type, false, err, errlen);
  long lt = e->lifetime;
  if (!rc) rc = cpns_msg_int(body, "lt", CPNS_LIFETIME_MIN, CPNS_LIFETIME_MAX, &lt, false, err, errlen);
  e->lifetime = (uint32_t)lt;
  json_t *roles = json_object_get(body, "roles");
  if (!rc && roles) rc = cpns_msg_parse_roles(roles, &e->roles, err, errlen);
  if (!rc && from_gw) {
    char state[16] = "";
    rc = cpns_msg_str(body, "state", state, sizeof state, false, err, errlen);
    if (!rc && state[0]) {
      int s = cpns_entity_state_parse(state);
      if (s < 0) {
        snprintf(err, errlen, "'state' must be added, online or offline");
        return CPNS_ERR_INVAL;
      }
      e->state = (enum cpns_entity_state)s;
    }
    if (!rc) rc = cpns_msg_str(body, "addr", e->addr, sizeof e->addr, false, err, errlen);
  }
  return rc;
}

int cpns_msg_parse_pn(const json_t *body, struct cpns_pn_rec *p, char *err, size_t errlen) {
  static const char *const fields[] = {"name", "owner", "open", "lt", NULL};
  if (!body) {
    snprintf(err, errlen, "a body is required");
    return CPNS_ERR_INVAL;
  }
  int rc = cpns_msg_only(body, fields, err, errlen);
  if (!rc) rc = cpns_msg_str(body, "name", p->name, sizeof p->name, false, err, errlen);
  if (!rc) rc = cpns_msg_str(body, "owner", p->owner, sizeof p->owner, false, err, errlen);
  if (!rc) rc = cpns_msg_bool(body, "open", &p->open, err, errlen);
  long lt = p->lifetime;
  if (!rc) rc = cpns_msg_int(body, "lt", CPNS_LIFETIME_MIN, CPNS_LIFETIME_MAX, &lt, false, err, errlen);
  p->lifetime = (uint32_t)lt;
  if (!rc && p->owner[0] && !cpns_valid_id(p->owner)) {
    snprintf(err, errlen, "'owner' must be an id ([A-Za-z0-9._-], 1..64)");
    rc = CPNS_ERR_INVAL;
  }
  return rc;
}
