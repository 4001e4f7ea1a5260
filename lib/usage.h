/* SPDX-License-Identifier: Apache-2.0 */
/* Usage statistics (spec 5.5.4): the usage record with the device snapshot
 * taken during use, batches of records, the user's per-service reporting
 * preferences and summary queries. Strict decoders that bound every field
 * and say what was wrong in words fit for a 4.00 (or 4.13) diagnostic, and
 * the encoders of the same schema. Pure: no I/O, no clock. The schema is
 * documented in docs/protocol.md, "Usage statistics"; its public limits are
 * those of <cpns/usage.h>.
 *
 * A record travels three ways, each with its own form:
 *   - from an application to its PNE (CPNS-5): no "id", no "entity";
 *   - from the PNE to its gateway (CPNS-1): with the record's "id", chosen
 *     by the PNE (random, so that a resend is recognized anywhere);
 *   - from the gateway to the server (CPNS-2): with "id" and "entity", the
 *     PNE that made it. */
#ifndef CPNS_USAGE_INTERNAL_H
#define CPNS_USAGE_INTERNAL_H

#include <cpns/usage.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Records in one batch. With every member of a record present (8, and 5 in
 * "device") a batch of this many stays within the codec's 1024 items. */
#define CPNS_USAGE_BATCH_MAX 64
/* Bytes of a device snapshot as compact JSON (as the stores keep it). */
#define CPNS_USAGE_DEVICE_TEXT_MAX 256
/* Bytes of one record as compact JSON, at most (what a batch's size is
 * estimated with). */
#define CPNS_USAGE_RECORD_TEXT_MAX 640
/* Days one summary may span at most, whatever the configuration says. */
#define CPNS_USAGE_SPAN_DAYS_MAX 3660
/* Days a summary covers when the query names neither end. */
#define CPNS_USAGE_SPAN_DAYS_DEFAULT 31
#define CPNS_USAGE_SECONDS_PER_DAY 86400

enum cpns_usage_form {
  CPNS_USAGE_FROM_APP, /* CPNS-5: no id, no entity */
  CPNS_USAGE_FROM_PNE, /* CPNS-1: id */
  CPNS_USAGE_FROM_GW,  /* CPNS-2: id and entity */
};

struct cpns_usage_rec {
  char pn[CPNS_ID_MAX + 1];     /* the PN it was reported in ("" at the PNE) */
  char entity[CPNS_ID_MAX + 1]; /* the PNE that made it */
  char rid[CPNS_ID_MAX + 1];    /* its id, unique for its entity */
  char service[CPNS_ID_MAX + 1];
  int64_t start, stop;
  uint64_t bytes_in, bytes_out;
  cpns_usage_device_t device;
  uint64_t seq;        /* order in the store that holds it; 0 before */
  int64_t received_at; /* unix seconds it reached the store that holds it */
};

/* An empty record (device unknown). */
void cpns_usage_rec_init(struct cpns_usage_rec *r);
/* An empty device snapshot (every field unknown). */
void cpns_usage_device_init(cpns_usage_device_t *d);

/* Decodes one record of the given form into *out (replacing it; pn, seq and
 * received_at are left at 0/""). Returns 0, CPNS_ERR_INVAL (a missing or
 * unknown member, a wrong type, a value out of range, stop before start) or
 * CPNS_ERR_TOOBIG (a text too long), with the reason in err. *out is written
 * only on success. */
int cpns_usage_decode(const json_t *body, enum cpns_usage_form form, struct cpns_usage_rec *out,
                      char *err, size_t errlen);
/* A device snapshot {"type"?, "battery"?, "charging"?, "network"?,
 * "state"?} into *out; same errors. */
int cpns_usage_device_decode(const json_t *obj, cpns_usage_device_t *out, char *err, size_t errlen);
/* A batch {"records": [record...]} of 1..max (<= CPNS_USAGE_BATCH_MAX)
 * records of the given form into out[0..*n). More than max is
 * CPNS_ERR_TOOBIG; a bad record is the error of cpns_usage_decode, with
 * its index ("records[3]: ...") in err. Nothing is kept on failure. */
int cpns_usage_batch_decode(const json_t *body, enum cpns_usage_form form,
                            struct cpns_usage_rec *out, size_t max, size_t *n, char *err,
                            size_t errlen);

/* The record in the given form (new reference; NULL when out of memory). */
json_t *cpns_usage_to_json(const struct cpns_usage_rec *r, enum cpns_usage_form form);
/* The snapshot with its known fields only (new reference). */
json_t *cpns_usage_device_to_json(const cpns_usage_device_t *d);
/* The snapshot as compact JSON with sorted keys into out (at least
 * CPNS_USAGE_DEVICE_TEXT_MAX + 1 bytes): 0 or CPNS_ERR_NOMEM. */
int cpns_usage_device_to_text(const cpns_usage_device_t *d, char *out, size_t size);
/* Parses a stored snapshot text; CPNS_ERR_INVAL if it is not one. */
int cpns_usage_device_from_text(const char *text, cpns_usage_device_t *out);
/* Fills the fields of d that are unknown from those of with (what the PNE
 * knows of itself). */
void cpns_usage_device_fill(cpns_usage_device_t *d, const cpns_usage_device_t *with);

/* ---- preferences ---- */

struct cpns_usage_pref_entry {
  char service[CPNS_ID_MAX + 1];
  bool allow;
};

/* The user's reporting preferences: one choice per service, ordered by
 * service, and a default for the others (default_set false: the device's
 * configured default applies). */
struct cpns_usage_prefset {
  bool default_set, default_allow;
  size_t n;
  struct cpns_usage_pref_entry e[CPNS_USAGE_PREFS_MAX];
};

void cpns_usage_prefs_init(struct cpns_usage_prefset *p);
/* Decodes {"default"?: "allow"|"deny", "services"?: {SERVICE: "allow"|"deny"}}
 * into *out (replacing it); same errors as cpns_usage_decode (more than
 * CPNS_USAGE_PREFS_MAX services is CPNS_ERR_TOOBIG). */
int cpns_usage_prefs_decode(const json_t *body, struct cpns_usage_prefset *out, char *err,
                            size_t errlen);
/* The document (new reference); with configured_default, the default that
 * applies when the user set none is written too, and "default_set" says
 * whether it is the user's. */
json_t *cpns_usage_prefs_to_json(const struct cpns_usage_prefset *p, bool with_effective,
                                 bool configured_default);
/* Whether service's records may be reported; configured_default applies
 * when neither the service nor a user's default is set. */
bool cpns_usage_prefs_allows(const struct cpns_usage_prefset *p, const char *service,
                             bool configured_default);
/* Sets service's choice: 0, CPNS_ERR_INVAL (not an id) or CPNS_ERR_LIMIT
 * (CPNS_USAGE_PREFS_MAX services named already). */
int cpns_usage_prefs_set(struct cpns_usage_prefset *p, const char *service, bool allow);
/* Forgets service's choice; false when there was none. */
bool cpns_usage_prefs_clear(struct cpns_usage_prefset *p, const char *service);
/* "allow"/"deny" <-> bool: -1 for anything else. */
int cpns_usage_pref_parse(const char *word);

/* ---- summaries ---- */

struct cpns_usage_filter {
  cpns_usage_by_t by;
  char pn[CPNS_ID_MAX + 1];      /* "" = not a filter */
  char service[CPNS_ID_MAX + 1];
  char entity[CPNS_ID_MAX + 1];
  bool pn_given;
  int64_t from_day, to_day; /* days since 1970-01-01, both included */
  unsigned limit;           /* 0 = not given */
};

/* Parses a query "by=service&pn=P&service=S&entity=E&from=YYYY-MM-DD&to=
 * YYYY-MM-DD&limit=N" (every key optional, at most once; by defaults to
 * service). today (days since the epoch) completes a missing end: without
 * both, the CPNS_USAGE_SPAN_DAYS_DEFAULT days up to today; with one, the
 * same span from or up to it. A span over max_span_days (<=
 * CPNS_USAGE_SPAN_DAYS_MAX) days, to before from, a limit over max_rows,
 * an unknown key or a bad value is CPNS_ERR_INVAL with the reason in err. */
int cpns_usage_query_parse(const char *query, int64_t today, long max_span_days, unsigned max_rows,
                           struct cpns_usage_filter *out, char *err, size_t errlen);

/* Days since 1970-01-01 <-> "YYYY-MM-DD" (proleptic Gregorian, UTC).
 * cpns_usage_day_parse: 0 or CPNS_ERR_INVAL (not a valid date of years
 * 1970..9999). cpns_usage_day_text: out of at least CPNS_USAGE_DAY_LEN + 1
 * bytes. */
int cpns_usage_day_parse(const char *s, int64_t *day);
void cpns_usage_day_text(int64_t day, char *out, size_t size);
/* The day a unix time falls on (UTC). */
int64_t cpns_usage_day_of(int64_t unix_seconds);
/* "service", "pn", "day", "entity" -> by; -1 for anything else. */
int cpns_usage_by_parse(const char *word);

/* One row of a summary, as the store gives it. */
struct cpns_usage_total {
  char key[CPNS_ID_MAX + 1]; /* service, PN, entity, or the day as "YYYY-MM-DD" */
  int64_t day;               /* by day: the day */
  uint64_t records, seconds, bytes_in, bytes_out;
};
json_t *cpns_usage_row_to_json(const struct cpns_usage_total *r);

#endif
