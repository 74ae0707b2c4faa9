#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "rows/chunk.h"
#include "rows/reject_reason.h"
#include "rows/tables.h"

namespace sentinel {

/// Limits a message must respect (architecture.md §2); anything beyond is a reject.
struct ParserLimits {
  size_t max_message_bytes = 1 << 20;
  size_t max_metadata_bytes = 64 << 10;  ///< raw JSON text of `metadata`
  int max_depth = 32;                    ///< nesting of `metadata`; the object itself is 1
  int64_t max_age_micros = 400LL * 86400 * 1000000;
  int64_t max_future_micros = 86400LL * 1000000;
  /// Largest `cost_usd` of one invocation, in nano-dollars (USD 10 000 by default). The costliest
  /// single LLM call today is a few hundred dollars; a month's `costs` row (numeric(20,9), below
  /// USD 10^11) still holds ten million invocations at this limit.
  int64_t max_cost_nanos = 10'000LL * 1'000'000'000;
};

/// Where a message came from and when it is being parsed.
struct MessageContext {
  int32_t kafka_partition = 0;
  int64_t kafka_offset = 0;
  int64_t now_unix_micros = 0;  ///< the `ts` window is measured from here
};

/// What a valid event tells besides its tuple.
struct ParsedEvent {
  int64_t ts_unix_micros = 0;
  InvocationCost cost;  ///< filled only for a type whose spec rolls up costs
};

/// Parses, validates and encodes one Kafka message into one binary COPY tuple.
///
/// One per consumer thread: it owns a simdjson On-Demand parser and its buffers, and is not
/// thread-safe. A valid message costs no heap allocation beyond growth of `out`; a rejected one
/// allocates only its Rejection's detail. Views it hands out (InvocationCost::tenant_id) stay
/// valid until the next parse.
///
/// Fields may come in any order; unknown fields are ignored but must be valid JSON. Nested
/// values outside `metadata` may nest at most max(256, max_depth) levels (deeper: too_large).
class EventParser {
 public:
  explicit EventParser(ParserLimits limits = {});
  ~EventParser();
  EventParser(EventParser&&) noexcept;
  EventParser& operator=(EventParser&&) noexcept;
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  /// Parses one event of type `table`. `json` points at `size` bytes followed by at least
  /// SIMDJSON_PADDING readable bytes.
  /// Valid: appends ONE tuple (columns as event_spec(table).columns, the last two being
  /// ctx.kafka_partition and ctx.kafka_offset) to `out`, fills `event` and returns std::nullopt.
  /// Invalid: leaves `out` exactly as it was and returns the Rejection.
  std::optional<Rejection> parse(EventTable table, const char* json, size_t size,
                                 const MessageContext& ctx, std::string& out, ParsedEvent& event);

  /// parse() of an audit event, setting only `ts_unix_micros` (tests, benchmarks, the fuzzer).
  std::optional<Rejection> parse_audit(const char* json, size_t size, const MessageContext& ctx,
                                       std::string& out, int64_t& ts_unix_micros);

  /// parse() of an invocation, setting only `cost`.
  std::optional<Rejection> parse_invocation(const char* json, size_t size,
                                            const MessageContext& ctx, std::string& out,
                                            InvocationCost& cost);

  const ParserLimits& limits() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sentinel
