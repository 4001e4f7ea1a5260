/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the capability answers' decoder of the C API
 * (lib/client_caps.c, include/cpns/capabilities.h): every field of a full
 * answer lands in its place, what the document does not say is -1 or "",
 * and an answer that breaks the schema, the envelope or the limits is
 * CPNS_ERR_PROTO with nothing returned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cpns/capabilities.h>

#define ANSWER                                                                                  \
  "{\"pn\":\"home\",\"id\":\"phone\",\"rev\":3,\"updated\":1700000000,\"static\":{"             \
  "\"device_type\":\"phone\",\"hardware\":{\"screen\":{\"width\":1080,\"height\":2340,"         \
  "\"dpi\":401,\"touch\":true},\"battery\":{\"capacity_mah\":4500,\"technology\":\"Li-ion\"},"  \
  "\"processor\":{\"model\":\"Snapdragon 865\",\"arch\":\"aarch64\",\"cores\":8},\"memory\":"   \
  "{\"total\":8589934592},\"chipsets\":{\"main\":\"SM8250\"}},\"software\":{\"os\":{\"name\":"  \
  "\"Linux\",\"version\":\"6.1.0\",\"build\":\"#1 SMP\"},\"apps\":{\"player\":\"1.0\"},"         \
  "\"drivers\":{\"wifi\":\"2.1\"}}},\"dynamic\":{\"networks\":{\"wlan0\":{\"type\":\"wifi\","   \
  "\"addrs\":[\"192.168.1.20\",\"fe80::1\"]}},\"memory\":{\"available\":2147483648},"           \
  "\"battery\":{\"level\":80,\"charging\":false,\"remaining\":36000},\"running\":[\"player\"],"  \
  "\"drivers\":[\"wifi\"]}}"

static void test_decode_full(void **state) {
  (void)state;
  cpns_capabilities_t *c = NULL;
  assert_int_equal(cpns_capabilities_decode(ANSWER, &c), 0);
  assert_string_equal(c->pn, "home");
  assert_string_equal(c->id, "phone");
  assert_int_equal(c->rev, 3);
  assert_int_equal(c->updated, 1700000000);
  assert_string_equal(c->device_type, "phone");
  assert_int_equal(c->screen_width, 1080);
  assert_int_equal(c->screen_height, 2340);
  assert_int_equal(c->screen_dpi, 401);
  assert_int_equal(c->screen_touch, 1);
  assert_int_equal(c->battery_capacity_mah, 4500);
  assert_int_equal(c->battery_capacity_mwh, -1);
  assert_string_equal(c->battery_technology, "Li-ion");
  assert_string_equal(c->cpu_model, "Snapdragon 865");
  assert_string_equal(c->cpu_arch, "aarch64");
  assert_int_equal(c->cpu_cores, 8);
  assert_true(c->memory_total == 8589934592LL);
  assert_string_equal(c->os_name, "Linux");
  assert_string_equal(c->os_build, "#1 SMP");
  assert_int_equal(c->nchipsets, 1);
  assert_string_equal(c->chipsets[0].name, "main");
  assert_string_equal(c->chipsets[0].value, "SM8250");
  assert_int_equal(c->napps, 1);
  assert_string_equal(c->apps[0].name, "player");
  assert_string_equal(c->apps[0].value, "1.0");
  assert_int_equal(c->ndrivers, 1);
  assert_int_equal(c->nnetworks, 1);
  assert_string_equal(c->networks[0].name, "wlan0");
  assert_string_equal(c->networks[0].type, "wifi");
  assert_int_equal(c->networks[0].naddrs, 2);
  assert_string_equal(c->networks[0].addrs[1], "fe80::1");
  assert_true(c->memory_available == 2147483648LL);
  assert_int_equal(c->battery_level, 80);
  assert_int_equal(c->battery_charging, 0);
  assert_int_equal(c->battery_remaining, 36000);
  assert_int_equal(c->nrunning, 1);
  assert_string_equal(c->running[0].name, "player");
  assert_int_equal(c->nactive_drivers, 1);
  assert_non_null(strstr(c->json, "\"static\""));
  assert_null(strstr(c->json, "\"rev\"")); /* the document only, without its envelope */
  cpns_capabilities_free(c);
}

static void test_decode_sparse(void **state) {
  (void)state;
  cpns_capabilities_t *c = NULL;
  assert_int_equal(cpns_capabilities_decode("{\"static\":{},\"rev\":0}", &c), 0);
  assert_string_equal(c->pn, "");
  assert_string_equal(c->device_type, "");
  assert_int_equal(c->screen_width, -1);
  assert_int_equal(c->screen_touch, -1);
  assert_int_equal(c->battery_level, -1);
  assert_int_equal(c->battery_charging, -1);
  assert_int_equal(c->memory_total, -1);
  assert_int_equal(c->updated, -1);
  assert_int_equal(c->napps, 0);
  assert_null(c->apps);
  cpns_capabilities_free(c);
  cpns_capabilities_free(NULL);
  cpns_capabilities_page_free(NULL);
}

static void test_decode_refused(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",
      "[]",
      "not json",
      "{\"dynamic\":{\"battery\":{\"level\":150}}}",
      "{\"dynamic\":{\"battery\":{\"level\":80}},\"dynamic\":{}}",
      "{\"pn\":\"bad pn\",\"static\":{}}",
      "{\"id\":7,\"static\":{}}",
      "{\"rev\":-1,\"static\":{}}",
      "{\"rev\":\"3\",\"static\":{}}",
      "{\"updated\":\"now\",\"static\":{}}",
      "{\"static\":{\"software\":{\"apps\":{\"bad key\":\"1\"}}}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cpns_capabilities_t *c = (cpns_capabilities_t *)&c;
    if (cpns_capabilities_decode(bad[i], &c) != CPNS_ERR_PROTO) fail_msg("accepted '%s'", bad[i]);
    assert_null(c);
  }
  cpns_capabilities_t *c;
  assert_int_equal(cpns_capabilities_decode(NULL, &c), CPNS_ERR_PROTO);
  assert_int_equal(cpns_capabilities_decode("{}", NULL), CPNS_ERR_INVAL);
  /* Invalid arguments are refused before anything is sent. */
  assert_int_equal(cpns_capabilities_get(NULL, "home", "phone", &c), CPNS_ERR_INVAL);
  assert_null(c);
  cpns_capabilities_page_t *p;
  assert_int_equal(cpns_capabilities_list(NULL, "home", NULL, 0, &p), CPNS_ERR_INVAL);
  assert_null(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_full),
      cmocka_unit_test(test_decode_sparse),
      cmocka_unit_test(test_decode_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
