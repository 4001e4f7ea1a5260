/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/groupkey.c, its two decoders. The first byte picks:
 *
 *   odd  ('s' = 0x73, 'q' = 0x71, 'u' = 0x75): the rest is a sealed message.
 *        cpns_group_sealed_info() reads its header, and cpns_group_open()
 *        opens it with a fixed key (group "fuzz.group", epoch 7, expiring at
 *        FUZZ_EXP, bytes 0x40..0x5f). Bit 1 set: the aad is "fuzz-aad", else
 *        none. Bit 2 set: the clock reads FUZZ_EXP (the key has expired),
 *        else 0 (not checked).
 *   even ('j' = 0x6a): the rest is JSON (at most FUZZ_JSON_MAX bytes, NULs in
 *        strings allowed), given to cpns_group_key_from_json().
 *
 * Checked, aborting on any violation: failures are clean (a documented code,
 * no output, outputs untouched); the header parser and open agree; a header
 * that parses is what the bytes say; a key of another group or epoch, or an
 * expired one, is DENIED before any decryption; what opens is exactly the
 * ciphertext's length, fails under the other aad, and seals and opens again.
 * A key message that decodes encodes back to the same JSON and seals and
 * opens; the error text of one that does not is the same whatever the key
 * characters are (so it cannot hold them). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpns/cpns.h>

#include "groupkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_GROUP "fuzz.group"
#define FUZZ_EPOCH 7u
#define FUZZ_EXP 2000000000
#define FUZZ_AAD "fuzz-aad"
#define FUZZ_JSON_MAX 4096

static struct cpns_group_key fuzz_key(void) {
  struct cpns_group_key k;
  memset(&k, 0, sizeof k);
  memcpy(k.group, FUZZ_GROUP, sizeof FUZZ_GROUP);
  k.epoch = FUZZ_EPOCH;
  k.expires = FUZZ_EXP;
  for (size_t i = 0; i < CPNS_GROUP_KEY_LEN; i++) k.key[i] = (uint8_t)(0x40 + i);
  return k;
}

/* Seals pt with k and opens it again; aborts unless it comes back. */
static void reseal(const struct cpns_group_key *k, const uint8_t *aad, size_t aadlen,
                   const uint8_t *pt, size_t ptlen) {
  uint8_t *sealed = NULL, *back = NULL;
  size_t slen = 0, blen = 0;
  if (cpns_group_seal(k, aad, aadlen, pt, ptlen, &sealed, &slen) != 0) abort();
  if (slen != CPNS_GROUP_SEAL_OVERHEAD(strlen(k->group)) + ptlen) abort();
  if (cpns_group_open(k, 0, aad, aadlen, sealed, slen, &back, &blen) != 0) abort();
  if (blen != ptlen || (ptlen && memcmp(back, pt, ptlen) != 0)) abort();
  free(back);
  free(sealed);
}

static void fuzz_sealed(uint8_t mode, const uint8_t *in, size_t inlen) {
  struct cpns_group_key k = fuzz_key();
  const uint8_t *aad = (mode & 2) ? (const uint8_t *)FUZZ_AAD : NULL;
  size_t aadlen = (mode & 2) ? sizeof FUZZ_AAD - 1 : 0;
  int64_t now = (mode & 4) ? FUZZ_EXP : 0;

  char group[CPNS_ID_MAX + 1] = "untouched";
  uint32_t epoch = 0xDEADBEEF;
  int irc = cpns_group_sealed_info(in, inlen, group, &epoch);
  if (irc != 0) {
    if (irc != CPNS_ERR_INVAL && irc != CPNS_ERR_TOOBIG) abort();
    if (strcmp(group, "untouched") != 0 || epoch != 0xDEADBEEF) abort();
  } else {
    /* what the bytes say, within bounds */
    size_t n = strlen(group);
    if (n == 0 || n > CPNS_ID_MAX || inlen < CPNS_GROUP_SEAL_OVERHEAD(n)) abort();
    if (in[0] != CPNS_GROUP_SEAL_VERSION || in[1] != n || memcmp(in + 2, group, n) != 0) abort();
    const uint8_t *ep = in + 2 + n;
    if (epoch != ((uint32_t)ep[0] << 24 | (uint32_t)ep[1] << 16 | (uint32_t)ep[2] << 8 | ep[3]))
      abort();
    if (inlen - CPNS_GROUP_SEAL_OVERHEAD(n) > CPNS_GROUP_SEAL_MAX) abort();
  }

  uint8_t *out = (uint8_t *)"sentinel";
  size_t outlen = 1;
  int rc = cpns_group_open(&k, now, aad, aadlen, in, inlen, &out, &outlen);
  if (rc != 0 && (out != NULL || outlen != 0)) abort();
  if (irc != 0) {
    if (rc != irc) abort(); /* one parser */
  } else if (strcmp(group, k.group) != 0 || epoch != k.epoch || now != 0) {
    if (rc != CPNS_ERR_DENIED) abort();
  } else if (rc != 0) {
    if (rc != CPNS_ERR_CRYPTO && rc != CPNS_ERR_NOMEM) abort();
  } else {
    if (!out || outlen != inlen - CPNS_GROUP_SEAL_OVERHEAD(strlen(group))) abort();
    /* the other aad does not open it */
    uint8_t *o2 = NULL;
    size_t l2 = 0;
    const uint8_t *other = aad ? NULL : (const uint8_t *)FUZZ_AAD;
    if (cpns_group_open(&k, 0, other, aad ? 0 : sizeof FUZZ_AAD - 1, in, inlen, &o2, &l2) !=
        CPNS_ERR_CRYPTO)
      abort();
    /* nor the key relabelled to the next epoch, once the label matches */
    struct cpns_group_key next = k;
    next.epoch++;
    if (cpns_group_open(&next, 0, aad, aadlen, in, inlen, &o2, &l2) != CPNS_ERR_DENIED) abort();
    reseal(&k, aad, aadlen, out, outlen);
    free(out);
  }
  cpns_group_key_wipe(&k);
}

/* base64url characters rotated by 4 values: the low two bits, and so the
 * validity of an encoding, stay the same; other bytes stay as they are. */
static char rotate_b64(char c) {
  static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char *p = c ? strchr(alpha, c) : NULL;
  return p ? alpha[(p - alpha + 4) % 64] : c;
}

static void fuzz_json(const uint8_t *in, size_t inlen) {
  if (inlen > FUZZ_JSON_MAX) return;
  json_error_t jerr;
  json_t *v = json_loadb((const char *)in, inlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!v) return;

  struct cpns_group_key out, sentinel;
  memset(&out, 0x5C, sizeof out);
  sentinel = out;
  char err[256] = "";
  int rc = cpns_group_key_from_json(v, &out, err, sizeof err);
  if (rc != 0) {
    if (rc != CPNS_ERR_INVAL || err[0] == '\0') abort();
    if (memcmp(&out, &sentinel, sizeof out) != 0) abort();
    /* the same message with other key characters fails with the same words */
    const json_t *key = json_object_get(v, "key");
    if (json_is_string(key)) {
      size_t klen = json_string_length(key);
      char *rot = malloc(klen + 1);
      if (!rot) abort();
      for (size_t i = 0; i < klen; i++) rot[i] = rotate_b64(json_string_value(key)[i]);
      rot[klen] = '\0';
      json_t *w = json_deep_copy(v);
      if (!w || json_object_set_new(w, "key", json_stringn_nocheck(rot, klen)) != 0) abort();
      char err2[256] = "";
      if (cpns_group_key_from_json(w, &out, err2, sizeof err2) != rc) abort();
      if (strcmp(err, err2) != 0) abort();
      json_decref(w);
      free(rot);
    }
    json_decref(v);
    return;
  }
  /* a decoded key encodes back to the same message ("exp" 0 when absent) */
  json_t *back = cpns_group_key_to_json(&out);
  if (!back) abort();
  json_t *want = json_deep_copy(v);
  if (!want) abort();
  if (!json_object_get(want, "exp")) json_object_set_new(want, "exp", json_integer(0));
  if (!json_equal(want, back)) abort();
  json_decref(want);
  json_decref(back);
  reseal(&out, NULL, 0, (const uint8_t *)"x", 1);
  cpns_group_key_wipe(&out);
  json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1)
    fuzz_sealed(data[0], data + 1, size - 1);
  else
    fuzz_json(data + 1, size - 1);
  return 0;
}
