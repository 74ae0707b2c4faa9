#pragma once

#include <string>

namespace sentinel {

/// Sets up spdlog on stderr: `format` is "text" or "json" (one JSON object per line, message
/// escaped), `level` one of trace, debug, info, warn, error. Throws UsageError otherwise.
void setup_logging(const std::string& format, const std::string& level);

}  // namespace sentinel
