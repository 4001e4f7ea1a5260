/* SPDX-License-Identifier: Apache-2.0 */
/* udp_relay: a UDP relay for the integration tests (test_replay.sh). It
 * stands between one DTLS client and a daemon on 127.0.0.1, forwards both
 * ways from one fixed source port (so the daemon sees one 5-tuple), keeps a
 * copy of what the client sent, and on a signal sends recorded datagrams
 * again from that same port: an attacker's replay, as the daemon sees it.
 * It prints one line per datagram with the DTLS record header fields only
 * (content type, epoch, sequence number, length), never a payload.
 *
 *   udp_relay -l PORT -t PORT -s PORT [-d SECONDS] [-a] [-w]
 *     -l  port the client sends to (127.0.0.1)
 *     -t  the daemon's port (127.0.0.1)
 *     -s  the port the relay sends to the daemon from (127.0.0.1)
 *     -d  exit after this many seconds (default 120, at most 3600)
 *     -a  hold back the client's alerts (content type 21): the client's
 *         close_notify then does not end the daemon's session
 *     -w  withhold the client's first application-data datagram: keep it
 *         for the replay but do not forward it (the daemon never sees it;
 *         the client sends its request again in a new record)
 *   SIGUSR1  send every recorded client application-data datagram (type 23)
 *            again, in order
 *   SIGUSR2  send the client's first ClientHello (type 22, epoch 0) again
 *   SIGTERM, SIGINT  exit */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RELAY_KEEP_MAX 64     /* client datagrams kept for replay */
#define RELAY_KEEP_BYTES 2048 /* longer ones are forwarded, not kept */
#define RELAY_DGRAM_MAX 65536

enum { DTLS_ALERT = 21, DTLS_HANDSHAKE = 22, DTLS_APPDATA = 23, DTLS_HEADER = 13 };

struct kept {
  size_t len;
  uint8_t type;
  uint8_t data[RELAY_KEEP_BYTES];
};

static volatile sig_atomic_t g_replay, g_hello, g_stop;

static void on_signal(int sig) {
  if (sig == SIGUSR1) g_replay = 1;
  else if (sig == SIGUSR2) g_hello = 1;
  else g_stop = 1;
}

static int port_arg(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  return *s && !*end && v > 0 && v < 65536 ? (int)v : -1;
}

static int bound_socket(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* One line about a datagram: its first DTLS record's header. */
static void describe(const char *what, unsigned n, const uint8_t *d, size_t len, const char *note) {
  if (len < DTLS_HEADER) {
    printf("%s #%u len %zu (not DTLS)%s\n", what, n, len, note);
    return;
  }
  unsigned epoch = (unsigned)d[3] << 8 | d[4];
  unsigned long long seq = 0;
  for (int i = 5; i < 11; i++) seq = seq << 8 | d[i];
  printf("%s #%u type %u epoch %u seq %llu len %zu%s\n", what, n, d[0], epoch, seq, len, note);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  int lport = -1, tport = -1, sport = -1, opt;
  long seconds = 120;
  bool hold_alerts = false, withhold = false;
  while ((opt = getopt(argc, argv, "l:t:s:d:aw")) != -1) {
    switch (opt) {
    case 'l': lport = port_arg(optarg); break;
    case 't': tport = port_arg(optarg); break;
    case 's': sport = port_arg(optarg); break;
    case 'd': seconds = strtol(optarg, NULL, 10); break;
    case 'a': hold_alerts = true; break;
    case 'w': withhold = true; break;
    default: lport = -1; break;
    }
  }
  if (lport < 0 || tport < 0 || sport < 0 || seconds < 1 || seconds > 3600) {
    fprintf(stderr, "usage: udp_relay -l PORT -t PORT -s PORT [-d SECONDS] [-a] [-w]\n");
    return 64;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns at once */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int cfd = bound_socket(lport), sfd = bound_socket(sport);
  struct sockaddr_in target = {.sin_family = AF_INET, .sin_port = htons((uint16_t)tport)};
  target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (cfd < 0 || sfd < 0 || connect(sfd, (struct sockaddr *)&target, sizeof target) != 0) {
    fprintf(stderr, "udp_relay: cannot bind or connect: %s\n", strerror(errno));
    return 69;
  }
  static struct kept kept[RELAY_KEEP_MAX];
  static uint8_t buf[RELAY_DGRAM_MAX];
  unsigned nkept = 0, c2s = 0, s2c = 0, held = 0, replays = 0;
  int hello = -1; /* index in kept of the first ClientHello */
  struct sockaddr_in client;
  socklen_t clen = 0;
  double deadline = now_s() + (double)seconds;
  printf("ready: 127.0.0.1:%d -> 127.0.0.1:%d from 127.0.0.1:%d\n", lport, tport, sport);

  while (!g_stop && now_s() < deadline) {
    if (g_replay) {
      g_replay = 0;
      unsigned sent = 0;
      for (unsigned i = 0; i < nkept; i++) {
        if (kept[i].type != DTLS_APPDATA) continue;
        if (send(sfd, kept[i].data, kept[i].len, 0) == (ssize_t)kept[i].len) sent++;
        describe("replay", ++replays, kept[i].data, kept[i].len, "");
      }
      printf("replayed %u application-data datagram(s)\n", sent);
    }
    if (g_hello) {
      g_hello = 0;
      if (hello >= 0 && send(sfd, kept[hello].data, kept[hello].len, 0) == (ssize_t)kept[hello].len)
        describe("replay", ++replays, kept[hello].data, kept[hello].len, " (ClientHello)");
      printf("replayed the ClientHello: %s\n", hello >= 0 ? "yes" : "none recorded");
    }
    struct pollfd p[2] = {{cfd, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(p, 2, 200) <= 0) continue;
    if (p[0].revents & POLLIN) {
      struct sockaddr_in from;
      socklen_t flen = sizeof from;
      ssize_t n = recvfrom(cfd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
      if (n > 0) {
        client = from;
        clen = flen;
        size_t len = (size_t)n;
        uint8_t type = len >= DTLS_HEADER ? buf[0] : 0;
        c2s++;
        if (hold_alerts && type == DTLS_ALERT) {
          held++;
          describe("c2s", c2s, buf, len, " held back (alert)");
        } else {
          bool keep = nkept < RELAY_KEEP_MAX && len <= RELAY_KEEP_BYTES;
          if (keep) {
            kept[nkept].len = len;
            kept[nkept].type = type;
            memcpy(kept[nkept].data, buf, len);
            /* A first flight: handshake, epoch 0, ClientHello, message_seq 0. */
            if (hello < 0 && type == DTLS_HANDSHAKE && len >= 25 && buf[3] == 0 && buf[4] == 0 &&
                buf[13] == 1 && buf[17] == 0 && buf[18] == 0)
              hello = (int)nkept;
            nkept++;
          }
          if (withhold && keep && type == DTLS_APPDATA) {
            withhold = false;
            describe("c2s", c2s, buf, len, " withheld (kept, not forwarded)");
          } else {
            (void)send(sfd, buf, len, 0);
            describe("c2s", c2s, buf, len, keep ? "" : " (not kept)");
          }
        }
      }
    }
    if (p[1].revents & POLLIN) {
      ssize_t n = recv(sfd, buf, sizeof buf, 0);
      if (n > 0) {
        s2c++;
        describe("s2c", s2c, buf, (size_t)n, "");
        if (clen) (void)sendto(cfd, buf, (size_t)n, 0, (struct sockaddr *)&client, clen);
      }
    }
  }
  printf("exit: %u from the client (%u held back), %u from the daemon, %u replayed\n", c2s, held,
         s2c, replays);
  close(cfd);
  close(sfd);
  return 0;
}
