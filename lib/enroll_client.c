/* SPDX-License-Identifier: Apache-2.0 */
/* The enrolling side of enrollment, shared by cpns-pne and cpns-gw (see
 * enroll_client.h). The key file is made as a private temporary file
 * beside it before the code is presented (so that a code is never spent for
 * a key that cannot be kept), and published with link(2), which fails
 * rather than replace a file that appeared meanwhile. */
#include "enroll_client.h"

#include <cpns/client.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "keyring.h"
#include "log.h"
#include "node.h"

#define MOD "enroll"
#define ENROLL_PATH_MAX 4096

int cpns_enroll_code_parse(const char *arg, char out[CPNS_ENROLL_CODE_LEN + 1]) {
  char line[128];
  const char *src = arg;
  if (!arg) return CPNS_ERR_INVAL;
  if (strcmp(arg, "-") == 0) {
    if (!fgets(line, sizeof line, stdin)) return CPNS_ERR_INVAL;
    line[strcspn(line, "\r\n")] = '\0';
    src = line;
  }
  size_t n = strlen(src);
  int rc = n == CPNS_ENROLL_CODE_LEN ? 0 : CPNS_ERR_INVAL;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    char c = (char)tolower((unsigned char)src[i]);
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) rc = CPNS_ERR_INVAL;
    out[i] = c;
  }
  out[rc == 0 ? n : 0] = '\0';
  if (rc) OPENSSL_cleanse(out, CPNS_ENROLL_CODE_LEN + 1);
  OPENSSL_cleanse(line, sizeof line);
  return rc;
}

/* The temporary file beside the key file: created here (0600, exclusive),
 * so that an unwritable directory or an existing key file is found before
 * the code is presented. */
static int key_file_prepare(const char *path, char tmp[ENROLL_PATH_MAX + 32], int *fd_out) {
  struct stat st;
  if (lstat(path, &st) == 0) {
    log_err(MOD, "%s exists: it is never overwritten; move it away to enroll again", path);
    return CPNS_ERR_EXISTS;
  }
  if (errno != ENOENT) {
    log_err(MOD, "cannot use %s: %s", path, strerror(errno));
    return CPNS_ERR_IO;
  }
  int n = snprintf(tmp, ENROLL_PATH_MAX + 32, "%s.enroll-%ld", path, (long)getpid());
  if (n < 0 || n >= ENROLL_PATH_MAX) {
    log_err(MOD, "the key file's path is too long");
    return CPNS_ERR_INVAL;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || fchmod(fd, 0600) != 0) {
    log_err(MOD, "cannot create a file beside %s: %s", path, strerror(errno));
    if (fd >= 0) {
      close(fd);
      unlink(tmp);
    }
    return CPNS_ERR_IO;
  }
  *fd_out = fd;
  return 0;
}

/* Best effort: makes the new directory entry durable. */
static void sync_dir_of(const char *path) {
  char dir[ENROLL_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == dir) dir[1] = '\0';
  else *slash = '\0';
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

/* Writes the key into the prepared file and publishes it under path. Takes
 * fd (closed here). */
static int key_file_publish(const char *path, const char *tmp, int fd, const char *hex) {
  size_t len = strlen(hex);
  bool ok = write(fd, hex, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok) {
    log_err(MOD, "cannot write %s: %s", tmp, strerror(errno));
    unlink(tmp);
    return CPNS_ERR_IO;
  }
  if (link(tmp, path) != 0) {
    /* The code is spent: keep the key where it is rather than lose it. */
    log_err(MOD, "cannot create %s (%s); the issued key is in %s", path, strerror(errno), tmp);
    return errno == EEXIST ? CPNS_ERR_EXISTS : CPNS_ERR_IO;
  }
  unlink(tmp);
  sync_dir_of(path);
  return 0;
}

/* True when uri's host answers a datagram to its port with an ICMP error
 * (nothing listens there): told apart from a handshake the peer refused,
 * since both close the session at once. The probe is an empty datagram,
 * which a listener ignores. */
static bool peer_port_closed(const char *uri) {
  const char *hp = strstr(uri, "://");
  char hostport[300];
  if (!hp) return false;
  hp += 3;
  size_t n = strcspn(hp, "/?");
  if (n >= sizeof hostport) return false;
  memcpy(hostport, hp, n);
  hostport[n] = '\0';
  coap_address_t a;
  if (cpns_parse_hostport(hostport, &a, 5684)) return false;
  int fd = socket(a.addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool closed = false;
  if (connect(fd, &a.addr.sa, a.size) == 0 && send(fd, "", 0, 0) == 0) {
    struct pollfd p = {fd, POLLIN, 0};
    char b;
    if (poll(&p, 1, 500) > 0 && recv(fd, &b, 1, MSG_DONTWAIT) < 0 &&
        (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH))
      closed = true;
  }
  close(fd);
  return closed;
}

/* One session and one POST /enroll. Returns 0 with *answer (free it after
 * cleansing), or the client's error with *status the CoAP code (0: none). */
static int try_once(const struct cpns_enroll_client *ec, const char *identity, const uint8_t *psk,
                    char **answer, int *status, char *diag, size_t diaglen) {
  cpns_client_config_t cfg = CPNS_CLIENT_CONFIG_INIT;
  cfg.uri = ec->uri;
  cfg.identity = identity;
  cfg.key = psk;
  cfg.timeout_ms = ec->timeout_ms;
  cpns_client_t *c;
  *answer = NULL;
  *status = 0;
  diag[0] = '\0';
  int rc = cpns_client_new(&cfg, &c);
  if (rc) {
    snprintf(diag, diaglen, "cannot open a session to %s: %s", ec->uri, cpns_strerror(rc));
    return CPNS_ERR_CONFIG;
  }
  rc = cpns_client_request(c, "POST", "enroll", NULL, NULL, answer);
  *status = cpns_client_status(c);
  snprintf(diag, diaglen, "%s", cpns_client_error(c));
  cpns_client_free(c);
  return rc;
}

int cpns_enroll_redeem(const struct cpns_enroll_client *ec, const char *code) {
  char identity[CPNS_ID_MAX + 1], tmp[ENROLL_PATH_MAX + 32], diag[CPNS_DIAG_MAX + 64];
  uint8_t psk[CPNS_PSK_LEN];
  if (!ec || !ec->uri || !ec->id || !ec->key_file || !code || ec->attempts < 1 ||
      ec->attempts > CPNS_ENROLL_ATTEMPTS_MAX)
    return CPNS_ERR_INVAL;
  const char *peer = ec->peer_name ? ec->peer_name : "peer";
  if (cpns_enroll_identity(ec->id, identity)) {
    log_err(MOD, "%s is too long to enroll (at most %d bytes)", ec->id,
            (int)(CPNS_ID_MAX - strlen(CPNS_ENROLL_PREFIX)));
    return CPNS_ERR_INVAL;
  }
  int fd = -1;
  int rc = key_file_prepare(ec->key_file, tmp, &fd);
  if (rc) return rc;
  if (cpns_enroll_psk(code, identity, psk)) {
    close(fd);
    unlink(tmp);
    return CPNS_ERR_CRYPTO;
  }
  unsigned refused = 0, silent = 0, failed = 0;
  rc = CPNS_ERR_UNAVAIL;
  for (unsigned attempt = 1; attempt <= ec->attempts; attempt++) {
    char *answer = NULL;
    int status = 0;
    int r = try_once(ec, identity, psk, &answer, &status, diag, sizeof diag);
    if (r == CPNS_ERR_CONFIG) {
      log_err(MOD, "%s", diag);
      rc = CPNS_ERR_INVAL;
      break;
    }
    if (r && status >= 400 && status < 500) {
      log_err(MOD, "the %s refused the code: %s", peer, diag);
      rc = CPNS_ERR_DENIED;
      break;
    }
    if (r) {
      /* A session that closed before any answer was refused in the
       * handshake (an identity the peer does not know); no answer at all is
       * what a wrong key gets, or an unreachable peer. A PNE's gateway
       * refuses the first handshake while it fetches the PSK. */
      if (status) failed++; /* 5.xx: the peer could not redeem it now */
      else if (r == CPNS_ERR_UNAVAIL) refused++;
      else silent++;
      log_info(MOD, "attempt %u of %u: no enrollment session with %s yet (%s)", attempt,
               ec->attempts, ec->uri, diag[0] ? diag : cpns_strerror(r));
      if (attempt < ec->attempts) sleep(1);
      continue;
    }
    json_t *doc = answer ? json_loads(answer, 0, NULL) : NULL;
    if (answer) OPENSSL_cleanse(answer, strlen(answer));
    cpns_free(answer);
    const char *hex = json_string_value(json_object_get(doc, "key"));
    const char *role = json_string_value(json_object_get(doc, "role"));
    const char *pn = json_string_value(json_object_get(doc, "pn"));
    uint8_t check[CPNS_PSK_LEN];
    if (!hex || cpns_key_from_hex(hex, check)) {
      log_err(MOD, "the %s's answer holds no key", peer);
      rc = CPNS_ERR_PROTO;
    } else {
      rc = key_file_publish(ec->key_file, tmp, fd, hex);
      fd = -1;
      if (rc == 0)
        log_notice(MOD, "%s enrolled at %s as %s of PN %s; key written to %s (mode 0600)", ec->id,
                   ec->uri, role ? role : "?", pn ? pn : "?", ec->key_file);
      if (rc == 0 && ec->expect_pn && ec->expect_pn[0] && (!pn || strcmp(pn, ec->expect_pn) != 0))
        log_warn(MOD, "the enrollment is for PN %s, but this entity is configured for PN %s: "
                      "it will be refused until the two agree", pn ? pn : "?", ec->expect_pn);
    }
    OPENSSL_cleanse(check, sizeof check);
    if (hex) OPENSSL_cleanse((char *)hex, strlen(hex));
    json_decref(doc);
    break;
  }
  OPENSSL_cleanse(psk, sizeof psk);
  if (fd >= 0) {
    close(fd);
    unlink(tmp);
  }
  if (rc == CPNS_ERR_UNAVAIL && refused == ec->attempts && peer_port_closed(ec->uri)) {
    log_err(MOD, "nothing answers at %s (ICMP: port unreachable): is the %s running there?",
            ec->uri, peer);
  } else if (rc == CPNS_ERR_UNAVAIL && refused == ec->attempts) {
    log_err(MOD, "the %s at %s refused every handshake as %s: the code is used or expired, or was "
                 "not made for %s", peer, ec->uri, identity, ec->id);
    rc = CPNS_ERR_DENIED;
  } else if (rc == CPNS_ERR_UNAVAIL && failed) {
    log_err(MOD, "the %s could not redeem the code now (%s): try again later",
            peer, diag);
  } else if (rc == CPNS_ERR_UNAVAIL) {
    log_err(MOD, "no enrollment session with %s after %u attempts (%u unanswered): the %s is "
                 "unreachable, or the code is wrong (a wrong code gets no answer)",
            ec->uri, ec->attempts, silent, peer);
  }
  return rc;
}

int cpns_enroll_exit_status(int rc) {
  switch (rc) {
  case 0: return 0;
  case CPNS_ERR_EXISTS:
  case CPNS_ERR_IO: return CPNS_EXIT_CANTCREAT;
  case CPNS_ERR_DENIED: return CPNS_EXIT_NOPERM;
  case CPNS_ERR_UNAVAIL: return CPNS_EXIT_UNAVAILABLE;
  case CPNS_ERR_INVAL: return CPNS_EXIT_CONFIG;
  default: return CPNS_EXIT_SOFTWARE;
  }
}
