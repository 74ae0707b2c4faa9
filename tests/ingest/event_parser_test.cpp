#include "ingest/event_parser.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ingest/scalars.h"
#include "rows/copy_encoder.h"
#include "rows/tables.h"

// Counts heap allocations, to pin "a valid message allocates nothing".
namespace {
std::atomic<long> g_allocations{0};
void* counted_alloc(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
}  // namespace
void* operator new(size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace sentinel {
namespace {

int64_t at(std::string_view rfc3339) { return parse_timestamp(rfc3339).unix_micros; }

const int64_t kNow = at("2026-11-30T00:00:00Z");
constexpr int64_t kDay = 86400LL * 1'000'000;
constexpr std::string_view kPrefix = "previous rows";

/// A message in a buffer with simdjson's padding after it, as the consumer provides.
class Padded {
 public:
  explicit Padded(std::string_view json) : size_(json.size()) {
    storage_.assign(json);
    // Padding is readable but not zeroed in a Kafka buffer: fill it with JSON-looking junk.
    for (size_t i = 0; i < simdjson::SIMDJSON_PADDING; ++i) storage_ += "1\"}]"[i % 4];
  }
  const char* data() const { return storage_.data(); }
  size_t size() const { return size_; }

 private:
  std::string storage_;
  size_t size_;
};

// ---- building messages ----

struct Field {
  std::string key;
  std::string raw;  ///< the value as JSON text
};
using Event = std::vector<Field>;

std::string to_json(const Event& e) {
  std::string out = "{";
  for (const Field& f : e) {
    if (out.size() > 1) out += ',';
    out += '"' + f.key + "\":" + f.raw;
  }
  return out + "}";
}

Event with(Event e, const std::string& key, std::optional<std::string> raw) {
  for (auto it = e.begin(); it != e.end(); ++it) {
    if (it->key == key) {
      if (raw) {
        it->raw = *raw;
      } else {
        e.erase(it);
      }
      return e;
    }
  }
  if (raw) e.push_back({key, *raw});
  return e;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  out.append(s);
  out += '"';
  return out;
}

constexpr std::string_view kEventId = "6f1c1b9e-8d2a-4c59-9f0e-2b7a4d1e3c55";
constexpr std::string_view kSessionId = "0b9a7c2e-1f3d-4e5a-8b6c-7d8e9f0a1b2c";
constexpr std::array<uint8_t, 16> kEventIdBytes = {0x6f, 0x1c, 0x1b, 0x9e, 0x8d, 0x2a, 0x4c, 0x59,
                                                   0x9f, 0x0e, 0x2b, 0x7a, 0x4d, 0x1e, 0x3c, 0x55};
constexpr std::array<uint8_t, 16> kSessionIdBytes = {
    0x0b, 0x9a, 0x7c, 0x2e, 0x1f, 0x3d, 0x4e, 0x5a, 0x8b, 0x6c, 0x7d, 0x8e, 0x9f, 0x0a, 0x1b, 0x2c};
constexpr std::string_view kMetadata = R"({"request_id":"r-1","tags":["a","b"],"n":1.5})";

Event valid_audit() {
  return {{"event_id", quote(kEventId)},     {"ts", "\"2026-11-15T12:34:56.789012Z\""},
          {"tenant_id", "\"acme-corp\""},    {"actor_id", "\"user-42\""},
          {"actor_type", "\"user\""},        {"action", "\"document.read\""},
          {"resource", "\"documents/123\""}, {"outcome", "\"success\""},
          {"source_ip", "\"203.0.113.7\""},  {"user_agent", "\"Mozilla/5.0\""},
          {"session_id", quote(kSessionId)}, {"metadata", std::string(kMetadata)}};
}

Event valid_invocation() {
  return {{"invocation_id", quote(kEventId)},
          {"ts", "\"2026-11-15T12:34:56.789012Z\""},
          {"tenant_id", "\"acme-corp\""},
          {"user_id", "\"user-42\""},
          {"session_id", quote(kSessionId)},
          {"provider", "\"anthropic\""},
          {"model", "\"claude-3-5-sonnet-20241022\""},
          {"prompt_tokens", "1200"},
          {"completion_tokens", "350"},
          {"latency_ms", "842"},
          {"status", "\"ok\""},
          {"cost_usd", "0.00885"},
          {"error_code", "null"},
          {"metadata", std::string(kMetadata)}};
}

// ---- reading the COPY tuple back ----

uint16_t be16(std::string_view b) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[0]) << 8 | static_cast<uint8_t>(b[1]));
}
uint32_t be32(std::string_view b) {
  return static_cast<uint32_t>(be16(b)) << 16 | be16(b.substr(2));
}
uint64_t be64(std::string_view b) {
  return static_cast<uint64_t>(be32(b)) << 32 | be32(b.substr(4));
}

/// Fields of one binary COPY tuple; std::nullopt is SQL NULL (length -1).
std::vector<std::optional<std::string>> decode_tuple(std::string_view t) {
  std::vector<std::optional<std::string>> fields;
  EXPECT_GE(t.size(), 2u);
  const int16_t count = static_cast<int16_t>(be16(t));
  size_t pos = 2;
  for (int i = 0; i < count; ++i) {
    EXPECT_LE(pos + 4, t.size());
    const auto len = static_cast<int32_t>(be32(t.substr(pos)));
    pos += 4;
    if (len == -1) {
      fields.emplace_back(std::nullopt);
      continue;
    }
    EXPECT_LE(pos + len, t.size());
    fields.emplace_back(std::string(t.substr(pos, len)));
    pos += len;
  }
  EXPECT_EQ(pos, t.size()) << "bytes after the last field";
  return fields;
}

std::string bytes_of(const std::array<uint8_t, 16>& a) {
  return std::string(reinterpret_cast<const char*>(a.data()), a.size());
}
int64_t timestamptz_micros(const std::string& f) {
  EXPECT_EQ(f.size(), 8u);
  return static_cast<int64_t>(be64(f)) + kPgEpochOffsetMicros;
}
int32_t int4_of(const std::string& f) {
  EXPECT_EQ(f.size(), 4u);
  return static_cast<int32_t>(be32(f));
}
int64_t int8_of(const std::string& f) {
  EXPECT_EQ(f.size(), 8u);
  return static_cast<int64_t>(be64(f));
}
std::string jsonb_text(const std::string& f) {
  EXPECT_FALSE(f.empty());
  EXPECT_EQ(f[0], '\1') << "jsonb version byte";
  return f.substr(1);
}
/// numeric in binary (ndigits, weight, sign, dscale, base-10000 digits) → nano-units.
int64_t numeric_nanos_of(const std::string& f) {
  const int ndigits = be16(f);
  const auto weight = static_cast<int16_t>(be16(std::string_view(f).substr(2)));
  EXPECT_EQ(be16(std::string_view(f).substr(4)), 0) << "sign";
  EXPECT_EQ(be16(std::string_view(f).substr(6)), 9) << "dscale";
  EXPECT_EQ(f.size(), 8u + 2u * ndigits);
  __int128 pico = 0;  // 10^-12 units: the smallest base-10000 digit at dscale 9 is 10^-12
  for (int i = 0; i < ndigits; ++i) {
    const int exponent = 4 * (weight - i) + 12;
    EXPECT_GE(exponent, 0);
    __int128 v = be16(std::string_view(f).substr(8 + 2 * i));
    for (int k = 0; k < exponent; ++k) v *= 10;
    pico += v;
  }
  EXPECT_EQ(pico % 1000, 0);
  return static_cast<int64_t>(pico / 1000);
}
std::string inet_bytes(bool v6, std::initializer_list<uint8_t> address) {
  std::string out;
  out += static_cast<char>(v6 ? 3 : 2);
  out += static_cast<char>(v6 ? 128 : 32);
  out += '\0';
  out += static_cast<char>(address.size());
  for (uint8_t b : address) out += static_cast<char>(b);
  return out;
}

// ---- running the parser ----

MessageContext context() { return {7, 123456789012LL, kNow}; }

struct AuditResult {
  std::optional<Rejection> rejection;
  std::string tuple;  ///< what was appended after kPrefix
  int64_t ts = 0;
};

AuditResult run_audit(EventParser& parser, std::string_view json, MessageContext ctx = context()) {
  Padded p(json);
  std::string out(kPrefix);
  AuditResult r;
  r.rejection = parser.parse_audit(p.data(), p.size(), ctx, out, r.ts);
  if (r.rejection) {
    EXPECT_EQ(out, kPrefix) << "a rejected message must leave `out` as it was";
  } else {
    EXPECT_EQ(out.substr(0, kPrefix.size()), kPrefix);
    r.tuple = out.substr(kPrefix.size());
  }
  return r;
}

struct InvocationResult {
  std::optional<Rejection> rejection;
  std::string tuple;
  InvocationCost cost;
};

InvocationResult run_invocation(EventParser& parser, std::string_view json,
                                MessageContext ctx = context()) {
  Padded p(json);
  std::string out(kPrefix);
  InvocationResult r;
  r.rejection = parser.parse_invocation(p.data(), p.size(), ctx, out, r.cost);
  if (r.rejection) {
    EXPECT_EQ(out, kPrefix) << "a rejected message must leave `out` as it was";
  } else {
    EXPECT_EQ(out.substr(0, kPrefix.size()), kPrefix);
    r.tuple = out.substr(kPrefix.size());
  }
  return r;
}

/// Expects a rejection with `reason` whose detail starts with `detail`.
void expect_reject(const std::optional<Rejection>& r, RejectReason reason,
                   std::string_view detail) {
  ASSERT_TRUE(r.has_value()) << "accepted, expected " << to_string(reason) << ": " << detail;
  EXPECT_EQ(to_string(r->reason), to_string(reason)) << r->detail;
  EXPECT_EQ(r->detail.substr(0, detail.size()), detail);
}

// ---- valid events, decoded ----

TEST(EventParserAudit, EncodesEveryColumnInOrder) {
  EventParser parser;
  const AuditResult r = run_audit(parser, to_json(valid_audit()));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  EXPECT_EQ(r.ts, at("2026-11-15T12:34:56.789012Z"));
  const auto f = decode_tuple(r.tuple);
  ASSERT_EQ(f.size(), static_cast<size_t>(kAuditFieldCount + 1));  // + extra
  EXPECT_EQ(f[0], bytes_of(kEventIdBytes));
  EXPECT_EQ(timestamptz_micros(*f[1]), at("2026-11-15T12:34:56.789012Z"));
  EXPECT_EQ(timestamptz_micros(*f[1]) - kPgEpochOffsetMicros, static_cast<int64_t>(be64(*f[1])));
  EXPECT_EQ(f[2], "acme-corp");
  EXPECT_EQ(f[3], "user-42");
  EXPECT_EQ(f[4], "user");
  EXPECT_EQ(f[5], "document.read");
  EXPECT_EQ(f[6], "documents/123");
  EXPECT_EQ(f[7], "success");
  EXPECT_EQ(f[8], inet_bytes(false, {203, 0, 113, 7}));
  EXPECT_EQ(f[9], "Mozilla/5.0");
  EXPECT_EQ(f[10], bytes_of(kSessionIdBytes));
  EXPECT_EQ(jsonb_text(*f[11]), kMetadata);
  EXPECT_FALSE(f[12].has_value());  // extra: no unknown field
  EXPECT_EQ(int4_of(*f[13]), 7);
  EXPECT_EQ(int8_of(*f[14]), 123456789012LL);
}

TEST(EventParserAudit, AbsentAndNullOptionalsAreSqlNull) {
  EventParser parser;
  Event e = valid_audit();
  for (const char* key : {"actor_id", "resource", "user_agent", "metadata"})
    e = with(e, key, "null");
  for (const char* key : {"actor_type", "source_ip", "session_id"}) e = with(e, key, std::nullopt);
  const AuditResult r = run_audit(parser, to_json(e));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  const auto f = decode_tuple(r.tuple);
  ASSERT_EQ(f.size(), 15u);
  for (int i : {3, 4, 6, 8, 9, 10, 11, 12}) EXPECT_FALSE(f[i].has_value()) << "column " << i;
  for (int i : {0, 1, 2, 5, 7, 13, 14}) EXPECT_TRUE(f[i].has_value()) << "column " << i;
}

TEST(EventParserAudit, StoresIpv6AndEscapedText) {
  EventParser parser;
  Event e = with(valid_audit(), "source_ip", "\"2001:db8::1\"");
  e = with(e, "tenant_id", R"("t\u00e9nant \"q\" \\ \/")");
  e = with(e, "metadata", R"( { "k" : "\u00e9" , "nested":{"a":[1,{"b":null}]}}  )");
  const AuditResult r = run_audit(parser, to_json(e));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  const auto f = decode_tuple(r.tuple);
  EXPECT_EQ(f[8], inet_bytes(true, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(f[2], "t\xc3\xa9nant \"q\" \\ /");
  // jsonb gets the raw text, without the whitespace around it.
  EXPECT_EQ(jsonb_text(*f[11]), R"({ "k" : "\u00e9" , "nested":{"a":[1,{"b":null}]}})");
}

TEST(EventParserAudit, KeysWithEscapesAreTheKeysTheySpell) {
  EventParser parser;
  const Event plain = with(valid_audit(), "tenant_id", quote("acme"));
  Event escaped = with(plain, "tenant_id", std::nullopt);
  escaped = with(escaped, "ten\\u0061nt_id", quote("acme"));         // "tenant_id"
  escaped = with(escaped, "a\\\"b", "1");                            // unknown: "a\"b"
  escaped = with(escaped, "metadata", R"({"k\"ey":1,"\u00e9":2})");  // stored as written
  const AuditResult r = run_audit(parser, to_json(escaped));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  const auto f = decode_tuple(r.tuple);
  EXPECT_EQ(f[2], "acme");
  EXPECT_EQ(jsonb_text(*f[11]), R"({"k\"ey":1,"\u00e9":2})");
}

TEST(EventParserAudit, FieldOrderDoesNotMatter) {
  EventParser parser;
  Event e = valid_audit();
  const std::string forward = run_audit(parser, to_json(e)).tuple;
  std::reverse(e.begin(), e.end());
  const AuditResult reversed = run_audit(parser, to_json(e));
  ASSERT_FALSE(reversed.rejection) << reversed.rejection->detail;
  EXPECT_EQ(reversed.tuple, forward);
}

TEST(EventParser, TuplesKeyByTenantThenTimeAsTheIndexOrdersThem) {
  // The writer COPYs a batch in (tenant_id, ts) order, read straight from the encoded tuples.
  EventParser parser;
  const auto audit = [&](std::string_view tenant, std::string_view ts) {
    const AuditResult r = run_audit(
        parser, to_json(with(with(valid_audit(), "tenant_id", quote(tenant)), "ts", quote(ts))));
    EXPECT_FALSE(r.rejection);
    return r.tuple;
  };
  const auto invocation = [&](std::string_view tenant, std::string_view ts) {
    const InvocationResult r = run_invocation(
        parser,
        to_json(with(with(valid_invocation(), "tenant_id", quote(tenant)), "ts", quote(ts))));
    EXPECT_FALSE(r.rejection);
    return r.tuple;
  };
  const std::string a = audit("acme-corp", "2026-11-15T12:34:56.789012Z");
  EXPECT_EQ(event_tuple_key(a).tenant, "acme-corp");
  EXPECT_EQ(event_tuple_key(invocation("globex", "2026-11-15T00:00:00Z")).tenant, "globex");
  // Tenant first, then time, for both tables.
  EXPECT_LT(event_tuple_key(a), event_tuple_key(audit("acme-corp", "2026-11-15T12:34:56.789013Z")));
  // Before 2000-01-01 (negative in PostgreSQL's epoch; the parser's window refuses it, the key
  // still orders it).
  const auto tuple_at = [](int64_t unix_micros) {
    std::string t;
    CopyEncoder e(t);
    e.begin_row(3);
    e.uuid(kEventIdBytes);
    e.timestamptz(unix_micros);
    e.text("acme-corp");
    return t;
  };
  EXPECT_LT(event_tuple_key(tuple_at(kPgEpochOffsetMicros - 1)),
            event_tuple_key(tuple_at(kPgEpochOffsetMicros)));
  EXPECT_LT(event_tuple_key(tuple_at(0)), event_tuple_key(a));
  EXPECT_LT(event_tuple_key(audit("acme-corp", "2026-11-16T00:00:00Z")),
            event_tuple_key(audit("acme-corpus", "2026-11-01T00:00:00Z")));
  EXPECT_LT(event_tuple_key(invocation("acme", "2026-11-20T00:00:00Z")),
            event_tuple_key(invocation("globex", "2026-11-01T00:00:00Z")));
  // Anything else gets the empty key rather than a read past its end.
  EXPECT_EQ(event_tuple_key(a.substr(0, 30)).tenant, "");
  EXPECT_EQ(event_tuple_key(a.substr(0, 40)).tenant, "");
  EXPECT_EQ(event_tuple_key("").ts, 0u);
}

TEST(EventParserAudit, AcceptsEpochMillisecondsAndOffsets) {
  EventParser parser;
  const int64_t expected = at("2026-11-15T10:00:00.123Z");
  for (const std::string& ts :
       {std::to_string(expected / 1000), std::string("\"2026-11-15T12:00:00.123+02:00\""),
        std::string("\"2026-11-15 10:00:00.123z\""),
        std::string("\"2026-11-15T10:00:00.123000400Z\"")}) {
    const AuditResult r = run_audit(parser, to_json(with(valid_audit(), "ts", ts)));
    ASSERT_FALSE(r.rejection) << ts << ": " << r.rejection->detail;
    EXPECT_EQ(r.ts, expected) << ts;
    EXPECT_EQ(timestamptz_micros(*decode_tuple(r.tuple)[1]), expected);
  }
}

TEST(EventParserInvocation, EncodesEveryColumnInOrderAndFillsCost) {
  EventParser parser;
  const InvocationResult r = run_invocation(parser, to_json(valid_invocation()));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  const auto f = decode_tuple(r.tuple);
  ASSERT_EQ(f.size(), static_cast<size_t>(kInvocationsFieldCount + 1));  // + extra
  EXPECT_EQ(f[0], bytes_of(kEventIdBytes));
  EXPECT_EQ(timestamptz_micros(*f[1]), at("2026-11-15T12:34:56.789012Z"));
  EXPECT_EQ(f[2], "acme-corp");
  EXPECT_EQ(f[3], "user-42");
  EXPECT_EQ(f[4], bytes_of(kSessionIdBytes));
  EXPECT_EQ(f[5], "anthropic");
  EXPECT_EQ(f[6], "claude-3-5-sonnet-20241022");
  EXPECT_EQ(int4_of(*f[7]), 1200);
  EXPECT_EQ(int4_of(*f[8]), 350);
  EXPECT_EQ(int4_of(*f[9]), 842);
  EXPECT_EQ(f[10], "ok");
  EXPECT_EQ(numeric_nanos_of(*f[11]), 8'850'000);
  EXPECT_FALSE(f[12].has_value());  // error_code: null
  EXPECT_EQ(jsonb_text(*f[13]), kMetadata);
  EXPECT_FALSE(f[14].has_value());  // extra: no unknown field
  EXPECT_EQ(int4_of(*f[15]), 7);
  EXPECT_EQ(int8_of(*f[16]), 123456789012LL);

  EXPECT_EQ(r.cost.tenant_id, "acme-corp");
  EXPECT_EQ(r.cost.ts_unix_micros, at("2026-11-15T12:34:56.789012Z"));
  EXPECT_EQ(r.cost.cost_nanos, 8'850'000);
  EXPECT_EQ(r.cost.prompt_tokens, 1200);
  EXPECT_EQ(r.cost.completion_tokens, 350);
}

TEST(EventParserInvocation, AbsentAndNullOptionalsAreSqlNull) {
  EventParser parser;
  Event e = valid_invocation();
  e = with(e, "user_id", std::nullopt);
  e = with(e, "session_id", "null");
  e = with(e, "latency_ms", std::nullopt);
  e = with(e, "error_code", std::nullopt);
  e = with(e, "metadata", "null");
  const InvocationResult r = run_invocation(parser, to_json(e));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  const auto f = decode_tuple(r.tuple);
  ASSERT_EQ(f.size(), 17u);
  for (int i : {3, 4, 9, 12, 13, 14}) EXPECT_FALSE(f[i].has_value()) << "column " << i;
  EXPECT_EQ(f[6], "claude-3-5-sonnet-20241022");
}

TEST(EventParserInvocation, ReadsCostExactly) {
  EventParser parser({.max_cost_nanos = INT64_MAX});  // exactness, not the limit, is tested here
  const std::pair<std::string, int64_t> cases[] = {
      {"0", 0},
      {"-0", 0},
      {"\"-0.0\"", 0},
      {"0.00885", 8'850'000},
      {"\"0.00885\"", 8'850'000},
      {"1e-3", 1'000'000},
      {"\"2.5E-2\"", 25'000'000},
      {"0.1", 100'000'000},
      {"1.0000000005", 1'000'000'000},  // tie to even
      {"\"0.0000000015\"", 2},          // tie to even
      {"0.00000000150000001", 2},
      {"12345.123456789", 12'345'123'456'789},
      {"9223372036.854775807", INT64_MAX},
  };
  for (const auto& [raw, expected] : cases) {
    const InvocationResult r =
        run_invocation(parser, to_json(with(valid_invocation(), "cost_usd", raw)));
    ASSERT_FALSE(r.rejection) << raw << ": " << r.rejection->detail;
    EXPECT_EQ(r.cost.cost_nanos, expected) << raw;
    EXPECT_EQ(numeric_nanos_of(*decode_tuple(r.tuple)[11]), expected) << raw;
  }
}

TEST(EventParserInvocation, ErrorStatusKeepsErrorCode) {
  EventParser parser;
  Event e = with(valid_invocation(), "status", "\"error\"");
  e = with(e, "error_code", "\"rate_limit_exceeded\"");
  e = with(e, "completion_tokens", "0");
  e = with(e, "prompt_tokens", "2147483647");
  const InvocationResult r = run_invocation(parser, to_json(e));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  const auto f = decode_tuple(r.tuple);
  EXPECT_EQ(f[10], "error");
  EXPECT_EQ(f[12], "rate_limit_exceeded");
  EXPECT_EQ(int4_of(*f[7]), 2147483647);
  EXPECT_EQ(int4_of(*f[8]), 0);
}

// ---- rules and reasons, table-driven ----

struct Case {
  std::string key;
  std::optional<std::string> raw;  ///< std::nullopt: remove the field
  RejectReason reason;
  std::string detail;  ///< expected prefix of the detail
};

using R = RejectReason;

std::vector<Case> common_cases(const std::string& id_field) {
  std::string e129_accents;
  for (int i = 0; i < 129; ++i) e129_accents += "\xc3\xa9";
  return {
      {id_field, std::nullopt, R::kMissingField, "missing field: " + id_field},
      {id_field, "null", R::kMissingField, "missing field: " + id_field},
      {id_field, "42", R::kWrongType,
       "wrong type: " + id_field + ": expected UUID string, got number"},
      {id_field, "\"not-a-uuid\"", R::kInvalidValue,
       "invalid value: " + id_field + ": expected a UUID"},
      {id_field, "\"6f1c1b9e8d2a4c599f0e2b7a4d1e3c55\"", R::kInvalidValue,
       "invalid value: " + id_field},
      {"ts", std::nullopt, R::kMissingField, "missing field: ts"},
      {"ts", "null", R::kMissingField, "missing field: ts"},
      {"ts", "true", R::kWrongType,
       "wrong type: ts: expected RFC 3339 string or integer epoch milliseconds, got boolean"},
      {"ts", "{}", R::kWrongType, "wrong type: ts: expected RFC 3339 string or integer epoch"},
      {"ts", "\"2026-02-29T00:00:00Z\"", R::kInvalidValue,
       "invalid value: ts: day out of range for the month: \"2026-02-29T00:00:00Z\""},
      {"ts", "\"2026-11-15T25:00:00Z\"", R::kInvalidValue, "invalid value: ts: hour out of range"},
      {"ts", "\"2026-11-15T12:00:60Z\"", R::kInvalidValue,
       "invalid value: ts: second out of range"},
      {"ts", "\"2026-11-15T12:00:00\"", R::kInvalidValue,
       "invalid value: ts: not an RFC 3339 timestamp"},
      {"ts", "\"2026-11-15T12:00:00+25:00\"", R::kInvalidValue, "invalid value: ts: UTC offset"},
      {"ts", "\"yesterday\"", R::kInvalidValue, "invalid value: ts: not an RFC 3339 timestamp"},
      {"ts", "1794744000000.5", R::kInvalidValue,
       "invalid value: ts: epoch milliseconds must be an integer, got 1794744000000.5"},
      {"ts", "1.7e12", R::kInvalidValue,
       "invalid value: ts: epoch milliseconds must be an integer"},
      {"ts", "\"2019-01-01T00:00:00Z\"", R::kTsOutOfRange,
       "ts out of range: 2019-01-01T00:00:00Z is older than 400 days"},
      {"ts", "\"2026-12-02T00:00:00Z\"", R::kTsOutOfRange,
       "ts out of range: 2026-12-02T00:00:00Z is more than 1 day in the future"},
      {"ts", "0", R::kTsOutOfRange, "ts out of range: 0 (epoch ms) is older than 400 days"},
      {"ts", "-1", R::kTsOutOfRange, "ts out of range: -1 (epoch ms) is older than 400 days"},
      {"ts", "9223372036854775807", R::kTsOutOfRange, "ts out of range: 9223372036854775807"},
      {"ts", "99999999999999999999", R::kTsOutOfRange, "ts out of range: 99999999999999999999"},
      {"tenant_id", std::nullopt, R::kMissingField, "missing field: tenant_id"},
      {"tenant_id", "null", R::kMissingField, "missing field: tenant_id"},
      {"tenant_id", "7", R::kWrongType, "wrong type: tenant_id: expected string, got number"},
      {"tenant_id", "[\"a\"]", R::kWrongType, "wrong type: tenant_id: expected string, got array"},
      {"tenant_id", "\"\"", R::kInvalidValue, "invalid value: tenant_id: empty"},
      {"tenant_id", quote(e129_accents), R::kInvalidValue,
       "invalid value: tenant_id: 129 characters, at most 128 allowed"},
      {"tenant_id", "\"a\\u0000b\"", R::kInvalidValue, "invalid value: tenant_id: contains NUL"},
      {"session_id", "\"nope\"", R::kInvalidValue, "invalid value: session_id: expected a UUID"},
      {"session_id", "false", R::kWrongType,
       "wrong type: session_id: expected UUID string, got boolean"},
      {"metadata", "[]", R::kWrongType, "wrong type: metadata: expected object, got array"},
      {"metadata", "\"{}\"", R::kWrongType, "wrong type: metadata: expected object, got string"},
      {"metadata", "{\"a\":\"x\\u0000\"}", R::kInvalidValue,
       "invalid value: metadata: contains NUL"},
      {"metadata", "{\"a\\u0000\":1}", R::kInvalidValue, "invalid value: metadata: contains NUL"},
      {"metadata", "{\"a\":[{\"b\":\"\\u0000\"}]}", R::kInvalidValue,
       "invalid value: metadata: contains NUL"},
      {"metadata", "{\"a\":tru}", R::kInvalidJson, "invalid JSON: in field \"metadata\""},
      {"metadata", "{\"a\":01}", R::kInvalidJson, "invalid JSON: in field \"metadata\""},
      {"metadata", "{\"a\":[1,}", R::kInvalidJson, "invalid JSON"},
      {"metadata", "{\"a\":\"\\x\"}", R::kInvalidJson, "invalid JSON: in field \"metadata\""},
      {"extra", "{\"x\":[1,2,{\"y\":nul}]}", R::kInvalidJson, "invalid JSON: in field \"extra\""},
      {"extra", "\"\\ud800\"", R::kInvalidJson, "invalid JSON: in field \"extra\""},
      {"extra", "-", R::kInvalidJson, "invalid JSON: in field \"extra\""},
      {"extra", "1.", R::kInvalidJson, "invalid JSON: in field \"extra\""},
      {"extra", "[1 2]", R::kInvalidJson, "invalid JSON"},
      // Keys are read in place unless they hold an escape; a bad one is still invalid JSON.
      {"extra", "{\"b\\x\":1}", R::kInvalidJson, "invalid JSON: in field \"extra\""},
      {"ext\\x", "1", R::kInvalidJson, "invalid JSON"},
      {"ten\\u0061nt_id", "\"again\"", R::kInvalidJson, "duplicate field: tenant_id"},
  };
}

std::vector<Case> audit_cases() {
  std::vector<Case> cases = common_cases("event_id");
  std::string action257;
  for (int i = 0; i < 257; ++i) action257 += "\xe2\x82\xac";  // €
  const std::vector<Case> more = {
      {"action", std::nullopt, R::kMissingField, "missing field: action"},
      {"action", "null", R::kMissingField, "missing field: action"},
      {"action", "{}", R::kWrongType, "wrong type: action: expected string, got object"},
      {"action", "\"\"", R::kInvalidValue, "invalid value: action: empty"},
      {"action", quote(action257), R::kInvalidValue,
       "invalid value: action: 257 characters, at most 256 allowed"},
      {"outcome", std::nullopt, R::kMissingField, "missing field: outcome"},
      {"outcome", "null", R::kMissingField, "missing field: outcome"},
      {"outcome", "1", R::kWrongType, "wrong type: outcome: expected string, got number"},
      {"outcome", "\"SUCCESS\"", R::kInvalidValue,
       "invalid value: outcome: expected success|failure|denied, got \"SUCCESS\""},
      {"outcome", "\"ok\"", R::kInvalidValue,
       "invalid value: outcome: expected success|failure|denied"},
      {"actor_type", "\"robot\"", R::kInvalidValue,
       "invalid value: actor_type: expected user|service|system, got \"robot\""},
      {"actor_type", "true", R::kWrongType, "wrong type: actor_type: expected string, got boolean"},
      {"actor_id", "12", R::kWrongType, "wrong type: actor_id: expected string, got number"},
      {"actor_id", "\"\\u0000\"", R::kInvalidValue, "invalid value: actor_id: contains NUL"},
      {"resource", "[]", R::kWrongType, "wrong type: resource: expected string, got array"},
      {"resource", "\"doc\\u0000\"", R::kInvalidValue, "invalid value: resource: contains NUL"},
      {"user_agent", "\"curl\\u0000\"", R::kInvalidValue,
       "invalid value: user_agent: contains NUL"},
      {"user_agent", "{}", R::kWrongType, "wrong type: user_agent: expected string, got object"},
      {"source_ip", "\"999.1.1.1\"", R::kInvalidValue,
       "invalid value: source_ip: expected an IPv4 or IPv6 address, got \"999.1.1.1\""},
      {"source_ip", "\"10.0.0.0/8\"", R::kInvalidValue, "invalid value: source_ip"},
      {"source_ip", "\"fe80::1%eth0\"", R::kInvalidValue, "invalid value: source_ip"},
      {"source_ip", "\"\"", R::kInvalidValue, "invalid value: source_ip"},
      {"source_ip", "\"1.2.3.4\\u0000\"", R::kInvalidValue, "invalid value: source_ip"},
      {"source_ip", "3232235777", R::kWrongType,
       "wrong type: source_ip: expected IP address string, got number"},
  };
  cases.insert(cases.end(), more.begin(), more.end());
  return cases;
}

std::vector<Case> invocation_cases() {
  std::vector<Case> cases = common_cases("invocation_id");
  const std::vector<Case> more = {
      {"provider", std::nullopt, R::kMissingField, "missing field: provider"},
      {"provider", "null", R::kMissingField, "missing field: provider"},
      {"provider", "1", R::kWrongType, "wrong type: provider: expected string, got number"},
      {"provider", "\"\"", R::kInvalidValue, "invalid value: provider: empty"},
      {"provider", quote(std::string(129, 'p')), R::kInvalidValue,
       "invalid value: provider: 129 characters, at most 128 allowed"},
      {"model", std::nullopt, R::kMissingField, "missing field: model"},
      {"model", "false", R::kWrongType, "wrong type: model: expected string, got boolean"},
      {"model", "\"\"", R::kInvalidValue, "invalid value: model: empty"},
      {"model", quote(std::string(257, 'm')), R::kInvalidValue,
       "invalid value: model: 257 characters, at most 256 allowed"},
      {"model", "\"gpt\\u0000\"", R::kInvalidValue, "invalid value: model: contains NUL"},
      {"prompt_tokens", std::nullopt, R::kMissingField, "missing field: prompt_tokens"},
      {"prompt_tokens", "null", R::kMissingField, "missing field: prompt_tokens"},
      {"prompt_tokens", "\"12\"", R::kWrongType,
       "wrong type: prompt_tokens: expected integer, got string"},
      {"prompt_tokens", "-1", R::kInvalidValue,
       "invalid value: prompt_tokens: -1 is out of range 0..2147483647"},
      {"prompt_tokens", "2147483648", R::kInvalidValue,
       "invalid value: prompt_tokens: 2147483648 is out of range"},
      {"prompt_tokens", "99999999999999999999999", R::kInvalidValue,
       "invalid value: prompt_tokens: 99999999999999999999999 is out of range"},
      {"prompt_tokens", "12.0", R::kInvalidValue,
       "invalid value: prompt_tokens: expected an integer, got 12.0"},
      {"prompt_tokens", "1e2", R::kInvalidValue,
       "invalid value: prompt_tokens: expected an integer"},
      {"completion_tokens", std::nullopt, R::kMissingField, "missing field: completion_tokens"},
      {"completion_tokens", "true", R::kWrongType,
       "wrong type: completion_tokens: expected integer, got boolean"},
      {"completion_tokens", "-5", R::kInvalidValue, "invalid value: completion_tokens: -5"},
      {"completion_tokens", "3.5", R::kInvalidValue,
       "invalid value: completion_tokens: expected an integer"},
      {"latency_ms", "-1", R::kInvalidValue, "invalid value: latency_ms: -1 is out of range"},
      {"latency_ms", "2147483648", R::kInvalidValue, "invalid value: latency_ms: 2147483648"},
      {"latency_ms", "\"5\"", R::kWrongType,
       "wrong type: latency_ms: expected integer, got string"},
      {"latency_ms", "0.5", R::kInvalidValue, "invalid value: latency_ms: expected an integer"},
      {"status", std::nullopt, R::kMissingField, "missing field: status"},
      {"status", "null", R::kMissingField, "missing field: status"},
      {"status", "\"done\"", R::kInvalidValue,
       "invalid value: status: expected ok|error|timeout|cancelled, got \"done\""},
      {"status", "0", R::kWrongType, "wrong type: status: expected string, got number"},
      {"cost_usd", std::nullopt, R::kMissingField, "missing field: cost_usd"},
      {"cost_usd", "null", R::kMissingField, "missing field: cost_usd"},
      {"cost_usd", "true", R::kWrongType,
       "wrong type: cost_usd: expected number or decimal string, got boolean"},
      {"cost_usd", "{\"usd\":1}", R::kWrongType, "wrong type: cost_usd"},
      {"cost_usd", "-0.01", R::kInvalidValue, "invalid value: cost_usd: negative: -0.01"},
      {"cost_usd", "\"-1\"", R::kInvalidValue, "invalid value: cost_usd: negative: \"-1\""},
      {"cost_usd", "-1e-30", R::kInvalidValue, "invalid value: cost_usd: negative"},
      {"cost_usd", "1e10", R::kInvalidValue, "invalid value: cost_usd: too large: 1e10"},
      {"cost_usd", "1.7976931348623157e308", R::kInvalidValue,
       "invalid value: cost_usd: too large"},
      {"cost_usd", "12345678901234567890", R::kInvalidValue, "invalid value: cost_usd: too large"},
      {"cost_usd", "\"9223372036.854775808\"", R::kInvalidValue,
       "invalid value: cost_usd: too large"},
      {"cost_usd", "\"abc\"", R::kInvalidValue,
       "invalid value: cost_usd: not a decimal number: \"abc\""},
      {"cost_usd", "\"$0.01\"", R::kInvalidValue, "invalid value: cost_usd: not a decimal number"},
      {"cost_usd", "\" 0.01\"", R::kInvalidValue, "invalid value: cost_usd: not a decimal number"},
      {"cost_usd", "\"\"", R::kInvalidValue, "invalid value: cost_usd: not a decimal number"},
      {"cost_usd", "\"NaN\"", R::kInvalidValue, "invalid value: cost_usd: not a decimal number"},
      {"cost_usd", "0.1.2", R::kInvalidJson, "invalid JSON: in field \"cost_usd\""},
      {"user_id", "5", R::kWrongType, "wrong type: user_id: expected string, got number"},
      {"user_id", "\"u\\u0000\"", R::kInvalidValue, "invalid value: user_id: contains NUL"},
      {"error_code", "500", R::kWrongType, "wrong type: error_code: expected string, got number"},
      {"error_code", "\"e\\u0000\"", R::kInvalidValue, "invalid value: error_code: contains NUL"},
  };
  cases.insert(cases.end(), more.begin(), more.end());
  return cases;
}

TEST(EventParserAudit, RejectsEveryRuleWithItsReasonAndField) {
  EventParser parser;
  for (const Case& c : audit_cases()) {
    const std::string json = to_json(with(valid_audit(), c.key, c.raw));
    SCOPED_TRACE(json);
    expect_reject(run_audit(parser, json).rejection, c.reason, c.detail);
  }
}

TEST(EventParserInvocation, RejectsEveryRuleWithItsReasonAndField) {
  EventParser parser;
  for (const Case& c : invocation_cases()) {
    const std::string json = to_json(with(valid_invocation(), c.key, c.raw));
    SCOPED_TRACE(json);
    expect_reject(run_invocation(parser, json).rejection, c.reason, c.detail);
  }
}

TEST(EventParser, EveryRejectReasonButDbRejectedIsProduced) {
  // db_rejected is the writers' (PostgreSQL refused the row); the parser makes all the others.
  EventParser parser;
  std::array<bool, kRejectReasonCount> seen{};
  for (const Case& c : audit_cases()) {
    if (auto r = run_audit(parser, to_json(with(valid_audit(), c.key, c.raw))).rejection) {
      seen[static_cast<int>(r->reason)] = true;
    }
  }
  seen[static_cast<int>(run_audit(parser, "[]").rejection->reason)] = true;
  EventParser tiny({.max_message_bytes = 8});
  seen[static_cast<int>(run_audit(tiny, "{\"a\":12345}").rejection->reason)] = true;
  for (int i = 0; i < kRejectReasonCount; ++i) {
    EXPECT_EQ(seen[i], static_cast<RejectReason>(i) != RejectReason::kDbRejected)
        << kRejectReasonNames[i];
  }
}

// ---- whole-message checks ----

TEST(EventParser, RejectsWhatIsNotJson) {
  EventParser parser;
  const std::string valid = to_json(valid_audit());
  const std::pair<std::string, std::string> cases[] = {
      {"", "invalid JSON: empty payload"},
      {"   \n", "invalid JSON"},
      {"{", "invalid JSON"},
      {"{\"event_id\":", "invalid JSON"},
      {"{\"a\" 1}", "invalid JSON"},
      {"{\"a\":1,}", "invalid JSON"},
      {"{'a':1}", "invalid JSON"},
      {"{\"a\":1 \"b\":2}", "invalid JSON"},
      {valid.substr(0, valid.size() - 1), "invalid JSON"},
      {valid + " x", "invalid JSON"},
      {valid + "}", "invalid JSON: trailing content after the top-level object"},
      {valid + " {}", "invalid JSON: trailing content after the top-level object"},
      {valid + valid, "invalid JSON: trailing content after the top-level object"},
      {"[1,", "invalid JSON"},
      {"[1,2] 3", "invalid JSON"},
      {"[1,2]]", "invalid JSON: trailing content"},
      {"42 43", "invalid JSON: trailing content"},
      {"\"str\" 1", "invalid JSON: trailing content"},
      {"nul", "invalid JSON"},
      {"tru", "invalid JSON"},
      {"01", "invalid JSON"},
      {"\"\\q\"", "invalid JSON"},
      {std::string("{\"tenant_id\":\"a\xff\"}"), "invalid JSON"},  // not UTF-8
      {std::string("{\"tenant_id\":\"a\tb\"}"), "invalid JSON"},   // raw control character
  };
  for (const auto& [json, detail] : cases) {
    SCOPED_TRACE(json);
    expect_reject(run_audit(parser, json).rejection, R::kInvalidJson, detail);
    expect_reject(run_invocation(parser, json).rejection, R::kInvalidJson, detail);
  }
}

TEST(EventParser, AcceptsTrailingWhitespace) {
  EventParser parser;
  const AuditResult r = run_audit(parser, " \t" + to_json(valid_audit()) + "\r\n ");
  EXPECT_FALSE(r.rejection) << r.rejection->detail;
}

TEST(EventParser, ValidJsonThatIsNotAnObject) {
  EventParser parser;
  const std::pair<std::string, std::string> cases[] = {
      {"[]", "not an object: the message is a JSON array"},
      {"[1, {\"a\": [true]}, null]", "not an object: the message is a JSON array"},
      {"\"event\"", "not an object: the message is a JSON string"},
      {"42", "not an object: the message is a JSON number"},
      {" -1.5e3 \n", "not an object: the message is a JSON number"},
      {"true", "not an object: the message is a JSON boolean"},
      {"null", "not an object: the message is a JSON null"},
  };
  for (const auto& [json, detail] : cases) {
    SCOPED_TRACE(json);
    expect_reject(run_audit(parser, json).rejection, R::kNotAnObject, detail);
    expect_reject(run_invocation(parser, json).rejection, R::kNotAnObject, detail);
  }
}

TEST(EventParser, DuplicateKnownFieldsAreInvalidJson) {
  EventParser parser;
  Event e = valid_audit();
  e.push_back({"tenant_id", "\"other\""});
  expect_reject(run_audit(parser, to_json(e)).rejection, R::kInvalidJson,
                "duplicate field: tenant_id");
  // The same key spelled with an escape is still the same key.
  e = valid_audit();
  e.push_back({"tenant\\u005fid", "\"other\""});
  expect_reject(run_audit(parser, to_json(e)).rejection, R::kInvalidJson,
                "duplicate field: tenant_id");
  // A duplicate null counts too.
  Event i = valid_invocation();
  i.push_back({"error_code", "null"});
  expect_reject(run_invocation(parser, to_json(i)).rejection, R::kInvalidJson,
                "duplicate field: error_code");
  // Unknown keys may repeat.
  e = valid_audit();
  e.push_back({"x", "1"});
  e.push_back({"x", "2"});
  EXPECT_FALSE(run_audit(parser, to_json(e)).rejection);
}

/// The built-in catalog with audit's unknown fields ignored instead of kept.
std::shared_ptr<const Catalog> audit_ignoring_unknown_fields() {
  std::vector<EventType> types = load_catalog()->types();
  types[0].unknown_fields = UnknownFields::kIgnore;
  return std::make_shared<const Catalog>(std::move(types));
}

TEST(EventParser, UnknownFieldsAreIgnoredWhenValid) {
  EventParser parser(audit_ignoring_unknown_fields());
  Event e = valid_audit();
  const std::string plain = run_audit(parser, to_json(e)).tuple;
  e.push_back({"extra", R"({"x":[1,2.5e-3,{"y":null,"z":[true,false,"s\u0000"]}],"w":-0})"});
  e.insert(e.begin(), {"schema_version", "3"});
  e.push_back({"EVENT_ID", "\"not checked\""});  // keys are case-sensitive
  e.push_back({"deep", std::string(200, '[') + std::string(200, ']')});
  const AuditResult r = run_audit(parser, to_json(e));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  EXPECT_EQ(r.tuple, plain);
}

TEST(EventParser, UnknownFieldsAreKeptInExtraByDefault) {
  EventParser parser;
  Event e = with(valid_audit(), "schema_version", "3");
  e.push_back({"EVENT_ID", "\"kept\""});  // keys are case-sensitive
  e.push_back({"ctx", R"({"x":[1,2.5e-3,{"y":null}],"w":-0})"});
  const AuditResult r = run_audit(parser, to_json(e));
  ASSERT_FALSE(r.rejection) << r.rejection->detail;
  const auto f = decode_tuple(r.tuple);
  EXPECT_EQ(jsonb_text(*f[12]),
            R"({"schema_version":3,"EVENT_ID":"kept","ctx":{"x":[1,2.5e-3,{"y":null}],"w":-0}})");
  e.push_back({"nul", R"(["\u0000"])"});
  expect_reject(run_audit(parser, to_json(e)).rejection, R::kInvalidValue,
                "invalid value: extra: field \"nul\": contains NUL");
}

TEST(EventParser, AbsurdNestingOutsideMetadataIsTooLarge) {
  EventParser parser;
  Event e = with(valid_audit(), "deep", std::string(5000, '[') + std::string(5000, ']'));
  expect_reject(run_audit(parser, to_json(e)).rejection, R::kTooLarge,
                "too large: field \"deep\": nested deeper than 256 levels");
  expect_reject(run_audit(parser, std::string(5000, '[') + std::string(5000, ']')).rejection,
                R::kTooLarge, "too large: nested deeper than 256 levels");
}

TEST(EventParser, MessageSizeIsCheckedFirst) {
  EventParser parser({.max_message_bytes = 100});
  const std::string big = "{\"pad\":\"" + std::string(92, 'x') + "\"}";  // 102 bytes
  ASSERT_GT(big.size(), 100u);
  expect_reject(run_audit(parser, big).rejection, R::kTooLarge,
                "too large: message is 102 bytes, limit 100");
  expect_reject(run_audit(parser, std::string(101, '{')).rejection, R::kTooLarge,
                "too large: message is 101 bytes");  // before it is known to be invalid JSON
  expect_reject(run_invocation(parser, big).rejection, R::kTooLarge, "too large: message is 102");
  // At the limit it is parsed.
  expect_reject(run_audit(parser, std::string(100, ' ')).rejection, R::kInvalidJson,
                "invalid JSON");
}

TEST(EventParserInvocation, CostAboveTheLimitIsInvalidValueBeforeItReachesPostgres) {
  // Eleven invocations of 9.2e9 overflowed a tenant's monthly costs row (numeric(20,9)) and
  // halted the writer: absurd costs are refused at validation, naming the field and the limit.
  EventParser parser;
  EXPECT_FALSE(
      run_invocation(parser, to_json(with(valid_invocation(), "cost_usd", "10000"))).rejection);
  expect_reject(
      run_invocation(parser, to_json(with(valid_invocation(), "cost_usd", "\"9200000000\"")))
          .rejection,
      RejectReason::kInvalidValue,
      "invalid value: cost_usd: \"9200000000\" is above the limit 10000 (--max-cost-usd)");
  expect_reject(
      run_invocation(parser, to_json(with(valid_invocation(), "cost_usd", "10000.000000001")))
          .rejection,
      RejectReason::kInvalidValue,
      "invalid value: cost_usd: 10000.000000001 is above the limit 10000");
  EventParser tight({.max_cost_nanos = 1'500'000'000});
  EXPECT_FALSE(
      run_invocation(tight, to_json(with(valid_invocation(), "cost_usd", "1.5"))).rejection);
  expect_reject(
      run_invocation(tight, to_json(with(valid_invocation(), "cost_usd", "1.6e0"))).rejection,
      RejectReason::kInvalidValue,
      "invalid value: cost_usd: 1.6e0 is above the limit 1.5 (--max-cost-usd)");
}

TEST(EventParser, DefaultMessageLimitIsOneMebibyte) {
  EventParser parser;
  // Padded with whitespace: an unknown field that large is kept in `extra`, which has the
  // metadata size limit.
  std::string json = to_json(valid_audit());
  json.insert(json.size() - 1, std::string((1 << 20) - json.size(), ' '));
  ASSERT_EQ(json.size(), 1u << 20);
  EXPECT_FALSE(run_audit(parser, json).rejection);
  json.insert(json.size() - 1, " ");
  expect_reject(run_audit(parser, json).rejection, R::kTooLarge,
                "too large: message is 1048577 bytes, limit 1048576");
}

std::string nested_metadata(int depth) {
  std::string s;
  for (int i = 1; i < depth; ++i) s += i % 2 ? "{\"a\":" : "[";
  s += "{}";
  for (int i = depth - 1; i >= 1; --i) s += i % 2 ? "}" : "]";
  return s;
}

TEST(EventParser, MetadataDepthLimit) {
  EventParser parser;
  EXPECT_FALSE(run_audit(parser, to_json(with(valid_audit(), "metadata", "{}"))).rejection);
  const std::string at_limit = nested_metadata(32);
  const AuditResult ok = run_audit(parser, to_json(with(valid_audit(), "metadata", at_limit)));
  ASSERT_FALSE(ok.rejection) << ok.rejection->detail;
  EXPECT_EQ(jsonb_text(*decode_tuple(ok.tuple)[11]), at_limit);
  expect_reject(
      run_audit(parser, to_json(with(valid_audit(), "metadata", nested_metadata(33)))).rejection,
      R::kTooLarge, "too large: metadata: nested deeper than 32 levels");
  expect_reject(
      run_invocation(parser, to_json(with(valid_invocation(), "metadata", nested_metadata(33))))
          .rejection,
      R::kTooLarge, "too large: metadata: nested deeper than 32 levels");

  EventParser shallow({.max_depth = 2});
  EXPECT_FALSE(run_audit(shallow, to_json(with(valid_audit(), "metadata", R"({"a":[1,2],"b":{}})")))
                   .rejection);
  expect_reject(
      run_audit(shallow, to_json(with(valid_audit(), "metadata", R"({"a":[[1]]})"))).rejection,
      R::kTooLarge, "too large: metadata: nested deeper than 2 levels");
}

TEST(EventParser, MetadataSizeLimit) {
  EventParser parser({.max_metadata_bytes = 32});
  const std::string exactly = R"({"k":")" + std::string(32 - 8, 'v') + R"("})";
  ASSERT_EQ(exactly.size(), 32u);
  EXPECT_FALSE(run_audit(parser, to_json(with(valid_audit(), "metadata", exactly))).rejection);
  const std::string over = R"({"k":")" + std::string(32 - 7, 'v') + R"("})";
  expect_reject(run_audit(parser, to_json(with(valid_audit(), "metadata", over))).rejection,
                R::kTooLarge, "too large: metadata: 33 bytes, limit 32");
  expect_reject(
      run_invocation(parser, to_json(with(valid_invocation(), "metadata", over))).rejection,
      R::kTooLarge, "too large: metadata: 33 bytes, limit 32");

  EventParser defaults;
  const std::string big = R"({"k":")" + std::string((64 << 10) - 7, 'v') + R"("})";
  expect_reject(run_audit(defaults, to_json(with(valid_audit(), "metadata", big))).rejection,
                R::kTooLarge, "too large: metadata: 65537 bytes, limit 65536");
}

TEST(EventParser, TsWindowEdges) {
  EventParser parser;
  const int64_t oldest_ms = (kNow - 400 * kDay) / 1000;
  const int64_t newest_ms = (kNow + kDay) / 1000;
  auto audit_ts = [&](const std::string& raw) {
    return run_audit(parser, to_json(with(valid_audit(), "ts", raw))).rejection;
  };
  EXPECT_FALSE(audit_ts(std::to_string(oldest_ms)));
  EXPECT_FALSE(audit_ts(std::to_string(newest_ms)));
  expect_reject(
      audit_ts(std::to_string(oldest_ms - 1)), R::kTsOutOfRange,
      "ts out of range: " + std::to_string(oldest_ms - 1) + " (epoch ms) is older than 400 days");
  expect_reject(audit_ts(std::to_string(newest_ms + 1)), R::kTsOutOfRange,
                "ts out of range: " + std::to_string(newest_ms + 1) +
                    " (epoch ms) is more than 1 day in the future");
  // The same edges to the microsecond with RFC 3339 text.
  EXPECT_FALSE(audit_ts("\"2025-10-26T00:00:00Z\""));  // now - 400 days
  ASSERT_EQ(at("2025-10-26T00:00:00Z"), kNow - 400 * kDay);
  expect_reject(audit_ts("\"2025-10-25T23:59:59.999999Z\""), R::kTsOutOfRange,
                "ts out of range: 2025-10-25T23:59:59.999999Z is older than 400 days");
  EXPECT_FALSE(audit_ts("\"2026-12-01T00:00:00Z\""));
  expect_reject(audit_ts("\"2026-12-01T00:00:00.000001Z\""), R::kTsOutOfRange,
                "ts out of range: 2026-12-01T00:00:00.000001Z is more than 1 day in the future");
  expect_reject(audit_ts("\"2026-12-01T02:00:00+02:00:00\""), R::kInvalidValue,
                "invalid value: ts");
  EXPECT_FALSE(audit_ts("\"2026-12-01T02:00:00+02:00\""));  // = 2026-12-01T00:00:00Z

  // The window follows the context's clock and the configured limits.
  EventParser narrow({.max_age_micros = 3600LL * 1'000'000, .max_future_micros = 1'000'000});
  MessageContext ctx = context();
  ctx.now_unix_micros = at("2026-11-15T13:00:00Z");
  auto narrow_ts = [&](const std::string& raw) {
    return run_audit(narrow, to_json(with(valid_audit(), "ts", raw)), ctx).rejection;
  };
  EXPECT_FALSE(narrow_ts("\"2026-11-15T12:00:00Z\""));
  expect_reject(narrow_ts("\"2026-11-15T11:59:59Z\""), R::kTsOutOfRange,
                "ts out of range: 2026-11-15T11:59:59Z is older than 1 hour");
  expect_reject(narrow_ts("\"2026-11-15T13:00:02Z\""), R::kTsOutOfRange,
                "ts out of range: 2026-11-15T13:00:02Z is more than 1 second in the future");
}

TEST(EventParser, DetailsQuoteValuesSafely) {
  EventParser parser;
  const std::string long_value(300, 'z');
  auto r = run_audit(parser, to_json(with(valid_audit(), "outcome", quote(long_value)))).rejection;
  ASSERT_TRUE(r);
  EXPECT_LT(r->detail.size(), 150u);
  EXPECT_NE(r->detail.find("\"..."), std::string::npos);
  // Multi-byte characters are not cut in half; control characters are escaped.
  std::string accents = "x";
  for (int i = 0; i < 100; ++i) accents += "\xc3\xa9";
  r = run_audit(parser, to_json(with(valid_audit(), "event_id", quote(accents)))).rejection;
  ASSERT_TRUE(r);
  EXPECT_TRUE(simdjson::validate_utf8(r->detail.data(), r->detail.size())) << r->detail;
  EXPECT_NE(r->detail.find("\"..."), std::string::npos);
  r = run_audit(parser, to_json(with(valid_audit(), "outcome", "\"a\\u0000\\n\\\"b\""))).rejection;
  ASSERT_TRUE(r);
  EXPECT_EQ(
      r->detail,
      "invalid value: outcome: expected success|failure|denied, got \"a\\u0000\\u000a\\\"b\"");
  EXPECT_EQ(r->detail.find('\0'), std::string::npos);
}

TEST(EventParser, InvocationCostTenantStaysValidUntilTheNextParse) {
  EventParser parser;
  std::string out;
  InvocationCost cost;
  const Padded p(to_json(with(valid_invocation(), "tenant_id", R"("t\u00e9nant-\u0031")")));
  ASSERT_FALSE(parser.parse_invocation(p.data(), p.size(), context(), out, cost));
  EXPECT_EQ(cost.tenant_id, "t\xc3\xa9nant-1");
}

TEST(EventParser, ParsesBackToBackMessagesIntoOneBuffer) {
  EventParser parser;
  std::string out;
  const Padded audit(to_json(valid_audit()));
  const Padded bad("{\"event_id\":1}");
  int64_t ts = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(parser.parse_audit(audit.data(), audit.size(), context(), out, ts));
    ASSERT_TRUE(parser.parse_audit(bad.data(), bad.size(), context(), out, ts));
  }
  const std::string one = run_audit(parser, to_json(valid_audit())).tuple;
  EXPECT_EQ(out, one + one + one);
}

TEST(EventParser, ValidMessagesAllocateNothing) {
  EventParser parser;
  std::string out;
  out.reserve(1 << 20);
  const Padded audit(to_json(valid_audit()));
  const Padded invocation(to_json(valid_invocation()));
  int64_t ts = 0;
  InvocationCost cost;
  ASSERT_FALSE(parser.parse_audit(audit.data(), audit.size(), context(), out, ts));
  ASSERT_FALSE(parser.parse_invocation(invocation.data(), invocation.size(), context(), out, cost));
  const long before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) {
    out.clear();
    if (parser.parse_audit(audit.data(), audit.size(), context(), out, ts)) FAIL();
    if (parser.parse_invocation(invocation.data(), invocation.size(), context(), out, cost)) FAIL();
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  // The counter does count: a rejection allocates its detail.
  const Padded bad(to_json(with(valid_audit(), "tenant_id", std::nullopt)));
  ASSERT_TRUE(parser.parse_audit(bad.data(), bad.size(), context(), out, ts));
  EXPECT_GT(g_allocations.load() - before, 0);
}

// ---- the sample data ----

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

TEST(SampleData, EveryAuditSampleIsValid) {
  EventParser parser;
  const auto lines = read_lines(SENTINEL_TEST_DATA_DIR "/audit_sample.jsonl");
  EXPECT_GE(lines.size(), 20u);
  for (const std::string& line : lines) {
    const AuditResult r = run_audit(parser, line);
    EXPECT_FALSE(r.rejection) << line << "\n" << r.rejection->detail;
    if (r.rejection) continue;
    EXPECT_EQ(decode_tuple(r.tuple).size(), 15u);
    EXPECT_GE(r.ts, at("2026-11-01T00:00:00Z"));
    EXPECT_LT(r.ts, at("2026-12-01T00:00:00Z"));
  }
}

TEST(SampleData, EveryInvocationSampleIsValid) {
  EventParser parser;
  const auto lines = read_lines(SENTINEL_TEST_DATA_DIR "/invocations_sample.jsonl");
  EXPECT_GE(lines.size(), 20u);
  for (const std::string& line : lines) {
    const InvocationResult r = run_invocation(parser, line);
    EXPECT_FALSE(r.rejection) << line << "\n" << r.rejection->detail;
    if (r.rejection) continue;
    const auto f = decode_tuple(r.tuple);
    EXPECT_EQ(f.size(), 17u);
    EXPECT_EQ(numeric_nanos_of(*f[11]), r.cost.cost_nanos);
    EXPECT_GT(r.cost.cost_nanos, 0);
    EXPECT_GE(r.cost.ts_unix_micros, at("2026-11-01T00:00:00Z"));
    EXPECT_LT(r.cost.ts_unix_micros, at("2026-12-01T00:00:00Z"));
  }
}

}  // namespace
}  // namespace sentinel
