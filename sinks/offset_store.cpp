#include "sinks/offset_store.h"

#include <algorithm>

namespace sentinel {

namespace {

constexpr const char* kLoadSql =
    "SELECT topic, kafka_partition, next_offset FROM public.ingest_offsets "
    "WHERE consumer_group = $1 AND topic = ANY($2::pg_catalog.text[])";

std::string topic_array_literal(const std::vector<std::string>& topics) {
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
  return topic_array;
}

std::map<std::pair<int, int32_t>, int64_t> collect(
    const PgResult& r, const std::vector<std::string>& topics,
    const std::vector<std::pair<int, int32_t>>& partitions) {
  std::map<std::pair<int, int32_t>, int64_t> out;
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

}  // namespace

std::map<std::pair<int, int32_t>, int64_t> load_offsets(
    PgConnection& conn, const std::string& consumer_group, const std::vector<std::string>& topics,
    const std::vector<std::pair<int, int32_t>>& partitions) {
  if (partitions.empty()) return {};
  if (!conn.connected()) conn.connect();
  const std::string topic_array = topic_array_literal(topics);
  PgResult r = conn.exec_params(kLoadSql, {consumer_group.c_str(), topic_array.c_str()});
  return collect(r, topics, partitions);
}

std::map<std::pair<int, int32_t>, int64_t> load_offsets_within(
    PgConnection& conn, const std::string& consumer_group, const std::vector<std::string>& topics,
    const std::vector<std::pair<int, int32_t>>& partitions, std::chrono::milliseconds timeout,
    const std::atomic<bool>* stop) {
  if (partitions.empty()) return {};
  const std::string topic_array = topic_array_literal(topics);
  PgResult r = conn.exec_params_within(kLoadSql, {consumer_group.c_str(), topic_array.c_str()},
                                       timeout, stop);
  return collect(r, topics, partitions);
}

std::string server_identity(PgConnection& conn, std::chrono::milliseconds timeout,
                            const std::atomic<bool>* stop) {
  try {
    PgResult r = conn.exec_params_within(
        "SELECT 'system ' || (SELECT system_identifier FROM pg_control_system()) || ' timeline ' "
        "|| CASE WHEN pg_is_in_recovery() THEN 'in recovery' "
        "ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END "
        "|| ' started ' || pg_postmaster_start_time()",
        {}, timeout, stop);
    return PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
  } catch (const PgError& e) {
    // A server that does not let this role read its identity (a managed service refusing
    // pg_control_system) is no reason to stop: progress is still checked, by the offsets.
    if (e.configuration()) return "";
    throw;
  }
}

}  // namespace sentinel
