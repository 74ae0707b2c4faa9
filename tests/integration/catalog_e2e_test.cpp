// Event types as data, end to end through the real binary and PgBouncer: a type that exists only
// as a file in a folder is migrated, ingested from its own topic and rolled up exactly; a property
// added to the built-in invocation type becomes a column that new rows fill and old rows leave
// NULL, with `costs` still exact; `run` refuses a database migrated with another catalog.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "catalog/catalog.h"
#include "testkit/mock_cluster.h"
#include "testkit/publisher.h"
#include "testkit/schema_generator.h"
#include "tests/integration/expectations.h"
#include "tests/support/process.h"
#include "tests/support/temp_folder.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using testing::run_command;
using testing::TestDb;

const std::string kBinary = SENTINEL_BINARY;
const std::string kCatalogDir = std::string(SENTINEL_SOURCE_DIR) + "/tests/data/catalog";

int64_t count_of(const TestDb& db, const std::string& sql) { return std::stoll(db.query(sql)); }

/// Waits until `sql` (a count) reaches `expected`; false after `timeout`.
bool wait_for_count(const TestDb& db, const std::string& sql, int64_t expected,
                    std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (count_of(db, sql) >= expected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

/// Every row of a query as one line of '|'-separated text, in the query's order.
std::vector<std::string> lines_of(const TestDb& db, const std::string& sql) {
  const std::string all =
      db.query("SELECT coalesce(string_agg(line, E'\\n'), '') FROM (" + sql + ") q(line)");
  std::vector<std::string> lines;
  std::istringstream in(all);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The UTC day of a Unix-microsecond time, as PostgreSQL prints a date.
std::string day_text(int64_t unix_micros) {
  const time_t seconds = static_cast<time_t>(
      unix_micros >= 0 ? unix_micros / 1'000'000 : (unix_micros - 999'999) / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

/// An exact decimal of `units` at `scale` fraction digits, as PostgreSQL prints numeric(p,scale).
std::string decimal_text(int64_t units, int scale) {
  std::string digits = std::to_string(units < 0 ? -units : units);
  if (static_cast<int>(digits.size()) <= scale) {
    digits.insert(0, static_cast<size_t>(scale + 1) - digits.size(), '0');
  }
  if (scale > 0) digits.insert(digits.size() - static_cast<size_t>(scale), ".");
  return (units < 0 ? "-" : "") + digits;
}

TEST(EventCatalogEndToEnd,
     AThirdTypeDefinedOnlyByAFileIsIngestedThroughPgBouncerWithItsRollupExact) {
  TestDb db;
  auto [code, out] = run_command(
      {kBinary, "migrate", "--pg", db.bouncer_url(), "--catalog", kCatalogDir}, seconds(60));
  ASSERT_EQ(code, 0) << out;

  const std::shared_ptr<const Catalog> catalog = load_catalog(kCatalogDir);
  const int type = catalog->index_of("guardrail");
  ASSERT_GE(type, 0);
  const EventType& guardrail = (*catalog)[static_cast<size_t>(type)];
  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations", "guardrails.custom"}, 3);

  // Realistic guardrail decisions from the schema alone, 5% malformed, some with fields the
  // type does not know (kept in `extra`), published to a topic named by --topic.
  SchemaGeneratorOptions options;
  options.seed = 18;
  options.tenants = 12;
  options.invalid_ratio = 0.05;
  options.unknown_field_ratio = 0.1;
  SchemaGenerator generator(catalog, {type}, options);
  std::vector<SchemaEvent> events;
  {
    Publisher publisher(mock.bootstraps(), {});
    for (int i = 0; i < 4000; ++i) {
      SchemaEvent e = generator.next();
      publisher.produce("guardrails.custom", e.key, e.payload);
      e.payload.clear();
      events.push_back(std::move(e));
    }
    publisher.flush();
  }

  const std::string log = ::testing::TempDir() + "catalog-e2e-run.out";
  std::remove(log.c_str());
  testing::Process run(
      {kBinary, "run", "--pg", db.bouncer_url(), "--brokers", mock.bootstraps(), "--catalog",
       kCatalogDir, "--topic", "guardrail=guardrails.custom", "--status-interval", "1"},
      log);
  const std::string stored =
      "SELECT (SELECT count(*) FROM guardrail_events) + (SELECT count(*) FROM ingest_rejects)";
  ASSERT_TRUE(wait_for_count(db, stored, static_cast<int64_t>(events.size()), seconds(120)))
      << testing::read_file(log);
  run.signal(SIGTERM);
  ASSERT_EQ(run.wait(seconds(15)), 0) << testing::read_file(log);

  // The truth: rows, rejects per reason, rollup lines, extra and x-source values.
  const Rollup& rollup = guardrail.rollups.at(0);
  const int score_scale =
      guardrail.properties[static_cast<size_t>(guardrail.property_index("score"))].numeric_scale;
  std::map<std::string, int64_t> rejects_by_reason;
  // (tenant, verdict, period, period_start) → (count, score units)
  std::map<std::tuple<std::string, std::string, std::string, std::string>,
           std::pair<int64_t, int64_t>>
      lines;
  int64_t valid = 0, with_extra = 0, prompt_tokens = 0;
  std::set<std::string> ids;
  for (const SchemaEvent& e : events) {
    if (!e.valid) {
      ++rejects_by_reason[std::string(to_string(e.expected_reason))];
      continue;
    }
    ++valid;
    ids.insert(e.id);
    with_extra += e.unknown_field ? 1 : 0;
    const GeneratedValue& tokens = e.value(guardrail, "prompt_tokens");
    prompt_tokens += tokens.present ? tokens.number : 0;
    const std::string tenant = e.value(guardrail, "tenant_id").text;
    const std::string verdict = e.value(guardrail, "verdict").text;
    const GeneratedValue& score = e.value(guardrail, "score");
    const std::string day = day_text(e.ts_unix_micros);
    for (const std::string& period : rollup.periods) {
      const std::string start = period == "day" ? day : day.substr(0, 8) + "01";
      auto& [count, sum] = lines[{tenant, verdict, period, start}];
      ++count;
      sum += score.present ? score.number : 0;
    }
  }
  ASSERT_EQ(ids.size(), static_cast<size_t>(valid)) << "the generator repeated an id";

  EXPECT_EQ(count_of(db, "SELECT count(*) FROM guardrail_events"), valid);
  EXPECT_EQ(count_of(db, "SELECT count(DISTINCT decision_id) FROM guardrail_events"), valid);
  EXPECT_EQ(count_of(db, "SELECT count(*) FROM guardrail_events WHERE extra IS NOT NULL"),
            with_extra);
  EXPECT_EQ(count_of(db, "SELECT coalesce(sum(prompt_tokens), 0) FROM guardrail_events"),
            prompt_tokens);
  for (const auto& [reason, n] : rejects_by_reason) {
    EXPECT_EQ(count_of(db,
                       "SELECT count(*) FROM ingest_rejects WHERE topic = "
                       "'guardrails.custom' AND reason = '" +
                           reason + "'"),
              n)
        << reason;
  }
  EXPECT_EQ(count_of(db, "SELECT count(*) FROM ingest_rejects"), int64_t(events.size()) - valid);

  std::vector<std::string> expected;
  for (const auto& [key, value] : lines) {
    const auto& [tenant, verdict, period, start] = key;
    expected.push_back(tenant + "|" + verdict + "|" + period + "|" + start + "|" +
                       std::to_string(value.first) + "|" + decimal_text(value.second, score_scale));
  }
  std::sort(expected.begin(), expected.end());
  std::vector<std::string> got = lines_of(
      db,
      "SELECT concat_ws('|', tenant_id, verdict, period, period_start::text, decisions::text, "
      "score_total::text) FROM guardrail_daily");
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected);

  // The rollup report reads the same lines, exactly.
  const auto& [first_key, first_value] = *lines.begin();
  if (std::get<2>(first_key) == "day") {
    std::tie(code, out) =
        run_command({kBinary, "rollup", "--pg", db.bouncer_url(), "--catalog", kCatalogDir,
                     "--table", "guardrail_daily", "--month", std::get<3>(first_key).substr(0, 7),
                     "--period", "day", "--format", "csv"},
                    seconds(60));
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find(std::get<0>(first_key) + "," + std::get<1>(first_key) + "," +
                       std::get<3>(first_key) + "," + std::to_string(first_value.first) + "," +
                       decimal_text(first_value.second, score_scale)),
              std::string::npos)
        << out;
  }
}

/// The built-in invocation type with one more optional property, read from a nested field.
std::string invocation_with_cached_tokens() {
  std::ifstream in(std::string(SENTINEL_SOURCE_DIR) + "/schemas/events/invocation.schema.json");
  std::stringstream text;
  text << in.rdbuf();
  std::string schema = text.str();
  const std::string anchor = "\"error_code\":";
  const size_t at = schema.find(anchor);
  EXPECT_NE(at, std::string::npos);
  schema.insert(at,
                "\"cached_tokens\": {\"type\": \"integer\", \"minimum\": 0, \"x-source\": "
                "\"usage.cached_tokens\"},\n    ");
  return schema;
}

TEST(EventCatalogEndToEnd, APropertyAddedToTheBuiltInInvocationTypeFillsItsColumnOldRowsStayNull) {
  TestDb db;
  ASSERT_EQ(run_command({kBinary, "migrate", "--pg", db.bouncer_url()}, seconds(60)).first, 0);
  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 2);
  const std::string log = ::testing::TempDir() + "catalog-e2e-added.out";
  std::remove(log.c_str());

  // Before: today's events, today's catalog.
  const auto before = testing::publish_events(mock.bootstraps(), 1'500, 0.02, 31);
  {
    testing::Process run({kBinary, "run", "--pg", db.bouncer_url(), "--brokers", mock.bootstraps()},
                         log);
    ASSERT_TRUE(testing::wait_for_stored(db, static_cast<int64_t>(before.size()), seconds(120)))
        << testing::read_file(log);
    run.signal(SIGTERM);
    ASSERT_EQ(run.wait(seconds(15)), 0) << testing::read_file(log);
  }
  testing::expect_exactly_once(db, before);
  const int64_t old_invocations = count_of(db, "SELECT count(*) FROM invocations");

  // The catalog gains a property: plan shows it, migrate adds it, run without it is refused.
  testing::TempFolder folder("catalog-added-property");
  folder.write("invocation.schema.json", invocation_with_cached_tokens());
  auto [code, out] = run_command(
      {kBinary, "catalog", "plan", "--pg", db.bouncer_url(), "--catalog", folder.path()},
      seconds(60));
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("ADD COLUMN cached_tokens integer"), std::string::npos) << out;
  std::tie(code, out) = run_command(
      {kBinary, "migrate", "--pg", db.bouncer_url(), "--catalog", folder.path()}, seconds(60));
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(db.query("SELECT is_nullable FROM information_schema.columns WHERE table_name = "
                     "'invocations' AND column_name = 'cached_tokens'"),
            "YES");
  std::tie(code, out) = run_command(
      {kBinary, "run", "--pg", db.bouncer_url(), "--brokers", mock.bootstraps()}, seconds(60));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--catalog"), std::string::npos) << out;

  // After: invocations that carry usage.cached_tokens, for a tenant of their own.
  const std::string costs_before = db.query(
      "SELECT string_agg(concat_ws('|', tenant_id, period, period_start, cost_usd, invocations, "
      "prompt_tokens, completion_tokens), ',' ORDER BY tenant_id, period, period_start) FROM "
      "costs");
  constexpr int kNew = 300;
  int64_t cached_sum = 0;
  const int64_t an_hour_ago_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count() -
                                 3'600'000;
  {
    Publisher publisher(mock.bootstraps(), {});
    for (int i = 0; i < kNew; ++i) {
      const int cached = 7 * i;
      cached_sum += cached;
      char id[40];
      std::snprintf(id, sizeof id, "1c0ffee0-0000-4000-8000-%012d", i);
      const std::string payload =
          std::string(R"({"invocation_id":")") + id + R"(","ts":)" +
          std::to_string(an_hour_ago_ms) +
          R"(,"tenant_id":"tenant-with-cache","provider":"anthropic","model":"claude-sonnet",)"
          R"("prompt_tokens":100,"completion_tokens":20,"status":"ok","cost_usd":"0.000000123",)"
          R"("usage":{"cached_tokens":)" +
          std::to_string(cached) + "}}";
      publisher.produce("sentinel.invocations", "tenant-with-cache", payload);
    }
    publisher.flush();
  }
  {
    testing::Process run({kBinary, "run", "--pg", db.bouncer_url(), "--brokers", mock.bootstraps(),
                          "--catalog", folder.path()},
                         log);
    ASSERT_TRUE(wait_for_count(db, "SELECT count(*) FROM invocations", old_invocations + kNew,
                               seconds(120)))
        << testing::read_file(log);
    run.signal(SIGTERM);
    ASSERT_EQ(run.wait(seconds(15)), 0) << testing::read_file(log);
  }
  EXPECT_EQ(count_of(db, "SELECT count(*) FROM invocations WHERE cached_tokens IS NULL"),
            old_invocations);
  EXPECT_EQ(count_of(db, "SELECT count(*) FROM invocations WHERE cached_tokens IS NOT NULL"), kNew);
  EXPECT_EQ(count_of(db, "SELECT coalesce(sum(cached_tokens), 0) FROM invocations"), cached_sum);
  EXPECT_EQ(count_of(db,
                     "SELECT count(*) FROM invocations WHERE extra IS NOT NULL AND "
                     "tenant_id = 'tenant-with-cache'"),
            0)
      << "usage is read whole by cached_tokens: nothing is left over for extra";
  // costs: the new tenant exactly, everyone else exactly as before.
  EXPECT_EQ(db.query("SELECT concat_ws('|', cost_usd, invocations, prompt_tokens, "
                     "completion_tokens) FROM costs WHERE tenant_id = 'tenant-with-cache' AND "
                     "period = 'month'"),
            "0.000036900|300|30000|6000");
  EXPECT_EQ(db.query("SELECT string_agg(concat_ws('|', tenant_id, period, period_start, cost_usd, "
                     "invocations, prompt_tokens, completion_tokens), ',' ORDER BY tenant_id, "
                     "period, period_start) FROM costs WHERE tenant_id <> 'tenant-with-cache'"),
            costs_before);
}

}  // namespace
}  // namespace sentinel
