// What the ingestor's parser makes of SchemaGenerator's events, type by type (the built-in ones,
// the guardrail example and a text-and-integers type that rejects unknown fields): every
// valid event is accepted and read as the generator reports it, every malformed one is rejected
// with its expected reason and a detail naming the property.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ingest/event_parser.h"
#include "tests/testkit/generated_events.h"

namespace sentinel {
namespace {

using testing::catalog_of_tests;
using testing::generate;
using testing::kNow;
using testing::kTypes;

struct Parsed {
  std::optional<Rejection> rejection;
  ParsedEvent event;
  std::string tuple;
};

Parsed parse(EventParser& parser, const SchemaEvent& e, int64_t offset) {
  const simdjson::padded_string json(e.payload);
  Parsed p;
  p.rejection = parser.parse(e.type, json.data(), json.size(), {0, offset, kNow}, p.tuple, p.event);
  return p;
}

/// Whether column `index` of a binary COPY tuple is NULL.
bool column_is_null(const std::string& tuple, int index) {
  size_t at = 2;  // the field count
  for (int i = 0;; ++i) {
    int32_t length = 0;
    std::memcpy(&length, tuple.data() + at, 4);
    length = static_cast<int32_t>(ntohl(static_cast<uint32_t>(length)));
    if (i == index) return length < 0;
    at += 4 + static_cast<size_t>(std::max(length, 0));
  }
}

TEST(SchemaGeneratorParser, EveryValidEventIsAcceptedAndReadAsTheGeneratorReportsIt) {
  EventParser parser(catalog_of_tests());
  for (const std::string& name : kTypes) {
    const EventType& t = *catalog_of_tests()->find(name);
    int64_t offset = 0;
    for (const SchemaEvent& e : generate(name, 3000, 0.0, 31)) {
      const Parsed p = parse(parser, e, offset++);
      ASSERT_FALSE(p.rejection) << name << ": " << p.rejection->detail << " in " << e.payload;
      ASSERT_EQ(p.event.ts_unix_micros, e.ts_unix_micros) << e.payload;
      for (size_t i = 0; i < t.properties.size(); ++i) {
        const Property& prop = t.properties[i];
        const PropertyValue& got = p.event.values[i];
        ASSERT_EQ(got.present, e.values[i].present) << prop.name << " in " << e.payload;
        if (!got.present) continue;
        if (prop.type == ColumnType::kText || prop.type == ColumnType::kUuid) {
          ASSERT_EQ(got.text, e.values[i].text) << prop.name << " in " << e.payload;
        } else if (prop.type != ColumnType::kInet && prop.type != ColumnType::kJsonb) {
          ASSERT_EQ(got.number, e.values[i].number) << prop.name << " in " << e.payload;
        }
      }
      if (t.unknown_fields == UnknownFields::kKeep) {
        const int extra = static_cast<int>(t.properties.size());
        EXPECT_EQ(!column_is_null(p.tuple, extra), e.unknown_field) << e.payload;
      }
    }
  }
}

TEST(SchemaGeneratorParser, EveryMalformedEventIsRejectedWithItsExpectedReason) {
  EventParser parser(catalog_of_tests());
  for (const std::string& name : kTypes) {
    std::map<RejectReason, int> per_reason;
    int64_t offset = 0;
    for (const SchemaEvent& e : generate(name, 1400, 1.0, 33)) {
      const Parsed p = parse(parser, e, offset++);
      ASSERT_TRUE(p.rejection) << name << ": accepted " << e.payload.substr(0, 2000);
      ASSERT_EQ(p.rejection->reason, e.expected_reason)
          << name << ": " << p.rejection->detail << " in " << e.payload.substr(0, 2000);
      EXPECT_NE(p.rejection->detail.find(e.expected_property), std::string::npos)
          << p.rejection->detail << " does not name " << e.expected_property;
      ++per_reason[p.rejection->reason];
    }
    for (const RejectReason r : message_reject_reasons()) {
      EXPECT_GE(per_reason[r], 180) << name << ": " << to_string(r);
    }
  }
}

TEST(SchemaGeneratorParser, MixedTrafficLandsAsTheGeneratorSays) {
  EventParser parser(catalog_of_tests());
  const auto catalog = catalog_of_tests();
  SchemaGeneratorOptions o;
  o.invalid_ratio = 0.05;
  o.now_unix_micros = kNow;
  std::vector<int> all;
  for (size_t i = 0; i < catalog->size(); ++i) all.push_back(static_cast<int>(i));
  SchemaGenerator gen(catalog, all, o);
  int rejected = 0;
  for (int64_t offset = 0; offset < 20000; ++offset) {
    const SchemaEvent e = gen.next();
    const Parsed p = parse(parser, e, offset);
    ASSERT_EQ(p.rejection.has_value(), !e.valid) << e.payload.substr(0, 2000);
    if (p.rejection) {
      ASSERT_EQ(p.rejection->reason, e.expected_reason) << p.rejection->detail;
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 800);
  EXPECT_LT(rejected, 1200);
}

}  // namespace
}  // namespace sentinel
