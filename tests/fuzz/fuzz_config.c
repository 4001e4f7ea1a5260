/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/config.c, the one configuration parser of every
 * daemon (an INI file read with inih against the daemon's option table).
 * The input is a configuration file: it is written to
 * /tmp/cpns-fuzz-config-<pid> and loaded, over the table's defaults, with a
 * table of every option type in two sections; its first line is also given
 * to cpns_config_set() as a command line's "-o section.name=value".
 *
 * Checked, aborting on any violation: a refusal is CPNS_ERR_CONFIG with a
 * reason that names the file (and its line); whatever is accepted keeps
 * every option within its table's bounds: strings terminated within their
 * field, integers within min..max, booleans 0 or 1, log levels known. A
 * refusal of cpns_config_set() says why and leaves the values in bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpns/cpns.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_LINE_MAX 1024

struct fuzz_conf {
  char name[8];
  char uri[64];
  long port;
  long neg;
  bool plain;
  int level;
  char path[16];
  long rate;
  bool on;
};

#define T struct fuzz_conf
static const struct cpns_option tab[] = {
    CPNS_OPT_S("node", "name", T, name, "gw", "a short string"),
    CPNS_OPT_S("node", "uri", T, uri, "coaps://[::1]:5684", "a longer string"),
    CPNS_OPT_I("node", "port", T, port, "5684", 1, 65535, false, "a bounded integer"),
    CPNS_OPT_I("node", "neg", T, neg, "-1", -1000, -1, true, "a negative integer"),
    CPNS_OPT_B("node", "plain", T, plain, "no", "a boolean"),
    CPNS_OPT_L("log", "level", T, level, "notice", "a log level"),
    CPNS_OPT_S("log", "path", T, path, "", "an empty default"),
    CPNS_OPT_I("limits", "rate", T, rate, "0", 0, 2147483647, true, "a wide integer"),
    CPNS_OPT_B("limits", "on", T, on, "yes", "a boolean that is on"),
};
#undef T
#define NTAB (sizeof tab / sizeof tab[0])

static void check_conf(const struct fuzz_conf *c) {
  if (!memchr(c->name, '\0', sizeof c->name) || !memchr(c->uri, '\0', sizeof c->uri) ||
      !memchr(c->path, '\0', sizeof c->path))
    abort();
  if (c->port < 1 || c->port > 65535 || c->neg < -1000 || c->neg > -1 || c->rate < 0 ||
      c->rate > 2147483647)
    abort();
  /* bools are read through a byte: no value but 0 or 1 may be stored */
  unsigned char b1, b2;
  memcpy(&b1, &c->plain, 1);
  memcpy(&b2, &c->on, 1);
  if (b1 > 1 || b2 > 1) abort();
  if (c->level < 0 || cpns_log_level_parse(cpns_log_level_name(c->level)) != c->level) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/cpns-fuzz-config-%ld", (long)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  if (size && fwrite(data, 1, size, f) != size) {
    fclose(f);
    return 0;
  }
  if (fclose(f)) return 0;

  struct fuzz_conf c;
  memset(&c, 0x5a, sizeof c);
  if (cpns_config_defaults(tab, NTAB, &c)) abort();
  check_conf(&c);
  for (int only_reloadable = 0; only_reloadable < 2; only_reloadable++) {
    char err[512] = "";
    int rc = cpns_config_load(path, tab, NTAB, &c, only_reloadable, err, sizeof err);
    if (rc) {
      if (rc != CPNS_ERR_CONFIG || strncmp(err, path, strlen(path)) != 0) abort();
    }
    check_conf(&c);
  }
  unlink(path);

  /* The first line as a command line's -o. */
  char line[FUZZ_LINE_MAX + 1];
  size_t n = 0;
  while (n < size && n < FUZZ_LINE_MAX && data[n] != '\n' && data[n] != '\0') {
    line[n] = (char)data[n];
    n++;
  }
  line[n] = '\0';
  char err[512] = "";
  int rc = cpns_config_set(tab, NTAB, &c, line, err, sizeof err);
  if (rc && (rc != CPNS_ERR_CONFIG || !err[0])) abort();
  check_conf(&c);
  return 0;
}
