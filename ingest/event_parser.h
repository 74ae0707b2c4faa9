#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "catalog/catalog.h"
#include "rows/chunk.h"
#include "rows/reject_reason.h"
#include "rows/tables.h"

namespace sentinel {

/// Limits a message must respect (architecture.md §2); anything beyond is a reject.
struct ParserLimits {
  size_t max_message_bytes = 1 << 20;
  size_t max_metadata_bytes = 64 << 10;  ///< raw JSON text of each jsonb property, and of `extra`
  int max_depth = 32;  ///< nesting of each jsonb property (`metadata`); the value itself is 1
  /// The partition_by window: each type's max_age_days / max_future_days (400 and 1 for the
  /// built-in types) unless set here (tests set narrow windows).
  std::optional<int64_t> max_age_micros;
  std::optional<int64_t> max_future_micros;
  /// Largest value of every numeric property a rollup of its type sums (--max-cost-usd), in
  /// nano-units (10^-9) of that property: for the built-in `cost_usd`, nano-dollars (USD 10 000 by
  /// default). The costliest single LLM call today is a few hundred dollars; a month's `costs` row
  /// (numeric(20,9), below USD 10^11) still holds ten million invocations at this limit.
  int64_t max_cost_nanos = 10'000LL * 1'000'000'000;
};

/// Where a message came from and when it is being parsed.
struct MessageContext {
  int32_t kafka_partition = 0;
  int64_t kafka_offset = 0;
  int64_t now_unix_micros = 0;  ///< the `ts` window is measured from here
};

/// One property's value in a valid event, for the rollups (and tests).
struct PropertyValue {
  bool present = false;  ///< false: absent or null (then `number` and `text` mean nothing)
  /// Integers; kNumeric in units of 10^-scale; kBool 0/1; kTimestamptz Unix microseconds.
  int64_t number = 0;
  /// kText: the unescaped string; kUuid: its canonical lower-case 36-character form; kInet: the
  /// address as written; empty for other types. Valid until the next parse.
  std::string_view text;
};

/// What a valid event tells besides its tuple.
struct ParsedEvent {
  int64_t ts_unix_micros = 0;  ///< its type's partition_by property
  /// By property index (EventType::properties); valid until the next parse.
  std::span<const PropertyValue> values;
  InvocationCost cost;  ///< filled only for a type whose spec rolls up costs (until the seam moves)
};

/// Parses, validates and encodes one Kafka message into one binary COPY tuple, by the compiled
/// plan of its event type (catalog/event_type.h): one plan per type, made once when the parser
/// is built, executed with simdjson On-Demand.
///
/// One per consumer thread: it owns a simdjson On-Demand parser and its buffers, and is not
/// thread-safe. A valid message costs no heap allocation beyond growth of `out`; a rejected one
/// allocates only its Rejection's detail. Views it hands out (ParsedEvent::values, InvocationCost)
/// stay valid until the next parse.
///
/// Fields may come in any order. Unknown top-level fields are kept (as the `extra` jsonb column:
/// one object of their raw keys and values, max_metadata_bytes at most, no NUL; NULL when there
/// is none; a container object of x-source paths goes there whole when it has members no
/// property reads), ignored or rejected ("unknown field: NAME") as the type says; they must be
/// valid JSON either way. Values not stored as a jsonb property (unknown fields included) may
/// nest at most max(256, max_depth) levels (deeper: too_large).
class EventParser {
 public:
  /// Parses the types of `catalog` (kept alive by the parser).
  explicit EventParser(std::shared_ptr<const Catalog> catalog, ParserLimits limits = {});
  /// Parses the built-in types only (tests, benchmarks, the fuzzer).
  explicit EventParser(ParserLimits limits = {});
  ~EventParser();
  EventParser(EventParser&&) noexcept;
  EventParser& operator=(EventParser&&) noexcept;
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  /// Parses one event of the catalog's type number `type`. `json` points at `size` bytes
  /// followed by at least SIMDJSON_PADDING readable bytes.
  /// Valid: appends ONE tuple (columns as the type's copy_columns(), the last two being
  /// ctx.kafka_partition and ctx.kafka_offset) to `out`, fills `event` and returns std::nullopt.
  /// Invalid: leaves `out` exactly as it was and returns the Rejection.
  std::optional<Rejection> parse(int type, const char* json, size_t size, const MessageContext& ctx,
                                 std::string& out, ParsedEvent& event);
  /// The same, for a built-in type named by the compiled-in list (until the seam moves).
  std::optional<Rejection> parse(EventTable table, const char* json, size_t size,
                                 const MessageContext& ctx, std::string& out, ParsedEvent& event);

  const Catalog& catalog() const;

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
