/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of lib/enroll_client.c, the side of enrollment that cpns-pne
 * and cpns-gw share: how a code is read (argument or standard input, case
 * folded, anything else refused), that an existing or uncreatable key file
 * stops it before anything is sent and leaves no temporary file, that a
 * port where nothing listens is reported as no session, and the exit
 * statuses. The successful path runs against real daemons in
 * tests/integration/test_enrollment.sh and test_gw_enrollment.sh. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <cpns/cpns.h>

#include "daemon.h"
#include "enroll_client.h"
#include "log.h"

#define CODE "abcdefghijklmnopqrstuvwx27"

static char g_dir[1024];

static int group_setup(void **state) {
  (void)state;
  const char *base = getenv("CPNS_TEST_TMP");
  if (!base || !*base) base = "/tmp";
  mkdir(base, 0700);
  snprintf(g_dir, sizeof g_dir, "%s/enroll-XXXXXX", base);
  cpns_log_setup("test", CPNS_LOG_SINK_STDERR, CPNS_LOG_ERR);
  return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  rmdir(g_dir);
  return 0;
}

/* Files in g_dir. */
static unsigned files_in_dir(void) {
  DIR *d = opendir(g_dir);
  assert_non_null(d);
  unsigned n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

static void test_code_parse(void **state) {
  (void)state;
  char out[CPNS_ENROLL_CODE_LEN + 1];
  assert_int_equal(cpns_enroll_code_parse(CODE, out), 0);
  assert_string_equal(out, CODE);
  assert_int_equal(cpns_enroll_code_parse("ABCDEFGHIJKLMNOPQRSTUVWX27", out), 0);
  assert_string_equal(out, CODE); /* capitals are folded */
  static const char *const bad[] = {
      "", "abc", CODE "a", "abcdefghijklmnopqrstuvwx28", /* 8 is not base32 */
      "abcdefghijklmnopqrstuvwx10", "abcdefghijklm-opqrstuvwx27", "abcdefghijklm opqrstuvwx27",
      "abcdefghijklmnopqrstuvwx2\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(out, 'x', sizeof out);
    assert_int_equal(cpns_enroll_code_parse(bad[i], out), CPNS_ERR_INVAL);
    assert_int_equal(out[0], '\0'); /* nothing of it is left behind */
  }
  assert_int_equal(cpns_enroll_code_parse(NULL, out), CPNS_ERR_INVAL);
}

/* "-" reads one line from standard input. */
static void test_code_from_stdin(void **state) {
  (void)state;
  char path[1100], out[CPNS_ENROLL_CODE_LEN + 1];
  snprintf(path, sizeof path, "%s/stdin", g_dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("ABCDEFGHIJKLMNOPQRSTUVWX27\r\nsecond line\n", f);
  fclose(f);
  assert_non_null(freopen(path, "r", stdin));
  assert_int_equal(cpns_enroll_code_parse("-", out), 0);
  assert_string_equal(out, CODE);
  assert_int_equal(cpns_enroll_code_parse("-", out), CPNS_ERR_INVAL); /* "second line" */
  assert_int_equal(cpns_enroll_code_parse("-", out), CPNS_ERR_INVAL); /* end of input */
  unlink(path);
}

/* An existing key file is never replaced, and nothing is sent: the uri is
 * never used (it points nowhere). */
static void test_existing_key_file(void **state) {
  (void)state;
  char path[1100];
  snprintf(path, sizeof path, "%s/gw.key", g_dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("old\n", f);
  fclose(f);
  struct cpns_enroll_client ec = {.uri = "coaps://192.0.2.1:9", .id = "gw-new", .key_file = path,
                                  .peer_name = "server", .attempts = 1, .timeout_ms = 100};
  assert_int_equal(cpns_enroll_redeem(&ec, CODE), CPNS_ERR_EXISTS);
  f = fopen(path, "r");
  char buf[16] = "";
  assert_non_null(fgets(buf, sizeof buf, f));
  fclose(f);
  assert_string_equal(buf, "old\n");
  assert_int_equal(files_in_dir(), 1); /* no temporary file */
  /* A dangling symbolic link is an existing file too. */
  unlink(path);
  assert_int_equal(symlink("/nonexistent/target", path), 0);
  assert_int_equal(cpns_enroll_redeem(&ec, CODE), CPNS_ERR_EXISTS);
  unlink(path);
  assert_int_equal(files_in_dir(), 0);
}

static void test_uncreatable_key_file(void **state) {
  (void)state;
  char path[1100];
  snprintf(path, sizeof path, "%s/missing/gw.key", g_dir);
  struct cpns_enroll_client ec = {.uri = "coaps://192.0.2.1:9", .id = "gw-new", .key_file = path,
                                  .peer_name = "server", .attempts = 1, .timeout_ms = 100};
  assert_int_equal(cpns_enroll_redeem(&ec, CODE), CPNS_ERR_IO);
  assert_int_equal(files_in_dir(), 0);
}

static void test_bad_arguments(void **state) {
  (void)state;
  char path[1100];
  snprintf(path, sizeof path, "%s/gw.key", g_dir);
  struct cpns_enroll_client ec = {.uri = "coaps://127.0.0.1:9", .id = "gw-new", .key_file = path,
                                  .attempts = 0, .timeout_ms = 100};
  assert_int_equal(cpns_enroll_redeem(&ec, CODE), CPNS_ERR_INVAL);
  ec.attempts = CPNS_ENROLL_ATTEMPTS_MAX + 1;
  assert_int_equal(cpns_enroll_redeem(&ec, CODE), CPNS_ERR_INVAL);
  ec.attempts = 1;
  /* "enroll." + 58 bytes is longer than an identity may be. */
  ec.id = "0123456789012345678901234567890123456789012345678901234567";
  assert_int_equal(cpns_enroll_redeem(&ec, CODE), CPNS_ERR_INVAL);
  assert_int_equal(cpns_enroll_redeem(NULL, CODE), CPNS_ERR_INVAL);
  assert_int_equal(files_in_dir(), 0);
}

/* A port on 127.0.0.1 where nothing listens: no session, no key file. */
static void test_nothing_listens(void **state) {
  (void)state;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd); /* the port is free again, and nothing listens there */
  char uri[64], path[1100];
  snprintf(uri, sizeof uri, "coaps://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
  snprintf(path, sizeof path, "%s/gw.key", g_dir);
  struct cpns_enroll_client ec = {.uri = uri, .id = "gw-new", .key_file = path,
                                  .peer_name = "server", .attempts = 1, .timeout_ms = 1000};
  assert_int_equal(cpns_enroll_redeem(&ec, CODE), CPNS_ERR_UNAVAIL);
  assert_int_equal(files_in_dir(), 0);
}

static void test_exit_status(void **state) {
  (void)state;
  assert_int_equal(cpns_enroll_exit_status(0), 0);
  assert_int_equal(cpns_enroll_exit_status(CPNS_ERR_EXISTS), CPNS_EXIT_CANTCREAT);
  assert_int_equal(cpns_enroll_exit_status(CPNS_ERR_IO), CPNS_EXIT_CANTCREAT);
  assert_int_equal(cpns_enroll_exit_status(CPNS_ERR_DENIED), CPNS_EXIT_NOPERM);
  assert_int_equal(cpns_enroll_exit_status(CPNS_ERR_UNAVAIL), CPNS_EXIT_UNAVAILABLE);
  assert_int_equal(cpns_enroll_exit_status(CPNS_ERR_INVAL), CPNS_EXIT_CONFIG);
  assert_int_equal(cpns_enroll_exit_status(CPNS_ERR_PROTO), CPNS_EXIT_SOFTWARE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_code_parse),          cmocka_unit_test(test_code_from_stdin),
      cmocka_unit_test(test_existing_key_file),   cmocka_unit_test(test_uncreatable_key_file),
      cmocka_unit_test(test_bad_arguments),       cmocka_unit_test(test_nothing_listens),
      cmocka_unit_test(test_exit_status),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
