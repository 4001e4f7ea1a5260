/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/hostcaps.c on the machine that runs them: the memory
 * total is /proc/meminfo's, the processor and the OS are there, a battery
 * in a power supply directory made by the test is read (static and
 * dynamic), the overrides file is merged over it (null removes), read
 * again when it changes, and left out when it is not JSON or breaks the
 * schema; every document is a valid one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "capabilities.h"
#include "hostcaps.h"

static char g_dir[1024];

static void write_file(const char *dir, const char *name, const char *text) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  const char *base = getenv("CPNS_TEST_TMP");
  snprintf(g_dir, sizeof g_dir, "%s/hostcaps.%ld", base && *base ? base : "/tmp", (long)getpid());
  mkdir(base && *base ? base : "/tmp", 0700);
  if (mkdir(g_dir, 0700) != 0) return -1;
  char bat[1100];
  snprintf(bat, sizeof bat, "%s/BAT0", g_dir);
  mkdir(bat, 0700);
  write_file(bat, "type", "Battery\n");
  write_file(bat, "capacity", "80\n");
  write_file(bat, "status", "Discharging\n");
  write_file(bat, "charge_full_design", "4000000\n");
  write_file(bat, "technology", "Li-ion\n");
  write_file(bat, "time_to_empty_now", "7200\n");
  char ac[1100];
  snprintf(ac, sizeof ac, "%s/AC", g_dir);
  mkdir(ac, 0700);
  write_file(ac, "type", "Mains\n");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static long long meminfo_total(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  long long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemTotal: %lld kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb * 1024;
}

static json_t *at(json_t *v, const char *a, const char *b, const char *c) {
  v = json_object_get(v, a);
  if (b) v = json_object_get(v, b);
  if (c) v = json_object_get(v, c);
  return v;
}

static void test_host(void **state) {
  (void)state;
  struct cpns_hostcaps_config cfg = {true, NULL, g_dir, "phone"};
  json_t *st = cpns_hostcaps_read_static(&cfg);
  assert_string_equal(json_string_value(json_object_get(st, "device_type")), "phone");
  assert_true(json_integer_value(at(st, "hardware", "memory", "total")) == meminfo_total());
  assert_true(json_integer_value(at(st, "hardware", "processor", "cores")) >= 1);
  assert_int_equal(json_integer_value(at(st, "hardware", "battery", "capacity_mah")), 4000);
  assert_string_equal(json_string_value(at(st, "hardware", "battery", "technology")), "Li-ion");
  assert_string_equal(json_string_value(at(st, "software", "os", "name")), "Linux");
  json_t *dyn = cpns_hostcaps_read_dynamic(&cfg);
  assert_int_equal(json_integer_value(at(dyn, "battery", "level", NULL)), 80);
  assert_true(json_is_false(at(dyn, "battery", "charging", NULL)));
  assert_int_equal(json_integer_value(at(dyn, "battery", "remaining", NULL)), 7200);
  assert_int_equal(json_integer_value(at(dyn, "memory", "available", NULL)) %
                       CPNS_HOSTCAPS_MEMORY_STEP,
                   0);
  json_t *doc = json_pack("{s:o, s:o}", "static", st, "dynamic", dyn);
  char err[160];
  assert_int_equal(cpns_capdoc_check(doc, err, sizeof err), 0);
  json_decref(doc);
  /* Without the host, only what the configuration says. */
  cfg.host = false;
  st = cpns_hostcaps_read_static(&cfg);
  assert_int_equal(json_object_size(st), 1);
  json_decref(st);
  dyn = cpns_hostcaps_read_dynamic(&cfg);
  assert_int_equal(json_object_size(dyn), 0);
  json_decref(dyn);
}

static void test_file(void **state) {
  (void)state;
  char file[1100];
  snprintf(file, sizeof file, "%s/caps.json", g_dir);
  write_file(g_dir, "caps.json",
             "{\"static\":{\"hardware\":{\"screen\":{\"width\":1080,\"height\":2340},"
             "\"processor\":{\"model\":null}},\"software\":{\"apps\":{\"player\":\"1.0\"}}},"
             "\"dynamic\":{\"running\":[\"player\"]}}");
  struct cpns_hostcaps_config cfg = {true, file, g_dir, "phone"};
  struct cpns_hostcaps *hc;
  assert_int_equal(cpns_hostcaps_new(&cfg, "test", &hc), 0);
  json_t *doc = cpns_hostcaps_document(hc);
  char err[160];
  assert_int_equal(cpns_capdoc_check(doc, err, sizeof err), 0);
  json_t *screen = at(doc, "static", "hardware", "screen");
  assert_int_equal(json_integer_value(json_object_get(screen, "width")), 1080);
  assert_null(at(at(doc, "static", "hardware", "processor"), "model", NULL, NULL));
  json_t *apps = at(doc, "static", "software", "apps");
  assert_non_null(apps);
  assert_string_equal(json_string_value(json_object_get(apps, "player")), "1.0");
  assert_int_equal(json_integer_value(at(doc, "dynamic", "battery", "level")), 80);
  json_decref(doc);
  /* A change of the battery is a change of the document; the file is read
   * again when it changes. */
  char bat[1100];
  snprintf(bat, sizeof bat, "%s/BAT0", g_dir);
  write_file(bat, "capacity", "15\n");
  write_file(g_dir, "caps.json", "{\"dynamic\":{\"running\":[\"game\"]}}");
  doc = cpns_hostcaps_document(hc);
  assert_int_equal(json_integer_value(at(doc, "dynamic", "battery", "level")), 15);
  assert_string_equal(json_string_value(json_array_get(at(doc, "dynamic", "running", NULL), 0)), "game");
  assert_null(at(doc, "static", "software", "apps"));
  json_decref(doc);
  /* Nonsense in the file: left out, the host's document stays. */
  write_file(g_dir, "caps.json", "{\"dynamic\":{\"battery\":{\"level\":150}},\"extra\":1}   ");
  doc = cpns_hostcaps_document(hc);
  assert_int_equal(cpns_capdoc_check(doc, err, sizeof err), 0);
  assert_int_equal(json_integer_value(at(doc, "dynamic", "battery", "level")), 15);
  json_decref(doc);
  write_file(g_dir, "caps.json", "not json at all");
  doc = cpns_hostcaps_document(hc);
  assert_int_equal(json_integer_value(at(doc, "dynamic", "battery", "level")), 15);
  json_decref(doc);
  write_file(bat, "capacity", "80\n");
  cpns_hostcaps_free(hc);
  cpns_hostcaps_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_host),
      cmocka_unit_test(test_file),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
