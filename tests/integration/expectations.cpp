#include "tests/integration/expectations.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "rows/chunk.h"
#include "testkit/publisher.h"

namespace sentinel::testing {
namespace {

using Rows = std::vector<std::vector<std::string>>;

Rows query_rows(const std::string& url, const std::string& sql) {
  // UTF-8 whatever the role's default or PGCLIENTENCODING say: the truth is UTF-8 text.
  const char* keys[] = {"dbname", "client_encoding", nullptr};
  const char* values[] = {url.c_str(), "UTF8", nullptr};
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdbParams(keys, values, 1), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn.get(), sql.c_str()), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
  }
  Rows rows;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::vector<std::string> row;
    for (int c = 0; c < PQnfields(r.get()); ++c) row.emplace_back(PQgetvalue(r.get(), i, c));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string date_text(int32_t unix_day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{unix_day}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()));
  return buf;
}

std::string month_start(int32_t unix_day) { return date_text(unix_day).substr(0, 8) + "01"; }

/// Nano-dollars as PostgreSQL prints a numeric(20,9): "12.345000000". Sums of poison values
/// overflow 64 bits, hence the 128-bit integer.
std::string nanos_text(__int128 nanos) {
  const bool negative = nanos < 0;
  if (negative) nanos = -nanos;
  std::string whole;
  for (__int128 w = nanos / 1'000'000'000; w > 0 || whole.empty(); w /= 10) {
    whole.insert(whole.begin(), static_cast<char>('0' + static_cast<int>(w % 10)));
  }
  char frac[16];
  std::snprintf(frac, sizeof frac, "%09d", static_cast<int>(nanos % 1'000'000'000));
  return (negative ? "-" : "") + whole + "." + frac;
}

/// `text` as an SQL literal.
std::string literal(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::vector<GeneratedEvent> publish_events(const std::string& brokers, uint64_t count,
                                           double invalid_ratio, uint64_t seed) {
  GeneratorOptions g;
  g.seed = seed;
  g.invalid_ratio = invalid_ratio;
  g.tenants = 60;
  EventGenerator gen(g);
  Publisher publisher(brokers, {});
  const std::string topics[2] = {"sentinel.audit", "sentinel.invocations"};
  std::vector<GeneratedEvent> events;
  events.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    GeneratedEvent e = gen.next();
    publisher.produce(topics[e.topic_index], e.key, e.payload);
    e.payload.clear();
    e.payload.shrink_to_fit();
    events.push_back(std::move(e));
  }
  publisher.flush();
  return events;
}

int64_t stored_messages(const TestDb& db) {
  return std::stoll(
      db.query("SELECT (SELECT count(*) FROM audit_logs) + (SELECT count(*) FROM invocations) + "
               "(SELECT count(*) FROM ingest_rejects)"));
}

bool wait_for_stored(const TestDb& db, int64_t expected, std::chrono::seconds timeout,
                     const std::function<bool()>& still_ok) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (stored_messages(db) >= expected) return true;
    if (still_ok && !still_ok()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

void expect_exactly_once(const TestDb& db, const std::vector<GeneratedEvent>& events,
                         const OracleExtras& extras) {
  const std::string& url = db.direct_url();
  const Rows audit_rows =
      query_rows(url,
                 "SELECT event_id::text, tenant_id, (extract(epoch FROM ts) * 1000000)::bigint "
                 "FROM audit_logs");
  const Rows inv_rows = query_rows(
      url,
      "SELECT invocation_id::text, tenant_id, (extract(epoch FROM ts) * 1000000)::bigint, "
      "(cost_usd * 1000000000)::bigint, prompt_tokens, completion_tokens FROM invocations");
  // Events that may be rejected and are not stored as rows are owed as one reject each.
  std::set<std::string> stored_ids;
  for (const Rows* rows : {&audit_rows, &inv_rows}) {
    for (const auto& r : *rows) {
      if (extras.may_be_rejected.contains(r[0])) stored_ids.insert(r[0]);
    }
  }
  int64_t poison_rejected = 0;

  // What must be there, from the generator's truth. An event listed twice (Kafka held two
  // records of it) is owed twice.
  struct Owed {
    const GeneratedEvent* event = nullptr;
    int times = 0;
  };
  std::unordered_map<std::string, Owed> audits, invocations;
  size_t audits_owed = 0, invocations_owed = 0;
  std::map<std::string, int64_t> expected_rejects;
  struct Sums {
    __int128 nanos = 0;
    int64_t count = 0, prompt = 0, completion = 0;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Sums> expected_costs;
  for (const auto& e : events) {
    if (!e.valid) {
      ++expected_rejects[std::string(to_string(e.expected_reason))];
      continue;
    }
    if (extras.may_be_rejected.contains(e.id) && !stored_ids.contains(e.id)) {
      ++poison_rejected;
      continue;
    }
    Owed& owed = (e.topic_index == 0 ? audits : invocations)[e.id];
    owed.event = &e;
    ++owed.times;
    ++(e.topic_index == 0 ? audits_owed : invocations_owed);
    if (e.topic_index == 1) {
      const int32_t day = day_of_unix_micros(e.ts_unix_micros);
      for (const auto& key : {std::make_tuple(e.tenant, std::string("day"), date_text(day)),
                              std::make_tuple(e.tenant, std::string("month"), month_start(day))}) {
        Sums& s = expected_costs[key];
        s.nanos += e.cost_nanos;
        s.count += 1;
        s.prompt += e.prompt_tokens;
        s.completion += e.completion_tokens;
      }
    }
  }

  // Every valid audit event exactly once, with its values.
  EXPECT_EQ(audit_rows.size(), audits_owed) << "audit rows";
  std::map<std::string, int> seen;
  int audit_mismatches = 0;
  std::string first_mismatch;
  const auto joined = [](const std::vector<std::string>& row) {
    std::string out;
    for (const auto& v : row) out += (out.empty() ? "" : " | ") + v;
    return out;
  };
  for (const auto& r : audit_rows) {
    ++seen[r[0]];
    const auto it = audits.find(r[0]);
    if (it == audits.end() || it->second.event->tenant != r[1] ||
        it->second.event->ts_unix_micros != std::stoll(r[2])) {
      if (audit_mismatches++ == 0) first_mismatch = joined(r);
    }
  }
  EXPECT_EQ(audit_mismatches, 0) << "audit rows not matching a generated event, e.g. "
                                 << first_mismatch;
  const auto times_owed = [](const std::unordered_map<std::string, Owed>& owed,
                             const std::string& id) {
    const auto it = owed.find(id);
    return it == owed.end() ? 0 : it->second.times;
  };
  int doubled = 0;
  for (const auto& [id, n] : seen) doubled += n > std::max(1, times_owed(audits, id));
  EXPECT_EQ(doubled, 0) << "audit events stored more than once";

  // Every valid invocation exactly once, with its values.
  EXPECT_EQ(inv_rows.size(), invocations_owed) << "invocation rows";
  seen.clear();
  int inv_mismatches = 0;
  for (const auto& r : inv_rows) {
    ++seen[r[0]];
    const auto it = invocations.find(r[0]);
    const GeneratedEvent* e = it == invocations.end() ? nullptr : it->second.event;
    if (e == nullptr || e->tenant != r[1] || e->ts_unix_micros != std::stoll(r[2]) ||
        e->cost_nanos != std::stoll(r[3]) || e->prompt_tokens != std::stoi(r[4]) ||
        e->completion_tokens != std::stoi(r[5])) {
      if (inv_mismatches++ == 0) first_mismatch = joined(r);
    }
  }
  EXPECT_EQ(inv_mismatches, 0) << "invocation rows not matching a generated event, e.g. "
                               << first_mismatch;
  doubled = 0;
  for (const auto& [id, n] : seen) doubled += n > std::max(1, times_owed(invocations, id));
  EXPECT_EQ(doubled, 0) << "invocations stored more than once";

  // Every malformed message exactly once as a reject, with the right reason.
  std::map<std::string, int64_t> rejects;
  for (const auto& r : query_rows(url, "SELECT reason, count(*) FROM ingest_rejects GROUP BY 1")) {
    rejects[r[0]] = std::stoll(r[1]);
  }
  // A poison event not stored as a row is one reject, db_rejected or invalid_value.
  if (poison_rejected > 0 || !extras.may_be_rejected.empty()) {
    int64_t flexible = 0;
    for (const char* reason : {"db_rejected", "invalid_value"}) {
      const int64_t got = rejects.contains(reason) ? rejects[reason] : 0;
      const int64_t want = expected_rejects.contains(reason) ? expected_rejects[reason] : 0;
      EXPECT_GE(got, want) << reason << " rejects";
      flexible += got - want;
      rejects.erase(reason);
      expected_rejects.erase(reason);
    }
    EXPECT_EQ(flexible, poison_rejected)
        << "rejects of poison events (the rest of them must be rows)";
  }
  EXPECT_EQ(rejects, expected_rejects);
  EXPECT_EQ(db.query("SELECT count(*) - count(DISTINCT (topic, kafka_partition, kafka_offset)) "
                     "FROM ingest_rejects"),
            "0");

  // Costs: exactly the sums of the generator's integer nano-dollars.
  std::map<std::tuple<std::string, std::string, std::string>, Sums> costs;
  std::map<std::tuple<std::string, std::string, std::string>, std::string> cost_text;
  for (const auto& r : query_rows(url,
                                  "SELECT tenant_id, period, period_start::text, cost_usd::text, "
                                  "invocations, prompt_tokens, completion_tokens FROM costs")) {
    costs[{r[0], r[1], r[2]}] = {0, std::stoll(r[4]), std::stoll(r[5]), std::stoll(r[6])};
    cost_text[{r[0], r[1], r[2]}] = r[3];
  }
  EXPECT_EQ(costs.size(), expected_costs.size()) << "cost rows";
  int cost_mismatches = 0;
  for (const auto& [key, want] : expected_costs) {
    const auto it = costs.find(key);
    if (it == costs.end() || cost_text[key] != nanos_text(want.nanos) ||
        it->second.count != want.count || it->second.prompt != want.prompt ||
        it->second.completion != want.completion) {
      if (cost_mismatches++ == 0) {
        first_mismatch =
            std::get<0>(key) + " " + std::get<1>(key) + " " + std::get<2>(key) + ": want " +
            nanos_text(want.nanos) + " over " + std::to_string(want.count) + ", stored " +
            (it == costs.end() ? std::string("nothing")
                               : cost_text[key] + " over " + std::to_string(it->second.count));
      }
    }
  }
  EXPECT_EQ(cost_mismatches, 0) << "cost rows that differ from the independent sums, e.g. "
                                << first_mismatch;

  // Rows sit in their own month's partition, and there are at least two months of them.
  for (const char* table : {"audit_logs", "invocations"}) {
    const std::string t = table;
    EXPECT_EQ(db.query("SELECT count(*) FROM " + t + " WHERE tableoid::regclass::text <> '" + t +
                       "_' || to_char(ts AT TIME ZONE 'UTC', 'YYYY_MM')"),
              "0");
    EXPECT_GE(std::stoi(db.query("SELECT count(DISTINCT tableoid) FROM " + t)), 2) << t;
  }

  // Special inputs: each condition holds for its row (the first few misses are shown).
  int row_check_misses = 0;
  for (const auto& check : extras.row_checks) {
    const std::string where =
        " FROM " + check.table + " WHERE " + check.id_column + " = " + literal(check.id);
    const Rows hit =
        query_rows(url, "SELECT count(*)" + where + " AND (" + check.sql_condition + ")");
    if (hit.at(0).at(0) != "1") {
      const Rows row =
          query_rows(url, "SELECT row_to_json(x)::text FROM (SELECT *" + where + ") x");
      if (++row_check_misses > 5) continue;
      ADD_FAILURE() << check.table << " " << check.id << ": expected " << check.sql_condition
                    << ", stored " << (row.empty() ? std::string("no row") : row[0][0]);
    }
  }

  EXPECT_EQ(row_check_misses, 0) << "rows of special inputs not stored exactly as sent (of "
                                 << extras.row_checks.size() << ")";

  // The stored offsets cover every message (each partition was read from offset 0).
  EXPECT_EQ(std::stoll(db.query("SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets")),
            static_cast<int64_t>(events.size()));
}

}  // namespace sentinel::testing
