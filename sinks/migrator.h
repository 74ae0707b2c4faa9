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

/// Applies every embedded migration (schemas/NNN_name.sql) not yet recorded in schema_migrations,
/// all in ONE transaction serialized by pg_advisory_xact_lock, so concurrent callers apply each
/// migration once and a failure leaves nothing behind. Holds no session state: works through
/// PgBouncer in transaction mode. Idempotent. Returns the versions applied now (empty when
/// the database was up to date).
///
/// Throws MigrationError for a schema problem; PgError (connect_control) when the database
/// cannot be reached or refuses the connection; pqxx::broken_connection when it is lost.
std::vector<int> apply_migrations(const std::string& url);

/// Read-only check that every embedded migration is applied, unchanged, and nothing newer is;
/// `run` refuses to start otherwise. Throws PgError (connect_control) when the database cannot
/// be reached or refuses the connection, pqxx exceptions for other failures.
MigrationStatus check_migrations(const std::string& url);

}  // namespace sentinel
