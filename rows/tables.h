#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sentinel {

/// The two built-in event types by name, for the code that handles them specifically: the built-in
/// event generator (demo, benches), tests and benchmarks. The truth about every type, these two
/// included, is the catalog (catalog/catalog.h, schemas/events/): the ingest path reads only the
/// catalog, and a new type is a schema file, never an entry here (architecture.md §9).
/// tests/catalog checks that these specs and the built-in schema files describe the same columns.
/// kCount is not a type: it sizes kEventSpecs (the static_assert below).
enum class EventTable : uint8_t { kAudit, kInvocations, kCount };
inline constexpr int kEventTableCount = static_cast<int>(EventTable::kCount);

/// A built-in type's names: table, COPY columns without `extra`, topic, flag and noun.
struct EventSpec {
  EventTable table;                ///< its own index in kEventSpecs
  std::string_view name;           ///< the PostgreSQL table (partitioned by month of ts)
  std::string_view columns;        ///< COPY column list: the event's JSON fields, then lineage
  int16_t field_count;             ///< columns in `columns` (a binary COPY tuple's field count)
  bool rolls_up_costs;             ///< its rows add to the per-tenant `costs` (invocation costs)
  std::string_view default_topic;  ///< the Kafka topic it is read from unless configured
  std::string_view topic_flag;     ///< the command-line option naming its topic (no leading --)
  std::string_view noun;           ///< what one event is called in help texts and logs
};

/// The columns every event table ends with: where in Kafka the row came from.
inline constexpr std::string_view kLineageColumns = "kafka_partition, kafka_offset";
inline constexpr int kLineageColumnCount = 2;

/// Every event type, in EventTable order. The first three columns of each are its 16-byte id, ts
/// and tenant_id (event_tuple_key reads them; the tables' (tenant_id, ts) index orders batches).
inline constexpr std::array<EventSpec, kEventTableCount> kEventSpecs = {{
    {EventTable::kAudit, "audit_logs",
     "event_id, ts, tenant_id, actor_id, actor_type, action, resource, outcome, source_ip, "
     "user_agent, session_id, metadata, kafka_partition, kafka_offset",
     14, false, "sentinel.audit", "audit-topic", "audit"},
    {EventTable::kInvocations, "invocations",
     "invocation_id, ts, tenant_id, user_id, session_id, provider, model, prompt_tokens, "
     "completion_tokens, latency_ms, status, cost_usd, error_code, metadata, kafka_partition, "
     "kafka_offset",
     16, true, "sentinel.invocations", "invocations-topic", "invocation"},
}};

constexpr const EventSpec& event_spec(EventTable t) { return kEventSpecs[static_cast<size_t>(t)]; }
constexpr std::string_view table_name(EventTable t) { return event_spec(t).name; }
constexpr std::string_view table_columns(EventTable t) { return event_spec(t).columns; }

/// The number of columns in a comma-separated column list.
constexpr int column_count(std::string_view columns) {
  int n = columns.empty() ? 0 : 1;
  for (const char c : columns) n += c == ',' ? 1 : 0;
  return n;
}

/// The i-th column (from 0) of a comma-separated column list, without spaces; empty past the end.
constexpr std::string_view column_at(std::string_view columns, int i) {
  for (; i > 0; --i) {
    const size_t comma = columns.find(',');
    if (comma == std::string_view::npos) return {};
    columns.remove_prefix(comma + 1);
  }
  columns = columns.substr(0, columns.find(','));
  while (!columns.empty() && columns.front() == ' ') columns.remove_prefix(1);
  while (!columns.empty() && columns.back() == ' ') columns.remove_suffix(1);
  return columns;
}

/// The first `N` columns of a spec, as names: its JSON fields (the parser's field tables).
template <size_t N>
constexpr std::array<std::string_view, N> leading_columns(EventTable t) {
  std::array<std::string_view, N> names{};
  for (size_t i = 0; i < N; ++i) names[i] = column_at(event_spec(t).columns, static_cast<int>(i));
  return names;
}

/// Why a spec is not usable, or empty. The static_assert below and tests/rows say it.
constexpr std::string_view spec_problem(int index) {
  const EventSpec& s = kEventSpecs[static_cast<size_t>(index)];
  if (static_cast<int>(s.table) != index || s.name.empty()) {
    return "an EventTable has no spec at its index in kEventSpecs";
  }
  if (s.default_topic.empty() || s.topic_flag.empty() || s.noun.empty()) {
    return "a spec needs a default topic, a topic flag and a noun";
  }
  if (column_count(s.columns) != s.field_count) return "field_count does not match columns";
  if (column_at(s.columns, 1) != "ts" || column_at(s.columns, 2) != "tenant_id") {
    return "columns must start with an id, ts, tenant_id";
  }
  if (!s.columns.ends_with(kLineageColumns)) return "columns must end with the lineage columns";
  for (int j = 0; j < index; ++j) {
    const EventSpec& other = kEventSpecs[static_cast<size_t>(j)];
    if (other.name == s.name) return "two specs name one table";
    if (other.default_topic == s.default_topic) return "two specs read one topic";
    if (other.topic_flag == s.topic_flag) return "two specs share a topic flag";
  }
  return {};
}

constexpr bool all_specs_usable() {
  for (int i = 0; i < kEventTableCount; ++i) {
    if (!spec_problem(i).empty()) return false;
  }
  return true;
}
static_assert(all_specs_usable(),
              "kEventSpecs must hold one usable spec per EventTable, in order (see spec_problem)");

// The two types by name, for code that handles one of them specifically (tests, benches).
inline constexpr std::string_view kAuditTable = table_name(EventTable::kAudit);
inline constexpr std::string_view kAuditColumns = table_columns(EventTable::kAudit);
inline constexpr int16_t kAuditFieldCount = event_spec(EventTable::kAudit).field_count;
inline constexpr std::string_view kInvocationsTable = table_name(EventTable::kInvocations);
inline constexpr std::string_view kInvocationsColumns = table_columns(EventTable::kInvocations);
inline constexpr int16_t kInvocationsFieldCount = event_spec(EventTable::kInvocations).field_count;

/// The topic of each type (by EventTable) unless configured otherwise.
inline std::array<std::string, kEventTableCount> default_topics() {
  std::array<std::string, kEventTableCount> topics;
  for (const EventSpec& s : kEventSpecs) topics[static_cast<size_t>(s.table)] = s.default_topic;
  return topics;
}

/// Not an event table: where messages that cannot be stored go, with why.
inline constexpr std::string_view kRejectsTable = "ingest_rejects";
inline constexpr std::string_view kRejectsColumns =
    "rejected_at, topic, kafka_partition, kafka_offset, reason, detail, payload";
inline constexpr int16_t kRejectsFieldCount = 7;

}  // namespace sentinel
