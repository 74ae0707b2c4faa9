#include "testkit/schema_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "testkit/json_draft.h"

namespace sentinel {
namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000;
constexpr int64_t kInt4Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt4Min = std::numeric_limits<int32_t>::min();

constexpr std::array<const char*, 6> kErrorCodes = {"upstream_timeout",        "rate_limited",
                                                    "context_length_exceeded", "invalid_api_key",
                                                    "content_filtered",        "upstream_503"};
constexpr std::array<const char*, 6> kRegions = {"eu-west-1",      "us-east-1",    "us-west-2",
                                                 "ap-southeast-1", "eu-central-1", "sa-east-1"};
constexpr std::array<const char*, 7> kCategories = {
    "pii", "toxicity", "jailbreak", "prompt_injection", "self_harm", "violence", "secrets"};
// Free text, some of it beyond ASCII and some needing JSON escapes.
constexpr std::array<const char*, 8> kPhrases = {"prompt contains an API key",
                                                 "user asked to \"ignore previous instructions\"",
                                                 "café menu translation",
                                                 "résumé screening for a Zürich office",
                                                 "日本語の要約を作成",
                                                 "launch plan 🚀 for Q3",
                                                 "path C:\\Users\\finance\\q3.xlsx",
                                                 "routine summarisation request"};
constexpr std::array<const char*, 10> kWords = {"alpha", "bravo",   "charlie", "delta",  "echo",
                                                "fjord", "glacier", "harbor",  "island", "zürich"};

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

/// The numbers an event's properties agree on: one LLM call (its model, tokens and price).
struct CallFacts {
  const ModelPrice* model = nullptr;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cost_nanos() const {
    return prompt_tokens * model->input_nanos_per_token +
           completion_tokens * model->output_nanos_per_token;
  }
};

/// A value drawn for one property: its JSON text and what the parser must read from it.
struct Drawn {
  std::string raw;
  GeneratedValue value;
};

/// Draws property values for one event of one type.
class ValueSource {
 public:
  ValueSource(std::mt19937_64& rng, TenantPool& tenants, const SchemaGeneratorOptions& options,
              const EventType& type, int64_t ts_unix_micros)
      : rng_(rng), tenants_(tenants), options_(options), type_(type), ts_(ts_unix_micros) {
    const auto models = model_prices();
    call_.model = &models[rng_() % models.size()];
    call_.prompt_tokens = 50 + static_cast<int64_t>(rng_() % 8000);
    call_.completion_tokens = static_cast<int64_t>(rng_() % 2000);
  }

  Drawn draw(const Property& p);

 private:
  Drawn text(const Property& p);
  Drawn uuid();
  Drawn timestamp(const Property& p);
  Drawn integer(const Property& p);
  Drawn numeric(const Property& p);
  Drawn boolean(const Property& p);
  Drawn inet();
  Drawn jsonb(const Property& p);
  /// Text plausible for the property's name; `free_text` tells whether it is free text (not a
  /// tenant, model, action... whose identity matters).
  std::string plausible_text(const Property& p, bool& free_text);
  std::string enum_pick(const Property& p);
  bool summed(const Property& p) const;

  std::mt19937_64& rng_;
  TenantPool& tenants_;
  const SchemaGeneratorOptions& options_;
  const EventType& type_;
  int64_t ts_;
  CallFacts call_;
};

Drawn ValueSource::draw(const Property& p) {
  switch (p.type) {
    case ColumnType::kText:
      return text(p);
    case ColumnType::kUuid:
      return uuid();
    case ColumnType::kTimestamptz:
      return timestamp(p);
    case ColumnType::kInt4:
    case ColumnType::kInt8:
      return integer(p);
    case ColumnType::kNumeric:
      return numeric(p);
    case ColumnType::kBool:
      return boolean(p);
    case ColumnType::kInet:
      return inet();
    case ColumnType::kJsonb:
    case ColumnType::kCount:
      break;
  }
  return jsonb(p);
}

std::string ValueSource::enum_pick(const Property& p) {
  // Skewed like real traffic: the first value most often ("success", "ok", "allow").
  std::vector<double> weights;
  for (size_t i = 0; i < p.enum_values.size(); ++i) {
    weights.push_back(1.0 / static_cast<double>((i + 1) * (i + 1) * (i + 1)));
  }
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  return p.enum_values[pick(rng_)];
}

std::string ValueSource::plausible_text(const Property& p, bool& free_text) {
  const std::string_view n = p.name;
  free_text = false;
  auto one_of = [&](auto list) { return std::string(list[rng_() % list.size()]); };
  if (contains(n, "tenant")) return tenants_.pick(rng_);
  if (ends_with(n, "provider")) return call_.model->provider;
  if (contains(n, "model")) return call_.model->name;
  if (contains(n, "action")) return one_of(audit_actions());
  if (contains(n, "agent")) return one_of(user_agents());
  if (contains(n, "error") || ends_with(n, "code")) return one_of(kErrorCodes);
  if (contains(n, "region")) return one_of(kRegions);
  if (contains(n, "ip") || contains(n, "addr")) {
    return fmt::format("10.{}.{}.{}", rng_() % 256, rng_() % 256, 1 + rng_() % 254);
  }
  if (contains(n, "resource") || contains(n, "path") || contains(n, "url")) {
    return fmt::format("/v1/{}/{}", one_of(std::array{"keys", "models", "policies", "users"}),
                       rng_() % 1000);
  }
  free_text = true;
  if (ends_with(n, "_id") || n == "id") {
    const std::string_view stem = n == "id" ? "id" : n.substr(0, n.size() - 3);
    return fmt::format("{}-{}", stem, rng_() % 5000);
  }
  if (contains(n, "reason") || contains(n, "message") || contains(n, "note") ||
      contains(n, "text") || contains(n, "description") || contains(n, "summary")) {
    return one_of(kPhrases);
  }
  return fmt::format("{}-{}", one_of(kWords), rng_() % 100);
}

Drawn ValueSource::text(const Property& p) {
  bool free_text = false;
  std::string s = p.enum_values.empty() ? plausible_text(p, free_text) : enum_pick(p);
  if (p.enum_values.empty()) {
    // Free text now and then exactly at the upper bound, where off-by-ones live.
    const bool at_max = free_text && p.max_length && *p.max_length <= 512 && rng_() % 50 == 0;
    const int64_t min_length = at_max ? *p.max_length : p.min_length.value_or(0);
    s = fit_length(std::move(s), min_length, p.max_length.value_or(-1));
  }
  Drawn d;
  d.raw = json_string(s, rng_() % 8 == 0);  // sometimes \u-escaped beyond ASCII
  d.value.present = true;
  d.value.text = std::move(s);
  return d;
}

Drawn ValueSource::uuid() {
  Drawn d;
  d.value.present = true;
  d.value.text = random_uuid_v4(rng_);
  std::string spelled = d.value.text;
  if (rng_() % 20 == 0) {  // upper case is a uuid too
    std::transform(spelled.begin(), spelled.end(), spelled.begin(),
                   [](char c) { return static_cast<char>(std::toupper(c)); });
  }
  d.raw = "\"" + spelled + "\"";
  return d;
}

Drawn ValueSource::timestamp(const Property& p) {
  Drawn d;
  d.value.present = true;
  // partition_by is the event's time; another date-time is shortly before it.
  d.value.number =
      p.name == type_.partition_by ? ts_ : ts_ - static_cast<int64_t>(rng_() % 3'600'000) * 1000;
  d.raw = timestamp_json(rng_, d.value.number, (p.json_types & kJsonString) != 0,
                         (p.json_types & (kJsonInteger | kJsonNumber)) != 0);
  return d;
}

Drawn ValueSource::integer(const Property& p) {
  const int64_t type_max = p.type == ColumnType::kInt4 ? kInt4Max : INT64_MAX;
  const int64_t type_min = p.type == ColumnType::kInt4 ? kInt4Min : INT64_MIN;
  const int64_t hi = p.maximum.value_or(type_max);
  const int64_t lo = p.minimum.value_or(hi < 0 ? std::max(type_min, hi - 100'000) : 0);
  const std::string_view n = p.name;
  int64_t v = 0;
  if (contains(n, "prompt") || contains(n, "input")) {
    v = call_.prompt_tokens;
  } else if (contains(n, "completion") || contains(n, "output")) {
    v = call_.completion_tokens;
  } else if (contains(n, "latency") || contains(n, "duration") || ends_with(n, "_ms")) {
    v = 80 + log_uniform(rng_, 0, 20'000);
  } else if (contains(n, "bytes") || contains(n, "size")) {
    v = 100 + log_uniform(rng_, 0, 10'000'000);
  } else if (contains(n, "attempt") || contains(n, "retr") || contains(n, "count")) {
    v = log_uniform(rng_, 0, 5);
  } else if (contains(n, "status")) {
    v = std::array{200, 200, 200, 201, 400, 401, 403, 429, 500, 502}[rng_() % 10];
  } else {
    v = log_uniform(rng_, lo, lo > INT64_MAX - 100'000 ? hi : std::min(hi, lo + 100'000));
  }
  v = std::clamp(v, lo, std::max(lo, hi));
  Drawn d;
  d.value.present = true;
  d.value.number = v;
  d.raw = std::to_string(v);
  return d;
}

bool ValueSource::summed(const Property& p) const {
  for (const Rollup& r : type_.rollups) {
    for (const auto& [column, property] : r.sums) {
      if (property == p.name) return true;
    }
  }
  return false;
}

Drawn ValueSource::numeric(const Property& p) {
  const int64_t precision_max = units_below_precision(p.numeric_precision);
  int64_t hi = p.maximum.value_or(precision_max);
  const int64_t lo = p.minimum.value_or(0);
  // A summed amount stays below the parser's cap (--max-cost-usd, 10 000 by default).
  if (summed(p)) hi = std::min(hi, saturating_scale(10'000, p.numeric_scale));
  const std::string_view n = p.name;
  int64_t units = 0;
  if (contains(n, "cost") || contains(n, "price") || contains(n, "usd") || contains(n, "amount")) {
    units = nanos_to_units(call_.cost_nanos(), p.numeric_scale);
  } else if (lo >= 0 && hi - lo <= saturating_scale(1, p.numeric_scale)) {
    units = lo + static_cast<int64_t>(rng_() % static_cast<uint64_t>(hi - lo + 1));  // a score
  } else {
    units = log_uniform(rng_, lo, std::min(hi, lo + saturating_scale(1000, p.numeric_scale)));
  }
  units = std::clamp(units, lo, std::max(lo, hi));
  Drawn d;
  d.value.present = true;
  d.value.number = units;
  d.raw = numeric_json(units, p.numeric_scale, (p.json_types & kJsonString) != 0,
                       (p.json_types & kJsonNumber) != 0, rng_);
  return d;
}

Drawn ValueSource::boolean(const Property& p) {
  // Flags are rare; other booleans even.
  const bool flag = contains(p.name, "flag") || contains(p.name, "block");
  Drawn d;
  d.value.present = true;
  d.value.number = (flag ? rng_() % 7 == 0 : rng_() % 2 == 0) ? 1 : 0;
  d.raw = d.value.number ? "true" : "false";
  return d;
}

Drawn ValueSource::inet() {
  Drawn d;
  d.value.present = true;
  d.value.text = rng_() % 4 == 0
                     ? fmt::format("2001:db8:{:x}::{:x}", rng_() % 65536, rng_() % 65536)
                     : fmt::format("{}.{}.{}.{}", 10 + rng_() % 200, rng_() % 256, rng_() % 256,
                                   1 + rng_() % 254);
  d.raw = "\"" + d.value.text + "\"";
  return d;
}

Drawn ValueSource::jsonb(const Property& p) {
  const bool can_object = (p.json_types & kJsonObject) != 0;
  const bool can_array = (p.json_types & kJsonArray) != 0;
  Drawn d;
  d.value.present = true;
  if (can_array && (!can_object || rng_() % 2 == 0)) {
    std::vector<std::string> picked;
    const size_t count = rng_() % 4;
    for (size_t i = 0; i < count; ++i) {
      picked.push_back(json_string(kCategories[rng_() % kCategories.size()], false));
    }
    d.raw = fmt::format("[{}]", fmt::join(picked, ","));
  } else {
    d.raw = fmt::format(R"({{"request_id":"{}","region":"{}","attempt":{},"tags":[{}]}})",
                        random_uuid_v4(rng_), kRegions[rng_() % kRegions.size()], rng_() % 3,
                        rng_() % 2 ? "\"beta\"" : "");
  }
  d.value.text = d.raw;
  return d;
}

/// Where the event's partition_by falls: within days_back (at most the type's window less a day,
/// so that an event ingested a while later is still in it), at a whole millisecond.
int64_t draw_ts(std::mt19937_64& rng, const SchemaGeneratorOptions& o, const EventType& t) {
  const int days = std::max(0, std::min(o.days_back, t.max_age_days - 1));
  const int64_t span = days > 0 ? days * kMicrosPerDay : kMicrosPerDay / 2;
  return (o.now_unix_micros - static_cast<int64_t>(rng() % static_cast<uint64_t>(span))) / 1000 *
         1000;
}

}  // namespace

const GeneratedValue& SchemaEvent::value(const EventType& t, std::string_view property) const {
  const int i = t.property_index(property);
  if (i < 0) throw std::out_of_range(fmt::format("{} has no property {}", t.name, property));
  return values.at(static_cast<size_t>(i));
}

std::string unused_field_name(const EventType& t, std::string wanted) {
  auto taken = [&](const std::string& k) {
    return std::any_of(t.properties.begin(), t.properties.end(),
                       [&](const Property& p) { return p.path.front() == k; });
  };
  while (taken(wanted)) wanted += "_x";
  return wanted;
}

SchemaGenerator::SchemaGenerator(std::shared_ptr<const Catalog> catalog, std::vector<int> types,
                                 SchemaGeneratorOptions options)
    : catalog_(std::move(catalog)),
      types_(std::move(types)),
      options_(options),
      rng_(options.seed),
      tenants_(options.tenants) {
  if (!catalog_ || types_.empty()) {
    throw std::invalid_argument("SchemaGenerator: no event type to generate");
  }
  for (const int t : types_) {
    if (t < 0 || static_cast<size_t>(t) >= catalog_->size()) {
      throw std::invalid_argument(fmt::format("SchemaGenerator: no event type number {}", t));
    }
  }
  if (options_.now_unix_micros == 0) options_.now_unix_micros = wall_clock_micros();
}

SchemaEvent SchemaGenerator::next() {
  const int type = types_[rng_() % types_.size()];
  const EventType& t = (*catalog_)[static_cast<size_t>(type)];
  SchemaEvent e;
  e.type = type;
  e.topic = t.topic;
  JsonDraft draft = valid_draft(t, e);
  std::uniform_real_distribution<double> u(0, 1);
  const bool invalid = options_.invalid_ratio > 0 && u(rng_) < options_.invalid_ratio;
  if (!invalid && t.unknown_fields != UnknownFields::kReject &&
      u(rng_) < options_.unknown_field_ratio) {
    add_unknown_field(t, draft, e);
  }
  TextSpoil how = TextSpoil::kNone;
  if (invalid) how = spoil(t, draft, e);
  e.payload = draft.render();
  spoil_text(e, how);
  return e;
}

JsonDraft SchemaGenerator::valid_draft(const EventType& t, SchemaEvent& e) {
  e.ts_unix_micros = draw_ts(rng_, options_, t);
  ValueSource source(rng_, tenants_, options_, t, e.ts_unix_micros);
  JsonDraft draft;
  e.values.resize(t.properties.size());
  for (size_t i = 0; i < t.properties.size(); ++i) {
    const Property& p = t.properties[i];
    const uint64_t roll = rng_() % 100;
    if (!p.required && roll < 8) continue;  // absent
    if (!p.required && roll < 16) {
      draft.set(p.path, "null");
      continue;
    }
    Drawn d = source.draw(p);
    draft.set(p.path, std::move(d.raw));
    e.values[i] = std::move(d.value);
    if (e.tenant.empty() && p.type == ColumnType::kText && contains(p.name, "tenant")) {
      e.tenant = e.values[i].text;
    }
    if (e.id.empty() && p.required && p.type == ColumnType::kUuid) e.id = e.values[i].text;
  }
  if (rng_() % 10 == 0) draft.rotate(rng_);  // fields in any order
  e.key = e.tenant.empty() ? e.id : e.tenant;
  return draft;
}

void SchemaGenerator::add_unknown_field(const EventType& t, JsonDraft& draft, SchemaEvent& e) {
  e.unknown_field = true;
  if (rng_() % 2 == 0) {
    draft.set({unused_field_name(t, "client_version")},
              fmt::format("\"{}.{}.{}\"", rng_() % 4, rng_() % 20, rng_() % 10));
  } else {
    draft.set({unused_field_name(t, "trace")},
              fmt::format(R"({{"span_id":"{:016x}","sampled":{}}})", rng_(),
                          rng_() % 2 ? "true" : "false"));
  }
}

}  // namespace sentinel
