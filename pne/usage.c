/* SPDX-License-Identifier: Apache-2.0 */
/* Usage statistics at the PNE (spec 5.5.4): the device's applications hand
 * in a record of each service consumption (CPNS-5, POST usage); the agent
 * completes its snapshot of the device during use (its type, and what the
 * other modules know: battery, network, presence), applies the user's
 * reporting preferences and keeps what they allow until the gateway has
 * it. A record whose service the preferences deny is dropped at once: it
 * is answered ("reported": false), counted, and never stored nor sent, so
 * it never leaves the device. Turning a service to deny also deletes its
 * records still waiting here, and every batch is checked against the
 * preferences again just before it goes.
 *
 * The records and the preferences are kept in a small SQLite store of the
 * PNE's own ([usage] database, the store of lib/store.h), so that neither a
 * restart nor a gateway's absence loses what an application was told was
 * recorded. Records go to the gateway in batches (CPNS-1, POST
 * pns/{pn}/entities/{id}/usage), one batch in flight at a time, each
 * record with a random id by which every hop recognizes a resend.
 *
 * Preferences are the user's: any application may read them, only an
 * operator identity of the device's keyring (the user, through cpnsctl or
 * the C API) may change them. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "msg.h"
#include "pne.h"
#include "ratelimit.h"
#include "store.h"
#include "usage.h"

#define MOD "usage"
#define USAGE_TICK_MS 100
/* Bytes of random in a record's id (hex: twice as many characters). */
#define USAGE_RID_BYTES 16
/* Applications rate-limited separately; beyond, the longest idle is
 * forgotten (which only forgives). */
#define USAGE_RATE_KEYS 1024
/* Bytes of records (as JSON, larger than their CBOR) in one batch: within
 * the gateway's default request body limit (16 KiB). */
#define USAGE_BATCH_BYTES 12000
/* After no answer or a busy gateway, a batch waits this long... */
#define USAGE_RETRY_MS 2000
/* ... and after a refusal that may pass (not registered yet), this long. */
#define USAGE_REFUSED_RETRY_MS 10000
/* Sources of the device snapshot (capabilities, status...). */
#define USAGE_SOURCES_MAX 4
/* Records of a service denied now, deleted per transaction. */
#define USAGE_PURGE_CHUNK 1024
#define USAGE_KV_PREFS "usage.prefs"

struct source {
  usage__snapshot_fn fn;
  void *arg;
};

struct pne_usage {
  bool alive;
  struct pne *p;
  struct cpns_store *store; /* NULL: no usage statistics on this device (5.03) */
  struct cpns_ratebook *rates;
  struct cpns_usage_prefset prefs;
  bool configured_allow; /* [usage] report */
  uint64_t pending;
  uint64_t flush_at_ms, not_before_ms;
  bool in_flight;
  uint64_t *sent;
  size_t nsent;
  json_t *out;
  size_t out_bytes;
  unsigned long recorded, denied, purged, rate_limited, refused, full, batches, sent_records,
      dropped;
};

static struct pne_usage PU;
/* Apart from PU: modules that start before this one register here. */
static struct source g_sources[USAGE_SOURCES_MAX];
static size_t g_nsources;

static int64_t now_s(void) { return (int64_t)time(NULL); }

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void usage__add_snapshot_source(usage__snapshot_fn fn, void *arg) {
  if (!fn || g_nsources >= USAGE_SOURCES_MAX) return;
  g_sources[g_nsources++] = (struct source){fn, arg};
}

static void schedule(uint64_t at_ms) {
  if (!PU.flush_at_ms || at_ms < PU.flush_at_ms) PU.flush_at_ms = at_ms;
}

static bool allows(const char *service) {
  return cpns_usage_prefs_allows(&PU.prefs, service, PU.configured_allow);
}

/* ---- the store of records and preferences -------------------------------------- */

static int save_prefs(const struct cpns_usage_prefset *prefs) {
  json_t *j = cpns_usage_prefs_to_json(prefs, false, PU.configured_allow);
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(j);
  if (!text) return CPNS_ERR_NOMEM;
  int rc = PU.store->ops->kv_set(PU.store, USAGE_KV_PREFS, text);
  free(text);
  return rc;
}

static void load_prefs(void) {
  cpns_usage_prefs_init(&PU.prefs);
  /* The largest document: every service named, each with its choice. */
  size_t size = 64 + (size_t)CPNS_USAGE_PREFS_MAX * (CPNS_ID_MAX + 16);
  char *text = malloc(size);
  if (!text) return;
  if (PU.store->ops->kv_get(PU.store, USAGE_KV_PREFS, text, size) == 0) {
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    char err[CPNS_DIAG_MAX];
    if (!j || cpns_usage_prefs_decode(j, &PU.prefs, err, sizeof err)) {
      /* Never report more than the user allowed: deny by default until the
       * preferences are set again. */
      log_err(MOD, "the stored usage preferences do not parse: reporting nothing until they "
                   "are set again");
      cpns_usage_prefs_init(&PU.prefs);
      PU.prefs.default_set = true;
      PU.prefs.default_allow = false;
    }
    json_decref(j);
  }
  free(text);
}

/* Deletes every waiting record the preferences deny now, walking the
 * waiting records a chunk at a time. */
struct purge_walk {
  uint64_t seq[USAGE_PURGE_CHUNK];
  size_t n, seen;
  uint64_t last;
};

static int purge_visit(void *arg, const struct cpns_usage_rec *r) {
  struct purge_walk *w = arg;
  w->seen++;
  w->last = r->seq;
  if (!allows(r->service)) w->seq[w->n++] = r->seq;
  return 0;
}

static void purge_denied(void) {
  if (!PU.store || !PU.pending) return;
  struct purge_walk *w = malloc(sizeof *w);
  if (!w) return;
  uint64_t after = 0;
  for (;;) {
    w->n = w->seen = 0;
    if (PU.store->ops->usage_list(PU.store, after, USAGE_PURGE_CHUNK, purge_visit, w)) break;
    if (w->n && PU.store->ops->usage_remove(PU.store, w->seq, w->n) == 0) {
      PU.purged += w->n;
      PU.pending = PU.pending > w->n ? PU.pending - w->n : 0;
      log_info(MOD, "%zu waiting usage record(s) deleted: the preferences deny them now", w->n);
    }
    if (w->seen < USAGE_PURGE_CHUNK) break;
    after = w->last;
  }
  free(w);
}

/* ---- records from the applications --------------------------------------------- */

static void rid_new(char out[2 * USAGE_RID_BYTES + 1]) {
  uint8_t b[USAGE_RID_BYTES];
  static const char hex[] = "0123456789abcdef";
  if (RAND_bytes(b, sizeof b) != 1) {
    /* Never seen on Linux; an id that is unique enough still beats none. */
    uint64_t t = mono_ms() ^ ((uint64_t)now_s() << 20) ^ (uint64_t)PU.recorded;
    memcpy(b, &t, sizeof t);
    memcpy(b + sizeof t, &PU.pending, sizeof PU.pending);
  }
  for (size_t i = 0; i < sizeof b; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[2 * USAGE_RID_BYTES] = '\0';
}

static bool have_store(struct cpns_req *req) {
  if (PU.store) return true;
  cpns_reply_error(req, 503, "usage statistics unavailable: no store");
  return false;
}

/* POST usage: an application's record. */
static void post_usage(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  if (!have_store(req)) return;
  struct cpns_usage_rec r;
  char err[CPNS_DIAG_MAX];
  int rc = cpns_usage_decode(req->body, CPNS_USAGE_FROM_APP, &r, err, sizeof err);
  if (rc) {
    PU.refused++;
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "%s: usage record refused: %s", req->peer->identity, err);
    cpns_reply_error(req, rc == CPNS_ERR_TOOBIG ? 413 : 400, "%s", err);
    return;
  }
  long wait = cpns_ratebook_take(PU.rates, req->peer->identity, mono_ms());
  if (wait) {
    PU.rate_limited++;
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "%s: usage records beyond %ld/s: 4.29", req->peer->identity,
                p->conf.usage.max_rate);
    uint8_t b[4];
    coap_add_option(req->response, COAP_OPTION_MAXAGE,
                    coap_encode_var_safe(b, sizeof b, (unsigned)wait), b);
    cpns_reply_error(req, 429, "too many usage records; retry in %ld s", wait);
    return;
  }
  if (!allows(r.service)) {
    /* The user's preferences forbid it: it never leaves the device. */
    PU.denied++;
    log_debug(MOD, "a record of %s kept private: the preferences deny it", r.service);
    cpns_reply(req, 204, json_pack("{s:b}", "reported", 0));
    return;
  }
  if (PU.pending >= (uint64_t)p->conf.usage.max_pending) {
    PU.full++;
    CPNS_LOG_RL(CPNS_LOG_WARNING, MOD, "%llu usage records wait for the gateway: refusing more",
                (unsigned long long)PU.pending);
    cpns_reply_error(req, 503, "too many usage records wait for the gateway; try later");
    return;
  }
  cpns_usage_device_t self;
  cpns_usage_device_init(&self);
  snprintf(self.type, sizeof self.type, "%s", p->conf.type);
  for (size_t i = 0; i < g_nsources; i++) g_sources[i].fn(g_sources[i].arg, &self);
  cpns_usage_device_fill(&r.device, &self);
  snprintf(r.entity, sizeof r.entity, "%s", p->conf.id);
  rid_new(r.rid);
  r.received_at = now_s();
  unsigned added = 0;
  if (PU.store->ops->usage_add(PU.store, &r, 1, &added) || added != 1) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  PU.recorded++;
  PU.pending++;
  schedule(mono_ms() + (uint64_t)p->conf.usage.batch_ms);
  cpns_reply(req, 201, json_pack("{s:s, s:b}", "id", r.rid, "reported", 1));
}

static json_t *prefs_json(void) {
  return cpns_usage_prefs_to_json(&PU.prefs, true, PU.configured_allow);
}

/* GET usage: this device's counters. */
static void get_usage(struct cpns_req *req, void *arg) {
  (void)arg;
  if (!have_store(req)) return;
  cpns_reply(req, 205,
             json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "pending",
                       (json_int_t)PU.pending, "recorded", (json_int_t)PU.recorded, "denied",
                       (json_int_t)PU.denied, "purged", (json_int_t)PU.purged, "sent",
                       (json_int_t)PU.sent_records, "batches", (json_int_t)PU.batches, "refused",
                       (json_int_t)PU.refused, "rate_limited", (json_int_t)PU.rate_limited, "full",
                       (json_int_t)PU.full, "dropped", (json_int_t)PU.dropped));
}

/* ---- preferences ----------------------------------------------------------------- */

/* Commits prefs, then applies them: what they deny now is deleted. */
static void commit_prefs(struct cpns_req *req, const struct cpns_usage_prefset *prefs, int code) {
  if (save_prefs(prefs)) {
    cpns_reply_error(req, 500, "store failure");
    return;
  }
  PU.prefs = *prefs;
  purge_denied();
  log_info(MOD, "usage preferences changed by %s", req->peer->identity);
  cpns_reply(req, code, prefs_json());
}

static void get_prefs(struct cpns_req *req, void *arg) {
  (void)arg;
  if (!have_store(req)) return;
  cpns_reply(req, 205, prefs_json());
}

/* PUT usage/prefs: the whole preferences. */
static void put_prefs(struct cpns_req *req, void *arg) {
  (void)arg;
  if (!have_store(req)) return;
  static struct cpns_usage_prefset next;
  char err[CPNS_DIAG_MAX];
  int rc = cpns_usage_prefs_decode(req->body, &next, err, sizeof err);
  if (rc) {
    cpns_reply_error(req, rc == CPNS_ERR_TOOBIG ? 413 : 400, "%s", err);
    return;
  }
  commit_prefs(req, &next, 204);
}

/* {"report": "allow" | "deny"}: -1 (replied) or the choice. */
static int report_of(struct cpns_req *req) {
  static const char *const fields[] = {"report", NULL};
  char word[8] = "", err[CPNS_DIAG_MAX];
  if (!json_is_object(req->body) || cpns_msg_only(req->body, fields, err, sizeof err) ||
      cpns_msg_str(req->body, "report", word, sizeof word, true, err, sizeof err) ||
      cpns_usage_pref_parse(word) < 0) {
    cpns_reply_error(req, 400, "the body is {\"report\": \"allow\" or \"deny\"}");
    return -1;
  }
  return cpns_usage_pref_parse(word);
}

/* PUT usage/prefs/services/{service}, DELETE the same. */
static void put_service_pref(struct cpns_req *req, void *arg) {
  (void)arg;
  if (!have_store(req)) return;
  const char *service = req->seg[3];
  if (!cpns_valid_id(service)) {
    cpns_reply_error(req, 400, "'%s' is not a service id", service);
    return;
  }
  int allow = report_of(req);
  if (allow < 0) return;
  static struct cpns_usage_prefset next;
  next = PU.prefs;
  if (cpns_usage_prefs_set(&next, service, allow == 1)) {
    cpns_reply_error(req, 503, "preferences name %d services already", CPNS_USAGE_PREFS_MAX);
    return;
  }
  commit_prefs(req, &next, 204);
}

static void delete_service_pref(struct cpns_req *req, void *arg) {
  (void)arg;
  if (!have_store(req)) return;
  static struct cpns_usage_prefset next;
  next = PU.prefs;
  if (!cpns_usage_prefs_clear(&next, req->seg[3])) {
    cpns_reply_error(req, 404, "no preference for that service");
    return;
  }
  commit_prefs(req, &next, 202);
}

/* PUT usage/prefs/default, DELETE the same (back to [usage] report). */
static void put_default_pref(struct cpns_req *req, void *arg) {
  (void)arg;
  if (!have_store(req)) return;
  int allow = report_of(req);
  if (allow < 0) return;
  static struct cpns_usage_prefset next;
  next = PU.prefs;
  next.default_set = true;
  next.default_allow = allow == 1;
  commit_prefs(req, &next, 204);
}

static void delete_default_pref(struct cpns_req *req, void *arg) {
  (void)arg;
  if (!have_store(req)) return;
  static struct cpns_usage_prefset next;
  next = PU.prefs;
  next.default_set = false;
  commit_prefs(req, &next, 202);
}

/* GET usage/summary: the server's, through the gateway, with the query as
 * it is (the server bounds its limit); an answer larger than one block
 * comes back block by block (docs/architecture.md). */
static void relay_summary(struct cpns_req *req, void *arg) {
  struct pne *p = arg;
  if (p->state != PNE_REGISTERED || !p->session) {
    cpns_reply_error(req, 503, "not registered with a gateway (%s)", agent__state_name(p->state));
    return;
  }
  cpns_relay(req, p->session);
}

/* ---- batches to the gateway ----------------------------------------------------- */

static void batch_answer(void *arg, int code, const json_t *body, const char *diag) {
  (void)body;
  struct pne *p = arg;
  if (!PU.alive) return;
  PU.in_flight = false;
  uint64_t now = mono_ms();
  if (code >= 200 && code < 300) {
    if (PU.store->ops->usage_remove(PU.store, PU.sent, PU.nsent)) {
      PU.not_before_ms = now + USAGE_RETRY_MS; /* sent again: the gateway passes over them */
    } else {
      PU.batches++;
      PU.sent_records += PU.nsent;
    }
  } else if (code == 400 || code == 413) {
    log_warn(MOD, "the gateway refused %zu usage record(s) for good (%d %s): dropped", PU.nsent,
             code, diag);
    if (PU.store->ops->usage_remove(PU.store, PU.sent, PU.nsent) == 0) PU.dropped += PU.nsent;
  } else if (code < 0 || code >= 500 || code == 429) {
    PU.not_before_ms = now + USAGE_RETRY_MS;
  } else {
    CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "the gateway refused a usage batch: %d %s; trying later",
                code, diag);
    PU.not_before_ms = now + USAGE_REFUSED_RETRY_MS;
  }
  PU.nsent = 0;
  (void)p;
  /* Counted again: the preferences may have deleted some of the batch
   * meanwhile (the count stays bounded by [usage] max_pending). */
  uint64_t n;
  if (PU.store->ops->usage_count(PU.store, &n) == 0) PU.pending = n;
  if (PU.pending) schedule(PU.not_before_ms > now ? PU.not_before_ms : now);
}

/* Denied records found while building a batch (the preferences changed
 * after they were made, and the purge missed them): deleted, not sent. */
struct build {
  uint64_t denied[CPNS_USAGE_BATCH_MAX];
  size_t ndenied;
};

static int add_to_batch(void *arg, const struct cpns_usage_rec *r) {
  struct build *b = arg;
  if (!allows(r->service)) {
    b->denied[b->ndenied++] = r->seq;
    return 0;
  }
  json_t *j = cpns_usage_to_json(r, CPNS_USAGE_FROM_PNE);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  size_t len = text ? strlen(text) : 0;
  free(text);
  if (!j || (PU.nsent && PU.out_bytes + len > USAGE_BATCH_BYTES)) {
    json_decref(j);
    return 1;
  }
  json_array_append_new(PU.out, j);
  PU.sent[PU.nsent++] = r->seq;
  PU.out_bytes += len;
  return 0;
}

static void flush(struct pne *p) {
  struct build b;
  b.ndenied = 0;
  PU.out = json_array();
  PU.nsent = 0;
  PU.out_bytes = 0;
  if (!PU.out || PU.store->ops->usage_list(PU.store, 0, (unsigned)p->conf.usage.batch_max,
                                           add_to_batch, &b)) {
    json_decref(PU.out);
    PU.out = NULL;
    PU.not_before_ms = mono_ms() + USAGE_RETRY_MS;
    schedule(PU.not_before_ms);
    return;
  }
  if (b.ndenied && PU.store->ops->usage_remove(PU.store, b.denied, b.ndenied) == 0) {
    PU.purged += b.ndenied;
    PU.pending = PU.pending > b.ndenied ? PU.pending - b.ndenied : 0;
  }
  if (!PU.nsent) {
    json_decref(PU.out);
    PU.out = NULL;
    if (!b.ndenied) PU.pending = 0; /* the count was off: nothing waits */
    if (PU.pending) schedule(mono_ms());
    return;
  }
  char path[2 * CPNS_ID_MAX + 32];
  snprintf(path, sizeof path, "pns/%s/entities/%s/usage", p->pn, p->conf.id);
  json_t *body = json_pack("{s:o}", "records", PU.out);
  PU.out = NULL;
  PU.in_flight = true;
  if (!body || cpns_node_request(p->node, p->session, COAP_REQUEST_CODE_POST, path, NULL, body,
                                 batch_answer, p)) {
    PU.in_flight = false;
    PU.nsent = 0;
    PU.not_before_ms = mono_ms() + USAGE_RETRY_MS;
    schedule(PU.not_before_ms);
  }
  json_decref(body);
}

static void tick(void *arg) {
  struct pne *p = arg;
  if (!PU.store || !PU.pending || PU.in_flight || p->state != PNE_REGISTERED || !p->session)
    return;
  uint64_t now = mono_ms();
  if (now < PU.not_before_ms) return;
  if (PU.pending >= (uint64_t)p->conf.usage.batch_max || (PU.flush_at_ms && now >= PU.flush_at_ms)) {
    PU.flush_at_ms = 0;
    flush(p);
    if (PU.pending && !PU.in_flight) schedule(now + (uint64_t)p->conf.usage.batch_ms);
  }
}

/* ---- life cycle ----------------------------------------------------------------- */

int usage__init(struct pne *p) {
  memset(&PU, 0, sizeof PU);
  PU.p = p;
  int allow = cpns_usage_pref_parse(p->conf.usage.report);
  if (allow < 0) {
    log_err(MOD, "[usage] report must be allow or deny");
    return CPNS_ERR_CONFIG;
  }
  PU.configured_allow = allow == 1;
  PU.sent = calloc(CPNS_USAGE_BATCH_MAX, sizeof *PU.sent);
  if (!PU.sent) return CPNS_ERR_NOMEM;
  int rc = cpns_ratebook_new(USAGE_RATE_KEYS, (double)p->conf.usage.max_rate,
                             (double)p->conf.usage.burst, &PU.rates);
  if (rc) return rc;
  char err[512];
  if (!p->daemon.print_authz &&
      cpns_store_sqlite_open(p->conf.usage.database, CPNS_STORE_SYNC_NORMAL, &PU.store, err,
                             sizeof err)) {
    /* The rest of the device works without: usage answers 5.03. */
    log_err(MOD, "no usage statistics: %s", err);
    PU.store = NULL;
  }
  if (PU.store) {
    load_prefs();
    if (PU.store->ops->usage_count(PU.store, &PU.pending) == 0 && PU.pending) {
      purge_denied();
      log_info(MOD, "%llu usage record(s) wait for the gateway", (unsigned long long)PU.pending);
      schedule(mono_ms());
    }
  }
  PU.alive = true;
  struct cpns_node *n = p->node;
  const unsigned local = CPNS_REL_APP | CPNS_REL_OPERATOR;
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_POST, "usage", local, "record usage", post_usage, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "usage", local, "read usage counters",
                           get_usage, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "usage/prefs", local,
                           "read the usage preferences", get_prefs, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "usage/prefs", CPNS_REL_OPERATOR,
                           "change the usage preferences", put_prefs, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "usage/prefs/default", CPNS_REL_OPERATOR,
                           "change the usage preferences", put_default_pref, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "usage/prefs/default", CPNS_REL_OPERATOR,
                           "change the usage preferences", delete_default_pref, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_PUT, "usage/prefs/services/*", CPNS_REL_OPERATOR,
                           "change the usage preferences", put_service_pref, p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_DELETE, "usage/prefs/services/*",
                           CPNS_REL_OPERATOR, "change the usage preferences", delete_service_pref,
                           p);
  rc |= cpns_node_route_as(n, COAP_REQUEST_CODE_GET, "usage/summary", local, "read usage",
                           relay_summary, p);
  rc |= cpns_node_every(n, USAGE_TICK_MS, tick, p);
  return rc ? CPNS_ERR_LIMIT : 0;
}

void usage__free(void) {
  PU.alive = false;
  cpns_store_close(PU.store);
  cpns_ratebook_free(PU.rates);
  free(PU.sent);
  json_decref(PU.out);
  memset(&PU, 0, sizeof PU);
  g_nsources = 0;
}
