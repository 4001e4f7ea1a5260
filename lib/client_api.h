/* SPDX-License-Identifier: Apache-2.0 */
/* Private to libcpns: what the typed CPNS-5 calls of client_enroll.c and
 * client_groups.c share, and their answer decoders. The decoders take the
 * answer as the JSON text that cpns_client_request() returns, so that the
 * unit tests and fuzz targets can feed them malformed answers without a
 * peer. Every decoder is strict (types, ranges, lengths, required members;
 * unknown members are ignored) and bounded (CLIENT_ANSWER_TEXT_MAX), returns
 * 0 or CPNS_ERR_PROTO (CPNS_ERR_NOMEM), and writes its out arguments only
 * on success. */
#ifndef CPNS_CLIENT_API_H
#define CPNS_CLIENT_API_H

#include <cpns/enroll.h>
#include <cpns/groups.h>
#include <cpns/status.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest answer text decoded. A decoded answer is at most
 * CPNS_RESPONSE_MAX (1 MiB) on the wire; its indented JSON text is larger. */
#define CLIENT_ANSWER_TEXT_MAX (8u * 1024u * 1024u)

/* s is 1..CPNS_ID_MAX bytes of [A-Za-z0-9._-] (the rule of the daemons,
 * cpns_valid_id()), read without running past CPNS_ID_MAX + 1 bytes. */
bool client_api__id_ok(const char *s);

/* Parses an answer text into a JSON object (new reference in *out).
 * CPNS_ERR_PROTO for no text, text above the limit, not JSON, duplicate
 * keys or not an object. */
int client_api__parse(const char *text, json_t **out);

/* Wipes and frees an answer text that may hold a secret. NULL is ignored. */
void client_api__free_secret_text(char *text);

/* Wipes the characters of a JSON string value in place (the object is ours:
 * we parsed it), so that its secret does not outlive json_decref(). */
void client_api__wipe_json_string(json_t *s);

/* The 2.01 answer of POST enrollments: its code, if the answer names the
 * id, pn and role asked for. code receives CPNS_ENROLL_CODE_LEN characters
 * of [a-z2-7] and a NUL. */
int client_enroll__decode_code(const char *text, const char *id, const char *pn,
                               const char *role, char code[CPNS_ENROLL_CODE_LEN + 1]);

/* A key object {"identity","role","pn","key": 64 hex digits,"generation"}
 * for identity id. */
int client_enroll__decode_key(const char *text, const char *id, uint8_t key[CPNS_PSK_LEN],
                              uint32_t *generation);

/* The answer of GET groups/{id}: a new cpns_group_t (cpns_group_free()). */
int client_groups__decode_group(const char *text, const char *id, cpns_group_t **out);

/* The answer of GET groups/{id}/key, a key distribution message for id. */
int client_groups__decode_key(const char *text, const char *id, cpns_group_key_t *out);

/* The answer of GET pns/{pn}/policies {"policies": [rule...]}: a new array
 * of *n rules (free(); NULL when there are none). */
int client_status__decode_policies(const char *text, cpns_policy_t **out, size_t *n);

#endif
