#pragma once

#include <string>

namespace sentinel {

/// librdkafka's version as the loaded library reports it (rd_kafka_version_str()).
std::string librdkafka_version();

/// simdjson's version, from the headers the parser was compiled with.
std::string simdjson_version();

}  // namespace sentinel
