/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file usage.h
 * @brief Usage statistics (spec 5.5.4) for applications: record a service
 * consumption at the PNE, set the user's per-service reporting preferences,
 * and read the summaries the CPNS Server keeps.
 *
 * A record says which service was used, from when to when, how many bytes
 * went each way, and what the device was like meanwhile (its type, battery,
 * network, presence). An application hands it to its PNE (CPNS-5); the PNE
 * applies the user's preferences: a record of a service the preferences
 * deny is dropped there and never leaves the device; an allowed one is kept
 * until the PN's gateway has it. The gateway batches its PN's records to the
 * server, which stores them and summarizes them per service, per PN, per
 * entity and per day. docs/protocol.md, "Usage statistics", describes the
 * resources; docs/security.md who may call them.
 *
 * Preferences are the user's: any application on the device may read them,
 * but only an operator identity of the PNE's keyring (the user's own key,
 * as cpnsctl uses it) may change them.
 *
 * The calls that take a cpns_client_t are synchronous requests on that
 * client (see client.h: one answer awaited, at most the client's timeout; a
 * client is not thread-safe).
 *
 * Errors: every int-returning function returns 0 or a negative cpns_err.
 *   - CPNS_ERR_INVAL for an invalid argument (a NULL pointer, a service that
 *     is not an id of 1..64 bytes of [A-Za-z0-9._-], stop before start, a
 *     value out of range): nothing is sent.
 *   - The peer's refusal as mapped by client.h (CPNS_ERR_DENIED for 4.03,
 *     CPNS_ERR_INVAL for 4.00, CPNS_ERR_TOOBIG for 4.13, CPNS_ERR_LIMIT for
 *     4.29 (too many records: cpns_client_status() is 429), CPNS_ERR_UNAVAIL
 *     for 5.03): cpns_client_error() gives the peer's diagnostic.
 *   - CPNS_ERR_PROTO when a successful answer is malformed; nothing is
 *     stored in the out arguments then.
 *
 * @code
 *   cpns_usage_record_t r;
 *   cpns_usage_record_init(&r);
 *   snprintf(r.service, sizeof r.service, "game");
 *   r.start = started; r.stop = time(NULL);
 *   r.bytes_in = 1200000;
 *   bool reported;
 *   if (cpns_usage_record(c, &r, &reported) == 0 && !reported)
 *     puts("kept private: the user does not report this service");
 * @endcode
 */
#ifndef CPNS_CPNS_USAGE_H
#define CPNS_CPNS_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cpns/client.h>
#include <cpns/cpns.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of the usage schema; every peer refuses more (4.00 or 4.13). */
#define CPNS_USAGE_TIME_MAX 253402300799LL /**< 9999-12-31T23:59:59Z, unix seconds */
#define CPNS_USAGE_DURATION_MAX 604800     /**< seconds one record may span (a week) */
#define CPNS_USAGE_BYTES_MAX 1099511627776ULL /**< bytes each way in one record (1 TiB) */
#define CPNS_USAGE_NETWORK_MAX 16          /**< bytes of a network type ("wifi", "lte") */
#define CPNS_USAGE_PREFS_MAX 256           /**< services named in the preferences */
#define CPNS_USAGE_ROWS_MAX 1000           /**< rows of one summary */
#define CPNS_USAGE_DAY_LEN 10              /**< "YYYY-MM-DD" */

/** The device during use: what is not known stays at its "unknown" value
 * (set by cpns_usage_record_init()). The PNE fills in what it knows and the
 * application left unknown (its type, its battery and network, its status). */
typedef struct cpns_usage_device {
  char type[CPNS_TYPE_MAX + 1];            /**< device type; "" unknown */
  int battery;                             /**< level 0..100 %, -1 unknown */
  int charging;                            /**< 1 yes, 0 no, -1 unknown */
  char network[CPNS_USAGE_NETWORK_MAX + 1]; /**< network type in use; "" unknown */
  char state[16];                          /**< presence (online, busy, away); "" unknown */
} cpns_usage_device_t;

/** One service consumption. */
typedef struct cpns_usage_record {
  char service[CPNS_ID_MAX + 1]; /**< the service's id, e.g. "iptv", "game" */
  int64_t start, stop;           /**< unix seconds; start <= stop, at most a week apart */
  uint64_t bytes_in, bytes_out;  /**< 0..CPNS_USAGE_BYTES_MAX */
  cpns_usage_device_t device;
} cpns_usage_record_t;

/** Empties r: no service, times 0, no bytes, every device field unknown. */
CPNS_EXPORT void cpns_usage_record_init(cpns_usage_record_t *r);

/**
 * Hands r (borrowed) to the PNE the client talks to (POST /cpns/v1/usage).
 * On success *reported (may be NULL) tells whether the record will be
 * reported: false when the user's preferences deny its service, and the PNE
 * dropped it. A PNE holding too many records not yet sent answers 5.03
 * (CPNS_ERR_UNAVAIL); one flooded beyond its rate 4.29 (CPNS_ERR_LIMIT).
 */
CPNS_EXPORT int cpns_usage_record(cpns_client_t *c, const cpns_usage_record_t *r, bool *reported);

/** One service's preference. */
typedef struct cpns_usage_pref {
  char service[CPNS_ID_MAX + 1];
  bool allow; /**< its records may be reported */
} cpns_usage_pref_t;

/** The user's preferences at one PNE. */
typedef struct cpns_usage_prefs {
  bool default_allow;        /**< for services not listed */
  bool default_set;          /**< the user chose the default (else the device's configured one) */
  size_t count;
  cpns_usage_pref_t *services; /**< ordered by service */
} cpns_usage_prefs_t;

/** Reads the PNE's preferences (GET /cpns/v1/usage/prefs). Free with
 * cpns_usage_prefs_free(). */
CPNS_EXPORT int cpns_usage_prefs_get(cpns_client_t *c, cpns_usage_prefs_t **out);
CPNS_EXPORT void cpns_usage_prefs_free(cpns_usage_prefs_t *p);
/** Sets whether service's records may be reported (PUT
 * /cpns/v1/usage/prefs/{service}); an operator identity only. Turning a
 * service to deny also deletes its records that have not left the device. */
CPNS_EXPORT int cpns_usage_pref_set(cpns_client_t *c, const char *service, bool allow);
/** Forgets service's preference: the default applies to it again. */
CPNS_EXPORT int cpns_usage_pref_clear(cpns_client_t *c, const char *service);
/** Sets the default for services the preferences do not name. */
CPNS_EXPORT int cpns_usage_pref_set_default(cpns_client_t *c, bool allow);

/** How a summary groups the records. */
typedef enum cpns_usage_by {
  CPNS_USAGE_BY_SERVICE = 0,
  CPNS_USAGE_BY_PN = 1,
  CPNS_USAGE_BY_DAY = 2,    /**< the UTC day each record started */
  CPNS_USAGE_BY_ENTITY = 3, /**< the entity (PNE) that made it */
} cpns_usage_by_t;

/** A summary query. NULL or "" fields are not filters. from and to are
 * days "YYYY-MM-DD" (UTC), both included; without them the server takes
 * the last 31 days, and a span longer than it allows is refused (4.00). */
typedef struct cpns_usage_query {
  cpns_usage_by_t by;
  const char *pn;      /**< one PN; the caller's own when NULL (operator: every PN) */
  const char *service;
  const char *entity;
  const char *from, *to;
  unsigned limit;      /**< rows at most, 0 = the server's default (and at most CPNS_USAGE_ROWS_MAX) */
} cpns_usage_query_t;

/** One row of a summary. */
typedef struct cpns_usage_row {
  char key[CPNS_ID_MAX + 1]; /**< the service, PN, entity or day ("YYYY-MM-DD") */
  uint64_t records;
  uint64_t seconds;          /**< total time of use */
  uint64_t bytes_in, bytes_out;
} cpns_usage_row_t;

typedef struct cpns_usage_summary {
  cpns_usage_by_t by;
  char from[CPNS_USAGE_DAY_LEN + 1], to[CPNS_USAGE_DAY_LEN + 1]; /**< the days covered */
  bool truncated; /**< more rows than the limit */
  size_t count;
  cpns_usage_row_t *rows; /**< ordered by key */
} cpns_usage_summary_t;

/**
 * Reads a summary (GET /cpns/v1/usage/summary): from the server as an
 * operator or a PN's gateway, or through a PNE and its gateway. A gateway
 * and the PNEs of a PN read that PN's summary only (4.03 for another).
 * Through a PNE or a gateway a summary holds at most 8 rows (a relayed
 * answer must fit one CoAP block), and `truncated` says when there are
 * more. CPNS_ERR_TOOBIG, with nothing sent, when the query does not fit
 * one CoAP query (255 bytes: every filter at its longest). q is borrowed.
 * Free with cpns_usage_summary_free().
 */
CPNS_EXPORT int cpns_usage_summary_get(cpns_client_t *c, const cpns_usage_query_t *q,
                                       cpns_usage_summary_t **out);
CPNS_EXPORT void cpns_usage_summary_free(cpns_usage_summary_t *s);

/** "service", "pn", "day" or "entity"; never NULL. */
CPNS_EXPORT const char *cpns_usage_by_name(cpns_usage_by_t by);

#ifdef __cplusplus
}
#endif
#endif
