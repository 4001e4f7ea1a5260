/* SPDX-License-Identifier: Apache-2.0 */
/* openapi_check: checks a running HTTP API against its OpenAPI 3.0 document
 * (docs/cpns4-openapi.json, in tests/integration/test_cpns4.sh). It reads
 * a plan of requests, sends each with curl, and checks that the status is
 * the one expected and one the document gives for that operation, that the
 * response's required headers are there, and that its JSON body matches the
 * documented schema (type, nullable, required, properties,
 * additionalProperties, items, enum, anyOf, minimum/maximum,
 * minLength/maxLength, pattern, minItems/maxItems,
 * minProperties/maxProperties; local $refs). At the end every documented
 * operation must have been exercised with a documented status.
 *
 * With --scope-token SCOPE=FILE (a token holding that scope alone, one per
 * scope), each documented operation is also sent with each of those tokens
 * and no body: the token with the operation's documented scope must not get
 * 403, every other one must (the document's scopes are the server's).
 *
 *   openapi_check --spec FILE --base https://HOST:PORT --cacert FILE
 *                 [--token NAME=FILE]... [--scope-token SCOPE=FILE]... < PLAN
 *
 * A plan line: STATUS METHOD PATH [OPTION]..., PATH with its query, e.g.
 *   201 POST /cpns/v1/services token=acme @desc.json save=SID:id
 *   200 GET /cpns/v1/services/${SID} token=reader
 * Options: token=NAME (or - for none; default: the first --token), @FILE (the
 * body), ctype=TYPE (its Content-Type; default application/json),
 * save=VAR:FIELD (a top-level string of the answer, for ${VAR} later),
 * schema=NAME (check the body against components/schemas/NAME instead: for
 * paths the document does not have), expect=TEXT (the body holds TEXT),
 * header=NAME (the response has this header). '#' starts a comment.
 * Tokens are read from files and passed to curl in a header file, never on
 * a command line. Exit status 0 when everything passed. */
#define _GNU_SOURCE
/* Diagnostics are cut to their buffers on purpose (they quote answers of any
 * length); GCC's -O2/-O3 truncation warning would make that an error. */
#if defined(__GNUC__) && !defined(__clang__) /* clang has no such warning */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TOKENS 16
#define MAX_VARS 32
#define MAX_OPS 64
#define LINE_MAX_ 2048
#define VALUE_MAX 256
#define DEPTH_MAX 32
#define WHY_MAX 512
#define CURL_SECONDS "10"

static json_t *g_spec;
static const char *g_base, *g_cacert;
static char g_basepath[256]; /* the path of servers[0].url: "/cpns/v1" */
static char g_dir[] = "/tmp/openapi_check.XXXXXX";
struct tok {
  char name[64];
  char header[VALUE_MAX]; /* "@FILE": a file "Authorization: Bearer ..." */
};
static struct tok g_tokens[MAX_TOKENS], g_scoped[MAX_TOKENS];
static int g_ntokens, g_nscoped;
static struct {
  char name[64];
  char value[VALUE_MAX];
} g_vars[MAX_VARS];
static int g_nvars;
static struct {
  char method[16];
  char path[256];
  bool hit;
} g_ops[MAX_OPS];
static int g_nops, g_failed, g_passed;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL - ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  g_failed++;
}

/* ---- the document ---- */

/* "#/components/schemas/X" -> the node, or NULL. */
static const json_t *resolve(const char *ref) {
  if (strncmp(ref, "#/", 2) != 0) return NULL;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", ref + 2);
  const json_t *node = g_spec;
  for (char *save = NULL, *p = strtok_r(buf, "/", &save); p && node; p = strtok_r(NULL, "/", &save))
    node = json_object_get(node, p);
  return node;
}

static const json_t *deref(const json_t *node) {
  for (int i = 0; i < DEPTH_MAX && node; i++) {
    const char *r = json_string_value(json_object_get(node, "$ref"));
    if (!r) return node;
    node = resolve(r);
  }
  return NULL;
}

static size_t utf8_len(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static bool type_is(const char *t, const json_t *v) {
  if (!strcmp(t, "object")) return json_is_object(v);
  if (!strcmp(t, "array")) return json_is_array(v);
  if (!strcmp(t, "string")) return json_is_string(v);
  if (!strcmp(t, "integer")) return json_is_integer(v);
  if (!strcmp(t, "number")) return json_is_number(v);
  if (!strcmp(t, "boolean")) return json_is_boolean(v);
  return false;
}

static bool check(const json_t *schema, const json_t *v, const char *at, char *why, int depth);

static bool bound(const json_t *schema, const char *key, double have, bool upper, const char *at,
                  const char *what, char *why) {
  const json_t *b = json_object_get(schema, key);
  if (!json_is_number(b)) return true;
  double lim = json_number_value(b);
  if (upper ? have <= lim : have >= lim) return true;
  snprintf(why, WHY_MAX, "%s: %s %g, %s %g", at, what, have, key, lim);
  return false;
}

static bool check_object(const json_t *schema, const json_t *v, const char *at, char *why,
                         int depth) {
  const json_t *props = json_object_get(schema, "properties");
  const json_t *addl = json_object_get(schema, "additionalProperties");
  size_t i;
  const json_t *r;
  json_array_foreach(json_object_get(schema, "required"), i, r) {
    if (!json_object_get(v, json_string_value(r))) {
      snprintf(why, WHY_MAX, "%s: lacks the required member '%s'", at, json_string_value(r));
      return false;
    }
  }
  if (!bound(schema, "minProperties", (double)json_object_size(v), false, at, "members", why) ||
      !bound(schema, "maxProperties", (double)json_object_size(v), true, at, "members", why))
    return false;
  const char *k;
  const json_t *m;
  json_object_foreach((json_t *)v, k, m) {
    char sub[WHY_MAX / 2];
    snprintf(sub, sizeof sub, "%s.%s", at, k);
    const json_t *ps = json_object_get(props, k);
    if (ps) {
      if (!check(ps, m, sub, why, depth + 1)) return false;
    } else if (json_is_false(addl)) {
      snprintf(why, WHY_MAX, "%s: member '%s' is not documented", at, k);
      return false;
    } else if (json_is_object(addl)) {
      if (!check(addl, m, sub, why, depth + 1)) return false;
    }
  }
  return true;
}

static bool check(const json_t *schema, const json_t *v, const char *at, char *why, int depth) {
  schema = deref(schema);
  if (!schema || depth > DEPTH_MAX) {
    snprintf(why, WHY_MAX, "%s: unresolvable schema", at);
    return false;
  }
  const json_t *any = json_object_get(schema, "anyOf");
  if (any) {
    size_t i;
    const json_t *alt;
    json_array_foreach(any, i, alt) {
      char sink[WHY_MAX];
      if (check(alt, v, at, sink, depth + 1)) return true;
    }
    snprintf(why, WHY_MAX, "%s: matches none of anyOf", at);
    return false;
  }
  if (json_is_null(v) && json_is_true(json_object_get(schema, "nullable"))) return true;
  const char *type = json_string_value(json_object_get(schema, "type"));
  if (type && !type_is(type, v)) {
    snprintf(why, WHY_MAX, "%s: not of type %s", at, type);
    return false;
  }
  const json_t *en = json_object_get(schema, "enum");
  if (en) {
    bool found = false;
    size_t i;
    const json_t *e;
    json_array_foreach(en, i, e) found |= json_equal((json_t *)e, (json_t *)v);
    if (!found) {
      snprintf(why, WHY_MAX, "%s: not one of the enum", at);
      return false;
    }
  }
  if (json_is_string(v)) {
    double n = (double)utf8_len(json_string_value(v));
    if (!bound(schema, "minLength", n, false, at, "length", why) ||
        !bound(schema, "maxLength", n, true, at, "length", why))
      return false;
    const char *pat = json_string_value(json_object_get(schema, "pattern"));
    if (pat) {
      regex_t re;
      if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB)) {
        snprintf(why, WHY_MAX, "%s: the document's pattern does not compile", at);
        return false;
      }
      int m = regexec(&re, json_string_value(v), 0, NULL, 0);
      regfree(&re);
      if (m) {
        snprintf(why, WHY_MAX, "%s: '%.64s' does not match %s", at, json_string_value(v), pat);
        return false;
      }
    }
  }
  if (json_is_number(v) && (!bound(schema, "minimum", json_number_value(v), false, at, "value", why) ||
                            !bound(schema, "maximum", json_number_value(v), true, at, "value", why)))
    return false;
  if (json_is_array(v)) {
    double n = (double)json_array_size(v);
    if (!bound(schema, "minItems", n, false, at, "items", why) ||
        !bound(schema, "maxItems", n, true, at, "items", why))
      return false;
    const json_t *items = json_object_get(schema, "items");
    size_t i;
    const json_t *e;
    if (items) json_array_foreach(v, i, e) {
        char sub[WHY_MAX / 2];
        snprintf(sub, sizeof sub, "%s[%zu]", at, i);
        if (!check(items, e, sub, why, depth + 1)) return false;
      }
  }
  if (json_is_object(v) && !check_object(schema, v, at, why, depth)) return false;
  return true;
}

/* The document's path template that path (no query, below the base path)
 * matches: "/services/{id}" for "/services/8f3a...". */
static const char *find_template(const char *path) {
  const char *tpl;
  const json_t *item;
  json_object_foreach(json_object_get(g_spec, "paths"), tpl, item) {
    const char *a = tpl, *b = path;
    bool ok = true;
    while (ok && *a && *b) {
      size_t la = strcspn(a + 1, "/") + 1, lb = strcspn(b + 1, "/") + 1;
      if (la > 2 && a[1] == '{' && a[la - 1] == '}') ok = lb > 1;
      else ok = la == lb && !memcmp(a, b, la);
      a += la;
      b += lb;
    }
    if (ok && !*a && !*b) return tpl;
  }
  return NULL;
}

/* ---- running curl ---- */

struct result {
  int status;
  char body_file[300], head_file[300];
  json_t *body; /* parsed, or NULL */
  char *raw;
};

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = malloc(1024 * 1024 + 1);
  size_t n = buf ? fread(buf, 1, 1024 * 1024, f) : 0;
  fclose(f);
  if (buf) buf[n] = '\0';
  return buf;
}

static bool has_header(const char *heads, const char *name) {
  size_t n = strlen(name);
  for (const char *p = heads; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (!strncasecmp(p, name, n) && p[n] == ':') return true;
  return false;
}

static int curl(const char *method, const char *url, const char *header_file, const char *body,
                const char *ctype, struct result *r) {
  memset(r, 0, sizeof *r);
  snprintf(r->body_file, sizeof r->body_file, "%s/body", g_dir);
  snprintf(r->head_file, sizeof r->head_file, "%s/head", g_dir);
  char status_file[300], ct[VALUE_MAX + 16], data[VALUE_MAX + 2];
  snprintf(status_file, sizeof status_file, "%s/status", g_dir);
  const char *argv[32];
  int n = 0;
  argv[n++] = "curl";
  argv[n++] = "-sS";
  argv[n++] = "--max-time";
  argv[n++] = CURL_SECONDS;
  argv[n++] = "--cacert";
  argv[n++] = g_cacert;
  argv[n++] = "-o";
  argv[n++] = r->body_file;
  argv[n++] = "-D";
  argv[n++] = r->head_file;
  argv[n++] = "-w";
  argv[n++] = "%{http_code}";
  argv[n++] = "-X";
  argv[n++] = method;
  if (header_file) {
    argv[n++] = "-H";
    argv[n++] = header_file;
  }
  if (body) {
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
    snprintf(data, sizeof data, "@%s", body);
    argv[n++] = "-H";
    argv[n++] = ct;
    argv[n++] = "--data-binary";
    argv[n++] = data;
  }
  argv[n++] = url;
  argv[n] = NULL;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(status_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, 1) < 0) _exit(127);
    execvp("curl", (char *const *)argv);
    _exit(127);
  }
  int st;
  if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
  char *s = slurp(status_file);
  r->status = s ? atoi(s) : 0;
  free(s);
  r->raw = slurp(r->body_file);
  if (r->raw && *r->raw) r->body = json_loads(r->raw, JSON_DECODE_ANY, NULL);
  return 0;
}

static void result_free(struct result *r) {
  json_decref(r->body);
  free(r->raw);
}

/* ---- operations ---- */

static void note_op(const char *method, const char *tpl) {
  for (int i = 0; i < g_nops; i++)
    if (!strcasecmp(g_ops[i].method, method) && !strcmp(g_ops[i].path, tpl)) {
      g_ops[i].hit = true;
      return;
    }
}

static void list_ops(void) {
  const char *tpl, *m;
  const json_t *item, *op;
  json_object_foreach(json_object_get(g_spec, "paths"), tpl, item) {
    json_object_foreach((json_t *)item, m, op) {
      if (!strcmp(m, "parameters") || g_nops >= MAX_OPS) continue;
      snprintf(g_ops[g_nops].method, sizeof g_ops[0].method, "%s", m);
      snprintf(g_ops[g_nops].path, sizeof g_ops[0].path, "%s", tpl);
      g_nops++;
    }
  }
}

/* Checks one answer against what the document says of method on path;
 * schema_override names a components schema for paths it does not have. */
static bool check_answer(const char *method, const char *path, const char *schema_override,
                         struct result *r, char *why) {
  const json_t *schema = NULL;
  if (schema_override) {
    char ref[128];
    snprintf(ref, sizeof ref, "#/components/schemas/%s", schema_override);
    schema = resolve(ref);
    if (!schema) {
      snprintf(why, WHY_MAX, "no schema %s in the document", schema_override);
      return false;
    }
  } else {
    char lower[16];
    size_t i;
    for (i = 0; method[i] && i < sizeof lower - 1; i++) lower[i] = (char)(method[i] | 0x20);
    lower[i] = '\0';
    const char *tpl = find_template(path);
    const json_t *op = tpl ? json_object_get(json_object_get(json_object_get(g_spec, "paths"), tpl), lower)
                           : NULL;
    if (!op) {
      snprintf(why, WHY_MAX, "the document has no operation %s %s", method, path);
      return false;
    }
    char code[8];
    snprintf(code, sizeof code, "%d", r->status);
    const json_t *resp = deref(json_object_get(json_object_get(op, "responses"), code));
    if (!resp) {
      snprintf(why, WHY_MAX, "status %d is not documented for %s %s", r->status, method, tpl);
      return false;
    }
    note_op(lower, tpl);
    char *heads = slurp(r->head_file);
    const char *h;
    const json_t *hv;
    json_object_foreach(json_object_get(resp, "headers"), h, hv) {
      if (json_is_true(json_object_get(deref(hv), "required")) && !has_header(heads, h)) {
        snprintf(why, WHY_MAX, "the response lacks the required header %s", h);
        free(heads);
        return false;
      }
    }
    free(heads);
    schema = json_object_get(json_object_get(json_object_get(resp, "content"), "application/json"),
                             "schema");
    if (!schema) {
      if (r->raw && *r->raw) {
        snprintf(why, WHY_MAX, "a body where the document has none");
        return false;
      }
      return true;
    }
  }
  if (!r->body) {
    snprintf(why, WHY_MAX, "the body is not JSON: %.80s", r->raw ? r->raw : "(none)");
    return false;
  }
  return check(schema, r->body, "body", why, 0);
}

/* ---- the plan ---- */

static const char *token_header(const char *name) {
  for (int i = 0; i < g_ntokens; i++)
    if (!strcmp(g_tokens[i].name, name)) return g_tokens[i].header;
  return NULL;
}

static void substitute(const char *in, char *out, size_t outlen) {
  size_t o = 0;
  while (*in && o + 1 < outlen) {
    if (in[0] == '$' && in[1] == '{') {
      const char *end = strchr(in, '}');
      if (end) {
        for (int i = 0; i < g_nvars; i++)
          if (strlen(g_vars[i].name) == (size_t)(end - in - 2) &&
              !strncmp(g_vars[i].name, in + 2, (size_t)(end - in - 2))) {
            o += (size_t)snprintf(out + o, outlen - o, "%s", g_vars[i].value);
            break;
          }
        in = end + 1;
        if (o >= outlen) o = outlen - 1;
        continue;
      }
    }
    out[o++] = *in++;
  }
  out[o] = '\0';
}

static void set_var(const char *name, const char *value) {
  int i;
  for (i = 0; i < g_nvars && strcmp(g_vars[i].name, name); i++) {}
  if (i == MAX_VARS) return;
  if (i == g_nvars) g_nvars++;
  snprintf(g_vars[i].name, sizeof g_vars[0].name, "%s", name);
  snprintf(g_vars[i].value, sizeof g_vars[0].value, "%s", value);
}

static void run_line(char *line) {
  char *save = NULL, *words[16];
  int n = 0;
  for (char *w = strtok_r(line, " \t\n", &save); w && n < 16; w = strtok_r(NULL, " \t\n", &save))
    words[n++] = w;
  if (n == 0 || words[0][0] == '#') return;
  if (n < 3) {
    fail("bad plan line: %s", words[0]);
    return;
  }
  int want = atoi(words[0]);
  const char *method = words[1], *header = g_ntokens ? g_tokens[0].header : NULL, *body = NULL,
             *ctype = NULL, *schema = NULL, *expect = NULL, *needhead = NULL, *savespec = NULL;
  char path[LINE_MAX_], url[LINE_MAX_ + 256], expbuf[VALUE_MAX];
  substitute(words[2], path, sizeof path);
  for (int i = 3; i < n; i++) {
    if (!strncmp(words[i], "token=", 6)) {
      header = strcmp(words[i] + 6, "-") ? token_header(words[i] + 6) : NULL;
      if (strcmp(words[i] + 6, "-") && !header) {
        fail("%s %s: unknown token %s", method, path, words[i] + 6);
        return;
      }
    } else if (words[i][0] == '@') body = words[i] + 1;
    else if (!strncmp(words[i], "ctype=", 6)) ctype = words[i] + 6;
    else if (!strncmp(words[i], "schema=", 7)) schema = words[i] + 7;
    else if (!strncmp(words[i], "expect=", 7)) {
      substitute(words[i] + 7, expbuf, sizeof expbuf);
      expect = expbuf;
    } else if (!strncmp(words[i], "header=", 7)) needhead = words[i] + 7;
    else if (!strncmp(words[i], "save=", 5)) savespec = words[i] + 5;
    else {
      fail("%s %s: unknown option %s", method, path, words[i]);
      return;
    }
  }
  snprintf(url, sizeof url, "%s%s", g_base, path);
  struct result r;
  if (curl(method, url, header, body, ctype, &r)) {
    fail("%s %s: curl failed", method, path);
    result_free(&r);
    return;
  }
  char why[WHY_MAX] = "";
  char rel[LINE_MAX_];
  size_t bl = strlen(g_basepath);
  snprintf(rel, sizeof rel, "%s", strncmp(path, g_basepath, bl) ? path : path + bl);
  rel[strcspn(rel, "?")] = '\0';
  bool ok = r.status == want;
  if (!ok) snprintf(why, sizeof why, "status %d, expected %d: %.160s", r.status, want, r.raw ? r.raw : "");
  if (ok) ok = check_answer(method, rel, schema, &r, why);
  if (ok && expect && (!r.raw || !strstr(r.raw, expect))) {
    snprintf(why, sizeof why, "the body lacks '%s': %.160s", expect, r.raw ? r.raw : "");
    ok = false;
  }
  if (ok && needhead) {
    char *heads = slurp(r.head_file);
    if (!has_header(heads, needhead)) {
      snprintf(why, sizeof why, "no %s header", needhead);
      ok = false;
    }
    free(heads);
  }
  if (ok && savespec) {
    char var[64];
    const char *colon = strchr(savespec, ':');
    const char *v = colon ? json_string_value(json_object_get(r.body, colon + 1)) : NULL;
    if (!v || (size_t)(colon - savespec) >= sizeof var) {
      snprintf(why, sizeof why, "no text '%s' to save", colon ? colon + 1 : savespec);
      ok = false;
    } else {
      memcpy(var, savespec, (size_t)(colon - savespec));
      var[colon - savespec] = '\0';
      set_var(var, v);
    }
  }
  if (ok) {
    printf("ok - %d %s %s\n", want, method, path);
    g_passed++;
  } else {
    fail("%d %s %s: %s", want, method, path, why);
  }
  result_free(&r);
}

/* Every documented operation, with a token of each single scope. */
static void scope_pass(void) {
  const char *tpl, *m;
  const json_t *item, *op;
  json_object_foreach(json_object_get(g_spec, "paths"), tpl, item) {
    json_object_foreach((json_t *)item, m, op) {
      if (!strcmp(m, "parameters")) continue;
      const char *need = json_string_value(
          json_array_get(json_object_get(json_array_get(json_object_get(op, "security"), 0), "bearer"), 0));
      char path[256], url[512], method[16];
      size_t i, o = 0;
      for (i = 0; tpl[i] && o < sizeof path - 20; i++) {
        if (tpl[i] == '{') { /* a placeholder id that names nothing */
          o += (size_t)snprintf(path + o, sizeof path - o, "0000000000000000");
          while (tpl[i] && tpl[i] != '}') i++;
        } else {
          path[o++] = tpl[i];
        }
      }
      path[o] = '\0';
      for (i = 0; m[i] && i < sizeof method - 1; i++) method[i] = (char)(m[i] & ~0x20);
      method[i] = '\0';
      snprintf(url, sizeof url, "%s%s%s", g_base, g_basepath, path);
      for (int t = 0; t < g_nscoped; t++) {
        struct result r;
        char why[WHY_MAX] = "";
        bool mine = need && !strcmp(g_scoped[t].name, need), ok;
        if (curl(method, url, g_scoped[t].header, NULL, NULL, &r)) {
          ok = false;
          snprintf(why, sizeof why, "curl failed");
        } else {
          /* A refusal for the scope says so (RFC 6750 §3.1); a 403 of the
           * resource's own rule (not the service's offerer) does not. */
          char *heads = slurp(r.head_file);
          bool scope_refused = r.status == 403 && heads && strstr(heads, "insufficient_scope");
          free(heads);
          ok = scope_refused != mine && check_answer(method, path, NULL, &r, why);
          if (mine && scope_refused)
            snprintf(why, sizeof why, "refused for the documented scope %s", need);
          else if (!mine && !scope_refused)
            snprintf(why, sizeof why, "%d with scope %s, not the documented %s", r.status,
                     g_scoped[t].name, need ? need : "(none)");
        }
        if (ok) {
          g_passed++;
        } else {
          fail("scope %s: %s %s: %s", g_scoped[t].name, method, tpl, why);
        }
        result_free(&r);
      }
    }
  }
  printf("ok - scopes: every operation tried with each of %d single-scope tokens\n", g_nscoped);
}

/* NAME=FILE: a header file "Authorization: Bearer <the file's first line>". */
static int add_token(const char *spec, bool scoped) {
  const char *eq = strchr(spec, '=');
  int *n = scoped ? &g_nscoped : &g_ntokens;
  if (!eq || *n >= MAX_TOKENS || (size_t)(eq - spec) >= sizeof g_tokens[0].name) return -1;
  char *tok = slurp(eq + 1);
  if (!tok) return -1;
  tok[strcspn(tok, "\r\n")] = '\0';
  struct tok *t = scoped ? &g_scoped[*n] : &g_tokens[*n];
  memcpy(t->name, spec, (size_t)(eq - spec));
  t->name[eq - spec] = '\0';
  snprintf(t->header, sizeof t->header, "@%s/h%s%d", g_dir, scoped ? "s" : "t", *n);
  int fd = open(t->header + 1, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    free(tok);
    return -1;
  }
  fprintf(f, "Authorization: Bearer %s\n", tok);
  fclose(f);
  free(tok);
  (*n)++;
  return 0;
}

static void cleanup(void) {
  char cmd[64];
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
  if (system(cmd)) {}
}

int main(int argc, char **argv) {
  const char *spec = NULL;
  if (!mkdtemp(g_dir)) return 2;
  atexit(cleanup);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--spec")) spec = argv[i + 1];
    else if (!strcmp(argv[i], "--base")) g_base = argv[i + 1];
    else if (!strcmp(argv[i], "--cacert")) g_cacert = argv[i + 1];
    else if (!strcmp(argv[i], "--token") || !strcmp(argv[i], "--scope-token")) {
      if (add_token(argv[i + 1], argv[i][2] == 's')) {
        fprintf(stderr, "openapi_check: bad %s %s\n", argv[i], argv[i + 1]);
        return 2;
      }
    } else {
      fprintf(stderr, "openapi_check: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  json_error_t je;
  if (!spec || !g_base || !g_cacert || !(g_spec = json_load_file(spec, 0, &je))) {
    fprintf(stderr, "usage: openapi_check --spec FILE --base URL --cacert FILE [--token N=F]... "
                    "[--scope-token SCOPE=F]... < PLAN\n");
    return 2;
  }
  const char *server = json_string_value(json_object_get(json_array_get(json_object_get(g_spec, "servers"), 0), "url"));
  const char *p = server ? strstr(server, "://") : NULL;
  p = p ? strchr(p + 3, '/') : NULL;
  snprintf(g_basepath, sizeof g_basepath, "%s", p ? p : "");
  list_ops();
  char line[LINE_MAX_];
  while (fgets(line, sizeof line, stdin)) run_line(line);
  if (g_nscoped) scope_pass();
  for (int i = 0; i < g_nops; i++)
    if (!g_ops[i].hit) fail("the operation %s %s was never exercised with a documented status",
                            g_ops[i].method, g_ops[i].path);
  printf("openapi_check: %d passed, %d failed, %d documented operations\n", g_passed, g_failed,
         g_nops);
  json_decref(g_spec);
  return g_failed ? 1 : 0;
}
