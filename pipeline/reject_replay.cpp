#include "pipeline/reject_replay.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <limits>
#include <thread>
#include <tuple>

#include "ingest/chunk_builder.h"
#include "rows/month.h"
#include "sinks/batch_writer.h"

namespace sentinel {

ReplayCounts& ReplayCounts::operator+=(const ReplayCounts& o) {
  rows += o.rows;
  invalid += o.invalid;
  duplicate += o.duplicate;
  no_payload += o.no_payload;
  unknown_topic += o.unknown_topic;
  return *this;
}

ReplayCounts ReplayReport::totals() const {
  ReplayCounts t;
  for (const auto& [reason, counts] : by_reason) t += counts;
  return t;
}

namespace {

/// Names a run of `rejects replay` in ingest_rejects.replayed_by: host, process, start time.
std::string run_name() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}:{}", host.data(), ::getpid(),
                     std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());
}

/// One page of rejects, parsed again: the chunks of the valid ones, and every reject's outcome.
struct Page {
  std::vector<StoredReject> rejects;
  std::vector<ChunkPtr> chunks;
  /// Outcomes of the rejects parsed again or found duplicate.
  std::vector<ReplayOutcome> outcomes;
  /// The outcome that became each message's row, by (topic index, partition, offset).
  std::map<std::tuple<int, int32_t, int64_t>, size_t> fed;
  std::vector<std::string> reasons;  ///< each outcome's reject's stored reason
  std::vector<int> types;            ///< each outcome's event type (-1: not parsed)
};

/// Records a page's outcomes in the batch's transaction, with the rows PostgreSQL refused now
/// found invalid (db_rejected); fences the whole page when another replay recorded some first.
class PageLedger final : public BatchLedger {
 public:
  explicit PageLedger(std::string run) : run_(std::move(run)) {}

  void set_page(const Page* page) {
    page_ = page;
    outcomes_.clear();
    fenced_ = false;
  }

  std::vector<std::pair<int, int32_t>> record(PgConnection& conn, std::span<Chunk* const> chunks,
                                              std::span<const RefusedRow> refused) override {
    outcomes_ = page_->outcomes;
    fenced_ = false;
    for (const RefusedRow& r : refused) {
      const Chunk* c = chunks[r.pos.chunk];
      const auto it =
          page_->fed.find({c->topic_index, c->partition, c->rows[r.pos.row].kafka_offset});
      if (it == page_->fed.end()) continue;
      ReplayOutcome& o = outcomes_[it->second];
      o.state = ReplayOutcome::State::kInvalid;
      o.reason = std::string(to_string(RejectReason::kDbRejected));
      o.detail = r.message;
    }
    if (reject_store::record(conn, outcomes_, run_) == outcomes_.size()) return {};
    fenced_ = true;
    std::vector<std::pair<int, int32_t>> all;
    for (const Chunk* c : chunks) all.emplace_back(c->topic_index, c->partition);
    return all;
  }

  /// The outcomes the last record() stored (with the refused rows).
  const std::vector<ReplayOutcome>& outcomes() const { return outcomes_; }
  /// This run's name, recorded in replayed_by.
  const std::string& run() const { return run_; }
  bool fenced() const { return fenced_; }

 private:
  std::string run_;
  const Page* page_ = nullptr;
  std::vector<ReplayOutcome> outcomes_;
  bool fenced_ = false;
};

class Replayer {
 public:
  explicit Replayer(const ReplayOptions& o)
      : options_(o),
        ledger_(run_name()),
        writer_(o.pg_url, "", o.topics, o.catalog, nullptr, &ledger_) {
    for (size_t t = 0; t < o.topics.size(); ++t) {
      topic_specs_.push_back({o.topics[t], static_cast<int>(t)});
      topic_index_[o.topics[t]] = static_cast<int>(t);
    }
  }

  ReplayReport run() {
    PgConnection& conn = writer_.connection();
    conn.connect();
    report_.pending_at_start = reject_store::count_pending(conn, options_.filter);
    int64_t after_id = std::numeric_limits<int64_t>::min();
    while (options_.stop == nullptr || !options_.stop->load()) {
      Page page;
      page.rejects = with_retries(conn, [&] {
        return reject_store::read_pending(conn, options_.filter, after_id, options_.page_rejects,
                                          options_.page_bytes);
      });
      if (page.rejects.empty()) return report_;
      const std::vector<std::optional<int64_t>> elsewhere =
          with_retries(conn, [&] { return reject_store::replayed_elsewhere(conn, page.rejects); });
      parse(page, elsewhere);
      if (options_.dry_run) {
        count(page, page.outcomes);
      } else if (!write(page)) {
        std::vector<int64_t> ids;
        for (const StoredReject& r : page.rejects) ids.push_back(r.id);
        if (with_retries(conn, [&] {
              return reject_store::count_recorded_by(conn, ids, ledger_.run());
            }) == 0) {
          ++report_.retried_pages;
          continue;  // read the same ids again: the ones another replay recorded are gone
        }
        // Our own transaction committed, its answer lost: the page is done, as recorded.
        count(page, ledger_.outcomes());
      }
      after_id = page.rejects.back().id;
      ++report_.pages;
      if (options_.on_page) options_.on_page(report_);
    }
    report_.stopped = true;
    return report_;
  }

 private:
  /// Runs `f`, reconnecting and trying again while PostgreSQL fails transiently (up to ~1 min).
  template <typename F>
  auto with_retries(PgConnection& conn, F&& f) -> decltype(f()) {
    auto delay = std::chrono::milliseconds(200);
    for (int attempt = 1;; ++attempt) {
      try {
        if (!conn.connected()) conn.connect();
        return f();
      } catch (const PgError& e) {
        if (e.category() != PgErrorCategory::kTransient || attempt >= 12) throw;
        spdlog::warn("rejects replay: {} (attempt {}, again in {} ms)", e.what(), attempt,
                     delay.count());
        conn.close();
        std::this_thread::sleep_for(delay);
        delay = std::min(delay * 2, std::chrono::milliseconds(5000));
      }
    }
  }

  void parse(Page& page, const std::vector<std::optional<int64_t>>& elsewhere) {
    // The rejects of each Kafka message in the page, in id order: those with a payload, of a
    // topic a type reads (the others are counted by count()). A message replayed under another
    // reject already makes its rejects here duplicates.
    using Message = std::tuple<int, int32_t, int64_t>;
    std::map<Message, std::deque<size_t>> candidates;
    for (size_t i = 0; i < page.rejects.size(); ++i) {
      const StoredReject& r = page.rejects[i];
      const auto topic = topic_index_.find(r.topic);
      if (!r.payload || topic == topic_index_.end()) continue;
      if (elsewhere[i]) {
        add_outcome(page, r, ReplayOutcome::State::kDuplicate, "duplicate",
                    fmt::format("the same Kafka message as reject {}, replayed", *elsewhere[i]),
                    -1);
        continue;
      }
      candidates[{topic->second, r.partition, r.offset}].push_back(i);
    }
    // Rounds: each message's first candidate is parsed; one that becomes its row makes the
    // message's other rejects duplicates of it, one still invalid lets the next candidate try
    // in the next round (a builder takes each offset of a partition once).
    const int64_t now = now_unix_micros();
    while (!candidates.empty()) {
      // One chunk per partition: the page is bounded, so a chunk needs no size limit of its own.
      ChunkBuilder builder(options_.catalog, topic_specs_, options_.limits, size_t{1} << 40);
      for (auto it = candidates.begin(); it != candidates.end();) {
        const auto& [topic_index, partition, offset] = it->first;
        std::deque<size_t>& queue = it->second;
        const StoredReject& r = page.rejects[queue.front()];
        queue.pop_front();
        if (!builder.is_open(topic_index, partition)) {
          builder.open(topic_index, partition, Chunk::kNoStoredOffset, 1);
        }
        builder.add(topic_index, partition, offset, -1, *r.payload, now);
        const int type = topic_specs_[static_cast<size_t>(topic_index)].type;
        if (const std::optional<Rejection>& rejection = builder.last_rejection()) {
          add_outcome(page, r, ReplayOutcome::State::kInvalid,
                      std::string(to_string(rejection->reason)), rejection->detail, type);
        } else {
          page.fed[it->first] = page.outcomes.size();
          add_outcome(page, r, ReplayOutcome::State::kReplayed, "", "", type);
          for (const size_t other : queue) {
            add_outcome(page, page.rejects[other], ReplayOutcome::State::kDuplicate, "duplicate",
                        fmt::format("the same Kafka message as reject {}, replayed", r.id), -1);
          }
          queue.clear();
        }
        it = queue.empty() ? candidates.erase(it) : std::next(it);
      }
      builder.flush(page.chunks);
    }
    // Only the chunks with rows: the rejects a chunk also holds are recorded as outcomes.
    std::erase_if(page.chunks, [](const ChunkPtr& c) { return c->rows.empty(); });
  }

  static void add_outcome(Page& page, const StoredReject& r, ReplayOutcome::State state,
                          std::string reason, std::string detail, int type) {
    page.outcomes.push_back(
        {r.id, r.rejected_at_unix_micros, state, std::move(reason), std::move(detail)});
    page.reasons.push_back(r.reason);
    page.types.push_back(type);
  }

  /// Writes the page in one transaction; false when another replay recorded some of its
  /// rejects first (nothing was written: read it again).
  bool write(Page& page) {
    ledger_.set_page(&page);
    if (!page.chunks.empty()) {
      std::vector<Chunk*> chunks;
      for (const ChunkPtr& c : page.chunks) chunks.push_back(c.get());
      with_retries(writer_.connection(), [&] {
        writer_.write(chunks);
        return 0;
      });
    } else if (!page.outcomes.empty()) {
      // Nothing to COPY: the outcomes alone, in their own transaction.
      PgConnection& conn = writer_.connection();
      with_retries(conn, [&] {
        conn.exec("BEGIN READ WRITE");
        try {
          ledger_.record(conn, {}, {});
          conn.exec(ledger_.fenced() ? "ROLLBACK" : "COMMIT");
        } catch (const PgError&) {
          if (conn.connected()) {
            try {
              conn.exec("ROLLBACK");
            } catch (const PgError&) {
              conn.close();
            }
          }
          throw;
        }
        return 0;
      });
    }
    if (ledger_.fenced()) return false;
    count(page, ledger_.outcomes());
    return true;
  }

  /// Adds a page that is done (written, or read with --dry-run) to the report.
  void count(const Page& page, const std::vector<ReplayOutcome>& outcomes) {
    for (const StoredReject& r : page.rejects) {
      if (!r.payload) {
        ++report_.by_reason[r.reason].no_payload;
      } else if (!topic_index_.contains(r.topic)) {
        ++report_.by_reason[r.reason].unknown_topic;
        ++report_.unknown_topics[r.topic];
      }
    }
    for (size_t i = 0; i < outcomes.size(); ++i) {
      ReplayCounts& c = report_.by_reason[page.reasons[i]];
      switch (outcomes[i].state) {
        case ReplayOutcome::State::kReplayed:
          ++c.rows;
          ++report_.rows_by_table[(*options_.catalog)[static_cast<size_t>(page.types[i])].table];
          break;
        case ReplayOutcome::State::kInvalid:
          ++c.invalid;
          ++report_.invalid_by_new_reason[outcomes[i].reason];
          break;
        case ReplayOutcome::State::kDuplicate:
          ++c.duplicate;
          break;
      }
    }
  }

  const ReplayOptions& options_;
  std::vector<TopicSpec> topic_specs_;
  std::map<std::string, int, std::less<>> topic_index_;
  ReplayReport report_;
  PageLedger ledger_;
  BatchWriter writer_;
};

}  // namespace

ReplayReport replay_rejects(const ReplayOptions& options) { return Replayer(options).run(); }

}  // namespace sentinel
