/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/service.c. The first byte picks the input:
 *
 *   'c'  the rest is a CBOR body, 'j' (or any other byte) a JSON body: what
 *        decodes goes through every schema of the directory: the service
 *        description, device capabilities, and the lookup query with and
 *        without paging;
 *   'q'  the rest is a lookup's URI query ("kw=a,b&match=any&...");
 *   't'  the rest is capabilities in the compact text form ("a:1,b:x").
 *
 * Checked, aborting on any violation: a failure uses a documented code and
 * says why; a success leaves every field within its limits (keywords
 * folded, sorted and unique; every token of its alphabet) and the server's
 * fields empty; what the encoders make of a parsed value parses back to the
 * same bytes; matching and fitting terminate and agree with each other. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/cpns.h>

#include "codec.h"
#include "service.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TEXT_MAX 1024 /* bytes of a 'q' or 't' input: a URI query is far shorter */

static void check_fail(int rc, const char *err) {
  if (rc != CPNS_ERR_INVAL && rc != CPNS_ERR_TOOBIG) abort();
  if (err[0] == '\0') abort();
}

static void check_str(const char *s, size_t size, size_t min) {
  const char *nul = memchr(s, '\0', size);
  if (!nul || (size_t)(nul - s) < min) abort();
}

static void check_token(const char *s, const char *marks) {
  if (!*s) abort();
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(marks, *s))) abort();
}

static void check_keywords(char (*kw)[CPNS_KEYWORD_MAX + 1], unsigned n, unsigned max) {
  if (n > max) abort();
  for (unsigned i = 0; i < n; i++) {
    check_str(kw[i], CPNS_KEYWORD_MAX + 1, 1);
    check_token(kw[i], "-_.");
    if (i && strcmp(kw[i - 1], kw[i]) >= 0) abort(); /* sorted, unique */
  }
}

static void check_value(const struct cpns_cap_value *v) {
  switch (v->kind) {
  case CPNS_CAP_INT:
    if (v->i > CPNS_CAP_INT_LIMIT || v->i < -CPNS_CAP_INT_LIMIT) abort();
    break;
  case CPNS_CAP_BOOL:
    if (v->i != 0 && v->i != 1) abort();
    break;
  case CPNS_CAP_TEXT:
    check_str(v->text, sizeof v->text, 1);
    check_token(v->text, "-_.+/");
    break;
  default: abort();
  }
}

static void check_caps(const struct cpns_caps *c) {
  if (c->n > CPNS_CAPS_MAX) abort();
  for (unsigned i = 0; i < c->n; i++) {
    check_token(c->cap[i].name, "_");
    if (i && strcmp(c->cap[i - 1].name, c->cap[i].name) >= 0) abort();
    if (c->cap[i].nvals < 1 || c->cap[i].nvals > CPNS_CAP_VALUES_MAX) abort();
    if (!c->cap[i].list && c->cap[i].nvals != 1) abort();
    for (unsigned k = 0; k < c->cap[i].nvals; k++) {
      check_value(&c->cap[i].vals[k]);
      if (c->cap[i].list && c->cap[i].vals[k].kind != CPNS_CAP_TEXT) abort();
    }
  }
}

static void caps_round_trip(const struct cpns_caps *c) {
  json_t *o = cpns_caps_to_json(c);
  struct cpns_caps back;
  char err[160] = "";
  if (!o || cpns_caps_parse_json(o, &back, err, sizeof err)) abort();
  if (memcmp(c, &back, sizeof back) != 0) abort();
  json_decref(o);
}

static void check_service(const struct cpns_service *s) {
  if (s->id[0] || s->offerer[0] || s->pn[0] || s->created_at || s->updated_at || s->expires_at)
    abort();
  check_str(s->name, sizeof s->name, 1);
  check_str(s->description, sizeof s->description, 0);
  check_keywords((char(*)[CPNS_KEYWORD_MAX + 1])s->keywords, s->nkeywords,
                 CPNS_SERVICE_KEYWORDS_MAX);
  if (s->nkeywords < 1) abort();
  if (s->nuris < 1 || s->nuris > CPNS_SERVICE_URIS_MAX) abort();
  for (unsigned i = 0; i < s->nuris; i++) check_str(s->uris[i], sizeof s->uris[i], 3);
  if (s->nrequires > CPNS_SERVICE_REQUIRES_MAX) abort();
  for (unsigned i = 0; i < s->nrequires; i++) {
    const struct cpns_requirement *r = &s->requires[i];
    check_token(r->cap, "_");
    if (i && strcmp(s->requires[i - 1].cap, r->cap) >= 0) abort();
    if (r->op == CPNS_REQ_RANGE) {
      if (!r->has_min && !r->has_max) abort();
      if (r->has_min && r->has_max && r->min > r->max) abort();
    } else {
      if (r->nvals < 1 || r->nvals > CPNS_CAP_VALUES_MAX) abort();
      if (r->op == CPNS_REQ_EQ && r->nvals != 1) abort();
      for (unsigned k = 0; k < r->nvals; k++) check_value(&r->vals[k]);
    }
  }
  if (s->lifetime < CPNS_SERVICE_LT_MIN || s->lifetime > CPNS_SERVICE_LT_MAX) abort();
  if (s->visibility != CPNS_VIS_PN && s->visibility != CPNS_VIS_PUBLIC) abort();
}

/* The description a parsed service makes parses back to the same bytes,
 * through both encodings; the whole object (with the server's fields) is
 * refused as a body. */
static void service_round_trip(const struct cpns_service *s) {
  json_t *d = cpns_service_describe(s);
  if (!d) abort();
  char err[160] = "";
  for (size_t i = 0; i < FUZZ_NCFS; i++) {
    json_t *v = fuzz_reencode(d, fuzz_cfs[i], NULL);
    struct cpns_service back;
    if (cpns_service_parse(v, &back, err, sizeof err)) abort();
    if (memcmp(s, &back, sizeof back) != 0) abort();
    json_decref(v);
  }
  json_decref(d);
  struct cpns_service full = *s;
  memcpy(full.id, "fuzz", 5);
  json_t *o = cpns_service_to_json(&full);
  struct cpns_service back;
  if (!o || cpns_service_parse(o, &back, err, sizeof err) != CPNS_ERR_INVAL) abort();
  json_decref(o);
}

static void check_query(const struct cpns_service_query *q) {
  check_keywords((char(*)[CPNS_KEYWORD_MAX + 1])q->kw, q->nkw, CPNS_QUERY_KEYWORDS_MAX);
  if (q->match != CPNS_MATCH_ALL && q->match != CPNS_MATCH_ANY && q->match != CPNS_MATCH_PREFIX)
    abort();
  if (q->match == CPNS_MATCH_PREFIX)
    for (unsigned i = 0; i < q->nkw; i++)
      if (strlen(q->kw[i]) < CPNS_PREFIX_MIN) abort();
  check_str(q->offerer, sizeof q->offerer, 0);
  check_str(q->pn, sizeof q->pn, 0);
  check_str(q->after, sizeof q->after, 0);
  if (q->limit > CPNS_QUERY_LIMIT_MAX) abort();
  if (q->has_caps) check_caps(&q->caps);
  else if (q->caps.n) abort();
}

static void query_round_trip(const struct cpns_service_query *q) {
  json_t *o = cpns_service_query_to_json(q);
  struct cpns_service_query back;
  char err[160] = "";
  if (!o || cpns_service_query_parse_json(o, false, &back, err, sizeof err)) abort();
  struct cpns_service_query want = *q;
  want.limit = 0; /* no paging in a saved interest */
  memset(want.after, 0, sizeof want.after);
  if (memcmp(&want, &back, sizeof back) != 0) abort();
  json_decref(o);
}

/* A service made from the query's own words must answer it. */
static void query_self_match(const struct cpns_service_query *q) {
  struct cpns_service s;
  memset(&s, 0, sizeof s);
  memcpy(s.name, "n", 2);
  for (unsigned i = 0; i < q->nkw; i++) memcpy(s.keywords[i], q->kw[i], sizeof s.keywords[i]);
  s.nkeywords = q->nkw;
  memcpy(s.offerer, q->offerer, sizeof s.offerer);
  memcpy(s.pn, q->pn, sizeof s.pn);
  /* A service without requirements fits any capabilities. */
  if (!cpns_service_query_matches(q, &s)) abort();
  (void)cpns_service_query_selective(q);
}

static void fuzz_body(const json_t *v) {
  char err[160] = "";
  struct cpns_service s;
  int rc = cpns_service_parse(v, &s, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
  } else {
    check_service(&s);
    service_round_trip(&s);
  }
  struct cpns_caps c;
  err[0] = '\0';
  rc = cpns_caps_parse_json(v, &c, err, sizeof err);
  if (rc) {
    check_fail(rc, err);
  } else {
    check_caps(&c);
    caps_round_trip(&c);
  }
  for (int paging = 0; paging < 2; paging++) {
    struct cpns_service_query q;
    err[0] = '\0';
    rc = cpns_service_query_parse_json(v, paging, &q, err, sizeof err);
    if (rc) {
      check_fail(rc, err);
      continue;
    }
    check_query(&q);
    query_round_trip(&q);
    query_self_match(&q);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char err[160] = "";
  if (data[0] == 'q' || data[0] == 't') {
    if (size - 1 > FUZZ_TEXT_MAX || memchr(data + 1, '\0', size - 1)) return 0;
    char text[FUZZ_TEXT_MAX + 1];
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] == 'q') {
      struct cpns_service_query q;
      int rc = cpns_service_query_parse_uri(text, &q, err, sizeof err);
      if (rc) {
        check_fail(rc, err);
        return 0;
      }
      check_query(&q);
      query_round_trip(&q);
      query_self_match(&q);
    } else {
      struct cpns_caps c;
      int rc = cpns_caps_parse_text(text, &c, err, sizeof err);
      if (rc) {
        check_fail(rc, err);
        return 0;
      }
      check_caps(&c);
      caps_round_trip(&c);
    }
    return 0;
  }
  int cf = data[0] == 'c' ? CPNS_CF_CBOR : CPNS_CF_JSON;
  json_t *v = NULL;
  if (cpns_codec_decode(data + 1, size - 1, cf, &cpns_codec_default_limits, &v, err, sizeof err))
    return 0;
  fuzz_body(v);
  json_decref(v);
  return 0;
}
