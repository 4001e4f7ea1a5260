/* SPDX-License-Identifier: Apache-2.0 */
/* cpnsctl's Metadata Directory commands (spec 5.5.5; docs/protocol.md,
 * "Service publication and discovery"): publish, update, refresh,
 * unpublish, show and find services, and save, list, show and remove
 * interests. Tables for people, the server's JSON with --json. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"
#include "cpnsctl.h"
#include "msg.h"
#include "obsclient.h"
#include "service.h"

/* The largest description file read: far above what the server accepts
 * ([limits] max_payload), so that the server says what is wrong with it. */
#define CTL_DESCRIPTION_MAX (256 * 1024)
/* Room for a lookup's query string: the server takes at most
 * CPNS_QUERY_MAX bytes and says so when it is longer. */
#define CTL_QUERY_MAX 1024

const char ctl_services_usage[] =
    "  service publish FILE     publish the service described in FILE (JSON; - for stdin)\n"
    "  service update ID FILE   replace service ID's description (its offerer, the operator)\n"
    "  service refresh ID [LT]  start ID's lifetime again (LT: a new one, in seconds)\n"
    "  service unpublish ID     remove service ID (its offerer, the operator)\n"
    "  service show ID          one service's whole description\n"
    "  service find [--kw A,B] [--match all|any|prefix] [--offerer ID] [--pn PN]\n"
    "               [--caps NAME:VALUE,...] [--limit N] [--after ID]\n"
    "                           look services up, a page at a time\n"
    "  interest add [--kw A,B] [--match M] [--offerer ID] [--pn PN] [--caps NAME:VALUE,...]\n"
    "                           save a query: its resource tells observers of matching services\n"
    "  interest list            the interests you saved (the operator: all)\n"
    "  interest show ID         an interest's query and latest events\n"
    "  interest remove ID       remove an interest\n"
    "  interest watch ID [--for S]\n"
    "                           observe an interest: a line per event (a matching service\n"
    "                           appeared, changed or went away), for S seconds (0: until ^C)\n"
    "  service adverts [--watch [--for S]]\n"
    "                           the adverts a PNE kept for its own interests ([services]\n"
    "                           interests; ask the PNE: -P app.ctl); --watch: observe them\n";

static const char *str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s && *s ? s : "-";
}

static long long num(const json_t *o, const char *k) {
  return json_integer_value(json_object_get(o, k));
}

/* "in 5m", "3h ago" */
static const char *relative(long long t, char *buf, size_t len) {
  if (!t) return "-";
  long long d = t - (long long)time(NULL);
  long long a = d >= 0 ? d : -d;
  const char *unit = a < 120 ? "s" : a < 7200 ? "m" : a < 172800 ? "h" : "d";
  long long n = a < 120 ? a : a < 7200 ? a / 60 : a < 172800 ? a / 3600 : a / 86400;
  snprintf(buf, len, "%s%lld%s%s", d >= 0 ? "in " : "", n, unit, d >= 0 ? "" : " ago");
  return buf;
}

/* "a,b,c" from a list of texts, cut to fit. */
static void joined(const json_t *arr, const char *sep, char *out, size_t len) {
  out[0] = '\0';
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    size_t used = strlen(out);
    char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(out + used, len - used, "%s%s", i ? sep : "", s ? s : json_string_value(v));
    free(s);
  }
  if (!out[0]) snprintf(out, len, "-");
}

/* Runs one request. In JSON mode prints the answer as it came; otherwise
 * hands the parsed answer to *doc (NULL when it had none). Returns an exit
 * code. */
static int call(cpns_client_t *c, bool json, const char *method, const char *path,
                const char *query, const char *body, json_t **doc) {
  char *out = NULL;
  *doc = NULL;
  if (cpns_client_request(c, method, path, query, body, &out)) {
    fprintf(stderr, "cpnsctl: %s %s: %s\n", method, path, cpns_client_error(c));
    return cpns_client_status(c) ? EXIT_REFUSED : EXIT_UNREACHABLE;
  }
  if (json) {
    printf("%s\n", out ? out : "{}");
  } else if (out) {
    *doc = json_loads(out, JSON_DECODE_ANY, NULL);
  }
  cpns_free(out);
  return 0;
}

static char *read_file(const char *path) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cpnsctl: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  char *buf = malloc(CTL_DESCRIPTION_MAX + 1);
  size_t n = buf ? fread(buf, 1, CTL_DESCRIPTION_MAX + 1, f) : 0;
  bool err = ferror(f);
  if (f != stdin) fclose(f);
  if (!buf || err || n > CTL_DESCRIPTION_MAX) {
    fprintf(stderr, "cpnsctl: %s: %s\n", path,
            !buf ? "out of memory" : err ? "read error" : "larger than any description may be");
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  return buf;
}

static bool check_id(const char *id) {
  if (cpns_valid_id(id)) return true;
  fprintf(stderr, "cpnsctl: '%s' is not a valid id\n", id);
  return false;
}

/* ---- printing ---- */

static void requirement_text(const char *name, const json_t *r, char *out, size_t len) {
  const json_t *min = json_object_get(r, "min"), *max = json_object_get(r, "max");
  char vals[256];
  if (min || max) {
    out[0] = '\0';
    if (min) snprintf(out, len, "%lld <= ", (long long)json_integer_value(min));
    size_t used = strlen(out);
    snprintf(out + used, len - used, "%s", name);
    used = strlen(out);
    if (max) snprintf(out + used, len - used, " <= %lld", (long long)json_integer_value(max));
  } else if (json_object_get(r, "has")) {
    joined(json_object_get(r, "has"), ", ", vals, sizeof vals);
    snprintf(out, len, "%s has %s", name, vals);
  } else if (json_object_get(r, "in")) {
    joined(json_object_get(r, "in"), "|", vals, sizeof vals);
    snprintf(out, len, "%s in %s", name, vals);
  } else {
    char *v = json_dumps(json_object_get(r, "eq"), JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(out, len, "%s = %s", name, v ? v : "?");
    free(v);
  }
}

static void print_service(const json_t *s) {
  char buf[1024], when[32], created[32];
  printf("service %s \"%s\"\n", str(s, "id"), str(s, "name"));
  bool pub = strcmp(str(s, "visibility"), "public") == 0;
  const char *pn = str(s, "pn");
  printf("  offerer      %s%s%s%s\n", str(s, "offerer"), strcmp(pn, "-") ? " of PN " : "",
         strcmp(pn, "-") ? pn : "", pub ? ", visible to all" : ", visible to its PN only");
  joined(json_object_get(s, "keywords"), ", ", buf, sizeof buf);
  printf("  keywords     %s\n", buf);
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(s, "uris"), i, v) printf("  %-12s %s\n", i ? "" : "uris",
                                                             json_string_value(v));
  const char *name;
  bool first = true;
  json_object_foreach(json_object_get(s, "requires"), name, v) {
    requirement_text(name, v, buf, sizeof buf);
    printf("  %-12s %s\n", first ? "requires" : "", buf);
    first = false;
  }
  if (first) printf("  requires     nothing of the device\n");
  printf("  lifetime     %llds, expires %s (published %s)\n", num(s, "lt"),
         relative(num(s, "expires"), when, sizeof when),
         relative(num(s, "created"), created, sizeof created));
  if (strcmp(str(s, "description"), "-")) printf("  description  %s\n", str(s, "description"));
}

static void print_services(const json_t *doc, const char *again) {
  const json_t *list = json_object_get(doc, "services");
  printf("%-17s %-24s %-16s %-12s %-6s %-24s %s\n", "ID", "NAME", "OFFERER", "PN", "SEEN", "KEYWORDS",
         "EXPIRES");
  size_t i;
  json_t *s;
  json_array_foreach(list, i, s) {
    char kw[256], when[32];
    joined(json_object_get(s, "keywords"), ",", kw, sizeof kw);
    printf("%-17s %-24.24s %-16.16s %-12.12s %-6s %-24.24s %s\n", str(s, "id"), str(s, "name"),
           str(s, "offerer"), str(s, "pn"),
           strcmp(str(s, "visibility"), "public") == 0 ? "all" : "PN", kw,
           relative(num(s, "expires"), when, sizeof when));
  }
  if (json_array_size(list) == 0) printf("(no services on this page)\n");
  if (json_is_string(json_object_get(doc, "next")))
    printf("(more: %s --after %s)\n", again, str(doc, "next"));
}

static void query_text(const json_t *q, char *out, size_t len) {
  char kw[512];
  joined(json_object_get(q, "kw"), ",", kw, sizeof kw);
  snprintf(out, len, "%s%s%s", json_object_get(q, "kw") ? kw : "",
           json_object_get(q, "kw") ? " (" : "", json_object_get(q, "kw") ? str(q, "match") : "");
  if (json_object_get(q, "kw")) strncat(out, ")", len - strlen(out) - 1);
  static const char *const keys[] = {"offerer", "pn"};
  for (size_t i = 0; i < 2; i++)
    if (json_object_get(q, keys[i])) {
      size_t used = strlen(out);
      snprintf(out + used, len - used, "%s%s=%s", used ? " " : "", keys[i], str(q, keys[i]));
    }
  if (json_object_get(q, "caps")) {
    char *c = json_dumps(json_object_get(q, "caps"), JSON_COMPACT);
    size_t used = strlen(out);
    snprintf(out + used, len - used, "%scaps=%s", used ? " " : "", c ? c : "?");
    free(c);
  }
}

static void print_interests(const json_t *doc) {
  printf("%-17s %-16s %-6s %s\n", "ID", "OWNER", "EVENTS", "QUERY");
  size_t i;
  json_t *it;
  json_array_foreach(json_object_get(doc, "interests"), i, it) {
    char q[1024];
    query_text(json_object_get(it, "query"), q, sizeof q);
    printf("%-17s %-16.16s %-6lld %s\n", str(it, "id"), str(it, "owner"), num(it, "seq"), q);
  }
  if (json_array_size(json_object_get(doc, "interests")) == 0) printf("(no interests)\n");
}

static void print_interest(const json_t *it) {
  char q[1024];
  query_text(json_object_get(it, "query"), q, sizeof q);
  printf("interest %s  owner %s  query %s\n", str(it, "id"), str(it, "owner"), q);
  printf("%-5s %-9s %-17s %-24s %-16s %s\n", "SEQ", "EVENT", "SERVICE", "NAME", "OFFERER", "WHEN");
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(it, "events"), i, e) {
    char when[32];
    printf("%-5lld %-9s %-17s %-24.24s %-16.16s %s\n", num(e, "seq"), str(e, "type"),
           str(e, "service"), str(e, "name"), str(e, "offerer"),
           relative(num(e, "at"), when, sizeof when));
  }
  if (json_array_size(json_object_get(it, "events")) == 0) printf("(nothing has happened yet)\n");
}

/* ---- the query options shared by find and interest add ---- */

struct query_opts {
  const char *kw, *match, *offerer, *pn, *caps, *limit, *after;
};

/* Reads --kw, --match, ... (paging only when allowed). Returns false after
 * saying what is wrong. */
static bool parse_opts(int argc, char **argv, bool paging, struct query_opts *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i += 2) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char **slot = !strcmp(k, "--kw")        ? &o->kw
                        : !strcmp(k, "--match")   ? &o->match
                        : !strcmp(k, "--offerer") ? &o->offerer
                        : !strcmp(k, "--pn")      ? &o->pn
                        : !strcmp(k, "--caps")    ? &o->caps
                        : paging && !strcmp(k, "--limit") ? &o->limit
                        : paging && !strcmp(k, "--after") ? &o->after
                                                          : NULL;
    if (!slot) {
      fprintf(stderr, "cpnsctl: unknown option '%s'\n", k);
      return false;
    }
    if (!v) {
      fprintf(stderr, "cpnsctl: %s needs a value\n", k);
      return false;
    }
    *slot = v;
  }
  return true;
}

/* The options as a URI query: kw=...&match=...; false when it is too long. */
static bool opts_query(const struct query_opts *o, char *out, size_t len) {
  const char *keys[] = {"kw", "match", "offerer", "pn", "caps", "limit", "after"};
  const char *vals[] = {o->kw, o->match, o->offerer, o->pn, o->caps, o->limit, o->after};
  out[0] = '\0';
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    if (!vals[i]) continue;
    size_t used = strlen(out);
    if ((size_t)snprintf(out + used, len - used, "%s%s=%s", used ? "&" : "", keys[i], vals[i]) >=
        len - used)
      return false;
  }
  return true;
}

/* ---- commands ---- */

static int publish(cpns_client_t *c, bool json, const char *method, const char *path,
                   const char *file) {
  char *body = read_file(file);
  if (!body) return EXIT_USAGE;
  json_t *doc;
  int ex = call(c, json, method, path, NULL, body, &doc);
  free(body);
  if (!ex && !json) {
    char when[32];
    if (doc)
      printf("%s %s, expires %s\n", strcmp(method, "POST") ? "updated" : "published", str(doc, "id"),
             relative(num(doc, "expires"), when, sizeof when));
    else
      printf("done\n");
  }
  json_decref(doc);
  return ex;
}

/* ---- watching: interest watch, service adverts --watch ---- */

#define CTL_WATCH_STEP_MS 200
#define CTL_WATCH_MAX_S 86400

struct ctl_watch {
  bool json, adverts, over;
  int code; /* the final answer (an error), 0 while it goes on */
  char diag[CPNS_DIAG_MAX];
  long long last; /* the newest seq (interest) or total (adverts) printed */
};

/* Prints what is new in a notification: the events (or adverts) after the
 * last one printed; the first answer prints what is there already. */
static void watch_print(struct ctl_watch *w, const json_t *body) {
  if (w->json) {
    char *t = json_dumps(body, JSON_COMPACT);
    if (t) printf("%s\n", t);
    free(t);
    fflush(stdout);
    return;
  }
  const json_t *list = json_object_get(body, w->adverts ? "adverts" : "events");
  size_t i;
  json_t *e;
  long long newest = w->last;
  json_array_foreach(list, i, e) {
    long long seq = w->adverts ? (long long)i : num(e, "seq");
    if (!w->adverts && seq <= w->last) continue;
    if (w->adverts && (long long)json_array_size(list) - (long long)i > num(body, "total") - w->last)
      continue;
    char when[32];
    if (w->adverts)
      printf("%-9s %-17s %-24.24s %-16.16s interest %s %s\n", str(e, "type"), str(e, "service"),
             str(e, "name"), str(e, "offerer"), str(e, "interest"),
             relative(num(e, "received"), when, sizeof when));
    else
      printf("%-5lld %-9s %-17s %-24.24s %-16.16s %s\n", seq, str(e, "type"), str(e, "service"),
             str(e, "name"), str(e, "offerer"), relative(num(e, "at"), when, sizeof when));
    if (seq > newest) newest = seq;
  }
  w->last = w->adverts ? num(body, "total") : newest;
  fflush(stdout);
}

static void watch_note(void *arg, struct cpns_observation *o, int code, const json_t *body,
                       const char *diag, bool observing) {
  (void)o;
  struct ctl_watch *w = arg;
  if (code >= 200 && code < 300 && body) watch_print(w, body);
  if (observing) return;
  w->over = true;
  w->code = code >= 200 && code < 300 ? 0 : code;
  snprintf(w->diag, sizeof w->diag, "%s", code >= 200 && code < 300 ? "the observation ended"
                                          : code < 0 ? cpns_strerror(code) : diag);
}

static int ctl_watch(cpns_client_t *c, const char *path, bool json, bool adverts, long seconds) {
  struct cpns_obsclient *oc = client__obsclient(c);
  struct ctl_watch w = {.json = json, .adverts = adverts};
  struct cpns_observation *o = NULL;
  int rc = oc ? client__connect(c) : CPNS_ERR_NOMEM;
  if (!rc)
    rc = cpns_obsclient_start(oc, client__session(c), path, NULL, NULL, false, watch_note, &w, &o);
  if (rc) {
    fprintf(stderr, "cpnsctl: GET %s: %s\n", path, cpns_strerror(rc));
    return EXIT_UNREACHABLE;
  }
  time_t end = seconds ? time(NULL) + seconds : 0;
  while (!w.over && (!end || time(NULL) < end)) cpns_node_step(client__node(c), CTL_WATCH_STEP_MS);
  if (!w.over) {
    /* RFC 7641 §3.6: ours to end. */
    cpns_obsclient_stop(oc, o, client__session(c));
    cpns_node_step(client__node(c), 0);
    return 0;
  }
  if (!w.code) return 0;
  fprintf(stderr, "cpnsctl: GET %s: %d %s\n", path, w.code, w.diag);
  return w.code > 0 ? EXIT_REFUSED : EXIT_UNREACHABLE;
}

/* "--for S" at argv[i]: the seconds in *out; false (said) when bad. */
static bool watch_for(int argc, char **argv, int i, long *out) {
  if (i >= argc) return true;
  char *end = NULL;
  long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
  if (strcmp(argv[i], "--for") || i + 2 != argc || !end || *end || v < 0 || v > CTL_WATCH_MAX_S) {
    fprintf(stderr, "cpnsctl: expected --for SECONDS (0..%d)\n", CTL_WATCH_MAX_S);
    return false;
  }
  *out = v;
  return true;
}

int ctl_service_command(cpns_client_t *c, bool json, int argc, char **argv) {
  char path[CPNS_ID_MAX + 16];
  json_t *doc = NULL;
  int ex;
  const char *sub = argc ? argv[0] : "";
  if (!strcmp(sub, "publish") && argc == 2) return publish(c, json, "POST", "services", argv[1]);
  if (!strcmp(sub, "adverts")) {
    long secs = 0;
    if (argc >= 2 && !strcmp(argv[1], "--watch")) {
      if (!watch_for(argc, argv, 2, &secs)) return EXIT_USAGE;
      return ctl_watch(c, "self/adverts", json, true, secs);
    }
    if (argc != 1) {
      fprintf(stderr, "Usage: cpnsctl service adverts [--watch [--for S]]\n");
      return EXIT_USAGE;
    }
    ex = call(c, json, "GET", "self/adverts", NULL, NULL, &doc);
    if (!ex && doc) {
      struct ctl_watch w = {.adverts = true};
      printf("%-9s %-17s %-24s %-16s %s\n", "EVENT", "SERVICE", "NAME", "OFFERER", "INTEREST");
      watch_print(&w, doc);
      if (json_array_size(json_object_get(doc, "adverts")) == 0) printf("(no adverts yet)\n");
    }
    json_decref(doc);
    return ex;
  }
  if (!strcmp(sub, "find")) {
    struct query_opts o;
    char query[CTL_QUERY_MAX], again[CTL_QUERY_MAX + 64];
    if (!parse_opts(argc, argv, true, &o)) return EXIT_USAGE;
    if (!opts_query(&o, query, sizeof query)) {
      fprintf(stderr, "cpnsctl: the query is too long\n");
      return EXIT_USAGE;
    }
    ex = call(c, json, "GET", "services", query, NULL, &doc);
    if (!ex && doc) {
      /* the same command, minus its --after, for the next page */
      snprintf(again, sizeof again, "cpnsctl service find");
      for (int i = 1; i + 1 < argc; i += 2)
        if (strcmp(argv[i], "--after")) {
          size_t used = strlen(again);
          snprintf(again + used, sizeof again - used, " %s %s", argv[i], argv[i + 1]);
        }
      print_services(doc, again);
    }
    json_decref(doc);
    return ex;
  }
  if (argc < 2) {
    fprintf(stderr, "Usage: cpnsctl service COMMAND (see cpnsctl --help)\n%s", ctl_services_usage);
    return EXIT_USAGE;
  }
  const char *id = argv[1];
  if (!check_id(id)) return EXIT_USAGE;
  snprintf(path, sizeof path, "services/%s", id);
  if (!strcmp(sub, "update") && argc == 3) return publish(c, json, "PUT", path, argv[2]);
  if (!strcmp(sub, "show") && argc == 2) {
    ex = call(c, json, "GET", path, NULL, NULL, &doc);
    if (!ex && doc) print_service(doc);
    json_decref(doc);
    return ex;
  }
  if (!strcmp(sub, "unpublish") && argc == 2) {
    ex = call(c, json, "DELETE", path, NULL, NULL, &doc);
    if (!ex && !json) printf("unpublished %s\n", id);
    json_decref(doc);
    return ex;
  }
  if (!strcmp(sub, "refresh") && argc <= 3) {
    char query[32] = "";
    if (argc == 3) {
      char *end;
      long lt = strtol(argv[2], &end, 10);
      if (*end || lt <= 0) {
        fprintf(stderr, "cpnsctl: LT is a number of seconds\n");
        return EXIT_USAGE;
      }
      snprintf(query, sizeof query, "lt=%ld", lt);
    }
    ex = call(c, json, "POST", path, query[0] ? query : NULL, NULL, &doc);
    if (!ex && !json) {
      char when[32];
      printf("refreshed %s, expires %s\n", id, doc ? relative(num(doc, "expires"), when, sizeof when) : "-");
    }
    json_decref(doc);
    return ex;
  }
  fprintf(stderr, "cpnsctl: unknown command 'service %s' (or wrong arguments)\n", sub);
  return EXIT_USAGE;
}

/* The options of interest add as the JSON body of POST /interests. */
static json_t *interest_body(const struct query_opts *o) {
  json_t *b = json_object();
  char err[160];
  if (o->kw) {
    json_t *kw = json_array();
    char buf[CTL_QUERY_MAX];
    snprintf(buf, sizeof buf, "%s", o->kw);
    char *save = NULL;
    for (char *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save))
      json_array_append_new(kw, json_string(k));
    json_object_set_new(b, "kw", kw);
  }
  if (o->match) json_object_set_new(b, "match", json_string(o->match));
  if (o->offerer) json_object_set_new(b, "offerer", json_string(o->offerer));
  if (o->pn) json_object_set_new(b, "pn", json_string(o->pn));
  if (o->caps) {
    /* The compact form, checked here, sent as the map the server takes. */
    struct cpns_caps *caps = malloc(sizeof *caps);
    if (!caps || cpns_caps_parse_text(o->caps, caps, err, sizeof err)) {
      fprintf(stderr, "cpnsctl: --caps: %s\n", caps ? err : "out of memory");
      free(caps);
      json_decref(b);
      return NULL;
    }
    json_object_set_new(b, "caps", cpns_caps_to_json(caps));
    free(caps);
  }
  return b;
}

int ctl_interest_command(cpns_client_t *c, bool json, int argc, char **argv) {
  char path[CPNS_ID_MAX + 16];
  json_t *doc = NULL;
  int ex;
  const char *sub = argc ? argv[0] : "";
  if (!strcmp(sub, "add")) {
    struct query_opts o;
    if (!parse_opts(argc, argv, false, &o)) return EXIT_USAGE;
    json_t *b = interest_body(&o);
    char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body) return EXIT_USAGE;
    ex = call(c, json, "POST", "interests", NULL, body, &doc);
    free(body);
    if (!ex && !json)
      printf("interest %s saved: observe /cpns/v1/interests/%s\n", str(doc, "id"), str(doc, "id"));
    json_decref(doc);
    return ex;
  }
  if (!strcmp(sub, "list") && argc == 1) {
    ex = call(c, json, "GET", "interests", NULL, NULL, &doc);
    if (!ex && doc) print_interests(doc);
    json_decref(doc);
    return ex;
  }
  if (!strcmp(sub, "watch") && argc >= 2) {
    long secs = 0;
    if (!check_id(argv[1]) || !watch_for(argc, argv, 2, &secs)) return EXIT_USAGE;
    snprintf(path, sizeof path, "interests/%s", argv[1]);
    return ctl_watch(c, path, json, false, secs);
  }
  if (argc != 2 || (strcmp(sub, "show") && strcmp(sub, "remove"))) {
    fprintf(stderr, "Usage: cpnsctl interest COMMAND (see cpnsctl --help)\n%s", ctl_services_usage);
    return EXIT_USAGE;
  }
  if (!check_id(argv[1])) return EXIT_USAGE;
  snprintf(path, sizeof path, "interests/%s", argv[1]);
  if (!strcmp(sub, "show")) {
    ex = call(c, json, "GET", path, NULL, NULL, &doc);
    if (!ex && doc) print_interest(doc);
  } else {
    ex = call(c, json, "DELETE", path, NULL, NULL, &doc);
    if (!ex && !json) printf("removed %s\n", argv[1]);
  }
  json_decref(doc);
  return ex;
}
