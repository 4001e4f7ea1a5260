/* SPDX-License-Identifier: Apache-2.0 */
/* Device capability documents (see capabilities.h): the schema as a table
 * of nodes walked by one checker, so that every field's type, range and
 * size is stated once; and JSON merge patches (RFC 7386) between documents.
 * Pure: no I/O and no clock. */
#include "capabilities.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the schema ------------------------------------------------------------ */

enum kind {
  K_OBJECT, /* fixed members, each optional */
  K_MAP,    /* NAME -> item, at most max entries */
  K_LIST,   /* [item], at most max, no repeats */
  K_INT,    /* lo..hi */
  K_BOOL,
  K_TEXT,   /* 1..len bytes, by rule */
  K_WORD,   /* one of words */
  K_ADDR,   /* a textual IPv4 or IPv6 address */
};

enum text_rule {
  T_HUMAN, /* any UTF-8 without control characters */
  T_NAME,  /* [A-Za-z0-9._+-] */
};

struct field;

struct node {
  enum kind kind;
  const struct field *fields; /* K_OBJECT: ends with a NULL name */
  const struct node *item;    /* K_MAP values, K_LIST items */
  unsigned max;               /* K_MAP, K_LIST: entries */
  long long lo, hi;           /* K_INT */
  size_t len;                 /* K_TEXT: bytes */
  enum text_rule rule;        /* K_TEXT */
  const char *const *words;   /* K_WORD: NULL-terminated */
};

struct field {
  const char *name;
  const struct node *node;
};

#define INT(l, h) {.kind = K_INT, .lo = (l), .hi = (h)}
#define TEXT(n) {.kind = K_TEXT, .len = (n), .rule = T_HUMAN}
#define NAME_TEXT {.kind = K_TEXT, .len = CPNS_CAPDOC_NAME_MAX, .rule = T_NAME}

static const char *const net_types[] = {CPNS_CAPDOC_NET_TYPES, NULL};

static const struct node n_px = INT(1, CPNS_CAPDOC_SCREEN_PX_MAX);
static const struct node n_dpi = INT(1, CPNS_CAPDOC_DPI_MAX);
static const struct node n_bool = {.kind = K_BOOL};
static const struct node n_mah = INT(1, CPNS_CAPDOC_MAH_MAX);
static const struct node n_mwh = INT(1, CPNS_CAPDOC_MWH_MAX);
static const struct node n_word = TEXT(CPNS_CAPDOC_WORD_MAX);
static const struct node n_label = TEXT(CPNS_CAPDOC_LABEL_MAX);
static const struct node n_version = TEXT(CPNS_CAPDOC_VERSION_MAX);
static const struct node n_type = TEXT(CPNS_TYPE_MAX);
static const struct node n_cores = INT(1, CPNS_CAPDOC_CORES_MAX);
static const struct node n_bytes = INT(0, CPNS_CAPDOC_BYTES_MAX);
static const struct node n_level = INT(0, 100);
static const struct node n_remaining = INT(0, CPNS_CAPDOC_REMAINING_MAX);
static const struct node n_name = NAME_TEXT;
static const struct node n_addr = {.kind = K_ADDR};
static const struct node n_net_type = {.kind = K_WORD, .words = net_types};

static const struct field f_screen[] = {
    {"width", &n_px}, {"height", &n_px}, {"dpi", &n_dpi}, {"touch", &n_bool}, {NULL, NULL}};
static const struct field f_battery_hw[] = {{"capacity_mah", &n_mah},
                                            {"capacity_mwh", &n_mwh},
                                            {"technology", &n_word},
                                            {NULL, NULL}};
static const struct field f_processor[] = {
    {"model", &n_label}, {"arch", &n_word}, {"cores", &n_cores}, {NULL, NULL}};
static const struct field f_memory_total[] = {{"total", &n_bytes}, {NULL, NULL}};
static const struct node n_screen = {.kind = K_OBJECT, .fields = f_screen};
static const struct node n_battery_hw = {.kind = K_OBJECT, .fields = f_battery_hw};
static const struct node n_processor = {.kind = K_OBJECT, .fields = f_processor};
static const struct node n_memory_total = {.kind = K_OBJECT, .fields = f_memory_total};
static const struct node n_chipsets = {
    .kind = K_MAP, .item = &n_label, .max = CPNS_CAPDOC_CHIPSETS_MAX};
static const struct field f_hardware[] = {{"screen", &n_screen},
                                          {"battery", &n_battery_hw},
                                          {"processor", &n_processor},
                                          {"memory", &n_memory_total},
                                          {"chipsets", &n_chipsets},
                                          {NULL, NULL}};
static const struct node n_hardware = {.kind = K_OBJECT, .fields = f_hardware};

static const struct field f_os[] = {
    {"name", &n_version}, {"version", &n_version}, {"build", &n_label}, {NULL, NULL}};
static const struct node n_os = {.kind = K_OBJECT, .fields = f_os};
static const struct node n_apps = {.kind = K_MAP, .item = &n_version, .max = CPNS_CAPDOC_APPS_MAX};
static const struct node n_drivers = {
    .kind = K_MAP, .item = &n_version, .max = CPNS_CAPDOC_DRIVERS_MAX};
static const struct field f_software[] = {
    {"os", &n_os}, {"apps", &n_apps}, {"drivers", &n_drivers}, {NULL, NULL}};
static const struct node n_software = {.kind = K_OBJECT, .fields = f_software};

static const struct field f_static[] = {{"device_type", &n_type},
                                        {"hardware", &n_hardware},
                                        {"software", &n_software},
                                        {NULL, NULL}};
static const struct node n_static = {.kind = K_OBJECT, .fields = f_static};

static const struct node n_addrs = {.kind = K_LIST, .item = &n_addr, .max = CPNS_CAPDOC_ADDRS_MAX};
static const struct field f_network[] = {{"type", &n_net_type}, {"addrs", &n_addrs}, {NULL, NULL}};
static const struct node n_network = {.kind = K_OBJECT, .fields = f_network};
static const struct node n_networks = {
    .kind = K_MAP, .item = &n_network, .max = CPNS_CAPDOC_NETWORKS_MAX};
static const struct field f_memory_now[] = {{"available", &n_bytes}, {NULL, NULL}};
static const struct node n_memory_now = {.kind = K_OBJECT, .fields = f_memory_now};
static const struct field f_battery_now[] = {
    {"level", &n_level}, {"charging", &n_bool}, {"remaining", &n_remaining}, {NULL, NULL}};
static const struct node n_battery_now = {.kind = K_OBJECT, .fields = f_battery_now};
static const struct node n_running = {
    .kind = K_LIST, .item = &n_name, .max = CPNS_CAPDOC_RUNNING_MAX};
static const struct node n_active = {.kind = K_LIST, .item = &n_name, .max = CPNS_CAPDOC_ACTIVE_MAX};
static const struct field f_dynamic[] = {{"networks", &n_networks},
                                         {"memory", &n_memory_now},
                                         {"battery", &n_battery_now},
                                         {"running", &n_running},
                                         {"drivers", &n_active},
                                         {NULL, NULL}};
static const struct node n_dynamic = {.kind = K_OBJECT, .fields = f_dynamic};

static const struct field f_doc[] = {{"static", &n_static}, {"dynamic", &n_dynamic}, {NULL, NULL}};
static const struct node n_doc = {.kind = K_OBJECT, .fields = f_doc};

/* ---- checking ------------------------------------------------------------- */

/* A dotted path to the value being checked, for the diagnostic; cut (with
 * "...") rather than overflowing, since a diagnostic is at most 159 bytes. */
#define PATH_MAX_TEXT 96

struct ctx {
  char *err;
  size_t errlen;
};

/* Copies at most 24 bytes of s for a diagnostic, '?' for anything but
 * printable ASCII: a hostile key is never echoed whole or raw. */
static void shown(const char *s, char out[32]) {
  size_t i = 0;
  for (; s[i] && i < 24; i++) out[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'' ? s[i] : '?';
  if (s[i]) {
    memcpy(out + i, "...", 3);
    i += 3;
  }
  out[i] = '\0';
}

__attribute__((format(printf, 4, 5))) static int fail(struct ctx *c, int rc, const char *path,
                                                      const char *fmt, ...) {
  char what[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(c->err, c->errlen, "%s%s%s", path[0] ? path : "", path[0] ? ": " : "", what);
  return rc;
}

static void path_join(char out[PATH_MAX_TEXT + 1], const char *path, const char *name) {
  char s[32];
  shown(name, s);
  int n = snprintf(out, PATH_MAX_TEXT + 1, "%s%s%s", path, path[0] ? "." : "", s);
  if (n < 0 || n > PATH_MAX_TEXT) memcpy(out + PATH_MAX_TEXT - 3, "...", 4);
}

static bool name_ok(const char *s, size_t len) {
  if (len == 0 || len > CPNS_CAPDOC_NAME_MAX) return false;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '.' || ch == '_' || ch == '+' || ch == '-'))
      return false;
  }
  return true;
}

static bool human_ok(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7f) return false;
  }
  return true;
}

static int check_node(struct ctx *c, const json_t *v, const struct node *n, const char *path);

static int check_text(struct ctx *c, const json_t *v, const struct node *n, const char *path) {
  if (!json_is_string(v)) return fail(c, CPNS_ERR_INVAL, path, "must be a text");
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  if (strlen(s) != len) return fail(c, CPNS_ERR_INVAL, path, "NUL inside a text");
  if (len == 0) return fail(c, CPNS_ERR_INVAL, path, "must not be empty");
  if (len > n->len) return fail(c, CPNS_ERR_TOOBIG, path, "longer than %zu bytes", n->len);
  if (n->rule == T_NAME ? !name_ok(s, len) : !human_ok(s, len))
    return fail(c, CPNS_ERR_INVAL, path,
                n->rule == T_NAME ? "a name is [A-Za-z0-9._+-] only" : "control characters");
  return 0;
}

static int check_object(struct ctx *c, const json_t *v, const struct node *n, const char *path) {
  if (!json_is_object(v)) return fail(c, CPNS_ERR_INVAL, path, "must be a map");
  const char *key;
  json_t *m;
  json_object_foreach((json_t *)v, key, m) {
    const struct field *f = n->fields;
    while (f->name && strcmp(f->name, key) != 0) f++;
    char s[32];
    if (!f->name) {
      shown(key, s);
      return fail(c, CPNS_ERR_INVAL, path, "unknown member '%s'", s);
    }
    char sub[PATH_MAX_TEXT + 1];
    path_join(sub, path, key);
    int rc = check_node(c, m, f->node, sub);
    if (rc) return rc;
  }
  return 0;
}

static int check_map(struct ctx *c, const json_t *v, const struct node *n, const char *path) {
  if (!json_is_object(v)) return fail(c, CPNS_ERR_INVAL, path, "must be a map of names");
  if (json_object_size(v) > n->max)
    return fail(c, CPNS_ERR_TOOBIG, path, "more than %u entries", n->max);
  const char *key;
  json_t *m;
  json_object_foreach((json_t *)v, key, m) {
    char s[32];
    size_t len = strlen(key);
    if (len > CPNS_CAPDOC_NAME_MAX) {
      shown(key, s);
      return fail(c, CPNS_ERR_TOOBIG, path, "'%s': a name longer than %d bytes", s,
                  CPNS_CAPDOC_NAME_MAX);
    }
    if (!name_ok(key, len)) {
      shown(key, s);
      return fail(c, CPNS_ERR_INVAL, path, "'%s' is not a name ([A-Za-z0-9._+-], 1..%d)", s,
                  CPNS_CAPDOC_NAME_MAX);
    }
    char sub[PATH_MAX_TEXT + 1];
    path_join(sub, path, key);
    int rc = check_node(c, m, n->item, sub);
    if (rc) return rc;
  }
  return 0;
}

static int check_list(struct ctx *c, const json_t *v, const struct node *n, const char *path) {
  if (!json_is_array(v)) return fail(c, CPNS_ERR_INVAL, path, "must be a list");
  size_t count = json_array_size(v);
  if (count > n->max) return fail(c, CPNS_ERR_TOOBIG, path, "more than %u entries", n->max);
  for (size_t i = 0; i < count; i++) {
    const json_t *item = json_array_get(v, i);
    char sub[PATH_MAX_TEXT + 24];
    snprintf(sub, sizeof sub, "%.80s[%u]", path, (unsigned)i);
    int rc = check_node(c, item, n->item, sub);
    if (rc) return rc;
    /* The lists are short (at most 64): a quadratic search is cheaper than
     * sorting a copy. */
    for (size_t k = 0; k < i; k++)
      if (json_equal(json_array_get(v, k), item)) {
        char s[32];
        shown(json_string_value(item), s);
        return fail(c, CPNS_ERR_INVAL, path, "'%s' is listed twice", s);
      }
  }
  return 0;
}

static int check_node(struct ctx *c, const json_t *v, const struct node *n, const char *path) {
  if (json_is_null(v))
    return fail(c, CPNS_ERR_INVAL, path, "null is not a value (leave the member out)");
  switch (n->kind) {
  case K_OBJECT: return check_object(c, v, n, path);
  case K_MAP: return check_map(c, v, n, path);
  case K_LIST: return check_list(c, v, n, path);
  case K_INT: {
    if (!json_is_integer(v)) return fail(c, CPNS_ERR_INVAL, path, "must be an integer");
    json_int_t i = json_integer_value(v);
    if (i < n->lo || i > n->hi)
      return fail(c, CPNS_ERR_INVAL, path, "%lld is not within %lld..%lld", (long long)i, n->lo,
                  n->hi);
    return 0;
  }
  case K_BOOL:
    return json_is_boolean(v) ? 0 : fail(c, CPNS_ERR_INVAL, path, "must be true or false");
  case K_TEXT: return check_text(c, v, n, path);
  case K_WORD: {
    if (!json_is_string(v)) return fail(c, CPNS_ERR_INVAL, path, "must be a text");
    for (const char *const *w = n->words; *w; w++)
      if (strcmp(*w, json_string_value(v)) == 0 && strlen(*w) == json_string_length(v)) return 0;
    char s[32];
    shown(json_string_value(v), s);
    return fail(c, CPNS_ERR_INVAL, path, "'%s' is not a known type", s);
  }
  case K_ADDR: {
    if (!json_is_string(v)) return fail(c, CPNS_ERR_INVAL, path, "must be a text");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > CPNS_CAPDOC_ADDR_MAX)
      return fail(c, CPNS_ERR_TOOBIG, path, "longer than %d bytes", CPNS_CAPDOC_ADDR_MAX);
    unsigned char buf[16];
    if (strlen(s) != len ||
        (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1)) {
      char q[32];
      shown(s, q);
      return fail(c, CPNS_ERR_INVAL, path, "'%s' is not an IPv4 or IPv6 address", q);
    }
    return 0;
  }
  }
  return fail(c, CPNS_ERR_INVAL, path, "unexpected");
}

char *cpns_capdoc_text(const json_t *doc) {
  return doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

int cpns_capdoc_check(const json_t *doc, char *err, size_t errlen) {
  char scratch[2];
  if (!err || !errlen) {
    err = scratch;
    errlen = sizeof scratch;
  }
  err[0] = '\0';
  struct ctx c = {err, errlen};
  if (!doc) return fail(&c, CPNS_ERR_INVAL, "", "no document");
  if (!json_is_object(doc)) return fail(&c, CPNS_ERR_INVAL, "", "a capability document is a map");
  int rc = check_node(&c, doc, &n_doc, "");
  if (rc) return rc;
  /* Each collection is bounded, but not all of them may be full at once:
   * the whole is bounded too, so that it fits a stored row and an answer. */
  size_t size = json_dumpb(doc, NULL, 0, JSON_COMPACT);
  if (size == 0) return fail(&c, CPNS_ERR_INVAL, "", "cannot encode the document");
  if (size > CPNS_CAPDOC_TEXT_MAX)
    return fail(&c, CPNS_ERR_TOOBIG, "", "document of %zu bytes (as compact JSON); at most %d",
                size, CPNS_CAPDOC_TEXT_MAX);
  return 0;
}

int cpns_capdoc_parse_text(const char *text, json_t **out, char *err, size_t errlen) {
  *out = NULL;
  if (!text || strnlen(text, CPNS_CAPDOC_TEXT_MAX + 1) > CPNS_CAPDOC_TEXT_MAX) {
    snprintf(err, errlen, "%s", text ? "document text too long" : "no document");
    return text ? CPNS_ERR_TOOBIG : CPNS_ERR_INVAL;
  }
  json_error_t je;
  json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
  if (!doc) {
    snprintf(err, errlen, "not JSON: %.100s", je.text);
    return CPNS_ERR_INVAL;
  }
  int rc = cpns_capdoc_check(doc, err, errlen);
  if (rc) {
    json_decref(doc);
    return rc;
  }
  *out = doc;
  return 0;
}

/* ---- merge patches (RFC 7386) ---------------------------------------------- */

/* Adds to patch what takes object from to object to. Returns false when out
 * of memory. Documents hold no nulls, so null in a patch always means
 * "removed". */
static bool diff_into(json_t *patch, const json_t *from, const json_t *to) {
  const char *key;
  json_t *a, *b;
  json_object_foreach((json_t *)from, key, a) {
    if (!json_object_get(to, key) && json_object_set_new(patch, key, json_null())) return false;
  }
  json_object_foreach((json_t *)to, key, b) {
    a = json_object_get(from, key);
    if (a && json_equal(a, b)) continue;
    json_t *sub;
    if (a && json_is_object(a) && json_is_object(b)) {
      sub = json_object();
      if (!sub || !diff_into(sub, a, b)) {
        json_decref(sub);
        return false;
      }
    } else {
      sub = json_deep_copy(b);
    }
    if (!sub || json_object_set_new(patch, key, sub)) return false;
  }
  return true;
}

json_t *cpns_capdoc_diff(const json_t *from, const json_t *to) {
  json_t *none = from ? NULL : json_object();
  json_t *patch = json_object();
  if (!from) from = none;
  if (!patch || !from || !json_is_object(from) || !json_is_object(to) ||
      !diff_into(patch, from, to)) {
    json_decref(patch);
    patch = NULL;
  }
  json_decref(none);
  return patch;
}

bool cpns_capdoc_patch_empty(const json_t *patch) {
  return json_is_object(patch) && json_object_size(patch) == 0;
}

/* RFC 7386 §2 MergePatch(target, patch) for a patch that is an object,
 * applied to *target in place (*target may be replaced). depth counts the
 * patch's nesting. Returns 0, CPNS_ERR_INVAL (too deep) or CPNS_ERR_NOMEM. */
static int merge_into(json_t **target, const json_t *patch, unsigned depth) {
  if (depth > CPNS_CAPDOC_PATCH_DEPTH_MAX) return CPNS_ERR_INVAL;
  if (!json_is_object(*target)) {
    json_decref(*target);
    *target = json_object();
    if (!*target) return CPNS_ERR_NOMEM;
  }
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)patch, key, v) {
    if (json_is_null(v)) {
      json_object_del(*target, key);
      continue;
    }
    json_t *cur = json_object_get(*target, key);
    if (json_is_object(v) && json_is_object(cur)) {
      /* Merged in place: an object target is never replaced. */
      int rc = merge_into(&cur, v, depth + 1);
      if (rc) return rc;
      continue;
    }
    if (json_is_object(v)) {
      cur = NULL;
      int rc = merge_into(&cur, v, depth + 1);
      if (rc) {
        json_decref(cur);
        return rc;
      }
    } else {
      cur = json_deep_copy(v);
      if (!cur) return CPNS_ERR_NOMEM;
    }
    if (json_object_set_new(*target, key, cur)) return CPNS_ERR_NOMEM;
  }
  return 0;
}

int cpns_capdoc_merge(const json_t *doc, const json_t *patch, json_t **out, char *err,
                      size_t errlen) {
  *out = NULL;
  if (!json_is_object(patch)) {
    snprintf(err, errlen, "a merge patch is a map");
    return CPNS_ERR_INVAL;
  }
  json_t *target = doc ? json_deep_copy(doc) : json_object();
  if (!target) {
    snprintf(err, errlen, "out of memory");
    return CPNS_ERR_NOMEM;
  }
  int rc = merge_into(&target, patch, 1);
  if (rc) {
    snprintf(err, errlen, rc == CPNS_ERR_INVAL ? "merge patch nested deeper than %d"
                                               : "out of memory",
             CPNS_CAPDOC_PATCH_DEPTH_MAX);
    json_decref(target);
    return rc;
  }
  rc = cpns_capdoc_check(target, err, errlen);
  if (rc) {
    json_decref(target);
    return rc;
  }
  *out = target;
  return 0;
}
