// `rejects replay` broken on purpose (the adversary's findings): each test is named for the bug
// it pins and fails until that bug is fixed.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "sinks/migrator.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using testing::run_command;
using testing::TestDb;

// A valid invocation event stamped now (inside the 400-day window).
std::string valid_invocation_sql() {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  return "convert_to('{\"invocation_id\":\"4f409541-be57-4903-b492-7f0bd8e150be\",\"ts\":" +
         std::to_string(now_ms) +
         ",\"tenant_id\":\"adv-t\",\"user_id\":\"u\",\"session_id\":null,\"provider\":\"openai\","
         "\"model\":\"o3-mini\",\"prompt_tokens\":10,\"completion_tokens\":5,\"latency_ms\":7,"
         "\"cost_usd\":0.5,\"status\":\"ok\",\"error_code\":null,\"metadata\":null}', 'UTF8')";
}

void insert_reject(const TestDb& db, int64_t offset, const std::string& reason,
                   const std::string& payload_sql) {
  db.query(
      "INSERT INTO ingest_rejects (topic, kafka_partition, kafka_offset, reason, detail, payload) "
      "VALUES ('sentinel.invocations', 0, " +
      std::to_string(offset) + ", '" + reason + "', 'stored by the test', " + payload_sql + ")");
}

// The invocations rows of Kafka partition 0 at `offset`.
std::string rows_at(const TestDb& db, int64_t offset) {
  return db.query("SELECT count(*) FROM invocations WHERE kafka_partition = 0 AND kafka_offset = " +
                  std::to_string(offset));
}

// `rejects replay` through PgBouncer with `extra` flags: its output (it must exit 0 with its
// report).
std::string replay(const TestDb& db, std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), {SENTINEL_BINARY, "rejects", "replay", "--pg", db.bouncer_url()});
  const std::pair<int, std::string> result = run_command(extra, seconds(120));
  EXPECT_EQ(result.first, 0) << result.second;
  EXPECT_NE(result.second.find("rejects to replay matched"), std::string::npos) << result.second;
  return result.second;
}

// Two rejects of one Kafka message in one page: the first (lower id) still invalid, the second
// valid. The second must become the message's row; it was marked 'duplicate' (final), with a
// detail claiming the first was replayed, and the message never became a row.
TEST(RejectsReplayFalseDuplicate, ValidRejectAfterAnInvalidOneOfTheSameMessageBecomesItsRow) {
  TestDb db;
  apply_migrations(db.direct_url());
  insert_reject(db, 42, "invalid_json", "'\\x7b7b'::bytea");
  insert_reject(db, 42, "invalid_value", valid_invocation_sql());
  const std::string out = replay(db);
  EXPECT_EQ(rows_at(db, 42), "1") << out;
  EXPECT_EQ(db.query("SELECT replay_state FROM ingest_rejects WHERE reason = 'invalid_value'"),
            "replayed")
      << out;
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects WHERE replay_state = 'duplicate'"), "0")
      << out;
}

// The same message rejected twice with the same payload (one reject last month, one this month),
// both still too_large: the newer is marked 'duplicate' (final) though nothing was replayed. Once
// last month's rejects are purged (its partition dropped), the widened limit finds nothing left
// to replay: the message is lost. Expected: it becomes its row.
TEST(RejectsReplayFalseDuplicate, MessageIsNotLostWhenTheOlderRejectOfItIsPurged) {
  TestDb db;
  apply_migrations(db.direct_url());
  const std::string last_month = db.query(
      "SELECT sentinel_ensure_month_partition('ingest_rejects', (date_trunc('month', "
      "now() AT TIME ZONE 'UTC') - interval '1 month')::date)");
  for (const char* at : {"now() - interval '1 month'", "now()"}) {
    db.query(
        "INSERT INTO ingest_rejects (topic, kafka_partition, kafka_offset, reason, detail, "
        "payload, rejected_at) VALUES ('sentinel.invocations', 0, 9, 'too_large', 'twice', " +
        valid_invocation_sql() + ", " + at + ")");
  }
  replay(db, {"--max-message-bytes", "100"});
  db.query("DROP TABLE " + last_month);  // what purging last month does
  const std::string out = replay(db);
  EXPECT_EQ(rows_at(db, 9), "1") << out;
}

// `--since 999999999d` (nine digits, as the parser allows) overflows int64 microseconds: the
// filter lands ~184,000 years in the future and the replay matches nothing, exit 0, silently.
// Expected: every reject matched (the age reaches before any reject), or a usage error (exit 2).
TEST(RejectsReplaySinceOverflow, HugeAgeInDaysDoesNotSilentlyMatchNothing) {
  TestDb db;
  apply_migrations(db.direct_url());
  insert_reject(db, 7, "invalid_value", valid_invocation_sql());
  const auto [code, out] = run_command({SENTINEL_BINARY, "rejects", "replay", "--pg",
                                        db.bouncer_url(), "--since", "999999999d", "--dry-run"},
                                       seconds(120));
  if (code == 2) return;  // refused as a usage error: fine
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("1 rejects to replay matched"), std::string::npos) << out;
}

}  // namespace
}  // namespace sentinel
