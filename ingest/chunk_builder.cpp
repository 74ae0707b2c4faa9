#include "ingest/chunk_builder.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>

namespace sentinel {
namespace {
constexpr size_t kInitialChunkBytes = 16 << 10;
constexpr size_t kInitialArenaBytes = 1 << 10;  // rollup keys only

}  // namespace

ChunkBuilder::ChunkBuilder(std::shared_ptr<const Catalog> catalog, std::vector<TopicSpec> topics,
                           ParserLimits limits, size_t chunk_bytes)
    : catalog_(std::move(catalog)),
      rollup_plans_(plan_rollups(*catalog_)),
      topics_(std::move(topics)),
      chunk_bytes_(chunk_bytes),
      parser_(catalog_, limits) {}

std::vector<std::vector<ChunkBuilder::RollupPlan>> ChunkBuilder::plan_rollups(
    const Catalog& catalog) {
  std::vector<std::vector<RollupPlan>> plans(catalog.size());
  for (size_t t = 0; t < catalog.size(); ++t) {
    const EventType& type = catalog[t];
    for (const Rollup& rollup : type.rollups) {
      RollupPlan& plan = plans[t].emplace_back();
      for (const std::string& key : rollup.key) plan.keys.push_back(type.property_index(key));
      for (const auto& [column, property] : rollup.sums) {
        plan.sums.push_back(type.property_index(property));
      }
    }
  }
  return plans;
}

void ChunkBuilder::open(int topic_index, int32_t partition, int64_t from_offset, uint64_t epoch,
                        bool gap_confirmed) {
  PartitionState& s = partitions_[{topic_index, partition}];
  s.next_offset = from_offset;
  s.epoch = epoch;
  s.open.reset();
  s.verify_first = from_offset != Chunk::kNoStoredOffset && !gap_confirmed;
  s.refused = false;
}

void ChunkBuilder::close(int topic_index, int32_t partition) {
  if (last_key_ == std::make_pair(topic_index, partition)) last_state_ = nullptr;
  partitions_.erase({topic_index, partition});
}

bool ChunkBuilder::is_open(int topic_index, int32_t partition) const {
  return partitions_.contains({topic_index, partition});
}

ChunkPtr ChunkBuilder::new_chunk(int topic_index, int32_t partition, PartitionState& state) {
  auto c = std::make_unique<Chunk>();
  c->topic_index = topic_index;
  c->type = topics_[topic_index].type;
  c->partition = partition;
  c->epoch = state.epoch;
  c->from_offset = state.next_offset;
  c->next_offset = state.next_offset;
  // Start small and let the buffers double: with many partitions most chunks are flushed at
  // the end of a poll cycle holding a few KiB, and the in-flight budget counts capacity, so
  // reserving chunk_bytes up front paused consumption with the budget full of empty buffers.
  // The previous chunk of the partition is the best guess of the next one's size.
  const auto initial = [&](size_t last, size_t floor) {
    return std::clamp(last + last / 8, std::min(chunk_bytes_, floor), chunk_bytes_ + (64 << 10));
  };
  c->tuples.reserve(initial(state.last_tuple_bytes, kInitialChunkBytes));
  c->arena.reserve(initial(state.last_arena_bytes, kInitialArenaBytes));
  return c;
}

ChunkBuilder::PartitionState* ChunkBuilder::admit(int topic_index, int32_t partition,
                                                  int64_t offset) {
  // Messages come in runs of one partition: remember the last one's state (map nodes are stable).
  if (last_state_ == nullptr || last_key_ != std::make_pair(topic_index, partition)) {
    auto it = partitions_.find({topic_index, partition});
    if (it == partitions_.end()) return nullptr;
    last_key_ = it->first;
    last_state_ = &it->second;
  }
  PartitionState& s = *last_state_;
  if (s.refused) return nullptr;
  if (s.next_offset != Chunk::kNoStoredOffset && offset < s.next_offset) {
    ++duplicates_skipped_;
    return nullptr;
  }
  if (s.verify_first) {
    if (offset > s.next_offset) {
      s.refused = true;
      refused_starts_.push_back({topic_index, partition, s.next_offset, offset});
      return nullptr;
    }
    s.verify_first = false;
  }
  if (s.next_offset != Chunk::kNoStoredOffset && offset > s.next_offset) {
    offsets_skipped_by_kafka_ += static_cast<uint64_t>(offset - s.next_offset);
  } else if (s.next_offset == Chunk::kNoStoredOffset && offset > 0) {
    late_starts_.push_back({topic_index, partition, offset});
  }
  return &s;
}

void ChunkBuilder::append_key(Chunk& c, const Property& property, const PropertyValue& value) {
  if (!value.present) {
    append_key_value(c.arena, nullptr);
    return;
  }
  std::string_view text = value.text;
  switch (property.type) {
    case ColumnType::kInt4:
    case ColumnType::kInt8:
      key_scratch_ = std::to_string(value.number);
      text = key_scratch_;
      break;
    case ColumnType::kBool:
      text = value.number != 0 ? "true" : "false";
      break;
    default:  // text, uuid (canonical lower case), inet: the parser's text. The loader refuses
      break;  // other key types (numeric, timestamptz, jsonb).
  }
  append_key_value(c.arena, &text);
}

void ChunkBuilder::add_row(Chunk& c, const ParsedEvent& event, size_t tuple_begin, int64_t offset,
                           int64_t kafka_timestamp_ms) {
  RowRef row;
  row.tuple_begin = static_cast<uint32_t>(tuple_begin);
  row.tuple_end = static_cast<uint32_t>(c.tuples.size());
  row.kafka_offset = offset;
  row.kafka_timestamp_ms = kafka_timestamp_ms;
  row.month = month_of_unix_micros(event.ts_unix_micros);
  const std::vector<RollupPlan>& plans = rollup_plans_[static_cast<size_t>(c.type)];
  if (!plans.empty()) row.rollup_index = static_cast<int32_t>(c.rollups.size());
  const EventType& type = (*catalog_)[static_cast<size_t>(c.type)];
  for (size_t r = 0; r < plans.size(); ++r) {
    RollupItem item;
    item.rollup = static_cast<uint16_t>(r);
    item.ts_unix_micros = event.ts_unix_micros;
    item.unix_day = day_of_unix_micros(event.ts_unix_micros);
    item.keys_begin = static_cast<uint32_t>(c.arena.size());
    for (const int p : plans[r].keys) append_key(c, type.properties[p], event.values[p]);
    item.keys_size = static_cast<uint32_t>(c.arena.size() - item.keys_begin);
    item.sums_begin = static_cast<uint32_t>(c.rollup_sums.size());
    for (const int p : plans[r].sums) {
      // A missing value adds nothing to a sum (as SQL's sum ignores NULL); the count counts it.
      c.rollup_sums.push_back(event.values[p].present ? event.values[p].number : 0);
    }
    c.rollups.push_back(item);
  }
  c.rows.push_back(row);
}

ChunkPtr ChunkBuilder::add(int topic_index, int32_t partition, int64_t offset,
                           int64_t kafka_timestamp_ms, std::string_view payload,
                           int64_t now_unix_micros) {
  PartitionState* state = admit(topic_index, partition, offset);
  if (state == nullptr) return nullptr;
  PartitionState& s = *state;
  if (!s.open) {
    s.open = new_chunk(topic_index, partition, s);
    s.open->received_unix_micros = now_unix_micros;
  }
  Chunk& c = *s.open;

  // simdjson reads up to SIMDJSON_PADDING bytes past the end of its input, which Kafka's buffer
  // does not promise: the payload is copied into one padded buffer that stays in cache. It is
  // not kept: a row PostgreSQL refuses is read again from Kafka (PayloadSource).
  if (scratch_.size() < payload.size() + simdjson::SIMDJSON_PADDING) {
    scratch_.resize(payload.size() + simdjson::SIMDJSON_PADDING);
  }
  if (!payload.empty()) std::memcpy(scratch_.data(), payload.data(), payload.size());
  const char* json = scratch_.data();

  const MessageContext ctx{partition, offset, now_unix_micros};
  const size_t tuple_begin = c.tuples.size();
  ParsedEvent event;
  const std::optional<Rejection> rejection =
      parser_.parse(c.type, json, payload.size(), ctx, c.tuples, event);

  if (rejection) {
    encode_reject(c.reject_tuples, now_unix_micros, topics_[topic_index].name, partition, offset,
                  rejection->reason, rejection->detail, payload);
    const int32_t month = month_of_unix_micros(now_unix_micros);
    c.first_reject_month = c.reject_count == 0 ? month : std::min(c.first_reject_month, month);
    c.last_reject_month = c.reject_count == 0 ? month : std::max(c.last_reject_month, month);
    ++c.reject_count;
    ++c.rejects_by_reason[static_cast<int>(rejection->reason)];
  } else {
    add_row(c, event, tuple_begin, offset, kafka_timestamp_ms);
  }
  last_rejection_ = rejection;
  ++c.messages;
  c.next_offset = offset + 1;
  s.next_offset = offset + 1;

  if (c.tuples.size() + c.arena.size() + c.reject_tuples.size() >= chunk_bytes_) {
    s.last_tuple_bytes = c.tuples.size();
    s.last_arena_bytes = c.arena.size();
    return std::move(s.open);
  }
  return nullptr;
}

void ChunkBuilder::flush(std::vector<ChunkPtr>& out) {
  for (auto& [key, s] : partitions_) {
    if (s.open && s.open->messages > 0) {
      Chunk& c = *s.open;
      s.last_tuple_bytes = c.tuples.size();
      s.last_arena_bytes = c.arena.size();
      // A chunk handed over part-full gives back what it reserved and did not use: the budget
      // counts capacity, and unused capacity held batches at half the rows they could take.
      // (One copy of the tuples, ~1% of the time it took to encode them.)
      if (c.tuples.capacity() > c.tuples.size() + c.tuples.size() / 4 + (4 << 10)) {
        c.tuples.shrink_to_fit();
      }
      if (c.rows.capacity() > c.rows.size() + c.rows.size() / 4 + 64) c.rows.shrink_to_fit();
      out.push_back(std::move(s.open));
    }
  }
}

}  // namespace sentinel
