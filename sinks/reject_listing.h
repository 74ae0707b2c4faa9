#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "sinks/reject_store.h"

namespace sentinel::reject_listing {

/// "pending" (never replayed), "replayed", "invalid", "duplicate": the states `rejects list` shows,
/// in this order.
inline constexpr std::string_view kStates[] = {"pending", "replayed", "invalid", "duplicate"};

/// One reject as `rejects list` shows it; times are UTC RFC 3339 with microseconds, "" for none.
struct ListedReject {
  int64_t id = 0;
  std::string rejected_at;
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string reason;
  std::string detail;
  std::string state;  ///< one of kStates
  std::string replayed_at;
  int32_t replay_attempts = 0;
  std::string replay_reason;
  std::string replay_detail;
  std::optional<std::string> payload;  ///< its bytes, when asked for and stored
};

/// Which rejects `rejects list` reads.
struct ListQuery {
  RejectFilter filter;
  std::string state;     ///< one of kStates, or "" for every state
  int64_t limit = 0;     ///< 0: all
  bool payload = false;  ///< read the payloads too
};

/// Hands the rejects matching `query` to `page`, newest first by id (the order they were stored;
/// rejected_at is when, so the two agree but for rejects written with an explicit time), at
/// most `page_size` at a time: memory stays bounded however many match. Each page is one
/// read-only statement that starts below the last id of the page before, so it works as the
/// ingest role, through PgBouncer and on a replica.
void list(pqxx::connection& conn, const ListQuery& query, int64_t page_size,
          const std::function<void(std::vector<ListedReject>)>& page);

/// How many rejects match `filter`, by (reason, state); states as kStates.
std::map<std::pair<std::string, std::string>, int64_t> count_by_reason_and_state(
    pqxx::connection& conn, const RejectFilter& filter);

}  // namespace sentinel::reject_listing
