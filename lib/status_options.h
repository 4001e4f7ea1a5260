/* SPDX-License-Identifier: Apache-2.0 */
/* The [status] options of the daemons (Status Management, spec 5.5.3):
 * one struct holds them all, and each daemon's option table takes the part
 * that concerns it from the macros below, so that every option is declared
 * once, with its bounds, default and help (docs/man/cpns.conf.5). */
#ifndef CPNS_STATUS_OPTIONS_H
#define CPNS_STATUS_OPTIONS_H

#include "config.h"
#include "status.h"

struct cpns_status_conf {
  long max_rate;       /* status updates per second of one entity (refill of its bucket) */
  long burst;          /* updates one entity may send at once */
  long max_observers;  /* observers of status resources in all */
  long refresh;        /* seconds: a notification at least this often (finds dead observers) */
  long resume_ttl;     /* server: seconds a PN GW's observation waits for its next session */
  long max_policies;   /* server: policy-based report rules in all */
  long max_policies_per_pn;
  long batch_ms;       /* gateway: a PN's changes gathered this long into one batch */
  long batch_max;      /* gateway: updates in one batch */
  long mirror_pmax;    /* gateway, PNE: heartbeat asked of a relayed observation's upstream */
  long max_mirrored;   /* gateway, PNE: remote entities observed upstream at once */
  char state[16];      /* PNE: the status published at start */
  char text[CPNS_STATUS_TEXT_MAX + 1];
  char attributes[512];
  long max_reports;    /* PNE: policy reports kept for its applications */
};

#define CPNS_STATUS_COMMON_OPTIONS(S, d_rate, d_burst, d_observers)                                  \
  CPNS_OPT_I("status", "max_rate", S, status.max_rate, d_rate, 1, 100000, false,                  \
             "Status updates one entity may send per second; beyond its burst, 4.29 (counted)."), \
  CPNS_OPT_I("status", "burst", S, status.burst, d_burst, 1, 100000, false,                       \
             "Status updates one entity may send at once before max_rate applies."),              \
  CPNS_OPT_I("status", "max_observers", S, status.max_observers, d_observers, 1, 10000000, false, \
             "Observers of status resources in all (also limits.max_observers per resource); "   \
             "more get 5.03."),                                                                  \
  CPNS_OPT_I("status", "refresh", S, status.refresh, "600", 0, 86400, false,                    \
             "Seconds after which an observer with nothing new is sent its status again, to "     \
             "find observers that went away (0 = never).")

#define CPNS_STATUS_SERVER_OPTIONS(S)                                                          \
  CPNS_STATUS_COMMON_OPTIONS(S, "10", "20", "100000"),                                          \
  CPNS_OPT_I("status", "resume_ttl", S, status.resume_ttl, "86400", 60, 2592000, false,         \
             "Seconds a PN GW's observation is kept for its next session (and over a restart)."), \
  CPNS_OPT_I("status", "max_policies", S, status.max_policies, "100000", 0, 10000000, false,   \
             "Policy-based report rules in all."),                                              \
  CPNS_OPT_I("status", "max_policies_per_pn", S, status.max_policies_per_pn, "32", 1, 10000,   \
             false, "Policy-based report rules of one PN.")

#define CPNS_STATUS_GW_OPTIONS(S)                                                              \
  CPNS_STATUS_COMMON_OPTIONS(S, "2", "5", "4096"),                                              \
  CPNS_OPT_I("status", "batch_ms", S, status.batch_ms, "200", 0, 60000, false,                 \
             "Milliseconds the PN's status changes are gathered before they go to the server as " \
             "one batch."),                                                                     \
  CPNS_OPT_I("status", "batch_max", S, status.batch_max, "64", 1, CPNS_STATUS_BATCH_MAX, false, \
             "Status updates in one batch to the server."),                                     \
  CPNS_OPT_I("status", "mirror_pmax", S, status.mirror_pmax, "120", 10, 86400, false,           \
             "Seconds between heartbeats asked of the server for a relayed observation."),      \
  CPNS_OPT_I("status", "max_mirrored", S, status.max_mirrored, "256", 1, 100000, false,         \
             "Entities of other PNs observed at the server for this PN's PNEs at once.")

#define CPNS_STATUS_PNE_OPTIONS(S)                                                             \
  CPNS_OPT_S("status", "state", S, status.state, "online",                                      \
             "Status published at start: online, busy or away."),                               \
  CPNS_OPT_S("status", "text", S, status.text, "", "Free-form status text published at start."), \
  CPNS_OPT_S("status", "attributes", S, status.attributes, "",                                  \
             "Numeric attributes published at start, e.g. battery=80,volume=3."),               \
  CPNS_OPT_I("status", "max_observers", S, status.max_observers, "64", 1, 100000, false,        \
             "Observers of status resources among this device's applications."),                \
  CPNS_OPT_I("status", "mirror_pmax", S, status.mirror_pmax, "120", 10, 86400, false,           \
             "Seconds between heartbeats asked of the gateway for a relayed observation."),     \
  CPNS_OPT_I("status", "max_mirrored", S, status.max_mirrored, "32", 1, 10000, false,           \
             "Entities observed at the gateway for this device's applications at once."),       \
  CPNS_OPT_I("status", "max_reports", S, status.max_reports, "32", 1, 1024, false,              \
             "Policy reports kept for this device's applications (GET reports).")

#endif
