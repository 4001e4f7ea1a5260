/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the SQLite store (lib/store_sqlite.c) through the store.h
 * interface: every op on a fresh file in a private temporary directory, plus
 * what only a file shows (mode 0600, persistence across a reopen, refusing a
 * schema from the future, migrating an older one, secrets stored as BLOBs)
 * checked with a second, plain SQLite connection. */
#include <cpns/cpns.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "service.h"
#include "store.h"
#include "usage.h"

/* This run's mkdtemp directory; half of PATH_MAX leaves room for file names. */
static char g_dir[PATH_MAX / 2];

struct fixture {
  char path[PATH_MAX];
  struct cpns_store *st;
};

/* ---- setup --------------------------------------------------------------- */

static int mkdir_p(const char *path) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int group_setup(void **state) {
  const char *base = getenv("CPNS_TEST_TMP");
  if (!base || !*base) base = "/tmp";
  if (mkdir_p(base) != 0) return -1;
  snprintf(g_dir, sizeof g_dir, "%s/store-XXXXXX", base);
  return mkdtemp(g_dir) ? 0 : -1;
}

static void remove_db(const char *path) {
  static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
  char p[PATH_MAX + 16];
  for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
    snprintf(p, sizeof p, "%s%s", path, sfx[i]);
    unlink(p);
  }
}

static int group_teardown(void **state) {
  rmdir(g_dir); /* empty by now: each test removes its own files */
  return 0;
}

/* Each test gets its own file, so a failing test cannot poison the next. */
static int setup(void **state) {
  static unsigned seq;
  struct fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  snprintf(f->path, sizeof f->path, "%s/t%u.db", g_dir, seq++);
  char err[256];
  if (cpns_store_sqlite_open(f->path, CPNS_STORE_SYNC_NORMAL, &f->st, err, sizeof err) != 0) {
    fprintf(stderr, "open: %s\n", err);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  cpns_store_close(f->st);
  remove_db(f->path);
  free(f);
  return 0;
}

/* ---- record builders ----------------------------------------------------- */

static struct cpns_pn_rec mkpn(const char *id, enum cpns_entity_state state, int64_t t,
                               int64_t expires) {
  struct cpns_pn_rec p;
  memset(&p, 0, sizeof p);
  snprintf(p.id, sizeof p.id, "%s", id);
  snprintf(p.name, sizeof p.name, "name of %s", id);
  snprintf(p.owner, sizeof p.owner, "alice");
  snprintf(p.gw, sizeof p.gw, "gw-%s", id);
  snprintf(p.gw_addr, sizeof p.gw_addr, "[2001:db8::1]:5684");
  p.open = true;
  p.state = state;
  p.lifetime = 3600;
  p.created_at = t;
  p.updated_at = t;
  p.expires_at = expires;
  return p;
}

static struct cpns_entity_rec mkent(const char *pn, const char *id, enum cpns_entity_state state,
                                    int64_t t, int64_t expires) {
  struct cpns_entity_rec e;
  memset(&e, 0, sizeof e);
  snprintf(e.pn, sizeof e.pn, "%s", pn);
  snprintf(e.id, sizeof e.id, "%s", id);
  snprintf(e.name, sizeof e.name, "entity %s", id);
  snprintf(e.device_type, sizeof e.device_type, "sensor");
  snprintf(e.addr, sizeof e.addr, "[2001:db8::2]:5683");
  e.roles = CPNS_ROLE_PNE;
  e.state = state;
  e.lifetime = 300;
  e.registered_at = t;
  e.updated_at = t;
  e.expires_at = expires;
  return e;
}

/* Field by field: bytes after a string's NUL and padding are not data. */
static void assert_pn_equal(const struct cpns_pn_rec *a, const struct cpns_pn_rec *b) {
  assert_string_equal(a->id, b->id);
  assert_string_equal(a->name, b->name);
  assert_string_equal(a->owner, b->owner);
  assert_string_equal(a->gw, b->gw);
  assert_string_equal(a->gw_addr, b->gw_addr);
  assert_int_equal(a->open, b->open);
  assert_int_equal(a->state, b->state);
  assert_int_equal(a->lifetime, b->lifetime);
  assert_int_equal(a->created_at, b->created_at);
  assert_int_equal(a->updated_at, b->updated_at);
  assert_int_equal(a->expires_at, b->expires_at);
}

static void assert_ent_equal(const struct cpns_entity_rec *a, const struct cpns_entity_rec *b) {
  assert_string_equal(a->pn, b->pn);
  assert_string_equal(a->id, b->id);
  assert_string_equal(a->name, b->name);
  assert_string_equal(a->device_type, b->device_type);
  assert_string_equal(a->addr, b->addr);
  assert_int_equal(a->roles, b->roles);
  assert_int_equal(a->state, b->state);
  assert_int_equal(a->lifetime, b->lifetime);
  assert_int_equal(a->registered_at, b->registered_at);
  assert_int_equal(a->updated_at, b->updated_at);
  assert_int_equal(a->expires_at, b->expires_at);
}

/* Collects what a callback is given, in order. */
struct seen {
  char ids[2048][CPNS_ID_MAX + 1];
  unsigned n;
  unsigned stop_after; /* 0: never stop */
  unsigned states_offline;
  unsigned expires_zero;
};

static int seen_pn(void *arg, const struct cpns_pn_rec *p) {
  struct seen *s = arg;
  if (s->n < 2048) snprintf(s->ids[s->n], sizeof s->ids[0], "%s", p->id);
  s->n++;
  s->states_offline += p->state == CPNS_STATE_OFFLINE;
  s->expires_zero += p->expires_at == 0;
  return s->stop_after && s->n >= s->stop_after;
}

static int seen_ent(void *arg, const struct cpns_entity_rec *e) {
  struct seen *s = arg;
  if (s->n < 2048) snprintf(s->ids[s->n], sizeof s->ids[0], "%s", e->id);
  s->n++;
  s->states_offline += e->state == CPNS_STATE_OFFLINE;
  s->expires_zero += e->expires_at == 0;
  return s->stop_after && s->n >= s->stop_after;
}

static int seen_reader(void *arg, const char *reader) {
  struct seen *s = arg;
  if (s->n < 2048) snprintf(s->ids[s->n], sizeof s->ids[0], "%s", reader);
  s->n++;
  return s->stop_after && s->n >= s->stop_after;
}

static struct seen *seen_new(void) {
  struct seen *s = calloc(1, sizeof *s);
  assert_non_null(s);
  return s;
}

/* ---- state names --------------------------------------------------------- */

static void test_state_names(void **state) {
  for (int s = CPNS_STATE_ADDED; s <= CPNS_STATE_OFFLINE; s++)
    assert_int_equal(cpns_entity_state_parse(cpns_entity_state_name(s)), s);
  assert_string_equal(cpns_entity_state_name(CPNS_STATE_ADDED), "added");
  assert_string_equal(cpns_entity_state_name(CPNS_STATE_ONLINE), "online");
  assert_string_equal(cpns_entity_state_name(CPNS_STATE_OFFLINE), "offline");
  assert_non_null(cpns_entity_state_name((enum cpns_entity_state)42));
  assert_int_equal(cpns_entity_state_parse("bogus"), -1);
  assert_int_equal(cpns_entity_state_parse("Online"), -1);
  assert_int_equal(cpns_entity_state_parse(""), -1);
  assert_int_equal(cpns_entity_state_parse(NULL), -1);
}

/* ---- PNs ----------------------------------------------------------------- */

static void test_pn_put_get_replace(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  struct cpns_pn_rec p = mkpn("home", CPNS_STATE_ONLINE, 1000, 4600), got;
  assert_int_equal(st->ops->pn_get(st, "home", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->pn_put(st, &p), 0);
  assert_int_equal(st->ops->pn_get(st, "home", &got), 0);
  assert_pn_equal(&p, &got);

  /* A replace changes everything but created_at. */
  struct cpns_pn_rec q = mkpn("home", CPNS_STATE_OFFLINE, 2000, 0);
  snprintf(q.name, sizeof q.name, "renamed");
  snprintf(q.owner, sizeof q.owner, "bob");
  snprintf(q.gw, sizeof q.gw, "gw2");
  snprintf(q.gw_addr, sizeof q.gw_addr, "192.0.2.1:5683");
  q.open = false;
  q.lifetime = 60;
  assert_int_equal(st->ops->pn_put(st, &q), 0);
  assert_int_equal(st->ops->pn_get(st, "home", &got), 0);
  assert_int_equal(got.created_at, 1000);
  q.created_at = 1000;
  assert_pn_equal(&q, &got);
  assert_false(got.open);

  uint64_t n = 99;
  assert_int_equal(st->ops->pn_count(st, &n), 0);
  assert_int_equal(n, 1);
}

static void test_pn_list_paging(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  static const char *const ids[] = {"c", "a", "e", "b", "d"};
  for (size_t i = 0; i < 5; i++) {
    struct cpns_pn_rec p = mkpn(ids[i], CPNS_STATE_ADDED, 1, 0);
    assert_int_equal(st->ops->pn_put(st, &p), 0);
  }
  struct seen *s = seen_new();
  assert_int_equal(st->ops->pn_list(st, "", 2, seen_pn, s), 0);
  assert_int_equal(s->n, 2);
  assert_string_equal(s->ids[0], "a");
  assert_string_equal(s->ids[1], "b");

  memset(s, 0, sizeof *s);
  assert_int_equal(st->ops->pn_list(st, "b", 2, seen_pn, s), 0);
  assert_int_equal(s->n, 2);
  assert_string_equal(s->ids[0], "c");
  assert_string_equal(s->ids[1], "d");

  memset(s, 0, sizeof *s);
  assert_int_equal(st->ops->pn_list(st, "d", 10, seen_pn, s), 0);
  assert_int_equal(s->n, 1);
  assert_string_equal(s->ids[0], "e");

  memset(s, 0, sizeof *s); /* NULL is the first page too */
  assert_int_equal(st->ops->pn_list(st, NULL, UINT_MAX, seen_pn, s), 0);
  assert_int_equal(s->n, 5);

  memset(s, 0, sizeof *s);
  assert_int_equal(st->ops->pn_list(st, "", 0, seen_pn, s), 0);
  assert_int_equal(s->n, 0);

  memset(s, 0, sizeof *s); /* a callback may stop the walk: not an error */
  s->stop_after = 3;
  assert_int_equal(st->ops->pn_list(st, "", UINT_MAX, seen_pn, s), 0);
  assert_int_equal(s->n, 3);
  free(s);
}

/* More rows than one internal chunk: order and limit across chunk borders. */
static void test_pn_list_many(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  char id[16];
  for (int i = 0; i < 1000; i++) {
    snprintf(id, sizeof id, "pn%04d", i);
    struct cpns_pn_rec p = mkpn(id, CPNS_STATE_ADDED, 1, 0);
    assert_int_equal(st->ops->pn_put(st, &p), 0);
  }
  struct seen *s = seen_new();
  assert_int_equal(st->ops->pn_list(st, "", UINT_MAX, seen_pn, s), 0);
  assert_int_equal(s->n, 1000);
  for (int i = 0; i < 1000; i++) {
    snprintf(id, sizeof id, "pn%04d", i);
    assert_string_equal(s->ids[i], id);
  }
  memset(s, 0, sizeof *s);
  assert_int_equal(st->ops->pn_list(st, "pn0099", 300, seen_pn, s), 0);
  assert_int_equal(s->n, 300);
  assert_string_equal(s->ids[0], "pn0100");
  assert_string_equal(s->ids[299], "pn0399");
  free(s);
  uint64_t n;
  assert_int_equal(st->ops->pn_count(st, &n), 0);
  assert_int_equal(n, 1000);
}

static void add_pn_with_data(struct cpns_store *st, const char *pn) {
  struct cpns_pn_rec p = mkpn(pn, CPNS_STATE_ONLINE, 1, 100);
  assert_int_equal(st->ops->pn_put(st, &p), 0);
  for (int i = 0; i < 3; i++) {
    char id[16];
    snprintf(id, sizeof id, "e%d", i);
    struct cpns_entity_rec e = mkent(pn, id, CPNS_STATE_ONLINE, 1, 100);
    assert_int_equal(st->ops->entity_put(st, &e), 0);
  }
  const char *readers[] = {"r1", "r2"};
  assert_int_equal(st->ops->pn_set_readers(st, pn, readers, 2), 0);
  assert_int_equal(st->ops->ban_add(st, pn, "bad"), 0);
}

static void test_pn_delete_cascades(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  add_pn_with_data(st, "one");
  add_pn_with_data(st, "two");
  assert_int_equal(st->ops->pn_delete(st, "one"), 0);

  struct cpns_pn_rec p;
  assert_int_equal(st->ops->pn_get(st, "one", &p), CPNS_ERR_NOTFOUND);
  uint64_t n;
  assert_int_equal(st->ops->entity_count(st, "one", &n), 0);
  assert_int_equal(n, 0);
  struct seen *s = seen_new();
  assert_int_equal(st->ops->pn_list_readers(st, "one", seen_reader, s), 0);
  assert_int_equal(s->n, 0);
  bool b = true;
  assert_int_equal(st->ops->ban_check(st, "one", "bad", &b), 0);
  assert_false(b);

  /* The other PN is untouched. */
  assert_int_equal(st->ops->pn_get(st, "two", &p), 0);
  assert_int_equal(st->ops->entity_count(st, "two", &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(st->ops->pn_list_readers(st, "two", seen_reader, s), 0);
  assert_int_equal(s->n, 2);
  assert_int_equal(st->ops->ban_check(st, "two", "bad", &b), 0);
  assert_true(b);
  free(s);

  assert_int_equal(st->ops->pn_delete(st, "one"), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->pn_delete(st, "never"), CPNS_ERR_NOTFOUND);

  /* A gateway keeps its PN's entities without a pn row: deleting still
   * wipes them. */
  struct cpns_entity_rec e = mkent("gwpn", "x", CPNS_STATE_ADDED, 1, 0);
  assert_int_equal(st->ops->entity_put(st, &e), 0);
  assert_int_equal(st->ops->pn_delete(st, "gwpn"), 0);
  assert_int_equal(st->ops->entity_count(st, "gwpn", &n), 0);
  assert_int_equal(n, 0);
}

/* ---- readers ------------------------------------------------------------- */

static void test_readers(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  bool ok = true;
  assert_int_equal(st->ops->pn_reader_allowed(st, "p", "a", &ok), 0);
  assert_false(ok);

  const char *r1[] = {"b", "a", "a"}; /* a duplicate is the same grant */
  assert_int_equal(st->ops->pn_set_readers(st, "p", r1, 3), 0);
  struct seen *s = seen_new();
  assert_int_equal(st->ops->pn_list_readers(st, "p", seen_reader, s), 0);
  assert_int_equal(s->n, 2);
  assert_string_equal(s->ids[0], "a");
  assert_string_equal(s->ids[1], "b");
  assert_int_equal(st->ops->pn_reader_allowed(st, "p", "a", &ok), 0);
  assert_true(ok);
  assert_int_equal(st->ops->pn_reader_allowed(st, "p", "c", &ok), 0);
  assert_false(ok);
  assert_int_equal(st->ops->pn_reader_allowed(st, "q", "a", &ok), 0);
  assert_false(ok);

  /* Replaced, not merged. */
  const char *r2[] = {"c"};
  assert_int_equal(st->ops->pn_set_readers(st, "p", r2, 1), 0);
  memset(s, 0, sizeof *s);
  assert_int_equal(st->ops->pn_list_readers(st, "p", seen_reader, s), 0);
  assert_int_equal(s->n, 1);
  assert_string_equal(s->ids[0], "c");
  assert_int_equal(st->ops->pn_reader_allowed(st, "p", "a", &ok), 0);
  assert_false(ok);

  /* A bad entry changes nothing at all. */
  char longid[CPNS_ID_MAX + 2];
  memset(longid, 'x', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  const char *r3[] = {"d", longid};
  assert_int_equal(st->ops->pn_set_readers(st, "p", r3, 2), CPNS_ERR_TOOBIG);
  const char *r4[] = {"d", ""};
  assert_int_equal(st->ops->pn_set_readers(st, "p", r4, 2), CPNS_ERR_INVAL);
  memset(s, 0, sizeof *s);
  assert_int_equal(st->ops->pn_list_readers(st, "p", seen_reader, s), 0);
  assert_int_equal(s->n, 1);
  assert_string_equal(s->ids[0], "c");

  /* More readers than one internal chunk. */
  static char many[300][16];
  const char *mp[300];
  for (int i = 0; i < 300; i++) {
    snprintf(many[i], sizeof many[i], "r%03d", i);
    mp[i] = many[i];
  }
  assert_int_equal(st->ops->pn_set_readers(st, "p", mp, 300), 0);
  memset(s, 0, sizeof *s);
  assert_int_equal(st->ops->pn_list_readers(st, "p", seen_reader, s), 0);
  assert_int_equal(s->n, 300);
  assert_string_equal(s->ids[0], "r000");
  assert_string_equal(s->ids[299], "r299");
  memset(s, 0, sizeof *s);
  s->stop_after = 1;
  assert_int_equal(st->ops->pn_list_readers(st, "p", seen_reader, s), 0);
  assert_int_equal(s->n, 1);

  /* An empty list clears. */
  assert_int_equal(st->ops->pn_set_readers(st, "p", NULL, 0), 0);
  memset(s, 0, sizeof *s);
  assert_int_equal(st->ops->pn_list_readers(st, "p", seen_reader, s), 0);
  assert_int_equal(s->n, 0);
  free(s);
}

/* ---- entities ------------------------------------------------------------ */

static void test_entity_put_get_replace(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  struct cpns_entity_rec e = mkent("p", "lamp", CPNS_STATE_ONLINE, 1000, 1300), got;
  e.roles = CPNS_ROLE_PNE | CPNS_ROLE_GW;
  assert_int_equal(st->ops->entity_get(st, "p", "lamp", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->entity_put(st, &e), 0);
  assert_int_equal(st->ops->entity_get(st, "p", "lamp", &got), 0);
  assert_ent_equal(&e, &got);

  /* A refresh keeps registered_at from the first insert. */
  struct cpns_entity_rec r = mkent("p", "lamp", CPNS_STATE_OFFLINE, 5000, 0);
  snprintf(r.name, sizeof r.name, "desk lamp");
  snprintf(r.device_type, sizeof r.device_type, "light");
  snprintf(r.addr, sizeof r.addr, "198.51.100.7:5683");
  r.lifetime = 7;
  assert_int_equal(st->ops->entity_put(st, &r), 0);
  assert_int_equal(st->ops->entity_get(st, "p", "lamp", &got), 0);
  assert_int_equal(got.registered_at, 1000);
  r.registered_at = 1000;
  assert_ent_equal(&r, &got);

  /* Same id in another PN is another entity. */
  assert_int_equal(st->ops->entity_get(st, "q", "lamp", &got), CPNS_ERR_NOTFOUND);

  assert_int_equal(st->ops->entity_delete(st, "p", "lamp"), 0);
  assert_int_equal(st->ops->entity_get(st, "p", "lamp", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->entity_delete(st, "p", "lamp"), CPNS_ERR_NOTFOUND);
}

static int delete_visited(void *arg, const struct cpns_entity_rec *e) {
  struct cpns_store *st = arg;
  /* Writing from inside a walk: each write must commit on its own. */
  return st->ops->entity_delete(st, e->pn, e->id) == 0 ? 0 : 1;
}

static void test_entity_list_count(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  char id[16];
  for (int i = 299; i >= 0; i--) { /* inserted backwards, listed forwards */
    snprintf(id, sizeof id, "e%03d", i);
    struct cpns_entity_rec e = mkent("big", id, CPNS_STATE_ADDED, 1, 0);
    assert_int_equal(st->ops->entity_put(st, &e), 0);
  }
  struct cpns_entity_rec o = mkent("small", "only", CPNS_STATE_ADDED, 1, 0);
  assert_int_equal(st->ops->entity_put(st, &o), 0);

  uint64_t n;
  assert_int_equal(st->ops->entity_count(st, "big", &n), 0);
  assert_int_equal(n, 300);
  assert_int_equal(st->ops->entity_count(st, "small", &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(st->ops->entity_count(st, "none", &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(st->ops->entity_count(st, NULL, &n), 0);
  assert_int_equal(n, 301);

  struct seen *s = seen_new();
  assert_int_equal(st->ops->entity_list(st, "big", seen_ent, s), 0);
  assert_int_equal(s->n, 300);
  for (int i = 0; i < 300; i++) {
    snprintf(id, sizeof id, "e%03d", i);
    assert_string_equal(s->ids[i], id);
  }
  memset(s, 0, sizeof *s);
  s->stop_after = 5;
  assert_int_equal(st->ops->entity_list(st, "big", seen_ent, s), 0);
  assert_int_equal(s->n, 5);
  free(s);

  assert_int_equal(st->ops->entity_list(st, "big", delete_visited, st), 0);
  assert_int_equal(st->ops->entity_count(st, NULL, &n), 0);
  assert_int_equal(n, 1);
}

/* ---- bans ---------------------------------------------------------------- */

static void test_bans(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  bool b = true;
  assert_int_equal(st->ops->ban_check(st, "p", "x", &b), 0);
  assert_false(b);
  assert_int_equal(st->ops->ban_add(st, "p", "x"), 0);
  assert_int_equal(st->ops->ban_add(st, "p", "x"), 0); /* idempotent */
  assert_int_equal(st->ops->ban_check(st, "p", "x", &b), 0);
  assert_true(b);
  assert_int_equal(st->ops->ban_check(st, "q", "x", &b), 0);
  assert_false(b);
  assert_int_equal(st->ops->ban_remove(st, "p", "x"), 0);
  assert_int_equal(st->ops->ban_check(st, "p", "x", &b), 0);
  assert_false(b);
  assert_int_equal(st->ops->ban_remove(st, "p", "x"), CPNS_ERR_NOTFOUND);
}

/* ---- expiry -------------------------------------------------------------- */

static void test_expire(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  const int64_t now = 10000;
  struct cpns_pn_rec pns[] = {
      mkpn("p-expired", CPNS_STATE_ONLINE, 1, now - 5),
      mkpn("p-exact", CPNS_STATE_ONLINE, 1, now), /* <= now expires */
      mkpn("p-alive", CPNS_STATE_ONLINE, 1, now + 1),
      mkpn("p-added", CPNS_STATE_ADDED, 1, 5), /* only ONLINE rows expire */
      mkpn("p-offline", CPNS_STATE_OFFLINE, 1, 0),
  };
  for (size_t i = 0; i < sizeof pns / sizeof pns[0]; i++)
    assert_int_equal(st->ops->pn_put(st, &pns[i]), 0);
  struct cpns_entity_rec ents[] = {
      mkent("p-alive", "e-expired", CPNS_STATE_ONLINE, 1, now - 100),
      mkent("other", "e-exact", CPNS_STATE_ONLINE, 1, now),
      mkent("p-alive", "e-alive", CPNS_STATE_ONLINE, 1, now + 100),
      mkent("p-alive", "e-added", CPNS_STATE_ADDED, 1, 7),
      mkent("p-alive", "e-offline", CPNS_STATE_OFFLINE, 1, 0),
  };
  for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++)
    assert_int_equal(st->ops->entity_put(st, &ents[i]), 0);

  struct seen *sp = seen_new(), *se = seen_new();
  /* Both callbacks get one arg; use two calls to tell them apart. */
  assert_int_equal(st->ops->expire(st, now, seen_pn, NULL, sp), 0);
  assert_int_equal(sp->n, 2);
  assert_string_equal(sp->ids[0], "p-expired"); /* earliest first */
  assert_string_equal(sp->ids[1], "p-exact");
  assert_int_equal(sp->states_offline, 2);
  assert_int_equal(sp->expires_zero, 2);
  /* The PNs are done; the entities were expired too, callback or not. */
  struct cpns_entity_rec got;
  assert_int_equal(st->ops->entity_get(st, "p-alive", "e-expired", &got), 0);
  assert_int_equal(got.state, CPNS_STATE_OFFLINE);
  assert_int_equal(got.expires_at, 0);
  assert_int_equal(got.registered_at, 1);

  /* Put them back online and expire again, watching entities this time. */
  assert_int_equal(st->ops->entity_put(st, &ents[0]), 0);
  assert_int_equal(st->ops->entity_put(st, &ents[1]), 0);
  memset(sp, 0, sizeof *sp);
  assert_int_equal(st->ops->expire(st, now, NULL, seen_ent, se), 0);
  assert_int_equal(se->n, 2);
  assert_string_equal(se->ids[0], "e-expired");
  assert_string_equal(se->ids[1], "e-exact");
  assert_int_equal(se->states_offline, 2);
  assert_int_equal(se->expires_zero, 2);

  /* Exactly those rows changed. */
  struct cpns_pn_rec p;
  assert_int_equal(st->ops->pn_get(st, "p-expired", &p), 0);
  assert_int_equal(p.state, CPNS_STATE_OFFLINE);
  assert_int_equal(p.expires_at, 0);
  assert_int_equal(st->ops->pn_get(st, "p-alive", &p), 0);
  assert_int_equal(p.state, CPNS_STATE_ONLINE);
  assert_int_equal(p.expires_at, now + 1);
  assert_int_equal(st->ops->pn_get(st, "p-added", &p), 0);
  assert_int_equal(p.state, CPNS_STATE_ADDED);
  assert_int_equal(p.expires_at, 5);
  assert_int_equal(st->ops->entity_get(st, "other", "e-exact", &got), 0);
  assert_int_equal(got.state, CPNS_STATE_OFFLINE);
  assert_int_equal(st->ops->entity_get(st, "p-alive", "e-alive", &got), 0);
  assert_int_equal(got.state, CPNS_STATE_ONLINE);
  assert_int_equal(got.expires_at, now + 100);
  assert_int_equal(st->ops->entity_get(st, "p-alive", "e-added", &got), 0);
  assert_int_equal(got.state, CPNS_STATE_ADDED);
  assert_int_equal(got.expires_at, 7);

  /* Nothing left to expire: no callbacks. */
  memset(sp, 0, sizeof *sp);
  memset(se, 0, sizeof *se);
  assert_int_equal(st->ops->expire(st, now, seen_pn, NULL, sp), 0);
  assert_int_equal(st->ops->expire(st, now, NULL, seen_ent, se), 0);
  assert_int_equal(sp->n + se->n, 0);
  assert_int_equal(st->ops->expire(st, now, NULL, NULL, NULL), 0);

  /* Later, the rest goes. */
  assert_int_equal(st->ops->expire(st, now + 100, seen_pn, NULL, sp), 0);
  assert_int_equal(sp->n, 1);
  assert_string_equal(sp->ids[0], "p-alive");
  free(sp);
  free(se);
}

static int count_only(void *arg, const struct cpns_entity_rec *e) {
  unsigned *n = arg;
  if (e->state == CPNS_STATE_OFFLINE && e->expires_at == 0) (*n)++;
  return 1; /* asks to stop: expire must report every row anyway */
}

/* A backlog of more than two transactions' chunks (2048 rows each). */
static void test_expire_many(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  char id[16];
  for (int i = 0; i < 5000; i++) {
    snprintf(id, sizeof id, "e%04d", i);
    struct cpns_entity_rec e = mkent("p", id, CPNS_STATE_ONLINE, 1, 100 + i);
    assert_int_equal(st->ops->entity_put(st, &e), 0);
  }
  unsigned n = 0;
  assert_int_equal(st->ops->expire(st, 100 + 4499, NULL, count_only, &n), 0);
  assert_int_equal(n, 4500);
  n = 0;
  assert_int_equal(st->ops->expire(st, 1000000, NULL, count_only, &n), 0);
  assert_int_equal(n, 500);
}

/* ---- key/value ----------------------------------------------------------- */

static void test_kv(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  char buf[8];
  assert_int_equal(st->ops->kv_get(st, "k", buf, sizeof buf), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->kv_set(st, "k", "1234567"), 0);
  assert_int_equal(st->ops->kv_get(st, "k", buf, sizeof buf), 0); /* exactly fits */
  assert_string_equal(buf, "1234567");
  assert_int_equal(st->ops->kv_set(st, "k", "12345678"), 0);
  assert_int_equal(st->ops->kv_get(st, "k", buf, sizeof buf), CPNS_ERR_TOOBIG);
  assert_int_equal(st->ops->kv_set(st, "k", ""), 0);
  assert_int_equal(st->ops->kv_get(st, "k", buf, sizeof buf), 0);
  assert_string_equal(buf, "");
  assert_int_equal(st->ops->kv_get(st, "k", NULL, 0), CPNS_ERR_TOOBIG);
  assert_int_equal(st->ops->kv_set(st, "other", "v"), 0);
  assert_int_equal(st->ops->kv_get(st, "other", buf, sizeof buf), 0);
  assert_string_equal(buf, "v");
  assert_int_equal(st->ops->kv_set(st, "", "v"), CPNS_ERR_INVAL);
  assert_int_equal(st->ops->kv_set(st, "k", NULL), CPNS_ERR_INVAL);
  char longkey[512];
  memset(longkey, 'k', sizeof longkey - 1);
  longkey[sizeof longkey - 1] = '\0';
  assert_int_equal(st->ops->kv_set(st, longkey, "v"), CPNS_ERR_TOOBIG);
  assert_int_equal(st->ops->kv_get(st, longkey, buf, sizeof buf), CPNS_ERR_NOTFOUND);
}

/* ---- limits and bad input ------------------------------------------------ */

static void test_too_long_rejected(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  struct cpns_pn_rec p = mkpn("p", CPNS_STATE_ADDED, 1, 0), got;
  memset(p.name, 'n', sizeof p.name); /* no NUL: one byte too long */
  assert_int_equal(st->ops->pn_put(st, &p), CPNS_ERR_TOOBIG);
  p = mkpn("p", CPNS_STATE_ADDED, 1, 0);
  memset(p.gw_addr, 'a', sizeof p.gw_addr);
  assert_int_equal(st->ops->pn_put(st, &p), CPNS_ERR_TOOBIG);
  assert_int_equal(st->ops->pn_get(st, "p", &got), CPNS_ERR_NOTFOUND);

  /* The longest values that fit are stored whole. */
  p = mkpn("p", CPNS_STATE_ADDED, 1, 0);
  memset(p.id, 'i', sizeof p.id - 1);
  memset(p.name, 'n', sizeof p.name - 1);
  memset(p.gw_addr, 'a', sizeof p.gw_addr - 1);
  assert_int_equal(st->ops->pn_put(st, &p), 0);
  assert_int_equal(st->ops->pn_get(st, p.id, &got), 0);
  assert_pn_equal(&p, &got);

  struct cpns_entity_rec e = mkent("p", "e", CPNS_STATE_ADDED, 1, 0);
  memset(e.device_type, 't', sizeof e.device_type);
  assert_int_equal(st->ops->entity_put(st, &e), CPNS_ERR_TOOBIG);
  e = mkent("p", "e", CPNS_STATE_ADDED, 1, 0);
  memset(e.id, 'i', sizeof e.id);
  assert_int_equal(st->ops->entity_put(st, &e), CPNS_ERR_TOOBIG);
  uint64_t n;
  assert_int_equal(st->ops->entity_count(st, NULL, &n), 0);
  assert_int_equal(n, 0);

  char longid[CPNS_ID_MAX + 2];
  memset(longid, 'x', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  assert_int_equal(st->ops->ban_add(st, "p", longid), CPNS_ERR_TOOBIG);
  assert_int_equal(st->ops->ban_add(st, longid, "e"), CPNS_ERR_TOOBIG);
  assert_int_equal(st->ops->pn_set_readers(st, longid, NULL, 0), CPNS_ERR_TOOBIG);
  /* Lookups by a key too long to exist just find nothing. */
  assert_int_equal(st->ops->pn_get(st, longid, &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->entity_get(st, "p", longid, &e), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->pn_delete(st, longid), CPNS_ERR_NOTFOUND);
  bool b = true;
  assert_int_equal(st->ops->ban_check(st, "p", longid, &b), 0);
  assert_false(b);

  /* Empty keys and unknown states are invalid. */
  p = mkpn("", CPNS_STATE_ADDED, 1, 0);
  assert_int_equal(st->ops->pn_put(st, &p), CPNS_ERR_INVAL);
  p = mkpn("p2", (enum cpns_entity_state)7, 1, 0);
  assert_int_equal(st->ops->pn_put(st, &p), CPNS_ERR_INVAL);
  e = mkent("p", "", CPNS_STATE_ADDED, 1, 0);
  assert_int_equal(st->ops->entity_put(st, &e), CPNS_ERR_INVAL);
  e = mkent("", "e", CPNS_STATE_ADDED, 1, 0);
  assert_int_equal(st->ops->entity_put(st, &e), CPNS_ERR_INVAL);
  e = mkent("p", "e", (enum cpns_entity_state)-1, 1, 0);
  assert_int_equal(st->ops->entity_put(st, &e), CPNS_ERR_INVAL);
  assert_int_equal(st->ops->ban_add(st, "p", ""), CPNS_ERR_INVAL);
}

/* ---- the file ------------------------------------------------------------ */

static mode_t file_mode(const char *path, const char *suffix) {
  char p[PATH_MAX + 16];
  snprintf(p, sizeof p, "%s%s", path, suffix);
  struct stat sb;
  assert_int_equal(stat(p, &sb), 0);
  return sb.st_mode & 0777;
}

static void test_file_mode(void **state) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/mode.db", g_dir);
  mode_t old = umask(022); /* the usual umask, which would give 0644 */
  struct cpns_store *st = NULL;
  char err[256];
  assert_int_equal(cpns_store_sqlite_open(path, CPNS_STORE_SYNC_FULL, &st, err, sizeof err), 0);
  umask(old);
  assert_int_equal(st->ops->kv_set(st, "k", "v"), 0); /* so that the WAL exists */
  assert_int_equal(file_mode(path, ""), 0600);
  assert_int_equal(file_mode(path, "-wal"), 0600);
  assert_int_equal(file_mode(path, "-shm"), 0600);
  cpns_store_close(st);
  remove_db(path);
}

/* Opens the file with plain SQLite, beside or after the store. */
static sqlite3 *raw_open(const char *path) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  return v;
}

static const char *raw_text(sqlite3 *db, const char *sql, char *buf, size_t len) {
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  snprintf(buf, len, "%s", (const char *)sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  return buf;
}

static void test_schema(void **state) {
  struct fixture *f = *state;
  sqlite3 *db = raw_open(f->path);
  char buf[64];
  assert_int_equal(raw_int(db, "PRAGMA user_version"), cpns_store_sqlite_schema_version());
  assert_string_equal(raw_text(db, "PRAGMA journal_mode", buf, sizeof buf), "wal");
  /* The expiry indexes exist and the expiry query uses them. */
  assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                               "name IN ('pn_expiry', 'entity_expiry')"),
                   2);
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "EXPLAIN QUERY PLAN SELECT pn, id FROM entity WHERE state = 1"
                                      " AND expires_at <= 5 ORDER BY expires_at LIMIT 512",
                                      -1, &q, NULL),
                   SQLITE_OK);
  bool uses_index = false;
  while (sqlite3_step(q) == SQLITE_ROW)
    uses_index |= strstr((const char *)sqlite3_column_text(q, 3), "entity_expiry") != NULL;
  sqlite3_finalize(q);
  assert_true(uses_index);
  sqlite3_close(db);
}

static void test_persistence(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  add_pn_with_data(st, "kept");
  assert_int_equal(st->ops->kv_set(st, "gw.state", "joined"), 0);
  cpns_store_close(st);
  f->st = NULL;

  char err[256];
  assert_int_equal(cpns_store_sqlite_open(f->path, CPNS_STORE_SYNC_NORMAL, &f->st, err, sizeof err),
                   0);
  st = f->st;
  struct cpns_pn_rec p;
  assert_int_equal(st->ops->pn_get(st, "kept", &p), 0);
  assert_string_equal(p.name, "name of kept");
  uint64_t n;
  assert_int_equal(st->ops->entity_count(st, "kept", &n), 0);
  assert_int_equal(n, 3);
  bool b;
  assert_int_equal(st->ops->pn_reader_allowed(st, "kept", "r2", &b), 0);
  assert_true(b);
  assert_int_equal(st->ops->ban_check(st, "kept", "bad", &b), 0);
  assert_true(b);
  char buf[16];
  assert_int_equal(st->ops->kv_get(st, "gw.state", buf, sizeof buf), 0);
  assert_string_equal(buf, "joined");
}

static void test_newer_schema_refused(void **state) {
  struct fixture *f = *state;
  cpns_store_close(f->st);
  f->st = NULL;
  sqlite3 *db = raw_open(f->path);
  assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);

  char err[256] = "";
  struct cpns_store *st = (struct cpns_store *)&st; /* must be reset to NULL */
  assert_int_equal(cpns_store_sqlite_open(f->path, CPNS_STORE_SYNC_NORMAL, &st, err, sizeof err),
                   CPNS_ERR_STORE);
  assert_null(st);
  assert_non_null(strstr(err, "newer"));
  assert_non_null(strstr(err, "99"));
}

static void test_not_a_database(void **state) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/junk.db", g_dir);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  for (int i = 0; i < 64; i++) fputs("this is not an SQLite database ", fp);
  fclose(fp);
  assert_int_equal(chmod(path, 0600), 0); /* spare the log its mode warning */
  struct cpns_store *st = NULL;
  char err[256] = "";
  assert_int_equal(cpns_store_sqlite_open(path, CPNS_STORE_SYNC_NORMAL, &st, err, sizeof err),
                   CPNS_ERR_STORE);
  assert_null(st);
  assert_true(err[0] != '\0');
  remove_db(path);

  /* A directory is not a store either, nor is a path in a missing one. */
  assert_int_equal(cpns_store_sqlite_open(g_dir, CPNS_STORE_SYNC_NORMAL, &st, err, sizeof err),
                   CPNS_ERR_IO);
  snprintf(path, sizeof path, "%s/missing/x.db", g_dir);
  assert_int_equal(cpns_store_sqlite_open(path, CPNS_STORE_SYNC_NORMAL, &st, err, sizeof err),
                   CPNS_ERR_IO);
  assert_int_equal(cpns_store_sqlite_open("", CPNS_STORE_SYNC_NORMAL, &st, err, sizeof err),
                   CPNS_ERR_INVAL);
}

/* A daemon and cpnsctl: two stores on one file see each other's commits. */
static void test_two_connections(void **state) {
  struct fixture *f = *state;
  struct cpns_store *other = NULL;
  char err[256];
  assert_int_equal(cpns_store_sqlite_open(f->path, CPNS_STORE_SYNC_NORMAL, &other, err, sizeof err),
                   0);
  struct cpns_entity_rec e = mkent("p", "e", CPNS_STATE_ONLINE, 1, 50), got;
  assert_int_equal(f->st->ops->entity_put(f->st, &e), 0);
  assert_int_equal(other->ops->entity_get(other, "p", "e", &got), 0);
  assert_int_equal(other->ops->expire(other, 60, NULL, NULL, NULL), 0);
  assert_int_equal(f->st->ops->entity_get(f->st, "p", "e", &got), 0);
  assert_int_equal(got.state, CPNS_STATE_OFFLINE);
  cpns_store_close(other);
}

/* Code above the store may test against a store with no file. */
static void test_memory(void **state) {
  struct cpns_store *st = NULL;
  char err[256];
  assert_int_equal(cpns_store_sqlite_open(":memory:", CPNS_STORE_SYNC_NORMAL, &st, err, sizeof err),
                   0);
  assert_int_equal(st->ops->kv_set(st, "k", "v"), 0);
  char buf[4];
  assert_int_equal(st->ops->kv_get(st, "k", buf, sizeof buf), 0);
  assert_string_equal(buf, "v");
  cpns_store_close(st);
  cpns_store_close(NULL); /* does nothing */
}

/* ---- credentials and enrollments ---------------------------------------- */

static struct cpns_credential mkcred(const char *identity, const char *role, const char *pn,
                                     uint8_t fill, uint32_t generation, int64_t created,
                                     int64_t rotated) {
  struct cpns_credential c;
  memset(&c, 0, sizeof c);
  snprintf(c.identity, sizeof c.identity, "%s", identity);
  snprintf(c.role, sizeof c.role, "%s", role);
  snprintf(c.pn, sizeof c.pn, "%s", pn);
  for (size_t i = 0; i < sizeof c.key; i++) c.key[i] = (uint8_t)(fill + i);
  c.generation = generation;
  c.created_at = created;
  c.rotated_at = rotated;
  return c;
}

static struct cpns_enrollment mkenroll(const char *identity, const char *role, const char *pn,
                                       uint8_t fill, int64_t created, int64_t expires,
                                       const char *by) {
  struct cpns_enrollment e;
  memset(&e, 0, sizeof e);
  snprintf(e.identity, sizeof e.identity, "%s", identity);
  snprintf(e.role, sizeof e.role, "%s", role);
  snprintf(e.pn, sizeof e.pn, "%s", pn);
  for (size_t i = 0; i < sizeof e.psk; i++) e.psk[i] = (uint8_t)(fill ^ i);
  e.created_at = created;
  e.expires_at = expires;
  snprintf(e.created_by, sizeof e.created_by, "%s", by);
  return e;
}

static void assert_cred_equal(const struct cpns_credential *a, const struct cpns_credential *b) {
  assert_string_equal(a->identity, b->identity);
  assert_string_equal(a->role, b->role);
  assert_string_equal(a->pn, b->pn);
  assert_memory_equal(a->key, b->key, CPNS_SECRET_LEN);
  assert_int_equal(a->generation, b->generation);
  assert_int_equal(a->created_at, b->created_at);
  assert_int_equal(a->rotated_at, b->rotated_at);
}

static void assert_enroll_equal(const struct cpns_enrollment *a,
                                const struct cpns_enrollment *b) {
  assert_string_equal(a->identity, b->identity);
  assert_string_equal(a->role, b->role);
  assert_string_equal(a->pn, b->pn);
  assert_memory_equal(a->psk, b->psk, CPNS_SECRET_LEN);
  assert_int_equal(a->created_at, b->created_at);
  assert_int_equal(a->expires_at, b->expires_at);
  assert_string_equal(a->created_by, b->created_by);
}

static void test_cred_put_get_replace(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  struct cpns_credential c = mkcred("lamp", "pne", "home", 0x10, 1, 1000, 1000), got;
  assert_int_equal(st->ops->cred_get(st, "lamp", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->cred_put(st, &c), 0);
  assert_int_equal(st->ops->cred_get(st, "lamp", &got), 0);
  assert_cred_equal(&c, &got);

  /* A rotation: a new key and generation; created_at stays from the first. */
  struct cpns_credential r = mkcred("lamp", "gw", "", 0xa0, 2, 5000, 5000);
  assert_int_equal(st->ops->cred_put(st, &r), 0);
  assert_int_equal(st->ops->cred_get(st, "lamp", &got), 0);
  assert_int_equal(got.created_at, 1000);
  assert_int_equal(got.generation, 2);
  assert_int_equal(got.rotated_at, 5000);
  assert_string_equal(got.pn, "");
  r.created_at = 1000;
  assert_cred_equal(&r, &got);

  /* All 32 bytes round-trip, zeros and 0xff included. */
  struct cpns_credential z = mkcred("zero", "app", "", 0, UINT32_MAX, -1, INT64_MAX);
  memset(z.key, 0, sizeof z.key);
  z.key[31] = 0xff;
  assert_int_equal(st->ops->cred_put(st, &z), 0);
  assert_int_equal(st->ops->cred_get(st, "zero", &got), 0);
  assert_cred_equal(&z, &got);

  /* Bad input changes nothing. */
  struct cpns_credential bad = mkcred("", "pne", "", 1, 1, 1, 1);
  assert_int_equal(st->ops->cred_put(st, &bad), CPNS_ERR_INVAL);
  bad = mkcred("x", "", "", 1, 1, 1, 1);
  assert_int_equal(st->ops->cred_put(st, &bad), CPNS_ERR_INVAL);
  assert_int_equal(st->ops->cred_put(st, NULL), CPNS_ERR_INVAL);
  bad = mkcred("x", "pne", "", 1, 1, 1, 1);
  memset(bad.identity, 'i', sizeof bad.identity); /* no NUL: one byte too long */
  assert_int_equal(st->ops->cred_put(st, &bad), CPNS_ERR_TOOBIG);
  bad = mkcred("x", "pne", "", 1, 1, 1, 1);
  memset(bad.role, 'r', sizeof bad.role);
  assert_int_equal(st->ops->cred_put(st, &bad), CPNS_ERR_TOOBIG);
  bad = mkcred("x", "pne", "", 1, 1, 1, 1);
  memset(bad.pn, 'p', sizeof bad.pn);
  assert_int_equal(st->ops->cred_put(st, &bad), CPNS_ERR_TOOBIG);
  uint64_t n = 0;
  assert_int_equal(st->ops->cred_count(st, &n), 0);
  assert_int_equal(n, 2);

  /* The longest values that fit are stored whole. */
  struct cpns_credential big = mkcred("x", "pne", "", 7, 1, 1, 1);
  memset(big.identity, 'i', sizeof big.identity - 1);
  memset(big.role, 'r', sizeof big.role - 1);
  memset(big.pn, 'p', sizeof big.pn - 1);
  assert_int_equal(st->ops->cred_put(st, &big), 0);
  assert_int_equal(st->ops->cred_get(st, big.identity, &got), 0);
  assert_cred_equal(&big, &got);

  char longid[CPNS_ID_MAX + 2];
  memset(longid, 'x', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  assert_int_equal(st->ops->cred_get(st, longid, &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->cred_get(st, NULL, &got), CPNS_ERR_INVAL);
  assert_int_equal(st->ops->cred_get(st, "lamp", NULL), CPNS_ERR_INVAL);
  assert_int_equal(st->ops->cred_count(st, NULL), CPNS_ERR_INVAL);
}

static void test_cred_delete_count(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  uint64_t n = 99;
  assert_int_equal(st->ops->cred_count(st, &n), 0);
  assert_int_equal(n, 0);
  char id[16];
  for (int i = 0; i < 5; i++) {
    snprintf(id, sizeof id, "dev%d", i);
    struct cpns_credential c = mkcred(id, "pne", "home", (uint8_t)i, 1, i, i);
    assert_int_equal(st->ops->cred_put(st, &c), 0);
  }
  assert_int_equal(st->ops->cred_count(st, &n), 0);
  assert_int_equal(n, 5);
  assert_int_equal(st->ops->cred_delete(st, "dev2"), 0);
  assert_int_equal(st->ops->cred_delete(st, "dev2"), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->cred_delete(st, "never"), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->cred_delete(st, NULL), CPNS_ERR_INVAL);
  struct cpns_credential got;
  assert_int_equal(st->ops->cred_get(st, "dev2", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->cred_get(st, "dev3", &got), 0);
  assert_int_equal(st->ops->cred_count(st, &n), 0);
  assert_int_equal(n, 4);
}

static void test_enroll_put_get_replace(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  struct cpns_enrollment e = mkenroll("lamp", "pne", "home", 0x33, 100, 700, "alice"), got;
  assert_int_equal(st->ops->enroll_get(st, "lamp", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->enroll_put(st, &e), 0);
  assert_int_equal(st->ops->enroll_get(st, "lamp", &got), 0);
  assert_enroll_equal(&e, &got);

  /* A new enrollment replaces the pending one whole: the old code is dead. */
  struct cpns_enrollment r = mkenroll("lamp", "gw", "", 0x44, 200, 900, "");
  assert_int_equal(st->ops->enroll_put(st, &r), 0);
  assert_int_equal(st->ops->enroll_get(st, "lamp", &got), 0);
  assert_enroll_equal(&r, &got);

  struct cpns_enrollment bad = mkenroll("", "pne", "", 1, 1, 2, "a");
  assert_int_equal(st->ops->enroll_put(st, &bad), CPNS_ERR_INVAL);
  bad = mkenroll("x", "", "", 1, 1, 2, "a");
  assert_int_equal(st->ops->enroll_put(st, &bad), CPNS_ERR_INVAL);
  assert_int_equal(st->ops->enroll_put(st, NULL), CPNS_ERR_INVAL);
  bad = mkenroll("x", "pne", "", 1, 1, 2, "a");
  memset(bad.created_by, 'b', sizeof bad.created_by);
  assert_int_equal(st->ops->enroll_put(st, &bad), CPNS_ERR_TOOBIG);
  bad = mkenroll("x", "pne", "", 1, 1, 2, "a");
  memset(bad.identity, 'i', sizeof bad.identity);
  assert_int_equal(st->ops->enroll_put(st, &bad), CPNS_ERR_TOOBIG);
  assert_int_equal(st->ops->enroll_get(st, "x", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->enroll_get(st, NULL, &got), CPNS_ERR_INVAL);

  /* Enrollments and credentials are separate tables. */
  uint64_t n = 99;
  assert_int_equal(st->ops->cred_count(st, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(st->ops->enroll_delete(st, "lamp"), 0);
  assert_int_equal(st->ops->enroll_get(st, "lamp", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->enroll_delete(st, "lamp"), CPNS_ERR_NOTFOUND);
}

static void test_enroll_redeem_once(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  struct cpns_enrollment e = mkenroll("lamp", "pne", "home", 0x33, 100, 700, "alice"), eg;
  assert_int_equal(st->ops->enroll_put(st, &e), 0);
  struct cpns_credential c = mkcred("lamp", "pne", "home", 0x55, 1, 500, 500), got;
  assert_int_equal(st->ops->enroll_redeem(st, "lamp", 500, &c), 0);
  assert_int_equal(st->ops->enroll_get(st, "lamp", &eg), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->cred_get(st, "lamp", &got), 0);
  assert_cred_equal(&c, &got);

  /* The code works once. */
  struct cpns_credential c2 = mkcred("lamp", "pne", "home", 0x66, 1, 600, 600);
  assert_int_equal(st->ops->enroll_redeem(st, "lamp", 600, &c2), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->cred_get(st, "lamp", &got), 0);
  assert_cred_equal(&c, &got);

  /* A second enrollment of an enrolled device replaces its key, keeping
   * created_at. */
  assert_int_equal(st->ops->enroll_put(st, &e), 0);
  c2.generation = 2;
  assert_int_equal(st->ops->enroll_redeem(st, "lamp", 699, &c2), 0);
  assert_int_equal(st->ops->cred_get(st, "lamp", &got), 0);
  assert_int_equal(got.created_at, 500);
  assert_int_equal(got.generation, 2);
  assert_memory_equal(got.key, c2.key, CPNS_SECRET_LEN);
  uint64_t n;
  assert_int_equal(st->ops->cred_count(st, &n), 0);
  assert_int_equal(n, 1);

  /* None pending for another identity. */
  struct cpns_credential o = mkcred("other", "pne", "", 1, 1, 1, 1);
  assert_int_equal(st->ops->enroll_redeem(st, "other", 1, &o), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->cred_get(st, "other", &got), CPNS_ERR_NOTFOUND);
}

static void test_enroll_redeem_expired(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  struct cpns_enrollment e = mkenroll("lamp", "pne", "home", 0x33, 100, 700, "alice"), eg;
  assert_int_equal(st->ops->enroll_put(st, &e), 0);
  struct cpns_credential c = mkcred("lamp", "pne", "home", 0x55, 1, 700, 700), got;
  /* expires_at == now is expired: only expires_at > now may be redeemed. */
  assert_int_equal(st->ops->enroll_redeem(st, "lamp", 700, &c), CPNS_ERR_DENIED);
  assert_int_equal(st->ops->enroll_get(st, "lamp", &eg), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->cred_get(st, "lamp", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->enroll_redeem(st, "lamp", 700, &c), CPNS_ERR_NOTFOUND);

  /* An expired redeem leaves an existing credential alone. */
  struct cpns_credential old = mkcred("dev", "pne", "", 0x77, 3, 10, 20);
  assert_int_equal(st->ops->cred_put(st, &old), 0);
  e = mkenroll("dev", "pne", "", 0x12, 100, 200, "alice");
  assert_int_equal(st->ops->enroll_put(st, &e), 0);
  struct cpns_credential nw = mkcred("dev", "pne", "", 0x88, 4, 300, 300);
  assert_int_equal(st->ops->enroll_redeem(st, "dev", 300, &nw), CPNS_ERR_DENIED);
  assert_int_equal(st->ops->cred_get(st, "dev", &got), 0);
  assert_cred_equal(&old, &got);
}

static void test_enroll_redeem_mismatch(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  struct cpns_enrollment e = mkenroll("lamp", "pne", "home", 0x33, 100, 700, "alice"), eg;
  assert_int_equal(st->ops->enroll_put(st, &e), 0);
  struct cpns_credential c = mkcred("fridge", "pne", "home", 0x55, 1, 500, 500), got;
  assert_int_equal(st->ops->enroll_redeem(st, "lamp", 500, &c), CPNS_ERR_INVAL);
  assert_int_equal(st->ops->enroll_redeem(st, NULL, 500, &c), CPNS_ERR_INVAL);
  assert_int_equal(st->ops->enroll_redeem(st, "lamp", 500, NULL), CPNS_ERR_INVAL);
  c = mkcred("lamp", "", "home", 0x55, 1, 500, 500); /* no role */
  assert_int_equal(st->ops->enroll_redeem(st, "lamp", 500, &c), CPNS_ERR_INVAL);
  c = mkcred("lamp", "pne", "home", 0x55, 1, 500, 500);
  memset(c.pn, 'p', sizeof c.pn);
  assert_int_equal(st->ops->enroll_redeem(st, "lamp", 500, &c), CPNS_ERR_TOOBIG);
  /* None of these spent the code or stored a key. */
  assert_int_equal(st->ops->enroll_get(st, "lamp", &eg), 0);
  assert_enroll_equal(&e, &eg);
  assert_int_equal(st->ops->cred_get(st, "lamp", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->cred_get(st, "fridge", &got), CPNS_ERR_NOTFOUND);
}

static void test_enroll_expire(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  struct cpns_enrollment es[] = {
      mkenroll("a", "pne", "", 1, 0, 5, "op"),
      mkenroll("b", "pne", "", 2, 0, 10, "op"), /* <= now expires */
      mkenroll("c", "pne", "", 3, 0, 11, "op"),
  };
  for (size_t i = 0; i < sizeof es / sizeof es[0]; i++)
    assert_int_equal(st->ops->enroll_put(st, &es[i]), 0);
  unsigned removed = 99;
  assert_int_equal(st->ops->enroll_expire(st, 4, &removed), 0);
  assert_int_equal(removed, 0);
  assert_int_equal(st->ops->enroll_expire(st, 10, &removed), 0);
  assert_int_equal(removed, 2);
  struct cpns_enrollment got;
  assert_int_equal(st->ops->enroll_get(st, "a", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->enroll_get(st, "b", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->enroll_get(st, "c", &got), 0);
  assert_enroll_equal(&es[2], &got);
  assert_int_equal(st->ops->enroll_expire(st, 10, &removed), 0);
  assert_int_equal(removed, 0);
  assert_int_equal(st->ops->enroll_expire(st, 11, NULL), 0); /* the count is optional */
  assert_int_equal(st->ops->enroll_get(st, "c", &got), CPNS_ERR_NOTFOUND);
}

static void test_secrets_persist(void **state) {
  struct fixture *f = *state;
  struct cpns_credential c = mkcred("lamp", "pne", "home", 0x21, 3, 10, 20), cg;
  struct cpns_enrollment e = mkenroll("fridge", "app", "", 0x42, 30, 4000, "alice"), eg;
  assert_int_equal(f->st->ops->cred_put(f->st, &c), 0);
  assert_int_equal(f->st->ops->enroll_put(f->st, &e), 0);
  cpns_store_close(f->st);
  f->st = NULL;
  char err[256];
  assert_int_equal(cpns_store_sqlite_open(f->path, CPNS_STORE_SYNC_NORMAL, &f->st, err, sizeof err),
                   0);
  struct cpns_store *st = f->st;
  assert_int_equal(st->ops->cred_get(st, "lamp", &cg), 0);
  assert_cred_equal(&c, &cg);
  assert_int_equal(st->ops->enroll_get(st, "fridge", &eg), 0);
  assert_enroll_equal(&e, &eg);

  /* Stored as BLOBs, as the schema says. */
  sqlite3 *db = raw_open(f->path);
  assert_int_equal(raw_int(db, "SELECT typeof(key) = 'blob' AND length(key) = 32 FROM credential"),
                   1);
  assert_int_equal(raw_int(db, "SELECT typeof(psk) = 'blob' AND length(psk) = 32 FROM enrollment"),
                   1);
  sqlite3_close(db);
}

/* A secret that is not a 32-byte BLOB was not written by the store: the schema
 * refuses it, and should one get in anyway, reading it is an error. */
static void test_secret_bad_blob(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  sqlite3 *db = raw_open(f->path);
  assert_int_equal(sqlite3_exec(db,
                                "INSERT INTO credential VALUES ('short', 'pne', '',"
                                " zeroblob(31), 1, 0, 0)",
                                NULL, NULL, NULL),
                   SQLITE_CONSTRAINT);
  assert_int_equal(sqlite3_exec(db,
                                "INSERT INTO credential VALUES ('text', 'pne', '',"
                                " '0123456789abcdef0123456789abcdef', 1, 0, 0)",
                                NULL, NULL, NULL),
                   SQLITE_CONSTRAINT);
  assert_int_equal(sqlite3_exec(db, "PRAGMA ignore_check_constraints = ON", NULL, NULL, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "INSERT INTO credential VALUES ('short', 'pne', '',"
                                " zeroblob(31), 1, 0, 0);"
                                "INSERT INTO credential VALUES ('long', 'pne', '',"
                                " zeroblob(33), 1, 0, 0);"
                                "INSERT INTO credential VALUES ('text', 'pne', '',"
                                " '0123456789abcdef0123456789abcdef', 1, 0, 0);"
                                "INSERT INTO credential VALUES ('gen', 'pne', '',"
                                " zeroblob(32), -1, 0, 0);"
                                "INSERT INTO enrollment VALUES ('short', 'pne', '',"
                                " zeroblob(16), 0, 99, 'op');",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);

  struct cpns_credential c;
  assert_int_equal(st->ops->cred_get(st, "short", &c), CPNS_ERR_STORE);
  assert_int_equal(st->ops->cred_get(st, "long", &c), CPNS_ERR_STORE);
  assert_int_equal(st->ops->cred_get(st, "text", &c), CPNS_ERR_STORE);
  assert_int_equal(st->ops->cred_get(st, "gen", &c), CPNS_ERR_STORE);
  struct cpns_enrollment e;
  assert_int_equal(st->ops->enroll_get(st, "short", &e), CPNS_ERR_STORE);
  /* The store still works after those errors. */
  struct cpns_credential ok = mkcred("ok", "pne", "", 9, 1, 1, 1);
  assert_int_equal(st->ops->cred_put(st, &ok), 0);
  assert_int_equal(st->ops->cred_get(st, "ok", &c), 0);
  assert_cred_equal(&ok, &c);
}

/* A file of schema version 1 (migration 1 only) is brought to version 2 on
 * open, its data kept. */
static void test_migrate_from_v1(void **state) {
  struct fixture *f = *state;
  add_pn_with_data(f->st, "kept");
  cpns_store_close(f->st);
  f->st = NULL;
  /* Undo migrations 3 and 2 by hand: what remains is exactly migration 1's schema. */
  sqlite3 *db = raw_open(f->path);
  assert_int_equal(sqlite3_exec(db,
                                "BEGIN; DROP TABLE group_member; DROP TABLE service_group;"
                                " DROP TABLE service_keyword; DROP TABLE service;"
                                " DROP TABLE interest; DROP TABLE caps;"
                                " DROP TABLE credential; DROP TABLE enrollment;"
                                " DROP TABLE status; DROP TABLE status_observer;"
                                " DROP TABLE status_policy;"
                                " DROP TABLE usage_record;"
                                " DROP TABLE api_token;"
                                " PRAGMA user_version = 1; COMMIT;",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                               "('credential', 'enrollment', 'enrollment_expiry')"),
                   0);
  sqlite3_close(db);

  char err[256];
  assert_int_equal(cpns_store_sqlite_open(f->path, CPNS_STORE_SYNC_NORMAL, &f->st, err, sizeof err),
                   0);
  struct cpns_store *st = f->st;
  db = raw_open(f->path);
  assert_int_equal(raw_int(db, "PRAGMA user_version"), cpns_store_sqlite_schema_version());
  assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                               "('credential', 'enrollment', 'enrollment_expiry')"),
                   3);
  sqlite3_close(db);
  struct cpns_pn_rec p;
  assert_int_equal(st->ops->pn_get(st, "kept", &p), 0);
  uint64_t n;
  assert_int_equal(st->ops->entity_count(st, "kept", &n), 0);
  assert_int_equal(n, 3);
  struct cpns_credential c = mkcred("lamp", "pne", "kept", 1, 1, 1, 1), got;
  assert_int_equal(st->ops->cred_put(st, &c), 0);
  assert_int_equal(st->ops->cred_get(st, "lamp", &got), 0);
  assert_cred_equal(&c, &got);
}

/* ---- volume -------------------------------------------------------------- */

static int count_visits(void *arg, const struct cpns_entity_rec *e) {
  (*(unsigned *)arg)++;
  return 0;
}

static void test_bulk_20000(void **state) {
  struct cpns_store *st = ((struct fixture *)*state)->st;
  char pn[16], id[16];
  for (int i = 0; i < 20000; i++) {
    snprintf(pn, sizeof pn, "pn%d", i % 4);
    snprintf(id, sizeof id, "ent%05d", i);
    struct cpns_entity_rec e = mkent(pn, id, CPNS_STATE_ONLINE, i, 100000 + i);
    assert_int_equal(st->ops->entity_put(st, &e), 0);
  }
  uint64_t n;
  assert_int_equal(st->ops->entity_count(st, NULL, &n), 0);
  assert_int_equal(n, 20000);
  for (int p = 0; p < 4; p++) {
    snprintf(pn, sizeof pn, "pn%d", p);
    assert_int_equal(st->ops->entity_count(st, pn, &n), 0);
    assert_int_equal(n, 5000);
  }
  unsigned visited = 0;
  assert_int_equal(st->ops->entity_list(st, "pn3", count_visits, &visited), 0);
  assert_int_equal(visited, 5000);
  struct cpns_entity_rec got;
  assert_int_equal(st->ops->entity_get(st, "pn1", "ent12345", &got), 0);
  assert_int_equal(got.registered_at, 12345);
  unsigned expired = 0;
  assert_int_equal(st->ops->expire(st, 100000 + 9999, NULL, count_only, &expired), 0);
  assert_int_equal(expired, 10000);
}

/* ---- Service Groups ------------------------------------------------------ */

static struct cpns_group_rec mkgroup(const char *id, const char *owner, uint32_t epoch, uint8_t fill) {
  struct cpns_group_rec g;
  memset(&g, 0, sizeof g);
  snprintf(g.id, sizeof g.id, "%s", id);
  snprintf(g.owner, sizeof g.owner, "%s", owner);
  snprintf(g.pn, sizeof g.pn, "home");
  g.open = false;
  g.epoch = epoch;
  memset(g.key, fill, sizeof g.key);
  g.key_expires = 0;
  g.created_at = 100;
  return g;
}

struct member_seen {
  char text[512];
};

static int collect_member(void *arg, const char *member, const char *pn,
                          enum cpns_member_state state) {
  struct member_seen *s = arg;
  size_t n = strlen(s->text);
  snprintf(s->text + n, sizeof s->text - n, "%s%s%s=%s ", member, pn[0] ? "@" : "", pn,
           cpns_member_state_name(state));
  return 0;
}

static void test_groups(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  struct cpns_group_rec g = mkgroup("family", "gw-home", 1, 0x11), got;
  assert_int_equal(st->ops->group_get(st, "family", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->group_put(st, &g), 0);
  assert_int_equal(st->ops->group_get(st, "family", &got), 0);
  assert_string_equal(got.owner, "gw-home");
  assert_string_equal(got.pn, "home");
  assert_int_equal(got.epoch, 1);
  assert_memory_equal(got.key, g.key, sizeof g.key);
  /* Members need their group. */
  assert_int_equal(st->ops->member_put(st, "nogroup", "x", "", CPNS_MEMBER_JOINED), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->member_put(st, "family", "gw-home", "home", CPNS_MEMBER_JOINED), 0);
  assert_int_equal(st->ops->member_put(st, "family", "gw-office", NULL, CPNS_MEMBER_INVITED), 0);
  enum cpns_member_state ms;
  assert_int_equal(st->ops->member_get(st, "family", "gw-office", &ms, NULL), 0);
  assert_int_equal(ms, CPNS_MEMBER_INVITED);
  assert_int_equal(st->ops->member_get(st, "family", "nobody", &ms, NULL), CPNS_ERR_NOTFOUND);

  /* Join: state and key change together. */
  uint8_t k2[CPNS_SECRET_LEN];
  memset(k2, 0x22, sizeof k2);
  enum cpns_member_state joined = CPNS_MEMBER_JOINED;
  assert_int_equal(st->ops->group_member_change(st, "family", "gw-office", "office", &joined, k2, 2, 0), 0);
  assert_int_equal(st->ops->member_get(st, "family", "gw-office", &ms, NULL), 0);
  assert_int_equal(ms, CPNS_MEMBER_JOINED);
  assert_int_equal(st->ops->group_get(st, "family", &got), 0);
  assert_int_equal(got.epoch, 2);
  assert_memory_equal(got.key, k2, sizeof k2);
  struct member_seen s = {""};
  assert_int_equal(st->ops->member_list(st, "family", collect_member, &s), 0);
  assert_string_equal(s.text, "gw-home@home=member gw-office@office=member ");

  /* Removing someone absent changes nothing, key included. */
  uint8_t k3[CPNS_SECRET_LEN];
  memset(k3, 0x33, sizeof k3);
  assert_int_equal(st->ops->group_member_change(st, "family", "nobody", NULL, NULL, k3, 3, 0),
                   CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->group_get(st, "family", &got), 0);
  assert_int_equal(got.epoch, 2);
  assert_memory_equal(got.key, k2, sizeof k2);
  /* A change in a missing group is refused whole. */
  assert_int_equal(st->ops->group_member_change(st, "nogroup", "x", "", &joined, k3, 3, 0),
                   CPNS_ERR_NOTFOUND);
  /* Expel: removed and rekeyed. */
  assert_int_equal(st->ops->group_member_change(st, "family", "gw-office", NULL, NULL, k3, 3, 77), 0);
  assert_int_equal(st->ops->member_get(st, "family", "gw-office", &ms, NULL), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->group_get(st, "family", &got), 0);
  assert_int_equal(got.epoch, 3);
  assert_int_equal(got.key_expires, 77);
  assert_memory_equal(got.key, k3, sizeof k3);

  assert_int_equal(st->ops->member_delete(st, "family", "gw-home"), 0);
  assert_int_equal(st->ops->member_delete(st, "family", "gw-home"), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->member_put(st, "family", "a", "", CPNS_MEMBER_JOINED), 0);
  /* Delete cascades to members. */
  assert_int_equal(st->ops->group_delete(st, "family"), 0);
  assert_int_equal(st->ops->group_delete(st, "family"), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->group_get(st, "family", &got), CPNS_ERR_NOTFOUND);
  sqlite3 *db = raw_open(f->path);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM group_member"), 0);
  sqlite3_close(db);
  /* Re-creating the group starts empty. */
  assert_int_equal(st->ops->group_put(st, &g), 0);
  memset(&s, 0, sizeof s);
  assert_int_equal(st->ops->member_list(st, "family", collect_member, &s), 0);
  assert_string_equal(s.text, "");
}

static int collect_id(void *arg, const char *id) {
  struct member_seen *s = arg;
  size_t n = strlen(s->text);
  snprintf(s->text + n, sizeof s->text - n, "%s ", id);
  return 0;
}

/* A gateway's replica: replaced whole; members by PN; PNs of a group. */
static void test_group_replicas(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  struct cpns_group_rec g = mkgroup("family", "gw-home", 4, 0x44), got;
  g.replica = true;
  const char *two[] = {"phone", "tv"};
  assert_int_equal(st->ops->group_sync(st, &g, "home", two, 2), 0);
  assert_int_equal(st->ops->group_get(st, "family", &got), 0);
  assert_true(got.replica);
  assert_int_equal(got.epoch, 4);
  struct member_seen s = {""};
  assert_int_equal(st->ops->member_list(st, "family", collect_member, &s), 0);
  assert_string_equal(s.text, "phone@home=member tv@home=member ");
  const char *one[] = {"tv"};
  g.epoch = 5;
  assert_int_equal(st->ops->group_sync(st, &g, "home", one, 1), 0);
  memset(&s, 0, sizeof s);
  assert_int_equal(st->ops->member_list(st, "family", collect_member, &s), 0);
  assert_string_equal(s.text, "tv@home=member ");
  /* A bad member id refuses the whole sync: nothing changes. */
  const char *bad[] = {"tv", ""};
  g.epoch = 6;
  assert_int_not_equal(st->ops->group_sync(st, &g, "home", bad, 2), 0);
  assert_int_equal(st->ops->group_get(st, "family", &got), 0);
  assert_int_equal(got.epoch, 5);

  struct cpns_group_rec h = mkgroup("games", "gw-office", 1, 0x55);
  assert_int_equal(st->ops->group_put(st, &h), 0);
  assert_int_equal(st->ops->member_put(st, "games", "tv", "home", CPNS_MEMBER_JOINED), 0);
  assert_int_equal(st->ops->member_put(st, "games", "pc", "office", CPNS_MEMBER_JOINED), 0);
  assert_int_equal(st->ops->member_put(st, "games", "x", "", CPNS_MEMBER_JOINED), 0);
  assert_int_equal(st->ops->member_put(st, "games", "y", "lab", CPNS_MEMBER_INVITED), 0);
  memset(&s, 0, sizeof s);
  assert_int_equal(st->ops->group_ids_of_pn(st, "home", collect_id, &s), 0);
  assert_string_equal(s.text, "family games ");
  memset(&s, 0, sizeof s);
  assert_int_equal(st->ops->group_member_pns(st, "games", collect_id, &s), 0);
  assert_string_equal(s.text, "home office ");
  char pn[CPNS_ID_MAX + 1];
  enum cpns_member_state ms;
  assert_int_equal(st->ops->member_get(st, "games", "pc", &ms, pn), 0);
  assert_string_equal(pn, "office");
}

/* ---- the Metadata Directory (issue 4) ------------------------------------ */

/* A service of offerer in pn with the given keywords ("a b c") and
 * visibility, expiring at expires. */
static struct cpns_service mksvc(const char *id, const char *offerer, const char *pn,
                                 const char *keywords, enum cpns_visibility vis, int64_t expires) {
  struct cpns_service s;
  memset(&s, 0, sizeof s);
  snprintf(s.id, sizeof s.id, "%s", id);
  snprintf(s.offerer, sizeof s.offerer, "%s", offerer);
  snprintf(s.pn, sizeof s.pn, "%s", pn);
  snprintf(s.name, sizeof s.name, "service %s", id);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", keywords);
  char *save = NULL;
  for (char *k = strtok_r(buf, " ", &save); k; k = strtok_r(NULL, " ", &save))
    snprintf(s.keywords[s.nkeywords++], sizeof s.keywords[0], "%s", k);
  s.visibility = vis;
  snprintf(s.uris[0], sizeof s.uris[0], "coap://%s.example/x", id);
  s.nuris = 1;
  s.lifetime = 3600;
  s.created_at = 100;
  s.updated_at = 100;
  s.expires_at = expires;
  return s;
}

static void put_svc(struct cpns_store *st, const char *id, const char *offerer, const char *pn,
                    const char *keywords, enum cpns_visibility vis) {
  struct cpns_service s = mksvc(id, offerer, pn, keywords, vis, 10000);
  assert_int_equal(st->ops->service_put(st, &s), 0);
}

struct found {
  char ids[1024];
  unsigned n, stop_after; /* 0: never stop */
};

static int collect_service(void *arg, const struct cpns_service *s) {
  struct found *fd = arg;
  size_t len = strlen(fd->ids);
  snprintf(fd->ids + len, sizeof fd->ids - len, "%s%s", len ? " " : "", s->id);
  fd->n++;
  return fd->stop_after && fd->n >= fd->stop_after;
}

/* Runs a lookup given as a URI query for a caller of viewer_pn (see_all for
 * the operator) and returns the ids found, space-separated; *more and last
 * as the store said. */
static const char *find(struct cpns_store *st, const char *query, const char *viewer_pn,
                        bool see_all, unsigned budget, unsigned stop_after, bool *more,
                        char last[CPNS_ID_MAX + 1], int want_rc) {
  static struct found fd;
  memset(&fd, 0, sizeof fd);
  fd.stop_after = stop_after;
  struct cpns_service_query q;
  char err[160];
  if (cpns_service_query_parse_uri(query, &q, err, sizeof err)) fail_msg("%s: %s", query, err);
  struct cpns_service_find f = {&q, see_all, viewer_pn, 1000, budget};
  bool m = false;
  char l[CPNS_ID_MAX + 1];
  int rc = st->ops->service_find(st, &f, collect_service, &fd, l, &m);
  if (rc != want_rc) fail_msg("%s: rc %d, wanted %d", query, rc, want_rc);
  if (more) *more = m;
  if (last) memcpy(last, l, sizeof l);
  return fd.ids;
}

static void test_service_put_get(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  struct cpns_service s = mksvc("s1", "gw-home", "home", "tv video", CPNS_VIS_PUBLIC, 5000);
  s.nrequires = 1;
  snprintf(s.requires[0].cap, sizeof s.requires[0].cap, "screen_width");
  s.requires[0].op = CPNS_REQ_RANGE;
  s.requires[0].has_min = true;
  s.requires[0].min = 640;
  assert_int_equal(st->ops->service_put(st, &s), 0);
  struct cpns_service got;
  assert_int_equal(st->ops->service_get(st, "s1", &got), 0);
  assert_memory_equal(&got, &s, sizeof s);
  /* Replacing keeps created_at and changes the keywords. */
  struct cpns_service s2 = mksvc("s1", "gw-home", "home", "radio", CPNS_VIS_PN, 6000);
  s2.created_at = 999;
  s2.updated_at = 200;
  assert_int_equal(st->ops->service_put(st, &s2), 0);
  assert_int_equal(st->ops->service_get(st, "s1", &got), 0);
  assert_int_equal(got.created_at, 100);
  assert_int_equal(got.updated_at, 200);
  assert_int_equal(got.visibility, CPNS_VIS_PN);
  assert_string_equal(find(st, "kw=tv", "home", false, 100, 0, NULL, NULL, 0), "");
  assert_string_equal(find(st, "kw=radio", "home", false, 100, 0, NULL, NULL, 0), "s1");
  uint64_t n = 9;
  assert_int_equal(st->ops->service_count(st, NULL, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(st->ops->service_count(st, "gw-home", &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(st->ops->service_count(st, "gw-other", &n), 0);
  assert_int_equal(n, 0);
  /* What the store refuses. */
  struct cpns_service bad = mksvc("s2", "gw-x", "", "k", CPNS_VIS_PN, 1);
  assert_int_equal(st->ops->service_put(st, &bad), CPNS_ERR_INVAL); /* private without a PN */
  bad = mksvc("", "gw-x", "p", "k", CPNS_VIS_PN, 1);
  assert_int_equal(st->ops->service_put(st, &bad), CPNS_ERR_INVAL);
  bad = mksvc("s2", "gw-x", "p", "", CPNS_VIS_PN, 1);
  assert_int_equal(st->ops->service_put(st, &bad), CPNS_ERR_INVAL); /* no keyword */
  bad = mksvc("s2", "gw-x", "p", "k", CPNS_VIS_PN, 1);
  memset(bad.offerer, 'o', sizeof bad.offerer);
  assert_int_equal(st->ops->service_put(st, &bad), CPNS_ERR_TOOBIG);
  /* Delete: the service and its keywords go. */
  assert_int_equal(st->ops->service_delete(st, "s1"), 0);
  assert_int_equal(st->ops->service_delete(st, "s1"), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->service_get(st, "s1", &got), CPNS_ERR_NOTFOUND);
  char long_id[CPNS_ID_MAX + 2];
  memset(long_id, 'x', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  assert_int_equal(st->ops->service_get(st, long_id, &got), CPNS_ERR_NOTFOUND);
  sqlite3 *db = raw_open(f->path);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM service_keyword"), 0);
  sqlite3_close(db);
}

static void test_service_find(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  put_svc(st, "a1", "gw-home", "home", "tv video", CPNS_VIS_PN);
  put_svc(st, "a2", "phone", "home", "video music", CPNS_VIS_PUBLIC);
  put_svc(st, "b1", "gw-office", "office", "tv printer", CPNS_VIS_PN);
  put_svc(st, "b2", "gw-office", "office", "video videoconf", CPNS_VIS_PUBLIC);
  put_svc(st, "c1", "op", "", "video", CPNS_VIS_PUBLIC);
  /* keywords: all, any, prefix; what home sees */
  assert_string_equal(find(st, "kw=video", "home", false, 100, 0, NULL, NULL, 0), "a1 a2 b2 c1");
  assert_string_equal(find(st, "kw=tv,video", "home", false, 100, 0, NULL, NULL, 0), "a1");
  assert_string_equal(find(st, "kw=tv,music&match=any", "home", false, 100, 0, NULL, NULL, 0),
                      "a1 a2");
  assert_string_equal(find(st, "kw=vid&match=prefix", "home", false, 100, 0, NULL, NULL, 0),
                      "a1 a2 b2 c1");
  assert_string_equal(find(st, "kw=videoc,pri&match=prefix", "office", false, 100, 0, NULL, NULL, 0),
                      "b1 b2");
  assert_string_equal(find(st, "kw=zz&match=prefix", "home", false, 100, 0, NULL, NULL, 0), "");
  /* visibility: office's private TV is not home's, the operator sees all,
   * a caller of no PN sees the public ones */
  assert_string_equal(find(st, "kw=tv", "home", false, 100, 0, NULL, NULL, 0), "a1");
  assert_string_equal(find(st, "kw=tv", "office", false, 100, 0, NULL, NULL, 0), "b1");
  assert_string_equal(find(st, "kw=tv", "", true, 100, 0, NULL, NULL, 0), "a1 b1");
  assert_string_equal(find(st, "kw=tv", "", false, 100, 0, NULL, NULL, 0), "");
  /* offerer and PN */
  assert_string_equal(find(st, "offerer=gw-office", "home", false, 100, 0, NULL, NULL, 0), "b2");
  assert_string_equal(find(st, "offerer=gw-office", "office", false, 100, 0, NULL, NULL, 0), "b1 b2");
  assert_string_equal(find(st, "pn=home", "home", false, 100, 0, NULL, NULL, 0), "a1 a2");
  assert_string_equal(find(st, "pn=home", "office", false, 100, 0, NULL, NULL, 0), "a2");
  assert_string_equal(find(st, "kw=video&pn=office", "home", false, 100, 0, NULL, NULL, 0), "b2");
  assert_string_equal(find(st, "kw=video&offerer=phone", "office", false, 100, 0, NULL, NULL, 0), "a2");
  /* paging: a full page says more follow, after the last one */
  bool more = false;
  char last[CPNS_ID_MAX + 1];
  assert_string_equal(find(st, "kw=video", "home", false, 100, 2, &more, last, 0), "a1 a2");
  assert_true(more);
  assert_string_equal(last, "a2");
  assert_string_equal(find(st, "kw=video&after=a2", "home", false, 100, 2, &more, last, 0), "b2 c1");
  assert_false(more); /* nothing after c1 */
  assert_string_equal(find(st, "kw=video&after=c1", "home", false, 100, 2, &more, last, 0), "");
  assert_false(more);
  assert_string_equal(last, ""); /* past the end: nothing examined */
  /* the budget: candidates examined, found or not */
  assert_string_equal(find(st, "kw=tv", "", true, 1, 0, &more, last, 0), "a1");
  assert_true(more);
  assert_string_equal(last, "a1");
  assert_string_equal(find(st, "kw=video&pn=office", "home", false, 1, 0, &more, last, 0), "");
  assert_true(more); /* the public a2 examined (home's private a1 is not office's); b2 waits */
  assert_string_equal(last, "a2");
  /* expired services are passed over */
  struct cpns_service old = mksvc("a0", "gw-home", "home", "video", CPNS_VIS_PUBLIC, 1000);
  assert_int_equal(st->ops->service_put(st, &old), 0);
  assert_string_equal(find(st, "kw=video", "home", false, 100, 0, NULL, NULL, 0), "a1 a2 b2 c1");
  /* capabilities */
  struct cpns_service w = mksvc("d1", "gw-home", "home", "wide", CPNS_VIS_PUBLIC, 10000);
  w.nrequires = 1;
  snprintf(w.requires[0].cap, sizeof w.requires[0].cap, "screen_width");
  w.requires[0].op = CPNS_REQ_RANGE;
  w.requires[0].has_min = true;
  w.requires[0].min = 1000;
  assert_int_equal(st->ops->service_put(st, &w), 0);
  assert_string_equal(find(st, "kw=wide&caps=screen_width:1920", "x", false, 100, 0, NULL, NULL, 0), "d1");
  assert_string_equal(find(st, "kw=wide&caps=screen_width:800", "x", false, 100, 0, NULL, NULL, 0), "");
  assert_string_equal(find(st, "kw=wide", "x", false, 100, 0, NULL, NULL, 0), "d1");
  /* refused: a query for everything; a prefix standing for too many */
  find(st, "limit=5", "home", false, 100, 0, NULL, NULL, CPNS_ERR_INVAL);
  for (int i = 0; i <= CPNS_PREFIX_EXPANSION_MAX; i++) {
    char id[16], kw[32];
    snprintf(id, sizeof id, "m%d", i);
    snprintf(kw, sizeof kw, "many%03d", i);
    put_svc(st, id, "gw-home", "home", kw, CPNS_VIS_PUBLIC);
  }
  find(st, "kw=ma&match=prefix", "home", false, 100, 0, NULL, NULL, CPNS_ERR_TOOBIG);
  assert_string_equal(find(st, "kw=many064&match=prefix", "home", false, 100, 0, NULL, NULL, 0), "m64");
}

static int count_removed(void *arg, const struct cpns_service *s) {
  struct found *fd = arg;
  return collect_service(fd, s);
}

static void test_service_expire_remove(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  for (int i = 0; i < 150; i++) {
    char id[16];
    snprintf(id, sizeof id, "e%03d", i);
    struct cpns_service s = mksvc(id, "gw-home", "home", "old", CPNS_VIS_PUBLIC, 50 + i % 3);
    assert_int_equal(st->ops->service_put(st, &s), 0);
  }
  struct cpns_service keep = mksvc("k1", "gw-home", "home", "old", CPNS_VIS_PUBLIC, 500);
  assert_int_equal(st->ops->service_put(st, &keep), 0);
  struct found fd;
  memset(&fd, 0, sizeof fd);
  assert_int_equal(st->ops->service_expire(st, 52, count_removed, &fd), 0);
  assert_int_equal(fd.n, 150); /* more than one chunk, each reported */
  uint64_t n;
  assert_int_equal(st->ops->service_count(st, NULL, &n), 0);
  assert_int_equal(n, 1);
  memset(&fd, 0, sizeof fd);
  assert_int_equal(st->ops->service_expire(st, 52, count_removed, &fd), 0);
  assert_int_equal(fd.n, 0);
  /* an entity leaves: its services go, not those of its PN's others, nor
   * its namesake's in another PN */
  put_svc(st, "p1", "phone", "home", "x", CPNS_VIS_PN);
  put_svc(st, "p2", "phone", "home", "y", CPNS_VIS_PUBLIC);
  put_svc(st, "p3", "phone", "other", "y", CPNS_VIS_PUBLIC);
  put_svc(st, "g1", "gw-home", "home", "x", CPNS_VIS_PN);
  memset(&fd, 0, sizeof fd);
  assert_int_equal(st->ops->service_remove(st, "home", "phone", count_removed, &fd), 0);
  assert_string_equal(fd.ids, "p1 p2");
  struct cpns_service got;
  assert_int_equal(st->ops->service_get(st, "p3", &got), 0);
  /* a PN removed: all of its services */
  memset(&fd, 0, sizeof fd);
  assert_int_equal(st->ops->service_remove(st, "home", NULL, count_removed, &fd), 0);
  assert_string_equal(fd.ids, "g1 k1");
  assert_int_equal(st->ops->service_count(st, NULL, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(st->ops->service_remove(st, "nowhere", NULL, NULL, NULL), 0);
}

/* Every lookup statement reads an index range: SQLite's plan for each
 * shows a SEARCH, never a SCAN nor a temporary B-tree for the order. */
static void test_service_plans(void **state) {
  struct fixture *f = *state;
  sqlite3 *db = raw_open(f->path);
  static const char *const sql[] = {
      "SELECT service FROM service_keyword WHERE keyword = 'a' AND scope = '' AND service > ''"
      " ORDER BY service LIMIT 16",
      "SELECT service FROM service_keyword INDEXED BY service_keyword_any WHERE keyword = 'a'"
      " AND service > '' ORDER BY service LIMIT 16",
      "SELECT id FROM service INDEXED BY service_by_offerer WHERE offerer = 'a' AND id > ''"
      " ORDER BY id LIMIT 16",
      "SELECT id FROM service INDEXED BY service_by_pn WHERE pn = 'a' AND id > '' ORDER BY id"
      " LIMIT 16",
      "SELECT keyword FROM service_keyword WHERE keyword > 'ab' AND keyword < 'ac' ORDER BY"
      " keyword LIMIT 1",
      "SELECT id FROM service INDEXED BY service_expiry WHERE expires_at <= 5 ORDER BY"
      " expires_at LIMIT 64",
      "SELECT id, offerer, pn, doc, created_at, updated_at, expires_at FROM service WHERE id = 'a'",
  };
  for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
    char plan[512] = "";
    sqlite3_stmt *q = NULL;
    char full[1024];
    snprintf(full, sizeof full, "EXPLAIN QUERY PLAN %s", sql[i]);
    assert_int_equal(sqlite3_prepare_v2(db, full, -1, &q, NULL), SQLITE_OK);
    while (sqlite3_step(q) == SQLITE_ROW) {
      size_t n = strlen(plan);
      snprintf(plan + n, sizeof plan - n, "%s; ", (const char *)sqlite3_column_text(q, 3));
    }
    sqlite3_finalize(q);
    if (!strstr(plan, "SEARCH") || strstr(plan, "SCAN") || strstr(plan, "TEMP B-TREE"))
      fail_msg("%s: plan %s", sql[i], plan);
  }
  sqlite3_close(db);
}

/* 20,000 services: a keyword of three of them is found by examining those
 * three only. */
static void test_service_find_large(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  for (int i = 0; i < 20000; i++) {
    char id[16], kw[64];
    snprintf(id, sizeof id, "s%05d", i);
    snprintf(kw, sizeof kw, "common k%d%s", i % 5000, i % 7000 == 0 ? " rare" : "");
    put_svc(st, id, "gw", "home", kw, i % 2 ? CPNS_VIS_PUBLIC : CPNS_VIS_PN);
  }
  bool more = true;
  char last[CPNS_ID_MAX + 1];
  assert_string_equal(find(st, "kw=rare", "home", false, 3, 0, &more, last, 0), "s00000 s07000 s14000");
  assert_false(more);
  assert_string_equal(find(st, "kw=rare,common", "home", false, 3, 0, &more, last, 0),
                      "s00000 s07000 s14000");
  /* a page of a popular keyword stops after the page */
  assert_string_equal(find(st, "kw=common", "x", false, 1000, 3, &more, last, 0),
                      "s00001 s00003 s00005");
  assert_true(more);
  assert_string_equal(last, "s00005");
}

static int collect_interest(void *arg, const struct cpns_interest_rec *i) {
  struct found *fd = arg;
  size_t len = strlen(fd->ids);
  snprintf(fd->ids + len, sizeof fd->ids - len, "%s%s", len ? " " : "", i->id);
  fd->n++;
  return 0;
}

static void test_interests(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  struct cpns_interest_rec r;
  memset(&r, 0, sizeof r);
  snprintf(r.owner, sizeof r.owner, "gw-home");
  snprintf(r.owner_pn, sizeof r.owner_pn, "home");
  snprintf(r.query, sizeof r.query, "{\"kw\":[\"tv\"],\"match\":\"all\"}");
  snprintf(r.events, sizeof r.events, "[]");
  r.created_at = 10;
  for (int i = 0; i < 20; i++) {
    snprintf(r.id, sizeof r.id, "i%02d", i);
    if (i == 19) snprintf(r.owner, sizeof r.owner, "admin"), r.see_all = true;
    assert_int_equal(st->ops->interest_put(st, &r), 0);
  }
  uint64_t n;
  assert_int_equal(st->ops->interest_count(st, NULL, &n), 0);
  assert_int_equal(n, 20);
  assert_int_equal(st->ops->interest_count(st, "gw-home", &n), 0);
  assert_int_equal(n, 19);
  struct found fd;
  memset(&fd, 0, sizeof fd);
  assert_int_equal(st->ops->interest_list(st, collect_interest, &fd), 0);
  assert_int_equal(fd.n, 20); /* over more than one chunk, in order */
  assert_true(strncmp(fd.ids, "i00 i01 i02", 11) == 0);
  assert_int_equal(st->ops->interest_event(st, "i03", 7, "[{\"seq\":7}]"), 0);
  assert_int_equal(st->ops->interest_event(st, "nope", 7, "[]"), CPNS_ERR_NOTFOUND);
  struct cpns_interest_rec got;
  assert_int_equal(st->ops->interest_get(st, "i03", &got), 0);
  assert_int_equal(got.seq, 7);
  assert_string_equal(got.events, "[{\"seq\":7}]");
  assert_string_equal(got.query, r.query);
  assert_int_equal(st->ops->interest_get(st, "i19", &got), 0);
  assert_true(got.see_all);
  assert_int_equal(st->ops->interest_delete(st, "i03"), 0);
  assert_int_equal(st->ops->interest_delete(st, "i03"), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->interest_get(st, "i03", &got), CPNS_ERR_NOTFOUND);
  r.query[0] = '\0';
  assert_int_equal(st->ops->interest_put(st, &r), CPNS_ERR_INVAL);
  /* they survive a reopen */
  cpns_store_close(st);
  char err[256];
  assert_int_equal(cpns_store_sqlite_open(f->path, CPNS_STORE_SYNC_NORMAL, &f->st, err, sizeof err), 0);
  st = f->st;
  assert_int_equal(st->ops->interest_count(st, NULL, &n), 0);
  assert_int_equal(n, 19);
  put_svc(st, "s1", "gw", "home", "tv", CPNS_VIS_PUBLIC);
  cpns_store_close(st);
  assert_int_equal(cpns_store_sqlite_open(f->path, CPNS_STORE_SYNC_NORMAL, &f->st, err, sizeof err), 0);
  st = f->st;
  struct cpns_service s;
  assert_int_equal(st->ops->service_get(st, "s1", &s), 0);
  assert_string_equal(find(st, "kw=tv", "x", false, 10, 0, NULL, NULL, 0), "s1");
}

/* A stored description that is not one (written behind the store's back)
 * is an error, never a service. */
static void test_service_bad_doc(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  put_svc(st, "s1", "gw", "home", "tv", CPNS_VIS_PUBLIC);
  sqlite3 *db = raw_open(f->path);
  assert_int_equal(sqlite3_exec(db, "UPDATE service SET doc = '{\"name\":5}'", NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  struct cpns_service s;
  assert_int_equal(st->ops->service_get(st, "s1", &s), CPNS_ERR_STORE);
  find(st, "kw=tv", "x", false, 10, 0, NULL, NULL, CPNS_ERR_STORE);
}

/* ---- device capabilities ---- */

static struct cpns_caps_rec mkcaps(const char *pn, const char *id, uint64_t rev, const char *doc) {
  struct cpns_caps_rec c;
  memset(&c, 0, sizeof c);
  snprintf(c.pn, sizeof c.pn, "%s", pn);
  snprintf(c.id, sizeof c.id, "%s", id);
  snprintf(c.doc, sizeof c.doc, "%s", doc);
  c.rev = rev;
  c.updated_at = 100 + (int64_t)rev;
  return c;
}

struct caps_seen {
  unsigned n;
  char ids[2048];
};

static int collect_caps(void *arg, const struct cpns_caps_rec *c) {
  struct caps_seen *s = arg;
  size_t used = strlen(s->ids);
  snprintf(s->ids + used, sizeof s->ids - used, "%s%s@%llu", s->n ? " " : "", c->id,
           (unsigned long long)c->rev);
  s->n++;
  return 0;
}

static int collect_caps_key(void *arg, const char *pn, const char *id) {
  struct caps_seen *s = arg;
  size_t used = strlen(s->ids);
  snprintf(s->ids + used, sizeof s->ids - used, "%s%s/%s", s->n ? " " : "", pn, id);
  s->n++;
  return 0;
}

/* A document belongs to an entity: refused without one, replaced whole,
 * listed a page at a time, and gone with its entity (leave, expulsion, PN
 * removal); it survives a reopen. */
static void test_caps(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  struct cpns_caps_rec c = mkcaps("home", "phone", 1, "{\"static\":{}}"), got;
  assert_int_equal(st->ops->caps_put(st, &c), CPNS_ERR_NOTFOUND);
  for (int i = 0; i < 20; i++) {
    char id[16];
    snprintf(id, sizeof id, "e%02d", i);
    struct cpns_entity_rec e = mkent("home", id, CPNS_STATE_ONLINE, 1, 100);
    assert_int_equal(st->ops->entity_put(st, &e), 0);
    c = mkcaps("home", id, 1, "{}");
    assert_int_equal(st->ops->caps_put(st, &c), 0);
  }
  struct cpns_entity_rec e = mkent("office", "tv", CPNS_STATE_ONLINE, 1, 100);
  assert_int_equal(st->ops->entity_put(st, &e), 0);
  c = mkcaps("office", "tv", 4, "{\"dynamic\":{\"battery\":{\"level\":80}}}");
  assert_int_equal(st->ops->caps_put(st, &c), 0);
  c.rev = 5;
  snprintf(c.doc, sizeof c.doc, "{\"dynamic\":{\"battery\":{\"level\":15}}}");
  assert_int_equal(st->ops->caps_put(st, &c), 0);
  assert_int_equal(st->ops->caps_get(st, "office", "tv", &got), 0);
  assert_int_equal(got.rev, 5);
  assert_int_equal(got.updated_at, 104);
  assert_string_equal(got.doc, c.doc);
  assert_int_equal(st->ops->caps_get(st, "office", "radio", &got), CPNS_ERR_NOTFOUND);
  char long_id[CPNS_ID_MAX + 2];
  memset(long_id, 'x', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  assert_int_equal(st->ops->caps_get(st, "home", long_id, &got), CPNS_ERR_NOTFOUND);
  /* Pages: over more than one chunk, after a cursor, bounded. */
  struct caps_seen seen;
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->caps_list(st, "home", "", 100, collect_caps, &seen), 0);
  assert_int_equal(seen.n, 20);
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->caps_list(st, "home", "e15", 3, collect_caps, &seen), 0);
  assert_string_equal(seen.ids, "e16@1 e17@1 e18@1");
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->caps_keys(st, collect_caps_key, &seen), 0);
  assert_int_equal(seen.n, 21);
  assert_non_null(strstr(seen.ids, "home/e19 office/tv"));
  /* Gone with the entity. */
  assert_int_equal(st->ops->entity_delete(st, "home", "e00"), 0);
  assert_int_equal(st->ops->caps_get(st, "home", "e00", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->entity_expel(st, "home", "e01", NULL), 0);
  assert_int_equal(st->ops->caps_get(st, "home", "e01", &got), CPNS_ERR_NOTFOUND);
  /* Bad records. */
  c = mkcaps("home", "e02", 1, "");
  assert_int_equal(st->ops->caps_put(st, &c), CPNS_ERR_INVAL);
  c = mkcaps("home", "e02", 1, "{}");
  memset(c.doc, 'x', sizeof c.doc);
  assert_int_equal(st->ops->caps_put(st, &c), CPNS_ERR_TOOBIG);
  /* They survive a reopen; a PN's removal takes them. */
  cpns_store_close(st);
  char err[256];
  assert_int_equal(cpns_store_sqlite_open(f->path, CPNS_STORE_SYNC_NORMAL, &f->st, err, sizeof err), 0);
  st = f->st;
  assert_int_equal(st->ops->caps_get(st, "office", "tv", &got), 0);
  assert_int_equal(got.rev, 5);
  assert_int_equal(st->ops->pn_delete(st, "home"), 0);
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->caps_keys(st, collect_caps_key, &seen), 0);
  assert_string_equal(seen.ids, "office/tv");
}

/* ---- status management ---------------------------------------------------- */

static struct cpns_status_rec mkstatus(const char *pn, const char *id, const char *doc, int64_t t) {
  struct cpns_status_rec r;
  memset(&r, 0, sizeof r);
  snprintf(r.pn, sizeof r.pn, "%s", pn);
  snprintf(r.id, sizeof r.id, "%s", id);
  snprintf(r.doc, sizeof r.doc, "%s", doc);
  r.updated_at = t;
  return r;
}

struct status_seen {
  char ids[512];
  unsigned n;
};

static int collect_status(void *arg, const struct cpns_status_rec *r) {
  struct status_seen *s = arg;
  size_t used = strlen(s->ids);
  snprintf(s->ids + used, sizeof s->ids - used, "%s%s", used ? " " : "", r->id);
  s->n++;
  return 0;
}

static void test_status_docs(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  struct cpns_status_rec r = mkstatus("home", "phone", "{\"state\":\"online\"}", 10), got;
  /* a status goes with an entity: none without one */
  assert_int_equal(st->ops->status_put(st, &r), CPNS_ERR_NOTFOUND);
  for (int i = 0; i < 150; i++) { /* more than one LIST_CHUNK */
    char id[16];
    snprintf(id, sizeof id, "e%03d", i);
    struct cpns_entity_rec e = mkent("home", id, CPNS_STATE_ONLINE, 1, 100);
    assert_int_equal(st->ops->entity_put(st, &e), 0);
  }
  struct cpns_entity_rec e = mkent("home", "phone", CPNS_STATE_ONLINE, 1, 100);
  assert_int_equal(st->ops->entity_put(st, &e), 0);
  assert_int_equal(st->ops->status_put(st, &r), 0);
  snprintf(r.doc, sizeof r.doc, "{\"state\":\"busy\"}");
  r.updated_at = 11;
  assert_int_equal(st->ops->status_put(st, &r), 0);
  assert_int_equal(st->ops->status_get(st, "home", "phone", &got), 0);
  assert_string_equal(got.doc, "{\"state\":\"busy\"}");
  assert_int_equal(got.updated_at, 11);
  assert_int_equal(st->ops->status_get(st, "home", "tv", &got), CPNS_ERR_NOTFOUND);
  /* the largest document, and one byte more */
  memset(r.doc, 'x', CPNS_STORE_STATUS_TEXT_MAX);
  r.doc[CPNS_STORE_STATUS_TEXT_MAX] = '\0';
  assert_int_equal(st->ops->status_put(st, &r), 0);
  memset(r.doc, 'x', sizeof r.doc); /* no NUL: too long */
  assert_int_equal(st->ops->status_put(st, &r), CPNS_ERR_TOOBIG);
  /* many at once: whole or not at all */
  struct cpns_status_rec batch[3] = {mkstatus("home", "e000", "{\"state\":\"away\"}", 20),
                                     mkstatus("home", "e001", "{\"state\":\"away\"}", 20),
                                     mkstatus("home", "ghost", "{\"state\":\"away\"}", 20)};
  assert_int_equal(st->ops->status_put_many(st, batch, 3), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->status_get(st, "home", "e000", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->status_put_many(st, batch, 2), 0);
  for (int i = 2; i < 150; i++) {
    char id[16];
    snprintf(id, sizeof id, "e%03d", i);
    struct cpns_status_rec one = mkstatus("home", id, "{\"state\":\"online\"}", 30);
    assert_int_equal(st->ops->status_put(st, &one), 0);
  }
  struct status_seen seen;
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->status_list(st, "home", collect_status, &seen), 0);
  assert_int_equal(seen.n, 151);
  assert_int_equal(strncmp(seen.ids, "e000 e001 e002", 14), 0);
  /* it goes with its entity: a leave, an expulsion, the PN removed */
  assert_int_equal(st->ops->entity_delete(st, "home", "e000"), 0);
  assert_int_equal(st->ops->status_get(st, "home", "e000", &got), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->entity_expel(st, "home", "e001", NULL), 0);
  assert_int_equal(st->ops->status_get(st, "home", "e001", &got), CPNS_ERR_NOTFOUND);
  struct cpns_pn_rec p = mkpn("home", CPNS_STATE_ONLINE, 1, 100);
  assert_int_equal(st->ops->pn_put(st, &p), 0);
  assert_int_equal(st->ops->pn_delete(st, "home"), 0);
  assert_int_equal(st->ops->status_get(st, "home", "phone", &got), CPNS_ERR_NOTFOUND);
}

struct statobs_seen {
  struct cpns_statobs_rec last;
  unsigned n;
};

static int collect_statobs(void *arg, const struct cpns_statobs_rec *r) {
  struct statobs_seen *s = arg;
  s->last = *r;
  s->n++;
  return 0;
}

static void test_status_observers(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  struct cpns_statobs_rec r;
  memset(&r, 0, sizeof r);
  snprintf(r.session_identity, sizeof r.session_identity, "gw-home");
  memcpy(r.token, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  r.toklen = 8;
  snprintf(r.identity, sizeof r.identity, "gw-home");
  snprintf(r.pn, sizeof r.pn, "home");
  r.role = 3;
  snprintf(r.topic, sizeof r.topic, "office/laptop");
  snprintf(r.attr, sizeof r.attr, "battery");
  snprintf(r.query, sizeof r.query, "c.lt=20&c.pmin=2");
  r.accept = 60;
  r.ref_state = 2;
  r.ref_has = true;
  r.ref_value = 57.5;
  r.ref_digest = UINT64_MAX - 5; /* above INT64_MAX: must come back the same */
  r.ref_zone = -1;
  r.seq = 0xFFFFFF;
  r.updated_at = 42;
  assert_int_equal(st->ops->statobs_put(st, &r), 0);
  r.seq = 7; /* a replacement, same key */
  assert_int_equal(st->ops->statobs_put(st, &r), 0);
  struct cpns_statobs_rec empty = r; /* a zero-length token is a token too */
  empty.toklen = 0;
  assert_int_equal(st->ops->statobs_put(st, &empty), 0);
  struct statobs_seen seen;
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->statobs_list(st, collect_statobs, &seen), 0);
  assert_int_equal(seen.n, 2);
  assert_int_equal(seen.last.toklen, 8); /* ordered by token: the empty one first */
  assert_memory_equal(seen.last.token, r.token, 8);
  assert_string_equal(seen.last.query, r.query);
  assert_true(seen.last.ref_value == 57.5);
  assert_true(seen.last.ref_digest == UINT64_MAX - 5);
  assert_int_equal(seen.last.ref_zone, -1);
  assert_int_equal(seen.last.seq, 7);
  assert_int_equal(st->ops->statobs_delete(st, "gw-home", r.token, 8), 0);
  assert_int_equal(st->ops->statobs_delete(st, "gw-home", NULL, 0), 0);
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->statobs_list(st, collect_statobs, &seen), 0);
  assert_int_equal(seen.n, 0);
  r.toklen = 9;
  assert_int_equal(st->ops->statobs_put(st, &r), CPNS_ERR_INVAL);
}

struct policy_seen {
  char ids[256];
  unsigned n;
};

static int collect_policy(void *arg, const struct cpns_policy_rec *p) {
  struct policy_seen *s = arg;
  size_t used = strlen(s->ids);
  snprintf(s->ids + used, sizeof s->ids - used, "%s%s", used ? " " : "", p->id);
  s->n++;
  return 0;
}

static void test_policies(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  struct cpns_policy_rec p, got;
  memset(&p, 0, sizeof p);
  snprintf(p.pn, sizeof p.pn, "home");
  snprintf(p.id, sizeof p.id, "low-batt");
  snprintf(p.entity, sizeof p.entity, "phone");
  snprintf(p.attr, sizeof p.attr, "battery");
  p.op = CPNS_POLICY_LT;
  p.threshold = 20;
  snprintf(p.target_pn, sizeof p.target_pn, "home");
  snprintf(p.target, sizeof p.target, "tablet");
  snprintf(p.created_by, sizeof p.created_by, "phone");
  p.created_at = 5;
  assert_int_equal(st->ops->policy_put(st, &p), 0);
  struct cpns_policy_rec q = p;
  snprintf(q.id, sizeof q.id, "gone");
  snprintf(q.attr, sizeof q.attr, "%s", "");
  q.op = CPNS_POLICY_STATE;
  snprintf(q.state, sizeof q.state, "offline");
  assert_int_equal(st->ops->policy_put(st, &q), 0);
  snprintf(q.id, sizeof q.id, "other");
  snprintf(q.entity, sizeof q.entity, "tv");
  assert_int_equal(st->ops->policy_put(st, &q), 0);
  assert_int_equal(st->ops->policy_get(st, "home", "low-batt", &got), 0);
  assert_int_equal(got.op, CPNS_POLICY_LT);
  assert_true(got.threshold == 20);
  assert_string_equal(got.target, "tablet");
  assert_false(got.active);
  assert_int_equal(st->ops->policy_mark(st, "home", "low-batt", true, 3, 99), 0);
  assert_int_equal(st->ops->policy_get(st, "home", "low-batt", &got), 0);
  assert_true(got.active);
  assert_int_equal(got.fired, 3);
  assert_int_equal(got.last_fired, 99);
  struct policy_seen seen;
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->policy_list(st, "home", collect_policy, &seen), 0);
  assert_string_equal(seen.ids, "gone low-batt other");
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->policy_of_entity(st, "home", "phone", collect_policy, &seen), 0);
  assert_string_equal(seen.ids, "gone low-batt");
  uint64_t n = 0;
  assert_int_equal(st->ops->policy_count(st, "home", &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(st->ops->policy_count(st, NULL, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(st->ops->policy_delete(st, "home", "gone"), 0);
  assert_int_equal(st->ops->policy_delete(st, "home", "gone"), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->policy_get(st, "home", "gone", &got), CPNS_ERR_NOTFOUND);
  p.op = (enum cpns_policy_op)7;
  assert_int_equal(st->ops->policy_put(st, &p), CPNS_ERR_INVAL);
}
/* ---- usage statistics ---- */

static struct cpns_usage_rec usage_rec(const char *pn, const char *entity, const char *rid,
                                       const char *service, int64_t start, int64_t seconds,
                                       uint64_t in) {
  struct cpns_usage_rec r;
  cpns_usage_rec_init(&r);
  snprintf(r.pn, sizeof r.pn, "%s", pn);
  snprintf(r.entity, sizeof r.entity, "%s", entity);
  snprintf(r.rid, sizeof r.rid, "%s", rid);
  snprintf(r.service, sizeof r.service, "%s", service);
  r.start = start;
  r.stop = start + seconds;
  r.bytes_in = in;
  r.bytes_out = 1;
  r.received_at = 7;
  return r;
}

struct usage_seen {
  char text[512];
  uint64_t seq[16];
  size_t n;
};

static int collect_usage(void *arg, const struct cpns_usage_rec *r) {
  struct usage_seen *u = arg;
  size_t used = strlen(u->text);
  snprintf(u->text + used, sizeof u->text - used, "%s%s", used ? " " : "", r->rid);
  if (u->n < 16) u->seq[u->n++] = r->seq;
  return 0;
}

static int collect_total(void *arg, const struct cpns_usage_total *t) {
  struct usage_seen *u = arg;
  size_t used = strlen(u->text);
  snprintf(u->text + used, sizeof u->text - used, "%s%s:%llu/%llu/%llu", used ? " " : "", t->key,
           (unsigned long long)t->records, (unsigned long long)t->seconds,
           (unsigned long long)t->bytes_in);
  return 0;
}

static void test_usage_records(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  const int64_t day = 86400, d0 = 20000 * day; /* 2024-10-04 */
  struct cpns_usage_rec r[6] = {
      usage_rec("home", "phone", "r1", "game", d0 + 10, 600, 100),
      usage_rec("home", "phone", "r2", "game", d0 + day + 5, 60, 10),
      usage_rec("home", "watch", "r3", "radio", d0 + 20, 30, 1),
      usage_rec("work", "laptop", "r4", "game", d0 + 30, 100, 1000),
      usage_rec("home", "phone", "r5", "iptv", d0 + 2 * day, 5, 5),
      usage_rec("home", "phone", "r1", "game", d0 + 10, 600, 100), /* a resend of r1 */
  };
  r[2].device.battery = 42;
  snprintf(r[2].device.type, sizeof r[2].device.type, "watch");
  unsigned added = 99;
  assert_int_equal(st->ops->usage_add(st, r, 6, &added), 0);
  assert_int_equal(added, 5);
  assert_int_equal(st->ops->usage_add(st, r, 1, &added), 0);
  assert_int_equal(added, 0); /* the whole batch again changes nothing */
  uint64_t n = 0;
  assert_int_equal(st->ops->usage_count(st, &n), 0);
  assert_int_equal(n, 5);
  /* in the order received, in pages */
  struct usage_seen seen;
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->usage_list(st, 0, 3, collect_usage, &seen), 0);
  assert_string_equal(seen.text, "r1 r2 r3");
  uint64_t after = seen.seq[2];
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->usage_list(st, after, 10, collect_usage, &seen), 0);
  assert_string_equal(seen.text, "r4 r5");
  /* summaries */
  struct cpns_usage_filter q;
  memset(&q, 0, sizeof q);
  q.from_day = 20000;
  q.to_day = 20002;
  q.by = CPNS_USAGE_BY_SERVICE;
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->usage_summary(st, &q, 100, collect_total, &seen), 0);
  assert_string_equal(seen.text, "game:3/760/1110 iptv:1/5/5 radio:1/30/1");
  snprintf(q.pn, sizeof q.pn, "home");
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->usage_summary(st, &q, 100, collect_total, &seen), 0);
  assert_string_equal(seen.text, "game:2/660/110 iptv:1/5/5 radio:1/30/1");
  q.by = CPNS_USAGE_BY_DAY;
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->usage_summary(st, &q, 100, collect_total, &seen), 0);
  assert_string_equal(seen.text, "2024-10-04:2/630/101 2024-10-05:1/60/10 2024-10-06:1/5/5");
  q.to_day = 20001; /* the days selected */
  snprintf(q.service, sizeof q.service, "game");
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->usage_summary(st, &q, 1, collect_total, &seen), 0);
  assert_string_equal(seen.text, "2024-10-04:1/600/100"); /* the limit */
  q.pn[0] = q.service[0] = '\0';
  q.by = CPNS_USAGE_BY_PN;
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->usage_summary(st, &q, 100, collect_total, &seen), 0);
  assert_string_equal(seen.text, "home:3/690/111 work:1/100/1000");
  q.by = CPNS_USAGE_BY_ENTITY;
  snprintf(q.entity, sizeof q.entity, "watch");
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->usage_summary(st, &q, 100, collect_total, &seen), 0);
  assert_string_equal(seen.text, "watch:1/30/1");
  /* the snapshot reads back */
  struct usage_seen all;
  memset(&all, 0, sizeof all);
  assert_int_equal(st->ops->usage_list(st, 0, 16, collect_usage, &all), 0);
  /* remove by seq, purge by service and by day */
  assert_int_equal(st->ops->usage_remove(st, all.seq, 1), 0);
  unsigned removed = 99;
  assert_int_equal(st->ops->usage_purge(st, "iptv", INT64_MAX, 100, &removed), 0);
  assert_int_equal(removed, 1);
  assert_int_equal(st->ops->usage_purge(st, NULL, 20001, 1, &removed), 0);
  assert_int_equal(removed, 1); /* the limit */
  assert_int_equal(st->ops->usage_purge(st, NULL, 20001, 100, &removed), 0);
  assert_int_equal(removed, 1);
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->usage_list(st, 0, 16, collect_usage, &seen), 0);
  assert_string_equal(seen.text, "r2");
  /* invalid records are refused whole: nothing of the batch is kept */
  struct cpns_usage_rec bad[2] = {usage_rec("home", "phone", "ok", "game", d0, 1, 1),
                                  usage_rec("home", "phone", "bad", "game", d0, 1, 1)};
  bad[1].stop = bad[1].start - 1;
  assert_int_equal(st->ops->usage_add(st, bad, 2, &added), CPNS_ERR_INVAL);
  bad[1] = usage_rec("home", "phone", "", "game", d0, 1, 1);
  assert_int_equal(st->ops->usage_add(st, bad, 2, &added), CPNS_ERR_INVAL);
  bad[1] = usage_rec("home", "phone", "big", "game", d0, 1, CPNS_USAGE_BYTES_MAX + 1);
  assert_int_equal(st->ops->usage_add(st, bad, 2, &added), CPNS_ERR_INVAL);
  assert_int_equal(st->ops->usage_count(st, &n), 0);
  assert_int_equal(n, 1);
  /* the summary by PN and days uses the (pn, day) index */
  sqlite3 *db = raw_open(f->path);
  sqlite3_stmt *p = NULL;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "EXPLAIN QUERY PLAN SELECT service, count(*) FROM usage_record"
                                      " WHERE pn = 'home' AND day BETWEEN 1 AND 9 GROUP BY service",
                                      -1, &p, NULL),
                   SQLITE_OK);
  bool uses_index = false;
  while (sqlite3_step(p) == SQLITE_ROW)
    uses_index |= strstr((const char *)sqlite3_column_text(p, 3), "usage_by_pn_day") != NULL;
  sqlite3_finalize(p);
  sqlite3_close(db);
  assert_true(uses_index);
}

/* ---- CPNS-4 bearer tokens ------------------------------------------------ */

struct token_seen {
  char ids[256];
  unsigned n;
};

static int collect_token(void *arg, const struct cpns_token_rec *t) {
  struct token_seen *s = arg;
  size_t used = strlen(s->ids);
  snprintf(s->ids + used, sizeof s->ids - used, "%s%s", used ? " " : "", t->id);
  return ++s->n >= 2; /* stops after two */
}

static void test_tokens(void **state) {
  struct fixture *f = *state;
  struct cpns_store *st = f->st;
  struct cpns_token_rec t, got;
  memset(&t, 0, sizeof t);
  snprintf(t.id, sizeof t.id, "00112233aabbccdd");
  snprintf(t.name, sizeof t.name, "acme");
  snprintf(t.scopes, sizeof t.scopes, "services:read,services:write");
  for (int i = 0; i < CPNS_TOKEN_HASH_LEN; i++) t.hash[i] = (uint8_t)(i * 7 + 1);
  snprintf(t.created_by, sizeof t.created_by, "admin");
  t.created_at = 100;
  t.expires_at = 0;
  assert_int_equal(st->ops->token_put(st, &t), 0);
  assert_int_equal(st->ops->token_put(st, &t), CPNS_ERR_EXISTS); /* ids are never reused */
  struct cpns_token_rec u = t;
  snprintf(u.id, sizeof u.id, "ffeeddccbbaa9988");
  u.expires_at = 200;
  assert_int_equal(st->ops->token_put(st, &u), 0);
  snprintf(u.id, sizeof u.id, "0000000000000001");
  assert_int_equal(st->ops->token_put(st, &u), 0);
  assert_int_equal(st->ops->token_get(st, "00112233aabbccdd", &got), 0);
  assert_string_equal(got.name, "acme");
  assert_string_equal(got.scopes, "services:read,services:write");
  assert_memory_equal(got.hash, t.hash, CPNS_TOKEN_HASH_LEN);
  assert_string_equal(got.created_by, "admin");
  assert_int_equal(got.created_at, 100);
  assert_int_equal(got.expires_at, 0);
  assert_int_equal(st->ops->token_get(st, "ffeeddccbbaa9988", &got), 0);
  assert_int_equal(got.expires_at, 200);
  uint64_t n = 0;
  assert_int_equal(st->ops->token_count(st, &n), 0);
  assert_int_equal(n, 3);
  struct token_seen seen;
  memset(&seen, 0, sizeof seen);
  assert_int_equal(st->ops->token_list(st, collect_token, &seen), 0);
  assert_string_equal(seen.ids, "0000000000000001 00112233aabbccdd"); /* in id order; stopped */
  assert_int_equal(st->ops->token_delete(st, "00112233aabbccdd"), 0);
  assert_int_equal(st->ops->token_delete(st, "00112233aabbccdd"), CPNS_ERR_NOTFOUND);
  assert_int_equal(st->ops->token_get(st, "00112233aabbccdd", &got), CPNS_ERR_NOTFOUND);
  char longid[CPNS_ID_MAX + 40];
  memset(longid, 'a', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  assert_int_equal(st->ops->token_get(st, longid, &got), CPNS_ERR_NOTFOUND);
  t.scopes[0] = '\0';
  assert_int_equal(st->ops->token_put(st, &t), CPNS_ERR_INVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_state_names),
      cmocka_unit_test_setup_teardown(test_group_replicas, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pn_put_get_replace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pn_list_paging, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pn_list_many, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pn_delete_cascades, setup, teardown),
      cmocka_unit_test_setup_teardown(test_readers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_entity_put_get_replace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_entity_list_count, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bans, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expire_many, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kv, setup, teardown),
      cmocka_unit_test_setup_teardown(test_too_long_rejected, setup, teardown),
      cmocka_unit_test(test_file_mode),
      cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
      cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
      cmocka_unit_test(test_not_a_database),
      cmocka_unit_test_setup_teardown(test_two_connections, setup, teardown),
      cmocka_unit_test(test_memory),
      cmocka_unit_test_setup_teardown(test_bulk_20000, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cred_put_get_replace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cred_delete_count, setup, teardown),
      cmocka_unit_test_setup_teardown(test_enroll_put_get_replace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_enroll_redeem_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_enroll_redeem_expired, setup, teardown),
      cmocka_unit_test_setup_teardown(test_enroll_redeem_mismatch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_enroll_expire, setup, teardown),
      cmocka_unit_test_setup_teardown(test_secrets_persist, setup, teardown),
      cmocka_unit_test_setup_teardown(test_secret_bad_blob, setup, teardown),
      cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
      cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_put_get, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_find, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_expire_remove, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_plans, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_find_large, setup, teardown),
      cmocka_unit_test_setup_teardown(test_interests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_bad_doc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status_docs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status_observers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_usage_records, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
