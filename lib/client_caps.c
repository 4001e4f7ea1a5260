/* SPDX-License-Identifier: Apache-2.0 */
/* Device capabilities for applications (include/cpns/capabilities.h; spec
 * 5.5.1, docs/protocol.md "Device capabilities"): the capability resources
 * on top of cpns_client_request(), and a strict decoder of their answers:
 * the document is checked against the same schema as the peers check
 * (capabilities.c) before any field is copied out, so that every copied
 * field fits its buffer by construction. */
#include <cpns/capabilities.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capabilities.h"
#include "client_internal.h"
#include "msg.h"
#include "node.h"
#include "obsclient.h"

/* The longest answer text decoded: a page of a PN's documents, as the
 * client returns it (indented JSON). A page on the wire is at most
 * CPNS_RESPONSE_MAX (1 MiB). */
#define CAPS_ANSWER_TEXT_MAX (8u * 1024u * 1024u)

/* The public item layout holds what the schema allows. */
_Static_assert(CPNS_CAPDOC_VERSION_MAX <= CPNS_CAPDOC_LABEL_MAX, "versions fit an item value");

/* ---- decoding ---- */

static const json_t *at(const json_t *doc, const char *a, const char *b, const char *c) {
  const json_t *v = json_object_get(doc, a);
  if (v && b) v = json_object_get(v, b);
  if (v && c) v = json_object_get(v, c);
  return v;
}

/* Copies a text the schema has bounded by size - 1 (checked again: a
 * mismatch between the schema and the struct would be a bug, not an
 * overflow). */
static void take_text(const json_t *v, char *out, size_t size) {
  const char *s = json_string_value(v);
  if (s && strlen(s) < size) memcpy(out, s, strlen(s) + 1);
}

static long take_long(const json_t *v) { return json_is_integer(v) ? (long)json_integer_value(v) : -1; }
static int64_t take_i64(const json_t *v) {
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}
static int take_bool(const json_t *v) { return json_is_boolean(v) ? json_is_true(v) : -1; }

/* A map NAME -> text into *items. Returns false when out of memory. */
static bool take_items(const json_t *map, size_t *n, cpns_capability_item_t **items) {
  *n = 0;
  *items = NULL;
  size_t count = json_object_size(map);
  if (!count) return true;
  *items = calloc(count, sizeof **items);
  if (!*items) return false;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)map, key, v) {
    if (strlen(key) < sizeof (*items)[*n].name) memcpy((*items)[*n].name, key, strlen(key) + 1);
    take_text(v, (*items)[*n].value, sizeof (*items)[*n].value);
    (*n)++;
  }
  return true;
}

static bool take_names(const json_t *list, size_t *n, cpns_capability_name_t **names) {
  *n = 0;
  *names = NULL;
  size_t count = json_array_size(list);
  if (!count) return true;
  *names = calloc(count, sizeof **names);
  if (!*names) return false;
  for (size_t i = 0; i < count; i++)
    take_text(json_array_get(list, i), (*names)[i].name, sizeof (*names)[i].name);
  *n = count;
  return true;
}

static bool take_networks(const json_t *map, cpns_capabilities_t *caps) {
  size_t count = json_object_size(map);
  if (!count) return true;
  caps->networks = calloc(count, sizeof *caps->networks);
  if (!caps->networks) return false;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)map, key, v) {
    cpns_capability_network_t *net = &caps->networks[caps->nnetworks++];
    if (strlen(key) < sizeof net->name) memcpy(net->name, key, strlen(key) + 1);
    take_text(json_object_get(v, "type"), net->type, sizeof net->type);
    json_t *addrs = json_object_get(v, "addrs");
    for (size_t i = 0; i < json_array_size(addrs) && i < CPNS_CAPDOC_ADDRS_MAX; i++)
      take_text(json_array_get(addrs, i), net->addrs[net->naddrs++], sizeof net->addrs[0]);
  }
  return true;
}

/* Fills a new cpns_capabilities_t from an answer object: {"pn","id","rev",
 * "updated"} around the document {"static","dynamic"}. Returns 0,
 * CPNS_ERR_PROTO or CPNS_ERR_NOMEM. */
static int decode_object(const json_t *obj, cpns_capabilities_t **out) {
  *out = NULL;
  if (!json_is_object(obj)) return CPNS_ERR_PROTO;
  /* The document is what remains of the answer without its envelope,
   * whose members are checked one by one. */
  json_t *doc = json_object();
  if (!doc) return CPNS_ERR_NOMEM;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    if (!strcmp(key, "static") || !strcmp(key, "dynamic")) json_object_set(doc, key, v);
  }
  const json_t *pn = json_object_get(obj, "pn"), *id = json_object_get(obj, "id");
  const json_t *rev = json_object_get(obj, "rev"), *updated = json_object_get(obj, "updated");
  if (cpns_capdoc_check(doc, NULL, 0) || (pn && (!json_is_string(pn) || !cpns_valid_id(json_string_value(pn)))) ||
      (id && (!json_is_string(id) || !cpns_valid_id(json_string_value(id)))) ||
      (rev && (!json_is_integer(rev) || json_integer_value(rev) < 0)) ||
      (updated && !json_is_integer(updated) && !json_is_null(updated))) {
    json_decref(doc);
    return CPNS_ERR_PROTO;
  }
  cpns_capabilities_t *c = calloc(1, sizeof *c);
  if (!c) {
    json_decref(doc);
    return CPNS_ERR_NOMEM;
  }
  take_text(pn, c->pn, sizeof c->pn);
  take_text(id, c->id, sizeof c->id);
  c->rev = take_i64(rev);
  c->updated = take_i64(updated);
  const json_t *st = json_object_get(doc, "static"), *dy = json_object_get(doc, "dynamic");
  take_text(json_object_get(st, "device_type"), c->device_type, sizeof c->device_type);
  const json_t *hw = json_object_get(st, "hardware"), *sw = json_object_get(st, "software");
  c->screen_width = take_long(at(hw, "screen", "width", NULL));
  c->screen_height = take_long(at(hw, "screen", "height", NULL));
  c->screen_dpi = take_long(at(hw, "screen", "dpi", NULL));
  c->screen_touch = take_bool(at(hw, "screen", "touch", NULL));
  c->battery_capacity_mah = take_long(at(hw, "battery", "capacity_mah", NULL));
  c->battery_capacity_mwh = take_long(at(hw, "battery", "capacity_mwh", NULL));
  take_text(at(hw, "battery", "technology", NULL), c->battery_technology,
            sizeof c->battery_technology);
  take_text(at(hw, "processor", "model", NULL), c->cpu_model, sizeof c->cpu_model);
  take_text(at(hw, "processor", "arch", NULL), c->cpu_arch, sizeof c->cpu_arch);
  c->cpu_cores = take_long(at(hw, "processor", "cores", NULL));
  c->memory_total = take_i64(at(hw, "memory", "total", NULL));
  take_text(at(sw, "os", "name", NULL), c->os_name, sizeof c->os_name);
  take_text(at(sw, "os", "version", NULL), c->os_version, sizeof c->os_version);
  take_text(at(sw, "os", "build", NULL), c->os_build, sizeof c->os_build);
  c->memory_available = take_i64(at(dy, "memory", "available", NULL));
  c->battery_level = (int)take_long(at(dy, "battery", "level", NULL));
  c->battery_charging = take_bool(at(dy, "battery", "charging", NULL));
  c->battery_remaining = take_i64(at(dy, "battery", "remaining", NULL));
  bool ok = take_items(json_object_get(hw, "chipsets"), &c->nchipsets, &c->chipsets) &&
            take_items(json_object_get(sw, "apps"), &c->napps, &c->apps) &&
            take_items(json_object_get(sw, "drivers"), &c->ndrivers, &c->drivers) &&
            take_networks(json_object_get(dy, "networks"), c) &&
            take_names(json_object_get(dy, "running"), &c->nrunning, &c->running) &&
            take_names(json_object_get(dy, "drivers"), &c->nactive_drivers, &c->active_drivers) &&
            (c->json = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) != NULL;
  json_decref(doc);
  if (!ok) {
    cpns_capabilities_free(c);
    return CPNS_ERR_NOMEM;
  }
  *out = c;
  return 0;
}

static int parse_answer(const char *text, json_t **out) {
  *out = NULL;
  if (!text || strnlen(text, CAPS_ANSWER_TEXT_MAX + 1) > CAPS_ANSWER_TEXT_MAX) return CPNS_ERR_PROTO;
  json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(v)) {
    json_decref(v);
    return CPNS_ERR_PROTO;
  }
  *out = v;
  return 0;
}

int cpns_capabilities_decode(const char *text, cpns_capabilities_t **out) {
  if (!out) return CPNS_ERR_INVAL;
  *out = NULL;
  json_t *v;
  int rc = parse_answer(text, &v);
  if (rc) return rc;
  rc = decode_object(v, out);
  json_decref(v);
  return rc;
}

void cpns_capabilities_free(cpns_capabilities_t *caps) {
  if (!caps) return;
  free(caps->chipsets);
  free(caps->apps);
  free(caps->drivers);
  free(caps->networks);
  free(caps->running);
  free(caps->active_drivers);
  free(caps->json);
  free(caps);
}

void cpns_capabilities_page_free(cpns_capabilities_page_t *page) {
  if (!page) return;
  for (size_t i = 0; i < page->count; i++) cpns_capabilities_free(page->items[i]);
  free(page->items);
  free(page);
}

/* A page answer {"pn","caps":[...],"next"} of PN pn. */
static int decode_page(const json_t *v, const char *pn, cpns_capabilities_page_t **out) {
  *out = NULL;
  json_t *items = json_object_get(v, "caps"), *next = json_object_get(v, "next");
  json_t *apn = json_object_get(v, "pn");
  size_t n = json_array_size(items);
  if (!json_is_array(items) || n > CPNS_RESPONSE_ITEMS_MAX || !json_is_string(apn) ||
      strcmp(json_string_value(apn), pn) != 0 ||
      !(json_is_null(next) || (json_is_string(next) && cpns_valid_id(json_string_value(next)))))
    return CPNS_ERR_PROTO;
  cpns_capabilities_page_t *page = calloc(1, sizeof *page);
  if (!page || (n && !(page->items = calloc(n, sizeof *page->items)))) {
    free(page);
    return CPNS_ERR_NOMEM;
  }
  memcpy(page->pn, pn, strlen(pn) + 1);
  take_text(next, page->next, sizeof page->next);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    rc = decode_object(json_array_get(items, i), &page->items[i]);
    if (rc) break;
    page->count++;
  }
  if (rc) {
    cpns_capabilities_page_free(page);
    return rc;
  }
  *out = page;
  return 0;
}

/* ---- requests ---- */

/* A GET whose answer is one document. */
static int get_one(cpns_client_t *c, const char *path, cpns_capabilities_t **out) {
  char *text = NULL;
  int rc = cpns_client_request(c, "GET", path, NULL, NULL, &text);
  if (!rc) rc = cpns_capabilities_decode(text, out);
  free(text);
  return rc;
}

int cpns_capabilities_get(cpns_client_t *c, const char *pn, const char *id,
                          cpns_capabilities_t **out) {
  if (out) *out = NULL;
  if (!c || !out || !pn || !id || !cpns_valid_id(pn) || !cpns_valid_id(id)) return CPNS_ERR_INVAL;
  char path[2 * CPNS_ID_MAX + 32];
  snprintf(path, sizeof path, "pns/%s/entities/%s/caps", pn, id);
  return get_one(c, path, out);
}

int cpns_capabilities_self(cpns_client_t *c, cpns_capabilities_t **out) {
  if (out) *out = NULL;
  if (!c || !out) return CPNS_ERR_INVAL;
  return get_one(c, "self/caps", out);
}

int cpns_capabilities_list(cpns_client_t *c, const char *pn, const char *after, unsigned limit,
                           cpns_capabilities_page_t **out) {
  if (out) *out = NULL;
  if (!c || !out || !pn || !cpns_valid_id(pn) || (after && *after && !cpns_valid_id(after)))
    return CPNS_ERR_INVAL;
  char path[CPNS_ID_MAX + 16], query[CPNS_ID_MAX + 40] = "";
  snprintf(path, sizeof path, "pns/%s/caps", pn);
  size_t used = 0;
  if (after && *after) used = (size_t)snprintf(query, sizeof query, "after=%s", after);
  if (limit)
    snprintf(query + used, sizeof query - used, "%slimit=%u", used ? "&" : "", limit);
  char *text = NULL;
  int rc = cpns_client_request(c, "GET", path, query[0] ? query : NULL, NULL, &text);
  json_t *v = NULL;
  if (!rc) rc = parse_answer(text, &v);
  free(text);
  if (rc) return rc;
  rc = decode_page(v, pn, out);
  json_decref(v);
  return rc;
}

/* ---- watching ---- */

struct watch {
  cpns_client_t *c;
  const char *pn;
  bool entity;
  cpns_capabilities_watch_fn fn;
  void *arg;
  bool over;    /* the observation ended */
  bool stopped; /* fn asked to stop */
  bool gone;    /* obsclient freed the observation */
  int rc;
};

static void watch_end(struct watch *w, int status, int rc, const char *diag) {
  w->over = true;
  w->rc = rc;
  client__set_error(w->c, status, diag);
}

static void on_notification(void *arg, struct cpns_observation *o, int code, const json_t *body,
                            const char *diag, bool observing) {
  (void)o;
  struct watch *w = arg;
  w->gone = !observing;
  if (code < 200 || code >= 300) {
    int rc = client__code_to_err(code);
    watch_end(w, code > 0 ? code : 0, rc, diag && *diag ? diag : cpns_strerror(rc));
    return;
  }
  /* A refusal told to an observer comes as a 2.05 {"error","diag"} (see
   * node.c); it ends the watch. */
  json_t *err = json_object_get(body, "error");
  if (json_is_integer(err)) {
    int ecode = (int)json_integer_value(err);
    const char *d = json_string_value(json_object_get(body, "diag"));
    watch_end(w, ecode, client__code_to_err(ecode), d ? d : "");
    return;
  }
  cpns_capabilities_page_t *page = NULL;
  int rc;
  if (w->entity) {
    page = calloc(1, sizeof *page);
    rc = page && (page->items = calloc(1, sizeof *page->items)) ? 0 : CPNS_ERR_NOMEM;
    if (!rc) rc = decode_object(body, &page->items[0]);
    if (!rc) {
      page->count = 1;
      memcpy(page->pn, w->pn, strlen(w->pn) + 1);
    }
  } else {
    rc = decode_page(body, w->pn, &page);
  }
  if (rc) {
    cpns_capabilities_page_free(page);
    watch_end(w, code, rc, "malformed capabilities");
    return;
  }
  if (w->fn(w->arg, page)) w->stopped = true;
  cpns_capabilities_page_free(page);
  if (!observing && !w->stopped)
    watch_end(w, 0, CPNS_ERR_UNAVAIL, "the peer answered without Observe");
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* How long the loop waits for input at a time: short enough to notice
 * the end of the watch promptly. */
#define WATCH_STEP_MS 100

int cpns_capabilities_watch(cpns_client_t *c, const char *pn, const char *id, long duration_ms,
                            cpns_capabilities_watch_fn fn, void *arg) {
  if (!c || !fn || !pn || !cpns_valid_id(pn) || (id && !cpns_valid_id(id)) || duration_ms < 0)
    return CPNS_ERR_INVAL;
  char path[2 * CPNS_ID_MAX + 32];
  if (id)
    snprintf(path, sizeof path, "pns/%s/entities/%s/caps", pn, id);
  else
    snprintf(path, sizeof path, "pns/%s/caps", pn);
  struct cpns_obsclient *oc = client__obsclient(c);
  if (!oc) return CPNS_ERR_NOMEM;
  struct watch w = {c, pn, id != NULL, fn, arg, false, false, false, 0};
  struct cpns_observation *o = NULL;
  client__set_error(c, 0, "");
  int rc = client__connect(c);
  if (!rc)
    rc = cpns_obsclient_start(oc, client__session(c), path, NULL, NULL, false, on_notification,
                                &w, &o);
  if (rc) {
    client__set_error(c, 0, cpns_strerror(rc));
    return rc;
  }
  uint64_t end = duration_ms ? mono_ms() + (uint64_t)duration_ms : UINT64_MAX;
  while (!w.over && !w.stopped && mono_ms() < end) cpns_node_step(client__node(c), WATCH_STEP_MS);
  if (!w.gone) {
    /* Ours to end: deregister (RFC 7641 §3.6) and let the request go. */
    cpns_obsclient_stop(oc, o, client__session(c));
    cpns_node_step(client__node(c), 0);
  }
  return w.stopped || !w.over ? 0 : w.rc;
}
