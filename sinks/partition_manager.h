#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"

namespace sentinel::partitions {

/// One month partition of an event table of the catalog.
struct PartitionInfo {
  std::string table;             ///< the parent: "audit_logs", "invocations", a catalog type's
  std::string name;              ///< "audit_logs_2026_11"
  std::optional<int32_t> month;  ///< from the name; nullopt for a partition not named by us
  int64_t estimated_rows = -1;   ///< pg_class.reltuples; -1 until VACUUM/ANALYZE has run
  int64_t total_bytes = 0;       ///< pg_total_relation_size: heap, indexes and TOAST
};

/// Creates the partitions of every event table of `catalog`, and of ingest_rejects, for `count`
/// months from `from_month`
/// (see rows/month.h) that do not exist yet, through sentinel_ensure_month_partition, so any role
/// with EXECUTE on it may call this. Returns every partition name covered, in order. Throws PgError
/// (connect_control) when PostgreSQL cannot be reached or refuses the connection, pqxx exceptions
/// on other failures.
std::vector<std::string> premake(const std::string& url, const Catalog& catalog, int32_t from_month,
                                 int count);

/// Every partition of the event tables of `catalog`, ordered by table and name.
std::vector<PartitionInfo> list(const std::string& url, const Catalog& catalog);

/// Detaches and drops every partition of the event tables of `catalog` whose month is before
/// `keep_from_month`; partitions whose name carries no month are never touched. Each partition
/// goes in its own transaction, which waits for the writers' transactions on its table. Must
/// connect as the tables' owner (or a member of sentinel_owner). With `dry_run`, changes nothing.
/// Returns the partitions dropped (or that would be).
std::vector<PartitionInfo> drop_older_than(const std::string& url, const Catalog& catalog,
                                           int32_t keep_from_month, bool dry_run);

}  // namespace sentinel::partitions
