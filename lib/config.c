/* SPDX-License-Identifier: Apache-2.0 */
/* Table-driven INI configuration (see config.h). */
#include "config.h"

#include <cpns/cpns.h>
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static const struct cpns_option *find_opt(const struct cpns_option *tab, size_t n,
                                          const char *section, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(tab[i].section, section) == 0 && strcmp(tab[i].name, name) == 0) return &tab[i];
  return NULL;
}

static int parse_bool(const char *v, bool *out) {
  if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1")) {
    *out = true;
    return 0;
  }
  if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0")) {
    *out = false;
    return 0;
  }
  return -1;
}

/* Stores one value into the struct; writes the reason into err on failure. */
static int apply(const struct cpns_option *o, void *conf, const char *value, char *err,
                 size_t errlen) {
  char *field = (char *)conf + o->offset;
  switch (o->type) {
  case CPNS_OPT_STR:
    if (strlen(value) >= o->size) {
      snprintf(err, errlen, "%s.%s: longer than %zu bytes", o->section, o->name, o->size - 1);
      return CPNS_ERR_CONFIG;
    }
    memcpy(field, value, strlen(value) + 1);
    return 0;
  case CPNS_OPT_INT: {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0' || v < o->min || v > o->max) {
      snprintf(err, errlen, "%s.%s: '%s' is not an integer in %ld..%ld", o->section, o->name,
               value, o->min, o->max);
      return CPNS_ERR_CONFIG;
    }
    memcpy(field, &v, sizeof v);
    return 0;
  }
  case CPNS_OPT_BOOL: {
    bool b;
    if (parse_bool(value, &b)) {
      snprintf(err, errlen, "%s.%s: '%s' is not yes or no", o->section, o->name, value);
      return CPNS_ERR_CONFIG;
    }
    memcpy(field, &b, sizeof b);
    return 0;
  }
  case CPNS_OPT_LOGLEVEL: {
    int l = cpns_log_level_parse(value);
    if (l < 0) {
      snprintf(err, errlen, "%s.%s: '%s' is not one of err, warning, notice, info, debug",
               o->section, o->name, value);
      return CPNS_ERR_CONFIG;
    }
    memcpy(field, &l, sizeof l);
    return 0;
  }
  }
  return CPNS_ERR_CONFIG;
}

int cpns_config_defaults(const struct cpns_option *tab, size_t n, void *conf) {
  char err[256];
  for (size_t i = 0; i < n; i++)
    if (apply(&tab[i], conf, tab[i].def, err, sizeof err)) return CPNS_ERR_CONFIG;
  return 0;
}

struct load_ctx {
  const struct cpns_option *tab;
  size_t n;
  void *conf;
  bool only_reloadable;
  const char *path;
  char *err;
  size_t errlen;
  int rc;
};

/* inih reports the line of the first handler failure as its return value. */
static int on_ini(void *user, const char *section, const char *name, const char *value) {
  struct load_ctx *c = user;
  if (c->rc) return 0;
  if (!name) return 1; /* a section header alone */
  const struct cpns_option *o = find_opt(c->tab, c->n, section, name);
  char why[256];
  if (!o) {
    snprintf(c->err, c->errlen, "unknown option %s.%s", section, name);
    c->rc = CPNS_ERR_CONFIG;
    return 0;
  }
  if (c->only_reloadable && !o->reloadable) return 1;
  if (apply(o, c->conf, value, why, sizeof why)) {
    snprintf(c->err, c->errlen, "%s", why);
    c->rc = CPNS_ERR_CONFIG;
    return 0;
  }
  return 1;
}

int cpns_config_load(const char *path, const struct cpns_option *tab, size_t n, void *conf,
                     bool only_reloadable, char *err, size_t errlen) {
  struct load_ctx c = {tab, n, conf, only_reloadable, path, err, errlen, 0};
  int r = ini_parse(path, on_ini, &c);
  if (r < 0) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return CPNS_ERR_CONFIG;
  }
  if (c.rc) {
    char why[256];
    snprintf(why, sizeof why, "%s", err);
    snprintf(err, errlen, "%s:%d: %s", path, r, why);
    return c.rc;
  }
  if (r > 0) {
    snprintf(err, errlen, "%s:%d: syntax error", path, r);
    return CPNS_ERR_CONFIG;
  }
  return 0;
}

int cpns_config_set(const struct cpns_option *tab, size_t n, void *conf, const char *assignment,
                    char *err, size_t errlen) {
  const char *dot = strchr(assignment, '.');
  const char *eq = strchr(assignment, '=');
  if (!dot || !eq || dot > eq) {
    snprintf(err, errlen, "'%s': expected section.name=value", assignment);
    return CPNS_ERR_CONFIG;
  }
  char section[64], name[64];
  size_t sl = (size_t)(dot - assignment), nl = (size_t)(eq - dot - 1);
  if (sl >= sizeof section || nl >= sizeof name) {
    snprintf(err, errlen, "'%s': name too long", assignment);
    return CPNS_ERR_CONFIG;
  }
  memcpy(section, assignment, sl);
  section[sl] = '\0';
  memcpy(name, dot + 1, nl);
  name[nl] = '\0';
  const struct cpns_option *o = find_opt(tab, n, section, name);
  if (!o) {
    snprintf(err, errlen, "unknown option %s.%s", section, name);
    return CPNS_ERR_CONFIG;
  }
  return apply(o, conf, eq + 1, err, errlen);
}

static const char *type_hint(const struct cpns_option *o) {
  switch (o->type) {
  case CPNS_OPT_STR: return "text";
  case CPNS_OPT_INT: return "integer";
  case CPNS_OPT_BOOL: return "yes|no";
  case CPNS_OPT_LOGLEVEL: return "err|warning|notice|info|debug";
  }
  return "";
}

void cpns_config_write_sample(FILE *out, const char *title, const struct cpns_option *tab,
                              size_t n) {
  fprintf(out, "# %s\n# Every option is shown with its default value.\n", title);
  const char *section = NULL;
  for (size_t i = 0; i < n; i++) {
    const struct cpns_option *o = &tab[i];
    if (!section || strcmp(section, o->section) != 0) {
      section = o->section;
      fprintf(out, "\n[%s]\n", section);
    }
    fprintf(out, "\n# %s\n# (%s", o->help, type_hint(o));
    if (o->type == CPNS_OPT_INT) fprintf(out, ", %ld..%ld", o->min, o->max);
    if (o->reloadable) fprintf(out, ", reloaded on SIGHUP");
    fprintf(out, ")\n%s%s = %s\n", o->def[0] ? "" : "#", o->name, o->def);
  }
}

void cpns_config_write_help(FILE *out, const struct cpns_option *tab, size_t n) {
  for (size_t i = 0; i < n; i++)
    fprintf(out, "  %s.%s = %s\n      %s\n", tab[i].section, tab[i].name,
            tab[i].def[0] ? tab[i].def : "(empty)", tab[i].help);
}
