/* SPDX-License-Identifier: Apache-2.0 */
/* What every cpns daemon shares: command-line parsing (-c FILE, -f, -o
 * section.name=value, -v, --help, --version, --sample-config), loading its
 * option table, log set-up, and the pid file. */
#ifndef CPNS_DAEMON_H
#define CPNS_DAEMON_H

#include <stdbool.h>

#include "config.h"

struct cpns_daemon {
  const char *prog;        /* "cpns-server" */
  const char *summary;     /* one line for --help */
  const struct cpns_option *options;
  size_t noptions;
  void *conf;              /* the struct the options point into */
  char conf_path[4096];
  bool foreground;
  int *log_level;          /* the conf field holding [log] level */
  const char *log_target;  /* the conf field holding [log] target: stderr|syslog */
};

/* Parses argv, loads defaults and the config file. Returns -1 to go on, or
 * an exit code (0 after --help, --version; 64 usage; 78 config). */
int cpns_daemon_init(struct cpns_daemon *d, int argc, char **argv);
/* Re-reads the reloadable options (SIGHUP); logs what failed. */
void cpns_daemon_reload(struct cpns_daemon *d);
/* Exit codes, as sysexits.h. */
#define CPNS_EXIT_USAGE 64
#define CPNS_EXIT_CONFIG 78
#define CPNS_EXIT_SOFTWARE 70
#define CPNS_EXIT_UNAVAILABLE 69

/* Unless -f was given, detaches from the terminal (after the sockets are
 * bound, so that start-up errors still reach the caller) and writes pid_file
 * when one is set. Returns 0 or an exit code. */
int cpns_daemon_detach(struct cpns_daemon *d, const char *pid_file);

#endif
