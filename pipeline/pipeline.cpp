#include "pipeline/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "ingest/kafka_payload_source.h"
#include "sinks/batch_writer.h"
#include "sinks/offset_store.h"

namespace sentinel {
namespace {

using Clock = std::chrono::steady_clock;

/// What a graceful stop may take in all, from SIGTERM to the exit (DESIGN.md §5): 10 s, less a
/// margin for the process's own exit.
constexpr auto kStopBudget = std::chrono::milliseconds(9500);

int64_t now_unix_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t now_unix_ms() { return now_unix_micros() / 1000; }

std::string configuration_hint(const PgError& e) {
  const std::string& s = e.sqlstate();
  if (s == "42P01" || s == "42703" || s == "42883") {
    return "the schema is missing or out of date: run `sentinel-ingest migrate --pg URL`";
  }
  if (s == "42501") {
    return "the connecting role lacks a privilege: grant it sentinel_ingest (see "
           "schemas/README.md)";
  }
  if (s == "3D000") return "the database does not exist: check --pg";
  if (s == "28000" || s == "28P01")
    return "authentication failed: check the user and password in --pg";
  return "check --pg and the database";
}

}  // namespace

Pipeline::Pipeline(PipelineOptions options, Metrics& metrics)
    : options_(std::move(options)),
      metrics_(metrics),
      topics_{options_.audit_topic, options_.invocations_topic},
      builder_({{options_.audit_topic, EventTable::kAudit},
                {options_.invocations_topic, EventTable::kInvocations}},
               options_.limits, options_.chunk_bytes),
      control_(options_.pg_url),
      writer_paused_(static_cast<size_t>(options_.writers), false),
      over_budget_since_(static_cast<size_t>(options_.writers)),
      inflight_(std::make_unique<std::atomic<int64_t>[]>(static_cast<size_t>(options_.writers))) {
  metrics_.topics = topics_;
  for (int w = 0; w < options_.writers; ++w) {
    queues_.push_back(std::make_unique<ChunkQueue>());
    inflight_[w] = 0;
  }
}

Pipeline::~Pipeline() {
  writers_stop_ = true;
  hard_stop_ = true;
  for (auto& t : writer_threads_) {
    if (t.joinable()) t.join();
  }
}

int Pipeline::writer_of(const Key& key) const {
  return static_cast<int>((static_cast<uint32_t>(key.second) + static_cast<uint32_t>(key.first)) %
                          static_cast<uint32_t>(options_.writers));
}

void Pipeline::fatal(int code, std::string message) {
  std::lock_guard lock(fatal_mutex_);
  if (fatal_code_ == 0) {
    fatal_code_ = code;
    fatal_message_ = std::move(message);
  }
  failed_ = true;
}

std::string Pipeline::fatal_message() const {
  std::lock_guard lock(fatal_mutex_);
  return fatal_message_;
}

std::optional<std::map<Pipeline::Key, int64_t>> Pipeline::try_load_stored_offsets(
    const std::vector<Key>& keys) {
  try {
    auto stored =
        load_offsets_within(control_, options_.group, topics_, keys, kControlTimeout, stop_);
    metrics_.pg_up = 1;
    control_answered(true);
    return stored;
  } catch (const PgError& e) {
    metrics_.pg_up = 0;
    control_.close();
    control_answered(false);
    if (e.configuration()) {
      fatal(2, std::string(e.what()) + ": " + configuration_hint(e));
    } else {
      spdlog::warn("loading stored offsets: {}; those partitions stay paused until it works",
                   e.what());
    }
    return std::nullopt;
  }
}

int64_t Pipeline::start_when_nothing_stored() const {
  // "earliest" is offset 0, not RD_KAFKA_OFFSET_BEGINNING: librdkafka 2.0 looks BEGINNING up
  // first and, when it does not know the partition's leader yet in that millisecond, tries again
  // only after a fixed 500 ms. Offset 0 is fetched at once. Where retention has deleted it, the
  // broker answers "out of range", auto.offset.reset (earliest) starts at the oldest message left,
  // and the late start is reported (take_late_starts).
  return options_.offset_reset == "latest" ? RD_KAFKA_OFFSET_END : 0;
}

void Pipeline::control_answered(bool ok) {
  if (ok) {
    control_backoff_ = std::chrono::milliseconds(100);
    control_retry_at_ = Clock::now();
    return;
  }
  connection_lost_ = true;
  control_retry_at_ = Clock::now() + control_backoff_;
  // Capped lower than the writers' backoff: after an outage the stored offsets must be checked
  // within seconds of the server answering (each try costs the loop at most kControlTimeout).
  control_backoff_ = std::min({control_backoff_ * 2, options_.max_backoff, kControlMaxBackoff});
}

void Pipeline::make_pending(const Key& key, Pending why) {
  epochs_.erase(key);  // queued chunks of the old epoch are dropped by the writers
  builder_.close(key.first, key.second);
  pending_[key] = why;
}

void Pipeline::on_assign(std::vector<TopicPartition>& partitions) {
  ++metrics_.rebalances;
  std::vector<Key> keys;
  for (const auto& tp : partitions) keys.emplace_back(tp.topic_index, tp.partition);
  // One attempt only: a rebalance callback runs inside poll(), and blocking there while
  // PostgreSQL is away would stop the poll loop (max.poll.interval.ms, SIGTERM, status).
  const auto stored = try_load_stored_offsets(keys);
  const int64_t reset = start_when_nothing_stored();
  std::lock_guard lock(epochs_mutex_);
  for (auto& tp : partitions) {
    const Key key{tp.topic_index, tp.partition};
    assigned_[key] = Assigned{};
    if (!stored) {
      // Nothing is built for it (its builder is closed) and apply_backpressure() pauses it;
      // resolve_pending() seeks it to the stored offset once PostgreSQL answers.
      tp.offset = RD_KAFKA_OFFSET_END;
      make_pending(key, Pending::kAssigned);
      spdlog::info("assigned {} [{}], starting when its stored offset can be read",
                   topics_[key.first], key.second);
      continue;
    }
    const auto it = stored->find(key);
    const int64_t from = it == stored->end() ? Chunk::kNoStoredOffset : it->second;
    tp.offset = it == stored->end() ? reset : from;
    const uint64_t epoch = next_epoch_++;
    epochs_[key] = epoch;
    builder_.open(key.first, key.second, from, epoch);
    if (from >= 0) {
      committed_[key] = from;
    } else {
      committed_.erase(key);
    }
    spdlog::info("assigned {} [{}], starting at {}", topics_[key.first], key.second,
                 from >= 0 ? std::to_string(from) : options_.offset_reset + " (nothing stored)");
  }
  metrics_.assigned_partitions = static_cast<int>(assigned_.size());
}

void Pipeline::resolve_pending() {
  if (pending_.empty() || Clock::now() < control_retry_at_) return;
  std::vector<Key> keys;
  for (const auto& [key, why] : pending_) keys.push_back(key);
  const auto stored = try_load_stored_offsets(keys);
  if (!stored) return;  // retried after the control connection's backoff
  const int64_t reset = start_when_nothing_stored();
  std::vector<TopicPartition> seeks;
  std::map<Key, Pending> resolving;
  {
    std::lock_guard lock(epochs_mutex_);
    resolving.swap(pending_);
    for (const auto& [key, why] : resolving) {
      const auto it = stored->find(key);
      const int64_t from = it == stored->end() ? Chunk::kNoStoredOffset : it->second;
      const uint64_t epoch = next_epoch_++;
      epochs_[key] = epoch;
      // After a refused start the seek below is the confirmation: what Kafka delivers first
      // from it is what it has.
      builder_.open(key.first, key.second, from, epoch, why == Pending::kGapAtStart);
      if (from >= 0) {
        committed_[key] = from;
      } else {
        committed_.erase(key);
      }
      seeks.push_back({key.first, key.second, from >= 0 ? from : reset});
      const std::string at =
          from >= 0 ? std::to_string(from) : options_.offset_reset + " (nothing stored)";
      switch (why) {
        case Pending::kFenced:
          spdlog::warn("{} [{}]: stored offset moved under us (another instance?); resuming at {}",
                       topics_[key.first], key.second, at);
          break;
        case Pending::kBehind:
          spdlog::warn(
              "{} [{}]: the database holds less than was committed (failover to a standby that "
              "was behind, or a restore); ingesting again from {}",
              topics_[key.first], key.second, at);
          break;
        case Pending::kGapAtStart:
          spdlog::info("{} [{}]: seeking to {} again to confirm the offsets Kafka skipped",
                       topics_[key.first], key.second, at);
          break;
        default:
          spdlog::info("{} [{}]: starting at {}", topics_[key.first], key.second, at);
      }
    }
  }
  // A partition whose seek did not happen would deliver from wherever librdkafka was: it stays
  // pending (nothing built for it) and is sought again after the backoff.
  const auto failed = consumer_->seek(seeks);
  if (failed.empty()) return;
  std::lock_guard lock(epochs_mutex_);
  for (const auto& tp : failed) {
    const Key key{tp.topic_index, tp.partition};
    if (!assigned_.contains(key)) continue;
    const Pending why = resolving[key];
    make_pending(key, why == Pending::kAssigned ? Pending::kSeekFailed : why);
  }
  control_retry_at_ = Clock::now() + control_backoff_;
  control_backoff_ = std::min(control_backoff_ * 2, options_.max_backoff);
}

void Pipeline::check_progress() {
  const auto now = Clock::now();
  const bool lost = connection_lost_.load();
  if (now < control_retry_at_ || (!lost && now < next_progress_check_)) return;
  std::vector<Key> keys;
  for (const auto& [key, state] : assigned_) {
    if (!pending_.contains(key)) keys.push_back(key);
  }
  if (keys.empty()) {
    next_progress_check_ = now + kProgressCheckInterval;
    return;
  }
  // What this instance believes committed, taken BEFORE the read: a commit that lands during
  // the read only makes the database ahead of it, never behind.
  commit_to_kafka();
  const std::map<Key, int64_t> believed = committed_;
  connection_lost_ = false;
  std::string identity;
  std::map<Key, int64_t> stored;
  try {
    identity = server_identity(control_, kControlTimeout, stop_);
    stored = load_offsets_within(control_, options_.group, topics_, keys, kControlTimeout, stop_);
    metrics_.pg_up = 1;
    control_answered(true);
  } catch (const PgError& e) {
    control_.close();
    control_answered(false);  // and connection_lost_ again: check as soon as it answers
    if (e.configuration()) {
      fatal(2, std::string(e.what()) + ": " + configuration_hint(e));
    } else {
      spdlog::debug("checking the stored offsets: {}", e.what());
    }
    return;
  }
  next_progress_check_ = Clock::now() + kProgressCheckInterval;
  if (!identity.empty() && identity != server_identity_) {
    if (!server_identity_.empty()) {
      spdlog::warn("PostgreSQL is another server now ({}; was {}): checked the stored offsets",
                   identity, server_identity_);
    }
    server_identity_ = identity;
  }
  std::lock_guard lock(epochs_mutex_);
  for (const Key& key : keys) {
    const auto b = believed.find(key);
    if (b == believed.end() || pending_.contains(key)) continue;
    const auto st = stored.find(key);
    if (st != stored.end() && st->second >= b->second) continue;
    spdlog::warn("{} [{}]: committed up to {}, but the database holds {}", topics_[key.first],
                 key.second, b->second,
                 st == stored.end() ? std::string("no offset") : std::to_string(st->second));
    make_pending(key, Pending::kBehind);
  }
}

void Pipeline::handle_refused_starts() {
  const auto refused = builder_.take_refused_starts();
  if (refused.empty()) return;
  std::lock_guard lock(epochs_mutex_);
  for (const auto& r : refused) {
    const Key key{r.topic_index, r.partition};
    if (!assigned_.contains(key) || pending_.contains(key)) continue;
    spdlog::warn(
        "{} [{}]: expected offset {} first but Kafka delivered {}: not building over offsets "
        "that were not read; seeking to {} again",
        topics_[key.first], key.second, r.expected, r.offset, r.expected);
    make_pending(key, Pending::kGapAtStart);
  }
}

void Pipeline::on_revoke(const std::vector<TopicPartition>& partitions) {
  ++metrics_.rebalances;
  std::lock_guard lock(epochs_mutex_);
  for (const auto& tp : partitions) {
    const Key key{tp.topic_index, tp.partition};
    epochs_.erase(key);  // queued chunks of this partition are now stale
    builder_.close(key.first, key.second);
    assigned_.erase(key);
    pending_.erase(key);
    committed_.erase(key);
    std::lock_guard lag_lock(metrics_.lag_mutex);
    metrics_.consumer_lag.erase(key);
    spdlog::info("revoked {} [{}]", topics_[key.first], key.second);
  }
  metrics_.assigned_partitions = static_cast<int>(assigned_.size());
}

bool Pipeline::is_current(const Chunk& chunk) {
  std::lock_guard lock(epochs_mutex_);
  const auto it = epochs_.find({chunk.topic_index, chunk.partition});
  return it != epochs_.end() && it->second == chunk.epoch;
}

void Pipeline::dispatch(ChunkPtr chunk) {
  const int w = writer_of({chunk->topic_index, chunk->partition});
  const auto bytes = static_cast<int64_t>(chunk->bytes());
  inflight_[w] += bytes;
  metrics_.inflight_bytes += bytes;
  metrics_.messages_consumed[chunk->topic_index] += chunk->messages;
  queues_[w]->push(std::move(chunk));
}

void Pipeline::release(const Chunk& chunk, int writer) {
  const auto bytes = static_cast<int64_t>(chunk.bytes());
  inflight_[writer] -= bytes;
  metrics_.inflight_bytes -= bytes;
}

void Pipeline::apply_backpressure() {
  const auto budget = static_cast<int64_t>(options_.inflight_budget_bytes) / options_.writers;
  const auto now = Clock::now();
  int64_t active_used = 0, active_budget = 0;
  for (int w = 0; w < options_.writers; ++w) {
    const int64_t used = inflight_[w].load();
    if (used > budget) {
      if (!over_budget_since_[w]) over_budget_since_[w] = now;
      // Over its share for long: a stalled writer (its PostgreSQL connection hangs, a lock):
      // stop fetching for it, so that the others keep the budget. A writer over its share for
      // a moment (one large batch) is not paused: pausing makes librdkafka drop and fetch again.
      if (!writer_paused_[w] && now - *over_budget_since_[w] >= options_.pause_after) {
        writer_paused_[w] = true;
        spdlog::debug("writer {} over budget ({} bytes): pausing its partitions", w, used);
      }
    } else if (used < budget / 2) {
      writer_paused_[w] = false;
      over_budget_since_[w].reset();
    } else if (!writer_paused_[w]) {
      over_budget_since_[w].reset();
    }
    if (!writer_paused_[w]) {
      active_used += used;
      active_budget += budget;
    }
  }
  // The writers still fetching are over their budget together: slow the consumer down rather
  // than pause (one writer briefly over while another has room is not a reason to starve both).
  throttled_ = active_budget > 0 && active_used > active_budget;
  std::vector<TopicPartition> pause, resume;
  int paused = 0;
  for (auto& [key, state] : assigned_) {
    const bool want = writer_paused_[writer_of(key)] || pending_.contains(key);
    if (want != state.paused) {
      (want ? pause : resume).push_back({key.first, key.second});
      state.paused = want;
    }
    paused += state.paused;
  }
  consumer_->pause(pause);
  consumer_->resume(resume);
  metrics_.paused_partitions = paused;
}

void Pipeline::handle_fences() {
  std::vector<Key> requests;
  {
    std::lock_guard lock(fence_mutex_);
    requests.swap(fence_requests_);
  }
  std::sort(requests.begin(), requests.end());
  requests.erase(std::unique(requests.begin(), requests.end()), requests.end());
  std::erase_if(requests, [&](const Key& k) { return !assigned_.contains(k); });
  if (requests.empty()) return;
  // Queued chunks of the old epoch are dropped by the writers and nothing is built until the
  // stored offset is read again (resolve_pending, right after this, or later with backoff).
  std::lock_guard lock(epochs_mutex_);
  for (const Key& key : requests) make_pending(key, Pending::kFenced);
}

void Pipeline::commit_to_kafka() {
  std::map<Key, int64_t> pending;
  {
    std::lock_guard lock(commit_mutex_);
    pending.swap(to_commit_);
  }
  std::vector<TopicPartition> list;
  for (const auto& [key, next] : pending) {
    if (!assigned_.contains(key)) continue;
    committed_[key] = next;
    list.push_back({key.first, key.second, next});
  }
  consumer_->commit_async(list);
}

void Pipeline::update_lag() {
  // The log end: as last fetched, or, for partitions not fetched yet (just assigned, pending),
  // asked of the brokers (bounded), so that every owned partition has a sample.
  std::map<Key, int64_t> high;
  std::vector<TopicPartition> unknown;
  for (const auto& [key, state] : assigned_) {
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
  // committed_ is what the database holds: set from the stored offsets when a partition starts,
  // advanced by this instance's commits, and corrected by check_progress() when the database
  // turns out to hold less (failover).
  std::lock_guard lock(metrics_.lag_mutex);
  for (const auto& [key, h] : high) {
    const auto it = committed_.find(key);
    const int64_t done = it == committed_.end() ? 0 : it->second;
    metrics_.consumer_lag[key] = std::max<int64_t>(0, h - done);
  }
}

void Pipeline::log_status(Clock::time_point& last, uint64_t& last_messages) {
  const auto now = Clock::now();
  if (now - last < options_.status_interval) return;
  const double seconds = std::chrono::duration<double>(now - last).count();
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
  spdlog::info(
      "status: {:.0f} msg/s, consumed {}, rows audit_logs {} invocations {}, rejects {}, "
      "lag {}, inflight {:.1f} MiB, partitions {} ({} paused), pg {}; consumer waited {:.0f}% "
      "for Kafka, {:.0f}% for writers",
      static_cast<double>(messages - last_messages) / seconds, messages,
      metrics_.rows_written[0].load(), metrics_.rows_written[1].load(), rejects, lag,
      static_cast<double>(metrics_.inflight_bytes.load()) / (1 << 20), assigned_.size(),
      metrics_.paused_partitions.load(), metrics_.pg_up ? "up" : "DOWN", share(waited_for_kafka_),
      share(throttled_for_));
  waited_for_kafka_ = throttled_for_ = Clock::duration::zero();
  last = now;
  last_messages = messages;
}

int Pipeline::run(const std::atomic<bool>& stop) {
  stop_ = &stop;
  ConsumerOptions copts;
  copts.brokers = options_.brokers;
  copts.group = options_.group;
  copts.topics = topics_;
  copts.properties = options_.kafka_properties;
  consumer_ = std::make_unique<KafkaConsumer>(copts, this);
  for (int w = 0; w < options_.writers; ++w) {
    writer_threads_.emplace_back([this, w] { writer_loop(w); });
  }
  spdlog::info("consuming {} and {} as group {} with {} writers", topics_[0], topics_[1],
               options_.group, options_.writers);

  std::vector<ChunkPtr> ready;
  auto last_status = Clock::now();
  auto last_commit = Clock::now();
  uint64_t last_messages = 0;
  constexpr int kMaxPerCycle = 2000;
  constexpr auto kFlushInterval = std::chrono::milliseconds(20);
  auto last_flush = Clock::now();
  while (!stop.load() && !failed_.load()) {
    handle_fences();
    handle_refused_starts();
    check_progress();
    resolve_pending();
    apply_backpressure();
    int64_t now_us = 0;  // when the cycle's messages came out of the consumer
    // Over budget: take a little at a time (rebalances are still served) and keep chunks open.
    const int max_per_cycle = throttled_ ? 64 : kMaxPerCycle;
    if (throttled_) {
      const auto t0 = Clock::now();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      const auto held = Clock::now() - t0;
      throttled_for_ += held;
      metrics_.throttled_micros +=
          std::chrono::duration_cast<std::chrono::microseconds>(held).count();
    }
    bool drained = false;  // the poll found nothing more waiting
    for (int n = 0; n < max_per_cycle; ++n) {
      // Only the first poll of a cycle can wait; timing the others would cost two clock reads
      // per message.
      const auto t0 = n == 0 ? Clock::now() : Clock::time_point{};
      KafkaMessage m = consumer_->poll(n == 0 ? (throttled_ ? 0 : 100) : 0);
      if (n == 0) {
        // After the wait: a message that arrived 90 ms into it was received then, not before.
        waited_for_kafka_ += Clock::now() - t0;
        now_us = now_unix_micros();
      }
      if (!m) {
        drained = true;
        break;
      }
      if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        const bool fatal_err = m->err == RD_KAFKA_RESP_ERR__FATAL;
        spdlog::log(fatal_err ? spdlog::level::err : spdlog::level::warn, "Kafka: {}",
                    rd_kafka_message_errstr(m.get()));
        if (fatal_err) fatal(1, std::string("Kafka: ") + rd_kafka_message_errstr(m.get()));
        continue;
      }
      const int t = consumer_->topic_index(m.get());
      if (t < 0) {
        // Never expected: skipping it would lose the message, so stop before anything after it
        // is stored; a restart resumes at the stored offsets.
        fatal(1, fmt::format("Kafka: a message from unsubscribed topic {} [{}] at offset {}",
                             m->rkt ? rd_kafka_topic_name(m->rkt) : "(none)", m->partition,
                             m->offset));
        break;
      }
      const std::string_view payload(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
      rd_kafka_timestamp_type_t ts_type;
      const int64_t ts = rd_kafka_message_timestamp(m.get(), &ts_type);
      if (ChunkPtr full = builder_.add(t, m->partition, m->offset, ts, payload, now_us)) {
        dispatch(std::move(full));
      }
    }
    consumer_->set_backlog(!drained);
    // Hand over partly filled chunks when nothing more is waiting (a trickle must not wait for
    // a chunk to fill) or every kFlushInterval under a backlog: flushing after every cycle of
    // 2 000 messages cut chunks at ~60% full, and the budget counts their reserved capacity.
    if (!throttled_ && (drained || Clock::now() - last_flush >= kFlushInterval)) {
      builder_.flush(ready);
      last_flush = Clock::now();
    }
    for (auto& c : ready) dispatch(std::move(c));
    ready.clear();
    metrics_.duplicates_skipped = builder_.duplicates_skipped();
    for (const auto& first : builder_.take_late_starts()) {
      // With "latest" a first message past 0 is the point: only "earliest" promised the start.
      if (options_.offset_reset != "earliest") continue;
      spdlog::info(
          "{} [{}]: nothing was stored, and the first message Kafka delivered is at offset {}: {} "
          "gone (retention or compaction) or never delivered",
          topics_[first.topic_index], first.partition, first.offset,
          first.offset == 1 ? std::string("offset 0 is")
                            : fmt::format("offsets 0 to {} are", first.offset - 1));
    }
    if (builder_.offsets_skipped_by_kafka() != metrics_.offsets_skipped_by_kafka) {
      spdlog::warn(
          "Kafka skipped {} offsets in total that were never delivered (deleted by retention "
          "before they were read, compacted, or transaction markers)",
          builder_.offsets_skipped_by_kafka());
      metrics_.offsets_skipped_by_kafka = builder_.offsets_skipped_by_kafka();
    }
    if (Clock::now() - last_commit > std::chrono::seconds(1)) {
      commit_to_kafka();
      update_lag();
      last_commit = Clock::now();
    }
    log_status(last_status, last_messages);
  }

  // Graceful stop: nothing new is built; wait for the writers to commit what is in flight,
  // including chunks still open.
  spdlog::info("stopping: committing what is in flight");
  const auto stopping_since = Clock::now();
  if (!failed_.load()) {
    builder_.flush(ready);
    for (auto& c : ready) dispatch(std::move(c));
    ready.clear();
  }
  const auto deadline = Clock::now() + options_.drain_timeout;
  auto inflight = [&] {
    int64_t sum = 0;
    for (int w = 0; w < options_.writers; ++w) sum += inflight_[w].load();
    return sum;
  };
  // Waiting for writers that cannot commit (PostgreSQL down or hung for the last 2 s) only
  // delays the exit past its 10 s: what they hold is consumed again on restart.
  std::optional<Clock::time_point> pg_down_since;
  while (inflight() > 0 && Clock::now() < deadline && !failed_.load()) {
    if (metrics_.pg_up.load() != 0) {
      pg_down_since.reset();
    } else if (!pg_down_since) {
      pg_down_since = Clock::now();
    } else if (Clock::now() - *pg_down_since > std::chrono::seconds(2)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (inflight() > 0) {
    spdlog::warn("stopping with {} bytes uncommitted; they will be consumed again on restart",
                 inflight());
  }
  hard_stop_ = true;
  writers_stop_ = true;
  // A writer blocked inside libpq (e.g. PgBouncer holding a query while PostgreSQL is down)
  // cannot see hard_stop_; do not let it hold the shutdown past its deadline. Its transaction
  // never commits (or is fenced if it does): the process exits without joining it.
  const auto join_deadline = Clock::now() + std::chrono::seconds(1);
  while (writers_done_.load() < options_.writers && Clock::now() < join_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (writers_done_.load() < options_.writers) {
    spdlog::warn(
        "{} writer(s) still blocked in PostgreSQL; exiting without them (their open "
        "transactions roll back)",
        options_.writers - writers_done_.load());
    for (auto& t : writer_threads_) t.detach();
    abandoned_writers_ = true;
  } else {
    for (auto& t : writer_threads_) t.join();
  }
  writer_threads_.clear();
  commit_to_kafka();
  // Leaving the group gets what is left of the 10 s a stop may take (at least 1 s, at most
  // its default): a broker that does not answer must not hold the exit.
  const auto close_budget =
      std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(stopping_since +
                                                                       kStopBudget - Clock::now()),
                 std::chrono::milliseconds(1000), KafkaConsumer::kCloseTimeout);
  consumer_->close(close_budget);
  consumer_.reset();
  std::lock_guard lock(fatal_mutex_);
  if (fatal_code_ != 0) spdlog::error("{}", fatal_message_);
  return fatal_code_;
}

void Pipeline::writer_loop(int w) {
  struct Done {
    std::atomic<int>& n;
    ~Done() { ++n; }
  } done{writers_done_};
  KafkaPayloadSource payloads(options_.brokers, options_.group, topics_, options_.kafka_properties);
  BatchWriter bw(options_.pg_url, options_.group, topics_, &payloads);
  ChunkQueue& queue = *queues_[w];
  const size_t half_share = options_.inflight_budget_bytes / options_.writers / 2;
  std::vector<ChunkPtr> batch;
  while (!failed_.load()) {
    ChunkPtr first = queue.pop(std::chrono::milliseconds(100));
    if (!first) {
      if (writers_stop_.load()) break;
      continue;
    }
    // Everything queued goes into this batch, up to the limits: while a transaction commits the
    // next batch accumulates, so batches grow with the load (large under a backlog, a few rows
    // and no waiting at a trickle). The optional linger waits for more before a small batch.
    // A batch also takes at most half of the writer's share of the in-flight budget: the other
    // half is where the consumer builds the next batch while this one is written. (Taking the
    // whole share left the consumer throttled and PostgreSQL idle after every COMMIT.)
    size_t rows = first->rows.size() + first->reject_count;
    size_t bytes = first->copy_bytes();
    size_t held = first->bytes();
    batch.push_back(std::move(first));
    const auto deadline = Clock::now() + options_.linger;
    while (rows < options_.batch_rows && bytes < options_.batch_bytes && held < half_share) {
      ChunkPtr next = queue.pop(std::chrono::microseconds(0));
      if (!next) {
        const auto left = deadline - Clock::now();
        if (left <= Clock::duration::zero()) break;
        next = queue.pop(std::chrono::duration_cast<std::chrono::microseconds>(left));
        if (!next) break;
      }
      rows += next->rows.size() + next->reject_count;
      bytes += next->copy_bytes();
      held += next->bytes();
      batch.push_back(std::move(next));
    }
    write_batch(w, bw, batch);
    for (auto& c : batch) release(*c, w);
    batch.clear();
  }
  // Whatever is left (stopping or failed) is not committed; release its budget.
  while (ChunkPtr c = queue.pop(std::chrono::microseconds(0))) release(*c, w);
}

void Pipeline::write_batch(int w, BatchWriter& bw, std::vector<ChunkPtr>& batch) {
  auto backoff = std::chrono::milliseconds(100);
  bool reconnecting = false;
  bool payloads_missing = false;  // warned once; retried with backoff until Kafka answers
  for (;;) {
    std::vector<Chunk*> live;
    for (auto& c : batch) {
      if (is_current(*c)) live.push_back(c.get());
    }
    live.resize(keep_chained(live));
    if (live.empty()) return;
    const auto started = Clock::now();
    try {
      BatchResult r = bw.write(live);
      const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      if (reconnecting) {
        ++metrics_.reconnects;
        spdlog::info("writer {}: PostgreSQL is back", w);
      }
      if (payloads_missing) spdlog::info("writer {}: refused rows' payloads read from Kafka", w);
      if (r.recovered_lost_commit) {
        spdlog::info(
            "writer {}: the COMMIT whose reply was lost had landed (its commit token is stored); "
            "its rows are counted once, nothing was written twice",
            w);
      }
      metrics_.pg_up = 1;
      metrics_.last_commit_unix_ms = now_unix_ms();
      metrics_.batch_commit_seconds.observe(seconds);
      ++metrics_.batches;
      metrics_.bisections += r.bisections;
      metrics_.partitions_ensured += r.partitions_ensured;
      uint64_t rows = 0;
      for (int t = 0; t < kEventTableCount; ++t) {
        metrics_.rows_written[t] += r.rows[t];
        rows += r.rows[t];
      }
      for (int i = 0; i < kRejectReasonCount; ++i) metrics_.rejects[i] += r.rejects[i];
      metrics_.batch_rows.observe(static_cast<double>(rows));
      // End-to-end latency of every stored row (Kafka message timestamp → now).
      const int64_t now_ms = now_unix_ms();
      Histogram::Tally end_to_end(metrics_.end_to_end_latency_seconds);
      for (const Chunk* c : live) {
        if (!r.fenced.empty() && std::find(r.fenced.begin(), r.fenced.end(),
                                           Key{c->topic_index, c->partition}) != r.fenced.end()) {
          continue;
        }
        metrics_.batch_bytes += c->tuples.size();
        metrics_.ingest_latency_seconds.observe(
            static_cast<double>(now_ms * 1000 - c->received_unix_micros) / 1e6, c->rows.size());
        for (const RowRef& row : c->rows) {
          if (row.kafka_timestamp_ms < 0) continue;
          end_to_end.observe(static_cast<double>(now_ms - row.kafka_timestamp_ms) / 1000.0);
        }
      }
      metrics_.end_to_end_latency_seconds.add(end_to_end);
      if (!r.fenced.empty()) {
        metrics_.fenced += r.fenced.size();
        for (const auto& [t, p] : r.fenced) {
          spdlog::warn(
              "writer {}: {} [{}] fenced: its stored offset is not where this batch starts "
              "(another instance or the partition's previous owner stored past it, or the "
              "database is behind after a failover); this batch's rows of it were not stored; "
              "reloading the stored offset",
              w, topics_[t], p);
        }
        std::lock_guard lock(fence_mutex_);
        fence_requests_.insert(fence_requests_.end(), r.fenced.begin(), r.fenced.end());
      }
      std::lock_guard lock(commit_mutex_);
      for (const auto& o : r.offsets) to_commit_[{o.topic_index, o.partition}] = o.next_offset;
      return;
    } catch (const PgError& e) {
      metrics_.pg_up = 0;
      if (e.configuration()) {
        fatal(2, std::string(e.what()) + ": " + configuration_hint(e));
        return;
      }
      if (!e.transient()) {
        fatal(1, std::string("writer ") + std::to_string(w) + ": " + e.what());
        return;
      }
      connection_lost_ = true;  // the next connection may reach another server: check progress
      ++metrics_.retries;
      if (!reconnecting) spdlog::warn("writer {}: {}; retrying", w, e.what());
      reconnecting = true;
      bw.connection().close();
    } catch (const PayloadUnavailable& e) {
      // PostgreSQL refused rows and Kafka could not give their payloads back: nothing was
      // committed; try the batch again (the rows are not dropped without their payloads).
      ++metrics_.retries;
      if (!payloads_missing) spdlog::warn("writer {}: {}; retrying", w, e.what());
      payloads_missing = true;
    } catch (const std::exception& e) {
      fatal(1, std::string("writer ") + std::to_string(w) + ": " + e.what());
      return;
    }
    // Back off, but give up at once when a hard stop is requested.
    const auto until = Clock::now() + backoff;
    while (Clock::now() < until) {
      if (hard_stop_.load() || failed_.load()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace sentinel
