/* SPDX-License-Identifier: Apache-2.0 */
/* Group Keys: creation, sealing and opening of group content with
 * AES-256-GCM under an HKDF-derived content key, and the JSON distribution
 * message (see groupkey.h for the formats). OpenSSL's return values are
 * converted to cpns_err here. Secrets on the stack or heap (content keys,
 * decoded key bytes, the key's base64url text, unauthenticated plaintext)
 * are wiped with OPENSSL_cleanse before they go out of scope. */
#include "groupkey.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

#define HDR_FIXED 2u    /* version byte and id length byte */
#define EPOCH_LEN 4u
/* 32 key bytes are 43 base64url characters without padding. */
#define KEY_B64_LEN ((CPNS_GROUP_KEY_LEN * 4 + 2) / 3)

static void set_err(char *err, size_t errlen, const char *msg) {
  if (err && errlen) snprintf(err, errlen, "%s", msg);
}

/* A key is usable when its group is a NUL-terminated valid id. */
static bool key_ok(const struct cpns_group_key *k) {
  return k && memchr(k->group, '\0', sizeof k->group) && cpns_valid_id(k->group);
}

/* n bytes of [A-Za-z0-9._-]: the id rule of cpns_valid_id, on bytes that are
 * not NUL-terminated (a NUL byte fails). */
static bool id_bytes_ok(const uint8_t *s, size_t n) {
  if (n == 0 || n > CPNS_ID_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

int cpns_group_key_new(const char *group, uint32_t epoch, int64_t expires,
                       struct cpns_group_key *out) {
  if (!out) return CPNS_ERR_INVAL;
  memset(out, 0, sizeof *out);
  if (!group || !cpns_valid_id(group) || expires < 0) return CPNS_ERR_INVAL;
  if (RAND_bytes(out->key, CPNS_GROUP_KEY_LEN) != 1) {
    OPENSSL_cleanse(out, sizeof *out);
    return CPNS_ERR_CRYPTO;
  }
  memcpy(out->group, group, strlen(group) + 1);
  out->epoch = epoch;
  out->expires = expires;
  return 0;
}

void cpns_group_key_wipe(struct cpns_group_key *k) {
  if (k) OPENSSL_cleanse(k, sizeof *k);
}

/* The content key: HKDF-SHA256 (RFC 5869) of the group key, salted with the
 * group id, for the purpose named by CPNS_GROUP_KEY_INFO. A new purpose gets
 * a new info string, so keys of different uses never coincide. */
static int derive_content_key(const struct cpns_group_key *k, uint8_t ck[CPNS_GROUP_KEY_LEN]) {
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  EVP_KDF_free(kdf); /* the context holds its own reference */
  if (!kctx) return CPNS_ERR_CRYPTO;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)k->key, CPNS_GROUP_KEY_LEN),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)k->group, strlen(k->group)),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)CPNS_GROUP_KEY_INFO,
                                        sizeof CPNS_GROUP_KEY_INFO - 1),
      OSSL_PARAM_construct_end(),
  };
  int ok = EVP_KDF_derive(kctx, ck, CPNS_GROUP_KEY_LEN, params) == 1;
  EVP_KDF_CTX_free(kctx); /* cleanses its copy of the key */
  if (!ok) OPENSSL_cleanse(ck, CPNS_GROUP_KEY_LEN);
  return ok ? 0 : CPNS_ERR_CRYPTO;
}

/* One AES-256-GCM pass. enc: in -> out and the tag is written to tag;
 * otherwise in -> out and tag is checked (by EVP, in constant time).
 * Associated data is hdr followed by aad. len <= CPNS_GROUP_SEAL_MAX, so the
 * int lengths of EVP cannot overflow. */
static int gcm(bool enc, const uint8_t ck[CPNS_GROUP_KEY_LEN], const uint8_t *nonce,
               const uint8_t *hdr, size_t hdrlen, const uint8_t *aad, size_t aadlen,
               const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[CPNS_GROUP_TAG_LEN]) {
  if (aadlen > INT32_MAX || hdrlen > INT32_MAX) return CPNS_ERR_TOOBIG;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return CPNS_ERR_NOMEM;
  int outl = 0, ok = 1;
  int e = enc ? 1 : 0;
  ok = ok && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, e) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CPNS_GROUP_NONCE_LEN, NULL) == 1;
  ok = ok && EVP_CipherInit_ex(ctx, NULL, NULL, ck, nonce, e) == 1;
  ok = ok && EVP_CipherUpdate(ctx, NULL, &outl, hdr, (int)hdrlen) == 1;
  if (aadlen) ok = ok && EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aadlen) == 1;
  if (len) ok = ok && EVP_CipherUpdate(ctx, out, &outl, in, (int)len) == 1;
  if (!enc) ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CPNS_GROUP_TAG_LEN, tag) == 1;
  /* GCM is a stream mode: Final writes no bytes, it computes or checks the tag. */
  uint8_t fin[16];
  ok = ok && EVP_CipherFinal_ex(ctx, fin, &outl) == 1;
  if (enc) ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CPNS_GROUP_TAG_LEN, tag) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return ok ? 0 : CPNS_ERR_CRYPTO;
}

/* Parses and bounds the header of a sealed message; *hdrlen gets its length
 * (2+n+4). Writes group and epoch only when the whole message is well formed. */
static int parse_header(const uint8_t *in, size_t inlen, char group[CPNS_ID_MAX + 1],
                        uint32_t *epoch, size_t *hdrlen) {
  if (!in || inlen < HDR_FIXED) return CPNS_ERR_INVAL;
  if (in[0] != CPNS_GROUP_SEAL_VERSION) return CPNS_ERR_INVAL;
  size_t n = in[1];
  if (n == 0 || n > CPNS_ID_MAX || inlen < CPNS_GROUP_SEAL_OVERHEAD(n)) return CPNS_ERR_INVAL;
  if (!id_bytes_ok(in + HDR_FIXED, n)) return CPNS_ERR_INVAL;
  if (inlen - CPNS_GROUP_SEAL_OVERHEAD(n) > CPNS_GROUP_SEAL_MAX) return CPNS_ERR_TOOBIG;
  const uint8_t *ep = in + HDR_FIXED + n;
  memcpy(group, in + HDR_FIXED, n);
  group[n] = '\0';
  *epoch = (uint32_t)ep[0] << 24 | (uint32_t)ep[1] << 16 | (uint32_t)ep[2] << 8 | ep[3];
  *hdrlen = HDR_FIXED + n + EPOCH_LEN;
  return 0;
}

int cpns_group_sealed_info(const uint8_t *in, size_t inlen, char group[CPNS_ID_MAX + 1],
                           uint32_t *epoch) {
  if (!group || !epoch) return CPNS_ERR_INVAL;
  size_t hdrlen;
  return parse_header(in, inlen, group, epoch, &hdrlen);
}

int cpns_group_seal(const struct cpns_group_key *k, const uint8_t *aad, size_t aadlen,
                    const uint8_t *pt, size_t ptlen, uint8_t **out, size_t *outlen) {
  if (out) *out = NULL;
  if (outlen) *outlen = 0;
  if (!out || !outlen || !key_ok(k) || (!aad && aadlen) || (!pt && ptlen)) return CPNS_ERR_INVAL;
  if (ptlen > CPNS_GROUP_SEAL_MAX) return CPNS_ERR_TOOBIG;
  size_t n = strlen(k->group);
  size_t hdrlen = HDR_FIXED + n + EPOCH_LEN;
  size_t total = CPNS_GROUP_SEAL_OVERHEAD(n) + ptlen;
  uint8_t *buf = malloc(total);
  if (!buf) return CPNS_ERR_NOMEM;
  buf[0] = CPNS_GROUP_SEAL_VERSION;
  buf[1] = (uint8_t)n;
  memcpy(buf + HDR_FIXED, k->group, n);
  uint8_t *ep = buf + HDR_FIXED + n;
  ep[0] = (uint8_t)(k->epoch >> 24);
  ep[1] = (uint8_t)(k->epoch >> 16);
  ep[2] = (uint8_t)(k->epoch >> 8);
  ep[3] = (uint8_t)k->epoch;
  uint8_t *nonce = buf + hdrlen;
  uint8_t *ct = nonce + CPNS_GROUP_NONCE_LEN;
  uint8_t *tag = ct + ptlen;
  /* Random 96-bit nonces: with a fresh key per epoch, far fewer than the
   * 2^32 messages NIST SP 800-38D §8.3 allows are sealed under one key. */
  uint8_t ck[CPNS_GROUP_KEY_LEN];
  int rc = RAND_bytes(nonce, CPNS_GROUP_NONCE_LEN) == 1 ? 0 : CPNS_ERR_CRYPTO;
  if (!rc) rc = derive_content_key(k, ck);
  if (!rc) rc = gcm(true, ck, nonce, buf, hdrlen, aad, aadlen, pt, ptlen, ct, tag);
  OPENSSL_cleanse(ck, sizeof ck);
  if (rc) {
    OPENSSL_cleanse(buf, total);
    free(buf);
    return rc;
  }
  *out = buf;
  *outlen = total;
  return 0;
}

int cpns_group_open(const struct cpns_group_key *k, int64_t now, const uint8_t *aad,
                    size_t aadlen, const uint8_t *in, size_t inlen, uint8_t **out,
                    size_t *outlen) {
  if (out) *out = NULL;
  if (outlen) *outlen = 0;
  if (!out || !outlen || !key_ok(k) || (!aad && aadlen)) return CPNS_ERR_INVAL;
  char group[CPNS_ID_MAX + 1];
  uint32_t epoch;
  size_t hdrlen;
  int rc = parse_header(in, inlen, group, &epoch, &hdrlen);
  if (rc) return rc;
  /* The caller picks the key by cpns_group_sealed_info(); a mismatch is a
   * key this member does not hold (an epoch after its expulsion, or before
   * it joined), not a forgery. The header is authenticated below anyway. */
  if (epoch != k->epoch || strcmp(group, k->group) != 0) return CPNS_ERR_DENIED;
  if (now != 0 && k->expires != 0 && now >= k->expires) return CPNS_ERR_DENIED;
  const uint8_t *nonce = in + hdrlen;
  const uint8_t *ct = nonce + CPNS_GROUP_NONCE_LEN;
  size_t ctlen = inlen - CPNS_GROUP_SEAL_OVERHEAD(hdrlen - HDR_FIXED - EPOCH_LEN);
  uint8_t tag[CPNS_GROUP_TAG_LEN];
  memcpy(tag, ct + ctlen, sizeof tag);
  uint8_t *pt = malloc(ctlen ? ctlen : 1);
  if (!pt) return CPNS_ERR_NOMEM;
  uint8_t ck[CPNS_GROUP_KEY_LEN];
  rc = derive_content_key(k, ck);
  if (!rc) rc = gcm(false, ck, nonce, in, hdrlen, aad, aadlen, ct, ctlen, pt, tag);
  OPENSSL_cleanse(ck, sizeof ck);
  if (rc) {
    /* Unauthenticated plaintext never leaves. */
    OPENSSL_cleanse(pt, ctlen);
    free(pt);
    return rc;
  }
  *out = pt;
  *outlen = ctlen;
  return 0;
}

/* base64url (RFC 4648 §5) without padding. The mapping between characters
 * and 6-bit values is branch-free and table-free, so that decoding or
 * encoding a key leaks nothing of it through timing or the cache (the
 * technique of libsodium's sodium_bin2base64). */
#define CT_GT(x, y) ((((unsigned)(y) - (unsigned)(x)) >> 8) & 0xFFu)  /* x > y */
#define CT_LT(x, y) CT_GT(y, x)
#define CT_GE(x, y) (CT_LT(x, y) ^ 0xFFu)
#define CT_LE(x, y) (CT_GT(x, y) ^ 0xFFu)
#define CT_EQ(x, y) ((((0u - ((unsigned)(x) ^ (unsigned)(y))) >> 8) & 0xFFu) ^ 0xFFu)

/* A 6-bit value to its character. */
static char b64url_char(unsigned x) {
  return (char)((CT_LT(x, 26) & (x + 'A')) | (CT_GE(x, 26) & CT_LT(x, 52) & (x + 'a' - 26)) |
                (CT_GE(x, 52) & CT_LT(x, 62) & (x + '0' - 52)) | (CT_EQ(x, 62) & '-') |
                (CT_EQ(x, 63) & '_'));
}

/* A character to its 6-bit value, or 0xFF when it is not in the alphabet. */
static unsigned b64url_value(unsigned c) {
  unsigned x = (CT_GE(c, 'A') & CT_LE(c, 'Z') & (c - 'A')) |
               (CT_GE(c, 'a') & CT_LE(c, 'z') & (c - 'a' + 26)) |
               (CT_GE(c, '0') & CT_LE(c, '9') & (c - '0' + 52)) | (CT_EQ(c, '-') & 62u) |
               (CT_EQ(c, '_') & 63u);
  return x | (CT_EQ(x, 0) & (CT_EQ(c, 'A') ^ 0xFFu));
}

/* Writes the encoding of CPNS_GROUP_KEY_LEN bytes and a NUL. */
static void b64url_encode_key(const uint8_t in[CPNS_GROUP_KEY_LEN], char out[KEY_B64_LEN + 1]) {
  unsigned acc = 0, bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < CPNS_GROUP_KEY_LEN; i++) {
    acc = (acc << 8 | in[i]) & 0xFFFFu;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out[o++] = b64url_char((acc >> bits) & 63u);
    }
  }
  if (bits) out[o++] = b64url_char((acc << (6 - bits)) & 63u);
  out[o] = '\0';
}

/* Decodes exactly CPNS_GROUP_KEY_LEN bytes from len characters: anything but
 * the 43 characters of a canonical encoding (alphabet only, no '=', unused
 * low bits of the last character zero) fails. The length is public; the
 * characters are looked at without branching on them. */
static bool b64url_decode_key(const char *s, size_t len, uint8_t out[CPNS_GROUP_KEY_LEN]) {
  if (len != KEY_B64_LEN) return false;
  unsigned acc = 0, bits = 0, bad = 0;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned v = b64url_value((unsigned char)s[i]);
    bad |= v >> 6; /* 0xFF has bits above the low six */
    acc = (acc << 6 | (v & 63u)) & 0xFFFu;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  bad |= acc & ((1u << bits) - 1); /* canonical: the leftover bits are zero */
  return bad == 0 && o == CPNS_GROUP_KEY_LEN;
}

json_t *cpns_group_key_to_json(const struct cpns_group_key *k) {
  if (!key_ok(k) || k->expires < 0) return NULL;
  char b64[KEY_B64_LEN + 1];
  b64url_encode_key(k->key, b64);
  json_t *v = json_pack("{s:s, s:I, s:I, s:s}", "group", k->group, "epoch",
                        (json_int_t)k->epoch, "exp", (json_int_t)k->expires, "key", b64);
  OPENSSL_cleanse(b64, sizeof b64);
  return v;
}

int cpns_group_key_from_json(const json_t *v, struct cpns_group_key *out, char *err,
                             size_t errlen) {
  static const char *const members[] = {"group", "epoch", "exp", "key", NULL};
  if (!out) {
    set_err(err, errlen, "no output key");
    return CPNS_ERR_INVAL;
  }
  if (!json_is_object(v)) {
    set_err(err, errlen, "a group key must be a map");
    return CPNS_ERR_INVAL;
  }
  char scratch[128];
  if (cpns_msg_only(v, members, scratch, sizeof scratch)) {
    /* The text names the member (at most 40 bytes of it), never a value. */
    set_err(err, errlen, scratch);
    return CPNS_ERR_INVAL;
  }
  struct cpns_group_key k;
  memset(&k, 0, sizeof k);

  const json_t *g = json_object_get(v, "group");
  if (!json_is_string(g)) {
    set_err(err, errlen, g ? "'group' must be a text string" : "'group' is required");
    return CPNS_ERR_INVAL;
  }
  size_t glen = json_string_length(g);
  if (!id_bytes_ok((const uint8_t *)json_string_value(g), glen)) {
    set_err(err, errlen, "'group' must be 1..64 bytes of [A-Za-z0-9._-]");
    return CPNS_ERR_INVAL;
  }
  memcpy(k.group, json_string_value(g), glen);
  k.group[glen] = '\0';

  const json_t *e = json_object_get(v, "epoch");
  if (!json_is_integer(e) || json_integer_value(e) < 0 ||
      json_integer_value(e) > (json_int_t)UINT32_MAX) {
    set_err(err, errlen,
            e ? "'epoch' must be an integer in 0..4294967295" : "'epoch' is required");
    return CPNS_ERR_INVAL;
  }
  k.epoch = (uint32_t)json_integer_value(e);

  const json_t *x = json_object_get(v, "exp");
  if (x && (!json_is_integer(x) || json_integer_value(x) < 0)) {
    set_err(err, errlen, "'exp' must be a non-negative integer (unix seconds, 0 = none)");
    return CPNS_ERR_INVAL;
  }
  k.expires = x ? (int64_t)json_integer_value(x) : 0;

  const json_t *key = json_object_get(v, "key");
  if (!json_is_string(key)) {
    set_err(err, errlen, key ? "'key' must be a text string" : "'key' is required");
    return CPNS_ERR_INVAL;
  }
  if (!b64url_decode_key(json_string_value(key), json_string_length(key), k.key)) {
    cpns_group_key_wipe(&k);
    set_err(err, errlen, "'key' must be 32 bytes in base64url without padding (43 characters)");
    return CPNS_ERR_INVAL;
  }
  *out = k;
  cpns_group_key_wipe(&k);
  return 0;
}
