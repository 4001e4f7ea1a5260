/* SPDX-License-Identifier: Apache-2.0 */
/* cpnsctl's usage statistics commands (spec 5.5.4; docs/protocol.md, "Usage
 * statistics"), on the C API of include/cpns/usage.h: record a service
 * consumption at a PNE (for trying things from a shell), the user's
 * reporting preferences at the PNE, summaries from the server (directly, or
 * through a PNE and its gateway), and the counters of each entity, as
 * tables for people or JSON with --json. */
#include <cpns/usage.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpnsctl.h"
#include "msg.h"

/* Seconds a recorded use lasts when the command line gives no start. */
#define CTL_USAGE_SECONDS_DEFAULT 60
/* Records one `usage record --repeat N` sends at most. */
#define CTL_USAGE_REPEAT_MAX 1000

const char ctl_usage_usage[] =
    "  usage record SERVICE [--start T] [--stop T|--seconds N] [--in BYTES] [--out BYTES]\n"
    "               [--battery PCT] [--charging yes|no] [--network TYPE] [--state S] [--type T]\n"
    "               [--repeat N]\n"
    "                           (PNE) record a use of SERVICE: T is unix seconds or now\n"
    "                           (the default stop); says whether it will be reported;\n"
    "                           --repeat sends N such records at once (stops at a refusal)\n"
    "  usage pref list          (PNE) the reporting preferences: per service, and the default\n"
    "  usage pref set SERVICE allow|deny\n"
    "                           (PNE, the user's key) report SERVICE's use or never; deny also\n"
    "                           deletes its records not sent yet\n"
    "  usage pref clear SERVICE (PNE, the user's key) SERVICE follows the default again\n"
    "  usage pref default allow|deny|reset\n"
    "                           (PNE, the user's key) for services not named; reset: as configured\n"
    "  usage summary [--by service|pn|day|entity] [--pn PN] [--service S] [--entity ID]\n"
    "                [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--limit N]\n"
    "                           records added up (server; a gateway or PNE asks for its PN)\n"
    "  usage counters           what the entity counted: records sent, denied, batches...\n";

static bool g_json;

static int fail(cpns_client_t *c, const char *what, int rc) {
  fprintf(stderr, "cpnsctl: %s: %s\n", what,
          cpns_client_status(c) || cpns_client_error(c)[0] ? cpns_client_error(c) : cpns_strerror(rc));
  return cpns_client_status(c) ? EXIT_REFUSED : EXIT_UNREACHABLE;
}

/* A non-negative integer of at most max; false for anything else. */
static bool number(const char *s, unsigned long long max, unsigned long long *out) {
  if (!s || !*s || *s == '-' || *s == '+') return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v > max) return false;
  *out = v;
  return true;
}

static bool when(const char *s, int64_t *out) {
  unsigned long long v;
  if (!strcmp(s, "now")) {
    *out = (int64_t)time(NULL);
    return true;
  }
  if (!number(s, (unsigned long long)CPNS_USAGE_TIME_MAX, &v)) return false;
  *out = (int64_t)v;
  return true;
}

static int record(cpns_client_t *c, int argc, char **argv) {
  static const char use[] = "usage: usage record SERVICE [--start T] [--stop T|--seconds N] "
                            "[--in BYTES] [--out BYTES] [--battery PCT] [--charging yes|no] "
                            "[--network TYPE] [--state S] [--type T] [--repeat N]";
  if (argc < 2 || !cpns_valid_id(argv[1])) {
    fprintf(stderr, "cpnsctl: %s\n", use);
    return EXIT_USAGE;
  }
  cpns_usage_record_t r;
  cpns_usage_record_init(&r);
  snprintf(r.service, sizeof r.service, "%s", argv[1]);
  int64_t start = -1, stop = -1;
  unsigned long long seconds = CTL_USAGE_SECONDS_DEFAULT, repeat = 1, v = 0;
  /* Every option takes a value: they come in pairs. */
  for (int i = 2; i < argc; i += 2) {
    const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    bool ok = val != NULL;
    if (!ok) {
    } else if (!strcmp(opt, "--start")) {
      ok = when(val, &start);
    } else if (!strcmp(opt, "--stop")) {
      ok = when(val, &stop);
    } else if (!strcmp(opt, "--repeat")) {
      ok = number(val, CTL_USAGE_REPEAT_MAX, &repeat) && repeat > 0;
    } else if (!strcmp(opt, "--seconds")) {
      ok = number(val, CPNS_USAGE_DURATION_MAX, &seconds);
    } else if (!strcmp(opt, "--in") || !strcmp(opt, "--out")) {
      ok = number(val, CPNS_USAGE_BYTES_MAX, &v);
      if (ok) *(!strcmp(opt, "--in") ? &r.bytes_in : &r.bytes_out) = v;
    } else if (!strcmp(opt, "--battery")) {
      ok = number(val, 100, &v);
      if (ok) r.device.battery = (int)v;
    } else if (!strcmp(opt, "--charging")) {
      ok = !strcmp(val, "yes") || !strcmp(val, "no");
      r.device.charging = !strcmp(val, "yes");
    } else if (!strcmp(opt, "--network")) {
      ok = strlen(val) < sizeof r.device.network;
      if (ok) snprintf(r.device.network, sizeof r.device.network, "%s", val);
    } else if (!strcmp(opt, "--state")) {
      ok = strlen(val) < sizeof r.device.state;
      if (ok) snprintf(r.device.state, sizeof r.device.state, "%s", val);
    } else if (!strcmp(opt, "--type")) {
      ok = strlen(val) < sizeof r.device.type;
      if (ok) snprintf(r.device.type, sizeof r.device.type, "%s", val);
    } else {
      ok = false;
    }
    if (!ok) {
      fprintf(stderr, "cpnsctl: '%s': %s\n", opt, use);
      return EXIT_USAGE;
    }
  }
  if (stop < 0) stop = start >= 0 ? start + (int64_t)seconds : (int64_t)time(NULL);
  if (start < 0) start = stop - (int64_t)seconds;
  r.start = start < 0 ? 0 : start;
  r.stop = stop;
  bool reported = false;
  int rc = 0;
  unsigned long long done = 0;
  while (done < repeat && !(rc = cpns_usage_record(c, &r, &reported))) done++;
  if (rc == CPNS_ERR_INVAL && !cpns_client_status(c)) {
    fprintf(stderr, "cpnsctl: not a valid record (stop before start, longer than a week, or a "
                    "device value out of range)\n");
    return EXIT_USAGE;
  }
  if (rc && repeat > 1) fprintf(stderr, "cpnsctl: %llu of %llu recorded\n", done, repeat);
  if (rc) return fail(c, "POST usage", rc);
  if (g_json) printf("{\"reported\": %s}\n", reported ? "true" : "false");
  else if (reported) printf("recorded: it will be reported\n");
  else printf("not reported: the preferences keep %s private (nothing left the device)\n", r.service);
  return 0;
}

static int pref_list(cpns_client_t *c) {
  cpns_usage_prefs_t *p;
  int rc = cpns_usage_prefs_get(c, &p);
  if (rc) return fail(c, "GET usage/prefs", rc);
  if (g_json) {
    json_t *svcs = json_object();
    for (size_t i = 0; i < p->count; i++)
      json_object_set_new(svcs, p->services[i].service,
                          json_string(p->services[i].allow ? "allow" : "deny"));
    json_t *doc = json_pack("{s:s, s:b, s:o}", "default", p->default_allow ? "allow" : "deny",
                            "default_set", p->default_set, "services", svcs);
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s) printf("%s\n", s);
    free(s);
    json_decref(doc);
  } else {
    printf("%-32s %s\n", "SERVICE", "REPORT");
    for (size_t i = 0; i < p->count; i++)
      printf("%-32s %s\n", p->services[i].service, p->services[i].allow ? "allow" : "deny");
    printf("%-32s %s%s\n", "(any other)", p->default_allow ? "allow" : "deny",
           p->default_set ? "" : "  (as configured)");
  }
  cpns_usage_prefs_free(p);
  return 0;
}

static int pref_command(cpns_client_t *c, int argc, char **argv) {
  const char *sub = argc >= 2 ? argv[1] : "";
  if (!strcmp(sub, "list") && argc == 2) return pref_list(c);
  int rc;
  if (!strcmp(sub, "set") && argc == 4 && cpns_valid_id(argv[2]) &&
      (!strcmp(argv[3], "allow") || !strcmp(argv[3], "deny"))) {
    rc = cpns_usage_pref_set(c, argv[2], !strcmp(argv[3], "allow"));
  } else if (!strcmp(sub, "clear") && argc == 3 && cpns_valid_id(argv[2])) {
    rc = cpns_usage_pref_clear(c, argv[2]);
  } else if (!strcmp(sub, "default") && argc == 3 &&
             (!strcmp(argv[2], "allow") || !strcmp(argv[2], "deny"))) {
    rc = cpns_usage_pref_set_default(c, !strcmp(argv[2], "allow"));
  } else if (!strcmp(sub, "default") && argc == 3 && !strcmp(argv[2], "reset")) {
    rc = cpns_client_request(c, "DELETE", "usage/prefs/default", NULL, NULL, NULL);
  } else {
    fprintf(stderr, "cpnsctl: usage: usage pref list | set SERVICE allow|deny | clear SERVICE | "
                    "default allow|deny|reset\n");
    return EXIT_USAGE;
  }
  if (rc) return fail(c, "usage preferences", rc);
  printf("%s\n", g_json ? "{}" : "preferences changed");
  return 0;
}

/* "1d 02:03:04", "02:03:04" */
static const char *duration(uint64_t s, char *buf, size_t len) {
  if (s >= 86400)
    snprintf(buf, len, "%llud %02llu:%02llu:%02llu", (unsigned long long)(s / 86400),
             (unsigned long long)(s / 3600 % 24), (unsigned long long)(s / 60 % 60),
             (unsigned long long)(s % 60));
  else
    snprintf(buf, len, "%02llu:%02llu:%02llu", (unsigned long long)(s / 3600),
             (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
  return buf;
}

static int summary(cpns_client_t *c, int argc, char **argv) {
  cpns_usage_query_t q;
  memset(&q, 0, sizeof q);
  /* Every option takes a value: they come in pairs. */
  for (int i = 1; i < argc; i += 2) {
    const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    unsigned long long v;
    bool ok = val != NULL;
    if (!ok) {
    } else if (!strcmp(opt, "--by")) {
      int by = -1;
      static const cpns_usage_by_t all[] = {CPNS_USAGE_BY_SERVICE, CPNS_USAGE_BY_PN,
                                            CPNS_USAGE_BY_DAY, CPNS_USAGE_BY_ENTITY};
      for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        if (!strcmp(val, cpns_usage_by_name(all[k]))) by = (int)all[k];
      ok = by >= 0;
      if (ok) q.by = (cpns_usage_by_t)by;
    } else if (!strcmp(opt, "--pn")) {
      q.pn = val;
    } else if (!strcmp(opt, "--service")) {
      q.service = val;
    } else if (!strcmp(opt, "--entity")) {
      q.entity = val;
    } else if (!strcmp(opt, "--from")) {
      q.from = val;
    } else if (!strcmp(opt, "--to")) {
      q.to = val;
    } else if (!strcmp(opt, "--limit")) {
      ok = number(val, CPNS_USAGE_ROWS_MAX, &v) && v > 0;
      q.limit = (unsigned)v;
    } else {
      ok = false;
    }
    if (!ok) {
      fprintf(stderr, "cpnsctl: '%s': usage: usage summary [--by service|pn|day|entity] [--pn PN] "
                      "[--service S] [--entity ID] [--from YYYY-MM-DD] [--to YYYY-MM-DD] "
                      "[--limit N]\n", opt);
      return EXIT_USAGE;
    }
  }
  cpns_usage_summary_t *s;
  int rc = cpns_usage_summary_get(c, &q, &s);
  if ((rc == CPNS_ERR_INVAL || rc == CPNS_ERR_TOOBIG) && !cpns_client_status(c)) {
    fprintf(stderr, "cpnsctl: a PN, service or entity is an id, a day is YYYY-MM-DD\n");
    return EXIT_USAGE;
  }
  if (rc) return fail(c, "GET usage/summary", rc);
  if (g_json) {
    json_t *rows = json_array();
    for (size_t i = 0; i < s->count; i++)
      json_array_append_new(rows, json_pack("{s:s, s:I, s:I, s:I, s:I}", "key", s->rows[i].key,
                                            "records", (json_int_t)s->rows[i].records, "seconds",
                                            (json_int_t)s->rows[i].seconds, "bytes_in",
                                            (json_int_t)s->rows[i].bytes_in, "bytes_out",
                                            (json_int_t)s->rows[i].bytes_out));
    json_t *doc = json_pack("{s:s, s:s, s:s, s:b, s:o}", "by", cpns_usage_by_name(s->by), "from",
                            s->from, "to", s->to, "truncated", s->truncated, "rows", rows);
    char *text = json_dumps(doc, JSON_INDENT(2));
    if (text) printf("%s\n", text);
    free(text);
    json_decref(doc);
  } else {
    char head[16];
    snprintf(head, sizeof head, "%s", cpns_usage_by_name(s->by));
    for (char *h = head; *h; h++) *h = (char)(*h >= 'a' && *h <= 'z' ? *h - 32 : *h);
    printf("usage from %s to %s\n", s->from, s->to);
    printf("%-32s %8s %14s %16s %16s\n", head, "RECORDS", "TIME", "BYTES IN", "BYTES OUT");
    char d[32];
    for (size_t i = 0; i < s->count; i++)
      printf("%-32s %8llu %14s %16llu %16llu\n", s->rows[i].key,
             (unsigned long long)s->rows[i].records, duration(s->rows[i].seconds, d, sizeof d),
             (unsigned long long)s->rows[i].bytes_in, (unsigned long long)s->rows[i].bytes_out);
    if (!s->count) printf("(no usage reported in these days)\n");
    if (s->truncated) printf("(more rows: raise --limit)\n");
  }
  cpns_usage_summary_free(s);
  return 0;
}

/* usage counters: a PNE's (GET usage), or a gateway's or the server's
 * (GET stats/usage). */
static int counters(cpns_client_t *c) {
  char *out = NULL;
  int rc = cpns_client_request(c, "GET", "usage", NULL, NULL, &out);
  if (rc && (cpns_client_status(c) == 404 || cpns_client_status(c) == 405))
    rc = cpns_client_request(c, "GET", "stats/usage", NULL, NULL, &out);
  if (rc) return fail(c, "usage counters", rc);
  json_t *doc = out ? json_loads(out, 0, NULL) : NULL;
  if (g_json || !json_is_object(doc)) {
    printf("%s\n", out ? out : "{}");
  } else {
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v) printf("%-14s %lld\n", k, (long long)json_integer_value(v));
  }
  json_decref(doc);
  cpns_free(out);
  return 0;
}

int ctl_usage_command(cpns_client_t *c, bool json, int argc, char **argv) {
  g_json = json;
  const char *sub = argc >= 1 ? argv[0] : "";
  if (!strcmp(sub, "record")) return record(c, argc, argv);
  if (!strcmp(sub, "pref")) return pref_command(c, argc, argv);
  if (!strcmp(sub, "summary")) return summary(c, argc, argv);
  if (!strcmp(sub, "counters") && argc == 1) return counters(c);
  fprintf(stderr, "cpnsctl: usage: usage record|pref|summary|counters ... (see cpnsctl --help)\n");
  return EXIT_USAGE;
}
