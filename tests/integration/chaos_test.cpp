// The chaos run (scripts/faults.sh --chaos): a nemesis, not a list of scenarios. One to three
// instances of the real binary ingest a live stream while a seeded random schedule mixes every
// fault the fault suite knows (SIGKILL, SIGSTOP past the session timeout, PostgreSQL restarted,
// down or hung, PgBouncer restarted, a Kafka broker down, leaders moving, instances joining and
// leaving, a failover to a lagging standby) with every input we know (each reject kind, poison
// costs, NUL escapes, deep metadata, non-ASCII text, LATIN1 client settings). At the end every
// fault is healed, the stream is consumed with no restart, and the exactly-once oracle runs.
//
// Environment (scripts/faults.sh sets them):
//   SENTINEL_CHAOS_SEED     the schedule's seed (default: the clock); printed, replays the run
//   SENTINEL_CHAOS_MINUTES  length of the chaos window (default 3)
//   SENTINEL_CHAOS_FAULTS   comma list of faults, or "all" (default): kill, stop, pg_restart,
//                           pg_outage, pg_hang, bouncer_restart, broker_down, leader_move,
//                           join_leave, failover
//   SENTINEL_CHAOS_INPUTS   comma list of inputs, or "all" (default): rejects, poison, nul,
//                           deep, unicode, latin1
//   SENTINEL_CHAOS_RATE     events/s of the live stream (default 400)
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iomanip>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sinks/migrator.h"
#include "testkit/event_generator.h"
#include "testkit/mock_cluster.h"
#include "tests/integration/expectations.h"
#include "tests/integration/fault_helpers.h"
#include "tests/integration/pg_server.h"
#include "tests/support/process.h"

namespace sentinel {
namespace {

using namespace faults;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::PgServer;
using testing::Process;
using testing::TestDb;

const std::vector<std::string> kAllFaults = {
    "kill",        "stop",        "pg_restart", "pg_outage", "pg_hang", "bouncer_restart",
    "broker_down", "leader_move", "join_leave", "failover"};
const std::vector<std::string> kAllInputs = {"rejects", "poison",  "nul",
                                             "deep",    "unicode", "latin1"};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

/// A comma list from the environment, "all" meaning every name of `known`; an unknown name
/// fails the test (a typo must not turn a fault off silently).
std::set<std::string> chosen(const char* var, const std::vector<std::string>& known) {
  const std::string text = env_or(var, "all");
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string name; std::getline(in, name, ',');) {
    if (name.empty() || name == "none") continue;
    if (name == "all") {
      out.insert(known.begin(), known.end());
    } else if (std::find(known.begin(), known.end(), name) != known.end()) {
      out.insert(name);
    } else {
      ADD_FAILURE() << var << ": unknown name '" << name << "'";
    }
  }
  return out;
}

/// Replaces the text from `from` up to (not including) `to` after it; false when absent.
bool replace_span(std::string& s, const std::string& from, const std::string& to,
                  const std::string& with) {
  const auto a = s.find(from);
  if (a == std::string::npos) return false;
  const auto b = s.find(to, a + from.size());
  if (b == std::string::npos) return false;
  s.replace(a, b - a, with);
  return true;
}

std::string nested_object(int depth) {  // depth 1 is {"d":1}
  std::string s;
  for (int i = 0; i < depth; ++i) s += "{\"d\":";
  s += "1";
  s += std::string(static_cast<size_t>(depth), '}');
  return s;
}

/// The chaos run's special inputs: rewrites some generated events (payload and truth together)
/// and keeps what the oracle must additionally check. Runs on the stream's thread; read the
/// results after the stream finished.
class SpecialInputs {
 public:
  SpecialInputs(const std::set<std::string>& inputs, uint64_t seed, uint64_t total)
      : inputs_(inputs), rng_(seed ^ 0x5eed5eedULL), total_(total) {
    // The poison events: one tenant, one instant, 12 × 9.2e9 USD overflows numeric(20,9) in
    // its month (and day) rollup from the 11th on.
    poison_ts_ = (std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count() -
                  3'600'000'000LL) /
                 1000 * 1000;
  }

  void operator()(GeneratedEvent& e) {
    ++seen_;
    if (!e.valid) return;
    std::uniform_real_distribution<double> u(0, 1);
    const double r = u(rng_);
    if (inputs_.contains("poison") && e.topic_index == 1 && poison_made_ < kPoison &&
        seen_ >= next_poison_) {
      poison(e);
      next_poison_ = seen_ + total_ / (kPoison + 2);
    } else if (inputs_.contains("nul") && r < 0.002) {
      nul(e);
    } else if (inputs_.contains("deep") && r >= 0.002 && r < 0.004) {
      deep(e);
    } else if (inputs_.contains("unicode") && r >= 0.004 && r < 0.014) {
      unicode(e);
    }
  }

  testing::OracleExtras extras;
  std::map<std::string, int> made;  ///< input kind → how many

 private:
  static constexpr int kPoison = 12;

  void poison(GeneratedEvent& e) {
    const std::string spellings[] = {"\"9200000000\"", "9200000000", "9.2e9",
                                     "\"9200000000.000000000\""};
    const std::string tenant = "poison-co";
    replace_span(e.payload, "\"ts\":", ",\"tenant_id\"",
                 "\"ts\":" + std::to_string(poison_ts_ / 1000));
    replace_span(e.payload, "\"tenant_id\":", ",\"user_id\"", "\"tenant_id\":\"" + tenant + "\"");
    replace_span(e.payload, "\"cost_usd\":", ",\"status\"",
                 "\"cost_usd\":" + spellings[poison_made_ % 4]);
    e.tenant = e.key = tenant;
    e.ts_unix_micros = poison_ts_;
    e.cost_nanos = 9'200'000'000'000'000'000LL;
    extras.may_be_rejected.insert(e.id);
    ++poison_made_;
    ++made["poison"];
  }

  void nul(GeneratedEvent& e) {
    // A NUL escape in a stored string or a metadata key: invalid_value, never a row.
    const bool in_key = rng_() % 2 == 0;
    if (in_key) {
      if (!replace_span(e.payload, "\"metadata\":{", "\"", "\"metadata\":{\"k\\u0000ey\":1,")) {
        return;
      }
    } else {
      const std::string field = e.topic_index == 0 ? "\"actor_id\":" : "\"user_id\":";
      const std::string next = e.topic_index == 0 ? ",\"actor_type\"" : ",\"session_id\"";
      if (!replace_span(e.payload, field, next, field + "\"evil\\u0000user\"")) return;
    }
    e.valid = false;
    e.expected_reason = RejectReason::kInvalidValue;
    ++made["nul"];
  }

  void deep(GeneratedEvent& e) {
    // metadata nested to the limit (32, kept exactly) or one past it (too_large).
    const bool past = rng_() % 3 == 0;
    const std::string meta = nested_object(past ? 33 : 32);
    const auto at = e.payload.find("\"metadata\":");
    if (at == std::string::npos) return;
    e.payload = e.payload.substr(0, at) + "\"metadata\":" + meta + "}";
    if (past) {
      e.valid = false;
      e.expected_reason = RejectReason::kTooLarge;
    } else {
      extras.row_checks.push_back(
          {table(e), id_column(e), e.id, "metadata = " + lit(meta) + "::jsonb"});
    }
    ++made[past ? "deep_too_large" : "deep_32"];
  }

  void unicode(GeneratedEvent& e) {
    // Non-ASCII tenant (keys the costs too) and text, raw UTF-8 or as \u escapes; both must be
    // stored as the same characters.
    const bool escaped = rng_() % 2 == 0;
    const std::string tenant = "café ☕";
    const std::string tenant_json = escaped ? "caf\\u00e9 \\u2615" : tenant;
    const std::string who = "zoë 東京 🚀";
    const std::string who_json = escaped ? "zo\\u00eb \\u6771\\u4eac \\ud83d\\ude80" : who;
    const std::string field = e.topic_index == 0 ? "\"actor_id\":" : "\"user_id\":";
    const std::string next = e.topic_index == 0 ? ",\"actor_type\"" : ",\"session_id\"";
    const std::string tenant_next = e.topic_index == 0 ? ",\"actor_id\"" : ",\"user_id\"";
    if (!replace_span(e.payload, "\"tenant_id\":", tenant_next,
                      "\"tenant_id\":\"" + tenant_json + "\"") ||
        !replace_span(e.payload, field, next, field + "\"" + who_json + "\"") ||
        !replace_span(e.payload, "\"metadata\":{", "\"",
                      "\"metadata\":{\"note\":\"" + who_json + "\",")) {
      return;
    }
    e.tenant = e.key = tenant;
    const std::string column = e.topic_index == 0 ? "actor_id" : "user_id";
    extras.row_checks.push_back({table(e), id_column(e), e.id,
                                 column + " = " + lit(who) + " AND metadata->>'note' = " +
                                     lit(who) + " AND tenant_id = " + lit(tenant)});
    ++made[escaped ? "unicode_escaped" : "unicode_raw"];
  }

  static std::string table(const GeneratedEvent& e) {
    return e.topic_index == 0 ? "audit_logs" : "invocations";
  }
  static std::string id_column(const GeneratedEvent& e) {
    return e.topic_index == 0 ? "event_id::text" : "invocation_id::text";
  }
  static std::string lit(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  }

  std::set<std::string> inputs_;
  std::mt19937_64 rng_;
  uint64_t total_;
  uint64_t seen_ = 0;
  uint64_t next_poison_ = 0;
  int poison_made_ = 0;
  int64_t poison_ts_ = 0;
};

/// One instance of the ingestor and its lives.
struct Instance {
  std::string name;
  std::string log;
  std::unique_ptr<Process> process;
  bool stopped = false;  ///< SIGSTOPped, a SIGCONT is scheduled
  bool latin1 = false;   ///< PGCLIENTENCODING=LATIN1 in its environment
  bool direct = false;   ///< straight to PostgreSQL (both servers listed) rather than PgBouncer
};

class Chaos {
 public:
  Chaos() {
    seed_ = std::stoull(env_or("SENTINEL_CHAOS_SEED",
                               std::to_string(std::chrono::system_clock::now().time_since_epoch() /
                                              std::chrono::microseconds(1) % 1'000'000'000)));
    minutes_ = std::stod(env_or("SENTINEL_CHAOS_MINUTES", "3"));
    rate_ = std::stoi(env_or("SENTINEL_CHAOS_RATE", "400"));
    faults_ = chosen("SENTINEL_CHAOS_FAULTS", kAllFaults);
    inputs_ = chosen("SENTINEL_CHAOS_INPUTS", kAllInputs);
    rng_.seed(seed_);
    side_rng_.seed(seed_ + 1);
  }

  void run();

 private:
  double now() const { return since(t0_); }
  void note(const std::string& what) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << now() << "s " << what;
    if (quiet_) return;
    schedule_.push_back(s.str());
    std::printf("chaos: %s\n", s.str().c_str());
    std::fflush(stdout);
  }
  void later(double delay, const std::string& what, std::function<void()> action) {
    heals_.emplace(now() + delay, std::make_pair(what, std::move(action)));
  }
  void run_due_heals(bool all) {
    while (!heals_.empty() && (all || heals_.begin()->first <= now())) {
      auto [what, action] = heals_.begin()->second;
      heals_.erase(heals_.begin());
      note(what);
      action();
    }
  }
  std::string direct_url() const {
    std::string ports = current_->port(), hosts = "127.0.0.1";
    if (standby_ && !failed_over_) {
      ports += "," + standby_->port();
      hosts += ",127.0.0.1";
    }
    return "host=" + hosts + " port=" + ports + " user=postgres dbname=" + db_->name() +
           " target_session_attrs=read-write connect_timeout=3";
  }
  /// Starts an instance; its settings come from `rng` (the schedule's, or side_rng_ for
  /// restarts after a crash, so that a crash does not change the rest of the schedule).
  void start_instance(const std::string& name, std::mt19937_64& rng);
  void start_instance(const std::string& name) { start_instance(name, rng_); }
  void start_new_instance() { start_instance(std::string(1, static_cast<char>('a' + names_++))); }
  /// Finds instances that exited without being told to: a failure, and a restart.
  void check_instances();
  void stop_instance(Instance& in, const std::string& why);
  bool pg_usable() const { return !pg_down_ && !pg_hung_; }
  void act();
  void failover_begin();
  void failover_end();
  size_t running() const { return instances_.size(); }
  /// Waits until `n` messages are stored; false once nothing new was stored for kQuietLimit
  /// (or after 150 s).
  bool wait_consumed(int64_t n, const std::function<bool()>& alive) {
    int64_t last = -1;
    const auto start = Clock::now();
    auto last_progress = start;
    // A crash loop may trickle on for ever: 150 s at most.
    while (Clock::now() - last_progress < kQuietLimit && Clock::now() - start < seconds(150)) {
      int64_t stored = 0;
      try {
        stored = testing::stored_messages(*db_);
      } catch (const std::exception& e) {
        ADD_FAILURE() << replay()
                      << "\nPostgreSQL unreachable with every fault healed: " << e.what()
                      << "\nits log:\n"
                      << tail(current_->dir() + "/postgres.log", 3000);
        failures_.push_back(std::string("PostgreSQL unreachable at the end: ") + e.what());
        return false;
      }
      if (stored >= n) return true;
      if (stored != last) last = stored, last_progress = Clock::now();
      alive();
      std::this_thread::sleep_for(milliseconds(500));
    }
    return false;
  }
  static constexpr seconds kQuietLimit{60};
  Instance* pick(bool not_stopped) {
    std::vector<Instance*> c;
    for (auto& [n, in] : instances_) {
      if (!not_stopped || !in.stopped) c.push_back(&in);
    }
    return c.empty() ? nullptr : c[rng_() % c.size()];
  }
  std::string replay() const {
    std::ostringstream s;
    s << "chaos seed " << seed_ << " (replay: scripts/faults.sh --chaos --seed " << seed_
      << " --minutes " << minutes_ << ")";
    return s.str();
  }

  uint64_t seed_ = 0;
  double minutes_ = 3;
  int rate_ = 400;
  std::set<std::string> faults_, inputs_;
  std::mt19937_64 rng_;
  std::mt19937_64 side_rng_;
  Clock::time_point t0_ = Clock::now();
  std::vector<std::string> schedule_;
  std::multimap<double, std::pair<std::string, std::function<void()>>> heals_;

  std::unique_ptr<PgServer> primary_;  // holds the PgBouncer, even after a failover
  std::unique_ptr<PgServer> standby_;
  PgServer* current_ = nullptr;
  std::unique_ptr<TestDb> db_;
  std::string bouncer_url_;
  std::unique_ptr<MockCluster> mock_;
  std::map<std::string, Instance> instances_;
  int names_ = 0;
  int lives_ = 0;
  int unexpected_exits_ = 0;
  bool quiet_ = false;  ///< a crash loop: its exits and restarts are not in the schedule
  std::vector<std::string> failures_;  ///< one line each, for the summary

  bool pg_down_ = false, pg_hung_ = false, broker_down_ = false;
  bool failover_pending_ = false, failed_over_ = false;
  double failover_at_ = -1;
  double failover_end_at_ = -1;
  double failover_lag_ = 0;
};

void Chaos::start_instance(const std::string& name, std::mt19937_64& rng) {
  Instance& in = instances_[name];
  in.name = name;
  in.log = log_path("chaos_" + name + "_" + std::to_string(++lives_));
  in.stopped = false;
  in.latin1 = inputs_.contains("latin1") && rng() % 2 == 0;
  in.direct = rng() % 3 == 0;
  std::vector<std::string> argv =
      ingest_argv(in.direct ? direct_url() : bouncer_url_, mock_->bootstraps(), "chaos");
  if (in.latin1) argv.insert(argv.begin(), {"/usr/bin/env", "PGCLIENTENCODING=LATIN1"});
  in.process = std::make_unique<Process>(argv, in.log);
  note("start " + name + (in.direct ? " direct" : " bouncer") + (in.latin1 ? " latin1" : ""));
}

void Chaos::check_instances() {
  for (auto it = instances_.begin(); it != instances_.end();) {
    const auto rc = it->second.process->wait(milliseconds(0));
    if (!rc) {
      ++it;
      continue;
    }
    ++unexpected_exits_;
    const std::string name = it->first, log = it->second.log;
    std::ostringstream what;
    what << "instance " << name << " exited by itself with " << *rc << " at "
         << std::setprecision(1) << std::fixed << now() << " s";
    // A crash loop: the first few exits are told in full, the rest only counted.
    quiet_ = unexpected_exits_ > 4;
    note("EXIT " + name + " rc=" + std::to_string(*rc));
    if (unexpected_exits_ <= 3) {
      ADD_FAILURE() << replay() << "\n" << what.str() << "; its log:\n" << tail(log, 3000);
      failures_.push_back(what.str());
    }
    it = instances_.erase(it);
    std::this_thread::sleep_for(seconds(std::min(unexpected_exits_, 5)));
    start_instance(name, side_rng_);
    quiet_ = false;
    return;  // the iterator is stale
  }
}

void Chaos::stop_instance(Instance& in, const std::string& why) {
  if (in.stopped) in.process->signal(SIGCONT);
  in.process->signal(SIGTERM);
  const auto t = Clock::now();
  const auto rc = in.process->wait(seconds(30));
  const double took = since(t);
  // The contract: exit 0 within 10 s of SIGTERM (2 s of slack for a loaded machine).
  if (rc != 0 || took > 12) {
    std::ostringstream what;
    what << "instance " << in.name << " (" << why << ") "
         << (rc ? "exited " + std::to_string(*rc) : std::string("ignored SIGTERM")) << " after "
         << std::fixed << std::setprecision(1) << took << " s at " << now() << " s"
         << (pg_hung_   ? " (PostgreSQL hung)"
             : pg_down_ ? " (PostgreSQL down)"
                        : "");
    note("SIGTERM FAILED: " + what.str());
    ADD_FAILURE() << replay() << "\n" << what.str() << "\n" << tail(in.log, 3000);
    failures_.push_back(what.str());
    in.process->signal(SIGKILL);
    in.process->wait(seconds(10));
  } else {
    std::ostringstream s;
    s << "left " << in.name << " in " << std::fixed << std::setprecision(1) << took << " s";
    note(s.str());
  }
}

void Chaos::failover_begin() {
  standby_->ctl("detach");
  failover_pending_ = true;
  note("standby stops following (it lags from here)");
}

void Chaos::failover_end() {
  current_->ctl("down", {"immediate"});
  standby_->ctl("promote");
  primary_->ctl("repoint", {standby_->dir()});
  db_->move_to(standby_->url());
  current_ = standby_.get();
  failover_pending_ = false;
  failed_over_ = true;
  note("failover: primary killed, lagging standby promoted, PgBouncer re-pointed");
}

void Chaos::act() {
  std::uniform_real_distribution<double> u(0, 1);
  const std::vector<std::string> pickable(faults_.begin(), faults_.end());
  if (pickable.empty()) return;
  const std::string fault = pickable[rng_() % pickable.size()];
  const double d = u(rng_);  // the action's own random parameter, drawn whatever happens
  const int coin = static_cast<int>(rng_() % 2);
  if (fault == "kill") {
    Instance* in = pick(false);
    if (in == nullptr) return;
    in->process->signal(SIGKILL);
    in->process->wait(seconds(10));
    const std::string name = in->name;
    note("SIGKILL " + name);
    instances_.erase(name);
    if (running() == 0 || coin) start_new_instance();
  } else if (fault == "stop") {
    Instance* in = pick(true);
    if (in == nullptr) return;
    in->process->signal(SIGSTOP);
    in->stopped = true;
    note("SIGSTOP " + in->name);
    const std::string name = in->name;
    later(7 + 9 * d, "SIGCONT " + name, [this, name] {
      auto it = instances_.find(name);
      if (it == instances_.end()) return;
      it->second.process->signal(SIGCONT);
      it->second.stopped = false;
    });
  } else if (fault == "join_leave") {
    if (running() < 3 && (running() <= 1 || coin)) {
      start_new_instance();
    } else {
      Instance* in = pick(true);
      if (in == nullptr || running() <= 1) return;
      note("SIGTERM " + in->name);
      const std::string name = in->name;
      stop_instance(*in, "leaving");
      instances_.erase(name);
    }
  } else if (fault == "pg_restart") {
    if (!pg_usable() || failover_pending_) return;
    const std::string mode = coin ? "immediate" : "fast";
    note("pg restart " + mode);
    current_->ctl("restart", {mode});
  } else if (fault == "pg_outage") {
    if (!pg_usable() || failover_pending_) return;
    const std::string mode = coin ? "immediate" : "fast";
    note("pg down " + mode);
    current_->ctl("down", {mode});
    pg_down_ = true;
    PgServer* server = current_;
    later(4 + 16 * d, "pg up", [this, server] {
      server->ctl("up");
      pg_down_ = false;
    });
  } else if (fault == "pg_hang") {
    if (!pg_usable() || failover_pending_) return;
    note("pg hang (SIGSTOP)");
    current_->ctl("freeze");
    pg_hung_ = true;
    PgServer* server = current_;
    later(3 + 7 * d, "pg unhang (SIGCONT)", [this, server] {
      server->ctl("thaw");
      pg_hung_ = false;
    });
  } else if (fault == "bouncer_restart") {
    note("pgbouncer restart");
    primary_->ctl("bouncer-restart");
  } else if (fault == "broker_down") {
    if (broker_down_) return;
    const int32_t broker = 1 + static_cast<int32_t>(rng_() % 3);
    rd_kafka_mock_broker_set_down(mock_->raw(), broker);
    broker_down_ = true;
    note("broker " + std::to_string(broker) + " down");
    later(3 + 5 * d, "broker " + std::to_string(broker) + " up", [this, broker] {
      rd_kafka_mock_broker_set_up(mock_->raw(), broker);
      broker_down_ = false;
    });
  } else if (fault == "leader_move") {
    for (const auto& topic : kTopics) {
      for (int32_t part = 0; part < kPartitions; ++part) {
        rd_kafka_mock_partition_set_leader(mock_->raw(), topic.c_str(), part,
                                           1 + static_cast<int32_t>(rng_() % 3));
      }
    }
    note("leaders moved");
  }
  // failover is not drawn here: its time is drawn once, at the start (see run()).
}

void Chaos::run() {
  SCOPED_TRACE(replay());
  const double window = minutes_ * 60;
  std::printf("chaos: seed %llu, %.1f minutes, %d events/s\n",
              static_cast<unsigned long long>(seed_), minutes_, rate_);
  std::string list;
  for (const auto& f : faults_) list += f + " ";
  std::printf("chaos: faults: %s\n", list.c_str());
  list.clear();
  for (const auto& i : inputs_) list += i + " ";
  std::printf("chaos: inputs: %s\n", list.c_str());

  primary_ = std::make_unique<PgServer>();
  current_ = primary_.get();
  db_ = std::make_unique<TestDb>(primary_->url(), primary_->bouncer_url());
  bouncer_url_ = db_->bouncer_url();
  apply_migrations(db_->direct_url());
  if (inputs_.contains("latin1")) {
    db_->query("ALTER ROLE postgres IN DATABASE " + db_->name() +
               " SET client_encoding = 'LATIN1'");
  }
  if (faults_.contains("failover")) {
    standby_ = std::make_unique<PgServer>(primary_.get());
    // The standby stops following while the stream runs; the promotion comes after a lag that
    // ends before or after the stream does (a failover with traffic resuming, or a quiet one).
    failover_at_ = window * std::uniform_real_distribution<double>(0.25, 0.6)(rng_);
    failover_lag_ = std::uniform_real_distribution<double>(3, std::max(4.0, 0.3 * window))(rng_);
  }
  mock_ = std::make_unique<MockCluster>(3, kTopics, kPartitions);
  // The stream stops at 70% of the window: the faults after that meet a quiet stream. The mock
  // keeps ~5 MB per partition and trims older messages silently (oversized rejects fill it fast):
  // a long run slows the stream so that it never holds more than a short one does (~40 000
  // events), otherwise the oracle, which reads back what Kafka holds, would miss trimmed records.
  constexpr double kMaxEvents = 40'000;
  const double rate = std::min<double>(rate_, kMaxEvents / (window * 0.7));
  if (rate < rate_) {
    std::printf("chaos: stream slowed to %.0f events/s so that the mock keeps all of it\n", rate);
    rate_ = static_cast<int>(rate);
  }
  const auto total = static_cast<uint64_t>(rate_ * window * 0.7);
  SpecialInputs special(inputs_, seed_, total);
  LiveStream stream(
      mock_->bootstraps(), total, rate_, seed_, [&special](GeneratedEvent& e) { special(e); },
      inputs_.contains("rejects") ? 0.02 : 0.0);
  t0_ = Clock::now();
  start_new_instance();
  ASSERT_TRUE(testing::wait_for_stored(*db_, 1, seconds(60)))
      << tail(instances_.begin()->second.log);
  if (faults_.contains("join_leave")) start_new_instance();

  std::uniform_real_distribution<double> gap(1.5, 6);
  double next_action = now() + gap(rng_);
  while (now() < window) {
    run_due_heals(false);
    check_instances();
    if (failover_at_ >= 0 && now() >= failover_at_ && !failed_over_ && !failover_pending_) {
      if (pg_usable()) {
        failover_begin();
        failover_end_at_ = now() + failover_lag_;
      }
    }
    if (failover_pending_ && now() >= failover_end_at_ && pg_usable()) failover_end();
    if (now() >= next_action) {
      act();
      next_action = now() + gap(rng_);
    }
    std::this_thread::sleep_for(milliseconds(100));
  }

  // Heal everything; killed instances stay replaced; nothing is restarted that still runs.
  run_due_heals(true);
  if (failover_pending_) failover_end();
  for (auto& [n, in] : instances_) {
    if (in.stopped) in.process->signal(SIGCONT), in.stopped = false;
  }
  if (running() == 0) start_new_instance();
  note("healed");
  const auto heal_t = Clock::now();
  const auto& produced = stream.finish();
  const KafkaContents kafka = read_kafka(mock_->bootstraps());
  note("Kafka read back");
  ASSERT_TRUE(kafka.error.empty()) << kafka.error;
  size_t dropped = 0, copies = 0, unknown = 0;
  const std::vector<GeneratedEvent> events =
      held_by_kafka(produced, stream.fingerprints(), kafka, dropped, copies, unknown);
  EXPECT_EQ(unknown, 0u) << "Kafka holds messages that were never produced";
  std::printf("chaos: produced %zu, Kafka holds %zu (the mock lost %zu, doubled %zu)\n",
              produced.size(), events.size(), dropped, copies);
  std::string made;
  for (const auto& [k, n] : special.made) made += k + "=" + std::to_string(n) + " ";
  std::printf("chaos: special inputs: %s\n", made.c_str());

  const auto n = static_cast<int64_t>(events.size());
  auto alive = [this] {
    check_instances();
    return true;
  };
  bool done = wait_consumed(n, alive);
  if (done) {
    note("all consumed " + std::to_string(static_cast<int>(since(heal_t))) + " s after healing");
  } else {
    const int64_t stored = testing::stored_messages(*db_);
    std::ostringstream what;
    what << "stalled with every fault healed: stored " << stored << " of " << n
         << " (no progress for " << kQuietLimit.count()
         << " s, or 150 s in all), no instance restarted";
    note("STALLED " + std::to_string(stored) + "/" + std::to_string(n));
    // What each live instance said last (status lines: paused partitions, inflight, pending),
    // so that a stall seen once in CI can be diagnosed from its output alone.
    std::ostringstream logs;
    for (const auto& [name, in] : instances_) {
      logs << "--- instance " << name << " (" << in.log << "), last lines:\n"
           << tail(in.log, 4000) << "\n";
    }
    ADD_FAILURE() << what.str() << "\n"
                  << kafka_accounting(mock_->bootstraps(), *db_, events.size()) << logs.str();
    failures_.push_back(what.str());
    // Would a restart have helped? (Tells "stuck until restarted" from "lost for good".)
    for (auto& [name, in] : instances_) stop_instance(in, "restart after the stall");
    const std::vector<std::string> names = [&] {
      std::vector<std::string> v;
      for (auto& [name, in] : instances_) v.push_back(name);
      return v;
    }();
    instances_.clear();
    for (const auto& name : names) start_instance(name);
    done = wait_consumed(n, alive);
    note(std::string("after restarting every instance: ") +
         (done ? "all consumed" : "stored " + std::to_string(testing::stored_messages(*db_))));
  }
  for (auto& [name, in] : instances_) stop_instance(in, "the end");
  instances_.clear();

  const Tally t = tally(*db_);
  for (const auto& f : failures_) std::printf("chaos: failure: %s\n", f.c_str());
  std::string line = "CHAOS-SCHEDULE seed=" + std::to_string(seed_) + ":";
  for (size_t i = 0; i < schedule_.size(); ++i) line += (i ? "; " : " ") + schedule_[i];
  std::printf("%s\n", line.c_str());
  std::ostringstream result;
  result << "CHAOS-RESULT seed=" << seed_ << " minutes=" << minutes_ << " events=" << n
         << " lost=" << n - t.distinct << " doubled=" << t.stored - t.distinct
         << " unexpected_exits=" << unexpected_exits_ << " failures=" << failures_.size();
  std::printf("%s\n", result.str().c_str());
  if (const char* report = std::getenv("SENTINEL_FAULTS_REPORT")) {
    std::ofstream(report, std::ios::app) << result.str() << "\n" << line << "\n";
  }
  EXPECT_EQ(t.stored, t.distinct) << "doubled";
  EXPECT_EQ(t.distinct, n) << "lost";
  // A special input the mock lost (see held_by_kafka) is owed no row: its check goes with it.
  std::set<std::string> held_ids;
  for (const auto& e : events) held_ids.insert(e.id);
  std::erase_if(special.extras.row_checks,
                [&](const testing::OracleExtras::RowCheck& c) { return !held_ids.contains(c.id); });
  testing::expect_exactly_once(*db_, events, special.extras);
  if (::testing::Test::HasFailure()) {
    std::printf("chaos: PostgreSQL's log (the server in use):\n%s\n",
                tail(current_->dir() + "/postgres.log", 2000).c_str());
    std::printf("chaos: FAILED, %s\n", replay().c_str());
  }
}

TEST(Chaos, SeededScheduleKeepsExactlyOnce) {
  Chaos chaos;
  chaos.run();
}

}  // namespace
}  // namespace sentinel
