/* SPDX-License-Identifier: Apache-2.0 */
/* Usage statistics for applications (include/cpns/usage.h; spec 5.5.4,
 * docs/protocol.md "Usage statistics"): the usage resources of a PNE (and
 * the summaries of the server, through it or directly) on top of
 * cpns_client_request(). A record is checked before it is sent by the same
 * decoder the PNE runs (lib/usage.c), so that a call that would be refused
 * fails here, with nothing sent. */
#include "client_usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_api.h"
#include "node.h"
#include "usage.h"

/* A refusal for rate (4.29) is CPNS_ERR_LIMIT here; client.c knows no 4.29. */
static int request(cpns_client_t *c, const char *method, const char *path, const char *query,
                   const char *body, char **out) {
  int rc = cpns_client_request(c, method, path, query, body, out);
  if (rc && cpns_client_status(c) == 429) rc = CPNS_ERR_LIMIT;
  return rc;
}

/* ---- records ---- */

int client_usage__decode_recorded(const char *text, bool *reported) {
  json_t *doc;
  int rc = client_api__parse(text, &doc);
  if (rc) return rc;
  json_t *r = json_object_get(doc, "reported");
  rc = json_is_boolean(r) ? 0 : CPNS_ERR_PROTO;
  if (!rc) *reported = json_is_true(r);
  json_decref(doc);
  return rc;
}

int cpns_usage_record(cpns_client_t *c, const cpns_usage_record_t *r, bool *reported) {
  if (!c || !r || !client_api__id_ok(r->service) || !memchr(r->device.type, '\0', sizeof r->device.type) ||
      !memchr(r->device.network, '\0', sizeof r->device.network) ||
      !memchr(r->device.state, '\0', sizeof r->device.state))
    return CPNS_ERR_INVAL;
  struct cpns_usage_rec rec;
  cpns_usage_rec_init(&rec);
  memcpy(rec.service, r->service, sizeof rec.service);
  rec.start = r->start;
  rec.stop = r->stop;
  rec.bytes_in = r->bytes_in;
  rec.bytes_out = r->bytes_out;
  rec.device = r->device;
  /* Out-of-range values the encoder would write faithfully: refused here. */
  if (rec.bytes_in > CPNS_USAGE_BYTES_MAX || rec.bytes_out > CPNS_USAGE_BYTES_MAX ||
      rec.device.battery < -1 || rec.device.charging < -1 || rec.device.charging > 1)
    return CPNS_ERR_INVAL;
  json_t *j = cpns_usage_to_json(&rec, CPNS_USAGE_FROM_APP);
  struct cpns_usage_rec check;
  if (!j) return CPNS_ERR_NOMEM;
  if (cpns_usage_decode(j, CPNS_USAGE_FROM_APP, &check, NULL, 0)) {
    json_decref(j);
    return CPNS_ERR_INVAL;
  }
  char *body = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!body) return CPNS_ERR_NOMEM;
  char *out = NULL;
  int rc = request(c, "POST", "usage", NULL, body, &out);
  free(body);
  bool rep = false;
  if (!rc) rc = client_usage__decode_recorded(out, &rep);
  cpns_free(out);
  if (!rc && reported) *reported = rep;
  return rc;
}

/* ---- preferences ---- */

int client_usage__decode_prefs(const char *text, cpns_usage_prefs_t **out) {
  json_t *doc;
  int rc = client_api__parse(text, &doc);
  if (rc) return rc;
  json_t *svcs = json_object_get(doc, "services"), *set = json_object_get(doc, "default_set");
  int dflt = cpns_usage_pref_parse(json_string_value(json_object_get(doc, "default")));
  size_t n = json_object_size(svcs);
  cpns_usage_prefs_t *p = NULL;
  if (!json_is_object(svcs) || n > CPNS_USAGE_PREFS_MAX || dflt < 0 || !json_is_boolean(set)) {
    rc = CPNS_ERR_PROTO;
    goto out;
  }
  p = calloc(1, sizeof *p);
  if (!p || (n && !(p->services = calloc(n, sizeof *p->services)))) {
    rc = CPNS_ERR_NOMEM;
    goto out;
  }
  p->default_allow = dflt == 1;
  p->default_set = json_is_true(set);
  const char *k;
  json_t *v;
  json_object_foreach(svcs, k, v) {
    int a = cpns_usage_pref_parse(json_string_value(v));
    if (!client_api__id_ok(k) || a < 0) {
      rc = CPNS_ERR_PROTO;
      goto out;
    }
    /* Ordered by service: an insertion into the sorted prefix. */
    size_t i = p->count;
    while (i > 0 && strcmp(p->services[i - 1].service, k) > 0) {
      p->services[i] = p->services[i - 1];
      i--;
    }
    snprintf(p->services[i].service, sizeof p->services[i].service, "%s", k);
    p->services[i].allow = a == 1;
    p->count++;
  }
out:
  json_decref(doc);
  if (rc) {
    cpns_usage_prefs_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int cpns_usage_prefs_get(cpns_client_t *c, cpns_usage_prefs_t **out) {
  if (!c || !out) return CPNS_ERR_INVAL;
  char *text = NULL;
  int rc = request(c, "GET", "usage/prefs", NULL, NULL, &text);
  if (!rc) rc = client_usage__decode_prefs(text, out);
  cpns_free(text);
  return rc;
}

void cpns_usage_prefs_free(cpns_usage_prefs_t *p) {
  if (!p) return;
  free(p->services);
  free(p);
}

static int put_report(cpns_client_t *c, const char *path, bool allow) {
  return request(c, "PUT", path, NULL, allow ? "{\"report\":\"allow\"}" : "{\"report\":\"deny\"}",
                 NULL);
}

int cpns_usage_pref_set(cpns_client_t *c, const char *service, bool allow) {
  if (!c || !client_api__id_ok(service)) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 32];
  snprintf(path, sizeof path, "usage/prefs/services/%s", service);
  return put_report(c, path, allow);
}

int cpns_usage_pref_clear(cpns_client_t *c, const char *service) {
  if (!c || !client_api__id_ok(service)) return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 32];
  snprintf(path, sizeof path, "usage/prefs/services/%s", service);
  return request(c, "DELETE", path, NULL, NULL, NULL);
}

int cpns_usage_pref_set_default(cpns_client_t *c, bool allow) {
  if (!c) return CPNS_ERR_INVAL;
  return put_report(c, "usage/prefs/default", allow);
}

/* ---- summaries ---- */

static bool day_ok(const char *s) {
  int64_t d;
  return cpns_usage_day_parse(s, &d) == 0;
}

int client_usage__query(const cpns_usage_query_t *q, char *out, size_t size) {
  if (!q || !out || cpns_usage_by_parse(cpns_usage_by_name(q->by)) < 0 ||
      q->limit > CPNS_USAGE_ROWS_MAX)
    return CPNS_ERR_INVAL;
  const struct {
    const char *key, *value;
    bool day;
  } f[] = {{"pn", q->pn, false},     {"service", q->service, false}, {"entity", q->entity, false},
           {"from", q->from, true}, {"to", q->to, true}};
  size_t used = (size_t)snprintf(out, size, "by=%s", cpns_usage_by_name(q->by));
  for (size_t i = 0; i < sizeof f / sizeof f[0] && used < size; i++) {
    if (!f[i].value || !*f[i].value) continue;
    if (f[i].day ? !day_ok(f[i].value) : !client_api__id_ok(f[i].value)) return CPNS_ERR_INVAL;
    used += (size_t)snprintf(out + used, size - used, "&%s=%s", f[i].key, f[i].value);
  }
  if (q->limit && used < size) used += (size_t)snprintf(out + used, size - used, "&limit=%u", q->limit);
  return used < size ? 0 : CPNS_ERR_TOOBIG;
}

static bool take_total(const json_t *row, const char *key, uint64_t *out) {
  json_t *v = json_object_get(row, key);
  if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
  *out = (uint64_t)json_integer_value(v);
  return true;
}

static bool take_day(const json_t *doc, const char *key, char out[CPNS_USAGE_DAY_LEN + 1]) {
  const char *s = json_string_value(json_object_get(doc, key));
  if (!s || !day_ok(s)) return false;
  memcpy(out, s, CPNS_USAGE_DAY_LEN + 1);
  return true;
}

int client_usage__decode_summary(const char *text, cpns_usage_by_t by, cpns_usage_summary_t **out) {
  json_t *doc;
  int rc = client_api__parse(text, &doc);
  if (rc) return rc;
  json_t *rows = json_object_get(doc, "rows"), *trunc = json_object_get(doc, "truncated");
  size_t n = json_array_size(rows);
  cpns_usage_summary_t *s = NULL;
  if (!json_is_array(rows) || n > CPNS_USAGE_ROWS_MAX || !json_is_boolean(trunc) ||
      cpns_usage_by_parse(json_string_value(json_object_get(doc, "by"))) != (int)by) {
    rc = CPNS_ERR_PROTO;
    goto out;
  }
  s = calloc(1, sizeof *s);
  if (!s || (n && !(s->rows = calloc(n, sizeof *s->rows)))) {
    rc = CPNS_ERR_NOMEM;
    goto out;
  }
  s->by = by;
  s->truncated = json_is_true(trunc);
  if (!take_day(doc, "from", s->from) || !take_day(doc, "to", s->to)) {
    rc = CPNS_ERR_PROTO;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    json_t *row = json_array_get(rows, i);
    cpns_usage_row_t *r = &s->rows[i];
    const char *key = json_string_value(json_object_get(row, "key"));
    bool key_ok = key && (by == CPNS_USAGE_BY_DAY ? day_ok(key) : client_api__id_ok(key));
    if (!key_ok || !take_total(row, "records", &r->records) ||
        !take_total(row, "seconds", &r->seconds) || !take_total(row, "bytes_in", &r->bytes_in) ||
        !take_total(row, "bytes_out", &r->bytes_out) ||
        (i && strcmp(s->rows[i - 1].key, key) >= 0)) {
      rc = CPNS_ERR_PROTO;
      goto out;
    }
    snprintf(r->key, sizeof r->key, "%s", key);
    s->count++;
  }
out:
  json_decref(doc);
  if (rc) {
    cpns_usage_summary_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int cpns_usage_summary_get(cpns_client_t *c, const cpns_usage_query_t *q,
                           cpns_usage_summary_t **out) {
  char query[CPNS_QUERY_MAX + 1];
  if (!c || !q || !out) return CPNS_ERR_INVAL;
  int qrc = client_usage__query(q, query, sizeof query);
  if (qrc) return qrc; /* nothing sent */
  char *text = NULL;
  int rc = request(c, "GET", "usage/summary", query, NULL, &text);
  if (!rc) rc = client_usage__decode_summary(text, q->by, out);
  cpns_free(text);
  return rc;
}

void cpns_usage_summary_free(cpns_usage_summary_t *s) {
  if (!s) return;
  free(s->rows);
  free(s);
}
