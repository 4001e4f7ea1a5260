/* SPDX-License-Identifier: Apache-2.0 */
/* Logging: syslog levels, a module tag per line, a pluggable sink (stderr or
 * syslog), the level checked before any formatting, and per-call-site rate
 * limiting so that a flood of bad input cannot fill a disk. libcoap's and
 * OpenSSL's messages are routed here by node.c. Never log keys or codes. */
#ifndef CPNS_LOG_H
#define CPNS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum cpns_log_level {
  CPNS_LOG_ERR = 3,
  CPNS_LOG_WARNING = 4,
  CPNS_LOG_NOTICE = 5,
  CPNS_LOG_INFO = 6,
  CPNS_LOG_DEBUG = 7,
};

enum cpns_log_sink { CPNS_LOG_SINK_STDERR, CPNS_LOG_SINK_SYSLOG };

/* Rate limit of one call site: at most `burst` lines, refilled at `per_sec`. */
struct cpns_log_limit {
  double tokens;
  double last;        /* monotonic seconds of the last refill; 0 = never */
  unsigned suppressed;
};

void cpns_log_setup(const char *ident, enum cpns_log_sink sink, int level);
void cpns_log_set_level(int level);
int cpns_log_get_level(void);
/* Parses "err", "warning", "notice", "info", "debug"; -1 when unknown. */
int cpns_log_level_parse(const char *name);
const char *cpns_log_level_name(int level);

void cpns_log_write(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cpns_log_vwrite(int level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Returns true when a line may be written now at this call site; counts the
 * suppressed ones and reports them with the next line that gets through. */
bool cpns_log_limit_take(struct cpns_log_limit *lim, unsigned burst, double per_sec,
                         unsigned *suppressed_out);

#define CPNS_LOG(level, module, ...)                                           \
  do {                                                                         \
    if ((level) <= cpns_log_get_level())                                       \
      cpns_log_write((level), (module), __VA_ARGS__);                          \
  } while (0)

/* Rate-limited: 10 lines at once, then one per second, per call site. */
#define CPNS_LOG_RL(level, module, ...)                                        \
  do {                                                                         \
    static struct cpns_log_limit cpns__lim_;                                   \
    unsigned cpns__sup_ = 0;                                                   \
    if ((level) <= cpns_log_get_level() &&                                     \
        cpns_log_limit_take(&cpns__lim_, 10, 1.0, &cpns__sup_)) {              \
      if (cpns__sup_)                                                          \
        cpns_log_write((level), (module), "(%u similar lines suppressed)",     \
                       cpns__sup_);                                            \
      cpns_log_write((level), (module), __VA_ARGS__);                          \
    }                                                                          \
  } while (0)

#define log_err(m, ...) CPNS_LOG(CPNS_LOG_ERR, m, __VA_ARGS__)
#define log_warn(m, ...) CPNS_LOG(CPNS_LOG_WARNING, m, __VA_ARGS__)
#define log_notice(m, ...) CPNS_LOG(CPNS_LOG_NOTICE, m, __VA_ARGS__)
#define log_info(m, ...) CPNS_LOG(CPNS_LOG_INFO, m, __VA_ARGS__)
#define log_debug(m, ...) CPNS_LOG(CPNS_LOG_DEBUG, m, __VA_ARGS__)

#endif
