#include "ingest/kafka_stats.h"

#include <librdkafka/rdkafka.h>
#include <simdjson.h>

#include <set>

namespace sentinel {

int kafka_brokers_up(std::string_view stats_json) {
  // Runs every statistics interval (seconds), never per message: a copy into padded memory and
  // a full parse are fine here.
  simdjson::ondemand::parser parser;
  const simdjson::padded_string json(stats_json);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object brokers;
  if (parser.iterate(json).get(doc) != simdjson::SUCCESS ||
      doc.find_field_unordered("brokers").get_object().get(brokers) != simdjson::SUCCESS) {
    return -1;
  }
  std::set<int64_t> up;
  for (auto field : brokers) {
    simdjson::ondemand::object broker;
    if (field.value().get_object().get(broker) != simdjson::SUCCESS) return -1;
    int64_t node = -1;
    std::string_view state;
    if (broker.find_field_unordered("nodeid").get_int64().get(node) != simdjson::SUCCESS ||
        broker.find_field_unordered("state").get_string().get(state) != simdjson::SUCCESS) {
      return -1;
    }
    if (node >= 0 && state == "UP") up.insert(node);
  }
  return static_cast<int>(up.size());
}

std::string kafka_library_version() { return rd_kafka_version_str(); }

}  // namespace sentinel
