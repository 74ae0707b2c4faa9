#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sinks/pg_connection.h"

namespace sentinel {

/// A reject as `rejects replay` reads it from ingest_rejects.
struct StoredReject {
  int64_t id = 0;
  int64_t rejected_at_unix_micros = 0;  ///< with id, its primary key (and its month partition)
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string reason;
  std::optional<std::string> payload;  ///< NULL: the message was no longer in Kafka
};

/// Which rejects a `rejects` command works on: every filter given must match.
struct RejectFilter {
  std::optional<std::string> reason;
  std::optional<std::string> topic;
  std::optional<int64_t> since_unix_micros;  ///< rejected_at at or after
};

/// What a replay decided for one reject (ingest_rejects.replay_state and the columns after it).
struct ReplayOutcome {
  enum class State { kReplayed, kInvalid, kDuplicate };
  int64_t id = 0;
  int64_t rejected_at_unix_micros = 0;
  State state = State::kReplayed;
  std::string reason;  ///< kInvalid: the reject reason now; kDuplicate: "duplicate"
  std::string detail;  ///< kInvalid: the detail now; kDuplicate: which reject was replayed
};

/// "replayed", "invalid", "duplicate" (the values of ingest_rejects.replay_state).
std::string_view replay_state_name(ReplayOutcome::State state);

/// The statements of the rejects lifecycle on ingest_rejects (architecture.md §10). Every one is a
/// single statement with its parameters, no session state: they work through PgBouncer in
/// transaction mode, as the ingest role.
namespace reject_store {

/// The rejects still to replay (never replayed, or found invalid by the last replay) that match
/// `filter`, with id > `after_id`, in id order: at most `max_count`, and as many as fit in
/// `max_payload_bytes` of payloads (at least one).
std::vector<StoredReject> read_pending(PgConnection& conn, const RejectFilter& filter,
                                       int64_t after_id, int max_count, int64_t max_payload_bytes);

/// How many rejects read_pending would give in all.
int64_t count_pending(PgConnection& conn, const RejectFilter& filter);

/// The rejects still to replay, by stored reason (reasons with none are left out), within
/// `timeout` (connecting first if needed).
std::map<std::string, int64_t> pending_by_reason(PgConnection& conn,
                                                 std::chrono::milliseconds timeout);

/// For each reject, the id of another reject of the same Kafka message (topic, partition, offset)
/// that was already replayed, if any.
std::vector<std::optional<int64_t>> replayed_elsewhere(PgConnection& conn,
                                                       std::span<const StoredReject> rejects);

/// Records the outcomes in the caller's open transaction, after taking the replay lock (one
/// replay transaction at a time commits its outcomes; an ingestor is never blocked). A reject's
/// state is set only while it is still to replay, and kReplayed only while no other reject of the
/// same message is replayed: returns how many were recorded, and fewer than outcomes.size() means
/// another replay got there first (the caller rolls back and reads again). `replayed_by` names
/// the run.
size_t record(PgConnection& conn, std::span<const ReplayOutcome> outcomes,
              const std::string& replayed_by);

/// How many of the rejects `ids` carry `replayed_by`: a transaction of this run that recorded
/// them committed (for one whose COMMIT's answer was lost).
int64_t count_recorded_by(PgConnection& conn, std::span<const int64_t> ids,
                          const std::string& replayed_by);

}  // namespace reject_store
}  // namespace sentinel
