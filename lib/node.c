/* SPDX-License-Identifier: Apache-2.0 */
/* The CPNS node: libcoap context, DTLS-PSK, router, outgoing requests,
 * deferred replies, timers and the epoll event loop (see node.h).
 *
 * Two libcoap 4.3.1 behaviours are worked around here. Its defaults are
 * unbounded, so every session, handshake and payload limit is set from our
 * configuration. And a DTLS client that restarts from the same address and
 * port without closing its session is stuck behind the stale server session
 * (RFC 6347 §4.2.8 is not implemented): we peek at each datagram on the DTLS
 * listener before libcoap reads it, and when an epoch-0 ClientHello comes from
 * a peer with an established session we close that session first, so that
 * libcoap starts a fresh handshake. */
#define _GNU_SOURCE /* struct in6_pktinfo */
#include "node.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <cpns/cpns.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "blockcache.h"
#include "log.h"
#include "trustlink.h"
#include "msg.h"

#define NODE_MAX_ROUTES 96
#define NODE_MAX_LINKS 16
#define NODE_MAX_TIMERS 32
#define NODE_MAX_FDS 16
#define NODE_MAX_HOOKS 8
#define NODE_MAX_LISTEN_FDS 4
#define NODE_LINK_ATTRS_MAX 256
#define NODE_EPOLL_EVENTS 32
#define NODE_SCAN_FD_MAX 4096
#define NODE_MAX_FAILED 64 /* failed handshakes dropped per loop turn */
#define NODE_PENALTY_SLOTS 256 /* source addresses tracked for failed handshakes */
#define NODE_PENALTY_MS 60000  /* the window of limits.handshake_failures, and the ban */
/* Reads of libcoap's ready sockets per loop turn: libcoap reads one datagram
 * per ready socket per call, and a burst on one socket (a thousand observers
 * acknowledging one notification each) would overflow it between turns. */
#define NODE_DRAIN_ROUNDS 64
/* Receive buffer asked for each secure listener (the kernel caps it at
 * net.core.rmem_max): room for such a burst while the loop drains it. */
#define NODE_LISTEN_RCVBUF (1 << 20)
/* How often the answers kept for their later blocks are swept for age. */
#define NODE_BLOCK_SWEEP_MS 1000
/* Bytes of a path relative to /cpns/v1, joined ("a/b/c"). */
#define NODE_PATH_MAX (CPNS_MAX_SEGMENTS * (CPNS_SEGMENT_MAX + 1) + 1)

struct route {
  coap_pdu_code_t method;
  unsigned nseg;
  char seg[CPNS_MAX_SEGMENTS][CPNS_SEGMENT_MAX + 1];
  cpns_handler_fn fn;
  void *arg;
  bool guarded;       /* declared with cpns_node_route_as: checked here */
  unsigned allow;     /* CPNS_REL_* bits that may call it */
  const char *action; /* "read this PN's inventory": for 4.03 texts */
};

struct link {
  char path[CPNS_SEGMENT_MAX * 2];
  char attrs[NODE_LINK_ATTRS_MAX];
};

struct timer {
  long interval_ms;
  uint64_t due_ms;
  cpns_timer_fn fn;
  void *arg;
};

struct watch {
  int fd;
  cpns_fd_fn fn;
  void *arg;
};

struct hook {
  cpns_session_fn fn;
  void *arg;
};

struct unmatched_hook {
  cpns_unmatched_fn fn;
  void *arg;
};

struct nack_hook {
  cpns_nack_fn fn;
  void *arg;
};

struct step_hook {
  cpns_step_fn fn;
  void *arg;
};

/* Bytes of the scratch PDUs of a local dispatch: room for the options a
 * handler adds to its response (Location-Path, Max-Age); the body is not
 * written there. */
#define NODE_LOCAL_PDU_MAX 1024

/* What a locally dispatched request's handler replied (cpns_node_dispatch). */
struct cpns_local {
  bool done;
  int code;
  json_t *body; /* owned */
  char diag[CPNS_DIAG_MAX];
};

/* Failed handshakes of one source address: a token bucket, refilled at
 * limits.handshake_failures per minute, and a ban when it runs dry. */
struct penalty {
  uint8_t ip[16];
  uint8_t iplen; /* 0 = free slot */
  double tokens;
  uint64_t last_ms, banned_until_ms;
};

struct live_session {
  coap_session_t *session;
  char identity[CPNS_ID_MAX + 1];
  bool closing; /* scheduled by cpns_node_close_identity */
};

/* An outgoing request waiting for its response. */
struct pending {
  struct pending *next;
  coap_session_t *session;
  uint8_t token[8];
  size_t token_len;
  uint64_t deadline_ms;
  cpns_response_fn cb;
  void *arg;
};

struct cpns_deferred {
  struct cpns_node *node;
  coap_async_t *async;
  coap_session_t *session;
  int accept;
  int code;
  uint8_t *payload;
  size_t payload_len;
  char diag[CPNS_DIAG_MAX];
  bool ready;
  bool observe;  /* the reply carries the Observe option (cpns_deferred_observe) */
  uint32_t seq;
  /* The request's key in the block cache (a large reply is kept there). */
  coap_pdu_code_t method;
  char identity[CPNS_ID_MAX + 1];
  char path[NODE_PATH_MAX];
  char query[CPNS_QUERY_MAX + 1];
  struct cpns_deferred *next, *prev; /* in node->deferred, to free on shutdown */
};

/* An observable path and its registered observers (session, token). An
 * observer that went away without telling us (an RST to a notification) is
 * counted until its session ends: the count errs on the safe side. */
struct observer {
  coap_session_t *session;
  uint8_t token[8];
  size_t toklen;
};
struct observable {
  coap_resource_t *resource;
  char path[CPNS_MAX_SEGMENTS * (CPNS_SEGMENT_MAX + 1)]; /* relative to /cpns/v1 */
  struct observer *obs; /* limits.max_observers of them */
  unsigned nobs;
  struct observable *next;
};

struct cpns_node {
  coap_context_t *ctx;
  char name[32];
  bool plain;
  const struct cpns_keyring *keyring;
  struct cpns_node_limits lim;
  coap_bin_const_t psk_scratch; /* returned to libcoap from the identity callback */

  struct route routes[NODE_MAX_ROUTES];
  unsigned nroutes;
  struct link links[NODE_MAX_LINKS];
  unsigned nlinks;
  struct timer timers[NODE_MAX_TIMERS];
  unsigned ntimers;
  struct watch watches[NODE_MAX_FDS];
  unsigned nwatches;
  struct hook hooks[NODE_MAX_HOOKS];
  unsigned nhooks;
  struct unmatched_hook unmatched[NODE_MAX_HOOKS];
  unsigned nunmatched;
  struct nack_hook nacks[NODE_MAX_HOOKS];
  unsigned nnacks;
  struct step_hook steps[NODE_MAX_HOOKS];
  unsigned nsteps;
  int listen_fds[NODE_MAX_LISTEN_FDS];
  unsigned nlisten_fds;

  struct pending *pending;
  struct cpns_deferred *deferred;
  unsigned long npending;

  int epfd, sigfd, coap_fd;
  bool stop;
  bool json;
  struct cpns_node_stats stats;
  coap_resource_t *unknown; /* the catch-all resource our router sits behind */
  void (*on_hup)(void *);
  void *on_hup_arg;
  const struct cpns_key_entry *upstream_peer;
  cpns_relations_fn relations;
  void *relations_arg;
  cpns_delegate_fn delegate;
  void *delegate_arg;
  cpns_psk_lookup_fn psk_lookup;
  void *psk_lookup_arg;
  /* Server-side DTLS sessions with the identity that opened them, so that a
   * revoked identity's sessions can be found; bounded by max_sessions. */
  struct live_session *live;
  size_t nlive, live_cap;
  /* Peers whose handshake failed: their half-made session is dropped at
   * the next turn, so that a retry from the same port starts afresh. */
  struct {
    coap_address_t addr;
    int ifindex;
  } failed[NODE_MAX_FAILED];
  unsigned nfailed;
  struct penalty penalties[NODE_PENALTY_SLOTS];
  bool has_source;
  coap_address_t source; /* local address of our client sessions */
  struct observable *observables;
  /* Removed, to be deleted at the next loop turn: a resource may be removed
   * from inside its own handler (DELETE groups/{id}), which libcoap still
   * uses after the handler returns. */
  struct observable *doomed;
  unsigned long nobservables;
  bool notifying; /* the request being handled is libcoap's notification pass */
  /* Appendix D: the plain listener of a link declared secure, and its peers. */
  bool has_trusted;
  coap_address_t trusted_addr;
  const struct cpns_trustlink *trusted;
  char trusted_upstream[256];
  coap_session_t *trusted_session; /* our session to trusted_upstream, while referenced */
  struct cpns_blockcache *blocks;  /* answers sent block by block, for their later blocks */
  uint64_t blocks_swept_ms;
};

static void penalty_charge(struct cpns_node *node, const struct sockaddr *sa, double delta);

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- logging bridge ---- */

static void coap_log_bridge(coap_log_t level, const char *message) {
  int ours = (int)level <= LOG_ERR ? CPNS_LOG_ERR : (int)level;
  if (ours > CPNS_LOG_DEBUG) ours = CPNS_LOG_DEBUG;
  char line[256];
  snprintf(line, sizeof line, "%s", message);
  line[strcspn(line, "\n")] = '\0';
  /* libcoap logs a line per unsolicited RST or bad datagram: rate-limit. */
  CPNS_LOG_RL(ours, "coap", "%s", line);
}

void cpns_node_limits_default(struct cpns_node_limits *lim) {
  lim->max_sessions = 1024;
  lim->max_handshakes = 64;
  lim->session_timeout = 300;
  lim->max_pending = 1024;
  lim->max_payload = 16384;
  lim->request_timeout_ms = 10000;
  lim->ack_timeout_ms = 1000;
  lim->max_retransmit = 3;
  lim->keepalive = 15;
  lim->max_observables = 10000;
  lim->max_observers = CPNS_OBSERVERS_MAX_DEFAULT;
  lim->handshake_failures = 30;
  lim->block_cache_entries = 256;
  lim->block_cache_per_session = 16;
  lim->block_cache_bytes = 4 * 1024 * 1024;
  lim->block_cache_age = 10;
}

/* ---- addresses ---- */

int cpns_parse_hostport(const char *s, coap_address_t *out, uint16_t default_port) {
  char host[256];
  const char *port = NULL;
  if (!s || !*s || strlen(s) >= sizeof host) return CPNS_ERR_INVAL;
  if (s[0] == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || (size_t)(rb - s - 1) >= sizeof host) return CPNS_ERR_INVAL;
    memcpy(host, s + 1, (size_t)(rb - s - 1));
    host[rb - s - 1] = '\0';
    if (rb[1] == ':') port = rb + 2;
    else if (rb[1] != '\0') return CPNS_ERR_INVAL;
  } else {
    const char *colon = strrchr(s, ':');
    if (colon && strchr(s, ':') == colon) {
      memcpy(host, s, (size_t)(colon - s));
      host[colon - s] = '\0';
      port = colon + 1;
    } else {
      snprintf(host, sizeof host, "%s", s);
    }
  }
  char portbuf[8];
  snprintf(portbuf, sizeof portbuf, "%u", (unsigned)default_port);
  if (port) {
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end || p < 0 || p > 65535) return CPNS_ERR_INVAL;
    snprintf(portbuf, sizeof portbuf, "%ld", p);
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  if (getaddrinfo(host, portbuf, &hints, &res) != 0 || !res) return CPNS_ERR_INVAL;
  coap_address_init(out);
  memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
  out->size = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static void addr_to_str(const coap_address_t *a, char *out, size_t outlen) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (a->addr.sa.sa_family == AF_INET) {
    inet_ntop(AF_INET, &a->addr.sin.sin_addr, host, sizeof host);
    port = ntohs(a->addr.sin.sin_port);
    snprintf(out, outlen, "%s:%u", host, port);
  } else if (a->addr.sa.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &a->addr.sin6.sin6_addr, host, sizeof host);
    port = ntohs(a->addr.sin6.sin6_port);
    snprintf(out, outlen, "[%s]:%u", host, port);
  } else {
    snprintf(out, outlen, "?");
  }
}

void cpns_session_addr(coap_session_t *session, char *out, size_t outlen) {
  if (!session) { /* a local dispatch (cpns_node_dispatch) */
    snprintf(out, outlen, "local");
    return;
  }
  const coap_address_t *a = coap_session_get_addr_remote(session);
  if (!a) {
    snprintf(out, outlen, "?");
    return;
  }
  addr_to_str(a, out, outlen);
}

/* ---- PSK ---- */

/* The keyring first (configured identities), then the daemon's own table. */
static const struct cpns_key_entry *lookup_identity(struct cpns_node *node, const char *id,
                                                    size_t len) {
  const struct cpns_key_entry *e = cpns_keyring_find(node->keyring, id, len);
  if (!e && node->psk_lookup) e = node->psk_lookup(node->psk_lookup_arg, id, len);
  return e;
}

static const coap_bin_const_t *psk_for_identity(coap_bin_const_t *identity,
                                                coap_session_t *session, void *arg) {
  struct cpns_node *node = arg;
  /* Every handshake is charged to its source when it presents an identity,
   * and refunded when it completes: a wrong key never completes (DTLS drops
   * its records silently), so guesses run the source's budget dry. */
  const coap_address_t *from = coap_session_get_addr_remote(session);
  if (from) penalty_charge(node, &from->addr.sa, -1.0);
  const struct cpns_key_entry *e =
      lookup_identity(node, (const char *)identity->s, identity->length);
  if (!e) {
    char addr[CPNS_ADDR_MAX];
    cpns_session_addr(session, addr, sizeof addr);
    CPNS_LOG_RL(CPNS_LOG_NOTICE, node->name, "DTLS: unknown PSK identity from %s", addr);
    return NULL;
  }
  node->psk_scratch.s = e->key;
  node->psk_scratch.length = CPNS_PSK_LEN;
  return &node->psk_scratch;
}

/* A session that a peer opened on the trusted listener. Our endpoints never
 * share a port (add_endpoint refuses a busy one), so the local port tells. */
static bool on_trusted_link(const struct cpns_node *node, coap_session_t *session) {
  if (!node->has_trusted || coap_session_get_type(session) != COAP_SESSION_TYPE_SERVER ||
      coap_session_get_proto(session) != COAP_PROTO_UDP)
    return false;
  const coap_address_t *local = coap_session_get_addr_local(session);
  return local && coap_address_get_port(local) == coap_address_get_port(&node->trusted_addr);
}

static const struct cpns_key_entry *session_peer(struct cpns_node *node,
                                                 coap_session_t *session) {
  if (coap_session_get_type(session) == COAP_SESSION_TYPE_CLIENT) return node->upstream_peer;
  if (on_trusted_link(node, session)) {
    /* Appendix D: the underlying network authenticated the source address. */
    const coap_address_t *from = coap_session_get_addr_remote(session);
    const char *id = from ? cpns_trustlink_find(node->trusted, &from->addr.sa) : NULL;
    return id ? lookup_identity(node, id, strlen(id)) : NULL;
  }
  if (coap_session_get_proto(session) != COAP_PROTO_DTLS) return NULL;
  const coap_bin_const_t *id = coap_session_get_psk_identity(session);
  if (!id) return NULL;
  return lookup_identity(node, (const char *)id->s, id->length);
}

/* ---- replies ---- */

static int encode_body(const json_t *body, int cf, uint8_t **buf, size_t *len) {
  return cpns_codec_encode(body, cf, buf, len);
}

static void release_buf(coap_session_t *s, void *p) {
  (void)s;
  free(p);
}

/* ---- block-wise answers (RFC 7959 Block2) ----
 *
 * An ordinary answer larger than one block is sliced here, not by libcoap:
 * libcoap 4.3.1 keeps each large response of a session in a list for 8 s
 * after its last block and scans that list for every new large response and
 * every block request, so a server answering many different queries spends
 * its time there (see blockcache.h). The whole answer goes to the node's
 * block cache, and the requests of its later blocks are served from there
 * (serve_cached_block) without running the handler again. When the entry is
 * gone (evicted, older than [limits] block_cache_age), the handler runs again
 * and the block is cut from its new answer: the ETag (a hash of the bytes)
 * stays the same when the bytes did, and a changed answer has another ETag,
 * after which the client starts again from block 0 (RFC 7959 §2.4).
 * Observe registrations and notifications keep libcoap's way: its client
 * side fetches their later blocks by resource and query. */

static void key_of_req(const struct cpns_req *req, char *path, size_t pathlen,
                       struct cpns_blockcache_key *k) {
  size_t used = 0;
  path[0] = '\0';
  for (unsigned i = 0; i < req->nseg && used < pathlen; i++) {
    int n = snprintf(path + used, pathlen - used, "%s%s", i ? "/" : "", req->seg[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
  k->session = req->session;
  k->identity = req->peer ? req->peer->identity : "";
  k->method = (unsigned)req->method;
  k->path = path;
  k->query = req->query;
  k->cf = req->accept;
}

/* Block size the client asked for (szx of a Block2 in the request) and the
 * block number, in that size; false when the request has no Block2. */
static bool requested_block(coap_session_t *session, const coap_pdu_t *request, uint32_t *num,
                            unsigned *szx) {
  coap_block_b_t b;
  /* libcoap's parser: it refuses numbers beyond 20 bits and BERT (szx 7)
   * on datagram transports. */
  if (!request || !coap_get_block_b(session, request, COAP_OPTION_BLOCK2, &b)) return false;
  *num = b.num;
  *szx = b.szx > CPNS_BLOCK_SZX_MAX ? CPNS_BLOCK_SZX_MAX : b.szx;
  return true;
}

/* Bytes a block answer adds in options besides what the response holds:
 * ETag (8), Content-Format (2), Block2 (3), Size2 (4), each with an option
 * header of up to 3 bytes here, and the payload marker. */
#define NODE_BLOCK_OPTIONS_MAX 36
/* The same for a whole answer: Content-Format and the payload marker. */
#define NODE_PLAIN_OPTIONS_MAX 6
#define NODE_UDP_HEADER 4

/* Payload bytes response can still take besides extra bytes of options:
 * the session's PDU size less the header, token and options so far. */
static size_t pdu_room(coap_session_t *session, const coap_pdu_t *response, size_t extra) {
  size_t used = NODE_UDP_HEADER + coap_pdu_get_token(response).length + extra;
  coap_opt_iterator_t it;
  coap_opt_t *opt;
  coap_option_iterator_init(response, &it, COAP_OPT_ALL);
  while ((opt = coap_option_next(&it))) used += coap_opt_size(opt);
  size_t max = session ? coap_session_max_pdu_size(session) : 0;
  return max > used ? max - used : 0;
}

/* Writes block num (in units of szx) of body (borrowed) into response:
 * ETag, Content-Format, Block2, Size2 and the bytes. The block is smaller
 * than asked when the session's PDUs cannot hold it (RFC 7959 §2.3: the
 * block number scales with it). Returns 0, or a CoAP code with nothing
 * written: 402 for a block beyond the end, 500 when not even 16 bytes fit.
 * *sent (may be NULL) says which block went. */
static int send_block(coap_session_t *session, const coap_pdu_t *request, coap_pdu_t *response,
                      int cf, const uint8_t *body, size_t len, uint64_t etag,
                      struct cpns_block *sent) {
  uint32_t num = 0;
  unsigned szx = CPNS_BLOCK_SZX_MAX;
  (void)requested_block(session, request, &num, &szx);
  int fit = cpns_block_szx_for(pdu_room(session, response, NODE_BLOCK_OPTIONS_MAX));
  if (fit < 0) return 500;
  while (szx > (unsigned)fit) {
    if (num > (CPNS_BLOCK_NUM_MAX >> 1)) return 402;
    szx--;
    num <<= 1;
  }
  struct cpns_block b;
  if (cpns_block_slice(len, num, szx, &b)) return 402;
  uint8_t o[8];
  /* In option order: ETag (4), Content-Format (12), Block2 (23), Size2 (28). */
  coap_add_option(response, COAP_OPTION_ETAG, coap_encode_var_safe8(o, sizeof o, etag), o);
  coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
                  coap_encode_var_safe(o, sizeof o, (unsigned)cf), o);
  coap_add_option(response, COAP_OPTION_BLOCK2,
                  coap_encode_var_safe(o, sizeof o, (b.num << 4) | (b.more ? 8u : 0u) | b.szx), o);
  /* RFC 7959 §4: the size of the whole answer, with each block. */
  coap_add_option(response, COAP_OPTION_SIZE2, coap_encode_var_safe(o, sizeof o, (unsigned)len), o);
  if (!coap_add_data(response, b.len, body + b.offset)) {
    coap_pdu_set_code(response, COAP_RESPONSE_CODE(500));
    CPNS_LOG_RL(CPNS_LOG_WARNING, "node", "a block of %zu bytes does not fit its PDU", b.len);
  }
  if (sent) *sent = b;
  return 0;
}

static void block_error(coap_pdu_t *response, int rc) {
  const char *why = rc == 402 ? "Block2 asks for a block beyond the end" : "cannot send block";
  coap_pdu_set_code(response, (coap_pdu_code_t)COAP_RESPONSE_CODE(rc));
  coap_add_data(response, strlen(why), (const uint8_t *)why);
}

/* A small answer goes out whole (unless the client asked for blocks), a
 * large one block by block, kept in the block cache under key (NULL: not
 * kept). payload is borrowed. */
static void send_body(struct cpns_node *node, coap_session_t *session, const coap_pdu_t *request,
                      coap_pdu_t *response, int code, int cf, const uint8_t *payload, size_t len,
                      const struct cpns_blockcache_key *key) {
  uint32_t num;
  unsigned szx;
  const size_t block_max = (size_t)1 << (CPNS_BLOCK_SZX_MAX + 4);
  if (!requested_block(session, request, &num, &szx) && len <= block_max &&
      len <= pdu_room(session, response, NODE_PLAIN_OPTIONS_MAX)) {
    uint8_t o[4];
    coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(o, sizeof o, (unsigned)cf), o);
    if (!coap_add_data(response, len, payload)) coap_pdu_set_code(response, COAP_RESPONSE_CODE(500));
    return;
  }
  uint64_t etag = cpns_blockcache_etag(payload, len);
  struct cpns_block sent;
  int rc = send_block(session, request, response, cf, payload, len, etag, &sent);
  if (rc) {
    block_error(response, rc);
    return;
  }
  /* Kept when it takes more than one block of the size in use. */
  if (key && node->blocks && (sent.more || sent.num > 0))
    (void)cpns_blockcache_put(node->blocks, key, code, payload, len, etag, now_ms());
}

/* A request for a later block (Block2 with a number above 0) of an answer
 * the cache holds is answered from there, without its handler. A request
 * that changes state (not GET or FETCH) is never run again for a later
 * block: without the entry, 4.08. Returns true when req was answered. */
static bool serve_cached_block(struct cpns_node *node, struct cpns_req *req) {
  uint32_t num;
  unsigned szx;
  if (!requested_block(req->session, req->pdu, &num, &szx) || num == 0) return false;
  char path[NODE_PATH_MAX];
  struct cpns_blockcache_key key;
  key_of_req(req, path, sizeof path, &key);
  struct cpns_blockcache_entry_view e;
  if (!node->blocks || !cpns_blockcache_get(node->blocks, &key, now_ms(), &e)) {
    if (req->method == COAP_REQUEST_CODE_GET || req->method == COAP_REQUEST_CODE_FETCH) return false;
    cpns_reply_error(req, 408, "the earlier blocks of this answer are gone: ask again");
    return true;
  }
  req->replied = true;
  coap_pdu_set_code(req->response, (coap_pdu_code_t)COAP_RESPONSE_CODE(e.code));
  int rc = send_block(req->session, req->pdu, req->response, req->accept, e.body, e.len, e.etag,
                      NULL);
  if (rc) {
    node->stats.replies_4xx++;
    block_error(req->response, rc);
  }
  return true;
}

static bool has_option(const coap_pdu_t *pdu, coap_option_num_t num) {
  coap_opt_iterator_t it;
  return pdu && coap_check_option(pdu, num, &it) != NULL;
}

static int option_uint(const coap_pdu_t *pdu, coap_option_num_t num, int absent);

/* An answer that registers an observation or notifies one (libcoap's
 * large responses serve the later blocks of these). */
static bool observe_answer(const struct cpns_req *req) {
  return req->notification || has_option(req->response, COAP_OPTION_OBSERVE) ||
         option_uint(req->pdu, COAP_OPTION_OBSERVE, -1) == COAP_OBSERVE_ESTABLISH;
}

/* Writes code and payload into a response PDU; payload ownership moves here.
 * key (NULL: not cached) names the answer in the block cache; observe says
 * the answer is an observation's (see observe_answer). */
static void fill_response(struct cpns_node *node, coap_resource_t *resource,
                          coap_session_t *session, const coap_pdu_t *request,
                          coap_pdu_t *response, int code, int cf, uint8_t *payload, size_t len,
                          const char *diag, const struct cpns_blockcache_key *key, bool observe) {
  coap_pdu_set_code(response, (coap_pdu_code_t)COAP_RESPONSE_CODE(code));
  if (code >= 400) {
    if (code < 500)
      node->stats.replies_4xx++;
    else
      node->stats.replies_5xx++;
  }
  if (payload && len) {
    if (!observe) {
      send_body(node, session, request, response, code, cf, payload, len, key);
      free(payload);
      return;
    }
    /* An observation: libcoap serves the later blocks of a large body
     * itself, matching their requests by resource and query: without the
     * query, a block request with one is not matched and comes back to the
     * handler, whose new answer lacks the first one's ETag. */
    coap_string_t *query = coap_get_query(request);
    coap_add_data_large_response(resource, session, request, response, query, (uint16_t)cf, -1, 0,
                                 len, payload, release_buf, payload);
    coap_delete_string(query);
  } else {
    free(payload);
    if (diag && *diag) coap_add_data(response, strlen(diag), (const uint8_t *)diag);
  }
}


/* A local dispatch's reply is kept for its caller, not encoded. */
static void local_capture(struct cpns_req *req, int code, json_t *body, const char *diag) {
  struct cpns_local *l = req->local;
  if (code >= 400) {
    if (code < 500) req->node->stats.replies_4xx++;
    else req->node->stats.replies_5xx++;
  }
  l->done = true;
  l->code = code;
  l->body = body;
  snprintf(l->diag, sizeof l->diag, "%s", diag ? diag : "");
}

void cpns_reply(struct cpns_req *req, int code, json_t *body) {
  if (req->replied || req->deferred) {
    json_decref(body);
    return;
  }
  req->replied = true;
  if (req->local) {
    local_capture(req, code, body, NULL);
    return;
  }
  uint8_t *buf = NULL;
  size_t len = 0;
  if (body && encode_body(body, req->accept, &buf, &len)) {
    json_decref(body);
    fill_response(req->node, req->resource, req->session, req->pdu, req->response, 500, 0,
                  NULL, 0, "cannot encode reply", NULL, false);
    return;
  }
  json_decref(body);
  char path[NODE_PATH_MAX];
  struct cpns_blockcache_key key;
  key_of_req(req, path, sizeof path, &key);
  fill_response(req->node, req->resource, req->session, req->pdu, req->response, code,
                req->accept, buf, len, NULL, &key, observe_answer(req));
}

void cpns_reply_error(struct cpns_req *req, int code, const char *fmt, ...) {
  if (req->replied || req->deferred) return;
  req->replied = true;
  char diag[CPNS_DIAG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(diag, sizeof diag, fmt, ap);
  va_end(ap);
  if (req->local) {
    local_capture(req, code, NULL, diag);
    return;
  }
  fill_response(req->node, req->resource, req->session, req->pdu, req->response, code, 0,
                NULL, 0, diag, NULL, false);
}

struct cpns_deferred *cpns_req_defer(struct cpns_req *req) {
  struct cpns_node *node = req->node;
  if (req->replied || req->deferred) return NULL;
  if (req->local) {
    /* No session to answer later on: see cpns_node_dispatch in node.h. */
    cpns_reply_error(req, 501, "not available over this interface");
    return NULL;
  }
  if (node->npending >= (unsigned long)node->lim.max_pending) {
    node->stats.dropped_limit++;
    cpns_reply_error(req, 503, "too many requests in progress");
    return NULL;
  }
  struct cpns_deferred *d = calloc(1, sizeof *d);
  if (!d) {
    cpns_reply_error(req, 500, "out of memory");
    return NULL;
  }
  d->async = coap_register_async(req->session, req->pdu, 0);
  if (!d->async) {
    free(d);
    cpns_reply_error(req, 500, "cannot defer reply");
    return NULL;
  }
  d->node = node;
  d->session = req->session;
  d->accept = req->accept;
  struct cpns_blockcache_key key;
  key_of_req(req, d->path, sizeof d->path, &key);
  d->method = req->method;
  snprintf(d->identity, sizeof d->identity, "%s", key.identity);
  snprintf(d->query, sizeof d->query, "%s", req->query);
  coap_async_set_app_data(d->async, d);
  d->next = node->deferred;
  if (node->deferred) node->deferred->prev = d;
  node->deferred = d;
  node->npending++;
  req->deferred = true;
  return d;
}

void cpns_reply_observe(struct cpns_req *req, uint32_t seq, json_t *body) {
  if (req->replied || req->deferred) {
    json_decref(body);
    return;
  }
  /* Options go in before the payload that cpns_reply adds. */
  uint8_t b[4];
  coap_add_option(req->response, COAP_OPTION_OBSERVE,
                  coap_encode_var_safe(b, sizeof b, seq & 0xFFFFFFu), b);
  cpns_reply(req, 205, body);
}

void cpns_deferred_observe(struct cpns_deferred *d, uint32_t seq) {
  if (!d) return;
  d->observe = true;
  d->seq = seq & 0xFFFFFFu;
}

void cpns_deferred_reply(struct cpns_deferred *d, int code, json_t *body, const char *diag) {
  if (!d || d->ready) {
    json_decref(body);
    return;
  }
  d->ready = true;
  d->code = code;
  if (body && encode_body(body, d->accept, &d->payload, &d->payload_len)) {
    d->code = 500;
    diag = "cannot encode reply";
  }
  json_decref(body);
  snprintf(d->diag, sizeof d->diag, "%s", diag ? diag : "");
  coap_async_trigger(d->async);
}

static void deferred_unlink(struct cpns_node *node, struct cpns_deferred *d) {
  if (d->prev) d->prev->next = d->next;
  else node->deferred = d->next;
  if (d->next) d->next->prev = d->prev;
  node->npending--;
}

/* ---- request parsing and routing ---- */

int cpns_req_query(const struct cpns_req *req, const char *key, char *out, size_t outlen) {
  size_t klen = strlen(key);
  const char *p = req->query;
  while (*p) {
    const char *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len >= klen && strncmp(p, key, klen) == 0 && (len == klen || p[klen] == '=')) {
      const char *v = len == klen ? "" : p + klen + 1;
      size_t vlen = len == klen ? 0 : len - klen - 1;
      if (vlen >= outlen) return CPNS_ERR_TOOBIG;
      memcpy(out, v, vlen);
      out[vlen] = '\0';
      return 0;
    }
    if (!end) break;
    p = end + 1;
  }
  return CPNS_ERR_NOTFOUND;
}

/* Splits Uri-Path and Uri-Query; returns a CoAP error code or 0. */
static int parse_uri(const coap_pdu_t *pdu, struct cpns_req *req, bool *well_known) {
  coap_opt_iterator_t it;
  coap_opt_t *opt;
  unsigned idx = 0;
  char first[CPNS_SEGMENT_MAX + 1] = "", second[CPNS_SEGMENT_MAX + 1] = "";
  coap_option_iterator_init(pdu, &it, COAP_OPT_ALL);
  size_t qlen = 0;
  *well_known = false;
  while ((opt = coap_option_next(&it))) {
    size_t len = coap_opt_length(opt);
    const uint8_t *val = coap_opt_value(opt);
    if (it.number == COAP_OPTION_URI_PATH) {
      if (len > CPNS_SEGMENT_MAX) return 414;
      char segbuf[CPNS_SEGMENT_MAX + 1];
      memcpy(segbuf, val, len);
      segbuf[len] = '\0';
      if (memchr(val, 0, len)) return 400;
      if (idx == 0) memcpy(first, segbuf, len + 1);
      else if (idx == 1) memcpy(second, segbuf, len + 1);
      else {
        if (req->nseg >= CPNS_MAX_SEGMENTS) return 414;
        memcpy(req->seg[req->nseg++], segbuf, len + 1);
      }
      idx++;
    } else if (it.number == COAP_OPTION_URI_QUERY) {
      /* The joined query ("a=1&b=2") is at most CPNS_QUERY_MAX - 1 bytes. */
      if (qlen + (qlen ? 1 : 0) + len >= CPNS_QUERY_MAX) return 414;
      if (memchr(val, 0, len) || memchr(val, '&', len)) return 400;
      if (qlen) req->query[qlen++] = '&';
      memcpy(req->query + qlen, val, len);
      qlen += len;
      req->query[qlen] = '\0';
    }
  }
  if (strcmp(first, ".well-known") == 0 && strcmp(second, "core") == 0 && req->nseg == 0) {
    *well_known = true;
    return 0;
  }
  if (idx < 2 || strcmp(first, "cpns") != 0 || strcmp(second, "v1") != 0) return 404;
  return 0;
}

static int option_uint(const coap_pdu_t *pdu, coap_option_num_t num, int absent) {
  coap_opt_iterator_t it;
  coap_opt_t *opt = coap_check_option(pdu, num, &it);
  if (!opt) return absent;
  return (int)coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
}

static bool route_matches(const struct route *r, const struct cpns_req *req) {
  if (r->nseg != req->nseg) return false;
  for (unsigned i = 0; i < r->nseg; i++)
    if (strcmp(r->seg[i], "*") != 0 && strcmp(r->seg[i], req->seg[i]) != 0) return false;
  return true;
}

static const char *method_name(coap_pdu_code_t m) {
  switch (m) {
  case COAP_REQUEST_CODE_GET: return "GET";
  case COAP_REQUEST_CODE_POST: return "POST";
  case COAP_REQUEST_CODE_PUT: return "PUT";
  case COAP_REQUEST_CODE_DELETE: return "DELETE";
  case COAP_REQUEST_CODE_FETCH: return "FETCH";
  case COAP_REQUEST_CODE_PATCH: return "PATCH";
  case COAP_REQUEST_CODE_IPATCH: return "iPATCH";
  default: return "?";
  }
}

/* libcoap 4.3.1 has no context user data: a small table maps contexts to nodes. */
#define NODE_MAX_PER_PROCESS 16
static struct {
  coap_context_t *ctx;
  struct cpns_node *node;
} g_nodes[NODE_MAX_PER_PROCESS];

static int node_register(coap_context_t *ctx, struct cpns_node *node) {
  for (unsigned i = 0; i < NODE_MAX_PER_PROCESS; i++)
    if (!g_nodes[i].ctx) {
      g_nodes[i].ctx = ctx;
      g_nodes[i].node = node;
      return 0;
    }
  return CPNS_ERR_LIMIT;
}

static void node_unregister(coap_context_t *ctx) {
  for (unsigned i = 0; i < NODE_MAX_PER_PROCESS; i++)
    if (g_nodes[i].ctx == ctx) g_nodes[i].ctx = NULL;
}

static struct cpns_node *node_of(coap_session_t *session) {
  coap_context_t *ctx = coap_session_get_context(session);
  for (unsigned i = 0; i < NODE_MAX_PER_PROCESS; i++)
    if (g_nodes[i].ctx == ctx) return g_nodes[i].node;
  return NULL;
}

/* The one place where a route's authorization rule is enforced: the caller's
 * relations to the resource (computed by the daemon from the DTLS identity)
 * must include one the rule allows. */
static bool authorized(struct cpns_node *node, const struct route *r, struct cpns_req *req) {
  unsigned rel = 0;
  if (req->peer) {
    rel |= CPNS_REL_ANY;
    if (node->relations) rel |= node->relations(req, r->allow, node->relations_arg);
  }
  if (rel & r->allow) return true;
  if (node->notifying) {
    /* A notification to an observer that lost its right (an expelled
     * member). libcoap 4.3.1 deletes an observer whose notification is an
     * error while it walks the observer list, and then reads the freed
     * entry (seen as a crash under load): answer 2.05 with the refusal
     * instead, which carries nothing the observer may not see. */
    char diag[CPNS_DIAG_MAX];
    snprintf(diag, sizeof diag, "%s may not %s", req->peer ? req->peer->identity : "anonymous",
             r->action);
    cpns_reply(req, 205, json_pack("{s:i, s:s}", "error", req->peer ? 403 : 401, "diag", diag));
    return false;
  }
  if (!req->peer)
    cpns_reply_error(req, 401, "authentication required");
  else
    cpns_reply_error(req, 403, "%s may not %s", req->peer->identity, r->action);
  return false;
}

/* The On-Behalf-Of option: when present, the daemon's delegation rule
 * must let the authenticated caller speak for the identity it names; the
 * request then runs as that identity. Returns false when it was answered. */
static bool apply_on_behalf(struct cpns_node *node, struct cpns_req *req) {
  coap_opt_iterator_t it;
  coap_opt_t *opt = coap_check_option(req->pdu, CPNS_OPTION_ON_BEHALF_OF, &it);
  if (!opt) return true;
  size_t len = coap_opt_length(opt);
  char who[CPNS_ID_MAX + 1];
  if (len == 0 || len > CPNS_ID_MAX) {
    cpns_reply_error(req, 400, "bad On-Behalf-Of option");
    return false;
  }
  memcpy(who, coap_opt_value(opt), len);
  who[len] = '\0';
  if (!cpns_valid_id(who)) {
    cpns_reply_error(req, 400, "bad On-Behalf-Of option");
    return false;
  }
  if (!req->peer) {
    cpns_reply_error(req, 401, "authentication required");
    return false;
  }
  memset(&req->delegated, 0, sizeof req->delegated);
  if (!node->delegate || !node->delegate(node->delegate_arg, req->peer, who, &req->delegated)) {
    cpns_reply_error(req, 403, "%s may not act for %s", req->peer->identity, who);
    return false;
  }
  memset(req->delegated.key, 0, sizeof req->delegated.key);
  req->via = req->peer;
  req->peer = &req->delegated;
  return true;
}

/* Sends the stored reply of a deferred request when libcoap calls us again. */
static bool finish_deferred(coap_resource_t *resource, coap_session_t *session,
                            const coap_pdu_t *pdu, coap_pdu_t *response) {
  coap_async_t *as = coap_find_async(session, coap_pdu_get_token(pdu));
  if (!as) return false;
  struct cpns_deferred *d = coap_async_get_app_data(as);
  if (!d || !d->ready) return true; /* spurious: keep waiting */
  struct cpns_node *node = d->node;
  uint8_t *payload = d->payload;
  d->payload = NULL;
  if (d->observe && d->code >= 200 && d->code < 300) {
    uint8_t b[4];
    coap_add_option(response, COAP_OPTION_OBSERVE, coap_encode_var_safe(b, sizeof b, d->seq), b);
  }
  struct cpns_blockcache_key key = {session, d->identity, (unsigned)d->method, d->path, d->query,
                                    d->accept};
  fill_response(node, resource, session, pdu, response, d->code, d->accept, payload,
                d->payload_len, d->diag, &key,
                d->observe || option_uint(pdu, COAP_OPTION_OBSERVE, -1) == COAP_OBSERVE_ESTABLISH);
  deferred_unlink(node, d);
  free(d);
  /* libcoap frees a triggered async itself once this handler returns. */
  coap_async_set_app_data(as, NULL);
  return true;
}

/* ---- observers ---- */

static struct observable *observable_of(struct cpns_node *node, coap_resource_t *resource) {
  if (resource == node->unknown) return NULL;
  for (struct observable *o = node->observables; o; o = o->next)
    if (o->resource == resource) return o;
  return NULL;
}

static int observer_find(const struct observable *o, coap_session_t *s, coap_bin_const_t tok) {
  for (unsigned i = 0; i < o->nobs; i++)
    if (o->obs[i].session == s && o->obs[i].toklen == tok.length &&
        memcmp(o->obs[i].token, tok.s, tok.length) == 0)
      return (int)i;
  return -1;
}

static void observer_drop(struct observable *o, int i) {
  if (i >= 0) o->obs[i] = o->obs[--o->nobs];
}

static void observers_drop_session(struct cpns_node *node, coap_session_t *s) {
  for (struct observable *o = node->observables; o; o = o->next)
    for (unsigned i = 0; i < o->nobs;)
      if (o->obs[i].session == s) observer_drop(o, (int)i);
      else i++;
}

/* Before routing a GET on an observable resource: refuses a new observer
 * beyond the cap. Returns false when the request was answered. */
static bool observe_admit(struct observable *o, struct cpns_req *req, int *slot) {
  *slot = -1;
  if (!o || req->method != COAP_REQUEST_CODE_GET) return true;
  int action = option_uint(req->pdu, COAP_OPTION_OBSERVE, -1);
  coap_bin_const_t tok = coap_pdu_get_token(req->pdu);
  int i = observer_find(o, req->session, tok);
  if (action == COAP_OBSERVE_CANCEL) observer_drop(o, i);
  if (action != COAP_OBSERVE_ESTABLISH) return true;
  *slot = i;
  if (i < 0 && o->nobs >= (unsigned)req->node->lim.max_observers) {
    CPNS_LOG_RL(CPNS_LOG_NOTICE, req->node->name, "%s: observer limit (%ld) reached", o->path,
                req->node->lim.max_observers);
    cpns_reply_error(req, 503, "too many observers of this resource");
    return false;
  }
  return true;
}

/* After routing: libcoap keeps an observer on a 2.xx answer and drops it
 * on an error; so do we. */
static void observe_settle(struct observable *o, struct cpns_req *req, int slot) {
  if (!o || req->method != COAP_REQUEST_CODE_GET ||
      option_uint(req->pdu, COAP_OPTION_OBSERVE, -1) != COAP_OBSERVE_ESTABLISH)
    return;
  bool ok = COAP_RESPONSE_CLASS(coap_pdu_get_code(req->response)) == 2;
  if (!ok) {
    observer_drop(o, slot);
    return;
  }
  coap_bin_const_t tok = coap_pdu_get_token(req->pdu);
  if (slot >= 0 || o->nobs >= (unsigned)req->node->lim.max_observers ||
      tok.length > sizeof o->obs[0].token)
    return;
  struct observer *ob = &o->obs[o->nobs++];
  ob->session = req->session;
  ob->toklen = tok.length;
  memcpy(ob->token, tok.s, tok.length);
}

static struct observable *observable_find(struct cpns_node *node, const char *path) {
  for (struct observable *o = node->observables; o; o = o->next)
    if (strcmp(o->path, path) == 0) return o;
  return NULL;
}

static void on_request(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *pdu,
                       const coap_string_t *query, coap_pdu_t *response);

int cpns_node_observable(struct cpns_node *node, const char *path) {
  if (!path || !*path || path[0] == '/' || strlen(path) >= sizeof node->observables->path)
    return CPNS_ERR_INVAL;
  if (observable_find(node, path)) return 0;
  for (struct observable **pp = &node->doomed; *pp; pp = &(*pp)->next) {
    struct observable *o = *pp;
    if (strcmp(o->path, path) != 0) continue;
    *pp = o->next; /* removed and made again within one turn: keep it */
    o->next = node->observables;
    node->observables = o;
    return 0;
  }
  if (node->nobservables >= (unsigned long)node->lim.max_observables) {
    CPNS_LOG_RL(CPNS_LOG_WARNING, node->name, "observable resource limit (%ld) reached",
                node->lim.max_observables);
    return CPNS_ERR_LIMIT;
  }
  struct observable *o = calloc(1, sizeof *o);
  if (o) o->obs = calloc((size_t)node->lim.max_observers, sizeof *o->obs);
  if (!o || !o->obs) {
    if (o) free(o);
    return CPNS_ERR_NOMEM;
  }
  snprintf(o->path, sizeof o->path, "%s", path);
  char full[sizeof o->path + sizeof CPNS_PATH_PREFIX + 1];
  snprintf(full, sizeof full, "%s/%s", CPNS_PATH_PREFIX, path);
  coap_str_const_t *uri = coap_new_str_const((const uint8_t *)full, strlen(full));
  /* RELEASE_URI: libcoap frees uri with the resource. NOTIFY_CON: a lost
   * notification is retransmitted, and an observer gone for good is noticed. */
  coap_resource_t *r = uri ? coap_resource_init(uri, COAP_RESOURCE_FLAGS_RELEASE_URI |
                                                         COAP_RESOURCE_FLAGS_NOTIFY_CON)
                           : NULL;
  if (!r) {
    if (uri) coap_delete_str_const(uri);
    free(o->obs);
    free(o);
    return CPNS_ERR_NOMEM;
  }
  /* Every method, so that the path routes like any other. */
  static const coap_request_t methods[] = {COAP_REQUEST_GET,   COAP_REQUEST_POST,
                                           COAP_REQUEST_PUT,   COAP_REQUEST_DELETE,
                                           COAP_REQUEST_FETCH, COAP_REQUEST_PATCH,
                                           COAP_REQUEST_IPATCH};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    coap_register_request_handler(r, methods[i], on_request);
  coap_resource_set_get_observable(r, 1);
  coap_add_resource(node->ctx, r);
  o->resource = r;
  o->next = node->observables;
  node->observables = o;
  node->nobservables++;
  return 0;
}

void cpns_node_notify(struct cpns_node *node, const char *path) {
  struct observable *o = observable_find(node, path);
  if (o) coap_resource_notify_observers(o->resource, NULL);
}

void cpns_node_observable_remove(struct cpns_node *node, const char *path) {
  for (struct observable **pp = &node->observables; *pp; pp = &(*pp)->next) {
    struct observable *o = *pp;
    if (strcmp(o->path, path) != 0) continue;
    *pp = o->next;
    o->next = node->doomed;
    node->doomed = o;
    return;
  }
}

static void delete_doomed(struct cpns_node *node) {
  while (node->doomed) {
    struct observable *o = node->doomed;
    node->doomed = o->next;
    coap_delete_resource(node->ctx, o->resource);
    free(o->obs);
    free(o);
    node->nobservables--;
  }
}

/* Runs the first route that matches req's path and method, after its rule
 * (authorized): the one router of CoAP requests and of local dispatch. */
static void route(struct cpns_node *node, struct cpns_req *req) {
  bool path_known = false;
  for (unsigned i = 0; i < node->nroutes; i++) {
    const struct route *r = &node->routes[i];
    if (!route_matches(r, req)) continue;
    path_known = true;
    if (r->method != req->method) continue;
    if (r->guarded && !authorized(node, r, req)) return;
    r->fn(req, r->arg);
    if (!req->replied && !req->deferred) cpns_reply_error(req, 500, "no reply");
    return;
  }
  cpns_reply_error(req, path_known ? 405 : 404, path_known ? "method not allowed" : "no such resource");
}

static void on_request(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *pdu,
                       const coap_string_t *query, coap_pdu_t *response) {
  (void)query;
  struct cpns_node *node = node_of(session);
  if (finish_deferred(resource, session, pdu, response)) return;
  /* libcoap builds a notification as a confirmable message of its own (our
   * observable resources notify CON); an answer to a request is an ACK or a
   * NON. So a CON response here means we are answering an observer. */
  node->notifying = coap_pdu_get_type(response) == COAP_MESSAGE_CON;
  node->stats.requests++;

  struct cpns_req *req = calloc(1, sizeof *req);
  if (!req) {
    coap_pdu_set_code(response, COAP_RESPONSE_CODE(500));
    return;
  }
  req->node = node;
  req->session = session;
  req->pdu = pdu;
  req->response = response;
  req->method = coap_pdu_get_code(pdu);
  req->resource = resource;
  req->notification = node->notifying;
  req->peer = session_peer(node, session);
  char addr[CPNS_ADDR_MAX];
  cpns_session_addr(session, addr, sizeof addr);

  bool wk = false;
  int code = parse_uri(pdu, req, &wk);
  if (code) {
    cpns_reply_error(req, code, code == 404 ? "no such resource" : "bad URI");
    goto done;
  }
  bool trusted = on_trusted_link(node, session);
  if (trusted && !req->peer) {
    CPNS_LOG_RL(CPNS_LOG_NOTICE, node->name,
                "%s: unknown peer on trusted link (not in trusted_peers, or its identity is not "
                "in the keyring)", addr);
    cpns_reply_error(req, 401, "unknown peer on trusted link");
    goto done;
  }
  /* Our own session to a declared upstream carries its CPNS-6/7 requests. */
  if (!trusted && session != node->trusted_session && !node->plain &&
      coap_session_get_proto(session) != COAP_PROTO_DTLS) {
    cpns_reply_error(req, 401, "DTLS required");
    goto done;
  }
  if (!apply_on_behalf(node, req)) goto done;
  int cf = option_uint(pdu, COAP_OPTION_CONTENT_FORMAT, -1);
  int accept = option_uint(pdu, COAP_OPTION_ACCEPT, -1);
  if (accept == -1) accept = cf == CPNS_CF_JSON ? CPNS_CF_JSON : CPNS_CF_CBOR;
  if (accept != CPNS_CF_JSON && accept != CPNS_CF_CBOR) {
    req->accept = CPNS_CF_CBOR;
    cpns_reply_error(req, 406, "Accept must be 50 (JSON) or 60 (CBOR)");
    goto done;
  }
  req->accept = accept;

  size_t len = 0, offset = 0, total = 0;
  const uint8_t *data = NULL;
  if (coap_get_data_large(pdu, &len, &data, &offset, &total) && total > 0) {
    if (total > (size_t)node->lim.max_payload || len != total) {
      CPNS_LOG_RL(CPNS_LOG_NOTICE, node->name, "%s: request body of %zu bytes refused", addr,
                  total);
      cpns_reply_error(req, 413, "body larger than %ld bytes", node->lim.max_payload);
      goto done;
    }
    if (cf == -1) cf = CPNS_CF_CBOR;
    if (cf != CPNS_CF_CBOR && cf != CPNS_CF_JSON) {
      cpns_reply_error(req, 415, "Content-Format must be 50 (JSON) or 60 (CBOR)");
      goto done;
    }
    char why[CPNS_DIAG_MAX];
    struct cpns_codec_limits lim = cpns_codec_default_limits;
    lim.max_bytes = (size_t)node->lim.max_payload;
    int rc = cpns_codec_decode(data, len, cf, &lim, &req->body, why, sizeof why);
    if (rc) {
      CPNS_LOG_RL(CPNS_LOG_NOTICE, node->name, "%s: undecodable body: %s", addr, why);
      cpns_reply_error(req, rc == CPNS_ERR_TOOBIG ? 413 : 400, "%s", why);
      goto done;
    }
  }

  if (serve_cached_block(node, req)) goto done;
  struct observable *obs = observable_of(node, resource);
  int slot = -1;
  if (!observe_admit(obs, req, &slot)) goto done;
  route(node, req);
  observe_settle(obs, req, slot);
done:
  if (cpns_log_get_level() >= CPNS_LOG_DEBUG) {
    coap_pdu_code_t rc = coap_pdu_get_code(response);
    log_debug(node->name, "%s %s %s%s%s %s%s%s -> %d.%02d", addr, method_name(req->method),
              req->peer ? req->peer->identity : "(anonymous)", req->via ? " via " : "",
              req->via ? req->via->identity : "", req->nseg ? req->seg[0] : "",
              req->nseg > 1 ? "/" : "", req->nseg > 1 ? req->seg[1] : "", rc >> 5, rc & 31);
  }
  json_decref(req->body);
  free(req);
}

/* ---- /.well-known/core (RFC 6690), filtered by one attribute ---- */

/* True when attrs has key=value, matching a word of a quoted list or, with a
 * trailing '*' in want, a prefix (RFC 6690 §4.1). */
static bool link_matches(const char *attrs, const char *key, const char *want) {
  size_t klen = strlen(key), wlen = strlen(want);
  bool prefix = wlen && want[wlen - 1] == '*';
  if (prefix) wlen--;
  const char *p = attrs;
  while ((p = strstr(p, key))) {
    if ((p == attrs || p[-1] == ';') && p[klen] == '=') {
      const char *v = p + klen + 1;
      bool quoted = *v == '"';
      if (quoted) v++;
      const char *end = quoted ? strchr(v, '"') : v + strcspn(v, ";");
      if (!end) return false;
      while (v < end) {
        const char *w_end = memchr(v, ' ', (size_t)(end - v));
        if (!w_end) w_end = end;
        size_t len = (size_t)(w_end - v);
        if ((prefix && len >= wlen && memcmp(v, want, wlen) == 0) ||
            (!prefix && len == wlen && memcmp(v, want, wlen) == 0))
          return true;
        v = w_end + 1;
      }
    }
    p += klen;
  }
  return false;
}

static void on_well_known(coap_resource_t *resource, coap_session_t *session,
                          const coap_pdu_t *pdu, const coap_string_t *query,
                          coap_pdu_t *response) {
  struct cpns_node *node = node_of(session);
  char key[32] = "", want[CPNS_SEGMENT_MAX + 1] = "";
  if (query && query->length) {
    const char *q = (const char *)query->s;
    const char *eq = memchr(q, '=', query->length);
    size_t kl = eq ? (size_t)(eq - q) : query->length;
    size_t vl = eq ? query->length - kl - 1 : 0;
    if (kl == 0 || kl >= sizeof key || vl >= sizeof want) {
      coap_pdu_set_code(response, COAP_RESPONSE_CODE(400));
      return;
    }
    memcpy(key, q, kl);
    if (eq) memcpy(want, eq + 1, vl);
  }
  char out[NODE_MAX_LINKS * (NODE_LINK_ATTRS_MAX + 64)];
  size_t used = 0;
  for (unsigned i = 0; i < node->nlinks; i++) {
    const struct link *l = &node->links[i];
    if (key[0] && !link_matches(l->attrs, key, want)) continue;
    int n = snprintf(out + used, sizeof out - used, "%s</%s%s%s>;%s", used ? "," : "",
                     CPNS_PATH_PREFIX, l->path[0] ? "/" : "", l->path, l->attrs);
    if (n < 0 || (size_t)n >= sizeof out - used) break;
    used += (size_t)n;
  }
  coap_pdu_set_code(response, COAP_RESPONSE_CODE(205));
  if (used)
    coap_add_data_large_response(resource, session, pdu, response, query,
                                 COAP_MEDIATYPE_APPLICATION_LINK_FORMAT, -1, 0, used,
                                 (const uint8_t *)out, NULL, NULL);
}

/* ---- outgoing requests ---- */

static void pending_finish(struct cpns_node *node, struct pending *p, int code, const json_t *body,
                           const char *diag) {
  struct pending **pp = &node->pending;
  while (*pp && *pp != p) pp = &(*pp)->next;
  if (*pp) *pp = p->next;
  node->npending--;
  coap_session_release(p->session);
  p->cb(p->arg, code, body, diag ? diag : "");
  free(p);
}

static struct pending *pending_find(struct cpns_node *node, coap_session_t *s,
                                    coap_bin_const_t token) {
  for (struct pending *p = node->pending; p; p = p->next)
    if (p->session == s && p->token_len == token.length &&
        memcmp(p->token, token.s, token.length) == 0)
      return p;
  return NULL;
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
                                   const coap_pdu_t *received, const coap_mid_t mid) {
  (void)sent;
  (void)mid;
  struct cpns_node *node = node_of(session);
  struct pending *p = pending_find(node, session, coap_pdu_get_token(received));
  if (!p) {
    for (unsigned i = 0; i < node->nunmatched; i++)
      if (node->unmatched[i].fn(node->unmatched[i].arg, session, received)) return COAP_RESPONSE_OK;
    /* RFC 7641 §3.6: a notification of an observation we do not know is
     * rejected, so that the observed end stops sending it. */
    coap_opt_iterator_t it;
    if (coap_pdu_get_type(received) == COAP_MESSAGE_CON &&
        coap_check_option(received, COAP_OPTION_OBSERVE, &it))
      return COAP_RESPONSE_FAIL;
    return COAP_RESPONSE_OK; /* late answer to a request we gave up on */
  }
  coap_pdu_code_t rc = coap_pdu_get_code(received);
  int code = (rc >> 5) * 100 + (rc & 31);
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *data = NULL;
  json_t *body = NULL;
  char diag[CPNS_DIAG_MAX] = "";
  if (coap_get_data_large(received, &len, &data, &offset, &total) && len) {
    if (code >= 400) {
      size_t n = len < sizeof diag - 1 ? len : sizeof diag - 1;
      memcpy(diag, data, n);
      diag[n] = '\0';
    } else {
      int cf = option_uint(received, COAP_OPTION_CONTENT_FORMAT, CPNS_CF_CBOR);
      /* Answers may be long lists (inventories): bounded, but not by the
       * request body limit. */
      struct cpns_codec_limits lim = cpns_codec_default_limits;
      lim.max_bytes = CPNS_RESPONSE_MAX;
      lim.max_items = CPNS_RESPONSE_ITEMS_MAX;
      if (cpns_codec_decode(data, len, cf, &lim, &body, diag, sizeof diag)) {
        code = CPNS_ERR_PROTO;
      }
    }
  }
  pending_finish(node, p, code, body, diag);
  json_decref(body);
  return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid) {
  (void)mid;
  if (!sent) return;
  struct cpns_node *node = node_of(session);
  if (!node) return;
  struct pending *p = pending_find(node, session, coap_pdu_get_token(sent));
  if (!p) {
    for (unsigned i = 0; i < node->nnacks; i++)
      if (node->nacks[i].fn(node->nacks[i].arg, session, sent, (int)reason)) return;
    return;
  }
  pending_finish(node, p, reason == COAP_NACK_TOO_MANY_RETRIES ? CPNS_ERR_TIMEOUT : CPNS_ERR_UNAVAIL,
                 NULL, "no answer");
}

static int add_path_options(coap_pdu_t *pdu, const char *path, const char *query) {
  char buf[512];
  int n = path[0] == '/' ? snprintf(buf, sizeof buf, "%s", path + 1)
                         : snprintf(buf, sizeof buf, "%s%s%s", CPNS_PATH_PREFIX, *path ? "/" : "",
                                    path);
  /* A path or query that does not fit is refused, never sent cut short. */
  if (n < 0 || (size_t)n >= sizeof buf || (query && strlen(query) > CPNS_CLIENT_QUERY_MAX))
    return -1;
  char *save = NULL;
  for (char *s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save))
    if (!coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(s), (const uint8_t *)s)) return -1;
  if (query && *query) {
    char qbuf[CPNS_CLIENT_QUERY_MAX + 1];
    snprintf(qbuf, sizeof qbuf, "%s", query);
    for (char *s = strtok_r(qbuf, "&", &save); s; s = strtok_r(NULL, "&", &save))
      if (!coap_add_option(pdu, COAP_OPTION_URI_QUERY, strlen(s), (const uint8_t *)s)) return -1;
  }
  return 0;
}

int cpns_node_request(struct cpns_node *node, coap_session_t *session, coap_pdu_code_t method,
                      const char *path, const char *query, const json_t *body,
                      cpns_response_fn cb, void *arg) {
  return cpns_node_request_for(node, session, method, path, query, body, NULL, cb, arg);
}

int cpns_node_request_for(struct cpns_node *node, coap_session_t *session, coap_pdu_code_t method,
                          const char *path, const char *query, const json_t *body,
                          const char *on_behalf, cpns_response_fn cb, void *arg) {
  if (!session) return CPNS_ERR_UNAVAIL;
  if (node->npending >= (unsigned long)node->lim.max_pending) {
    node->stats.dropped_limit++;
    return CPNS_ERR_LIMIT;
  }
  coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, method, session);
  if (!pdu) return CPNS_ERR_NOMEM;
  struct pending *p = calloc(1, sizeof *p);
  if (!p) {
    coap_delete_pdu(pdu);
    return CPNS_ERR_NOMEM;
  }
  coap_session_new_token(session, &p->token_len, p->token);
  coap_add_token(pdu, p->token_len, p->token);
  int cf = node->json ? CPNS_CF_JSON : CPNS_CF_CBOR;
  uint8_t optbuf[4];
  if (add_path_options(pdu, path, query)) goto fail;
  if (method == COAP_REQUEST_CODE_GET) {
    /* RFC 7641 §3.6: Observe 1 (deregister) on a GET that observes nothing
     * is a plain GET to the server. It is here for libcoap 4.3.1's client,
     * which sets up the state to fetch the later blocks of an answer
     * (RFC 7959 Block2) when it sends an Observe request, and otherwise only
     * from a piggybacked answer: a separate answer (a relayed or deferred
     * one) carrying Block2 is dropped unseen without it. With it, libcoap
     * fetches the later blocks and hands us the whole body. */
    uint8_t ob[1];
    if (!coap_add_option(pdu, COAP_OPTION_OBSERVE,
                         coap_encode_var_safe(ob, sizeof ob, COAP_OBSERVE_CANCEL), ob))
      goto fail;
  }
  if (on_behalf && *on_behalf &&
      !coap_add_option(pdu, CPNS_OPTION_ON_BEHALF_OF, strnlen(on_behalf, CPNS_ID_MAX),
                       (const uint8_t *)on_behalf))
    goto fail;
  uint8_t *payload = NULL;
  size_t len = 0;
  if (body) {
    if (encode_body(body, cf, &payload, &len)) goto fail;
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(optbuf, sizeof optbuf, (unsigned)cf),
                    optbuf);
  }
  coap_add_option(pdu, COAP_OPTION_ACCEPT, coap_encode_var_safe(optbuf, sizeof optbuf, (unsigned)cf),
                  optbuf);
  if (payload && !coap_add_data_large_request(session, pdu, len, payload, release_buf, payload)) {
    free(payload);
    goto fail;
  }
  p->session = coap_session_reference(session);
  p->cb = cb;
  p->arg = arg;
  p->deadline_ms = now_ms() + (uint64_t)node->lim.request_timeout_ms;
  p->next = node->pending;
  node->pending = p;
  node->npending++;
  if (coap_send(session, pdu) == COAP_INVALID_MID) {
    /* libcoap freed the PDU; the callback still runs exactly once. */
    pending_finish(node, p, CPNS_ERR_UNAVAIL, NULL, "send failed");
  }
  return 0;
fail:
  coap_delete_pdu(pdu);
  free(p);
  return CPNS_ERR_INVAL;
}

static void expire_pending(struct cpns_node *node) {
  uint64_t now = now_ms();
  struct pending *p = node->pending;
  while (p) {
    struct pending *next = p->next;
    if (p->deadline_ms <= now) pending_finish(node, p, CPNS_ERR_TIMEOUT, NULL, "timed out");
    p = next;
  }
}

static void fail_session_pending(struct cpns_node *node, coap_session_t *s) {
  struct pending *p = node->pending;
  while (p) {
    struct pending *next = p->next;
    if (p->session == s) pending_finish(node, p, CPNS_ERR_UNAVAIL, NULL, "session closed");
    p = next;
  }
}

/* ---- sessions ---- */

static void run_hooks(struct cpns_node *node, coap_session_t *s, bool up) {
  for (unsigned i = 0; i < node->nhooks; i++) node->hooks[i].fn(node->hooks[i].arg, s, up);
}

static void live_add(struct cpns_node *node, coap_session_t *s) {
  if (coap_session_get_type(s) != COAP_SESSION_TYPE_SERVER) return;
  const coap_bin_const_t *id = coap_session_get_psk_identity(s);
  if (!id || id->length == 0 || id->length > CPNS_ID_MAX) return;
  for (size_t i = 0; i < node->nlive; i++)
    if (node->live[i].session == s) return;
  if (node->nlive == node->live_cap) {
    size_t cap = node->live_cap ? node->live_cap * 2 : 64;
    if (cap > (size_t)node->lim.max_sessions + (size_t)node->lim.max_handshakes)
      cap = (size_t)node->lim.max_sessions + (size_t)node->lim.max_handshakes;
    if (cap <= node->nlive) return; /* bounded: untracked beyond the limits */
    struct live_session *n = realloc(node->live, cap * sizeof *n);
    if (!n) return;
    node->live = n;
    node->live_cap = cap;
  }
  struct live_session *l = &node->live[node->nlive++];
  l->session = s;
  memcpy(l->identity, id->s, id->length);
  l->identity[id->length] = '\0';
  l->closing = false;
}

static void live_remove(struct cpns_node *node, coap_session_t *s) {
  for (size_t i = 0; i < node->nlive; i++)
    if (node->live[i].session == s) {
      node->live[i] = node->live[--node->nlive];
      return;
    }
}

unsigned cpns_node_close_identity(struct cpns_node *node, const char *identity) {
  unsigned n = 0;
  for (size_t i = 0; i < node->nlive; i++)
    if (strcmp(node->live[i].identity, identity) == 0 && !node->live[i].closing) {
      node->live[i].closing = true;
      n++;
    }
  return n;
}

/* Closes the sessions scheduled by cpns_node_close_identity; done between
 * loop turns so that a reply on such a session still goes out first. */
static void close_scheduled(struct cpns_node *node) {
  for (unsigned i = 0; i < node->nfailed; i++) {
    /* Looked up again by address: the session may be gone already. */
    coap_session_t *f = coap_session_get_by_peer(node->ctx, &node->failed[i].addr, node->failed[i].ifindex);
    if (f && coap_session_get_state(f) != COAP_SESSION_STATE_ESTABLISHED &&
        coap_session_get_state(f) != COAP_SESSION_STATE_NONE)
      coap_session_disconnected(f, COAP_NACK_TLS_FAILED);
  }
  node->nfailed = 0;
  for (size_t i = 0; i < node->nlive;) {
    if (!node->live[i].closing) {
      i++;
      continue;
    }
    coap_session_t *s = node->live[i].session;
    log_notice(node->name, "closing the session of %s (credentials changed)", node->live[i].identity);
    node->live[i] = node->live[--node->nlive];
    fail_session_pending(node, s);
    observers_drop_session(node, s);
    cpns_blockcache_drop_session(node->blocks, s);
    run_hooks(node, s, false);
    coap_session_disconnected(s, COAP_NACK_NOT_DELIVERABLE);
  }
}

void cpns_node_set_psk_lookup(struct cpns_node *node, cpns_psk_lookup_fn fn, void *arg) {
  node->psk_lookup = fn;
  node->psk_lookup_arg = arg;
}

static int on_event(coap_session_t *session, const coap_event_t event) {
  struct cpns_node *node = node_of(session);
  if (!node) return 0;
  switch (event) {
  case COAP_EVENT_DTLS_CONNECTED:
    if (coap_session_get_type(session) == COAP_SESSION_TYPE_SERVER &&
        coap_session_get_addr_remote(session))
      penalty_charge(node, &coap_session_get_addr_remote(session)->addr.sa, +1.0);
    live_add(node, session);
    run_hooks(node, session, true);
    break;
  case COAP_EVENT_SESSION_CONNECTED:
    run_hooks(node, session, true);
    break;
  case COAP_EVENT_DTLS_ERROR:
    if (coap_session_get_type(session) == COAP_SESSION_TYPE_SERVER) {
      char addr[CPNS_ADDR_MAX];
      cpns_session_addr(session, addr, sizeof addr);
      /* Most often a wrong or revoked key; never log what was presented. */
      CPNS_LOG_RL(CPNS_LOG_NOTICE, node->name, "%s: DTLS handshake failed (wrong key?)", addr);
      if (node->nfailed < NODE_MAX_FAILED && coap_session_get_addr_remote(session)) {
        node->failed[node->nfailed].addr = *coap_session_get_addr_remote(session);
        node->failed[node->nfailed].ifindex = coap_session_get_ifindex(session);
        node->nfailed++;
      }
    }
    /* fall through */
  case COAP_EVENT_DTLS_CLOSED:
  case COAP_EVENT_SESSION_CLOSED:
  case COAP_EVENT_SESSION_FAILED:
  case COAP_EVENT_SERVER_SESSION_DEL:
    live_remove(node, session);
    /* A later session may get this one's address: nothing kept for it. */
    cpns_blockcache_drop_session(node->blocks, session);
    observers_drop_session(node, session);
    fail_session_pending(node, session);
    run_hooks(node, session, false);
    break;
  default:
    break;
  }
  return 0;
}

void cpns_node_on_session(struct cpns_node *node, cpns_session_fn fn, void *arg) {
  if (node->nhooks < NODE_MAX_HOOKS) node->hooks[node->nhooks++] = (struct hook){fn, arg};
}

int cpns_node_on_unmatched(struct cpns_node *node, cpns_unmatched_fn fn, void *arg) {
  if (node->nunmatched >= NODE_MAX_HOOKS) return CPNS_ERR_LIMIT;
  node->unmatched[node->nunmatched++] = (struct unmatched_hook){fn, arg};
  return 0;
}

int cpns_node_on_nack(struct cpns_node *node, cpns_nack_fn fn, void *arg) {
  if (node->nnacks >= NODE_MAX_HOOKS) return CPNS_ERR_LIMIT;
  node->nacks[node->nnacks++] = (struct nack_hook){fn, arg};
  return 0;
}

coap_session_t *cpns_node_session_of(struct cpns_node *node, const char *identity) {
  coap_session_t *found = NULL;
  for (size_t i = 0; i < node->nlive; i++)
    if (!node->live[i].closing && strcmp(node->live[i].identity, identity) == 0 &&
        coap_session_get_state(node->live[i].session) == COAP_SESSION_STATE_ESTABLISHED)
      found = node->live[i].session;
  return found;
}

/* RFC 6347 §4.2.8: a ClientHello with epoch 0 from a peer whose session is
 * established means the peer lost its state; drop the old session so the new
 * handshake can proceed. */
static size_t ip_of(const struct sockaddr *sa, const uint8_t **ip) {
  if (sa->sa_family == AF_INET) {
    *ip = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    return 4;
  }
  if (sa->sa_family == AF_INET6) {
    *ip = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    return 16;
  }
  return 0;
}

/* The slot of this address, or a free or the least recently used one. */
static struct penalty *penalty_slot(struct cpns_node *node, const struct sockaddr *sa, bool create) {
  const uint8_t *ip;
  size_t len = ip_of(sa, &ip);
  if (!len) return NULL;
  struct penalty *victim = &node->penalties[0];
  for (unsigned i = 0; i < NODE_PENALTY_SLOTS; i++) {
    struct penalty *p = &node->penalties[i];
    if (p->iplen == len && memcmp(p->ip, ip, len) == 0) return p;
    if (p->iplen == 0 || p->last_ms < victim->last_ms) victim = p;
  }
  if (!create) return NULL;
  memset(victim, 0, sizeof *victim);
  memcpy(victim->ip, ip, len);
  victim->iplen = (uint8_t)len;
  victim->tokens = (double)node->lim.handshake_failures;
  victim->last_ms = now_ms();
  return victim;
}

/* Adds delta tokens (-1 for a handshake begun, +1 for one completed) to the
 * bucket of sa's source address; a dry bucket bans the address. */
static void penalty_charge(struct cpns_node *node, const struct sockaddr *sa, double delta) {
  if (node->lim.handshake_failures <= 0) return;
  struct penalty *p = penalty_slot(node, sa, delta < 0);
  if (!p) return;
  uint64_t now = now_ms();
  double rate = (double)node->lim.handshake_failures / NODE_PENALTY_MS;
  p->tokens += (double)(now - p->last_ms) * rate;
  if (p->tokens > node->lim.handshake_failures) p->tokens = (double)node->lim.handshake_failures;
  p->last_ms = now;
  p->tokens += delta;
  if (p->tokens > node->lim.handshake_failures) p->tokens = (double)node->lim.handshake_failures;
  if (p->tokens < 0 && p->banned_until_ms < now) {
    p->banned_until_ms = now + NODE_PENALTY_MS;
    p->tokens = 0;
    CPNS_LOG_RL(CPNS_LOG_WARNING, node->name,
                "too many failed handshakes from one source: new ones dropped for %ds",
                NODE_PENALTY_MS / 1000);
  }
}

static bool penalty_banned(struct cpns_node *node, const struct sockaddr *sa) {
  if (node->lim.handshake_failures <= 0) return false;
  struct penalty *p = penalty_slot(node, sa, false);
  return p && p->banned_until_ms > now_ms();
}

static void check_client_hello(struct cpns_node *node, int fd) {
  uint8_t head[24];
  struct sockaddr_storage from;
  char cbuf[256];
  struct iovec iov = {head, sizeof head};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = &from;
  mh.msg_namelen = sizeof from;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  ssize_t n = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT);
  if (n < 19) return;
  bool hello = head[0] == 22 && head[1] == 0xfe && head[3] == 0 && head[4] == 0 && head[13] == 1;
  if (!hello) return;
  if (penalty_banned(node, (const struct sockaddr *)&from)) {
    /* Taken off the socket before libcoap sees it: no handshake state. */
    (void)recv(fd, head, sizeof head, MSG_DONTWAIT);
    node->stats.dropped_limit++;
    return;
  }
  int ifindex = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
      ifindex = ((struct in_pktinfo *)(void *)CMSG_DATA(c))->ipi_ifindex;
    else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
      ifindex = (int)((struct in6_pktinfo *)(void *)CMSG_DATA(c))->ipi6_ifindex;
  }
  coap_address_t addr;
  coap_address_init(&addr);
  memcpy(&addr.addr, &from, mh.msg_namelen);
  addr.size = mh.msg_namelen;
  coap_session_t *s = coap_session_get_by_peer(node->ctx, &addr, ifindex);
  if (!s) return;
  /* A handshake in progress is replaced only by a client's first flight
   * (message_seq 0): libcoap creates a session after the cookie exchange,
   * whose ClientHello has message_seq 1. A client that restarted in the
   * middle of a handshake the server cannot finish (a wrong key: DTLS drops
   * bad records silently) would otherwise be stuck behind it. */
  unsigned message_seq = (unsigned)head[17] << 8 | head[18];
  coap_session_state_t st = coap_session_get_state(s);
  if (st != COAP_SESSION_STATE_ESTABLISHED &&
      !(st == COAP_SESSION_STATE_HANDSHAKE && message_seq == 0))
    return;
  char astr[CPNS_ADDR_MAX];
  addr_to_str(&addr, astr, sizeof astr);
  CPNS_LOG_RL(CPNS_LOG_NOTICE, node->name, "%s: new DTLS handshake on a live session; replacing it",
              astr);
  node->stats.stale_sessions_replaced++;
  live_remove(node, s);
  fail_session_pending(node, s);
  cpns_blockcache_drop_session(node->blocks, s);
  run_hooks(node, s, false);
  coap_session_disconnected(s, COAP_NACK_NOT_DELIVERABLE);
}

/* libcoap keeps endpoint sockets private; find ours by the bound port. */
static void find_listen_fds(struct cpns_node *node, const coap_address_t *a) {
  for (int fd = 3; fd < NODE_SCAN_FD_MAX && node->nlisten_fds < NODE_MAX_LISTEN_FDS; fd++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_DGRAM) continue;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) continue;
    if (ss.ss_family != a->addr.sa.sa_family) continue;
    uint16_t port = ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port;
    uint16_t want = a->addr.sa.sa_family == AF_INET ? a->addr.sin.sin_port : a->addr.sin6.sin6_port;
    if (port != want) continue;
    bool known = false;
    for (unsigned i = 0; i < node->nlisten_fds; i++) known |= node->listen_fds[i] == fd;
    if (known) continue;
    node->listen_fds[node->nlisten_fds++] = fd;
    int rcvbuf = NODE_LISTEN_RCVBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf))
      log_info(node->name, "cannot enlarge the receive buffer of a listener: %s", strerror(errno));
  }
}

/* ---- life cycle ---- */

static int add_endpoint(struct cpns_node *node, const char *spec, coap_proto_t proto,
                        coap_address_t *out, char *err, size_t errlen) {
  if (cpns_parse_hostport(spec, out, proto == COAP_PROTO_DTLS ? 5684 : 5683)) {
    snprintf(err, errlen, "bad listen address '%s'", spec);
    return CPNS_ERR_CONFIG;
  }
  /* libcoap binds with SO_REUSEADDR, so a second daemon on the same port
   * would silently share it: probe with a plain bind first. */
  int probe = socket(out->addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    int busy = bind(probe, &out->addr.sa, out->size) != 0 && errno == EADDRINUSE;
    close(probe);
    if (busy) {
      snprintf(err, errlen, "%s is already in use", spec);
      return CPNS_ERR_IO;
    }
  }
  if (!coap_new_endpoint(node->ctx, out, proto)) {
    snprintf(err, errlen, "cannot listen on %s (%s)", spec, proto == COAP_PROTO_DTLS ? "coaps" : "coap");
    return CPNS_ERR_IO;
  }
  return 0;
}

int cpns_node_new(const struct cpns_node_config *cfg, struct cpns_node **out, char *err,
                  size_t errlen) {
  static bool started;
  if (!started) {
    coap_startup();
    coap_set_log_handler(coap_log_bridge);
    started = true;
  }
  /* libcoap logs at our level minus one: its notices are our debug lines. */
  coap_set_log_level(cpns_log_get_level() >= CPNS_LOG_DEBUG ? LOG_INFO : LOG_WARNING);
  coap_dtls_set_log_level(cpns_log_get_level() >= CPNS_LOG_DEBUG ? LOG_INFO : LOG_ERR);

  struct cpns_node *node = calloc(1, sizeof *node);
  if (!node) return CPNS_ERR_NOMEM;
  node->epfd = node->sigfd = -1;
  snprintf(node->name, sizeof node->name, "%s", cfg->name ? cfg->name : "node");
  node->plain = cfg->plain;
  node->keyring = cfg->keyring;
  if (cfg->client_source && *cfg->client_source) {
    if (cpns_parse_hostport(cfg->client_source, &node->source, 0)) {
      snprintf(err, errlen, "bad source address '%s'", cfg->client_source);
      free(node);
      return CPNS_ERR_CONFIG;
    }
    node->has_source = true;
  }
  node->lim = cfg->limits;
  int rc = CPNS_ERR_NOMEM;
  struct cpns_blockcache_limits bl = {node->lim.block_cache_entries,
                                      node->lim.block_cache_per_session,
                                      node->lim.block_cache_bytes,
                                      node->lim.block_cache_age * 1000};
  rc = cpns_blockcache_new(&bl, &node->blocks);
  if (rc) {
    snprintf(err, errlen, "bad block cache limits");
    goto fail;
  }
  rc = CPNS_ERR_NOMEM;
  node->ctx = coap_new_context(NULL);
  if (!node->ctx) goto fail;
  rc = node_register(node->ctx, node);
  if (rc) {
    snprintf(err, errlen, "too many nodes in one process");
    coap_free_context(node->ctx);
    node->ctx = NULL;
    goto fail;
  }
  coap_context_set_block_mode(node->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_context_set_max_idle_sessions(node->ctx, (unsigned)node->lim.max_sessions);
  coap_context_set_max_handshake_sessions(node->ctx, (unsigned)node->lim.max_handshakes);
  coap_context_set_session_timeout(node->ctx, (unsigned)node->lim.session_timeout);
  if (node->lim.keepalive > 0) coap_context_set_keepalive(node->ctx, (unsigned)node->lim.keepalive);
  /* Without this, libcoap ignores the per-resource multicast flags set on
   * /.well-known/core below and delays every multicast answer by up to 5 s. */
  coap_mcast_per_resource(node->ctx);
  coap_register_response_handler(node->ctx, on_response);
  coap_register_nack_handler(node->ctx, on_nack);
  coap_register_event_handler(node->ctx, on_event);
  coap_register_option(node->ctx, CPNS_OPTION_ON_BEHALF_OF);

  if (cfg->listen && *cfg->listen) {
    coap_address_t a;
    if (!cfg->plain) {
      coap_dtls_spsk_t spsk;
      memset(&spsk, 0, sizeof spsk);
      spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
      spsk.validate_id_call_back = psk_for_identity;
      spsk.id_call_back_arg = node;
      spsk.psk_info.hint.s = (const uint8_t *)"cpns";
      spsk.psk_info.hint.length = 4;
      if (!coap_context_set_psk2(node->ctx, &spsk)) {
        snprintf(err, errlen, "cannot set up DTLS-PSK");
        rc = CPNS_ERR_CRYPTO;
        goto fail;
      }
    } else {
      log_warn(node->name, "listener %s runs plain CoAP WITHOUT DTLS: development only", cfg->listen);
    }
    rc = add_endpoint(node, cfg->listen, cfg->plain ? COAP_PROTO_UDP : COAP_PROTO_DTLS, &a, err, errlen);
    if (rc) goto fail;
    if (!cfg->plain) find_listen_fds(node, &a);
  }
  node->trusted = cfg->trusted_peers;
  if (cfg->trusted_listen && *cfg->trusted_listen) {
    rc = add_endpoint(node, cfg->trusted_listen, COAP_PROTO_UDP, &node->trusted_addr, err, errlen);
    if (rc) goto fail;
    node->has_trusted = true;
    log_notice(node->name,
               "listener %s runs WITHOUT DTLS for %zu peers: underlying network declared secure "
               "(Appendix D)", cfg->trusted_listen, cpns_trustlink_count(node->trusted));
  }
  if (cfg->trusted_upstream)
    snprintf(node->trusted_upstream, sizeof node->trusted_upstream, "%s", cfg->trusted_upstream);
  if (cfg->discovery && *cfg->discovery) {
    coap_address_t a;
    rc = add_endpoint(node, cfg->discovery, COAP_PROTO_UDP, &a, err, errlen);
    if (rc) goto fail;
    if (cfg->multicast) {
      const char *ifn = cfg->mcast_ifname && *cfg->mcast_ifname ? cfg->mcast_ifname : NULL;
      if (coap_join_mcast_group_intf(node->ctx, "224.0.1.187", ifn))
        log_warn(node->name, "cannot join 224.0.1.187%s%s", ifn ? " on " : "", ifn ? ifn : "");
      /* An IPv4 listener cannot take the IPv6 group. */
      if (a.addr.sa.sa_family == AF_INET6 && coap_join_mcast_group_intf(node->ctx, "ff02::fd", ifn))
        log_info(node->name, "cannot join ff02::fd%s%s", ifn ? " on " : "", ifn ? ifn : "");
    }
  }

  coap_resource_t *unknown = coap_resource_unknown_init2(on_request, 0);
  const coap_request_t methods[] = {COAP_REQUEST_GET, COAP_REQUEST_POST, COAP_REQUEST_DELETE,
                                    COAP_REQUEST_FETCH, COAP_REQUEST_PATCH, COAP_REQUEST_IPATCH};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    coap_register_request_handler(unknown, methods[i], on_request);
  coap_add_resource(node->ctx, unknown);
  node->unknown = unknown;
  coap_resource_t *wk = coap_resource_init(coap_make_str_const(".well-known/core"),
                                           COAP_RESOURCE_FLAGS_HAS_MCAST_SUPPORT |
                                               COAP_RESOURCE_FLAGS_LIB_DIS_MCAST_DELAYS |
                                               COAP_RESOURCE_FLAGS_LIB_ENA_MCAST_SUPPRESS_2_05);
  coap_register_request_handler(wk, COAP_REQUEST_GET, on_well_known);
  coap_add_resource(node->ctx, wk);

  node->coap_fd = coap_context_get_coap_fd(node->ctx);
  node->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (node->epfd < 0 || node->coap_fd < 0) {
    snprintf(err, errlen, "epoll unavailable (libcoap built without epoll?)");
    rc = CPNS_ERR_IO;
    goto fail;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = node->coap_fd};
  epoll_ctl(node->epfd, EPOLL_CTL_ADD, node->coap_fd, &ev);
  for (unsigned i = 0; i < node->nlisten_fds; i++) {
    ev.data.fd = node->listen_fds[i];
    epoll_ctl(node->epfd, EPOLL_CTL_ADD, node->listen_fds[i], &ev);
  }
  *out = node;
  return 0;
fail:
  cpns_node_free(node);
  return rc;
}

void cpns_node_free(struct cpns_node *node) {
  if (!node) return;
  while (node->pending) pending_finish(node, node->pending, CPNS_ERR_UNAVAIL, NULL, "shutting down");
  while (node->deferred) {
    struct cpns_deferred *d = node->deferred;
    deferred_unlink(node, d);
    free(d->payload);
    free(d);
  }
  /* Whoever registered hooks may be gone already: no callbacks during
   * teardown, when libcoap closes every session (and flushes the messages
   * still queued on them through the nack handler). */
  node->nhooks = 0;
  node->nunmatched = 0;
  node->nnacks = 0;
  if (node->doomed) { /* append: libcoap frees the resources with the context */
    struct observable *last = node->doomed;
    while (last->next) last = last->next;
    last->next = node->observables;
    node->observables = node->doomed;
    node->doomed = NULL;
  }
  while (node->observables) {
    struct observable *o = node->observables;
    node->observables = o->next;
    free(o->obs);
    free(o);
  }
  if (node->ctx) {
    coap_free_context(node->ctx);
    node_unregister(node->ctx);
  }
  if (node->epfd >= 0) close(node->epfd);
  if (node->sigfd >= 0) close(node->sigfd);
  free(node->live);
  cpns_blockcache_free(node->blocks);
  free(node);
}

coap_context_t *cpns_node_context(struct cpns_node *node) { return node->ctx; }
void cpns_node_set_keyring(struct cpns_node *node, const struct cpns_keyring *kr) {
  node->keyring = kr;
}
void cpns_node_set_trusted_peers(struct cpns_node *node, const struct cpns_trustlink *t) {
  node->trusted = t;
}
void cpns_node_set_json(struct cpns_node *node, bool json) { node->json = json; }

int cpns_node_route(struct cpns_node *node, coap_pdu_code_t method, const char *pattern,
                    cpns_handler_fn fn, void *arg) {
  if (node->nroutes >= NODE_MAX_ROUTES) return CPNS_ERR_LIMIT;
  struct route *r = &node->routes[node->nroutes];
  memset(r, 0, sizeof *r);
  char buf[CPNS_MAX_SEGMENTS * (CPNS_SEGMENT_MAX + 1)];
  snprintf(buf, sizeof buf, "%s", pattern);
  char *save = NULL;
  for (char *s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
    if (r->nseg >= CPNS_MAX_SEGMENTS || strlen(s) > CPNS_SEGMENT_MAX) return CPNS_ERR_INVAL;
    snprintf(r->seg[r->nseg++], CPNS_SEGMENT_MAX + 1, "%s", s);
  }
  r->method = method;
  r->fn = fn;
  r->arg = arg;
  node->nroutes++;
  return 0;
}

int cpns_node_route_as(struct cpns_node *node, coap_pdu_code_t method, const char *pattern,
                       unsigned allow, const char *action, cpns_handler_fn fn, void *arg) {
  int rc = cpns_node_route(node, method, pattern, fn, arg);
  if (rc) return rc;
  struct route *r = &node->routes[node->nroutes - 1];
  r->guarded = true;
  r->allow = allow;
  r->action = action;
  return 0;
}

void cpns_node_set_delegation(struct cpns_node *node, cpns_delegate_fn fn, void *arg) {
  node->delegate = fn;
  node->delegate_arg = arg;
}

void cpns_node_set_relations(struct cpns_node *node, cpns_relations_fn fn, void *arg) {
  node->relations = fn;
  node->relations_arg = arg;
}

static const struct {
  unsigned bit;
  const char *name;
} rel_names[] = {
    {CPNS_REL_ANY, "any authenticated entity"},
    {CPNS_REL_OPERATOR, "operator"},
    {CPNS_REL_SERVER, "server (CPNS-7)"},
    {CPNS_REL_GW_OF_PN, "the PN's own PN GW"},
    {CPNS_REL_GW, "a PN GW, for its own PN"},
    {CPNS_REL_READER, "a PN GW whose PN the owner lets read"},
    {CPNS_REL_MEMBER, "PNE member of the PN"},
    {CPNS_REL_SELF, "the entity itself"},
    {CPNS_REL_APP, "local application"},
    {CPNS_REL_GATEWAY, "its PN GW (CPNS-6)"},
    {CPNS_REL_ENROLLEE, "a device proving its enrollment code"},
    {CPNS_REL_OWNER, "the group's owner"},
    {CPNS_REL_GROUP_MEMBER, "a member of the group"},
    {CPNS_REL_JOINER, "the identity itself, if invited or the group is open"},
    {CPNS_REL_VIA_GW, "a PNE, through its PN GW"},
    {CPNS_REL_RELAYED, "PNE member of the PN, relayed to the server (its rule decides)"},
    {CPNS_REL_OFFERER, "the service's offerer"},
    {CPNS_REL_SUBSCRIBER, "the interest's owner"},
    {CPNS_REL_EXTERNAL, "an external server (CPNS-4, within its token's scopes)"},
};

void cpns_node_write_authz(const struct cpns_node *node, FILE *out) {
  fprintf(out, "| method | resource | who may call it | otherwise |\n|---|---|---|---|\n");
  for (unsigned i = 0; i < node->nroutes; i++) {
    const struct route *r = &node->routes[i];
    if (!r->guarded) continue;
    fprintf(out, "| %s | `/%s", method_name(r->method), CPNS_PATH_PREFIX);
    for (unsigned j = 0; j < r->nseg; j++) fprintf(out, "/%s", r->seg[j]);
    fprintf(out, "` | ");
    bool first = true;
    for (size_t j = 0; j < sizeof rel_names / sizeof rel_names[0]; j++)
      if (r->allow & rel_names[j].bit) {
        fprintf(out, "%s%s", first ? "" : ", ", rel_names[j].name);
        first = false;
      }
    fprintf(out, " | 4.01 anonymous, 4.03 others |\n");
  }
}

int cpns_node_add_link(struct cpns_node *node, const char *path, const char *attrs) {
  struct link *l = NULL;
  for (unsigned i = 0; i < node->nlinks && !l; i++)
    if (strcmp(node->links[i].path, path) == 0) l = &node->links[i]; /* replace */
  if (!l) {
    if (node->nlinks >= NODE_MAX_LINKS) return CPNS_ERR_LIMIT;
    l = &node->links[node->nlinks];
  }
  if (strlen(path) >= sizeof l->path || strlen(attrs) >= sizeof l->attrs) return CPNS_ERR_TOOBIG;
  bool is_new = l == &node->links[node->nlinks];
  snprintf(l->path, sizeof l->path, "%s", path);
  snprintf(l->attrs, sizeof l->attrs, "%s", attrs);
  if (is_new) node->nlinks++;
  return 0;
}

int cpns_node_every(struct cpns_node *node, long interval_ms, cpns_timer_fn fn, void *arg) {
  if (node->ntimers >= NODE_MAX_TIMERS || interval_ms <= 0) return CPNS_ERR_LIMIT;
  node->timers[node->ntimers++] =
      (struct timer){interval_ms, now_ms() + (uint64_t)interval_ms, fn, arg};
  return 0;
}

int cpns_node_watch_fd(struct cpns_node *node, int fd, cpns_fd_fn fn, void *arg) {
  if (node->nwatches >= NODE_MAX_FDS) return CPNS_ERR_LIMIT;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  if (epoll_ctl(node->epfd, EPOLL_CTL_ADD, fd, &ev)) return CPNS_ERR_IO;
  node->watches[node->nwatches++] = (struct watch){fd, fn, arg};
  return 0;
}

int cpns_node_on_step(struct cpns_node *node, cpns_step_fn fn, void *arg) {
  if (node->nsteps >= NODE_MAX_HOOKS) return CPNS_ERR_LIMIT;
  node->steps[node->nsteps++] = (struct step_hook){fn, arg};
  return 0;
}

static void run_timers(struct cpns_node *node) {
  uint64_t now = now_ms();
  for (unsigned i = 0; i < node->ntimers; i++) {
    struct timer *t = &node->timers[i];
    if (t->due_ms > now) continue;
    t->due_ms = now + (uint64_t)t->interval_ms;
    t->fn(t->arg);
  }
}

static long next_timer_ms(struct cpns_node *node, long cap) {
  uint64_t now = now_ms();
  long wait = cap;
  for (unsigned i = 0; i < node->ntimers; i++) {
    long left = node->timers[i].due_ms > now ? (long)(node->timers[i].due_ms - now) : 0;
    if (left < wait) wait = left;
  }
  if (node->pending) {
    for (struct pending *p = node->pending; p; p = p->next) {
      long left = p->deadline_ms > now ? (long)(p->deadline_ms - now) : 0;
      if (left < wait) wait = left;
    }
  }
  return wait;
}

int cpns_node_step(struct cpns_node *node, long timeout_ms) {
  close_scheduled(node);
  delete_doomed(node);
  coap_tick_t now;
  coap_ticks(&now);
  unsigned coap_wait = coap_io_prepare_epoll(node->ctx, now);
  long wait = next_timer_ms(node, timeout_ms);
  if (coap_wait && (long)coap_wait < wait) wait = (long)coap_wait;
  for (unsigned i = 0; i < node->nsteps; i++) {
    long w = node->steps[i].fn(node->steps[i].arg);
    if (w >= 0 && w < wait) wait = w;
  }
  struct epoll_event evs[NODE_EPOLL_EVENTS];
  int n = epoll_wait(node->epfd, evs, NODE_EPOLL_EVENTS, (int)wait);
  if (n < 0 && errno != EINTR) return CPNS_ERR_IO;
  for (int i = 0; i < n; i++) {
    int fd = evs[i].data.fd;
    if (fd == node->sigfd) {
      struct signalfd_siginfo si;
      if (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
          log_notice(node->name, "SIGHUP: reloading");
          if (node->on_hup) node->on_hup(node->on_hup_arg);
        } else {
          log_notice(node->name, "signal %u: shutting down", si.ssi_signo);
          node->stop = true;
        }
      }
      continue;
    }
    for (unsigned j = 0; j < node->nlisten_fds; j++)
      if (fd == node->listen_fds[j]) check_client_hello(node, fd);
    for (unsigned j = 0; j < node->nwatches; j++)
      if (fd == node->watches[j].fd) node->watches[j].fn(node->watches[j].arg, fd);
  }
  /* libcoap's timers ran in coap_io_prepare_epoll() above; here only its
   * ready sockets are handled (coap_io_process() would walk every session a
   * second time, which dominates the cost with many sessions). */
  for (unsigned round = 0; round < NODE_DRAIN_ROUNDS; round++) {
    /* Each further round peeks at the listeners first, as above, so that
     * no ClientHello reaches libcoap unseen. */
    if (round)
      for (unsigned j = 0; j < node->nlisten_fds; j++) check_client_hello(node, node->listen_fds[j]);
    struct epoll_event cevs[NODE_EPOLL_EVENTS];
    int cn = epoll_wait(node->coap_fd, cevs, NODE_EPOLL_EVENTS, 0);
    if (cn <= 0) break;
    coap_io_do_epoll(node->ctx, cevs, (size_t)cn);
  }
  expire_pending(node);
  uint64_t now_sweep = now_ms();
  if (node->blocks && now_sweep - node->blocks_swept_ms >= NODE_BLOCK_SWEEP_MS) {
    cpns_blockcache_expire(node->blocks, now_sweep);
    node->blocks_swept_ms = now_sweep;
  }
  run_timers(node);
  return 0;
}

int cpns_node_run(struct cpns_node *node, void (*on_hup)(void *arg), void *arg) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  node->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (node->sigfd < 0) return CPNS_ERR_IO;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = node->sigfd};
  epoll_ctl(node->epfd, EPOLL_CTL_ADD, node->sigfd, &ev);
  node->on_hup = on_hup;
  node->on_hup_arg = arg;
  while (!node->stop) {
    if (cpns_node_step(node, 1000)) return CPNS_ERR_IO;
  }
  return 0;
}

void cpns_node_stop(struct cpns_node *node) { node->stop = true; }
bool cpns_node_stopping(const struct cpns_node *node) { return node->stop; }

int cpns_node_connect(struct cpns_node *node, const char *uri, const char *identity,
                      const uint8_t key[CPNS_PSK_LEN], coap_session_t **out, char *err,
                      size_t errlen) {
  bool secure;
  const char *hp;
  if (strncmp(uri, "coaps://", 8) == 0) {
    secure = true;
    hp = uri + 8;
  } else if (strncmp(uri, "coap://", 7) == 0) {
    secure = false;
    hp = uri + 7;
  } else {
    snprintf(err, errlen, "'%s': expected coaps://host:port or coap://host:port", uri);
    return CPNS_ERR_CONFIG;
  }
  char host[256];
  snprintf(host, sizeof host, "%s", hp);
  host[strcspn(host, "/")] = '\0';
  coap_address_t a;
  if (cpns_parse_hostport(host, &a, secure ? 5684 : 5683)) {
    snprintf(err, errlen, "'%s': cannot resolve", uri);
    return CPNS_ERR_CONFIG;
  }
  coap_session_t *s;
  if (secure) {
    coap_dtls_cpsk_t cpsk;
    memset(&cpsk, 0, sizeof cpsk);
    cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
    cpsk.psk_info.identity.s = (const uint8_t *)identity;
    cpsk.psk_info.identity.length = strlen(identity);
    cpsk.psk_info.key.s = key;
    cpsk.psk_info.key.length = CPNS_PSK_LEN;
    s = coap_new_client_session_psk2(node->ctx, node->has_source ? &node->source : NULL, &a,
                                     COAP_PROTO_DTLS, &cpsk);
  } else {
    if (node->trusted_upstream[0] && strcmp(uri, node->trusted_upstream) == 0)
      log_info(node->name, "connecting to %s without DTLS (trusted link, Appendix D)", uri);
    else
      log_warn(node->name, "connecting to %s WITHOUT DTLS: development only", uri);
    s = coap_new_client_session(node->ctx, node->has_source ? &node->source : NULL, &a,
                                COAP_PROTO_UDP);
  }
  if (!s) {
    snprintf(err, errlen, "cannot open a session to %s", uri);
    return CPNS_ERR_IO;
  }
  coap_fixed_point_t ack = {(uint16_t)(node->lim.ack_timeout_ms / 1000),
                            (uint16_t)(node->lim.ack_timeout_ms % 1000)};
  coap_session_set_ack_timeout(s, ack);
  coap_session_set_max_retransmit(s, (uint16_t)node->lim.max_retransmit);
  if (!secure && node->trusted_upstream[0] && strcmp(uri, node->trusted_upstream) == 0)
    node->trusted_session = s;
  *out = s; /* a new client session holds one reference: the caller's */
  return 0;
}

void cpns_node_close_session(struct cpns_node *node, coap_session_t *session) {
  if (!session) return;
  if (session == node->trusted_session) node->trusted_session = NULL;
  fail_session_pending(node, session);
  cpns_blockcache_drop_session(node->blocks, session);
  /* Retransmissions still queued hold references of their own; flushing
   * them lets the session go now, so a new one from the same source port
   * is not a "duplicate". Also in state NONE: after an ICMP error libcoap
   * 4.3.1 disconnects the session but keeps its confirmable messages for
   * retransmission, and the retransmission of one, re-opening DTLS, drops
   * the queue's reference and then uses the session (freed when ours was
   * the last one besides it): a crash in coap_io_prepare_io. */
  coap_session_disconnected(session, COAP_NACK_NOT_DELIVERABLE);
  coap_session_release(session);
}

void cpns_node_get_stats(const struct cpns_node *node, struct cpns_node_stats *out) {
  *out = node->stats;
  out->pending = node->npending;
}

void cpns_node_set_upstream_peer(struct cpns_node *node, const struct cpns_key_entry *peer) {
  node->upstream_peer = peer;
}

static void relay_done(void *arg, int code, const json_t *body, const char *diag) {
  struct cpns_deferred *d = arg;
  if (code < 0) {
    cpns_deferred_reply(d, code == CPNS_ERR_TIMEOUT ? 504 : 503, NULL,
                        code == CPNS_ERR_TIMEOUT ? "upstream timed out" : "upstream unavailable");
    return;
  }
  cpns_deferred_reply(d, code, body ? json_deep_copy(body) : NULL, diag);
}

void cpns_relay(struct cpns_req *req, coap_session_t *upstream) {
  cpns_relay_for(req, upstream, NULL);
}

void cpns_relay_for(struct cpns_req *req, coap_session_t *upstream, const char *on_behalf) {
  if (!upstream) {
    cpns_reply_error(req, 503, "upstream not connected");
    return;
  }
  char path[CPNS_MAX_SEGMENTS * (CPNS_SEGMENT_MAX + 1) + 1] = "";
  size_t used = 0;
  for (unsigned i = 0; i < req->nseg; i++)
    used += (size_t)snprintf(path + used, sizeof path - used, "%s%s", i ? "/" : "", req->seg[i]);
  struct cpns_deferred *d = cpns_req_defer(req);
  if (!d) return;
  if (cpns_node_request_for(req->node, upstream, req->method, path, req->query, req->body,
                            on_behalf, relay_done, d))
    cpns_deferred_reply(d, 503, NULL, "cannot relay");
}

/* ---- local dispatch (cpns_node_dispatch in node.h) ---- */

/* Splits path (relative to /cpns/v1) and query into req as parse_uri does
 * for a CoAP request; returns a CoAP error code or 0. */
static int local_parse(const char *path, const char *query, struct cpns_req *req) {
  const char *p = path;
  while (*p) {
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 0) return 404; /* "a//b", a trailing '/' */
    if (len > CPNS_SEGMENT_MAX || req->nseg >= CPNS_MAX_SEGMENTS) return 414;
    memcpy(req->seg[req->nseg], p, len);
    req->seg[req->nseg++][len] = '\0';
    if (!end) break;
    p = end + 1;
    if (!*p) return 404;
  }
  if (query) {
    size_t qlen = strlen(query);
    if (qlen >= CPNS_QUERY_MAX) return 414;
    memcpy(req->query, query, qlen + 1);
  }
  return 0;
}

/* The Location-Path options a handler put in its (scratch) response, as
 * "/a/b/c" in out ("" for none). */
static void local_location(const coap_pdu_t *response, char *out, size_t outlen) {
  size_t used = 0;
  out[0] = '\0';
  if (!response) return;
  coap_opt_iterator_t it;
  coap_opt_t *opt;
  coap_option_iterator_init(response, &it, COAP_OPT_ALL);
  while ((opt = coap_option_next(&it))) {
    if (it.number != COAP_OPTION_LOCATION_PATH) continue;
    size_t len = coap_opt_length(opt);
    if (used + 1 + len >= outlen) { /* never with our handlers: drop rather than cut */
      out[0] = '\0';
      return;
    }
    out[used++] = '/';
    memcpy(out + used, coap_opt_value(opt), len);
    used += len;
    out[used] = '\0';
  }
}

int cpns_node_dispatch(struct cpns_node *node, coap_pdu_code_t method, const char *path,
                       const char *query, json_t *body, const struct cpns_key_entry *peer,
                       cpns_local_fn cb, void *arg) {
  if (!node || !path || !peer || !cb) return CPNS_ERR_INVAL;
  struct cpns_local local = {0};
  struct cpns_req *req = calloc(1, sizeof *req);
  if (!req) {
    struct cpns_local_reply r = {500, NULL, "out of memory", ""};
    cb(arg, &r);
    return 0;
  }
  node->stats.requests++;
  req->node = node;
  req->method = method;
  req->peer = peer;
  req->accept = CPNS_CF_JSON;
  req->local = &local;
  int code = local_parse(path, query, req);
  if (code) {
    cpns_reply_error(req, code, code == 404 ? "no such resource" : "bad URI");
  } else {
    /* Scratch PDUs, so that handlers may read options of the request (there
     * are none) and add some to their response as they do over CoAP. */
    req->pdu = coap_pdu_init(COAP_MESSAGE_CON, method, 0, NODE_LOCAL_PDU_MAX);
    req->response = coap_pdu_init(COAP_MESSAGE_ACK, 0, 0, NODE_LOCAL_PDU_MAX);
    if (!req->pdu || !req->response) {
      cpns_reply_error(req, 500, "out of memory");
    } else {
      req->body = body ? json_incref(body) : NULL;
      /* on_request sets it for each CoAP request; a local request is never
       * an Observe notification. */
      bool notifying = node->notifying;
      node->notifying = false;
      route(node, req);
      node->notifying = notifying;
    }
  }
  if (!local.done) local_capture(req, 500, NULL, "no reply");
  char location[CPNS_MAX_SEGMENTS * (CPNS_SEGMENT_MAX + 1) + 16];
  local_location(req->response, location, sizeof location);
  if (cpns_log_get_level() >= CPNS_LOG_DEBUG)
    log_debug(node->name, "local %s %s %s%s%s -> %d.%02d", method_name(method), peer->identity,
              req->nseg ? req->seg[0] : "", req->nseg > 1 ? "/" : "",
              req->nseg > 1 ? req->seg[1] : "", local.code / 100, local.code % 100);
  struct cpns_local_reply r = {local.code, local.body, local.diag, location};
  cb(arg, &r);
  json_decref(local.body);
  json_decref(req->body);
  if (req->pdu) coap_delete_pdu((coap_pdu_t *)req->pdu);
  if (req->response) coap_delete_pdu(req->response);
  free(req);
  return 0;
}
