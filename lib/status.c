/* SPDX-License-Identifier: Apache-2.0 */
/* The status document (status.h): strict decoding of whole documents and of
 * partial updates, encoding, comparison and the bounded number parser shared
 * by the conditional attributes and the command line. */
#include "status.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "store.h"

/* Integral values up to 2^53 are written as JSON/CBOR integers (57, not
 * 57.0): shorter, and what a person expects to read back. */
#define STATUS_EXACT_INT_MAX 9007199254740992.0

const char *cpns_presence_name(enum cpns_presence p) {
  switch (p) {
  case CPNS_PRESENCE_ONLINE: return "online";
  case CPNS_PRESENCE_OFFLINE: return "offline";
  case CPNS_PRESENCE_BUSY: return "busy";
  case CPNS_PRESENCE_AWAY: return "away";
  }
  return "unknown";
}

int cpns_presence_parse(const char *name) {
  if (!name) return -1;
  static const enum cpns_presence all[] = {CPNS_PRESENCE_ONLINE, CPNS_PRESENCE_OFFLINE,
                                           CPNS_PRESENCE_BUSY, CPNS_PRESENCE_AWAY};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (strcmp(name, cpns_presence_name(all[i])) == 0) return (int)all[i];
  return -1;
}

bool cpns_status_attr_name_valid(const char *name) {
  if (!name) return false;
  size_t n = strnlen(name, CPNS_STATUS_ATTR_NAME_MAX + 1);
  if (n == 0 || n > CPNS_STATUS_ATTR_NAME_MAX) return false;
  if (!(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return strcmp(name, "state") != 0 && strcmp(name, "text") != 0;
}

void cpns_status_init(struct cpns_status_doc *d, enum cpns_presence s) {
  memset(d, 0, sizeof *d);
  d->state = s;
}

static void say(char *err, size_t errlen, const char *msg) {
  if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static bool value_ok(double v) { return isfinite(v) && fabs(v) <= CPNS_STATUS_VALUE_MAX; }

/* A text is printable: no control characters (it ends up in logs and
 * terminals); the codec has checked UTF-8 already. */
static bool text_ok(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

static int find_attr(const struct cpns_status_doc *d, const char *name, bool *found) {
  /* Sorted: binary search for the insertion point. */
  unsigned lo = 0, hi = d->nattrs;
  while (lo < hi) {
    unsigned mid = (lo + hi) / 2;
    int c = strcmp(d->attrs[mid].name, name);
    if (c == 0) {
      *found = true;
      return (int)mid;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  *found = false;
  return (int)lo;
}

int cpns_status_set_attr(struct cpns_status_doc *d, const char *name, double value) {
  if (!cpns_status_attr_name_valid(name) || !value_ok(value)) return CPNS_ERR_INVAL;
  bool found;
  int i = find_attr(d, name, &found);
  if (found) {
    d->attrs[i].value = value;
    return 0;
  }
  if (d->nattrs >= CPNS_STATUS_ATTRS_MAX) return CPNS_ERR_LIMIT;
  memmove(&d->attrs[i + 1], &d->attrs[i], (d->nattrs - (unsigned)i) * sizeof d->attrs[0]);
  snprintf(d->attrs[i].name, sizeof d->attrs[i].name, "%s", name);
  d->attrs[i].value = value;
  d->nattrs++;
  return 0;
}

static void remove_attr(struct cpns_status_doc *d, const char *name) {
  bool found;
  int i = find_attr(d, name, &found);
  if (!found) return;
  memmove(&d->attrs[i], &d->attrs[i + 1], (d->nattrs - (unsigned)i - 1) * sizeof d->attrs[0]);
  d->nattrs--;
}

const struct cpns_status_attr *cpns_status_get_attr(const struct cpns_status_doc *d,
                                                    const char *name) {
  if (!name) return NULL;
  bool found;
  int i = find_attr(d, name, &found);
  return found ? &d->attrs[i] : NULL;
}

static int take_state(const json_t *v, struct cpns_status_doc *d, char *err, size_t errlen) {
  int s = json_is_string(v) ? cpns_presence_parse(json_string_value(v)) : -1;
  if (s < 0) {
    say(err, errlen, "'state' must be online, offline, busy or away");
    return CPNS_ERR_INVAL;
  }
  d->state = (enum cpns_presence)s;
  return 0;
}

static int take_text(const json_t *v, struct cpns_status_doc *d, char *err, size_t errlen) {
  if (!json_is_string(v)) {
    say(err, errlen, "'text' must be a string");
    return CPNS_ERR_INVAL;
  }
  size_t n = json_string_length(v);
  const char *s = json_string_value(v);
  if (n > CPNS_STATUS_TEXT_MAX) {
    if (err && errlen) snprintf(err, errlen, "'text' is longer than %d bytes", CPNS_STATUS_TEXT_MAX);
    return CPNS_ERR_TOOBIG;
  }
  if (strlen(s) != n || !text_ok(s, n)) {
    say(err, errlen, "'text' holds control characters");
    return CPNS_ERR_INVAL;
  }
  memcpy(d->text, s, n + 1);
  return 0;
}

/* Applies "attrs": with allow_null, a null value removes the attribute. */
static int take_attrs(const json_t *v, struct cpns_status_doc *d, bool allow_null, char *err,
                      size_t errlen) {
  if (!json_is_object(v)) {
    say(err, errlen, "'attrs' must be an object of numbers");
    return CPNS_ERR_INVAL;
  }
  if (json_object_size(v) > CPNS_STATUS_ATTRS_MAX) {
    if (err && errlen) snprintf(err, errlen, "more than %d attributes", CPNS_STATUS_ATTRS_MAX);
    return CPNS_ERR_TOOBIG;
  }
  const char *k;
  json_t *x;
  json_object_foreach((json_t *)v, k, x) {
    if (!cpns_status_attr_name_valid(k)) {
      if (err && errlen)
        snprintf(err, errlen, "attribute name '%.32s' is not 1..%d bytes of [a-z0-9_-] (or is "
                              "reserved)", k, CPNS_STATUS_ATTR_NAME_MAX);
      return CPNS_ERR_INVAL;
    }
    if (json_is_null(x) && allow_null) {
      remove_attr(d, k);
      continue;
    }
    if (!json_is_number(x) || !value_ok(json_number_value(x))) {
      if (err && errlen)
        snprintf(err, errlen, "attribute '%s' must be a finite number within +-%g", k,
                 CPNS_STATUS_VALUE_MAX);
      return CPNS_ERR_INVAL;
    }
    int rc = cpns_status_set_attr(d, k, json_number_value(x));
    if (rc) {
      if (err && errlen) snprintf(err, errlen, "more than %d attributes", CPNS_STATUS_ATTRS_MAX);
      return CPNS_ERR_TOOBIG;
    }
  }
  return 0;
}

static int check_members(const json_t *body, const char *const *allowed, char *err,
                         size_t errlen) {
  if (!json_is_object(body)) {
    say(err, errlen, "a status document is an object");
    return CPNS_ERR_INVAL;
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)body, k, v) {
    bool ok = false;
    for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(*a, k) == 0;
    if (!ok) {
      if (err && errlen) snprintf(err, errlen, "unknown member '%.32s'", k);
      return CPNS_ERR_INVAL;
    }
  }
  return 0;
}

/* The finished document must encode within CPNS_STATUS_ENCODED_MAX. */
static int check_size(const struct cpns_status_doc *d, char *err, size_t errlen) {
  char buf[CPNS_STATUS_ENCODED_MAX + 1];
  if (cpns_status_to_text(d, buf, sizeof buf)) {
    if (err && errlen)
      snprintf(err, errlen, "the document would take more than %d bytes", CPNS_STATUS_ENCODED_MAX);
    return CPNS_ERR_TOOBIG;
  }
  return 0;
}

int cpns_status_decode(const json_t *body, struct cpns_status_doc *out, char *err, size_t errlen) {
  static const char *const allowed[] = {"state", "text", "attrs", "updated", NULL};
  int rc = check_members(body, allowed, err, errlen);
  if (rc) return rc;
  struct cpns_status_doc d;
  cpns_status_init(&d, CPNS_PRESENCE_ONLINE);
  json_t *v = json_object_get(body, "state");
  if (!v) {
    say(err, errlen, "'state' is required");
    return CPNS_ERR_INVAL;
  }
  if ((rc = take_state(v, &d, err, errlen))) return rc;
  if ((v = json_object_get(body, "text")) && (rc = take_text(v, &d, err, errlen))) return rc;
  if ((v = json_object_get(body, "attrs")) && (rc = take_attrs(v, &d, false, err, errlen)))
    return rc;
  if ((v = json_object_get(body, "updated"))) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > CPNS_STATUS_TIME_MAX) {
      say(err, errlen, "'updated' must be unix seconds");
      return CPNS_ERR_INVAL;
    }
    d.updated = (int64_t)json_integer_value(v);
  }
  if ((rc = check_size(&d, err, errlen))) return rc;
  *out = d;
  return 0;
}

int cpns_status_merge(const json_t *patch, struct cpns_status_doc *doc, char *err, size_t errlen) {
  static const char *const allowed[] = {"state", "text", "attrs", NULL};
  int rc = check_members(patch, allowed, err, errlen);
  if (rc) return rc;
  struct cpns_status_doc d = *doc;
  json_t *v;
  if ((v = json_object_get(patch, "state")) && (rc = take_state(v, &d, err, errlen))) return rc;
  if ((v = json_object_get(patch, "text"))) {
    if (json_is_null(v)) d.text[0] = '\0';
    else if ((rc = take_text(v, &d, err, errlen))) return rc;
  }
  if ((v = json_object_get(patch, "attrs")) && (rc = take_attrs(v, &d, true, err, errlen)))
    return rc;
  if ((rc = check_size(&d, err, errlen))) return rc;
  *doc = d;
  return 0;
}

static json_t *number(double v) {
  if (v == floor(v) && fabs(v) <= STATUS_EXACT_INT_MAX) return json_integer((json_int_t)v);
  return json_real(v);
}

json_t *cpns_status_to_json(const struct cpns_status_doc *d) {
  json_t *o = json_object();
  if (!o) return NULL;
  json_object_set_new(o, "state", json_string(cpns_presence_name(d->state)));
  if (d->text[0]) json_object_set_new(o, "text", json_string(d->text));
  if (d->nattrs) {
    json_t *a = json_object();
    for (unsigned i = 0; i < d->nattrs; i++) json_object_set_new(a, d->attrs[i].name, number(d->attrs[i].value));
    json_object_set_new(o, "attrs", a);
  }
  json_object_set_new(o, "updated", json_integer((json_int_t)d->updated));
  return o;
}

int cpns_status_to_text(const struct cpns_status_doc *d, char *buf, size_t bufsize) {
  json_t *o = cpns_status_to_json(d);
  if (!o) return CPNS_ERR_NOMEM;
  /* JSON_REAL_PRECISION(17): a double read back is the same double. */
  size_t need = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_REAL_PRECISION(17));
  int rc = 0;
  if (need == 0) rc = CPNS_ERR_NOMEM;
  else if (need >= bufsize) rc = CPNS_ERR_TOOBIG;
  else buf[json_dumpb(o, buf, bufsize, JSON_COMPACT | JSON_REAL_PRECISION(17))] = '\0';
  json_decref(o);
  return rc;
}

int cpns_status_from_text(const char *text, struct cpns_status_doc *out, char *err, size_t errlen) {
  if (!text || strnlen(text, CPNS_STATUS_ENCODED_MAX + 1) > CPNS_STATUS_ENCODED_MAX) {
    say(err, errlen, "a stored status is missing or too long");
    return CPNS_ERR_TOOBIG;
  }
  json_error_t je;
  json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
  if (!j) {
    say(err, errlen, "a stored status is not JSON");
    return CPNS_ERR_INVAL;
  }
  int rc = cpns_status_decode(j, out, err, errlen);
  json_decref(j);
  return rc;
}

bool cpns_status_same(const struct cpns_status_doc *a, const struct cpns_status_doc *b) {
  if (a->state != b->state || strcmp(a->text, b->text) != 0 || a->nattrs != b->nattrs) return false;
  for (unsigned i = 0; i < a->nattrs; i++)
    if (strcmp(a->attrs[i].name, b->attrs[i].name) != 0 || a->attrs[i].value != b->attrs[i].value)
      return false;
  return true;
}

/* A member that must be an id when present (required: and present). */
static bool report_id(const json_t *r, const char *key, bool required) {
  const json_t *v = json_object_get(r, key);
  if (!v) return !required;
  return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
         cpns_valid_id(json_string_value(v));
}

static bool report_presence(const json_t *r, const char *key) {
  const json_t *v = json_object_get(r, key);
  return !v || (json_is_string(v) && cpns_presence_parse(json_string_value(v)) >= 0);
}

static bool report_number(const json_t *r, const char *key, bool may_be_null) {
  const json_t *v = json_object_get(r, key);
  return !v || (may_be_null && json_is_null(v)) || (json_is_number(v) && value_ok(json_number_value(v)));
}

int cpns_status_report_check(const json_t *report, char *err, size_t errlen) {
  static const char *const allowed[] = {"policy", "pn",     "entity", "attr",      "value", "lt",
                                        "gt",     "state",  "became", "target",    "target_pn",
                                        "at",     NULL};
  if (!json_is_object(report)) {
    say(err, errlen, "a report is an object");
    return CPNS_ERR_INVAL;
  }
  int rc = check_members(report, allowed, err, errlen);
  if (rc) return rc;
  if (!report_id(report, "policy", true) || !report_id(report, "entity", true) ||
      !report_id(report, "target", true) || !report_id(report, "pn", false) ||
      !report_id(report, "target_pn", false)) {
    say(err, errlen, "a report names its policy, entity and target by id (pn, target_pn: ids)");
    return CPNS_ERR_INVAL;
  }
  const json_t *attr = json_object_get(report, "attr"), *at = json_object_get(report, "at");
  if (!report_presence(report, "state") || !report_presence(report, "became") ||
      (attr && !(json_is_string(attr) && cpns_status_attr_name_valid(json_string_value(attr)))) ||
      !report_number(report, "value", true) || !report_number(report, "lt", false) ||
      !report_number(report, "gt", false) ||
      (at && !(json_is_integer(at) && json_integer_value(at) >= 0 &&
               json_integer_value(at) <= CPNS_STATUS_TIME_MAX))) {
    say(err, errlen, "a report's state, became, attr, value, lt, gt or at is malformed");
    return CPNS_ERR_INVAL;
  }
  return 0;
}

/* ---- the request bodies of the server's status resources ---- */

int cpns_status_policy_decode(const json_t *b, struct cpns_policy_rec *out, char *err,
                              size_t errlen) {
  static const char *const fields[] = {"id", "entity", "attr", "lt", "gt", "state", "target",
                                       "target_pn", NULL};
  if (!json_is_object(b)) {
    say(err, errlen, "a policy is an object");
    return CPNS_ERR_INVAL;
  }
  struct cpns_policy_rec p;
  memset(&p, 0, sizeof p);
  /* cpns_msg_str says CPNS_ERR_TOOBIG for a text too long: a bad rule all
   * the same. */
  if (cpns_msg_only(b, fields, err, errlen) ||
      cpns_msg_str(b, "id", p.id, sizeof p.id, false, err, errlen) ||
      cpns_msg_str(b, "entity", p.entity, sizeof p.entity, true, err, errlen) ||
      cpns_msg_str(b, "attr", p.attr, sizeof p.attr, false, err, errlen) ||
      cpns_msg_str(b, "state", p.state, sizeof p.state, false, err, errlen) ||
      cpns_msg_str(b, "target", p.target, sizeof p.target, true, err, errlen) ||
      cpns_msg_str(b, "target_pn", p.target_pn, sizeof p.target_pn, false, err, errlen))
    return CPNS_ERR_INVAL;
  if ((p.id[0] && !cpns_valid_id(p.id)) || !cpns_valid_id(p.entity) ||
      !cpns_valid_id(p.target) || (p.target_pn[0] && !cpns_valid_id(p.target_pn))) {
    say(err, errlen, "id, entity, target and target_pn must be ids");
    return CPNS_ERR_INVAL;
  }
  const json_t *lt = json_object_get(b, "lt"), *gt = json_object_get(b, "gt");
  int kinds = (lt != NULL) + (gt != NULL) + (p.state[0] != '\0');
  if (kinds != 1) {
    say(err, errlen, "a policy has exactly one of lt, gt or state");
    return CPNS_ERR_INVAL;
  }
  if (p.state[0]) {
    if (cpns_presence_parse(p.state) < 0 || p.attr[0]) {
      say(err, errlen, "state must be online, offline, busy or away (and no attr)");
      return CPNS_ERR_INVAL;
    }
    p.op = CPNS_POLICY_STATE;
  } else {
    const json_t *t = lt ? lt : gt;
    if (!cpns_status_attr_name_valid(p.attr) || !json_is_number(t) ||
        !value_ok(json_number_value(t))) {
      say(err, errlen, "lt and gt need an attribute name and a finite number");
      return CPNS_ERR_INVAL;
    }
    p.op = lt ? CPNS_POLICY_LT : CPNS_POLICY_GT;
    p.threshold = json_number_value(t);
  }
  *out = p;
  return 0;
}

/* One update {"id", "status"} of a batch into *u (whose id is set). */
static void decode_update(const json_t *v, struct cpns_status_update *u) {
  static const char *const fields[] = {"id", "status", NULL};
  const json_t *st = json_object_get(v, "status");
  u->err[0] = '\0';
  if (!json_is_object(v) || cpns_msg_only(v, fields, u->err, sizeof u->err) || !u->id || !st) {
    if (!u->err[0]) say(u->err, sizeof u->err, "an update is {\"id\",\"status\"}");
    u->fault = CPNS_STATUS_UPDATE_SHAPE;
    u->rc = CPNS_ERR_INVAL;
    return;
  }
  if (!cpns_valid_id(u->id)) {
    snprintf(u->err, sizeof u->err, "'%.64s' is not a valid id", u->id);
    u->fault = CPNS_STATUS_UPDATE_ID;
    u->rc = CPNS_ERR_INVAL;
    return;
  }
  u->rc = cpns_status_decode(st, &u->doc, u->err, sizeof u->err);
  u->fault = u->rc ? CPNS_STATUS_UPDATE_DOC : CPNS_STATUS_UPDATE_OK;
}

int cpns_status_batch_decode(const json_t *body, struct cpns_status_update **out, size_t *n,
                             char *err, size_t errlen) {
  static const char *const fields[] = {"updates", NULL};
  const json_t *ups = json_object_get(body, "updates");
  size_t count = json_array_size(ups);
  if (!json_is_object(body) || cpns_msg_only(body, fields, err, errlen) || !json_is_array(ups) ||
      count == 0 || count > (size_t)CPNS_STATUS_BATCH_MAX) {
    snprintf(err, errlen, "expected {\"updates\":[{\"id\",\"status\"}...]} of 1..%d updates",
             CPNS_STATUS_BATCH_MAX);
    return count > (size_t)CPNS_STATUS_BATCH_MAX ? CPNS_ERR_TOOBIG : CPNS_ERR_INVAL;
  }
  struct cpns_status_update *all = calloc(count, sizeof *all);
  if (!all) {
    say(err, errlen, "out of memory");
    return CPNS_ERR_NOMEM;
  }
  for (size_t i = 0; i < count; i++) {
    const json_t *v = json_array_get(ups, i);
    all[i].id = json_string_value(json_object_get(v, "id"));
    decode_update(v, &all[i]);
  }
  *out = all;
  *n = count;
  return 0;
}

int cpns_status_parse_number(const char *s, double *out) {
  if (!s || !*s || strnlen(s, 64) >= 64) return CPNS_ERR_INVAL;
  /* Digits, one sign, one point, one exponent: strtod alone would also take
   * "inf", "nan", hex floats and leading spaces. */
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == '.' || *p == 'e' ||
          *p == 'E'))
      return CPNS_ERR_INVAL;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || !end || *end || !value_ok(v)) return CPNS_ERR_INVAL;
  *out = v;
  return 0;
}
