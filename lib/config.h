/* SPDX-License-Identifier: Apache-2.0 */
/* Table-driven INI configuration (inih). Each daemon declares its options once
 * in a table of cpns_option; the same table sets defaults, parses the file,
 * checks bounds, prints --help and writes the commented sample config. */
#ifndef CPNS_CONFIG_H
#define CPNS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cpns_opt_type {
  CPNS_OPT_STR,      /* char[size] field */
  CPNS_OPT_INT,      /* long field, bounded by min..max */
  CPNS_OPT_BOOL,     /* bool field: yes/no, true/false, on/off, 1/0 */
  CPNS_OPT_LOGLEVEL, /* int field: err, warning, notice, info, debug */
};

struct cpns_option {
  const char *section;
  const char *name;
  enum cpns_opt_type type;
  size_t offset; /* offsetof(conf struct, field) */
  size_t size;   /* CPNS_OPT_STR: sizeof the char array */
  const char *def;
  long min, max; /* CPNS_OPT_INT bounds */
  bool reloadable; /* applied again on SIGHUP */
  const char *help;
};

#define CPNS_OPT_S(sec, nm, st, fld, dflt, hlp)                                \
  {sec, nm, CPNS_OPT_STR, offsetof(st, fld), sizeof(((st *)0)->fld), dflt, 0, 0, false, hlp}
#define CPNS_OPT_I(sec, nm, st, fld, dflt, lo, hi, rl, hlp)                    \
  {sec, nm, CPNS_OPT_INT, offsetof(st, fld), sizeof(long), dflt, lo, hi, rl, hlp}
#define CPNS_OPT_B(sec, nm, st, fld, dflt, hlp)                                \
  {sec, nm, CPNS_OPT_BOOL, offsetof(st, fld), sizeof(bool), dflt, 0, 1, false, hlp}
#define CPNS_OPT_L(sec, nm, st, fld, dflt, hlp)                                \
  {sec, nm, CPNS_OPT_LOGLEVEL, offsetof(st, fld), sizeof(int), dflt, 0, 0, true, hlp}

/* Sets every option of the table to its default. Returns 0 or CPNS_ERR_CONFIG
 * (a default that does not parse: a bug in the table). */
int cpns_config_defaults(const struct cpns_option *tab, size_t n, void *conf);

/* Reads an INI file over the current values. Unknown sections or keys, bad
 * values and out-of-range numbers are errors; `err` gets "file:line: why". With
 * only_reloadable, options not marked reloadable are parsed but left alone. */
int cpns_config_load(const char *path, const struct cpns_option *tab, size_t n, void *conf,
                     bool only_reloadable, char *err, size_t errlen);

/* Sets one option from "section.name=value" (command-line -o). */
int cpns_config_set(const struct cpns_option *tab, size_t n, void *conf, const char *assignment,
                    char *err, size_t errlen);

/* Writes a commented sample configuration with every option at its default. */
void cpns_config_write_sample(FILE *out, const char *title, const struct cpns_option *tab,
                              size_t n);
/* Writes a short list of the options for --help. */
void cpns_config_write_help(FILE *out, const struct cpns_option *tab, size_t n);

#endif
