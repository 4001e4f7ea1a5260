/* SPDX-License-Identifier: Apache-2.0 */
/* Shared daemon start-up (see daemon.h). */
#include "daemon.h"

#include <cpns/cpns.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "keyring.h"
#include "log.h"
#include "node.h"
#include "trustlink.h"

static void usage(const struct cpns_daemon *d, FILE *out) {
  fprintf(out,
          "Usage: %s [-c FILE] [-f] [-o section.name=value]... [-v]\n"
          "%s\n\n"
          "  -c, --config FILE   read the configuration from FILE\n"
          "  -f, --foreground    stay in the foreground, log to stderr\n"
          "  -o SECTION.NAME=VALUE  override one option\n"
          "  -v, --verbose       log at debug level\n"
          "      --sample-config print a commented configuration with all defaults\n"
          "      --authz-table   print who may call each resource (Markdown) and exit\n"
          "%s"
          "  -h, --help          this text\n"
          "  -V, --version       print the version\n\n"
          "Options (config file sections):\n",
          d->prog, d->summary,
          d->accepts_enroll ? "      --enroll CODE   obtain this entity's key with a one-time enrollment code\n"
                              "                      (- reads it from standard input), write it to the key\n"
                              "                      file, which must not exist yet, and exit\n"
                            : "");
  cpns_config_write_help(out, d->options, d->noptions);
  fprintf(out, "\nSignals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads [log] and keys.\n"
               "Exit codes: 0 clean stop, 64 usage, 69 unavailable, 70 internal, 78 config.\n");
  if (d->accepts_enroll)
    fprintf(out, "With --enroll: 0 enrolled, 64 not a code, 69 no session (unreachable, or a wrong\n"
                 "code), 73 the key file exists or cannot be written, 77 the code was refused\n"
                 "(used, expired, not for this id), 78 config.\n");
}

static void apply_logging(struct cpns_daemon *d) {
  enum cpns_log_sink sink = CPNS_LOG_SINK_STDERR;
  if (!d->foreground && d->log_target && strcmp(d->log_target, "syslog") == 0)
    sink = CPNS_LOG_SINK_SYSLOG;
  cpns_log_setup(d->prog, sink, d->log_level ? *d->log_level : CPNS_LOG_NOTICE);
}

int cpns_daemon_init(struct cpns_daemon *d, int argc, char **argv) {
  static const struct option longopts[] = {
      {"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
      {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},      {"sample-config", no_argument, NULL, 'S'},
      {"authz-table", no_argument, NULL, 'A'},
      {"enroll", required_argument, NULL, 'E'},
      {NULL, 0, NULL, 0}};
  char err[512];
  if (cpns_config_defaults(d->options, d->noptions, d->conf)) {
    fprintf(stderr, "%s: internal error: bad option defaults\n", d->prog);
    return CPNS_EXIT_SOFTWARE;
  }
  const char *overrides[32];
  unsigned noverrides = 0;
  bool verbose = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "c:fo:vhV", longopts, NULL)) != -1) {
    switch (c) {
    case 'c': snprintf(d->conf_path, sizeof d->conf_path, "%s", optarg); break;
    case 'f': d->foreground = true; break;
    case 'o':
      if (noverrides >= sizeof overrides / sizeof overrides[0]) {
        fprintf(stderr, "%s: too many -o options\n", d->prog);
        return CPNS_EXIT_USAGE;
      }
      overrides[noverrides++] = optarg;
      break;
    case 'v': verbose = true; break;
    case 'h': usage(d, stdout); return 0;
    case 'V': printf("%s %s (CPNS protocol %s)\n", d->prog, CPNS_VERSION_STRING, CPNS_PROTOCOL_VERSION); return 0;
    case 'S': cpns_config_write_sample(stdout, d->prog, d->options, d->noptions); return 0;
    case 'A': d->print_authz = true; break;
    case 'E':
      if (!d->accepts_enroll) {
        fprintf(stderr, "%s: --enroll is for cpns-pne and cpns-gw\n", d->prog);
        return CPNS_EXIT_USAGE;
      }
      d->enroll_code = optarg;
      break;
    default: usage(d, stderr); return CPNS_EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "%s: unexpected argument '%s'\n", d->prog, argv[optind]);
    return CPNS_EXIT_USAGE;
  }
  if (d->conf_path[0] &&
      cpns_config_load(d->conf_path, d->options, d->noptions, d->conf, false, err, sizeof err)) {
    fprintf(stderr, "%s: %s\n", d->prog, err);
    return CPNS_EXIT_CONFIG;
  }
  for (unsigned i = 0; i < noverrides; i++)
    if (cpns_config_set(d->options, d->noptions, d->conf, overrides[i], err, sizeof err)) {
      fprintf(stderr, "%s: -o %s\n", d->prog, err);
      return CPNS_EXIT_CONFIG;
    }
  if (verbose && d->log_level) *d->log_level = CPNS_LOG_DEBUG;
  /* --enroll is a command, not a daemon: its result goes to the terminal. */
  if (d->enroll_code) d->foreground = true;
  apply_logging(d);
  return -1;
}

void cpns_daemon_reload(struct cpns_daemon *d) {
  char err[512];
  if (!d->conf_path[0]) return;
  if (cpns_config_load(d->conf_path, d->options, d->noptions, d->conf, true, err, sizeof err)) {
    log_err("config", "reload failed, keeping the old settings: %s", err);
    return;
  }
  apply_logging(d);
  log_notice("config", "reloaded %s", d->conf_path);
}

int cpns_daemon_detach(struct cpns_daemon *d, const char *pid_file) {
  if (!d->foreground) {
    bool keep_stderr = !d->log_target || strcmp(d->log_target, "stderr") == 0;
    if (daemon(0, keep_stderr ? 1 : 0) != 0) {
      log_err("daemon", "cannot detach: %s", strerror(errno));
      return CPNS_EXIT_SOFTWARE;
    }
    if (keep_stderr) {
      /* Logs still go to stderr (often a file); stdin and stdout must not
       * keep the caller's terminal or pipe open. */
      int devnull = open("/dev/null", O_RDWR);
      if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        if (devnull > STDERR_FILENO) close(devnull);
      }
    }
  }
  if (pid_file && *pid_file) {
    FILE *f = fopen(pid_file, "w");
    if (!f) {
      log_err("daemon", "cannot write pid file %s: %s", pid_file, strerror(errno));
      return CPNS_EXIT_CONFIG;
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
  }
  return 0;
}

void cpns_daemon_reload_keyring(struct cpns_node *node, const char *path, size_t max_entries,
                                struct cpns_keyring **keyring) {
  char err[512];
  struct cpns_keyring *kr;
  if (cpns_keyring_load(path, max_entries, &kr, err, sizeof err)) {
    log_err("daemon", "keyring reload failed, keeping the old one: %s", err);
    return;
  }
  cpns_node_set_keyring(node, kr);
  cpns_keyring_free(*keyring);
  *keyring = kr;
  log_notice("daemon", "keyring reloaded: %zu identities", cpns_keyring_count(kr));
}

int cpns_daemon_trusted_peers_load(const char *section, const char *listen, const char *path,
                                   long max_lines, struct cpns_trustlink **out) {
  *out = NULL;
  bool has_listen = listen && *listen, has_path = path && *path;
  if (!has_listen && !has_path) return 0;
  if (!has_path) {
    log_err("config", "%s.trusted_listen needs %s.trusted_peers: the file of the peers that the "
                      "underlying network authenticates", section, section);
    return CPNS_ERR_CONFIG;
  }
  if (!has_listen) {
    log_err("config", "%s.trusted_peers is set but %s.trusted_listen is empty", section, section);
    return CPNS_ERR_CONFIG;
  }
  char err[512];
  if (cpns_trustlink_load(path, (size_t)max_lines, out, err, sizeof err)) {
    log_err("config", "%s.trusted_peers: %s", section, err);
    return CPNS_ERR_CONFIG;
  }
  return 0;
}

void cpns_daemon_reload_trusted_peers(struct cpns_node *node, const char *path, long max_lines,
                                      struct cpns_trustlink **t) {
  if (!*t) return;
  char err[512];
  struct cpns_trustlink *n;
  if (cpns_trustlink_load(path, (size_t)max_lines, &n, err, sizeof err)) {
    log_err("daemon", "trusted peers reload failed, keeping the old table: %s", err);
    return;
  }
  cpns_node_set_trusted_peers(node, n);
  cpns_trustlink_free(*t);
  *t = n;
  log_notice("daemon", "trusted peers reloaded: %zu addresses (Appendix D)", cpns_trustlink_count(n));
}

int cpns_daemon_check_link(const char *uri_option, const char *uri, const char *section,
                           bool trusted_link, bool plain) {
  bool coap = strncmp(uri, "coap://", 7) == 0;
  if (trusted_link && !*uri) {
    log_err("config", "%s.trusted_link = yes needs %s = coap://HOST:PORT (a discovered peer is "
                      "always reached over DTLS)", section, uri_option);
    return CPNS_ERR_CONFIG;
  }
  if (trusted_link && !coap) {
    log_err("config", "%s.trusted_link = yes is for a coap:// link (without DTLS), but %s is "
                      "'%s': use coaps:// with trusted_link = no, or coap:// with yes",
            section, uri_option, uri);
    return CPNS_ERR_CONFIG;
  }
  if (coap && !trusted_link) {
    if (plain) return 0; /* development: the connection warns */
    log_err("config", "%s is coap:// (no DTLS): set %s.trusted_link = yes if the underlying "
                      "network is secure (spec Appendix D), or use coaps://",
            uri_option, section);
    return CPNS_ERR_CONFIG;
  }
  if (coap)
    log_notice("config", "link to %s runs WITHOUT DTLS: underlying network declared secure "
                         "(Appendix D)", uri);
  return 0;
}

uint16_t cpns_daemon_port_of(const char *hostport, uint16_t dflt) {
  coap_address_t a;
  if (cpns_parse_hostport(hostport, &a, dflt)) return 0;
  return coap_address_get_port(&a);
}
