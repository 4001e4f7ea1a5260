/* SPDX-License-Identifier: Apache-2.0 */
/* CPNS-7 links: the DTLS session each PN GW opened to the server, kept
 * referenced (libcoap frees idle unreferenced server sessions) so that the
 * server can send requests back on it, through any NAT in between. A small
 * chained hash table from PN id to session, bounded by the session limit. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

#define GWLINKS_BUCKETS 4096

struct link {
  struct link *next;
  char pn[CPNS_ID_MAX + 1];
  coap_session_t *session;
};

struct gwlinks {
  struct link *buckets[GWLINKS_BUCKETS];
  size_t count, max;
};

static unsigned hash(const char *s) {
  unsigned h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h % GWLINKS_BUCKETS;
}

struct gwlinks *gwlinks__new(size_t max) {
  struct gwlinks *l = calloc(1, sizeof *l);
  if (l) l->max = max;
  return l;
}

void gwlinks__free(struct gwlinks *l) {
  if (!l) return;
  for (unsigned i = 0; i < GWLINKS_BUCKETS; i++)
    while (l->buckets[i]) {
      struct link *k = l->buckets[i];
      l->buckets[i] = k->next;
      coap_session_release(k->session);
      free(k);
    }
  free(l);
}

void gwlinks__set(struct gwlinks *l, const char *pn, coap_session_t *s) {
  struct link **pp = &l->buckets[hash(pn)];
  for (struct link *k = *pp; k; k = k->next)
    if (strcmp(k->pn, pn) == 0) {
      if (k->session != s) {
        coap_session_release(k->session);
        k->session = coap_session_reference(s);
      }
      return;
    }
  if (l->count >= l->max) {
    CPNS_LOG_RL(CPNS_LOG_WARNING, "cpns7", "gateway link table full (%zu)", l->max);
    return;
  }
  struct link *k = calloc(1, sizeof *k);
  if (!k) return;
  snprintf(k->pn, sizeof k->pn, "%s", pn);
  k->session = coap_session_reference(s);
  k->next = *pp;
  *pp = k;
  l->count++;
}

coap_session_t *gwlinks__get(struct gwlinks *l, const char *pn) {
  for (struct link *k = l->buckets[hash(pn)]; k; k = k->next)
    if (strcmp(k->pn, pn) == 0) return k->session;
  return NULL;
}

void gwlinks__drop_pn(struct gwlinks *l, const char *pn) {
  for (struct link **pp = &l->buckets[hash(pn)]; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->pn, pn) == 0) {
      struct link *k = *pp;
      *pp = k->next;
      coap_session_release(k->session);
      free(k);
      l->count--;
      return;
    }
}

/* A session that went away (closed, failed, replaced by a new handshake)
 * must not stay referenced, or libcoap could never free it. */
void gwlinks__session_event(void *arg, coap_session_t *s, bool up) {
  struct gwlinks *l = arg;
  if (up) return;
  for (unsigned i = 0; i < GWLINKS_BUCKETS; i++)
    for (struct link **pp = &l->buckets[i]; *pp;) {
      if ((*pp)->session == s) {
        struct link *k = *pp;
        *pp = k->next;
        log_info("cpns7", "gateway of PN %s disconnected", k->pn);
        coap_session_release(k->session);
        free(k);
        l->count--;
      } else {
        pp = &(*pp)->next;
      }
    }
}
