/* SPDX-License-Identifier: Apache-2.0 */
/* Private to libcpns: the answer decoders and the query builder of the
 * usage statistics calls (client_usage.c), apart so that the unit tests and
 * the fuzz target can feed them any answer without a peer. Like the other
 * answer decoders (client_api.h) they are strict (types, ranges, lengths,
 * required members; unknown members are ignored), bounded, return 0 or
 * CPNS_ERR_PROTO (CPNS_ERR_NOMEM), and write their out arguments only on
 * success. */
#ifndef CPNS_CLIENT_USAGE_H
#define CPNS_CLIENT_USAGE_H

#include <cpns/usage.h>
#include <stddef.h>

/* The answer of GET usage/prefs: a new cpns_usage_prefs_t. */
int client_usage__decode_prefs(const char *text, cpns_usage_prefs_t **out);
/* The answer of GET usage/summary for a query grouped by `by`: a new
 * cpns_usage_summary_t. */
int client_usage__decode_summary(const char *text, cpns_usage_by_t by, cpns_usage_summary_t **out);
/* The answer of POST usage: whether the record will be reported. */
int client_usage__decode_recorded(const char *text, bool *reported);
/* The query text of q into out: 0, or CPNS_ERR_INVAL for a field that is
 * not valid (an id, a day YYYY-MM-DD, a limit over CPNS_USAGE_ROWS_MAX). */
int client_usage__query(const cpns_usage_query_t *q, char *out, size_t size);

#endif
