#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace sentinel {

/// Whether a database's schema matches the migrations embedded in this binary.
struct MigrationStatus {
  bool up_to_date = false;
  /// Empty when up to date; otherwise what is wrong and the fix, e.g. "migrations 2..3 are
  /// missing: run `sentinel-ingest migrate`".
  std::string problem;
};

/// A migration could not be applied: a recorded one differs from the embedded file, the database
/// is newer than the binary, or a migration's SQL failed (the message names the file).
class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Catalog;
struct CatalogPlan;

/// Applies every embedded migration (schemas/NNN_name.sql) not yet recorded in schema_migrations,
/// then what the event catalog needs (sinks/catalog_schema.h: new tables, columns, indexes, the
/// record in sentinel_catalog), all in ONE transaction serialized by pg_advisory_xact_lock, so
/// concurrent callers apply each migration once and a failure leaves nothing behind. Holds no
/// session state: works through PgBouncer in transaction mode. Idempotent. Returns the versions
/// applied now (empty when the database was up to date); `catalog_changes`, when given, receives
/// the catalog plan that was applied (nothing_to_do() when there was nothing).
///
/// Throws CatalogRefusedError (a MigrationError) when the catalog needs a change migrate does
/// not make by itself (nothing is applied then, numbered migrations included); MigrationError for
/// another schema problem; PgError (connect_control) when the database cannot be reached or
/// refuses the connection; pqxx::broken_connection when it is lost.
std::vector<int> apply_migrations(const std::string& url, const Catalog& catalog,
                                  CatalogPlan* catalog_changes = nullptr);
/// The same with the built-in event types only (no --catalog).
std::vector<int> apply_migrations(const std::string& url);

/// What apply_migrations would do, without doing it: the pending numbered migrations are applied
/// in a transaction that is rolled back, and the catalog is compared with the result. Needs the
/// rights `migrate` needs. `pending` receives the versions that are not applied yet.
CatalogPlan preview_migrations(const std::string& url, const Catalog& catalog,
                               std::vector<int>& pending);

/// Read-only check that every embedded migration is applied, unchanged, and nothing newer is;
/// `run` refuses to start otherwise. Throws PgError (connect_control) when the database cannot
/// be reached or refuses the connection, pqxx exceptions for other failures.
MigrationStatus check_migrations(const std::string& url);

}  // namespace sentinel
