/* SPDX-License-Identifier: Apache-2.0 */
/* The CPNS message schemas of PN registration and PN management, between
 * their records (store.h) and the decoded payload trees (codec.h). Field
 * names and limits are documented in docs/protocol.md; every decoder checks
 * types and sizes and says what was wrong in err. */
#ifndef CPNS_MSG_H
#define CPNS_MSG_H

#include <jansson.h>
#include <stdbool.h>

#include "store.h"

#define CPNS_LIFETIME_MIN 2
#define CPNS_LIFETIME_MAX 86400
#define CPNS_READERS_MAX 32

/* True for 1..CPNS_ID_MAX bytes of [A-Za-z0-9._-]. */
bool cpns_valid_id(const char *s);

/* Optional string field: absent leaves out untouched; wrong type or too long
 * is CPNS_ERR_INVAL / CPNS_ERR_TOOBIG with err set. */
int cpns_msg_str(const json_t *obj, const char *key, char *out, size_t outsize, bool required,
                 char *err, size_t errlen);
int cpns_msg_int(const json_t *obj, const char *key, long lo, long hi, long *out, bool required,
                 char *err, size_t errlen);
int cpns_msg_bool(const json_t *obj, const char *key, bool *out, char *err, size_t errlen);
/* Rejects members other than the listed ones (NULL-terminated). */
int cpns_msg_only(const json_t *obj, const char *const *allowed, char *err, size_t errlen);

/* roles <-> ["pne","gw"] */
json_t *cpns_msg_roles(unsigned roles);
int cpns_msg_parse_roles(const json_t *arr, unsigned *roles, char *err, size_t errlen);

json_t *cpns_msg_entity(const struct cpns_entity_rec *e);
json_t *cpns_msg_pn(const struct cpns_pn_rec *p);

/* A registration body: {"name","type","roles","lt","addr","state"}: fills
 * the descriptive fields of e (not pn or id). With from_gw, "state" and
 * "addr" are accepted too (the gateway reports them to the server). */
int cpns_msg_parse_registration(const json_t *body, struct cpns_entity_rec *e, bool from_gw,
                                char *err, size_t errlen);
/* A PN registration body: {"name","owner","open","lt"}. */
int cpns_msg_parse_pn(const json_t *body, struct cpns_pn_rec *p, char *err, size_t errlen);

#endif
