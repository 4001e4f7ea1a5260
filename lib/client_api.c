/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the typed CPNS-5 calls (client_enroll.c, client_groups.c):
 * argument checks, bounded parsing of answer texts, and wiping of texts and
 * JSON strings that held a secret (see client_api.h). */
#include "client_api.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

bool client_api__id_ok(const char *s) {
  return s && strnlen(s, CPNS_ID_MAX + 1) <= CPNS_ID_MAX && cpns_valid_id(s);
}

int client_api__parse(const char *text, json_t **out) {
  if (!text) return CPNS_ERR_PROTO;
  size_t n = strnlen(text, CLIENT_ANSWER_TEXT_MAX + 1);
  if (n > CLIENT_ANSWER_TEXT_MAX) return CPNS_ERR_PROTO;
  json_error_t je;
  json_t *v = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
  if (!json_is_object(v)) {
    json_decref(v);
    return CPNS_ERR_PROTO;
  }
  *out = v;
  return 0;
}

void client_api__free_secret_text(char *text) {
  if (!text) return;
  OPENSSL_cleanse(text, strlen(text));
  cpns_free(text);
}

void client_api__wipe_json_string(json_t *s) {
  /* The characters live in a buffer jansson allocated for this value; the
   * value is not const, only the accessor's pointer is. */
  if (json_is_string(s)) OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
}
