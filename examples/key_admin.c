/* SPDX-License-Identifier: Apache-2.0 */
/* An operator's tool using libcpns (<cpns/enroll.h>): makes a one-time
 * enrollment code for a new device, rotates a key, revokes one.
 *
 *   cc key_admin.c $(pkg-config --cflags --libs libcpns) -o key_admin
 *   ./key_admin coaps://127.0.0.1:5684 admin admin.key enroll tablet home pne 3600
 *   ./key_admin coaps://127.0.0.1:5684 admin admin.key rotate tablet tablet.key
 *   ./key_admin coaps://127.0.0.1:5684 admin admin.key revoke tablet
 *
 * enroll prints the code, the one thing to hand to the device's owner;
 * rotate writes the new key to a new file of mode 0600 (never over an
 * existing one) and prints only its generation. Secrets are wiped from this
 * program's memory once handed on. Exit status: 0 done, 1 refused or
 * failed, 2 bad usage. */
#define _POSIX_C_SOURCE 200809L
#include <cpns/client.h>
#include <cpns/enroll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Zeroes a secret in a way the compiler keeps (the library does the same
 * with OPENSSL_cleanse). */
static void wipe(void *p, size_t n) {
  volatile unsigned char *b = p;
  while (n--) *b++ = 0;
}

static int read_key(const char *path, uint8_t key[CPNS_PSK_LEN]) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char hex[2 * CPNS_PSK_LEN + 2] = "";
  int ok = fscanf(f, "%65s", hex) == 1 && strlen(hex) == 2 * CPNS_PSK_LEN;
  fclose(f);
  for (size_t i = 0; ok && i < CPNS_PSK_LEN; i++) {
    unsigned v;
    ok = sscanf(hex + 2 * i, "%2x", &v) == 1;
    key[i] = (uint8_t)v;
  }
  wipe(hex, sizeof hex);
  return ok ? 0 : -1;
}

/* Writes key as 64 hex digits to a new file of mode 0600. */
static int write_key(const char *path, const uint8_t key[CPNS_PSK_LEN]) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return -1;
  char hex[2 * CPNS_PSK_LEN + 2];
  for (size_t i = 0; i < CPNS_PSK_LEN; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
  hex[2 * CPNS_PSK_LEN] = '\n';
  ssize_t n = write(fd, hex, sizeof hex - 1);
  wipe(hex, sizeof hex);
  return close(fd) == 0 && n == (ssize_t)(sizeof hex - 1) ? 0 : -1;
}

static void usage(const char *me) {
  fprintf(stderr,
          "usage: %s URI IDENTITY KEYFILE enroll ID PN [pne|gw] [TTL]\n"
          "       %s URI IDENTITY KEYFILE rotate ID NEW-KEYFILE\n"
          "       %s URI IDENTITY KEYFILE revoke ID\n",
          me, me, me);
}

int main(int argc, char **argv) {
  if (argc < 6) {
    usage(argv[0]);
    return 2;
  }
  const char *cmd = argv[4], *id = argv[5];
  bool enroll = !strcmp(cmd, "enroll") && argc >= 7 && argc <= 9;
  bool rotate = !strcmp(cmd, "rotate") && argc == 7;
  bool revoke = !strcmp(cmd, "revoke") && argc == 6;
  if (!enroll && !rotate && !revoke) {
    usage(argv[0]);
    return 2;
  }
  uint8_t key[CPNS_PSK_LEN];
  if (read_key(argv[3], key)) {
    fprintf(stderr, "%s: cannot read a key\n", argv[3]);
    return 2;
  }
  cpns_client_config_t cfg = CPNS_CLIENT_CONFIG_INIT;
  cfg.uri = argv[1];
  cfg.identity = argv[2];
  cfg.key = key;
  cpns_client_t *c;
  int rc = cpns_client_new(&cfg, &c);
  wipe(key, sizeof key);
  if (rc) {
    fprintf(stderr, "cannot connect: %s\n", cpns_strerror(rc));
    return 1;
  }

  if (enroll) {
    char code[CPNS_ENROLL_CODE_LEN + 1];
    const char *role = argc >= 8 ? argv[7] : "pne";
    uint32_t ttl = argc >= 9 ? (uint32_t)strtoul(argv[8], NULL, 10) : 0;
    rc = cpns_enrollment_create(c, id, argv[6], role, ttl, code);
    if (!rc) printf("%s\n", code);
    wipe(code, sizeof code);
  } else if (rotate) {
    uint8_t fresh[CPNS_PSK_LEN];
    uint32_t generation = 0;
    rc = cpns_key_rotate(c, id, fresh, &generation);
    bool lost = !rc && write_key(argv[6], fresh) != 0;
    wipe(fresh, sizeof fresh);
    if (lost) {
      /* The old key no longer works: say so loudly, the new one is lost. */
      fprintf(stderr, "%s: cannot write the new key of %s; rotate again\n", argv[6], id);
      cpns_client_free(c);
      return 1;
    }
    if (!rc) printf("key of %s rotated: generation %u, written to %s\n", id, (unsigned)generation,
                    argv[6]);
  } else {
    rc = cpns_key_revoke(c, id);
    if (!rc) printf("key of %s revoked\n", id);
  }
  if (rc)
    fprintf(stderr, "%s: %s (status %d)\n", cpns_strerror(rc), cpns_client_error(c),
            cpns_client_status(c));
  cpns_client_free(c);
  return rc ? 1 : 0;
}
