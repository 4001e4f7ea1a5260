/* SPDX-License-Identifier: Apache-2.0 */
/* The capabilities of the host a PNE or PN GW runs on (spec 5.5.1), as a
 * capability document (capabilities.h): what Linux tells (/proc/cpuinfo,
 * /proc/meminfo, /sys/class/power_supply, the network interfaces,
 * uname), with the configuration's overrides merged over it. The static
 * part is read when the source is made and on reload; the dynamic part
 * each time a document is asked for. Every read is bounded; what cannot
 * be read, or does not fit the schema, is left out. */
#ifndef CPNS_HOSTCAPS_H
#define CPNS_HOSTCAPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define CPNS_HOSTCAPS_FILE_MAX 65536           /* bytes of the overrides file */
#define CPNS_HOSTCAPS_MEMORY_STEP (1024 * 1024) /* available memory is reported in whole MiB,
                                                   so that noise is not a change */
#define CPNS_HOSTCAPS_LINE_MAX 512             /* bytes of one line read from /proc or /sys */

/* The [capabilities] options of the PNE and the gateway. The conf struct
 * has caps_host, caps_file, caps_power_supply (char arrays but caps_host,
 * a bool), caps_period and caps_min_interval (long). */
#define CPNS_CAPS_OPTIONS(S)                                                                    \
  CPNS_OPT_B("capabilities", "host", S, caps_host, "yes",                                      \
             "Read the device's capabilities from the host: /proc/cpuinfo, /proc/meminfo, "    \
             "the power supplies, the network interfaces, uname."),                             \
  CPNS_OPT_S("capabilities", "file", S, caps_file, "",                                          \
             "JSON file merged over what the host tells (RFC 7386: null removes a member): "   \
             "screen, chipsets, installed and running applications, drivers... Read again "    \
             "when it changes and on SIGHUP; empty = none."),                                   \
  CPNS_OPT_S("capabilities", "power_supply", S, caps_power_supply, "/sys/class/power_supply",  \
             "Where the battery is read from (a test may point it at a directory of its own)."), \
  CPNS_OPT_I("capabilities", "period", S, caps_period, "30", 1, 86400, true,                   \
             "Seconds between readings of the dynamic capabilities (networks, memory, "        \
             "battery, the file)."),                                                            \
  CPNS_OPT_I("capabilities", "min_interval", S, caps_min_interval, "5", 0, 86400, true,        \
             "Fewest seconds between two reports of a change upstream.")

struct cpns_hostcaps_config {
  bool host;                    /* read the host at all */
  const char *file;             /* overrides, NULL or "" for none */
  const char *power_supply_dir; /* e.g. /sys/class/power_supply */
  const char *device_type;      /* static.device_type, NULL or "" for none */
};

struct cpns_hostcaps;

/* Copies cfg; reads the static part and the file. log_mod (static string)
 * tags the log lines. Returns 0 or CPNS_ERR_NOMEM. */
int cpns_hostcaps_new(const struct cpns_hostcaps_config *cfg, const char *log_mod,
                      struct cpns_hostcaps **out);
void cpns_hostcaps_free(struct cpns_hostcaps *hc);
/* Reads the static part and the file again (SIGHUP), with a new config. */
void cpns_hostcaps_reload(struct cpns_hostcaps *hc, const struct cpns_hostcaps_config *cfg);
/* The document now: the static part, the dynamic part read now, the file
 * merged over both (read again if it changed). A file that does not parse,
 * or whose merge breaks the schema, is left out and logged. New reference,
 * a valid document; NULL only when out of memory. */
json_t *cpns_hostcaps_document(struct cpns_hostcaps *hc);

/* The parts, for tests: new references. */
json_t *cpns_hostcaps_read_static(const struct cpns_hostcaps_config *cfg);
json_t *cpns_hostcaps_read_dynamic(const struct cpns_hostcaps_config *cfg);

#endif
