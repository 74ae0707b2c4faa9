// The schema of schemas/001_core.sql against a real PostgreSQL: append-only event tables and the
// least-privilege ingest role (architecture.md §3).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "sinks/migrator.h"
#include "tests/support/pg_helpers.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using ::testing::HasSubstr;
using testing::SqlOutcome;
using testing::TestDb;
using testing::TestRole;
using testing::try_sql;

struct EventTableCase {
  const char* table;
  const char* insert;  // one row in November 2026
  const char* update;  // a column to set
};

const EventTableCase kCases[] = {
    {"audit_logs",
     "INSERT INTO audit_logs (event_id, ts, tenant_id, action, outcome, source_ip, metadata, "
     "kafka_partition, kafka_offset) VALUES (gen_random_uuid(), '2026-11-05T10:00:00Z', 't1', "
     "'login', 'success', '10.0.0.1', '{\"k\": 1}', 3, 42)",
     "action = 'x'"},
    {"invocations",
     "INSERT INTO invocations (invocation_id, ts, tenant_id, provider, model, prompt_tokens, "
     "completion_tokens, status, cost_usd, kafka_partition, kafka_offset) VALUES "
     "(gen_random_uuid(), '2026-11-05T10:00:00Z', 't1', 'openai', 'gpt', 10, 20, 'ok', "
     "0.000123456, 3, 42)",
     "cost_usd = 0"},
};

class AppendOnly : public ::testing::TestWithParam<EventTableCase> {
 protected:
  void SetUp() override {
    apply_migrations(db_.direct_url());
    db_.query(std::string("SELECT sentinel_ensure_month_partition('") + GetParam().table +
              "', '2026-11-01')");
  }
  TestDb db_;
};

TEST_P(AppendOnly, InsertWorksAndUpdateDeleteTruncateFailOnParentAndPartition) {
  const EventTableCase& c = GetParam();
  db_.query(c.insert);
  const std::string parent = c.table;
  const std::string partition = parent + "_2026_11";
  for (const std::string& target : {parent, partition}) {
    for (const std::string& sql :
         {"UPDATE " + target + " SET " + c.update, "DELETE FROM " + target,
          "DELETE FROM " + target + " WHERE false", "TRUNCATE " + target}) {
      const SqlOutcome r = try_sql(db_.direct_url(), sql);
      EXPECT_FALSE(r.ok) << sql;
      EXPECT_EQ(r.sqlstate, "42501") << sql;
      EXPECT_THAT(r.message, HasSubstr(" is append-only: ")) << sql;
      EXPECT_THAT(r.message, HasSubstr("retention drops whole month partitions")) << sql;
    }
  }
  EXPECT_EQ(db_.query("SELECT count(*) FROM " + parent), "1");
  // A partition made by anyone else still refuses row changes: row triggers are cloned.
  db_.query("CREATE TABLE " + parent + "_2026_12 PARTITION OF " + parent +
            " FOR VALUES FROM ('2026-12-01Z') TO ('2027-01-01Z')");
  std::string insert = c.insert;
  insert.replace(insert.find("2026-11-05"), 10, "2026-12-05");
  db_.query(insert);
  const SqlOutcome r = try_sql(db_.direct_url(), "DELETE FROM " + parent + "_2026_12");
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.message, HasSubstr("append-only"));
  EXPECT_EQ(db_.query("SELECT count(*) FROM " + parent), "2");
}

INSTANTIATE_TEST_SUITE_P(EventTables, AppendOnly, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.table); });

TEST(Schema, TablesIndexesAndConstraintsAreAsDesigned) {
  TestDb db;
  apply_migrations(db.direct_url());
  EXPECT_EQ(db.query("SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) "
                     "FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                     "AND relkind IN ('r', 'p') AND NOT relispartition"),
            "audit_logs:p,costs:r,ingest_offsets:r,ingest_rejects:p,invocations:p,"
            "schema_migrations:r,sentinel_catalog:r");
  EXPECT_EQ(db.query("SELECT pg_get_partkeydef('audit_logs'::regclass)"), "RANGE (ts)");
  EXPECT_EQ(db.query("SELECT pg_get_partkeydef('invocations'::regclass)"), "RANGE (ts)");
  EXPECT_EQ(db.query("SELECT string_agg(pg_get_indexdef(indexrelid), '; ' ORDER BY 1) "
                     "FROM pg_index WHERE indrelid = 'invocations'::regclass"),
            "CREATE INDEX invocations_tenant_id_ts_idx ON ONLY public.invocations USING btree "
            "(tenant_id, ts); CREATE INDEX invocations_ts_brin ON ONLY public.invocations USING "
            "brin (ts)");
  EXPECT_EQ(db.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                     "WHERE attrelid = 'invocations'::regclass AND attname = 'cost_usd'"),
            "numeric(20,9)");
  EXPECT_EQ(db.query("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' "
                     "ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'audit_logs'::regclass "
                     "AND attnum > 0"),
            "event_id uuid, ts timestamp with time zone, tenant_id text, actor_id text, "
            "actor_type text, action text, resource text, outcome text, source_ip inet, "
            "user_agent text, session_id uuid, metadata jsonb, kafka_partition integer, "
            "kafka_offset bigint, extra jsonb");
  EXPECT_EQ(db.query("SELECT attidentity FROM pg_attribute "
                     "WHERE attrelid = 'ingest_rejects'::regclass AND attname = 'id'"),
            "a");
  const SqlOutcome bad_period = try_sql(
      db.direct_url(),
      "INSERT INTO costs (tenant_id, period, period_start) VALUES ('t', 'week', '2026-11-02')");
  EXPECT_EQ(bad_period.sqlstate, "23514");
  const SqlOutcome dup_key =
      try_sql(db.direct_url(),
              "INSERT INTO ingest_offsets VALUES ('g', 't', 0, 1, now()), ('g', 't', 0, 2, now())");
  EXPECT_EQ(dup_key.sqlstate, "23505");
}

// The ingest role (architecture.md §3): INSERT events and rejects, upsert costs and offsets, create
// month partitions through the function; nothing else.
class IngestRole : public ::testing::Test {
 protected:
  void SetUp() override {
    apply_migrations(db_.direct_url());
    db_.query("GRANT sentinel_ingest TO " + user_.name());
  }
  SqlOutcome as_ingest(const std::string& sql) { return try_sql(user_.url(), sql); }

  TestDb db_;
  TestRole user_{db_, "ingest"};
};

TEST_F(IngestRole, CanInsertUpsertAndCreatePartitions) {
  for (const std::string& sql : {
           std::string("SELECT sentinel_ensure_month_partition('audit_logs', '2026-11-01')"),
           std::string("SELECT sentinel_ensure_month_partition('invocations', '2026-11-01')"),
           std::string(kCases[0].insert),
           std::string(kCases[1].insert),
           std::string("INSERT INTO ingest_rejects (topic, kafka_partition, kafka_offset, reason, "
                       "detail, payload) VALUES ('sentinel.audit', 0, 7, 'invalid_json', "
                       "'bad', '\\x00ff')"),
           std::string("INSERT INTO costs AS c (tenant_id, period, period_start, cost_usd, "
                       "invocations) VALUES ('t1', 'day', '2026-11-05', 1.5, 1) ON CONFLICT "
                       "(tenant_id, period, period_start) DO UPDATE SET cost_usd = c.cost_usd + "
                       "excluded.cost_usd, invocations = c.invocations + excluded.invocations"),
           std::string("INSERT INTO costs AS c (tenant_id, period, period_start, cost_usd, "
                       "invocations) VALUES ('t1', 'day', '2026-11-05', 1.5, 1) ON CONFLICT "
                       "(tenant_id, period, period_start) DO UPDATE SET cost_usd = c.cost_usd + "
                       "excluded.cost_usd, invocations = c.invocations + excluded.invocations"),
           std::string("INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition, "
                       "next_offset) VALUES ('g', 'sentinel.audit', 0, 10)"),
           std::string("UPDATE ingest_offsets SET next_offset = 20, updated_at = now() WHERE "
                       "consumer_group = 'g' AND topic = 'sentinel.audit' AND kafka_partition = 0 "
                       "AND next_offset = 10"),
           std::string("SELECT next_offset FROM ingest_offsets"),
           std::string("SELECT max(version) FROM schema_migrations"),
           // `rejects replay` runs as the ingest role: it reads rejects and records their state.
           std::string("SELECT payload FROM ingest_rejects"),
           std::string("UPDATE ingest_rejects SET replay_state = 'invalid', replayed_at = now(), "
                       "replay_attempts = replay_attempts + 1, replay_reason = 'invalid_json', "
                       "replay_detail = 'still bad'"),
           std::string("SELECT sentinel_ensure_month_partition('ingest_rejects', '2026-11-01')"),
       }) {
    const SqlOutcome r = as_ingest(sql);
    EXPECT_TRUE(r.ok) << sql << ": " << r.sqlstate << " " << r.message;
  }
  EXPECT_EQ(db_.query("SELECT replay_state || ' ' || replay_attempts FROM ingest_rejects"),
            "invalid 1");
  EXPECT_EQ(db_.query("SELECT cost_usd || '/' || invocations FROM costs"), "3.000000000/2");
  EXPECT_EQ(db_.query("SELECT next_offset FROM ingest_offsets"), "20");
  EXPECT_EQ(db_.query("SELECT count(*) FROM audit_logs"), "1");
  EXPECT_EQ(db_.query("SELECT count(*) FROM ingest_rejects"), "1");
  // The partition the ingest role made belongs to the owner role, not to it.
  EXPECT_EQ(db_.query("SELECT pg_get_userbyid(relowner) FROM pg_class "
                      "WHERE relname = 'audit_logs_2026_11'"),
            "sentinel_owner");
  const MigrationStatus s = check_migrations(user_.url());
  EXPECT_TRUE(s.up_to_date) << s.problem;
}

TEST_F(IngestRole, CannotChangeRemoveReadOrRedefineAnything) {
  db_.query("SELECT sentinel_ensure_month_partition('audit_logs', '2026-11-01')");
  db_.query(kCases[0].insert);
  for (const char* sql : {
           "UPDATE audit_logs SET action = 'x'",
           "DELETE FROM audit_logs",
           "TRUNCATE audit_logs",
           "UPDATE audit_logs_2026_11 SET action = 'x'",
           "DELETE FROM audit_logs_2026_11",
           "TRUNCATE audit_logs_2026_11",
           "INSERT INTO audit_logs_2026_11 SELECT * FROM audit_logs",
           "SELECT count(*) FROM audit_logs",
           "UPDATE invocations SET cost_usd = 0",
           "DELETE FROM invocations",
           "TRUNCATE invocations",
           "DROP TABLE audit_logs_2026_11",
           "DROP TABLE audit_logs",
           "ALTER TABLE audit_logs ADD COLUMN x int",
           "ALTER TABLE audit_logs_2026_11 DISABLE TRIGGER USER",
           "ALTER TABLE audit_logs DETACH PARTITION audit_logs_2026_11",
           "DROP TRIGGER audit_logs_append_only ON audit_logs",
           "CREATE TABLE audit_logs_2027_01 PARTITION OF audit_logs FOR VALUES FROM "
           "('2027-01-01Z') TO ('2027-02-01Z')",
           "CREATE TABLE scratch (x int)",
           "DELETE FROM costs",
           "DELETE FROM ingest_offsets",
           "TRUNCATE costs",
           "UPDATE ingest_rejects SET detail = ''",
           "UPDATE ingest_rejects SET payload = NULL",
           "DELETE FROM ingest_rejects",
           "TRUNCATE ingest_rejects",
           "DELETE FROM schema_migrations",
           "INSERT INTO schema_migrations VALUES (99, 'x', 'x', now())",
           "CREATE OR REPLACE FUNCTION sentinel_forbid_modification() RETURNS trigger "
           "LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'",
           "CALL sentinel_apply_roles()",
       }) {
    const SqlOutcome r = as_ingest(sql);
    EXPECT_FALSE(r.ok) << sql;
    EXPECT_EQ(r.sqlstate, "42501") << sql << ": " << r.message;
  }
  EXPECT_EQ(db_.query("SELECT count(*) FROM audit_logs"), "1");
  // The function itself refuses anything but the two event tables.
  EXPECT_EQ(as_ingest("SELECT sentinel_ensure_month_partition('costs', '2026-11-01')").sqlstate,
            "22023");
}

// A member of sentinel_ingest shadows every catalog relation the definer function reads with
// a temporary view that calls a temporary function of its own. Were the caller's temporary schema
// searched before pg_catalog (search_path without pg_temp named last), that function would run as
// sentinel_owner: it disables the append-only triggers, rewrites the audit row and leaves a
// marker table. None of that may happen.
TEST_F(IngestRole, DefinerFunctionIgnoresCallersTempObjects) {
  db_.query("SELECT sentinel_ensure_month_partition('audit_logs', '2026-11-01')");
  db_.query(kCases[0].insert);
  const std::string before = db_.query("SELECT action || '/' || tenant_id FROM audit_logs");
  const std::string attack = R"sql(
    CREATE FUNCTION pg_temp.as_owner() RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
      IF current_user = 'sentinel_owner' THEN
        CREATE TABLE IF NOT EXISTS public.sentinel_pwned AS SELECT current_user AS who;
        ALTER TABLE public.audit_logs_2026_11 DISABLE TRIGGER USER;
        UPDATE public.audit_logs_2026_11 SET action = 'forged';
      END IF;
      RETURN true;
    END $$;
    CREATE TEMP VIEW pg_class AS
      SELECT c.oid, c.relname, c.relnamespace, c.relkind FROM pg_catalog.pg_class c
      WHERE pg_temp.as_owner();
    CREATE TEMP VIEW pg_namespace AS
      SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n WHERE pg_temp.as_owner();
    CREATE TEMP VIEW pg_inherits AS
      SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i WHERE pg_temp.as_owner();
    CREATE TEMP VIEW pg_roles AS
      SELECT r.rolname FROM pg_catalog.pg_roles r WHERE pg_temp.as_owner();
    GRANT SELECT ON pg_temp.pg_class, pg_temp.pg_namespace, pg_temp.pg_inherits,
      pg_temp.pg_roles TO PUBLIC;
    CREATE DOMAIN pg_temp.regclass AS oid CHECK (pg_temp.as_owner());
    CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.as_owner());
    CREATE DOMAIN pg_temp.oid AS pg_catalog.oid CHECK (pg_temp.as_owner());
  )sql";
  for (const char* call : {"SELECT sentinel_ensure_month_partition('audit_logs', '2026-11-01')",
                           "SELECT sentinel_ensure_month_partition('audit_logs', '2026-12-01')",
                           "SELECT sentinel_ensure_month_partition('invocations', '2026-11-01')"}) {
    // One session: the temporary objects, then the call. The call itself must still work.
    const SqlOutcome r = as_ingest(attack + call);
    EXPECT_TRUE(r.ok) << call << ": " << r.sqlstate << " " << r.message;
  }
  EXPECT_EQ(db_.query("SELECT count(*) FROM pg_class WHERE relname = 'sentinel_pwned'"), "0");
  EXPECT_EQ(db_.query("SELECT action || '/' || tenant_id FROM audit_logs"), before);
  EXPECT_EQ(db_.query("SELECT count(*) FROM pg_trigger WHERE tgrelid IN "
                      "('audit_logs'::regclass, 'audit_logs_2026_11'::regclass) "
                      "AND NOT tgisinternal AND tgenabled <> 'O'"),
            "0");
  // The triggers still fire.
  const SqlOutcome update = try_sql(db_.direct_url(), "UPDATE audit_logs_2026_11 SET action = 'x'");
  EXPECT_EQ(update.sqlstate, "42501") << update.message;
  EXPECT_THAT(update.message, HasSubstr("append-only"));
  EXPECT_EQ(db_.query("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE "
                      "relname IN ('audit_logs_2026_12', 'invocations_2026_11')"),
            "audit_logs_2026_12,invocations_2026_11");
  // Every function of ours pins its search_path with pg_temp last.
  EXPECT_EQ(db_.query("SELECT string_agg(p.proname || ':' || coalesce(array_to_string(p.proconfig, "
                      "','), ''), ' ' ORDER BY p.proname) FROM pg_proc p "
                      "WHERE p.pronamespace = 'public'::regnamespace"),
            "sentinel_apply_roles:search_path=pg_catalog, pg_temp "
            "sentinel_ensure_month_partition:search_path=pg_catalog, pg_temp "
            "sentinel_forbid_modification:search_path=pg_catalog, pg_temp");
}

TEST_F(IngestRole, ALoginWithoutTheRoleMayNotEvenCreatePartitions) {
  TestRole stranger(db_, "stranger");
  const SqlOutcome r =
      try_sql(stranger.url(), "SELECT sentinel_ensure_month_partition('audit_logs', '2026-11-01')");
  EXPECT_EQ(r.sqlstate, "42501") << r.message;
  const MigrationStatus s = check_migrations(stranger.url());
  EXPECT_FALSE(s.up_to_date);
  EXPECT_EQ(s.problem, stranger.name() +
                           " may not read schema_migrations: GRANT sentinel_ingest TO " +
                           stranger.name() + " (see schemas/README.md)");
}

}  // namespace
}  // namespace sentinel
