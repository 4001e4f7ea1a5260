/* SPDX-License-Identifier: Apache-2.0 */
/* cpnsctl's CPNS-4 token commands (docs/protocol.md, "CPNS-4"): the
 * operator creates, lists and revokes the bearer tokens of external
 * Application/Content Servers at the server (POST and GET /tokens, DELETE
 * /tokens/{id}). A token is printed once, when it is created; the server
 * keeps only its hash. Tables for people, the server's JSON with --json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpns4.h"
#include "cpnsctl.h"

const char ctl_tokens_usage[] =
    "  token create NAME --scope S1,S2 [--ttl SECONDS]\n"
    "                           (server, operator) a CPNS-4 bearer token for the external\n"
    "                           server NAME (identity ext.NAME); scopes: services:read,\n"
    "                           services:write, interests:read, interests:write,\n"
    "                           usage:read, caps:read, status:read (caps and status of\n"
    "                           PNs whose readers list ext.NAME); shown once\n"
    "  token list               (server, operator) the tokens, never their secrets\n"
    "  token revoke ID          (server, operator) revoke token ID at once\n";

static const char *str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s && *s ? s : "-";
}

/* "2026-05-01 12:00 UTC", or "never" for null. */
static const char *when(const json_t *v, char *buf, size_t len) {
  if (!json_is_integer(v)) return "never";
  time_t t = (time_t)json_integer_value(v);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm)) return "?";
  return buf;
}

static void scopes_text(const json_t *list, char *out, size_t len) {
  size_t used = 0, i;
  json_t *v;
  out[0] = '\0';
  json_array_foreach(list, i, v) {
    int n = snprintf(out + used, len - used, "%s%s", i ? "," : "", json_string_value(v));
    if (n < 0 || (size_t)n >= len - used) break;
    used += (size_t)n;
  }
}

/* One request: JSON mode prints the answer as it came, else *doc gets it. */
static int call(cpns_client_t *c, bool json, const char *method, const char *path, const char *body,
                json_t **doc) {
  char *out = NULL;
  *doc = NULL;
  if (cpns_client_request(c, method, path, NULL, body, &out)) {
    fprintf(stderr, "cpnsctl: %s %s: %s\n", method, path, cpns_client_error(c));
    return cpns_client_status(c) ? EXIT_REFUSED : EXIT_UNREACHABLE;
  }
  if (json)
    printf("%s\n", out ? out : "{}");
  else if (out)
    *doc = json_loads(out, JSON_DECODE_ANY, NULL);
  cpns_free(out);
  return 0;
}

static int create(cpns_client_t *c, bool json, int argc, char **argv) {
  const char *name = NULL, *scope = NULL;
  long ttl = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--scope") && i + 1 < argc) {
      scope = argv[++i];
    } else if (!strcmp(argv[i], "--ttl") && i + 1 < argc) {
      char *end = NULL;
      ttl = strtol(argv[++i], &end, 10);
      if (!*argv[i] || *end || ttl <= 0) {
        fprintf(stderr, "cpnsctl: --ttl takes a number of seconds\n");
        return EXIT_USAGE;
      }
    } else if (argv[i][0] != '-' && !name) {
      name = argv[i];
    } else {
      name = NULL;
      break;
    }
  }
  if (!name || !scope) {
    fprintf(stderr, "cpnsctl: usage: token create NAME --scope S1,S2 [--ttl SECONDS]\n");
    return EXIT_USAGE;
  }
  if (!cpns4_valid_name(name)) {
    fprintf(stderr, "cpnsctl: NAME must be an id of at most %d bytes ([A-Za-z0-9._-])\n",
            CPNS4_NAME_MAX);
    return EXIT_USAGE;
  }
  unsigned bits = 0;
  char err[160];
  if (cpns4_scopes_parse(scope, &bits, err, sizeof err)) {
    fprintf(stderr, "cpnsctl: --scope: %s\n", err);
    return EXIT_USAGE;
  }
  json_t *b = json_pack("{s:s, s:o}", "name", name, "scopes", cpns4_scopes_to_json(bits));
  if (b && ttl) json_object_set_new(b, "ttl", json_integer(ttl));
  char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
  json_decref(b);
  if (!body) return EXIT_UNREACHABLE;
  json_t *doc;
  int ex = call(c, json, "POST", "tokens", body, &doc);
  free(body);
  if (ex || json) return ex;
  char sc[CPNS4_SCOPES_TEXT_MAX + 1], t[64];
  scopes_text(json_object_get(doc, "scopes"), sc, sizeof sc);
  printf("token    %s\nid       %s\nholder   %s\nscopes   %s\nexpires  %s\n", str(doc, "token"),
         str(doc, "id"), str(doc, "identity"), sc, when(json_object_get(doc, "expires"), t, sizeof t));
  fprintf(stderr, "cpnsctl: the token is shown this once: the server keeps only its hash\n");
  json_decref(doc);
  return 0;
}

static int list(cpns_client_t *c, bool json) {
  json_t *doc;
  int ex = call(c, json, "GET", "tokens", NULL, &doc);
  if (ex || json) return ex;
  json_t *items = json_object_get(doc, "tokens"), *v;
  size_t i;
  printf("%-16s  %-24s  %-32s  %-20s  %s\n", "ID", "HOLDER", "SCOPES", "CREATED", "EXPIRES");
  json_array_foreach(items, i, v) {
    char sc[CPNS4_SCOPES_TEXT_MAX + 1], t1[64], t2[64], exp[80];
    scopes_text(json_object_get(v, "scopes"), sc, sizeof sc);
    snprintf(exp, sizeof exp, "%s%s", when(json_object_get(v, "expires"), t2, sizeof t2),
             json_is_true(json_object_get(v, "expired")) ? " (expired)" : "");
    printf("%-16s  %-24s  %-32s  %-20s  %s\n", str(v, "id"), str(v, "identity"), sc,
           when(json_object_get(v, "created"), t1, sizeof t1), exp);
  }
  json_decref(doc);
  return 0;
}

int ctl_token_command(cpns_client_t *c, bool json, int argc, char **argv) {
  if (argc >= 1 && !strcmp(argv[0], "create")) return create(c, json, argc, argv);
  if (argc == 1 && !strcmp(argv[0], "list")) return list(c, json);
  if (argc == 2 && !strcmp(argv[0], "revoke")) {
    if (!cpns4_valid_token_id(argv[1])) {
      fprintf(stderr, "cpnsctl: '%s' is not a token id (16 hex digits)\n", argv[1]);
      return EXIT_USAGE;
    }
    char path[64];
    snprintf(path, sizeof path, "tokens/%s", argv[1]);
    json_t *doc;
    int ex = call(c, json, "DELETE", path, NULL, &doc);
    if (!ex && !json) printf("revoked\n");
    json_decref(doc);
    return ex;
  }
  fprintf(stderr, "cpnsctl: usage:\n%s", ctl_tokens_usage);
  return EXIT_USAGE;
}
