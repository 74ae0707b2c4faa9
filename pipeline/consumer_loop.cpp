#include "pipeline/consumer_loop.h"

#include <fmt/format.h>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <thread>

#include "rows/month.h"

namespace sentinel {
namespace {

/// After this long with nothing consumed and nothing in flight, the heap is given back.
constexpr auto kIdleBeforeTrim = std::chrono::seconds(5);
/// Under a trickle (never idle that long), at most this often.
constexpr auto kTrimInterval = std::chrono::seconds(60);

}  // namespace

ConsumerLoop::ConsumerLoop(const PipelineOptions& options, const std::vector<std::string>& topics,
                           Metrics& metrics, Parts parts)
    : options_(options), topics_(topics), metrics_(metrics), parts_(parts) {}

void ConsumerLoop::open(const std::atomic<bool>& stop) {
  stop_ = &stop;
  parts_.stored.set_stop(&stop);
  ConsumerOptions copts;
  copts.brokers = options_.brokers;
  copts.group = options_.group;
  copts.topics = topics_;
  copts.properties = options_.kafka_properties;
  copts.brokers_up = &metrics_.kafka_brokers_up;
  consumer_ = std::make_unique<KafkaConsumer>(copts, this);
  last_status_ = last_commit_ = last_flush_ = last_consumed_ = last_trim_ = Clock::now();
}

int64_t ConsumerLoop::start_when_nothing_stored() const {
  // "earliest" is offset 0, not RD_KAFKA_OFFSET_BEGINNING: librdkafka 2.0 looks BEGINNING up
  // first and, when it does not know the partition's leader yet in that millisecond, tries again
  // only after a fixed 500 ms. Offset 0 is fetched at once. Where retention has deleted it, the
  // broker answers "out of range", auto.offset.reset (earliest) starts at the oldest message left,
  // and the late start is reported (take_late_starts).
  return options_.offset_reset == "latest" ? KafkaConsumer::kOffsetEnd : 0;
}

int64_t ConsumerLoop::start(const PartitionKey& key, const std::map<PartitionKey, int64_t>& stored,
                            bool confirm_gap, std::string& at) {
  const auto it = stored.find(key);
  const int64_t from = it == stored.end() ? Chunk::kNoStoredOffset : it->second;
  const uint64_t epoch = parts_.offsets.start(key, from);
  // After a refused start the seek is the confirmation: what Kafka delivers first from it is
  // what it has.
  parts_.builder.open(key.first, key.second, from, epoch, confirm_gap);
  at = from >= 0 ? std::to_string(from) : options_.offset_reset + " (nothing stored)";
  return from >= 0 ? from : start_when_nothing_stored();
}

void ConsumerLoop::on_assign(std::vector<TopicPartition>& partitions) {
  ++metrics_.rebalances;
  std::vector<PartitionKey> keys;
  keys.reserve(partitions.size());
  for (const auto& tp : partitions) keys.emplace_back(tp.topic_index, tp.partition);
  // One attempt only: a rebalance callback runs inside poll(), and blocking there while
  // PostgreSQL is away would stop the poll loop (max.poll.interval.ms, SIGTERM, status).
  const auto stored = parts_.stored.load(keys);
  for (auto& tp : partitions) {
    const PartitionKey key{tp.topic_index, tp.partition};
    parts_.offsets.assign(key);
    if (!stored) {
      // Nothing is built for it (its builder is closed) and apply_backpressure() pauses it;
      // resolve_pending() seeks it to the stored offset once PostgreSQL answers.
      tp.offset = KafkaConsumer::kOffsetEnd;
      parts_.offsets.make_pending(key, Pending::kAssigned);
      spdlog::info("assigned {} [{}], starting when its stored offset can be read",
                   topics_[key.first], key.second);
      continue;
    }
    std::string at;
    tp.offset = start(key, *stored, false, at);
    spdlog::info("assigned {} [{}], starting at {}", topics_[key.first], key.second, at);
  }
  metrics_.assigned_partitions = static_cast<int>(parts_.offsets.assigned_count());
}

void ConsumerLoop::on_revoke(const std::vector<TopicPartition>& partitions) {
  ++metrics_.rebalances;
  for (const auto& tp : partitions) {
    const PartitionKey key{tp.topic_index, tp.partition};
    parts_.offsets.revoke(key);
    {
      std::lock_guard lag_lock(metrics_.lag_mutex);
      metrics_.consumer_lag.erase(key);
    }
    spdlog::info("revoked {} [{}]", topics_[key.first], key.second);
  }
  metrics_.assigned_partitions = static_cast<int>(parts_.offsets.assigned_count());
}

void ConsumerLoop::resolve_pending() {
  if (parts_.offsets.pending().empty() || !parts_.stored.ready()) return;
  std::vector<PartitionKey> keys;
  for (const auto& [key, why] : parts_.offsets.pending()) keys.push_back(key);
  const auto stored = parts_.stored.load(keys);
  if (!stored) return;  // retried after the control connection's backoff
  std::vector<TopicPartition> seeks;
  std::map<PartitionKey, Pending> resolving = parts_.offsets.take_pending();
  for (const auto& [key, why] : resolving) {
    std::string at;
    const int64_t offset = start(key, *stored, why == Pending::kGapAtStart, at);
    seeks.push_back({key.first, key.second, offset});
    log_resolved(topics_[key.first], key.second, why, at);
  }
  // A partition whose seek did not happen would deliver from wherever librdkafka was: it stays
  // pending (nothing built for it) and is sought again after the backoff.
  const auto failed = consumer_->seek(seeks);
  if (failed.empty()) return;
  for (const auto& tp : failed) {
    const PartitionKey key{tp.topic_index, tp.partition};
    if (!parts_.offsets.assigned(key)) continue;
    const Pending why = resolving[key];
    parts_.offsets.make_pending(key, why == Pending::kAssigned ? Pending::kSeekFailed : why);
  }
  parts_.stored.retry_later();
}

void ConsumerLoop::log_resolved(const std::string& topic, int32_t partition, Pending why,
                                const std::string& at) {
  switch (why) {
    case Pending::kFenced:
      spdlog::warn("{} [{}]: stored offset moved under us (another instance?); resuming at {}",
                   topic, partition, at);
      break;
    case Pending::kBehind:
      spdlog::warn(
          "{} [{}]: the database holds less than was committed (failover to a standby that "
          "was behind, or a restore); ingesting again from {}",
          topic, partition, at);
      break;
    case Pending::kGapAtStart:
      spdlog::info("{} [{}]: seeking to {} again to confirm the offsets Kafka skipped", topic,
                   partition, at);
      break;
    default:
      spdlog::info("{} [{}]: starting at {}", topic, partition, at);
  }
}

void ConsumerLoop::check_progress() {
  if (!parts_.stored.check_due()) return;
  std::vector<PartitionKey> keys;
  for (const auto& [key, paused] : parts_.offsets.assigned_paused()) {
    if (!parts_.offsets.pending(key)) keys.push_back(key);
  }
  if (keys.empty()) {
    parts_.stored.checked_nothing();
    return;
  }
  // What this instance believes committed, taken BEFORE the read: a commit that lands during
  // the read only makes the database ahead of it, never behind.
  commit_to_kafka();
  const std::map<PartitionKey, int64_t> believed = parts_.offsets.committed();
  const auto stored = parts_.stored.check(keys);
  if (!stored) return;
  for (const auto& b : parts_.offsets.mark_behind(keys, believed, *stored)) {
    spdlog::warn("{} [{}]: committed up to {}, but the database holds {}", topics_[b.key.first],
                 b.key.second, b.committed,
                 b.stored ? std::to_string(*b.stored) : std::string("no offset"));
  }
}

void ConsumerLoop::handle_refused_starts() {
  for (const auto& r : parts_.builder.take_refused_starts()) {
    const PartitionKey key{r.topic_index, r.partition};
    if (!parts_.offsets.assigned(key) || parts_.offsets.pending(key)) continue;
    spdlog::warn(
        "{} [{}]: expected offset {} first but Kafka delivered {}: not building over offsets "
        "that were not read; seeking to {} again",
        topics_[key.first], key.second, r.expected, r.offset, r.expected);
    parts_.offsets.make_pending(key, Pending::kGapAtStart);
  }
}

void ConsumerLoop::apply_backpressure() {
  parts_.budget.update(Clock::now());
  std::vector<TopicPartition> pause, resume;
  int paused = 0;
  for (auto& [key, is_paused] : parts_.offsets.assigned_paused()) {
    const bool want =
        parts_.budget.writer_paused(parts_.writers.writer_of(key)) || parts_.offsets.pending(key);
    if (want != is_paused) {
      (want ? pause : resume).push_back({key.first, key.second});
      is_paused = want;
    }
    paused += is_paused;
  }
  consumer_->pause(pause);
  consumer_->resume(resume);
  metrics_.paused_partitions = paused;
}

void ConsumerLoop::throttle() {
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(kThrottleWait);
  const auto held = Clock::now() - t0;
  throttled_for_ += held;
  metrics_.throttled_micros += std::chrono::duration_cast<std::chrono::microseconds>(held).count();
}

void ConsumerLoop::run() {
  while (!stop_->load() && !parts_.failure.failed()) {
    parts_.offsets.handle_fences();
    handle_refused_starts();
    check_progress();
    resolve_pending();
    apply_backpressure();
    // Over budget: take a little at a time (rebalances are still served) and keep chunks open.
    const bool throttled = parts_.budget.throttled();
    if (throttled) throttle();
    const bool drained = poll_cycle(throttled ? kThrottledPerCycle : kMaxPerCycle);
    consumer_->set_backlog(!drained);
    hand_over(drained);
    give_back_memory_when_idle(drained);
    report_builder();
    if (Clock::now() - last_commit_ > std::chrono::seconds(1)) {
      commit_to_kafka();
      update_lag();
      last_commit_ = Clock::now();
    }
    log_status();
  }
}

bool ConsumerLoop::poll_cycle(int max) {
  int64_t now_us = 0;  // when the cycle's messages came out of the consumer
  for (int n = 0; n < max; ++n) {
    // Only the first poll of a cycle can wait; timing the others would cost two clock reads
    // per message.
    const auto t0 = n == 0 ? Clock::now() : Clock::time_point{};
    const ConsumedMessage m = consumer_->poll(n == 0 ? (parts_.budget.throttled() ? 0 : 100) : 0);
    if (n == 0) {
      // After the wait: a message that arrived 90 ms into it was received then, not before.
      const auto received = Clock::now();
      waited_for_kafka_ += received - t0;
      now_us = now_unix_micros();
      if (m) {
        last_consumed_ = received;
        trimmed_since_consumed_ = false;
      }
    }
    if (!m) return true;
    if (!take(m, now_us)) break;
  }
  return false;
}

bool ConsumerLoop::take(const ConsumedMessage& m, int64_t now_us) {
  switch (m.error()) {
    case ConsumedMessage::Error::kNone:
      break;
    case ConsumedMessage::Error::kPartitionEof:
      return true;
    case ConsumedMessage::Error::kFatal:
      spdlog::error("Kafka: {}", m.error_text());
      parts_.failure.fatal(1, std::string("Kafka: ") + m.error_text());
      return true;
    case ConsumedMessage::Error::kOther:
      spdlog::warn("Kafka: {}", m.error_text());
      return true;
  }
  const int t = m.topic_index();
  if (t < 0) {
    // Never expected: skipping it would lose the message, so stop before anything after it
    // is stored; a restart resumes at the stored offsets.
    parts_.failure.fatal(1, fmt::format("Kafka: a message from unsubscribed topic {} [{}] at "
                                        "offset {}",
                                        m.topic_name(), m.partition(), m.offset()));
    return false;
  }
  if (ChunkPtr full =
          parts_.builder.add(t, m.partition(), m.offset(), m.timestamp_ms(), m.payload(), now_us)) {
    parts_.writers.submit(std::move(full));
  }
  return true;
}

void ConsumerLoop::give_back_memory_when_idle(bool drained) {
  // The allocator never trims the heap by itself (app/allocator.h): while ingesting, memory
  // freed is reused instead of returned and faulted in again. It is returned once idle, and at
  // most once a minute under a trickle (the queue drained, nothing in flight at that moment), so
  // that a backlog's peak does not stay resident for good. Never under a backlog.
  if (!drained || trimmed_since_consumed_ || parts_.budget.inflight() > 0) return;
  const auto now = Clock::now();
  if (now - last_consumed_ < kIdleBeforeTrim && now - last_trim_ < kTrimInterval) return;
  trimmed_since_consumed_ = true;
  last_trim_ = now;
  malloc_trim(0);
}

void ConsumerLoop::hand_over(bool drained) {
  // Hand over partly filled chunks when nothing more is waiting (a trickle must not wait for
  // a chunk to fill) or every kFlushInterval under a backlog: flushing after every cycle of
  // 2 000 messages cut chunks at ~60% full, and the budget counts their reserved capacity.
  if (!parts_.budget.throttled() && (drained || Clock::now() - last_flush_ >= kFlushInterval)) {
    parts_.builder.flush(ready_);
    last_flush_ = Clock::now();
  }
  for (auto& c : ready_) parts_.writers.submit(std::move(c));
  ready_.clear();
}

void ConsumerLoop::report_builder() {
  metrics_.duplicates_skipped = parts_.builder.duplicates_skipped();
  for (const auto& first : parts_.builder.take_late_starts()) {
    // With "latest" a first message past 0 is the point: only "earliest" promised the start.
    if (options_.offset_reset != "earliest") continue;
    spdlog::info(
        "{} [{}]: nothing was stored, and the first message Kafka delivered is at offset {}: {} "
        "gone (retention or compaction) or never delivered",
        topics_[first.topic_index], first.partition, first.offset,
        first.offset == 1 ? std::string("offset 0 is")
                          : fmt::format("offsets 0 to {} are", first.offset - 1));
  }
  if (parts_.builder.offsets_skipped_by_kafka() != metrics_.offsets_skipped_by_kafka) {
    spdlog::warn(
        "Kafka skipped {} offsets in total that were never delivered (deleted by retention "
        "before they were read, compacted, or transaction markers)",
        parts_.builder.offsets_skipped_by_kafka());
    metrics_.offsets_skipped_by_kafka = parts_.builder.offsets_skipped_by_kafka();
  }
}

void ConsumerLoop::flush() {
  parts_.builder.flush(ready_);
  for (auto& c : ready_) parts_.writers.submit(std::move(c));
  ready_.clear();
}

void ConsumerLoop::close(std::chrono::milliseconds budget) {
  commit_to_kafka();
  consumer_->close(budget);
  consumer_.reset();
}

void ConsumerLoop::commit_to_kafka() { consumer_->commit_async(parts_.offsets.take_commits()); }

void ConsumerLoop::update_lag() {
  // The log end: as last fetched, or, for partitions not fetched yet (just assigned, pending),
  // asked of the brokers (bounded), so that every owned partition has a sample.
  std::map<PartitionKey, int64_t> high;
  std::vector<TopicPartition> unknown;
  for (const auto& [key, paused] : parts_.offsets.assigned_paused()) {
    const int64_t h = consumer_->high_watermark({key.first, key.second});
    if (h >= 0) {
      high[key] = h;
    } else {
      unknown.push_back({key.first, key.second});
    }
  }
  consumer_->query_high_watermarks(unknown, 200);
  for (const auto& tp : unknown) {
    if (tp.offset >= 0) high[{tp.topic_index, tp.partition}] = tp.offset;
  }
  // committed() is what the database holds: set from the stored offsets when a partition
  // starts, advanced by this instance's commits, and corrected by check_progress() when the
  // database turns out to hold less (failover).
  const auto& committed = parts_.offsets.committed();
  std::lock_guard lock(metrics_.lag_mutex);
  for (const auto& [key, h] : high) {
    const auto it = committed.find(key);
    const int64_t done = it == committed.end() ? 0 : it->second;
    metrics_.consumer_lag[key] = std::max<int64_t>(0, h - done);
  }
}

void ConsumerLoop::log_status() {
  const auto now = Clock::now();
  if (now - last_status_ < options_.status_interval) return;
  const double seconds = std::chrono::duration<double>(now - last_status_).count();
  uint64_t messages = 0;
  for (size_t t = 0; t < topics_.size(); ++t) messages += metrics_.messages_consumed[t];
  uint64_t rejects = 0;
  for (auto& r : metrics_.rejects) rejects += r;
  int64_t lag = 0;
  {
    std::lock_guard lock(metrics_.lag_mutex);
    for (const auto& [k, v] : metrics_.consumer_lag) lag += v;
  }
  const auto share = [&](Clock::duration d) {
    return 100.0 * std::chrono::duration<double>(d).count() / seconds;
  };
  std::string rows;  // "audit_logs N invocations M ...": every event table of the catalog
  for (size_t t = 0; t < metrics_.tables.size(); ++t) {
    fmt::format_to(std::back_inserter(rows), "{}{} {}", rows.empty() ? "" : " ", metrics_.tables[t],
                   metrics_.rows_written[t].load());
  }
  spdlog::info(
      "status: {:.0f} msg/s, consumed {}, rows {}, rejects {}, "
      "lag {}, inflight {:.1f} MiB, partitions {} ({} paused), pg {}; consumer waited {:.0f}% "
      "for Kafka, {:.0f}% for writers",
      static_cast<double>(messages - last_messages_) / seconds, messages, rows, rejects, lag,
      static_cast<double>(metrics_.inflight_bytes.load()) / (1 << 20),
      parts_.offsets.assigned_count(), metrics_.paused_partitions.load(),
      metrics_.pg_up ? "up" : "DOWN", share(waited_for_kafka_), share(throttled_for_));
  waited_for_kafka_ = throttled_for_ = Clock::duration::zero();
  last_status_ = now;
  last_messages_ = messages;
}

}  // namespace sentinel
