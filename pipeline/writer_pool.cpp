#include "pipeline/writer_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "ingest/kafka_payload_source.h"
#include "pipeline/batch_metrics.h"
#include "rows/month.h"
#include "sinks/batch_writer.h"

namespace sentinel {

using Clock = std::chrono::steady_clock;

WriterPool::WriterPool(const PipelineOptions& options, const std::vector<std::string>& topics,
                       Metrics& metrics, Parts parts)
    : options_(options), topics_(topics), metrics_(metrics), parts_(parts) {
  for (int w = 0; w < options_.writers; ++w) queues_.push_back(std::make_unique<ChunkQueue>());
}

WriterPool::~WriterPool() {
  stopping_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void WriterPool::start() {
  for (int w = 0; w < options_.writers; ++w) threads_.emplace_back([this, w] { writer_loop(w); });
}

int WriterPool::writer_of(const PartitionKey& key) const {
  return static_cast<int>((static_cast<uint32_t>(key.second) + static_cast<uint32_t>(key.first)) %
                          static_cast<uint32_t>(options_.writers));
}

void WriterPool::submit(ChunkPtr chunk) {
  const int w = writer_of({chunk->topic_index, chunk->partition});
  const auto bytes = static_cast<int64_t>(chunk->bytes());
  parts_.budget.charge(w, bytes);
  metrics_.inflight_bytes += bytes;
  metrics_.messages_consumed[chunk->topic_index] += chunk->messages;
  queues_[w]->push(std::move(chunk));
}

void WriterPool::release(const Chunk& chunk, int w) {
  const auto bytes = static_cast<int64_t>(chunk.bytes());
  parts_.budget.release(w, bytes);
  metrics_.inflight_bytes -= bytes;
}

bool WriterPool::stop(std::chrono::milliseconds join_wait) {
  stopping_ = true;
  // A writer blocked inside libpq (e.g. PgBouncer holding a query while PostgreSQL is down)
  // cannot see stopping_; do not let it hold the shutdown past its deadline. Its transaction
  // never commits (or is fenced if it does): the process exits without joining it.
  const auto deadline = Clock::now() + join_wait;
  while (done_.load() < options_.writers && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const bool all = done_.load() >= options_.writers;
  if (!all) {
    spdlog::warn(
        "{} writer(s) still blocked in PostgreSQL; exiting without them (their open "
        "transactions roll back)",
        options_.writers - done_.load());
  }
  for (auto& t : threads_) all ? t.join() : t.detach();
  threads_.clear();
  return all;
}

void WriterPool::writer_loop(int w) {
  struct Done {
    std::atomic<int>& n;
    ~Done() { ++n; }
  } done{done_};
  KafkaPayloadSource payloads(options_.brokers, options_.group, topics_, options_.kafka_properties);
  BatchWriter bw(options_.pg_url, options_.group, topics_, options_.catalog, &payloads);
  ChunkQueue& queue = *queues_[w];
  std::vector<ChunkPtr> batch;
  LingerPolicy linger(options_.latency_budget, options_.linger);
  while (!parts_.failure.failed()) {
    ChunkPtr first = queue.pop(std::chrono::milliseconds(100));
    if (!first) {
      if (stopping_.load()) break;
      continue;
    }
    collect_batch(queue, std::move(first), batch, linger);
    const auto started = Clock::now();
    write_batch(w, bw, batch);
    linger.commit_took(Clock::now() - started);
    for (auto& c : batch) release(*c, w);
    batch.clear();
  }
  // Whatever is left (stopping or failed) is not committed; release its budget.
  while (ChunkPtr c = queue.pop(std::chrono::microseconds(0))) release(*c, w);
}

void WriterPool::collect_batch(ChunkQueue& queue, ChunkPtr first, std::vector<ChunkPtr>& batch,
                               const LingerPolicy& linger) const {
  // Everything queued goes into this batch, up to the limits: while a transaction commits the
  // next batch accumulates, so batches grow with the load. Below the limits the batch waits for
  // more rows until its oldest row has used its share of the latency budget (LingerPolicy).
  // A batch also takes at most half of the writer's share of the in-flight budget: the other
  // half is where the consumer builds the next batch while this one is written. (Taking the
  // whole share left the consumer throttled and PostgreSQL idle after every COMMIT.)
  const size_t half_share = parts_.budget.batch_share();
  size_t rows = first->rows.size() + first->reject_count;
  size_t bytes = first->copy_bytes();
  size_t held = first->bytes();
  const auto now = Clock::now();
  const auto oldest_age = std::chrono::microseconds(
      first->received_unix_micros > 0 ? now_unix_micros() - first->received_unix_micros : 0);
  const auto deadline = linger.deadline(now, oldest_age);
  batch.push_back(std::move(first));
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
}

void WriterPool::write_batch(int w, BatchWriter& bw, std::vector<ChunkPtr>& batch) {
  Retry retry;
  for (;;) {
    // Chunks whose epoch ended (fenced, revoked) since they were built are not written.
    std::vector<Chunk*> live;
    for (auto& c : batch) {
      if (parts_.offsets.is_current(*c)) live.push_back(c.get());
    }
    live.resize(keep_chained(live));
    if (live.empty()) return;
    if (try_write(w, bw, live, retry) == Outcome::kDone || !back_off(retry)) return;
  }
}

WriterPool::Outcome WriterPool::try_write(int w, BatchWriter& bw, std::vector<Chunk*>& live,
                                          Retry& retry) {
  const auto started = Clock::now();
  try {
    const BatchResult r = bw.write(live);
    committed(w, r, live, std::chrono::duration<double>(Clock::now() - started).count(), retry);
    return Outcome::kDone;
  } catch (const PgError& e) {
    metrics_.pg_up = 0;
    if (e.configuration()) {
      parts_.failure.configuration(e);
      return Outcome::kDone;
    }
    if (!e.transient()) {
      parts_.failure.fatal(1, std::string("writer ") + std::to_string(w) + ": " + e.what());
      return Outcome::kDone;
    }
    parts_.connection_lost = true;  // the next connection may reach another server: check
    ++metrics_.retries;
    if (!retry.reconnecting) spdlog::warn("writer {}: {}; retrying", w, e.what());
    retry.reconnecting = true;
    bw.connection().close();
  } catch (const PayloadUnavailable& e) {
    // PostgreSQL refused rows and Kafka could not give their payloads back: nothing was
    // committed; try the batch again (the rows are not dropped without their payloads).
    ++metrics_.retries;
    if (!retry.payloads_missing) spdlog::warn("writer {}: {}; retrying", w, e.what());
    retry.payloads_missing = true;
  } catch (const std::exception& e) {
    parts_.failure.fatal(1, std::string("writer ") + std::to_string(w) + ": " + e.what());
    return Outcome::kDone;
  }
  return Outcome::kRetry;
}

void WriterPool::committed(int w, const BatchResult& r, const std::vector<Chunk*>& live,
                           double seconds, const Retry& retry) {
  if (retry.reconnecting) {
    ++metrics_.reconnects;
    spdlog::info("writer {}: PostgreSQL is back", w);
  }
  if (retry.payloads_missing) spdlog::info("writer {}: refused rows' payloads read from Kafka", w);
  if (r.recovered_lost_commit) {
    spdlog::info(
        "writer {}: the COMMIT whose reply was lost had landed (its commit token is stored); "
        "its rows are counted once, nothing was written twice",
        w);
  }
  record_batch(metrics_, r, live, seconds);
  for (const auto& [t, p] : r.fenced) {
    spdlog::warn(
        "writer {}: {} [{}] fenced: its stored offset is not where this batch starts "
        "(another instance or the partition's previous owner stored past it, or the "
        "database is behind after a failover); this batch's rows of it were not stored; "
        "reloading the stored offset",
        w, topics_[t], p);
  }
  if (!r.fenced.empty()) parts_.offsets.request_fence(r.fenced);
  // Each offset under the epoch of the chunks it was written from (one epoch per partition:
  // the chunks were all current when the batch was formed).
  std::vector<CommittedOffset> offsets;
  offsets.reserve(r.offsets.size());
  for (const auto& o : r.offsets) {
    const PartitionKey key{o.topic_index, o.partition};
    const auto c = std::find_if(live.begin(), live.end(), [&](const Chunk* x) {
      return x->topic_index == key.first && x->partition == key.second;
    });
    offsets.push_back({key, c != live.end() ? (*c)->epoch : 0, o.next_offset});
  }
  parts_.offsets.batch_committed(offsets);
}

bool WriterPool::back_off(Retry& retry) const {
  // Back off, but give up at once when a hard stop is requested.
  const auto until = Clock::now() + retry.backoff;
  while (Clock::now() < until) {
    if (stopping_.load() || parts_.failure.failed()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  retry.backoff = std::min(retry.backoff * 2, options_.max_backoff);
  return true;
}

}  // namespace sentinel
