#include "sinks/offset_store.h"

#include <algorithm>

namespace sentinel {

std::map<std::pair<int, int32_t>, int64_t> load_offsets(
    PgConnection& conn, const std::string& consumer_group, const std::vector<std::string>& topics,
    const std::vector<std::pair<int, int32_t>>& partitions) {
  std::map<std::pair<int, int32_t>, int64_t> out;
  if (partitions.empty()) return out;
  if (!conn.connected()) conn.connect();
  std::string topic_array = "{";
  for (size_t i = 0; i < topics.size(); ++i) {
    if (i) topic_array += ',';
    topic_array += '"';
    for (char c : topics[i]) {
      if (c == '"' || c == '\\') topic_array += '\\';
      topic_array += c;
    }
    topic_array += '"';
  }
  topic_array += '}';
  PgResult r = conn.exec_params(
      "SELECT topic, kafka_partition, next_offset FROM ingest_offsets "
      "WHERE consumer_group = $1 AND topic = ANY($2::text[])",
      {consumer_group.c_str(), topic_array.c_str()});
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    const std::string topic = PQgetvalue(r.get(), i, 0);
    const int t = static_cast<int>(std::find(topics.begin(), topics.end(), topic) - topics.begin());
    const auto key = std::make_pair(t, static_cast<int32_t>(std::stol(PQgetvalue(r.get(), i, 1))));
    if (std::find(partitions.begin(), partitions.end(), key) != partitions.end()) {
      out[key] = std::stoll(PQgetvalue(r.get(), i, 2));
    }
  }
  return out;
}

}  // namespace sentinel
