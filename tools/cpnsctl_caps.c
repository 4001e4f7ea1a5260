/* SPDX-License-Identifier: Apache-2.0 */
/* cpnsctl's device capability commands (spec 5.5.1; docs/protocol.md,
 * "Device capabilities"), on the C API of include/cpns/capabilities.h:
 * a table of a PN's entities, one entity in full, the PNE's own, as tables
 * for people or JSON with --json, and --watch to follow changes. */
#include <cpns/capabilities.h>

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpnsctl.h"
#include "msg.h"

/* Documents per request when listing a PN: 0 asks for the serving entity's
 * page ([limits] caps_page_max); a page larger than one CoAP block comes
 * back block by block, also when a PNE relays it (docs/architecture.md). */
#define CTL_CAPS_PAGE 0
/* Entities listed at most by one `caps show PN`. */
#define CTL_CAPS_LIST_MAX 65536

const char ctl_caps_usage[] =
    "  caps show [PN [ID]] [--watch]\n"
    "                           device capabilities: of every entity of PN (a table), of\n"
    "                           one entity in full, or (no PN) of the PNE itself; --watch\n"
    "                           follows changes (Observe) until interrupted\n";

static bool g_json;

static const char *ago(int64_t t, char *buf, size_t len) {
  if (t <= 0) return "-";
  long d = (long)(time(NULL) - t);
  if (d < 0) d = 0;
  if (d < 120) snprintf(buf, len, "%lds ago", d);
  else if (d < 7200) snprintf(buf, len, "%ldm ago", d / 60);
  else snprintf(buf, len, "%ldh ago", d / 3600);
  return buf;
}

/* "8.0 GiB", or "-" */
static const char *bytes(int64_t n, char *buf, size_t len) {
  if (n < 0) return "-";
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = (double)n;
  unsigned u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    u++;
  }
  snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

static const char *battery(const cpns_capabilities_t *c, char *buf, size_t len) {
  if (c->battery_level < 0) return "-";
  snprintf(buf, len, "%d%%%s", c->battery_level, c->battery_charging == 1 ? " charging" : "");
  return buf;
}

static const char *networks(const cpns_capabilities_t *c, char *buf, size_t len) {
  buf[0] = '\0';
  for (size_t i = 0; i < c->nnetworks; i++) {
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s/%s", i ? "," : "", c->networks[i].name,
             c->networks[i].type[0] ? c->networks[i].type : "?");
  }
  return buf[0] ? buf : "-";
}

static const char *dash(const char *s) { return s && *s ? s : "-"; }

static void print_header(void) {
  printf("%-16s %-12s %-24s %5s %-10s %-10s %-12s %-22s %5s %s\n", "ID", "TYPE", "PROCESSOR",
         "CORES", "MEMORY", "AVAILABLE", "BATTERY", "NETWORKS", "REV", "UPDATED");
}

static void print_row(const cpns_capabilities_t *c) {
  char m1[32], m2[32], b[32], n[256], w[32], cores[16];
  snprintf(cores, sizeof cores, "%ld", c->cpu_cores);
  printf("%-16s %-12s %-24.24s %5s %-10s %-10s %-12s %-22s %5" PRId64 " %s\n", c->id,
         dash(c->device_type), dash(c->cpu_model), c->cpu_cores > 0 ? cores : "-",
         bytes(c->memory_total, m1, sizeof m1), bytes(c->memory_available, m2, sizeof m2),
         battery(c, b, sizeof b), networks(c, n, sizeof n), c->rev, ago(c->updated, w, sizeof w));
}

static void print_items(const char *label, const cpns_capability_item_t *items, size_t n,
                        const char *sep) {
  if (!n) return;
  printf("  %-15s", label);
  for (size_t i = 0; i < n; i++)
    printf("%s%s%s%s", i ? ", " : "", items[i].name, sep, items[i].value);
  printf("\n");
}

static void print_names(const char *label, const cpns_capability_name_t *names, size_t n) {
  if (!n) return;
  printf("  %-15s", label);
  for (size_t i = 0; i < n; i++) printf("%s%s", i ? ", " : "", names[i].name);
  printf("\n");
}

/* One entity in full, for people. */
static void print_entity(const cpns_capabilities_t *c) {
  char w[32], m1[32], m2[32];
  printf("%s%s%s  rev %" PRId64 ", updated %s\n", c->id[0] ? c->id : "this PNE",
         c->pn[0] ? " in PN " : "", c->pn, c->rev, ago(c->updated, w, sizeof w));
  if (c->device_type[0]) printf("  %-15s%s\n", "device type", c->device_type);
  if (c->screen_width > 0 || c->screen_dpi > 0) {
    printf("  %-15s", "screen");
    if (c->screen_width > 0 && c->screen_height > 0)
      printf("%ldx%ld", c->screen_width, c->screen_height);
    if (c->screen_dpi > 0) printf(", %ld dpi", c->screen_dpi);
    if (c->screen_touch == 1) printf(", touch");
    printf("\n");
  }
  if (c->cpu_model[0] || c->cpu_cores > 0) {
    printf("  %-15s%s", "processor", dash(c->cpu_model));
    if (c->cpu_arch[0]) printf(" (%s)", c->cpu_arch);
    if (c->cpu_cores > 0) printf(", %ld cores", c->cpu_cores);
    printf("\n");
  }
  if (c->memory_total >= 0 || c->memory_available >= 0)
    printf("  %-15s%s total, %s available\n", "memory", bytes(c->memory_total, m1, sizeof m1),
           bytes(c->memory_available, m2, sizeof m2));
  if (c->battery_capacity_mah > 0 || c->battery_level >= 0) {
    printf("  %-15s", "battery");
    if (c->battery_capacity_mah > 0) printf("%ld mAh ", c->battery_capacity_mah);
    if (c->battery_technology[0]) printf("%s ", c->battery_technology);
    if (c->battery_level >= 0) printf("%d%%", c->battery_level);
    if (c->battery_charging == 1) printf(", charging");
    if (c->battery_remaining > 0)
      printf(", %" PRId64 "h%02" PRId64 " left", c->battery_remaining / 3600,
             c->battery_remaining % 3600 / 60);
    printf("\n");
  }
  print_items("chipsets", c->chipsets, c->nchipsets, ": ");
  if (c->os_name[0])
    printf("  %-15s%s %s%s%s%s\n", "os", c->os_name, c->os_version, c->os_build[0] ? " (" : "",
           c->os_build, c->os_build[0] ? ")" : "");
  print_items("apps", c->apps, c->napps, " ");
  print_items("drivers", c->drivers, c->ndrivers, " ");
  for (size_t i = 0; i < c->nnetworks; i++) {
    const cpns_capability_network_t *n = &c->networks[i];
    printf("  %-15s%s (%s)", i ? "" : "networks", n->name, n->type[0] ? n->type : "?");
    for (size_t k = 0; k < n->naddrs; k++) printf(" %s", n->addrs[k]);
    printf("\n");
  }
  print_names("running", c->running, c->nrunning);
  print_names("active drivers", c->active_drivers, c->nactive_drivers);
}

/* The JSON of one document as the peers serve it. */
static json_t *as_json(const cpns_capabilities_t *c) {
  json_t *doc = json_loads(c->json, 0, NULL);
  json_t *env = json_pack("{s:s, s:I, s:I}", "id", c->id, "rev", (json_int_t)c->rev, "updated",
                          (json_int_t)c->updated);
  if (c->pn[0]) json_object_set_new(env, "pn", json_string(c->pn));
  if (doc) json_object_update(env, doc);
  json_decref(doc);
  return env;
}

static void print_json(json_t *v) {
  char *text = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
  if (text) printf("%s\n", text);
  free(text);
  json_decref(v);
}

static int refused(cpns_client_t *c, const char *what) {
  fprintf(stderr, "cpnsctl: %s: %s\n", what, cpns_client_error(c));
  return cpns_client_status(c) ? EXIT_REFUSED : EXIT_UNREACHABLE;
}

/* caps show PN: every entity that reported, a page at a time. */
static int show_pn(cpns_client_t *c, const char *pn) {
  char after[CPNS_ID_MAX + 1] = "";
  json_t *all = g_json ? json_array() : NULL;
  unsigned shown = 0;
  if (!g_json) print_header();
  do {
    cpns_capabilities_page_t *page;
    if (cpns_capabilities_list(c, pn, after, CTL_CAPS_PAGE, &page)) {
      json_decref(all);
      return refused(c, "GET caps");
    }
    for (size_t i = 0; i < page->count; i++) {
      if (g_json)
        json_array_append_new(all, as_json(page->items[i]));
      else
        print_row(page->items[i]);
      shown++;
    }
    snprintf(after, sizeof after, "%s", page->next);
    cpns_capabilities_page_free(page);
  } while (after[0] && shown < CTL_CAPS_LIST_MAX);
  if (g_json)
    print_json(json_pack("{s:s, s:o}", "pn", pn, "caps", all));
  else if (!shown)
    printf("(no entity of %s has reported capabilities)\n", pn);
  return 0;
}

static int show_one(cpns_client_t *c, const char *pn, const char *id) {
  cpns_capabilities_t *caps;
  int rc = pn ? cpns_capabilities_get(c, pn, id, &caps) : cpns_capabilities_self(c, &caps);
  if (rc) return refused(c, "GET caps");
  if (g_json)
    print_json(as_json(caps));
  else
    print_entity(caps);
  cpns_capabilities_free(caps);
  return 0;
}

static int on_change(void *arg, const cpns_capabilities_page_t *page) {
  bool entity = *(bool *)arg;
  char when[64];
  time_t now = time(NULL);
  strftime(when, sizeof when, "%H:%M:%S", localtime(&now));
  if (g_json) {
    json_t *items = json_array();
    for (size_t i = 0; i < page->count; i++) json_array_append_new(items, as_json(page->items[i]));
    if (entity && page->count == 1)
      print_json(json_incref(json_array_get(items, 0)));
    else
      print_json(json_pack("{s:s, s:O}", "pn", page->pn, "caps", items));
    json_decref(items);
  } else {
    printf("--- %s\n", when);
    if (entity && page->count == 1) {
      print_entity(page->items[0]);
    } else {
      print_header();
      for (size_t i = 0; i < page->count; i++) print_row(page->items[i]);
      if (page->next[0]) printf("(the first %zu entities)\n", page->count);
    }
  }
  fflush(stdout);
  return 0;
}

/* Until interrupted (SIGINT ends cpnsctl; the peer drops the observer
 * when its next notification goes unanswered), or the peer ends it. */
static int watch(cpns_client_t *c, const char *pn, const char *id) {
  bool entity = id != NULL;
  if (cpns_capabilities_watch(c, pn, id, 0, on_change, &entity)) return refused(c, "watch caps");
  return 0;
}

int ctl_caps_command(cpns_client_t *c, bool json, int argc, char **argv) {
  g_json = json;
  bool follow = false;
  const char *args[2] = {NULL, NULL};
  int nargs = 0;
  if (argc < 1 || strcmp(argv[0], "show") != 0) {
    fprintf(stderr, "cpnsctl: usage: caps show [PN [ID]] [--watch]\n");
    return EXIT_USAGE;
  }
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--watch")) {
      follow = true;
    } else if (nargs < 2 && cpns_valid_id(argv[i])) {
      args[nargs++] = argv[i];
    } else {
      fprintf(stderr, "cpnsctl: '%s': usage: caps show [PN [ID]] [--watch]\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  if (follow) {
    if (!args[0]) {
      fprintf(stderr, "cpnsctl: --watch needs a PN (a PNE relays reads, not observations: "
                      "watch at the gateway or the server)\n");
      return EXIT_USAGE;
    }
    return watch(c, args[0], args[1]);
  }
  if (args[1] || !args[0]) return show_one(c, args[0], args[1]);
  return show_pn(c, args[0]);
}
