/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/trustlink.c, the trusted-peers table of a link declared
 * secure by its underlying network (spec Appendix D): parsing from memory
 * (comments, blank lines, CR LF, tabs, a last line without newline), every
 * class of refused line with its line number, the line and line-count
 * limits at their bound and one past, duplicates (also an IPv4 address
 * written as IPv4-mapped IPv6), lookups by IPv4, IPv6 and IPv4-mapped
 * socket addresses, and loading files: mode, size bound, missing files. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <cpns/cpns.h>

#include "trustlink.h"

static char g_dir[1024];

static int mkdir_p(const char *path) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int group_setup(void **state) {
  (void)state;
  const char *base = getenv("CPNS_TEST_TMP");
  if (!base || !*base) base = "/tmp";
  if (mkdir_p(base) != 0) return -1;
  snprintf(g_dir, sizeof g_dir, "%s/trustlink-XXXXXX", base);
  return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  rmdir(g_dir);
  return 0;
}

/* Parses len bytes of text as file "peers". */
static int parse_n(const char *text, size_t len, size_t max_lines, struct cpns_trustlink **t,
                   char *err, size_t errlen) {
  *t = NULL;
  err[0] = '\0';
  int rc = cpns_trustlink_parse("peers", text, len, max_lines, t, err, errlen);
  if (rc) {
    assert_null(*t);
    assert_true(err[0] != '\0');
  } else {
    assert_non_null(*t);
  }
  return rc;
}

static int parse(const char *text, size_t max_lines, struct cpns_trustlink **t, char *err,
                 size_t errlen) {
  return parse_n(text, strlen(text), max_lines, t, err, errlen);
}

/* Expects text to be refused with rc and exactly "peers:<line>: <why>". */
static void expect_error(const char *text, size_t len, size_t max_lines, int want_rc,
                         unsigned line, const char *why) {
  struct cpns_trustlink *t;
  char err[512], want[512];
  int rc = parse_n(text, len, max_lines, &t, err, sizeof err);
  if (rc != want_rc) fail_msg("'%s': rc %d, want %d (%s)", text, rc, want_rc, err);
  snprintf(want, sizeof want, "peers:%u: %s", line, why);
  if (strcmp(err, want) != 0) fail_msg("error '%s', want '%s'", err, want);
}

static void expect_bad(const char *text, unsigned line, const char *why) {
  expect_error(text, strlen(text), CPNS_TRUSTED_PEERS_MAX_DEFAULT, CPNS_ERR_CONFIG, line, why);
}

static const char *find4(const struct cpns_trustlink *t, const char *addr) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(5683);
  assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
  return cpns_trustlink_find(t, (const struct sockaddr *)&sa);
}

static const char *find6(const struct cpns_trustlink *t, const char *addr) {
  struct sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(5683);
  assert_int_equal(inet_pton(AF_INET6, addr, &sa.sin6_addr), 1);
  return cpns_trustlink_find(t, (const struct sockaddr *)&sa);
}

/* ---- parsing ---------------------------------------------------------- */

static void test_parse_valid(void **state) {
  (void)state;
  struct cpns_trustlink *t;
  char err[512];
  const char *text = "# address       identity\n"
                     "\n"
                     "192.0.2.10      gw-home\n"
                     "   \t  \n"
                     "2001:db8::7\tgw-office   # over IPsec\n"
                     "198.51.100.1 gw-home\r\n"            /* one identity, two addresses */
                     "::ffff:203.0.113.5 phone\n"          /* IPv4-mapped: stored as IPv4 */
                     "fe80::1 player_app.v2";              /* no final newline */
  int rc = parse(text, CPNS_TRUSTED_PEERS_MAX_DEFAULT, &t, err, sizeof err);
  if (rc) fail_msg("rc %d: %s", rc, err);
  assert_int_equal(cpns_trustlink_count(t), 5);
  assert_string_equal(find4(t, "192.0.2.10"), "gw-home");
  assert_string_equal(find4(t, "198.51.100.1"), "gw-home");
  assert_string_equal(find6(t, "2001:db8::7"), "gw-office");
  assert_string_equal(find6(t, "2001:0db8:0000::0007"), "gw-office");
  assert_string_equal(find4(t, "203.0.113.5"), "phone");
  assert_string_equal(find6(t, "fe80::1"), "player_app.v2");
  /* a dual-stack socket shows an IPv4 peer as IPv4-mapped IPv6 */
  assert_string_equal(find6(t, "::ffff:192.0.2.10"), "gw-home");
  /* neighbours are not listed */
  assert_null(find4(t, "192.0.2.11"));
  assert_null(find4(t, "192.0.2.1"));
  assert_null(find6(t, "2001:db8::8"));
  assert_null(find6(t, "::ffff:192.0.2.11"));
  /* the IPv6 address that is numerically the same bytes as nothing IPv4 */
  assert_null(find6(t, "::c000:20a")); /* IPv4-compatible, not mapped */
  cpns_trustlink_free(t);
}

static void test_empty(void **state) {
  (void)state;
  struct cpns_trustlink *t;
  char err[512];
  assert_int_equal(parse("", 10, &t, err, sizeof err), 0);
  assert_int_equal(cpns_trustlink_count(t), 0);
  assert_null(find4(t, "127.0.0.1"));
  cpns_trustlink_free(t);
  assert_int_equal(parse("# nobody yet\n\n", 10, &t, err, sizeof err), 0);
  assert_int_equal(cpns_trustlink_count(t), 0);
  cpns_trustlink_free(t);
  cpns_trustlink_free(NULL);
  assert_int_equal(cpns_trustlink_count(NULL), 0);
  assert_null(find4(NULL, "127.0.0.1"));
}

static void test_bad_addresses(void **state) {
  (void)state;
  static const char *const bad[] = {
      "300.1.2.3", "1.2.3", "1.2.3.4.5", "localhost", "gw.example.org", "[::1]", "::1%lo",
      "fe80::1%eth0", "127.0.0.1:5683", "127.0.0.1/32", "01.2.3.4", "::g", "1::2::3", "-",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[128], why[256];
    snprintf(text, sizeof text, "127.0.0.1 gw\n%s gw-home\n", bad[i]);
    snprintf(why, sizeof why, "bad address '%s': not an IPv4 or IPv6 address literal", bad[i]);
    expect_bad(text, 2, why);
  }
  /* Addresses no datagram comes from. */
  static const char *const v4[] = {"0.0.0.0", "255.255.255.255", "224.0.1.187", "239.1.1.1",
                                   "::ffff:224.0.0.1"};
  for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
    char text[128], why[256];
    snprintf(text, sizeof text, "%s gw-home\n", v4[i]);
    snprintf(why, sizeof why,
             "bad address '%s': not a unicast address (unspecified, broadcast or multicast)", v4[i]);
    expect_bad(text, 1, why);
  }
  static const char *const v6[] = {"::", "ff02::fd", "ff05::1"};
  for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
    char text[128], why[256];
    snprintf(text, sizeof text, "%s gw-home\n", v6[i]);
    snprintf(why, sizeof why, "bad address '%s': not a unicast address (unspecified or multicast)",
             v6[i]);
    expect_bad(text, 1, why);
  }
  /* Longer than any address: quoted cut, never the whole line. */
  char text[256], why[256];
  snprintf(text, sizeof text, "%s gw\n", "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa");
  snprintf(why, sizeof why, "bad address '%.45s': too long",
           "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa");
  expect_bad(text, 1, why);
  /* The longest valid literal is accepted. */
  struct cpns_trustlink *t;
  char err[512];
  assert_int_equal(parse("1111:2222:3333:4444:5555:6666:255.255.255.255 gw\n", 4, &t, err, sizeof err), 0);
  cpns_trustlink_free(t);
}

static void test_bad_fields(void **state) {
  (void)state;
  const char *fields = "expected 'address identity'";
  expect_bad("192.0.2.1\n", 1, fields);
  expect_bad("# a\n192.0.2.1   # gw-home\n", 2, fields);
  expect_bad("192.0.2.1 gw-home extra\n", 1, fields);
  expect_bad("192.0.2.1 gw-home home\n", 1, fields);
  char why[128];
  snprintf(why, sizeof why, "bad identity ([A-Za-z0-9._-], 1..%d)", CPNS_ID_MAX);
  expect_bad("192.0.2.1 bad/id\n", 1, why);
  expect_bad("192.0.2.1 gw:home\n", 1, why);
  expect_bad("192.0.2.1 \"gw\"\n", 1, why);
  /* 64 characters is an id, 65 is not */
  char id[CPNS_ID_MAX + 2], text[160];
  memset(id, 'a', sizeof id);
  id[CPNS_ID_MAX] = '\0';
  snprintf(text, sizeof text, "192.0.2.1 %s\n", id);
  struct cpns_trustlink *t;
  char err[512];
  assert_int_equal(parse(text, 4, &t, err, sizeof err), 0);
  assert_string_equal(find4(t, "192.0.2.1"), id);
  cpns_trustlink_free(t);
  id[CPNS_ID_MAX] = 'a';
  id[CPNS_ID_MAX + 1] = '\0';
  snprintf(text, sizeof text, "192.0.2.1 %s\n", id);
  expect_bad(text, 1, why);
}

static void test_nul_byte(void **state) {
  (void)state;
  static const char text[] = "192.0.2.1 gw\n192.0.2.2 g\0w\n";
  expect_error(text, sizeof text - 1, 10, CPNS_ERR_CONFIG, 2, "NUL byte");
  /* in a comment too: the file is not text */
  static const char comment[] = "# a\0b\n";
  expect_error(comment, sizeof comment - 1, 10, CPNS_ERR_CONFIG, 1, "NUL byte");
}

static void test_line_length(void **state) {
  (void)state;
  /* CPNS_TRUSTLINK_LINE_MAX bytes before the newline: accepted */
  char text[CPNS_TRUSTLINK_LINE_MAX + 64];
  int n = snprintf(text, sizeof text, "192.0.2.1 gw #");
  memset(text + n, 'x', (size_t)(CPNS_TRUSTLINK_LINE_MAX - n));
  text[CPNS_TRUSTLINK_LINE_MAX] = '\n';
  text[CPNS_TRUSTLINK_LINE_MAX + 1] = '\0';
  struct cpns_trustlink *t;
  char err[512];
  assert_int_equal(parse(text, 4, &t, err, sizeof err), 0);
  assert_int_equal(cpns_trustlink_count(t), 1);
  cpns_trustlink_free(t);
  /* also as the last line, without newline */
  text[CPNS_TRUSTLINK_LINE_MAX] = '\0';
  assert_int_equal(parse(text, 4, &t, err, sizeof err), 0);
  cpns_trustlink_free(t);
  /* one more: refused */
  text[CPNS_TRUSTLINK_LINE_MAX] = 'x';
  text[CPNS_TRUSTLINK_LINE_MAX + 1] = '\n';
  text[CPNS_TRUSTLINK_LINE_MAX + 2] = '\0';
  char why[64];
  snprintf(why, sizeof why, "line longer than %d bytes", CPNS_TRUSTLINK_LINE_MAX);
  char two[sizeof text + 16];
  snprintf(two, sizeof two, "\n%s", text);
  expect_error(two, strlen(two), 4, CPNS_ERR_CONFIG, 2, why);
}

static void test_max_lines(void **state) {
  (void)state;
  struct cpns_trustlink *t;
  char err[512];
  /* comments and blank lines count */
  const char *three = "# peers\n192.0.2.1 a\n\n";
  assert_int_equal(parse(three, 3, &t, err, sizeof err), 0);
  assert_int_equal(cpns_trustlink_count(t), 1);
  cpns_trustlink_free(t);
  expect_error(three, strlen(three), 2, CPNS_ERR_LIMIT, 3, "more than 2 lines");
  /* a last line without newline counts as one */
  const char *two = "192.0.2.1 a\n192.0.2.2 b";
  assert_int_equal(parse(two, 2, &t, err, sizeof err), 0);
  assert_int_equal(cpns_trustlink_count(t), 2);
  cpns_trustlink_free(t);
  expect_error(two, strlen(two), 1, CPNS_ERR_LIMIT, 2, "more than 1 lines");
}

static void test_duplicates(void **state) {
  (void)state;
  expect_bad("192.0.2.1 a\n192.0.2.2 b\n192.0.2.1 c\n", 3,
             "address 192.0.2.1 listed twice (first on line 1)");
  expect_bad("192.0.2.1 a\n192.0.2.1 a\n", 2, "address 192.0.2.1 listed twice (first on line 1)");
  /* the same address written another way */
  expect_bad("2001:db8::1 a\n2001:DB8:0:0::1 b\n", 2,
             "address 2001:db8::1 listed twice (first on line 1)");
  expect_bad("::ffff:192.0.2.1 a\n# x\n192.0.2.1 b\n", 3,
             "address 192.0.2.1 listed twice (first on line 1)");
}

static void test_find_many(void **state) {
  (void)state;
  /* 300 IPv4 and 300 IPv6 addresses, out of order: each found, others not */
  size_t cap = 600 * 64;
  char *text = malloc(cap);
  assert_non_null(text);
  size_t used = 0;
  for (int i = 299; i >= 0; i--) {
    used += (size_t)snprintf(text + used, cap - used, "10.0.%d.%d id4-%d\n", i / 100, i % 100 + 1, i);
    used += (size_t)snprintf(text + used, cap - used, "2001:db8::%x id6-%d\n", i + 1, i);
  }
  struct cpns_trustlink *t;
  char err[512];
  int rc = parse(text, 600, &t, err, sizeof err);
  if (rc) fail_msg("rc %d: %s", rc, err);
  assert_int_equal(cpns_trustlink_count(t), 600);
  for (int i = 0; i < 300; i++) {
    char a[64], want[32];
    snprintf(a, sizeof a, "10.0.%d.%d", i / 100, i % 100 + 1);
    snprintf(want, sizeof want, "id4-%d", i);
    assert_string_equal(find4(t, a), want);
    snprintf(a, sizeof a, "2001:db8::%x", i + 1);
    snprintf(want, sizeof want, "id6-%d", i);
    assert_string_equal(find6(t, a), want);
  }
  assert_null(find4(t, "10.0.0.0"));
  assert_null(find4(t, "10.0.3.1"));
  assert_null(find6(t, "2001:db8::"));
  assert_null(find6(t, "2001:db8::12d"));
  /* another family is never found */
  struct sockaddr_un su;
  memset(&su, 0, sizeof su);
  su.sun_family = AF_UNIX;
  assert_null(cpns_trustlink_find(t, (const struct sockaddr *)&su));
  assert_null(cpns_trustlink_find(t, NULL));
  cpns_trustlink_free(t);
  free(text);
}

/* ---- loading files ---------------------------------------------------- */

static void write_file(char *path, size_t pathlen, const char *text, size_t len, mode_t mode) {
  static unsigned seq;
  snprintf(path, pathlen, "%s/p%u", g_dir, seq++);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(path, mode), 0);
}

static void test_load(void **state) {
  (void)state;
  char path[PATH_MAX], err[PATH_MAX + 256], want[PATH_MAX + 256];
  struct cpns_trustlink *t = NULL;
  const char *text = "127.0.0.1 gw-home\n";
  /* readable by others is fine: no secrets; writable by others is not */
  static const mode_t ok[] = {0600, 0644, 0400, 0444};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    write_file(path, sizeof path, text, strlen(text), ok[i]);
    int rc = cpns_trustlink_load(path, 4, &t, err, sizeof err);
    if (rc) fail_msg("mode %03o: rc %d: %s", (unsigned)ok[i], rc, err);
    assert_string_equal(find4(t, "127.0.0.1"), "gw-home");
    cpns_trustlink_free(t);
    unlink(path);
  }
  static const mode_t bad[] = {0620, 0602, 0666, 0660};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_file(path, sizeof path, text, strlen(text), bad[i]);
    t = NULL;
    assert_int_equal(cpns_trustlink_load(path, 4, &t, err, sizeof err), CPNS_ERR_DENIED);
    assert_null(t);
    snprintf(want, sizeof want, "%s: mode %03o lets others change who is trusted; chmod go-w it",
             path, (unsigned)bad[i]);
    assert_string_equal(err, want);
    unlink(path);
  }
  /* errors carry the file name and the line */
  const char *badline = "127.0.0.1 gw-home\n127.0.0.2\n";
  write_file(path, sizeof path, badline, strlen(badline), 0600);
  assert_int_equal(cpns_trustlink_load(path, 4, &t, err, sizeof err), CPNS_ERR_CONFIG);
  snprintf(want, sizeof want, "%s:2: expected 'address identity'", path);
  assert_string_equal(err, want);
  unlink(path);
  /* missing, or a directory */
  snprintf(path, sizeof path, "%s/none", g_dir);
  assert_int_equal(cpns_trustlink_load(path, 4, &t, err, sizeof err), CPNS_ERR_IO);
  snprintf(want, sizeof want, "%s: No such file or directory", path);
  assert_string_equal(err, want);
  assert_int_equal(cpns_trustlink_load(g_dir, 4, &t, err, sizeof err), CPNS_ERR_IO);
}

static void test_load_size_bound(void **state) {
  (void)state;
  char path[PATH_MAX], err[PATH_MAX + 256], want[PATH_MAX + 256];
  struct cpns_trustlink *t = NULL;
  /* two lines of the longest length: exactly the bound for max 2 */
  size_t line = CPNS_TRUSTLINK_LINE_MAX + 1;
  char *text = malloc(2 * line + 2);
  assert_non_null(text);
  for (int i = 0; i < 2; i++) {
    char *l = text + (size_t)i * line;
    int n = snprintf(l, line, "192.0.2.%d gw #", i + 1);
    memset(l + n, 'x', line - 1 - (size_t)n);
    l[line - 1] = '\n';
  }
  write_file(path, sizeof path, text, 2 * line, 0600);
  int rc = cpns_trustlink_load(path, 2, &t, err, sizeof err);
  if (rc) fail_msg("rc %d: %s", rc, err);
  assert_int_equal(cpns_trustlink_count(t), 2);
  cpns_trustlink_free(t);
  unlink(path);
  /* one byte more is refused before it is read */
  text[2 * line] = '\n';
  write_file(path, sizeof path, text, 2 * line + 1, 0600);
  t = NULL;
  assert_int_equal(cpns_trustlink_load(path, 2, &t, err, sizeof err), CPNS_ERR_LIMIT);
  assert_null(t);
  snprintf(want, sizeof want, "%s: larger than 2 lines of %d bytes (trusted_peers_max)", path,
           CPNS_TRUSTLINK_LINE_MAX);
  assert_string_equal(err, want);
  unlink(path);
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_valid),   cmocka_unit_test(test_empty),
      cmocka_unit_test(test_bad_addresses), cmocka_unit_test(test_bad_fields),
      cmocka_unit_test(test_nul_byte),      cmocka_unit_test(test_line_length),
      cmocka_unit_test(test_max_lines),     cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_find_many),     cmocka_unit_test(test_load),
      cmocka_unit_test(test_load_size_bound),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
