/* SPDX-License-Identifier: Apache-2.0 */
/* Client-side observations (obsclient.h). The registration is sent as a
 * confirmable GET built here (not through cpns_node_request, whose pending
 * request ends at the first answer), so its answer and every notification
 * reach the node's unmatched-response hook, which hands them over by token. */
#include "obsclient.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "log.h"
#include "msg.h"

#define OBS_TOKEN_LEN 8
#define OBS_PATH_MAX 512
#define OBS_FRESH_WINDOW_S 128 /* RFC 7641 §3.4 */
#define OBS_SEQ_HALF (1u << 23)

struct cpns_observation {
  struct cpns_observation *next;
  struct cpns_obsclient *oc;
  uint8_t token[OBS_TOKEN_LEN];
  coap_session_t *session; /* where it was registered: not referenced, compared only */
  bool answered;           /* the registration's answer came */
  bool resumable;
  bool has_seq;
  uint32_t seq;
  time_t seq_time;
  cpns_obs_fn cb;
  void *arg;
  char path[OBS_PATH_MAX];          /* kept for the deregistration */
  char query[CPNS_QUERY_MAX + 1];
  char on_behalf[CPNS_ID_MAX + 1];
};

struct cpns_obsclient {
  struct cpns_node *node;
  struct cpns_observation *list;
  unsigned n;
  bool in_callback;
};

static struct cpns_observation *find(struct cpns_obsclient *oc, coap_bin_const_t tok) {
  if (tok.length != OBS_TOKEN_LEN) return NULL;
  for (struct cpns_observation *o = oc->list; o; o = o->next)
    if (memcmp(o->token, tok.s, OBS_TOKEN_LEN) == 0) return o;
  return NULL;
}

static void unlink_obs(struct cpns_obsclient *oc, struct cpns_observation *o) {
  for (struct cpns_observation **pp = &oc->list; *pp; pp = &(*pp)->next)
    if (*pp == o) {
      *pp = o->next;
      oc->n--;
      return;
    }
}

/* RFC 7641 §3.4: is seq v2 (at t2) newer than the last one seen? */
static bool fresh(const struct cpns_observation *o, uint32_t v2, time_t t2) {
  if (!o->has_seq) return true;
  uint32_t v1 = o->seq;
  return (v1 < v2 && v2 - v1 < OBS_SEQ_HALF) || (v1 > v2 && v1 - v2 > OBS_SEQ_HALF) ||
         t2 > o->seq_time + OBS_FRESH_WINDOW_S;
}

static int option_value(const coap_pdu_t *pdu, coap_option_num_t num, int absent) {
  coap_opt_iterator_t it;
  coap_opt_t *opt = coap_check_option(pdu, num, &it);
  if (!opt) return absent;
  return (int)coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
}

static void finish(struct cpns_obsclient *oc, struct cpns_observation *o, int code,
                   const json_t *body, const char *diag, bool observing) {
  oc->in_callback = true;
  o->cb(o->arg, o, code, body, diag, observing);
  oc->in_callback = false;
  if (!observing) {
    unlink_obs(oc, o);
    free(o);
  }
}

static bool on_unmatched(void *arg, coap_session_t *session, const coap_pdu_t *rcvd) {
  struct cpns_obsclient *oc = arg;
  struct cpns_observation *o = find(oc, coap_pdu_get_token(rcvd));
  if (!o) return false;
  coap_pdu_code_t rc = coap_pdu_get_code(rcvd);
  int code = (int)COAP_RESPONSE_CLASS(rc) * 100 + (int)(rc & 31);
  int seq = option_value(rcvd, COAP_OPTION_OBSERVE, -1);
  bool observing = code >= 200 && code < 300 && seq >= 0;
  time_t now = time(NULL);
  if (observing && o->answered && !fresh(o, (uint32_t)seq, now)) return true; /* reordered */
  if (observing) {
    o->has_seq = true;
    o->seq = (uint32_t)seq;
    o->seq_time = now;
  }
  o->answered = true;
  o->session = session;
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *data = NULL;
  json_t *body = NULL;
  char diag[CPNS_DIAG_MAX] = "";
  if (coap_get_data_large(rcvd, &len, &data, &offset, &total) && len) {
    if (code >= 400) {
      size_t n = len < sizeof diag - 1 ? len : sizeof diag - 1;
      memcpy(diag, data, n);
      diag[n] = '\0';
    } else {
      int cf = option_value(rcvd, COAP_OPTION_CONTENT_FORMAT, CPNS_CF_CBOR);
      if (cpns_codec_decode(data, len, cf, &cpns_codec_default_limits, &body, diag, sizeof diag)) {
        code = CPNS_ERR_PROTO;
        observing = false;
      }
    }
  }
  finish(oc, o, code, body, diag, observing);
  json_decref(body);
  return true;
}

static bool on_nack(void *arg, coap_session_t *session, const coap_pdu_t *sent, int reason) {
  struct cpns_obsclient *oc = arg;
  coap_pdu_code_t c = coap_pdu_get_code(sent);
  if (COAP_RESPONSE_CLASS(c) != 0 || c == 0) return false; /* not a request */
  struct cpns_observation *o = find(oc, coap_pdu_get_token(sent));
  if (!o || o->session != session) return false;
  if (o->answered) return true; /* a lost deregistration: nothing to do */
  finish(oc, o, reason == COAP_NACK_TOO_MANY_RETRIES ? CPNS_ERR_TIMEOUT : CPNS_ERR_UNAVAIL, NULL,
         "no answer", false);
  return true;
}

static void on_session(void *arg, coap_session_t *s, bool up) {
  struct cpns_obsclient *oc = arg;
  if (up) return;
  struct cpns_observation *o = oc->list;
  while (o) {
    struct cpns_observation *next = o->next;
    if (o->session == s) {
      if (o->resumable) {
        o->session = NULL;
        finish(oc, o, CPNS_ERR_UNAVAIL, NULL, "session closed", true);
      } else {
        finish(oc, o, CPNS_ERR_UNAVAIL, NULL, "session closed", false);
      }
    }
    o = next;
  }
}

int cpns_obsclient_new(struct cpns_node *node, struct cpns_obsclient **out) {
  struct cpns_obsclient *oc = calloc(1, sizeof *oc);
  if (!oc) return CPNS_ERR_NOMEM;
  oc->node = node;
  int rc = cpns_node_on_unmatched(node, on_unmatched, oc);
  if (!rc) rc = cpns_node_on_nack(node, on_nack, oc);
  if (rc) {
    free(oc);
    return rc;
  }
  cpns_node_on_session(node, on_session, oc);
  *out = oc;
  return 0;
}

void cpns_obsclient_free(struct cpns_obsclient *oc) {
  if (!oc) return;
  while (oc->list) {
    struct cpns_observation *o = oc->list;
    oc->list = o->next;
    free(o);
  }
  free(oc);
}

unsigned cpns_obsclient_count(const struct cpns_obsclient *oc) { return oc ? oc->n : 0; }

/* A confirmable GET of path?query with Observe action, token tok. */
static int send_get(coap_session_t *s, const char *path, const char *query, const char *on_behalf,
                    const uint8_t *tok, unsigned action) {
  if (!s || coap_session_get_state(s) != COAP_SESSION_STATE_ESTABLISHED) return CPNS_ERR_UNAVAIL;
  coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, s);
  if (!pdu) return CPNS_ERR_NOMEM;
  uint8_t b[4];
  bool ok = coap_add_token(pdu, OBS_TOKEN_LEN, tok) != 0;
  ok = ok && coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(b, sizeof b, action), b);
  char buf[OBS_PATH_MAX];
  snprintf(buf, sizeof buf, "%s/%s", CPNS_PATH_PREFIX, path);
  char *save = NULL;
  for (char *seg = strtok_r(buf, "/", &save); ok && seg; seg = strtok_r(NULL, "/", &save))
    ok = coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(seg), (const uint8_t *)seg) != 0;
  if (ok && query && *query) {
    char qbuf[CPNS_QUERY_MAX + 1];
    snprintf(qbuf, sizeof qbuf, "%s", query);
    for (char *q = strtok_r(qbuf, "&", &save); ok && q; q = strtok_r(NULL, "&", &save))
      ok = coap_add_option(pdu, COAP_OPTION_URI_QUERY, strlen(q), (const uint8_t *)q) != 0;
  }
  if (ok) ok = coap_add_option(pdu, COAP_OPTION_ACCEPT, coap_encode_var_safe(b, sizeof b, CPNS_CF_CBOR), b);
  if (ok && on_behalf && *on_behalf)
    ok = coap_add_option(pdu, CPNS_OPTION_ON_BEHALF_OF, strnlen(on_behalf, CPNS_ID_MAX),
                         (const uint8_t *)on_behalf) != 0;
  if (!ok) {
    coap_delete_pdu(pdu);
    return CPNS_ERR_INVAL;
  }
  return coap_send(s, pdu) == COAP_INVALID_MID ? CPNS_ERR_IO : 0;
}

int cpns_obsclient_start(struct cpns_obsclient *oc, coap_session_t *session, const char *path,
                         const char *query, const char *on_behalf, bool resumable, cpns_obs_fn cb,
                         void *arg, struct cpns_observation **out) {
  if (!session || !path || !cb || strlen(path) >= OBS_PATH_MAX - sizeof CPNS_PATH_PREFIX)
    return CPNS_ERR_INVAL;
  struct cpns_observation *o = calloc(1, sizeof *o);
  if (!o) return CPNS_ERR_NOMEM;
  if (RAND_bytes(o->token, OBS_TOKEN_LEN) != 1) {
    free(o);
    return CPNS_ERR_CRYPTO;
  }
  o->oc = oc;
  o->session = session;
  o->resumable = resumable;
  o->cb = cb;
  o->arg = arg;
  snprintf(o->path, sizeof o->path, "%s", path);
  snprintf(o->query, sizeof o->query, "%s", query ? query : "");
  snprintf(o->on_behalf, sizeof o->on_behalf, "%s", on_behalf ? on_behalf : "");
  int rc = send_get(session, path, query, on_behalf, o->token, COAP_OBSERVE_ESTABLISH);
  if (rc) {
    free(o);
    return rc;
  }
  o->next = oc->list;
  oc->list = o;
  oc->n++;
  if (out) *out = o;
  return 0;
}

int cpns_obsclient_renew(struct cpns_obsclient *oc, struct cpns_observation *o,
                         coap_session_t *session) {
  (void)oc;
  if (!o) return CPNS_ERR_INVAL;
  int rc = send_get(session, o->path, o->query, o->on_behalf, o->token, COAP_OBSERVE_ESTABLISH);
  if (rc) return rc;
  o->session = session;
  o->has_seq = false; /* an observed end that restarted counts from anew */
  return 0;
}

void cpns_obsclient_stop(struct cpns_obsclient *oc, struct cpns_observation *o,
                         coap_session_t *session) {
  if (!o) return;
  /* RFC 7641 §3.6: a GET with Observe 1 and the same token; without a
   * session the next notification is reset instead (the node does that for
   * a token nobody claims). */
  if (session) send_get(session, o->path, o->query, o->on_behalf, o->token, COAP_OBSERVE_CANCEL);
  unlink_obs(oc, o);
  free(o);
}
