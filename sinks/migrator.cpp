#include "sinks/migrator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <pqxx/pqxx>
#include <string_view>

#include "catalog/catalog.h"
#include "schemas/migrations.h"
#include "sinks/catalog_schema.h"
#include "sinks/control_connection.h"
#include "sinks/pg_connection.h"

namespace sentinel {
namespace {

/// pg_advisory_xact_lock key of migrations; any constant other tools are unlikely to pick.
constexpr int64_t kMigrationLockKey = 0x73656e74696e656c;  // "sentinel"

constexpr std::string_view kRunMigrate = "run `sentinel-ingest migrate --pg URL`";

struct Recorded {
  std::string name;
  std::string checksum;
};

/// Passes the server's NOTICE and WARNING messages (e.g. "roles missing") to the log instead of
/// stderr.
class LogNotices final : public pqxx::errorhandler {
 public:
  using pqxx::errorhandler::errorhandler;
  bool operator()(const char msg[]) noexcept override {
    std::string_view m(msg);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.remove_suffix(1);
    // Only the log level depends on the words: libpqxx 6 hands over the rendered text, whose
    // severity follows lc_messages, so a translated WARNING is logged at info level.
    if (m.starts_with("WARNING")) {
      spdlog::warn("postgres: {}", m);
    } else {
      spdlog::info("postgres: {}", m);
    }
    return false;
  }
};

bool has_schema_migrations(pqxx::transaction_base& tx) {
  return tx.exec1("SELECT to_regclass('public.schema_migrations') IS NOT NULL")[0].as<bool>();
}

std::map<int, Recorded> load_recorded(pqxx::transaction_base& tx) {
  std::map<int, Recorded> out;
  for (const pqxx::row& r :
       tx.exec("SELECT version, name, checksum FROM public.schema_migrations")) {
    out[r[0].as<int>()] = Recorded{r[1].as<std::string>(), r[2].as<std::string>()};
  }
  return out;
}

/// sha256 hex of each embedded migration's bytes, computed by the server (no client crypto
/// library; binary parameter, so the database encoding plays no part). Equals `sha256sum`.
std::map<int, std::string> embedded_checksums(pqxx::transaction_base& tx) {
  std::map<int, std::string> out;
  for (const EmbeddedMigration& m : embedded_migrations()) {
    const pqxx::binarystring sql(m.sql.data(), m.sql.size());
    out[m.version] = tx.exec_params1("SELECT encode(sha256($1), 'hex')", sql)[0].as<std::string>();
  }
  return out;
}

std::string describe_versions(const std::vector<int>& versions) {
  // Consecutive versions as ranges: "2..3, 5".
  std::string out;
  for (size_t i = 0; i < versions.size();) {
    size_t j = i;
    while (j + 1 < versions.size() && versions[j + 1] == versions[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out +=
        j == i ? fmt::format("{}", versions[i]) : fmt::format("{}..{}", versions[i], versions[j]);
    i = j + 1;
  }
  return out;
}

/// What makes the recorded migrations incompatible with this binary ("" if nothing), and which
/// embedded ones are not applied yet.
std::string incompatibility(const std::map<int, Recorded>& recorded,
                            const std::map<int, std::string>& checksums,
                            std::vector<int>& missing) {
  const int newest_embedded =
      embedded_migrations().empty() ? 0 : embedded_migrations().back().version;
  if (!recorded.empty() && recorded.rbegin()->first > newest_embedded) {
    return fmt::format(
        "database schema version {} is newer than this binary ({}): upgrade sentinel-ingest",
        recorded.rbegin()->first, newest_embedded);
  }
  for (const EmbeddedMigration& m : embedded_migrations()) {
    const auto it = recorded.find(m.version);
    if (it == recorded.end()) {
      missing.push_back(m.version);
      continue;
    }
    const std::string& expected = checksums.at(m.version);
    if (it->second.checksum != expected) {
      return fmt::format(
          "migration {} ({}) was changed after it was applied (checksum {} recorded, {} "
          "embedded): restore schemas/{}.sql and put changes in a new numbered migration",
          m.version, m.name, it->second.checksum, expected, m.name);
    }
  }
  return {};
}

std::string missing_problem(const std::vector<int>& missing) {
  return fmt::format("{} {} {} missing: run `sentinel-ingest migrate`",
                     missing.size() == 1 ? "migration" : "migrations", describe_versions(missing),
                     missing.size() == 1 ? "is" : "are");
}

}  // namespace

namespace {

/// The numbered migrations then the catalog's plan, in `tx` (already holding the advisory lock).
/// Returns the versions applied and fills `plan`; applies the plan only when `apply_plan`.
std::vector<int> migrate_in(pqxx::work& tx, const Catalog& catalog, CatalogPlan& plan,
                            bool apply_plan) {
  // Checked before creating: CREATE TABLE IF NOT EXISTS would need CREATE on the schema even
  // when the table is there.
  if (!has_schema_migrations(tx)) {
    tx.exec0(
        "CREATE TABLE public.schema_migrations ("
        " version int PRIMARY KEY,"
        " name text NOT NULL,"
        " checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
  }
  const std::map<int, Recorded> recorded = load_recorded(tx);
  const std::map<int, std::string> checksums = embedded_checksums(tx);
  std::vector<int> missing;
  if (std::string problem = incompatibility(recorded, checksums, missing); !problem.empty()) {
    throw MigrationError(problem);
  }
  std::vector<int> applied;
  for (const EmbeddedMigration& m : embedded_migrations()) {
    if (std::find(missing.begin(), missing.end(), m.version) == missing.end()) continue;
    try {
      tx.exec(std::string(m.sql));
    } catch (const pqxx::sql_error& e) {
      throw MigrationError(fmt::format("migration {} (schemas/{}.sql) failed, nothing applied: {}",
                                       m.version, m.name, e.what()));
    }
    tx.exec_params0(
        "INSERT INTO public.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        m.version, std::string(m.name), checksums.at(m.version));
    applied.push_back(m.version);
  }
  plan = plan_catalog(tx, catalog);
  if (apply_plan) {
    try {
      apply_catalog_plan(tx, plan);
    } catch (const pqxx::sql_error& e) {
      throw MigrationError(
          fmt::format("the event catalog could not be applied, nothing applied: {}", e.what()));
    }
  }
  return applied;
}

/// One migration transaction on a connection of its own, under the advisory lock: commits when
/// `commit` (migrate), rolls back otherwise (catalog plan). `command` names it in errors.
std::vector<int> migrate_locked(const std::string& url, const Catalog& catalog, CatalogPlan& plan,
                                bool commit, std::string_view command) {
  pqxx::connection conn = connect_control(url);
  LogNotices notices(conn);
  try {
    pqxx::work tx(conn);
    tx.exec0("SET LOCAL search_path = public");
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
    std::vector<int> versions = migrate_in(tx, catalog, plan, commit);
    if (commit) tx.commit();
    return versions;  // not committed: rolled back when tx goes
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::sql_error& e) {
    throw MigrationError(fmt::format("{}: {}", command, e.what()));
  }
}

}  // namespace

std::vector<int> apply_migrations(const std::string& url, const Catalog& catalog,
                                  CatalogPlan* catalog_changes) {
  CatalogPlan plan;
  std::vector<int> applied = migrate_locked(url, catalog, plan, true, "migrate");
  if (catalog_changes != nullptr) *catalog_changes = std::move(plan);
  return applied;
}

std::vector<int> apply_migrations(const std::string& url) {
  return apply_migrations(url, *load_catalog());
}

CatalogPlan preview_migrations(const std::string& url, const Catalog& catalog,
                               std::vector<int>& pending) {
  CatalogPlan plan;
  pending = migrate_locked(url, catalog, plan, false, "catalog plan");
  return plan;
}

MigrationStatus check_migrations(const std::string& url) {
  pqxx::connection conn = connect_control(url);
  LogNotices notices(conn);
  pqxx::read_transaction tx(conn);
  if (!has_schema_migrations(tx)) {
    return {false, fmt::format("database has no sentinel-ingest schema: {} first", kRunMigrate)};
  }
  std::map<int, Recorded> recorded;
  try {
    recorded = load_recorded(tx);
  } catch (const pqxx::insufficient_privilege&) {
    return {false, fmt::format("{} may not read schema_migrations: GRANT sentinel_ingest TO {} "
                               "(see schemas/README.md)",
                               conn.username(), conn.username())};
  }
  const std::map<int, std::string> checksums = embedded_checksums(tx);
  std::vector<int> missing;
  if (std::string problem = incompatibility(recorded, checksums, missing); !problem.empty()) {
    return {false, std::move(problem)};
  }
  if (!missing.empty()) return {false, missing_problem(missing)};
  return {true, {}};
}

}  // namespace sentinel
