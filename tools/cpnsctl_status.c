/* SPDX-License-Identifier: Apache-2.0 */
/* cpnsctl's status management commands (spec 5.5.3; docs/protocol.md,
 * "Status"), on the C API of include/cpns/status.h: show the statuses of a
 * PN or of one entity, change this device's, watch one with conditional
 * attributes (each notification a line, until --count or --for), and the
 * policy-based report rules and the reports a PNE received. */
#include <cpns/status.h>

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpnsctl.h"
#include "cpnsctl_status.h"
#include "msg.h"
#include "status.h"

/* Policies listed by `policy list`; attributes and removals on one line. */
#define CTL_STATUS_ARGS_MAX CPNS_STATUS_ATTRS_MAX

const char ctl_status_usage[] =
    "  status show PN [ID]      the statuses of PN's entities, or of one entity\n"
    "  status own               this device's status (at its PNE)\n"
    "  status set [STATE] [--text T] [--attr NAME=VALUE]... [--remove NAME]...\n"
    "                           change this device's status (at its PNE); STATE: online,\n"
    "                           busy, away; --text '' clears the text\n"
    "  status watch PN ID [ATTR] [--lt V] [--gt V] [--st V] [--band] [--pmin S] [--pmax S]\n"
    "               [--epmin S] [--epmax S] [--count N] [--for S]\n"
    "                           follow ID's status (or one attribute: ATTR, state, text),\n"
    "                           told only as the conditions say; a line per notification\n"
    "  status stats             status counters of a gateway or the server\n"
    "  policy add PN ENTITY COND TARGET [TARGET_PN] [--id ID]\n"
    "                           report to TARGET when COND begins to hold: NAME<VALUE,\n"
    "                           NAME>VALUE or state=STATE (e.g. 'battery<20')\n"
    "  policy list PN | policy remove PN ID\n"
    "  reports                  the policy reports this PNE received\n";

static bool g_json;

static const char *nz(const char *s) { return s ? s : "?"; }

static int fail(cpns_client_t *c, const char *what, int rc) {
  fprintf(stderr, "cpnsctl: %s: %s\n", what, cpns_client_error(c)[0] ? cpns_client_error(c) : cpns_strerror(rc));
  return cpns_client_status(c) >= 400 ? EXIT_REFUSED : rc == CPNS_ERR_INVAL ? EXIT_USAGE : EXIT_UNREACHABLE;
}

static void print_value(double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.15g", v);
  fputs(buf, stdout);
}

static void print_doc_line(const char *id, const cpns_status_t *s) {
  printf("%-20s %-8s", id, cpns_status_state_name(s->state));
  for (unsigned i = 0; i < s->nattrs; i++) {
    printf(" %s=", s->attrs[i].name);
    print_value(s->attrs[i].value);
  }
  if (s->text[0]) printf("  \"%s\"", s->text);
  printf("\n");
}

static int raw_get(cpns_client_t *c, const char *path, bool table) {
  char *out = NULL;
  int rc = cpns_client_request(c, "GET", path, NULL, NULL, &out);
  if (rc) return fail(c, path, rc);
  if (!table || g_json) {
    if (out) puts(out);
    cpns_free(out);
    return 0;
  }
  json_error_t je;
  json_t *doc = out ? json_loads(out, 0, &je) : NULL;
  cpns_free(out);
  size_t i;
  json_t *e;
  printf("%-20s %-8s %s\n", "ID", "STATE", "ATTRIBUTES / TEXT");
  json_array_foreach(json_object_get(doc, "entities"), i, e) {
    const char *id = json_string_value(json_object_get(e, "id"));
    json_t *st = json_object_get(e, "status");
    printf("%-20s %-8s", id ? id : "?", nz(json_string_value(json_object_get(st, "state"))));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(st, "attrs"), k, v) {
      printf(" %s=", k);
      print_value(json_number_value(v));
    }
    const char *text = json_string_value(json_object_get(st, "text"));
    if (text) printf("  \"%s\"", text);
    printf("\n");
  }
  json_decref(doc);
  return 0;
}

static int show(cpns_client_t *c, int argc, char **argv) {
  if (argc < 2 || argc > 3 || !cpns_valid_id(argv[1]) || (argc == 3 && !cpns_valid_id(argv[2]))) {
    fprintf(stderr, "usage: cpnsctl status show PN [ID]\n");
    return EXIT_USAGE;
  }
  char path[2 * CPNS_ID_MAX + 32];
  if (argc == 2) {
    snprintf(path, sizeof path, "pns/%s/status", argv[1]);
    return raw_get(c, path, true);
  }
  if (g_json) {
    snprintf(path, sizeof path, "pns/%s/entities/%s/status", argv[1], argv[2]);
    return raw_get(c, path, false);
  }
  cpns_status_t s;
  int rc = cpns_status_get(c, argv[1], argv[2], &s);
  if (rc) return fail(c, "status show", rc);
  print_doc_line(argv[2], &s);
  return 0;
}

/* status set [STATE] [--text T] [--attr NAME=VALUE]... [--remove NAME]... */
static int set(cpns_client_t *c, int argc, char **argv) {
  const char *state = NULL, *text = NULL, *remove[CTL_STATUS_ARGS_MAX];
  cpns_status_attr_t attrs[CTL_STATUS_ARGS_MAX];
  size_t na = 0, nr = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--text") && i + 1 < argc) {
      text = argv[++i];
    } else if (!strcmp(a, "--attr") && i + 1 < argc && na < CTL_STATUS_ARGS_MAX) {
      const char *kv = argv[++i], *eq = strchr(kv, '=');
      if (!eq || (size_t)(eq - kv) > CPNS_STATUS_ATTR_NAME_MAX) goto usage;
      memset(&attrs[na], 0, sizeof attrs[na]);
      memcpy(attrs[na].name, kv, (size_t)(eq - kv));
      if (!cpns_status_attr_name_valid(attrs[na].name) ||
          cpns_status_parse_number(eq + 1, &attrs[na].value)) {
        fprintf(stderr, "cpnsctl: --attr %s: a name [a-z0-9_-] and a number\n", kv);
        return EXIT_USAGE;
      }
      na++;
    } else if (!strcmp(a, "--remove") && i + 1 < argc && nr < CTL_STATUS_ARGS_MAX) {
      remove[nr++] = argv[++i];
    } else if (a[0] != '-' && !state && cpns_presence_parse(a) >= 0) {
      state = a;
    } else {
      goto usage;
    }
  }
  if (!state && !text && !na && !nr) goto usage;
  int rc = cpns_status_update(c, state, text, attrs, na, remove, nr);
  if (rc) return fail(c, "status set", rc);
  cpns_status_t s;
  if (cpns_status_get_own(c, &s) == 0) {
    if (g_json) {
      json_t *j = cpns_status_to_json(&s);
      char *t = json_dumps(j, JSON_INDENT(2));
      if (t) puts(t);
      free(t);
      json_decref(j);
    } else {
      print_doc_line("(this device)", &s);
    }
  }
  return 0;
usage:
  fprintf(stderr, "usage: cpnsctl status set [online|busy|away] [--text T] [--attr NAME=VALUE]... "
                  "[--remove NAME]...\n");
  return EXIT_USAGE;
}

struct watch_ctx {
  const char *id;
  long count, seen;
};

static int on_event(void *arg, const cpns_status_event_t *ev) {
  struct watch_ctx *w = arg;
  char when[32];
  time_t t = (time_t)ev->updated;
  struct tm tm;
  strftime(when, sizeof when, "%H:%M:%S", localtime_r(&t, &tm));
  if (g_json) {
    json_t *j = ev->status ? cpns_status_to_json(ev->status) : json_object();
    json_object_set_new(j, "entity", json_string(w->id));
    if (ev->attr && !ev->status) {
      json_object_set_new(j, "attr", json_string(ev->attr));
      json_object_set_new(j, "value", ev->has_value ? json_real(ev->value) : json_null());
      json_object_set_new(j, "state", json_string(cpns_status_state_name(ev->state)));
      json_object_set_new(j, "updated", json_integer((json_int_t)ev->updated));
    }
    json_object_set_new(j, "first", json_boolean(ev->first));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    json_object_set_new(j, "received_ms",
                        json_integer((json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
    char *s = json_dumps(j, JSON_COMPACT);
    if (s) puts(s);
    free(s);
    json_decref(j);
  } else if (ev->status) {
    printf("%s ", when);
    print_doc_line(w->id, ev->status);
  } else if (ev->attr && (!strcmp(ev->attr, "state") || !strcmp(ev->attr, "text"))) {
    printf("%s %-20s %s\n", when, w->id, cpns_status_state_name(ev->state));
  } else {
    printf("%s %-20s %s=", when, w->id, ev->attr);
    if (ev->has_value) print_value(ev->value);
    else fputs("(none)", stdout);
    printf(" (%s)\n", cpns_status_state_name(ev->state));
  }
  fflush(stdout);
  if (!ev->first) w->seen++;
  return w->count > 0 && w->seen >= w->count;
}

static bool num_arg(const char *s, double *out) { return cpns_status_parse_number(s, out) == 0; }

static bool period_arg(const char *s, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < 0 || v > 86400) return false;
  *out = v;
  return true;
}

static int watch(cpns_client_t *c, int argc, char **argv) {
  cpns_status_cond_t cond = CPNS_STATUS_COND_INIT;
  const char *pos[3];
  int npos = 0;
  long count = 0, seconds = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool ok = true;
    if (!strcmp(a, "--band")) {
      cond.band = true;
      continue;
    }
    if (a[0] != '-') {
      if (npos >= 3) goto usage;
      pos[npos++] = a;
      continue;
    }
    if (!v) goto usage;
    i++;
    if (!strcmp(a, "--lt")) ok = cond.has_lt = num_arg(v, &cond.lt);
    else if (!strcmp(a, "--gt")) ok = cond.has_gt = num_arg(v, &cond.gt);
    else if (!strcmp(a, "--st")) ok = cond.has_st = num_arg(v, &cond.st);
    else if (!strcmp(a, "--pmin")) ok = period_arg(v, &cond.pmin);
    else if (!strcmp(a, "--pmax")) ok = period_arg(v, &cond.pmax);
    else if (!strcmp(a, "--epmin")) ok = period_arg(v, &cond.epmin);
    else if (!strcmp(a, "--epmax")) ok = period_arg(v, &cond.epmax);
    else if (!strcmp(a, "--count")) ok = period_arg(v, &count);
    else if (!strcmp(a, "--for")) ok = period_arg(v, &seconds);
    else goto usage;
    if (!ok) {
      fprintf(stderr, "cpnsctl: %s %s: not a valid value\n", a, v);
      return EXIT_USAGE;
    }
  }
  if (npos < 2 || !cpns_valid_id(pos[0]) || !cpns_valid_id(pos[1])) goto usage;
  struct watch_ctx w = {pos[1], count, 0};
  int rc = cpns_status_watch(c, pos[0], pos[1], npos == 3 ? pos[2] : NULL, &cond, seconds * 1000,
                             on_event, &w);
  if (rc) return fail(c, "status watch", rc);
  return 0;
usage:
  fprintf(stderr, "usage: cpnsctl status watch PN ID [ATTR] [--lt V] [--gt V] [--st V] [--band]\n"
                  "       [--pmin S] [--pmax S] [--epmin S] [--epmax S] [--count N] [--for S]\n");
  return EXIT_USAGE;
}

int ctl_status_command(cpns_client_t *c, bool json, int argc, char **argv) {
  g_json = json;
  if (argc < 1) goto usage;
  if (!strcmp(argv[0], "show")) return show(c, argc, argv);
  if (!strcmp(argv[0], "own") && argc == 1) {
    if (g_json) return raw_get(c, "status", false);
    cpns_status_t s;
    int rc = cpns_status_get_own(c, &s);
    if (rc) return fail(c, "status own", rc);
    print_doc_line("(this device)", &s);
    return 0;
  }
  if (!strcmp(argv[0], "set")) return set(c, argc, argv);
  if (!strcmp(argv[0], "watch")) return watch(c, argc, argv);
  if (!strcmp(argv[0], "stats") && argc == 1) return raw_get(c, "stats/status", false);
usage:
  fprintf(stderr, "usage: cpnsctl status show|own|set|watch|stats ... (cpnsctl --help)\n");
  return EXIT_USAGE;
}

/* "battery<20", "battery>80", "state=offline" */
static bool parse_condition(const char *s, cpns_policy_t *p) {
  const char *op = strpbrk(s, "<>=");
  if (!op || op == s || (size_t)(op - s) > CPNS_STATUS_ATTR_NAME_MAX) return false;
  char name[CPNS_STATUS_ATTR_NAME_MAX + 1];
  memcpy(name, s, (size_t)(op - s));
  name[op - s] = '\0';
  if (*op == '=') {
    int st = cpns_presence_parse(op + 1);
    if (strcmp(name, "state") != 0 || st < 0) return false;
    p->kind = CPNS_POLICY_BECOMES;
    p->state = (enum cpns_presence)st;
    return true;
  }
  if (!cpns_status_attr_name_valid(name) || cpns_status_parse_number(op + 1, &p->threshold))
    return false;
  snprintf(p->attr, sizeof p->attr, "%s", name);
  p->kind = *op == '<' ? CPNS_POLICY_BELOW : CPNS_POLICY_ABOVE;
  return true;
}

int ctl_policy_command(cpns_client_t *c, bool json, int argc, char **argv) {
  g_json = json;
  if (argc >= 5 && !strcmp(argv[0], "add")) {
    cpns_policy_t p;
    memset(&p, 0, sizeof p);
    int npos = 0;
    const char *pos[5] = {NULL};
    for (int i = 1; i < argc; i++) {
      if (!strcmp(argv[i], "--id") && i + 1 < argc) {
        if (!cpns_valid_id(argv[i + 1])) goto usage;
        snprintf(p.id, sizeof p.id, "%s", argv[++i]);
      } else if (npos < 5) {
        pos[npos++] = argv[i];
      } else {
        goto usage;
      }
    }
    if (npos < 4 || !cpns_valid_id(pos[0]) || !cpns_valid_id(pos[1]) || !cpns_valid_id(pos[3]) ||
        (pos[4] && !cpns_valid_id(pos[4])) || !parse_condition(pos[2], &p))
      goto usage;
    snprintf(p.entity, sizeof p.entity, "%s", pos[1]);
    snprintf(p.target, sizeof p.target, "%s", pos[3]);
    if (pos[4]) snprintf(p.target_pn, sizeof p.target_pn, "%s", pos[4]);
    char id[CPNS_ID_MAX + 1];
    int rc = cpns_policy_add(c, pos[0], &p, id);
    if (rc) return fail(c, "policy add", rc);
    printf(g_json ? "{\"id\": \"%s\"}\n" : "policy %s added\n", id);
    return 0;
  }
  if (argc == 2 && !strcmp(argv[0], "list")) {
    if (g_json) {
      char path[CPNS_ID_MAX + 16];
      if (!cpns_valid_id(argv[1])) goto usage;
      snprintf(path, sizeof path, "pns/%s/policies", argv[1]);
      return raw_get(c, path, false);
    }
    cpns_policy_t *ps = NULL;
    size_t n = 0;
    int rc = cpns_policy_list(c, argv[1], &ps, &n);
    if (rc) return fail(c, "policy list", rc);
    printf("%-16s %-16s %-22s %-16s %-12s %s\n", "ID", "ENTITY", "CONDITION", "TARGET", "PN", "FIRED");
    for (size_t i = 0; i < n; i++) {
      char cond[64];
      if (ps[i].kind == CPNS_POLICY_BECOMES)
        snprintf(cond, sizeof cond, "state=%s", cpns_status_state_name(ps[i].state));
      else
        snprintf(cond, sizeof cond, "%s%c%.15g", ps[i].attr, ps[i].kind == CPNS_POLICY_BELOW ? '<' : '>',
                 ps[i].threshold);
      printf("%-16s %-16s %-22s %-16s %-12s %llu\n", ps[i].id, ps[i].entity, cond, ps[i].target,
             ps[i].target_pn, (unsigned long long)ps[i].fired);
    }
    if (!n) printf("(no policies)\n");
    cpns_free(ps);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[0], "remove")) {
    int rc = cpns_policy_remove(c, argv[1], argv[2]);
    if (rc) return fail(c, "policy remove", rc);
    return 0;
  }
usage:
  fprintf(stderr, "usage: cpnsctl policy add PN ENTITY 'NAME<V'|'NAME>V'|state=S TARGET [TARGET_PN] "
                  "[--id ID]\n       cpnsctl policy list PN | policy remove PN ID\n");
  return EXIT_USAGE;
}

int ctl_reports_command(cpns_client_t *c, bool json, int argc, char **argv) {
  (void)argv;
  g_json = json;
  if (argc != 0) { /* argv holds what follows "reports": nothing */
    fprintf(stderr, "usage: cpnsctl reports\n");
    return EXIT_USAGE;
  }
  char *out = NULL;
  int rc = cpns_client_request(c, "GET", "reports", NULL, NULL, &out);
  if (rc) return fail(c, "reports", rc);
  if (g_json) {
    if (out) puts(out);
    cpns_free(out);
    return 0;
  }
  json_error_t je;
  json_t *doc = out ? json_loads(out, 0, &je) : NULL;
  cpns_free(out);
  size_t i;
  json_t *r;
  printf("%-10s %-16s %-16s %s\n", "AT", "POLICY", "ENTITY", "WHAT");
  json_array_foreach(json_object_get(doc, "reports"), i, r) {
    char when[32] = "-";
    json_t *at = json_object_get(r, "at");
    if (json_is_integer(at)) {
      time_t t = (time_t)json_integer_value(at);
      struct tm tm;
      strftime(when, sizeof when, "%H:%M:%S", localtime_r(&t, &tm));
    }
    const char *attr = json_string_value(json_object_get(r, "attr"));
    char what[96];
    if (attr)
      snprintf(what, sizeof what, "%s=%.15g", attr, json_number_value(json_object_get(r, "value")));
    else
      snprintf(what, sizeof what, "state=%s", nz(json_string_value(json_object_get(r, "became"))));
    printf("%-10s %-16s %-16s %s\n", when, nz(json_string_value(json_object_get(r, "policy"))),
           nz(json_string_value(json_object_get(r, "entity"))), what);
  }
  if (!json_array_size(json_object_get(doc, "reports"))) printf("(no reports)\n");
  json_decref(doc);
  return 0;
}
