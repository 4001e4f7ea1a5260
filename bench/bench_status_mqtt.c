/* SPDX-License-Identifier: Apache-2.0 */
/* bench_status_mqtt: the peer side of bench/status.sh. N MQTT subscribers on
 * one topic and a publisher, all clients of libmosquitto in one process on
 * one poll() loop, against Debian's mosquitto broker that the script
 * started on loopback: R rounds of one publish (QoS 1, like cpns's
 * confirmable notifications) and the time from the publish until each
 * subscriber got it (median, p99 over all subscribers and rounds), plus the
 * broker's RSS per subscription. With --psk-file, every client uses TLS-PSK
 * (identity op-j and its key, as cpns's observers use DTLS-PSK).
 *
 *   bench_status_mqtt --port P --broker-pid PID [--subscribers N] [--rounds R]
 *                     [--psk-file FILE] [--timeout S]
 * The PSK file holds "identity:hexkey" lines (mosquitto's psk_file), the
 * first N of them op-0 .. op-(N-1), then "pub". Exit status 0 on success. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchlib.h"

#define MAX_CLIENTS 20000
#define TOPIC "cpns/pn-0/e-0/status/battery"
#define KEEPALIVE_S 60
#define PSK_LINE_MAX 256

struct client {
  struct mosquitto *m;
  char id[32];
  char key[2 * 32 + 1];
  bool connected, subscribed;
  uint64_t got_us;
};

static struct client *C; /* C[0..n) subscribers, C[n] the publisher */
static size_t n;
static long round_value = -1;
static bool failed;

static void on_connect(struct mosquitto *m, void *obj, int rc) {
  struct client *c = obj;
  if (rc) {
    fprintf(stderr, "bench-mqtt: %s: connect refused: %s\n", c->id, mosquitto_connack_string(rc));
    failed = true;
    return;
  }
  (void)m;
  c->connected = true;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int qos_count, const int *granted) {
  (void)m;
  (void)mid;
  struct client *c = obj;
  if (qos_count < 1 || granted[0] > 2) {
    fprintf(stderr, "bench-mqtt: %s: subscription refused\n", c->id);
    failed = true;
    return;
  }
  c->subscribed = true;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
  (void)m;
  struct client *c = obj;
  char buf[32];
  if (msg->payloadlen <= 0 || (size_t)msg->payloadlen >= sizeof buf) return;
  memcpy(buf, msg->payload, (size_t)msg->payloadlen);
  buf[msg->payloadlen] = '\0';
  if (round_value >= 0 && strtol(buf, NULL, 10) == round_value && !c->got_us) c->got_us = bench_now_us();
}

static long rss_kb(long pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb;
}

/* One turn of every client's I/O: a poll over their sockets, then reads,
 * writes and libmosquitto's housekeeping for the ready ones. */
static struct pollfd *P;
static void turn(int timeout_ms) {
  size_t total = n + 1;
  for (size_t i = 0; i < total; i++) {
    /* Clients not made yet (while connecting) are left out: fd -1. */
    P[i].fd = C[i].m ? mosquitto_socket(C[i].m) : -1;
    P[i].events = P[i].fd >= 0 ? (short)(POLLIN | (mosquitto_want_write(C[i].m) ? POLLOUT : 0)) : 0;
    P[i].revents = 0;
  }
  if (poll(P, total, timeout_ms) < 0 && errno != EINTR) return;
  for (size_t i = 0; i < total; i++) {
    if (P[i].fd < 0) continue;
    if (P[i].revents & (POLLIN | POLLERR | POLLHUP)) mosquitto_loop_read(C[i].m, 1);
    if (mosquitto_want_write(C[i].m)) mosquitto_loop_write(C[i].m, 1);
  }
  static uint64_t last_misc;
  if (bench_now_us() - last_misc > 100000) {
    for (size_t i = 0; i < total; i++)
      if (C[i].m) mosquitto_loop_misc(C[i].m);
    last_misc = bench_now_us();
  }
}

static int load_psk(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "bench-mqtt: %s: %s\n", path, strerror(errno));
    return -1;
  }
  char line[PSK_LINE_MAX];
  size_t i = 0;
  while (i <= n && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    char *colon = strchr(line, ':');
    if (!colon || colon - line >= (long)sizeof C[i].id || strlen(colon + 1) != 64) continue;
    *colon = '\0';
    memcpy(C[i].id, line, (size_t)(colon - line) + 1); /* fits: checked above */
    memcpy(C[i].key, colon + 1, sizeof C[i].key);       /* 64 digits and the NUL */
    i++;
  }
  fclose(f);
  if (i != n + 1) {
    fprintf(stderr, "bench-mqtt: %s holds %zu identities, %zu needed\n", path, i, n + 1);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  long port = 0, broker_pid = 0;
  unsigned long subscribers = 1000, rounds = 20;
  double limit = 120;
  const char *psk = NULL;
  static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                       {"broker-pid", required_argument, NULL, 'b'},
                                       {"subscribers", required_argument, NULL, 'n'},
                                       {"rounds", required_argument, NULL, 'r'},
                                       {"psk-file", required_argument, NULL, 'k'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {NULL, 0, NULL, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
    case 'p': port = strtol(optarg, NULL, 10); break;
    case 'b': broker_pid = strtol(optarg, NULL, 10); break;
    case 'n': subscribers = strtoul(optarg, NULL, 10); break;
    case 'r': rounds = strtoul(optarg, NULL, 10); break;
    case 'k': psk = optarg; break;
    case 't': limit = strtod(optarg, NULL); break;
    default: return 2;
    }
  }
  if (port < 1 || port > 65535 || broker_pid <= 0 || subscribers < 1 ||
      subscribers > MAX_CLIENTS || rounds < 1 || rounds > 1000 || !(limit > 0 && limit <= 3600)) {
    fprintf(stderr, "usage: bench_status_mqtt --port P --broker-pid PID [--subscribers N] "
                    "[--rounds R] [--psk-file FILE] [--timeout S]\n");
    return 2;
  }
  n = subscribers;
  C = calloc(n + 1, sizeof *C);
  P = calloc(n + 1, sizeof *P);
  if (!C || !P) return 1;
  for (size_t i = 0; i < n; i++) snprintf(C[i].id, sizeof C[i].id, "op-%zu", i);
  snprintf(C[n].id, sizeof C[n].id, "pub");
  if (psk && load_psk(psk)) return 1;
  mosquitto_lib_init();
  int rc = 1;
  uint64_t *lat = NULL;
  long rss_before = -1, rss_after = -1;
  /* 1. connections, then the broker's RSS */
  uint64_t t0 = bench_now_us();
  for (size_t i = 0; i <= n; i++) {
    C[i].m = mosquitto_new(C[i].id, true, &C[i]);
    if (!C[i].m) goto out;
    mosquitto_connect_callback_set(C[i].m, on_connect);
    /* No Nagle delay on either side (the broker's set_tcp_nodelay too): the
     * latency of one small message is measured. */
    mosquitto_int_option(C[i].m, MOSQ_OPT_TCP_NODELAY, 1);
    if (psk && mosquitto_tls_psk_set(C[i].m, C[i].key, C[i].id, NULL) != MOSQ_ERR_SUCCESS) goto out;
    mosquitto_message_callback_set(C[i].m, on_message);
    mosquitto_subscribe_callback_set(C[i].m, on_subscribe);
    /* Connected one at a time in order, the sockets then driven by turn(). */
    if (mosquitto_connect(C[i].m, "127.0.0.1", (int)port, KEEPALIVE_S) != MOSQ_ERR_SUCCESS) {
      fprintf(stderr, "bench-mqtt: %s cannot connect\n", C[i].id);
      goto out;
    }
    if (i % 32 == 31) turn(0);
  }
  for (;;) {
    size_t up = 0;
    for (size_t i = 0; i <= n; i++) up += C[i].connected;
    if (up == n + 1 || failed) break;
    if (bench_since_s(t0) > limit) {
      fprintf(stderr, "bench-mqtt: %zu of %zu connected after %.0f s\n", up, n + 1, limit);
      goto out;
    }
    turn(5);
  }
  if (failed) goto out;
  double t_conn = bench_since_s(t0);
  {
    uint64_t q = bench_now_us();
    while (bench_since_s(q) < 1.0) turn(5);
  }
  rss_before = rss_kb(broker_pid);
  /* 2. the subscriptions, then the broker's RSS again */
  for (size_t i = 0; i < n; i++)
    if (mosquitto_subscribe(C[i].m, NULL, TOPIC, 1) != MOSQ_ERR_SUCCESS) failed = true;
  t0 = bench_now_us();
  for (;;) {
    size_t subs = 0;
    for (size_t i = 0; i < n; i++) subs += C[i].subscribed;
    if (subs == n || failed) break;
    if (bench_since_s(t0) > limit) {
      fprintf(stderr, "bench-mqtt: %zu of %zu subscribed after %.0f s\n", subs, n, limit);
      goto out;
    }
    turn(5);
  }
  if (failed) goto out;
  {
    uint64_t q = bench_now_us();
    while (bench_since_s(q) < 1.0) turn(5);
  }
  rss_after = rss_kb(broker_pid);
  fprintf(stderr, "bench-mqtt: %zu connections in %.2f s, %zu subscriptions; broker RSS %ld -> %ld kB\n",
          n + 1, t_conn, n, rss_before, rss_after);
  /* 3. rounds */
  lat = calloc(n * rounds, sizeof *lat);
  double *round_max = calloc(rounds, sizeof *round_max);
  if (!lat || !round_max) goto out;
  size_t nlat = 0;
  for (unsigned long r = 0; r < rounds && !failed; r++) {
    for (size_t i = 0; i < n; i++) C[i].got_us = 0;
    round_value = (long)(r % 2 ? 10 : 90) + (long)r;
    char payload[32];
    int len = snprintf(payload, sizeof payload, "%ld", round_value);
    uint64_t t_round = bench_now_us();
    if (mosquitto_publish(C[n].m, NULL, TOPIC, len, payload, 1, false) != MOSQ_ERR_SUCCESS) {
      failed = true;
      break;
    }
    mosquitto_loop_write(C[n].m, 1);
    for (;;) {
      size_t got = 0;
      for (size_t i = 0; i < n; i++) got += C[i].got_us != 0;
      if (got == n) break;
      if (bench_since_s(t_round) > limit) {
        fprintf(stderr, "bench-mqtt: round %lu: %zu of %zu told after %.0f s\n", r, got, n, limit);
        failed = true;
        break;
      }
      turn(1);
    }
    if (failed) break;
    uint64_t mx = 0;
    for (size_t i = 0; i < n; i++) {
      uint64_t d = C[i].got_us - t_round;
      lat[nlat++] = d;
      if (d > mx) mx = d;
    }
    round_max[r] = (double)mx / 1e3;
    uint64_t q = bench_now_us();
    while (bench_since_s(q) < 0.3) turn(5);
  }
  if (failed) {
    free(round_max);
    goto out;
  }
  bench_sort_u64(lat, nlat);
  for (unsigned long a = 0; a < rounds; a++)
    for (unsigned long b = a + 1; b < rounds; b++)
      if (round_max[b] < round_max[a]) {
        double t = round_max[a];
        round_max[a] = round_max[b];
        round_max[b] = t;
      }
  double med = (double)lat[nlat / 2] / 1e3, p99 = (double)lat[bench_rank(nlat, 0.99)] / 1e3;
  double first = (double)lat[0] / 1e3, all_med = round_max[rounds / 2];
  free(round_max);
  double per_sub = rss_after >= 0 && rss_before >= 0 ? (double)(rss_after - rss_before) * 1024.0 / (double)n : -1;
  printf("\nmetric                                              mosquitto%s\n", psk ? " (TLS-PSK)" : "");
  printf("subscribers (TCP%s connections, QoS 1)             %zu\n", psk ? "+TLS" : "", n);
  printf("publish -> subscriber: first                        %.2f ms\n", first);
  printf("publish -> subscriber: median                       %.2f ms\n", med);
  printf("publish -> subscriber: p99                          %.2f ms\n", p99);
  printf("publish -> all %zu subscribers, median of %lu rounds %.2f ms\n", n, rounds, all_med);
  printf("broker RSS per subscription                         %.0f B\n", per_sub);
  const char *k = psk ? "mqtt_psk" : "mqtt";
  printf("\n# results\n%s.subscribers %zu\n%s.fanout_first_ms %.2f\n%s.fanout_median_ms %.2f\n"
         "%s.fanout_p99_ms %.2f\n%s.fanout_all_median_ms %.2f\n%s.bytes_per_subscription %.0f\n",
         k, n, k, first, k, med, k, p99, k, all_med, k, per_sub);
  rc = 0;
out:
  free(lat);
  for (size_t i = 0; i <= n; i++)
    if (C[i].m) {
      mosquitto_disconnect(C[i].m);
      mosquitto_loop_write(C[i].m, 1);
      mosquitto_destroy(C[i].m);
    }
  mosquitto_lib_cleanup();
  free(C);
  free(P);
  if (rc) fprintf(stderr, "bench-mqtt: failed\n");
  return rc;
}
