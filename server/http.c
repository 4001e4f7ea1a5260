/* SPDX-License-Identifier: Apache-2.0 */
/* CPNS-4 (spec 5.3.2.4): the server's HTTPS interface for external
 * Application/Content Servers. It is not a second set of handlers: a
 * request under https://HOST:PORT/cpns/v1/... with a JSON body becomes a
 * local dispatch (cpns_node_dispatch, node.h) of the same method on the
 * same path, through the same router, route rules and handlers as CoAP,
 * as the peer its bearer token stands for (identity "ext.<name>", role
 * external; tokens.c). What CPNS-4 adds is decided here, before dispatch:
 *
 *   1. authentication: "Authorization: Bearer <token>" (RFC 6750), else
 *      401 with WWW-Authenticate;
 *   2. the operation: the table of lib/cpns4.c (method and path); 404 for
 *      a path CPNS-4 does not expose, 405 with Allow for another method;
 *   3. the scope that operation needs, among the token's: 403 otherwise;
 *   4. the body: at most [limits] max_payload bytes (413, refused from
 *      Content-Length before it is read), application/json (415), decoded
 *      with the CoAP side's limits (400, 413); the query (400, 414; 400
 *      for any query on an operation that takes none);
 *   5. the dispatch; its CoAP code becomes an HTTP status (RFC 8075 §7),
 *      its body the JSON answer, an error {"code", "message"}.
 *
 * libmicrohttpd runs in the node's own thread and loop, without a thread
 * of its own: its epoll fd is watched by the node, and a step hook runs it
 * when its timeout says so, so handlers run exactly as for CoAP requests.
 * Connections, per-IP connections, per-connection memory, idle time and
 * body size are bounded by [http] and [limits] options. Tokens are never
 * logged; a request is logged (at debug) by method, path and identity. */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "cpns4.h"
#include "log.h"
#include "server.h"

#define MOD "http"
#define HTTP_PREFIX "/" CPNS_PATH_PREFIX "/"
/* A PEM certificate chain or key file is at most this long. */
#define HTTP_PEM_MAX 65536
/* MHD_run calls in a row while libmicrohttpd says it has work ready (TLS
 * records already read): then the loop comes back without waiting. */
#define HTTP_RUN_BURST 8
/* A body sent without Content-Length that outgrows max_payload is read
 * and dropped up to this many bytes, to answer 413; beyond, the connection
 * is closed without an answer. */
#define HTTP_DISCARD_MAX (1024 * 1024)
/* Bytes of an error message in a JSON error body. */
#define HTTP_MESSAGE_MAX 256

struct http {
  struct server *srv;
  struct MHD_Daemon *d;
  char *cert, *key; /* PEM in memory, for libmicrohttpd; the key is cleansed */
  size_t key_len;
};

/* One request, libmicrohttpd's per-request pointer. */
struct hreq {
  bool checked;              /* steps 1-3 passed */
  const struct cpns4_op *op; /* the operation */
  struct cpns_key_entry peer;
  char *body;
  size_t len, discarded;
  bool too_big;
};

/* ---- answers ---- */

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, char *text,
                                 const char *location, const char *allow, const char *www_auth) {
  size_t len = text ? strlen(text) : 0;
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, text ? text : (char *)"", text ? MHD_RESPMEM_MUST_FREE
                                                                          : MHD_RESPMEM_PERSISTENT);
  if (!r) {
    free(text);
    return MHD_NO;
  }
  if (text) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (location && *location) MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
  if (allow && *allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
  if (www_auth) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, www_auth);
  enum MHD_Result rc = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return rc;
}

/* {"code": status, "message": ...}: every error of CPNS-4. */
__attribute__((format(printf, 5, 6))) static enum MHD_Result
send_error(struct MHD_Connection *c, unsigned status, const char *allow, const char *www_auth,
           const char *fmt, ...) {
  char msg[HTTP_MESSAGE_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *o = json_pack("{s:i, s:s}", "code", (int)status, "message", msg);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return send_json(c, status, text, NULL, allow, www_auth);
}

#define ERR(c, status, ...) send_error(c, status, NULL, NULL, __VA_ARGS__)

/* ---- steps 1-3: who, what, may it ---- */

/* The token of "Authorization: Bearer <token>" (RFC 6750 §2.1): *tok and
 * *len, or false when the header is absent or of another scheme. */
static bool bearer_of(struct MHD_Connection *c, const char **tok, size_t *len) {
  const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!h || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) return false;
  h += 6;
  while (*h == ' ' || *h == '\t') h++;
  size_t n = strcspn(h, " \t");
  *tok = h;
  *len = n;
  return n > 0;
}

static enum MHD_Result check_request(struct http *h, struct MHD_Connection *c, const char *url,
                                     const char *method, struct hreq *r) {
  const char *tok;
  size_t toklen;
  if (!bearer_of(c, &tok, &toklen))
    return send_error(c, MHD_HTTP_UNAUTHORIZED, NULL, "Bearer realm=\"cpns\"",
                      "a bearer token is required (Authorization: Bearer <token>)");
  unsigned scopes = 0;
  int rc = tokens__verify(h->srv, tok, toklen, &r->peer, &scopes);
  if (rc == CPNS_ERR_STORE) return ERR(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "store failure");
  if (rc)
    return send_error(c, MHD_HTTP_UNAUTHORIZED, NULL,
                      "Bearer realm=\"cpns\", error=\"invalid_token\", "
                      "error_description=\"wrong, expired or revoked token\"",
                      "invalid token: wrong, expired or revoked");
  size_t plen = strlen(HTTP_PREFIX);
  const char *path = strncmp(url, HTTP_PREFIX, plen) == 0 ? url + plen : NULL;
  char allow[64];
  rc = path ? cpns4_op_find(method, path, &r->op, allow, sizeof allow) : CPNS_ERR_NOTFOUND;
  if (rc == CPNS_ERR_NOTFOUND) return ERR(c, MHD_HTTP_NOT_FOUND, "no such resource");
  if (rc) return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, allow, NULL, "method not allowed");
  if (!(scopes & r->op->scope)) {
    const char *need = cpns4_scope_name(r->op->scope);
    char www[128];
    snprintf(www, sizeof www, "Bearer realm=\"cpns\", error=\"insufficient_scope\", scope=\"%s\"",
             need);
    CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "%s: %s %s refused: the token lacks %s", r->peer.identity,
                method, r->op->pattern, need);
    return send_error(c, MHD_HTTP_FORBIDDEN, NULL, www, "the token of %s lacks the scope %s",
                      r->peer.identity, need);
  }
  r->checked = true;
  return MHD_YES;
}

/* ---- step 4 and 5: the body, the dispatch ---- */

struct query {
  char text[CPNS_QUERY_MAX + 1];
  size_t len;
  bool bad, long_;
};

/* Joins the URI query back into "a=1&b=2" (libmicrohttpd has decoded the
 * %-escapes): a key or value holding '&' or '=' is refused (the router's
 * query syntax has no escapes), as is a query longer than the router's. */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value) {
  (void)kind;
  struct query *q = cls;
  if (!value) value = "";
  if (strpbrk(key, "&=") || strchr(value, '&')) {
    q->bad = true;
    return MHD_NO;
  }
  int n = snprintf(q->text + q->len, sizeof q->text - q->len, "%s%s%s%s", q->len ? "&" : "", key,
                   *value ? "=" : "", value);
  if (n < 0 || (size_t)n >= sizeof q->text - q->len || q->len + (size_t)n >= CPNS_QUERY_MAX) {
    q->long_ = true;
    return MHD_NO;
  }
  q->len += (size_t)n;
  return MHD_YES;
}

struct answer {
  struct MHD_Connection *c;
  enum MHD_Result rc;
};

static void on_reply(void *arg, const struct cpns_local_reply *rep) {
  struct answer *a = arg;
  bool has_body = rep->body != NULL;
  unsigned status = (unsigned)cpns4_http_status(rep->code, has_body);
  if (rep->code >= 300 || rep->code < 200) {
    a->rc = ERR(a->c, status, "%s", rep->diag[0] ? rep->diag : "error");
    return;
  }
  char *text = NULL;
  if (has_body) {
    /* The CoAP side's JSON encoder: the same bytes as an answer to Accept: 50. */
    uint8_t *buf = NULL;
    size_t len = 0;
    if (cpns_codec_encode(rep->body, CPNS_CF_JSON, &buf, &len) || !(text = malloc(len + 1))) {
      free(buf);
      a->rc = ERR(a->c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot encode reply");
      return;
    }
    memcpy(text, buf, len);
    text[len] = '\0';
    free(buf);
  }
  a->rc = send_json(a->c, status, text, rep->location, NULL, NULL);
}

static enum MHD_Result run_request(struct http *h, struct MHD_Connection *c, const char *url,
                                   struct hreq *r) {
  struct server *srv = h->srv;
  if (r->too_big)
    return ERR(c, MHD_HTTP_CONTENT_TOO_LARGE, "body larger than %ld bytes",
               srv->conf.limits.max_payload);
  json_t *body = NULL;
  if (r->len) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n = ct ? strcspn(ct, "; \t") : 0;
    if (!ct || n != strlen("application/json") || strncasecmp(ct, "application/json", n) != 0)
      return ERR(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "the body must be application/json");
    char why[CPNS_DIAG_MAX];
    struct cpns_codec_limits lim = cpns_codec_default_limits;
    lim.max_bytes = (size_t)srv->conf.limits.max_payload;
    int rc = cpns_codec_decode((const uint8_t *)r->body, r->len, CPNS_CF_JSON, &lim, &body, why,
                               sizeof why);
    if (rc) {
      CPNS_LOG_RL(CPNS_LOG_INFO, MOD, "%s: undecodable body: %s", r->peer.identity, why);
      return ERR(c, rc == CPNS_ERR_TOOBIG ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_BAD_REQUEST, "%s",
                 why);
    }
  }
  struct query q = {.len = 0};
  q.text[0] = '\0';
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
  if (q.bad || q.long_) {
    json_decref(body);
    return q.bad ? ERR(c, MHD_HTTP_BAD_REQUEST, "bad query: '&' or '=' inside a parameter")
                 : ERR(c, MHD_HTTP_URI_TOO_LONG, "query longer than %d bytes", CPNS_QUERY_MAX - 1);
  }
  if (r->op->no_query && q.len) {
    /* A status read's CoAP query is conditional attributes, which need
     * Observe: without it they would be checked and silently ignored. */
    json_decref(body);
    return ERR(c, MHD_HTTP_BAD_REQUEST, "this resource takes no query over CPNS-4 (conditional "
               "attributes need Observe, which HTTPS has not: poll with a plain GET)");
  }
  struct answer a = {c, MHD_NO};
  int rc = cpns_node_dispatch(srv->node, r->op->code, url + strlen(HTTP_PREFIX), q.text, body,
                              &r->peer, on_reply, &a);
  json_decref(body);
  if (rc) return ERR(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot dispatch");
  return a.rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  (void)version;
  struct http *h = cls;
  struct hreq *r = *con_cls;
  long max = h->srv->conf.limits.max_payload;
  if (!r) { /* the headers are in: check before reading any body */
    r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    *con_cls = r;
    enum MHD_Result rc = check_request(h, c, url, method, r);
    if (!r->checked) return rc;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
      char *end = NULL;
      errno = 0;
      unsigned long long n = strtoull(cl, &end, 10);
      if (errno || end == cl || *end || n > (unsigned long long)max)
        return ERR(c, MHD_HTTP_CONTENT_TOO_LARGE, "body larger than %ld bytes", max);
    }
    return MHD_YES;
  }
  if (*upload_size) { /* a piece of the body */
    size_t n = *upload_size;
    *upload_size = 0;
    if (!r->too_big && r->len + n > (size_t)max) {
      r->too_big = true;
      free(r->body);
      r->body = NULL;
    }
    if (r->too_big) {
      r->discarded += n;
      return r->discarded > HTTP_DISCARD_MAX ? MHD_NO : MHD_YES;
    }
    char *b = realloc(r->body, r->len + n);
    if (!b) return MHD_NO;
    memcpy(b + r->len, upload, n);
    r->body = b;
    r->len += n;
    return MHD_YES;
  }
  enum MHD_Result rc = run_request(h, c, url, r);
  if (cpns_log_get_level() >= CPNS_LOG_DEBUG)
    log_debug(MOD, "%s %s %s", method, r->op->pattern, r->peer.identity);
  return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  struct hreq *r = *con_cls;
  if (!r) return;
  free(r->body);
  free(r);
  *con_cls = NULL;
}

/* libmicrohttpd's own messages (TLS failures, limits), rate-limited. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                             va_list ap) {
  (void)cls;
  char line[256];
  vsnprintf(line, sizeof line, fmt, ap);
  line[strcspn(line, "\n")] = '\0';
  CPNS_LOG_RL(CPNS_LOG_NOTICE, MOD, "%s", line);
}

/* ---- the loop ---- */

static void on_ready(void *arg, int fd) {
  (void)fd;
  struct http *h = arg;
  MHD_run(h->d);
}

/* Before the node waits: runs libmicrohttpd while it has work ready, and
 * tells the node how long it may wait (its connection timeouts). */
static long on_step(void *arg) {
  struct http *h = arg;
  MHD_UNSIGNED_LONG_LONG t = 0;
  for (int i = 0; i < HTTP_RUN_BURST && MHD_get_timeout(h->d, &t) == MHD_YES && t == 0; i++)
    MHD_run(h->d);
  if (MHD_get_timeout(h->d, &t) != MHD_YES) return -1;
  return t > (MHD_UNSIGNED_LONG_LONG)LONG_MAX ? LONG_MAX : (long)t;
}

/* ---- set-up ---- */

/* Reads a PEM file whole (at most HTTP_PEM_MAX bytes); a key file must be
 * readable by its owner alone. */
static int read_pem(const char *what, const char *path, bool secret, char **out, size_t *outlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    log_err(MOD, "[http] %s %s: %s", what, path, strerror(errno));
    return CPNS_ERR_CONFIG;
  }
  struct stat sb;
  int rc = 0;
  char *buf = NULL;
  if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size <= 0 || sb.st_size > HTTP_PEM_MAX) {
    log_err(MOD, "[http] %s %s: not a regular file of 1..%d bytes", what, path, HTTP_PEM_MAX);
    rc = CPNS_ERR_CONFIG;
  } else if (secret && (sb.st_mode & 077)) {
    log_err(MOD, "[http] %s %s is accessible to group or others (mode %03o): chmod 600 it", what,
            path, (unsigned)(sb.st_mode & 0777));
    rc = CPNS_ERR_CONFIG;
  } else if (!(buf = malloc((size_t)sb.st_size + 1))) {
    rc = CPNS_ERR_NOMEM;
  } else {
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
      ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
      if (n <= 0) break;
      got += (size_t)n;
    }
    buf[got] = '\0';
    if (got != (size_t)sb.st_size || !strstr(buf, "-----BEGIN ")) {
      log_err(MOD, "[http] %s %s: not PEM", what, path);
      OPENSSL_cleanse(buf, got);
      free(buf);
      buf = NULL;
      rc = CPNS_ERR_CONFIG;
    } else {
      *outlen = got;
    }
  }
  close(fd);
  *out = buf;
  return rc;
}

/* A passphrase prompt must never block a daemon: encrypted keys are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf;
  (void)size;
  (void)rwflag;
  (void)u;
  return -1;
}

/* Parses the certificate and the key with OpenSSL before libmicrohttpd
 * (GnuTLS) sees them, for clear reasons at start-up: a file without a
 * certificate, an unreadable or encrypted key, a key that is not the
 * certificate's. An expired certificate is only warned about. */
static int check_pair(const struct http_conf *hc, const char *cert, const char *key) {
  int rc = CPNS_ERR_CONFIG;
  BIO *cb = BIO_new_mem_buf(cert, -1), *kb = BIO_new_mem_buf(key, -1);
  X509 *x = cb ? PEM_read_bio_X509(cb, NULL, no_passphrase, NULL) : NULL;
  EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, NULL) : NULL;
  if (!x)
    log_err(MOD, "[http] cert_file %s: no PEM certificate could be read", hc->cert_file);
  else if (!k)
    log_err(MOD, "[http] key_file %s: no PEM private key could be read (encrypted keys are not "
            "supported)", hc->key_file);
  else if (X509_check_private_key(x, k) != 1)
    log_err(MOD, "[http] key_file %s is not the key of the certificate in %s", hc->key_file,
            hc->cert_file);
  else
    rc = 0;
  if (!rc && X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
    log_warn(MOD, "[http] the certificate in %s has expired: clients will refuse it", hc->cert_file);
  ERR_clear_error();
  EVP_PKEY_free(k);
  X509_free(x);
  BIO_free(cb);
  BIO_free(kb);
  return rc;
}

static void http_destroy(struct http *h) {
  if (!h) return;
  if (h->d) MHD_stop_daemon(h->d);
  if (h->key) OPENSSL_cleanse(h->key, h->key_len);
  free(h->key);
  free(h->cert);
  free(h);
}

int http__init(struct server *srv) {
  const struct http_conf *hc = &srv->conf.http;
  if (!hc->listen[0]) return 0;
  coap_address_t a;
  if (cpns_parse_hostport(hc->listen, &a, 0) || coap_address_get_port(&a) == 0) {
    log_err(MOD, "[http] listen '%s': expected host:port", hc->listen);
    return CPNS_ERR_CONFIG;
  }
  struct http *h = calloc(1, sizeof *h);
  if (!h) return CPNS_ERR_NOMEM;
  h->srv = srv;
  size_t cert_len = 0;
  int rc = read_pem("cert_file", hc->cert_file, false, &h->cert, &cert_len);
  if (!rc) rc = read_pem("key_file", hc->key_file, true, &h->key, &h->key_len);
  if (!rc) rc = check_pair(hc, h->cert, h->key);
  if (rc) {
    http_destroy(h);
    return rc;
  }
  unsigned flags = MHD_USE_TLS | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  if (a.addr.sa.sa_family == AF_INET6) flags |= MHD_USE_IPv6;
  h->d = MHD_start_daemon(
      flags, coap_address_get_port(&a), NULL, NULL, on_request, h,
      /* first, so that libmicrohttpd's messages about the others come here */
      MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_SOCK_ADDR, &a.addr.sa, MHD_OPTION_HTTPS_MEM_CERT, h->cert, MHD_OPTION_HTTPS_MEM_KEY, h->key,
      MHD_OPTION_HTTPS_PRIORITIES, hc->priorities, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)hc->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)hc->max_per_ip,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)hc->timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      (size_t)hc->connection_memory, MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_NOTIFY_COMPLETED,
      on_completed, h, MHD_OPTION_END);
  if (!h->d) {
    log_err(MOD, "cannot start HTTPS on %s: a bad or mismatched certificate or key, bad "
            "tls_priorities, or the address is in use (see above)", hc->listen);
    http_destroy(h);
    return CPNS_ERR_CONFIG;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
  if (!info || info->epoll_fd < 0 || cpns_node_watch_fd(srv->node, info->epoll_fd, on_ready, h) ||
      cpns_node_on_step(srv->node, on_step, h)) {
    log_err(MOD, "cannot run HTTPS in the node's loop");
    http_destroy(h);
    return CPNS_ERR_IO;
  }
  srv->http = h;
  log_notice(MOD, "CPNS-4 listening on https://%s%s (at most %ld connections, %ld per IP, idle "
             "timeout %lds, bodies of %ld bytes)", hc->listen, HTTP_PREFIX, hc->max_connections,
             hc->max_per_ip, hc->timeout, srv->conf.limits.max_payload);
  return 0;
}

void http__free(struct server *srv) {
  http_destroy(srv->http);
  srv->http = NULL;
}
