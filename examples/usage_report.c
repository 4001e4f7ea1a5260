/* SPDX-License-Identifier: Apache-2.0 */
/* An application using libcpns (CPNS-5) for usage statistics (spec 5.5.4):
 * records that SERVICE was used for the last SECONDS, says whether it will
 * be reported (the user's preferences decide), and prints its PN's usage of
 * the last days per service, as the server adds it up.
 *
 *   cc usage_report.c $(pkg-config --cflags --libs libcpns) -o usage_report
 *   ./usage_report coaps://127.0.0.1:15690 app run/phone-app.key game 600
 */
#include <cpns/usage.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
  if (argc != 6) {
    fprintf(stderr, "usage: %s URI IDENTITY KEYFILE SERVICE SECONDS\n", argv[0]);
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
  cpns_usage_record_t r;
  cpns_usage_record_init(&r);
  snprintf(r.service, sizeof r.service, "%s", argv[4]);
  r.stop = (int64_t)time(NULL);
  r.start = r.stop - strtol(argv[5], NULL, 10);
  bool reported = false;
  rc = cpns_usage_record(c, &r, &reported);
  if (rc) {
    fprintf(stderr, "record: %s %s\n", cpns_strerror(rc), cpns_client_error(c));
  } else {
    printf("%s: %s\n", r.service, reported ? "recorded, will be reported" : "kept on this device");
    cpns_usage_query_t q = {.by = CPNS_USAGE_BY_SERVICE};
    cpns_usage_summary_t *s;
    rc = cpns_usage_summary_get(c, &q, &s);
    if (rc) {
      fprintf(stderr, "summary: %s %s\n", cpns_strerror(rc), cpns_client_error(c));
    } else {
      printf("usage from %s to %s\n", s->from, s->to);
      for (size_t i = 0; i < s->count; i++)
        printf("  %-20s %6llu records %10llu s\n", s->rows[i].key,
               (unsigned long long)s->rows[i].records, (unsigned long long)s->rows[i].seconds);
      cpns_usage_summary_free(s);
    }
  }
  cpns_client_free(c);
  return rc ? 1 : 0;
}
