// What the fault-injection suite (faults_test.cpp) and the chaos run (chaos_test.cpp) share: the
// live stream, the ingestor's command line, reading Kafka back, and the closing exactly-once check.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "testkit/event_generator.h"
#include "testkit/publisher.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"

namespace sentinel::faults {

using Clock = std::chrono::steady_clock;

extern const std::vector<std::string> kTopics;
constexpr int kPartitions = 6;

/// How big the run is: `small` fits in CI, `large` is for a person with time. The mock cluster
/// keeps about 5 MB per partition: a backlog beyond that (a long outage of a fast stream) is
/// deleted before it is read, which the ingestor reports as "Kafka skipped N offsets" and this
/// suite as lost events. Sizes are chosen to stay under it.
struct Size {
  bool large = false;
  uint64_t events = 0;  ///< per scenario
  int rate = 0;         ///< events/s of the live stream
  int kills = 0;
  int pg_down_s = 0;
  int broker_down_s = 0;
};

/// The size SENTINEL_FAULTS_SIZE asks for (small unless "large").
Size size();

/// Seconds since `t`.
double since(Clock::time_point t);

/// A fingerprint of one message, to find a produced event among what Kafka holds.
uint64_t fingerprint(int topic_index, std::string_view payload);

/// Produces `count` generated events at `rate` per second on a thread of its own, keeping the
/// truth of what it produced. `mutate`, when given, may rewrite each generated event (payload and
/// truth together) before it is produced: the chaos run's special inputs.
class LiveStream {
 public:
  using Mutator = std::function<void(GeneratedEvent&)>;
  LiveStream(const std::string& brokers, uint64_t count, int rate, uint64_t seed,
             Mutator mutate = {}, double invalid_ratio = 0.01)
      : publisher_(brokers, {{"request.timeout.ms", "5000"}}),
        mutate_(std::move(mutate)),
        invalid_ratio_(invalid_ratio),
        thread_([=, this] { run(count, rate, seed); }) {}
  ~LiveStream() {
    if (thread_.joinable()) thread_.join();
  }
  /// Waits for the last event to be delivered; returns the truth.
  const std::vector<GeneratedEvent>& finish() {
    if (thread_.joinable()) thread_.join();
    return events_;
  }
  /// fingerprint() of each produced message, in produced order; valid after finish().
  const std::vector<uint64_t>& fingerprints() const { return fingerprints_; }
  uint64_t produced() const { return produced_.load(); }
  /// Acknowledged by the broker so far.
  uint64_t delivered() const { return publisher_.delivered(); }

 private:
  void run(uint64_t count, int rate, uint64_t seed);

  Publisher publisher_;
  Mutator mutate_;
  double invalid_ratio_;
  std::vector<GeneratedEvent> events_;
  std::vector<uint64_t> fingerprints_;
  std::atomic<uint64_t> produced_{0};
  std::thread thread_;  // last: starts after the members above exist
};

/// The ingestor's command line for these tests: a dead member leaves the group after 6 s.
std::vector<std::string> ingest_argv(const std::string& pg, const std::string& brokers,
                                     const std::string& group,
                                     const std::vector<std::string>& extra = {});

/// A fresh (emptied) log file path named after `name`.
std::string log_path(const std::string& name);

/// The last `bytes` of a file.
std::string tail(const std::string& path, size_t bytes = 6000);

/// Messages stored (rows + rejects), and how many distinct Kafka positions they cover.
struct Tally {
  int64_t stored = 0;
  int64_t distinct = 0;
};

Tally tally(const testing::TestDb& db);

/// Runs `fault` (which returns when the fault is over: the server is back, …) and waits until the
/// ingestor commits something new. Returns the seconds from the start of the fault to that commit,
/// or -1 after `limit`.
double time_to_progress(const testing::TestDb& db, int64_t expected_total,
                        std::chrono::seconds limit, const std::function<void()>& fault = {});

/// Everything the topics hold, read back by a consumer of its own: per partition the
/// watermarks and, per offset, the message's fingerprint.
struct KafkaContents {
  struct Partition {
    int64_t low = -1, high = -1;
    std::map<int64_t, uint64_t> messages;  ///< offset → fingerprint
  };
  std::map<std::pair<int, int32_t>, Partition> partitions;  ///< (topic index, partition)
  std::string error;
  size_t size() const {
    size_t n = 0;
    for (const auto& [k, p] : partitions) n += p.messages.size();
    return n;
  }
};

KafkaContents read_kafka(const std::string& brokers);

/// When messages are missing: what Kafka holds against what PostgreSQL stored, per partition.
/// Tells a message Kafka never kept (producer or broker) from one the ingestor skipped.
std::string kafka_accounting(const std::string& brokers, const testing::TestDb& db,
                             size_t generated);

/// The events Kafka actually holds, in produced order, each as many times as Kafka holds it. The
/// mock cluster can lose messages it acknowledged when brokers go down and leaders move under a
/// live producer (librdkafka 2.0.2's mock; a real cluster with acks=all keeps them). It can also
/// store a produce request twice when the producer retries it after a timeout: the mock checks
/// sequence numbers only for transactional producers. A copy is a Kafka record of its own, at its
/// own offset, so the ingestor owes exactly what Kafka holds. `dropped` counts produced events
/// Kafka does not hold, `copies` the records beyond one per event, and `unknown` the records
/// matching no produced event.
std::vector<GeneratedEvent> held_by_kafka(const std::vector<GeneratedEvent>& events,
                                          const std::vector<uint64_t>& fingerprints,
                                          const KafkaContents& kafka, size_t& dropped,
                                          size_t& copies, size_t& unknown);

/// The closing check of every scenario, and its result line.
void finish(const std::string& brokers, const std::string& scenario, const testing::TestDb& db,
            const std::vector<GeneratedEvent>& events, double recover_s);

/// Waits until every event is stored, while `alive` holds.
void wait_all_stored(const std::string& brokers, const testing::TestDb& db, int64_t n,
                     const std::string& log, const std::function<bool()>& alive = {});

/// SIGTERM, then expects exit 0 within 15 s.
void stop_gracefully(testing::Process& p, const std::string& log);

/// Whether the log shows `times` starts of the consumer.
bool started(const std::string& log, size_t times = 1);

/// Whether the log shows an assignment.
bool has_assignment(const std::string& log);

/// The resident set of a process, in KiB (-1 if unknown).
int64_t rss_kib(pid_t pid);

}  // namespace sentinel::faults
