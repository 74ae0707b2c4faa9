#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "app/event_generator.h"
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

/// Asserts (GoogleTest) that the database holds exactly what `events` must produce: every valid
/// event once with its values, every malformed one once as a reject with the expected reason,
/// costs equal to sums computed here from the generator's truth, rows in their month partition,
/// and the stored offsets covering every message. An event listed n times is owed n times (Kafka
/// held n records of it).
void expect_exactly_once(const TestDb& db, const std::vector<GeneratedEvent>& events);

}  // namespace sentinel::testing
