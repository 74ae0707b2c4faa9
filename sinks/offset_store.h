#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sinks/pg_connection.h"

namespace sentinel {

/// Reads the next offsets stored in ingest_offsets for a consumer group (architecture.md §4).
/// Returns (topic index, partition) → next_offset for the requested partitions that have a row.
/// Throws PgError.
std::map<std::pair<int, int32_t>, int64_t> load_offsets(
    PgConnection& conn, const std::string& consumer_group, const std::vector<std::string>& topics,
    const std::vector<std::pair<int, int32_t>>& partitions);

/// load_offsets() that never waits longer than `timeout` on PostgreSQL (connecting included) and
/// gives up when `stop` becomes true: a hung server is a PgError with SQLSTATE "" (transient).
/// For the consumer thread, which must keep polling Kafka, logging and obeying SIGTERM.
std::map<std::pair<int, int32_t>, int64_t> load_offsets_within(
    PgConnection& conn, const std::string& consumer_group, const std::vector<std::string>& topics,
    const std::vector<std::pair<int, int32_t>>& partitions, std::chrono::milliseconds timeout,
    const std::atomic<bool>* stop);

/// Who the server is: system identifier, current timeline and postmaster start time, as one
/// line. It changes on a failover (a promoted standby has a new timeline) and on a restart, so a
/// change means the stored offsets may have moved back. Readable by the ingest role (the
/// functions used are executable by PUBLIC); "" if the server refuses (42501). Bounded like
/// load_offsets_within(); throws PgError.
std::string server_identity(PgConnection& conn, std::chrono::milliseconds timeout,
                            const std::atomic<bool>* stop);

}  // namespace sentinel
