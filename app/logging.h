#pragma once

#include <string>
#include <vector>

namespace sentinel {

/// The --log-level names, most verbose first: trace, debug, info, warn, error, critical, off.
const std::vector<std::string>& log_level_names();

/// Sets up spdlog on stderr: `format` is "text" or "json", `level` one of log_level_names().
/// Throws UsageError otherwise.
///
/// Every record is one line. JSON: one object per line with ts, level, thread, component,
/// facility (when the library gave one) and msg, escaped. Text: the message's line breaks become
/// "; ". A logger named "LIBRARY/FACILITY" (or "LIBRARY") is a library's line: librdkafka's log
/// callback (ingest/kafka_handle.cpp) and libpq's notice receiver (sinks/pg_connection.cpp) log
/// under such names, and both formats show the component and facility.
void setup_logging(const std::string& format, const std::string& level);

}  // namespace sentinel
