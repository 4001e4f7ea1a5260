/* SPDX-License-Identifier: Apache-2.0 */
/* Usage statistics at the PN GW (spec 5.5.4). Each PNE of the PN sends the
 * records its user's preferences allow (CPNS-1, POST
 * pns/{pn}/entities/{id}/usage: a batch of records, each with the id the
 * PNE gave it); the gateway commits them to its store before it
 * acknowledges them, then forwards them to the server as the PN's batches
 * (CPNS-2, POST pns/{pn}/usage): a batch goes when [usage] batch_max
 * records wait or the oldest waited [usage] batch_ms, one batch in flight
 * at a time, and its records leave the store only when the server has
 * acknowledged them. While the server is away (or full) they wait in the
 * store, across restarts, bounded by [usage] max_pending (beyond, a PNE's
 * batch gets 5.03 and the PNE keeps it). A resent batch is harmless: the
 * records' ids let each hop pass over what it holds already.
 *
 * Summaries are the server's: the PNEs' requests (GET usage/summary) are
 * relayed On-Behalf-Of them, so the server answers each PNE for its own PN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "log.h"
#include "msg.h"
#include "ratelimit.h"
#include "usage.h"

#define MOD "usage"
#define USAGE_TICK_MS 100
/* Bytes of records (as JSON, larger than their CBOR) in one batch to the
 * server: with framing it stays within the server's default request body
 * limit (16 KiB). */
#define USAGE_BATCH_BYTES 12000
/* After no answer, or a busy or full server, the batch waits this long. */
#define USAGE_RETRY_MS 2000
/* After a refusal that may pass (the server not knowing the PN yet, an
 * older server), this long. */
#define USAGE_REFUSED_RETRY_MS 30000

struct gw_usage {
  bool alive;
  struct gw *gw;
  struct cpns_ratebook *rates;
  uint64_t pending;         /* records held for the server */
  uint64_t flush_at_ms;     /* when the records waiting go, at the latest; 0 = none wait */
  uint64_t not_before_ms;   /* no batch before this (the server refused or was away) */
  bool in_flight;
  uint64_t *sent;           /* seqs of the batch in flight */
  size_t nsent;
  struct cpns_usage_rec *in; /* a PNE's batch being decoded */
  json_t *out;               /* the records of the batch being built */
  size_t out_bytes;
  unsigned long received, duplicates, refused, rate_limited, full, batches, forwarded, dropped;
};

static struct gw_usage GU;

static int64_t now_s(void) { return (int64_t)time(NULL); }

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the PN's batches to the server -------------------------------------------- */

static void schedule(uint64_t at_ms) {
  if (!GU.flush_at_ms || at_ms < GU.flush_at_ms) GU.flush_at_ms = at_ms;
}

static void batch_answer(void *arg, int code, const json_t *body, const char *diag) {
  (void)arg;
  (void)body;
  if (!GU.alive) return;
  struct gw *gw = GU.gw;
  GU.in_flight = false;
  uint64_t now = mono_ms();
  if (code >= 200 && code < 300) {
    if (gw->store->ops->usage_remove(gw->store, GU.sent, GU.nsent)) {
      /* Kept, and sent again later: the server passes over what it holds. */
      GU.not_before_ms = now + USAGE_RETRY_MS;
    } else {
      GU.pending = GU.pending > GU.nsent ? GU.pending - GU.nsent : 0;
      GU.batches++;
      GU.forwarded += GU.nsent;
    }
  } else if (code == 400 || code == 413) {
    /* The server finds the records themselves bad: sending them again
     * cannot change that, and they would hold up every later record. */
    log_warn(MOD, "the server refused %zu usage record(s) for good (%d %s): dropped", GU.nsent,
             code, diag);
    if (gw->store->ops->usage_remove(gw->store, GU.sent, GU.nsent) == 0) {
      GU.pending = GU.pending > GU.nsent ? GU.pending - GU.nsent : 0;
      GU.dropped += GU.nsent;
    }
  } else if (code < 0 || code >= 500 || code == 429) {
    /* Away, busy or full: everything stays to be sent. */
    GU.not_before_ms = now + USAGE_RETRY_MS;
  } else {
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "the server refused a usage batch: %d %s; trying later",
                code, diag);
    GU.not_before_ms = now + USAGE_REFUSED_RETRY_MS;
  }
  GU.nsent = 0;
  if (GU.pending) schedule(GU.not_before_ms > now ? GU.not_before_ms : now);
}

static int add_to_batch(void *arg, const struct cpns_usage_rec *r) {
  (void)arg;
  json_t *j = cpns_usage_to_json(r, CPNS_USAGE_FROM_GW);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  size_t len = text ? strlen(text) : 0;
  free(text);
  if (!j || (GU.nsent && GU.out_bytes + len > USAGE_BATCH_BYTES)) {
    json_decref(j);
    return 1;
  }
  json_array_append_new(GU.out, j);
  GU.sent[GU.nsent++] = r->seq;
  GU.out_bytes += len;
  return 0;
}

/* Sends the oldest records waiting as one batch. */
static void flush(void) {
  struct gw *gw = GU.gw;
  coap_session_t *up = upstream__session(gw);
  if (GU.in_flight || !up) return;
  GU.out = json_array();
  GU.nsent = 0;
  GU.out_bytes = 0;
  if (!GU.out ||
      gw->store->ops->usage_list(gw->store, 0, (unsigned)gw->conf.usage.batch_max, add_to_batch,
                                 NULL)) {
    json_decref(GU.out);
    GU.out = NULL;
    GU.not_before_ms = mono_ms() + USAGE_RETRY_MS;
    schedule(GU.not_before_ms);
    return;
  }
  if (!GU.nsent) {
    /* The count was off (another process changed the store): start over. */
    json_decref(GU.out);
    GU.out = NULL;
    GU.pending = 0;
    return;
  }
  char path[CPNS_ID_MAX + 16];
  snprintf(path, sizeof path, "pns/%s/usage", gw->conf.pn);
  json_t *body = json_pack("{s:o}", "records", GU.out);
  GU.out = NULL;
  GU.in_flight = true;
  if (!body ||
      cpns_node_request(gw->node, up, COAP_REQUEST_CODE_POST, path, NULL, body, batch_answer, NULL)) {
    GU.in_flight = false;
    GU.nsent = 0;
    GU.not_before_ms = mono_ms() + USAGE_RETRY_MS;
    schedule(GU.not_before_ms);
  } else {
    log_debug(MOD, "%zu usage record(s) sent to the server", GU.nsent);
  }
  json_decref(body);
}

static void tick(void *arg) {
  (void)arg;
  if (!GU.pending || GU.in_flight || !upstream__ready(GU.gw)) return;
  uint64_t now = mono_ms();
  if (now < GU.not_before_ms) return;
  if (GU.pending >= (uint64_t)GU.gw->conf.usage.batch_max || (GU.flush_at_ms && now >= GU.flush_at_ms)) {
    GU.flush_at_ms = 0;
    flush();
    if (GU.pending && !GU.in_flight) schedule(now + (uint64_t)GU.gw->conf.usage.batch_ms);
  }
}

/* ---- records from the PNEs ----------------------------------------------------- */

static void reply_429(struct cpns_req *req, long retry) {
  uint8_t b[4];
  coap_add_option(req->response, COAP_OPTION_MAXAGE,
                  coap_encode_var_safe(b, sizeof b, (unsigned)retry), b);
  cpns_reply_error(req, 429, "too many usage batches; retry in %ld s", retry);
}

/* POST pns/{pn}/entities/{id}/usage: a PNE's records. */
static void post_usage(struct cpns_req *req, void *arg) {
  (void)arg;
  struct gw *gw = GU.gw;
  const char *pn = req->seg[1], *id = req->seg[3];
  if (strcmp(pn, gw->conf.pn) != 0) {
    cpns_reply_error(req, 404, "this gateway serves PN %s", gw->conf.pn);
    return;
  }
  struct cpns_entity_rec e;
  if (gw->store->ops->entity_get(gw->store, pn, id, &e) || e.state == CPNS_STATE_ADDED) {
    cpns_reply_error(req, 403, "%s must register in PN %s first", id, pn);
    return;
  }
  long wait = cpns_ratebook_take(GU.rates, id, mono_ms());
  if (wait) {
    GU.rate_limited++;
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "%s: usage batches beyond %ld/s: 4.29", id,
                gw->conf.usage.max_rate);
    reply_429(req, wait);
    return;
  }
  size_t n = 0;
  char err[CPNS_DIAG_MAX];
  int rc = cpns_usage_batch_decode(req->body, CPNS_USAGE_FROM_PNE, GU.in, CPNS_USAGE_BATCH_MAX, &n,
                                   err, sizeof err);
  if (rc) {
    GU.refused++;
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "%s: usage batch refused: %s", id, err);
    cpns_reply_error(req, rc == CPNS_ERR_TOOBIG ? 413 : 400, "%s", err);
    return;
  }
  if (GU.pending + n > (uint64_t)gw->conf.usage.max_pending) {
    GU.full++;
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "%llu usage records wait for the server: %s must keep its own",
                (unsigned long long)GU.pending, id);
    cpns_reply_error(req, 503, "usage records wait for the server; try later");
    return;
  }
  int64_t now = now_s();
  for (size_t i = 0; i < n; i++) {
    snprintf(GU.in[i].pn, sizeof GU.in[i].pn, "%s", pn);
    snprintf(GU.in[i].entity, sizeof GU.in[i].entity, "%s", id);
    GU.in[i].received_at = now;
  }
  unsigned added = 0;
  if (gw->store->ops->usage_add(gw->store, GU.in, n, &added)) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  for (size_t i = 0; i < n; i++)
    log_debug(MOD, "%s used %s for %lld s (%llu bytes in, %llu out)", id, GU.in[i].service,
              (long long)(GU.in[i].stop - GU.in[i].start), (unsigned long long)GU.in[i].bytes_in,
              (unsigned long long)GU.in[i].bytes_out);
  GU.received += added;
  GU.duplicates += n - added;
  GU.pending += added;
  if (added) schedule(mono_ms() + (uint64_t)gw->conf.usage.batch_ms);
  cpns_reply(req, 204, json_pack("{s:I, s:I}", "stored", (json_int_t)added, "duplicates",
                                 (json_int_t)(n - added)));
}

/* GET usage/summary: the server's, asked for by a PNE of this PN (on its
 * behalf) or by the operator here (as the gateway). The query goes as it
 * is: the server bounds its limit (at most CPNS_USAGE_ROWS_MAX rows, 4.00
 * beyond), and an answer larger than one block comes back block by block
 * (docs/architecture.md, "Block-wise answers"). */
static void relay_summary(struct cpns_req *req, void *arg) {
  (void)arg;
  const char *who = req->peer->role == CPNS_PEER_PNE ? req->peer->identity : NULL;
  cpns_relay_for(req, upstream__session(GU.gw), who);
}

static void stats(struct cpns_req *req, void *arg) {
  (void)arg;
  cpns_reply(req, 205,
             json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "pending",
                       (json_int_t)GU.pending, "received", (json_int_t)GU.received, "duplicates",
                       (json_int_t)GU.duplicates, "refused", (json_int_t)GU.refused,
                       "rate_limited", (json_int_t)GU.rate_limited, "full", (json_int_t)GU.full,
                       "batches", (json_int_t)GU.batches, "forwarded", (json_int_t)GU.forwarded,
                       "dropped", (json_int_t)GU.dropped));
}

/* ---- life cycle ----------------------------------------------------------------- */

int usage__init(struct gw *gw) {
  memset(&GU, 0, sizeof GU);
  GU.gw = gw;
  GU.in = calloc(CPNS_USAGE_BATCH_MAX, sizeof *GU.in);
  GU.sent = calloc(CPNS_USAGE_BATCH_MAX, sizeof *GU.sent);
  if (!GU.in || !GU.sent) return CPNS_ERR_NOMEM;
  size_t keys = (size_t)gw->conf.max_entities + 16;
  int rc = cpns_ratebook_new(keys, (double)gw->conf.usage.max_rate, (double)gw->conf.usage.burst,
                             &GU.rates);
  if (!rc) rc = gw->store->ops->usage_count(gw->store, &GU.pending);
  if (rc) return rc;
  if (GU.pending) {
    log_info(MOD, "%llu usage record(s) wait for the server", (unsigned long long)GU.pending);
    schedule(mono_ms());
  }
  GU.alive = true;
  struct cpns_node *n = gw->node;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "pns/*/entities/*/usage", CPNS_REL_SELF,
                           "report another entity's usage", post_usage, NULL);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "usage/summary",
                           CPNS_REL_MEMBER | CPNS_REL_OPERATOR, "read this PN's usage",
                           relay_summary, NULL);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "stats/usage",
                           CPNS_REL_MEMBER | CPNS_REL_OPERATOR, "read usage counters", stats, NULL);
  rc |= cpns_node_every(n, USAGE_TICK_MS, tick, NULL);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void usage__free(void) {
  GU.alive = false;
  cpns_ratebook_free(GU.rates);
  free(GU.in);
  free(GU.sent);
  json_decref(GU.out);
  GU.rates = NULL;
  GU.in = NULL;
  GU.sent = NULL;
  GU.out = NULL;
}
