#include "sinks/reject_store.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstring>

namespace sentinel {
namespace {

// PostgreSQL's binary timestamps count microseconds from 2000-01-01 UTC.
constexpr int64_t kPgEpochUnixMicros = 946'684'800'000'000;

// The filter's parameters, $first.. in order: reason, topic, since (unix microseconds); NULL
// where not given, which the statements read as "any".
struct FilterParams {
  std::string since;
  std::vector<const char*> values;
  explicit FilterParams(const RejectFilter& f) {
    if (f.since_unix_micros) since = std::to_string(*f.since_unix_micros);
    values = {f.reason ? f.reason->c_str() : nullptr, f.topic ? f.topic->c_str() : nullptr,
              f.since_unix_micros ? since.c_str() : nullptr};
  }
};

// The condition of a filter whose parameters start at $first.
std::string filter_condition(int first) {
  return fmt::format(
      "(replay_state IS NULL OR replay_state = 'invalid') "
      "AND (${0}::text IS NULL OR reason = ${0}) AND (${1}::text IS NULL OR topic = ${1}) "
      "AND (${2}::bigint IS NULL OR rejected_at >= 'epoch'::timestamptz "
      "+ ${2}::bigint * '1 microsecond'::interval)",
      first, first + 1, first + 2);
}

int64_t read_int64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return static_cast<int64_t>(be64toh(v));
}

int32_t read_int32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return static_cast<int32_t>(ntohl(v));
}

std::string_view field(PGresult* r, int row, int col) {
  return {PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col))};
}

}  // namespace

std::string_view replay_state_name(ReplayOutcome::State state) {
  switch (state) {
    case ReplayOutcome::State::kReplayed:
      return "replayed";
    case ReplayOutcome::State::kInvalid:
      return "invalid";
    case ReplayOutcome::State::kDuplicate:
      return "duplicate";
  }
  return "invalid";
}

namespace reject_store {

std::vector<StoredReject> read_pending(PgConnection& conn, const RejectFilter& filter,
                                       int64_t after_id, int max_count, int64_t max_payload_bytes) {
  // Id order through ingest_rejects_pending_idx; the running sum of payload sizes stops the page
  // at about max_payload_bytes (octet_length does not detoast). Binary results: payloads come as
  // their bytes, not as hex.
  const std::string sql = fmt::format(
      "SELECT id, rejected_at, topic, kafka_partition, kafka_offset, reason, payload FROM ("
      "  SELECT id, rejected_at, topic, kafka_partition, kafka_offset, reason, payload,"
      "    pg_catalog.sum(coalesce(pg_catalog.octet_length(payload), 0)) OVER (ORDER BY id) AS "
      "upto,"
      "    coalesce(pg_catalog.octet_length(payload), 0) AS size"
      "  FROM public.ingest_rejects WHERE id > $1 AND {} ORDER BY id LIMIT $5) page "
      "WHERE upto - size < $6 ORDER BY id",
      filter_condition(2));
  FilterParams f(filter);
  const std::string after = std::to_string(after_id);
  const std::string count = std::to_string(max_count);
  const std::string bytes = std::to_string(max_payload_bytes);
  const std::vector<const char*> params = {after.c_str(), f.values[0],   f.values[1],
                                           f.values[2],   count.c_str(), bytes.c_str()};
  PgResult r = conn.exec_params_binary(sql.c_str(), params);
  PGresult* res = r.get();
  std::vector<StoredReject> out(static_cast<size_t>(PQntuples(res)));
  for (int i = 0; i < PQntuples(res); ++i) {
    StoredReject& s = out[static_cast<size_t>(i)];
    s.id = read_int64(PQgetvalue(res, i, 0));
    s.rejected_at_unix_micros = read_int64(PQgetvalue(res, i, 1)) + kPgEpochUnixMicros;
    s.topic = field(res, i, 2);
    s.partition = read_int32(PQgetvalue(res, i, 3));
    s.offset = read_int64(PQgetvalue(res, i, 4));
    s.reason = field(res, i, 5);
    if (!PQgetisnull(res, i, 6)) s.payload = std::string(field(res, i, 6));
  }
  return out;
}

int64_t count_pending(PgConnection& conn, const RejectFilter& filter) {
  const std::string sql =
      "SELECT pg_catalog.count(*) FROM public.ingest_rejects WHERE " + filter_condition(1);
  FilterParams f(filter);
  PgResult r = conn.exec_params(sql.c_str(), f.values);
  return std::stoll(PQgetvalue(r.get(), 0, 0));
}

std::map<std::string, int64_t> pending_by_reason(PgConnection& conn,
                                                 std::chrono::milliseconds timeout) {
  PgResult r = conn.exec_params_within(
      "SELECT reason, pg_catalog.count(*) FROM public.ingest_rejects "
      "WHERE replay_state IS NULL OR replay_state = 'invalid' GROUP BY reason",
      {}, timeout);
  std::map<std::string, int64_t> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out[PQgetvalue(r.get(), i, 0)] = std::stoll(PQgetvalue(r.get(), i, 1));
  }
  return out;
}

std::vector<std::optional<int64_t>> replayed_elsewhere(PgConnection& conn,
                                                       std::span<const StoredReject> rejects) {
  std::vector<std::optional<int64_t>> out(rejects.size());
  if (rejects.empty()) return out;
  std::string topics = "{", parts = "{", offsets = "{", ids = "{";
  for (size_t i = 0; i < rejects.size(); ++i) {
    const char* sep = i == 0 ? "" : ",";
    topics += sep;
    append_array_text(topics, rejects[i].topic);
    parts += fmt::format("{}{}", sep, rejects[i].partition);
    offsets += fmt::format("{}{}", sep, rejects[i].offset);
    ids += fmt::format("{}{}", sep, rejects[i].id);
  }
  for (std::string* a : {&topics, &parts, &offsets, &ids}) a->push_back('}');
  // One lookup in ingest_rejects_lineage_idx per reject, as a correlated subquery: as a join the
  // planner, whose statistics see few 'replayed' rejects while a replay turns them so, chose
  // plans that took up to 60 s per page of 5000 on 200 000 rejects.
  PgResult r = conn.exec_params(
      "SELECT m.i, (SELECT pg_catalog.min(d.id) FROM public.ingest_rejects d "
      "  WHERE d.topic = m.topic AND d.kafka_partition = m.part AND d.kafka_offset = m.off "
      "  AND d.replay_state = 'replayed' AND d.id <> m.id) "
      "FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) "
      "WITH ORDINALITY AS m(topic, part, off, id, i)",
      {topics.c_str(), parts.c_str(), offsets.c_str(), ids.c_str()});
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    if (PQgetisnull(r.get(), i, 1)) continue;
    const size_t index = std::stoul(PQgetvalue(r.get(), i, 0)) - 1;
    out[index] = std::stoll(PQgetvalue(r.get(), i, 1));
  }
  return out;
}

size_t record(PgConnection& conn, std::span<const ReplayOutcome> outcomes,
              const std::string& replayed_by) {
  if (outcomes.empty()) return 0;
  // One replay transaction at a time records: the "no other reject of this message is replayed"
  // check below then sees every replay committed before it. Writers of `run` never take it.
  conn.exec(
      "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended("
      "'sentinel-ingest: rejects replay', 0))");
  std::string ids = "{", ats = "{", states = "{", reasons = "{", details = "{";
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const ReplayOutcome& o = outcomes[i];
    const char* sep = i == 0 ? "" : ",";
    ids += fmt::format("{}{}", sep, o.id);
    ats += fmt::format("{}{}", sep, o.rejected_at_unix_micros);
    states += sep;
    states += replay_state_name(o.state);
    reasons += sep;
    append_array_text(reasons, o.reason);
    details += sep;
    append_array_text(details, o.detail);
  }
  for (std::string* a : {&ids, &ats, &states, &reasons, &details}) a->push_back('}');
  PgResult r = conn.exec_params(
      "WITH o AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], "
      "  $4::text[], $5::text[]) AS o(id, at, state, reason, detail)) "
      "UPDATE public.ingest_rejects j SET replay_state = o.state, replayed_at = pg_catalog.now(), "
      "  replayed_by = $6, "
      "  replay_attempts = j.replay_attempts + 1, replay_reason = o.reason, "
      "  replay_detail = o.detail "
      "FROM o WHERE j.id = o.id "
      "  AND j.rejected_at = 'epoch'::timestamptz + o.at * '1 microsecond'::interval "
      "  AND (j.replay_state IS NULL OR j.replay_state = 'invalid') "
      "  AND (o.state <> 'replayed' OR NOT EXISTS (SELECT FROM public.ingest_rejects d "
      "    WHERE d.topic = j.topic AND d.kafka_partition = j.kafka_partition "
      "    AND d.kafka_offset = j.kafka_offset AND d.replay_state = 'replayed' AND d.id <> j.id))",
      {ids.c_str(), ats.c_str(), states.c_str(), reasons.c_str(), details.c_str(),
       replayed_by.c_str()});
  return std::stoul(PQcmdTuples(r.get()));
}

int64_t count_recorded_by(PgConnection& conn, std::span<const int64_t> ids,
                          const std::string& replayed_by) {
  std::string array = "{";
  for (size_t i = 0; i < ids.size(); ++i) array += fmt::format("{}{}", i == 0 ? "" : ",", ids[i]);
  array += '}';
  PgResult r = conn.exec_params(
      "SELECT pg_catalog.count(*) FROM public.ingest_rejects WHERE id = ANY ($1::bigint[]) "
      "AND replayed_by = $2",
      {array.c_str(), replayed_by.c_str()});
  return std::stoll(PQgetvalue(r.get(), 0, 0));
}

}  // namespace reject_store
}  // namespace sentinel
