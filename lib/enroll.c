/* SPDX-License-Identifier: Apache-2.0 */
/* Enrollment codes and the PSK derived from them (see enroll.h). */
#include "enroll.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "msg.h"

int cpns_enroll_code_new(char code[CPNS_ENROLL_CODE_LEN + 1]) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  uint8_t raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return CPNS_ERR_CRYPTO;
  /* 26 base32 digits of 5 bits: 130 bits, the last 2 are zero. */
  unsigned bits = 0, acc = 0, n = 0;
  for (size_t i = 0; i < sizeof raw; i++) {
    acc = (acc << 8) | raw[i];
    bits += 8;
    while (bits >= 5) {
      code[n++] = alphabet[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits) code[n++] = alphabet[(acc << (5 - bits)) & 31];
  code[n] = '\0';
  OPENSSL_cleanse(raw, sizeof raw);
  return n == CPNS_ENROLL_CODE_LEN ? 0 : CPNS_ERR_CRYPTO;
}

int cpns_enroll_psk(const char *code, const char *identity, uint8_t psk[CPNS_PSK_LEN]) {
  static const char salt[] = "cpns enrollment v1";
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  if (!kdf) return CPNS_ERR_CRYPTO;
  EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (!ctx) return CPNS_ERR_CRYPTO;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)code, strlen(code)),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, sizeof salt - 1),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)identity, strlen(identity)),
      OSSL_PARAM_construct_end()};
  int ok = EVP_KDF_derive(ctx, psk, CPNS_PSK_LEN, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok ? 0 : CPNS_ERR_CRYPTO;
}

int cpns_enroll_identity(const char *id, char out[CPNS_ID_MAX + 1]) {
  int n = snprintf(out, CPNS_ID_MAX + 1, "%s%s", CPNS_ENROLL_PREFIX, id);
  return n > 0 && n <= CPNS_ID_MAX ? 0 : CPNS_ERR_TOOBIG;
}

const char *cpns_enroll_id_of(const char *identity) {
  size_t n = strlen(CPNS_ENROLL_PREFIX);
  if (strncmp(identity, CPNS_ENROLL_PREFIX, n) != 0 || identity[n] == '\0') return NULL;
  return identity + n;
}

int cpns_enroll_request_decode(const json_t *body, struct cpns_enroll_request *out, char *err,
                               size_t errlen) {
  static const char *const fields[] = {"id", "role", "pn", "ttl", NULL};
  struct cpns_enroll_request r;
  memset(&r, 0, sizeof r);
  snprintf(r.role, sizeof r.role, "pne");
  r.ttl = CPNS_ENROLL_TTL_DEFAULT;
  if (cpns_msg_only(body, fields, err, errlen) ||
      cpns_msg_str(body, "id", r.id, sizeof r.id, true, err, errlen) ||
      cpns_msg_str(body, "role", r.role, sizeof r.role, false, err, errlen) ||
      cpns_msg_str(body, "pn", r.pn, sizeof r.pn, false, err, errlen) ||
      cpns_msg_int(body, "ttl", 1, CPNS_ENROLL_TTL_MAX, &r.ttl, false, err, errlen))
    return CPNS_ERR_INVAL;
  char enroll_id[CPNS_ID_MAX + 1];
  if (!cpns_valid_id(r.id) || cpns_enroll_identity(r.id, enroll_id) || cpns_enroll_id_of(r.id)) {
    snprintf(err, errlen, "'id' must be an id of at most %d bytes",
             (int)(CPNS_ID_MAX - strlen(CPNS_ENROLL_PREFIX)));
    return CPNS_ERR_INVAL;
  }
  if (strcmp(r.role, "pne") != 0 && strcmp(r.role, "gw") != 0) {
    snprintf(err, errlen, "'role' must be pne or gw");
    return CPNS_ERR_INVAL;
  }
  if (!cpns_valid_id(r.pn)) {
    snprintf(err, errlen, "'pn' is required");
    return CPNS_ERR_INVAL;
  }
  *out = r;
  return 0;
}
