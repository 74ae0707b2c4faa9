#pragma once

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "sinks/migrator.h"

namespace sentinel {

// The event catalog against a database : what `migrate` must create or add so that the
// tables match the catalog, what it keeps, and what it refuses. One comparison serves three
// commands: `migrate` applies it, `catalog plan` prints it, `run` refuses to start unless it is
// empty.

/// One change `migrate` makes for one event type: DDL statements, applied in order.
struct CatalogChange {
  std::string type;              ///< the event type's name
  std::string what;              ///< e.g. "new column guardrail_events.flagged (boolean)"
  std::vector<std::string> sql;  ///< statements without the trailing ';'
};

/// A change `migrate` will not make by itself (a changed column type, a renamed column, a changed
/// table or partition_by, a new rollup table or rollup column over rows already stored, which
/// needs a back-fill): the whole migration is refused, and a DBA runs `sql` first.
struct CatalogRefusal {
  std::string type;
  std::string what;              ///< what differs, e.g. "column guardrail_events.score is ..."
  std::vector<std::string> sql;  ///< what a DBA would run (comments start with "--")
};

/// A type to record in sentinel_catalog: the effective document `migrate` applied.
struct CatalogRecord {
  std::string type;
  std::string table;
  std::vector<std::string> rollup_tables;
  std::string checksum;
  std::string document;
  std::string why;  ///< "not applied yet", "applied with another document (...)"
};

/// What `migrate` would do for a catalog on one database. Empty (nothing_to_do) when the database
/// matches the catalog; notes never make it non-empty.
struct CatalogPlan {
  std::vector<CatalogChange> changes;
  std::vector<CatalogRecord> records;
  std::vector<CatalogRefusal> refusals;
  /// Things left as they are and worth knowing: a column no property writes any more, a recorded
  /// type the catalog no longer has.
  std::vector<std::string> notes;

  bool refused() const { return !refusals.empty(); }
  bool nothing_to_do() const { return changes.empty() && records.empty() && refusals.empty(); }
  /// The plan as SQL text: the DDL `migrate` would apply, then the kept and refused notes (with
  /// the SQL a DBA would run), for `catalog plan` and for `migrate`'s refusal.
  std::string to_text() const;
};

/// Compares `catalog` with the database `tx` sees (tables, columns and their types, indexes,
/// append-only triggers, rollup tables, sentinel_catalog). Only reads; needs migration 004.
CatalogPlan plan_catalog(pqxx::transaction_base& tx, const Catalog& catalog);

/// Applies a plan that is not refused, in `tx` (the migrator's transaction, under its advisory
/// lock): the changes, the records, then ownership and grants (sentinel_apply_roles).
void apply_catalog_plan(pqxx::transaction_base& tx, const CatalogPlan& plan);

/// The database does not match the catalog `run` was given: a type not applied, applied with
/// another document, a column or table missing. A configuration error (exit 2); the message
/// names what differs and the fix (`sentinel-ingest migrate --catalog DIR`).
class CatalogMismatchError : public MigrationError {
 public:
  using MigrationError::MigrationError;
};

/// `migrate` refused the catalog (see CatalogRefusal); nothing was applied. The message is the
/// whole plan (several lines, with the SQL a DBA would run).
class CatalogRefusedError : public MigrationError {
 public:
  explicit CatalogRefusedError(const CatalogPlan& plan);
};

/// Throws CatalogMismatchError unless the database matches `catalog` exactly (an empty plan).
/// Read-only: what `run` checks before consuming, after check_migrations.
void verify_catalog(pqxx::transaction_base& tx, const Catalog& catalog);
/// The same on a connection of its own (connect_control; its errors as there).
void verify_catalog(const std::string& url, const Catalog& catalog);

}  // namespace sentinel
