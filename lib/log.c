/* SPDX-License-Identifier: Apache-2.0 */
/* Logging sink and rate limiter (see log.h). */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

static int g_level = CPNS_LOG_NOTICE;
static enum cpns_log_sink g_sink = CPNS_LOG_SINK_STDERR;
static const char *g_ident = "cpns";

static const char *const level_names[] = {"emerg", "alert", "crit",   "err",
                                          "warning", "notice", "info", "debug"};

void cpns_log_setup(const char *ident, enum cpns_log_sink sink, int level) {
  g_ident = ident ? ident : "cpns";
  g_sink = sink;
  cpns_log_set_level(level);
  if (sink == CPNS_LOG_SINK_SYSLOG)
    openlog(g_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void cpns_log_set_level(int level) {
  if (level < CPNS_LOG_ERR) level = CPNS_LOG_ERR;
  if (level > CPNS_LOG_DEBUG) level = CPNS_LOG_DEBUG;
  g_level = level;
}

int cpns_log_get_level(void) { return g_level; }

int cpns_log_level_parse(const char *name) {
  if (!name) return -1;
  for (int i = CPNS_LOG_ERR; i <= CPNS_LOG_DEBUG; i++)
    if (strcasecmp(name, level_names[i]) == 0) return i;
  if (strcasecmp(name, "error") == 0) return CPNS_LOG_ERR;
  if (strcasecmp(name, "warn") == 0) return CPNS_LOG_WARNING;
  return -1;
}

const char *cpns_log_level_name(int level) {
  if (level < 0 || level > CPNS_LOG_DEBUG) return "?";
  return level_names[level];
}

void cpns_log_vwrite(int level, const char *module, const char *fmt, va_list ap) {
  if (level > g_level) return;
  char line[1024];
  vsnprintf(line, sizeof line, fmt, ap);
  /* A line never carries control characters from untrusted input. */
  for (char *p = line; *p; p++)
    if ((unsigned char)*p < 0x20) *p = '?';
  if (g_sink == CPNS_LOG_SINK_SYSLOG) {
    syslog(level, "[%s] %s", module ? module : "-", line);
    return;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%s] %s: %s\n", tm.tm_year + 1900,
          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
          g_ident, cpns_log_level_name(level), module ? module : "-", line);
}

void cpns_log_write(int level, const char *module, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cpns_log_vwrite(level, module, fmt, ap);
  va_end(ap);
}

bool cpns_log_limit_take(struct cpns_log_limit *lim, unsigned burst, double per_sec,
                         unsigned *suppressed_out) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  if (lim->last == 0) {
    lim->tokens = burst;
  } else {
    lim->tokens += (now - lim->last) * per_sec;
    if (lim->tokens > burst) lim->tokens = burst;
  }
  lim->last = now;
  if (lim->tokens < 1.0) {
    lim->suppressed++;
    return false;
  }
  lim->tokens -= 1.0;
  *suppressed_out = lim->suppressed;
  lim->suppressed = 0;
  return true;
}
