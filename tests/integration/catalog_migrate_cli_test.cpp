// The event catalog at the command line : `migrate --catalog DIR` creates a new type's
// tables and refuses, exit 2, a change it cannot make with the SQL a DBA would run; `catalog plan`
// shows the DDL first; `run` refuses a database that does not match its catalog.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "app/catalog_plan_command.h"
#include "schemas/migrations.h"
#include "tests/support/process.h"
#include "tests/support/temp_folder.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using testing::run_command;
using testing::TestDb;

const std::string kGuardrailDir = std::string(SENTINEL_SOURCE_DIR) + "/tests/data/catalog";

/// A catalog folder with the guardrail type edited: `from` (which must be there) replaced by `to`.
class EditedGuardrail {
 public:
  EditedGuardrail(const std::string& from, const std::string& to) {
    std::ifstream in(kGuardrailDir + "/guardrail.schema.json");
    std::stringstream s;
    s << in.rdbuf();
    std::string text = s.str();
    const size_t at = text.find(from);
    if (at == std::string::npos) throw std::runtime_error("not in guardrail.schema.json: " + from);
    text.replace(at, from.size(), to);
    folder_.write("guardrail.schema.json", text);
  }
  std::string path() const { return folder_.path(); }

 private:
  testing::TempFolder folder_{"catalog-edited"};
};

/// The guardrail type whose score is numeric(8,4) instead of (6,4).
class WiderScoreCatalog : public EditedGuardrail {
 public:
  WiderScoreCatalog() : EditedGuardrail("numeric(6,4)", "numeric(8,4)") {}
};

TEST(CatalogCli, MigrateCreatesTheTypeThenRefusesAChangedTypeWithExit2AndTheSql) {
  TestDb db;
  const auto [code, out] = run_command(
      {SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url(), "--catalog", kGuardrailDir},
      seconds(60));
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("catalog: guardrail: new type: table guardrail_events"));
  EXPECT_EQ(db.query("SELECT count(*) FROM sentinel_catalog"), "3");

  const WiderScoreCatalog wider;
  const auto [refused, why] =
      run_command({SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url(), "--catalog", wider.path()},
                  seconds(60));
  EXPECT_EQ(refused, 2) << why;
  EXPECT_THAT(why, HasSubstr("-- REFUSED: guardrail: column guardrail_events.score is "
                             "numeric(6,4), the catalog says numeric(8,4)"));
  EXPECT_THAT(why, HasSubstr("\nALTER TABLE public.guardrail_events ALTER COLUMN score TYPE "
                             "numeric(8,4) USING score::numeric(8,4);\n"));
  EXPECT_EQ(db.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                     "'guardrail_events'::regclass AND attname = 'score'"),
            "numeric(6,4)");
}

TEST(CatalogCli, ASumAddedToARollupWithLinesIsRefusedExit2WithTheBackfillSqlNothingApplied) {
  TestDb db;
  ASSERT_EQ(run_command(
                {SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url(), "--catalog", kGuardrailDir},
                seconds(60))
                .first,
            0);
  db.query("SELECT sentinel_ensure_month_partition('guardrail_events', '2026-11-01')");
  db.query(
      "INSERT INTO guardrail_events (decision_id, ts, tenant_id, verdict, prompt_tokens, "
      "kafka_partition, kafka_offset) VALUES (gen_random_uuid(), '2026-11-05T10:00:00Z', 't1', "
      "'block', 5, 0, 1)");
  db.query(
      "INSERT INTO guardrail_daily (tenant_id, verdict, period, period_start, decisions) VALUES "
      "('t1', 'block', 'day', '2026-11-05', 1), ('t1', 'block', 'month', '2026-11-01', 1)");
  const EditedGuardrail more(R"("sums": {"score_total": "score"})",
                             R"("sums": {"score_total": "score", "tokens": "prompt_tokens"})");
  const auto [code, out] =
      run_command({SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url(), "--catalog", more.path()},
                  seconds(60));
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("-- REFUSED: guardrail: new rollup columns guardrail_daily.tokens: "
                             "the table already has lines, for which 0 would be wrong; a DBA "
                             "would run:\n-- stop every ingestor first"));
  EXPECT_THAT(out, HasSubstr("UPDATE public.guardrail_daily AS r SET tokens = x.tokens\n"));
  EXPECT_EQ(db.query("SELECT count(*) FROM pg_attribute WHERE attrelid = "
                     "'guardrail_daily'::regclass AND attname = 'tokens'"),
            "0");
}

TEST(CatalogCli, MigrateWithAnInvalidCatalogExits2NamingTheProblemAndAppliesNothing) {
  TestDb db;
  const testing::TempFolder folder("catalog-invalid");
  folder.write("broken.schema.json", R"({"type": "object", "x-sentinel": {"name": "broken"},
    "properties": {"ts": {"type": "string", "pattern": "x"}}})");
  const auto [code, out] = run_command(
      {SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url(), "--catalog", folder.path()},
      seconds(60));
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("sentinel-ingest: catalog: " + folder.path() +
                             "/broken.schema.json: /properties/ts/pattern: "));
  EXPECT_EQ(db.query("SELECT to_regclass('schema_migrations') IS NULL"), "t");
}

TEST(CatalogCli, RunRefusesADatabaseMigratedWithAnotherCatalogExit2NamingTheFix) {
  TestDb db;
  ASSERT_EQ(run_command({SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url()}, seconds(60)).first,
            0);
  // Another binary, or a hand edit, recorded another audit type.
  db.query("UPDATE sentinel_catalog SET checksum = repeat('0', 64) WHERE type_name = 'audit'");
  const auto [code, out] = run_command(
      {SENTINEL_BINARY, "run", "--pg", db.bouncer_url(), "--brokers", "127.0.0.1:1"}, seconds(60));
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("the database does not match the event catalog (audit: applied "
                             "with another document"));
  EXPECT_THAT(out, HasSubstr("run `sentinel-ingest migrate --pg URL --catalog DIR`"));
}

TEST(CatalogCli, PlanShowsTheCreatesOfAFreshDatabaseAndChangesNothing) {
  TestDb db;
  ::testing::internal::CaptureStdout();
  const int code = run_catalog_plan(db.direct_url(), kGuardrailDir);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0) << out;
  // Every embedded migration, whichever is the newest.
  std::string versions;
  for (const EmbeddedMigration& m : embedded_migrations()) {
    versions += (versions.empty() ? "" : ", ") + std::to_string(m.version);
  }
  EXPECT_THAT(out, HasSubstr("-- numbered migrations " + versions + " are applied first"));
  EXPECT_THAT(out, HasSubstr("CREATE TABLE public.guardrail_events (\n"));
  EXPECT_THAT(out, HasSubstr("CREATE TABLE public.guardrail_daily (\n"));
  EXPECT_EQ(db.query("SELECT to_regclass('schema_migrations') IS NULL"), "t");

  ASSERT_EQ(run_command(
                {SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url(), "--catalog", kGuardrailDir},
                seconds(60))
                .first,
            0);
  const WiderScoreCatalog wider;
  ::testing::internal::CaptureStdout();
  const int refused = run_catalog_plan(db.bouncer_url(), wider.path());
  const std::string plan = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(refused, 2) << plan;
  EXPECT_THAT(plan, HasSubstr("ALTER TABLE public.guardrail_events ALTER COLUMN score TYPE"));
}

}  // namespace
}  // namespace sentinel
