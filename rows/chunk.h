#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rows/reject_reason.h"
#include "rows/tables.h"

namespace sentinel {

/// What an invocation adds to its tenant's spend; the parser fills it, the chunk keeps it per
/// row so that a row PostgreSQL refuses can be taken out of the sums exactly.
struct InvocationCost {
  std::string_view tenant_id;  ///< valid until the next parse; copied into the chunk
  int64_t ts_unix_micros = 0;
  int64_t cost_nanos = 0;  ///< USD × 10⁹
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
};

/// One encoded row of a chunk: where its COPY tuple is and where in Kafka it came from. Its raw
/// payload is not kept (see PayloadSource).
struct RowRef {
  uint32_t tuple_begin = 0;  ///< into Chunk::tuples
  uint32_t tuple_end = 0;
  int64_t kafka_offset = 0;
  int64_t kafka_timestamp_ms = -1;  ///< producer/broker time, for end-to-end latency
  int32_t month = 0;                ///< UTC month of ts as year*12 + (month-1)
  /// Into Chunk::rollups: the first of the row's items, one per rollup of its type in the type's
  /// order; -1 when its type has no rollup.
  int32_t rollup_index = -1;
};

/// What one row adds to one rollup of its type (architecture.md §9): its key values, the UTC day of
/// its partition_by and its sums. Kept per row, not pre-summed, so that a row PostgreSQL refuses
/// can be taken out of the rollups exactly.
struct RollupItem {
  uint32_t keys_begin = 0;  ///< into Chunk::arena: the key values, packed (append_key_value)
  uint32_t keys_size = 0;
  uint32_t sums_begin = 0;     ///< into Chunk::rollup_sums: one value per sum of the rollup
  uint16_t rollup = 0;         ///< the rollup's index in its type's rollups
  int32_t unix_day = 0;        ///< UTC day of partition_by, days since 1970-01-01
  int64_t ts_unix_micros = 0;  ///< partition_by itself: orders rows when a sum would overflow
};

/// A packed key value's length that marks a missing value (SQL NULL).
inline constexpr uint32_t kNullKeyValue = 0xFFFFFFFF;

/// Appends one key value to a packed key: its length (4 bytes, host order) then its bytes, or
/// kNullKeyValue alone for a missing value.
void append_key_value(std::string& packed, const std::string_view* value);

/// One value of a packed key.
struct KeyValue {
  std::string_view text;
  bool missing = false;  ///< SQL NULL

  friend bool operator==(const KeyValue&, const KeyValue&) = default;
  /// A missing value first, then by bytes.
  friend bool operator<(const KeyValue& a, const KeyValue& b) {
    return a.missing != b.missing ? a.missing : a.text < b.text;
  }
};

/// Takes the first value off a packed key into `value`; false at its end. Inline: the writer's
/// rollup sort compares keys with it.
inline bool next_key_value(std::string_view& packed, KeyValue& value) {
  if (packed.size() < 4) return false;
  uint32_t size;
  std::memcpy(&size, packed.data(), 4);
  packed.remove_prefix(4);
  value.missing = size == kNullKeyValue;
  value.text = value.missing ? std::string_view() : packed.substr(0, size);
  packed.remove_prefix(value.text.size());
  return true;
}

/// Rows of ONE Kafka partition, encoded and ready to COPY, with the offsets they cover.
///
/// A chunk is built by one consumer thread, handed through a queue to the one writer that owns
/// its partition, and destroyed after the transaction that stores it commits. Its offsets are
/// a range: committing it moves the partition's stored next_offset from `from_offset` to
/// `next_offset` (compare-and-set, architecture.md §4). `from_offset == kNoStoredOffset` means
/// nothing was stored for the partition when it was assigned.
struct Chunk {
  static constexpr int64_t kNoStoredOffset = -1;

  // Where it came from.
  int topic_index = 0;  ///< index into the pipeline's topic list
  int type = 0;         ///< its event type: the index in the catalog (Catalog::types())
  int32_t partition = 0;
  uint64_t epoch = 0;  ///< the partition's assignment epoch when the chunk was built
  int64_t from_offset = kNoStoredOffset;
  int64_t next_offset = 0;
  int64_t received_unix_micros = 0;  ///< when its first message came out of the consumer

  // What it holds.
  std::string tuples;  ///< binary COPY tuples of its type's table, no header or trailer
  std::vector<RowRef> rows;
  std::string arena;  ///< packed key values of the rollup items
  std::vector<RollupItem> rollups;
  std::vector<int64_t> rollup_sums;  ///< in each summed property's units (numeric: 10^-scale)
  std::string reject_tuples;         ///< binary COPY tuples for ingest_rejects
  uint32_t reject_count = 0;
  std::array<uint32_t, kRejectReasonCount> rejects_by_reason{};
  /// UTC months of the rejects' rejected_at (as RowRef::month), first and last: ingest_rejects is
  /// partitioned by it. Meaningful only when reject_count > 0.
  int32_t first_reject_month = 0;
  int32_t last_reject_month = 0;
  uint32_t messages = 0;  ///< Kafka messages consumed into this chunk (rows + rejects)

  /// Bytes held, for the in-flight budget.
  size_t bytes() const {
    return tuples.capacity() + arena.capacity() + reject_tuples.capacity() +
           rows.capacity() * sizeof(RowRef) + rollups.capacity() * sizeof(RollupItem) +
           rollup_sums.capacity() * sizeof(int64_t) + sizeof(Chunk);
  }
  /// Bytes of COPY data it adds to a transaction (the batch size limit counts these).
  size_t copy_bytes() const { return tuples.size() + reject_tuples.size(); }
  std::string_view tuple(const RowRef& r) const {
    return std::string_view(tuples).substr(r.tuple_begin, r.tuple_end - r.tuple_begin);
  }
  /// The packed key values of a rollup item.
  std::string_view keys(const RollupItem& item) const {
    return std::string_view(arena).substr(item.keys_begin, item.keys_size);
  }
};

using ChunkPtr = std::unique_ptr<Chunk>;

/// Appends one ingest_rejects tuple (columns as kRejectsColumns) to `out`.
/// A null `payload` stores NULL (the message is no longer in Kafka).
void encode_reject(std::string& out, int64_t rejected_at_unix_micros, std::string_view topic,
                   int32_t partition, int64_t offset, RejectReason reason, std::string_view detail,
                   const std::string_view* payload);
inline void encode_reject(std::string& out, int64_t rejected_at_unix_micros, std::string_view topic,
                          int32_t partition, int64_t offset, RejectReason reason,
                          std::string_view detail, std::string_view payload) {
  encode_reject(out, rejected_at_unix_micros, topic, partition, offset, reason, detail, &payload);
}

/// The exact decimal text of `units` × 10^-scale: (12345, 4) → "1.2345", (-5, 2) → "-0.05",
/// (7, 0) → "7". What rollup keys and sums are written as (never through a float).
std::string decimal_text(__int128 units, int scale);

/// UTC month index (year*12 + month-1) and day number of a Unix-microsecond timestamp.
int32_t month_of_unix_micros(int64_t unix_micros);
int32_t day_of_unix_micros(int64_t unix_micros);

}  // namespace sentinel
