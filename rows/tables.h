#pragma once

#include <cstdint>
#include <string_view>

namespace sentinel {

/// The event tables (architecture.md §3) and the columns the ingestor fills, in COPY order. The
/// last two columns are lineage: where in Kafka the row came from.
enum class EventTable : uint8_t { kAudit = 0, kInvocations = 1 };
inline constexpr int kEventTableCount = 2;

inline constexpr std::string_view kAuditTable = "audit_logs";
inline constexpr std::string_view kAuditColumns =
    "event_id, ts, tenant_id, actor_id, actor_type, action, resource, outcome, source_ip, "
    "user_agent, session_id, metadata, kafka_partition, kafka_offset";
inline constexpr int16_t kAuditFieldCount = 14;

inline constexpr std::string_view kInvocationsTable = "invocations";
inline constexpr std::string_view kInvocationsColumns =
    "invocation_id, ts, tenant_id, user_id, session_id, provider, model, prompt_tokens, "
    "completion_tokens, latency_ms, status, cost_usd, error_code, metadata, kafka_partition, "
    "kafka_offset";
inline constexpr int16_t kInvocationsFieldCount = 16;

inline constexpr std::string_view kRejectsTable = "ingest_rejects";
inline constexpr std::string_view kRejectsColumns =
    "rejected_at, topic, kafka_partition, kafka_offset, reason, detail, payload";
inline constexpr int16_t kRejectsFieldCount = 7;

constexpr std::string_view table_name(EventTable t) {
  return t == EventTable::kAudit ? kAuditTable : kInvocationsTable;
}
constexpr std::string_view table_columns(EventTable t) {
  return t == EventTable::kAudit ? kAuditColumns : kInvocationsColumns;
}

}  // namespace sentinel
