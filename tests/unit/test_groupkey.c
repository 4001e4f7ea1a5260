/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/groupkey.c: fresh keys, sealing and opening group
 * content (round trips with and without aad, the documented layout checked
 * against a vector computed by an independent implementation (Python's
 * cryptography) and against a reference built here from OpenSSL's EVP_PKEY
 * HKDF, wrong aad, every flipped bit, every truncation, keys of another
 * epoch or group, expiry, nonce freshness, size limits), the header parser,
 * and the JSON distribution message with every kind of bad member, checking
 * that no error text ever holds key material. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cpns/cpns.h>

#include "groupkey.h"

/* The key of the fixed vector; its base64url holds '-' and '_', its
 * standard base64 '+' and '/'. */
static const uint8_t FIXED_KEY[CPNS_GROUP_KEY_LEN] = {
    0xfb, 0xff, 0xbf, 0xfe, 0xef, 0xfb, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
    0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29};
#define FIXED_B64URL "-_-__u_7EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCk"
#define FIXED_B64STD "+/+//u/7EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCk"

/* Sealed by Python's cryptography (HKDF, AESGCM) following groupkey.h:
 * group "kitchen.speakers", epoch 0x01020304, nonce a0..ab,
 * aad "coap:/g/kitchen", plaintext "hello, group". */
static const uint8_t VECTOR[] = "\x01\x10\x6b\x69\x74\x63\x68\x65\x6e\x2e\x73\x70\x65\x61\x6b\x65"
                                "\x72\x73\x01\x02\x03\x04\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9"
                                "\xaa\xab\x2d\x8e\x88\x6d\xc9\x67\x0c\x35\xa9\x29\x96\xc5\x41\x95"
                                "\x56\xeb\xda\x54\xa4\x2d\xe3\x27\xd1\xfd\xcd\xee\x63\x24";
#define VECTOR_LEN (sizeof VECTOR - 1)
#define VECTOR_AAD "coap:/g/kitchen"
#define VECTOR_PT "hello, group"

static struct cpns_group_key fixed_key(const char *group, uint32_t epoch, int64_t expires) {
  struct cpns_group_key k;
  memset(&k, 0, sizeof k);
  snprintf(k.group, sizeof k.group, "%s", group);
  k.epoch = epoch;
  k.expires = expires;
  memcpy(k.key, FIXED_KEY, sizeof k.key);
  return k;
}

static struct cpns_group_key new_key(const char *group, uint32_t epoch, int64_t expires) {
  struct cpns_group_key k;
  assert_int_equal(cpns_group_key_new(group, epoch, expires, &k), 0);
  return k;
}

/* A heap copy of exactly len bytes, so that ASan sees any read beyond. */
static uint8_t *dup_exact(const uint8_t *p, size_t len) {
  uint8_t *c = malloc(len ? len : 1);
  assert_non_null(c);
  if (len) memcpy(c, p, len);
  return c;
}

static void seal_ok(const struct cpns_group_key *k, const char *aad, const void *pt, size_t ptlen,
                    uint8_t **out, size_t *outlen) {
  size_t aadlen = aad ? strlen(aad) : 0;
  assert_int_equal(cpns_group_seal(k, (const uint8_t *)aad, aadlen, pt, ptlen, out, outlen), 0);
  assert_non_null(*out);
  assert_int_equal(*outlen, CPNS_GROUP_SEAL_OVERHEAD(strlen(k->group)) + ptlen);
}

/* Opens and expects rc; on success the plaintext must equal pt. */
static void open_expect(const struct cpns_group_key *k, int64_t now, const char *aad,
                        const uint8_t *in, size_t inlen, int rc, const void *pt, size_t ptlen) {
  uint8_t *out = (uint8_t *)"sentinel";
  size_t outlen = 12345;
  size_t aadlen = aad ? strlen(aad) : 0;
  uint8_t *copy = dup_exact(in, inlen);
  int got = cpns_group_open(k, now, (const uint8_t *)aad, aadlen, copy, inlen, &out, &outlen);
  assert_int_equal(got, rc);
  free(copy);
  if (rc) {
    assert_null(out);
    assert_int_equal(outlen, 0);
    return;
  }
  assert_non_null(out);
  assert_int_equal(outlen, ptlen);
  if (ptlen) assert_memory_equal(out, pt, ptlen);
  free(out);
}

/* The content key computed the other way OpenSSL offers (EVP_PKEY HKDF). */
static void ref_content_key(const struct cpns_group_key *k, uint8_t ck[32]) {
  EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
  size_t len = 32;
  assert_non_null(pctx);
  assert_int_equal(EVP_PKEY_derive_init(pctx), 1);
  assert_int_equal(EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()), 1);
  assert_int_equal(
      EVP_PKEY_CTX_set1_hkdf_salt(pctx, (const unsigned char *)k->group, (int)strlen(k->group)), 1);
  assert_int_equal(EVP_PKEY_CTX_set1_hkdf_key(pctx, k->key, 32), 1);
  assert_int_equal(EVP_PKEY_CTX_add1_hkdf_info(pctx, (const unsigned char *)"cpns group content v1",
                                               21),
                   1);
  assert_int_equal(EVP_PKEY_derive(pctx, ck, &len), 1);
  assert_int_equal(len, 32);
  EVP_PKEY_CTX_free(pctx);
}

/* Opens a sealed message by reading the layout of groupkey.h by hand;
 * returns the plaintext length, or -1 when the tag does not verify. */
static int ref_open(const struct cpns_group_key *k, const char *aad, const uint8_t *in,
                    size_t inlen, uint8_t *pt) {
  size_t n = in[1];
  size_t hdr = 2 + n + 4;
  assert_true(inlen >= hdr + 12 + 16);
  size_t ctlen = inlen - hdr - 12 - 16;
  uint8_t ck[32];
  ref_content_key(k, ck);
  uint8_t *ad = malloc(hdr + (aad ? strlen(aad) : 0) + 1);
  assert_non_null(ad);
  memcpy(ad, in, hdr);
  size_t adlen = hdr;
  if (aad) {
    memcpy(ad + hdr, aad, strlen(aad));
    adlen += strlen(aad);
  }
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int outl = 0;
  assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, ck, in + hdr), 1);
  assert_int_equal(EVP_DecryptUpdate(c, NULL, &outl, ad, (int)adlen), 1);
  if (ctlen) assert_int_equal(EVP_DecryptUpdate(c, pt, &outl, in + hdr + 12, (int)ctlen), 1);
  assert_int_equal(
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + hdr + 12 + ctlen)), 1);
  uint8_t fin[16];
  int ok = EVP_DecryptFinal_ex(c, fin, &outl);
  EVP_CIPHER_CTX_free(c);
  free(ad);
  return ok == 1 ? (int)ctlen : -1;
}

static void test_new_and_wipe(void **state) {
  (void)state;
  struct cpns_group_key a = new_key("living-room", 0, 0), b = new_key("living-room", 0, 0);
  assert_string_equal(a.group, "living-room");
  assert_int_equal(a.epoch, 0);
  assert_int_equal(a.expires, 0);
  assert_memory_not_equal(a.key, b.key, CPNS_GROUP_KEY_LEN); /* fresh randomness */
  struct cpns_group_key c = new_key("g", UINT32_MAX, INT64_MAX);
  assert_int_equal(c.epoch, UINT32_MAX);
  assert_int_equal(c.expires, INT64_MAX);

  char longest[CPNS_ID_MAX + 2];
  memset(longest, 'x', CPNS_ID_MAX);
  longest[CPNS_ID_MAX] = '\0';
  struct cpns_group_key d = new_key(longest, 1, 0);
  assert_string_equal(d.group, longest);
  longest[CPNS_ID_MAX] = 'x';
  longest[CPNS_ID_MAX + 1] = '\0';
  const char *bad[] = {"", "a b", "a/b", "grüppe", longest, NULL};
  for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
    struct cpns_group_key e;
    memset(&e, 0xAA, sizeof e);
    assert_int_equal(cpns_group_key_new(bad[i], 1, 0, &e), CPNS_ERR_INVAL);
    uint8_t zero[sizeof e];
    memset(zero, 0, sizeof zero);
    assert_memory_equal(&e, zero, sizeof e); /* nothing half-filled */
  }
  struct cpns_group_key e;
  assert_int_equal(cpns_group_key_new("g", 1, -1, &e), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_key_new("g", 1, 0, NULL), CPNS_ERR_INVAL);

  cpns_group_key_wipe(&a);
  uint8_t zero[sizeof a];
  memset(zero, 0, sizeof zero);
  assert_memory_equal(&a, zero, sizeof a);
  cpns_group_key_wipe(NULL);
  cpns_group_key_wipe(&b);
  cpns_group_key_wipe(&c);
  cpns_group_key_wipe(&d);
}

static void test_roundtrip(void **state) {
  (void)state;
  struct cpns_group_key k = new_key("kitchen.speakers", 3, 0);
  static const size_t sizes[] = {0, 1, 15, 16, 17, 255, 4096, 65537};
  uint8_t *pt = malloc(65537);
  assert_non_null(pt);
  for (size_t i = 0; i < 65537; i++) pt[i] = (uint8_t)(i * 31 + 7);
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (int with_aad = 0; with_aad < 2; with_aad++) {
      const char *aad = with_aad ? "coap://gw/g/kitchen.speakers" : NULL;
      uint8_t *sealed;
      size_t len;
      seal_ok(&k, aad, pt, sizes[s], &sealed, &len);
      open_expect(&k, 0, aad, sealed, len, 0, pt, sizes[s]);
      open_expect(&k, 1700000000, aad, sealed, len, 0, pt, sizes[s]);
      /* the aad is bound: present where absent, or absent where present */
      open_expect(&k, 0, with_aad ? NULL : "x", sealed, len, CPNS_ERR_CRYPTO, NULL, 0);
      free(sealed);
    }
  }
  free(pt);
  cpns_group_key_wipe(&k);
}

static void test_empty_plaintext(void **state) {
  (void)state;
  struct cpns_group_key k = new_key("g", 9, 0);
  uint8_t *sealed, *out;
  size_t len, outlen;
  /* NULL with length 0 is an empty plaintext, and so is a non-NULL pointer */
  seal_ok(&k, NULL, NULL, 0, &sealed, &len);
  assert_int_equal(len, CPNS_GROUP_SEAL_OVERHEAD(1));
  assert_int_equal(cpns_group_open(&k, 0, NULL, 0, sealed, len, &out, &outlen), 0);
  assert_non_null(out); /* freeable, even when empty */
  assert_int_equal(outlen, 0);
  free(out);
  free(sealed);
  seal_ok(&k, "", "abc", 0, &sealed, &len);
  open_expect(&k, 0, NULL, sealed, len, 0, NULL, 0);
  open_expect(&k, 0, "", sealed, len, 0, NULL, 0); /* "" and no aad are the same */
  free(sealed);
  cpns_group_key_wipe(&k);
}

/* The documented bytes: version, id length, id, big-endian epoch, nonce,
 * ciphertext, tag. */
static void test_layout(void **state) {
  (void)state;
  struct cpns_group_key k = new_key("ab.c", 0xA1B2C3D4u, 0);
  uint8_t *sealed;
  size_t len;
  seal_ok(&k, NULL, "12345", 5, &sealed, &len);
  assert_int_equal(len, 1 + 1 + 4 + 4 + 12 + 5 + 16);
  assert_int_equal(sealed[0], 1);
  assert_int_equal(sealed[1], 4);
  assert_memory_equal(sealed + 2, "ab.c", 4);
  assert_int_equal(sealed[6], 0xA1);
  assert_int_equal(sealed[7], 0xB2);
  assert_int_equal(sealed[8], 0xC3);
  assert_int_equal(sealed[9], 0xD4);
  assert_memory_not_equal(sealed + 22, "12345", 5); /* encrypted */
  free(sealed);
  cpns_group_key_wipe(&k);
}

/* The format as another implementation reads and writes it. */
static void test_vectors(void **state) {
  (void)state;
  struct cpns_group_key k = fixed_key("kitchen.speakers", 0x01020304u, 0);
  open_expect(&k, 0, VECTOR_AAD, VECTOR, VECTOR_LEN, 0, VECTOR_PT, strlen(VECTOR_PT));
  open_expect(&k, 0, NULL, VECTOR, VECTOR_LEN, CPNS_ERR_CRYPTO, NULL, 0);

  /* and what we seal, a reference opens */
  static const char *aads[] = {NULL, "aad"};
  for (int a = 0; a < 2; a++) {
    uint8_t *sealed, pt[64];
    size_t len;
    seal_ok(&k, aads[a], "group content", 13, &sealed, &len);
    assert_int_equal(ref_open(&k, aads[a], sealed, len, pt), 13);
    assert_memory_equal(pt, "group content", 13);
    assert_int_equal(ref_open(&k, a ? NULL : "aad", sealed, len, pt), -1);
    free(sealed);
  }
}

static void test_wrong_aad(void **state) {
  (void)state;
  struct cpns_group_key k = new_key("g", 1, 0);
  uint8_t *sealed;
  size_t len;
  seal_ok(&k, "coap://a/g", "data", 4, &sealed, &len);
  open_expect(&k, 0, "coap://a/g", sealed, len, 0, "data", 4);
  open_expect(&k, 0, "coap://a/h", sealed, len, CPNS_ERR_CRYPTO, NULL, 0);
  open_expect(&k, 0, "coap://a/g ", sealed, len, CPNS_ERR_CRYPTO, NULL, 0);
  open_expect(&k, 0, "coap://a/", sealed, len, CPNS_ERR_CRYPTO, NULL, 0);
  open_expect(&k, 0, NULL, sealed, len, CPNS_ERR_CRYPTO, NULL, 0);
  free(sealed);
  cpns_group_key_wipe(&k);
}

/* Each bit of a sealed message flipped in turn: never opens. A flip that
 * leaves a well-formed header names another group or epoch: DENIED with the
 * key; and a key relabelled to match it fails authentication, because the
 * header is part of the associated data. */
static void test_bitflip(void **state) {
  (void)state;
  struct cpns_group_key k = new_key("room-1", 5, 0);
  uint8_t *sealed;
  size_t len;
  seal_ok(&k, "aad", "twenty bytes of text", 20, &sealed, &len);
  unsigned inval = 0, denied = 0, crypto = 0;
  for (size_t i = 0; i < len; i++) {
    for (int b = 0; b < 8; b++) {
      uint8_t *m = dup_exact(sealed, len);
      m[i] ^= (uint8_t)(1u << b);
      uint8_t *out = NULL;
      size_t outlen = 0;
      int rc = cpns_group_open(&k, 0, (const uint8_t *)"aad", 3, m, len, &out, &outlen);
      assert_null(out);
      if (rc == CPNS_ERR_INVAL) {
        inval++;
      } else if (rc == CPNS_ERR_CRYPTO) {
        crypto++;
      } else {
        assert_int_equal(rc, CPNS_ERR_DENIED);
        denied++;
        struct cpns_group_key other = k;
        assert_int_equal(cpns_group_sealed_info(m, len, other.group, &other.epoch), 0);
        assert_int_equal(
            cpns_group_open(&other, 0, (const uint8_t *)"aad", 3, m, len, &out, &outlen),
            CPNS_ERR_CRYPTO);
        assert_null(out);
        cpns_group_key_wipe(&other);
      }
      free(m);
    }
  }
  assert_true(inval > 0 && denied > 0 && crypto > 0);
  assert_int_equal(inval + denied + crypto, len * 8);
  free(sealed);
  cpns_group_key_wipe(&k);
}

/* Rotation after an expulsion: the key of epoch 1 (which the expelled
 * member keeps) and the key of epoch 2 open only their own messages. */
static void test_rotation(void **state) {
  (void)state;
  struct cpns_group_key old = new_key("family", 1, 0), cur = new_key("family", 2, 0);
  uint8_t *s_old, *s_cur;
  size_t l_old, l_cur;
  seal_ok(&old, NULL, "before", 6, &s_old, &l_old);
  seal_ok(&cur, NULL, "after", 5, &s_cur, &l_cur);
  open_expect(&old, 0, NULL, s_cur, l_cur, CPNS_ERR_DENIED, NULL, 0);
  open_expect(&cur, 0, NULL, s_old, l_old, CPNS_ERR_DENIED, NULL, 0);
  open_expect(&old, 0, NULL, s_old, l_old, 0, "before", 6);
  open_expect(&cur, 0, NULL, s_cur, l_cur, 0, "after", 5);

  /* the expelled member relabels its old key with the new epoch: no use */
  struct cpns_group_key forged = old;
  forged.epoch = 2;
  open_expect(&forged, 0, NULL, s_cur, l_cur, CPNS_ERR_CRYPTO, NULL, 0);
  /* nor can it rewrite the header of a new message to its own epoch */
  uint8_t *m = dup_exact(s_cur, l_cur);
  m[2 + 6 + 3] = 1;
  open_expect(&old, 0, NULL, m, l_cur, CPNS_ERR_CRYPTO, NULL, 0);
  free(m);
  free(s_old);
  free(s_cur);
  cpns_group_key_wipe(&old);
  cpns_group_key_wipe(&cur);
  cpns_group_key_wipe(&forged);
}

static void test_other_group(void **state) {
  (void)state;
  struct cpns_group_key a = new_key("group-a", 4, 0);
  struct cpns_group_key b = a; /* same bytes and epoch, another group */
  snprintf(b.group, sizeof b.group, "group-b");
  struct cpns_group_key prefix = a;
  snprintf(prefix.group, sizeof prefix.group, "group-");
  uint8_t *sealed;
  size_t len;
  seal_ok(&a, NULL, "x", 1, &sealed, &len);
  open_expect(&b, 0, NULL, sealed, len, CPNS_ERR_DENIED, NULL, 0);
  open_expect(&prefix, 0, NULL, sealed, len, CPNS_ERR_DENIED, NULL, 0);
  open_expect(&a, 0, NULL, sealed, len, 0, "x", 1);
  /* with the header rewritten to group-b, b's label matches but the
   * content key (salted with the group) and the aad do not */
  uint8_t *m = dup_exact(sealed, len);
  m[2 + 6] = 'b';
  open_expect(&b, 0, NULL, m, len, CPNS_ERR_CRYPTO, NULL, 0);
  free(m);
  free(sealed);
  cpns_group_key_wipe(&a);
  cpns_group_key_wipe(&b);
  cpns_group_key_wipe(&prefix);
}

static void test_expiry(void **state) {
  (void)state;
  struct cpns_group_key k = new_key("g", 1, 1000);
  uint8_t *sealed;
  size_t len;
  seal_ok(&k, NULL, "x", 1, &sealed, &len);
  open_expect(&k, 999, NULL, sealed, len, 0, "x", 1);
  open_expect(&k, 1000, NULL, sealed, len, CPNS_ERR_DENIED, NULL, 0);
  open_expect(&k, 1700000000, NULL, sealed, len, CPNS_ERR_DENIED, NULL, 0);
  open_expect(&k, INT64_MAX, NULL, sealed, len, CPNS_ERR_DENIED, NULL, 0);
  open_expect(&k, 0, NULL, sealed, len, 0, "x", 1); /* 0: not checked */
  struct cpns_group_key forever = k;
  forever.expires = 0;
  open_expect(&forever, INT64_MAX, NULL, sealed, len, 0, "x", 1);
  free(sealed);
  cpns_group_key_wipe(&k);
  cpns_group_key_wipe(&forever);
}

static void test_nonce_fresh(void **state) {
  (void)state;
  struct cpns_group_key k = new_key("g", 1, 0);
  uint8_t *a, *b;
  size_t la, lb;
  seal_ok(&k, NULL, "same text", 9, &a, &la);
  seal_ok(&k, NULL, "same text", 9, &b, &lb);
  assert_int_equal(la, lb);
  assert_memory_equal(a, b, 7);                       /* same header */
  assert_memory_not_equal(a + 7, b + 7, 12);          /* different nonces */
  assert_memory_not_equal(a + 19, b + 19, la - 19);   /* so different ciphertexts */
  free(a);
  free(b);
  cpns_group_key_wipe(&k);
}

/* Every prefix of a sealed message: an error, never a crash or a read past
 * the end. Before the tag is complete the parser refuses; from there on it
 * cannot know, and authentication refuses. */
static void test_truncated(void **state) {
  (void)state;
  struct cpns_group_key k = new_key("truncation", 77, 0);
  uint8_t *sealed;
  size_t len;
  seal_ok(&k, "a", "some plaintext", 14, &sealed, &len);
  size_t min = CPNS_GROUP_SEAL_OVERHEAD(strlen(k.group));
  for (size_t l = 0; l < len; l++) {
    uint8_t *m = dup_exact(sealed, l);
    char group[CPNS_ID_MAX + 1] = "untouched";
    uint32_t epoch = 12345;
    int rc = cpns_group_sealed_info(l ? m : NULL, l, group, &epoch);
    if (l < min) {
      assert_int_equal(rc, CPNS_ERR_INVAL);
      assert_string_equal(group, "untouched");
      assert_int_equal(epoch, 12345);
      open_expect(&k, 0, "a", m, l, CPNS_ERR_INVAL, NULL, 0);
    } else {
      assert_int_equal(rc, 0);
      assert_string_equal(group, "truncation");
      assert_int_equal(epoch, 77);
      open_expect(&k, 0, "a", m, l, CPNS_ERR_CRYPTO, NULL, 0);
    }
    free(m);
  }
  /* a byte too many is no better */
  uint8_t *longer = malloc(len + 1);
  assert_non_null(longer);
  memcpy(longer, sealed, len);
  longer[len] = 0;
  open_expect(&k, 0, "a", longer, len + 1, CPNS_ERR_CRYPTO, NULL, 0);
  free(longer);
  free(sealed);
  cpns_group_key_wipe(&k);
}

static void info_expect(const void *in, size_t inlen, int rc) {
  char group[CPNS_ID_MAX + 1] = "untouched";
  uint32_t epoch = 99;
  uint8_t *m = dup_exact(in, inlen);
  assert_int_equal(cpns_group_sealed_info(m, inlen, group, &epoch), rc);
  free(m);
  if (rc) {
    assert_string_equal(group, "untouched");
    assert_int_equal(epoch, 99);
  }
}

static void test_sealed_info(void **state) {
  (void)state;
  char group[CPNS_ID_MAX + 1];
  uint32_t epoch;
  assert_int_equal(cpns_group_sealed_info(VECTOR, VECTOR_LEN, group, &epoch), 0);
  assert_string_equal(group, "kitchen.speakers");
  assert_int_equal(epoch, 0x01020304u);

  /* the shortest well-formed message: a 1-byte id and no ciphertext */
  uint8_t m[2 + CPNS_ID_MAX + 4 + 12 + 16];
  memset(m, 0x5A, sizeof m);
  m[0] = 1;
  m[1] = 1;
  m[2] = 'g';
  memset(m + 3, 0xFF, 4);
  assert_int_equal(cpns_group_sealed_info(m, CPNS_GROUP_SEAL_OVERHEAD(1), group, &epoch), 0);
  assert_string_equal(group, "g");
  assert_int_equal(epoch, UINT32_MAX);
  info_expect(m, CPNS_GROUP_SEAL_OVERHEAD(1) - 1, CPNS_ERR_INVAL);

  /* the longest id */
  m[1] = CPNS_ID_MAX;
  memset(m + 2, 'z', CPNS_ID_MAX);
  assert_int_equal(cpns_group_sealed_info(m, sizeof m, group, &epoch), 0);
  assert_int_equal(strlen(group), CPNS_ID_MAX);
  assert_int_equal(epoch, 0x5A5A5A5Au);

  uint8_t bad[sizeof m + 1];
  memcpy(bad, m, sizeof m);
  bad[sizeof m] = 0;
  bad[1] = CPNS_ID_MAX + 1; /* too long an id */
  info_expect(bad, sizeof bad, CPNS_ERR_INVAL);
  bad[1] = 255;
  info_expect(bad, sizeof bad, CPNS_ERR_INVAL);

  uint8_t v[VECTOR_LEN];
  memcpy(v, VECTOR, VECTOR_LEN);
  v[0] = 0; /* version */
  info_expect(v, VECTOR_LEN, CPNS_ERR_INVAL);
  v[0] = 2;
  info_expect(v, VECTOR_LEN, CPNS_ERR_INVAL);
  v[0] = 1;
  v[1] = 0; /* empty id */
  info_expect(v, VECTOR_LEN, CPNS_ERR_INVAL);
  v[1] = 16;
  static const uint8_t badchars[] = {0, ' ', '/', ':', '@', 0x7F, 0x80, 0xC3};
  for (size_t i = 0; i < sizeof badchars; i++) {
    v[2 + 7] = badchars[i]; /* in the middle of "kitchen.speakers" */
    info_expect(v, VECTOR_LEN, CPNS_ERR_INVAL);
  }
  v[2 + 7] = '.';
  info_expect(v, VECTOR_LEN, 0);
  v[1] = 17; /* the id would swallow the first epoch byte (0x01) */
  info_expect(v, VECTOR_LEN, CPNS_ERR_INVAL);
  v[1] = 7; /* "kitchen" and epoch ".spe": well-formed, another header */
  assert_int_equal(cpns_group_sealed_info(v, VECTOR_LEN, group, &epoch), 0);
  assert_string_equal(group, "kitchen");
  assert_int_equal(epoch, 0x2e737065u);

  info_expect("", 0, CPNS_ERR_INVAL);
  info_expect("\x01", 1, CPNS_ERR_INVAL);
  info_expect("\x01\x01g", 3, CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_sealed_info(NULL, 10, group, &epoch), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_sealed_info(VECTOR, VECTOR_LEN, NULL, &epoch), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_sealed_info(VECTOR, VECTOR_LEN, group, NULL), CPNS_ERR_INVAL);
}

static void test_limits(void **state) {
  (void)state;
  struct cpns_group_key k = new_key("big", 1, 0);
  size_t max = CPNS_GROUP_SEAL_MAX;
  uint8_t *pt = calloc(1, max + 1);
  assert_non_null(pt);
  pt[max - 1] = 0x42;
  uint8_t *sealed = (uint8_t *)"sentinel";
  size_t len = 1;
  assert_int_equal(cpns_group_seal(&k, NULL, 0, pt, max + 1, &sealed, &len), CPNS_ERR_TOOBIG);
  assert_null(sealed);
  assert_int_equal(len, 0);
  seal_ok(&k, NULL, pt, max, &sealed, &len);
  open_expect(&k, 0, NULL, sealed, len, 0, pt, max);
  /* one byte more than a largest message: refused before any decryption */
  uint8_t *longer = malloc(len + 1);
  assert_non_null(longer);
  memcpy(longer, sealed, len);
  longer[len] = 0;
  open_expect(&k, 0, NULL, longer, len + 1, CPNS_ERR_TOOBIG, NULL, 0);
  char group[CPNS_ID_MAX + 1];
  uint32_t epoch;
  assert_int_equal(cpns_group_sealed_info(longer, len + 1, group, &epoch), CPNS_ERR_TOOBIG);
  free(longer);
  free(sealed);
  free(pt);
  cpns_group_key_wipe(&k);
}

static void test_bad_args(void **state) {
  (void)state;
  struct cpns_group_key k = new_key("g", 1, 0);
  uint8_t *out = (uint8_t *)"sentinel";
  size_t outlen = 7;
  assert_int_equal(cpns_group_seal(NULL, NULL, 0, NULL, 0, &out, &outlen), CPNS_ERR_INVAL);
  assert_null(out);
  assert_int_equal(outlen, 0);
  assert_int_equal(cpns_group_seal(&k, NULL, 0, NULL, 0, NULL, &outlen), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_seal(&k, NULL, 0, NULL, 0, &out, NULL), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_seal(&k, NULL, 3, NULL, 0, &out, &outlen), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_seal(&k, NULL, 0, NULL, 3, &out, &outlen), CPNS_ERR_INVAL);

  /* a key whose group is not a valid id, or not NUL-terminated */
  struct cpns_group_key bad = k;
  bad.group[0] = '\0';
  assert_int_equal(cpns_group_seal(&bad, NULL, 0, NULL, 0, &out, &outlen), CPNS_ERR_INVAL);
  memset(bad.group, 'a', sizeof bad.group);
  assert_int_equal(cpns_group_seal(&bad, NULL, 0, NULL, 0, &out, &outlen), CPNS_ERR_INVAL);
  assert_null(cpns_group_key_to_json(&bad));

  uint8_t *sealed;
  size_t len;
  seal_ok(&k, NULL, "x", 1, &sealed, &len);
  assert_int_equal(cpns_group_open(&bad, 0, NULL, 0, sealed, len, &out, &outlen), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_open(NULL, 0, NULL, 0, sealed, len, &out, &outlen), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_open(&k, 0, NULL, 1, sealed, len, &out, &outlen), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_open(&k, 0, NULL, 0, NULL, len, &out, &outlen), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_open(&k, 0, NULL, 0, sealed, len, NULL, &outlen), CPNS_ERR_INVAL);
  assert_int_equal(cpns_group_open(&k, 0, NULL, 0, sealed, len, &out, NULL), CPNS_ERR_INVAL);
  assert_null(out);
  free(sealed);
  cpns_group_key_wipe(&k);
  cpns_group_key_wipe(&bad);
}

static void test_json_roundtrip(void **state) {
  (void)state;
  struct cpns_group_key k = fixed_key("kitchen.speakers", UINT32_MAX, 1893456000);
  json_t *v = cpns_group_key_to_json(&k);
  assert_non_null(v);
  assert_int_equal(json_object_size(v), 4);
  assert_string_equal(json_string_value(json_object_get(v, "group")), "kitchen.speakers");
  assert_int_equal(json_integer_value(json_object_get(v, "epoch")), UINT32_MAX);
  assert_int_equal(json_integer_value(json_object_get(v, "exp")), 1893456000);
  assert_string_equal(json_string_value(json_object_get(v, "key")), FIXED_B64URL);

  /* through text, as it travels */
  char *text = json_dumps(v, JSON_COMPACT);
  assert_non_null(text);
  json_t *back = json_loads(text, 0, NULL);
  assert_non_null(back);
  struct cpns_group_key got;
  char err[256] = "";
  assert_int_equal(cpns_group_key_from_json(back, &got, err, sizeof err), 0);
  assert_string_equal(got.group, k.group);
  assert_int_equal(got.epoch, k.epoch);
  assert_int_equal(got.expires, k.expires);
  assert_memory_equal(got.key, k.key, CPNS_GROUP_KEY_LEN);
  free(text);
  json_decref(back);
  json_decref(v);

  /* random keys, epoch 0, no expiry; "exp" may be left out */
  for (int i = 0; i < 64; i++) {
    struct cpns_group_key r = new_key("g", 0, 0);
    v = cpns_group_key_to_json(&r);
    assert_non_null(v);
    assert_int_equal(json_string_length(json_object_get(v, "key")), 43);
    if (i & 1) json_object_del(v, "exp");
    memset(&got, 0, sizeof got);
    assert_int_equal(cpns_group_key_from_json(v, &got, NULL, 0), 0);
    assert_memory_equal(&got, &r, sizeof r);
    json_decref(v);
    cpns_group_key_wipe(&r);
  }
  /* the sealed vector opens with a key that came through JSON */
  v = json_pack("{s:s, s:i, s:s}", "group", "kitchen.speakers", "epoch", 0x01020304,
                "key", FIXED_B64URL);
  assert_int_equal(cpns_group_key_from_json(v, &got, err, sizeof err), 0);
  open_expect(&got, 0, VECTOR_AAD, VECTOR, VECTOR_LEN, 0, VECTOR_PT, strlen(VECTOR_PT));
  json_decref(v);
  cpns_group_key_wipe(&got);

  struct cpns_group_key neg = k;
  neg.expires = -1;
  assert_null(cpns_group_key_to_json(&neg));
  assert_null(cpns_group_key_to_json(NULL));
}

/* Fails unless text holds no 8-character run of s. */
static void assert_no_run_of(const char *text, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i + 8 <= n; i++) {
    char run[9];
    memcpy(run, s + i, 8);
    run[8] = '\0';
    if (strstr(text, run)) fail_msg("error text '%s' holds key text", text);
  }
}

/* Fails unless text holds no 4-byte run of the raw key. */
static void assert_no_key_bytes(const char *text) {
  size_t n = strlen(text);
  for (size_t i = 0; i + 4 <= CPNS_GROUP_KEY_LEN; i++)
    for (size_t j = 0; j + 4 <= n; j++)
      if (memcmp(text + j, FIXED_KEY + i, 4) == 0) fail_msg("error text holds key bytes");
}

/* Takes ownership of v; expects a refusal with a reason, out untouched and
 * no key material in the reason. */
static void reject(json_t *v, const char *why) {
  struct cpns_group_key out;
  memset(&out, 0x33, sizeof out);
  struct cpns_group_key before = out;
  char err[256] = "";
  int rc = cpns_group_key_from_json(v, &out, err, sizeof err);
  if (rc != CPNS_ERR_INVAL) fail_msg("%s: rc %d, expected INVAL", why, rc);
  assert_true(err[0] != '\0');
  assert_memory_equal(&out, &before, sizeof out);
  assert_no_run_of(err, FIXED_B64URL);
  assert_no_run_of(err, FIXED_B64STD);
  assert_no_key_bytes(err);
  const json_t *key = json_is_object(v) ? json_object_get(v, "key") : NULL;
  if (json_is_string(key)) assert_no_run_of(err, json_string_value(key));
  /* a short buffer is cut, and NULL is allowed when errlen is 0 */
  char tiny[4] = "xxx";
  assert_int_equal(cpns_group_key_from_json(v, &out, tiny, sizeof tiny), CPNS_ERR_INVAL);
  assert_int_equal(strlen(tiny), 3);
  assert_int_equal(cpns_group_key_from_json(v, &out, NULL, 0), CPNS_ERR_INVAL);
  json_decref(v);
}

/* The valid message with member set to value (stolen; NULL deletes it). */
static json_t *with(const char *member, json_t *value) {
  json_t *v = json_pack("{s:s, s:i, s:i, s:s}", "group", "g", "epoch", 1, "exp", 0, "key",
                        FIXED_B64URL);
  assert_non_null(v);
  if (value)
    json_object_set_new(v, member, value);
  else
    json_object_del(v, member);
  return v;
}

/* Takes ownership of v; expects it to decode into out. */
static void accept(json_t *v, struct cpns_group_key *out) {
  char err[256] = "";
  int rc = cpns_group_key_from_json(v, out, err, sizeof err);
  if (rc) fail_msg("rc %d: %s", rc, err);
  json_decref(v);
}

static void test_json_rejects(void **state) {
  (void)state;
  struct cpns_group_key ok;
  accept(with("exp", NULL), &ok);
  assert_int_equal(ok.expires, 0);

  reject(json_array(), "array");
  reject(json_string(FIXED_B64URL), "string");
  reject(NULL, "NULL");
  reject(json_object(), "empty map");
  reject(with("extra", json_integer(1)), "unknown member");
  reject(with("num", json_integer(1)), "RFC 9594 name");

  reject(with("group", NULL), "no group");
  reject(with("group", json_integer(5)), "group int");
  reject(with("group", json_null()), "group null");
  reject(with("group", json_string("")), "empty group");
  reject(with("group", json_string("a b")), "group space");
  reject(with("group", json_string("a/b")), "group slash");
  reject(with("group", json_string("gr\xc3\xbcppe")), "group utf-8");
  reject(with("group", json_stringn("ab\0cd", 5)), "group NUL");
  char longest[CPNS_ID_MAX + 2];
  memset(longest, 'q', sizeof longest - 1);
  longest[CPNS_ID_MAX + 1] = '\0';
  reject(with("group", json_string(longest)), "group 65");
  longest[CPNS_ID_MAX] = '\0';
  accept(with("group", json_string(longest)), &ok);
  assert_string_equal(ok.group, longest);

  reject(with("epoch", NULL), "no epoch");
  reject(with("epoch", json_string("1")), "epoch text");
  reject(with("epoch", json_real(1.0)), "epoch real");
  reject(with("epoch", json_true()), "epoch bool");
  reject(with("epoch", json_null()), "epoch null");
  reject(with("epoch", json_integer(-1)), "epoch -1");
  reject(with("epoch", json_integer((json_int_t)UINT32_MAX + 1)), "epoch 2^32");
  reject(with("epoch", json_integer(INT64_MIN)), "epoch min");
  reject(with("epoch", json_integer(INT64_MAX)), "epoch max");

  reject(with("exp", json_string("0")), "exp text");
  reject(with("exp", json_integer(-1)), "exp -1");
  reject(with("exp", json_real(1.5)), "exp real");
  reject(with("exp", json_null()), "exp null");

  reject(with("key", NULL), "no key");
  reject(with("key", json_integer(5)), "key int");
  reject(with("key", json_null()), "key null");
  reject(with("key", json_pack("[s]", FIXED_B64URL)), "key array");
  reject(with("key", json_string("")), "key empty");
  reject(with("key", json_string(FIXED_B64URL "=")), "padding");
  reject(with("key", json_string(FIXED_B64STD)), "standard base64");
  reject(with("key", json_string(FIXED_B64URL "A")), "33 bytes, 44 chars");
  reject(with("key", json_string("-_-__u_7EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKC")), "31 bytes");
  reject(with("key", json_string("-_-__u_7EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkAAAA")), "35 bytes");
  reject(with("key", json_string("-_-__u_7EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCl")), "stray bits");
  reject(with("key", json_string("-_-__u_7EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKC ")), "space");
  reject(with("key", json_string("-_-__u_7EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKC=")), "inner =");
  reject(with("key", json_string("-_-__u_7EBESExQVFhcYGRobHB0eHyAhIiMkJSYn\xc3\xa9K")), "utf-8");
  reject(with("key", json_stringn("-_-__u_7EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKC\0", 43)), "NUL");
  reject(with("key", json_string("9f0c1b2a3d4e5f60718293a4b5c6d7e8"
                                 "f9000112233445566778899aabbccdde")),
         "hex");

  /* every character outside the alphabet, at a position in the middle */
  for (int c = 0; c < 256; c++) {
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
    char s[] = FIXED_B64URL;
    s[20] = (char)c;
    json_t *v = with("key", json_stringn_nocheck(s, 43));
    if (alpha) {
      accept(v, &ok);
    } else {
      reject(v, "bad character");
    }
  }
  cpns_group_key_wipe(&ok);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_and_wipe),   cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_empty_plaintext), cmocka_unit_test(test_layout),
      cmocka_unit_test(test_vectors),        cmocka_unit_test(test_wrong_aad),
      cmocka_unit_test(test_bitflip),        cmocka_unit_test(test_rotation),
      cmocka_unit_test(test_other_group),    cmocka_unit_test(test_expiry),
      cmocka_unit_test(test_nonce_fresh),    cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_sealed_info),    cmocka_unit_test(test_limits),
      cmocka_unit_test(test_bad_args),       cmocka_unit_test(test_json_roundtrip),
      cmocka_unit_test(test_json_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
