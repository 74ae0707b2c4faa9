// The end-to-end benchmark (bench/README.md): mock Kafka in this process, the real
// `sentinel-ingest run` as a child process (so its CPU and peak RSS are its own), PostgreSQL
// given by --pg (scripts/bench.sh starts a tuned throwaway one).
//
//   preload mode: publish N events, start the ingestor, time it until every message is
//                 committed; then the ceiling: binary COPY of exactly those rows into fresh,
//                 identical tables, with one and with two parallel streams.
//   --rate R:     start the ingestor, publish N events at R/s, report end-to-end latency.
//   --sink-only:  no Kafka, no child process: the same events, held in memory, fed through the
//                 ingestor's own ChunkBuilder into a WriterPool in this process; then the ceiling.
//   --keys tenant keys every event by its tenant (Zipf-skewed partitions), as the gateway does.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog.h"
#include "ingest/chunk_builder.h"
#include "ingest/event_parser.h"
#include "pipeline/backpressure.h"
#include "pipeline/consumer_loop.h"
#include "pipeline/failure.h"
#include "pipeline/metrics.h"
#include "pipeline/offset_coordinator.h"
#include "pipeline/pipeline_options.h"
#include "pipeline/writer_pool.h"
#include "rows/copy_encoder.h"
#include "rows/month.h"
#include "rows/tables.h"
#include "sinks/migrator.h"
#include "sinks/pg_connection.h"
#include "testkit/event_generator.h"
#include "testkit/mock_cluster.h"
#include "testkit/publisher.h"

namespace sentinel {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string pg;  ///< libpq key=value string of the server; dbname is appended
  std::string ingest_bin;
  std::string out_dir = "bench-out";
  uint64_t events = 1'000'000;
  double rate = 0;
  int partitions = 64;    ///< per topic; 2 in --rate mode unless given (see run())
  int kafka_brokers = 0;  ///< 0: 3 when preloading, 1 in --rate mode
  double invalid_ratio = 0.01;
  uint64_t seed = 42;
  int tenants = 200;
  int days_back = 1;
  bool ceiling_direct = false;  ///< COPY the ceiling straight into the month partitions
  bool ceiling_sorted = false;  ///< also COPY the ceiling's batches in (tenant_id, ts) order
  int metrics_port = 0;
  int ceiling_batch_rows = 50'000;
  bool skip_ceiling = false;
  int rounds = 0;             ///< 0: 3 when preloading with the ceiling, else 1
  double warmup_seconds = 2;  ///< --rate: latency is reported over what is published after this
  std::vector<std::string> ingest_args;     ///< passed through to `run`
  std::vector<std::string> producer_props;  ///< KEY=VALUE for the preloading producer
  std::string keys = "spread";              ///< "spread" or "tenant" (--keys)
  bool sink_only = false;                   ///< --sink-only: from memory, no Kafka
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string db_url(const Options& o, const std::string& db) { return o.pg + " dbname=" + db; }

/// A loopback TCP port nobody listens on (the socket is closed again before it is returned).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("no free TCP port on 127.0.0.1");
  }
  close(fd);
  return ntohs(a.sin_port);
}

// ---------------------------------------------------------------------------------------------
// The rows, encoded once, for the ceiling.

/// Binary COPY tuples of one table, in blocks of at most `rows_per_block` rows.
struct Blocks {
  std::vector<std::string> tuples;
  std::vector<uint32_t> rows;
  void add(const std::string& piece, size_t rows_per_block) {
    if (tuples.empty() || rows.back() >= rows_per_block) {
      tuples.emplace_back();
      tuples.back().reserve(rows_per_block * 600);
      rows.push_back(0);
    }
    tuples.back() += piece;
    ++rows.back();
  }
};

/// The blocks with each block's tuples in (tenant_id, ts) order, as the writer COPYs them.
Blocks in_index_order(const Blocks& in) {
  Blocks out;
  std::vector<std::string_view> tuples;
  for (size_t b = 0; b < in.tuples.size(); ++b) {
    const std::string_view block = in.tuples[b];
    tuples.clear();
    size_t at = 0;
    while (at < block.size()) {  // int16 fields, then per field int32 size (-1: NULL) and bytes
      const size_t begin = at;
      const int fields =
          (static_cast<uint8_t>(block[at]) << 8) | static_cast<uint8_t>(block[at + 1]);
      at += 2;
      for (int f = 0; f < fields; ++f) {
        uint32_t size;
        std::memcpy(&size, block.data() + at, 4);
        size = __builtin_bswap32(size);
        at += 4 + (size == 0xFFFFFFFFu ? 0 : size);
      }
      tuples.push_back(block.substr(begin, at - begin));
    }
    std::stable_sort(tuples.begin(), tuples.end(), [](std::string_view a, std::string_view b) {
      return event_tuple_key(a) < event_tuple_key(b);
    });
    out.tuples.emplace_back();
    out.tuples.back().reserve(block.size());
    for (std::string_view t : tuples) out.tuples.back() += t;
    out.rows.push_back(in.rows[b]);
  }
  return out;
}

struct EncodedRows {
  Blocks audit, invocations, rejects;
  std::set<int32_t> months;
  uint64_t valid = 0, invalid = 0;
};

// ---------------------------------------------------------------------------------------------
// Databases.

void exec(PgConnection& c, const std::string& sql) { c.exec(sql.c_str()); }

/// A connection to the maintenance database, without NOTICEs on stderr.
std::unique_ptr<PgConnection> admin_connection(const Options& o) {
  auto c = std::make_unique<PgConnection>(db_url(o, "postgres"));
  c->connect();
  PQsetNoticeProcessor(
      c->raw(), [](void*, const char*) {}, nullptr);
  return c;
}

/// A fresh database with the schema and every month partition the rows need.
void create_database(const Options& o, const std::string& name, const std::set<int32_t>& months) {
  auto admin = admin_connection(o);
  exec(*admin, "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  exec(*admin, "CREATE DATABASE " + name);
  apply_migrations(db_url(o, name));
  PgConnection c(db_url(o, name));
  c.connect();
  for (const int32_t m : months) {
    const std::string start = month_start_text(m);
    for (const char* table : {"audit_logs", "invocations"}) {
      c.exec_params(kEnsurePartitionSql.data(), {table, start.c_str()});
    }
  }
}

void drop_database(const Options& o, const std::string& name) {
  exec(*admin_connection(o), "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

void checkpoint(const Options& o) { exec(*admin_connection(o), "CHECKPOINT"); }

int64_t count(PgConnection& c, const char* table) {
  PgResult r = c.exec((std::string("SELECT count(*) FROM ") + table).c_str());
  return std::stoll(PQgetvalue(r.get(), 0, 0));
}

/// What a run stored: every message is a row or a reject, exactly once.
struct Stored {
  int64_t audit = 0, invocations = 0, rejects = 0;
  bool exact = false;
};

/// Counts what database `db` holds against the events published, prints it, and drops it.
Stored verify_and_drop(const Options& o, const std::string& db) {
  Stored s;
  PgConnection c(db_url(o, db));
  c.connect();
  s.audit = count(c, "audit_logs");
  s.invocations = count(c, "invocations");
  s.rejects = count(c, "ingest_rejects");
  c.close();
  const int64_t stored = s.audit + s.invocations + s.rejects;
  s.exact = static_cast<uint64_t>(stored) == o.events;
  fmt::print("   stored: audit_logs {} + invocations {} + ingest_rejects {} = {} of {} {}\n",
             s.audit, s.invocations, s.rejects, stored, o.events, s.exact ? "(exact)" : "MISMATCH");
  drop_database(o, db);
  return s;
}

/// This process's CPU time so far (user + system, every thread), in seconds.
double cpu_seconds_self() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto tv = [](const timeval& v) { return static_cast<double>(v.tv_sec) + v.tv_usec / 1e6; };
  return tv(u.ru_utime) + tv(u.ru_stime);
}

// ---------------------------------------------------------------------------------------------
// The ingestor as a child process, watched through /proc and its /metrics.

struct Child {
  pid_t pid = -1;
};

Child spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  return Child{pid};
}

/// What /proc/PID/stat says of a process's work so far.
struct ProcStat {
  double cpu_seconds = 0;   ///< utime + stime
  double minor_faults = 0;  ///< page faults served without I/O (fresh or reclaimed pages)
};

ProcStat proc_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), {});
  const size_t close = s.rfind(')');
  ProcStat r;
  if (close == std::string::npos) return r;
  std::istringstream fields(s.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 10) r.minor_faults = std::stod(f);
    if (i == 14 || i == 15) ticks += std::stod(f);
  }
  r.cpu_seconds = ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  return r;
}

/// The PostgreSQL server's process (the postmaster), found from a backend's parent; -1 when the
/// server is not on this machine (its CPU is then not reported).
pid_t postmaster_pid(const Options& o) {
  auto c = admin_connection(o);
  PgResult r = c->exec("SELECT pg_backend_pid()");
  const std::string backend = PQgetvalue(r.get(), 0, 0);
  std::ifstream in("/proc/" + backend + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PPid:", 0) == 0) return static_cast<pid_t>(std::stol(line.substr(5)));
  }
  return -1;
}

/// The CPU seconds the PostgreSQL server has used so far: the postmaster's own, what its exited
/// children used (cutime + cstime: backends that ended, reaped by it) and what its live children
/// (backends, WAL writer, checkpointer, ...) have used. The difference over an interval counts
/// every backend's work in it, those that ended meanwhile included.
double postgres_cpu_seconds(pid_t postmaster) {
  if (postmaster <= 0) return 0;
  const auto fields = [](pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), {});
    std::vector<std::string> out;
    const size_t close = s.rfind(')');
    if (close == std::string::npos) return out;
    std::istringstream rest(s.substr(close + 2));  // field 3 on
    for (std::string f; rest >> f;) out.push_back(f);
    return out;
  };
  // Fields (1-based, man 5 proc): 4 ppid, 14 utime, 15 stime, 16 cutime, 17 cstime.
  const auto at = [](const std::vector<std::string>& f, int field) {
    return f.size() > static_cast<size_t>(field - 3) ? std::stod(f[static_cast<size_t>(field - 3)])
                                                     : 0.0;
  };
  const auto own = fields(postmaster);
  double ticks = at(own, 14) + at(own, 15) + at(own, 16) + at(own, 17);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto f = fields(static_cast<pid_t>(std::stol(name)));
    if (f.empty() || std::stol(f[1]) != postmaster) continue;
    ticks += at(f, 14) + at(f, 15);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// A memory figure of /proc/PID/status (`field` with its colon, e.g. "VmRSS:"), in MiB.
double status_mib(pid_t pid, std::string_view field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(field.size())) / 1024.0;
  }
  return 0;
}

/// VmHWM (peak resident set) of a process, in MiB.
double peak_rss_mib(pid_t pid) { return status_mib(pid, "VmHWM:"); }

bool alive(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == 0;
}

/// The samples of a metric family whose lines start with `prefix`: how many, and their sum.
struct MetricSamples {
  int count = 0;
  double sum = 0;
};

MetricSamples metric_samples(const std::string& text, std::string_view prefix) {
  MetricSamples m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    ++m.count;
    m.sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return m;
}

double metric_sum(const std::string& text, std::string_view prefix) {
  return metric_samples(text, prefix).sum;
}

/// A Prometheus histogram's cumulative buckets: (upper bound, count), +Inf as 1e300.
using Buckets = std::vector<std::pair<double, double>>;

Buckets histogram_buckets(const std::string& text, const std::string& name) {
  Buckets buckets;
  std::istringstream in(text);
  std::string line;
  const std::string prefix = name + "_bucket{le=\"";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    const size_t end = line.find('"', prefix.size());
    const std::string le = line.substr(prefix.size(), end - prefix.size());
    const double bound = le == "+Inf" ? 1e300 : std::stod(le);
    buckets.emplace_back(bound, std::stod(line.substr(line.rfind(' ') + 1)));
  }
  return buckets;
}

/// What was observed between two scrapes: `later` minus `earlier`, bucket by bucket.
Buckets buckets_since(Buckets later, const Buckets& earlier) {
  if (earlier.size() != later.size()) return later;
  for (size_t i = 0; i < later.size(); ++i) later[i].second -= earlier[i].second;
  return later;
}

/// A quantile from cumulative buckets, interpolating linearly within the bucket.
double histogram_quantile(const Buckets& buckets, double q) {
  if (buckets.empty() || buckets.back().second <= 0) return 0;
  const double target = q * buckets.back().second;
  double prev_bound = 0, prev_count = 0;
  for (const auto& [bound, cum] : buckets) {
    if (cum >= target) {
      if (bound >= 1e300) return prev_bound;
      return prev_bound +
             (bound - prev_bound) * (target - prev_count) / std::max(1.0, cum - prev_count);
    }
    prev_bound = bound;
    prev_count = cum;
  }
  return prev_bound;
}

double histogram_quantile(const std::string& text, const std::string& name, double q) {
  return histogram_quantile(histogram_buckets(text, name), q);
}

std::string get_metrics(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  client.set_read_timeout(2);
  auto res = client.Get("/metrics");
  return res && res->status == 200 ? res->body : std::string();
}

/// The machine's CPU time so far, from the first line of /proc/stat, in seconds.
struct MachineTimes {
  double busy = 0;    ///< user, nice, system, irq, softirq
  double iowait = 0;  ///< idle with I/O outstanding
  double steal = 0;   ///< taken by the hypervisor for other guests
};

MachineTimes machine_times() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double v[8] = {};
  in >> cpu;
  for (double& x : v) in >> x;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {(v[0] + v[1] + v[2] + v[5] + v[6]) / tick, v[4] / tick, v[7] / tick};
}

/// How the whole machine's cores were spent over a phase: what was busy (everything, PostgreSQL
/// included), waited on I/O, or was stolen by other guests of the host.
struct MachineLoad {
  double busy = 0, iowait = 0, steal = 0;  ///< in cores
};

MachineLoad machine_load(const MachineTimes& a, const MachineTimes& b, double seconds) {
  const double s = std::max(1e-3, seconds);
  return {(b.busy - a.busy) / s, (b.iowait - a.iowait) / s, (b.steal - a.steal) / s};
}

std::string describe(const MachineLoad& m) {
  return fmt::format("{:.2f} cores busy, {:.2f} in I/O wait, {:.2f} stolen", m.busy, m.iowait,
                     m.steal);
}

struct Sample {
  double t;       ///< seconds since the ingestor started
  double stored;  ///< rows + rejects committed
  double cpu;     ///< ingestor CPU seconds
};

struct IngestResult {
  double seconds = 0;       ///< start → every message committed
  double first_commit = 0;  ///< start → first row committed
  double assigned = 0;      ///< start → every partition assigned (the group join)
  double cpu = 0;           ///< ingestor CPU seconds over `seconds`
  double peak_rss_mib = 0;
  double minor_faults = 0;  ///< the ingestor's page faults over `seconds`
  double commit_p50 = 0, commit_p99 = 0, e2e_p50 = 0, e2e_p99 = 0, own_p50 = 0, own_p99 = 0;
  double batches = 0;
  MachineTimes machine_at_assigned, machine_at_done;  ///< the whole machine's CPU time then
  double cpu_at_assigned = 0;                         ///< the ingestor's CPU seconds then
  /// --rate: the same figures over what was committed after the warm-up (the Kafka clients' own
  /// start: the consumer's first offset lookup, the producer's first metadata request).
  std::string warm_metrics;  ///< the scrape when the warm-up's messages were committed
  double steady_commit_p99 = 0, steady_e2e_p50 = 0, steady_e2e_p99 = 0, steady_own_p50 = 0,
         steady_own_p99 = 0;
  std::vector<Sample> samples;
  std::string metrics;
  bool complete = false;
};

/// Watches the ingestor until `expected` messages are committed (or it dies or stalls).
IngestResult watch(const Child& child, int port, uint64_t expected, int partitions,
                   Clock::time_point start, uint64_t warmup_messages = 0) {
  IngestResult r;
  double last_stored = -1;
  auto last_progress = Clock::now();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string text = get_metrics(port);
    const ProcStat ps = proc_stat(child.pid);
    const double cpu = ps.cpu_seconds;
    const double t = seconds_since(start);
    if (!alive(child.pid)) throw std::runtime_error("the ingestor exited early; see ingest.log");
    if (text.empty()) continue;
    const double stored = metric_sum(text, "sentinel_ingest_rows_written_total{") +
                          metric_sum(text, "sentinel_ingest_rejects_total{");
    r.samples.push_back({t, stored, cpu});
    if (stored > 0 && r.first_commit == 0) r.first_commit = t;
    if (warmup_messages > 0 && r.warm_metrics.empty() &&
        stored >= static_cast<double>(warmup_messages)) {
      r.warm_metrics = text;
    }
    if (r.assigned == 0 &&
        metric_sum(text, "sentinel_ingest_assigned_partitions ") >= 2.0 * partitions) {
      r.assigned = t;
      r.machine_at_assigned = machine_times();
      r.cpu_at_assigned = cpu;
    }
    if (stored != last_stored) {
      last_stored = stored;
      last_progress = Clock::now();
    }
    if (stored >= static_cast<double>(expected)) {
      r.seconds = t;
      r.machine_at_done = machine_times();
      r.cpu = cpu;
      r.minor_faults = ps.minor_faults;
      r.peak_rss_mib = peak_rss_mib(child.pid);
      r.metrics = text;
      r.complete = true;
      break;
    }
    if (seconds_since(last_progress) > 60) {
      r.metrics = text;
      r.seconds = t;
      fmt::print(stderr, "no progress for 60 s at {} of {} messages; giving up\n", stored,
                 expected);
      break;
    }
  }
  r.commit_p50 = histogram_quantile(r.metrics, "sentinel_ingest_batch_commit_seconds", 0.5);
  r.commit_p99 = histogram_quantile(r.metrics, "sentinel_ingest_batch_commit_seconds", 0.99);
  r.e2e_p50 = histogram_quantile(r.metrics, "sentinel_ingest_end_to_end_latency_seconds", 0.5);
  r.e2e_p99 = histogram_quantile(r.metrics, "sentinel_ingest_end_to_end_latency_seconds", 0.99);
  r.own_p50 = histogram_quantile(r.metrics, "sentinel_ingest_ingest_latency_seconds", 0.5);
  r.own_p99 = histogram_quantile(r.metrics, "sentinel_ingest_ingest_latency_seconds", 0.99);
  r.batches = metric_sum(r.metrics, "sentinel_ingest_batch_commit_seconds_count");
  if (!r.warm_metrics.empty()) {
    auto steady = [&](const std::string& name, double q) {
      return histogram_quantile(buckets_since(histogram_buckets(r.metrics, name),
                                              histogram_buckets(r.warm_metrics, name)),
                                q);
    };
    r.steady_commit_p99 = steady("sentinel_ingest_batch_commit_seconds", 0.99);
    r.steady_e2e_p50 = steady("sentinel_ingest_end_to_end_latency_seconds", 0.5);
    r.steady_e2e_p99 = steady("sentinel_ingest_end_to_end_latency_seconds", 0.99);
    r.steady_own_p50 = steady("sentinel_ingest_ingest_latency_seconds", 0.5);
    r.steady_own_p99 = steady("sentinel_ingest_ingest_latency_seconds", 0.99);
  }
  return r;
}

void stop(const Child& child) {
  kill(child.pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 150; ++i) {
    if (waitpid(child.pid, &status, WNOHANG) == child.pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(child.pid, SIGKILL);
  waitpid(child.pid, &status, 0);
}

// ---------------------------------------------------------------------------------------------
// Kafka.

/// The busiest partition of a run's keying, and the share of its topic's messages it holds (keys
/// spread evenly: 1 / partitions).
struct Hottest {
  std::string topic;
  int32_t partition = 0;
  uint64_t messages = 0;
  double share = 0;
  std::string describe() const {
    return fmt::format("{} [{}], {} messages, {:.1f}% of its topic", topic, partition, messages,
                       share * 100);
  }
};

/// The hottest of `counts` (messages by topic index, then partition).
Hottest hottest_of(const std::vector<std::string>& topics,
                   const std::vector<std::vector<uint64_t>>& counts) {
  Hottest h;
  for (size_t t = 0; t < counts.size(); ++t) {
    uint64_t total = 0;
    for (const uint64_t n : counts[t]) total += n;
    for (size_t p = 0; p < counts[t].size(); ++p) {
      const double share = total > 0 ? static_cast<double>(counts[t][p]) / total : 0;
      if (share > h.share) h = {topics[t], static_cast<int32_t>(p), counts[t][p], share};
    }
  }
  return h;
}

/// Every partition of both topics must still start at offset 0 and hold `expected` messages in
/// total: the mock keeps only ~5 MB per partition and trims the oldest silently. Returns the
/// hottest partition.
Hottest check_not_trimmed(const Options& o, const std::string& brokers,
                          const std::vector<std::string>& topics, uint64_t expected) {
  KafkaConf conf = make_kafka_conf({{"bootstrap.servers", brokers}, {"log_level", "3"}});
  char err[512];
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err));
  if (!rk) throw KafkaError(err);
  conf.release();
  uint64_t total = 0;
  std::vector<std::vector<uint64_t>> counts(topics.size());
  std::string trimmed;
  for (size_t t = 0; t < topics.size(); ++t) {
    for (int p = 0; p < o.partitions; ++p) {
      int64_t low = 0, high = 0;
      if (auto e = rd_kafka_query_watermark_offsets(rk.get(), topics[t].c_str(), p, &low, &high,
                                                    10000)) {
        throw KafkaError("watermarks of " + topics[t] + ": " + rd_kafka_err2str(e));
      }
      if (low != 0 && trimmed.empty()) {
        trimmed = fmt::format("{} [{}] (first offset {})", topics[t], p, low);
      }
      counts[t].push_back(static_cast<uint64_t>(high));
      total += static_cast<uint64_t>(high);
    }
  }
  const Hottest hottest = hottest_of(topics, counts);
  if (!trimmed.empty()) {
    // A tenant's events share one partition whatever their number: more partitions do not
    // shrink the hottest one (bench/README.md, "Keys").
    throw std::runtime_error(fmt::format(
        "the mock trimmed {}; hottest partition {}: {}", trimmed, hottest.describe(),
        o.keys == "tenant"
            ? "a tenant's events all go to one partition, and the mock keeps ~5 MB of each "
              "(~28 000 lz4-compressed events): use fewer --events (250 000 fit; 400 000 with "
              "--producer-prop compression.type=zstd), or --sink-only for 1 000 000"
            : "use more --partitions"));
  }
  if (total != expected) {
    throw std::runtime_error(fmt::format("Kafka holds {} messages, expected {}", total, expected));
  }
  return hottest;
}

// ---------------------------------------------------------------------------------------------
// The ceiling: raw binary COPY of the encoded rows, batch by batch, one transaction each.

double copy_ceiling(const Options& o, const EncodedRows& rows, int streams, bool direct = false) {
  const std::string db = fmt::format("bench_ceiling_{}", streams);
  create_database(o, db, rows.months);
  checkpoint(o);
  // Into the parent (PostgreSQL routes each row), or straight into the one month partition.
  const auto target = [&](std::string_view table) {
    return direct ? partition_name(table, *rows.months.begin()) : std::string(table);
  };
  // The columns the ingestor COPYs: the built-in types' as the catalog describes them.
  const std::shared_ptr<const Catalog> catalog = load_catalog();
  const std::string audit_sql =
      fmt::format("COPY {} ({}) FROM STDIN (FORMAT binary)", target(kAuditTable),
                  catalog->find("audit")->copy_columns());
  const std::string inv_sql =
      fmt::format("COPY {} ({}) FROM STDIN (FORMAT binary)", target(kInvocationsTable),
                  catalog->find("invocation")->copy_columns());
  const std::string rej_sql =
      fmt::format("COPY {} ({}) FROM STDIN (FORMAT binary)", kRejectsTable, kRejectsColumns);
  const size_t batches = std::max(
      {rows.audit.tuples.size(), rows.invocations.tuples.size(), rows.rejects.tuples.size()});
  std::vector<std::unique_ptr<PgConnection>> conns;
  for (int s = 0; s < streams; ++s) conns.push_back(std::make_unique<PgConnection>(db_url(o, db)));
  for (auto& c : conns) c->connect();
  std::atomic<bool> failed{false};
  std::string error;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int s = 0; s < streams; ++s) {
    threads.emplace_back([&, s] {
      try {
        PgConnection& c = *conns[static_cast<size_t>(s)];
        for (size_t b = static_cast<size_t>(s); b < batches; b += static_cast<size_t>(streams)) {
          c.exec("BEGIN");
          for (const auto& [blocks, sql] :
               {std::pair{&rows.audit, &audit_sql}, std::pair{&rows.invocations, &inv_sql},
                std::pair{&rows.rejects, &rej_sql}}) {
            if (b >= blocks->tuples.size()) continue;
            c.begin_copy(sql->c_str());
            c.put_copy_data(blocks->tuples[b]);
            c.end_copy();
          }
          c.exec("COMMIT");
        }
      } catch (const std::exception& e) {
        if (!failed.exchange(true)) error = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = seconds_since(start);
  if (failed) throw std::runtime_error("ceiling COPY: " + error);
  PgConnection c(db_url(o, db));
  c.connect();
  const int64_t stored =
      count(c, "audit_logs") + count(c, "invocations") + count(c, "ingest_rejects");
  if (static_cast<uint64_t>(stored) != o.events) {
    throw std::runtime_error(fmt::format("ceiling stored {} rows, expected {}", stored, o.events));
  }
  c.close();
  drop_database(o, db);
  return static_cast<double>(o.events) / seconds;
}

// ---------------------------------------------------------------------------------------------

/// One run of the ingestor over the preloaded (or live-published) events.
struct IngestPhase {
  IngestResult r;
  int64_t audit = 0, invocations = 0, rejects = 0;
  bool exact = false;
  double rate = 0;             ///< rows/s from the moment every partition is assigned
  double rate_from_start = 0;  ///< rows/s from process start
  double steady_rate = 0;      ///< rows/s from the first commit
  double mock_cpu = 0;         ///< this process (the mock Kafka) over the same interval
  double postgres_cpu = 0;     ///< the PostgreSQL server over the same interval
  double publish_seconds = 0;  ///< --rate: how long publishing took
  MachineLoad load;
  /// CPU per row over the measured interval: the ingestor's own, and everything else the
  /// machine did meanwhile (PostgreSQL, the mock Kafka, this bench).
  double ingestor_us_per_row = 0, rest_us_per_row = 0;
};

/// The ceilings of one round: binary COPY of the same rows, best of 1 and 2 streams.
struct Ceilings {
  double one = 0, two = 0, direct1 = 0, direct2 = 0, sorted1 = 0, sorted2 = 0;
  MachineLoad load;  ///< over the two-stream COPY
  double best() const { return std::max(one, two); }
  /// The whole machine's CPU per row in the two-stream COPY (PostgreSQL, and this bench's client).
  double us_per_row() const { return two > 0 ? load.busy * 1e6 / two : 0; }
};

Ceilings measure_ceilings(const Options& o, const EncodedRows& rows) {
  Ceilings c;
  fmt::print("   ceiling: binary COPY of the same {} rows into fresh tables ...\n", o.events);
  c.one = copy_ceiling(o, rows, 1);
  const MachineTimes before = machine_times();
  const auto t = Clock::now();
  c.two = copy_ceiling(o, rows, 2);
  c.load = machine_load(before, machine_times(), seconds_since(t));
  fmt::print("   1 stream {:.0f} rows/s, 2 streams {:.0f} rows/s (machine: {})\n", c.one, c.two,
             describe(c.load));
  if (o.ceiling_sorted) {
    EncodedRows sorted;
    sorted.audit = in_index_order(rows.audit);
    sorted.invocations = in_index_order(rows.invocations);
    sorted.rejects = rows.rejects;
    sorted.months = rows.months;
    c.sorted1 = copy_ceiling(o, sorted, 1);
    c.sorted2 = copy_ceiling(o, sorted, 2);
    fmt::print(
        "   each batch in (tenant_id, ts) order: 1 stream {:.0f} rows/s, 2 streams {:.0f} "
        "rows/s\n",
        c.sorted1, c.sorted2);
  }
  if (o.ceiling_direct && rows.months.size() == 1) {
    c.direct1 = copy_ceiling(o, rows, 1, true);
    c.direct2 = copy_ceiling(o, rows, 2, true);
    fmt::print("   straight into {}: 1 stream {:.0f} rows/s, 2 streams {:.0f} rows/s\n",
               partition_name(kAuditTable, *rows.months.begin()), c.direct1, c.direct2);
  }
  return c;
}

/// Keys spread evenly over the partitions (the gateway keys by tenant, which is Zipf-skewed:
/// hot partitions would overflow the mock's retention first).
std::string key_of(uint64_t i) { return std::to_string(i * 2654435761u); }

/// The Kafka key of the i-th event: spread evenly, or its tenant (--keys tenant).
std::string key_of(const Options& o, const GeneratedEvent& e, uint64_t i) {
  return o.keys == "tenant" ? e.key : key_of(i);
}

/// Starts `sentinel-ingest run` on a fresh database and watches it until every event is
/// committed. In --rate mode it publishes `gen`'s events at o.rate meanwhile.
IngestPhase run_ingestor(const Options& o, const MockCluster& mock,
                         const std::vector<std::string>& topics, const std::set<int32_t>& months,
                         int round, EventGenerator& gen) {
  const bool rate_mode = o.rate > 0;
  const std::string db = "bench_ingest";
  fmt::print("   creating database {} (migrations, month partitions) ...\n", db);
  create_database(o, db, months);
  checkpoint(o);

  const int port = o.metrics_port > 0 ? o.metrics_port : free_port();
  std::vector<std::string> argv = {o.ingest_bin,
                                   "run",
                                   "--pg",
                                   db_url(o, db),
                                   "--brokers",
                                   mock.bootstraps(),
                                   "--metrics-listen",
                                   fmt::format("127.0.0.1:{}", port)};
  const auto given = [&](std::string_view prefix) {
    return std::any_of(o.ingest_args.begin(), o.ingest_args.end(),
                       [&](const std::string& a) { return a.rfind(prefix, 0) == 0; });
  };
  // Each round is a new consumer group: it starts from the beginning, as the first did, and
  // does not wait for the previous round's member to leave.
  if (!given("--group"))
    argv.insert(argv.end(), {"--group", fmt::format("sentinel-bench-{}", round)});
  // A real broker answers a waiting fetch as soon as data arrives; the mock always waits out
  // fetch.wait.max.ms (500 ms by default), which would be most of the latency measured. In
  // --rate mode the consumer asks it to wait at most 10 ms, unless told otherwise.
  if (rate_mode && !given("fetch.wait.max.ms=")) {
    argv.insert(argv.end(), {"--kafka-prop", "fetch.wait.max.ms=10"});
  }
  // A status line every second in ingest-N.log: what the consumer waited for (Kafka or the
  // writers), second by second, tells a slow round's cause from the log.
  if (!given("--status-interval")) argv.insert(argv.end(), {"--status-interval", "1"});
  argv.insert(argv.end(), o.ingest_args.begin(), o.ingest_args.end());
  fmt::print("   running {} run ... {}\n", o.ingest_bin, fmt::join(o.ingest_args, " "));
  IngestPhase p;
  const pid_t postmaster = postmaster_pid(o);
  const double cpu_before = cpu_seconds_self();
  const double pg_cpu_before = postgres_cpu_seconds(postmaster);
  const auto start = Clock::now();
  const std::string suffix = o.rounds == 1 ? "" : fmt::format("-{}", round);
  const Child child = spawn(argv, fmt::format("{}/ingest{}.log", o.out_dir, suffix));
  try {
    if (rate_mode) {
      // The producer learns the partition leaders now, while the ingestor joins its group: its
      // first messages would otherwise wait out that lookup and start the run with a backlog.
      Publisher pub(mock.bootstraps(), {{"linger.ms", "5"}});
      pub.await_topics(topics, 10000);
      // Publish once the ingestor fetches every partition: its lag gauge has a partition once a
      // fetch answered for it. A new group can start a partition 500 ms after the assignment
      // (bench/results/2026-11-24.md, fifth session); a running ingestor has long done that.
      for (;;) {
        const std::string text = get_metrics(port);
        if (metric_sum(text, "sentinel_ingest_assigned_partitions ") >= 2.0 * o.partitions &&
            metric_samples(text, "sentinel_ingest_consumer_lag{").count >= 2 * o.partitions) {
          break;
        }
        if (!alive(child.pid)) throw std::runtime_error("the ingestor exited; see ingest.log");
        if (seconds_since(start) > 60) throw std::runtime_error("not fetching within 60 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      std::thread publisher([&] {
        const auto t = Clock::now();
        for (uint64_t i = 0; i < o.events; ++i) {
          const GeneratedEvent e = gen.next();
          pub.produce(topics[e.topic_index], key_of(o, e, i), e.payload);
          const auto due =
              t + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(i + 1) / o.rate));
          if (due > Clock::now()) std::this_thread::sleep_until(due);
        }
        pub.flush();
        p.publish_seconds = seconds_since(t);
      });
      const auto warmup =
          std::min<uint64_t>(o.events / 2, static_cast<uint64_t>(o.warmup_seconds * o.rate));
      p.r = watch(child, port, o.events, o.partitions, start, warmup);
      publisher.join();
    } else {
      p.r = watch(child, port, o.events, o.partitions, start);
    }
  } catch (...) {
    stop(child);
    throw;
  }
  const IngestResult& r = p.r;
  // Over the measured interval, from the assignment on (left at 0 for a run that did not finish).
  if (r.complete && r.assigned > 0) {
    p.load = machine_load(r.machine_at_assigned, r.machine_at_done, r.seconds - r.assigned);
    const double events = static_cast<double>(o.events);
    p.ingestor_us_per_row = (r.cpu - r.cpu_at_assigned) * 1e6 / events;
    p.rest_us_per_row =
        p.load.busy * (r.seconds - r.assigned) * 1e6 / events - p.ingestor_us_per_row;
  }
  p.mock_cpu = cpu_seconds_self() - cpu_before;
  p.postgres_cpu = postgres_cpu_seconds(postmaster) - pg_cpu_before;
  stop(child);
  { std::ofstream(fmt::format("{}/metrics{}.txt", o.out_dir, suffix)) << r.metrics; }

  // Verify: every message is a row or a reject, exactly once.
  const Stored stored = verify_and_drop(o, db);
  p.audit = stored.audit;
  p.invocations = stored.invocations;
  p.rejects = stored.rejects;
  p.exact = stored.exact;

  // The consumer group join is Kafka's (group.initial.rebalance.delay.ms, 3 s on real brokers
  // and in the mock), not the ingestor's work: the rate compared with the ceiling is measured
  // from the moment every partition is assigned.
  p.rate = static_cast<double>(o.events) / std::max(1e-3, r.seconds - r.assigned);
  p.rate_from_start = static_cast<double>(o.events) / r.seconds;
  p.steady_rate =
      r.seconds > r.first_commit ? static_cast<double>(o.events) / (r.seconds - r.first_commit) : 0;
  fmt::print(
      "   ingestor {:.0f} rows/s, {:.2f} µs CPU per message, peak RSS {:.1f} MiB (machine: "
      "{})\n",
      p.rate, r.cpu * 1e6 / static_cast<double>(o.events), r.peak_rss_mib, describe(p.load));
  return p;
}

void write_plot(const Options& o, const std::vector<IngestPhase>& runs, double ceiling) {
  std::string plot;
  for (size_t k = 0; k < runs.size(); ++k) {
    const std::vector<Sample>& s = runs[k].r.samples;
    const std::string dat = runs.size() == 1 ? o.out_dir + "/rate.dat"
                                             : fmt::format("{}/rate-{}.dat", o.out_dir, k + 1);
    std::ofstream out(dat);
    out << "# t_seconds rows_per_s stored ingestor_cpu_cores (rates over the last second)\n";
    size_t j = 0;
    for (size_t i = 1; i < s.size(); ++i) {
      const Sample& b = s[i];
      while (j + 1 < i && s[j + 1].t <= b.t - 1.0) ++j;
      const Sample& a = s[j];
      const double dt = b.t - a.t;
      if (dt <= 0) continue;
      out << fmt::format("{:.3f} {:.0f} {:.0f} {:.2f}\n", b.t, (b.stored - a.stored) / dt, b.stored,
                         (b.cpu - a.cpu) / dt);
    }
    const std::string round = runs.size() == 1 ? "" : fmt::format(" (round {})", k + 1);
    plot += fmt::format(
        "{}'{}' using 1:2 with lines lw 2 title 'ingestor{}', '{}' using 1:4 axes "
        "x1y2 with lines title 'ingestor CPU{}'",
        plot.empty() ? "plot " : ", ", dat, round, dat, round);
  }
  if (ceiling > 0) plot += fmt::format(", {:.0f} with lines dt 2 title 'COPY ceiling'", ceiling);
  std::ofstream gp(o.out_dir + "/rate.gp");
  gp << "set terminal png size 1000,500 noenhanced\n"
     << "set output '" << o.out_dir << "/rate.png'\n"
     << "set title 'sentinel-ingest: rows committed per second'\n"
     << "set xlabel 'seconds since the ingestor started'\nset ylabel 'rows/s'\n"
     << "set y2label 'ingestor CPU (cores)'\nset y2tics\nset ytics nomirror\nset grid\n"
     << "set key outside bottom center horizontal\n"
     << plot << "\n";
  gp.close();
  if (std::system(("gnuplot '" + o.out_dir + "/rate.gp' 2>/dev/null").c_str()) != 0) {
    fmt::print(stderr, "gnuplot failed (is it installed?): no rate.png\n");
  }
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---------------------------------------------------------------------------------------------
// --sink-only: the same events from memory through the ingestor's own parts, no Kafka.

/// The events as a consumer receives them, held in memory: each message's place in Kafka, and
/// the order a fetch delivers them in.
struct Feed {
  struct Message {
    int topic = 0;
    int32_t partition = 0;
    int64_t offset = 0;
    int64_t timestamp_ms = 0;
    size_t begin = 0;  ///< into payloads
    uint32_t size = 0;
  };
  std::string payloads;
  std::vector<Message> messages;  ///< in delivery order
  /// Per partition: one past its last offset (what the commits must reach).
  std::map<PartitionKey, int64_t> ends;
};

/// Messages one fetch hands over from one partition (the mock answers with one producer batch
/// per partition; the preloading producer's batches hold ~2 000 events): runs of this many,
/// partitions in turn.
constexpr size_t kFetchRun = 2000;

/// Generates the events (encoding each with `encode` for the ceiling) and keys them onto
/// partitions with librdkafka's own partitioner, as the publishing producer would.
Feed make_feed(const Options& o, EventGenerator& gen,
               const std::function<void(const GeneratedEvent&, uint64_t)>& encode) {
  Feed feed;
  std::vector<Feed::Message> all;
  all.reserve(o.events);
  std::map<PartitionKey, std::vector<uint32_t>> by_partition;
  const int64_t now_ms = now_unix_micros() / 1000;
  for (uint64_t i = 0; i < o.events; ++i) {
    const GeneratedEvent e = gen.next();
    encode(e, i);
    const std::string key = key_of(o, e, i);
    const int32_t partition = rd_kafka_msg_partitioner_consistent(nullptr, key.data(), key.size(),
                                                                  o.partitions, nullptr, nullptr);
    const PartitionKey pk{e.topic_index, partition};
    int64_t& next = feed.ends[pk];
    by_partition[pk].push_back(static_cast<uint32_t>(all.size()));
    all.push_back({e.topic_index, partition, next++, now_ms, feed.payloads.size(),
                   static_cast<uint32_t>(e.payload.size())});
    feed.payloads += e.payload;
  }
  feed.messages.reserve(all.size());
  for (size_t run = 0; feed.messages.size() < all.size(); ++run) {
    for (const auto& [key, list] : by_partition) {
      for (size_t k = run * kFetchRun; k < std::min(list.size(), (run + 1) * kFetchRun); ++k) {
        feed.messages.push_back(all[list[k]]);
      }
    }
  }
  return feed;
}

/// One round of --sink-only.
struct SinkRound {
  double seconds = 0;       ///< first message built → every chunk committed
  double cpu = 0;           ///< this process's CPU over `seconds` (consumer + writer threads)
  double peak_rss_mib = 0;  ///< VmHWM over the ingest phase (reset before it)
  double base_rss_mib = 0;  ///< resident before it: the events and the ceiling's rows
  double rate = 0;          ///< rows/s
  double throttled_ms = 0;  ///< time the feed waited because Backpressure said throttled
  double batches = 0;
  Stored stored;
  MachineLoad load;
};

SinkRound run_sink_round(const Options& o, const std::vector<std::string>& topics, const Feed& feed,
                         const std::set<int32_t>& months) {
  const std::string db = "bench_sink";
  fmt::print("   creating database {} (migrations, month partitions) ...\n", db);
  create_database(o, db, months);
  checkpoint(o);

  // The ingestor's defaults, and its parts wired as Pipeline wires them.
  PipelineOptions po;
  po.pg_url = db_url(o, db);
  po.topics = topics;
  resolve_types(po);
  std::vector<TopicSpec> specs;
  std::vector<std::string> tables;
  for (size_t t = 0; t < topics.size(); ++t) specs.push_back({topics[t], static_cast<int>(t)});
  for (const EventType& t : po.catalog->types()) tables.push_back(t.table);
  Metrics metrics;
  metrics.set_streams(topics, tables);
  ChunkBuilder builder(po.catalog, specs, po.limits, po.chunk_bytes);
  OffsetCoordinator offsets([&](const PartitionKey& k) { builder.close(k.first, k.second); });
  Backpressure budget(po.inflight_budget_bytes, po.writers, po.pause_after);
  Failure failure;
  std::atomic<bool> connection_lost{false};
  WriterPool writers(po, topics, metrics, {offsets, budget, failure, connection_lost});
  // Every partition assigned with nothing stored, as a new group's consumer starts them.
  for (const auto& [key, end] : feed.ends) {
    offsets.assign(key);
    builder.open(key.first, key.second, Chunk::kNoStoredOffset,
                 offsets.start(key, Chunk::kNoStoredOffset));
  }
  fmt::print("   feeding {} messages of {} partitions through ChunkBuilder into {} writers ...\n",
             feed.messages.size(), feed.ends.size(), po.writers);

  SinkRound r;
  // What the previous round freed goes back to the kernel first, so that the resident set before
  // the phase is the events and the ceiling's rows; then VmHWM counts from here on.
  malloc_trim(0);
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  r.base_rss_mib = status_mib(getpid(), "VmRSS:");
  const double cpu0 = cpu_seconds_self();
  const MachineTimes m0 = machine_times();
  const auto start = Clock::now();
  writers.start();
  std::vector<ChunkPtr> ready;
  auto last_flush = Clock::now();
  Clock::duration throttled_for{};
  for (size_t next = 0; next < feed.messages.size() && !failure.failed();) {
    // As ConsumerLoop::run: decide, hold back a little when over budget, take a cycle's worth,
    // hand partly filled chunks over every kFlushInterval (or at the end) unless throttled.
    budget.update(Clock::now());
    const bool throttled = budget.throttled();
    if (throttled) {
      const auto t0 = Clock::now();
      std::this_thread::sleep_for(ConsumerLoop::kThrottleWait);
      throttled_for += Clock::now() - t0;
    }
    const size_t end = std::min(
        feed.messages.size(),
        next + (throttled ? ConsumerLoop::kThrottledPerCycle : ConsumerLoop::kMaxPerCycle));
    const int64_t now_us = now_unix_micros();
    for (; next < end; ++next) {
      const Feed::Message& m = feed.messages[next];
      if (ChunkPtr full =
              builder.add(m.topic, m.partition, m.offset, m.timestamp_ms,
                          std::string_view(feed.payloads).substr(m.begin, m.size), now_us)) {
        writers.submit(std::move(full));
      }
    }
    if (!throttled && (next == feed.messages.size() ||
                       Clock::now() - last_flush >= ConsumerLoop::kFlushInterval)) {
      builder.flush(ready);
      last_flush = Clock::now();
    }
    for (auto& c : ready) writers.submit(std::move(c));
    ready.clear();
  }
  builder.flush(ready);  // what a throttled last cycle kept open
  for (auto& c : ready) writers.submit(std::move(c));
  ready.clear();
  // Done when the committed offsets of every partition reach its last message.
  const auto all_committed = [&] {
    offsets.take_commits();
    const auto& committed = offsets.committed();
    return std::all_of(feed.ends.begin(), feed.ends.end(), [&](const auto& e) {
      const auto it = committed.find(e.first);
      return it != committed.end() && it->second >= e.second;
    });
  };
  while (!all_committed()) {
    if (failure.failed()) {
      writers.stop(std::chrono::seconds(1));
      throw std::runtime_error("--sink-only: " + failure.message());
    }
    if (seconds_since(start) > 600) throw std::runtime_error("--sink-only: not done in 10 min");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  r.seconds = seconds_since(start);
  r.cpu = cpu_seconds_self() - cpu0;
  r.load = machine_load(m0, machine_times(), r.seconds);
  r.peak_rss_mib = status_mib(getpid(), "VmHWM:");
  r.throttled_ms = std::chrono::duration<double, std::milli>(throttled_for).count();
  r.batches = static_cast<double>(metrics.batches.load());
  writers.stop(std::chrono::seconds(5));

  r.stored = verify_and_drop(o, db);
  r.rate = static_cast<double>(o.events) / std::max(1e-3, r.seconds);
  fmt::print(
      "   sink-only {:.0f} rows/s, {:.2f} µs CPU per message, peak RSS {:.1f} MiB ({:.1f} above "
      "the {:.1f} MiB of events held), throttled {:.0f} ms (machine: {})\n",
      r.rate, r.cpu * 1e6 / static_cast<double>(o.events), r.peak_rss_mib,
      r.peak_rss_mib - r.base_rss_mib, r.base_rss_mib, r.throttled_ms, describe(r.load));
  return r;
}

int run_sink_only(const Options& o, const std::vector<std::string>& topics, EventGenerator& gen,
                  const std::function<void(const GeneratedEvent&, uint64_t)>& encode,
                  const EncodedRows& rows) {
  fmt::print(
      "1. generating {} events into memory, keyed {} onto {} partitions per topic, and "
      "encoding them for the ceiling ...\n",
      o.events, o.keys, o.partitions);
  const auto t = Clock::now();
  const Feed feed = make_feed(o, gen, encode);
  std::vector<std::vector<uint64_t>> counts(topics.size(), std::vector<uint64_t>(o.partitions, 0));
  for (const auto& [key, end] : feed.ends) {
    counts[key.first][key.second] = static_cast<uint64_t>(end);
  }
  const Hottest hottest = hottest_of(topics, counts);
  fmt::print(
      "   done in {:.1f} s; {} valid, {} invalid; keys {}: hottest partition {} (even: "
      "{:.1f}%)\n",
      seconds_since(t), rows.valid, rows.invalid, o.keys, hottest.describe(), 100.0 / o.partitions);

  std::vector<SinkRound> runs;
  std::vector<Ceilings> ceilings;
  for (int round = 1; round <= o.rounds; ++round) {
    const bool ceiling_first = !o.skip_ceiling && round % 2 == 0;
    fmt::print("{}. round {} of {}{}\n", round + 1, round, o.rounds,
               o.skip_ceiling  ? ""
               : ceiling_first ? ": ceiling, then sink-only"
                               : ": sink-only, then ceiling");
    Ceilings c;
    if (ceiling_first) c = measure_ceilings(o, rows);
    runs.push_back(run_sink_round(o, topics, feed, rows.months));
    if (!o.skip_ceiling && !ceiling_first) c = measure_ceilings(o, rows);
    ceilings.push_back(c);
  }

  const double n = static_cast<double>(o.events);
  std::vector<double> rates, bests, ratios, cpus, peaks, growths, ones, twos;
  for (size_t k = 0; k < runs.size(); ++k) {
    ones.push_back(ceilings[k].one);
    twos.push_back(ceilings[k].two);
    rates.push_back(runs[k].rate);
    bests.push_back(ceilings[k].best());
    ratios.push_back(bests.back() > 0 ? rates.back() / bests.back() : 0);
    cpus.push_back(runs[k].cpu * 1e6 / n);
    peaks.push_back(runs[k].peak_rss_mib);
    growths.push_back(runs[k].peak_rss_mib - runs[k].base_rss_mib);
  }
  const bool exact =
      std::all_of(runs.begin(), runs.end(), [](const SinkRound& x) { return x.stored.exact; });
  fmt::print("\nresult (sink-only, keys {})\n", o.keys);
  fmt::print(
      "  round  sink-only rows/s  ceiling 1 / 2 streams  ratio  CPU per message  peak RSS (above "
      "the events held)  machine (cores)\n");
  for (size_t k = 0; k < runs.size(); ++k) {
    fmt::print(
        "  {:>5}  {:>16.0f}  {:>9.0f} / {:>9.0f}  {:>5.3f}  {:>12.2f} µs  {:>8.1f} ({:.1f}) "
        "MiB  {:>6.2f} / {:.2f}\n",
        k + 1, rates[k], ceilings[k].one, ceilings[k].two, ratios[k], cpus[k], peaks[k], growths[k],
        runs[k].load.busy, ceilings[k].load.busy);
  }
  fmt::print(
      "  median of {} rounds: sink-only {:.0f} rows/s, ceiling {:.0f} rows/s, ratio {:.3f}, "
      "{:.2f} µs CPU per message (consumer and writer threads, getrusage over the ingest phase), "
      "peak RSS {:.1f} MiB ({:.1f} MiB above the events held); keys {}, hottest partition {}\n",
      runs.size(), median(rates), median(bests), median(ratios), median(cpus), median(peaks),
      median(growths), o.keys, hottest.describe());

  std::ofstream json(o.out_dir + "/result.json");
  json << fmt::format(
      "{{\n  \"mode\": \"sink-only\",\n  \"events\": {},\n  \"keys\": \"{}\",\n"
      "  \"partitions\": {},\n  \"hottest_partition\": \"{} [{}]\",\n"
      "  \"hottest_partition_share\": {:.4f},\n  \"invalid_ratio\": {},\n  \"exact\": {},\n"
      "  \"rows_per_s\": {:.0f},\n  \"ceiling_rows_per_s\": {:.0f},\n  \"ratio\": {:.4f},\n"
      "  \"cpu_us_per_message\": {:.3f},\n  \"peak_rss_mib\": {:.1f},\n"
      "  \"peak_rss_above_events_mib\": {:.1f},\n  \"rounds\": {},\n"
      "  \"rounds_rows_per_s\": [{:.0f}],\n  \"rounds_ceiling_1_stream\": [{:.0f}],\n"
      "  \"rounds_ceiling_2_streams\": [{:.0f}],\n  \"rounds_ratio\": [{:.4f}],\n"
      "  \"rounds_cpu_us_per_message\": [{:.3f}],\n  \"rounds_peak_rss_mib\": [{:.1f}],\n"
      "  \"rounds_peak_rss_above_events_mib\": [{:.1f}]\n}}\n",
      o.events, o.keys, o.partitions, hottest.topic, hottest.partition, hottest.share,
      o.invalid_ratio, exact, median(rates), median(bests), median(ratios), median(cpus),
      median(peaks), median(growths), runs.size(), fmt::join(rates, ", "), fmt::join(ones, ", "),
      fmt::join(twos, ", "), fmt::join(ratios, ", "), fmt::join(cpus, ", "), fmt::join(peaks, ", "),
      fmt::join(growths, ", "));
  json.close();
  fmt::print("\nwrote {}/result.json\n", o.out_dir);
  return exact ? 0 : 1;
}

int run(const Options& o) {
  std::system(("mkdir -p '" + o.out_dir + "'").c_str());
  const std::vector<std::string> topics = {"sentinel.audit", "sentinel.invocations"};
  const bool rate_mode = o.rate > 0;
  const bool with_ceiling = !rate_mode && !o.skip_ceiling;
  const auto mode = rate_mode     ? fmt::format("--rate {:.0f}", o.rate)
                    : o.sink_only ? std::string("sink-only")
                                  : std::string("preload");
  fmt::print(
      "sentinel-e2e-bench: {} events, {}, keys {}, {} partitions per topic{}, {:.1f}% invalid, {} "
      "round{}\n",
      o.events, mode, o.keys, o.partitions,
      o.sink_only ? std::string(" (in memory, no Kafka)")
                  : fmt::format(" on {} mock brokers",
                                o.kafka_brokers > 0 ? o.kafka_brokers : (rate_mode ? 1 : 3)),
      o.invalid_ratio * 100, o.rounds, o.rounds == 1 ? "" : "s");

  // Preloaded, three brokers fetch and decompress in parallel as from a real cluster (one
  // broker left the consumer waiting for Kafka 20-40% of its time). In --rate mode each mock
  // broker answers fetches only after fetch.wait.max.ms (10 ms here), so every broker costs the
  // 2-core machine a polling loop: one keeps that cost off the latency being measured.
  const int brokers = o.kafka_brokers > 0 ? o.kafka_brokers : (rate_mode ? 1 : 3);
  GeneratorOptions g;
  g.seed = o.seed;
  g.tenants = o.tenants;
  g.invalid_ratio = o.invalid_ratio;
  g.days_back = o.days_back;
  g.now_unix_micros = now_unix_micros();
  EventGenerator gen(g);
  EventParser parser;
  EncodedRows rows;
  std::string scratch, tuple;
  const size_t block_rows = static_cast<size_t>(o.ceiling_batch_rows) / 2;
  // Encodes one event as the ingestor will (for the ceiling and the months to pre-create).
  auto encode = [&](const GeneratedEvent& e, uint64_t i) {
    scratch.assign(e.payload);
    scratch.append(simdjson::SIMDJSON_PADDING, '\0');
    const MessageContext ctx{static_cast<int32_t>(i % static_cast<uint64_t>(o.partitions)),
                             static_cast<int64_t>(i), g.now_unix_micros};
    tuple.clear();
    std::optional<Rejection> rejection;
    int64_t ts = 0;
    InvocationCost cost;
    if (e.topic_index == 0) {
      rejection = parser.parse_audit(scratch.data(), e.payload.size(), ctx, tuple, ts);
    } else {
      rejection = parser.parse_invocation(scratch.data(), e.payload.size(), ctx, tuple, cost);
      ts = cost.ts_unix_micros;
    }
    if (rejection) {
      encode_reject(tuple, g.now_unix_micros, topics[e.topic_index], ctx.kafka_partition,
                    ctx.kafka_offset, rejection->reason, rejection->detail, e.payload);
      if (!rate_mode) rows.rejects.add(tuple, block_rows);
      ++rows.invalid;
    } else {
      if (!rate_mode) (e.topic_index == 0 ? rows.audit : rows.invocations).add(tuple, block_rows);
      rows.months.insert(month_of_unix_micros(ts));
      ++rows.valid;
    }
  };
  if (o.sink_only) return run_sink_only(o, topics, gen, encode, rows);

  MockCluster mock(brokers, topics, o.partitions);
  Hottest hottest;

  if (!rate_mode) {
    fmt::print(
        "1. publishing {} events to the mock Kafka (lz4) and encoding them for the "
        "ceiling ...\n",
        o.events);
    const auto t = Clock::now();
    // Large producer batches: the mock broker hands out one batch per partition per fetch.
    std::vector<std::pair<std::string, std::string>> props = {{"linger.ms", "500"},
                                                              {"batch.num.messages", "100000"}};
    for (const std::string& kv : o.producer_props) {
      const size_t eq = kv.find('=');
      props.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    Publisher pub(mock.bootstraps(), props);
    for (uint64_t i = 0; i < o.events; ++i) {
      const GeneratedEvent e = gen.next();
      encode(e, i);
      pub.produce(topics[e.topic_index], key_of(o, e, i), e.payload);
    }
    pub.flush();
    hottest = check_not_trimmed(o, mock.bootstraps(), topics, o.events);
    fmt::print("   done in {:.1f} s; {} valid, {} invalid; nothing trimmed\n", seconds_since(t),
               rows.valid, rows.invalid);
    fmt::print("   keys {}: hottest partition {} (even: {:.1f}%)\n", o.keys, hottest.describe(),
               100.0 / o.partitions);
  } else {
    // Months present in the data, without keeping it: the generator is deterministic.
    EventGenerator probe(g);
    for (uint64_t i = 0; i < o.events; ++i) encode(probe.next(), i);
  }

  // Rounds alternate which is measured first, the ingestor or the ceiling, so that neither
  // always gets the fresher server; each round's ratio compares measurements minutes apart at
  // most, and the median of the rounds is the figure that counts (the VM's neighbours move
  // both, bench/README.md).
  std::vector<IngestPhase> runs;
  std::vector<Ceilings> ceilings;
  for (int round = 1; round <= o.rounds; ++round) {
    const bool ceiling_first = with_ceiling && round % 2 == 0;
    fmt::print("{}. round {} of {}{}\n", round + 1, round, o.rounds,
               with_ceiling
                   ? (ceiling_first ? ": ceiling, then ingestor" : ": ingestor, then ceiling")
                   : "");
    Ceilings c;
    if (ceiling_first) c = measure_ceilings(o, rows);
    runs.push_back(run_ingestor(o, mock, topics, rows.months, round, gen));
    if (with_ceiling && !ceiling_first) c = measure_ceilings(o, rows);
    ceilings.push_back(c);
  }

  std::vector<double> ratios, rates, bests, peaks;
  for (size_t k = 0; k < runs.size(); ++k) {
    rates.push_back(runs[k].rate);
    bests.push_back(ceilings[k].best());
    ratios.push_back(bests.back() > 0 ? rates.back() / bests.back() : 0);
    peaks.push_back(runs[k].r.peak_rss_mib);
  }
  const double ratio = median(ratios);
  // The round shown in detail: the one at the median ratio (the lower of the middle two).
  std::vector<size_t> order(runs.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return with_ceiling ? ratios[a] < ratios[b] : rates[a] < rates[b];
  });
  const size_t mid = order[(order.size() - 1) / 2];
  const IngestPhase& p = runs[mid];
  const IngestResult& r = p.r;
  const Ceilings& c = ceilings[mid];
  const bool exact =
      std::all_of(runs.begin(), runs.end(), [](const IngestPhase& x) { return x.exact; });
  const bool complete =
      std::all_of(runs.begin(), runs.end(), [](const IngestPhase& x) { return x.r.complete; });
  const double peak_rss = *std::max_element(peaks.begin(), peaks.end());

  fmt::print("\nresult ({}, keys {})\n", mode, o.keys);
  if (!rate_mode) fmt::print("  hottest partition {}\n", hottest.describe());
  if (runs.size() > 1) {
    // Machine: cores busy while the ingestor ran / during the 2-stream ceiling. CPU per row:
    // the ingestor's own + everything else / the 2-stream ceiling's, all in µs.
    fmt::print(
        "  round  ingestor rows/s  ceiling 1 / 2 streams  ratio  peak RSS  machine (cores)  "
        "CPU per row (µs)\n");
    for (size_t k = 0; k < runs.size(); ++k) {
      fmt::print(
          "  {:>5}  {:>15.0f}  {:>9.0f} / {:>9.0f}  {:>5.3f}  {:>8.1f}  {:>6.2f} / {:.2f}  "
          "{:.2f} + {:.2f} / {:.2f}\n",
          k + 1, rates[k], ceilings[k].one, ceilings[k].two, ratios[k], peaks[k], runs[k].load.busy,
          ceilings[k].load.busy, runs[k].ingestor_us_per_row, runs[k].rest_us_per_row,
          ceilings[k].us_per_row());
    }
    fmt::print(
        "  median of {} rounds: ingestor {:.0f} rows/s, ceiling {:.0f} rows/s{}; highest "
        "peak RSS {:.1f} MiB\n",
        runs.size(), median(rates), median(bests),
        with_ceiling ? fmt::format(", ratio {:.3f}", ratio) : "", peak_rss);
    fmt::print("  round {}, at the median, in detail:\n", mid + 1);
  }
  fmt::print("  ingestor       {:>10.0f} rows/s  (partitions assigned → all committed, {:.2f} s)\n",
             p.rate, r.seconds - r.assigned);
  fmt::print(
      "                 {:>10.0f} rows/s  (process start → all committed, {:.2f} s; group "
      "join {:.2f} s, first commit at {:.2f} s)\n",
      p.rate_from_start, r.seconds, r.assigned, r.first_commit);
  if (c.best() > 0) {
    fmt::print("  COPY ceiling   {:>10.0f} rows/s  (best of 1 stream {:.0f}, 2 streams {:.0f})\n",
               c.best(), c.one, c.two);
    fmt::print(
        "  ratio          {:>10.3f}{}\n", ratios[mid],
        runs.size() > 1 ? fmt::format("  (median of {} rounds: {:.3f})", runs.size(), ratio) : "");
  }
  if (rate_mode)
    fmt::print("  published      {:.0f}/s for {:.1f} s\n", o.events / p.publish_seconds,
               p.publish_seconds);
  fmt::print("  ingestor CPU   {:>10.2f} s  ({:.2f} cores; {:.2f} µs per message)\n", r.cpu,
             r.cpu / std::max(1e-3, r.seconds - r.assigned),
             r.cpu * 1e6 / static_cast<double>(o.events));
  fmt::print("  page faults    {:>10.0f}    ({:.3f} per message)\n", r.minor_faults,
             r.minor_faults / static_cast<double>(o.events));
  fmt::print("  mock Kafka CPU {:>10.2f} s  (this process, same interval)\n", p.mock_cpu);
  fmt::print(
      "  PostgreSQL CPU {:>10.2f} s  ({:.2f} µs per row; every server process, same "
      "interval)\n",
      p.postgres_cpu, p.postgres_cpu * 1e6 / static_cast<double>(o.events));
  fmt::print("  machine        {}{}\n", describe(p.load),
             c.best() > 0 ? fmt::format(" (ceiling, 2 streams: {})", describe(c.load)) : "");
  fmt::print(
      "  CPU per row    the ingestor {:.2f} µs + the rest (PostgreSQL, mock Kafka, bench) "
      "{:.2f} µs{}\n",
      p.ingestor_us_per_row, p.rest_us_per_row,
      c.best() > 0 ? fmt::format("; the ceiling, 2 streams: {:.2f} µs", c.us_per_row()) : "");
  fmt::print("  peak RSS       {:>10.1f} MiB\n", r.peak_rss_mib);
  fmt::print("  batch commit   p50 {:.1f} ms, p99 {:.1f} ms ({:.0f} batches)\n", r.commit_p50 * 1e3,
             r.commit_p99 * 1e3, r.batches);
  if (!r.warm_metrics.empty()) {
    fmt::print("  after the first {:.0f} s of publishing:\n", o.warmup_seconds);
    fmt::print("  end to end     p50 {:.1f} ms, p99 {:.1f} ms\n", r.steady_e2e_p50 * 1e3,
               r.steady_e2e_p99 * 1e3);
    fmt::print(
        "  in the ingestor p50 {:.1f} ms, p99 {:.1f} ms (received by its consumer → committed)\n",
        r.steady_own_p50 * 1e3, r.steady_own_p99 * 1e3);
    fmt::print("  batch commit   p99 {:.1f} ms\n", r.steady_commit_p99 * 1e3);
    fmt::print("  over the whole run:\n");
  }
  fmt::print("  end to end     p50 {:.1f} ms, p99 {:.1f} ms{}\n", r.e2e_p50 * 1e3, r.e2e_p99 * 1e3,
             rate_mode ? "" : " (preloaded backlog: waiting time included)");
  fmt::print(
      "  in the ingestor p50 {:.1f} ms, p99 {:.1f} ms (received by its consumer → committed)\n",
      r.own_p50 * 1e3, r.own_p99 * 1e3);

  // The top-level figures are the median round's; "ratio" is the median of the rounds' ratios
  // and "peak_rss_mib" the highest peak of any round.
  std::vector<double> ones, twos;
  for (const Ceilings& x : ceilings) {
    ones.push_back(x.one);
    twos.push_back(x.two);
  }
  std::ofstream json(o.out_dir + "/result.json");
  json << fmt::format(
      "{{\n  \"mode\": \"{}\",\n  \"events\": {},\n  \"keys\": \"{}\",\n"
      "  \"hottest_partition\": \"{} [{}]\",\n  \"hottest_partition_share\": {:.4f},\n"
      "  \"rate\": {},\n  \"partitions\": {},\n"
      "  \"invalid_ratio\": {},\n  \"complete\": {},\n  \"exact\": {},\n"
      "  \"rows\": {{\"audit_logs\": {}, \"invocations\": {}, \"ingest_rejects\": {}}},\n"
      "  \"ingest_seconds\": {:.3f},\n  \"first_commit_seconds\": {:.3f},\n"
      "  \"ingest_rows_per_s\": {:.0f},\n  \"ingest_rows_per_s_from_process_start\": {:.0f},\n"
      "  \"group_join_seconds\": {:.3f},\n  \"ingest_steady_rows_per_s\": {:.0f},\n"
      "  \"ceiling_rows_per_s\": {:.0f},\n  \"ceiling_1_stream\": {:.0f},\n"
      "  \"ceiling_2_streams\": {:.0f},\n  \"ceiling_direct_1_stream\": {:.0f},\n"
      "  \"ceiling_direct_2_streams\": {:.0f},\n  \"ceiling_sorted_1_stream\": {:.0f},\n"
      "  \"ceiling_sorted_2_streams\": {:.0f},\n  \"days_back\": {},\n  \"ratio\": {:.4f},\n"
      "  \"ingest_cpu_seconds\": {:.2f},\n  \"ingest_cpu_cores\": {:.3f},\n"
      "  \"mock_kafka_cpu_seconds\": {:.2f},\n  \"postgres_cpu_seconds\": {:.2f},\n"
      "  \"postgres_cpu_us_per_row\": {:.3f},\n  \"peak_rss_mib\": {:.1f},\n"
      "  \"ingest_minor_faults\": {:.0f},\n  \"kafka_brokers\": {},\n"
      "  \"batch_commit_p50_ms\": {:.2f},\n  \"batch_commit_p99_ms\": {:.2f},\n"
      "  \"end_to_end_p50_ms\": {:.2f},\n  \"end_to_end_p99_ms\": {:.2f},\n"
      "  \"in_ingestor_p50_ms\": {:.2f},\n  \"in_ingestor_p99_ms\": {:.2f},\n"
      "  \"warmup_seconds\": {},\n  \"steady_end_to_end_p50_ms\": {:.2f},\n"
      "  \"steady_end_to_end_p99_ms\": {:.2f},\n  \"steady_in_ingestor_p50_ms\": {:.2f},\n"
      "  \"steady_in_ingestor_p99_ms\": {:.2f},\n  \"steady_batch_commit_p99_ms\": {:.2f},\n"
      "  \"batches\": {:.0f},\n  \"machine_busy_cores\": {:.2f},\n"
      "  \"machine_iowait_cores\": {:.2f},\n  \"machine_steal_cores\": {:.2f},\n"
      "  \"rounds\": {},\n  \"median_round\": {},\n  \"rounds_ingest_rows_per_s\": [{:.0f}],\n"
      "  \"rounds_ceiling_1_stream\": [{:.0f}],\n  \"rounds_ceiling_2_streams\": [{:.0f}],\n"
      "  \"rounds_ratio\": [{:.4f}],\n  \"rounds_peak_rss_mib\": [{:.1f}],\n"
      "  \"ingest_args\": \"{}\"\n}}\n",
      rate_mode ? "rate" : "preload", o.events, o.keys, hottest.topic, hottest.partition,
      hottest.share, o.rate, o.partitions, o.invalid_ratio, complete, exact, p.audit, p.invocations,
      p.rejects, r.seconds, r.first_commit, p.rate, p.rate_from_start, r.assigned, p.steady_rate,
      c.best(), c.one, c.two, c.direct1, c.direct2, c.sorted1, c.sorted2, o.days_back, ratio, r.cpu,
      r.cpu / std::max(1e-3, r.seconds - r.assigned), p.mock_cpu, p.postgres_cpu,
      p.postgres_cpu * 1e6 / static_cast<double>(o.events), peak_rss, r.minor_faults, brokers,
      r.commit_p50 * 1e3, r.commit_p99 * 1e3, r.e2e_p50 * 1e3, r.e2e_p99 * 1e3, r.own_p50 * 1e3,
      r.own_p99 * 1e3, r.warm_metrics.empty() ? 0 : o.warmup_seconds, r.steady_e2e_p50 * 1e3,
      r.steady_e2e_p99 * 1e3, r.steady_own_p50 * 1e3, r.steady_own_p99 * 1e3,
      r.steady_commit_p99 * 1e3, r.batches, p.load.busy, p.load.iowait, p.load.steal, runs.size(),
      mid + 1, fmt::join(rates, ", "), fmt::join(ones, ", "), fmt::join(twos, ", "),
      fmt::join(ratios, ", "), fmt::join(peaks, ", "), fmt::join(o.ingest_args, " "));
  json.close();
  write_plot(o, runs, median(bests));
  const std::string each = runs.size() == 1 ? "" : "-N";
  fmt::print("\nwrote {0}/result.json, {0}/rate.png, {0}/metrics{1}.txt, {0}/ingest{1}.log{2}\n",
             o.out_dir, each, runs.size() == 1 ? "" : " (N: the round)");
  return complete && exact ? 0 : 1;
}

}  // namespace
}  // namespace sentinel

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show up at once in a log
  sentinel::Options o;
  CLI::App app("End-to-end benchmark of sentinel-ingest against the PostgreSQL COPY ceiling");
  app.add_option("--pg", o.pg, "libpq key=value string of the server (dbname is appended)")
      ->required();
  app.add_option("--ingest-bin", o.ingest_bin, "Path of the sentinel-ingest binary")->required();
  app.add_option("--out", o.out_dir, "Folder for result.json, rate.png, logs");
  app.add_option("--events", o.events, "Events to publish");
  app.add_option("--rate", o.rate, "Publish at this rate while ingesting (latency mode)");
  app.add_option("--partitions", o.partitions,
                 "Partitions per topic in the mock Kafka (default 64, or 2 with --rate)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--kafka-brokers", o.kafka_brokers,
                 "Brokers of the mock Kafka (default 3, or 1 with --rate); partition leaders are "
                 "spread over them, so the consumer fetches from each in parallel")
      ->check(CLI::Range(1, 9));
  app.add_option("--invalid-ratio", o.invalid_ratio, "Share of malformed events");
  app.add_option("--seed", o.seed, "Generator seed");
  app.add_option("--tenants", o.tenants, "Tenants");
  app.add_option("--days-back", o.days_back,
                 "Event timestamps fall in the last N days (1: a live stream; more: a backfill, "
                 "with more cost rows per batch)");
  app.add_flag("--ceiling-direct", o.ceiling_direct,
               "Also measure the ceiling COPYing straight into the month partition (needs all "
               "rows in one month)");
  app.add_flag("--ceiling-sorted", o.ceiling_sorted,
               "Also measure the ceiling with each batch's rows in (tenant_id, ts) order, as the "
               "ingestor COPYs them (the ceiling itself keeps the rows in Kafka order)");
  app.add_option("--metrics-port", o.metrics_port, "Port of the ingestor's /metrics");
  app.add_option("--ceiling-batch-rows", o.ceiling_batch_rows, "Rows per ceiling transaction");
  app.add_flag("--skip-ceiling", o.skip_ceiling, "Measure the ingestor only");
  app.add_option("--producer-prop", o.producer_props,
                 "librdkafka property KEY=VALUE for the preloading producer (repeatable; e.g. "
                 "batch.size=131072 for smaller compressed batches)")
      ->check([](const std::string& kv) {
        return kv.find('=') == std::string::npos || kv.front() == '='
                   ? std::string("expected KEY=VALUE")
                   : std::string();
      });
  app.add_option("--rounds", o.rounds,
                 "Measure the ingestor and the ceiling this many times, alternating which goes "
                 "first, and report the median ratio (default 3; 1 with --rate or "
                 "--skip-ceiling)")
      ->check(CLI::Range(1, 100));
  app.add_option("--warmup-seconds", o.warmup_seconds,
                 "With --rate: latency is also reported over what is published after this many "
                 "seconds (cold caches, first batches)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--keys", o.keys,
                 "How events are keyed onto partitions: spread (default; evenly, every partition "
                 "alike) or tenant (by tenant id, as the gateway publishes: the generator's "
                 "tenants are Zipf-skewed, so a few partitions hold most events; the hottest "
                 "one's share is reported)")
      ->check(CLI::IsMember({"spread", "tenant"}));
  app.add_flag("--sink-only", o.sink_only,
               "No Kafka, no child process: the same events, generated into memory first, are fed "
               "through the ingestor's ChunkBuilder into a WriterPool in this process, with the "
               "default settings and honouring the in-flight budget, until every offset is "
               "committed; reports rows/s, CPU per message (this process, ingest phase only), "
               "peak RSS and the ratio to the same COPY ceiling. Tells the broker's share from "
               "the ingestor's");
  app.add_option("ingest-args", o.ingest_args, "After --: extra arguments for `run`");
  app.allow_extras(false);
  CLI11_PARSE(app, argc, argv);
  if (o.rate > 0 && app.count("--events") == 0) o.events = static_cast<uint64_t>(o.rate * 30);
  // The mock looks a fetch offset up by walking the partition's batches from the oldest (a real
  // broker has an index) and answers with one batch per partition. Published live, 128 partitions
  // hold one-message batches: the bench process then took 0.85 of the 2 cores and the median
  // latency it measured doubled. Two per topic hold ~12 messages per batch (bench/README.md).
  if (o.rate > 0 && app.count("--partitions") == 0) o.partitions = 2;
  if (o.sink_only && (o.rate > 0 || !o.ingest_args.empty())) {
    fmt::print(stderr,
               "sentinel-e2e-bench: --sink-only runs the default settings from memory: no --rate "
               "and no arguments for `run`\n");
    return 2;
  }
  if (o.rate > 0 && o.rounds > 1) {
    fmt::print(stderr,
               "sentinel-e2e-bench: --rounds applies to preloaded runs: with --rate, run the "
               "bench again for another measurement\n");
    return 2;
  }
  if (o.rounds == 0) o.rounds = o.rate > 0 || o.skip_ceiling ? 1 : 3;
  try {
    return sentinel::run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "sentinel-e2e-bench: {}\n", e.what());
    return 1;
  }
}
