#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "testkit/schema_generator.h"

namespace sentinel::testing {

/// The instant the tests generate at (2025-12-06), so that events do not depend on the clock.
inline constexpr int64_t kNow = 1'765'000'000'000'000;

/// The built-in types, the guardrail example (tests/data/catalog) and "plain": text and
/// integers only, no jsonb, unknown fields rejected (the generator's other paths).
std::shared_ptr<const Catalog> catalog_of_tests();

/// The names of catalog_of_tests()'s types.
inline const std::vector<std::string> kTypes = {"audit", "invocation", "guardrail", "plain"};

/// `count` events of the type `name` of catalog_of_tests(), made at kNow.
std::vector<SchemaEvent> generate(const std::string& name, int count, double invalid_ratio,
                                  uint64_t seed, SchemaGeneratorOptions options = {});

/// What is wrong with `v` as a value of `p` of type `t` at `now` ("" when it is within the
/// schema): required and missing, not in the enum, too short or long, out of range, a timestamp
/// outside the type's window, a uuid that is not version 4...
std::string outside_schema(const EventType& t, const Property& p, const GeneratedValue& v,
                           int64_t now);

}  // namespace sentinel::testing
