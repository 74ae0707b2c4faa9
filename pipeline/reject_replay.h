#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "ingest/event_parser.h"
#include "sinks/reject_store.h"

namespace sentinel {

/// What `rejects replay` is told (architecture.md §10).
struct ReplayOptions {
  std::string pg_url;
  std::shared_ptr<const Catalog> catalog;
  std::vector<std::string> topics;  ///< the topic of each type of the catalog, by index
  ParserLimits limits;
  RejectFilter filter;
  bool dry_run = false;
  /// A page: this many rejects at most, and about this many bytes of payloads; one transaction
  /// each.
  int page_rejects = 5000;
  int64_t page_bytes = int64_t{16} << 20;
  /// Called after each page with the report so far (progress); may be empty.
  std::function<void(const struct ReplayReport&)> on_page;
  /// Set (e.g. by SIGTERM): the replay stops after the current page.
  const std::atomic<bool>* stop = nullptr;
};

/// What one original reason's rejects became (or would become, with --dry-run).
struct ReplayCounts {
  uint64_t rows = 0;           ///< became their rows
  uint64_t invalid = 0;        ///< still invalid (kept, with the new reason and detail)
  uint64_t duplicate = 0;      ///< another reject of the same Kafka message became its row first
  uint64_t no_payload = 0;     ///< stored without payload: cannot be replayed (left as they are)
  uint64_t unknown_topic = 0;  ///< no event type of the catalog reads their topic (left)
  uint64_t total() const { return rows + invalid + duplicate + no_payload + unknown_topic; }
  ReplayCounts& operator+=(const ReplayCounts& o);
};

struct ReplayReport {
  int64_t pending_at_start = 0;  ///< rejects to replay that matched the filter when it started
  std::map<std::string, ReplayCounts> by_reason;          ///< by the reject's stored reason
  std::map<std::string, uint64_t> invalid_by_new_reason;  ///< the reasons found now
  std::map<std::string, uint64_t> rows_by_table;
  std::map<std::string, uint64_t> unknown_topics;  ///< topic -> rejects left for it
  uint64_t pages = 0;
  uint64_t retried_pages = 0;  ///< read again: another replay recorded some of them first
  bool stopped = false;        ///< ended by `stop` before the last page
  ReplayCounts totals() const;
};

/// Replays the stored rejects that match the filter, page by page, each page in one
/// transaction through BatchWriter: the valid ones' rows (binary COPY, with their original
/// partition and offset) and rollup deltas, and every reject's new replay state, together.
/// Exactly once: a reject is replayed only while its state says it is still to replay, and only
/// if no other reject of the same message was; a replay killed at any moment left either the
/// whole page or none of it. Throws PgError (e.g. PostgreSQL unreachable beyond the writer's
/// retries is the caller's to handle).
ReplayReport replay_rejects(const ReplayOptions& options);

}  // namespace sentinel
