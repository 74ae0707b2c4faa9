#include "pipeline/reject_replay.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <tuple>

#include "ingest/chunk_builder.h"
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

int64_t now_unix_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// One page of rejects, parsed again: the chunks of the valid ones, and every reject's outcome.
struct Page {
  std::vector<StoredReject> rejects;
  std::vector<ChunkPtr> chunks;
  /// Outcomes of the rejects fed to the parser or found duplicate, by (topic index, partition,
  /// offset) for those fed.
  std::vector<ReplayOutcome> outcomes;
  std::map<std::tuple<int, int32_t, int64_t>, size_t> fed;  ///< -> index into outcomes
  std::vector<std::string> reasons;  ///< each outcome's reject's stored reason
  std::vector<int> types;            ///< each outcome's event type (-1: not parsed)
};

/// Records a page's outcomes in the batch's transaction, with the rows PostgreSQL refused now
/// found invalid (db_rejected); fences the whole page when another replay recorded some first.
class PageLedger final : public BatchLedger {
 public:
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
    if (reject_store::record(conn, outcomes_) == outcomes_.size()) return {};
    fenced_ = true;
    std::vector<std::pair<int, int32_t>> all;
    for (const Chunk* c : chunks) all.emplace_back(c->topic_index, c->partition);
    return all;
  }

  /// The outcomes the last record() stored (with the refused rows).
  const std::vector<ReplayOutcome>& outcomes() const { return outcomes_; }
  bool fenced() const { return fenced_; }

 private:
  const Page* page_ = nullptr;
  std::vector<ReplayOutcome> outcomes_;
  bool fenced_ = false;
};

class Replayer {
 public:
  explicit Replayer(const ReplayOptions& o)
      : options_(o), writer_(o.pg_url, "", o.topics, o.catalog, nullptr, &ledger_) {
    for (size_t t = 0; t < o.topics.size(); ++t) {
      topic_specs_.push_back({o.topics[t], static_cast<int>(t)});
      topic_index_[o.topics[t]] = static_cast<int>(t);
    }
  }

  ReplayReport run() {
    PgConnection& conn = writer_.connection();
    conn.connect();
    report_.pending_at_start = reject_store::count_pending(conn, options_.filter);
    int64_t after_id = 0;
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
        ++report_.retried_pages;
        continue;  // read the same ids again: the ones another replay recorded are gone
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
    // Which rejects are fed to the parser: those with a payload, of a topic a type reads, not of
    // a message already replayed (under another reject, or earlier in this page).
    struct Feed {
      int topic_index;
      int32_t partition;
      int64_t offset;
      size_t reject;
    };
    std::vector<Feed> feed;
    std::map<std::tuple<int, int32_t, int64_t>, int64_t> first_of_message;
    for (size_t i = 0; i < page.rejects.size(); ++i) {
      const StoredReject& r = page.rejects[i];
      const auto topic = topic_index_.find(r.topic);
      if (!r.payload || topic == topic_index_.end()) continue;  // counted by count()
      const auto message = std::make_tuple(topic->second, r.partition, r.offset);
      std::optional<int64_t> replayed = elsewhere[i];
      if (!replayed) {
        const auto [it, first] = first_of_message.try_emplace(message, r.id);
        if (!first) replayed = it->second;
      }
      if (replayed) {
        add_outcome(page, r, ReplayOutcome::State::kDuplicate, "duplicate",
                    fmt::format("the same Kafka message as reject {}, replayed", *replayed), -1);
        continue;
      }
      feed.push_back({topic->second, r.partition, r.offset, i});
    }
    std::sort(feed.begin(), feed.end(), [](const Feed& a, const Feed& b) {
      return std::tie(a.topic_index, a.partition, a.offset) <
             std::tie(b.topic_index, b.partition, b.offset);
    });
    // One chunk per partition: the page is bounded, so a chunk needs no size limit of its own.
    ChunkBuilder builder(options_.catalog, topic_specs_, options_.limits, size_t{1} << 40);
    const int64_t now = now_unix_micros();
    for (const Feed& f : feed) {
      if (!builder.is_open(f.topic_index, f.partition)) {
        builder.open(f.topic_index, f.partition, Chunk::kNoStoredOffset, 1);
      }
      const StoredReject& r = page.rejects[f.reject];
      builder.add(f.topic_index, f.partition, f.offset, -1, *r.payload, now);
      const int type = topic_specs_[static_cast<size_t>(f.topic_index)].type;
      page.fed[{f.topic_index, f.partition, f.offset}] = page.outcomes.size();
      if (const std::optional<Rejection>& rejection = builder.last_rejection()) {
        add_outcome(page, r, ReplayOutcome::State::kInvalid,
                    std::string(to_string(rejection->reason)), rejection->detail, type);
      } else {
        add_outcome(page, r, ReplayOutcome::State::kReplayed, "", "", type);
      }
    }
    builder.flush(page.chunks);
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
