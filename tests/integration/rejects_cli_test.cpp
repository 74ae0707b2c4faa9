// `rejects list` and `rejects purge` through the real binary, against a real database: filters,
// replay states, formats, the ingest role and PgBouncer; retention by month partition.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "rows/month.h"
#include "sinks/migrator.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using testing::count_occurrences;
using testing::run_command;
using testing::TestDb;

const std::string kBinary = SENTINEL_BINARY;

std::string first_audit_event() {
  std::ifstream in(SENTINEL_SOURCE_DIR "/tests/data/audit_sample.jsonl");
  std::string line;
  std::getline(in, line);
  return line;
}

std::string sql_text(const std::string& text) {
  std::string out = "'";
  for (char ch : text) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

/// A LOGIN role holding sentinel_ingest, which scripts/pg.sh's PgBouncer lets in; its URL.
std::string ingest_role_url(const TestDb& db, const std::string& base_url) {
  db.query(
      "DO $$ BEGIN CREATE ROLE sentinel_test_ingest LOGIN; EXCEPTION WHEN duplicate_object "
      "THEN NULL; END $$");
  db.query("GRANT sentinel_ingest TO sentinel_test_ingest");
  return base_url + " user=sentinel_test_ingest";
}

std::string output_of(const std::vector<std::string>& argv) {
  const auto [code, out] = run_command(argv, seconds(60));
  EXPECT_EQ(code, 0) << out;
  return out;
}

TEST(RejectsList, FiltersShowsReplayStatesAndParsesAsCsvAndJsonAsTheIngestRoleThroughPgBouncer) {
  TestDb db;
  apply_migrations(db.direct_url());
  const std::string bouncer = ingest_role_url(db, db.bouncer_url());
  const std::string event = first_audit_event();
  ASSERT_FALSE(event.empty());
  db.query("SELECT sentinel_ensure_month_partition('audit_logs', '2026-11-01')");
  db.query("SELECT sentinel_ensure_month_partition('ingest_rejects', '2026-09-01')");
  // A valid event stored twice under the same Kafka message, one still not JSON, one missing a
  // field, one without payload, and an old one of another topic.
  db.query(
      "INSERT INTO ingest_rejects (topic, kafka_partition, kafka_offset, reason, detail, payload) "
      "VALUES ('sentinel.audit', 0, 10, 'invalid_json', 'limit too tight', convert_to(" +
      sql_text(event) +
      ", 'UTF8')), "
      "('sentinel.audit', 0, 10, 'invalid_json', 'limit too tight', convert_to(" +
      sql_text(event) +
      ", 'UTF8')), "
      "('sentinel.audit', 0, 11, 'invalid_json', 'not json at all', 'not json'), "
      "('sentinel.invocations', 1, 12, 'missing_field', 'missing field: model', '{}'), "
      "('sentinel.audit', 0, 13, 'too_large', 'message of 9 MiB', NULL)");
  db.query(
      "INSERT INTO ingest_rejects (rejected_at, topic, kafka_partition, kafka_offset, reason, "
      "detail, payload) VALUES ('2026-09-15T00:00:00Z', 'other.topic', 2, 14, 'wrong_type', "
      "'wrong type: ts', '\\xff00fe'::bytea)");

  // Replay as the ingest role, through PgBouncer: one row, one duplicate, two still invalid.
  output_of(
      {kBinary, "rejects", "replay", "--pg", bouncer, "--type-topic", "audit=sentinel.audit"});
  EXPECT_EQ(db.query("SELECT count(*) FROM audit_logs"), "1");

  // Read only from here on, as on a replica: list needs nothing else.
  db.query("ALTER ROLE sentinel_test_ingest IN DATABASE " + db.name() +
           " SET default_transaction_read_only = on");
  db.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = "
      "'sentinel_test_ingest' AND datname = current_database()");

  // The table: newest first by id (the order stored), every state, the footer counting by state.
  ::setenv("COLUMNS", "250", 1);
  std::string out = output_of({kBinary, "rejects", "list", "--pg", bouncer});
  EXPECT_NE(out.find("6 shown of 6 matching (by state: pending 2, replayed 1, invalid 2, "
                     "duplicate 1)"),
            std::string::npos)
      << out;
  EXPECT_LT(out.find("wrong type: ts"), out.find("message of 9 MiB")) << "by id: " << out;
  EXPECT_LT(out.find("message of 9 MiB"), out.find("missing field: model")) << "by id: " << out;
  EXPECT_NE(out.find("replay: invalid_json"), std::string::npos) << out;
  // Fitted to the line: the detail is cut, with "…", so that no line is wider than $COLUMNS.
  ::setenv("COLUMNS", "130", 1);
  out = output_of({kBinary, "rejects", "list", "--pg", bouncer});
  ::unsetenv("COLUMNS");
  EXPECT_NE(out.find("…"), std::string::npos) << out;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    const auto chars = std::count_if(line.begin(), line.end(), [](char ch) {
      return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    });
    EXPECT_LE(chars, 130) << line;
  }

  // Filters: reason, topic, since, state, limit.
  out = output_of({kBinary, "rejects", "list", "--pg", bouncer, "--reason", "invalid_json"});
  EXPECT_NE(out.find("3 shown of 3 matching"), std::string::npos) << out;
  out = output_of({kBinary, "rejects", "list", "--pg", bouncer, "--topic", "sentinel.invocations"});
  EXPECT_NE(out.find("1 shown of 1 matching"), std::string::npos) << out;
  EXPECT_NE(out.find("missing field: model"), std::string::npos) << out;
  out = output_of({kBinary, "rejects", "list", "--pg", bouncer, "--since", "2026-10-01"});
  EXPECT_NE(out.find("5 shown of 5 matching"), std::string::npos) << out;
  EXPECT_EQ(out.find("other.topic"), std::string::npos) << out;
  out = output_of({kBinary, "rejects", "list", "--pg", bouncer, "--state", "pending"});
  EXPECT_NE(out.find("2 shown of 2 matching"), std::string::npos) << out;
  out = output_of({kBinary, "rejects", "list", "--pg", bouncer, "--limit", "2"});
  EXPECT_NE(out.find("2 shown of 6 matching"), std::string::npos) << out;
  EXPECT_NE(out.find("--limit 0 shows all"), std::string::npos) << out;

  // CSV: the header, one line per reject, the full detail.
  out = output_of(
      {kBinary, "rejects", "list", "--pg", bouncer, "--format", "csv", "--state", "invalid"});
  EXPECT_EQ(out.rfind("id,rejected_at,topic,partition,offset,reason,detail,state,replayed_at,"
                      "replay_attempts,replay_reason,replay_detail\r\n",
                      0),
            0u)
      << out;
  EXPECT_EQ(count_occurrences(out, "\r\n"), 3u) << out;

  // JSON with payloads: parses; UTF-8 as text, other bytes as base64, each saying which.
  out = output_of({kBinary, "rejects", "list", "--pg", bouncer, "--format", "json", "--payload"});
  simdjson::dom::parser parser;
  simdjson::dom::array rejects;
  ASSERT_EQ(parser.parse(out).get_array().get(rejects), simdjson::SUCCESS) << out;
  size_t seen = 0;
  for (simdjson::dom::object r : rejects) {
    ++seen;
    const std::string_view state = r["state"].get_string().value();
    const int64_t offset = r["offset"].get_int64().value();
    if (offset == 14) {
      EXPECT_EQ(r["payload_encoding"].get_string().value(), "base64");
      EXPECT_EQ(r["payload"].get_string().value(), "/wD+");
      EXPECT_EQ(r["rejected_at"].get_string().value(), "2026-09-15T00:00:00.000000Z");
    }
    if (offset == 11) {
      EXPECT_EQ(state, "invalid");
      EXPECT_EQ(r["payload_encoding"].get_string().value(), "utf8");
      EXPECT_EQ(r["payload"].get_string().value(), "not json");
      EXPECT_EQ(r["replay_reason"].get_string().value(), "invalid_json");
      EXPECT_EQ(r["replay_attempts"].get_int64().value(), 1);
    }
    if (offset == 13) {
      EXPECT_EQ(state, "pending");
      EXPECT_EQ(r["payload_encoding"].get_string().value(), "");
    }
  }
  EXPECT_EQ(seen, 6u);

  // The summary: reason x state.
  out = output_of({kBinary, "rejects", "list", "--pg", bouncer, "--summary", "--format", "csv"});
  EXPECT_NE(out.find("invalid_json,0,1,1,1,3\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("too_large,1,0,0,0,1\r\n"), std::string::npos) << out;

  // Usage errors exit 2.
  EXPECT_EQ(
      run_command({kBinary, "rejects", "list", "--pg", bouncer, "--payload"}, seconds(20)).first,
      2);
  EXPECT_EQ(
      run_command({kBinary, "rejects", "list", "--pg", bouncer, "--reason", "nope"}, seconds(20))
          .first,
      2);
  EXPECT_EQ(
      run_command({kBinary, "rejects", "list", "--pg", bouncer, "--state", "nope"}, seconds(20))
          .first,
      2);
}

/// Rejects in three old months and this one: `n` in each, every fourth never replayed.
void insert_rejects(const TestDb& db, int32_t month, int n, const std::string& day = "10") {
  db.query("SELECT sentinel_ensure_month_partition('ingest_rejects', '" + month_start_text(month) +
           "')");
  db.query(
      "INSERT INTO ingest_rejects (rejected_at, topic, kafka_partition, kafka_offset, reason, "
      "detail, payload, replay_state, replayed_at) SELECT '" +
      month_start_text(month).substr(0, 8) + day +
      "T00:00:00Z'::timestamptz + g * interval '1 minute', 'sentinel.audit', 0, g, "
      "'invalid_json', 'bad', 'x', CASE WHEN g % 4 = 0 THEN NULL ELSE 'invalid' END, "
      "CASE WHEN g % 4 = 0 THEN NULL ELSE now() END FROM generate_series(1, " +
      std::to_string(n) + ") g");
}

TEST(RejectsPurge, DropsOldMonthsDeletesTheStraddlingRowsKeepsTheRestAndRefusesTheIngestRole) {
  TestDb db;
  apply_migrations(db.direct_url());
  const int32_t now = current_month();
  insert_rejects(db, now - 4, 40);
  insert_rejects(db, now - 3, 40);
  insert_rejects(db, now - 2, 40, "01");  // spread over the whole month, minute by minute
  db.query(
      "UPDATE ingest_rejects SET rejected_at = rejected_at + (kafka_offset - 1) * interval "
      "'17 hours' WHERE rejected_at >= '" +
      month_start_text(now - 2) + "' AND rejected_at < '" + month_start_text(now - 1) + "'");
  db.query(
      "INSERT INTO ingest_rejects (topic, kafka_partition, kafka_offset, reason, detail) "
      "VALUES ('sentinel.audit', 0, 1, 'invalid_json', 'today')");
  const std::string old_month = "ingest_rejects_" + month_start_text(now - 4).substr(0, 4) + "_" +
                                month_start_text(now - 4).substr(5, 2);
  const std::string middle_month = "ingest_rejects_" + month_start_text(now - 3).substr(0, 4) +
                                   "_" + month_start_text(now - 3).substr(5, 2);
  // The cutoff in the middle of month now-2: as many days back as from its 15th to today.
  const std::string days = db.query("SELECT (current_date - '" +
                                    month_start_text(now - 2).substr(0, 8) + "15'::date)::text");
  const std::string cutoff = "now() - interval '" + days + " days'";
  const std::string straddling_older =
      db.query("SELECT count(*) FROM ingest_rejects WHERE rejected_at < " + cutoff +
               " AND rejected_at >= '" + month_start_text(now - 2) + "'");
  ASSERT_NE(straddling_older, "0");
  ASSERT_NE(straddling_older, "40");
  const std::string pending_older = db.query(
      "SELECT count(*) FROM ingest_rejects WHERE replay_state IS NULL AND rejected_at < " + cutoff);
  const std::string all_before = db.query("SELECT count(*) FROM ingest_rejects");
  EXPECT_EQ(all_before, "121");

  // The ingest role is refused before anything happens, dry run or not, with exit 2.
  const std::string ingest = ingest_role_url(db, db.direct_url());
  for (const bool dry : {true, false}) {
    std::vector<std::string> argv = {kBinary, "rejects",      "purge", "--pg",
                                     ingest,  "--older-than", "1"};
    if (dry) argv.push_back("--dry-run");
    const auto [code, out] = run_command(argv, seconds(60));
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find("rejects purge needs the owner role of ingest_rejects (sentinel_owner or "
                       "the table owner"),
              std::string::npos)
        << out;
  }
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects"), all_before);

  // DAYS below 1, or missing: exit 2, nothing touched.
  for (const std::string bad : {"0", "-3"}) {
    EXPECT_EQ(
        run_command({kBinary, "rejects", "purge", "--pg", db.bouncer_url(), "--older-than", bad},
                    seconds(20))
            .first,
        2);
  }
  EXPECT_EQ(run_command({kBinary, "rejects", "purge", "--pg", db.bouncer_url()}, seconds(20)).first,
            2);

  // Dry run: the same report, nothing changed.
  const std::vector<std::string> purge = {kBinary, "rejects",          "purge",
                                          "--pg",  db.bouncer_url(),   "--older-than",
                                          days,    "--include-pending"};
  std::vector<std::string> dry = purge;
  dry.push_back("--dry-run");
  std::string out = output_of(dry);
  EXPECT_NE(out.find(old_month + "  would drop"), std::string::npos) << out;
  EXPECT_NE(out.find(middle_month + "  would drop"), std::string::npos) << out;
  EXPECT_NE(out.find("would delete rows"), std::string::npos) << out;
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects"), all_before);
  EXPECT_EQ(db.query("SELECT to_regclass('" + old_month + "') IS NOT NULL"), "t");

  // Without --include-pending, the never-replayed rejects stay, with their partitions.
  std::vector<std::string> keeping = purge;
  keeping.pop_back();
  out = output_of(keeping);
  EXPECT_NE(out.find("kept " + pending_older + " pending"), std::string::npos) << out;
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects WHERE rejected_at < '" +
                     month_start_text(now - 2) + "'"),
            "20");
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects WHERE replay_state IS NULL AND "
                     "rejected_at < '" +
                     month_start_text(now - 2) + "'"),
            "20");

  // With it: the old months dropped, the straddling one's older rows deleted, the rest kept.
  out = output_of(purge);
  EXPECT_NE(out.find(old_month + "  dropped"), std::string::npos) << out;
  EXPECT_NE(out.find(middle_month + "  dropped"), std::string::npos) << out;
  EXPECT_NE(out.find("of them pending (never replayed)"), std::string::npos) << out;
  EXPECT_EQ(db.query("SELECT to_regclass('" + old_month + "') IS NULL AND to_regclass('" +
                     middle_month + "') IS NULL"),
            "t");
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects WHERE rejected_at < " + cutoff), "0");
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects"),
            std::to_string(40 - std::stoi(straddling_older) + 1));
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects WHERE detail = 'today'"), "1");

  // Run again: nothing left to purge. And the writer's insert as the ingest role still works.
  out = output_of(purge);
  EXPECT_NE(out.find("nothing to purge"), std::string::npos) << out;
  testing::query_one(ingest,
                     "INSERT INTO ingest_rejects (topic, kafka_partition, kafka_offset, reason, "
                     "detail) VALUES ('sentinel.audit', 0, 2, 'invalid_json', 'after purge')");
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects WHERE detail = 'after purge'"), "1");
}

}  // namespace
}  // namespace sentinel
