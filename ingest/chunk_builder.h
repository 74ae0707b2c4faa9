#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "ingest/event_parser.h"
#include "rows/chunk.h"

namespace sentinel {

/// A subscribed topic and the event type of its messages.
struct TopicSpec {
  std::string name;
  int type = 0;  ///< the type's index in the catalog
};

/// Turns Kafka messages into chunks, one open chunk per assigned partition.
///
/// It tracks each partition's next offset so that a chunk's offset range is exact and a message
/// delivered twice (e.g. after pause/resume) is skipped. One builder per consumer thread; not
/// thread-safe.
class ChunkBuilder {
 public:
  /// Parses the messages of each topic as the type of `catalog` the topic names.
  ChunkBuilder(std::shared_ptr<const Catalog> catalog, std::vector<TopicSpec> topics,
               ParserLimits limits, size_t chunk_bytes);

  /// Starts (or restarts) a partition: its next chunk begins at `from_offset`, the stored
  /// next_offset (Chunk::kNoStoredOffset if none). Any open chunk of the partition is dropped.
  ///
  /// A stored offset S is where the consumer was told to fetch from, but the builder does not take
  /// that on trust: if the first message to come is above S, the offsets between may simply not
  /// have been fetched (a seek that did not happen, a position left over from before), and
  /// building from it would let the compare-and-set at S commit over them. So that message is
  /// refused, the partition takes nothing more until it is opened again, and the refusal is
  /// reported (take_refused_starts) for the caller to seek to S again. Opened with
  /// `gap_confirmed` (after a seek to S that Kafka acknowledged answered with a higher offset
  /// again), a first message above S is accepted: Kafka has nothing deliverable in between
  /// (retention, compaction, transaction markers) and the gap is counted.
  void open(int topic_index, int32_t partition, int64_t from_offset, uint64_t epoch,
            bool gap_confirmed = false);
  /// Forgets a partition and drops its open chunk.
  void close(int topic_index, int32_t partition);
  bool is_open(int topic_index, int32_t partition) const;

  /// Parses one message into its partition's chunk. Returns the chunk when it has reached the
  /// chunk size (hand it to the writer), else null. Messages of partitions not open, or below
  /// the partition's next offset, are skipped (returns null). `payload` may be empty (tombstone).
  ChunkPtr add(int topic_index, int32_t partition, int64_t offset, int64_t kafka_timestamp_ms,
               std::string_view payload, int64_t now_unix_micros);

  /// Why the message of the last add() that parsed one was rejected; nullopt when it became a
  /// row. (`rejects replay` records each stored reject's new outcome from it.)
  const std::optional<Rejection>& last_rejection() const { return last_rejection_; }

  /// Moves every non-empty open chunk to `out`.
  void flush(std::vector<ChunkPtr>& out);

  /// Messages skipped because they were below their partition's next offset.
  uint64_t duplicates_skipped() const { return duplicates_skipped_; }
  /// Offsets Kafka did not deliver between a partition's next offset and the message that came
  /// (retention deleted them before they were read, compaction, or transaction markers).
  uint64_t offsets_skipped_by_kafka() const { return offsets_skipped_by_kafka_; }

  /// A partition with nothing stored whose first message came at an offset above 0: the offsets
  /// below it are not in Kafka any more (retention, compaction) or were not delivered.
  struct FirstOffset {
    int topic_index;
    int32_t partition;
    int64_t offset;
  };
  /// The FirstOffsets seen since the last call (for a log line each).
  std::vector<FirstOffset> take_late_starts() { return std::exchange(late_starts_, {}); }

  /// A partition opened at stored offset `expected` whose first message came at `offset` >
  /// `expected` and was refused (see open()).
  struct RefusedStart {
    int topic_index;
    int32_t partition;
    int64_t expected;
    int64_t offset;
  };
  /// The RefusedStarts since the last call.
  std::vector<RefusedStart> take_refused_starts() { return std::exchange(refused_starts_, {}); }

 private:
  struct PartitionState {
    int64_t next_offset = Chunk::kNoStoredOffset;
    uint64_t epoch = 0;
    /// Opened at a stored offset and nothing taken yet: the first message must be at it.
    bool verify_first = false;
    /// The first message was past the stored offset: take nothing until opened again.
    bool refused = false;
    ChunkPtr open;
    size_t last_tuple_bytes = 0;  ///< of the previous chunk: how much the next one reserves
    size_t last_arena_bytes = 0;
  };
  ChunkPtr new_chunk(int topic_index, int32_t partition, PartitionState& state);
  /// The partition's state if a message at `offset` is to be added (not a duplicate, not a
  /// refused start, an assigned partition); counts what it skips.
  PartitionState* admit(int topic_index, int32_t partition, int64_t offset);
  /// Records a parsed event's row, and its item for each rollup of its type, in `c`.
  void add_row(Chunk& c, const ParsedEvent& event, size_t tuple_begin, int64_t offset,
               int64_t kafka_timestamp_ms);
  /// Appends the canonical text of one key value to `c.arena` (packed, see append_key_value).
  void append_key(Chunk& c, const Property& property, const PropertyValue& value);

  /// Where a rollup's keys and sums are among its type's properties (indexes).
  struct RollupPlan {
    std::vector<int> keys;
    std::vector<int> sums;
  };
  /// Each rollup's plan, for every type of `catalog`.
  static std::vector<std::vector<RollupPlan>> plan_rollups(const Catalog& catalog);

  std::shared_ptr<const Catalog> catalog_;
  std::vector<std::vector<RollupPlan>> rollup_plans_;  ///< by type, by rollup
  std::string key_scratch_;                            ///< one key value's text being made
  std::vector<TopicSpec> topics_;
  size_t chunk_bytes_;
  EventParser parser_;
  std::string scratch_;  ///< the message being parsed, with simdjson's padding
  std::map<std::pair<int, int32_t>, PartitionState> partitions_;
  std::pair<int, int32_t> last_key_{-1, -1};  ///< the partition of the last add()
  PartitionState* last_state_ = nullptr;      ///< its state; null after close()
  uint64_t duplicates_skipped_ = 0;
  uint64_t offsets_skipped_by_kafka_ = 0;
  std::vector<FirstOffset> late_starts_;
  std::vector<RefusedStart> refused_starts_;
  std::optional<Rejection> last_rejection_;
};

}  // namespace sentinel
