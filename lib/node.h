/* SPDX-License-Identifier: Apache-2.0 */
/* One CPNS node: a libcoap context with its endpoints, its DTLS-PSK identities,
 * a request router, outgoing requests with callbacks, deferred replies, timers
 * and the event loop. Every daemon (and the client library) runs exactly one
 * node in one thread; nothing here is thread-safe, as libcoap is not.
 *
 * Requests arrive at the router with the peer's authenticated identity (the
 * DTLS-PSK identity, looked up in the keyring), the path split into segments
 * after the protocol prefix "/cpns/v1", the decoded payload (CBOR or JSON) and
 * the content format the reply must use. */
#ifndef CPNS_NODE_H
#define CPNS_NODE_H

#include <coap3/coap.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "codec.h"
#include "keyring.h"

#define CPNS_PATH_PREFIX "cpns/v1"
#define CPNS_MAX_SEGMENTS 8
#define CPNS_SEGMENT_MAX 64
#define CPNS_QUERY_MAX 256            /* bytes of a request's query we accept */
#define CPNS_CLIENT_QUERY_MAX 1024    /* bytes of a query we send (the peer judges it) */
#define CPNS_DIAG_MAX 160
#define CPNS_RESPONSE_MAX (1024 * 1024)   /* bytes of one decoded answer */
#define CPNS_RESPONSE_ITEMS_MAX 65536

struct cpns_node;
struct cpns_deferred;
struct cpns_trustlink; /* trustlink.h */

struct cpns_node_limits {
  long max_sessions;       /* idle server sessions kept (libcoap: unlimited by default) */
  long max_handshakes;     /* DTLS handshakes in progress at once */
  long session_timeout;    /* seconds before an idle server session is dropped */
  long max_pending;        /* outgoing requests and deferred replies in flight */
  long max_payload;        /* bytes of one request body */
  long request_timeout_ms; /* give up on an outgoing request after this */
  long ack_timeout_ms;     /* CoAP ACK_TIMEOUT for our sessions */
  long max_retransmit;     /* CoAP MAX_RETRANSMIT for our sessions */
  long keepalive;          /* seconds between pings on client sessions; 0 = none */
  long max_observables;    /* observable resources (e.g. one per Service Group key) */
  long max_observers;      /* observers of one resource */
  long handshake_failures; /* failed handshakes a source IP may cause per minute before its
                              ClientHellos are dropped for a minute (guessed codes, keys); 0 = off */
  /* Answers larger than one block are sliced here (RFC 7959 Block2) and
   * kept for the requests of their later blocks (blockcache.h): */
  long block_cache_entries;     /* answers kept in all; 0 = none */
  long block_cache_per_session; /* answers kept for one session */
  long block_cache_bytes;       /* bytes of answers kept in all */
  long block_cache_age;         /* seconds an answer is served from the cache */
};

struct cpns_node_config {
  const char *name;          /* log tag, e.g. "server" */
  const char *listen;        /* "addr:port" of the secure listener; NULL or "" = none */
  bool plain;                /* listener without DTLS (development only; warns) */
  const char *discovery;     /* "addr:port" of the plain discovery listener; NULL = none */
  bool multicast;            /* join All-CoAP-Nodes on the discovery listener */
  const char *mcast_ifname;  /* interface for multicast; NULL or "" = default */
  const struct cpns_keyring *keyring; /* borrowed; may be swapped with _set_keyring */
  const char *client_source; /* "addr:port" our client sessions send from; NULL = any */
  struct cpns_node_limits limits;
  /* Spec Appendix D: a plain CoAP listener on a link whose underlying network
   * is declared secure. A request on it comes from the identity that
   * trusted_peers lists for its source address (looked up in the keyring like
   * a PSK identity), or is answered 4.01 "unknown peer on trusted link". */
  const char *trusted_listen;                 /* "addr:port"; NULL or "" = none */
  const struct cpns_trustlink *trusted_peers; /* borrowed; swapped with _set_trusted_peers */
  /* A coap:// URI whose link is declared secure the same way: connecting to
   * it is not warned about as development-only. NULL = none. */
  const char *trusted_upstream;
};

/* What a handler sees. Borrowed for the duration of the handler call. */
struct cpns_req {
  struct cpns_node *node;
  coap_session_t *session;
  const coap_pdu_t *pdu;
  coap_pdu_t *response;
  coap_pdu_code_t method;
  const struct cpns_key_entry *peer; /* NULL when the link is not authenticated */
  unsigned nseg;
  char seg[CPNS_MAX_SEGMENTS][CPNS_SEGMENT_MAX + 1]; /* after "cpns/v1" */
  char query[CPNS_QUERY_MAX + 1];                    /* "a=1&b=2" */
  int accept;                                        /* reply content format */
  json_t *body;                                      /* decoded payload or NULL */
  bool replied;
  bool deferred;
  bool notification; /* building an Observe notification for req->session */
  coap_resource_t *resource; /* libcoap's: the catch-all or an observable one */
  /* A PN GW relaying for one of its PNEs (the On-Behalf-Of option, accepted
   * by the daemon's delegation rule): peer then points here and via at the
   * gateway's own entry. NULL when the caller speaks for itself. */
  const struct cpns_key_entry *via;
  struct cpns_key_entry delegated;
  /* Set by cpns_node_dispatch: the request came from inside the process
   * (CPNS-4 over HTTPS), session is NULL, pdu and response are scratch
   * PDUs, and replies are captured for the caller instead of sent. */
  struct cpns_local *local;
};

typedef void (*cpns_handler_fn)(struct cpns_req *req, void *arg);

/* The outcome of an outgoing request: a CoAP code as a number such as 205 or
 * 404, or a negative cpns_err (CPNS_ERR_TIMEOUT, CPNS_ERR_UNAVAIL) when no
 * answer came. body is the decoded payload (borrowed) or NULL; diag is the
 * diagnostic text of an error response or "". */
typedef void (*cpns_response_fn)(void *arg, int code, const json_t *body, const char *diag);

typedef void (*cpns_timer_fn)(void *arg);
typedef void (*cpns_fd_fn)(void *arg, int fd);
/* Told when a session goes away, so that holders drop their references. */
typedef void (*cpns_session_fn)(void *arg, coap_session_t *session, bool up);

int cpns_node_new(const struct cpns_node_config *cfg, struct cpns_node **out, char *err,
                  size_t errlen);
void cpns_node_free(struct cpns_node *node);
coap_context_t *cpns_node_context(struct cpns_node *node);
void cpns_node_set_keyring(struct cpns_node *node, const struct cpns_keyring *kr);
/* Replaces the trusted-peers table of the trusted listener (SIGHUP); borrowed. */
void cpns_node_set_trusted_peers(struct cpns_node *node, const struct cpns_trustlink *t);
/* Defaults for every limit (see node.c). */
void cpns_node_limits_default(struct cpns_node_limits *lim);

/* Routes method on a path pattern relative to /cpns/v1, segments separated by
 * '/', '*' matching one segment: "pns/ * /entities/ *" (without the spaces).
 * First match wins. */
int cpns_node_route(struct cpns_node *node, coap_pdu_code_t method, const char *pattern,
                    cpns_handler_fn fn, void *arg);
/* Authorization. A daemon declares each route with the relations that may
 * call it; the router checks them before the handler runs (4.01 for
 * anonymous callers, 4.03 "<identity> may not <action>" for the others).
 * The relations of a caller to a resource are computed by the daemon from
 * the DTLS identity (req->peer) and the path, never from the payload. */
enum cpns_relation {
  CPNS_REL_ANY = 1u << 0,      /* any authenticated peer */
  CPNS_REL_OPERATOR = 1u << 1, /* keyring role operator */
  CPNS_REL_SERVER = 1u << 2,   /* the CPNS Server, on our own upstream session */
  CPNS_REL_GW_OF_PN = 1u << 3, /* the PN GW bound to the PN in the path */
  CPNS_REL_GW = 1u << 4,       /* any PN GW */
  CPNS_REL_READER = 1u << 5,   /* a PN GW whose PN the path's PN lets read it */
  CPNS_REL_MEMBER = 1u << 6,   /* a PNE registered in this PN */
  CPNS_REL_SELF = 1u << 7,     /* the PNE named by the path's entity id */
  CPNS_REL_APP = 1u << 8,      /* an application on this device (CPNS-5) */
  CPNS_REL_GATEWAY = 1u << 9,  /* the PNE's gateway, on our own session (CPNS-6) */
  CPNS_REL_ENROLLEE = 1u << 10, /* a device that proved an enrollment code */
  CPNS_REL_OWNER = 1u << 11,    /* the owner (creator) of the Service Group in the path */
  CPNS_REL_GROUP_MEMBER = 1u << 12, /* a member of the Service Group in the path */
  CPNS_REL_JOINER = 1u << 13,   /* the path's member itself, invited or the group open */
  CPNS_REL_VIA_GW = 1u << 14,   /* a PNE speaking through its PN GW (On-Behalf-Of) */
  CPNS_REL_RELAYED = 1u << 15,  /* a PNE of this PN, about a server's group: relayed there */
  CPNS_REL_OFFERER = 1u << 16,  /* the offerer of the service in the path (services/{id}) */
  CPNS_REL_SUBSCRIBER = 1u << 17, /* the identity that saved the interest in the path */
  CPNS_REL_EXTERNAL = 1u << 18, /* an external Application/Content Server (CPNS-4 token) */
};
/* Returns the relations of req's (authenticated) peer, at least those in
 * wanted (others may be left out: they can cost a store read). */
typedef unsigned (*cpns_relations_fn)(const struct cpns_req *req, unsigned wanted, void *arg);
void cpns_node_set_relations(struct cpns_node *node, cpns_relations_fn fn, void *arg);
/* cpns_node_route with its rule: allow is a set of CPNS_REL_*; action (a
 * static string) completes "<identity> may not ...". */
int cpns_node_route_as(struct cpns_node *node, coap_pdu_code_t method, const char *pattern,
                       unsigned allow, const char *action, cpns_handler_fn fn, void *arg);
/* Writes the authorization table of the guarded routes, in Markdown. */
void cpns_node_write_authz(const struct cpns_node *node, FILE *out);

/* Lists a resource in /.well-known/core: path relative to /cpns/v1 ("" for the
 * prefix itself) and the link attributes as written, e.g. rt="cpns.gw";ep="x".
 * Adding a path again replaces its attributes. */
int cpns_node_add_link(struct cpns_node *node, const char *path, const char *attrs);

int cpns_node_every(struct cpns_node *node, long interval_ms, cpns_timer_fn fn, void *arg);
int cpns_node_watch_fd(struct cpns_node *node, int fd, cpns_fd_fn fn, void *arg);
/* An event source of its own in the node's loop (libmicrohttpd in
 * cpns-server): fn runs at every turn, before the node waits, and returns
 * the longest wait in milliseconds it allows (negative: no limit). Its
 * file descriptors are watched with cpns_node_watch_fd. At most
 * NODE_MAX_HOOKS; CPNS_ERR_LIMIT beyond. */
typedef long (*cpns_step_fn)(void *arg);
int cpns_node_on_step(struct cpns_node *node, cpns_step_fn fn, void *arg);
void cpns_node_on_session(struct cpns_node *node, cpns_session_fn fn, void *arg);
/* Runs the loop until cpns_node_stop(), SIGTERM or SIGINT. SIGHUP calls
 * on_hup. Returns 0 on a clean stop. */
int cpns_node_run(struct cpns_node *node, void (*on_hup)(void *arg), void *arg);
/* Runs one iteration, waiting at most timeout_ms (for clients and tests). */
int cpns_node_step(struct cpns_node *node, long timeout_ms);
void cpns_node_stop(struct cpns_node *node);
bool cpns_node_stopping(const struct cpns_node *node);

/* Opens a client session to uri ("coaps://host:port" or "coap://host:port")
 * with the given PSK identity and key (ignored for coap://). The session is
 * referenced for the caller: release with cpns_node_close_session(). */
int cpns_node_connect(struct cpns_node *node, const char *uri, const char *identity,
                      const uint8_t key[CPNS_PSK_LEN], coap_session_t **out, char *err,
                      size_t errlen);
void cpns_node_close_session(struct cpns_node *node, coap_session_t *session);

/* Sends a confirmable request on session; path is relative to /cpns/v1
 * unless it starts with '/'. body (borrowed) is sent as CBOR, or JSON when
 * the node was told so; the callback runs exactly once, also on timeout and
 * when the node is freed (with CPNS_ERR_UNAVAIL). */
int cpns_node_request(struct cpns_node *node, coap_session_t *session, coap_pdu_code_t method,
                      const char *path, const char *query, const json_t *body,
                      cpns_response_fn cb, void *arg);
/* The same, speaking for another identity: the request carries the
 * On-Behalf-Of option (see cpns_node_set_delegation); on_behalf NULL or ""
 * is cpns_node_request. */
int cpns_node_request_for(struct cpns_node *node, coap_session_t *session, coap_pdu_code_t method,
                          const char *path, const char *query, const json_t *body,
                          const char *on_behalf, cpns_response_fn cb, void *arg);
/* Outgoing payloads in JSON instead of CBOR (debugging and cpnsctl --wire-json). */
void cpns_node_set_json(struct cpns_node *node, bool json);

/* Replies. body is stolen (may be NULL). code is a CoAP code number (201,
 * 404...). Exactly one reply per request; a handler that neither replies nor
 * defers gets 5.00. */
void cpns_reply(struct cpns_req *req, int code, json_t *body);
void cpns_reply_error(struct cpns_req *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Postpones the reply; finish with cpns_deferred_reply() (exactly once). */
struct cpns_deferred *cpns_req_defer(struct cpns_req *req);
void cpns_deferred_reply(struct cpns_deferred *d, int code, json_t *body, const char *diag);
/* Observations kept by a module of their own (condobs.h) rather than by
 * libcoap: cpns_reply_observe answers 2.05 with the Observe option set to
 * seq (24 bits) and body (stolen); cpns_deferred_observe makes a deferred
 * reply carry the Observe option. */
void cpns_reply_observe(struct cpns_req *req, uint32_t seq, json_t *body);
void cpns_deferred_observe(struct cpns_deferred *d, uint32_t seq);

/* A query parameter's value ("" for a bare key); CPNS_ERR_NOTFOUND if absent,
 * CPNS_ERR_TOOBIG if it does not fit. */
int cpns_req_query(const struct cpns_req *req, const char *key, char *out, size_t outlen);
/* "addr:port" of the peer, for logs and inventories. */
void cpns_session_addr(coap_session_t *session, char *out, size_t outlen);
/* Parses "host:port", "[v6]:port" or "host" (port 0) into a coap address. */
int cpns_parse_hostport(const char *s, coap_address_t *out, uint16_t default_port);

/* Forwards the request as it is (method, path, query, body) on upstream and
 * relays the answer back: how a PNE passes its applications' requests to its
 * gateway and a gateway a PNE's to the server. */
void cpns_relay(struct cpns_req *req, coap_session_t *upstream);
/* cpns_relay speaking for on_behalf (a gateway relaying its PNE's request
 * to the server): the upstream authorizes it as that identity. */
void cpns_relay_for(struct cpns_req *req, coap_session_t *upstream, const char *on_behalf);

/* Acting for another identity: the On-Behalf-Of option (number 65003, from
 * CoAP's experimental range; critical, so a node that does not know it
 * answers 4.02, and unsafe to forward). A PN GW terminates its PNEs' DTLS
 * sessions and relays their requests on its own session to the server; the
 * option names the PNE. The daemon's rule decides whether the authenticated
 * caller may speak for that identity and, if so, fills *out (identity, role,
 * PN; no key): the request is then authorized and handled as out's, with
 * req->via the caller. Without a rule, or when it refuses, 4.03. */
#define CPNS_OPTION_ON_BEHALF_OF 65003
typedef bool (*cpns_delegate_fn)(void *arg, const struct cpns_key_entry *caller,
                                 const char *identity, struct cpns_key_entry *out);
void cpns_node_set_delegation(struct cpns_node *node, cpns_delegate_fn fn, void *arg);

/* Requests that arrive on our own client sessions (from the gateway to a
 * PNE over CPNS-6, from the server to a gateway over CPNS-7) are attributed
 * to this peer: the entity we connected to. Borrowed. */
void cpns_node_set_upstream_peer(struct cpns_node *node, const struct cpns_key_entry *peer);

/* Identities beyond the keyring: called when an identity is not in the
 * keyring (credentials issued at run time, keys a gateway fetched). The entry
 * returned must stay valid (see keycache.h). */
typedef const struct cpns_key_entry *(*cpns_psk_lookup_fn)(void *arg, const char *identity,
                                                           size_t len);
void cpns_node_set_psk_lookup(struct cpns_node *node, cpns_psk_lookup_fn fn, void *arg);
/* Closes, at the start of the next loop turn, every DTLS session that a
 * peer with this identity opened to us (a revoked or expelled entity): its
 * next handshake then meets whatever the keyring says now. Returns how many
 * were scheduled. */
unsigned cpns_node_close_identity(struct cpns_node *node, const char *identity);

/* Observe (RFC 7641) for one exact path. Our router sits behind libcoap's
 * catch-all resource, which libcoap cannot make observable, so a path that
 * clients may observe gets a libcoap resource of its own (created once; path
 * relative to /cpns/v1, e.g. "groups/g1/key"). Its GET handler is the
 * router's, so routes and authorization are the same as for any request;
 * notifications run the route again with the observer's session, and an
 * error answer (e.g. 4.03 for a member expelled since) ends that
 * observation (libcoap drops an observer after an error).
 * At most limits.max_observers observers per path (and limits.max_observables
 * paths: beyond, cpns_node_observable answers CPNS_ERR_LIMIT): a registration beyond that
 * gets 5.03 (and is not registered); plain GETs are not affected.
 * Returns 0, CPNS_ERR_NOMEM or CPNS_ERR_INVAL for a bad path. */
#define CPNS_OBSERVERS_MAX_DEFAULT 32
int cpns_node_observable(struct cpns_node *node, const char *path);
/* Sends every observer of path a notification (a fresh GET through the
 * router). Nothing happens for a path that is not observable. */
void cpns_node_notify(struct cpns_node *node, const char *path);
/* Deletes path's resource with its observers (when its object is gone). */
void cpns_node_observable_remove(struct cpns_node *node, const char *path);

/* Messages no pending request of ours claims, for modules that send their
 * own (condobs.c sends notifications, obsclient.c observes):
 * - a response whose token matches no request in flight (a notification):
 *   each hook is asked in turn until one returns true; when none does and
 *   it carries the Observe option, it is answered with a reset (RFC 7641
 *   §3.6: the observation is unknown here, the observed end drops it);
 * - a confirmable message we sent that was reset or never acknowledged
 *   (reason: coap_nack_reason_t), likewise.
 * Hooks run inside libcoap's processing: they must not release sessions. */
typedef bool (*cpns_unmatched_fn)(void *arg, coap_session_t *session, const coap_pdu_t *received);
typedef bool (*cpns_nack_fn)(void *arg, coap_session_t *session, const coap_pdu_t *sent, int reason);
int cpns_node_on_unmatched(struct cpns_node *node, cpns_unmatched_fn fn, void *arg);
int cpns_node_on_nack(struct cpns_node *node, cpns_nack_fn fn, void *arg);
/* The live DTLS session a peer with this identity opened to us (the most
 * recent one), for requests in the other direction (CPNS-6, a PN GW to its
 * PNE); NULL when there is none. Borrowed: valid until the next loop turn. */
coap_session_t *cpns_node_session_of(struct cpns_node *node, const char *identity);

/* Local dispatch: a request made inside the process (cpns-server's CPNS-4
 * front, server/http.c) runs through the same router, the same route rules
 * (the relations of peer, see cpns_node_set_relations) and the same
 * handlers as a CoAP request, so that both transports give the same
 * answers. path is relative to /cpns/v1 ("services/8f3a..."), query is
 * "a=1&b=2" or NULL, body (borrowed; NULL for none) is the decoded
 * payload, peer (borrowed) the authenticated caller. The handler's reply is
 * captured and handed to cb, exactly once, before cpns_node_dispatch
 * returns 0; a bad path is answered there too (4.04, 4.14). A handler that
 * defers its reply (cpns_req_defer: a relay, a request to a gateway) is
 * answered 5.01 "not available over this interface" instead: deferral is
 * not supported here yet. Returns CPNS_ERR_INVAL, without calling cb, for
 * a NULL node, path, peer or cb. */
struct cpns_local_reply {
  int code;             /* a CoAP code as a number: 205, 404 */
  const json_t *body;   /* the reply's body (borrowed for cb), or NULL */
  const char *diag;     /* the diagnostic of an error reply, or "" */
  const char *location; /* the Location-Path a handler set ("/cpns/v1/services/8f3a..."), or "" */
};
typedef void (*cpns_local_fn)(void *arg, const struct cpns_local_reply *reply);
int cpns_node_dispatch(struct cpns_node *node, coap_pdu_code_t method, const char *path,
                       const char *query, json_t *body, const struct cpns_key_entry *peer,
                       cpns_local_fn cb, void *arg);

/* Counters for status pages and tests. */
struct cpns_node_stats {
  unsigned long requests, replies_4xx, replies_5xx, dropped_limit, stale_sessions_replaced;
  unsigned long pending;
};
void cpns_node_get_stats(const struct cpns_node *node, struct cpns_node_stats *out);

#endif
