/* SPDX-License-Identifier: Apache-2.0 */
/* Service descriptions, device capabilities, requirements and lookup
 * queries of the Metadata Directory (see service.h): decoders that bound
 * every field and say what was wrong, encoders that give back what the
 * decoders read, and the matching rules. Pure: no I/O and no clock. */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

/* Members of a service document the server sets itself: refused in a body,
 * with a word on why, so that an offerer never believes it chose them. */
static const char *const server_fields[] = {"id", "offerer", "pn", "created", "updated",
                                            "expires", NULL};

const char *cpns_match_name(enum cpns_match m) {
  switch (m) {
  case CPNS_MATCH_ALL: return "all";
  case CPNS_MATCH_ANY: return "any";
  case CPNS_MATCH_PREFIX: return "prefix";
  }
  return "?";
}

const char *cpns_visibility_name(enum cpns_visibility v) {
  return v == CPNS_VIS_PUBLIC ? "public" : "pn";
}

static bool listed(const char *const *list, const char *s) {
  for (; *list; list++)
    if (strcmp(*list, s) == 0) return true;
  return false;
}

/* Folds a token of len bytes into out (size max + 1): ASCII letters (folded),
 * digits and the marks in extra. */
static int token_normalize(const char *in, size_t len, size_t max, const char *extra, char *out) {
  if (len == 0) return CPNS_ERR_INVAL;
  if (len > max) return CPNS_ERR_TOOBIG;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr(extra, c))))
      return CPNS_ERR_INVAL;
    out[i] = c;
  }
  out[len] = '\0';
  return 0;
}

#define KEYWORD_MARKS "-_."
#define TEXT_MARKS "-_.+/"
#define NAME_MARKS "_"

int cpns_keyword_normalize(const char *in, size_t len, char out[CPNS_KEYWORD_MAX + 1]) {
  if (!in) return CPNS_ERR_INVAL;
  return token_normalize(in, len, CPNS_KEYWORD_MAX, KEYWORD_MARKS, out);
}

static int keyword_cmp(const void *a, const void *b) { return strcmp(a, b); }

/* Sorts n keywords of CPNS_KEYWORD_MAX + 1 bytes and drops repeats; returns
 * how many are left. */
static unsigned sort_unique(char (*kw)[CPNS_KEYWORD_MAX + 1], unsigned n) {
  if (n == 0) return 0;
  qsort(kw, n, sizeof kw[0], keyword_cmp);
  unsigned out = 1;
  for (unsigned i = 1; i < n; i++)
    if (strcmp(kw[i], kw[out - 1]) != 0) memmove(kw[out++], kw[i], sizeof kw[0]);
  /* Equal lists are equal bytes: no stale keyword behind the last. */
  memset(kw[out], 0, (n - out) * sizeof kw[0]);
  return out;
}

/* Text a person reads: at least one byte unless may_be_empty, no control
 * characters but, where allow_breaks, tab and newline. The codec has
 * already checked that it is UTF-8. */
static bool human_text_ok(const char *s, bool allow_breaks) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == 0x7f) return false;
    if (*p < 0x20 && !(allow_breaks && (*p == '\n' || *p == '\t'))) return false;
  }
  return true;
}

/* "scheme:rest" with an RFC 3986 scheme and printable ASCII only: a URI
 * that a consumer can use as given, never a place for markup or spaces. */
static bool uri_ok(const char *s) {
  const char *colon = strchr(s, ':');
  if (!colon || colon == s || !colon[1]) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
  for (const char *p = s + 1; p < colon; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '-' || c == '.'))
      return false;
  }
  for (const unsigned char *p = (const unsigned char *)colon + 1; *p; p++)
    if (*p <= 0x20 || *p >= 0x7f) return false;
  return true;
}

/* ---- capability values --------------------------------------------------- */

/* One JSON scalar as a capability value: an integer within
 * CPNS_CAP_INT_LIMIT, true/false, or a token. what names it in errors. */
static int value_from_json(const json_t *v, struct cpns_cap_value *out, const char *what,
                           char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    if (i > CPNS_CAP_INT_LIMIT || i < -CPNS_CAP_INT_LIMIT) {
      snprintf(err, errlen, "%s: integers must lie within +-%lld", what, CPNS_CAP_INT_LIMIT);
      return CPNS_ERR_INVAL;
    }
    out->kind = CPNS_CAP_INT;
    out->i = i;
    return 0;
  }
  if (json_is_boolean(v)) {
    out->kind = CPNS_CAP_BOOL;
    out->i = json_is_true(v);
    return 0;
  }
  if (json_is_string(v)) {
    out->kind = CPNS_CAP_TEXT;
    int rc = token_normalize(json_string_value(v), json_string_length(v), CPNS_CAP_TEXT_MAX,
                             TEXT_MARKS, out->text);
    if (rc == CPNS_ERR_TOOBIG)
      snprintf(err, errlen, "%s: a value is longer than %d bytes", what, CPNS_CAP_TEXT_MAX);
    else if (rc)
      snprintf(err, errlen, "%s: values are tokens of [a-z0-9._+/-]", what);
    return rc;
  }
  snprintf(err, errlen, "%s: a value must be an integer, true, false or a text", what);
  return CPNS_ERR_INVAL;
}

static json_t *value_to_json(const struct cpns_cap_value *v) {
  switch (v->kind) {
  case CPNS_CAP_INT: return json_integer(v->i);
  case CPNS_CAP_BOOL: return json_boolean(v->i);
  case CPNS_CAP_TEXT: return json_string(v->text);
  }
  return json_null();
}

static bool value_eq(const struct cpns_cap_value *a, const struct cpns_cap_value *b) {
  if (a->kind != b->kind) return false;
  return a->kind == CPNS_CAP_TEXT ? strcmp(a->text, b->text) == 0 : a->i == b->i;
}

/* A capability or requirement name: [a-z0-9_] (upper case folded). */
static int cap_name(const char *in, char *out, const char *what, char *err, size_t errlen) {
  int rc = token_normalize(in, strlen(in), CPNS_CAP_NAME_MAX, NAME_MARKS, out);
  if (rc == CPNS_ERR_TOOBIG)
    snprintf(err, errlen, "%s: a name is longer than %d bytes", what, CPNS_CAP_NAME_MAX);
  else if (rc)
    snprintf(err, errlen, "%s: names are made of [a-z0-9_]", what);
  return rc;
}

/* A list of 1..CPNS_CAP_VALUES_MAX values; texts_only for "has" and device lists. */
static int values_from_json(const json_t *arr, bool texts_only, struct cpns_cap_value *vals,
                            unsigned *n, const char *what, char *err, size_t errlen) {
  if (!json_is_array(arr) || json_array_size(arr) == 0 ||
      json_array_size(arr) > CPNS_CAP_VALUES_MAX) {
    snprintf(err, errlen, "%s: expected a list of 1..%d values", what, CPNS_CAP_VALUES_MAX);
    return json_is_array(arr) && json_array_size(arr) ? CPNS_ERR_TOOBIG : CPNS_ERR_INVAL;
  }
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    int rc = value_from_json(v, &vals[i], what, err, errlen);
    if (rc) return rc;
    if (texts_only && vals[i].kind != CPNS_CAP_TEXT) {
      snprintf(err, errlen, "%s: the list must hold texts", what);
      return CPNS_ERR_INVAL;
    }
  }
  *n = (unsigned)json_array_size(arr);
  return 0;
}

/* ---- device capabilities ------------------------------------------------- */

static int cap_cmp(const void *a, const void *b) {
  return strcmp(((const struct cpns_cap *)a)->name, ((const struct cpns_cap *)b)->name);
}

static const struct cpns_cap *caps_find(const struct cpns_caps *caps, const char *name) {
  for (unsigned i = 0; i < caps->n; i++)
    if (strcmp(caps->cap[i].name, name) == 0) return &caps->cap[i];
  return NULL;
}

/* Sorted by name, so that two equal sets encode alike; a name given twice
 * is refused. */
static int caps_finish(struct cpns_caps *caps, char *err, size_t errlen) {
  qsort(caps->cap, caps->n, sizeof caps->cap[0], cap_cmp);
  for (unsigned i = 1; i < caps->n; i++)
    if (strcmp(caps->cap[i].name, caps->cap[i - 1].name) == 0) {
      snprintf(err, errlen, "'caps': '%s' is given twice", caps->cap[i].name);
      return CPNS_ERR_INVAL;
    }
  return 0;
}

int cpns_caps_parse_json(const json_t *obj, struct cpns_caps *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(obj)) {
    snprintf(err, errlen, "'caps' must be a map of capability names to values");
    return CPNS_ERR_INVAL;
  }
  if (json_object_size(obj) > CPNS_CAPS_MAX) {
    snprintf(err, errlen, "'caps' has more than %d capabilities", CPNS_CAPS_MAX);
    return CPNS_ERR_TOOBIG;
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    struct cpns_cap *c = &out->cap[out->n];
    int rc = cap_name(k, c->name, "'caps'", err, errlen);
    if (!rc && json_is_array(v)) {
      c->list = true;
      rc = values_from_json(v, true, c->vals, &c->nvals, "'caps'", err, errlen);
    } else if (!rc) {
      c->nvals = 1;
      rc = value_from_json(v, &c->vals[0], "'caps'", err, errlen);
    }
    if (rc) return rc;
    out->n++;
  }
  return caps_finish(out, err, errlen);
}

int cpns_caps_parse_text(const char *text, struct cpns_caps *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const char *p = text;
  if (!*p) {
    snprintf(err, errlen, "'caps' is empty");
    return CPNS_ERR_INVAL;
  }
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *colon = memchr(p, ':', len);
    if (!colon || colon == p || colon == p + len - 1) {
      snprintf(err, errlen, "'caps': expected name:value[,name:value...]");
      return CPNS_ERR_INVAL;
    }
    char name[CPNS_CAP_NAME_MAX + 1] = ""; /* copied whole: no stale bytes */
    size_t nlen = (size_t)(colon - p), vlen = len - nlen - 1;
    int rc = token_normalize(p, nlen, CPNS_CAP_NAME_MAX, NAME_MARKS, name);
    if (rc) {
      snprintf(err, errlen, "'caps': names are 1..%d bytes of [a-z0-9_]", CPNS_CAP_NAME_MAX);
      return rc;
    }
    struct cpns_cap_value val;
    memset(&val, 0, sizeof val);
    char buf[CPNS_CAP_TEXT_MAX + 1];
    if (vlen > CPNS_CAP_TEXT_MAX) {
      snprintf(err, errlen, "'caps': a value is longer than %d bytes", CPNS_CAP_TEXT_MAX);
      return CPNS_ERR_TOOBIG;
    }
    memcpy(buf, colon + 1, vlen);
    buf[vlen] = '\0';
    char *num_end = NULL;
    long long i = strtoll(buf, &num_end, 10);
    bool numeric = (buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')) && *num_end == '\0';
    if (numeric) {
      if (i > CPNS_CAP_INT_LIMIT || i < -CPNS_CAP_INT_LIMIT) {
        snprintf(err, errlen, "'caps': integers must lie within +-%lld", CPNS_CAP_INT_LIMIT);
        return CPNS_ERR_INVAL;
      }
      val.kind = CPNS_CAP_INT;
      val.i = i;
    } else if (strcmp(buf, "true") == 0 || strcmp(buf, "false") == 0) {
      val.kind = CPNS_CAP_BOOL;
      val.i = buf[0] == 't';
    } else {
      val.kind = CPNS_CAP_TEXT;
      if (token_normalize(buf, vlen, CPNS_CAP_TEXT_MAX, TEXT_MARKS, val.text)) {
        snprintf(err, errlen, "'caps': values are integers, true, false or tokens of [a-z0-9._+/-]");
        return CPNS_ERR_INVAL;
      }
    }
    struct cpns_cap *c = NULL;
    for (unsigned k = 0; k < out->n && !c; k++)
      if (strcmp(out->cap[k].name, name) == 0) c = &out->cap[k];
    if (c) {
      /* A repeated name makes a list, of texts like any device list. */
      if (c->nvals >= CPNS_CAP_VALUES_MAX) {
        snprintf(err, errlen, "'caps': '%s' has more than %d values", name, CPNS_CAP_VALUES_MAX);
        return CPNS_ERR_TOOBIG;
      }
      if (val.kind != CPNS_CAP_TEXT || c->vals[0].kind != CPNS_CAP_TEXT) {
        snprintf(err, errlen, "'caps': only texts may be repeated ('%s')", name);
        return CPNS_ERR_INVAL;
      }
      c->list = true;
      c->vals[c->nvals++] = val;
    } else {
      if (out->n >= CPNS_CAPS_MAX) {
        snprintf(err, errlen, "'caps' has more than %d capabilities", CPNS_CAPS_MAX);
        return CPNS_ERR_TOOBIG;
      }
      c = &out->cap[out->n++];
      memcpy(c->name, name, sizeof c->name);
      c->nvals = 1;
      c->vals[0] = val;
    }
    p += len;
    if (*p == ',') {
      p++;
      if (!*p) {
        snprintf(err, errlen, "'caps' ends with a comma");
        return CPNS_ERR_INVAL;
      }
    }
  }
  return caps_finish(out, err, errlen);
}

json_t *cpns_caps_to_json(const struct cpns_caps *caps) {
  json_t *o = json_object();
  for (unsigned i = 0; o && i < caps->n; i++) {
    const struct cpns_cap *c = &caps->cap[i];
    json_t *v;
    if (c->list) {
      v = json_array();
      for (unsigned k = 0; v && k < c->nvals; k++) json_array_append_new(v, value_to_json(&c->vals[k]));
    } else {
      v = value_to_json(&c->vals[0]);
    }
    json_object_set_new(o, c->name, v);
  }
  return o;
}

/* ---- requirements -------------------------------------------------------- */

static int req_cmp(const void *a, const void *b) {
  return strcmp(((const struct cpns_requirement *)a)->cap,
                ((const struct cpns_requirement *)b)->cap);
}

static int bound_from_json(const json_t *v, int64_t *out, char *err, size_t errlen) {
  if (!json_is_integer(v) || json_integer_value(v) > CPNS_CAP_INT_LIMIT ||
      json_integer_value(v) < -CPNS_CAP_INT_LIMIT) {
    snprintf(err, errlen, "'requires': min and max are integers within +-%lld", CPNS_CAP_INT_LIMIT);
    return CPNS_ERR_INVAL;
  }
  *out = json_integer_value(v);
  return 0;
}

/* One requirement: {"min","max"} | {"has"} | {"in"} | {"eq"}. */
static int requirement_from_json(const char *name, const json_t *v, struct cpns_requirement *r,
                                 char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  int rc = cap_name(name, r->cap, "'requires'", err, errlen);
  if (rc) return rc;
  if (!json_is_object(v) || json_object_size(v) == 0) {
    snprintf(err, errlen, "'requires': '%s' must be a map such as {\"min\": 1}", r->cap);
    return CPNS_ERR_INVAL;
  }
  json_t *min = json_object_get(v, "min"), *max = json_object_get(v, "max");
  json_t *has = json_object_get(v, "has"), *in = json_object_get(v, "in"),
         *eq = json_object_get(v, "eq");
  size_t given = json_object_size(v);
  size_t known = (min != NULL) + (max != NULL) + (has != NULL) + (in != NULL) + (eq != NULL);
  bool range = min || max;
  if (known != given || (range && known != (size_t)((min != NULL) + (max != NULL))) ||
      (!range && known != 1)) {
    snprintf(err, errlen,
             "'requires': '%s' takes min and/or max, or one of has, in, eq", r->cap);
    return CPNS_ERR_INVAL;
  }
  if (range) {
    r->op = CPNS_REQ_RANGE;
    r->has_min = min != NULL;
    r->has_max = max != NULL;
    if (min && (rc = bound_from_json(min, &r->min, err, errlen))) return rc;
    if (max && (rc = bound_from_json(max, &r->max, err, errlen))) return rc;
    if (min && max && r->min > r->max) {
      snprintf(err, errlen, "'requires': '%s' has min above max", r->cap);
      return CPNS_ERR_INVAL;
    }
    return 0;
  }
  if (eq) {
    r->op = CPNS_REQ_EQ;
    r->nvals = 1;
    return value_from_json(eq, &r->vals[0], "'requires'", err, errlen);
  }
  r->op = has ? CPNS_REQ_HAS : CPNS_REQ_IN;
  return values_from_json(has ? has : in, has != NULL, r->vals, &r->nvals, "'requires'", err, errlen);
}

static int requires_from_json(const json_t *obj, struct cpns_service *s, char *err, size_t errlen) {
  if (!json_is_object(obj)) {
    snprintf(err, errlen, "'requires' must be a map of capability names to constraints");
    return CPNS_ERR_INVAL;
  }
  if (json_object_size(obj) > CPNS_SERVICE_REQUIRES_MAX) {
    snprintf(err, errlen, "'requires' has more than %d constraints", CPNS_SERVICE_REQUIRES_MAX);
    return CPNS_ERR_TOOBIG;
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    int rc = requirement_from_json(k, v, &s->requires[s->nrequires], err, errlen);
    if (rc) return rc;
    s->nrequires++;
  }
  qsort(s->requires, s->nrequires, sizeof s->requires[0], req_cmp);
  for (unsigned i = 1; i < s->nrequires; i++)
    if (strcmp(s->requires[i].cap, s->requires[i - 1].cap) == 0) {
      snprintf(err, errlen, "'requires': '%s' is given twice", s->requires[i].cap);
      return CPNS_ERR_INVAL;
    }
  return 0;
}

static json_t *values_to_json(const struct cpns_cap_value *vals, unsigned n) {
  json_t *a = json_array();
  for (unsigned i = 0; a && i < n; i++) json_array_append_new(a, value_to_json(&vals[i]));
  return a;
}

static json_t *requirement_to_json(const struct cpns_requirement *r) {
  json_t *o = json_object();
  if (!o) return NULL;
  switch (r->op) {
  case CPNS_REQ_RANGE:
    if (r->has_min) json_object_set_new(o, "min", json_integer(r->min));
    if (r->has_max) json_object_set_new(o, "max", json_integer(r->max));
    break;
  case CPNS_REQ_HAS: json_object_set_new(o, "has", values_to_json(r->vals, r->nvals)); break;
  case CPNS_REQ_IN: json_object_set_new(o, "in", values_to_json(r->vals, r->nvals)); break;
  case CPNS_REQ_EQ: json_object_set_new(o, "eq", value_to_json(&r->vals[0])); break;
  }
  return o;
}

static bool cap_holds(const struct cpns_cap *c, const struct cpns_cap_value *v) {
  for (unsigned i = 0; i < c->nvals; i++)
    if (value_eq(&c->vals[i], v)) return true;
  return false;
}

static bool requirement_met(const struct cpns_requirement *r, const struct cpns_caps *caps) {
  const struct cpns_cap *c = caps_find(caps, r->cap);
  if (!c) return false;
  switch (r->op) {
  case CPNS_REQ_RANGE:
    if (c->list || c->vals[0].kind != CPNS_CAP_INT) return false;
    return (!r->has_min || c->vals[0].i >= r->min) && (!r->has_max || c->vals[0].i <= r->max);
  case CPNS_REQ_HAS:
    /* A single text counts as a list of one. */
    for (unsigned i = 0; i < r->nvals; i++)
      if (!cap_holds(c, &r->vals[i])) return false;
    return true;
  case CPNS_REQ_IN:
    if (c->list) return false;
    for (unsigned i = 0; i < r->nvals; i++)
      if (value_eq(&c->vals[0], &r->vals[i])) return true;
    return false;
  case CPNS_REQ_EQ: return !c->list && value_eq(&c->vals[0], &r->vals[0]);
  }
  return false;
}

bool cpns_service_fits(const struct cpns_service *s, const struct cpns_caps *caps) {
  for (unsigned i = 0; i < s->nrequires; i++)
    if (!requirement_met(&s->requires[i], caps)) return false;
  return true;
}

/* ---- service descriptions ------------------------------------------------ */

static int keywords_from_json(const json_t *arr, char (*kw)[CPNS_KEYWORD_MAX + 1], unsigned max,
                              unsigned *n, const char *what, char *err, size_t errlen) {
  if (!json_is_array(arr) || json_array_size(arr) == 0) {
    snprintf(err, errlen, "'%s' must be a list of 1..%u keywords", what, max);
    return CPNS_ERR_INVAL;
  }
  if (json_array_size(arr) > max) {
    snprintf(err, errlen, "'%s' has more than %u keywords", what, max);
    return CPNS_ERR_TOOBIG;
  }
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    int rc = json_is_string(v)
                 ? cpns_keyword_normalize(json_string_value(v), json_string_length(v), kw[i])
                 : CPNS_ERR_INVAL;
    if (rc == CPNS_ERR_TOOBIG) {
      snprintf(err, errlen, "'%s': a keyword is longer than %d bytes", what, CPNS_KEYWORD_MAX);
      return rc;
    }
    if (rc) {
      snprintf(err, errlen, "'%s': keywords are texts of [A-Za-z0-9._-]", what);
      return rc;
    }
  }
  *n = sort_unique(kw, (unsigned)json_array_size(arr));
  return 0;
}

static int uris_from_json(const json_t *arr, struct cpns_service *s, char *err, size_t errlen) {
  if (!json_is_array(arr) || json_array_size(arr) == 0) {
    snprintf(err, errlen, "'uris' must be a list of 1..%d URIs", CPNS_SERVICE_URIS_MAX);
    return CPNS_ERR_INVAL;
  }
  if (json_array_size(arr) > CPNS_SERVICE_URIS_MAX) {
    snprintf(err, errlen, "'uris' has more than %d URIs", CPNS_SERVICE_URIS_MAX);
    return CPNS_ERR_TOOBIG;
  }
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (!json_is_string(v)) {
      snprintf(err, errlen, "'uris' must hold texts");
      return CPNS_ERR_INVAL;
    }
    if (json_string_length(v) > CPNS_SERVICE_URI_MAX) {
      snprintf(err, errlen, "'uris': a URI is longer than %d bytes", CPNS_SERVICE_URI_MAX);
      return CPNS_ERR_TOOBIG;
    }
    if (!uri_ok(json_string_value(v))) {
      snprintf(err, errlen, "'uris': '%.40s' is not a URI (scheme:..., printable ASCII)",
               json_string_value(v));
      return CPNS_ERR_INVAL;
    }
    memcpy(s->uris[i], json_string_value(v), json_string_length(v) + 1);
  }
  s->nuris = (unsigned)json_array_size(arr);
  return 0;
}

int cpns_service_parse(const json_t *body, struct cpns_service *out, char *err, size_t errlen) {
  static const char *const fields[] = {"name", "description", "keywords", "visibility",
                                       "requires", "uris", "lt", NULL};
  memset(out, 0, sizeof *out);
  out->visibility = CPNS_VIS_PN;
  out->lifetime = CPNS_SERVICE_LT_DEFAULT;
  if (!json_is_object(body)) {
    snprintf(err, errlen, "a service description must be a map");
    return CPNS_ERR_INVAL;
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)body, k, v) {
    if (listed(server_fields, k)) {
      snprintf(err, errlen, "'%s' is set by the server, not by the offerer", k);
      return CPNS_ERR_INVAL;
    }
    if (!listed(fields, k)) {
      snprintf(err, errlen, "unknown member '%.40s'", k);
      return CPNS_ERR_INVAL;
    }
  }
  int rc = cpns_msg_str(body, "name", out->name, sizeof out->name, true, err, errlen);
  if (!rc && (!out->name[0] || !human_text_ok(out->name, false))) {
    snprintf(err, errlen, "'name' must be a non-empty text without control characters");
    rc = CPNS_ERR_INVAL;
  }
  if (!rc)
    rc = cpns_msg_str(body, "description", out->description, sizeof out->description, false, err,
                      errlen);
  if (!rc && !human_text_ok(out->description, true)) {
    snprintf(err, errlen, "'description' holds control characters");
    rc = CPNS_ERR_INVAL;
  }
  if (rc) return rc;
  if (!json_object_get(body, "keywords")) {
    snprintf(err, errlen, "'keywords' is required");
    return CPNS_ERR_INVAL;
  }
  rc = keywords_from_json(json_object_get(body, "keywords"), out->keywords,
                          CPNS_SERVICE_KEYWORDS_MAX, &out->nkeywords, "keywords", err, errlen);
  if (rc) return rc;
  char vis[16] = "";
  if ((rc = cpns_msg_str(body, "visibility", vis, sizeof vis, false, err, errlen))) {
    snprintf(err, errlen, "'visibility' must be \"pn\" or \"public\"");
    return CPNS_ERR_INVAL;
  }
  if (vis[0] && strcmp(vis, "pn") && strcmp(vis, "public")) {
    snprintf(err, errlen, "'visibility' must be \"pn\" or \"public\"");
    return CPNS_ERR_INVAL;
  }
  if (strcmp(vis, "public") == 0) out->visibility = CPNS_VIS_PUBLIC;
  json_t *req = json_object_get(body, "requires");
  if (req && (rc = requires_from_json(req, out, err, errlen))) return rc;
  if (!json_object_get(body, "uris")) {
    snprintf(err, errlen, "'uris' is required: how consumers reach the service");
    return CPNS_ERR_INVAL;
  }
  if ((rc = uris_from_json(json_object_get(body, "uris"), out, err, errlen))) return rc;
  long lt = out->lifetime;
  rc = cpns_msg_int(body, "lt", CPNS_SERVICE_LT_MIN, CPNS_SERVICE_LT_MAX, &lt, false, err, errlen);
  out->lifetime = (uint32_t)lt;
  return rc;
}

json_t *cpns_service_describe(const struct cpns_service *s) {
  json_t *kw = json_array(), *uris = json_array(), *req = json_object();
  for (unsigned i = 0; kw && i < s->nkeywords; i++) json_array_append_new(kw, json_string(s->keywords[i]));
  for (unsigned i = 0; uris && i < s->nuris; i++) json_array_append_new(uris, json_string(s->uris[i]));
  for (unsigned i = 0; req && i < s->nrequires; i++)
    json_object_set_new(req, s->requires[i].cap, requirement_to_json(&s->requires[i]));
  if (!kw || !uris || !req) {
    json_decref(kw);
    json_decref(uris);
    json_decref(req);
    return NULL;
  }
  /* json_pack steals the three with "o", also when it fails. */
  return json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:I}", "name", s->name, "description",
                   s->description, "keywords", kw, "visibility",
                   cpns_visibility_name(s->visibility), "requires", req, "uris", uris, "lt",
                   (json_int_t)s->lifetime);
}

json_t *cpns_service_to_json(const struct cpns_service *s) {
  json_t *o = cpns_service_describe(s);
  if (!o) return NULL;
  json_object_set_new(o, "id", json_string(s->id));
  json_object_set_new(o, "offerer", json_string(s->offerer));
  json_object_set_new(o, "pn", json_string(s->pn));
  json_object_set_new(o, "created", json_integer(s->created_at));
  json_object_set_new(o, "updated", json_integer(s->updated_at));
  json_object_set_new(o, "expires", json_integer(s->expires_at));
  return o;
}

bool cpns_service_visible(const struct cpns_service *s, bool see_all, const char *viewer_pn) {
  if (s->visibility == CPNS_VIS_PUBLIC || see_all) return true;
  return viewer_pn && viewer_pn[0] && s->pn[0] && strcmp(viewer_pn, s->pn) == 0;
}

/* ---- queries ------------------------------------------------------------- */

static int match_parse(const char *s, enum cpns_match *out, char *err, size_t errlen) {
  if (strcmp(s, "all") == 0) *out = CPNS_MATCH_ALL;
  else if (strcmp(s, "any") == 0) *out = CPNS_MATCH_ANY;
  else if (strcmp(s, "prefix") == 0) *out = CPNS_MATCH_PREFIX;
  else {
    snprintf(err, errlen, "'match' must be all, any or prefix");
    return CPNS_ERR_INVAL;
  }
  return 0;
}

/* What every query must hold together, whatever its form. */
static int query_check(struct cpns_service_query *q, bool match_given, char *err, size_t errlen) {
  if (match_given && q->nkw == 0) {
    snprintf(err, errlen, "'match' needs keywords ('kw')");
    return CPNS_ERR_INVAL;
  }
  if (q->match == CPNS_MATCH_PREFIX)
    for (unsigned i = 0; i < q->nkw; i++)
      if (strlen(q->kw[i]) < CPNS_PREFIX_MIN) {
        snprintf(err, errlen, "a prefix must have at least %d characters", CPNS_PREFIX_MIN);
        return CPNS_ERR_INVAL;
      }
  if (q->offerer[0] && !cpns_valid_id(q->offerer)) {
    snprintf(err, errlen, "'offerer' is not a valid id");
    return CPNS_ERR_INVAL;
  }
  if (q->pn[0] && !cpns_valid_id(q->pn)) {
    snprintf(err, errlen, "'pn' is not a valid id");
    return CPNS_ERR_INVAL;
  }
  if (q->after[0] && !cpns_valid_id(q->after)) {
    snprintf(err, errlen, "'after' is not a valid service id");
    return CPNS_ERR_INVAL;
  }
  return 0;
}

/* "a,b,c" into the query's keywords. */
static int kw_from_text(const char *v, struct cpns_service_query *q, char *err, size_t errlen) {
  const char *p = v;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (q->nkw >= CPNS_QUERY_KEYWORDS_MAX) {
      snprintf(err, errlen, "'kw' has more than %d keywords", CPNS_QUERY_KEYWORDS_MAX);
      return CPNS_ERR_TOOBIG;
    }
    int rc = cpns_keyword_normalize(p, len, q->kw[q->nkw]);
    if (rc == CPNS_ERR_TOOBIG) {
      snprintf(err, errlen, "'kw': a keyword is longer than %d bytes", CPNS_KEYWORD_MAX);
      return rc;
    }
    if (rc) {
      snprintf(err, errlen, "'kw': comma-separated keywords of [A-Za-z0-9._-]");
      return rc;
    }
    q->nkw++;
    if (!end) break;
    p = end + 1;
  }
  q->nkw = sort_unique(q->kw, q->nkw);
  return 0;
}

static int id_param(const char *key, const char *v, char *out, char *err, size_t errlen) {
  if (strlen(v) > CPNS_ID_MAX || !cpns_valid_id(v)) {
    snprintf(err, errlen, "'%s' is not a valid id", key);
    return CPNS_ERR_INVAL;
  }
  memcpy(out, v, strlen(v) + 1);
  return 0;
}

static int limit_from_long(long long v, struct cpns_service_query *q, char *err, size_t errlen) {
  if (v < 1 || v > CPNS_QUERY_LIMIT_MAX) {
    snprintf(err, errlen, "'limit' must be a number from 1");
    return CPNS_ERR_INVAL;
  }
  q->limit = (unsigned)v;
  return 0;
}

int cpns_service_query_parse_uri(const char *query, struct cpns_service_query *out, char *err,
                                 size_t errlen) {
  static const char *const keys[] = {"kw", "match", "offerer", "pn", "caps", "limit", "after", NULL};
  memset(out, 0, sizeof *out);
  unsigned seen = 0;
  const char *p = query ? query : "";
  while (*p) {
    const char *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    size_t klen = eq ? (size_t)(eq - p) : len;
    unsigned k = 0;
    while (keys[k] && !(strlen(keys[k]) == klen && strncmp(keys[k], p, klen) == 0)) k++;
    if (!keys[k]) {
      snprintf(err, errlen, "unknown query parameter '%.*s'", (int)(klen > 24 ? 24 : klen), p);
      return CPNS_ERR_INVAL;
    }
    if (seen & (1u << k)) {
      snprintf(err, errlen, "'%s' is given twice", keys[k]);
      return CPNS_ERR_INVAL;
    }
    seen |= 1u << k;
    /* The whole query is at most a few hundred bytes (CPNS_QUERY_MAX). */
    char v[512];
    size_t vlen = eq ? len - klen - 1 : 0;
    if (vlen >= sizeof v) {
      snprintf(err, errlen, "'%s' is too long", keys[k]);
      return CPNS_ERR_TOOBIG;
    }
    memcpy(v, eq ? eq + 1 : "", vlen);
    v[vlen] = '\0';
    if (!v[0]) {
      snprintf(err, errlen, "'%s' needs a value", keys[k]);
      return CPNS_ERR_INVAL;
    }
    int rc = 0;
    switch (k) {
    case 0: rc = kw_from_text(v, out, err, errlen); break;
    case 1: rc = match_parse(v, &out->match, err, errlen); break;
    case 2: rc = id_param("offerer", v, out->offerer, err, errlen); break;
    case 3: rc = id_param("pn", v, out->pn, err, errlen); break;
    case 4:
      rc = cpns_caps_parse_text(v, &out->caps, err, errlen);
      out->has_caps = rc == 0;
      break;
    case 5: {
      char *e = NULL;
      long long n = strtoll(v, &e, 10);
      if (*e || v[0] < '0' || v[0] > '9') {
        snprintf(err, errlen, "'limit' must be a number from 1");
        rc = CPNS_ERR_INVAL;
      } else {
        rc = limit_from_long(n, out, err, errlen);
      }
      break;
    }
    case 6: rc = id_param("after", v, out->after, err, errlen); break;
    }
    if (rc) return rc;
    if (!end) break;
    p = end + 1;
    if (!*p) {
      snprintf(err, errlen, "the query ends with '&'");
      return CPNS_ERR_INVAL;
    }
  }
  return query_check(out, seen & 2u, err, errlen);
}

int cpns_service_query_parse_json(const json_t *obj, bool paging, struct cpns_service_query *out,
                                  char *err, size_t errlen) {
  static const char *const fields[] = {"kw", "match", "offerer", "pn", "caps", NULL};
  static const char *const paged[] = {"kw", "match", "offerer", "pn", "caps", "limit", "after", NULL};
  memset(out, 0, sizeof *out);
  int rc = cpns_msg_only(obj, paging ? paged : fields, err, errlen);
  if (rc) return rc;
  json_t *kw = json_object_get(obj, "kw");
  if (kw && (rc = keywords_from_json(kw, out->kw, CPNS_QUERY_KEYWORDS_MAX, &out->nkw, "kw", err,
                                     errlen)))
    return rc;
  char m[16] = "";
  if (cpns_msg_str(obj, "match", m, sizeof m, false, err, errlen) ||
      (m[0] && match_parse(m, &out->match, err, errlen))) {
    snprintf(err, errlen, "'match' must be all, any or prefix");
    return CPNS_ERR_INVAL;
  }
  if ((rc = cpns_msg_str(obj, "offerer", out->offerer, sizeof out->offerer, false, err, errlen)) ||
      (rc = cpns_msg_str(obj, "pn", out->pn, sizeof out->pn, false, err, errlen)) ||
      (rc = cpns_msg_str(obj, "after", out->after, sizeof out->after, false, err, errlen)))
    return rc;
  json_t *caps = json_object_get(obj, "caps");
  if (caps) {
    if ((rc = cpns_caps_parse_json(caps, &out->caps, err, errlen))) return rc;
    out->has_caps = true;
  }
  json_t *limit = json_object_get(obj, "limit");
  if (limit) {
    if (!json_is_integer(limit)) {
      snprintf(err, errlen, "'limit' must be a number from 1");
      return CPNS_ERR_INVAL;
    }
    if ((rc = limit_from_long(json_integer_value(limit), out, err, errlen))) return rc;
  }
  /* An empty string given for an id is as wrong as a malformed one. */
  static const char *const ids[] = {"offerer", "pn", "after", NULL};
  for (const char *const *f = ids; *f; f++) {
    json_t *v = json_object_get(obj, *f);
    if (v && json_string_length(v) == 0) {
      snprintf(err, errlen, "'%s' is not a valid id", *f);
      return CPNS_ERR_INVAL;
    }
  }
  return query_check(out, m[0] != '\0', err, errlen);
}

json_t *cpns_service_query_to_json(const struct cpns_service_query *q) {
  json_t *o = json_object();
  if (!o) return NULL;
  if (q->nkw) {
    json_t *kw = json_array();
    for (unsigned i = 0; kw && i < q->nkw; i++) json_array_append_new(kw, json_string(q->kw[i]));
    json_object_set_new(o, "kw", kw);
    json_object_set_new(o, "match", json_string(cpns_match_name(q->match)));
  }
  if (q->offerer[0]) json_object_set_new(o, "offerer", json_string(q->offerer));
  if (q->pn[0]) json_object_set_new(o, "pn", json_string(q->pn));
  if (q->has_caps) json_object_set_new(o, "caps", cpns_caps_to_json(&q->caps));
  return o;
}

bool cpns_service_query_selective(const struct cpns_service_query *q) {
  return q->nkw > 0 || q->offerer[0] || q->pn[0];
}

static bool has_keyword(const struct cpns_service *s, const char *kw) {
  /* Both sides are short sorted lists: a linear pass is cheapest. */
  for (unsigned i = 0; i < s->nkeywords; i++)
    if (strcmp(s->keywords[i], kw) == 0) return true;
  return false;
}

static bool keywords_match(const struct cpns_service_query *q, const struct cpns_service *s) {
  if (q->nkw == 0) return true;
  switch (q->match) {
  case CPNS_MATCH_ALL:
    for (unsigned i = 0; i < q->nkw; i++)
      if (!has_keyword(s, q->kw[i])) return false;
    return true;
  case CPNS_MATCH_ANY:
    for (unsigned i = 0; i < q->nkw; i++)
      if (has_keyword(s, q->kw[i])) return true;
    return false;
  case CPNS_MATCH_PREFIX:
    for (unsigned i = 0; i < q->nkw; i++)
      for (unsigned j = 0; j < s->nkeywords; j++)
        if (strncmp(s->keywords[j], q->kw[i], strlen(q->kw[i])) == 0) return true;
    return false;
  }
  return false;
}

bool cpns_service_query_matches(const struct cpns_service_query *q, const struct cpns_service *s) {
  if (q->offerer[0] && strcmp(q->offerer, s->offerer) != 0) return false;
  if (q->pn[0] && strcmp(q->pn, s->pn) != 0) return false;
  if (!keywords_match(q, s)) return false;
  return !q->has_caps || cpns_service_fits(s, &q->caps);
}
