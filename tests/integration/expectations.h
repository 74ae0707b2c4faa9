#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "testkit/event_generator.h"
#include "tests/support/test_db.h"

namespace sentinel::testing {

/// Generates `count` events and publishes them to the mock cluster at `brokers`; returns what was
/// generated (payloads dropped, the truth kept).
std::vector<GeneratedEvent> publish_events(const std::string& brokers, uint64_t count,
                                           double invalid_ratio, uint64_t seed);

/// Messages stored so far: rows of both event tables plus rejects.
int64_t stored_messages(const TestDb& db);

/// Polls until `stored_messages(db) >= expected` or `timeout`; returns whether it got there.
/// `still_ok` is checked every poll; returning false stops waiting.
bool wait_for_stored(const TestDb& db, int64_t expected, std::chrono::seconds timeout,
                     const std::function<bool()>& still_ok = {});

/// What a run with special inputs adds to the exactly-once oracle (the chaos run).
struct OracleExtras {
  /// Valid events (by event_id / invocation_id) that may instead end as one reject
  /// `db_rejected` or `invalid_value`: poison values PostgreSQL or a configured bound refuses
  /// (a cost that overflows the rollup). Stored as a row, such an event is owed as usual (its
  /// cost counted); rejected, it is owed as one reject and no cost.
  std::set<std::string> may_be_rejected;
  /// A condition on one stored row: `sql_condition` (SQL over the row's columns) must hold for
  /// the row of `table` whose `id_column` is `id`, e.g. text stored exactly as sent.
  struct RowCheck {
    std::string table, id_column, id, sql_condition;
  };
  std::vector<RowCheck> row_checks;
};

/// Asserts (GoogleTest) that the database holds exactly what `events` must produce: every valid
/// event once with its values, every malformed one once as a reject with the expected reason,
/// costs equal to sums computed here from the generator's truth, rows in their month partition,
/// and the stored offsets covering every message. An event listed n times is owed n times (Kafka
/// held n records of it). `extras` relaxes and adds checks for special inputs. Reads the database
/// in UTF-8, whatever the role's or the environment's client encoding.
void expect_exactly_once(const TestDb& db, const std::vector<GeneratedEvent>& events,
                         const OracleExtras& extras = {});

}  // namespace sentinel::testing
