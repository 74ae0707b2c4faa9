#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <pqxx/pqxx>
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

/// Whether the connected role may purge ingest_rejects: it has the privileges of the table's
/// owner (sentinel_owner, the owner itself, or a superuser), which DETACH, DROP and DELETE need.
struct PurgeRight {
  bool allowed = false;
  std::string owner;  ///< the owner of ingest_rejects
  std::string user;   ///< current_user
};
PurgeRight purge_right(pqxx::connection& conn);

/// What `rejects purge` removes (or would) from one partition of ingest_rejects.
struct RejectPurge {
  std::string partition;  ///< "ingest_rejects_2026_08"
  bool dropped = false;   ///< the whole partition was detached and dropped; else rows deleted
  /// Rejects removed by replay state ("pending", "replayed", "invalid", "duplicate"): counted in
  /// the transaction that drops the partition, or returned by the DELETE.
  std::map<std::string, int64_t> removed;
  int64_t pending_kept = 0;  ///< older than the cutoff, never replayed, kept (keep_pending)
  int64_t total_removed() const;
};

/// Removes the rejects stored before `cutoff_unix_micros`: every month partition of
/// ingest_rejects whose upper bound is at or before the cutoff is detached and dropped (one short
/// transaction each, which waits for the writers' transactions); in a partition that straddles
/// the cutoff (or one whose name carries no month) the older rows are deleted. With
/// `keep_pending`, the never-replayed rejects stay: a partition holding some is not dropped, its
/// other older rows are deleted. With `dry_run`, changes nothing and reports the same counts.
/// Partitions with nothing to remove are left out. The caller checks purge_right first; a
/// refusal by the server throws pqxx::insufficient_privilege (SQLSTATE 42501).
std::vector<RejectPurge> purge_rejects(pqxx::connection& conn, int64_t cutoff_unix_micros,
                                       bool keep_pending, bool dry_run);

}  // namespace sentinel::partitions
