/* SPDX-License-Identifier: Apache-2.0 */
/* The [usage] options of the daemons (Usage statistics, spec 5.5.4): one
 * struct holds them all, and each daemon's option table takes the part that
 * concerns it from the macros below, so that every option is declared once,
 * with its bounds, default and help (docs/man/cpns.conf.5). */
#ifndef CPNS_USAGE_OPTIONS_H
#define CPNS_USAGE_OPTIONS_H

#include "config.h"
#include "usage.h"

struct cpns_usage_conf {
  long max_rate;         /* records (PNE) or batches (gateway, server) per second of one caller */
  long burst;            /* what one caller may send at once before max_rate applies */
  long max_pending;      /* PNE, gateway: records kept until the next hop has them */
  long batch_max;        /* PNE, gateway: records in one batch to the next hop */
  long batch_ms;         /* PNE, gateway: milliseconds records are gathered into one batch */
  char report[8];        /* PNE: "allow" or "deny", for services the user set nothing for */
  char database[4096];   /* PNE: its SQLite store of records and preferences */
  long max_records;      /* server: records stored in all */
  long retention_days;   /* server: records older than this many days are deleted */
  long summary_days_max; /* server: days one summary may span */
  long summary_rows;     /* server: rows of a summary when the query asks for no limit */
};

#define CPNS_USAGE_BATCH_OPTIONS(S, d_max, d_ms, next)                                          \
  CPNS_OPT_I("usage", "batch_max", S, usage.batch_max, d_max, 1, CPNS_USAGE_BATCH_MAX, false,    \
             "Usage records in one batch to the " next "."),                                     \
  CPNS_OPT_I("usage", "batch_ms", S, usage.batch_ms, d_ms, 0, 3600000, false,                    \
             "Milliseconds usage records are gathered before they go to the " next              \
             " as one batch (sooner when a batch is full).")

#define CPNS_USAGE_PNE_OPTIONS(S)                                                               \
  CPNS_OPT_S("usage", "database", S, usage.database, "/var/lib/cpns/pne-usage.db",              \
             "SQLite database of the usage records not yet sent and of the user's reporting "   \
             "preferences, mode 0600. Without it the device records no usage (5.03)."),         \
  CPNS_OPT_S("usage", "report", S, usage.report, "allow",                                        \
             "Whether a service the user set no preference for is reported: allow or deny."),  \
  CPNS_OPT_I("usage", "max_rate", S, usage.max_rate, "20", 1, 100000, false,                    \
             "Usage records one application may hand in per second; beyond its burst, 4.29."), \
  CPNS_OPT_I("usage", "burst", S, usage.burst, "50", 1, 100000, false,                          \
             "Usage records one application may hand in at once before max_rate applies."),    \
  CPNS_OPT_I("usage", "max_pending", S, usage.max_pending, "10000", 1, 10000000, false,         \
             "Usage records kept until the gateway has them; beyond, a new one gets 5.03."),    \
  CPNS_USAGE_BATCH_OPTIONS(S, "32", "500", "gateway")

#define CPNS_USAGE_GW_OPTIONS(S)                                                                \
  CPNS_OPT_I("usage", "max_rate", S, usage.max_rate, "10", 1, 100000, false,                    \
             "Batches of usage records one PNE may send per second; beyond its burst, 4.29."),  \
  CPNS_OPT_I("usage", "burst", S, usage.burst, "20", 1, 100000, false,                          \
             "Batches of usage records one PNE may send at once before max_rate applies."),     \
  CPNS_OPT_I("usage", "max_pending", S, usage.max_pending, "100000", 1, 100000000, false,       \
             "Usage records kept until the server has them (they wait out its absence); "       \
             "beyond, a PNE's batch gets 5.03 and the PNE keeps it."),                          \
  CPNS_USAGE_BATCH_OPTIONS(S, "64", "2000", "server")

#define CPNS_USAGE_SERVER_OPTIONS(S)                                                            \
  CPNS_OPT_I("usage", "max_rate", S, usage.max_rate, "20", 1, 100000, false,                    \
             "Batches of usage records one PN's gateway may send per second; beyond its "       \
             "burst, 4.29."),                                                                   \
  CPNS_OPT_I("usage", "burst", S, usage.burst, "40", 1, 100000, false,                          \
             "Batches of usage records one PN's gateway may send at once before max_rate "      \
             "applies."),                                                                       \
  CPNS_OPT_I("usage", "max_records", S, usage.max_records, "10000000", 1, 2000000000, false,    \
             "Usage records stored in all; beyond, a batch gets 5.03 (the gateway keeps it)."), \
  CPNS_OPT_I("usage", "retention_days", S, usage.retention_days, "400", 1, 36500, false,        \
             "Days a usage record is kept, from the day it started."),                          \
  CPNS_OPT_I("usage", "summary_days_max", S, usage.summary_days_max, "366", 1,                  \
             CPNS_USAGE_SPAN_DAYS_MAX, false, "Days one usage summary may span; more is 4.00."), \
  CPNS_OPT_I("usage", "summary_rows", S, usage.summary_rows, "100", 1, CPNS_USAGE_ROWS_MAX,     \
             false, "Rows of a usage summary when the query asks for no limit.")

#endif
