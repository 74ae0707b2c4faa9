// The event catalog against a real PostgreSQL : `migrate` creates a new type's table and
// rollup, adds new properties as columns, keeps removed ones (dropping NOT NULL where rows leave
// a column empty), refuses a changed type, a renamed column or a rollup change that needs a
// back-fill with the SQL a DBA would run; `run` refuses a database migrated with another catalog.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "catalog/catalog.h"
#include "schemas/migrations.h"
#include "sinks/catalog_schema.h"
#include "sinks/migrator.h"
#include "tests/support/pg_helpers.h"
#include "tests/support/temp_folder.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::SqlOutcome;
using testing::TestDb;
using testing::TestRole;
using testing::try_sql;

std::string guardrail_file() {
  std::ifstream in(std::string(SENTINEL_TEST_DATA_DIR) + "/catalog/guardrail.schema.json");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// `text` with `from` replaced by `to` (which must be there: a test edits a known file).
std::string edited(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("not in the file: " + from);
  return text.replace(at, from.size(), to);
}

/// The built-in types plus a guardrail file of this text, loaded from a folder of its own.
std::shared_ptr<const Catalog> catalog_of(const std::string& guardrail) {
  const testing::TempFolder dir("catalog-schema");
  dir.write("guardrail.schema.json", guardrail);
  return load_catalog(dir.path());
}

std::vector<int> all_versions() {
  std::vector<int> v;
  for (const auto& m : embedded_migrations()) v.push_back(m.version);
  return v;
}

const char* const kInsertGuardrail =
    "INSERT INTO guardrail_events (decision_id, ts, tenant_id, verdict, score, kafka_partition, "
    "kafka_offset) VALUES (gen_random_uuid(), '2026-11-05T10:00:00Z', 't1', 'block', 0.25, 0, 1)";

std::string columns_of(const TestDb& db, const std::string& table) {
  return db.query(
      "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || "
      "CASE WHEN attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY attnum) "
      "FROM pg_attribute WHERE attrelid = '" +
      table + "'::regclass AND attnum > 0 AND NOT attisdropped");
}

CatalogPlan migrate(const std::string& url, const Catalog& catalog) {
  CatalogPlan plan;
  apply_migrations(url, catalog, &plan);
  return plan;
}

/// What migrate would do with `catalog` on `db` (nothing applied): a plan that must refuse exactly
/// one change (else the test stops with the plan).
CatalogPlan plan_with_one_refusal(const TestDb& db, const Catalog& catalog) {
  std::vector<int> pending;
  CatalogPlan plan = preview_migrations(db.direct_url(), catalog, pending);
  if (plan.refusals.size() != 1) throw std::runtime_error("not one refusal:\n" + plan.to_text());
  return plan;
}

TEST(CatalogSchema, PlanOfAFreshDatabaseShowsTheCreatesAndChangesNothing) {
  TestDb db;
  const auto catalog = catalog_of(guardrail_file());
  std::vector<int> pending;
  const CatalogPlan plan = preview_migrations(db.direct_url(), *catalog, pending);
  EXPECT_EQ(pending, all_versions());
  EXPECT_FALSE(plan.refused());
  const std::string text = plan.to_text();
  EXPECT_THAT(text, HasSubstr("-- guardrail: new type: table guardrail_events, month-partitioned "
                              "on ts, append-only\nCREATE TABLE public.guardrail_events (\n"
                              "  decision_id uuid NOT NULL,\n  ts timestamptz NOT NULL,\n"));
  EXPECT_THAT(text, HasSubstr("  score numeric(6,4),\n"));
  EXPECT_THAT(text, HasSubstr("  extra jsonb,\n  kafka_partition integer NOT NULL,\n"
                              "  kafka_offset bigint NOT NULL\n) PARTITION BY RANGE (ts);\n"));
  EXPECT_THAT(text, HasSubstr("CREATE INDEX guardrail_events_tenant_id_ts_idx ON "
                              "public.guardrail_events (tenant_id, ts);\n"));
  EXPECT_THAT(text, HasSubstr("CREATE INDEX guardrail_events_ts_brin ON public.guardrail_events "
                              "USING brin (ts);\n"));
  EXPECT_THAT(text, HasSubstr("CREATE TABLE public.guardrail_daily (\n"));
  EXPECT_THAT(text, HasSubstr("-- guardrail: record in sentinel_catalog (not applied yet)\n"));
  EXPECT_THAT(text, HasSubstr("CALL public.sentinel_apply_roles();\n"));
  // The built-in types need nothing beyond migration 004: they are only recorded.
  for (const CatalogChange& c : plan.changes) EXPECT_EQ(c.type, "guardrail") << c.what;
  EXPECT_EQ(plan.records.size(), 3U);
  // Nothing was made, not even the numbered migrations.
  EXPECT_EQ(db.query("SELECT to_regclass('schema_migrations') IS NULL"), "t");
}

TEST(CatalogSchema, MigrateCreatesTheTableRollupIndexesAndRecord) {
  TestDb db;
  const auto catalog = catalog_of(guardrail_file());
  EXPECT_EQ(apply_migrations(db.direct_url(), *catalog), all_versions());
  EXPECT_EQ(columns_of(db, "guardrail_events"),
            "decision_id uuid not null, ts timestamp with time zone not null, tenant_id text not "
            "null, verdict text not null, score numeric(6,4), prompt_tokens integer, client_ip "
            "inet, flagged boolean, categories jsonb, extra jsonb, kafka_partition integer not "
            "null, kafka_offset bigint not null");
  EXPECT_EQ(db.query("SELECT pg_get_partkeydef('guardrail_events'::regclass)"), "RANGE (ts)");
  EXPECT_EQ(db.query("SELECT string_agg(pg_get_indexdef(indexrelid), '; ' ORDER BY 1) "
                     "FROM pg_index WHERE indrelid = 'guardrail_events'::regclass"),
            "CREATE INDEX guardrail_events_tenant_id_ts_idx ON ONLY public.guardrail_events "
            "USING btree (tenant_id, ts); CREATE INDEX guardrail_events_ts_brin ON ONLY "
            "public.guardrail_events USING brin (ts)");
  EXPECT_EQ(columns_of(db, "guardrail_daily"),
            "tenant_id text not null, verdict text not null, period text not null, period_start "
            "date not null, decisions bigint not null, score_total numeric(38,4) not null, "
            "updated_at timestamp with time zone not null");
  EXPECT_EQ(db.query("SELECT pg_get_indexdef(indexrelid) FROM pg_index "
                     "WHERE indrelid = 'guardrail_daily'::regclass AND indisprimary"),
            "CREATE UNIQUE INDEX guardrail_daily_pkey ON public.guardrail_daily USING btree "
            "(tenant_id, verdict, period, period_start)");
  EXPECT_EQ(try_sql(db.direct_url(),
                    "INSERT INTO guardrail_daily (tenant_id, verdict, period, period_start) "
                    "VALUES ('t', 'allow', 'week', '2026-11-02')")
                .sqlstate,
            "23514");
  EXPECT_EQ(
      db.query("SELECT string_agg(type_name || ':' || table_name || ':' || "
               "array_to_string(rollup_tables, ',') || ':' || checksum, ' ' ORDER BY type_name) "
               "FROM sentinel_catalog"),
      "audit:audit_logs::" + catalog->find("audit")->checksum +
          " guardrail:guardrail_events:guardrail_daily:" + catalog->find("guardrail")->checksum +
          " invocation:invocations:costs:" + catalog->find("invocation")->checksum);
  EXPECT_EQ(db.query("SELECT document FROM sentinel_catalog WHERE type_name = 'guardrail'"),
            catalog->find("guardrail")->document);
  EXPECT_EQ(db.query("SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class "
                     "WHERE relname IN ('guardrail_events', 'guardrail_daily')"),
            "sentinel_owner");
}

TEST(CatalogSchema, NewTypesTableIsAppendOnlyOnParentAndPartitions) {
  TestDb db;
  apply_migrations(db.direct_url(), *catalog_of(guardrail_file()));
  EXPECT_EQ(db.query("SELECT sentinel_ensure_month_partition('guardrail_events', '2026-11-01')"),
            "guardrail_events_2026_11");
  db.query(kInsertGuardrail);
  for (const std::string target : {"guardrail_events", "guardrail_events_2026_11"}) {
    for (const std::string& sql :
         {"UPDATE " + target + " SET verdict = 'allow'", "DELETE FROM " + target,
          "DELETE FROM " + target + " WHERE false", "TRUNCATE " + target}) {
      const SqlOutcome r = try_sql(db.direct_url(), sql);
      EXPECT_EQ(r.sqlstate, "42501") << sql << ": " << r.message;
      EXPECT_THAT(r.message, HasSubstr(" is append-only: ")) << sql;
    }
  }
  EXPECT_EQ(db.query("SELECT count(*) FROM guardrail_events"), "1");
  // The function still refuses a table that is not a registered event table.
  EXPECT_EQ(try_sql(db.direct_url(),
                    "SELECT sentinel_ensure_month_partition('guardrail_daily', "
                    "'2026-11-01')")
                .sqlstate,
            "22023");
}

TEST(CatalogSchema, IngestRoleInsertsAndMakesPartitionsButCannotUpdate) {
  TestDb db;
  const auto catalog = catalog_of(guardrail_file());
  apply_migrations(db.direct_url(), *catalog);
  TestRole user(db, "ingest");
  db.query("GRANT sentinel_ingest TO " + user.name());
  for (const std::string sql : {
           "SELECT sentinel_ensure_month_partition('guardrail_events', '2026-11-01')",
           kInsertGuardrail,
           "INSERT INTO guardrail_daily AS d (tenant_id, verdict, period, period_start, "
           "decisions, score_total) VALUES ('t1', 'block', 'day', '2026-11-05', 1, 0.25) "
           "ON CONFLICT (tenant_id, verdict, period, period_start) DO UPDATE SET decisions = "
           "d.decisions + excluded.decisions, score_total = d.score_total + excluded.score_total",
           "SELECT checksum FROM sentinel_catalog",
       }) {
    const SqlOutcome r = try_sql(user.url(), sql);
    EXPECT_TRUE(r.ok) << sql << ": " << r.sqlstate << " " << r.message;
  }
  for (const std::string sql :
       {"UPDATE guardrail_events SET verdict = 'allow'", "SELECT count(*) FROM guardrail_events",
        "DELETE FROM guardrail_daily",
        "INSERT INTO sentinel_catalog VALUES ('x', 'costs', '{}', '', '')",
        "ALTER TABLE guardrail_events ADD COLUMN x int"}) {
    EXPECT_EQ(try_sql(user.url(), sql).sqlstate, "42501") << sql;
  }
  EXPECT_EQ(db.query("SELECT pg_get_userbyid(relowner) FROM pg_class "
                     "WHERE relname = 'guardrail_events_2026_11'"),
            "sentinel_owner");
  EXPECT_NO_THROW(verify_catalog(user.url(), *catalog));
}

TEST(CatalogSchema, SecondMigrateIsANoOp) {
  TestDb db;
  const auto catalog = catalog_of(guardrail_file());
  apply_migrations(db.direct_url(), *catalog);
  const std::string applied_at = db.query("SELECT max(applied_at) FROM sentinel_catalog");
  CatalogPlan plan;
  EXPECT_EQ(apply_migrations(db.direct_url(), *catalog, &plan), std::vector<int>{});
  EXPECT_TRUE(plan.nothing_to_do()) << plan.to_text();
  EXPECT_THAT(plan.to_text(), HasSubstr("nothing to apply"));
  EXPECT_EQ(db.query("SELECT max(applied_at) FROM sentinel_catalog"), applied_at);
}

TEST(CatalogSchema, BuiltInTypesAreRecordedWithoutChanges) {
  TestDb db;
  CatalogPlan plan;
  apply_migrations(db.direct_url(), *load_catalog(), &plan);
  EXPECT_TRUE(plan.changes.empty()) << plan.to_text();
  EXPECT_TRUE(plan.notes.empty()) << plan.to_text();
  EXPECT_EQ(plan.records.size(), 2U);
  EXPECT_EQ(db.query("SELECT string_agg(type_name, ',' ORDER BY 1) FROM sentinel_catalog"),
            "audit,invocation");
  EXPECT_THAT(columns_of(db, "audit_logs"), HasSubstr("metadata jsonb, kafka_partition integer "
                                                      "not null, kafka_offset bigint not null, "
                                                      "extra jsonb"));
  EXPECT_NO_THROW(verify_catalog(db.direct_url(), *load_catalog()));
}

TEST(CatalogSchema, AddedPropertiesBecomeNullableColumnsOldRowsNull) {
  TestDb db;
  apply_migrations(db.direct_url(), *catalog_of(guardrail_file()));
  db.query("SELECT sentinel_ensure_month_partition('guardrail_events', '2026-11-01')");
  db.query(kInsertGuardrail);
  // One optional property and one required: old rows have neither, so both are nullable.
  std::string v2 = edited(guardrail_file(), R"("flagged":     {"type": "boolean"},)",
                          R"("flagged": {"type": "boolean"}, "reviewer": {"type": "string"},
    "policy_version": {"type": "integer", "minimum": 0},)");
  v2 = edited(v2, R"("required": [)", R"("required": ["policy_version", )");
  const auto catalog = catalog_of(v2);
  const CatalogPlan plan = migrate(db.direct_url(), *catalog);
  EXPECT_THAT(plan.to_text(), HasSubstr("-- guardrail: new column guardrail_events.reviewer "
                                        "(text)\nALTER TABLE public.guardrail_events ADD COLUMN "
                                        "reviewer text;\n"));
  EXPECT_THAT(plan.to_text(), HasSubstr("new column guardrail_events.policy_version (integer), "
                                        "nullable: rows stored before have no value"));
  EXPECT_THAT(columns_of(db, "guardrail_events"),
              HasSubstr("categories jsonb, extra jsonb, kafka_partition integer not null, "
                        "kafka_offset bigint not null, reviewer text, policy_version integer"));
  EXPECT_EQ(db.query("SELECT count(*) FROM guardrail_events WHERE reviewer IS NULL AND "
                     "policy_version IS NULL"),
            "1");
  EXPECT_EQ(db.query("SELECT checksum FROM sentinel_catalog WHERE type_name = 'guardrail'"),
            catalog->find("guardrail")->checksum);
  EXPECT_NO_THROW(verify_catalog(db.direct_url(), *catalog));
}

TEST(CatalogSchema, RemovedPropertyKeepsItsColumnAndIsReported) {
  TestDb db;
  apply_migrations(db.direct_url(), *catalog_of(guardrail_file()));
  const auto catalog =
      catalog_of(edited(guardrail_file(), R"("flagged":     {"type": "boolean"},)", ""));
  const CatalogPlan plan = migrate(db.direct_url(), *catalog);
  EXPECT_THAT(plan.to_text(), HasSubstr("-- kept: guardrail: column guardrail_events.flagged is "
                                        "kept: no property of the catalog writes it any more"));
  EXPECT_THAT(columns_of(db, "guardrail_events"), HasSubstr("flagged boolean"));
  EXPECT_NO_THROW(verify_catalog(db.direct_url(), *catalog));
}

TEST(CatalogSchema, RemovedRollupKeepsItsTableAndIsReported) {
  TestDb db;
  apply_migrations(db.direct_url(), *catalog_of(guardrail_file()));
  const std::string text = guardrail_file();
  const size_t from = text.find(R"("rollups")");
  const size_t to = text.find("}]", from) + 2;
  std::string without = text;
  without.replace(from, to - from, R"("rollups": [])");
  const auto catalog = catalog_of(without);
  const CatalogPlan plan = migrate(db.direct_url(), *catalog);
  EXPECT_THAT(plan.to_text(), HasSubstr("-- kept: guardrail: rollup table guardrail_daily is kept: "
                                        "the catalog no longer rolls this type up into it"));
  EXPECT_EQ(db.query("SELECT to_regclass('guardrail_daily') IS NOT NULL"), "t");
  EXPECT_EQ(db.query("SELECT array_length(rollup_tables, 1) IS NULL FROM sentinel_catalog "
                     "WHERE type_name = 'guardrail'"),
            "t");
  EXPECT_NO_THROW(verify_catalog(db.direct_url(), *catalog));
}

TEST(CatalogSchema, ChangedTypeIsRefusedWithTheSqlAndNothingIsApplied) {
  TestDb db;
  const auto v1 = catalog_of(guardrail_file());
  apply_migrations(db.direct_url(), *v1);
  std::string v2 = edited(guardrail_file(), "\"numeric(6,4)\"", "\"numeric(8,4)\"");
  v2 = edited(v2, R"("flagged":     {"type": "boolean"},)",
              R"("flagged": {"type": "boolean"}, "reviewer": {"type": "string"},)");
  const auto catalog = catalog_of(v2);
  const std::string dba_sql =
      "ALTER TABLE public.guardrail_events ALTER COLUMN score TYPE numeric(8,4) USING "
      "score::numeric(8,4)";
  try {
    apply_migrations(db.direct_url(), *catalog);
    FAIL() << "a changed column type was applied";
  } catch (const CatalogRefusedError& e) {
    EXPECT_THAT(e.what(), HasSubstr("-- REFUSED: guardrail: column guardrail_events.score is "
                                    "numeric(6,4), the catalog says numeric(8,4) (property "
                                    "score); a DBA would run:\n" +
                                    dba_sql + ";\n"));
    EXPECT_THAT(e.what(), HasSubstr("nothing was applied"));
  }
  // Not even the new column of the same change, and the record is v1's.
  EXPECT_THAT(columns_of(db, "guardrail_events"), Not(HasSubstr("reviewer")));
  EXPECT_EQ(db.query("SELECT checksum FROM sentinel_catalog WHERE type_name = 'guardrail'"),
            v1->find("guardrail")->checksum);
  EXPECT_THROW(verify_catalog(db.direct_url(), *catalog), CatalogMismatchError);
  // Once the DBA ran it, migrate goes through.
  db.query(dba_sql);
  const CatalogPlan plan = migrate(db.direct_url(), *catalog);
  EXPECT_FALSE(plan.refused());
  EXPECT_THAT(columns_of(db, "guardrail_events"), HasSubstr("score numeric(8,4)"));
  EXPECT_NO_THROW(verify_catalog(db.direct_url(), *catalog));
}

TEST(CatalogSchema, RenamedColumnIsRefusedWithTheRenameSql) {
  TestDb db;
  apply_migrations(db.direct_url(), *catalog_of(guardrail_file()));
  const auto catalog = catalog_of(edited(guardrail_file(), R"("x-pg-type": "inet"})",
                                         R"("x-pg-type": "inet", "x-column": "source_ip"})"));
  std::vector<int> pending;
  const CatalogPlan plan = preview_migrations(db.direct_url(), *catalog, pending);
  EXPECT_TRUE(plan.refused());
  EXPECT_THAT(plan.to_text(), HasSubstr("-- REFUSED: guardrail: property client_ip now has column "
                                        "source_ip instead of guardrail_events.client_ip; a DBA "
                                        "would run:\nALTER TABLE public.guardrail_events RENAME "
                                        "COLUMN client_ip TO source_ip;\n"));
  EXPECT_THROW(apply_migrations(db.direct_url(), *catalog), CatalogRefusedError);
  EXPECT_THAT(columns_of(db, "guardrail_events"), HasSubstr("client_ip inet"));
}

TEST(CatalogSchema, ChangedTableIsRefusedUntilTheDbaRenamesItWithItsPartitions) {
  TestDb db;
  apply_migrations(db.direct_url(), *catalog_of(guardrail_file()));
  db.query("SELECT sentinel_ensure_month_partition('guardrail_events', '2026-11-01')");
  db.query(kInsertGuardrail);
  const auto catalog = catalog_of(edited(guardrail_file(), R"("table": "guardrail_events")",
                                         R"("table": "guardrail_decisions")"));
  std::vector<std::string> dba_sql = {
      "ALTER TABLE public.guardrail_events RENAME TO guardrail_decisions",
      "ALTER TABLE public.guardrail_events_2026_11 RENAME TO guardrail_decisions_2026_11"};
  try {
    apply_migrations(db.direct_url(), *catalog);
    FAIL() << "a changed table name was applied";
  } catch (const CatalogRefusedError& e) {
    EXPECT_THAT(e.what(), HasSubstr("-- REFUSED: guardrail: table changed from guardrail_events "
                                    "to guardrail_decisions: its rows and month partitions stay "
                                    "with guardrail_events; a DBA would run:\n" +
                                    dba_sql[0] + ";\n" + dba_sql[1] + ";\n"));
  }
  EXPECT_EQ(db.query("SELECT to_regclass('guardrail_decisions') IS NULL"), "t");
  for (const std::string& sql : dba_sql) db.query(sql);
  EXPECT_FALSE(migrate(db.direct_url(), *catalog).refused());
  EXPECT_EQ(db.query("SELECT table_name FROM sentinel_catalog WHERE type_name = 'guardrail'"),
            "guardrail_decisions");
  EXPECT_EQ(db.query("SELECT sentinel_ensure_month_partition('guardrail_decisions', "
                     "'2026-12-01')"),
            "guardrail_decisions_2026_12");
  EXPECT_EQ(db.query("SELECT count(*) FROM guardrail_decisions"), "1");
  EXPECT_NO_THROW(verify_catalog(db.direct_url(), *catalog));
}

TEST(CatalogSchema, ChangedPartitionByIsRefused) {
  TestDb db;
  std::string v1 = edited(guardrail_file(), R"("ts":          {)",
                          R"("decided_at": {"type": "string", "format": "date-time"},
    "ts":          {)");
  v1 = edited(v1, R"("required": ["decision_id", "ts",)",
              R"("required": ["decision_id", "decided_at", "ts",)");
  apply_migrations(db.direct_url(), *catalog_of(v1));
  const auto catalog =
      catalog_of(edited(v1, R"("partition_by": "ts")", R"("partition_by": "decided_at")"));
  const CatalogPlan plan = plan_with_one_refusal(db, *catalog);
  EXPECT_EQ(plan.refusals[0].what,
            "table guardrail_events is partitioned by RANGE (ts), the catalog partitions it by "
            "RANGE (decided_at) (partition_by decided_at)");
  EXPECT_THAT(plan.to_text(),
              HasSubstr("ALTER TABLE public.guardrail_events RENAME TO guardrail_events_old;\n"));
  EXPECT_THROW(apply_migrations(db.direct_url(), *catalog), CatalogRefusedError);
}

TEST(CatalogSchema, ARequiredPropertyRemovedOrMadeOptionalNoLongerBlocksEveryEvent) {
  TestDb db;
  const std::string v1 =
      edited(edited(guardrail_file(), R"("flagged":     {"type": "boolean"},)",
                    R"("flagged": {"type": "boolean"}, "reviewer": {"type": "string"},)"),
             R"("required": ["decision_id", )", R"("required": ["reviewer", "decision_id", )");
  apply_migrations(db.direct_url(), *catalog_of(v1));
  db.query("SELECT sentinel_ensure_month_partition('guardrail_events', '2026-11-01')");
  // v2: decision_id removed, reviewer optional.
  std::string v2 = edited(guardrail_file(), R"("flagged":     {"type": "boolean"},)",
                          R"("flagged": {"type": "boolean"}, "reviewer": {"type": "string"},)");
  v2 = edited(v2, R"("decision_id": {"type": "string", "format": "uuid"},)", "");
  v2 = edited(v2, R"("required": ["decision_id", )", R"("required": [)");
  const auto catalog = catalog_of(v2);
  const CatalogPlan plan = migrate(db.direct_url(), *catalog);
  EXPECT_THAT(plan.to_text(),
              HasSubstr("-- guardrail: column guardrail_events.reviewer may be null now (property "
                        "reviewer is not required)\nALTER TABLE public.guardrail_events ALTER "
                        "COLUMN reviewer DROP NOT NULL;\n"));
  EXPECT_THAT(plan.to_text(),
              HasSubstr("-- guardrail: column guardrail_events.decision_id may be null now (no "
                        "property writes it and it has no default)\nALTER TABLE "
                        "public.guardrail_events ALTER COLUMN decision_id DROP NOT NULL;\n"));
  EXPECT_THAT(plan.to_text(), HasSubstr("-- kept: guardrail: column guardrail_events.decision_id "
                                        "is kept"));
  // An event without either value, as the writer COPYs it (only the catalog's columns), goes in.
  const SqlOutcome r =
      try_sql(db.direct_url(),
              "INSERT INTO guardrail_events (ts, tenant_id, verdict, reviewer, kafka_partition, "
              "kafka_offset) VALUES ('2026-11-05T10:00:00Z', 't1', 'block', NULL, 0, 1)");
  EXPECT_TRUE(r.ok) << r.sqlstate << " " << r.message;
  EXPECT_NO_THROW(verify_catalog(db.direct_url(), *catalog));
  // The lineage columns keep NOT NULL: a property never writes them.
  EXPECT_THAT(columns_of(db, "guardrail_events"),
              HasSubstr("kafka_partition integer not null, kafka_offset bigint not null"));
}

/// Two guardrail events on 2026-11-05 and one on 11-06, with their guardrail_daily lines as the
/// ingestor upserts them (decisions; score_total).
void store_three_guardrail_events(const TestDb& db) {
  db.query("SELECT sentinel_ensure_month_partition('guardrail_events', '2026-11-01')");
  db.query(
      "INSERT INTO guardrail_events (decision_id, ts, tenant_id, verdict, score, prompt_tokens, "
      "kafka_partition, kafka_offset) VALUES "
      "(gen_random_uuid(), '2026-11-05T10:00:00Z', 't1', 'block', 0.25, 3, 0, 1), "
      "(gen_random_uuid(), '2026-11-05T23:30:00-02:00', 't1', 'block', 0.5, 2, 0, 2), "
      "(gen_random_uuid(), '2026-11-05T23:30:00Z', 't1', 'block', 0.1, NULL, 0, 3)");
  db.query(
      "INSERT INTO guardrail_daily (tenant_id, verdict, period, period_start, decisions, "
      "score_total) VALUES ('t1', 'block', 'day', '2026-11-05', 2, 0.35), "
      "('t1', 'block', 'day', '2026-11-06', 1, 0.5), "
      "('t1', 'block', 'month', '2026-11-01', 3, 0.85)");
}

/// Runs the SQL of a refusal as a DBA would (comments left out), in one go.
void run_dba_sql(const TestDb& db, const CatalogRefusal& refusal) {
  std::string sql;
  for (const std::string& s : refusal.sql) {
    if (!s.starts_with("--")) sql += s + ";\n";
  }
  db.query(sql);
}

TEST(CatalogSchema, ASumAddedToAnExistingRollupIsRefusedWithTheBackfillSql) {
  TestDb db;
  apply_migrations(db.direct_url(), *catalog_of(guardrail_file()));
  store_three_guardrail_events(db);
  // A new sum, and the count renamed: both would start at 0 for lines that have rows.
  std::string v2 = edited(guardrail_file(), R"("sums": {"score_total": "score"})",
                          R"("sums": {"score_total": "score", "tokens_total": "prompt_tokens"})");
  v2 = edited(v2, R"("count": "decisions")", R"("count": "events")");
  const auto catalog = catalog_of(v2);
  const CatalogPlan plan = plan_with_one_refusal(db, *catalog);
  EXPECT_EQ(plan.refusals[0].what,
            "new rollup columns guardrail_daily.events, tokens_total: the table already has "
            "lines, for which 0 would be wrong");
  EXPECT_THAT(plan.to_text(), HasSubstr("-- stop every ingestor first"));
  EXPECT_THAT(plan.to_text(), HasSubstr("ALTER TABLE public.guardrail_daily ADD COLUMN events "
                                        "bigint NOT NULL DEFAULT 0, ADD COLUMN tokens_total bigint "
                                        "NOT NULL DEFAULT 0;\nUPDATE public.guardrail_daily AS r"));
  EXPECT_THROW(apply_migrations(db.direct_url(), *catalog), CatalogRefusedError);
  EXPECT_THAT(columns_of(db, "guardrail_daily"), Not(HasSubstr("tokens_total")));
  // The DBA's SQL gives every line the sums of its rows (UTC days), then migrate goes through.
  run_dba_sql(db, plan.refusals[0]);
  EXPECT_FALSE(migrate(db.direct_url(), *catalog).refused());
  EXPECT_EQ(db.query("SELECT string_agg(period || ' ' || period_start || ' ' || events || ' ' || "
                     "tokens_total, '; ' ORDER BY period, period_start) FROM guardrail_daily"),
            "day 2026-11-05 2 3; day 2026-11-06 1 2; month 2026-11-01 3 5");
  EXPECT_NO_THROW(verify_catalog(db.direct_url(), *catalog));
}

TEST(CatalogSchema, ARollupAddedToATableWithRowsIsRefusedWithTheBackfillSql) {
  const std::string v2 = edited(guardrail_file(), R"("sums": {"score_total": "score"}
    }])",
                                R"("sums": {"score_total": "score"}
    }, {"table": "verdicts_monthly", "key": ["verdict"], "periods": ["month"],
        "count": "n", "sums": {"score_sum": "score", "tokens": "prompt_tokens"}}])");
  const auto catalog = catalog_of(v2);
  {  // No rows yet: the new rollup table is simply created.
    TestDb db;
    apply_migrations(db.direct_url(), *catalog_of(guardrail_file()));
    const CatalogPlan plan = migrate(db.direct_url(), *catalog);
    EXPECT_FALSE(plan.refused()) << plan.to_text();
    EXPECT_EQ(db.query("SELECT to_regclass('verdicts_monthly') IS NOT NULL"), "t");
  }
  TestDb db;
  apply_migrations(db.direct_url(), *catalog_of(guardrail_file()));
  store_three_guardrail_events(db);
  const CatalogPlan plan = plan_with_one_refusal(db, *catalog);
  EXPECT_EQ(plan.refusals[0].what,
            "new rollup table verdicts_monthly for table guardrail_events, which already has "
            "rows: created empty, its counts and sums would leave those rows out");
  EXPECT_THAT(plan.to_text(), HasSubstr("INSERT INTO public.verdicts_monthly (verdict, period, "
                                        "period_start, n, score_sum, tokens)\nSELECT verdict, "
                                        "'month' AS period, "));
  EXPECT_THROW(apply_migrations(db.direct_url(), *catalog), CatalogRefusedError);
  EXPECT_EQ(db.query("SELECT to_regclass('verdicts_monthly') IS NULL"), "t");
  run_dba_sql(db, plan.refusals[0]);
  EXPECT_FALSE(migrate(db.direct_url(), *catalog).refused());
  EXPECT_EQ(db.query("SELECT string_agg(verdict || ' ' || period || ' ' || period_start || ' ' || "
                     "n || ' ' || score_sum || ' ' || tokens, '; ') FROM verdicts_monthly"),
            "block month 2026-11-01 3 0.8500 5");
  EXPECT_EQ(db.query("SELECT pg_get_userbyid(relowner) FROM pg_class "
                     "WHERE relname = 'verdicts_monthly'"),
            "sentinel_owner");
  EXPECT_NO_THROW(verify_catalog(db.direct_url(), *catalog));
}

TEST(CatalogSchema, VerifyRefusesAnotherCatalogAndAcceptsTheSame) {
  TestDb db;
  apply_migrations(db.direct_url());  // the built-in types only
  const auto v1 = catalog_of(guardrail_file());
  try {
    verify_catalog(db.direct_url(), *v1);
    FAIL() << "a catalog that was never applied was accepted";
  } catch (const CatalogMismatchError& e) {
    EXPECT_THAT(e.what(), HasSubstr("guardrail: not applied yet"));
    EXPECT_THAT(e.what(), HasSubstr("run `sentinel-ingest migrate --pg URL --catalog DIR`"));
  }
  apply_migrations(db.direct_url(), *v1);
  EXPECT_NO_THROW(verify_catalog(db.direct_url(), *v1));
  const auto v2 = catalog_of(edited(guardrail_file(), R"("flagged":     {"type": "boolean"},)",
                                    R"("flagged": {"type": "boolean"}, "x": {"type": "string"},)"));
  try {
    verify_catalog(db.direct_url(), *v2);
    FAIL() << "a catalog with another guardrail type was accepted";
  } catch (const CatalogMismatchError& e) {
    EXPECT_THAT(e.what(), HasSubstr("guardrail: new column guardrail_events.x (text)"));
    EXPECT_THAT(e.what(), HasSubstr("guardrail: applied with another document"));
  }
}

TEST(CatalogSchema, EverythingWorksThroughPgBouncerTransactionMode) {
  TestDb db;
  const auto catalog = catalog_of(guardrail_file());
  std::vector<int> pending;
  EXPECT_EQ(preview_migrations(db.bouncer_url(), *catalog, pending).records.size(), 3U);
  EXPECT_EQ(apply_migrations(db.bouncer_url(), *catalog), all_versions());
  CatalogPlan plan;
  EXPECT_EQ(apply_migrations(db.bouncer_url(), *catalog, &plan), std::vector<int>{});
  EXPECT_TRUE(plan.nothing_to_do()) << plan.to_text();
  EXPECT_NO_THROW(verify_catalog(db.bouncer_url(), *catalog));
  EXPECT_EQ(testing::query_one(db.bouncer_url(),
                               "SELECT sentinel_ensure_month_partition("
                               "'guardrail_events', '2026-12-01')"),
            "guardrail_events_2026_12");
}

}  // namespace
}  // namespace sentinel
