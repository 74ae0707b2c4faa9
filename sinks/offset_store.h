#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sinks/pg_connection.h"

namespace sentinel {

/// Reads the next offsets stored in ingest_offsets for a consumer group (DESIGN §4).
/// Returns (topic index, partition) → next_offset for the requested partitions that have a row.
/// Throws PgError.
std::map<std::pair<int, int32_t>, int64_t> load_offsets(
    PgConnection& conn, const std::string& consumer_group, const std::vector<std::string>& topics,
    const std::vector<std::pair<int, int32_t>>& partitions);

}  // namespace sentinel
