#include <gtest/gtest.h>

#include <latch>
#include <pqxx/pqxx>
#include <thread>
#include <vector>

#include "catalog/catalog.h"
#include "rows/month.h"
#include "sinks/migrator.h"
#include "sinks/partition_manager.h"
#include "tests/support/pg_helpers.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using testing::SqlOutcome;
using testing::TestDb;
using testing::try_sql;

constexpr int32_t kNov2026 = make_month(2026, 11);

class PartitionsPg : public ::testing::Test {
 protected:
  void SetUp() override { apply_migrations(db_.direct_url()); }

  std::string ensure(const std::string& table, int32_t month) {
    return db_.query("SELECT sentinel_ensure_month_partition('" + table + "', '" +
                     month_start_text(month) + "')");
  }
  // The partition a row with this ts lands in.
  std::string landing_partition(const std::string& ts) {
    return db_.query(
        "INSERT INTO audit_logs (event_id, ts, tenant_id, action, outcome, kafka_partition, "
        "kafka_offset) VALUES (gen_random_uuid(), '" +
        ts + "', 't1', 'login', 'success', 0, 0) RETURNING tableoid::regclass::text");
  }

  TestDb db_;
  std::shared_ptr<const Catalog> catalog_ = load_catalog();  ///< the built-in types
};

TEST_F(PartitionsPg, EnsureCreatesUtcMonthBoundsWhateverTheSessionTimeZone) {
  // A session far from UTC: the bounds must still be UTC midnights.
  const std::string sql =
      "SET TimeZone = 'Pacific/Kiritimati'; "
      "SELECT sentinel_ensure_month_partition('audit_logs', '2026-11-01'), "
      "       sentinel_ensure_month_partition('audit_logs', '2026-12-01')";
  db_.query(sql);
  EXPECT_EQ(landing_partition("2026-11-30T23:59:59.999999Z"), "audit_logs_2026_11");
  EXPECT_EQ(landing_partition("2026-12-01T00:00:00Z"), "audit_logs_2026_12");
  EXPECT_EQ(landing_partition("2026-11-01T00:00:00Z"), "audit_logs_2026_11");
  EXPECT_EQ(db_.query("SELECT sentinel_ensure_month_partition('invocations', '2026-11-01')"),
            "invocations_2026_11");
}

TEST_F(PartitionsPg, EnsureReturnsTheNameAndIsIdempotent) {
  EXPECT_EQ(ensure("audit_logs", kNov2026), "audit_logs_2026_11");
  EXPECT_EQ(ensure("audit_logs", kNov2026), "audit_logs_2026_11");
  EXPECT_EQ(db_.query("SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_logs'::regclass"),
            "1");
}

// The writer's retry path depends on this: a row for a month with no partition fails the COPY
// with check_violation (class 23, like a bad row), not 42P01.
TEST_F(PartitionsPg, RowWithoutPartitionFailsWithCheckViolation) {
  const SqlOutcome r = try_sql(db_.direct_url(),
                               "INSERT INTO audit_logs (event_id, ts, tenant_id, action, outcome, "
                               "kafka_partition, kafka_offset) VALUES (gen_random_uuid(), "
                               "'2030-01-05Z', 't', 'a', 'success', 0, 0)");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "23514");
  EXPECT_NE(r.message.find("no partition of relation \"audit_logs\" found for row"),
            std::string::npos)
      << r.message;
}

TEST_F(PartitionsPg, ConcurrentEnsureFromFourConnectionsMakesOnePartition) {
  constexpr int kThreads = 4;
  for (int round = 0; round < 5; ++round) {
    const int32_t month = kNov2026 + round;
    std::latch start(kThreads);
    std::vector<std::string> names(kThreads);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        try {
          pqxx::connection conn(db_.direct_url());
          start.arrive_and_wait();
          pqxx::nontransaction tx(conn);
          names[i] = tx.exec_params1(std::string(kEnsurePartitionSql), "invocations",
                                     month_start_text(month))[0]
                         .as<std::string>();
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kThreads; ++i) {
      EXPECT_EQ(errors[i], "") << "connection " << i;
      EXPECT_EQ(names[i], partition_name("invocations", month));
    }
  }
  EXPECT_EQ(db_.query("SELECT count(*) FROM pg_inherits WHERE inhparent = 'invocations'::regclass"),
            "5");
}

TEST_F(PartitionsPg, EnsureRefusesOtherTablesAndDaysOtherThanTheFirst) {
  for (const char* call : {"sentinel_ensure_month_partition('costs', '2026-11-01')",
                           "sentinel_ensure_month_partition('audit_logs; DROP TABLE costs', "
                           "'2026-11-01')",
                           "sentinel_ensure_month_partition(NULL, '2026-11-01')",
                           "sentinel_ensure_month_partition('audit_logs', '2026-11-02')",
                           "sentinel_ensure_month_partition('audit_logs', NULL)"}) {
    const SqlOutcome r = try_sql(db_.direct_url(), std::string("SELECT ") + call);
    EXPECT_FALSE(r.ok) << call;
    EXPECT_EQ(r.sqlstate, "22023") << call << ": " << r.message;
  }
  EXPECT_EQ(db_.query("SELECT count(*) FROM pg_inherits WHERE inhparent IN "
                      "('audit_logs'::regclass, 'invocations'::regclass, 'costs'::regclass)"),
            "0");
}

TEST_F(PartitionsPg, EnsureRefusesATableOfThatNameThatIsNotAPartition) {
  db_.query("CREATE TABLE audit_logs_2026_11 (x int)");
  const SqlOutcome r = try_sql(
      db_.direct_url(), "SELECT sentinel_ensure_month_partition('audit_logs', '2026-11-01')");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "42P07");
  EXPECT_NE(r.message.find("is not a partition of audit_logs"), std::string::npos) << r.message;
}

TEST_F(PartitionsPg, PremakeListAndDropOlderThan) {
  const std::vector<std::string> made =
      partitions::premake(db_.direct_url(), *catalog_, make_month(2026, 1), 3);
  EXPECT_EQ(made, (std::vector<std::string>{
                      "audit_logs_2026_01", "invocations_2026_01", "ingest_rejects_2026_01",
                      "audit_logs_2026_02", "invocations_2026_02", "ingest_rejects_2026_02",
                      "audit_logs_2026_03", "invocations_2026_03", "ingest_rejects_2026_03"}));
  // Again: nothing new, same answer.
  EXPECT_EQ(partitions::premake(db_.direct_url(), *catalog_, make_month(2026, 1), 3), made);
  landing_partition("2026-01-15T12:00:00Z");

  const std::vector<partitions::PartitionInfo> all = partitions::list(db_.direct_url(), *catalog_);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].table, "audit_logs");
  EXPECT_EQ(all[0].name, "audit_logs_2026_01");
  EXPECT_EQ(all[0].month, make_month(2026, 1));
  EXPECT_GT(all[0].total_bytes, 0);
  EXPECT_EQ(all[5].table, "invocations");
  EXPECT_EQ(all[5].name, "invocations_2026_03");
  EXPECT_EQ(all[5].month, make_month(2026, 3));

  db_.query("ANALYZE audit_logs_2026_01");
  EXPECT_EQ(partitions::list(db_.direct_url(), *catalog_)[0].estimated_rows, 1);

  // Dry run: says what would go, changes nothing.
  const auto would =
      partitions::drop_older_than(db_.direct_url(), *catalog_, make_month(2026, 3), true);
  ASSERT_EQ(would.size(), 4u);
  EXPECT_EQ(partitions::list(db_.direct_url(), *catalog_).size(), 6u);

  // For real, although January holds a row (the append-only triggers do not stop DROP).
  const auto dropped =
      partitions::drop_older_than(db_.direct_url(), *catalog_, make_month(2026, 3), false);
  std::vector<std::string> dropped_names;
  for (const auto& p : dropped) dropped_names.push_back(p.name);
  EXPECT_EQ(dropped_names,
            (std::vector<std::string>{"audit_logs_2026_01", "audit_logs_2026_02",
                                      "invocations_2026_01", "invocations_2026_02"}));
  const auto left = partitions::list(db_.direct_url(), *catalog_);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].name, "audit_logs_2026_03");
  EXPECT_EQ(left[1].name, "invocations_2026_03");
  EXPECT_EQ(db_.query("SELECT to_regclass('audit_logs_2026_01') IS NULL"), "t");
  EXPECT_EQ(db_.query("SELECT count(*) FROM audit_logs"), "0");
}

TEST_F(PartitionsPg, DropOlderThanLeavesPartitionsWithoutAMonthName) {
  db_.query(
      "CREATE TABLE audit_logs_archive PARTITION OF audit_logs FOR VALUES FROM "
      "('1990-01-01Z') TO ('1991-01-01Z')");
  partitions::premake(db_.direct_url(), *catalog_, make_month(2026, 1), 1);
  const auto all = partitions::list(db_.direct_url(), *catalog_);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].name, "audit_logs_archive");
  EXPECT_EQ(all[1].month, std::nullopt);
  const auto dropped =
      partitions::drop_older_than(db_.direct_url(), *catalog_, make_month(2027, 1), false);
  EXPECT_EQ(dropped.size(), 2u);
  EXPECT_EQ(db_.query("SELECT to_regclass('audit_logs_archive') IS NOT NULL"), "t");
}

// Issue 18: a type of the catalog (the guardrail of tests/data/catalog) has its month partitions
// premade, listed and dropped by retention like the built-in ones; a catalog without it leaves them
// alone.
TEST_F(PartitionsPg, ACatalogTypesTableIsPremadeListedAndDroppedLikeTheBuiltInOnes) {
  const auto catalog = load_catalog(SENTINEL_SOURCE_DIR "/tests/data/catalog");
  const EventType* guardrail = catalog->find("guardrail");
  ASSERT_NE(guardrail, nullptr);
  apply_migrations(db_.direct_url(), *catalog);  // its tables, and the partition function's

  const auto made = partitions::premake(db_.direct_url(), *catalog, make_month(2026, 1), 2);
  EXPECT_EQ(made, (std::vector<std::string>{"audit_logs_2026_01", "invocations_2026_01",
                                            "guardrail_events_2026_01", "ingest_rejects_2026_01",
                                            "audit_logs_2026_02", "invocations_2026_02",
                                            "guardrail_events_2026_02", "ingest_rejects_2026_02"}));
  const auto all = partitions::list(db_.direct_url(), *catalog);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[2].table, "guardrail_events");
  EXPECT_EQ(all[2].name, "guardrail_events_2026_01");
  EXPECT_EQ(all[2].month, make_month(2026, 1));
  EXPECT_EQ(partitions::list(db_.direct_url(), *catalog_).size(), 4u)
      << "the built-in catalog lists only its own tables";

  const auto dropped =
      partitions::drop_older_than(db_.direct_url(), *catalog, make_month(2026, 2), false);
  std::vector<std::string> names;
  for (const auto& p : dropped) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"audit_logs_2026_01", "guardrail_events_2026_01",
                                             "invocations_2026_01"}));
  EXPECT_EQ(db_.query("SELECT to_regclass('guardrail_events_2026_01') IS NULL"), "t");
  EXPECT_EQ(db_.query("SELECT to_regclass('guardrail_events_2026_02') IS NOT NULL"), "t");
}

TEST_F(PartitionsPg, PremakeWorksThroughPgBouncer) {
  const auto made = partitions::premake(db_.bouncer_url(), *catalog_, kNov2026, 2);
  EXPECT_EQ(made.size(), 6u);
  EXPECT_EQ(partitions::list(db_.bouncer_url(), *catalog_).size(), 4u);
}

}  // namespace
}  // namespace sentinel
