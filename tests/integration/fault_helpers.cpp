#include "tests/integration/fault_helpers.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>
#include <unordered_map>

#include "ingest/kafka_handle.h"
#include "tests/integration/expectations.h"

namespace sentinel::faults {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Process;
using testing::TestDb;

const std::vector<std::string> kTopics = {"sentinel.audit", "sentinel.invocations"};

Size size() {
  const char* s = std::getenv("SENTINEL_FAULTS_SIZE");
  if (s != nullptr && std::string(s) == "large") return {true, 100'000, 1'500, 30, 180, 30};
  return {false, 40'000, 2'500, 12, 20, 6};
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// A fingerprint of one message, to find a produced event among what Kafka holds.
uint64_t fingerprint(int topic_index, std::string_view payload) {
  return std::hash<std::string_view>{}(payload) ^ (static_cast<uint64_t>(topic_index) << 63);
}

void LiveStream::run(uint64_t count, int rate, uint64_t seed) {
  GeneratorOptions g;
  g.seed = seed;
  g.invalid_ratio = invalid_ratio_;
  g.tenants = 60;
  EventGenerator gen(g);
  events_.reserve(count);
  fingerprints_.reserve(count);
  const auto start = Clock::now();
  for (uint64_t i = 0; i < count; ++i) {
    GeneratedEvent e = gen.next();
    if (mutate_) mutate_(e);
    publisher_.produce(kTopics[e.topic_index], e.key, e.payload);
    fingerprints_.push_back(fingerprint(e.topic_index, e.payload));
    e.payload.clear();
    e.payload.shrink_to_fit();
    events_.push_back(std::move(e));
    produced_ = i + 1;
    if (i % 100 == 99) {
      const auto due = start + milliseconds(static_cast<int64_t>((i + 1) * 1000 / rate));
      std::this_thread::sleep_until(due);
    }
  }
  publisher_.flush();
}

/// The ingestor's command line for these tests: a dead member leaves the group after 6 s.
std::vector<std::string> ingest_argv(const std::string& pg, const std::string& brokers,
                                     const std::string& group,
                                     const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {SENTINEL_BINARY,
                                   "run",
                                   "--pg",
                                   pg,
                                   "--brokers",
                                   brokers,
                                   "--group",
                                   group,
                                   "--status-interval",
                                   "1",
                                   "--kafka-prop",
                                   "session.timeout.ms=6000",
                                   "--kafka-prop",
                                   "heartbeat.interval.ms=500"};
  if (std::find(extra.begin(), extra.end(), "--batch-rows") == extra.end()) {
    argv.insert(argv.end(), {"--batch-rows", "2000"});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::string log_path(const std::string& name) {
  const std::string p = ::testing::TempDir() + "faults_" + name + ".log";
  std::remove(p.c_str());
  return p;
}

std::string tail(const std::string& path, size_t bytes) {
  const std::string s = testing::read_file(path);
  return s.size() <= bytes ? s : s.substr(s.size() - bytes);
}

Tally tally(const TestDb& db) {
  const std::string positions =
      "SELECT 'sentinel.audit' AS t, kafka_partition AS p, kafka_offset AS o FROM audit_logs "
      "UNION ALL SELECT 'sentinel.invocations', kafka_partition, kafka_offset FROM invocations "
      "UNION ALL SELECT topic, kafka_partition, kafka_offset FROM ingest_rejects";
  const std::string r =
      db.query("SELECT count(*) || ' ' || count(DISTINCT (t, p, o)) FROM (" + positions + ") x");
  std::istringstream in(r);
  Tally t;
  in >> t.stored >> t.distinct;
  return t;
}

/// Runs `fault` (which returns when the fault is over: the server is back, …) and waits until the
/// ingestor commits something new. Returns the seconds from the start of the fault to that commit,
/// or -1 after `limit`.
double time_to_progress(const TestDb& db, int64_t expected_total, seconds limit,
                        const std::function<void()>& fault) {
  const auto t0 = Clock::now();
  const int64_t before = testing::stored_messages(db);
  if (fault) fault();
  if (before >= expected_total) return 0;
  if (!testing::wait_for_stored(db, before + 1, limit)) return -1;
  return since(t0);
}

KafkaContents read_kafka(const std::string& brokers) {
  KafkaContents out;
  KafkaConf conf = make_kafka_conf({{"bootstrap.servers", brokers},
                                    {"group.id", "faults-reader"},
                                    {"enable.auto.commit", "false"},
                                    {"enable.partition.eof", "true"}});
  char err[512];
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err));
  if (!rk) {
    out.error = std::string("reader: ") + err;
    return out;
  }
  conf.release();
  rd_kafka_poll_set_consumer(rk.get());
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(kPartitions * 2));
  for (int t = 0; t < static_cast<int>(kTopics.size()); ++t) {
    for (int32_t p = 0; p < kPartitions; ++p) {
      rd_kafka_topic_partition_list_add(list.get(), kTopics[t].c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
      auto& part = out.partitions[{t, p}];
      rd_kafka_query_watermark_offsets(rk.get(), kTopics[t].c_str(), p, &part.low, &part.high,
                                       10000);
    }
  }
  rd_kafka_assign(rk.get(), list.get());
  size_t eofs = 0;
  const auto deadline = Clock::now() + seconds(60);
  while (eofs < out.partitions.size() && Clock::now() < deadline) {
    KafkaMessage m(rd_kafka_consumer_poll(rk.get(), 200));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ++eofs;
      continue;
    }
    if (m->err) continue;
    const int t = rd_kafka_topic_name(m->rkt) == kTopics[0] ? 0 : 1;
    out.partitions[{t, m->partition}].messages[m->offset] = fingerprint(
        t, std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0));
  }
  if (eofs < out.partitions.size()) out.error = "reader: timed out before the end of the topics";
  rd_kafka_consumer_close(rk.get());
  return out;
}

/// When messages are missing: what Kafka holds against what PostgreSQL stored, per partition.
/// Tells a message Kafka never kept (producer or broker) from one the ingestor skipped.
std::string kafka_accounting(const std::string& brokers, const TestDb& db, size_t generated) {
  const KafkaContents kafka = read_kafka(brokers);
  std::ostringstream out;
  out << "Kafka holds " << kafka.size() << " messages of " << generated << " generated "
      << kafka.error << "\n";
  for (const auto& [k, part] : kafka.partitions) {
    const std::string& topic = kTopics[k.first];
    const std::string table = k.first == 0 ? "audit_logs" : "invocations";
    const std::string where = "kafka_partition = " + std::to_string(k.second);
    const std::string stored_list = db.query(
        "SELECT string_agg(o::text, ',' ORDER BY o) FROM (SELECT kafka_offset AS o FROM " + table +
        " WHERE " + where + " UNION ALL SELECT kafka_offset FROM ingest_rejects WHERE topic = '" +
        topic + "' AND " + where + ") x");
    std::set<int64_t> stored;
    std::istringstream in(stored_list);
    for (std::string o; std::getline(in, o, ',');) stored.insert(std::stoll(o));
    std::vector<int64_t> missing;
    for (const auto& [offset, fp] : part.messages) {
      if (!stored.contains(offset)) missing.push_back(offset);
    }
    const std::string next = db.query("SELECT next_offset FROM ingest_offsets WHERE topic = '" +
                                      topic + "' AND " + where);
    out << "  " << topic << " [" << k.second << "] watermarks " << part.low << ".." << part.high
        << ", read " << part.messages.size() << ", stored " << stored.size()
        << ", stored next_offset " << next << ", in Kafka but not stored " << missing.size();
    for (size_t i = 0; i < missing.size() && i < 20; ++i) out << (i ? "," : ": ") << missing[i];
    out << "\n";
  }
  return out.str();
}

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
                                          size_t& copies, size_t& unknown) {
  std::unordered_map<uint64_t, int> held;
  for (const auto& [k, part] : kafka.partitions) {
    for (const auto& [offset, fp] : part.messages) ++held[fp];
  }
  // Identical payloads (some malformed events) share a fingerprint: only what Kafka holds beyond
  // the last of them counts as copies.
  std::unordered_map<uint64_t, int> still_to_produce;
  for (size_t i = 0; i < events.size(); ++i) ++still_to_produce[fingerprints[i]];
  std::vector<GeneratedEvent> kept;
  dropped = copies = unknown = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const bool last = --still_to_produce[fingerprints[i]] == 0;
    auto it = held.find(fingerprints[i]);
    if (it == held.end() || it->second == 0) {
      ++dropped;
      continue;
    }
    kept.push_back(events[i]);
    --it->second;
    if (last) {
      for (; it->second > 0; --it->second, ++copies) kept.push_back(events[i]);
    }
  }
  for (const auto& [fp, n] : held) unknown += static_cast<size_t>(n);
  return kept;
}

/// The closing check of every scenario, and its result line.
void finish(const std::string& brokers, const std::string& scenario, const TestDb& db,
            const std::vector<GeneratedEvent>& events, double recover_s) {
  const Tally t = tally(db);
  const int64_t n = static_cast<int64_t>(events.size());
  std::ostringstream line;
  line << "FAULTS-RESULT scenario=" << scenario << " events=" << n << " lost=" << n - t.distinct
       << " doubled=" << t.stored - t.distinct << " recover_s=" << std::fixed
       << std::setprecision(1) << recover_s;
  std::printf("%s\n", line.str().c_str());
  if (const char* report = std::getenv("SENTINEL_FAULTS_REPORT")) {
    std::ofstream(report, std::ios::app) << line.str() << "\n";
  }
  EXPECT_EQ(t.stored, t.distinct) << "doubled";
  EXPECT_EQ(t.distinct, n) << "lost\n"
                           << (t.distinct == n ? "" : kafka_accounting(brokers, db, events.size()));
  testing::expect_exactly_once(db, events);
}

/// Waits until every event is stored, while `alive` holds.
void wait_all_stored(const std::string& brokers, const TestDb& db, int64_t n,
                     const std::string& log, const std::function<bool()>& alive) {
  const bool done = testing::wait_for_stored(db, n, seconds(size().large ? 900 : 240), alive);
  const std::string text = testing::read_file(log);
  ASSERT_TRUE(done) << "stored " << testing::stored_messages(db) << " of " << n
                    << (text.find("Kafka skipped") != std::string::npos
                            ? " (the mock cluster deleted unread messages: make the run smaller)"
                            : "")
                    << "\n"
                    << (done ? "" : kafka_accounting(brokers, db, static_cast<size_t>(n)))
                    << "log:\n"
                    << tail(log);
}

void stop_gracefully(Process& p, const std::string& log) {
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(seconds(15)), 0) << tail(log);
}

bool started(const std::string& log, size_t times) {
  return testing::count_occurrences(testing::read_file(log), "consuming ") >= times;
}

bool has_assignment(const std::string& log) {
  return testing::count_occurrences(testing::read_file(log), "assigned ") > 0;
}

int64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

}  // namespace sentinel::faults
