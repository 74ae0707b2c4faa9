// SchemaGenerator: realistic events of any catalog type made from its schema alone (architecture.md
// §9), for the built-in types, the guardrail example (tests/data/catalog) and a small type with
// nothing but text and integers that rejects unknown fields. What the parser makes of them is
// schema_generator_parser_test.cpp; here: what the events say, and that it stays within the schema.
#include "testkit/schema_generator.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/testkit/generated_events.h"

namespace sentinel {
namespace {

using testing::catalog_of_tests;
using testing::generate;
using testing::kNow;
using testing::kTypes;

/// The JSON value at `path` of `doc`, if there is one (null included).
std::optional<simdjson::dom::element> at_path(simdjson::dom::element doc,
                                              const std::vector<std::string>& path) {
  simdjson::dom::element v = doc;
  for (const std::string& key : path) {
    if (!v.is_object() || v.get_object().value().at_key(key).get(v) != simdjson::SUCCESS) {
      return std::nullopt;
    }
  }
  return v;
}

/// A failure message unless `v` is what `p` reads as `want`.
std::string mismatch(const Property& p, simdjson::dom::element v, const GeneratedValue& want) {
  using simdjson::dom::element_type;
  const element_type type = v.type();
  switch (p.type) {
    case ColumnType::kText:
    case ColumnType::kInet:
      return type == element_type::STRING && std::string(v.get_string().value()) == want.text
                 ? ""
                 : "text differs";
    case ColumnType::kUuid: {
      std::string s(v.get_string().value());
      std::transform(s.begin(), s.end(), s.begin(), [](char c) { return std::tolower(c); });
      return s == want.text ? "" : "uuid differs";
    }
    case ColumnType::kInt4:
    case ColumnType::kInt8:
      return type == element_type::INT64 && v.get_int64().value() == want.number
                 ? ""
                 : "integer differs";
    case ColumnType::kBool:
      return type == element_type::BOOL && v.get_bool().value() == (want.number != 0)
                 ? ""
                 : "bool differs";
    case ColumnType::kTimestamptz:
      // Strings are checked by the parser test; epoch milliseconds here.
      return type != element_type::INT64 || v.get_int64().value() * 1000 == want.number
                 ? ""
                 : "epoch ms differs";
    default:
      return "";  // numeric spellings and jsonb: the parser test reads them exactly
  }
}

TEST(SchemaGenerator, ValidEventsSayWhatTheyReportAtEachPropertysPath) {
  simdjson::dom::parser json;
  for (const std::string& name : kTypes) {
    const EventType& t = *catalog_of_tests()->find(name);
    for (const SchemaEvent& e : generate(name, 1500, 0.0, 3)) {
      simdjson::dom::element doc;
      ASSERT_EQ(json.parse(e.payload).get(doc), simdjson::SUCCESS) << e.payload;
      ASSERT_TRUE(doc.is_object()) << e.payload;
      for (size_t i = 0; i < t.properties.size(); ++i) {
        const Property& p = t.properties[i];
        const auto v = at_path(doc, p.path);
        const bool has = v && !v->is_null();
        ASSERT_EQ(has, e.values[i].present) << name << "." << p.name << " in " << e.payload;
        ASSERT_TRUE(has || !p.required) << name << "." << p.name << " in " << e.payload;
        if (has) {
          EXPECT_EQ(mismatch(p, *v, e.values[i]), "") << p.name << " in " << e.payload;
        }
      }
    }
  }
}

TEST(SchemaGenerator, ValuesStayWithinTheSchema) {
  for (const std::string& name : kTypes) {
    const EventType& t = *catalog_of_tests()->find(name);
    for (const SchemaEvent& e : generate(name, 3000, 0.0, 5)) {
      for (size_t i = 0; i < t.properties.size(); ++i) {
        const std::string problem = testing::outside_schema(t, t.properties[i], e.values[i], kNow);
        ASSERT_EQ(problem, "") << name << "." << t.properties[i].name << " in " << e.payload;
      }
      ASSERT_EQ(e.ts_unix_micros,
                e.values[static_cast<size_t>(t.property_index(t.partition_by))].number);
    }
  }
}

TEST(SchemaGenerator, OptionalPropertiesAreMostlyPresentSometimesAbsentSometimesNull) {
  const EventType& t = *catalog_of_tests()->find("guardrail");
  const auto events = generate("guardrail", 4000, 0.0, 7);
  for (size_t i = 0; i < t.properties.size(); ++i) {
    const Property& p = t.properties[i];
    if (p.required) continue;
    int present = 0, null = 0;
    for (const SchemaEvent& e : events) {
      present += e.values[i].present ? 1 : 0;
      null += e.payload.find("\"" + p.path.back() + "\":null") != std::string::npos ? 1 : 0;
    }
    EXPECT_GT(present, 3000) << p.name;
    EXPECT_LT(present, 3900) << p.name;
    EXPECT_GT(null, 100) << p.name;
  }
}

TEST(SchemaGenerator, DottedSourcePathsBecomeNestedObjects) {
  // guardrail's prompt_tokens is read from usage.prompt_tokens.
  int nested = 0;
  for (const SchemaEvent& e : generate("guardrail", 500, 0.0, 9)) {
    EXPECT_TRUE(e.payload.find("\"prompt_tokens\"") == std::string::npos ||
                e.payload.find("\"usage\":{\"prompt_tokens\":") != std::string::npos)
        << e.payload;
    nested += e.payload.find("\"usage\":{\"prompt_tokens\":") != std::string::npos ? 1 : 0;
  }
  EXPECT_GT(nested, 350);
}

TEST(SchemaGenerator, TenantsFollowAZipfPopularityAndKeyTheMessages) {
  SchemaGeneratorOptions o;
  o.tenants = 50;
  std::map<std::string, int> per_tenant;
  for (const SchemaEvent& e : generate("guardrail", 20000, 0.0, 11, o)) {
    ASSERT_EQ(e.key, e.tenant);
    ++per_tenant[e.tenant];
  }
  EXPECT_LE(per_tenant.size(), 50u);
  EXPECT_GT(per_tenant.size(), 40u);
  std::vector<int> counts;
  for (const auto& [tenant, n] : per_tenant) counts.push_back(n);
  std::sort(counts.rbegin(), counts.rend());
  EXPECT_GT(counts[0], 5 * counts[20]);  // a few tenants make most of the traffic
  EXPECT_GT(counts[0] + counts[1] + counts[2], 20000 / 4);
}

TEST(SchemaGenerator, InvocationsAgreeWithTheirModelsPrice) {
  const EventType& t = *catalog_of_tests()->find("invocation");
  for (const SchemaEvent& e : generate("invocation", 500, 0.0, 13)) {
    const std::string& model = e.value(t, "model").text;
    const ModelPrice* price = nullptr;
    for (const ModelPrice& m : model_prices()) price = m.name == model ? &m : price;
    ASSERT_NE(price, nullptr) << model;
    EXPECT_EQ(e.value(t, "provider").text, price->provider);
    // costs sums cost_usd in nano-dollars, the property's units at scale 9
    EXPECT_EQ(e.value(t, "cost_usd").number,
              e.value(t, "prompt_tokens").number * price->input_nanos_per_token +
                  e.value(t, "completion_tokens").number * price->output_nanos_per_token);
  }
  EXPECT_THROW(generate("invocation", 1, 0.0, 13)[0].value(t, "nosuch"), std::out_of_range);
}

TEST(SchemaGenerator, TimestampsAndDecimalsComeInEverySpellingTheSchemaAllows) {
  std::set<std::string> ts_forms, score_forms;
  for (const SchemaEvent& e : generate("guardrail", 2000, 0.0, 15)) {
    const auto ts = e.payload.find("\"ts\":") + 5;
    const std::string v = e.payload.substr(ts, e.payload.find_first_of(",}", ts) - ts);
    ts_forms.insert(v[0] != '"'                             ? "epoch ms"
                    : v.find("+05:30") != std::string::npos ? "+05:30"
                    : v.find("-08:00") != std::string::npos ? "-08:00"
                    : v.size() == 29                        ? "Z, micros"
                                                            : "Z, millis");
    const auto score = e.payload.find("\"score\":");
    if (score == std::string::npos) continue;
    const std::string s =
        e.payload.substr(score + 8, e.payload.find_first_of(",}", score) - score - 8);
    score_forms.insert(s == "null"                        ? "null"
                       : s[0] == '"'                      ? "string"
                       : s.find('e') != std::string::npos ? "exponent"
                                                          : "number");
  }
  EXPECT_EQ(ts_forms.size(), 5u);
  EXPECT_EQ(score_forms, (std::set<std::string>{"exponent", "null", "number", "string"}));
}

TEST(SchemaGenerator, MalformedEventsCoverEveryReasonAMessageCanHave) {
  for (const std::string& name : kTypes) {
    std::map<RejectReason, int> per_reason;
    for (const SchemaEvent& e : generate(name, 700, 1.0, 17)) {
      ASSERT_FALSE(e.valid);
      ++per_reason[e.expected_reason];
      const bool names_property =
          e.expected_reason != RejectReason::kNotAnObject &&
          e.expected_reason != RejectReason::kInvalidJson &&
          !(e.expected_reason == RejectReason::kTooLarge && name == "plain");
      if (names_property) {
        EXPECT_FALSE(e.expected_property.empty()) << to_string(e.expected_reason) << e.payload;
      }
    }
    for (const RejectReason r : message_reject_reasons()) {
      EXPECT_GE(per_reason[r], 90) << name << ": " << to_string(r);
    }
  }
}

TEST(SchemaGenerator, AShareOfInvalidEventsAtTheInvalidRatio) {
  const auto events = generate("audit", 10000, 0.1, 19);
  const auto invalid =
      std::count_if(events.begin(), events.end(), [](const SchemaEvent& e) { return !e.valid; });
  EXPECT_GT(invalid, 850);
  EXPECT_LT(invalid, 1150);
}

TEST(SchemaGenerator, UnknownFieldsAreFieldsNoPropertyReads) {
  int unknown = 0;
  for (const SchemaEvent& e : generate("guardrail", 2000, 0.0, 21)) {
    if (!e.unknown_field) continue;
    ++unknown;
    EXPECT_TRUE(e.payload.find("\"client_version\":") != std::string::npos ||
                e.payload.find("\"trace\":") != std::string::npos)
        << e.payload;
  }
  EXPECT_GT(unknown, 40);
  // A type that rejects them never gets one in a valid event.
  for (const SchemaEvent& e : generate("plain", 2000, 0.0, 21)) EXPECT_FALSE(e.unknown_field);
}

TEST(SchemaGenerator, SameSeedSameEventsAnotherSeedOthers) {
  const auto a = generate("guardrail", 300, 0.2, 23);
  const auto b = generate("guardrail", 300, 0.2, 23);
  const auto c = generate("guardrail", 300, 0.2, 24);
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].payload, b[i].payload);
    EXPECT_EQ(a[i].valid, b[i].valid);
    differ += a[i].payload != c[i].payload ? 1 : 0;
  }
  EXPECT_EQ(differ, 300);
}

TEST(SchemaGenerator, SeveralTypesInEqualShares) {
  const auto catalog = catalog_of_tests();
  SchemaGeneratorOptions o;
  o.now_unix_micros = kNow;
  SchemaGenerator gen(catalog, {catalog->index_of("audit"), catalog->index_of("guardrail")}, o);
  std::map<std::string, int> per_topic;
  for (int i = 0; i < 4000; ++i) ++per_topic[gen.next().topic];
  EXPECT_EQ(per_topic.size(), 2u);
  EXPECT_GT(per_topic["sentinel.guardrails"], 1800);
  EXPECT_GT(per_topic["sentinel.audit"], 1800);
}

TEST(SchemaGenerator, RefusesNoTypesAndATypeNumberOutsideTheCatalog) {
  EXPECT_THROW(SchemaGenerator(catalog_of_tests(), {}), std::invalid_argument);
  EXPECT_THROW(SchemaGenerator(catalog_of_tests(), {99}), std::invalid_argument);
}

}  // namespace
}  // namespace sentinel
