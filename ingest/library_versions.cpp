#include "ingest/library_versions.h"

#include <librdkafka/rdkafka.h>
#include <simdjson.h>

namespace sentinel {

std::string librdkafka_version() { return rd_kafka_version_str(); }

std::string simdjson_version() {
  return std::to_string(simdjson::SIMDJSON_VERSION_MAJOR) + "." +
         std::to_string(simdjson::SIMDJSON_VERSION_MINOR) + "." +
         std::to_string(simdjson::SIMDJSON_VERSION_REVISION);
}

}  // namespace sentinel
