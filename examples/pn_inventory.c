/* SPDX-License-Identifier: Apache-2.0 */
/* An application using libcpns (CPNS-5): prints the PN Inventory of a PN.
 *
 *   cc pn_inventory.c $(pkg-config --cflags --libs libcpns) -o pn_inventory
 *   ./pn_inventory coaps://127.0.0.1:15690 app run/phone-app.key home
 */
#include <cpns/client.h>
#include <stdio.h>
#include <string.h>

/* The key file holds 64 hex digits. */
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
  return ok ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s URI IDENTITY KEYFILE PN\n", argv[0]);
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
  if (rc) {
    fprintf(stderr, "cannot connect: %s\n", cpns_strerror(rc));
    return 1;
  }
  cpns_inventory_t *inv;
  rc = cpns_pn_get_inventory(c, argv[4], &inv);
  if (rc) {
    fprintf(stderr, "%s: %s\n", cpns_strerror(rc), cpns_client_error(c));
  } else {
    printf("PN %s (%s), gateway %s, %zu entities\n", inv->pn.id, inv->pn.state, inv->pn.gw,
           inv->count);
    for (size_t i = 0; i < inv->count; i++)
      printf("  %-16s %-10s %s\n", inv->entities[i].id, inv->entities[i].state,
             inv->entities[i].type);
    cpns_inventory_free(inv);
  }
  cpns_client_free(c);
  return rc ? 1 : 0;
}
