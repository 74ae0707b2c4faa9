#pragma once

#include <array>
#include <cstdint>
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
  int32_t cost_index = -1;          ///< into Chunk::costs, invocations only
};

/// A row's cost, with the tenant copied into Chunk::arena.
struct CostItem {
  uint32_t tenant_begin = 0;
  uint32_t tenant_size = 0;
  int32_t unix_day = 0;  ///< UTC day of ts, days since 1970-01-01
  int64_t cost_nanos = 0;
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
};

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
  std::string arena;  ///< tenant ids of the costs
  std::vector<CostItem> costs;
  std::string reject_tuples;  ///< binary COPY tuples for ingest_rejects
  uint32_t reject_count = 0;
  std::array<uint32_t, kRejectReasonCount> rejects_by_reason{};
  uint32_t messages = 0;  ///< Kafka messages consumed into this chunk (rows + rejects)

  /// Bytes held, for the in-flight budget.
  size_t bytes() const {
    return tuples.capacity() + arena.capacity() + reject_tuples.capacity() +
           rows.capacity() * sizeof(RowRef) + costs.capacity() * sizeof(CostItem) + sizeof(Chunk);
  }
  /// Bytes of COPY data it adds to a transaction (the batch size limit counts these).
  size_t copy_bytes() const { return tuples.size() + reject_tuples.size(); }
  std::string_view tuple(const RowRef& r) const {
    return std::string_view(tuples).substr(r.tuple_begin, r.tuple_end - r.tuple_begin);
  }
  std::string_view tenant(const CostItem& c) const {
    return std::string_view(arena).substr(c.tenant_begin, c.tenant_size);
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

/// UTC month index (year*12 + month-1) and day number of a Unix-microsecond timestamp.
int32_t month_of_unix_micros(int64_t unix_micros);
int32_t day_of_unix_micros(int64_t unix_micros);

}  // namespace sentinel
