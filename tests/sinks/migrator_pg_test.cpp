#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <latch>
#include <pqxx/pqxx>
#include <thread>

#include "schemas/migrations.h"
#include "sinks/migrator.h"
#include "tests/support/pg_helpers.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using ::testing::HasSubstr;
using testing::TestDb;
using testing::TestRole;

std::vector<int> all_versions() {
  std::vector<int> v;
  for (const auto& m : embedded_migrations()) v.push_back(m.version);
  return v;
}

int newest_version() { return embedded_migrations().back().version; }

TEST(Migrator, ApplyTwiceIsIdempotent) {
  TestDb db;
  EXPECT_EQ(apply_migrations(db.direct_url()), all_versions());
  EXPECT_EQ(apply_migrations(db.direct_url()), std::vector<int>{});
  EXPECT_EQ(db.query("SELECT count(*) FROM schema_migrations"),
            std::to_string(all_versions().size()));
  EXPECT_EQ(db.query("SELECT name FROM schema_migrations WHERE version = 1"), "001_core");
}

TEST(Migrator, ConcurrentApplyFromTwoThreadsAppliesEachMigrationOnce) {
  TestDb db;
  std::latch start(2);
  std::vector<int> applied[2];
  std::string errors[2];
  std::thread threads[2];
  for (int i = 0; i < 2; ++i) {
    threads[i] = std::thread([&, i] {
      start.arrive_and_wait();
      try {
        applied[i] = apply_migrations(db.direct_url());
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  // One of them applied everything, the other found it done.
  EXPECT_TRUE(applied[0].empty() != applied[1].empty());
  EXPECT_EQ(applied[0].empty() ? applied[1] : applied[0], all_versions());
  EXPECT_TRUE(check_migrations(db.direct_url()).up_to_date);
}

TEST(Migrator, ApplyAndCheckWorkThroughPgBouncerTransactionMode) {
  TestDb db;
  EXPECT_EQ(apply_migrations(db.bouncer_url()), all_versions());
  EXPECT_EQ(apply_migrations(db.bouncer_url()), std::vector<int>{});
  const MigrationStatus s = check_migrations(db.bouncer_url());
  EXPECT_TRUE(s.up_to_date) << s.problem;
}

TEST(Migrator, CheckOnEmptyDatabaseSaysToRunMigrate) {
  TestDb db;
  const MigrationStatus s = check_migrations(db.direct_url());
  EXPECT_FALSE(s.up_to_date);
  EXPECT_EQ(s.problem,
            "database has no sentinel-ingest schema: run `sentinel-ingest migrate --pg URL` first");
  // Read-only: it created nothing.
  EXPECT_EQ(db.query("SELECT to_regclass('schema_migrations') IS NULL"), "t");
}

TEST(Migrator, CheckAfterMigrateIsUpToDate) {
  TestDb db;
  apply_migrations(db.direct_url());
  const MigrationStatus s = check_migrations(db.direct_url());
  EXPECT_TRUE(s.up_to_date);
  EXPECT_EQ(s.problem, "");
}

TEST(Migrator, RecordedChecksumIsSha256OfTheEmbeddedSql) {
  TestDb db;
  apply_migrations(db.direct_url());
  pqxx::connection conn(db.direct_url());
  pqxx::work tx(conn);
  for (const auto& m : embedded_migrations()) {
    const auto r = tx.exec_params1(
        "SELECT checksum = encode(sha256(convert_to($1, 'UTF8')), 'hex'), length(checksum) "
        "FROM schema_migrations WHERE version = $2",
        std::string(m.sql), m.version);
    EXPECT_TRUE(r[0].as<bool>()) << m.name;
    EXPECT_EQ(r[1].as<int>(), 64);
  }
}

TEST(Migrator, ChangedChecksumIsReportedAndRefused) {
  TestDb db;
  apply_migrations(db.direct_url());
  db.query("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = 1");
  const MigrationStatus s = check_migrations(db.direct_url());
  EXPECT_FALSE(s.up_to_date);
  EXPECT_THAT(s.problem, HasSubstr("migration 1 (001_core) was changed after it was applied "
                                   "(checksum 0000000000000000000000000000000000000000000000000000"
                                   "000000000000 recorded, "));
  try {
    apply_migrations(db.direct_url());
    FAIL() << "apply_migrations accepted a changed migration";
  } catch (const MigrationError& e) {
    EXPECT_EQ(std::string(e.what()), s.problem);
  }
}

TEST(Migrator, NewerDatabaseIsReportedAndRefused) {
  TestDb db;
  apply_migrations(db.direct_url());
  db.query(
      "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, '999_future', 'x')");
  const MigrationStatus s = check_migrations(db.direct_url());
  EXPECT_FALSE(s.up_to_date);
  EXPECT_EQ(s.problem, "database schema version 999 is newer than this binary (" +
                           std::to_string(newest_version()) + "): upgrade sentinel-ingest");
  EXPECT_THROW(apply_migrations(db.direct_url()), MigrationError);
}

TEST(Migrator, MissingMigrationIsReported) {
  TestDb db;
  apply_migrations(db.direct_url());
  db.query("DELETE FROM schema_migrations WHERE version = 1");
  const MigrationStatus s = check_migrations(db.direct_url());
  EXPECT_FALSE(s.up_to_date);
  EXPECT_EQ(s.problem, "migration 1 is missing: run `sentinel-ingest migrate`");
}

TEST(Migrator, FailingSqlNamesTheFileAndLeavesNothingBehind) {
  TestDb db;
  db.query("CREATE TABLE costs (x int)");
  try {
    apply_migrations(db.direct_url());
    FAIL() << "apply_migrations succeeded over a conflicting table";
  } catch (const MigrationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("migration 1 (schemas/001_core.sql) failed, nothing applied"));
    EXPECT_THAT(e.what(), HasSubstr("relation \"costs\" already exists"));
  }
  EXPECT_EQ(db.query("SELECT to_regclass('schema_migrations') IS NULL"), "t");
  EXPECT_EQ(db.query("SELECT to_regclass('audit_logs') IS NULL"), "t");
}

TEST(Migrator, ConnectsWithApplicationName) {
  TestDb db;
  apply_migrations(db.direct_url());
  // Hold a lock that check_migrations has to wait for, and look at it while it waits.
  pqxx::connection blocker(db.direct_url());
  pqxx::work tx(blocker);
  tx.exec0("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE");
  std::thread checker([&] {
    try {
      check_migrations(db.direct_url());
    } catch (...) {
    }
  });
  std::string seen;
  for (int i = 0; i < 100 && seen.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = db.query("SELECT application_name FROM pg_stat_activity WHERE datname = '" + db.name() +
                    "' AND wait_event_type = 'Lock'");
  }
  tx.abort();
  checker.join();
  EXPECT_EQ(seen, "sentinel-ingest");
}

// A migrator that may not create roles (a database owner without CREATEROLE): everything is
// created and owned by it, and works.
TEST(Migrator, WorksForADatabaseOwnerWhoMayNotCreateRoles) {
  TestDb db;
  TestRole owner(db, "dbowner", "NOCREATEROLE NOSUPERUSER");
  db.query("ALTER DATABASE " + db.name() + " OWNER TO " + owner.name());
  EXPECT_EQ(apply_migrations(owner.url()), all_versions());
  EXPECT_TRUE(check_migrations(owner.url()).up_to_date);
  EXPECT_EQ(db.query("SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class "
                     "WHERE relname IN ('audit_logs', 'invocations', 'costs', 'ingest_offsets', "
                     "'ingest_rejects', 'schema_migrations')"),
            owner.name());
  const std::string made = testing::query_one(
      owner.url(), "SELECT sentinel_ensure_month_partition('audit_logs', '2026-11-01')");
  EXPECT_EQ(made, "audit_logs_2026_11");
  EXPECT_EQ(db.query("SELECT pg_get_userbyid(relowner) FROM pg_class "
                     "WHERE relname = 'audit_logs_2026_11'"),
            owner.name());
  testing::query_one(owner.url(),
                     "INSERT INTO audit_logs (event_id, ts, tenant_id, action, outcome, "
                     "kafka_partition, kafka_offset) VALUES (gen_random_uuid(), "
                     "'2026-11-05Z', 't', 'a', 'success', 0, 0)");
  const auto r = testing::try_sql(owner.url(), "DELETE FROM audit_logs");
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.message, HasSubstr("append-only"));
}

// A migrator with CREATEROLE but not superuser: it makes itself a member of sentinel_owner and
// hands everything to it.
TEST(Migrator, ACreateRoleDatabaseOwnerHandsObjectsToTheOwnerRole) {
  TestDb db;
  TestRole owner(db, "creator", "CREATEROLE NOSUPERUSER");
  db.query("ALTER DATABASE " + db.name() + " OWNER TO " + owner.name());
  EXPECT_EQ(apply_migrations(owner.url()), all_versions());
  EXPECT_EQ(db.query("SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class "
                     "WHERE relname IN ('audit_logs', 'invocations', 'costs', 'ingest_offsets', "
                     "'ingest_rejects', 'schema_migrations')"),
            "sentinel_owner");
  EXPECT_EQ(db.query("SELECT pg_get_userbyid(proowner) FROM pg_proc "
                     "WHERE proname = 'sentinel_ensure_month_partition'"),
            "sentinel_owner");
  EXPECT_EQ(testing::query_one(owner.url(),
                               "SELECT sentinel_ensure_month_partition('invocations', "
                               "'2026-11-01')"),
            "invocations_2026_11");
  EXPECT_TRUE(check_migrations(owner.url()).up_to_date);
}

// Migration 005 turns ingest_rejects into a table partitioned by month: a database at version 4
// keeps every reject, with its id, in the partition of its month, and new rejects go on from the
// last id.
TEST(Migrator, Migration005KeepsEveryRejectWithItsIdInItsMonthPartition) {
  TestDb db;
  {
    // The database as a binary of version 4 left it.
    pqxx::connection conn(db.direct_url());
    pqxx::work tx(conn);
    tx.exec0(
        "CREATE TABLE public.schema_migrations (version int PRIMARY KEY, name text NOT NULL, "
        "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    for (const EmbeddedMigration& m : embedded_migrations()) {
      if (m.version > 4) break;
      tx.exec0(std::string(m.sql));
      tx.exec_params0(
          "INSERT INTO schema_migrations (version, name, checksum) "
          "VALUES ($1, $2, encode(sha256($3::bytea), 'hex'))",
          m.version, std::string(m.name), pqxx::binarystring(std::string(m.sql)));
    }
    tx.exec0(
        "INSERT INTO ingest_rejects (rejected_at, topic, kafka_partition, kafka_offset, reason, "
        "detail, payload) VALUES "
        "('2026-10-03T10:00:00Z', 'sentinel.audit', 0, 10, 'invalid_json', 'a', '\\x7b'), "
        "('2026-10-31T23:59:59.999999Z', 'sentinel.audit', 1, 11, 'missing_field', 'b', NULL), "
        "('2026-11-01T00:00:00Z', 'sentinel.invocations', 2, 12, 'ts_out_of_range', 'c', "
        "'\\x00ff')");
    tx.commit();
  }
  ASSERT_FALSE(check_migrations(db.direct_url()).up_to_date);
  EXPECT_EQ(apply_migrations(db.direct_url()), (std::vector<int>{5}));
  EXPECT_TRUE(check_migrations(db.direct_url()).up_to_date);
  EXPECT_EQ(
      db.query("SELECT string_agg(concat_ws(' ', id, tableoid::regclass, kafka_offset, reason, "
               "detail, encode(payload, 'hex'), coalesce(replay_state, 'pending'), "
               "replay_attempts), ',' ORDER BY id) FROM ingest_rejects"),
      "1 ingest_rejects_2026_10 10 invalid_json a 7b pending 0,"
      "2 ingest_rejects_2026_10 11 missing_field b pending 0,"
      "3 ingest_rejects_2026_11 12 ts_out_of_range c 00ff pending 0");
  EXPECT_EQ(db.query("SELECT to_regclass('ingest_rejects_before_005') IS NULL"), "t");
  EXPECT_EQ(db.query("INSERT INTO ingest_rejects (topic, kafka_partition, kafka_offset, reason, "
                     "detail) VALUES ('sentinel.audit', 0, 13, 'invalid_json', 'd') RETURNING id"),
            "4");
}

}  // namespace
}  // namespace sentinel
