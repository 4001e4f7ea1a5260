/* SPDX-License-Identifier: Apache-2.0 */
/* Usage statistics at the server (spec 5.5.4): each PN GW sends its PN's
 * usage records in batches (CPNS-2, POST pns/{pn}/usage); the server stores
 * them, whole batch or nothing, recognizing a batch sent again (the answer
 * lost, the gateway restarted) by its records' ids, and acknowledges only
 * what it has committed. Summaries add the records up per service, per PN,
 * per entity or per day (GET usage/summary): the operator reads any PN's,
 * a PN's gateway and its PNEs (through the gateway, On-Behalf-Of) their own
 * PN's only, and external servers over CPNS-4 (a token with usage:read,
 * server/http.c) any PN's. What reaches the server is what the user's preferences allowed
 * at the PNE: a denied record never left the device (pne/usage.c).
 *
 * Bounds: batches per second of each PN ([usage] max_rate, 4.29 beyond),
 * records per batch (CPNS_USAGE_BATCH_MAX, 4.13), records in all ([usage]
 * max_records, 5.03: the gateway keeps them and tries again), records older
 * than [usage] retention_days deleted a chunk at a time, and the days and
 * rows of a summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "msg.h"
#include "ratelimit.h"
#include "server.h"
#include "usage.h"

#define MOD "usage"
/* Rate buckets kept: one per PN sending at once, and then some. */
#define USAGE_RATE_KEYS 4096
/* How often old records are looked for, and how many go per look: a
 * backlog is deleted over several looks without holding the loop. */
#define USAGE_PURGE_MS 2000
#define USAGE_PURGE_CHUNK 2048

struct usage_srv {
  struct server *srv;
  struct cpns_ratebook *rates;
  uint64_t stored; /* records held now */
  struct cpns_usage_rec *batch;
  unsigned long batches, records, duplicates, refused, rate_limited, full, purged;
};

static struct usage_srv U;

static int64_t now_s(void) { return (int64_t)time(NULL); }

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool summary_path(const struct cpns_req *req) {
  return req->nseg == 2 && strcmp(req->seg[0], "usage") == 0 && strcmp(req->seg[1], "summary") == 0;
}

/* The PN a summary query is about: its pn parameter, or the caller's own
 * PN. "" when the query names none and the caller has none. */
static void summary_pn(const struct cpns_req *req, char *pn, size_t size) {
  if (cpns_req_query(req, "pn", pn, size) == 0 && pn[0]) return;
  snprintf(pn, size, "%s", req->peer->pn);
}

unsigned usage__relations(struct server *srv, const struct cpns_req *req, unsigned wanted) {
  (void)srv;
  if (!summary_path(req) || !(wanted & (CPNS_REL_GW_OF_PN | CPNS_REL_MEMBER))) return 0;
  char pn[CPNS_ID_MAX + 2];
  summary_pn(req, pn, sizeof pn);
  if (!req->peer->pn[0] || strcmp(pn, req->peer->pn) != 0) return 0;
  if (req->peer->role == CPNS_PEER_GW && !req->via) return CPNS_REL_GW_OF_PN;
  /* A PNE relayed by its gateway: the delegation rule made sure it is
   * registered in the gateway's PN, which is its PN here. */
  if (req->peer->role == CPNS_PEER_PNE && req->via) return CPNS_REL_MEMBER;
  return 0;
}

static void reply_429(struct cpns_req *req, long retry) {
  uint8_t b[4];
  coap_add_option(req->response, COAP_OPTION_MAXAGE,
                  coap_encode_var_safe(b, sizeof b, (unsigned)retry), b);
  cpns_reply_error(req, 429, "too many usage batches; retry in %ld s", retry);
}

/* POST pns/{pn}/usage: a batch of the PN's records from its gateway. */
static void post_usage(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  const char *pn = req->seg[1];
  if (!cpns_valid_id(pn)) {
    cpns_reply_error(req, 400, "not a valid id");
    return;
  }
  long wait = cpns_ratebook_take(U.rates, pn, mono_ms());
  if (wait) {
    U.rate_limited++;
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "PN %s: usage batches beyond %ld/s: 4.29", pn,
                srv->conf.usage.max_rate);
    reply_429(req, wait);
    return;
  }
  size_t n = 0;
  char err[CPNS_DIAG_MAX];
  int rc = cpns_usage_batch_decode(req->body, CPNS_USAGE_FROM_GW, U.batch, CPNS_USAGE_BATCH_MAX,
                                   &n, err, sizeof err);
  if (rc) {
    U.refused++;
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "PN %s: usage batch refused: %s", pn, err);
    cpns_reply_error(req, rc == CPNS_ERR_TOOBIG ? 413 : 400, "%s", err);
    return;
  }
  if (U.stored + n > (uint64_t)srv->conf.usage.max_records) {
    U.full++;
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "usage store full (%llu records): PN %s must wait",
                (unsigned long long)U.stored, pn);
    cpns_reply_error(req, 503, "usage store full");
    return;
  }
  int64_t now = now_s();
  for (size_t i = 0; i < n; i++) {
    snprintf(U.batch[i].pn, sizeof U.batch[i].pn, "%s", pn);
    U.batch[i].received_at = now;
  }
  unsigned added = 0;
  if (srv->store->ops->usage_add(srv->store, U.batch, n, &added)) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  U.stored += added;
  U.batches++;
  U.records += added;
  U.duplicates += n - added;
  log_debug(MOD, "PN %s: %zu usage record(s) stored, %zu already held", pn, (size_t)added,
            n - added);
  cpns_reply(req, 204, json_pack("{s:I, s:I}", "stored", (json_int_t)added, "duplicates",
                                 (json_int_t)(n - added)));
}

struct summary_ctx {
  json_t *rows;
  unsigned limit, seen;
};

static int add_row(void *arg, const struct cpns_usage_total *t) {
  struct summary_ctx *c = arg;
  if (++c->seen > c->limit) return 1;
  json_array_append_new(c->rows, cpns_usage_row_to_json(t));
  return 0;
}

/* GET usage/summary?by=...&pn=...&service=...&entity=...&from=...&to=...&limit=N */
static void get_summary(struct cpns_req *req, void *arg) {
  struct server *srv = arg;
  struct cpns_usage_filter f;
  char err[CPNS_DIAG_MAX];
  int64_t today = cpns_usage_day_of(now_s());
  if (cpns_usage_query_parse(req->query, today, srv->conf.usage.summary_days_max,
                             CPNS_USAGE_ROWS_MAX, &f, err, sizeof err)) {
    cpns_reply_error(req, 400, "%s", err);
    return;
  }
  /* The operator, and an external server holding a token with usage:read
   * (CPNS-4, issued by the operator), read any PN's: what reached the
   * server is what the users' preferences let leave their devices. */
  bool any_pn = req->peer->role == CPNS_PEER_OPERATOR || req->peer->role == CPNS_PEER_EXTERNAL;
  if (!any_pn) {
    /* The route let a PN's gateway or member in for the PN the query
     * names, or its own: say so again here, whatever the path looked like. */
    if (!f.pn_given) snprintf(f.pn, sizeof f.pn, "%s", req->peer->pn);
    if (!req->peer->pn[0] || strcmp(f.pn, req->peer->pn) != 0) {
      cpns_reply_error(req, 403, "%s may not read PN %s's usage", req->peer->identity,
                       f.pn[0] ? f.pn : "(none)");
      return;
    }
  }
  struct summary_ctx c = {.rows = json_array(),
                          .limit = f.limit ? f.limit : (unsigned)srv->conf.usage.summary_rows};
  if (!c.rows) {
    cpns_reply_error(req, 500, "out of memory");
    return;
  }
  if (srv->store->ops->usage_summary(srv->store, &f, c.limit + 1, add_row, &c)) {
    json_decref(c.rows);
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  char from[CPNS_USAGE_DAY_LEN + 1], to[CPNS_USAGE_DAY_LEN + 1];
  cpns_usage_day_text(f.from_day, from, sizeof from);
  cpns_usage_day_text(f.to_day, to, sizeof to);
  json_t *doc = json_pack("{s:s, s:s, s:s, s:o, s:b}", "by", cpns_usage_by_name(f.by), "from",
                          from, "to", to, "rows", c.rows, "truncated", c.seen > c.limit);
  if (doc) {
    json_object_set_new(doc, "pn", f.pn[0] ? json_string(f.pn) : json_null());
    if (f.service[0]) json_object_set_new(doc, "service", json_string(f.service));
    if (f.entity[0]) json_object_set_new(doc, "entity", json_string(f.entity));
  }
  cpns_reply(req, 205, doc);
}

static void stats(struct cpns_req *req, void *arg) {
  (void)arg;
  cpns_reply(req, 205,
             json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "stored", (json_int_t)U.stored,
                       "batches", (json_int_t)U.batches, "records", (json_int_t)U.records,
                       "duplicates", (json_int_t)U.duplicates, "refused", (json_int_t)U.refused,
                       "rate_limited", (json_int_t)U.rate_limited, "full", (json_int_t)U.full,
                       "purged", (json_int_t)U.purged));
}

/* Deletes a chunk of the records past their retention. */
static void purge(void *arg) {
  struct server *srv = arg;
  int64_t before = cpns_usage_day_of(now_s()) - srv->conf.usage.retention_days + 1;
  unsigned removed = 0;
  if (before <= 0 ||
      srv->store->ops->usage_purge(srv->store, NULL, before, USAGE_PURGE_CHUNK, &removed) ||
      !removed)
    return;
  U.stored = U.stored > removed ? U.stored - removed : 0;
  U.purged += removed;
  log_info(MOD, "%u usage record(s) past %ld days deleted", removed, srv->conf.usage.retention_days);
}

int usage__init(struct server *srv) {
  memset(&U, 0, sizeof U);
  U.srv = srv;
  U.batch = calloc(CPNS_USAGE_BATCH_MAX, sizeof *U.batch);
  if (!U.batch) return CPNS_ERR_NOMEM;
  int rc = cpns_ratebook_new(USAGE_RATE_KEYS, (double)srv->conf.usage.max_rate,
                             (double)srv->conf.usage.burst, &U.rates);
  if (!rc) rc = srv->store->ops->usage_count(srv->store, &U.stored);
  if (rc) return rc;
  struct cpns_node *n = srv->node;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "pns/*/usage", CPNS_REL_GW_OF_PN,
                           "report this PN's usage", post_usage, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "usage/summary",
                           CPNS_REL_OPERATOR | CPNS_REL_GW_OF_PN | CPNS_REL_MEMBER |
                               CPNS_REL_EXTERNAL,
                           "read this PN's usage", get_summary, srv);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "stats/usage", CPNS_REL_OPERATOR,
                           "read usage counters", stats, srv);
  rc |= cpns_node_add_link(n, "usage/summary", "rt=\"cpns.usage\";ct=\"60 50\"");
  rc |= cpns_node_every(n, USAGE_PURGE_MS, purge, srv);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void usage__free(struct server *srv) {
  (void)srv;
  cpns_ratebook_free(U.rates);
  free(U.batch);
  memset(&U, 0, sizeof U);
}
