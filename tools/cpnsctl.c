/* SPDX-License-Identifier: Apache-2.0 */
/* cpnsctl: one command-line tool for people and scripts. It talks to any
 * CPNS entity through the CPNS-5 client API (a PNE's local listener, a
 * gateway, or the server as operator), prints tables for people and JSON
 * with --json, and exits 0 on success, 1 when the entity refused, 2 on a
 * usage error, 3 when it could not be reached. */
#include <cpns/client.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpnsctl.h"
#include "cpnsctl_status.h"
#include "groupkey.h"
#include "keyring.h"
#include "msg.h"

struct profile {
  char uri[256];
  char identity[CPNS_ID_MAX + 1];
  char key_file[4096];
};

static bool g_json;

static void usage(FILE *out) {
  fprintf(out,
          "Usage: cpnsctl [options] COMMAND [ARGS]\n"
          "Talks to a CPNS entity: a PNE (its local CPNS-5 listener), a PN gateway, or the\n"
          "CPNS server (as an operator).\n\n"
          "Options:\n"
          "  -P, --profile FILE   read uri, identity and key_file from FILE ([cpnsctl] section);\n"
          "                       default: $CPNSCTL_PROFILE\n"
          "  -H, --uri URI        coaps://host:port of the entity\n"
          "  -i, --identity ID    PSK identity\n"
          "  -k, --key-file FILE  file holding the 64-hex-digit key (mode 0600)\n"
          "  -j, --json           print JSON instead of tables\n"
          "  -t, --timeout MS     per request (default 10000)\n"
          "  -h, --help           this text;  -V, --version\n\n"
          "Commands:\n"
          "  keygen                   print a new random 256-bit key\n"
          "  info                     who the entity is (GET /cpns/v1/entity)\n"
          "  neighbors                entities discovered around it, with their roles\n"
          "  pn list                  PNs (the operator pages through all of them)\n"
          "  pn show PN               the PN Inventory of PN\n"
          "  pn join [PN]             ask the PNE to join PN (default: its configured PN)\n"
          "  pn leave                 ask the PNE to leave its PN\n"
          "  pn add PN ID [NAME]      allow entity ID into PN\n"
          "  pn expel PN ID           expel entity ID from PN\n"
          "  pn remove PN             remove PN with all its entities\n"
          "  pn readers PN [READER...]  show, or set, PN's readers: PNs (their gateways and\n"
          "                           members read its inventory, caps and statuses) and\n"
          "                           external servers ext.NAME (CPNS-4: caps and statuses)\n"
          "  pn gw PN                 (server) ask PN's gateway for its status, live over CPNS-7\n"
          "  enroll ID PN [pne|gw] [TTL]  create a one-time enrollment code for a new device\n"
          "                           (operator, or a PN GW for its own PN); the code is shown once\n"
          "  key rotate ID            a new Entity-User Key for ID (the old one stops working)\n"
          "  key revoke ID            revoke ID's key and close its sessions\n"
          "  group create ID [open]   create Service Group ID (you own it and are its first member)\n"
          "  group show ID            the group, its owner, key epoch and members\n"
          "  group invite ID MEMBER   let MEMBER join (owner)\n"
          "  group join ID [MEMBER]   join (MEMBER: default yourself); the key changes\n"
          "  group leave ID [MEMBER]  leave; the key changes\n"
          "  group expel ID MEMBER    expel MEMBER (owner, operator); the key changes\n"
          "  group delete ID          delete the group and its key (owner, operator)\n"
          "  group key ID             the current group key (members; -j for the JSON to save)\n"
          "  group seal ID FILE       seal FILE with the current group key, to stdout\n"
          "  group open ID FILE [--key-json KEYFILE]\n"
          "                           open a sealed FILE with the current key, or a saved one\n"
          "%s%s"
          "  get|delete PATH          raw request, PATH relative to /cpns/v1\n"
          "  put|post PATH [JSON]     raw request with a JSON body\n",
          ctl_services_usage, ctl_caps_usage);
  fputs(ctl_status_usage, out);
  fputs(ctl_usage_usage, out);
  fputs(ctl_tokens_usage, out);
}

static int on_profile(void *user, const char *section, const char *name, const char *value) {
  struct profile *p = user;
  if (strcmp(section, "cpnsctl") != 0) return 1;
  if (!strcmp(name, "uri")) snprintf(p->uri, sizeof p->uri, "%s", value);
  else if (!strcmp(name, "identity")) snprintf(p->identity, sizeof p->identity, "%s", value);
  else if (!strcmp(name, "key_file")) snprintf(p->key_file, sizeof p->key_file, "%s", value);
  else {
    fprintf(stderr, "cpnsctl: unknown profile option '%s'\n", name);
    return 0;
  }
  return 1;
}

static const char *ago(int64_t t, char *buf, size_t len) {
  if (!t) return "-";
  long d = (long)(time(NULL) - t);
  if (d < 0) snprintf(buf, len, "in %lds", -d);
  else if (d < 120) snprintf(buf, len, "%lds ago", d);
  else if (d < 7200) snprintf(buf, len, "%ldm ago", d / 60);
  else snprintf(buf, len, "%ldh ago", d / 3600);
  return buf;
}

static const char *str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s && *s ? s : "-";
}

static void roles_text(const json_t *roles, char *out, size_t len) {
  out[0] = '\0';
  size_t i;
  json_t *v;
  json_array_foreach(roles, i, v) {
    size_t used = strlen(out);
    snprintf(out + used, len - used, "%s%s", i ? "+" : "", json_string_value(v) ? json_string_value(v) : "?");
  }
  if (!out[0]) snprintf(out, len, "-");
}

static void print_entities(const json_t *ents) {
  printf("%-20s %-20s %-12s %-8s %-8s %-22s %s\n", "ID", "NAME", "TYPE", "ROLES", "STATE", "ADDRESS",
         "UPDATED");
  size_t i;
  json_t *e;
  json_array_foreach(ents, i, e) {
    char roles[32], when[32];
    roles_text(json_object_get(e, "roles"), roles, sizeof roles);
    json_t *u = json_object_get(e, "updated");
    printf("%-20s %-20s %-12s %-8s %-8s %-22s %s\n", str(e, "id"), str(e, "name"), str(e, "type"),
           roles, str(e, "state"), str(e, "addr"),
           ago(json_is_integer(u) ? json_integer_value(u) : 0, when, sizeof when));
  }
  if (json_array_size(ents) == 0) printf("(no entities)\n");
}

static void print_inventory(const json_t *doc) {
  const json_t *p = json_object_get(doc, "pn");
  printf("PN %s \"%s\"  owner %s  gateway %s  %s  %s\n", str(p, "id"), str(p, "name"),
         str(p, "owner"), str(p, "gw"), str(p, "state"),
         json_is_true(json_object_get(p, "open")) ? "open" : "closed");
  if (json_object_get(doc, "server")) printf("server link: %s\n", str(doc, "server"));
  print_entities(json_object_get(doc, "entities"));
}

static void print_pns(const json_t *doc) {
  printf("%-20s %-24s %-14s %-16s %-8s %s\n", "PN", "NAME", "OWNER", "GATEWAY", "STATE", "UPDATED");
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(doc, "pns"), i, p) {
    char when[32];
    json_t *u = json_object_get(p, "updated");
    printf("%-20s %-24s %-14s %-16s %-8s %s\n", str(p, "id"), str(p, "name"), str(p, "owner"),
           str(p, "gw"), str(p, "state"), ago(json_is_integer(u) ? json_integer_value(u) : 0, when, sizeof when));
  }
  if (json_is_string(json_object_get(doc, "next")))
    printf("(more: add ?after=%s, e.g. cpnsctl get 'pns?after=%s')\n", str(doc, "next"), str(doc, "next"));
}

static void print_neighbors(const json_t *doc) {
  printf("%-20s %-16s %-8s %-28s %s\n", "ID", "PN", "ROLES", "ADDRESS", "LAST SEEN");
  size_t i;
  json_t *n;
  json_array_foreach(json_object_get(doc, "neighbors"), i, n) {
    char roles[32], when[32], addr[96];
    roles_text(json_object_get(n, "roles"), roles, sizeof roles);
    snprintf(addr, sizeof addr, "%s:%lld", str(n, "host"),
             (long long)json_integer_value(json_object_get(n, "port")));
    json_t *u = json_object_get(n, "last_seen");
    printf("%-20s %-16s %-8s %-28s %s\n", str(n, "id"), str(n, "pn"), roles, addr,
           ago(json_is_integer(u) ? json_integer_value(u) : 0, when, sizeof when));
  }
  if (json_array_size(json_object_get(doc, "neighbors")) == 0) printf("(none discovered yet)\n");
}

static void print_object(const json_t *doc, int indent) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)doc, k, v) {
    if (json_is_object(v)) {
      printf("%*s%s:\n", indent, "", k);
      print_object(v, indent + 2);
    } else {
      char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
      printf("%*s%-12s %s\n", indent, "", k, s ? s : json_string_value(v));
      free(s);
    }
  }
}

static void print_group(const json_t *g) {
  printf("group %s  owner %s  pn %s  %s  key epoch %lld\n", str(g, "id"), str(g, "owner"),
         str(g, "pn"), json_is_true(json_object_get(g, "open")) ? "open" : "by invitation",
         (long long)json_integer_value(json_object_get(g, "epoch")));
  printf("%-24s %s\n", "MEMBER", "STATE");
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(g, "members"), i, m) printf("%-24s %s\n", str(m, "id"), str(m, "state"));
}

enum view { VIEW_NONE, VIEW_OBJECT, VIEW_INVENTORY, VIEW_PNS, VIEW_NEIGHBORS, VIEW_READERS, VIEW_GROUP };

/* Runs one request and prints its answer. Returns the exit code. */
static int run(cpns_client_t *c, const char *method, const char *path, const char *query,
               const char *body, enum view view, const char *done_msg) {
  char *out = NULL;
  int rc = cpns_client_request(c, method, path, query, body, &out);
  if (rc) {
    fprintf(stderr, "cpnsctl: %s %s: %s\n", method, path, cpns_client_error(c));
    return cpns_client_status(c) ? EXIT_REFUSED : EXIT_UNREACHABLE;
  }
  if (g_json || view == VIEW_NONE) {
    if (out) printf("%s\n", out);
    else if (done_msg) printf("%s\n", g_json ? "{}" : done_msg);
    free(out);
    return 0;
  }
  json_t *doc = out ? json_loads(out, JSON_DECODE_ANY, NULL) : NULL;
  free(out);
  if (!doc) {
    if (done_msg) printf("%s\n", done_msg);
    return 0;
  }
  switch (view) {
  case VIEW_INVENTORY: print_inventory(doc); break;
  case VIEW_PNS: print_pns(doc); break;
  case VIEW_NEIGHBORS: print_neighbors(doc); break;
  case VIEW_GROUP: print_group(doc); break;
  case VIEW_READERS: {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "readers"), i, r) printf("%s\n", json_string_value(r));
    if (!json_array_size(json_object_get(doc, "readers"))) printf("(only the PN itself)\n");
    break;
  }
  default: print_object(doc, 0); break;
  }
  json_decref(doc);
  return 0;
}

static bool need(int argc, int have, int want, const char *what) {
  if (have < want) {
    fprintf(stderr, "cpnsctl: %s\n", what);
    return false;
  }
  (void)argc;
  return true;
}

static int pn_command(cpns_client_t *c, int argc, char **argv) {
  char path[256];
  if (argc < 1) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *sub = argv[0];
  for (int i = 1; i < argc && i < 3; i++)
    if (!cpns_valid_id(argv[i]) && strcmp(sub, "add") != 0) {
      fprintf(stderr, "cpnsctl: '%s' is not a valid id\n", argv[i]);
      return EXIT_USAGE;
    }
  if (!strcmp(sub, "list")) return run(c, "GET", "pns", NULL, NULL, VIEW_PNS, NULL);
  if (!strcmp(sub, "show")) {
    if (!need(argc, argc, 2, "usage: pn show PN")) return EXIT_USAGE;
    snprintf(path, sizeof path, "pns/%s", argv[1]);
    return run(c, "GET", path, NULL, NULL, VIEW_INVENTORY, NULL);
  }
  if (!strcmp(sub, "join")) {
    char body[128] = "{}";
    if (argc >= 2) snprintf(body, sizeof body, "{\"pn\":\"%s\"}", argv[1]);
    return run(c, "PUT", "membership", NULL, body, VIEW_OBJECT, "joining");
  }
  if (!strcmp(sub, "leave")) return run(c, "DELETE", "membership", NULL, NULL, VIEW_OBJECT, "left");
  if (!strcmp(sub, "add")) {
    if (!need(argc, argc, 3, "usage: pn add PN ID [NAME]")) return EXIT_USAGE;
    if (!cpns_valid_id(argv[1]) || !cpns_valid_id(argv[2])) {
      fprintf(stderr, "cpnsctl: PN and ID must be ids\n");
      return EXIT_USAGE;
    }
    json_t *b = json_pack("{s:s}", "id", argv[2]);
    if (argc >= 4) json_object_set_new(b, "name", json_string(argv[3]));
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    snprintf(path, sizeof path, "pns/%s/entities", argv[1]);
    int ex = run(c, "POST", path, NULL, body, VIEW_OBJECT, "added");
    free(body);
    return ex;
  }
  if (!strcmp(sub, "expel")) {
    if (!need(argc, argc, 3, "usage: pn expel PN ID")) return EXIT_USAGE;
    snprintf(path, sizeof path, "pns/%s/entities/%s", argv[1], argv[2]);
    return run(c, "DELETE", path, "expel", NULL, VIEW_OBJECT, "expelled");
  }
  if (!strcmp(sub, "remove")) {
    if (!need(argc, argc, 2, "usage: pn remove PN")) return EXIT_USAGE;
    snprintf(path, sizeof path, "pns/%s", argv[1]);
    return run(c, "DELETE", path, NULL, NULL, VIEW_OBJECT, "removed");
  }
  if (!strcmp(sub, "gw")) {
    if (!need(argc, argc, 2, "usage: pn gw PN")) return EXIT_USAGE;
    snprintf(path, sizeof path, "pns/%s/gw", argv[1]);
    return run(c, "GET", path, NULL, NULL, VIEW_OBJECT, NULL);
  }
  if (!strcmp(sub, "readers")) {
    if (!need(argc, argc, 2, "usage: pn readers PN [PN2|ext.NAME...]")) return EXIT_USAGE;
    snprintf(path, sizeof path, "pns/%s/readers", argv[1]);
    if (argc == 2) return run(c, "GET", path, NULL, NULL, VIEW_READERS, NULL);
    json_t *arr = json_array();
    for (int i = 2; i < argc; i++) {
      if (!cpns_valid_id(argv[i])) {
        json_decref(arr);
        fprintf(stderr, "cpnsctl: '%s' is not a valid id\n", argv[i]);
        return EXIT_USAGE;
      }
      json_array_append_new(arr, json_string(argv[i]));
    }
    json_t *b = json_pack("{s:o}", "readers", arr);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    int ex = run(c, "PUT", path, NULL, body, VIEW_OBJECT, "readers set");
    free(body);
    return ex;
  }
  fprintf(stderr, "cpnsctl: unknown command 'pn %s'\n", sub);
  return EXIT_USAGE;
}

/* Reads a whole file (at most limit bytes) into *out (free()). */
static int read_all(const char *path, size_t limit, uint8_t **out, size_t *len) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cpnsctl: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (n < cap) break;
    if (cap > limit) break;
    uint8_t *nb = realloc(buf, cap * 2);
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  if (f != stdin) fclose(f);
  if (!buf || n > limit) {
    fprintf(stderr, "cpnsctl: %s: %s\n", path, buf ? "too large" : "out of memory");
    free(buf);
    return -1;
  }
  *out = buf;
  *len = n;
  return 0;
}

/* The group key from a distribution message (a saved `group key -j`). */
static int key_from_text(const char *text, struct cpns_group_key *k) {
  json_t *j = json_loads(text, 0, NULL);
  char err[128];
  int rc = j ? cpns_group_key_from_json(j, k, err, sizeof err) : CPNS_ERR_INVAL;
  json_decref(j);
  if (rc) fprintf(stderr, "cpnsctl: not a group key: %s\n", j ? err : "not JSON");
  return rc;
}

/* Fetches group's current key (pull). Returns an exit code. */
static int fetch_key(cpns_client_t *c, const char *group, struct cpns_group_key *k) {
  char path[CPNS_ID_MAX + 16], *out = NULL;
  snprintf(path, sizeof path, "groups/%s/key", group);
  if (cpns_client_request(c, "GET", path, NULL, NULL, &out)) {
    fprintf(stderr, "cpnsctl: GET %s: %s\n", path, cpns_client_error(c));
    return cpns_client_status(c) ? EXIT_REFUSED : EXIT_UNREACHABLE;
  }
  int rc = out ? key_from_text(out, k) : CPNS_ERR_INVAL;
  if (out) OPENSSL_cleanse(out, strlen(out));
  free(out);
  return rc ? EXIT_REFUSED : 0;
}

/* group seal|open ID FILE [--key-json KEYFILE]: content sealed for the group
 * (lib/groupkey.h), written to stdout. */
static int group_crypto(cpns_client_t *c, bool seal, int argc, char **argv) {
  const char *group = argv[1], *file = argv[2], *key_json = NULL;
  if (argc == 5 && !strcmp(argv[3], "--key-json")) key_json = argv[4];
  else if (argc != 3) {
    fprintf(stderr, "cpnsctl: usage: group %s ID FILE%s\n", seal ? "seal" : "open",
            seal ? "" : " [--key-json KEYFILE]");
    return EXIT_USAGE;
  }
  struct cpns_group_key k;
  int ex;
  if (key_json) {
    uint8_t *text;
    size_t n;
    if (read_all(key_json, 4096, &text, &n)) return EXIT_USAGE;
    char *z = malloc(n + 1);
    if (!z) {
      free(text);
      return EXIT_UNREACHABLE;
    }
    memcpy(z, text, n);
    z[n] = '\0';
    OPENSSL_cleanse(text, n);
    free(text);
    ex = key_from_text(z, &k) ? EXIT_USAGE : 0;
    OPENSSL_cleanse(z, n);
    free(z);
  } else {
    ex = fetch_key(c, group, &k);
  }
  if (ex) return ex;
  if (strcmp(k.group, group) != 0) {
    cpns_group_key_wipe(&k);
    fprintf(stderr, "cpnsctl: the key is for group %s, not %s\n", k.group, group);
    return EXIT_USAGE;
  }
  uint8_t *in, *out = NULL;
  size_t inlen, outlen = 0;
  if (read_all(file, CPNS_GROUP_SEAL_MAX + CPNS_GROUP_SEAL_OVERHEAD(CPNS_ID_MAX), &in, &inlen)) {
    cpns_group_key_wipe(&k);
    return EXIT_USAGE;
  }
  int rc = seal ? cpns_group_seal(&k, NULL, 0, in, inlen, &out, &outlen)
                : cpns_group_open(&k, (int64_t)time(NULL), NULL, 0, in, inlen, &out, &outlen);
  if (!seal && rc == CPNS_ERR_DENIED) {
    char g[CPNS_ID_MAX + 1];
    uint32_t epoch = 0;
    cpns_group_sealed_info(in, inlen, g, &epoch);
    fprintf(stderr, "cpnsctl: sealed for epoch %u of %s; the key is of epoch %u\n", epoch, g,
            k.epoch);
  } else if (rc) {
    fprintf(stderr, "cpnsctl: cannot %s: %s\n", seal ? "seal" : "open", cpns_strerror(rc));
  }
  cpns_group_key_wipe(&k);
  free(in);
  if (rc) return EXIT_REFUSED;
  ex = fwrite(out, 1, outlen, stdout) == outlen ? 0 : EXIT_UNREACHABLE;
  free(out);
  return ex;
}

static int group_command(cpns_client_t *c, const char *self, int argc, char **argv) {
  char path[256];
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *sub = argv[0], *id = argv[1];
  for (int i = 1; i < argc && i < 3; i++)
    if (!cpns_valid_id(argv[i]) && !(i == 2 && (!strcmp(sub, "seal") || !strcmp(sub, "open")))) {
      fprintf(stderr, "cpnsctl: '%s' is not a valid id\n", argv[i]);
      return EXIT_USAGE;
    }
  const char *member = argc >= 3 ? argv[2] : self;
  if (!strcmp(sub, "create")) {
    bool open = argc >= 3 && !strcmp(argv[2], "open");
    if (argc >= 3 && !open) {
      fprintf(stderr, "cpnsctl: usage: group create ID [open]\n");
      return EXIT_USAGE;
    }
    char body[128];
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"open\":%s}", id, open ? "true" : "false");
    return run(c, "POST", "groups", NULL, body, VIEW_OBJECT, "created");
  }
  if (!strcmp(sub, "show")) {
    snprintf(path, sizeof path, "groups/%s", id);
    return run(c, "GET", path, NULL, NULL, VIEW_GROUP, NULL);
  }
  if (!strcmp(sub, "delete")) {
    snprintf(path, sizeof path, "groups/%s", id);
    return run(c, "DELETE", path, NULL, NULL, VIEW_OBJECT, "deleted");
  }
  if (!strcmp(sub, "key")) {
    snprintf(path, sizeof path, "groups/%s/key", id);
    return run(c, "GET", path, NULL, NULL, VIEW_OBJECT, NULL);
  }
  if (!strcmp(sub, "seal") || !strcmp(sub, "open")) {
    if (argc < 3) {
      fprintf(stderr, "cpnsctl: usage: group %s ID FILE\n", sub);
      return EXIT_USAGE;
    }
    return group_crypto(c, !strcmp(sub, "seal"), argc, argv);
  }
  if (!strcmp(sub, "invite")) {
    if (argc < 3) {
      fprintf(stderr, "cpnsctl: usage: group invite ID MEMBER\n");
      return EXIT_USAGE;
    }
    char body[128];
    snprintf(body, sizeof body, "{\"id\":\"%s\"}", argv[2]);
    snprintf(path, sizeof path, "groups/%s/invitations", id);
    return run(c, "POST", path, NULL, body, VIEW_OBJECT, "invited");
  }
  bool join = !strcmp(sub, "join"), leave = !strcmp(sub, "leave"), expel = !strcmp(sub, "expel");
  if (join || leave || expel) {
    if (expel && argc < 3) {
      fprintf(stderr, "cpnsctl: usage: group expel ID MEMBER\n");
      return EXIT_USAGE;
    }
    if (!member || !cpns_valid_id(member)) {
      fprintf(stderr, "cpnsctl: name the member (no identity of your own)\n");
      return EXIT_USAGE;
    }
    snprintf(path, sizeof path, "groups/%s/members/%s", id, member);
    return run(c, join ? "PUT" : "DELETE", path, NULL, NULL, VIEW_OBJECT,
               join ? "joined" : leave ? "left" : "expelled");
  }
  fprintf(stderr, "cpnsctl: unknown command 'group %s'\n", sub);
  return EXIT_USAGE;
}

/* "pns/x?after=y" -> path and query */
static void split_query(const char *in, char *path, size_t plen, char *query, size_t qlen) {
  const char *q = strchr(in, '?');
  size_t n = q ? (size_t)(q - in) : strlen(in);
  if (n >= plen) n = plen - 1;
  memcpy(path, in, n);
  path[n] = '\0';
  snprintf(query, qlen, "%s", q ? q + 1 : "");
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"profile", required_argument, NULL, 'P'}, {"uri", required_argument, NULL, 'H'},
      {"identity", required_argument, NULL, 'i'}, {"key-file", required_argument, NULL, 'k'},
      {"json", no_argument, NULL, 'j'},          {"timeout", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  struct profile prof;
  memset(&prof, 0, sizeof prof);
  const char *profile_path = getenv("CPNSCTL_PROFILE");
  const char *uri = NULL, *identity = NULL, *key_file = NULL;
  long timeout = 10000;
  int opt;
  while ((opt = getopt_long(argc, argv, "+P:H:i:k:jt:hV", longopts, NULL)) != -1) {
    switch (opt) {
    case 'P': profile_path = optarg; break;
    case 'H': uri = optarg; break;
    case 'i': identity = optarg; break;
    case 'k': key_file = optarg; break;
    case 'j': g_json = true; break;
    case 't': timeout = strtol(optarg, NULL, 10); break;
    case 'h': usage(stdout); return 0;
    case 'V': printf("cpnsctl %s\n", cpns_version()); return 0;
    default: usage(stderr); return EXIT_USAGE;
    }
  }
  argc -= optind;
  argv += optind;
  if (argc < 1) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!strcmp(argv[0], "keygen")) {
    uint8_t key[CPNS_PSK_LEN];
    char hex[2 * CPNS_PSK_LEN + 1];
    if (cpns_key_generate(key)) return EXIT_UNREACHABLE;
    cpns_key_to_hex(key, hex);
    printf("%s\n", hex);
    return 0;
  }
  if (profile_path && *profile_path && ini_parse(profile_path, on_profile, &prof) != 0) {
    fprintf(stderr, "cpnsctl: cannot read profile %s\n", profile_path);
    return EXIT_USAGE;
  }
  if (uri) snprintf(prof.uri, sizeof prof.uri, "%s", uri);
  if (identity) snprintf(prof.identity, sizeof prof.identity, "%s", identity);
  if (key_file) snprintf(prof.key_file, sizeof prof.key_file, "%s", key_file);
  if (!prof.uri[0]) {
    fprintf(stderr, "cpnsctl: no entity to talk to: give -H URI or a profile (-P)\n");
    return EXIT_USAGE;
  }
  uint8_t key[CPNS_PSK_LEN];
  bool secure = strncmp(prof.uri, "coaps://", 8) == 0;
  if (secure) {
    char err[512];
    if (!prof.identity[0] || !prof.key_file[0]) {
      fprintf(stderr, "cpnsctl: coaps needs an identity (-i) and a key file (-k)\n");
      return EXIT_USAGE;
    }
    if (cpns_key_read_file(prof.key_file, key, err, sizeof err)) {
      fprintf(stderr, "cpnsctl: %s\n", err);
      return EXIT_USAGE;
    }
  }
  cpns_client_config_t cfg = CPNS_CLIENT_CONFIG_INIT;
  cfg.uri = prof.uri;
  cfg.identity = prof.identity;
  cfg.key = secure ? key : NULL;
  cfg.timeout_ms = timeout;
  cpns_client_t *c;
  int rc = cpns_client_new(&cfg, &c);
  if (rc) {
    fprintf(stderr, "cpnsctl: cannot open a session to %s: %s\n", prof.uri, cpns_strerror(rc));
    return EXIT_UNREACHABLE;
  }
  int ex = EXIT_USAGE;
  const char *cmd = argv[0];
  char path[512], query[256];
  if (!strcmp(cmd, "info")) ex = run(c, "GET", "entity", NULL, NULL, VIEW_OBJECT, NULL);
  else if (!strcmp(cmd, "neighbors")) ex = run(c, "GET", "neighbors", NULL, NULL, VIEW_NEIGHBORS, NULL);
  else if (!strcmp(cmd, "pn")) ex = pn_command(c, argc - 1, argv + 1);
  else if (!strcmp(cmd, "service")) ex = ctl_service_command(c, g_json, argc - 1, argv + 1);
  else if (!strcmp(cmd, "interest")) ex = ctl_interest_command(c, g_json, argc - 1, argv + 1);
  else if (!strcmp(cmd, "usage")) ex = ctl_usage_command(c, g_json, argc - 1, argv + 1);
  else if (!strcmp(cmd, "token")) ex = ctl_token_command(c, g_json, argc - 1, argv + 1);
  else if (!strcmp(cmd, "caps")) ex = ctl_caps_command(c, g_json, argc - 1, argv + 1);
  else if (!strcmp(cmd, "status")) ex = ctl_status_command(c, g_json, argc - 1, argv + 1);
  else if (!strcmp(cmd, "policy")) ex = ctl_policy_command(c, g_json, argc - 1, argv + 1);
  else if (!strcmp(cmd, "reports")) ex = ctl_reports_command(c, g_json, argc - 1, argv + 1);
  else if (!strcmp(cmd, "group")) ex = group_command(c, prof.identity[0] ? prof.identity : NULL, argc - 1, argv + 1);
  else if (!strcmp(cmd, "enroll") && argc >= 3) {
    if (!cpns_valid_id(argv[1]) || !cpns_valid_id(argv[2])) {
      fprintf(stderr, "cpnsctl: ID and PN must be ids\n");
    } else {
      json_t *b = json_pack("{s:s, s:s, s:s}", "id", argv[1], "pn", argv[2], "role",
                            argc >= 4 ? argv[3] : "pne");
      if (argc >= 5) json_object_set_new(b, "ttl", json_integer(strtol(argv[4], NULL, 10)));
      char *body = json_dumps(b, JSON_COMPACT);
      json_decref(b);
      ex = run(c, "POST", "enrollments", NULL, body, VIEW_OBJECT, NULL);
      free(body);
    }
  } else if (!strcmp(cmd, "key") && argc >= 3 && cpns_valid_id(argv[2]) &&
             (!strcmp(argv[1], "rotate") || !strcmp(argv[1], "revoke"))) {
    snprintf(path, sizeof path, "keys/%s%s", argv[2], !strcmp(argv[1], "rotate") ? "/rotate" : "");
    ex = run(c, !strcmp(argv[1], "rotate") ? "POST" : "DELETE", path, NULL, NULL, VIEW_OBJECT,
             "revoked");
  }
  else if ((!strcmp(cmd, "get") || !strcmp(cmd, "delete")) && argc >= 2) {
    split_query(argv[1], path, sizeof path, query, sizeof query);
    ex = run(c, !strcmp(cmd, "get") ? "GET" : "DELETE", path, query, NULL, VIEW_NONE, "done");
  } else if ((!strcmp(cmd, "put") || !strcmp(cmd, "post")) && argc >= 2) {
    split_query(argv[1], path, sizeof path, query, sizeof query);
    ex = run(c, !strcmp(cmd, "put") ? "PUT" : "POST", path, query, argc >= 3 ? argv[2] : NULL,
             VIEW_NONE, "done");
  } else {
    fprintf(stderr, "cpnsctl: unknown command '%s' (see cpnsctl --help)\n", cmd);
  }
  cpns_client_free(c);
  return ex;
}
