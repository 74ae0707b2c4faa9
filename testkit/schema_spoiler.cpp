// SchemaGenerator's malformed events: one valid draft changed so that exactly one thing is wrong
// with it, the thing its expected reason names.
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "testkit/schema_generator.h"

namespace sentinel {
namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000;

/// A random property of `t` that `pred` accepts, or -1.
int pick_property(std::mt19937_64& rng, const EventType& t,
                  const std::function<bool(const Property&)>& pred) {
  std::vector<int> fits;
  for (size_t i = 0; i < t.properties.size(); ++i) {
    if (pred(t.properties[i])) fits.push_back(static_cast<int>(i));
  }
  return fits.empty() ? -1 : fits[rng() % fits.size()];
}

/// A JSON value of a type `json_types` does not accept.
std::string wrong_json(uint8_t json_types) {
  if ((json_types & kJsonString) == 0) return "\"oops\"";
  if ((json_types & (kJsonInteger | kJsonNumber)) == 0) return "42";
  if ((json_types & kJsonBoolean) == 0) return "true";
  if ((json_types & kJsonObject) == 0) return R"({"a":1})";
  return "[1]";
}

/// Values of `p` that are of an accepted JSON type but outside the schema: invalid_value.
void invalid_values(const Property& p, std::vector<std::string>& out) {
  const bool int4 = p.type == ColumnType::kInt4;
  switch (p.type) {
    case ColumnType::kUuid:
      out.emplace_back("\"not-a-uuid\"");
      break;
    case ColumnType::kInet:
      out.emplace_back("\"999.1.2.3\"");
      break;
    case ColumnType::kText:
      if (!p.enum_values.empty()) {
        std::string other = "nosuch";
        while (std::find(p.enum_values.begin(), p.enum_values.end(), other) !=
               p.enum_values.end()) {
          other += "_x";
        }
        out.push_back(json_string(other, false));
        break;
      }
      if (p.max_length && *p.max_length < 100'000) {
        out.push_back(json_string(std::string(static_cast<size_t>(*p.max_length) + 1, 'x'), false));
      }
      if (p.min_length && *p.min_length >= 1) out.emplace_back("\"\"");
      out.emplace_back(R"("bad\u0000byte")");  // PostgreSQL text cannot hold a NUL
      break;
    case ColumnType::kInt4:
    case ColumnType::kInt8:
      if (p.maximum && *p.maximum < std::numeric_limits<int64_t>::max()) {
        out.push_back(std::to_string(*p.maximum + 1));
      }
      if (p.minimum && *p.minimum > (int4 ? std::numeric_limits<int32_t>::min()
                                          : std::numeric_limits<int64_t>::min())) {
        out.push_back(std::to_string(*p.minimum - 1));
      }
      break;
    case ColumnType::kNumeric: {
      const bool numbers = (p.json_types & kJsonNumber) != 0;
      auto spell = [&](int64_t units) {
        const std::string text = decimal_text(units, p.numeric_scale);
        return numbers ? text : "\"" + text + "\"";
      };
      if (p.maximum && *p.maximum < std::numeric_limits<int64_t>::max()) {
        out.push_back(spell(*p.maximum + 1));
      }
      if (p.minimum && *p.minimum > std::numeric_limits<int64_t>::min()) {
        out.push_back(spell(*p.minimum - 1));
      }
      break;
    }
    case ColumnType::kJsonb:
      out.emplace_back((p.json_types & kJsonObject) != 0 ? R"({"note":"a\u0000b"})"
                                                         : R"(["a\u0000b"])");
      break;
    default:
      break;
  }
}

}  // namespace

SchemaGenerator::TextSpoil SchemaGenerator::spoil(const EventType& t, JsonDraft& draft,
                                                  SchemaEvent& e) {
  const auto reasons = message_reject_reasons();
  e.valid = false;
  e.expected_reason = reasons[invalid_count_++ % reasons.size()];
  switch (e.expected_reason) {
    case RejectReason::kInvalidJson: {
      const uint64_t variant = rng_() % 3;
      const int i = pick_property(rng_, t, [&](const Property& p) {
        return p.path.size() == 1 && draft.get(p.path) != nullptr;
      });
      if (variant == 2 && i >= 0) {  // the same field twice
        const Property& p = t.properties[static_cast<size_t>(i)];
        std::string raw = *draft.get(p.path);
        draft.append(p.path.front(), std::move(raw));
        e.expected_property = p.name;
        return TextSpoil::kNone;
      }
      return variant == 1 ? TextSpoil::kTrailing : TextSpoil::kTruncate;
    }
    case RejectReason::kNotAnObject:
      return rng_() % 2 == 0 ? TextSpoil::kArray : TextSpoil::kString;
    case RejectReason::kMissingField:
      spoil_missing(t, draft, e);
      break;
    case RejectReason::kWrongType:
      spoil_type(t, draft, e);
      break;
    case RejectReason::kInvalidValue:
      if (!spoil_value(t, draft, e)) {
        e.expected_reason = RejectReason::kWrongType;
        spoil_type(t, draft, e);
      }
      break;
    case RejectReason::kTsOutOfRange:
      spoil_ts(t, draft, e);
      break;
    case RejectReason::kTooLarge:
      spoil_size(t, draft, e);
      break;
    default:
      break;
  }
  return TextSpoil::kNone;
}

void SchemaGenerator::spoil_text(SchemaEvent& e, TextSpoil how) {
  switch (how) {
    case TextSpoil::kTruncate:  // cut off mid-message
      e.payload.resize(e.payload.size() / 2);
      break;
    case TextSpoil::kTrailing:  // two events in one message
      e.payload += "\n{\"again\":true}";
      break;
    case TextSpoil::kArray:
      e.payload = "[" + e.payload + "]";
      break;
    case TextSpoil::kString:  // encoded twice
      e.payload = json_string(e.payload, false);
      break;
    case TextSpoil::kNone:
      break;
  }
}

void SchemaGenerator::spoil_missing(const EventType& t, JsonDraft& draft, SchemaEvent& e) {
  // partition_by is required: there is always one.
  const int i = pick_property(rng_, t, [](const Property& p) { return p.required; });
  const Property& p = t.properties[static_cast<size_t>(i)];
  if (rng_() % 3 == 0) {
    draft.set(p.path, "null");  // null is missing too
  } else {
    draft.remove(p.path);
  }
  e.expected_property = p.name;
}

void SchemaGenerator::spoil_type(const EventType& t, JsonDraft& draft, SchemaEvent& e) {
  int i = pick_property(rng_, t, [](const Property& p) { return p.path.size() == 1; });
  if (i < 0) i = pick_property(rng_, t, [](const Property&) { return true; });
  const Property& p = t.properties[static_cast<size_t>(i)];
  draft.set(p.path, wrong_json(p.json_types));
  e.expected_property = p.name;
}

bool SchemaGenerator::spoil_value(const EventType& t, JsonDraft& draft, SchemaEvent& e) {
  std::vector<std::pair<int, std::string>> candidates;
  for (size_t i = 0; i < t.properties.size(); ++i) {
    std::vector<std::string> values;
    invalid_values(t.properties[i], values);
    for (std::string& v : values) candidates.emplace_back(static_cast<int>(i), std::move(v));
  }
  if (t.unknown_fields == UnknownFields::kReject) candidates.emplace_back(-1, "1");
  if (candidates.empty()) return false;
  auto& [index, raw] = candidates[rng_() % candidates.size()];
  if (index < 0) {
    e.expected_property = unused_field_name(t, "unexpected");
    draft.set({e.expected_property}, std::move(raw));
  } else {
    const Property& p = t.properties[static_cast<size_t>(index)];
    draft.set(p.path, std::move(raw));
    e.expected_property = p.name;
  }
  return true;
}

void SchemaGenerator::spoil_ts(const EventType& t, JsonDraft& draft, SchemaEvent& e) {
  const Property& p = t.properties[static_cast<size_t>(t.property_index(t.partition_by))];
  const int64_t days = rng_() % 2 == 0 ? -(t.max_age_days + 2 + static_cast<int>(rng_() % 300))
                                       : t.max_future_days + 2 + static_cast<int>(rng_() % 30);
  const int64_t us = (options_.now_unix_micros + days * kMicrosPerDay) / 1000 * 1000;
  draft.set(p.path, timestamp_json(rng_, us, (p.json_types & kJsonString) != 0,
                                   (p.json_types & (kJsonInteger | kJsonNumber)) != 0));
  e.expected_property = p.name;
}

void SchemaGenerator::spoil_size(const EventType& t, JsonDraft& draft, SchemaEvent& e) {
  const int i =
      pick_property(rng_, t, [](const Property& p) { return p.type == ColumnType::kJsonb; });
  if (i < 0) {  // a message over the size limit
    draft.set({unused_field_name(t, "padding")},
              fmt::format("\"{}\"", std::string(options_.max_message_bytes, 'x')));
    return;
  }
  // jsonb nested deeper than the limit
  const Property& p = t.properties[static_cast<size_t>(i)];
  const auto depth = static_cast<size_t>(options_.max_depth) + 8;
  const std::string deep = fmt::format("{}{}", std::string(depth, '['), std::string(depth, ']'));
  draft.set(p.path,
            (p.json_types & kJsonObject) != 0 ? fmt::format(R"({{"deep":{}}})", deep) : deep);
  e.expected_property = p.name;
}

}  // namespace sentinel
