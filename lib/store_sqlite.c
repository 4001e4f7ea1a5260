/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite implementation of the store interface (store.h): one connection
 * per store, WAL journal, every statement prepared once at open, numbered
 * schema migrations tracked by PRAGMA user_version. A store is used by one
 * thread at a time (the connection is opened without SQLite's mutex and the
 * prepared statements are shared); several processes may open the same file,
 * as cpnsctl does beside a running daemon. Secrets (Entity-User Keys and
 * enrollment PSKs) are stored as 32-byte BLOBs and never logged. Also home of
 * the entity state names, which are part of the stored data's vocabulary. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "service.h"
#include "usage.h"

/* The SQL below writes these states as literals: a partial index is only used
 * when the query repeats its WHERE clause literally, not through a parameter. */
_Static_assert(CPNS_STATE_ADDED == 0 && CPNS_STATE_ONLINE == 1 && CPNS_STATE_OFFLINE == 2,
               "the schema and queries store entity states as 0, 1, 2");
/* Migration 2 checks the length of stored secrets with a literal too. */
_Static_assert(CPNS_SECRET_LEN == 32, "the schema stores secrets as 32-byte BLOBs");

/* Long enough to ride out a cpnsctl or a checkpoint in another process,
 * short enough that a stuck peer shows up as an error instead of a hang. */
#define BUSY_TIMEOUT_MS 5000
/* Rows fetched per round trip by the list calls: the statement is reset before
 * the callbacks run, so a callback may call the store (even write to it) and
 * memory stays bounded whatever the size of a PN. */
#define LIST_CHUNK 128
/* Rows expired per transaction: bounds the memory of one expire() (about
 * 1 MiB of records) and the time the write lock is held (tens of ms),
 * whatever the backlog after a long downtime. Expired rows lie scattered over
 * the table, so each chunk rewrites a page per row or so: 2048 expired a large
 * backlog twice as fast as 512. */
#define EXPIRE_CHUNK 2048
/* The key/value table holds small settings, not blobs. */
#define KV_KEY_MAX 128
#define KV_VALUE_MAX 65536

const char *cpns_entity_state_name(enum cpns_entity_state s) {
  switch (s) {
  case CPNS_STATE_ADDED: return "added";
  case CPNS_STATE_ONLINE: return "online";
  case CPNS_STATE_OFFLINE: return "offline";
  }
  return "unknown"; /* never NULL, so that it can be printed unchecked */
}

int cpns_entity_state_parse(const char *name) {
  if (!name) return -1;
  if (strcmp(name, "added") == 0) return CPNS_STATE_ADDED;
  if (strcmp(name, "online") == 0) return CPNS_STATE_ONLINE;
  if (strcmp(name, "offline") == 0) return CPNS_STATE_OFFLINE;
  return -1;
}

/* ---- schema ---------------------------------------------------------------
 * Migration i (0-based) takes the database from user_version i to i + 1, in
 * its own transaction. Append only: never edit a migration that has shipped.
 *
 * There is no foreign key from entity, pn_reader or ban to pn: the gateway
 * keeps its own PN's entities before (or without) a pn row, so pn_delete
 * removes the dependent rows itself. The partial indexes on expires_at cover
 * only ONLINE rows, which is all expire() looks at. entity is WITHOUT ROWID:
 * its key (pn, id) is then the table itself, not a second B-tree beside it,
 * which saves a page write in every registration (the hot path). */
static const char *const migrations[] = {
    /* 1: the PN Inventory and the key/value table */
    "CREATE TABLE pn ("
    "  id TEXT NOT NULL PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  owner TEXT NOT NULL,"
    "  gw TEXT NOT NULL,"
    "  gw_addr TEXT NOT NULL,"
    "  open INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  lifetime INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL);"
    "CREATE INDEX pn_expiry ON pn(expires_at) WHERE state = 1;"
    "CREATE TABLE entity ("
    "  pn TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  device_type TEXT NOT NULL,"
    "  addr TEXT NOT NULL,"
    "  roles INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  lifetime INTEGER NOT NULL,"
    "  registered_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  PRIMARY KEY (pn, id)) WITHOUT ROWID;"
    "CREATE INDEX entity_expiry ON entity(expires_at) WHERE state = 1;"
    "CREATE TABLE pn_reader ("
    "  pn TEXT NOT NULL,"
    "  reader TEXT NOT NULL,"
    "  PRIMARY KEY (pn, reader)) WITHOUT ROWID;"
    "CREATE TABLE ban ("
    "  pn TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  PRIMARY KEY (pn, id)) WITHOUT ROWID;"
    "CREATE TABLE kv ("
    "  key TEXT NOT NULL PRIMARY KEY,"
    "  value TEXT NOT NULL) WITHOUT ROWID;",
    /* 2: Entity-User Key credentials and pending enrollments (issue 3). The
     * CHECKs keep a secret from being stored as anything but 32 bytes; the
     * code checks again when it reads one back. */
    "CREATE TABLE credential ("
    "  identity TEXT NOT NULL PRIMARY KEY,"
    "  role TEXT NOT NULL,"
    "  pn TEXT NOT NULL,"
    "  key BLOB NOT NULL CHECK (typeof(key) = 'blob' AND length(key) = 32),"
    "  generation INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  rotated_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE enrollment ("
    "  identity TEXT NOT NULL PRIMARY KEY,"
    "  role TEXT NOT NULL,"
    "  pn TEXT NOT NULL,"
    "  psk BLOB NOT NULL CHECK (typeof(psk) = 'blob' AND length(psk) = 32),"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  created_by TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX enrollment_expiry ON enrollment(expires_at);",
    /* 3: Service Groups with their Group Key, and their members (issue 3
     * items 4 and 5). Members go with their group (foreign keys are on). */
    "CREATE TABLE service_group ("
    "  id TEXT NOT NULL PRIMARY KEY,"
    "  owner TEXT NOT NULL,"
    "  pn TEXT NOT NULL,"
    "  open INTEGER NOT NULL CHECK (open IN (0, 1)),"
    "  epoch INTEGER NOT NULL,"
    "  key BLOB NOT NULL CHECK (typeof(key) = 'blob' AND length(key) = 32),"
    "  key_expires INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE group_member ("
    "  grp TEXT NOT NULL REFERENCES service_group(id) ON DELETE CASCADE,"
    "  member TEXT NOT NULL,"
    "  state INTEGER NOT NULL CHECK (state IN (0, 1)),"
    "  PRIMARY KEY (grp, member)) WITHOUT ROWID;",
    /* 4: each member's PN (a PNE joins through its gateway, and the server
     * tells that PN's gateway of the group), and a gateway's replicas of
     * server groups beside its own local ones. */
    "ALTER TABLE group_member ADD COLUMN pn TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE service_group ADD COLUMN replica INTEGER NOT NULL DEFAULT 0"
    "  CHECK (replica IN (0, 1));"
    "CREATE INDEX group_member_by_pn ON group_member(pn, grp) WHERE state = 1;",
    /* 5: the Metadata Directory (issue 4): services, their keywords and the
     * interests consumers saved. A service row keeps the offerer's
     * description as JSON (doc) beside the columns lookups select on. Each
     * keyword row carries the scope that may see the service ('' for a
     * public one, else its PN), so that a PN's caller reads the public range
     * and its own PN's range of a keyword and never steps over other PNs'
     * private services; service_keyword_any serves the operator, who sees
     * every scope, in service order. Keyword rows go with their service. */
    "CREATE TABLE service ("
    "  id TEXT NOT NULL PRIMARY KEY,"
    "  offerer TEXT NOT NULL,"
    "  pn TEXT NOT NULL,"
    "  doc TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL);"
    "CREATE INDEX service_by_offerer ON service(offerer, id);"
    "CREATE INDEX service_by_pn ON service(pn, id);"
    "CREATE INDEX service_expiry ON service(expires_at);"
    "CREATE TABLE service_keyword ("
    "  keyword TEXT NOT NULL,"
    "  scope TEXT NOT NULL,"
    "  service TEXT NOT NULL REFERENCES service(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (keyword, scope, service)) WITHOUT ROWID;"
    "CREATE INDEX service_keyword_any ON service_keyword(keyword, service);"
    "CREATE INDEX service_keyword_of ON service_keyword(service);"
    "CREATE TABLE interest ("
    "  id TEXT NOT NULL PRIMARY KEY,"
    "  owner TEXT NOT NULL,"
    "  owner_pn TEXT NOT NULL,"
    "  see_all INTEGER NOT NULL CHECK (see_all IN (0, 1)),"
    "  query TEXT NOT NULL,"
    "  events TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX interest_by_owner ON interest(owner);",
    /* 6: device capabilities (issue 5): one document per entity, as its
     * canonical JSON text, going with the entity it describes. */
    "CREATE TABLE caps ("
    "  pn TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  rev INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  doc TEXT NOT NULL,"
    "  PRIMARY KEY (pn, id),"
    "  FOREIGN KEY (pn, id) REFERENCES entity(pn, id) ON DELETE CASCADE) WITHOUT ROWID;",
    /* Status management (spec 5.5.3, issue 5): each entity's latest
     * status document (going with its entity), the observers of PN GWs kept
     * across sessions and restarts, and the policy-based report rules. */
    "CREATE TABLE status ("
    "  pn TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  doc TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (pn, id),"
    "  FOREIGN KEY (pn, id) REFERENCES entity(pn, id) ON DELETE CASCADE) WITHOUT ROWID;"
    "CREATE TABLE status_observer ("
    "  session_identity TEXT NOT NULL,"
    "  token BLOB NOT NULL CHECK (typeof(token) = 'blob' AND length(token) <= 8),"
    "  identity TEXT NOT NULL,"
    "  pn TEXT NOT NULL,"
    "  role INTEGER NOT NULL,"
    "  via TEXT NOT NULL,"
    "  topic TEXT NOT NULL,"
    "  attr TEXT NOT NULL,"
    "  query TEXT NOT NULL,"
    "  accept INTEGER NOT NULL,"
    "  ref_state INTEGER NOT NULL,"
    "  ref_has INTEGER NOT NULL CHECK (ref_has IN (0, 1)),"
    "  ref_value REAL NOT NULL,"
    "  ref_digest INTEGER NOT NULL,"
    "  ref_zone INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (session_identity, token)) WITHOUT ROWID;"
    "CREATE TABLE status_policy ("
    "  pn TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  entity TEXT NOT NULL,"
    "  attr TEXT NOT NULL,"
    "  op INTEGER NOT NULL CHECK (op IN (0, 1, 2)),"
    "  threshold REAL NOT NULL,"
    "  state TEXT NOT NULL,"
    "  target_pn TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  created_by TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  active INTEGER NOT NULL CHECK (active IN (0, 1)),"
    "  fired INTEGER NOT NULL,"
    "  last_fired INTEGER NOT NULL,"
    "  PRIMARY KEY (pn, id)) WITHOUT ROWID;"
    "CREATE INDEX status_policy_of_entity ON status_policy(pn, entity);",
    /* Usage statistics (spec 5.5.4, issue 5): the records a PNE or a gateway
     * keeps until the next hop has them, and the server's, which its
     * summaries add up. seq orders them as they arrived; (pn, entity, rid)
     * recognizes a resend; day is the UTC day of start, what summaries
     * group and select by. */
    "CREATE TABLE usage_record ("
    "  seq INTEGER PRIMARY KEY,"
    "  pn TEXT NOT NULL,"
    "  entity TEXT NOT NULL,"
    "  rid TEXT NOT NULL,"
    "  service TEXT NOT NULL,"
    "  start INTEGER NOT NULL,"
    "  stop INTEGER NOT NULL CHECK (stop >= start),"
    "  day INTEGER NOT NULL,"
    "  bytes_in INTEGER NOT NULL CHECK (bytes_in >= 0),"
    "  bytes_out INTEGER NOT NULL CHECK (bytes_out >= 0),"
    "  device TEXT NOT NULL,"
    "  received_at INTEGER NOT NULL,"
    "  UNIQUE (pn, entity, rid));"
    "CREATE INDEX usage_by_pn_day ON usage_record(pn, day);"
    "CREATE INDEX usage_by_day ON usage_record(day);",
    /* CPNS-4 bearer tokens (server/tokens.c): the SHA-256 of each secret,
     * never the secret; expires_at 0 = never. */
    "CREATE TABLE api_token ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  name TEXT NOT NULL,"
    "  scopes TEXT NOT NULL,"
    "  hash BLOB NOT NULL CHECK (typeof(hash) = 'blob' AND length(hash) = 32),"
    "  created_by TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL) WITHOUT ROWID;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* ---- statements ---------------------------------------------------------- */

#define PN_COLS                                                                \
  "id, name, owner, gw, gw_addr, open, state, lifetime, created_at, updated_at, expires_at"
#define ENT_COLS                                                               \
  "pn, id, name, device_type, addr, roles, state, lifetime, registered_at, updated_at, "  \
  "expires_at"
#define CRED_COLS "identity, role, pn, key, generation, created_at, rotated_at"
#define ENROLL_COLS "identity, role, pn, psk, created_at, expires_at, created_by"
#define GROUP_COLS "id, owner, pn, open, epoch, key, key_expires, created_at, replica"
#define SVC_COLS "id, offerer, pn, doc, created_at, updated_at, expires_at"
#define INT_COLS "id, owner, owner_pn, see_all, query, events, seq, created_at"
#define CAPS_COLS "pn, id, rev, updated_at, doc"
#define STATUS_COLS "pn, id, doc, updated_at"
#define STATOBS_COLS                                                                         \
  "session_identity, token, identity, pn, role, via, topic, attr, query, accept, ref_state, " \
  "ref_has, ref_value, ref_digest, ref_zone, seq, updated_at"
#define TOKEN_COLS "id, name, scopes, hash, created_by, created_at, expires_at"
#define POLICY_COLS                                                                          \
  "pn, id, entity, attr, op, threshold, state, target_pn, target, created_by, created_at, "   \
  "active, fired, last_fired"
#define USAGE_COLS                                                                           \
  "seq, pn, entity, rid, service, start, stop, bytes_in, bytes_out, device, received_at"
/* A summary row: the key, then the totals (total() is a float: a sum past
 * int64 does not fail the query). */
#define USAGE_TOTALS "count(*), total(stop - start), total(bytes_in), total(bytes_out)"
/* The filter of a summary: ?1 the PN (or ''), ?2..?3 the days, ?4 the
 * service, ?5 the entity, ?6 the limit. Each grouping comes in two forms,
 * so that the planner picks the (pn, day) index when a PN is given. */
#define USAGE_WHERE_REST                                                                    \
  " day BETWEEN ?2 AND ?3 AND (?4 = '' OR service = ?4) AND (?5 = '' OR entity = ?5)"
#define USAGE_SUMMARY(key, pn_clause)                                                        \
  "SELECT " key ", " USAGE_TOTALS " FROM usage_record WHERE " pn_clause " AND"            \
  USAGE_WHERE_REST " GROUP BY " key " ORDER BY " key " LIMIT ?6"

enum stmt_id {
  S_BEGIN,
  S_COMMIT,
  S_ROLLBACK,
  S_PN_PUT,
  S_PN_GET,
  S_PN_DELETE,
  S_PN_DELETE_ENTITIES,
  S_PN_DELETE_READERS,
  S_PN_DELETE_BANS,
  S_PN_LIST,
  S_PN_COUNT,
  S_READER_ADD,
  S_READER_LIST,
  S_READER_CHECK,
  S_ENT_PUT,
  S_ENT_GET,
  S_ENT_DELETE,
  S_ENT_LIST,
  S_ENT_COUNT_PN,
  S_ENT_COUNT_ALL,
  S_BAN_ADD,
  S_BAN_REMOVE,
  S_BAN_CHECK,
  S_PN_EXPIRED,
  S_PN_SET_OFFLINE,
  S_ENT_EXPIRED,
  S_ENT_SET_OFFLINE,
  S_KV_GET,
  S_KV_SET,
  S_CRED_PUT,
  S_CRED_GET,
  S_CRED_DELETE,
  S_CRED_COUNT,
  S_ENROLL_PUT,
  S_ENROLL_GET,
  S_ENROLL_EXPIRY,
  S_ENROLL_DELETE,
  S_ENROLL_EXPIRE,
  S_GROUP_PUT,
  S_GROUP_GET,
  S_GROUP_DELETE,
  S_GROUP_REKEY,
  S_MEMBER_PUT,
  S_MEMBER_GET,
  S_MEMBER_DELETE,
  S_MEMBER_LIST,
  S_GROUP_LIST_IDS,
  S_MEMBER_CLEAR,
  S_GROUP_IDS_OF_PN,
  S_GROUP_MEMBER_PNS,
  S_SVC_PUT,
  S_SVC_GET,
  S_SVC_DELETE,
  S_SVC_KW_CLEAR,
  S_SVC_KW_ADD,
  S_SVC_COUNT,
  S_SVC_COUNT_OFFERER,
  S_SVC_KW_SCOPED,
  S_SVC_KW_ANY_SCOPE,
  S_SVC_BY_OFFERER,
  S_SVC_BY_PN,
  S_SVC_KW_PROBE,
  S_SVC_KW_PROBE_ANY,
  S_SVC_KW_FIRST,
  S_SVC_KW_NEXT,
  S_SVC_EXPIRED,
  S_SVC_OF_OFFERER,
  S_SVC_OF_PN,
  S_INT_PUT,
  S_INT_GET,
  S_INT_DELETE,
  S_INT_COUNT,
  S_INT_COUNT_OWNER,
  S_INT_LIST,
  S_INT_EVENT,
  S_BEGIN_READ,
  S_CAPS_PUT,
  S_CAPS_GET,
  S_CAPS_LIST,
  S_CAPS_KEYS,
  S_STATUS_PUT,
  S_STATUS_GET,
  S_STATUS_LIST,
  S_STATOBS_PUT,
  S_STATOBS_DELETE,
  S_STATOBS_LIST,
  S_POLICY_PUT,
  S_POLICY_GET,
  S_POLICY_DELETE,
  S_POLICY_LIST,
  S_POLICY_OF_ENTITY,
  S_POLICY_COUNT_PN,
  S_POLICY_COUNT_ALL,
  S_POLICY_MARK,
  S_USAGE_ADD,
  S_USAGE_LIST,
  S_USAGE_REMOVE,
  S_USAGE_PURGE,
  S_USAGE_COUNT,
  S_USAGE_SUM_SERVICE,
  S_USAGE_SUM_PN,
  S_USAGE_SUM_DAY,
  S_USAGE_SUM_ENTITY,
  S_USAGE_SUM_SERVICE_ALL,
  S_USAGE_SUM_PN_ALL,
  S_USAGE_SUM_DAY_ALL,
  S_USAGE_SUM_ENTITY_ALL,
  S_TOKEN_PUT,
  S_TOKEN_GET,
  S_TOKEN_DELETE,
  S_TOKEN_LIST,
  S_TOKEN_COUNT,
  S_COUNT_
};

static const char *const stmt_sql[S_COUNT_] = {
    /* IMMEDIATE: take the write lock up front, so that two processes never
     * both hold a read lock and then deadlock on the upgrade. */
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_PN_PUT] = ("INSERT INTO pn (" PN_COLS ")"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                  " ON CONFLICT (id) DO UPDATE SET name = excluded.name, owner = excluded.owner,"
                  " gw = excluded.gw, gw_addr = excluded.gw_addr, open = excluded.open,"
                  " state = excluded.state, lifetime = excluded.lifetime,"
                  " updated_at = excluded.updated_at, expires_at = excluded.expires_at"),
    [S_PN_GET] = ("SELECT " PN_COLS " FROM pn WHERE id = ?1"),
    [S_PN_DELETE] = "DELETE FROM pn WHERE id = ?1",
    [S_PN_DELETE_ENTITIES] = "DELETE FROM entity WHERE pn = ?1",
    [S_PN_DELETE_READERS] = "DELETE FROM pn_reader WHERE pn = ?1",
    [S_PN_DELETE_BANS] = "DELETE FROM ban WHERE pn = ?1",
    [S_PN_LIST] = ("SELECT " PN_COLS " FROM pn WHERE id > ?1 ORDER BY id LIMIT ?2"),
    [S_PN_COUNT] = "SELECT count(*) FROM pn",
    [S_READER_ADD] = "INSERT OR IGNORE INTO pn_reader (pn, reader) VALUES (?1, ?2)",
    [S_READER_LIST] =
        "SELECT reader FROM pn_reader WHERE pn = ?1 AND reader > ?2 ORDER BY reader LIMIT ?3",
    [S_READER_CHECK] = "SELECT 1 FROM pn_reader WHERE pn = ?1 AND reader = ?2",
    [S_ENT_PUT] =
        ("INSERT INTO entity (" ENT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
         " ON CONFLICT (pn, id) DO UPDATE SET name = excluded.name,"
         " device_type = excluded.device_type, addr = excluded.addr, roles = excluded.roles,"
         " state = excluded.state, lifetime = excluded.lifetime,"
         " updated_at = excluded.updated_at, expires_at = excluded.expires_at"),
    [S_ENT_GET] = ("SELECT " ENT_COLS " FROM entity WHERE pn = ?1 AND id = ?2"),
    [S_ENT_DELETE] = "DELETE FROM entity WHERE pn = ?1 AND id = ?2",
    [S_ENT_LIST] =
        ("SELECT " ENT_COLS " FROM entity WHERE pn = ?1 AND id > ?2 ORDER BY id LIMIT ?3"),
    [S_ENT_COUNT_PN] = "SELECT count(*) FROM entity WHERE pn = ?1",
    [S_ENT_COUNT_ALL] = "SELECT count(*) FROM entity",
    [S_BAN_ADD] = "INSERT OR IGNORE INTO ban (pn, id) VALUES (?1, ?2)",
    [S_BAN_REMOVE] = "DELETE FROM ban WHERE pn = ?1 AND id = ?2",
    [S_BAN_CHECK] = "SELECT 1 FROM ban WHERE pn = ?1 AND id = ?2",
    /* "state = 1" literally, to match the partial indexes pn_expiry and
     * entity_expiry; ordered by expires_at, which the index gives for free. */
    [S_PN_EXPIRED] = ("SELECT " PN_COLS " FROM pn WHERE state = 1 AND expires_at <= ?1"
                      " ORDER BY expires_at LIMIT ?2"),
    [S_PN_SET_OFFLINE] = "UPDATE pn SET state = 2, expires_at = 0 WHERE id = ?1",
    [S_ENT_EXPIRED] = ("SELECT " ENT_COLS " FROM entity WHERE state = 1"
                       " AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2"),
    [S_ENT_SET_OFFLINE] = "UPDATE entity SET state = 2, expires_at = 0 WHERE pn = ?1 AND id = ?2",
    [S_KV_GET] = "SELECT value FROM kv WHERE key = ?1",
    [S_KV_SET] = ("INSERT INTO kv (key, value) VALUES (?1, ?2)"
                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
    [S_CRED_PUT] = ("INSERT INTO credential (" CRED_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                    " ON CONFLICT (identity) DO UPDATE SET role = excluded.role,"
                    " pn = excluded.pn, key = excluded.key, generation = excluded.generation,"
                    " rotated_at = excluded.rotated_at"),
    [S_CRED_GET] = ("SELECT " CRED_COLS " FROM credential WHERE identity = ?1"),
    [S_CRED_DELETE] = "DELETE FROM credential WHERE identity = ?1",
    [S_CRED_COUNT] = "SELECT count(*) FROM credential",
    /* A new enrollment replaces the pending one whole, created_at included:
     * the old code must stop working. */
    [S_ENROLL_PUT] = ("INSERT INTO enrollment (" ENROLL_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                      " ON CONFLICT (identity) DO UPDATE SET role = excluded.role,"
                      " pn = excluded.pn, psk = excluded.psk, created_at = excluded.created_at,"
                      " expires_at = excluded.expires_at, created_by = excluded.created_by"),
    [S_ENROLL_GET] = ("SELECT " ENROLL_COLS " FROM enrollment WHERE identity = ?1"),
    /* What redeeming needs, without reading the PSK. */
    [S_ENROLL_EXPIRY] = "SELECT expires_at FROM enrollment WHERE identity = ?1",
    [S_ENROLL_DELETE] = "DELETE FROM enrollment WHERE identity = ?1",
    [S_ENROLL_EXPIRE] = "DELETE FROM enrollment WHERE expires_at <= ?1",
    [S_GROUP_PUT] = ("INSERT INTO service_group (" GROUP_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                     " ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, pn = excluded.pn,"
                     " open = excluded.open, epoch = excluded.epoch, key = excluded.key,"
                     " key_expires = excluded.key_expires, replica = excluded.replica"),
    [S_GROUP_GET] = ("SELECT " GROUP_COLS " FROM service_group WHERE id = ?1"),
    [S_GROUP_DELETE] = "DELETE FROM service_group WHERE id = ?1",
    [S_GROUP_REKEY] = "UPDATE service_group SET key = ?2, epoch = ?3, key_expires = ?4 WHERE id = ?1",
    [S_MEMBER_PUT] = ("INSERT INTO group_member (grp, member, state, pn) VALUES (?1, ?2, ?3, ?4)"
                      " ON CONFLICT (grp, member) DO UPDATE SET state = excluded.state,"
                      " pn = excluded.pn"),
    [S_MEMBER_GET] = "SELECT state, pn FROM group_member WHERE grp = ?1 AND member = ?2",
    [S_MEMBER_DELETE] = "DELETE FROM group_member WHERE grp = ?1 AND member = ?2",
    [S_MEMBER_LIST] = ("SELECT member, state, pn FROM group_member WHERE grp = ?1 AND member > ?2"
                       " ORDER BY member LIMIT ?3"),
    [S_GROUP_LIST_IDS] = "SELECT id FROM service_group ORDER BY id",
    [S_MEMBER_CLEAR] = "DELETE FROM group_member WHERE grp = ?1",
    [S_GROUP_IDS_OF_PN] = ("SELECT DISTINCT grp FROM group_member WHERE pn = ?1 AND state = 1"
                           " ORDER BY grp"),
    [S_GROUP_MEMBER_PNS] = ("SELECT DISTINCT pn FROM group_member WHERE grp = ?1 AND state = 1"
                            " AND pn <> '' ORDER BY pn"),
    [S_SVC_PUT] = ("INSERT INTO service (" SVC_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                   " ON CONFLICT (id) DO UPDATE SET offerer = excluded.offerer, pn = excluded.pn,"
                   " doc = excluded.doc, updated_at = excluded.updated_at,"
                   " expires_at = excluded.expires_at"),
    [S_SVC_GET] = "SELECT " SVC_COLS " FROM service WHERE id = ?1",
    [S_SVC_DELETE] = "DELETE FROM service WHERE id = ?1",
    [S_SVC_KW_CLEAR] = "DELETE FROM service_keyword WHERE service = ?1",
    [S_SVC_KW_ADD] = "INSERT INTO service_keyword (keyword, scope, service) VALUES (?1, ?2, ?3)",
    [S_SVC_COUNT] = "SELECT count(*) FROM service",
    [S_SVC_COUNT_OFFERER] = "SELECT count(*) FROM service WHERE offerer = ?1",
    /* The lookup streams: each one range of one index, in service order. */
    [S_SVC_KW_SCOPED] = ("SELECT service FROM service_keyword WHERE keyword = ?1 AND scope = ?2"
                         " AND service > ?3 ORDER BY service LIMIT ?4"),
    [S_SVC_KW_ANY_SCOPE] = ("SELECT service FROM service_keyword INDEXED BY service_keyword_any"
                            " WHERE keyword = ?1 AND service > ?2 ORDER BY service LIMIT ?3"),
    [S_SVC_BY_OFFERER] = ("SELECT id FROM service INDEXED BY service_by_offerer WHERE offerer = ?1"
                          " AND id > ?2 ORDER BY id LIMIT ?3"),
    [S_SVC_BY_PN] = ("SELECT id FROM service INDEXED BY service_by_pn WHERE pn = ?1 AND id > ?2"
                     " ORDER BY id LIMIT ?3"),
    /* How many entries a keyword's range holds, counting no further than ?4
     * (?3 for the operator's): picks the rarest keyword of an all-lookup. */
    [S_SVC_KW_PROBE] = ("SELECT count(*) FROM (SELECT 1 FROM service_keyword WHERE keyword = ?1"
                        " AND scope = ?2 AND service > ?3 LIMIT ?4)"),
    [S_SVC_KW_PROBE_ANY] = ("SELECT count(*) FROM (SELECT 1 FROM service_keyword INDEXED BY"
                            " service_keyword_any WHERE keyword = ?1 AND service > ?2 LIMIT ?3)"),
    /* A prefix's keywords, one seek each: the next distinct keyword in
     * [?1, ?2) (or (?1, ?2)). */
    [S_SVC_KW_FIRST] = ("SELECT keyword FROM service_keyword WHERE keyword >= ?1 AND keyword < ?2"
                        " ORDER BY keyword LIMIT 1"),
    [S_SVC_KW_NEXT] = ("SELECT keyword FROM service_keyword WHERE keyword > ?1 AND keyword < ?2"
                       " ORDER BY keyword LIMIT 1"),
    [S_SVC_EXPIRED] = ("SELECT id FROM service INDEXED BY service_expiry WHERE expires_at <= ?1"
                       " ORDER BY expires_at LIMIT ?2"),
    [S_SVC_OF_OFFERER] = ("SELECT id FROM service INDEXED BY service_by_offerer WHERE offerer = ?1"
                          " AND pn = ?2 LIMIT ?3"),
    [S_SVC_OF_PN] = "SELECT id FROM service INDEXED BY service_by_pn WHERE pn = ?1 LIMIT ?2",
    [S_INT_PUT] = ("INSERT INTO interest (" INT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                   " ON CONFLICT (id) DO UPDATE SET owner = excluded.owner,"
                   " owner_pn = excluded.owner_pn, see_all = excluded.see_all,"
                   " query = excluded.query, events = excluded.events, seq = excluded.seq"),
    [S_INT_GET] = "SELECT " INT_COLS " FROM interest WHERE id = ?1",
    [S_INT_DELETE] = "DELETE FROM interest WHERE id = ?1",
    [S_INT_COUNT] = "SELECT count(*) FROM interest",
    [S_INT_COUNT_OWNER] = "SELECT count(*) FROM interest WHERE owner = ?1",
    [S_INT_LIST] = "SELECT " INT_COLS " FROM interest WHERE id > ?1 ORDER BY id LIMIT ?2",
    [S_INT_EVENT] = "UPDATE interest SET seq = ?2, events = ?3 WHERE id = ?1",
    /* A lookup's read transaction: one snapshot for the whole page, and
     * one round of file locks instead of one per statement. */
    [S_BEGIN_READ] = "BEGIN DEFERRED",
    [S_CAPS_PUT] = ("INSERT INTO caps (" CAPS_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)"
                    " ON CONFLICT (pn, id) DO UPDATE SET rev = excluded.rev,"
                    " updated_at = excluded.updated_at, doc = excluded.doc"),
    [S_CAPS_GET] = "SELECT " CAPS_COLS " FROM caps WHERE pn = ?1 AND id = ?2",
    [S_CAPS_LIST] = ("SELECT " CAPS_COLS " FROM caps WHERE pn = ?1 AND id > ?2"
                     " ORDER BY id LIMIT ?3"),
    [S_CAPS_KEYS] = ("SELECT pn, id FROM caps WHERE (pn, id) > (?1, ?2) ORDER BY pn, id"
                     " LIMIT ?3"),
    [S_STATUS_PUT] = ("INSERT INTO status (" STATUS_COLS ") VALUES (?1, ?2, ?3, ?4)"
                      " ON CONFLICT (pn, id) DO UPDATE SET doc = excluded.doc,"
                      " updated_at = excluded.updated_at"),
    [S_STATUS_GET] = "SELECT " STATUS_COLS " FROM status WHERE pn = ?1 AND id = ?2",
    [S_STATUS_LIST] = ("SELECT " STATUS_COLS " FROM status WHERE pn = ?1 AND id > ?2"
                       " ORDER BY id LIMIT ?3"),
    [S_STATOBS_PUT] = ("INSERT INTO status_observer (" STATOBS_COLS ") VALUES (?1, ?2, ?3, ?4, ?5,"
                       " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
                       " ON CONFLICT (session_identity, token) DO UPDATE SET"
                       " identity = excluded.identity, pn = excluded.pn, role = excluded.role,"
                       " via = excluded.via, topic = excluded.topic, attr = excluded.attr,"
                       " query = excluded.query, accept = excluded.accept,"
                       " ref_state = excluded.ref_state, ref_has = excluded.ref_has,"
                       " ref_value = excluded.ref_value, ref_digest = excluded.ref_digest,"
                       " ref_zone = excluded.ref_zone, seq = excluded.seq,"
                       " updated_at = excluded.updated_at"),
    [S_STATOBS_DELETE] = "DELETE FROM status_observer WHERE session_identity = ?1 AND token = ?2",
    [S_STATOBS_LIST] = "SELECT " STATOBS_COLS " FROM status_observer ORDER BY session_identity, token",
    [S_POLICY_PUT] = ("INSERT INTO status_policy (" POLICY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                      " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                      " ON CONFLICT (pn, id) DO UPDATE SET entity = excluded.entity,"
                      " attr = excluded.attr, op = excluded.op, threshold = excluded.threshold,"
                      " state = excluded.state, target_pn = excluded.target_pn,"
                      " target = excluded.target, created_by = excluded.created_by,"
                      " created_at = excluded.created_at, active = excluded.active,"
                      " fired = excluded.fired, last_fired = excluded.last_fired"),
    [S_POLICY_GET] = "SELECT " POLICY_COLS " FROM status_policy WHERE pn = ?1 AND id = ?2",
    [S_POLICY_DELETE] = "DELETE FROM status_policy WHERE pn = ?1 AND id = ?2",
    [S_POLICY_LIST] = "SELECT " POLICY_COLS " FROM status_policy WHERE pn = ?1 ORDER BY id",
    [S_POLICY_OF_ENTITY] = ("SELECT " POLICY_COLS " FROM status_policy WHERE pn = ?1 AND entity = ?2"
                            " ORDER BY id"),
    [S_POLICY_COUNT_PN] = "SELECT count(*) FROM status_policy WHERE pn = ?1",
    [S_POLICY_COUNT_ALL] = "SELECT count(*) FROM status_policy",
    [S_POLICY_MARK] = ("UPDATE status_policy SET active = ?3, fired = ?4, last_fired = ?5"
                       " WHERE pn = ?1 AND id = ?2"),
    [S_USAGE_ADD] = ("INSERT INTO usage_record (pn, entity, rid, service, start, stop, day,"
                     " bytes_in, bytes_out, device, received_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                     " ON CONFLICT (pn, entity, rid) DO NOTHING"),
    [S_USAGE_LIST] = "SELECT " USAGE_COLS " FROM usage_record WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [S_USAGE_REMOVE] = "DELETE FROM usage_record WHERE seq = ?1",
    [S_USAGE_PURGE] = ("DELETE FROM usage_record WHERE seq IN (SELECT seq FROM usage_record"
                       " WHERE day < ?2 AND (?1 = '' OR service = ?1) LIMIT ?3)"),
    [S_USAGE_COUNT] = "SELECT count(*) FROM usage_record",
    [S_USAGE_SUM_SERVICE] = USAGE_SUMMARY("service", "pn = ?1"),
    [S_USAGE_SUM_PN] = USAGE_SUMMARY("pn", "pn = ?1"),
    [S_USAGE_SUM_DAY] = USAGE_SUMMARY("day", "pn = ?1"),
    [S_USAGE_SUM_ENTITY] = USAGE_SUMMARY("entity", "pn = ?1"),
    [S_USAGE_SUM_SERVICE_ALL] = USAGE_SUMMARY("service", "?1 = ''"),
    [S_USAGE_SUM_PN_ALL] = USAGE_SUMMARY("pn", "?1 = ''"),
    [S_USAGE_SUM_DAY_ALL] = USAGE_SUMMARY("day", "?1 = ''"),
    [S_USAGE_SUM_ENTITY_ALL] = USAGE_SUMMARY("entity", "?1 = ''"),
    [S_TOKEN_PUT] = "INSERT INTO api_token (" TOKEN_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM api_token WHERE id = ?1",
    [S_TOKEN_DELETE] = "DELETE FROM api_token WHERE id = ?1",
    [S_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM api_token ORDER BY id",
    [S_TOKEN_COUNT] = "SELECT count(*) FROM api_token",
};

struct sqlite_store {
  struct cpns_store base; /* first: the ops receive &base and cast back */
  sqlite3 *db;
  sqlite3_stmt *stmt[S_COUNT_];
};

static struct sqlite_store *impl(struct cpns_store *st) { return (struct sqlite_store *)st; }

/* ---- helpers ------------------------------------------------------------- */

/* Logs the connection's last error and returns CPNS_ERR_STORE: the one place
 * where SQLite's codes stop. */
static int db_fail(struct sqlite_store *s, const char *what) {
  log_err("store", "%s: %s (%d)", what, sqlite3_errmsg(s->db), sqlite3_extended_errcode(s->db));
  return CPNS_ERR_STORE;
}

/* A bound statement's error is reported by sqlite3_step; reset afterwards so
 * that it releases its read lock and the next use starts clean. */
static int stmt_fail(struct sqlite_store *s, sqlite3_stmt *st, const char *what) {
  int rc = db_fail(s, what);
  sqlite3_reset(st);
  return rc;
}

/* Runs a bound statement that returns no rows, and resets it. */
static int run(struct sqlite_store *s, enum stmt_id id, const char *what) {
  sqlite3_stmt *st = s->stmt[id];
  if (sqlite3_step(st) != SQLITE_DONE) return stmt_fail(s, st, what);
  sqlite3_reset(st);
  return 0;
}

/* Runs a bound "SELECT count(*)" or "SELECT 1" statement: *out gets the
 * integer of the first row, or 0 when there is no row. */
static int run_int(struct sqlite_store *s, enum stmt_id id, const char *what, int64_t *out) {
  sqlite3_stmt *st = s->stmt[id];
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
  } else if (rc == SQLITE_DONE) {
    *out = 0;
  } else {
    return stmt_fail(s, st, what);
  }
  sqlite3_reset(st);
  return 0;
}

static int tx_begin(struct sqlite_store *s) { return run(s, S_BEGIN, "begin transaction"); }

static void tx_rollback(struct sqlite_store *s) {
  /* Some errors (SQLITE_FULL, SQLITE_IOERR, ...) have rolled back already. */
  if (sqlite3_get_autocommit(s->db)) return;
  run(s, S_ROLLBACK, "rollback");
}

static int tx_commit(struct sqlite_store *s) {
  int rc = run(s, S_COMMIT, "commit");
  if (rc) tx_rollback(s);
  return rc;
}

/* Binds a string that the caller has checked; SQLITE_STATIC is safe because
 * every statement is stepped and reset before the function that bound it
 * returns. */
static int bind_str(sqlite3_stmt *st, int idx, const char *v) {
  return sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC);
}

/* 0 when v is a string that fits in a char[max + 1] field; CPNS_ERR_INVAL for
 * NULL or (unless may_be_empty) "", CPNS_ERR_TOOBIG when longer than max. */
static int check_str(const char *v, size_t max, bool may_be_empty) {
  if (!v || (!may_be_empty && !*v)) return CPNS_ERR_INVAL;
  return strnlen(v, max + 1) > max ? CPNS_ERR_TOOBIG : 0;
}

/* A record field that uses all its bytes without a NUL holds a string too long
 * to store: reject it rather than cut it. */
#define FIELD_FITS(rec, f) (strnlen((rec)->f, sizeof (rec)->f) < sizeof (rec)->f)

/* A key longer than any stored key cannot match: lookups answer "absent"
 * without asking the database. */
static bool key_too_long(const char *v, size_t max) { return strnlen(v, max + 1) > max; }

/* Copies a text column into a fixed field. A value that does not fit (or
 * holds a NUL) was not written by this code: report it, never cut it. */
static int col_str(struct sqlite_store *s, sqlite3_stmt *st, int col, char *dst, size_t size) {
  const unsigned char *t = sqlite3_column_text(st, col);
  int n = sqlite3_column_bytes(st, col);
  if (!t) {
    if (sqlite3_errcode(s->db) == SQLITE_NOMEM) return db_fail(s, "read column");
    log_err("store", "column %s is NULL", sqlite3_column_name(st, col));
    return CPNS_ERR_STORE;
  }
  if ((size_t)n >= size || memchr(t, '\0', (size_t)n)) {
    log_err("store", "column %s holds %d bytes, more than its %zu-byte field",
            sqlite3_column_name(st, col), n, size - 1);
    return CPNS_ERR_STORE;
  }
  memcpy(dst, t, (size_t)n);
  dst[n] = '\0';
  return 0;
}

/* Reads an integer column that must lie in lo..hi. */
static int col_int(sqlite3_stmt *st, int col, int64_t lo, int64_t hi, int64_t *out) {
  int64_t v = sqlite3_column_int64(st, col);
  if (v < lo || v > hi) {
    log_err("store", "column %s holds %lld, outside %lld..%lld", sqlite3_column_name(st, col),
            (long long)v, (long long)lo, (long long)hi);
    return CPNS_ERR_STORE;
  }
  *out = v;
  return 0;
}

static bool state_valid(enum cpns_entity_state state) {
  return state == CPNS_STATE_ADDED || state == CPNS_STATE_ONLINE || state == CPNS_STATE_OFFLINE;
}

/* Fills a PN record from the row's columns c .. c + 10 (PN_COLS order). */
static int pn_from_row(struct sqlite_store *s, sqlite3_stmt *st, int c, struct cpns_pn_rec *p) {
  int64_t is_open, state, lifetime;
  memset(p, 0, sizeof *p);
  int rc = col_str(s, st, c + 0, p->id, sizeof p->id);
  if (!rc) rc = col_str(s, st, c + 1, p->name, sizeof p->name);
  if (!rc) rc = col_str(s, st, c + 2, p->owner, sizeof p->owner);
  if (!rc) rc = col_str(s, st, c + 3, p->gw, sizeof p->gw);
  if (!rc) rc = col_str(s, st, c + 4, p->gw_addr, sizeof p->gw_addr);
  if (!rc) rc = col_int(st, c + 5, 0, 1, &is_open);
  if (!rc) rc = col_int(st, c + 6, CPNS_STATE_ADDED, CPNS_STATE_OFFLINE, &state);
  if (!rc) rc = col_int(st, c + 7, 0, UINT32_MAX, &lifetime);
  if (rc) return rc;
  p->open = is_open != 0;
  p->state = (enum cpns_entity_state)state;
  p->lifetime = (uint32_t)lifetime;
  p->created_at = sqlite3_column_int64(st, c + 8);
  p->updated_at = sqlite3_column_int64(st, c + 9);
  p->expires_at = sqlite3_column_int64(st, c + 10);
  return 0;
}

/* Fills an entity record from the row's columns c .. c + 10 (ENT_COLS order). */
static int ent_from_row(struct sqlite_store *s, sqlite3_stmt *st, int c,
                        struct cpns_entity_rec *e) {
  int64_t roles, state, lifetime;
  memset(e, 0, sizeof *e);
  int rc = col_str(s, st, c + 0, e->pn, sizeof e->pn);
  if (!rc) rc = col_str(s, st, c + 1, e->id, sizeof e->id);
  if (!rc) rc = col_str(s, st, c + 2, e->name, sizeof e->name);
  if (!rc) rc = col_str(s, st, c + 3, e->device_type, sizeof e->device_type);
  if (!rc) rc = col_str(s, st, c + 4, e->addr, sizeof e->addr);
  if (!rc) rc = col_int(st, c + 5, 0, UINT_MAX, &roles);
  if (!rc) rc = col_int(st, c + 6, CPNS_STATE_ADDED, CPNS_STATE_OFFLINE, &state);
  if (!rc) rc = col_int(st, c + 7, 0, UINT32_MAX, &lifetime);
  if (rc) return rc;
  e->roles = (unsigned)roles;
  e->state = (enum cpns_entity_state)state;
  e->lifetime = (uint32_t)lifetime;
  e->registered_at = sqlite3_column_int64(st, c + 8);
  e->updated_at = sqlite3_column_int64(st, c + 9);
  e->expires_at = sqlite3_column_int64(st, c + 10);
  return 0;
}

/* ---- PNs ----------------------------------------------------------------- */

static int pn_put(struct cpns_store *st, const struct cpns_pn_rec *p) {
  struct sqlite_store *s = impl(st);
  if (!p || !p->id[0] || !state_valid(p->state)) return CPNS_ERR_INVAL;
  if (!FIELD_FITS(p, id) || !FIELD_FITS(p, name) || !FIELD_FITS(p, owner) || !FIELD_FITS(p, gw) ||
      !FIELD_FITS(p, gw_addr))
    return CPNS_ERR_TOOBIG;
  sqlite3_stmt *q = s->stmt[S_PN_PUT];
  /* The bind calls can only fail for out-of-memory; OR-ing keeps "non-zero". */
  int rc = bind_str(q, 1, p->id) | bind_str(q, 2, p->name) | bind_str(q, 3, p->owner) |
           bind_str(q, 4, p->gw) | bind_str(q, 5, p->gw_addr) | sqlite3_bind_int(q, 6, p->open) |
           sqlite3_bind_int(q, 7, (int)p->state) | sqlite3_bind_int64(q, 8, p->lifetime) |
           sqlite3_bind_int64(q, 9, p->created_at) | sqlite3_bind_int64(q, 10, p->updated_at) |
           sqlite3_bind_int64(q, 11, p->expires_at);
  if (rc != SQLITE_OK) return stmt_fail(s, q, "pn_put: bind");
  return run(s, S_PN_PUT, "pn_put");
}

static int pn_get(struct cpns_store *st, const char *pn, struct cpns_pn_rec *out) {
  struct sqlite_store *s = impl(st);
  if (!pn || !out) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX)) return CPNS_ERR_NOTFOUND;
  sqlite3_stmt *q = s->stmt[S_PN_GET];
  if (bind_str(q, 1, pn) != SQLITE_OK) return stmt_fail(s, q, "pn_get: bind");
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    rc = pn_from_row(s, q, 0, out);
  } else if (rc == SQLITE_DONE) {
    rc = CPNS_ERR_NOTFOUND;
  } else {
    return stmt_fail(s, q, "pn_get");
  }
  sqlite3_reset(q);
  return rc;
}

/* Deletes the PN row and, in the same transaction, the rows that hang off it.
 * CPNS_ERR_NOTFOUND only when nothing at all was stored under that id: a
 * gateway's entities kept without a pn row are still wiped (and it is 0). */
static int pn_delete(struct cpns_store *st, const char *pn) {
  struct sqlite_store *s = impl(st);
  static const enum stmt_id steps[] = {S_PN_DELETE, S_PN_DELETE_ENTITIES, S_PN_DELETE_READERS,
                                       S_PN_DELETE_BANS};
  if (!pn) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX)) return CPNS_ERR_NOTFOUND;
  int rc = tx_begin(s);
  if (rc) return rc;
  int64_t changed = 0;
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    sqlite3_stmt *q = s->stmt[steps[i]];
    if (bind_str(q, 1, pn) != SQLITE_OK) {
      rc = stmt_fail(s, q, "pn_delete: bind");
      break;
    }
    if ((rc = run(s, steps[i], "pn_delete"))) break;
    changed += sqlite3_changes(s->db);
  }
  if (!rc && changed == 0) rc = CPNS_ERR_NOTFOUND;
  if (rc) {
    tx_rollback(s);
    return rc;
  }
  return tx_commit(s);
}

/* Visits in chunks, resetting the statement before the callbacks run (see
 * LIST_CHUNK). "after" compares bytewise, as SQLite's BINARY collation does. */
static int pn_list(struct cpns_store *st, const char *after, unsigned limit, cpns_pn_cb cb,
                   void *arg) {
  struct sqlite_store *s = impl(st);
  if (!cb) return CPNS_ERR_INVAL;
  struct cpns_pn_rec *recs = malloc(LIST_CHUNK * sizeof *recs);
  if (!recs) return CPNS_ERR_NOMEM;
  /* The cursor starts as the caller's string, then is the last id seen; a
   * copy, because recs is overwritten by the next chunk. */
  char last[CPNS_ID_MAX + 1];
  const char *cursor = after ? after : "";
  unsigned left = limit;
  sqlite3_stmt *q = s->stmt[S_PN_LIST];
  int rc = 0;
  while (left > 0) {
    unsigned want = left < LIST_CHUNK ? left : LIST_CHUNK;
    if ((bind_str(q, 1, cursor) | sqlite3_bind_int(q, 2, (int)want)) != SQLITE_OK) {
      rc = stmt_fail(s, q, "pn_list: bind");
      break;
    }
    unsigned n = 0;
    int sr = SQLITE_DONE;
    while (n < want && (sr = sqlite3_step(q)) == SQLITE_ROW) {
      if ((rc = pn_from_row(s, q, 0, &recs[n]))) break;
      n++;
    }
    if (!rc && n < want && sr != SQLITE_DONE) rc = db_fail(s, "pn_list");
    sqlite3_reset(q);
    if (rc) break;
    for (unsigned i = 0; i < n; i++)
      if (cb(arg, &recs[i])) goto out; /* the caller asked to stop: not an error */
    if (n < want) break;
    memcpy(last, recs[n - 1].id, sizeof last);
    cursor = last;
    left -= n;
  }
out:
  free(recs);
  return rc;
}

static int pn_count(struct cpns_store *st, uint64_t *out) {
  struct sqlite_store *s = impl(st);
  if (!out) return CPNS_ERR_INVAL;
  int64_t n;
  int rc = run_int(s, S_PN_COUNT, "pn_count", &n);
  if (!rc) *out = (uint64_t)n;
  return rc;
}

/* ---- readers ------------------------------------------------------------- */

static int pn_set_readers(struct cpns_store *st, const char *pn, const char *const *readers,
                          unsigned n) {
  struct sqlite_store *s = impl(st);
  int rc = check_str(pn, CPNS_ID_MAX, false);
  if (rc) return rc;
  if (n > 0 && !readers) return CPNS_ERR_INVAL;
  /* All checked before the transaction, so that a bad entry changes nothing. */
  for (unsigned i = 0; i < n; i++)
    if ((rc = check_str(readers[i], CPNS_ID_MAX, false))) return rc;
  if ((rc = tx_begin(s))) return rc;
  sqlite3_stmt *q = s->stmt[S_PN_DELETE_READERS];
  if (bind_str(q, 1, pn) != SQLITE_OK)
    rc = stmt_fail(s, q, "pn_set_readers: bind");
  else
    rc = run(s, S_PN_DELETE_READERS, "pn_set_readers: delete");
  q = s->stmt[S_READER_ADD];
  for (unsigned i = 0; !rc && i < n; i++) {
    /* OR IGNORE: a reader listed twice is the same grant. */
    if ((bind_str(q, 1, pn) | bind_str(q, 2, readers[i])) != SQLITE_OK)
      rc = stmt_fail(s, q, "pn_set_readers: bind");
    else
      rc = run(s, S_READER_ADD, "pn_set_readers: insert");
  }
  if (rc) {
    tx_rollback(s);
    return rc;
  }
  return tx_commit(s);
}

/* Visits in chunks, like pn_list, ordered by reader id. */
static int pn_list_readers(struct cpns_store *st, const char *pn,
                           int (*cb)(void *arg, const char *reader), void *arg) {
  struct sqlite_store *s = impl(st);
  if (!pn || !cb) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX)) return 0; /* no such PN: nothing to visit */
  char(*ids)[CPNS_ID_MAX + 1] = malloc(LIST_CHUNK * sizeof *ids);
  if (!ids) return CPNS_ERR_NOMEM;
  char last[CPNS_ID_MAX + 1] = "";
  sqlite3_stmt *q = s->stmt[S_READER_LIST];
  int rc = 0;
  for (;;) {
    if ((bind_str(q, 1, pn) | bind_str(q, 2, last) | sqlite3_bind_int(q, 3, LIST_CHUNK)) !=
        SQLITE_OK) {
      rc = stmt_fail(s, q, "pn_list_readers: bind");
      break;
    }
    unsigned n = 0;
    int sr = SQLITE_DONE;
    while (n < LIST_CHUNK && (sr = sqlite3_step(q)) == SQLITE_ROW) {
      if ((rc = col_str(s, q, 0, ids[n], sizeof ids[n]))) break;
      n++;
    }
    if (!rc && n < LIST_CHUNK && sr != SQLITE_DONE) rc = db_fail(s, "pn_list_readers");
    sqlite3_reset(q);
    if (rc) break;
    for (unsigned i = 0; i < n; i++)
      if (cb(arg, ids[i])) goto out;
    if (n < LIST_CHUNK) break;
    memcpy(last, ids[n - 1], sizeof last);
  }
out:
  free(ids);
  return rc;
}

static int pn_reader_allowed(struct cpns_store *st, const char *pn, const char *reader,
                             bool *allowed) {
  struct sqlite_store *s = impl(st);
  if (!pn || !reader || !allowed) return CPNS_ERR_INVAL;
  *allowed = false;
  if (key_too_long(pn, CPNS_ID_MAX) || key_too_long(reader, CPNS_ID_MAX)) return 0;
  sqlite3_stmt *q = s->stmt[S_READER_CHECK];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, reader)) != SQLITE_OK)
    return stmt_fail(s, q, "pn_reader_allowed: bind");
  int64_t found;
  int rc = run_int(s, S_READER_CHECK, "pn_reader_allowed", &found);
  if (!rc) *allowed = found != 0;
  return rc;
}

/* ---- entities ------------------------------------------------------------ */

static int entity_put(struct cpns_store *st, const struct cpns_entity_rec *e) {
  struct sqlite_store *s = impl(st);
  if (!e || !e->pn[0] || !e->id[0] || !state_valid(e->state)) return CPNS_ERR_INVAL;
  if (!FIELD_FITS(e, pn) || !FIELD_FITS(e, id) || !FIELD_FITS(e, name) ||
      !FIELD_FITS(e, device_type) || !FIELD_FITS(e, addr))
    return CPNS_ERR_TOOBIG;
  sqlite3_stmt *q = s->stmt[S_ENT_PUT];
  int rc = bind_str(q, 1, e->pn) | bind_str(q, 2, e->id) | bind_str(q, 3, e->name) |
           bind_str(q, 4, e->device_type) | bind_str(q, 5, e->addr) |
           sqlite3_bind_int64(q, 6, e->roles) | sqlite3_bind_int(q, 7, (int)e->state) |
           sqlite3_bind_int64(q, 8, e->lifetime) | sqlite3_bind_int64(q, 9, e->registered_at) |
           sqlite3_bind_int64(q, 10, e->updated_at) | sqlite3_bind_int64(q, 11, e->expires_at);
  if (rc != SQLITE_OK) return stmt_fail(s, q, "entity_put: bind");
  return run(s, S_ENT_PUT, "entity_put");
}

static int entity_get(struct cpns_store *st, const char *pn, const char *id,
                      struct cpns_entity_rec *out) {
  struct sqlite_store *s = impl(st);
  if (!pn || !id || !out) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX) || key_too_long(id, CPNS_ID_MAX)) return CPNS_ERR_NOTFOUND;
  sqlite3_stmt *q = s->stmt[S_ENT_GET];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, id)) != SQLITE_OK)
    return stmt_fail(s, q, "entity_get: bind");
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    rc = ent_from_row(s, q, 0, out);
  } else if (rc == SQLITE_DONE) {
    rc = CPNS_ERR_NOTFOUND;
  } else {
    return stmt_fail(s, q, "entity_get");
  }
  sqlite3_reset(q);
  return rc;
}

static int entity_delete(struct cpns_store *st, const char *pn, const char *id) {
  struct sqlite_store *s = impl(st);
  if (!pn || !id) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX) || key_too_long(id, CPNS_ID_MAX)) return CPNS_ERR_NOTFOUND;
  sqlite3_stmt *q = s->stmt[S_ENT_DELETE];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, id)) != SQLITE_OK)
    return stmt_fail(s, q, "entity_delete: bind");
  int rc = run(s, S_ENT_DELETE, "entity_delete");
  if (!rc && sqlite3_changes(s->db) == 0) rc = CPNS_ERR_NOTFOUND;
  return rc;
}

/* Visits one PN's entities in chunks, like pn_list, ordered by id. */
static int entity_list(struct cpns_store *st, const char *pn, cpns_entity_cb cb, void *arg) {
  struct sqlite_store *s = impl(st);
  if (!pn || !cb) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX)) return 0;
  struct cpns_entity_rec *recs = malloc(LIST_CHUNK * sizeof *recs);
  if (!recs) return CPNS_ERR_NOMEM;
  char last[CPNS_ID_MAX + 1] = "";
  sqlite3_stmt *q = s->stmt[S_ENT_LIST];
  int rc = 0;
  for (;;) {
    if ((bind_str(q, 1, pn) | bind_str(q, 2, last) | sqlite3_bind_int(q, 3, LIST_CHUNK)) !=
        SQLITE_OK) {
      rc = stmt_fail(s, q, "entity_list: bind");
      break;
    }
    unsigned n = 0;
    int sr = SQLITE_DONE;
    while (n < LIST_CHUNK && (sr = sqlite3_step(q)) == SQLITE_ROW) {
      if ((rc = ent_from_row(s, q, 0, &recs[n]))) break;
      n++;
    }
    if (!rc && n < LIST_CHUNK && sr != SQLITE_DONE) rc = db_fail(s, "entity_list");
    sqlite3_reset(q);
    if (rc) break;
    for (unsigned i = 0; i < n; i++)
      if (cb(arg, &recs[i])) goto out;
    if (n < LIST_CHUNK) break;
    memcpy(last, recs[n - 1].id, sizeof last);
  }
out:
  free(recs);
  return rc;
}

static int entity_count(struct cpns_store *st, const char *pn, uint64_t *out) {
  struct sqlite_store *s = impl(st);
  if (!out) return CPNS_ERR_INVAL;
  if (pn && key_too_long(pn, CPNS_ID_MAX)) {
    *out = 0;
    return 0;
  }
  enum stmt_id id = pn ? S_ENT_COUNT_PN : S_ENT_COUNT_ALL;
  if (pn && bind_str(s->stmt[id], 1, pn) != SQLITE_OK)
    return stmt_fail(s, s->stmt[id], "entity_count: bind");
  int64_t n;
  int rc = run_int(s, id, "entity_count", &n);
  if (!rc) *out = (uint64_t)n;
  return rc;
}

/* ---- bans ---------------------------------------------------------------- */

/* Adding an existing ban is not an error: the entity is banned either way. */
static int ban_add(struct cpns_store *st, const char *pn, const char *id) {
  struct sqlite_store *s = impl(st);
  int rc = check_str(pn, CPNS_ID_MAX, false);
  if (!rc) rc = check_str(id, CPNS_ID_MAX, false);
  if (rc) return rc;
  sqlite3_stmt *q = s->stmt[S_BAN_ADD];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, id)) != SQLITE_OK)
    return stmt_fail(s, q, "ban_add: bind");
  return run(s, S_BAN_ADD, "ban_add");
}

static int ban_remove(struct cpns_store *st, const char *pn, const char *id) {
  struct sqlite_store *s = impl(st);
  if (!pn || !id) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX) || key_too_long(id, CPNS_ID_MAX)) return CPNS_ERR_NOTFOUND;
  sqlite3_stmt *q = s->stmt[S_BAN_REMOVE];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, id)) != SQLITE_OK)
    return stmt_fail(s, q, "ban_remove: bind");
  int rc = run(s, S_BAN_REMOVE, "ban_remove");
  if (!rc && sqlite3_changes(s->db) == 0) rc = CPNS_ERR_NOTFOUND;
  return rc;
}

static int ban_check(struct cpns_store *st, const char *pn, const char *id, bool *banned) {
  struct sqlite_store *s = impl(st);
  if (!pn || !id || !banned) return CPNS_ERR_INVAL;
  *banned = false;
  if (key_too_long(pn, CPNS_ID_MAX) || key_too_long(id, CPNS_ID_MAX)) return 0;
  sqlite3_stmt *q = s->stmt[S_BAN_CHECK];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, id)) != SQLITE_OK)
    return stmt_fail(s, q, "ban_check: bind");
  int64_t found;
  int rc = run_int(s, S_BAN_CHECK, "ban_check", &found);
  if (!rc) *banned = found != 0;
  return rc;
}

/* ---- membership changes that must not be half-applied ---------------- */

/* Removes the entity and bans it in one transaction: a crash between the two
 * must not leave an expelled entity free to register again. */
static int entity_expel(struct cpns_store *st, const char *pn, const char *id, bool *existed) {
  struct sqlite_store *s = impl(st);
  int rc = tx_begin(s);
  if (rc) return rc;
  rc = entity_delete(st, pn, id);
  if (existed) *existed = rc == 0;
  if (rc == CPNS_ERR_NOTFOUND) rc = 0;
  if (!rc) rc = ban_add(st, pn, id);
  if (rc) {
    tx_rollback(s);
    return rc;
  }
  return tx_commit(s);
}

/* Lifts a ban and records e when the entity is not there yet, in one
 * transaction. */
static int entity_admit(struct cpns_store *st, const struct cpns_entity_rec *e, bool *existed) {
  struct sqlite_store *s = impl(st);
  int rc = tx_begin(s);
  if (rc) return rc;
  rc = ban_remove(st, e->pn, e->id);
  if (rc == CPNS_ERR_NOTFOUND) rc = 0;
  struct cpns_entity_rec old;
  int g = rc ? rc : entity_get(st, e->pn, e->id, &old);
  if (existed) *existed = g == 0;
  if (!rc && g == CPNS_ERR_NOTFOUND) rc = entity_put(st, e);
  else if (!rc && g != 0) rc = g;
  if (rc) {
    tx_rollback(s);
    return rc;
  }
  return tx_commit(s);
}

/* ---- expiry -------------------------------------------------------------- */

/* One chunk of PNs: select up to EXPIRE_CHUNK expired ONLINE rows and mark
 * them OFFLINE in one transaction. recs get the rows as they now are. */
static int expire_pn_chunk(struct sqlite_store *s, int64_t now, struct cpns_pn_rec *recs,
                           unsigned *n_out) {
  unsigned n = 0;
  *n_out = 0;
  int rc = tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *q = s->stmt[S_PN_EXPIRED];
  if ((sqlite3_bind_int64(q, 1, now) | sqlite3_bind_int(q, 2, EXPIRE_CHUNK)) != SQLITE_OK) {
    rc = stmt_fail(s, q, "expire: bind");
  } else {
    int sr = SQLITE_DONE;
    while (n < EXPIRE_CHUNK && (sr = sqlite3_step(q)) == SQLITE_ROW) {
      if ((rc = pn_from_row(s, q, 0, &recs[n]))) break;
      n++;
    }
    if (!rc && n < EXPIRE_CHUNK && sr != SQLITE_DONE) rc = db_fail(s, "expire: select PNs");
    sqlite3_reset(q);
  }
  q = s->stmt[S_PN_SET_OFFLINE];
  for (unsigned i = 0; !rc && i < n; i++) {
    if (bind_str(q, 1, recs[i].id) != SQLITE_OK)
      rc = stmt_fail(s, q, "expire: bind");
    else
      rc = run(s, S_PN_SET_OFFLINE, "expire: update PN");
    /* Each row was just selected in this transaction. Should one not change,
     * the next chunk would select it again and expire() would never end. */
    if (!rc && sqlite3_changes(s->db) != 1) {
      log_err("store", "expire: PN row vanished during its update");
      rc = CPNS_ERR_STORE;
    }
  }
  if (!rc && n == 0) {
    tx_rollback(s); /* nothing written: cheaper than a commit */
    return 0;
  }
  if (!rc) rc = tx_commit(s);
  else tx_rollback(s);
  if (rc) return rc;
  for (unsigned i = 0; i < n; i++) {
    recs[i].state = CPNS_STATE_OFFLINE;
    recs[i].expires_at = 0;
  }
  *n_out = n;
  return 0;
}

/* The same for entities. */
static int expire_entity_chunk(struct sqlite_store *s, int64_t now, struct cpns_entity_rec *recs,
                               unsigned *n_out) {
  unsigned n = 0;
  *n_out = 0;
  int rc = tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *q = s->stmt[S_ENT_EXPIRED];
  if ((sqlite3_bind_int64(q, 1, now) | sqlite3_bind_int(q, 2, EXPIRE_CHUNK)) != SQLITE_OK) {
    rc = stmt_fail(s, q, "expire: bind");
  } else {
    int sr = SQLITE_DONE;
    while (n < EXPIRE_CHUNK && (sr = sqlite3_step(q)) == SQLITE_ROW) {
      if ((rc = ent_from_row(s, q, 0, &recs[n]))) break;
      n++;
    }
    if (!rc && n < EXPIRE_CHUNK && sr != SQLITE_DONE) rc = db_fail(s, "expire: select entities");
    sqlite3_reset(q);
  }
  q = s->stmt[S_ENT_SET_OFFLINE];
  for (unsigned i = 0; !rc && i < n; i++) {
    if ((bind_str(q, 1, recs[i].pn) | bind_str(q, 2, recs[i].id)) != SQLITE_OK)
      rc = stmt_fail(s, q, "expire: bind");
    else
      rc = run(s, S_ENT_SET_OFFLINE, "expire: update entity");
    /* Each row was just selected in this transaction. Should one not change,
     * the next chunk would select it again and expire() would never end. */
    if (!rc && sqlite3_changes(s->db) != 1) {
      log_err("store", "expire: entity row vanished during its update");
      rc = CPNS_ERR_STORE;
    }
  }
  if (!rc && n == 0) {
    tx_rollback(s);
    return 0;
  }
  if (!rc) rc = tx_commit(s);
  else tx_rollback(s);
  if (rc) return rc;
  for (unsigned i = 0; i < n; i++) {
    recs[i].state = CPNS_STATE_OFFLINE;
    recs[i].expires_at = 0;
  }
  *n_out = n;
  return 0;
}

/* PNs first, then entities, each in transactions of at most EXPIRE_CHUNK rows
 * (store.h's "one transaction" per chunk), the callbacks of a chunk running
 * after its commit with no statement active, so they may call the store.
 * A callback's return value is ignored here: its row is already committed as
 * OFFLINE, and the caller has to hear about every one. On an error, the
 * chunks committed before it have been reported and stay expired. */
static int expire(struct cpns_store *st, int64_t now, cpns_pn_cb pn_cb, cpns_entity_cb ent_cb,
                  void *arg) {
  struct sqlite_store *s = impl(st);
  unsigned n;
  int rc;

  struct cpns_pn_rec *precs = malloc(EXPIRE_CHUNK * sizeof *precs);
  if (!precs) return CPNS_ERR_NOMEM;
  do {
    if ((rc = expire_pn_chunk(s, now, precs, &n))) break;
    for (unsigned i = 0; pn_cb && i < n; i++) (void)pn_cb(arg, &precs[i]);
  } while (n == EXPIRE_CHUNK);
  free(precs);
  if (rc) return rc;

  struct cpns_entity_rec *erecs = malloc(EXPIRE_CHUNK * sizeof *erecs);
  if (!erecs) return CPNS_ERR_NOMEM;
  do {
    if ((rc = expire_entity_chunk(s, now, erecs, &n))) break;
    for (unsigned i = 0; ent_cb && i < n; i++) (void)ent_cb(arg, &erecs[i]);
  } while (n == EXPIRE_CHUNK);
  free(erecs);
  return rc;
}

/* ---- key/value ----------------------------------------------------------- */

static int kv_get(struct cpns_store *st, const char *key, char *value, size_t value_len) {
  struct sqlite_store *s = impl(st);
  if (!key || (!value && value_len)) return CPNS_ERR_INVAL;
  if (key_too_long(key, KV_KEY_MAX)) return CPNS_ERR_NOTFOUND;
  sqlite3_stmt *q = s->stmt[S_KV_GET];
  if (bind_str(q, 1, key) != SQLITE_OK) return stmt_fail(s, q, "kv_get: bind");
  int rc = sqlite3_step(q);
  if (rc == SQLITE_DONE) {
    rc = CPNS_ERR_NOTFOUND;
  } else if (rc != SQLITE_ROW) {
    return stmt_fail(s, q, "kv_get");
  } else {
    const unsigned char *t = sqlite3_column_text(q, 0);
    size_t len = (size_t)sqlite3_column_bytes(q, 0);
    if (!t) {
      rc = db_fail(s, "kv_get: read value"); /* NOT NULL column: out of memory */
    } else if (len >= value_len) {
      rc = CPNS_ERR_TOOBIG; /* no room for the value and its NUL */
    } else {
      memcpy(value, t, len);
      value[len] = '\0';
      rc = 0;
    }
  }
  sqlite3_reset(q);
  return rc;
}

static int kv_set(struct cpns_store *st, const char *key, const char *value) {
  struct sqlite_store *s = impl(st);
  int rc = check_str(key, KV_KEY_MAX, false);
  if (!rc) rc = check_str(value, KV_VALUE_MAX, true);
  if (rc) return rc;
  sqlite3_stmt *q = s->stmt[S_KV_SET];
  if ((bind_str(q, 1, key) | bind_str(q, 2, value)) != SQLITE_OK)
    return stmt_fail(s, q, "kv_set: bind");
  return run(s, S_KV_SET, "kv_set");
}

/* ---- credentials and enrollments ---------------------------------------- *
 * Secrets (keys and PSKs) are bound with SQLITE_STATIC, so that SQLite never
 * holds a copy of the caller's buffer of its own, and the bindings are dropped
 * after the statement ran, so that no prepared statement keeps pointing into
 * it. They are never logged, not even in part: errors name the column only. */

static int bind_secret(sqlite3_stmt *st, int idx, const uint8_t *v) {
  return sqlite3_bind_blob(st, idx, v, CPNS_SECRET_LEN, SQLITE_STATIC);
}

/* Runs a statement that bound a secret, then clears its bindings. */
static int run_secret(struct sqlite_store *s, enum stmt_id id, const char *what) {
  int rc = run(s, id, what);
  sqlite3_clear_bindings(s->stmt[id]);
  return rc;
}

/* The bind of a statement that holds a secret failed (out of memory). */
static int bind_secret_fail(struct sqlite_store *s, sqlite3_stmt *q, const char *what) {
  int rc = stmt_fail(s, q, what);
  sqlite3_clear_bindings(q);
  return rc;
}

/* Copies a secret column into a CPNS_SECRET_LEN field. Anything but a BLOB of
 * exactly that length was not written by this code: report it (its type and
 * length, never its bytes) rather than use it as a key. */
static int col_secret(struct sqlite_store *s, sqlite3_stmt *st, int col, uint8_t *dst) {
  int type = sqlite3_column_type(st, col); /* before any conversion */
  const void *b = sqlite3_column_blob(st, col);
  int n = sqlite3_column_bytes(st, col);
  if (type != SQLITE_BLOB || n != CPNS_SECRET_LEN) {
    static const char *const types[] = {"?", "INTEGER", "REAL", "TEXT", "BLOB", "NULL"};
    log_err("store", "column %s holds a %s of %d bytes, not a %d-byte BLOB",
            sqlite3_column_name(st, col), types[type >= 1 && type <= 5 ? type : 0], n,
            CPNS_SECRET_LEN);
    return CPNS_ERR_STORE;
  }
  if (!b) return db_fail(s, "read secret"); /* a 32-byte BLOB: out of memory */
  memcpy(dst, b, CPNS_SECRET_LEN);
  return 0;
}

/* Fills a credential from a row in CRED_COLS order. On an error *c is wiped:
 * the caller gets no half record, and no key. */
static int cred_from_row(struct sqlite_store *s, sqlite3_stmt *st, struct cpns_credential *c) {
  int64_t generation;
  memset(c, 0, sizeof *c);
  int rc = col_str(s, st, 0, c->identity, sizeof c->identity);
  if (!rc) rc = col_str(s, st, 1, c->role, sizeof c->role);
  if (!rc) rc = col_str(s, st, 2, c->pn, sizeof c->pn);
  if (!rc) rc = col_int(st, 4, 0, UINT32_MAX, &generation);
  if (!rc) rc = col_secret(s, st, 3, c->key);
  if (rc) {
    OPENSSL_cleanse(c, sizeof *c);
    return rc;
  }
  c->generation = (uint32_t)generation;
  c->created_at = sqlite3_column_int64(st, 5);
  c->rotated_at = sqlite3_column_int64(st, 6);
  return 0;
}

/* Fills an enrollment from a row in ENROLL_COLS order; wiped on an error. */
static int enroll_from_row(struct sqlite_store *s, sqlite3_stmt *st, struct cpns_enrollment *e) {
  memset(e, 0, sizeof *e);
  int rc = col_str(s, st, 0, e->identity, sizeof e->identity);
  if (!rc) rc = col_str(s, st, 1, e->role, sizeof e->role);
  if (!rc) rc = col_str(s, st, 2, e->pn, sizeof e->pn);
  if (!rc) rc = col_str(s, st, 6, e->created_by, sizeof e->created_by);
  if (!rc) rc = col_secret(s, st, 3, e->psk);
  if (rc) {
    OPENSSL_cleanse(e, sizeof *e);
    return rc;
  }
  e->created_at = sqlite3_column_int64(st, 4);
  e->expires_at = sqlite3_column_int64(st, 5);
  return 0;
}

/* What cred_put and enroll_redeem accept: an identity and a role, every
 * string within its field. */
static int cred_check(const struct cpns_credential *c) {
  if (!c || !c->identity[0] || !c->role[0]) return CPNS_ERR_INVAL;
  if (!FIELD_FITS(c, identity) || !FIELD_FITS(c, role) || !FIELD_FITS(c, pn))
    return CPNS_ERR_TOOBIG;
  return 0;
}

static int cred_put(struct cpns_store *st, const struct cpns_credential *c) {
  struct sqlite_store *s = impl(st);
  int rc = cred_check(c);
  if (rc) return rc;
  sqlite3_stmt *q = s->stmt[S_CRED_PUT];
  rc = bind_str(q, 1, c->identity) | bind_str(q, 2, c->role) | bind_str(q, 3, c->pn) |
       bind_secret(q, 4, c->key) | sqlite3_bind_int64(q, 5, c->generation) |
       sqlite3_bind_int64(q, 6, c->created_at) | sqlite3_bind_int64(q, 7, c->rotated_at);
  if (rc != SQLITE_OK) return bind_secret_fail(s, q, "cred_put: bind");
  return run_secret(s, S_CRED_PUT, "cred_put");
}

/* The lookup shared by cred_get and enroll_get: binds identity to a
 * statement of one row and hands the row to fill. */
static int get_by_identity(struct sqlite_store *s, enum stmt_id id, const char *identity,
                           const char *what, int (*fill)(struct sqlite_store *, sqlite3_stmt *,
                                                         void *),
                           void *out) {
  if (key_too_long(identity, CPNS_ID_MAX)) return CPNS_ERR_NOTFOUND;
  sqlite3_stmt *q = s->stmt[id];
  if (bind_str(q, 1, identity) != SQLITE_OK) return stmt_fail(s, q, what);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    rc = fill(s, q, out);
  } else if (rc == SQLITE_DONE) {
    rc = CPNS_ERR_NOTFOUND;
  } else {
    return stmt_fail(s, q, what);
  }
  sqlite3_reset(q);
  return rc;
}

static int fill_cred(struct sqlite_store *s, sqlite3_stmt *q, void *out) {
  return cred_from_row(s, q, out);
}

static int fill_enroll(struct sqlite_store *s, sqlite3_stmt *q, void *out) {
  return enroll_from_row(s, q, out);
}

static int cred_get(struct cpns_store *st, const char *identity, struct cpns_credential *out) {
  if (!identity || !out) return CPNS_ERR_INVAL;
  return get_by_identity(impl(st), S_CRED_GET, identity, "cred_get", fill_cred, out);
}

/* Runs a "DELETE ... WHERE identity = ?1": CPNS_ERR_NOTFOUND when no row went. */
static int delete_by_identity(struct sqlite_store *s, enum stmt_id id, const char *identity,
                              const char *what) {
  if (!identity) return CPNS_ERR_INVAL;
  if (key_too_long(identity, CPNS_ID_MAX)) return CPNS_ERR_NOTFOUND;
  sqlite3_stmt *q = s->stmt[id];
  if (bind_str(q, 1, identity) != SQLITE_OK) return stmt_fail(s, q, what);
  int rc = run(s, id, what);
  if (!rc && sqlite3_changes(s->db) == 0) rc = CPNS_ERR_NOTFOUND;
  return rc;
}

static int cred_delete(struct cpns_store *st, const char *identity) {
  return delete_by_identity(impl(st), S_CRED_DELETE, identity, "cred_delete");
}

static int cred_count(struct cpns_store *st, uint64_t *out) {
  struct sqlite_store *s = impl(st);
  if (!out) return CPNS_ERR_INVAL;
  int64_t n;
  int rc = run_int(s, S_CRED_COUNT, "cred_count", &n);
  if (!rc) *out = (uint64_t)n;
  return rc;
}

/* created_by may be empty (an enrollment made locally, by no identity). */
static int enroll_put(struct cpns_store *st, const struct cpns_enrollment *e) {
  struct sqlite_store *s = impl(st);
  if (!e || !e->identity[0] || !e->role[0]) return CPNS_ERR_INVAL;
  if (!FIELD_FITS(e, identity) || !FIELD_FITS(e, role) || !FIELD_FITS(e, pn) ||
      !FIELD_FITS(e, created_by))
    return CPNS_ERR_TOOBIG;
  sqlite3_stmt *q = s->stmt[S_ENROLL_PUT];
  int rc = bind_str(q, 1, e->identity) | bind_str(q, 2, e->role) | bind_str(q, 3, e->pn) |
           bind_secret(q, 4, e->psk) | sqlite3_bind_int64(q, 5, e->created_at) |
           sqlite3_bind_int64(q, 6, e->expires_at) | bind_str(q, 7, e->created_by);
  if (rc != SQLITE_OK) return bind_secret_fail(s, q, "enroll_put: bind");
  return run_secret(s, S_ENROLL_PUT, "enroll_put");
}

static int enroll_get(struct cpns_store *st, const char *identity, struct cpns_enrollment *out) {
  if (!identity || !out) return CPNS_ERR_INVAL;
  return get_by_identity(impl(st), S_ENROLL_GET, identity, "enroll_get", fill_enroll, out);
}

/* One transaction, so that two redeemers (the daemon and a second process on
 * the same file) cannot both succeed: BEGIN IMMEDIATE takes the write lock
 * before the enrollment is read. The PSK is not read here; the caller checked
 * the code against enroll_get's copy. An expired enrollment is deleted and
 * that deletion committed, then CPNS_ERR_DENIED returned. */
static int enroll_redeem(struct cpns_store *st, const char *identity, int64_t now,
                         const struct cpns_credential *c) {
  struct sqlite_store *s = impl(st);
  int rc = cred_check(c);
  if (rc) return rc;
  /* c->identity is a checked string: strcmp stops within it. */
  if (!identity || strcmp(identity, c->identity) != 0) return CPNS_ERR_INVAL;
  if ((rc = tx_begin(s))) return rc;
  sqlite3_stmt *q = s->stmt[S_ENROLL_EXPIRY];
  int64_t expires_at = 0;
  if (bind_str(q, 1, identity) != SQLITE_OK) {
    rc = stmt_fail(s, q, "enroll_redeem: bind");
  } else {
    int sr = sqlite3_step(q);
    if (sr == SQLITE_ROW)
      expires_at = sqlite3_column_int64(q, 0);
    else if (sr == SQLITE_DONE)
      rc = CPNS_ERR_NOTFOUND;
    else
      rc = db_fail(s, "enroll_redeem: select");
    sqlite3_reset(q);
  }
  bool expired = expires_at <= now;
  if (!rc) rc = delete_by_identity(s, S_ENROLL_DELETE, identity, "enroll_redeem: delete");
  if (!rc && !expired) rc = cred_put(st, c);
  if (rc) {
    tx_rollback(s);
    return rc;
  }
  rc = tx_commit(s);
  return rc ? rc : expired ? CPNS_ERR_DENIED : 0;
}

static int enroll_delete(struct cpns_store *st, const char *identity) {
  return delete_by_identity(impl(st), S_ENROLL_DELETE, identity, "enroll_delete");
}

/* One statement, hence one transaction: pending enrollments are few. */
static int enroll_expire(struct cpns_store *st, int64_t now, unsigned *removed) {
  struct sqlite_store *s = impl(st);
  if (removed) *removed = 0;
  sqlite3_stmt *q = s->stmt[S_ENROLL_EXPIRE];
  if (sqlite3_bind_int64(q, 1, now) != SQLITE_OK) return stmt_fail(s, q, "enroll_expire: bind");
  int rc = run(s, S_ENROLL_EXPIRE, "enroll_expire");
  if (!rc && removed) *removed = (unsigned)sqlite3_changes(s->db);
  return rc;
}

/* ---- Service Groups ------------------------------------------------------ *
 * The group key is a secret like the credentials above: bound SQLITE_STATIC,
 * bindings cleared after use, never logged. */

const char *cpns_member_state_name(enum cpns_member_state s) {
  return s == CPNS_MEMBER_JOINED ? "member" : s == CPNS_MEMBER_INVITED ? "invited" : "?";
}

static bool member_state_valid(enum cpns_member_state s) {
  return s == CPNS_MEMBER_INVITED || s == CPNS_MEMBER_JOINED;
}

static int group_from_row(struct sqlite_store *s, sqlite3_stmt *st, struct cpns_group_rec *g) {
  int64_t is_open, epoch;
  memset(g, 0, sizeof *g);
  int rc = col_str(s, st, 0, g->id, sizeof g->id);
  if (!rc) rc = col_str(s, st, 1, g->owner, sizeof g->owner);
  if (!rc) rc = col_str(s, st, 2, g->pn, sizeof g->pn);
  if (!rc) rc = col_int(st, 3, 0, 1, &is_open);
  if (!rc) rc = col_int(st, 4, 0, UINT32_MAX, &epoch);
  if (!rc) rc = col_secret(s, st, 5, g->key);
  int64_t replica = 0;
  if (!rc) rc = col_int(st, 8, 0, 1, &replica);
  if (rc) {
    OPENSSL_cleanse(g, sizeof *g);
    return rc;
  }
  g->open = is_open != 0;
  g->epoch = (uint32_t)epoch;
  g->key_expires = sqlite3_column_int64(st, 6);
  g->created_at = sqlite3_column_int64(st, 7);
  g->replica = replica != 0;
  return 0;
}

static int fill_group(struct sqlite_store *s, sqlite3_stmt *q, void *out) {
  return group_from_row(s, q, out);
}

static int group_put(struct cpns_store *st, const struct cpns_group_rec *g) {
  struct sqlite_store *s = impl(st);
  if (!g || !g->id[0] || !g->owner[0]) return CPNS_ERR_INVAL;
  if (!FIELD_FITS(g, id) || !FIELD_FITS(g, owner) || !FIELD_FITS(g, pn)) return CPNS_ERR_TOOBIG;
  sqlite3_stmt *q = s->stmt[S_GROUP_PUT];
  int rc = bind_str(q, 1, g->id) | bind_str(q, 2, g->owner) | bind_str(q, 3, g->pn) |
           sqlite3_bind_int(q, 4, g->open ? 1 : 0) | sqlite3_bind_int64(q, 5, g->epoch) |
           bind_secret(q, 6, g->key) | sqlite3_bind_int64(q, 7, g->key_expires) |
           sqlite3_bind_int64(q, 8, g->created_at) | sqlite3_bind_int(q, 9, g->replica ? 1 : 0);
  if (rc != SQLITE_OK) return bind_secret_fail(s, q, "group_put: bind");
  return run_secret(s, S_GROUP_PUT, "group_put");
}

static int group_get(struct cpns_store *st, const char *id, struct cpns_group_rec *out) {
  if (!id || !out) return CPNS_ERR_INVAL;
  return get_by_identity(impl(st), S_GROUP_GET, id, "group_get", fill_group, out);
}

static int group_delete(struct cpns_store *st, const char *id) {
  return delete_by_identity(impl(st), S_GROUP_DELETE, id, "group_delete");
}

/* Binds (group, member) to the first two parameters of statement id. */
static int bind_member(struct sqlite_store *s, enum stmt_id id, const char *group,
                       const char *member, const char *what) {
  sqlite3_stmt *q = s->stmt[id];
  if ((bind_str(q, 1, group) | bind_str(q, 2, member)) != SQLITE_OK) return stmt_fail(s, q, what);
  return 0;
}

static int member_check(const char *group, const char *member, const char *pn) {
  int rc = check_str(group, CPNS_ID_MAX, false);
  if (!rc) rc = check_str(member, CPNS_ID_MAX, false);
  return rc ? rc : check_str(pn ? pn : "", CPNS_ID_MAX, true);
}

/* The group must exist: a foreign key failure becomes CPNS_ERR_NOTFOUND. */
static int member_put_locked(struct sqlite_store *s, const char *group, const char *member,
                             const char *pn, enum cpns_member_state state) {
  int rc = bind_member(s, S_MEMBER_PUT, group, member, "member_put: bind");
  if (rc) return rc;
  sqlite3_stmt *q = s->stmt[S_MEMBER_PUT];
  if ((sqlite3_bind_int(q, 3, (int)state) | bind_str(q, 4, pn ? pn : "")) != SQLITE_OK)
    return stmt_fail(s, q, "member_put: bind");
  int sr = sqlite3_step(q);
  if (sr == SQLITE_DONE) {
    sqlite3_reset(q);
    return 0;
  }
  if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY) {
    sqlite3_reset(q);
    return CPNS_ERR_NOTFOUND;
  }
  return stmt_fail(s, q, "member_put");
}

static int member_put(struct cpns_store *st, const char *group, const char *member,
                      const char *pn, enum cpns_member_state state) {
  int rc = member_check(group, member, pn);
  if (rc) return rc;
  if (!member_state_valid(state)) return CPNS_ERR_INVAL;
  return member_put_locked(impl(st), group, member, pn, state);
}

static int member_get(struct cpns_store *st, const char *group, const char *member,
                      enum cpns_member_state *out, char *pn_out) {
  struct sqlite_store *s = impl(st);
  if (!group || !member || !out) return CPNS_ERR_INVAL;
  if (key_too_long(group, CPNS_ID_MAX) || key_too_long(member, CPNS_ID_MAX))
    return CPNS_ERR_NOTFOUND;
  int rc = bind_member(s, S_MEMBER_GET, group, member, "member_get: bind");
  if (rc) return rc;
  sqlite3_stmt *q = s->stmt[S_MEMBER_GET];
  int sr = sqlite3_step(q);
  if (sr == SQLITE_ROW) {
    int64_t v;
    rc = col_int(q, 0, CPNS_MEMBER_INVITED, CPNS_MEMBER_JOINED, &v);
    if (!rc) *out = (enum cpns_member_state)v;
    if (!rc && pn_out) rc = col_str(s, q, 1, pn_out, CPNS_ID_MAX + 1);
  } else if (sr == SQLITE_DONE) {
    rc = CPNS_ERR_NOTFOUND;
  } else {
    return stmt_fail(s, q, "member_get");
  }
  sqlite3_reset(q);
  return rc;
}

static int member_delete_locked(struct sqlite_store *s, const char *group, const char *member) {
  int rc = bind_member(s, S_MEMBER_DELETE, group, member, "member_delete: bind");
  if (!rc) rc = run(s, S_MEMBER_DELETE, "member_delete");
  if (!rc && sqlite3_changes(s->db) == 0) rc = CPNS_ERR_NOTFOUND;
  return rc;
}

static int member_delete(struct cpns_store *st, const char *group, const char *member) {
  if (!group || !member) return CPNS_ERR_INVAL;
  if (key_too_long(group, CPNS_ID_MAX) || key_too_long(member, CPNS_ID_MAX))
    return CPNS_ERR_NOTFOUND;
  return member_delete_locked(impl(st), group, member);
}

/* In chunks, like entity_list, so that cb may use the store. */
static int member_list(struct cpns_store *st, const char *group, cpns_member_cb cb, void *arg) {
  struct sqlite_store *s = impl(st);
  if (!group || !cb) return CPNS_ERR_INVAL;
  if (key_too_long(group, CPNS_ID_MAX)) return 0;
  struct row {
    char member[CPNS_ID_MAX + 1];
    char pn[CPNS_ID_MAX + 1];
    enum cpns_member_state state;
  } *rows = malloc(LIST_CHUNK * sizeof *rows);
  if (!rows) return CPNS_ERR_NOMEM;
  char last[CPNS_ID_MAX + 1] = "";
  sqlite3_stmt *q = s->stmt[S_MEMBER_LIST];
  int rc = 0;
  for (;;) {
    if ((bind_str(q, 1, group) | bind_str(q, 2, last) | sqlite3_bind_int(q, 3, LIST_CHUNK)) !=
        SQLITE_OK) {
      rc = stmt_fail(s, q, "member_list: bind");
      break;
    }
    unsigned n = 0;
    int sr = SQLITE_DONE;
    while (n < LIST_CHUNK && (sr = sqlite3_step(q)) == SQLITE_ROW) {
      int64_t v;
      if ((rc = col_str(s, q, 0, rows[n].member, sizeof rows[n].member)) ||
          (rc = col_int(q, 1, CPNS_MEMBER_INVITED, CPNS_MEMBER_JOINED, &v)) ||
          (rc = col_str(s, q, 2, rows[n].pn, sizeof rows[n].pn)))
        break;
      rows[n].state = (enum cpns_member_state)v;
      n++;
    }
    if (!rc && n < LIST_CHUNK && sr != SQLITE_DONE) rc = db_fail(s, "member_list");
    sqlite3_reset(q);
    if (rc) break;
    for (unsigned i = 0; i < n; i++)
      if (cb(arg, rows[i].member, rows[i].pn, rows[i].state)) goto out;
    if (n < LIST_CHUNK) break;
    memcpy(last, rows[n - 1].member, sizeof last);
  }
out:
  free(rows);
  return rc;
}

/* One transaction: a member is never in the group under the old key, nor out
 * of it with the old key still current. */
static int group_member_change(struct cpns_store *st, const char *group, const char *member,
                               const char *pn, const enum cpns_member_state *state,
                               const uint8_t *key, uint32_t epoch, int64_t key_expires) {
  struct sqlite_store *s = impl(st);
  int rc = member_check(group, member, pn);
  if (rc) return rc;
  if (!key || (state && !member_state_valid(*state))) return CPNS_ERR_INVAL;
  if ((rc = tx_begin(s))) return rc;
  rc = state ? member_put_locked(s, group, member, pn, *state)
             : member_delete_locked(s, group, member);
  if (!rc) {
    sqlite3_stmt *q = s->stmt[S_GROUP_REKEY];
    if ((bind_str(q, 1, group) | bind_secret(q, 2, key) | sqlite3_bind_int64(q, 3, epoch) |
         sqlite3_bind_int64(q, 4, key_expires)) != SQLITE_OK)
      rc = bind_secret_fail(s, q, "group_member_change: bind");
    else
      rc = run_secret(s, S_GROUP_REKEY, "group_member_change");
    if (!rc && sqlite3_changes(s->db) == 0) rc = CPNS_ERR_NOTFOUND;
  }
  if (rc) {
    tx_rollback(s);
    return rc;
  }
  return tx_commit(s);
}

static int group_list_ids(struct cpns_store *st, int (*cb)(void *arg, const char *id), void *arg) {
  struct sqlite_store *s = impl(st);
  if (!cb) return CPNS_ERR_INVAL;
  sqlite3_stmt *q = s->stmt[S_GROUP_LIST_IDS];
  int rc = 0, sr;
  while ((sr = sqlite3_step(q)) == SQLITE_ROW) {
    char id[CPNS_ID_MAX + 1];
    if ((rc = col_str(s, q, 0, id, sizeof id)) || cb(arg, id)) break;
  }
  if (!rc && sr != SQLITE_ROW && sr != SQLITE_DONE) return stmt_fail(s, q, "group_list_ids");
  sqlite3_reset(q);
  return rc;
}

static int group_sync(struct cpns_store *st, const struct cpns_group_rec *g, const char *pn,
                      const char *const *members, size_t n) {
  struct sqlite_store *s = impl(st);
  if (!g || (n && !members)) return CPNS_ERR_INVAL;
  int rc = check_str(pn ? pn : "", CPNS_ID_MAX, true);
  for (size_t i = 0; !rc && i < n; i++) rc = member_check(g->id, members[i], pn);
  if (rc || (rc = tx_begin(s))) return rc;
  rc = group_put(st, g);
  if (!rc) {
    sqlite3_stmt *q = s->stmt[S_MEMBER_CLEAR];
    rc = bind_str(q, 1, g->id) != SQLITE_OK ? stmt_fail(s, q, "group_sync: bind")
                                            : run(s, S_MEMBER_CLEAR, "group_sync");
  }
  for (size_t i = 0; !rc && i < n; i++)
    rc = member_put_locked(s, g->id, members[i], pn, CPNS_MEMBER_JOINED);
  if (rc) {
    tx_rollback(s);
    return rc;
  }
  return tx_commit(s);
}

/* Steps statement id (its ?1 bound to key) and hands column 0 of each row to
 * cb. */
static int visit_ids(struct sqlite_store *s, enum stmt_id id, const char *key,
                     int (*cb)(void *arg, const char *id), void *arg, const char *what) {
  if (!key || !cb) return CPNS_ERR_INVAL;
  if (key_too_long(key, CPNS_ID_MAX)) return 0;
  sqlite3_stmt *q = s->stmt[id];
  if (bind_str(q, 1, key) != SQLITE_OK) return stmt_fail(s, q, what);
  int rc = 0, sr;
  while ((sr = sqlite3_step(q)) == SQLITE_ROW) {
    char v[CPNS_ID_MAX + 1];
    if ((rc = col_str(s, q, 0, v, sizeof v)) || cb(arg, v)) break;
  }
  if (!rc && sr != SQLITE_ROW && sr != SQLITE_DONE) return stmt_fail(s, q, what);
  sqlite3_reset(q);
  return rc;
}

static int group_ids_of_pn(struct cpns_store *st, const char *pn,
                           int (*cb)(void *arg, const char *id), void *arg) {
  return visit_ids(impl(st), S_GROUP_IDS_OF_PN, pn, cb, arg, "group_ids_of_pn");
}

static int group_member_pns(struct cpns_store *st, const char *group,
                            int (*cb)(void *arg, const char *pn), void *arg) {
  return visit_ids(impl(st), S_GROUP_MEMBER_PNS, group, cb, arg, "group_member_pns");
}

/* ---- Metadata Directory -------------------------------------------------- *
 * A service row holds the offerer's description as JSON, read back through
 * cpns_service_parse(): a row this code did not write does not become a
 * service. Lookups never scan: every candidate comes from an index range
 * (a keyword's entries in one scope, an offerer's or a PN's services), read
 * STREAM_CHUNK ids per seek, several ranges merged in id order. */

/* Ids one lookup stream reads per index seek. */
#define STREAM_CHUNK 16
/* Services expired or removed per transaction (each loaded for its callback). */
#define SERVICE_CHUNK 64
/* Interests read per round trip by interest_list (each is two texts of up to
 * CPNS_INTEREST_TEXT_MAX bytes). */
#define INTEREST_CHUNK 16
/* Index entries counted, at most, per keyword to find the rarest keyword
 * of an all-lookup (a bounded probe, not a count of the whole range). */
#define ALL_PROBE_CAP 64
/* Streams of one lookup: each keyword in at most two scopes. */
#define FIND_STREAMS_MAX (2 * CPNS_PREFIX_EXPANSION_MAX)

_Static_assert(CPNS_KEYWORD_MAX <= CPNS_ID_MAX, "a stream key holds a keyword or an id");
_Static_assert(CPNS_QUERY_KEYWORDS_MAX <= CPNS_PREFIX_EXPANSION_MAX,
               "the streams of the keywords themselves fit");

/* '' for a public service, its PN for a private one (never '': see
 * service_check). */
static const char *service_scope(const struct cpns_service *sv) {
  return sv->visibility == CPNS_VIS_PUBLIC ? "" : sv->pn;
}

static int service_check(const struct cpns_service *sv) {
  if (!sv || !sv->id[0] || !sv->offerer[0]) return CPNS_ERR_INVAL;
  if (!FIELD_FITS(sv, id) || !FIELD_FITS(sv, offerer) || !FIELD_FITS(sv, pn))
    return CPNS_ERR_TOOBIG;
  if (sv->visibility == CPNS_VIS_PN && !sv->pn[0]) return CPNS_ERR_INVAL;
  if (sv->nkeywords == 0 || sv->nkeywords > CPNS_SERVICE_KEYWORDS_MAX) return CPNS_ERR_INVAL;
  for (unsigned i = 0; i < sv->nkeywords; i++)
    if (!FIELD_FITS(sv, keywords[i]) || !sv->keywords[i][0]) return CPNS_ERR_INVAL;
  return 0;
}

static int service_put(struct cpns_store *st, const struct cpns_service *sv) {
  struct sqlite_store *s = impl(st);
  int rc = service_check(sv);
  if (rc) return rc;
  json_t *d = cpns_service_describe(sv);
  char *doc = d ? json_dumps(d, JSON_COMPACT) : NULL;
  json_decref(d);
  if (!doc) return CPNS_ERR_NOMEM;
  if ((rc = tx_begin(s))) {
    free(doc);
    return rc;
  }
  sqlite3_stmt *q = s->stmt[S_SVC_PUT];
  if ((bind_str(q, 1, sv->id) | bind_str(q, 2, sv->offerer) | bind_str(q, 3, sv->pn) |
       bind_str(q, 4, doc) | sqlite3_bind_int64(q, 5, sv->created_at) |
       sqlite3_bind_int64(q, 6, sv->updated_at) | sqlite3_bind_int64(q, 7, sv->expires_at)) !=
      SQLITE_OK)
    rc = stmt_fail(s, q, "service_put: bind");
  else
    rc = run(s, S_SVC_PUT, "service_put");
  if (!rc) {
    q = s->stmt[S_SVC_KW_CLEAR];
    rc = bind_str(q, 1, sv->id) != SQLITE_OK ? stmt_fail(s, q, "service_put: bind")
                                             : run(s, S_SVC_KW_CLEAR, "service_put: keywords");
  }
  q = s->stmt[S_SVC_KW_ADD];
  for (unsigned i = 0; !rc && i < sv->nkeywords; i++) {
    if ((bind_str(q, 1, sv->keywords[i]) | bind_str(q, 2, service_scope(sv)) |
         bind_str(q, 3, sv->id)) != SQLITE_OK)
      rc = stmt_fail(s, q, "service_put: bind");
    else
      rc = run(s, S_SVC_KW_ADD, "service_put: keyword");
  }
  /* The doc buffer is bound SQLITE_STATIC: drop the binding before freeing it. */
  sqlite3_clear_bindings(s->stmt[S_SVC_PUT]);
  free(doc);
  if (rc) {
    tx_rollback(s);
    return rc;
  }
  return tx_commit(s);
}

/* A row in SVC_COLS order into *out; its doc must parse as a description. */
static int fill_service(struct sqlite_store *s, sqlite3_stmt *q, void *out) {
  struct cpns_service *sv = out;
  const char *t = (const char *)sqlite3_column_text(q, 3);
  int n = sqlite3_column_bytes(q, 3);
  if (!t) return db_fail(s, "read service"); /* NOT NULL column: out of memory */
  json_error_t je;
  json_t *j = json_loadb(t, (size_t)n, JSON_REJECT_DUPLICATES, &je);
  char err[160];
  int rc = j ? cpns_service_parse(j, sv, err, sizeof err) : CPNS_ERR_INVAL;
  json_decref(j);
  if (rc) {
    log_err("store", "a stored service description does not parse: %s", j ? err : je.text);
    return CPNS_ERR_STORE;
  }
  int64_t created, updated, expires;
  rc = col_str(s, q, 0, sv->id, sizeof sv->id);
  if (!rc) rc = col_str(s, q, 1, sv->offerer, sizeof sv->offerer);
  if (!rc) rc = col_str(s, q, 2, sv->pn, sizeof sv->pn);
  if (!rc) rc = col_int(q, 4, 0, INT64_MAX, &created);
  if (!rc) rc = col_int(q, 5, 0, INT64_MAX, &updated);
  if (!rc) rc = col_int(q, 6, INT64_MIN, INT64_MAX, &expires);
  if (rc) return rc;
  sv->created_at = created;
  sv->updated_at = updated;
  sv->expires_at = expires;
  return 0;
}

static int service_get(struct cpns_store *st, const char *id, struct cpns_service *out) {
  if (!id || !out) return CPNS_ERR_INVAL;
  return get_by_identity(impl(st), S_SVC_GET, id, "service_get", fill_service, out);
}

/* Its keyword rows go with it (ON DELETE CASCADE). */
static int service_delete(struct cpns_store *st, const char *id) {
  return delete_by_identity(impl(st), S_SVC_DELETE, id, "service_delete");
}

static int service_count(struct cpns_store *st, const char *offerer, uint64_t *out) {
  struct sqlite_store *s = impl(st);
  if (!out) return CPNS_ERR_INVAL;
  if (offerer && key_too_long(offerer, CPNS_ID_MAX)) {
    *out = 0;
    return 0;
  }
  enum stmt_id id = offerer ? S_SVC_COUNT_OFFERER : S_SVC_COUNT;
  if (offerer && bind_str(s->stmt[id], 1, offerer) != SQLITE_OK)
    return stmt_fail(s, s->stmt[id], "service_count: bind");
  int64_t n;
  int rc = run_int(s, id, "service_count", &n);
  if (!rc) *out = (uint64_t)n;
  return rc;
}

/* One index range of a lookup, read STREAM_CHUNK ids at a time after
 * cursor. */
enum stream_kind { STREAM_KW, STREAM_KW_ANY_SCOPE, STREAM_OFFERER, STREAM_PN };
struct stream {
  enum stream_kind kind;
  char key[CPNS_ID_MAX + 1];    /* a keyword, an offerer or a PN */
  char scope[CPNS_ID_MAX + 1];  /* STREAM_KW: '' (public) or a PN */
  char cursor[CPNS_ID_MAX + 1]; /* ids after this one come next */
  char ids[STREAM_CHUNK][CPNS_ID_MAX + 1];
  unsigned n, pos;
  bool drained; /* the last read returned fewer than asked: nothing after ids */
};

static int stream_fill(struct sqlite_store *s, struct stream *t) {
  static const enum stmt_id ids[] = {[STREAM_KW] = S_SVC_KW_SCOPED,
                                     [STREAM_KW_ANY_SCOPE] = S_SVC_KW_ANY_SCOPE,
                                     [STREAM_OFFERER] = S_SVC_BY_OFFERER,
                                     [STREAM_PN] = S_SVC_BY_PN};
  sqlite3_stmt *q = s->stmt[ids[t->kind]];
  int b = bind_str(q, 1, t->key), next = 2;
  if (t->kind == STREAM_KW) b |= bind_str(q, next++, t->scope);
  b |= bind_str(q, next, t->cursor) | sqlite3_bind_int(q, next + 1, STREAM_CHUNK);
  if (b != SQLITE_OK) return stmt_fail(s, q, "service_find: bind");
  unsigned n = 0;
  int sr = SQLITE_DONE, rc = 0;
  while (n < STREAM_CHUNK && (sr = sqlite3_step(q)) == SQLITE_ROW) {
    if ((rc = col_str(s, q, 0, t->ids[n], sizeof t->ids[n]))) break;
    n++;
  }
  if (!rc && n < STREAM_CHUNK && sr != SQLITE_DONE) rc = db_fail(s, "service_find");
  sqlite3_reset(q);
  if (rc) return rc;
  t->n = n;
  t->pos = 0;
  t->drained = n < STREAM_CHUNK;
  if (n) memcpy(t->cursor, t->ids[n - 1], sizeof t->cursor);
  return 0;
}

/* The stream's next id (*out, NULL at its end). */
static int stream_head(struct sqlite_store *s, struct stream *t, const char **out) {
  *out = NULL;
  if (t->pos == t->n) {
    if (t->drained) return 0;
    int rc = stream_fill(s, t);
    if (rc) return rc;
    if (t->n == 0) return 0;
  }
  *out = t->ids[t->pos];
  return 0;
}

/* The smallest head of all streams into cand ("" when all are at their
 * end); with pop, every stream at it moves past it. */
static int streams_next(struct sqlite_store *s, struct stream *ts, unsigned nt, bool pop,
                        char cand[CPNS_ID_MAX + 1]) {
  cand[0] = '\0';
  for (unsigned i = 0; i < nt; i++) {
    const char *h;
    int rc = stream_head(s, &ts[i], &h);
    if (rc) return rc;
    if (h && (!cand[0] || strcmp(h, cand) < 0)) memcpy(cand, h, CPNS_ID_MAX + 1);
  }
  if (!pop || !cand[0]) return 0;
  for (unsigned i = 0; i < nt; i++)
    if (ts[i].pos < ts[i].n && strcmp(ts[i].ids[ts[i].pos], cand) == 0) ts[i].pos++;
  return 0;
}

/* The streams of one keyword: the operator's one range, or the public range
 * and, when the caller may see them, its PN's private ones. */
static int add_keyword_streams(const struct cpns_service_find *f, const char *kw,
                               struct stream *ts, unsigned *nt, size_t cap) {
  const struct cpns_service_query *q = f->q;
  const char *vpn = f->viewer_pn ? f->viewer_pn : "";
  unsigned want = f->see_all ? 1 : (vpn[0] && (!q->pn[0] || strcmp(q->pn, vpn) == 0)) ? 2 : 1;
  if (*nt + want > cap) return CPNS_ERR_TOOBIG;
  for (unsigned k = 0; k < want; k++) {
    struct stream *t = &ts[(*nt)++];
    t->kind = f->see_all ? STREAM_KW_ANY_SCOPE : STREAM_KW;
    snprintf(t->key, sizeof t->key, "%s", kw);
    snprintf(t->scope, sizeof t->scope, "%s", k == 0 ? "" : vpn);
    snprintf(t->cursor, sizeof t->cursor, "%s", q->after);
  }
  return 0;
}

/* The keywords a prefix stands for, one index seek each: at most
 * CPNS_PREFIX_EXPANSION_MAX in all, else CPNS_ERR_TOOBIG. */
static int expand_prefix(struct sqlite_store *s, const struct cpns_service_find *f,
                         const char *prefix, struct stream *ts, unsigned *nt, unsigned *nkw) {
  char upper[CPNS_KEYWORD_MAX + 1], kw[CPNS_KEYWORD_MAX + 1];
  snprintf(upper, sizeof upper, "%s", prefix);
  size_t len = strlen(upper);
  /* Keywords are [a-z0-9._-]: the last byte + 1 stays below 0x7f. */
  upper[len - 1] = (char)(upper[len - 1] + 1);
  snprintf(kw, sizeof kw, "%s", prefix);
  for (enum stmt_id id = S_SVC_KW_FIRST;; id = S_SVC_KW_NEXT) {
    sqlite3_stmt *q = s->stmt[id];
    if ((bind_str(q, 1, kw) | bind_str(q, 2, upper)) != SQLITE_OK)
      return stmt_fail(s, q, "service_find: bind");
    int sr = sqlite3_step(q), rc = 0;
    if (sr == SQLITE_ROW) rc = col_str(s, q, 0, kw, sizeof kw);
    else if (sr != SQLITE_DONE) rc = db_fail(s, "service_find: prefix");
    sqlite3_reset(q);
    if (rc) return rc;
    if (sr == SQLITE_DONE) return 0;
    /* Prefixes may overlap ("vi" and "vid"): each keyword once. */
    bool dup = false;
    for (unsigned i = 0; i < *nt && !dup; i++) dup = strcmp(ts[i].key, kw) == 0;
    if (dup) continue;
    if (++*nkw > CPNS_PREFIX_EXPANSION_MAX) return CPNS_ERR_TOOBIG;
    if ((rc = add_keyword_streams(f, kw, ts, nt, FIND_STREAMS_MAX))) return rc;
  }
}

/* How many candidates the ranges of one keyword hold, counted up to
 * ALL_PROBE_CAP each: the cost of letting that keyword drive. */
static int keyword_weight(struct sqlite_store *s, const struct cpns_service_find *f,
                          const char *kw, int64_t *weight) {
  struct stream probe[2];
  unsigned n = 0;
  *weight = 0;
  int rc = add_keyword_streams(f, kw, probe, &n, sizeof probe / sizeof probe[0]);
  for (unsigned i = 0; !rc && i < n; i++) {
    const struct stream *t = &probe[i];
    enum stmt_id id = t->kind == STREAM_KW ? S_SVC_KW_PROBE : S_SVC_KW_PROBE_ANY;
    sqlite3_stmt *q = s->stmt[id];
    int b = bind_str(q, 1, t->key), next = 2;
    if (t->kind == STREAM_KW) b |= bind_str(q, next++, t->scope);
    b |= bind_str(q, next, t->cursor) | sqlite3_bind_int(q, next + 1, ALL_PROBE_CAP);
    int64_t c = 0;
    rc = b != SQLITE_OK ? stmt_fail(s, q, "service_find: bind")
                        : run_int(s, id, "service_find: probe", &c);
    *weight += c;
  }
  return rc;
}

static int service_find(struct cpns_store *st, const struct cpns_service_find *f,
                        cpns_service_cb cb, void *arg, char *last, bool *more) {
  struct sqlite_store *s = impl(st);
  if (!f || !f->q || !cb || !last || !more || f->budget == 0) return CPNS_ERR_INVAL;
  const struct cpns_service_query *q = f->q;
  last[0] = '\0';
  *more = false;
  if (!cpns_service_query_selective(q)) return CPNS_ERR_INVAL;
  if (key_too_long(q->after, CPNS_ID_MAX) || key_too_long(q->offerer, CPNS_ID_MAX) ||
      key_too_long(q->pn, CPNS_ID_MAX) || q->nkw > CPNS_QUERY_KEYWORDS_MAX)
    return CPNS_ERR_INVAL;
  /* As many streams as this lookup may open (each is 1 KiB of buffer): a
   * prefix's keywords are known only as they are read. */
  size_t cap = q->match == CPNS_MATCH_PREFIX && q->nkw ? FIND_STREAMS_MAX
                                                       : 2 * (q->nkw ? q->nkw : 1);
  struct stream *ts = calloc(cap, sizeof *ts);
  struct cpns_service *sv = malloc(sizeof *sv);
  int rc = ts && sv ? 0 : CPNS_ERR_NOMEM;
  /* Inside a caller's transaction, its; else a read transaction of ours. */
  bool own_tx = !rc && sqlite3_get_autocommit(s->db);
  if (own_tx && (rc = run(s, S_BEGIN_READ, "service_find: begin"))) own_tx = false;
  unsigned nt = 0, nkw = 0;
  /* The narrowest index first: an offerer has few services (a configured
   * limit), a keyword's scoped range holds only what the caller may see,
   * a PN's services are bounded by its entities. */
  if (rc) {
  } else if (q->offerer[0] || (!q->nkw && q->pn[0])) {
    ts[0].kind = q->offerer[0] ? STREAM_OFFERER : STREAM_PN;
    snprintf(ts[0].key, sizeof ts[0].key, "%s", q->offerer[0] ? q->offerer : q->pn);
    snprintf(ts[0].cursor, sizeof ts[0].cursor, "%s", q->after);
    nt = 1;
  } else if (q->match == CPNS_MATCH_PREFIX) {
    for (unsigned i = 0; !rc && i < q->nkw; i++) rc = expand_prefix(s, f, q->kw[i], ts, &nt, &nkw);
  } else {
    /* All: every answer has each keyword, so the rarest one's ranges drive
     * and the others are checked on the row. Any: the ranges of all. */
    if (q->match == CPNS_MATCH_ALL) {
      unsigned best = 0;
      int64_t best_w = INT64_MAX;
      for (unsigned i = 0; !rc && q->nkw > 1 && i < q->nkw; i++) {
        int64_t w;
        rc = keyword_weight(s, f, q->kw[i], &w);
        if (!rc && w < best_w) {
          best = i;
          best_w = w;
        }
      }
      if (!rc) rc = add_keyword_streams(f, q->kw[best], ts, &nt, cap);
    } else {
      for (unsigned i = 0; !rc && i < q->nkw; i++)
        rc = add_keyword_streams(f, q->kw[i], ts, &nt, cap);
    }
  }
  unsigned examined = 0;
  char cand[CPNS_ID_MAX + 1];
  while (!rc) {
    if (examined == f->budget) {
      rc = streams_next(s, ts, nt, false, cand);
      *more = cand[0] != '\0';
      break;
    }
    if ((rc = streams_next(s, ts, nt, true, cand)) || !cand[0]) break;
    examined++;
    memcpy(last, cand, sizeof cand);
    rc = service_get(st, cand, sv);
    if (rc == CPNS_ERR_NOTFOUND) { /* deleted by another process meanwhile */
      rc = 0;
      continue;
    }
    if (rc) break;
    if (sv->expires_at <= f->now || !cpns_service_visible(sv, f->see_all, f->viewer_pn) ||
        !cpns_service_query_matches(q, sv))
      continue;
    if (cb(arg, sv)) {
      rc = streams_next(s, ts, nt, false, cand);
      *more = cand[0] != '\0';
      break;
    }
  }
  /* COMMIT also ends a read-only transaction (and keeps what a callback
   * may have written); SQLite has rolled back when an error ended it. */
  if (own_tx && !sqlite3_get_autocommit(s->db)) {
    int crc = tx_commit(s);
    if (!rc) rc = crc;
  }
  free(sv);
  free(ts);
  return rc;
}

/* Loads, deletes and reports in transactions of SERVICE_CHUNK services: the
 * ids statement `select` (bound by bind) names the next ones to go, from
 * the start each time as those before have gone. */
static int remove_chunked(struct sqlite_store *s, enum stmt_id select,
                          int (*bind)(sqlite3_stmt *q, const void *arg), const void *bind_arg,
                          int limit_idx, cpns_service_cb cb, void *arg, const char *what) {
  struct cpns_service *recs = malloc(SERVICE_CHUNK * sizeof *recs);
  if (!recs) return CPNS_ERR_NOMEM;
  char(*ids)[CPNS_ID_MAX + 1] = malloc(SERVICE_CHUNK * sizeof *ids);
  if (!ids) {
    free(recs);
    return CPNS_ERR_NOMEM;
  }
  int rc = 0;
  unsigned n;
  do {
    n = 0;
    if ((rc = tx_begin(s))) break;
    sqlite3_stmt *q = s->stmt[select];
    if ((bind(q, bind_arg) | sqlite3_bind_int(q, limit_idx, SERVICE_CHUNK)) != SQLITE_OK) {
      rc = stmt_fail(s, q, what);
    } else {
      int sr = SQLITE_DONE;
      while (n < SERVICE_CHUNK && (sr = sqlite3_step(q)) == SQLITE_ROW) {
        if ((rc = col_str(s, q, 0, ids[n], sizeof ids[n]))) break;
        n++;
      }
      if (!rc && n < SERVICE_CHUNK && sr != SQLITE_DONE) rc = db_fail(s, what);
      sqlite3_reset(q);
    }
    for (unsigned i = 0; !rc && i < n; i++) {
      rc = service_get(&s->base, ids[i], &recs[i]);
      if (!rc) rc = delete_by_identity(s, S_SVC_DELETE, ids[i], what);
    }
    if (rc) {
      tx_rollback(s);
      break;
    }
    if (n == 0) {
      tx_rollback(s); /* nothing written */
      break;
    }
    if ((rc = tx_commit(s))) break;
    for (unsigned i = 0; cb && i < n; i++) (void)cb(arg, &recs[i]);
  } while (n == SERVICE_CHUNK);
  free(ids);
  free(recs);
  return rc;
}

static int bind_now(sqlite3_stmt *q, const void *arg) {
  return sqlite3_bind_int64(q, 1, *(const int64_t *)arg);
}

static int service_expire(struct cpns_store *st, int64_t now, cpns_service_cb cb, void *arg) {
  return remove_chunked(impl(st), S_SVC_EXPIRED, bind_now, &now, 2, cb, arg, "service_expire");
}

struct owner_key {
  const char *pn, *offerer;
};

static int bind_owner(sqlite3_stmt *q, const void *arg) {
  const struct owner_key *k = arg;
  return k->offerer ? bind_str(q, 1, k->offerer) | bind_str(q, 2, k->pn) : bind_str(q, 1, k->pn);
}

static int service_remove(struct cpns_store *st, const char *pn, const char *offerer,
                          cpns_service_cb cb, void *arg) {
  if (!pn) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX) || (offerer && key_too_long(offerer, CPNS_ID_MAX))) return 0;
  struct owner_key k = {pn, offerer};
  return remove_chunked(impl(st), offerer ? S_SVC_OF_OFFERER : S_SVC_OF_PN, bind_owner, &k,
                        offerer ? 3 : 2, cb, arg, "service_remove");
}

/* ---- interests ---- */

static int interest_from_row(struct sqlite_store *s, sqlite3_stmt *q, struct cpns_interest_rec *r) {
  int64_t see_all, seq, created;
  memset(r, 0, sizeof *r);
  int rc = col_str(s, q, 0, r->id, sizeof r->id);
  if (!rc) rc = col_str(s, q, 1, r->owner, sizeof r->owner);
  if (!rc) rc = col_str(s, q, 2, r->owner_pn, sizeof r->owner_pn);
  if (!rc) rc = col_int(q, 3, 0, 1, &see_all);
  if (!rc) rc = col_str(s, q, 4, r->query, sizeof r->query);
  if (!rc) rc = col_str(s, q, 5, r->events, sizeof r->events);
  if (!rc) rc = col_int(q, 6, 0, INT64_MAX, &seq);
  if (!rc) rc = col_int(q, 7, 0, INT64_MAX, &created);
  if (rc) return rc;
  r->see_all = see_all != 0;
  r->seq = (uint64_t)seq;
  r->created_at = created;
  return 0;
}

static int fill_interest(struct sqlite_store *s, sqlite3_stmt *q, void *out) {
  return interest_from_row(s, q, out);
}

static int interest_put(struct cpns_store *st, const struct cpns_interest_rec *r) {
  struct sqlite_store *s = impl(st);
  if (!r || !r->id[0] || !r->owner[0] || !r->query[0] || r->seq > INT64_MAX) return CPNS_ERR_INVAL;
  if (!FIELD_FITS(r, id) || !FIELD_FITS(r, owner) || !FIELD_FITS(r, owner_pn) ||
      !FIELD_FITS(r, query) || !FIELD_FITS(r, events))
    return CPNS_ERR_TOOBIG;
  sqlite3_stmt *q = s->stmt[S_INT_PUT];
  if ((bind_str(q, 1, r->id) | bind_str(q, 2, r->owner) | bind_str(q, 3, r->owner_pn) |
       sqlite3_bind_int(q, 4, r->see_all ? 1 : 0) | bind_str(q, 5, r->query) |
       bind_str(q, 6, r->events) | sqlite3_bind_int64(q, 7, (int64_t)r->seq) |
       sqlite3_bind_int64(q, 8, r->created_at)) != SQLITE_OK)
    return stmt_fail(s, q, "interest_put: bind");
  return run(s, S_INT_PUT, "interest_put");
}

static int interest_get(struct cpns_store *st, const char *id, struct cpns_interest_rec *out) {
  if (!id || !out) return CPNS_ERR_INVAL;
  return get_by_identity(impl(st), S_INT_GET, id, "interest_get", fill_interest, out);
}

static int interest_delete(struct cpns_store *st, const char *id) {
  return delete_by_identity(impl(st), S_INT_DELETE, id, "interest_delete");
}

static int interest_count(struct cpns_store *st, const char *owner, uint64_t *out) {
  struct sqlite_store *s = impl(st);
  if (!out) return CPNS_ERR_INVAL;
  if (owner && key_too_long(owner, CPNS_ID_MAX)) {
    *out = 0;
    return 0;
  }
  enum stmt_id id = owner ? S_INT_COUNT_OWNER : S_INT_COUNT;
  if (owner && bind_str(s->stmt[id], 1, owner) != SQLITE_OK)
    return stmt_fail(s, s->stmt[id], "interest_count: bind");
  int64_t n;
  int rc = run_int(s, id, "interest_count", &n);
  if (!rc) *out = (uint64_t)n;
  return rc;
}

/* In chunks, like pn_list, so that cb may use the store. */
static int interest_list(struct cpns_store *st,
                         int (*cb)(void *arg, const struct cpns_interest_rec *i), void *arg) {
  struct sqlite_store *s = impl(st);
  if (!cb) return CPNS_ERR_INVAL;
  struct cpns_interest_rec *recs = malloc(INTEREST_CHUNK * sizeof *recs);
  if (!recs) return CPNS_ERR_NOMEM;
  char last[CPNS_ID_MAX + 1] = "";
  sqlite3_stmt *q = s->stmt[S_INT_LIST];
  int rc = 0;
  for (;;) {
    if ((bind_str(q, 1, last) | sqlite3_bind_int(q, 2, INTEREST_CHUNK)) != SQLITE_OK) {
      rc = stmt_fail(s, q, "interest_list: bind");
      break;
    }
    unsigned n = 0;
    int sr = SQLITE_DONE;
    while (n < INTEREST_CHUNK && (sr = sqlite3_step(q)) == SQLITE_ROW) {
      if ((rc = interest_from_row(s, q, &recs[n]))) break;
      n++;
    }
    if (!rc && n < INTEREST_CHUNK && sr != SQLITE_DONE) rc = db_fail(s, "interest_list");
    sqlite3_reset(q);
    if (rc) break;
    for (unsigned i = 0; i < n; i++)
      if (cb(arg, &recs[i])) goto out;
    if (n < INTEREST_CHUNK) break;
    memcpy(last, recs[n - 1].id, sizeof last);
  }
out:
  free(recs);
  return rc;
}

static int interest_event(struct cpns_store *st, const char *id, uint64_t seq,
                          const char *events) {
  struct sqlite_store *s = impl(st);
  int rc = check_str(id, CPNS_ID_MAX, false);
  if (!rc) rc = check_str(events, CPNS_INTEREST_TEXT_MAX, false);
  if (rc) return rc;
  if (seq > INT64_MAX) return CPNS_ERR_INVAL;
  sqlite3_stmt *q = s->stmt[S_INT_EVENT];
  if ((bind_str(q, 1, id) | sqlite3_bind_int64(q, 2, (int64_t)seq) | bind_str(q, 3, events)) !=
      SQLITE_OK)
    return stmt_fail(s, q, "interest_event: bind");
  rc = run(s, S_INT_EVENT, "interest_event");
  if (!rc && sqlite3_changes(s->db) == 0) rc = CPNS_ERR_NOTFOUND;
  return rc;
}

/* ---- device capabilities -------------------------------------------------- */

/* Documents are up to 16 KiB each: fewer of them per round trip than
 * LIST_CHUNK, so that a chunk stays near 256 KiB. */
#define CAPS_CHUNK 16

static int caps_from_row(struct sqlite_store *s, sqlite3_stmt *q, struct cpns_caps_rec *c) {
  memset(c, 0, sizeof *c);
  int64_t rev;
  int rc = col_str(s, q, 0, c->pn, sizeof c->pn);
  if (!rc) rc = col_str(s, q, 1, c->id, sizeof c->id);
  if (!rc) rc = col_int(q, 2, 0, INT64_MAX, &rev);
  if (!rc) rc = col_str(s, q, 4, c->doc, sizeof c->doc);
  if (rc) return rc;
  c->rev = (uint64_t)rev;
  c->updated_at = sqlite3_column_int64(q, 3);
  return 0;
}

static int caps_put(struct cpns_store *st, const struct cpns_caps_rec *c) {
  struct sqlite_store *s = impl(st);
  if (!c || !c->pn[0] || !c->id[0] || !c->doc[0] || c->rev > INT64_MAX) return CPNS_ERR_INVAL;
  if (!FIELD_FITS(c, pn) || !FIELD_FITS(c, id) || !FIELD_FITS(c, doc)) return CPNS_ERR_TOOBIG;
  sqlite3_stmt *q = s->stmt[S_CAPS_PUT];
  if ((bind_str(q, 1, c->pn) | bind_str(q, 2, c->id) | sqlite3_bind_int64(q, 3, (int64_t)c->rev) |
       sqlite3_bind_int64(q, 4, c->updated_at) | bind_str(q, 5, c->doc)) != SQLITE_OK)
    return stmt_fail(s, q, "caps_put: bind");
  if (sqlite3_step(q) == SQLITE_DONE) {
    sqlite3_reset(q);
    return 0;
  }
  /* No such entity: the caller's answer (4.04), not a store failure. */
  if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY) {
    sqlite3_reset(q);
    return CPNS_ERR_NOTFOUND;
  }
  return stmt_fail(s, q, "caps_put");
}

static int caps_get(struct cpns_store *st, const char *pn, const char *id,
                    struct cpns_caps_rec *out) {
  struct sqlite_store *s = impl(st);
  if (!pn || !id || !out) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX) || key_too_long(id, CPNS_ID_MAX)) return CPNS_ERR_NOTFOUND;
  sqlite3_stmt *q = s->stmt[S_CAPS_GET];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, id)) != SQLITE_OK) return stmt_fail(s, q, "caps_get: bind");
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    rc = caps_from_row(s, q, out);
  } else if (rc == SQLITE_DONE) {
    rc = CPNS_ERR_NOTFOUND;
  } else {
    return stmt_fail(s, q, "caps_get");
  }
  sqlite3_reset(q);
  return rc;
}

static int caps_list(struct cpns_store *st, const char *pn, const char *after, unsigned limit,
                     cpns_caps_cb cb, void *arg) {
  struct sqlite_store *s = impl(st);
  if (!pn || !after || !cb) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX) || key_too_long(after, CPNS_ID_MAX)) return 0;
  struct cpns_caps_rec *recs = malloc(CAPS_CHUNK * sizeof *recs);
  if (!recs) return CPNS_ERR_NOMEM;
  char last[CPNS_ID_MAX + 1];
  snprintf(last, sizeof last, "%s", after);
  sqlite3_stmt *q = s->stmt[S_CAPS_LIST];
  int rc = 0;
  while (limit > 0) {
    unsigned want = limit < CAPS_CHUNK ? limit : CAPS_CHUNK;
    if ((bind_str(q, 1, pn) | bind_str(q, 2, last) | sqlite3_bind_int(q, 3, (int)want)) !=
        SQLITE_OK) {
      rc = stmt_fail(s, q, "caps_list: bind");
      break;
    }
    unsigned n = 0;
    int sr = SQLITE_DONE;
    while (n < want && (sr = sqlite3_step(q)) == SQLITE_ROW) {
      if ((rc = caps_from_row(s, q, &recs[n]))) break;
      n++;
    }
    if (!rc && n < want && sr != SQLITE_DONE) rc = db_fail(s, "caps_list");
    sqlite3_reset(q);
    if (rc) break;
    for (unsigned i = 0; i < n; i++)
      if (cb(arg, &recs[i])) goto out;
    if (n < want) break;
    limit -= n;
    memcpy(last, recs[n - 1].id, sizeof last);
  }
out:
  free(recs);
  return rc;
}

static int caps_keys(struct cpns_store *st, int (*cb)(void *arg, const char *pn, const char *id),
                     void *arg) {
  struct sqlite_store *s = impl(st);
  if (!cb) return CPNS_ERR_INVAL;
  struct key {
    char pn[CPNS_ID_MAX + 1], id[CPNS_ID_MAX + 1];
  } *keys = malloc(LIST_CHUNK * sizeof *keys);
  if (!keys) return CPNS_ERR_NOMEM;
  char pn[CPNS_ID_MAX + 1] = "", id[CPNS_ID_MAX + 1] = "";
  sqlite3_stmt *q = s->stmt[S_CAPS_KEYS];
  int rc = 0;
  for (;;) {
    if ((bind_str(q, 1, pn) | bind_str(q, 2, id) | sqlite3_bind_int(q, 3, LIST_CHUNK)) !=
        SQLITE_OK) {
      rc = stmt_fail(s, q, "caps_keys: bind");
      break;
    }
    unsigned n = 0;
    int sr = SQLITE_DONE;
    while (n < LIST_CHUNK && (sr = sqlite3_step(q)) == SQLITE_ROW) {
      if ((rc = col_str(s, q, 0, keys[n].pn, sizeof keys[n].pn)) ||
          (rc = col_str(s, q, 1, keys[n].id, sizeof keys[n].id)))
        break;
      n++;
    }
    if (!rc && n < LIST_CHUNK && sr != SQLITE_DONE) rc = db_fail(s, "caps_keys");
    sqlite3_reset(q);
    if (rc) break;
    for (unsigned i = 0; i < n; i++)
      if (cb(arg, keys[i].pn, keys[i].id)) goto out;
    if (n < LIST_CHUNK) break;
    memcpy(pn, keys[n - 1].pn, sizeof pn);
    memcpy(id, keys[n - 1].id, sizeof id);
  }
out:
  free(keys);
  return rc;
}

/* ---- open and close ------------------------------------------------------ */

/* Also used to undo a half-done open, so every field may still be NULL. */
/* ---- status management (spec 5.5.3) ---------------------------------------- */

_Static_assert(CPNS_STORE_TOKEN_MAX == 8, "the schema stores tokens of up to 8 bytes");

static int status_from_row(struct sqlite_store *s, sqlite3_stmt *q, struct cpns_status_rec *r) {
  memset(r, 0, sizeof *r);
  int rc = col_str(s, q, 0, r->pn, sizeof r->pn);
  if (!rc) rc = col_str(s, q, 1, r->id, sizeof r->id);
  if (!rc) rc = col_str(s, q, 2, r->doc, sizeof r->doc);
  if (rc) return rc;
  r->updated_at = sqlite3_column_int64(q, 3);
  return 0;
}

/* Writes one status row; CPNS_ERR_NOTFOUND when its entity does not exist. */
static int status_put_one(struct sqlite_store *s, const struct cpns_status_rec *r) {
  if (!r || !r->pn[0] || !r->id[0] || !r->doc[0]) return CPNS_ERR_INVAL;
  if (!FIELD_FITS(r, pn) || !FIELD_FITS(r, id) || !FIELD_FITS(r, doc)) return CPNS_ERR_TOOBIG;
  sqlite3_stmt *q = s->stmt[S_STATUS_PUT];
  if ((bind_str(q, 1, r->pn) | bind_str(q, 2, r->id) | bind_str(q, 3, r->doc) |
       sqlite3_bind_int64(q, 4, r->updated_at)) != SQLITE_OK)
    return stmt_fail(s, q, "status_put: bind");
  if (sqlite3_step(q) == SQLITE_DONE) {
    sqlite3_reset(q);
    return 0;
  }
  if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY) {
    sqlite3_reset(q);
    return CPNS_ERR_NOTFOUND;
  }
  return stmt_fail(s, q, "status_put");
}

static int status_put(struct cpns_store *st, const struct cpns_status_rec *r) {
  return status_put_one(impl(st), r);
}

static int status_put_many(struct cpns_store *st, const struct cpns_status_rec *r, size_t n) {
  struct sqlite_store *s = impl(st);
  if (!r && n) return CPNS_ERR_INVAL;
  if (!n) return 0;
  int rc = tx_begin(s);
  if (rc) return rc;
  for (size_t i = 0; i < n && !rc; i++) rc = status_put_one(s, &r[i]);
  if (rc) {
    tx_rollback(s);
    return rc;
  }
  return tx_commit(s);
}

static int status_get(struct cpns_store *st, const char *pn, const char *id,
                      struct cpns_status_rec *out) {
  struct sqlite_store *s = impl(st);
  if (!pn || !id || !out) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX) || key_too_long(id, CPNS_ID_MAX)) return CPNS_ERR_NOTFOUND;
  sqlite3_stmt *q = s->stmt[S_STATUS_GET];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, id)) != SQLITE_OK) return stmt_fail(s, q, "status_get: bind");
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) rc = status_from_row(s, q, out);
  else if (rc == SQLITE_DONE) rc = CPNS_ERR_NOTFOUND;
  else return stmt_fail(s, q, "status_get");
  sqlite3_reset(q);
  return rc;
}

static int status_list(struct cpns_store *st, const char *pn, cpns_status_cb cb, void *arg) {
  struct sqlite_store *s = impl(st);
  if (!pn || !cb) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX)) return 0;
  struct cpns_status_rec *recs = malloc(LIST_CHUNK * sizeof *recs);
  if (!recs) return CPNS_ERR_NOMEM;
  char last[CPNS_ID_MAX + 1] = "";
  sqlite3_stmt *q = s->stmt[S_STATUS_LIST];
  int rc = 0;
  for (;;) {
    if ((bind_str(q, 1, pn) | bind_str(q, 2, last) | sqlite3_bind_int(q, 3, LIST_CHUNK)) != SQLITE_OK) {
      rc = stmt_fail(s, q, "status_list: bind");
      break;
    }
    unsigned n = 0;
    int sr = SQLITE_DONE;
    while (n < LIST_CHUNK && (sr = sqlite3_step(q)) == SQLITE_ROW) {
      if ((rc = status_from_row(s, q, &recs[n]))) break;
      n++;
    }
    if (!rc && n < LIST_CHUNK && sr != SQLITE_DONE) rc = db_fail(s, "status_list");
    sqlite3_reset(q);
    if (rc) break;
    for (unsigned i = 0; i < n; i++)
      if (cb(arg, &recs[i])) goto out;
    if (n < LIST_CHUNK) break;
    memcpy(last, recs[n - 1].id, sizeof last);
  }
out:
  free(recs);
  return rc;
}

static int statobs_put(struct cpns_store *st, const struct cpns_statobs_rec *r) {
  struct sqlite_store *s = impl(st);
  if (!r || !r->session_identity[0] || r->toklen > CPNS_STORE_TOKEN_MAX || !r->topic[0])
    return CPNS_ERR_INVAL;
  if (!FIELD_FITS(r, session_identity) || !FIELD_FITS(r, identity) || !FIELD_FITS(r, pn) ||
      !FIELD_FITS(r, via) || !FIELD_FITS(r, topic) || !FIELD_FITS(r, attr) || !FIELD_FITS(r, query))
    return CPNS_ERR_TOOBIG;
  sqlite3_stmt *q = s->stmt[S_STATOBS_PUT];
  /* A zero-length blob needs a non-NULL pointer to be a blob, not NULL. */
  static const uint8_t none[1];
  const void *tok = r->toklen ? (const void *)r->token : (const void *)none;
  if ((bind_str(q, 1, r->session_identity) | sqlite3_bind_blob(q, 2, tok, (int)r->toklen, SQLITE_STATIC) |
       bind_str(q, 3, r->identity) | bind_str(q, 4, r->pn) | sqlite3_bind_int(q, 5, r->role) |
       bind_str(q, 6, r->via) | bind_str(q, 7, r->topic) | bind_str(q, 8, r->attr) |
       bind_str(q, 9, r->query) | sqlite3_bind_int(q, 10, r->accept) |
       sqlite3_bind_int(q, 11, r->ref_state) | sqlite3_bind_int(q, 12, r->ref_has) |
       sqlite3_bind_double(q, 13, r->ref_value) | sqlite3_bind_int64(q, 14, (int64_t)r->ref_digest) |
       sqlite3_bind_int(q, 15, r->ref_zone) | sqlite3_bind_int64(q, 16, r->seq) |
       sqlite3_bind_int64(q, 17, r->updated_at)) != SQLITE_OK)
    return stmt_fail(s, q, "statobs_put: bind");
  return run(s, S_STATOBS_PUT, "statobs_put");
}

static int statobs_delete(struct cpns_store *st, const char *session_identity,
                          const uint8_t *token, size_t toklen) {
  struct sqlite_store *s = impl(st);
  if (!session_identity || toklen > CPNS_STORE_TOKEN_MAX || (toklen && !token)) return CPNS_ERR_INVAL;
  static const uint8_t none[1];
  sqlite3_stmt *q = s->stmt[S_STATOBS_DELETE];
  if ((bind_str(q, 1, session_identity) |
       sqlite3_bind_blob(q, 2, toklen ? (const void *)token : (const void *)none, (int)toklen,
                         SQLITE_STATIC)) != SQLITE_OK)
    return stmt_fail(s, q, "statobs_delete: bind");
  return run(s, S_STATOBS_DELETE, "statobs_delete");
}

static int statobs_list(struct cpns_store *st,
                        int (*cb)(void *arg, const struct cpns_statobs_rec *r), void *arg) {
  struct sqlite_store *s = impl(st);
  if (!cb) return CPNS_ERR_INVAL;
  sqlite3_stmt *q = s->stmt[S_STATOBS_LIST];
  struct cpns_statobs_rec *r = malloc(sizeof *r);
  if (!r) return CPNS_ERR_NOMEM;
  int rc = 0, sr;
  while ((sr = sqlite3_step(q)) == SQLITE_ROW) {
    memset(r, 0, sizeof *r);
    int64_t role, accept, state, has, zone, seq;
    int n = sqlite3_column_bytes(q, 1);
    const void *tok = sqlite3_column_blob(q, 1);
    rc = col_str(s, q, 0, r->session_identity, sizeof r->session_identity);
    if (!rc && (n < 0 || n > CPNS_STORE_TOKEN_MAX || (n && !tok))) rc = CPNS_ERR_STORE;
    if (!rc && n) memcpy(r->token, tok, (size_t)n);
    r->toklen = (size_t)n;
    if (!rc) rc = col_str(s, q, 2, r->identity, sizeof r->identity);
    if (!rc) rc = col_str(s, q, 3, r->pn, sizeof r->pn);
    if (!rc) rc = col_int(q, 4, 0, 64, &role);
    if (!rc) rc = col_str(s, q, 5, r->via, sizeof r->via);
    if (!rc) rc = col_str(s, q, 6, r->topic, sizeof r->topic);
    if (!rc) rc = col_str(s, q, 7, r->attr, sizeof r->attr);
    if (!rc) rc = col_str(s, q, 8, r->query, sizeof r->query);
    if (!rc) rc = col_int(q, 9, 0, 65535, &accept);
    if (!rc) rc = col_int(q, 10, 0, 3, &state);
    if (!rc) rc = col_int(q, 11, 0, 1, &has);
    if (!rc) rc = col_int(q, 14, -1, 1, &zone);
    if (!rc) rc = col_int(q, 15, 0, UINT32_MAX, &seq);
    if (rc) break;
    r->role = (int)role;
    r->accept = (int)accept;
    r->ref_state = (int)state;
    r->ref_has = has != 0;
    r->ref_value = sqlite3_column_double(q, 12);
    r->ref_digest = (uint64_t)sqlite3_column_int64(q, 13);
    r->ref_zone = (int)zone;
    r->seq = (uint32_t)seq;
    r->updated_at = sqlite3_column_int64(q, 16);
    if (cb(arg, r)) break;
  }
  if (!rc && sr != SQLITE_ROW && sr != SQLITE_DONE) rc = db_fail(s, "statobs_list");
  sqlite3_reset(q);
  free(r);
  return rc;
}

static int policy_from_row(struct sqlite_store *s, sqlite3_stmt *q, struct cpns_policy_rec *p) {
  memset(p, 0, sizeof *p);
  int64_t op, active, fired;
  int rc = col_str(s, q, 0, p->pn, sizeof p->pn);
  if (!rc) rc = col_str(s, q, 1, p->id, sizeof p->id);
  if (!rc) rc = col_str(s, q, 2, p->entity, sizeof p->entity);
  if (!rc) rc = col_str(s, q, 3, p->attr, sizeof p->attr);
  if (!rc) rc = col_int(q, 4, CPNS_POLICY_LT, CPNS_POLICY_STATE, &op);
  if (!rc) rc = col_str(s, q, 6, p->state, sizeof p->state);
  if (!rc) rc = col_str(s, q, 7, p->target_pn, sizeof p->target_pn);
  if (!rc) rc = col_str(s, q, 8, p->target, sizeof p->target);
  if (!rc) rc = col_str(s, q, 9, p->created_by, sizeof p->created_by);
  if (!rc) rc = col_int(q, 11, 0, 1, &active);
  if (!rc) rc = col_int(q, 12, 0, INT64_MAX, &fired);
  if (rc) return rc;
  p->op = (enum cpns_policy_op)op;
  p->threshold = sqlite3_column_double(q, 5);
  p->created_at = sqlite3_column_int64(q, 10);
  p->active = active != 0;
  p->fired = (uint64_t)fired;
  p->last_fired = sqlite3_column_int64(q, 13);
  return 0;
}

static int policy_put(struct cpns_store *st, const struct cpns_policy_rec *p) {
  struct sqlite_store *s = impl(st);
  if (!p || !p->pn[0] || !p->id[0] || !p->entity[0] || !p->target[0] || !p->target_pn[0] ||
      p->op < CPNS_POLICY_LT || p->op > CPNS_POLICY_STATE || p->fired > INT64_MAX)
    return CPNS_ERR_INVAL;
  if (!FIELD_FITS(p, pn) || !FIELD_FITS(p, id) || !FIELD_FITS(p, entity) || !FIELD_FITS(p, attr) ||
      !FIELD_FITS(p, state) || !FIELD_FITS(p, target_pn) || !FIELD_FITS(p, target) ||
      !FIELD_FITS(p, created_by))
    return CPNS_ERR_TOOBIG;
  sqlite3_stmt *q = s->stmt[S_POLICY_PUT];
  if ((bind_str(q, 1, p->pn) | bind_str(q, 2, p->id) | bind_str(q, 3, p->entity) |
       bind_str(q, 4, p->attr) | sqlite3_bind_int(q, 5, (int)p->op) |
       sqlite3_bind_double(q, 6, p->threshold) | bind_str(q, 7, p->state) |
       bind_str(q, 8, p->target_pn) | bind_str(q, 9, p->target) | bind_str(q, 10, p->created_by) |
       sqlite3_bind_int64(q, 11, p->created_at) | sqlite3_bind_int(q, 12, p->active) |
       sqlite3_bind_int64(q, 13, (int64_t)p->fired) | sqlite3_bind_int64(q, 14, p->last_fired)) !=
      SQLITE_OK)
    return stmt_fail(s, q, "policy_put: bind");
  return run(s, S_POLICY_PUT, "policy_put");
}

static int policy_get(struct cpns_store *st, const char *pn, const char *id,
                      struct cpns_policy_rec *out) {
  struct sqlite_store *s = impl(st);
  if (!pn || !id || !out) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX) || key_too_long(id, CPNS_ID_MAX)) return CPNS_ERR_NOTFOUND;
  sqlite3_stmt *q = s->stmt[S_POLICY_GET];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, id)) != SQLITE_OK) return stmt_fail(s, q, "policy_get: bind");
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) rc = policy_from_row(s, q, out);
  else if (rc == SQLITE_DONE) rc = CPNS_ERR_NOTFOUND;
  else return stmt_fail(s, q, "policy_get");
  sqlite3_reset(q);
  return rc;
}

static int policy_delete(struct cpns_store *st, const char *pn, const char *id) {
  struct sqlite_store *s = impl(st);
  if (!pn || !id) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX) || key_too_long(id, CPNS_ID_MAX)) return CPNS_ERR_NOTFOUND;
  sqlite3_stmt *q = s->stmt[S_POLICY_DELETE];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, id)) != SQLITE_OK)
    return stmt_fail(s, q, "policy_delete: bind");
  int rc = run(s, S_POLICY_DELETE, "policy_delete");
  if (rc) return rc;
  return sqlite3_changes(s->db) ? 0 : CPNS_ERR_NOTFOUND;
}

/* Visits the rows of a bound policy statement; cb must not use the store. */
static int policy_visit(struct sqlite_store *s, sqlite3_stmt *q, cpns_policy_cb cb, void *arg,
                        const char *what) {
  struct cpns_policy_rec p;
  int rc = 0, sr;
  while ((sr = sqlite3_step(q)) == SQLITE_ROW) {
    if ((rc = policy_from_row(s, q, &p))) break;
    if (cb(arg, &p)) break;
  }
  if (!rc && sr != SQLITE_ROW && sr != SQLITE_DONE) rc = db_fail(s, what);
  sqlite3_reset(q);
  return rc;
}

static int policy_list(struct cpns_store *st, const char *pn, cpns_policy_cb cb, void *arg) {
  struct sqlite_store *s = impl(st);
  if (!pn || !cb) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX)) return 0;
  sqlite3_stmt *q = s->stmt[S_POLICY_LIST];
  if (bind_str(q, 1, pn) != SQLITE_OK) return stmt_fail(s, q, "policy_list: bind");
  return policy_visit(s, q, cb, arg, "policy_list");
}

static int policy_of_entity(struct cpns_store *st, const char *pn, const char *entity,
                            cpns_policy_cb cb, void *arg) {
  struct sqlite_store *s = impl(st);
  if (!pn || !entity || !cb) return CPNS_ERR_INVAL;
  if (key_too_long(pn, CPNS_ID_MAX) || key_too_long(entity, CPNS_ID_MAX)) return 0;
  sqlite3_stmt *q = s->stmt[S_POLICY_OF_ENTITY];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, entity)) != SQLITE_OK)
    return stmt_fail(s, q, "policy_of_entity: bind");
  return policy_visit(s, q, cb, arg, "policy_of_entity");
}

static int policy_count(struct cpns_store *st, const char *pn, uint64_t *out) {
  struct sqlite_store *s = impl(st);
  if (!out) return CPNS_ERR_INVAL;
  if (pn && key_too_long(pn, CPNS_ID_MAX)) {
    *out = 0;
    return 0;
  }
  enum stmt_id id = pn ? S_POLICY_COUNT_PN : S_POLICY_COUNT_ALL;
  if (pn && bind_str(s->stmt[id], 1, pn) != SQLITE_OK)
    return stmt_fail(s, s->stmt[id], "policy_count: bind");
  int64_t n;
  int rc = run_int(s, id, "policy_count", &n);
  if (!rc) *out = (uint64_t)n;
  return rc;
}

static int policy_mark(struct cpns_store *st, const char *pn, const char *id, bool active,
                       uint64_t fired, int64_t last_fired) {
  struct sqlite_store *s = impl(st);
  if (!pn || !id || fired > INT64_MAX) return CPNS_ERR_INVAL;
  sqlite3_stmt *q = s->stmt[S_POLICY_MARK];
  if ((bind_str(q, 1, pn) | bind_str(q, 2, id) | sqlite3_bind_int(q, 3, active) |
       sqlite3_bind_int64(q, 4, (int64_t)fired) | sqlite3_bind_int64(q, 5, last_fired)) != SQLITE_OK)
    return stmt_fail(s, q, "policy_mark: bind");
  return run(s, S_POLICY_MARK, "policy_mark");
}

/* ---- usage statistics (spec 5.5.4) ---------------------------------------- */

/* Largest total a summary row reports: a float sum past it is capped. */
#define USAGE_TOTAL_CAP 9.2e18

static int usage_from_row(struct sqlite_store *s, sqlite3_stmt *q, struct cpns_usage_rec *r) {
  cpns_usage_rec_init(r);
  char device[CPNS_USAGE_DEVICE_TEXT_MAX + 1];
  int64_t seq, start, stop, in, out;
  int rc = col_int(q, 0, 1, INT64_MAX, &seq);
  if (!rc) rc = col_str(s, q, 1, r->pn, sizeof r->pn);
  if (!rc) rc = col_str(s, q, 2, r->entity, sizeof r->entity);
  if (!rc) rc = col_str(s, q, 3, r->rid, sizeof r->rid);
  if (!rc) rc = col_str(s, q, 4, r->service, sizeof r->service);
  if (!rc) rc = col_int(q, 5, 0, CPNS_USAGE_TIME_MAX, &start);
  if (!rc) rc = col_int(q, 6, 0, CPNS_USAGE_TIME_MAX, &stop);
  if (!rc) rc = col_int(q, 7, 0, (int64_t)CPNS_USAGE_BYTES_MAX, &in);
  if (!rc) rc = col_int(q, 8, 0, (int64_t)CPNS_USAGE_BYTES_MAX, &out);
  if (!rc) rc = col_str(s, q, 9, device, sizeof device);
  if (rc) return rc;
  if (cpns_usage_device_from_text(device, &r->device)) {
    log_err("store", "usage record %lld: its device snapshot does not parse", (long long)seq);
    return CPNS_ERR_STORE;
  }
  r->seq = (uint64_t)seq;
  r->start = start;
  r->stop = stop;
  r->bytes_in = (uint64_t)in;
  r->bytes_out = (uint64_t)out;
  r->received_at = sqlite3_column_int64(q, 10);
  return 0;
}

static int usage_add_one(struct sqlite_store *s, const struct cpns_usage_rec *r, unsigned *added) {
  if (!r->entity[0] || !r->rid[0] || !r->service[0] || r->start < 0 || r->stop < r->start ||
      r->stop > CPNS_USAGE_TIME_MAX || r->bytes_in > CPNS_USAGE_BYTES_MAX ||
      r->bytes_out > CPNS_USAGE_BYTES_MAX)
    return CPNS_ERR_INVAL;
  if (!FIELD_FITS(r, pn) || !FIELD_FITS(r, entity) || !FIELD_FITS(r, rid) || !FIELD_FITS(r, service))
    return CPNS_ERR_TOOBIG;
  char device[CPNS_USAGE_DEVICE_TEXT_MAX + 1];
  int rc = cpns_usage_device_to_text(&r->device, device, sizeof device);
  if (rc) return rc;
  sqlite3_stmt *q = s->stmt[S_USAGE_ADD];
  if ((bind_str(q, 1, r->pn) | bind_str(q, 2, r->entity) | bind_str(q, 3, r->rid) |
       bind_str(q, 4, r->service) | sqlite3_bind_int64(q, 5, r->start) |
       sqlite3_bind_int64(q, 6, r->stop) | sqlite3_bind_int64(q, 7, cpns_usage_day_of(r->start)) |
       sqlite3_bind_int64(q, 8, (int64_t)r->bytes_in) |
       sqlite3_bind_int64(q, 9, (int64_t)r->bytes_out) | bind_str(q, 10, device) |
       sqlite3_bind_int64(q, 11, r->received_at)) != SQLITE_OK)
    return stmt_fail(s, q, "usage_add: bind");
  rc = run(s, S_USAGE_ADD, "usage_add");
  if (!rc && added) *added += (unsigned)sqlite3_changes(s->db);
  return rc;
}

static int usage_add(struct cpns_store *st, const struct cpns_usage_rec *r, size_t n,
                     unsigned *added) {
  struct sqlite_store *s = impl(st);
  if (added) *added = 0;
  if (!r && n) return CPNS_ERR_INVAL;
  if (!n) return 0;
  unsigned count = 0;
  int rc = tx_begin(s);
  if (rc) return rc;
  for (size_t i = 0; i < n && !rc; i++) rc = usage_add_one(s, &r[i], &count);
  if (rc) {
    tx_rollback(s);
    return rc;
  }
  rc = tx_commit(s);
  if (!rc && added) *added = count;
  return rc;
}

static int usage_list(struct cpns_store *st, uint64_t after, unsigned limit, cpns_usage_cb cb,
                      void *arg) {
  struct sqlite_store *s = impl(st);
  if (!cb || after > INT64_MAX) return CPNS_ERR_INVAL;
  sqlite3_stmt *q = s->stmt[S_USAGE_LIST];
  if ((sqlite3_bind_int64(q, 1, (int64_t)after) | sqlite3_bind_int64(q, 2, limit)) != SQLITE_OK)
    return stmt_fail(s, q, "usage_list: bind");
  struct cpns_usage_rec r;
  int rc = 0, sr;
  while ((sr = sqlite3_step(q)) == SQLITE_ROW)
    if ((rc = usage_from_row(s, q, &r)) || cb(arg, &r)) break;
  if (!rc && sr != SQLITE_ROW && sr != SQLITE_DONE) rc = db_fail(s, "usage_list");
  sqlite3_reset(q);
  return rc;
}

static int usage_remove(struct cpns_store *st, const uint64_t *seq, size_t n) {
  struct sqlite_store *s = impl(st);
  if (!seq && n) return CPNS_ERR_INVAL;
  if (!n) return 0;
  int rc = tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *q = s->stmt[S_USAGE_REMOVE];
  for (size_t i = 0; i < n && !rc; i++) {
    if (seq[i] > INT64_MAX) {
      rc = CPNS_ERR_INVAL;
    } else if (sqlite3_bind_int64(q, 1, (int64_t)seq[i]) != SQLITE_OK) {
      rc = stmt_fail(s, q, "usage_remove: bind");
    } else {
      rc = run(s, S_USAGE_REMOVE, "usage_remove");
    }
  }
  if (rc) {
    tx_rollback(s);
    return rc;
  }
  return tx_commit(s);
}

static int usage_purge(struct cpns_store *st, const char *service, int64_t before_day,
                       unsigned limit, unsigned *removed) {
  struct sqlite_store *s = impl(st);
  if (removed) *removed = 0;
  if (service && key_too_long(service, CPNS_ID_MAX)) return 0;
  sqlite3_stmt *q = s->stmt[S_USAGE_PURGE];
  if ((bind_str(q, 1, service ? service : "") | sqlite3_bind_int64(q, 2, before_day) |
       sqlite3_bind_int64(q, 3, limit)) != SQLITE_OK)
    return stmt_fail(s, q, "usage_purge: bind");
  int rc = run(s, S_USAGE_PURGE, "usage_purge");
  if (!rc && removed) *removed = (unsigned)sqlite3_changes(s->db);
  return rc;
}

static int usage_count(struct cpns_store *st, uint64_t *out) {
  if (!out) return CPNS_ERR_INVAL;
  int64_t n;
  int rc = run_int(impl(st), S_USAGE_COUNT, "usage_count", &n);
  if (!rc) *out = (uint64_t)n;
  return rc;
}

static uint64_t usage_total(sqlite3_stmt *q, int col) {
  double v = sqlite3_column_double(q, col);
  if (!(v > 0)) return 0;
  return v >= USAGE_TOTAL_CAP ? (uint64_t)USAGE_TOTAL_CAP : (uint64_t)v;
}

static int usage_summary(struct cpns_store *st, const struct cpns_usage_filter *f, unsigned limit,
                         cpns_usage_total_cb cb, void *arg) {
  struct sqlite_store *s = impl(st);
  if (!f || !cb || f->from_day < 0 || f->to_day < f->from_day) return CPNS_ERR_INVAL;
  if (key_too_long(f->pn, CPNS_ID_MAX) || key_too_long(f->service, CPNS_ID_MAX) ||
      key_too_long(f->entity, CPNS_ID_MAX))
    return CPNS_ERR_INVAL;
  static const enum stmt_id of_pn[] = {S_USAGE_SUM_SERVICE, S_USAGE_SUM_PN, S_USAGE_SUM_DAY,
                                       S_USAGE_SUM_ENTITY};
  static const enum stmt_id any_pn[] = {S_USAGE_SUM_SERVICE_ALL, S_USAGE_SUM_PN_ALL,
                                        S_USAGE_SUM_DAY_ALL, S_USAGE_SUM_ENTITY_ALL};
  if ((unsigned)f->by >= sizeof of_pn / sizeof of_pn[0]) return CPNS_ERR_INVAL;
  sqlite3_stmt *q = s->stmt[f->pn[0] ? of_pn[f->by] : any_pn[f->by]];
  if ((bind_str(q, 1, f->pn) | sqlite3_bind_int64(q, 2, f->from_day) |
       sqlite3_bind_int64(q, 3, f->to_day) | bind_str(q, 4, f->service) |
       bind_str(q, 5, f->entity) | sqlite3_bind_int64(q, 6, limit)) != SQLITE_OK)
    return stmt_fail(s, q, "usage_summary: bind");
  struct cpns_usage_total t;
  int rc = 0, sr;
  while ((sr = sqlite3_step(q)) == SQLITE_ROW) {
    memset(&t, 0, sizeof t);
    if (f->by == CPNS_USAGE_BY_DAY) {
      if ((rc = col_int(q, 0, 0, cpns_usage_day_of(CPNS_USAGE_TIME_MAX), &t.day))) break;
      cpns_usage_day_text(t.day, t.key, sizeof t.key);
    } else if ((rc = col_str(s, q, 0, t.key, sizeof t.key))) {
      break;
    }
    t.records = (uint64_t)sqlite3_column_int64(q, 1);
    t.seconds = usage_total(q, 2);
    t.bytes_in = usage_total(q, 3);
    t.bytes_out = usage_total(q, 4);
    if (cb(arg, &t)) break;
  }
  if (!rc && sr != SQLITE_ROW && sr != SQLITE_DONE) rc = db_fail(s, "usage_summary");
  sqlite3_reset(q);
  return rc;
}

/* ---- CPNS-4 bearer tokens ------------------------------------------------ */

static int token_from_row(struct sqlite_store *s, sqlite3_stmt *q, struct cpns_token_rec *t) {
  memset(t, 0, sizeof *t);
  int rc = col_str(s, q, 0, t->id, sizeof t->id);
  if (!rc) rc = col_str(s, q, 1, t->name, sizeof t->name);
  if (!rc) rc = col_str(s, q, 2, t->scopes, sizeof t->scopes);
  if (!rc) rc = col_secret(s, q, 3, t->hash); /* a 32-byte BLOB, as a key */
  if (!rc) rc = col_str(s, q, 4, t->created_by, sizeof t->created_by);
  if (rc) return rc;
  t->created_at = sqlite3_column_int64(q, 5);
  t->expires_at = sqlite3_column_int64(q, 6);
  return 0;
}

static int fill_token(struct sqlite_store *s, sqlite3_stmt *q, void *out) {
  return token_from_row(s, q, out);
}

static int token_put(struct cpns_store *st, const struct cpns_token_rec *t) {
  struct sqlite_store *s = impl(st);
  _Static_assert(CPNS_TOKEN_HASH_LEN == CPNS_SECRET_LEN, "token hashes use the secret columns");
  if (!t || !t->id[0] || !t->name[0] || !t->scopes[0] || t->expires_at < 0) return CPNS_ERR_INVAL;
  if (!FIELD_FITS(t, id) || !FIELD_FITS(t, name) || !FIELD_FITS(t, scopes) ||
      !FIELD_FITS(t, created_by))
    return CPNS_ERR_TOOBIG;
  sqlite3_stmt *q = s->stmt[S_TOKEN_PUT];
  if ((bind_str(q, 1, t->id) | bind_str(q, 2, t->name) | bind_str(q, 3, t->scopes) |
       bind_secret(q, 4, t->hash) | bind_str(q, 5, t->created_by) |
       sqlite3_bind_int64(q, 6, t->created_at) | sqlite3_bind_int64(q, 7, t->expires_at)) !=
      SQLITE_OK)
    return stmt_fail(s, q, "token_put: bind");
  if (sqlite3_step(q) != SQLITE_DONE) {
    int ext = sqlite3_extended_errcode(s->db);
    if (ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
      sqlite3_reset(q);
      return CPNS_ERR_EXISTS;
    }
    return stmt_fail(s, q, "token_put");
  }
  sqlite3_reset(q);
  return 0;
}

static int token_get(struct cpns_store *st, const char *id, struct cpns_token_rec *out) {
  if (!id || !out) return CPNS_ERR_INVAL;
  return get_by_identity(impl(st), S_TOKEN_GET, id, "token_get", fill_token, out);
}

static int token_delete(struct cpns_store *st, const char *id) {
  return delete_by_identity(impl(st), S_TOKEN_DELETE, id, "token_delete");
}

/* Tokens are few (bounded by the server's [http] max_tokens): one pass. */
static int token_list(struct cpns_store *st, int (*cb)(void *arg, const struct cpns_token_rec *t),
                      void *arg) {
  struct sqlite_store *s = impl(st);
  if (!cb) return CPNS_ERR_INVAL;
  sqlite3_stmt *q = s->stmt[S_TOKEN_LIST];
  struct cpns_token_rec t;
  int rc = 0, sr;
  while ((sr = sqlite3_step(q)) == SQLITE_ROW) {
    if ((rc = token_from_row(s, q, &t)) || cb(arg, &t)) break;
  }
  if (!rc && sr != SQLITE_ROW && sr != SQLITE_DONE) rc = db_fail(s, "token_list");
  sqlite3_reset(q);
  return rc;
}

static int token_count(struct cpns_store *st, uint64_t *out) {
  if (!out) return CPNS_ERR_INVAL;
  int64_t n;
  int rc = run_int(impl(st), S_TOKEN_COUNT, "token_count", &n);
  if (!rc) *out = (uint64_t)n;
  return rc;
}

static void sqlite_close(struct cpns_store *st) {
  struct sqlite_store *s = impl(st);
  if (!s) return;
  for (int i = 0; i < S_COUNT_; i++) sqlite3_finalize(s->stmt[i]);
  if (s->db) {
    /* Keeps the query planner's statistics current at almost no cost; only
     * worth it once the schema is there. */
    if (s->stmt[S_COUNT_ - 1]) sqlite3_exec(s->db, "PRAGMA optimize", NULL, NULL, NULL);
    if (sqlite3_close(s->db) != SQLITE_OK) db_fail(s, "close");
  }
  free(s);
}

static const struct cpns_store_ops sqlite_ops = {
    .close = sqlite_close,
    .pn_put = pn_put,
    .pn_get = pn_get,
    .pn_delete = pn_delete,
    .pn_list = pn_list,
    .pn_count = pn_count,
    .pn_set_readers = pn_set_readers,
    .pn_list_readers = pn_list_readers,
    .pn_reader_allowed = pn_reader_allowed,
    .entity_put = entity_put,
    .entity_get = entity_get,
    .entity_delete = entity_delete,
    .entity_list = entity_list,
    .entity_count = entity_count,
    .ban_add = ban_add,
    .ban_remove = ban_remove,
    .ban_check = ban_check,
    .expire = expire,
    .kv_get = kv_get,
    .kv_set = kv_set,
    .entity_expel = entity_expel,
    .entity_admit = entity_admit,
    .cred_put = cred_put,
    .cred_get = cred_get,
    .cred_delete = cred_delete,
    .cred_count = cred_count,
    .enroll_put = enroll_put,
    .enroll_get = enroll_get,
    .enroll_redeem = enroll_redeem,
    .enroll_delete = enroll_delete,
    .enroll_expire = enroll_expire,
    .group_put = group_put,
    .group_get = group_get,
    .group_delete = group_delete,
    .member_put = member_put,
    .member_get = member_get,
    .member_delete = member_delete,
    .member_list = member_list,
    .group_member_change = group_member_change,
    .group_list_ids = group_list_ids,
    .group_sync = group_sync,
    .group_ids_of_pn = group_ids_of_pn,
    .group_member_pns = group_member_pns,
    .service_put = service_put,
    .service_get = service_get,
    .service_delete = service_delete,
    .service_count = service_count,
    .service_find = service_find,
    .service_expire = service_expire,
    .service_remove = service_remove,
    .interest_put = interest_put,
    .interest_get = interest_get,
    .interest_delete = interest_delete,
    .interest_count = interest_count,
    .interest_list = interest_list,
    .interest_event = interest_event,
    .caps_put = caps_put,
    .caps_get = caps_get,
    .caps_list = caps_list,
    .caps_keys = caps_keys,
    .status_put = status_put,
    .status_put_many = status_put_many,
    .status_get = status_get,
    .status_list = status_list,
    .statobs_put = statobs_put,
    .statobs_delete = statobs_delete,
    .statobs_list = statobs_list,
    .policy_put = policy_put,
    .policy_get = policy_get,
    .policy_delete = policy_delete,
    .policy_list = policy_list,
    .policy_of_entity = policy_of_entity,
    .policy_count = policy_count,
    .policy_mark = policy_mark,
    .usage_add = usage_add,
    .usage_list = usage_list,
    .usage_remove = usage_remove,
    .usage_purge = usage_purge,
    .usage_count = usage_count,
    .usage_summary = usage_summary,
    .token_put = token_put,
    .token_get = token_get,
    .token_delete = token_delete,
    .token_list = token_list,
    .token_count = token_count,
};

/* Writes the reason for a failed open into err, or logs it when the caller
 * gave no buffer, so that it is never lost. */
__attribute__((format(printf, 3, 4))) static void open_err(char *err, size_t errlen,
                                                          const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (err && errlen)
    snprintf(err, errlen, "%s", buf);
  else
    log_err("store", "%s", buf);
}

/* Creates the file ourselves so that it is born 0600 (SQLite would use 0644):
 * it holds who belongs to which PN. SQLite gives the -wal and -shm files the
 * mode of the database file, so they follow. */
static int create_file(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    open_err(err, errlen, "%s: %s", path, strerror(errno));
    return CPNS_ERR_IO;
  }
  struct stat sb;
  int rc = 0;
  if (fstat(fd, &sb) != 0) {
    open_err(err, errlen, "%s: %s", path, strerror(errno));
    rc = CPNS_ERR_IO;
  } else if (!S_ISREG(sb.st_mode)) {
    open_err(err, errlen, "%s: not a regular file", path);
    rc = CPNS_ERR_STORE;
  } else if (sb.st_mode & 077) {
    /* An existing file's mode is the administrator's choice: say so, but do
     * not change it behind their back. */
    log_warn("store", "%s is accessible to group or others (mode %03o)", path,
             (unsigned)(sb.st_mode & 0777));
  }
  close(fd);
  return rc;
}

static int read_user_version(sqlite3 *db, int *out) {
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int(q, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(q);
  return rc;
}

int cpns_store_sqlite_schema_version(void) { return SCHEMA_VERSION; }

/* Brings the schema to SCHEMA_VERSION one migration per transaction, reading
 * the version inside each transaction so that two processes opening a new
 * file at once do not both apply the same step. */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen) {
  for (;;) {
    char *msg = NULL;
    int v = 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
        read_user_version(db, &v) != SQLITE_OK) {
      open_err(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(db));
      sqlite3_free(msg);
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      return CPNS_ERR_STORE;
    }
    if (v < 0) {
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      open_err(err, errlen, "%s: invalid schema version %d", path, v);
      return CPNS_ERR_STORE;
    }
    if (v > SCHEMA_VERSION) {
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      open_err(err, errlen,
               "%s: schema version %d is newer than this program knows (%d): refusing to "
               "open it; use a newer cpns",
               path, v, SCHEMA_VERSION);
      return CPNS_ERR_STORE;
    }
    if (v == SCHEMA_VERSION) {
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL); /* read only: nothing to keep */
      return 0;
    }
    char setv[48];
    snprintf(setv, sizeof setv, "PRAGMA user_version = %d", v + 1);
    if (sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, setv, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
      open_err(err, errlen, "%s: migration to schema version %d failed: %s", path, v + 1,
               msg ? msg : sqlite3_errmsg(db));
      sqlite3_free(msg);
      if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      return CPNS_ERR_STORE;
    }
    log_info("store", "%s: migrated to schema version %d", path, v + 1);
  }
}

/* Runs a connection setting; journal_mode answers with the mode it got, which
 * is checked when want is not NULL. */
static int pragma(sqlite3 *db, const char *sql, const char *want, const char *path, char *err,
                  size_t errlen) {
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
  int sr = rc == SQLITE_OK ? sqlite3_step(q) : rc;
  if (sr != SQLITE_ROW && sr != SQLITE_DONE) {
    open_err(err, errlen, "%s: %s: %s", path, sql, sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return CPNS_ERR_STORE;
  }
  if (want) {
    const char *got = sr == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
    if (!got || strcmp(got, want) != 0) {
      open_err(err, errlen, "%s: %s gave '%s'", path, sql, got ? got : "");
      sqlite3_finalize(q);
      return CPNS_ERR_STORE;
    }
  }
  sqlite3_finalize(q);
  return 0;
}

int cpns_store_sqlite_open(const char *path, enum cpns_store_sync sync, struct cpns_store **out,
                           char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!out) return CPNS_ERR_INVAL;
  *out = NULL;
  if (!path || !*path || (sync != CPNS_STORE_SYNC_NORMAL && sync != CPNS_STORE_SYNC_FULL)) {
    open_err(err, errlen, "store: no path or bad sync mode");
    return CPNS_ERR_INVAL;
  }
  /* ":memory:" (for tests of the code above the store) has no file and no WAL. */
  bool mem = strcmp(path, ":memory:") == 0;
  int rc;
  if (!mem && (rc = create_file(path, err, errlen))) return rc;

  struct sqlite_store *s = calloc(1, sizeof *s);
  if (!s) {
    open_err(err, errlen, "%s: out of memory", path);
    return CPNS_ERR_NOMEM;
  }
  s->base.ops = &sqlite_ops;
  /* NOMUTEX: one thread at a time uses a store (see the top of the file). */
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                        SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    open_err(err, errlen, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
    rc = CPNS_ERR_STORE;
    goto fail;
  }
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

  /* WAL: readers (cpnsctl) never block the daemon's writes, and with
   * synchronous=NORMAL a commit costs no fsync, only a checkpoint does, while
   * a commit still survives the death of the process. FULL syncs the WAL at
   * every commit, to survive the machine's death too. The journal size limit
   * keeps the -wal file from staying at its high-water mark. */
  if ((rc = pragma(s->db, "PRAGMA journal_mode = WAL", mem ? "memory" : "wal", path, err,
                   errlen)) ||
      (rc = pragma(s->db,
                   sync == CPNS_STORE_SYNC_FULL ? "PRAGMA synchronous = FULL"
                                                : "PRAGMA synchronous = NORMAL",
                   NULL, path, err, errlen)) ||
      (rc = pragma(s->db, "PRAGMA foreign_keys = ON", NULL, path, err, errlen)) ||
      (rc = pragma(s->db, "PRAGMA journal_size_limit = 67108864", NULL, path, err, errlen)) ||
      (rc = pragma(s->db, "PRAGMA cache_size = -16384", NULL, path, err, errlen)) ||
      /* The file holds keys: a deleted or replaced record (a rotated key, a
       * redeemed enrollment's PSK) is zeroed in the pages written anyway
       * rather than left in the file's free space. FAST costs no extra I/O;
       * page images already in the WAL last until it is overwritten. */
      (rc = pragma(s->db, "PRAGMA secure_delete = FAST", NULL, path, err, errlen)))
    goto fail;

  if ((rc = migrate(s->db, path, err, errlen))) goto fail;

  for (int i = 0; i < S_COUNT_; i++) {
    /* PERSISTENT: these live as long as the connection; tells SQLite to keep
     * them out of its short-lived lookaside memory. */
    if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                           NULL) != SQLITE_OK) {
      open_err(err, errlen, "%s: preparing statement %d: %s", path, i, sqlite3_errmsg(s->db));
      rc = CPNS_ERR_STORE;
      goto fail;
    }
  }
  *out = &s->base;
  return 0;

fail:
  sqlite_close(&s->base);
  return rc;
}
