#include "sinks/reject_listing.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace sentinel::reject_listing {
namespace {

// A time as UTC RFC 3339 with microseconds, in SQL.
std::string rfc3339(std::string_view column) {
  return fmt::format(
      "pg_catalog.to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", column);
}

// The filter as $1 (reason), $2 (topic), $3 (since, unix microseconds); "" matches any.
constexpr std::string_view kFilterCondition =
    "($1::text = '' OR reason = $1) AND ($2::text = '' OR topic = $2) "
    "AND (NULLIF($3::text, '') IS NULL OR rejected_at >= 'epoch'::timestamptz "
    "+ NULLIF($3::text, '')::bigint * '1 microsecond'::interval)";

std::string since_param(const RejectFilter& f) {
  return f.since_unix_micros ? std::to_string(*f.since_unix_micros) : std::string();
}

}  // namespace

void list(pqxx::connection& conn, const ListQuery& query, int64_t page_size,
          const std::function<void(std::vector<ListedReject>)>& page) {
  // Id order runs down each partition's primary key (id, rejected_at) and merges them: a page
  // costs its own rows, not a sort of every match. $7: the page starts below this id.
  const std::string sql = fmt::format(
      "SELECT id, {}, topic, kafka_partition, kafka_offset, reason, detail, "
      "coalesce(replay_state, 'pending'), coalesce({}, ''), replay_attempts, "
      "coalesce(replay_reason, ''), coalesce(replay_detail, ''), "
      "CASE WHEN $5::bool THEN payload END "
      "FROM public.ingest_rejects WHERE {} "
      "AND ($4::text = '' OR coalesce(replay_state, 'pending') = $4) "
      "AND id < $7::bigint ORDER BY id DESC LIMIT $6::bigint",
      rfc3339("rejected_at"), rfc3339("replayed_at"), kFilterCondition);
  int64_t below = std::numeric_limits<int64_t>::max();
  int64_t left = query.limit > 0 ? query.limit : -1;
  while (left != 0) {
    const int64_t want = left > 0 ? std::min(left, page_size) : page_size;
    std::vector<ListedReject> out;
    {
      pqxx::read_transaction tx(conn);
      const pqxx::result r =
          tx.exec_params(sql, query.filter.reason.value_or(""), query.filter.topic.value_or(""),
                         since_param(query.filter), query.state, query.payload, want, below);
      out.reserve(r.size());
      for (const pqxx::row& row : r) {
        ListedReject x;
        x.id = row[0].as<int64_t>();
        x.rejected_at = row[1].as<std::string>();
        x.topic = row[2].as<std::string>();
        x.partition = row[3].as<int32_t>();
        x.offset = row[4].as<int64_t>();
        x.reason = row[5].as<std::string>();
        x.detail = row[6].as<std::string>();
        x.state = row[7].as<std::string>();
        x.replayed_at = row[8].as<std::string>();
        x.replay_attempts = row[9].as<int32_t>();
        x.replay_reason = row[10].as<std::string>();
        x.replay_detail = row[11].as<std::string>();
        if (!row[12].is_null()) x.payload = pqxx::binarystring(row[12]).str();
        below = x.id;
        out.push_back(std::move(x));
      }
    }
    const auto got = static_cast<int64_t>(out.size());
    if (got > 0) page(std::move(out));
    if (got < want) break;
    if (left > 0) left -= got;
  }
}

std::map<std::pair<std::string, std::string>, int64_t> count_by_reason_and_state(
    pqxx::connection& conn, const RejectFilter& filter) {
  const std::string sql = fmt::format(
      "SELECT reason, coalesce(replay_state, 'pending'), pg_catalog.count(*) "
      "FROM public.ingest_rejects WHERE {} GROUP BY 1, 2",
      kFilterCondition);
  pqxx::read_transaction tx(conn);
  std::map<std::pair<std::string, std::string>, int64_t> out;
  for (const pqxx::row& row : tx.exec_params(sql, filter.reason.value_or(""),
                                             filter.topic.value_or(""), since_param(filter))) {
    out[{row[0].as<std::string>(), row[1].as<std::string>()}] = row[2].as<int64_t>();
  }
  return out;
}

}  // namespace sentinel::reject_listing
