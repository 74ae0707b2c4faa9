// The compiled plan of an event type (architecture.md §9): every column type and keyword, x-source
// paths, unknown fields (keep, ignore, reject), exact numerics at any scale, and the guardrail
// example type end to end. The built-in types' byte-for-byte tuples are event_parser_test's.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "ingest/event_parser.h"
#include "ingest/scalars.h"
#include "rows/copy_encoder.h"

namespace sentinel {
namespace {

int64_t at(std::string_view rfc3339) { return parse_timestamp(rfc3339).unix_micros; }
const int64_t kNow = at("2026-11-30T00:00:00Z");
constexpr std::string_view kId = "6F1C1B9E-8D2A-4C59-9F0E-2B7A4D1E3C55";

// ---- types by hand ----

Property prop(const std::string& name, ColumnType type, uint8_t json_types, bool required = false) {
  Property p;
  p.name = name;
  p.column = name;
  p.path = {name};
  p.type = type;
  p.json_types = json_types;
  p.required = required;
  return p;
}

Property numeric(const std::string& name, int precision, int scale, uint8_t json_types) {
  Property p = prop(name, ColumnType::kNumeric, json_types);
  p.numeric_precision = precision;
  p.numeric_scale = scale;
  return p;
}

/// One property of every column type and keyword. Column order = this order.
EventType probe_type(UnknownFields unknown = UnknownFields::kKeep) {
  EventType t;
  t.name = "probe";
  t.table = "probes";
  t.topic = "probes";
  t.partition_by = "ts";
  t.max_age_days = 2;
  t.max_future_days = 0;
  t.unknown_fields = unknown;
  auto& ps = t.properties;
  ps.push_back(prop("id", ColumnType::kUuid, kJsonString, true));
  ps.push_back(prop("ts", ColumnType::kTimestamptz, kJsonString | kJsonInteger, true));
  Property name = prop("name", ColumnType::kText, kJsonString);
  name.min_length = 2;
  name.max_length = 5;
  ps.push_back(name);
  Property kind = prop("kind", ColumnType::kText, kJsonString);
  kind.enum_values = {"a", "b"};
  ps.push_back(kind);
  Property n4 = prop("n4", ColumnType::kInt4, kJsonInteger);
  n4.minimum = -5;
  n4.maximum = 10;
  ps.push_back(n4);
  Property n8 = prop("n8", ColumnType::kInt8, kJsonInteger);
  n8.maximum = 1'000'000'000'000;
  ps.push_back(n8);
  Property amount = numeric("amount", 8, 3, kJsonNumber | kJsonString);
  amount.minimum = -10'500;    // -10.5
  amount.maximum = 1'000'000;  // 1000
  ps.push_back(amount);
  ps.push_back(numeric("big", 5, 2, kJsonNumber));
  ps.push_back(prop("flag", ColumnType::kBool, kJsonBoolean));
  ps.push_back(prop("ip", ColumnType::kInet, kJsonString));
  ps.push_back(prop("tags", ColumnType::kJsonb, kJsonArray));
  ps.push_back(prop("doc", ColumnType::kJsonb, kJsonObject | kJsonArray));
  Property tokens = prop("tokens", ColumnType::kInt4, kJsonInteger);
  tokens.path = {"usage", "prompt_tokens"};
  ps.push_back(tokens);
  Property deep = prop("deep", ColumnType::kText, kJsonString);
  deep.path = {"a", "b", "c"};
  ps.push_back(deep);
  t.rollups.push_back({"probe_daily", {"kind"}, {"day"}, "events", {{"amount_total", "amount"}}});
  return t;
}

enum Col : int {
  kColId,
  kColTs,
  kColName,
  kColKind,
  kColN4,
  kColN8,
  kColAmount,
  kColBig,
  kColFlag,
  kColIp,
  kColTags,
  kColDoc,
  kColTokens,
  kColDeep,
  kColExtra
};

std::shared_ptr<const Catalog> catalog_of(EventType t) {
  std::vector<EventType> types;
  types.push_back(std::move(t));
  return std::make_shared<const Catalog>(std::move(types));
}

// ---- running it ----

struct Result {
  std::optional<Rejection> rejection;
  std::vector<std::optional<std::string>> fields;  ///< the tuple, decoded; nullopt = NULL
  std::vector<PropertyValue> values;
  std::vector<std::string> texts;  ///< values[i].text, copied
  int64_t ts = 0;
};

uint32_t be32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}

std::vector<std::optional<std::string>> fields_of(std::string_view t) {
  std::vector<std::optional<std::string>> fields;
  const int count = static_cast<uint8_t>(t[0]) << 8 | static_cast<uint8_t>(t[1]);
  size_t pos = 2;
  for (int i = 0; i < count; ++i) {
    const auto len = static_cast<int32_t>(be32(t.data() + pos));
    pos += 4;
    if (len < 0) {
      fields.emplace_back();
      continue;
    }
    fields.emplace_back(std::string(t.substr(pos, static_cast<size_t>(len))));
    pos += static_cast<size_t>(len);
  }
  EXPECT_EQ(pos, t.size());
  return fields;
}

Result run(EventParser& parser, std::string_view json, int type = 0) {
  std::string padded(json);
  padded.append(simdjson::SIMDJSON_PADDING, ' ');
  std::string out = "before";
  ParsedEvent event;
  Result r;
  r.rejection = parser.parse(type, padded.data(), json.size(), {1, 2, kNow}, out, event);
  if (r.rejection) {
    EXPECT_EQ(out, "before");
    return r;
  }
  r.fields = fields_of(std::string_view(out).substr(6));
  r.values.assign(event.values.begin(), event.values.end());
  for (const PropertyValue& v : r.values) r.texts.emplace_back(v.text);
  r.ts = event.ts_unix_micros;
  return r;
}

void expect_reject(const Result& r, RejectReason reason, std::string_view detail) {
  ASSERT_TRUE(r.rejection.has_value()) << "accepted; expected " << detail;
  EXPECT_EQ(to_string(r.rejection->reason), to_string(reason)) << r.rejection->detail;
  EXPECT_EQ(r.rejection->detail.substr(0, detail.size()), detail);
}

/// A valid probe event with `more` appended (JSON members, each with a leading comma).
std::string probe(const std::string& more = "") {
  return R"({"id":")" + std::string(kId) + R"(","ts":"2026-11-29T12:00:00Z")" + more + "}";
}

int16_t be16_of(const std::string& f, size_t at) {
  return static_cast<int16_t>(static_cast<uint8_t>(f[at]) << 8 | static_cast<uint8_t>(f[at + 1]));
}

std::string fmt_4(int d) {
  std::string s = std::to_string(d);
  return std::string(4 - s.size(), '0') + s;
}

/// numeric in binary → its text, from the encoding alone (ndigits, weight, sign, dscale, digits).
std::string numeric_text(const std::string& f) {
  const int ndigits = be16_of(f, 0), weight = be16_of(f, 2), dscale = be16_of(f, 6);
  const bool negative = static_cast<uint16_t>(be16_of(f, 4)) == 0x4000;
  std::string ints, fracs;
  for (int w = std::max(weight, 0); w >= 0; --w) {
    const int i = weight - w;
    const int d = i >= 0 && i < ndigits ? be16_of(f, 8 + 2 * static_cast<size_t>(i)) : 0;
    ints += ints.empty() ? std::to_string(d) : fmt_4(d);
  }
  for (int w = -1; static_cast<int>(fracs.size()) < dscale; --w) {
    const int i = weight - w;
    const int d = i >= 0 && i < ndigits ? be16_of(f, 8 + 2 * static_cast<size_t>(i)) : 0;
    fracs += fmt_4(d);
  }
  fracs.resize(static_cast<size_t>(dscale));
  return (negative ? "-" : "") + ints + (dscale > 0 ? "." + fracs : "");
}

using R = RejectReason;

// ---- every type and keyword: accepted ----

TEST(EventPlan, EncodesEveryColumnTypeAndFillsTheValues) {
  EventParser parser(catalog_of(probe_type()));
  const Result r = run(parser, probe(R"(,"name":"ab","kind":"b","n4":-5,"n8":5000000000,)"
                                     R"("amount":"-10.5","big":999.99,"flag":true,)"
                                     R"("ip":"2001:db8::1","tags":[1, "x"],"doc":{"k":null},)"
                                     R"("usage":{"prompt_tokens":7},"a":{"b":{"c":"deep"}})"));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  ASSERT_EQ(r.fields.size(), 17u);  // 14 properties, extra, kafka_partition, kafka_offset
  const auto parsed_id = parse_uuid(kId);
  EXPECT_EQ(r.fields[kColId], std::string(reinterpret_cast<const char*>(parsed_id->data()), 16));
  EXPECT_EQ(r.texts[kColId], "6f1c1b9e-8d2a-4c59-9f0e-2b7a4d1e3c55") << "canonical lower case";
  EXPECT_EQ(r.ts, at("2026-11-29T12:00:00Z"));
  EXPECT_EQ(r.values[kColTs].number, r.ts);
  EXPECT_EQ(r.fields[kColName], "ab");
  EXPECT_EQ(r.texts[kColKind], "b");
  EXPECT_EQ(be32(r.fields[kColN4]->data()), static_cast<uint32_t>(-5));
  EXPECT_EQ(r.fields[kColN8]->size(), 8u) << "int8";
  EXPECT_EQ(r.values[kColN8].number, 5'000'000'000);
  EXPECT_EQ(numeric_text(*r.fields[kColAmount]), "-10.500");
  EXPECT_EQ(r.values[kColAmount].number, -10'500);
  EXPECT_EQ(numeric_text(*r.fields[kColBig]), "999.99");
  EXPECT_EQ(r.fields[kColFlag], std::string(1, '\1'));
  EXPECT_EQ(r.values[kColFlag].number, 1);
  EXPECT_EQ(r.fields[kColIp]->size(), 4u + 16u) << "inet v6";
  EXPECT_EQ(r.fields[kColTags], std::string("\1[1, \"x\"]"));
  EXPECT_EQ(r.fields[kColDoc], std::string("\1{\"k\":null}"));
  EXPECT_EQ(r.values[kColTokens].number, 7);
  EXPECT_EQ(r.fields[kColDeep], "deep");
  EXPECT_EQ(r.fields[kColExtra], std::nullopt) << "no unknown field: extra is NULL";
  EXPECT_EQ(be32(r.fields[15]->data()), 1u);
}

TEST(EventPlan, AbsentAndNullOptionalsAreNullAndNotPresent) {
  EventParser parser(catalog_of(probe_type()));
  const Result r = run(parser, probe(R"(,"name":null,"flag":false,"usage":{})"));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  for (int c = kColName; c <= kColExtra; ++c) {
    if (c == kColFlag) continue;
    EXPECT_EQ(r.fields[static_cast<size_t>(c)], std::nullopt) << c;
    if (c < kColExtra) EXPECT_FALSE(r.values[static_cast<size_t>(c)].present) << c;
  }
  EXPECT_EQ(r.fields[kColFlag], std::string(1, '\0'));
  EXPECT_TRUE(r.values[kColFlag].present);
}

TEST(EventPlan, NumericIsReadExactlyAtItsScaleRoundingHalfEven) {
  EventParser parser(catalog_of(probe_type()));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1.0005", "1.000"},
      {"1.0015", "1.002"},
      {"-1.0005", "-1.000"},
      {"-1.0015", "-1.002"},
      {"\"2.5\"", "2.500"},
      {"1e2", "100.000"},
      {"-0.0004", "0.000"},
      {"12345e-4", "1.234"},
      {"1000", "1000.000"},
      {"-10.5", "-10.500"},
      {"0.0000000000000000000001", "0.000"}};
  for (const auto& [raw, text] : cases) {
    const Result r = run(parser, probe(",\"amount\":" + raw));
    ASSERT_FALSE(r.rejection) << raw << ": " << r.rejection->detail;
    EXPECT_EQ(numeric_text(*r.fields[kColAmount]), text) << raw;
  }
}

// ---- every type and keyword: rejected, with the reason and the property ----

struct Case {
  std::string members;  ///< appended to probe()
  RejectReason reason;
  std::string detail;  ///< expected prefix
};

TEST(EventPlan, RejectsEveryKeywordWithItsReasonAndProperty) {
  const std::vector<Case> cases = {
      {R"(,"id":"nope")", R::kInvalidJson, "duplicate field: id"},
      {R"(,"name":"")", R::kInvalidValue, "invalid value: name: empty"},
      {R"(,"name":"a")", R::kInvalidValue, "invalid value: name: 1 characters, at least 2"},
      {R"(,"name":"éééééé")", R::kInvalidValue, "invalid value: name: 6 characters, at most 5"},
      {R"(,"name":"a\u0000")", R::kInvalidValue, "invalid value: name: contains NUL"},
      {R"(,"name":5)", R::kWrongType, "wrong type: name: expected string, got number"},
      {R"(,"kind":"c")", R::kInvalidValue, "invalid value: kind: expected a|b, got \"c\""},
      {R"(,"n4":11)", R::kInvalidValue, "invalid value: n4: 11 is out of range -5..10"},
      {R"(,"n4":-6)", R::kInvalidValue, "invalid value: n4: -6 is out of range -5..10"},
      {R"(,"n4":1.5)", R::kInvalidValue, "invalid value: n4: expected an integer, got 1.5"},
      {R"(,"n4":"1")", R::kWrongType, "wrong type: n4: expected integer, got string"},
      {R"(,"n8":1000000000001)", R::kInvalidValue,
       "invalid value: n8: 1000000000001 is out of range -9223372036854775808..1000000000000"},
      {R"(,"amount":"-10.5001")", R::kInvalidValue,
       "invalid value: amount: \"-10.5001\" is below the minimum -10.5"},
      {R"(,"amount":1000.0004)", R::kInvalidValue,
       "invalid value: amount: 1000.0004 is above the maximum 1000"},
      {R"(,"amount":"x1")", R::kInvalidValue, "invalid value: amount: not a decimal number"},
      {R"(,"amount":true)", R::kWrongType,
       "wrong type: amount: expected number or decimal string, got boolean"},
      {R"(,"big":999.995)", R::kInvalidValue,
       "invalid value: big: too large: 999.995 (the column is numeric(5,2))"},
      {R"(,"big":-1000)", R::kInvalidValue, "invalid value: big: too large: -1000"},
      {R"(,"big":1e400)", R::kInvalidValue, "invalid value: big: too large: 1e400"},
      {R"(,"big":"1")", R::kWrongType, "wrong type: big: expected number, got string"},
      {R"(,"flag":1)", R::kWrongType, "wrong type: flag: expected boolean, got number"},
      {R"(,"flag":"true")", R::kWrongType, "wrong type: flag: expected boolean, got string"},
      {R"(,"ip":"1.2.3")", R::kInvalidValue, "invalid value: ip: expected an IPv4 or IPv6"},
      {R"(,"ip":7)", R::kWrongType, "wrong type: ip: expected IP address string, got number"},
      {R"(,"tags":{})", R::kWrongType, "wrong type: tags: expected array, got object"},
      {R"(,"tags":["\u0000"])", R::kInvalidValue, "invalid value: tags: contains NUL"},
      {R"(,"tags":[tru])", R::kInvalidJson, "invalid JSON: in field \"tags\""},
      {R"(,"doc":"{}")", R::kWrongType, "wrong type: doc: expected object or array, got string"},
      {R"(,"usage":3)", R::kWrongType,
       "wrong type: tokens: expected usage to be an object, got number"},
      {R"(,"usage":{"prompt_tokens":"7"})", R::kWrongType,
       "wrong type: tokens: expected integer, got string"},
      {R"(,"usage":{"prompt_tokens":-2147483649})", R::kInvalidValue,
       "invalid value: tokens: -2147483649 is out of range -2147483648..2147483647"},
      {R"(,"usage":{},"usage":{})", R::kInvalidJson, "duplicate field: usage"},
      {R"(,"usage":{"prompt_tokens":1,"prompt_tokens":2})", R::kInvalidJson,
       "duplicate field: tokens"},
      {R"(,"a":{"b":[]})", R::kWrongType, "wrong type: deep: expected a.b to be an object"},
      {R"(,"a":{"b":{"c":""}},"a":1)", R::kInvalidJson, "duplicate field: a"},
  };
  EventParser parser(catalog_of(probe_type()));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.members);
    expect_reject(run(parser, probe(c.members)), c.reason, c.detail);
  }
}

TEST(EventPlan, RequiredIdAndTsAndTheTypesOwnWindow) {
  EventParser parser(catalog_of(probe_type()));
  expect_reject(run(parser, R"({"ts":"2026-11-29T12:00:00Z"})"), R::kMissingField,
                "missing field: id");
  expect_reject(run(parser, R"({"id":null,"ts":"2026-11-29T12:00:00Z"})"), R::kMissingField,
                "missing field: id");
  expect_reject(run(parser, R"({"id":"x","ts":"2026-11-29T12:00:00Z"})"), R::kInvalidValue,
                "invalid value: id: expected a UUID (8-4-4-4-12 hex digits), got \"x\"");
  const std::string id = R"({"id":")" + std::string(kId) + "\"";
  expect_reject(run(parser, id + "}"), R::kMissingField, "missing field: ts");
  // max_age_days 2, max_future_days 0 (the type's own window, not the built-in 400/1).
  expect_reject(run(parser, id + R"(,"ts":"2026-11-27T23:59:59Z"})"), R::kTsOutOfRange,
                "ts out of range: 2026-11-27T23:59:59Z is older than 2 days");
  expect_reject(run(parser, id + R"(,"ts":"2026-11-30T00:00:01Z"})"), R::kTsOutOfRange,
                "ts out of range: 2026-11-30T00:00:01Z is more than 0 days in the future");
  EXPECT_FALSE(run(parser, id + R"(,"ts":1795996800000})").rejection) << "epoch ms, at now";
  // ParserLimits overrides the window (tests use it).
  EventParser wide(catalog_of(probe_type()), {.max_age_micros = 10 * 86400LL * 1'000'000});
  EXPECT_FALSE(run(wide, id + R"(,"ts":"2026-11-27T00:00:00Z"})").rejection);
}

TEST(EventPlan, RegressionNumericBeyondInt64UnitsNamesTheIngestorsLimitNotTheColumn) {
  EventType t = probe_type();
  t.properties.push_back(numeric("huge", 38, 18, kJsonNumber | kJsonString));
  EventParser parser(catalog_of(std::move(t)));
  const Result ok = run(parser, probe(R"(,"huge":9.223372036854775807)"));
  ASSERT_FALSE(ok.rejection) << ok.rejection->detail;
  const std::string limit =
      " (the ingestor reads numeric(38,18) exactly as 64-bit units of 10^-18: |value| × 10^18 ≤ "
      "9223372036854775807, so at most 9.223372036854775807)";
  expect_reject(run(parser, probe(R"(,"huge":100)")), R::kInvalidValue,
                "invalid value: huge: too large: 100" + limit);
  expect_reject(run(parser, probe(R"(,"huge":"-10")")), R::kInvalidValue,
                "invalid value: huge: too large: \"-10\"" + limit);
}

TEST(EventPlan, MaxCostCapsEveryNumericARollupSums) {
  EventParser parser(catalog_of(probe_type()), {.max_cost_nanos = 5'000'000'000});
  EXPECT_FALSE(run(parser, probe(R"(,"amount":5)")).rejection);
  expect_reject(run(parser, probe(R"(,"amount":"5.0006")")), R::kInvalidValue,
                "invalid value: amount: \"5.0006\" is above the limit 5 (--max-cost-usd)");
  EXPECT_FALSE(run(parser, probe(R"(,"big":999)")).rejection) << "big is summed by no rollup";
}

// ---- unknown fields ----

TEST(EventPlan, KeepsUnknownFieldsAsTheirRawTextInExtra) {
  EventParser parser(catalog_of(probe_type()));
  const Result r = run(parser, probe(R"(,"zz" : 1.50 ,"y\u0041":{"k": [1, 2]},"n":null)"));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  EXPECT_EQ(r.fields[kColExtra],
            std::string("\1") + R"({"zz":1.50,"y\u0041":{"k": [1, 2]},"n":null})");
}

TEST(EventPlan, KeepsAContainerWholeWhenAPropertyDoesNotReadAllOfIt) {
  EventParser parser(catalog_of(probe_type()));
  Result r = run(parser, probe(R"(,"usage":{"prompt_tokens":5,"cached":{"n":2}})"));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  EXPECT_EQ(r.values[kColTokens].number, 5);
  EXPECT_EQ(r.fields[kColExtra],
            std::string("\1") + R"({"usage":{"prompt_tokens":5,"cached":{"n":2}}})");
  r = run(parser, probe(R"(,"a":{"b":{"c":"x","d":1}},"z":true)"));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  EXPECT_EQ(r.fields[kColExtra], std::string("\1") + R"({"a":{"b":{"c":"x","d":1}},"z":true})");
  r = run(parser, probe(R"(,"usage":{"prompt_tokens":5})"));
  EXPECT_EQ(r.fields[kColExtra], std::nullopt) << "every member read: nothing to keep";
}

TEST(EventPlan, ExtraHasTheMetadataSizeLimitAndNoNul) {
  EventParser parser(catalog_of(probe_type()), {.max_metadata_bytes = 32});
  EXPECT_FALSE(run(parser, probe(R"(,"pad":")" + std::string(22, 'x') + "\"")).rejection);
  expect_reject(run(parser, probe(R"(,"pad":")" + std::string(23, 'x') + "\"")), R::kTooLarge,
                "too large: extra: 33 bytes, limit 32");
  expect_reject(run(parser, probe(R"(,"p":["\u0000"])")), R::kInvalidValue,
                "invalid value: extra: field \"p\": contains NUL");
  expect_reject(run(parser, probe(R"(,"usage":{"x":"\u0000"})")), R::kInvalidValue,
                "invalid value: extra: field \"usage\": contains NUL");
}

TEST(EventPlan, RegressionNulInAnUnknownFieldsKeyIsAnInvalidValueNotADatabaseError) {
  EventParser parser(catalog_of(probe_type()));
  expect_reject(run(parser, probe(R"(,"a\u0000b":1)")), R::kInvalidValue,
                "invalid value: extra: field \"a\\u0000b\": contains NUL");
  expect_reject(run(parser, probe(R"(,"usage":{"x\u0000":1})")), R::kInvalidValue,
                "invalid value: extra: field \"usage\": contains NUL");
  EventParser ignoring(catalog_of(probe_type(UnknownFields::kIgnore)));
  EXPECT_FALSE(run(ignoring, probe(R"(,"a\u0000b":1)")).rejection) << "not stored: no NUL stored";
}

TEST(EventPlan, IgnoredUnknownFieldsAreDroppedButStillMustBeJson) {
  EventParser parser(catalog_of(probe_type(UnknownFields::kIgnore)));
  const Result r = run(parser, probe(R"(,"zz":{"a":"\u0000"},"usage":{"other":1})"));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  EXPECT_EQ(r.fields.size(), 16u) << "no extra column";
  expect_reject(run(parser, probe(R"(,"zz":[1,})")), R::kInvalidJson, "invalid JSON");
}

TEST(EventPlan, RejectedUnknownFieldsNameTheField) {
  EventParser parser(catalog_of(probe_type(UnknownFields::kReject)));
  EXPECT_FALSE(run(parser, probe(R"(,"usage":{"prompt_tokens":1})")).rejection);
  expect_reject(run(parser, probe(R"(,"z\"z":1)")), R::kInvalidValue, "unknown field: \"z\\\"z\"");
  expect_reject(run(parser, probe(R"(,"usage":{"cached":1})")), R::kInvalidValue,
                "unknown field: \"usage.cached\"");
  expect_reject(run(parser, probe(R"(,"zz":[1,})")), R::kInvalidJson, "invalid JSON");
}

// ---- the guardrail type, loaded from its file, end to end ----

EventType guardrail_type() {
  const std::string path = SENTINEL_TEST_DATA_DIR "/catalog/guardrail.schema.json";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return load_event_type(text.str(), path);
}

TEST(EventPlan, GuardrailTypeEndToEnd) {
  const EventType type = guardrail_type();
  ASSERT_EQ(type.copy_columns(),
            "decision_id, ts, tenant_id, verdict, score, prompt_tokens, client_ip, flagged, "
            "categories, extra, kafka_partition, kafka_offset");
  EventParser parser(catalog_of(type));
  const Result r =
      run(parser, R"({"decision_id":"0b9a7c2e-1f3d-4e5a-8b6c-7d8e9f0a1b2c",)"
                  R"("ts":"2026-11-29T08:00:00.5+01:00","tenant_id":"acme",)"
                  R"("verdict":"block","score":"0.87655","usage":{"prompt_tokens":42},)"
                  R"("client_ip":"10.1.2.3","flagged":true,)"
                  R"("categories":["pii", "jailbreak"],"model":"m-1"})");
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  ASSERT_EQ(r.fields.size(), 12u);
  const auto id = parse_uuid("0b9a7c2e-1f3d-4e5a-8b6c-7d8e9f0a1b2c");
  EXPECT_EQ(r.fields[0], std::string(reinterpret_cast<const char*>(id->data()), 16));
  const int64_t ts = at("2026-11-29T07:00:00.5Z");
  EXPECT_EQ(r.ts, ts);
  uint64_t pg_ts = 0;
  std::memcpy(&pg_ts, r.fields[1]->data(), 8);
  EXPECT_EQ(static_cast<int64_t>(__builtin_bswap64(pg_ts)) + kPgEpochOffsetMicros, ts);
  EXPECT_EQ(r.fields[2], "acme");
  EXPECT_EQ(r.fields[3], "block");
  EXPECT_EQ(numeric_text(*r.fields[4]), "0.8766") << "numeric(6,4), half-even";
  EXPECT_EQ(r.values[4].number, 8766);
  EXPECT_EQ(be32(r.fields[5]->data()), 42u) << "prompt_tokens from usage.prompt_tokens";
  EXPECT_EQ(r.fields[6], std::string("\2\x20\0\4\x0a\x01\x02\x03", 8)) << "inet 10.1.2.3";
  EXPECT_EQ(r.fields[7], std::string(1, '\1'));
  EXPECT_EQ(r.fields[8], std::string("\1") + R"(["pii", "jailbreak"])");
  EXPECT_EQ(r.fields[9], std::string("\1") + R"({"model":"m-1"})");
  EXPECT_EQ(be32(r.fields[10]->data()), 1u);

  const std::string head = R"({"decision_id":"0b9a7c2e-1f3d-4e5a-8b6c-7d8e9f0a1b2c",)"
                           R"("ts":"2026-11-29T08:00:00Z","tenant_id":"acme",)";
  expect_reject(run(parser, head + R"("verdict":"maybe"})"), R::kInvalidValue,
                "invalid value: verdict: expected allow|block|redact, got \"maybe\"");
  expect_reject(run(parser, head + R"("verdict":"allow","score":1.00005})"), R::kInvalidValue,
                "invalid value: score: 1.00005 is above the maximum 1");
  expect_reject(run(parser, head + R"("verdict":"allow","score":-0.00001})"), R::kInvalidValue,
                "invalid value: score: negative: -0.00001");
  expect_reject(run(parser, head + R"("verdict":"allow","categories":{}})"), R::kWrongType,
                "wrong type: categories: expected array, got object");
  expect_reject(run(parser, head + R"("verdict":"allow","usage":{"prompt_tokens":-1}})"),
                R::kInvalidValue, "invalid value: prompt_tokens: -1 is out of range 0..2147483647");
  expect_reject(run(parser, head + R"("score":0.5})"), R::kMissingField, "missing field: verdict");
}

}  // namespace
}  // namespace sentinel
