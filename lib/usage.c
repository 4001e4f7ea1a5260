/* SPDX-License-Identifier: Apache-2.0 */
/* Usage records, batches, preferences and summary queries (usage.h):
 * strict decoding, encoding, and the calendar arithmetic of summaries per
 * day. */
#include "usage.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "status.h"

#define USAGE_QUERY_KEYS_MAX 7 /* by, pn, service, entity, from, to, limit */
/* Bytes of one "key=value" of a summary query: an id and its key fit. */
#define USAGE_QUERY_ITEM_MAX 80
/* Bytes of the reason a record was refused, before its index is added. */
#define USAGE_REASON_MAX 128
#define USAGE_YEAR_MIN 1970
#define USAGE_YEAR_MAX 9999

_Static_assert(CPNS_USAGE_BATCH_MAX * 14 + 2 <= 1024,
               "a full batch must fit the codec's item limit");

__attribute__((format(printf, 3, 4))) static void say(char *err, size_t errlen,
                                                    const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void cpns_usage_device_init(cpns_usage_device_t *d) {
  memset(d, 0, sizeof *d);
  d->battery = -1;
  d->charging = -1;
}

void cpns_usage_rec_init(struct cpns_usage_rec *r) {
  memset(r, 0, sizeof *r);
  cpns_usage_device_init(&r->device);
}

void cpns_usage_record_init(cpns_usage_record_t *r) {
  if (!r) return;
  memset(r, 0, sizeof *r);
  cpns_usage_device_init(&r->device);
}

/* ---- field readers ---- */

/* A printable text of 1..max bytes (no control characters: it ends up in
 * logs and terminals; the codec has checked UTF-8). */
static int take_text(const json_t *v, const char *name, size_t max, char *out, char *err,
                     size_t errlen) {
  if (!json_is_string(v)) {
    say(err, errlen, "'%s' must be a string", name);
    return CPNS_ERR_INVAL;
  }
  size_t n = json_string_length(v);
  const char *s = json_string_value(v);
  if (n > max) {
    if (err && errlen) snprintf(err, errlen, "'%s' is longer than %zu bytes", name, max);
    return CPNS_ERR_TOOBIG;
  }
  if (n == 0 || strlen(s) != n) {
    say(err, errlen, "'%s' must not be empty nor hold NUL", name);
    return CPNS_ERR_INVAL;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) {
      say(err, errlen, "'%s' holds control characters", name);
      return CPNS_ERR_INVAL;
    }
  }
  memcpy(out, s, n + 1);
  return 0;
}

static int take_id(const json_t *v, const char *name, char *out, char *err, size_t errlen) {
  if (!json_is_string(v)) {
    say(err, errlen, "'%s' must be a string", name);
    return CPNS_ERR_INVAL;
  }
  const char *s = json_string_value(v);
  if (json_string_length(v) > CPNS_ID_MAX) {
    say(err, errlen, "'%s' is longer than 64 bytes", name);
    return CPNS_ERR_TOOBIG;
  }
  if (strlen(s) != json_string_length(v) || !cpns_valid_id(s)) {
    say(err, errlen, "'%s' is not an id (1..64 bytes of [A-Za-z0-9._-])", name);
    return CPNS_ERR_INVAL;
  }
  memcpy(out, s, strlen(s) + 1);
  return 0;
}

static int take_int(const json_t *v, const char *name, long long lo, long long hi, long long *out,
                    char *err, size_t errlen) {
  if (!json_is_integer(v)) {
    say(err, errlen, "'%s' must be an integer", name);
    return CPNS_ERR_INVAL;
  }
  long long x = json_integer_value(v);
  if (x < lo || x > hi) {
    if (err && errlen) snprintf(err, errlen, "'%s' must be within %lld..%lld", name, lo, hi);
    return CPNS_ERR_INVAL;
  }
  *out = x;
  return 0;
}

/* A network type: 1..CPNS_USAGE_NETWORK_MAX bytes of [a-z0-9-]. */
static bool network_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > CPNS_USAGE_NETWORK_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
      return false;
  return true;
}

int cpns_usage_device_decode(const json_t *obj, cpns_usage_device_t *out, char *err,
                             size_t errlen) {
  if (!json_is_object(obj)) {
    say(err, errlen, "'%s' must be a map", "device");
    return CPNS_ERR_INVAL;
  }
  cpns_usage_device_t d;
  cpns_usage_device_init(&d);
  const char *k;
  json_t *v;
  int rc = 0;
  long long x;
  json_object_foreach((json_t *)obj, k, v) {
    if (strcmp(k, "type") == 0) {
      rc = take_text(v, "device.type", CPNS_TYPE_MAX, d.type, err, errlen);
    } else if (strcmp(k, "battery") == 0) {
      rc = take_int(v, "device.battery", 0, 100, &x, err, errlen);
      if (!rc) d.battery = (int)x;
    } else if (strcmp(k, "charging") == 0) {
      if (!json_is_boolean(v)) {
        say(err, errlen, "'%s' must be true or false", "device.charging");
        rc = CPNS_ERR_INVAL;
      } else {
        d.charging = json_is_true(v) ? 1 : 0;
      }
    } else if (strcmp(k, "network") == 0) {
      rc = take_text(v, "device.network", CPNS_USAGE_NETWORK_MAX, d.network, err, errlen);
      if (!rc && !network_ok(d.network)) {
        say(err, errlen, "'%s' must be a network type of [a-z0-9-]", "device.network");
        rc = CPNS_ERR_INVAL;
      }
    } else if (strcmp(k, "state") == 0) {
      int s = json_is_string(v) ? cpns_presence_parse(json_string_value(v)) : -1;
      if (s < 0) {
        say(err, errlen, "'%s' must be online, offline, busy or away", "device.state");
        rc = CPNS_ERR_INVAL;
      } else {
        snprintf(d.state, sizeof d.state, "%s", cpns_presence_name((enum cpns_presence)s));
      }
    } else {
      say(err, errlen, "unknown member 'device.%s'", strlen(k) > 32 ? "..." : k);
      rc = CPNS_ERR_INVAL;
    }
    if (rc) return rc;
  }
  *out = d;
  return 0;
}

int cpns_usage_decode(const json_t *body, enum cpns_usage_form form, struct cpns_usage_rec *out,
                      char *err, size_t errlen) {
  if (!json_is_object(body)) {
    say(err, errlen, "a usage record is a %s", "map");
    return CPNS_ERR_INVAL;
  }
  struct cpns_usage_rec r;
  cpns_usage_rec_init(&r);
  bool has_start = false, has_stop = false;
  const char *k;
  json_t *v;
  int rc = 0;
  long long x;
  json_object_foreach((json_t *)body, k, v) {
    if (strcmp(k, "service") == 0) {
      rc = take_id(v, "service", r.service, err, errlen);
    } else if (strcmp(k, "start") == 0 || strcmp(k, "stop") == 0) {
      bool start = k[2] == 'a';
      rc = take_int(v, k, 0, CPNS_USAGE_TIME_MAX, &x, err, errlen);
      if (!rc && start) r.start = x, has_start = true;
      if (!rc && !start) r.stop = x, has_stop = true;
    } else if (strcmp(k, "bytes_in") == 0 || strcmp(k, "bytes_out") == 0) {
      rc = take_int(v, k, 0, (long long)CPNS_USAGE_BYTES_MAX, &x, err, errlen);
      if (!rc) *(strcmp(k, "bytes_in") == 0 ? &r.bytes_in : &r.bytes_out) = (uint64_t)x;
    } else if (strcmp(k, "device") == 0) {
      rc = cpns_usage_device_decode(v, &r.device, err, errlen);
    } else if (strcmp(k, "id") == 0 && form != CPNS_USAGE_FROM_APP) {
      rc = take_id(v, "id", r.rid, err, errlen);
    } else if (strcmp(k, "entity") == 0 && form == CPNS_USAGE_FROM_GW) {
      rc = take_id(v, "entity", r.entity, err, errlen);
    } else {
      say(err, errlen, "unknown member '%s'", strlen(k) > 32 ? "..." : k);
      rc = CPNS_ERR_INVAL;
    }
    if (rc) return rc;
  }
  const char *missing = !r.service[0]                                ? "service"
                        : !has_start                                 ? "start"
                        : !has_stop                                  ? "stop"
                        : form != CPNS_USAGE_FROM_APP && !r.rid[0]   ? "id"
                        : form == CPNS_USAGE_FROM_GW && !r.entity[0] ? "entity"
                                                                     : NULL;
  if (missing) {
    say(err, errlen, "'%s' is missing", missing);
    return CPNS_ERR_INVAL;
  }
  if (r.stop < r.start) {
    say(err, errlen, "'stop' is before '%s'", "start");
    return CPNS_ERR_INVAL;
  }
  if (r.stop - r.start > CPNS_USAGE_DURATION_MAX) {
    say(err, errlen, "a record spans at most %s seconds", "604800");
    return CPNS_ERR_INVAL;
  }
  *out = r;
  return 0;
}

int cpns_usage_batch_decode(const json_t *body, enum cpns_usage_form form,
                            struct cpns_usage_rec *out, size_t max, size_t *n, char *err,
                            size_t errlen) {
  if (max > CPNS_USAGE_BATCH_MAX) max = CPNS_USAGE_BATCH_MAX;
  const json_t *recs = json_object_get(body, "records");
  if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_array(recs)) {
    say(err, errlen, "a batch is %s", "{\"records\": [...]}");
    return CPNS_ERR_INVAL;
  }
  size_t count = json_array_size(recs);
  if (count == 0) {
    say(err, errlen, "'%s' is empty", "records");
    return CPNS_ERR_INVAL;
  }
  if (count > max) {
    if (err && errlen) snprintf(err, errlen, "more than %zu records in one batch", max);
    return CPNS_ERR_TOOBIG;
  }
  for (size_t i = 0; i < count; i++) {
    char why[USAGE_REASON_MAX];
    int rc = cpns_usage_decode(json_array_get(recs, i), form, &out[i], why, sizeof why);
    if (rc) {
      if (err && errlen) snprintf(err, errlen, "records[%zu]: %s", i, why);
      return rc;
    }
  }
  *n = count;
  return 0;
}

/* ---- encoding ---- */

json_t *cpns_usage_device_to_json(const cpns_usage_device_t *d) {
  json_t *o = json_object();
  if (!o) return NULL;
  if (d->type[0]) json_object_set_new(o, "type", json_string(d->type));
  if (d->battery >= 0) json_object_set_new(o, "battery", json_integer(d->battery));
  if (d->charging >= 0) json_object_set_new(o, "charging", json_boolean(d->charging));
  if (d->network[0]) json_object_set_new(o, "network", json_string(d->network));
  if (d->state[0]) json_object_set_new(o, "state", json_string(d->state));
  return o;
}

json_t *cpns_usage_to_json(const struct cpns_usage_rec *r, enum cpns_usage_form form) {
  json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I}", "service", r->service, "start",
                        (json_int_t)r->start, "stop", (json_int_t)r->stop, "bytes_in",
                        (json_int_t)r->bytes_in, "bytes_out", (json_int_t)r->bytes_out);
  if (!o) return NULL;
  if (form != CPNS_USAGE_FROM_APP) json_object_set_new(o, "id", json_string(r->rid));
  if (form == CPNS_USAGE_FROM_GW) json_object_set_new(o, "entity", json_string(r->entity));
  json_t *d = cpns_usage_device_to_json(&r->device);
  if (d && json_object_size(d)) json_object_set_new(o, "device", d);
  else json_decref(d);
  return o;
}

int cpns_usage_device_to_text(const cpns_usage_device_t *d, char *out, size_t size) {
  json_t *o = cpns_usage_device_to_json(d);
  char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(o);
  if (!s) return CPNS_ERR_NOMEM;
  int rc = strlen(s) < size ? 0 : CPNS_ERR_TOOBIG;
  if (!rc) memcpy(out, s, strlen(s) + 1);
  free(s);
  return rc;
}

int cpns_usage_device_from_text(const char *text, cpns_usage_device_t *out) {
  if (!text || strnlen(text, CPNS_USAGE_DEVICE_TEXT_MAX + 1) > CPNS_USAGE_DEVICE_TEXT_MAX)
    return CPNS_ERR_INVAL;
  json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  int rc = o ? cpns_usage_device_decode(o, out, NULL, 0) : CPNS_ERR_INVAL;
  json_decref(o);
  return rc ? CPNS_ERR_INVAL : 0;
}

void cpns_usage_device_fill(cpns_usage_device_t *d, const cpns_usage_device_t *with) {
  if (!d->type[0]) memcpy(d->type, with->type, sizeof d->type);
  if (d->battery < 0) d->battery = with->battery;
  if (d->charging < 0) d->charging = with->charging;
  if (!d->network[0]) memcpy(d->network, with->network, sizeof d->network);
  if (!d->state[0]) memcpy(d->state, with->state, sizeof d->state);
}

/* ---- preferences ---- */

void cpns_usage_prefs_init(struct cpns_usage_prefset *p) { memset(p, 0, sizeof *p); }

int cpns_usage_pref_parse(const char *word) {
  if (!word) return -1;
  if (strcmp(word, "allow") == 0) return 1;
  if (strcmp(word, "deny") == 0) return 0;
  return -1;
}

/* Index of service, or of where it would go (*found false). */
static size_t pref_find(const struct cpns_usage_prefset *p, const char *service, bool *found) {
  size_t lo = 0, hi = p->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(p->e[mid].service, service);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  *found = false;
  return lo;
}

int cpns_usage_prefs_set(struct cpns_usage_prefset *p, const char *service, bool allow) {
  if (!cpns_valid_id(service)) return CPNS_ERR_INVAL;
  bool found;
  size_t i = pref_find(p, service, &found);
  if (!found) {
    if (p->n >= CPNS_USAGE_PREFS_MAX) return CPNS_ERR_LIMIT;
    memmove(&p->e[i + 1], &p->e[i], (p->n - i) * sizeof p->e[0]);
    /* Whole: no bytes of the entry that was here stay behind its name. */
    memset(&p->e[i], 0, sizeof p->e[i]);
    snprintf(p->e[i].service, sizeof p->e[i].service, "%s", service);
    p->n++;
  }
  p->e[i].allow = allow;
  return 0;
}

bool cpns_usage_prefs_clear(struct cpns_usage_prefset *p, const char *service) {
  bool found;
  size_t i = cpns_valid_id(service) ? pref_find(p, service, &found) : (found = false, 0);
  if (!found) return false;
  memmove(&p->e[i], &p->e[i + 1], (p->n - i - 1) * sizeof p->e[0]);
  p->n--;
  return true;
}

bool cpns_usage_prefs_allows(const struct cpns_usage_prefset *p, const char *service,
                             bool configured_default) {
  bool found;
  size_t i = cpns_valid_id(service) ? pref_find(p, service, &found) : (found = false, 0);
  if (found) return p->e[i].allow;
  return p->default_set ? p->default_allow : configured_default;
}

int cpns_usage_prefs_decode(const json_t *body, struct cpns_usage_prefset *out, char *err,
                            size_t errlen) {
  if (!json_is_object(body)) {
    say(err, errlen, "preferences are a %s", "map");
    return CPNS_ERR_INVAL;
  }
  struct cpns_usage_prefset *p = calloc(1, sizeof *p);
  if (!p) {
    say(err, errlen, "%s", "out of memory");
    return CPNS_ERR_NOMEM;
  }
  cpns_usage_prefs_init(p);
  int rc = 0;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)body, k, v) {
    if (strcmp(k, "default") == 0) {
      int a = json_is_string(v) ? cpns_usage_pref_parse(json_string_value(v)) : -1;
      if (a < 0) {
        say(err, errlen, "'%s' must be allow or deny", "default");
        rc = CPNS_ERR_INVAL;
        break;
      }
      p->default_set = true;
      p->default_allow = a == 1;
    } else if (strcmp(k, "services") == 0) {
      if (!json_is_object(v)) {
        say(err, errlen, "'%s' must be a map", "services");
        rc = CPNS_ERR_INVAL;
        break;
      }
      if (json_object_size(v) > CPNS_USAGE_PREFS_MAX) {
        say(err, errlen, "more than %s services", "256");
        rc = CPNS_ERR_TOOBIG;
        break;
      }
      const char *svc;
      json_t *w;
      json_object_foreach(v, svc, w) {
        int a = json_is_string(w) ? cpns_usage_pref_parse(json_string_value(w)) : -1;
        if (!cpns_valid_id(svc)) {
          say(err, errlen, "'services': '%s' is not a service id",
              strlen(svc) > 32 ? "..." : svc);
          rc = CPNS_ERR_INVAL;
        } else if (a < 0) {
          say(err, errlen, "'services.%s' must be allow or deny", svc);
          rc = CPNS_ERR_INVAL;
        } else {
          rc = cpns_usage_prefs_set(p, svc, a == 1);
        }
        if (rc) break;
      }
      if (rc) break;
    } else {
      say(err, errlen, "unknown member '%s'", strlen(k) > 32 ? "..." : k);
      rc = CPNS_ERR_INVAL;
      break;
    }
  }
  if (!rc) *out = *p;
  free(p);
  return rc;
}

json_t *cpns_usage_prefs_to_json(const struct cpns_usage_prefset *p, bool with_effective,
                                 bool configured_default) {
  json_t *svcs = json_object();
  json_t *o = json_object();
  if (!svcs || !o) {
    json_decref(svcs);
    json_decref(o);
    return NULL;
  }
  for (size_t i = 0; i < p->n; i++)
    json_object_set_new(svcs, p->e[i].service, json_string(p->e[i].allow ? "allow" : "deny"));
  if (with_effective) {
    bool d = p->default_set ? p->default_allow : configured_default;
    json_object_set_new(o, "default", json_string(d ? "allow" : "deny"));
    json_object_set_new(o, "default_set", json_boolean(p->default_set));
  } else if (p->default_set) {
    json_object_set_new(o, "default", json_string(p->default_allow ? "allow" : "deny"));
  }
  json_object_set_new(o, "services", svcs);
  return o;
}

/* ---- days ---- */

static bool leap_year(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Leap years among 1..y-1. */
static long leaps_before(long y) {
  y--;
  return y / 4 - y / 100 + y / 400;
}

static int month_days(long y, int m) {
  static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : len[m - 1];
}

static int64_t days_of_year_start(long y) {
  return (int64_t)(y - USAGE_YEAR_MIN) * 365 + leaps_before(y) - leaps_before(USAGE_YEAR_MIN);
}

int cpns_usage_day_parse(const char *s, int64_t *day) {
  if (!s || strnlen(s, CPNS_USAGE_DAY_LEN + 1) != CPNS_USAGE_DAY_LEN || s[4] != '-' || s[7] != '-')
    return CPNS_ERR_INVAL;
  for (int i = 0; i < CPNS_USAGE_DAY_LEN; i++)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return CPNS_ERR_INVAL;
  long y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  int m = (s[5] - '0') * 10 + (s[6] - '0');
  int d = (s[8] - '0') * 10 + (s[9] - '0');
  if (y < USAGE_YEAR_MIN || y > USAGE_YEAR_MAX || m < 1 || m > 12 || d < 1 ||
      d > month_days(y, m))
    return CPNS_ERR_INVAL;
  int64_t n = days_of_year_start(y);
  for (int i = 1; i < m; i++) n += month_days(y, i);
  *day = n + d - 1;
  return 0;
}

void cpns_usage_day_text(int64_t day, char *out, size_t size) {
  if (day < 0) day = 0;
  long y = USAGE_YEAR_MIN + (long)(day / 366); /* never past the year */
  while (y < USAGE_YEAR_MAX && days_of_year_start(y + 1) <= day) y++;
  int64_t rest = day - days_of_year_start(y);
  int m = 1;
  while (m < 12 && rest >= month_days(y, m)) rest -= month_days(y, m++);
  snprintf(out, size, "%04ld-%02d-%02d", y, m, (int)rest + 1);
}

int64_t cpns_usage_day_of(int64_t t) {
  return t >= 0 ? t / CPNS_USAGE_SECONDS_PER_DAY : 0;
}

/* ---- queries ---- */

const char *cpns_usage_by_name(cpns_usage_by_t by) {
  switch (by) {
  case CPNS_USAGE_BY_SERVICE: return "service";
  case CPNS_USAGE_BY_PN: return "pn";
  case CPNS_USAGE_BY_DAY: return "day";
  case CPNS_USAGE_BY_ENTITY: return "entity";
  }
  return "?";
}

int cpns_usage_by_parse(const char *word) {
  static const cpns_usage_by_t all[] = {CPNS_USAGE_BY_SERVICE, CPNS_USAGE_BY_PN, CPNS_USAGE_BY_DAY,
                                        CPNS_USAGE_BY_ENTITY};
  if (!word) return -1;
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (strcmp(word, cpns_usage_by_name(all[i])) == 0) return (int)all[i];
  return -1;
}

int cpns_usage_query_parse(const char *query, int64_t today, long max_span_days, unsigned max_rows,
                           struct cpns_usage_filter *out, char *err, size_t errlen) {
  if (max_span_days < 1 || max_span_days > CPNS_USAGE_SPAN_DAYS_MAX)
    max_span_days = CPNS_USAGE_SPAN_DAYS_MAX;
  struct cpns_usage_filter q;
  memset(&q, 0, sizeof q);
  q.by = CPNS_USAGE_BY_SERVICE;
  bool has_from = false, has_to = false;
  unsigned seen = 0; /* bit per key */
  static const char *const keys[USAGE_QUERY_KEYS_MAX] = {"by",   "pn", "service", "entity",
                                                         "from", "to", "limit"};
  const char *p = query ? query : "";
  while (*p) {
    const char *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char item[USAGE_QUERY_ITEM_MAX];
    if (len >= sizeof item) {
      if (err && errlen)
        snprintf(err, errlen, "a query parameter is longer than %d bytes", USAGE_QUERY_ITEM_MAX - 1);
      return CPNS_ERR_INVAL;
    }
    memcpy(item, p, len);
    item[len] = '\0';
    p += len + (end ? 1 : 0);
    if (!len) continue;
    char *eq = strchr(item, '=');
    const char *val = eq ? eq + 1 : "";
    if (eq) *eq = '\0';
    int k = -1;
    for (int i = 0; i < USAGE_QUERY_KEYS_MAX; i++)
      if (strcmp(item, keys[i]) == 0) k = i;
    if (k < 0) {
      say(err, errlen, "unknown query parameter '%s'", item);
      return CPNS_ERR_INVAL;
    }
    if (seen & (1u << k)) {
      say(err, errlen, "'%s' is given twice", item);
      return CPNS_ERR_INVAL;
    }
    seen |= 1u << k;
    if (!*val) {
      say(err, errlen, "'%s' has no value", item);
      return CPNS_ERR_INVAL;
    }
    switch (k) {
    case 0: {
      int by = cpns_usage_by_parse(val);
      if (by < 0) {
        say(err, errlen, "'by' must be service, pn, day or entity, not '%s'", val);
        return CPNS_ERR_INVAL;
      }
      q.by = (cpns_usage_by_t)by;
      break;
    }
    case 1:
    case 2:
    case 3: {
      if (!cpns_valid_id(val)) {
        say(err, errlen, "'%s' is not an id", item);
        return CPNS_ERR_INVAL;
      }
      char *dst = k == 1 ? q.pn : k == 2 ? q.service : q.entity;
      snprintf(dst, CPNS_ID_MAX + 1, "%s", val);
      if (k == 1) q.pn_given = true;
      break;
    }
    case 4:
    case 5:
      if (cpns_usage_day_parse(val, k == 4 ? &q.from_day : &q.to_day)) {
        say(err, errlen, "'%s' must be a day YYYY-MM-DD", item);
        return CPNS_ERR_INVAL;
      }
      *(k == 4 ? &has_from : &has_to) = true;
      break;
    case 6: {
      char *e;
      long n = strtol(val, &e, 10);
      if (*e || val[0] == '-' || val[0] == '+' || n < 1 || (unsigned long)n > max_rows) {
        if (err && errlen) snprintf(err, errlen, "'limit' must be within 1..%u", max_rows);
        return CPNS_ERR_INVAL;
      }
      q.limit = (unsigned)n;
      break;
    }
    }
  }
  long span = CPNS_USAGE_SPAN_DAYS_DEFAULT < max_span_days ? CPNS_USAGE_SPAN_DAYS_DEFAULT
                                                           : max_span_days;
  if (!has_from && !has_to) {
    q.to_day = today;
    q.from_day = today - span + 1;
  } else if (!has_to) {
    q.to_day = q.from_day + span - 1;
  } else if (!has_from) {
    q.from_day = q.to_day - span + 1;
  }
  if (q.from_day < 0) q.from_day = 0;
  if (q.to_day < q.from_day) {
    say(err, errlen, "'to' is before '%s'", "from");
    return CPNS_ERR_INVAL;
  }
  if (q.to_day - q.from_day + 1 > max_span_days) {
    if (err && errlen) snprintf(err, errlen, "a summary spans at most %ld days", max_span_days);
    return CPNS_ERR_INVAL;
  }
  *out = q;
  return 0;
}

json_t *cpns_usage_row_to_json(const struct cpns_usage_total *r) {
  /* Totals of a large store may pass what a JSON integer holds: capped. */
  const uint64_t cap = (uint64_t)INT64_MAX;
  return json_pack("{s:s, s:I, s:I, s:I, s:I}", "key", r->key, "records",
                   (json_int_t)(r->records > cap ? cap : r->records), "seconds",
                   (json_int_t)(r->seconds > cap ? cap : r->seconds), "bytes_in",
                   (json_int_t)(r->bytes_in > cap ? cap : r->bytes_in), "bytes_out",
                   (json_int_t)(r->bytes_out > cap ? cap : r->bytes_out));
}
