#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "rows/reject_reason.h"
#include "rows/tables.h"
#include "testkit/vocabulary.h"

namespace sentinel {

struct GeneratorOptions {
  uint64_t seed = 1;
  int tenants = 200;
  /// Share of malformed events, spread evenly over every reject kind a message can have.
  double invalid_ratio = 0.0;
  /// Share of audit events (the rest are invocations).
  double audit_share = 0.5;
  /// Timestamps fall in [now - days_back, now].
  int days_back = 42;
  int64_t now_unix_micros = 0;  ///< 0: the wall clock
};

/// One generated Kafka message and what the ingestor must make of it.
struct GeneratedEvent {
  int topic_index = 0;  ///< its EventTable: topics are listed in kEventSpecs order
  std::string key;      ///< the tenant id
  std::string payload;
  bool valid = true;
  RejectReason expected_reason = RejectReason::kInvalidJson;  ///< when !valid
  // The truth behind a valid event, for checking what lands.
  std::string id;  ///< event_id or invocation_id
  std::string tenant;
  int64_t ts_unix_micros = 0;
  int64_t cost_nanos = 0;
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
};

/// Realistic Sentinel gateway traffic: tenants with skewed (Zipf) popularity, audit actions and
/// outcomes, LLM calls to several providers and models with real-looking prices, timestamps in
/// several RFC 3339 forms and as epoch milliseconds, costs as numbers and decimal strings.
/// Deterministic for a seed. Not thread-safe.
class EventGenerator {
 public:
  explicit EventGenerator(GeneratorOptions options);
  GeneratedEvent next();

 private:
  GeneratedEvent audit();
  GeneratedEvent invocation();
  void make_invalid(GeneratedEvent& e);
  const std::string& pick_tenant();

  GeneratorOptions options_;
  std::mt19937_64 rng_;
  TenantPool tenants_;
  uint64_t invalid_count_ = 0;
};

}  // namespace sentinel
