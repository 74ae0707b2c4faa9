#include "testkit/event_generator.h"

#include <fmt/format.h>

#include <array>

#include "testkit/vocabulary.h"

namespace sentinel {
namespace {

std::string nanos_decimal(int64_t nanos) {
  return fmt::format("{}.{:09d}", nanos / 1'000'000'000, nanos % 1'000'000'000);
}

}  // namespace

EventGenerator::EventGenerator(GeneratorOptions options)
    : options_(options), rng_(options.seed), tenants_(options.tenants) {
  if (options_.now_unix_micros == 0) options_.now_unix_micros = wall_clock_micros();
}

const std::string& EventGenerator::pick_tenant() { return tenants_.pick(rng_); }

GeneratedEvent EventGenerator::next() {
  std::uniform_real_distribution<double> u(0, 1);
  GeneratedEvent e = u(rng_) < options_.audit_share ? audit() : invocation();
  if (options_.invalid_ratio > 0 && u(rng_) < options_.invalid_ratio) make_invalid(e);
  return e;
}

GeneratedEvent EventGenerator::audit() {
  GeneratedEvent e;
  e.topic_index = static_cast<int>(EventTable::kAudit);
  e.tenant = pick_tenant();
  e.key = e.tenant;
  e.id = random_uuid_v4(rng_);
  const int64_t span = int64_t{options_.days_back} * 86'400'000'000;
  // Millisecond precision: every spelling (including epoch ms) is then exact.
  e.ts_unix_micros = (options_.now_unix_micros - static_cast<int64_t>(rng_() % span)) / 1000 * 1000;
  const char* action = audit_actions()[rng_() % audit_actions().size()];
  const int r = static_cast<int>(rng_() % 100);
  const char* outcome = r < 85 ? "success" : r < 95 ? "failure" : "denied";
  const char* actor_type[] = {"user", "service", "system"};
  std::string ip = rng_() % 4 == 0
                       ? fmt::format("\"2001:db8:{:x}::{:x}\"", rng_() % 65536, rng_() % 65536)
                       : fmt::format("\"{}.{}.{}.{}\"", 10 + rng_() % 200, rng_() % 256,
                                     rng_() % 256, 1 + rng_() % 254);
  e.payload = fmt::format(
      R"({{"event_id":"{}","ts":{},"tenant_id":"{}","actor_id":"user-{}","actor_type":"{}",)"
      R"("action":"{}","resource":{},"outcome":"{}","source_ip":{},"user_agent":"{}",)"
      R"("session_id":{},"metadata":{{"request_id":"{}","region":"{}","attempt":{}}}}})",
      e.id, timestamp_json(rng_, e.ts_unix_micros), e.tenant, rng_() % 5000, actor_type[rng_() % 3],
      action, rng_() % 3 == 0 ? std::string("null") : fmt::format("\"/v1/keys/{}\"", rng_() % 1000),
      outcome, ip, user_agents()[rng_() % user_agents().size()],
      rng_() % 2 ? fmt::format("\"{}\"", random_uuid_v4(rng_)) : std::string("null"),
      random_uuid_v4(rng_), rng_() % 2 ? "eu-west-1" : "us-east-1", rng_() % 3);
  return e;
}

GeneratedEvent EventGenerator::invocation() {
  GeneratedEvent e;
  e.topic_index = static_cast<int>(EventTable::kInvocations);
  e.tenant = pick_tenant();
  e.key = e.tenant;
  e.id = random_uuid_v4(rng_);
  const int64_t span = int64_t{options_.days_back} * 86'400'000'000;
  e.ts_unix_micros = (options_.now_unix_micros - static_cast<int64_t>(rng_() % span)) / 1000 * 1000;
  const ModelPrice& m = model_prices()[rng_() % model_prices().size()];
  e.prompt_tokens = static_cast<int32_t>(50 + rng_() % 8000);
  e.completion_tokens = static_cast<int32_t>(rng_() % 2000);
  e.cost_nanos =
      e.prompt_tokens * m.input_nanos_per_token + e.completion_tokens * m.output_nanos_per_token;
  const int r = static_cast<int>(rng_() % 100);
  const char* status = r < 94 ? "ok" : r < 97 ? "error" : r < 99 ? "timeout" : "cancelled";
  // Costs as a JSON number, a decimal string, or in exponent form: all exact.
  std::string cost;
  switch (rng_() % 3) {
    case 0:
      cost = nanos_decimal(e.cost_nanos);
      break;
    case 1:
      cost = fmt::format("\"{}\"", nanos_decimal(e.cost_nanos));
      break;
    default:
      cost = fmt::format("{}e-9", e.cost_nanos);
      break;
  }
  e.payload = fmt::format(
      R"({{"invocation_id":"{}","ts":{},"tenant_id":"{}","user_id":"user-{}","session_id":"{}",)"
      R"("provider":"{}","model":"{}","prompt_tokens":{},"completion_tokens":{},)"
      R"("latency_ms":{},"cost_usd":{},"status":"{}","error_code":{},)"
      R"("metadata":{{"route":"{}","stream":{},"temperature":{}}}}})",
      e.id, timestamp_json(rng_, e.ts_unix_micros), e.tenant, rng_() % 5000, random_uuid_v4(rng_),
      m.provider, m.name, e.prompt_tokens, e.completion_tokens, 80 + rng_() % 20000, cost, status,
      std::string_view(status) == "ok" ? std::string("null")
                                       : fmt::format("\"upstream_{}\"", status),
      rng_() % 2 ? "chat" : "completions", rng_() % 2 ? "true" : "false",
      static_cast<double>(rng_() % 11) / 10.0);
  return e;
}

void EventGenerator::make_invalid(GeneratedEvent& e) {
  const RejectReason kind =
      message_reject_reasons()[invalid_count_++ % message_reject_reasons().size()];
  e.valid = false;
  e.expected_reason = kind;
  const std::string id_field(
      column_at(event_spec(static_cast<EventTable>(e.topic_index)).columns, 0));
  auto replace = [&](const std::string& from, const std::string& to) {
    const auto at = e.payload.find(from);
    if (at != std::string::npos) e.payload.replace(at, from.size(), to);
  };
  switch (kind) {
    case RejectReason::kInvalidJson:
      e.payload.resize(e.payload.size() / 2);  // truncated mid-message
      break;
    case RejectReason::kNotAnObject:
      e.payload = "[" + e.payload + "]";
      break;
    case RejectReason::kMissingField:
      replace("\"tenant_id\":", "\"tenant\":");
      break;
    case RejectReason::kWrongType:
      replace("\"tenant_id\":\"" + e.tenant + "\"", "\"tenant_id\":42");
      break;
    case RejectReason::kInvalidValue:
      replace("\"" + id_field + "\":\"" + e.id + "\"", "\"" + id_field + "\":\"not-a-uuid\"");
      break;
    case RejectReason::kTsOutOfRange: {
      const auto at = e.payload.find("\"ts\":");
      const auto end = e.payload.find(",\"tenant_id\"", at);
      e.payload.replace(at, end - at, "\"ts\":\"2019-03-01T12:00:00Z\"");
      break;
    }
    case RejectReason::kTooLarge: {
      std::string deep(40, '[');  // metadata nested deeper than 32
      deep += std::string(40, ']');
      replace("\"metadata\":{", "\"metadata\":{\"deep\":" + deep + ",");
      break;
    }
    default:
      break;
  }
}

}  // namespace sentinel
