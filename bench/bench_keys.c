/* SPDX-License-Identifier: Apache-2.0 */
/* The keyrings the benchmark tools give the servers they start. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "benchlib.h"
#include "keyring.h"

int bench_keyring_write(const char *path, const char *tool, unsigned long gateways,
                        unsigned long operators) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  /* fchmod: O_CREAT's mode does not apply to a file that was there. */
  FILE *f = fd >= 0 && fchmod(fd, 0600) == 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
    if (fd >= 0) close(fd);
    return 1;
  }
  fprintf(f, "# identity role pn key: written by %s\n", tool);
  for (unsigned long i = 0; i < gateways + operators; i++) {
    uint8_t key[CPNS_PSK_LEN];
    char hex[2 * CPNS_PSK_LEN + 1];
    if (cpns_key_generate(key)) {
      fclose(f);
      fprintf(stderr, "bench: no random key\n");
      return 1;
    }
    cpns_key_to_hex(key, hex);
    if (i < gateways) fprintf(f, "gw-%lu gw pn-%lu %s\n", i, i, hex);
    else fprintf(f, "op-%lu operator - %s\n", i - gateways, hex);
  }
  return fclose(f) ? 1 : 0;
}
