/* SPDX-License-Identifier: Apache-2.0 */
/* Service descriptions of the Metadata Directory (spec 5.5.5, issue 4): the
 * schema of a published service, the capabilities a consumer's device
 * reports, the requirements a service places on them, and the lookup query
 * (by keywords, offerer, PN and capabilities). Pure: no I/O, no clock, no
 * allocation beyond the json_t trees the caller asks for. Every decoder
 * bounds every field by the constants below and says in err what was wrong,
 * in words fit for a 4.00 diagnostic. docs/protocol.md ("Service
 * publication and discovery") documents the same schema for users.
 *
 * Keywords and capability text values are tokens: ASCII letters, digits and
 * a few marks, folded to lower case, so that "TV" and "tv" are one keyword.
 *
 * The requirement language, one object per capability name:
 *
 *     {"min": 640, "max": 4096}   the device's integer lies within (either bound optional)
 *     {"has": ["h264", "aac"]}    the device's list (or single text) holds every one
 *     {"in":  ["wifi", "lte"]}    the device's single value is one of these
 *     {"eq":  true}               the device's single value is exactly this
 *
 * A requirement on a capability the device did not report is not met. */
#ifndef CPNS_SERVICE_H
#define CPNS_SERVICE_H

#include <cpns/cpns.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPNS_SERVICE_NAME_MAX 128     /* bytes of the human-readable name */
#define CPNS_SERVICE_DESC_MAX 512     /* bytes of the human description */
#define CPNS_SERVICE_KEYWORDS_MAX 16  /* keywords of one service */
#define CPNS_KEYWORD_MAX 32           /* bytes of one keyword */
#define CPNS_SERVICE_URIS_MAX 4       /* URIs of one service */
#define CPNS_SERVICE_URI_MAX 255      /* bytes of one URI */
#define CPNS_SERVICE_REQUIRES_MAX 8   /* requirements of one service */
#define CPNS_CAPS_MAX 16              /* capabilities a device reports in one query */
#define CPNS_CAP_NAME_MAX 32          /* bytes of a capability name ([a-z0-9_]) */
#define CPNS_CAP_VALUES_MAX 8         /* values of one list (a device's, or a has/in list) */
#define CPNS_CAP_TEXT_MAX 32          /* bytes of one text value */
#define CPNS_CAP_INT_LIMIT 1000000000000LL /* |integer| of a capability or a bound */
#define CPNS_SERVICE_LT_MIN 2         /* seconds: the shortest lifetime */
#define CPNS_SERVICE_LT_MAX 2592000   /* seconds: 30 days */
#define CPNS_SERVICE_LT_DEFAULT 90000 /* seconds, as RFC 9176's default registration lifetime */
#define CPNS_QUERY_KEYWORDS_MAX 8     /* keywords (or prefixes) of one lookup */
#define CPNS_PREFIX_MIN 2             /* bytes of the shortest prefix a lookup may use */
#define CPNS_PREFIX_EXPANSION_MAX 64  /* distinct keywords one prefix may stand for */
#define CPNS_QUERY_LIMIT_MAX 100000   /* the largest 'limit' a query may carry (the server's
                                         page limit is lower and configured) */

enum cpns_visibility {
  CPNS_VIS_PN = 0,     /* visible to the offerer's PN (and the operator) only */
  CPNS_VIS_PUBLIC = 1, /* visible to every caller of the directory */
};

enum cpns_cap_kind { CPNS_CAP_INT, CPNS_CAP_BOOL, CPNS_CAP_TEXT };

struct cpns_cap_value {
  enum cpns_cap_kind kind;
  int64_t i;                          /* INT; BOOL as 0 or 1 */
  char text[CPNS_CAP_TEXT_MAX + 1];   /* TEXT, a normalized token */
};

/* One capability of a device: a single value, or a list of texts. */
struct cpns_cap {
  char name[CPNS_CAP_NAME_MAX + 1];
  bool list;
  unsigned nvals; /* 1 for a single value */
  struct cpns_cap_value vals[CPNS_CAP_VALUES_MAX];
};

struct cpns_caps {
  unsigned n;
  struct cpns_cap cap[CPNS_CAPS_MAX]; /* names unique */
};

enum cpns_req_op { CPNS_REQ_RANGE, CPNS_REQ_HAS, CPNS_REQ_IN, CPNS_REQ_EQ };

struct cpns_requirement {
  char cap[CPNS_CAP_NAME_MAX + 1];
  enum cpns_req_op op;
  bool has_min, has_max; /* RANGE */
  int64_t min, max;
  unsigned nvals; /* HAS, IN: 1..CPNS_CAP_VALUES_MAX; EQ: 1 */
  struct cpns_cap_value vals[CPNS_CAP_VALUES_MAX];
};

/* A service description. The offerer's part (name .. lifetime) comes from
 * the body; id, offerer, pn and the times are the server's. */
struct cpns_service {
  char id[CPNS_ID_MAX + 1];
  char offerer[CPNS_ID_MAX + 1]; /* the publishing identity (DTLS), never from the body */
  char pn[CPNS_ID_MAX + 1];      /* the offerer's PN, "" for none */
  enum cpns_visibility visibility;
  char name[CPNS_SERVICE_NAME_MAX + 1];
  char description[CPNS_SERVICE_DESC_MAX + 1];
  unsigned nkeywords; /* 1..CPNS_SERVICE_KEYWORDS_MAX, sorted, unique */
  char keywords[CPNS_SERVICE_KEYWORDS_MAX][CPNS_KEYWORD_MAX + 1];
  unsigned nrequires; /* sorted by capability name, unique */
  struct cpns_requirement requires[CPNS_SERVICE_REQUIRES_MAX];
  unsigned nuris; /* 1..CPNS_SERVICE_URIS_MAX */
  char uris[CPNS_SERVICE_URIS_MAX][CPNS_SERVICE_URI_MAX + 1];
  uint32_t lifetime;                 /* seconds */
  int64_t created_at, updated_at;    /* unix seconds */
  int64_t expires_at;                /* unix seconds */
};

enum cpns_match {
  CPNS_MATCH_ALL = 0, /* the service has every keyword */
  CPNS_MATCH_ANY,     /* the service has at least one */
  CPNS_MATCH_PREFIX,  /* one of the service's keywords starts with one of the prefixes */
};

/* A lookup, or a saved interest (which has no paging). */
struct cpns_service_query {
  unsigned nkw; /* sorted, unique */
  char kw[CPNS_QUERY_KEYWORDS_MAX][CPNS_KEYWORD_MAX + 1];
  enum cpns_match match;
  char offerer[CPNS_ID_MAX + 1]; /* "" = any */
  char pn[CPNS_ID_MAX + 1];      /* "" = any */
  bool has_caps;                 /* only services whose requirements caps meet */
  struct cpns_caps caps;
  unsigned limit;                /* 0 = the server's page size */
  char after[CPNS_ID_MAX + 1];   /* "" = from the first service */
};

/* Folds a keyword (len bytes, need not be NUL-terminated) to its stored
 * form in out: 1..CPNS_KEYWORD_MAX bytes of [a-z0-9._-], upper case folded.
 * CPNS_ERR_INVAL (empty, other characters) or CPNS_ERR_TOOBIG. */
int cpns_keyword_normalize(const char *in, size_t len, char out[CPNS_KEYWORD_MAX + 1]);

/* Decodes an offerer's description ({"name", "description", "keywords",
 * "visibility", "requires", "uris", "lt"}) into *out, which is cleared
 * first: id, offerer, pn and the times stay empty for the caller to set.
 * "name", "keywords" and "uris" are required; "visibility" defaults to "pn"
 * and "lt" to CPNS_SERVICE_LT_DEFAULT. Fields the server sets ("id",
 * "offerer", "pn", ...) are refused, as are unknown ones. Returns 0,
 * CPNS_ERR_INVAL or CPNS_ERR_TOOBIG with the reason in err. */
int cpns_service_parse(const json_t *body, struct cpns_service *out, char *err, size_t errlen);
/* The offerer's part of s, as cpns_service_parse reads it (new reference,
 * free with json_decref; NULL only when out of memory). */
json_t *cpns_service_describe(const struct cpns_service *s);
/* The whole service: its description with "id", "offerer", "pn",
 * "created", "updated" and "expires" (new reference). */
json_t *cpns_service_to_json(const struct cpns_service *s);

/* True when a caller may see s: s is public, or the caller is the operator
 * (see_all), or the caller belongs to s's PN (viewer_pn, "" for none). */
bool cpns_service_visible(const struct cpns_service *s, bool see_all, const char *viewer_pn);
/* True when the device's capabilities meet every requirement of s. */
bool cpns_service_fits(const struct cpns_service *s, const struct cpns_caps *caps);

/* Device capabilities as a JSON map {"screen_width": 1080, "codecs":
 * ["h264", "vp9"], "network": "wifi", "touch": true}. */
int cpns_caps_parse_json(const json_t *obj, struct cpns_caps *out, char *err, size_t errlen);
/* The same in a URI query's compact form: "name:value,name:value,...",
 * values being integers, true, false or tokens; a name given more than once
 * makes a list ("codecs:h264,codecs:vp9"). */
int cpns_caps_parse_text(const char *text, struct cpns_caps *out, char *err, size_t errlen);
json_t *cpns_caps_to_json(const struct cpns_caps *caps); /* new reference */

/* Decodes a lookup's URI query ("kw=a,b&match=any&offerer=X&pn=P&caps=...
 * &limit=N&after=ID", keys at most once each, no others) into *out
 * (cleared first). */
int cpns_service_query_parse_uri(const char *query, struct cpns_service_query *out, char *err,
                                 size_t errlen);
/* The same from a map {"kw": [...], "match", "offerer", "pn", "caps": {...}}
 * (a saved interest); with paging, "limit" and "after" are accepted too. */
int cpns_service_query_parse_json(const json_t *obj, bool paging, struct cpns_service_query *out,
                                  char *err, size_t errlen);
/* The query without its paging, as cpns_service_query_parse_json reads it
 * (new reference). */
json_t *cpns_service_query_to_json(const struct cpns_service_query *q);
/* True when the query names at least one of kw, offerer and pn: a lookup
 * for everything is refused (it could only be answered by a scan). */
bool cpns_service_query_selective(const struct cpns_service_query *q);
/* True when s answers q: its keywords (per q->match), offerer, PN and, when
 * q has caps, its requirements. Visibility and lifetime are not looked at. */
bool cpns_service_query_matches(const struct cpns_service_query *q, const struct cpns_service *s);

const char *cpns_match_name(enum cpns_match m);             /* "all", "any", "prefix" */
const char *cpns_visibility_name(enum cpns_visibility v);   /* "pn", "public" */

#endif
