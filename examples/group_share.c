/* SPDX-License-Identifier: Apache-2.0 */
/* Two identities share content in a Service Group with libcpns
 * (<cpns/groups.h>): the owner creates the group and invites the other,
 * which joins; both fetch the Group Key of the new epoch; the owner seals a
 * message and the other opens it. Then the owner expels the other: it is
 * refused the key from then on (4.03), and the key it kept cannot open what
 * the owner seals afterwards. Each step is printed; the exit status is 0
 * when every step went as described, 1 otherwise, 2 for bad usage.
 *
 *   cc group_share.c $(pkg-config --cflags --libs libcpns) -o group_share
 *   ./group_share coaps://127.0.0.1:5684 fam gw-a gw-a.key gw-b gw-b.key
 *
 * The identities here are PN Gateways at the server. An application on a
 * device does the same through its PNE (coaps://127.0.0.1:5694), naming its
 * PNE's id as the member. */
#include <cpns/client.h>
#include <cpns/groups.h>
#include <stdio.h>
#include <string.h>

/* The key file holds 64 hex digits. */
static int read_key(const char *path, uint8_t key[CPNS_PSK_LEN]) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char hex[2 * CPNS_PSK_LEN + 2] = "";
  int ok = fscanf(f, "%65s", hex) == 1 && strlen(hex) == 2 * CPNS_PSK_LEN;
  fclose(f);
  for (size_t i = 0; ok && i < CPNS_PSK_LEN; i++) {
    unsigned v;
    ok = sscanf(hex + 2 * i, "%2x", &v) == 1;
    key[i] = (uint8_t)v;
  }
  memset(hex, 0, sizeof hex);
  return ok ? 0 : -1;
}

static cpns_client_t *connect_as(const char *uri, const char *identity, const char *key_file) {
  uint8_t key[CPNS_PSK_LEN];
  if (read_key(key_file, key)) {
    fprintf(stderr, "%s: cannot read a key\n", key_file);
    return NULL;
  }
  cpns_client_config_t cfg = CPNS_CLIENT_CONFIG_INIT;
  cfg.uri = uri;
  cfg.identity = identity;
  cfg.key = key;
  cpns_client_t *c = NULL;
  int rc = cpns_client_new(&cfg, &c);
  memset(key, 0, sizeof key); /* the client keeps its own copy */
  if (rc) fprintf(stderr, "%s cannot connect: %s\n", identity, cpns_strerror(rc));
  return rc ? NULL : c;
}

static int failures;

/* Reports a call that should have succeeded. */
static int step(int rc, cpns_client_t *c, const char *what) {
  if (rc) {
    failures++;
    printf("FAILED: %s: %s (%s)\n", what, cpns_strerror(rc), c ? cpns_client_error(c) : "");
  } else {
    printf("%s\n", what);
  }
  return rc;
}

static void expect(bool ok, const char *what) {
  if (!ok) failures++;
  printf("%s%s\n", ok ? "" : "FAILED: ", what);
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s URI GROUP OWNER OWNER-KEYFILE MEMBER MEMBER-KEYFILE\n", argv[0]);
    return 2;
  }
  const char *uri = argv[1], *group = argv[2], *owner = argv[3], *member = argv[5];
  cpns_client_t *a = connect_as(uri, owner, argv[4]);
  cpns_client_t *b = a ? connect_as(uri, member, argv[6]) : NULL;
  if (!a || !b) {
    cpns_client_free(a);
    return 1;
  }
  char line[256];
  cpns_group_key_t ka, kb;
  memset(&ka, 0, sizeof ka);
  memset(&kb, 0, sizeof kb);
  uint8_t *sealed = NULL, *plain = NULL;
  size_t sealed_len = 0, plain_len = 0;

  snprintf(line, sizeof line, "%s creates group %s", owner, group);
  if (step(cpns_group_create(a, group, false), a, line)) goto out;
  snprintf(line, sizeof line, "%s invites %s", owner, member);
  if (step(cpns_group_invite(a, group, member), a, line)) goto out;
  snprintf(line, sizeof line, "%s joins", member);
  if (step(cpns_group_join(b, group, member), b, line)) goto out;

  cpns_group_t *g = NULL;
  if (step(cpns_group_get(a, group, &g), a, "the owner reads the group")) goto out;
  printf("group %s, owner %s, key epoch %u, %zu rows:\n", g->id, g->owner, (unsigned)g->epoch,
         g->count);
  for (size_t i = 0; i < g->count; i++)
    printf("  %s (PN %s) %s\n", g->members[i].id, g->members[i].pn, g->members[i].state);
  cpns_group_free(g);

  /* Both members fetch the current key: the join made epoch 2. */
  if (step(cpns_group_key_get(a, group, &ka), a, "the owner gets the key") ||
      step(cpns_group_key_get(b, group, &kb), b, "the member gets the key"))
    goto out;
  printf("%s has the key of epoch %u, %s the key of epoch %u\n", owner, (unsigned)ka.epoch, member,
         (unsigned)kb.epoch);
  expect(ka.epoch == kb.epoch && memcmp(ka.key, kb.key, sizeof ka.key) == 0,
         "both hold the same key");

  /* The owner seals; the sealed message may travel by any means. */
  const char *text = "hello from the owner";
  if (step(cpns_group_key_seal(&ka, NULL, 0, (const uint8_t *)text, strlen(text), &sealed,
                               &sealed_len),
           NULL, "the owner seals a message"))
    goto out;
  char sealed_for[CPNS_ID_MAX + 1];
  uint32_t epoch = 0;
  cpns_group_message_info(sealed, sealed_len, sealed_for, &epoch);
  printf("sealed %zu bytes for group %s, epoch %u\n", sealed_len, sealed_for, (unsigned)epoch);
  if (step(cpns_group_key_open(&kb, NULL, 0, sealed, sealed_len, &plain, &plain_len), NULL,
           "the member opens it"))
    goto out;
  printf("the member reads: \"%.*s\"\n", (int)plain_len, (const char *)plain);
  expect(plain_len == strlen(text) && memcmp(plain, text, plain_len) == 0,
         "the content arrived unchanged");
  cpns_free(plain);
  plain = NULL;
  cpns_free(sealed);
  sealed = NULL;

  /* Expulsion: the same request as leaving, sent by the owner. */
  snprintf(line, sizeof line, "%s expels %s", owner, member);
  if (step(cpns_group_expel(a, group, member), a, line)) goto out;
  cpns_group_key_t refused;
  int rc = cpns_group_key_get(b, group, &refused);
  printf("the expelled member asks for the key: %s, status %d (%s)\n", cpns_strerror(rc),
         cpns_client_status(b), cpns_client_error(b));
  expect(rc == CPNS_ERR_DENIED && cpns_client_status(b) == 403, "it is refused the key");
  cpns_group_key_cleanup(&refused);

  cpns_group_key_cleanup(&ka);
  if (step(cpns_group_key_get(a, group, &ka), a, "the owner gets the new key")) goto out;
  printf("the owner has the key of epoch %u\n", (unsigned)ka.epoch);
  text = "after the expulsion";
  if (step(cpns_group_key_seal(&ka, NULL, 0, (const uint8_t *)text, strlen(text), &sealed,
                               &sealed_len),
           NULL, "the owner seals a new message"))
    goto out;
  rc = cpns_group_key_open(&kb, NULL, 0, sealed, sealed_len, &plain, &plain_len);
  printf("the expelled member's key of epoch %u opens it: %s\n", (unsigned)kb.epoch,
         rc ? cpns_strerror(rc) : "yes");
  expect(rc == CPNS_ERR_DENIED, "the old key is of an earlier epoch");
  cpns_free(plain);
  plain = NULL;
  kb.epoch = ka.epoch; /* relabelling the old key does not help either */
  rc = cpns_group_key_open(&kb, NULL, 0, sealed, sealed_len, &plain, &plain_len);
  printf("relabelled as epoch %u: %s\n", (unsigned)kb.epoch, rc ? cpns_strerror(rc) : "opened");
  expect(rc == CPNS_ERR_CRYPTO, "authentication fails");
  cpns_free(plain);
  plain = NULL;

  if (step(cpns_group_delete(a, group), a, "the owner deletes the group")) goto out;

out:
  cpns_free(plain);
  cpns_free(sealed);
  cpns_group_key_cleanup(&ka);
  cpns_group_key_cleanup(&kb);
  cpns_client_free(a);
  cpns_client_free(b);
  printf("%s\n", failures ? "some steps failed" : "all steps went as expected");
  return failures ? 1 : 0;
}
