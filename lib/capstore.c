/* SPDX-License-Identifier: Apache-2.0 */
/* The holder of device capabilities (see capstore.h): the server runs it
 * for every PN, a gateway for its own. */
#include "capstore.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capabilities.h"
#include "log.h"
#include "msg.h"
#include "ratelimit.h"

struct cpns_capstore {
  struct cpns_node *node;
  struct cpns_store *store;
  const char *mod;
  long page_max;
  long per_minute;
  struct cpns_ratebook *rates; /* NULL: no bound */
  struct cpns_capstore_hooks hooks;
};

#define CAPS_PATH_MAX (2 * CPNS_ID_MAX + 32)

static int64_t now_s(void) { return (int64_t)time(NULL); }

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void entity_path(const char *pn, const char *id, char *out, size_t len) {
  snprintf(out, len, "pns/%s/entities/%s/caps", pn, id);
}

static void pn_path(const char *pn, char *out, size_t len) { snprintf(out, len, "pns/%s/caps", pn); }

/* Both resources are observable: the entity's document and its PN's page.
 * Beyond limits.max_observables (node.c logs it) they are served without
 * Observe: a document is never refused for that. */
static void make_observable(struct cpns_capstore *cs, const char *pn, const char *id) {
  char path[CAPS_PATH_MAX];
  entity_path(pn, id, path, sizeof path);
  cpns_node_observable(cs->node, path);
  pn_path(pn, path, sizeof path);
  cpns_node_observable(cs->node, path);
}

static void notify(struct cpns_capstore *cs, const char *pn, const char *id) {
  char path[CAPS_PATH_MAX];
  entity_path(pn, id, path, sizeof path);
  cpns_node_notify(cs->node, path);
  pn_path(pn, path, sizeof path);
  cpns_node_notify(cs->node, path);
}

static int observe_again(void *arg, const char *pn, const char *id) {
  make_observable(arg, pn, id);
  return 0;
}

int cpns_capstore_new(struct cpns_node *node, struct cpns_store *store, const char *log_mod,
                      const struct cpns_capstore_config *cfg,
                      const struct cpns_capstore_hooks *hooks, struct cpns_capstore **out) {
  struct cpns_capstore *cs = calloc(1, sizeof *cs);
  if (!cs) return CPNS_ERR_NOMEM;
  cs->node = node;
  cs->store = store;
  cs->mod = log_mod;
  long page_max = cfg ? cfg->page_max : 0;
  cs->page_max = page_max > 0 && page_max <= CPNS_CAPS_PAGE_LIMIT ? page_max
                                                                   : CPNS_CAPS_PAGE_MAX_DEFAULT;
  if (cfg && cfg->reports_per_minute > 0) {
    cs->per_minute = cfg->reports_per_minute;
    if (cpns_ratebook_new(cfg->rate_keys ? cfg->rate_keys : 1, (double)cfg->reports_per_minute / 60.0,
                          CPNS_CAPS_RATE_BURST, &cs->rates)) {
      free(cs);
      return CPNS_ERR_NOMEM;
    }
  }
  if (hooks) cs->hooks = *hooks;
  /* Documents of an earlier run: their resources are observable again. */
  int rc = store->ops->caps_keys(store, observe_again, cs);
  if (rc) {
    cpns_capstore_free(cs);
    return rc;
  }
  *out = cs;
  return 0;
}

void cpns_capstore_free(struct cpns_capstore *cs) {
  if (!cs) return;
  cpns_ratebook_free(cs->rates);
  free(cs);
}

/* Holds an entity to its rate of reports; answers 4.29 (RFC 8516, with
 * Max-Age saying when to try again) and returns false beyond it. */
static bool within_rate(struct cpns_capstore *cs, struct cpns_req *req) {
  if (!cs->rates) return true;
  char key[2 * CPNS_ID_MAX + 2];
  snprintf(key, sizeof key, "%s/%s", req->seg[1], req->seg[3]);
  long wait = cpns_ratebook_take(cs->rates, key, mono_ms());
  if (!wait) return true;
  CPNS_LOG_RL(CPNS_LOG_NOTICE, cs->mod, "capability reports of %s beyond %ld a minute", req->seg[3],
              cs->per_minute);
  /* Options go before the payload. */
  uint8_t b[4];
  coap_add_option(req->response, COAP_OPTION_MAXAGE,
                  coap_encode_var_safe(b, sizeof b, (unsigned)wait), b);
  cpns_reply_error(req, 429, "more than %ld capability reports a minute; retry in %ld s",
                   cs->per_minute, wait);
  return false;
}

json_t *cpns_capstore_envelope(const struct cpns_caps_rec *rec) {
  json_t *doc = json_loads(rec->doc, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(doc)) {
    json_decref(doc);
    return NULL;
  }
  json_t *env = json_pack("{s:s, s:s, s:I, s:I}", "pn", rec->pn, "id", rec->id, "rev",
                          (json_int_t)rec->rev, "updated", (json_int_t)rec->updated_at);
  if (env) json_object_update(env, doc);
  json_decref(doc);
  return env;
}

static int code_of(int rc) {
  switch (rc) {
  case CPNS_ERR_NOTFOUND: return 404;
  case CPNS_ERR_TOOBIG: return 413;
  case CPNS_ERR_INVAL: return 400;
  default: return 500;
  }
}

/* Path ids of pns/{pn}/... are checked before anything is looked up. */
static bool valid_path_ids(struct cpns_req *req) {
  for (unsigned i = 1; i < req->nseg; i += 2)
    if (!cpns_valid_id(req->seg[i])) {
      cpns_reply_error(req, 400, "'%s' is not a valid id", req->seg[i]);
      return false;
    }
  return true;
}

/* An error for an observer is a 2.05 carrying it (see node.c: libcoap
 * 4.3.1 and erroring observers); for anyone else, the error itself. */
static void refuse(struct cpns_req *req, int code, const char *diag) {
  if (req->notification)
    cpns_reply(req, 205, json_pack("{s:i, s:s}", "error", code, "diag", diag));
  else
    cpns_reply_error(req, code, "%s", diag);
}

void cpns_capstore_get(struct cpns_req *req, void *arg) {
  struct cpns_capstore *cs = arg;
  if (!valid_path_ids(req)) return;
  struct cpns_caps_rec *rec = malloc(sizeof *rec);
  if (!rec) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  int rc = cs->store->ops->caps_get(cs->store, req->seg[1], req->seg[3], rec);
  json_t *env = rc ? NULL : cpns_capstore_envelope(rec);
  free(rec);
  if (rc || !env) {
    refuse(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
           rc == CPNS_ERR_NOTFOUND ? "no capabilities reported" : "store failure");
    return;
  }
  cpns_reply(req, 205, env);
}

/* Stores doc (checked) as (pn, id)'s next revision unless it equals the
 * held one. Returns 0 and *rev, *created, *changed; or a cpns_err. */
static int store_doc(struct cpns_capstore *cs, const char *pn, const char *id, const json_t *doc,
                     uint64_t *rev, bool *created, bool *changed) {
  struct cpns_caps_rec *rec = malloc(sizeof *rec);
  char *text = cpns_capdoc_text(doc);
  int rc = rec && text ? 0 : CPNS_ERR_NOMEM;
  if (!rc) rc = cs->store->ops->caps_get(cs->store, pn, id, rec);
  *created = rc == CPNS_ERR_NOTFOUND;
  if (*created) {
    memset(rec, 0, sizeof *rec);
    snprintf(rec->pn, sizeof rec->pn, "%s", pn);
    snprintf(rec->id, sizeof rec->id, "%s", id);
    rc = 0;
  }
  *changed = false;
  if (!rc && (*created || strcmp(rec->doc, text) != 0)) {
    if (strlen(text) >= sizeof rec->doc) {
      rc = CPNS_ERR_TOOBIG; /* cpns_capdoc_check bounds it already */
    } else {
      memcpy(rec->doc, text, strlen(text) + 1);
      rec->rev++;
      rec->updated_at = now_s();
      rc = cs->store->ops->caps_put(cs->store, rec);
      *changed = rc == 0;
    }
  }
  if (!rc) *rev = rec->rev;
  free(text);
  free(rec);
  if (*changed) {
    make_observable(cs, pn, id);
    notify(cs, pn, id);
    if (cs->hooks.changed) cs->hooks.changed(cs->hooks.arg, pn, id);
  }
  return rc;
}

int cpns_capstore_set(struct cpns_capstore *cs, const char *pn, const char *id, const json_t *doc,
                      bool *changed) {
  char err[CPNS_DIAG_MAX];
  int rc = cpns_capdoc_check(doc, err, sizeof err);
  if (rc) {
    log_warn(cs->mod, "capabilities of %s: %s", id, err);
    return rc;
  }
  uint64_t rev;
  bool created, ch;
  rc = store_doc(cs, pn, id, doc, &rev, &created, &ch);
  if (changed) *changed = ch;
  return rc;
}

/* After a PUT or PATCH: 2.01 for the first document, else 2.04, with the
 * revision the sender patches from next. */
static void answer_stored(struct cpns_capstore *cs, struct cpns_req *req, int rc, uint64_t rev,
                          bool created, bool changed) {
  if (rc) {
    cpns_reply_error(req, code_of(rc),
                     rc == CPNS_ERR_NOTFOUND ? "no such entity: it registers first" : "store failure");
    return;
  }
  if (changed)
    log_info(cs->mod, "capabilities of %s in PN %s: rev %" PRIu64 " (from %s)", req->seg[3],
             req->seg[1], rev, req->peer->identity);
  cpns_reply(req, created ? 201 : 204, json_pack("{s:I}", "rev", (json_int_t)rev));
}

void cpns_capstore_put(struct cpns_req *req, void *arg) {
  struct cpns_capstore *cs = arg;
  if (!valid_path_ids(req)) return;
  char err[CPNS_DIAG_MAX];
  if (!req->body) {
    cpns_reply_error(req, 400, "a capability document is required");
    return;
  }
  int rc = cpns_capdoc_check(req->body, err, sizeof err);
  if (rc) {
    CPNS_LOG_RL(CPNS_LOG_NOTICE, cs->mod, "capabilities of %s refused: %s", req->seg[3], err);
    cpns_reply_error(req, code_of(rc), "%s", err);
    return;
  }
  /* The rate bounds what costs a store write; a refused body costs none. */
  if (!within_rate(cs, req)) return;
  uint64_t rev = 0;
  bool created = false, changed = false;
  rc = store_doc(cs, req->seg[1], req->seg[3], req->body, &rev, &created, &changed);
  answer_stored(cs, req, rc, rev, created, changed);
}

void cpns_capstore_patch(struct cpns_req *req, void *arg) {
  struct cpns_capstore *cs = arg;
  if (!valid_path_ids(req)) return;
  char base_s[24] = "", err[CPNS_DIAG_MAX];
  if (cpns_req_query(req, "base", base_s, sizeof base_s) || !base_s[0]) {
    cpns_reply_error(req, 400, "a merge patch needs ?base=REV, the revision it applies to");
    return;
  }
  char *end;
  unsigned long long base = strtoull(base_s, &end, 10);
  if (*end || base_s[0] == '-' || base == 0 || base > INT64_MAX) {
    cpns_reply_error(req, 400, "base must be a revision (1..%" PRId64 ")", INT64_MAX);
    return;
  }
  if (!json_is_object(req->body)) {
    cpns_reply_error(req, 400, "a merge patch (RFC 7386) is a map");
    return;
  }
  if (!within_rate(cs, req)) return;
  struct cpns_caps_rec *rec = malloc(sizeof *rec);
  if (!rec) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  int rc = cs->store->ops->caps_get(cs->store, req->seg[1], req->seg[3], rec);
  json_t *doc = NULL, *merged = NULL;
  if (rc == CPNS_ERR_NOTFOUND) {
    cpns_reply_error(req, 404, "no capabilities to patch: PUT the whole document");
  } else if (rc) {
    cpns_reply_error(req, 500, "store failure");
  } else if (rec->rev != base) {
    cpns_reply_error(req, 412, "capabilities are at rev %" PRIu64 ", not %llu: PUT the whole document",
                     rec->rev, base);
  } else if ((rc = cpns_capdoc_parse_text(rec->doc, &doc, err, sizeof err))) {
    log_err(cs->mod, "stored capabilities of %s do not parse: %s", rec->id, err);
    cpns_reply_error(req, 500, "store failure");
  } else if ((rc = cpns_capdoc_merge(doc, req->body, &merged, err, sizeof err))) {
    CPNS_LOG_RL(CPNS_LOG_NOTICE, cs->mod, "capability patch of %s refused: %s", req->seg[3], err);
    cpns_reply_error(req, code_of(rc), "%s", err);
  } else {
    uint64_t rev = 0;
    bool created = false, changed = false;
    rc = store_doc(cs, req->seg[1], req->seg[3], merged, &rev, &created, &changed);
    answer_stored(cs, req, rc, rev, false, changed);
  }
  json_decref(doc);
  json_decref(merged);
  free(rec);
}

struct page {
  json_t *items;
  char last[CPNS_ID_MAX + 1];
  unsigned n;
  bool bad;
};

static int add_doc(void *arg, const struct cpns_caps_rec *rec) {
  struct page *p = arg;
  json_t *env = cpns_capstore_envelope(rec);
  if (!env) {
    p->bad = true;
    return 1;
  }
  json_array_append_new(p->items, env);
  snprintf(p->last, sizeof p->last, "%s", rec->id);
  p->n++;
  return 0;
}

void cpns_capstore_list(struct cpns_req *req, void *arg) {
  struct cpns_capstore *cs = arg;
  if (!valid_path_ids(req)) return;
  char after[CPNS_ID_MAX + 1] = "", limit_s[12] = "";
  if (cpns_req_query(req, "after", after, sizeof after) == CPNS_ERR_TOOBIG ||
      cpns_req_query(req, "limit", limit_s, sizeof limit_s) == CPNS_ERR_TOOBIG ||
      (after[0] && !cpns_valid_id(after))) {
    cpns_reply_error(req, 400, "bad paging parameters");
    return;
  }
  long limit = cs->page_max;
  if (limit_s[0]) {
    char *end;
    limit = strtol(limit_s, &end, 10);
    if (*end || limit < 1 || limit > cs->page_max) {
      cpns_reply_error(req, 400, "limit must be 1..%ld", cs->page_max);
      return;
    }
  }
  struct cpns_pn_rec pn;
  int rc = cs->store->ops->pn_get(cs->store, req->seg[1], &pn);
  if (rc) {
    refuse(req, rc == CPNS_ERR_NOTFOUND ? 404 : 500,
           rc == CPNS_ERR_NOTFOUND ? "no such PN" : "store failure");
    return;
  }
  struct page p = {json_array(), "", 0, false};
  rc = cs->store->ops->caps_list(cs->store, req->seg[1], after, (unsigned)limit, add_doc, &p);
  if (rc || p.bad) {
    json_decref(p.items);
    if (p.bad) log_err(cs->mod, "a stored capability document of PN %s does not parse", req->seg[1]);
    refuse(req, 500, "store failure");
    return;
  }
  json_t *next = p.n == (unsigned)limit ? json_string(p.last) : json_null();
  cpns_reply(req, 205, json_pack("{s:s, s:o, s:o}", "pn", req->seg[1], "caps", p.items, "next", next));
}

void cpns_capstore_entity_gone(struct cpns_capstore *cs, const char *pn, const char *id) {
  char path[CAPS_PATH_MAX];
  pn_path(pn, path, sizeof path);
  cpns_node_notify(cs->node, path);
  if (!id) {
    /* The entities' own resources stay until the next start (the store no
     * longer says which they were); their observers are answered 4.04. */
    cpns_node_observable_remove(cs->node, path);
    return;
  }
  entity_path(pn, id, path, sizeof path);
  cpns_node_observable_remove(cs->node, path);
}
