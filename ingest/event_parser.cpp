#include "ingest/event_parser.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <new>
#include <string_view>

#include "ingest/scalars.h"
#include "rows/copy_encoder.h"
#include "rows/tables.h"

namespace sentinel {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

/// Nesting allowed in fields that are not stored (unknown fields, wrong-typed known ones).
constexpr int kMinUnknownDepth = 256;
constexpr int32_t kInt32Max = std::numeric_limits<int32_t>::max();

// The fields of each event, in COPY column order (rows/tables.h).
namespace audit {
enum : uint8_t {
  kEventId,
  kTs,
  kTenantId,
  kActorId,
  kActorType,
  kAction,
  kResource,
  kOutcome,
  kSourceIp,
  kUserAgent,
  kSessionId,
  kMetadata,
  kCount
};
// The JSON field names are the spec's columns before the lineage (rows/tables.h).
constexpr auto kNames = leading_columns<kCount>(EventTable::kAudit);
static_assert(kNames[kEventId] == "event_id" && kNames[kMetadata] == "metadata");
}  // namespace audit

namespace invocation {
enum : uint8_t {
  kInvocationId,
  kTs,
  kTenantId,
  kUserId,
  kSessionId,
  kProvider,
  kModel,
  kPromptTokens,
  kCompletionTokens,
  kLatencyMs,
  kStatus,
  kCostUsd,
  kErrorCode,
  kMetadata,
  kCount
};
constexpr auto kNames = leading_columns<kCount>(EventTable::kInvocations);
static_assert(kNames[kInvocationId] == "invocation_id" && kNames[kMetadata] == "metadata");
}  // namespace invocation

static_assert(audit::kCount + kLineageColumnCount == event_spec(EventTable::kAudit).field_count);
static_assert(invocation::kCount + kLineageColumnCount ==
              event_spec(EventTable::kInvocations).field_count);

constexpr std::array<std::string_view, 3> kOutcomes = {"success", "failure", "denied"};
constexpr std::array<std::string_view, 3> kActorTypes = {"user", "service", "system"};
constexpr std::array<std::string_view, 4> kStatuses = {"ok", "error", "timeout", "cancelled"};

/// The JSON type of a field's value as the scan found it.
enum class Kind : uint8_t { kAbsent, kNull, kString, kNumber, kBoolean, kObject, kArray };

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::kAbsent:
      return "nothing";
    case Kind::kNull:
      return "null";
    case Kind::kString:
      return "string";
    case Kind::kNumber:
      return "number";
    case Kind::kBoolean:
      return "boolean";
    case Kind::kObject:
      return "object";
    case Kind::kArray:
      return "array";
  }
  return "?";
}

/// What the scan kept of one known field. `text` points into the parser's string buffer (an
/// unescaped string) or into the message (a number's token, metadata's raw JSON).
struct Slot {
  Kind kind = Kind::kAbsent;
  bool has_nul = false;  ///< metadata: a NUL in one of its strings or keys
  std::string_view text;

  bool missing() const { return kind == Kind::kAbsent || kind == Kind::kNull; }
};

constexpr bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
  return s;
}

bool has_nul(std::string_view s) {
  return !s.empty() && std::memchr(s.data(), '\0', s.size()) != nullptr;
}

/// Finds a key among an event's field names with one table look-up and one compare: the names
/// of each event differ in (length, first character), which the table is indexed by.
template <size_t N>
class FieldLookup {
 public:
  constexpr explicit FieldLookup(const std::array<std::string_view, N>& names) : names_(names) {
    for (auto& slot : table_) slot = -1;
    for (size_t i = 0; i < N; ++i) {
      int8_t& slot = table_[index(names[i])];
      if (slot != -1 || names[i].size() >= 32) throw "field names collide in FieldLookup";
      slot = static_cast<int8_t>(i);
    }
  }
  /// The field's index, or -1 for an unknown key.
  int find(std::string_view key) const {
    if (key.empty() || key.size() >= 32) return -1;
    const int i = table_[index(key)];
    if (i < 0) return -1;
    const std::string_view name = names_[i];
    return name.size() == key.size() && std::memcmp(name.data(), key.data(), key.size()) == 0 ? i
                                                                                              : -1;
  }

 private:
  static constexpr size_t index(std::string_view key) {
    return (key.size() & 31) << 5 | (static_cast<uint8_t>(key[0]) & 31);
  }
  std::array<std::string_view, N> names_;
  std::array<int8_t, 32 * 32> table_{};
};

constexpr FieldLookup kAuditLookup(audit::kNames);
constexpr FieldLookup kInvocationLookup(invocation::kNames);

template <size_t N>
bool one_of(const std::array<std::string_view, N>& allowed, std::string_view v) {
  return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

// ---- reject path: allocation allowed from here on ----

/// A value from the message, quoted for a detail: at most 64 bytes (cut on a code point
/// boundary) with quotes, backslashes and control characters escaped, so that the detail is
/// always valid text for PostgreSQL.
std::string quoted(std::string_view v) {
  constexpr size_t kMax = 64;
  bool cut = false;
  if (v.size() > kMax) {
    size_t end = kMax;
    while (end > 0 && (static_cast<uint8_t>(v[end]) & 0xC0) == 0x80) --end;
    v = v.substr(0, end);
    cut = true;
  }
  std::string out = "\"";
  for (char c : v) {
    const auto u = static_cast<uint8_t>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  out += cut ? "\"..." : "\"";
  return out;
}

std::string describe_duration(int64_t micros) {
  constexpr int64_t kSecond = 1'000'000, kHour = 3600 * kSecond, kDay = 24 * kHour;
  auto unit = [](int64_t n, std::string_view name) {
    return fmt::format("{} {}{}", n, name, n == 1 ? "" : "s");
  };
  if (micros % kDay == 0) return unit(micros / kDay, "day");
  if (micros % kHour == 0) return unit(micros / kHour, "hour");
  if (micros % kSecond == 0) return unit(micros / kSecond, "second");
  return unit(micros, "microsecond");
}

Rejection reject(RejectReason reason, std::string detail) { return {reason, std::move(detail)}; }

Rejection invalid_json(error_code err, std::string_view field = {}) {
  if (field.empty()) {
    return reject(RejectReason::kInvalidJson,
                  fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  }
  return reject(
      RejectReason::kInvalidJson,
      fmt::format("invalid JSON: in field {}: {}", quoted(field), simdjson::error_message(err)));
}

Rejection missing(std::string_view name) {
  return reject(RejectReason::kMissingField, fmt::format("missing field: {}", name));
}

Rejection wrong_type(std::string_view name, std::string_view expected, Kind got) {
  return reject(RejectReason::kWrongType,
                fmt::format("wrong type: {}: expected {}, got {}", name, expected, kind_name(got)));
}

Rejection invalid_value(std::string_view name, std::string_view problem) {
  return reject(RejectReason::kInvalidValue, fmt::format("invalid value: {}: {}", name, problem));
}

Rejection contains_nul(std::string_view name) {
  return invalid_value(name, "contains NUL (\\u0000), which PostgreSQL cannot store");
}

// ---- JSON walking ----

struct WalkLimits {
  int max_depth;   ///< containers, the outermost being 1
  bool check_nul;  ///< note NULs in strings and keys (stored values)
};

/// Walks a value completely, so that everything in it is checked as JSON: On-Demand validates
/// only what it is asked to read. `depth` is the number of containers around `v`.
error_code walk(od::value& v, int depth, const WalkLimits& limits, bool& saw_nul) {
  od::json_type type;
  SIMDJSON_TRY(v.type().get(type));
  switch (type) {
    case od::json_type::object: {
      if (depth >= limits.max_depth) return simdjson::DEPTH_ERROR;
      od::object object;
      SIMDJSON_TRY(v.get_object().get(object));
      for (auto field_result : object) {
        SIMDJSON_TRY(field_result.error());
        od::field&& field = std::move(field_result).value_unsafe();
        std::string_view key;
        SIMDJSON_TRY(field.unescaped_key().get(key));
        if (limits.check_nul && has_nul(key)) saw_nul = true;
        SIMDJSON_TRY(walk(field.value(), depth + 1, limits, saw_nul));
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      if (depth >= limits.max_depth) return simdjson::DEPTH_ERROR;
      od::array array;
      SIMDJSON_TRY(v.get_array().get(array));
      for (auto element_result : array) {
        SIMDJSON_TRY(element_result.error());
        od::value&& element = std::move(element_result).value_unsafe();
        SIMDJSON_TRY(walk(element, depth + 1, limits, saw_nul));
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view s;
      SIMDJSON_TRY(v.get_string().get(s));
      if (limits.check_nul && has_nul(s)) saw_nul = true;
      return simdjson::SUCCESS;
    }
    case od::json_type::number:
      // On-Demand leaves scalars it is not asked for unparsed; check the token's grammar.
      return is_json_number(trim_right(v.raw_json_token())) ? simdjson::SUCCESS
                                                            : simdjson::NUMBER_ERROR;
    case od::json_type::boolean: {
      const std::string_view token = trim_right(v.raw_json_token());
      if (token == "true") return simdjson::SUCCESS;
      if (token == "false") return simdjson::SUCCESS;
      return token.starts_with('t') ? simdjson::T_ATOM_ERROR : simdjson::F_ATOM_ERROR;
    }
    case od::json_type::null:
      return trim_right(v.raw_json_token()) == "null" ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
  }
  return simdjson::TAPE_ERROR;
}

}  // namespace

class EventParser::Impl {
 public:
  explicit Impl(ParserLimits limits)
      : limits_(limits),
        unknown_limits_{std::max(kMinUnknownDepth, limits.max_depth), false},
        metadata_limits_{limits.max_depth, true} {
    // Size the buffers once for the largest message accepted: no allocation while parsing.
    if (parser_.allocate(std::max<size_t>(limits_.max_message_bytes, 64)) != simdjson::SUCCESS) {
      throw std::bad_alloc();
    }
  }

  std::optional<Rejection> parse_audit(const char* json, size_t size, const MessageContext& ctx,
                                       std::string& out, ParsedEvent& event);
  std::optional<Rejection> parse_invocation(const char* json, size_t size,
                                            const MessageContext& ctx, std::string& out,
                                            ParsedEvent& event);

  using ParseFn = std::optional<Rejection> (Impl::*)(const char*, size_t, const MessageContext&,
                                                     std::string&, ParsedEvent&);
  /// Each event type's parse function, indexed by EventTable: the hook kEventSpecs leaves to
  /// ingest/. EventParser::parse asserts at compile time that no type is left without one.
  static constexpr std::array<ParseFn, kEventTableCount> parsers() {
    std::array<ParseFn, kEventTableCount> p{};
    p[static_cast<size_t>(EventTable::kAudit)] = &Impl::parse_audit;
    p[static_cast<size_t>(EventTable::kInvocations)] = &Impl::parse_invocation;
    return p;
  }

  const ParserLimits& limits() const { return limits_; }

 private:
  template <size_t N>
  std::optional<Rejection> scan(const char* json, size_t size,
                                const std::array<std::string_view, N>& names,
                                const FieldLookup<N>& lookup, int metadata_index,
                                std::array<Slot, N>& slots);
  error_code read_slot(od::value& value, bool is_metadata, Slot& slot);
  std::optional<Rejection> not_an_object(od::document& doc, od::json_type type, const char* json,
                                         size_t size);

  std::optional<Rejection> required_text(const Slot& s, std::string_view name,
                                         size_t max_chars) const;
  std::optional<Rejection> optional_text(const Slot& s, std::string_view name) const;
  template <size_t N>
  std::optional<Rejection> enum_text(const Slot& s, std::string_view name, bool required,
                                     const std::array<std::string_view, N>& allowed,
                                     std::string_view expected) const;
  std::optional<Rejection> uuid(const Slot& s, std::string_view name, bool required,
                                std::array<uint8_t, 16>& id) const;
  std::optional<Rejection> inet(const Slot& s, std::string_view name, InetAddress& address) const;
  std::optional<Rejection> timestamp(const Slot& s, const MessageContext& ctx,
                                     int64_t& unix_micros) const;
  std::optional<Rejection> int32_field(const Slot& s, std::string_view name, bool required,
                                       int32_t& value) const;
  std::optional<Rejection> cost(const Slot& s, int64_t& nanos) const;
  std::optional<Rejection> metadata(const Slot& s) const;

  ParserLimits limits_;
  WalkLimits unknown_limits_;
  WalkLimits metadata_limits_;
  od::parser parser_;
};

template <size_t N>
std::optional<Rejection> EventParser::Impl::scan(const char* json, size_t size,
                                                 const std::array<std::string_view, N>& names,
                                                 const FieldLookup<N>& lookup, int metadata_index,
                                                 std::array<Slot, N>& slots) {
  if (size > limits_.max_message_bytes) {
    return reject(RejectReason::kTooLarge, fmt::format("too large: message is {} bytes, limit {}",
                                                       size, limits_.max_message_bytes));
  }
  if (size == 0) return reject(RejectReason::kInvalidJson, "invalid JSON: empty payload");

  od::document doc;
  error_code err =
      parser_.iterate(simdjson::padded_string_view(json, size, size + simdjson::SIMDJSON_PADDING))
          .get(doc);
  if (err) return invalid_json(err);
  od::json_type type;
  if ((err = doc.type().get(type))) return invalid_json(err);
  if (type != od::json_type::object) return not_an_object(doc, type, json, size);

  od::object object;
  if ((err = doc.get_object().get(object))) return invalid_json(err);
  for (auto field_result : object) {
    if ((err = field_result.error())) return invalid_json(err);
    // Used in place: copying the field out (get()) cost ~10% of the parse with GCC, a 16-byte
    // load of two fields just stored separately, which the CPU cannot forward.
    od::field&& field = std::move(field_result).value_unsafe();
    std::string_view key;
    if ((err = field.unescaped_key().get(key))) return invalid_json(err);
    const int index = lookup.find(key);
    if (index < 0) {
      bool ignored = false;
      err = walk(field.value(), 0, unknown_limits_, ignored);
      if (err == simdjson::DEPTH_ERROR) {
        return reject(RejectReason::kTooLarge,
                      fmt::format("too large: field {}: nested deeper than {} levels", quoted(key),
                                  unknown_limits_.max_depth));
      }
      if (err) return invalid_json(err, key);
      continue;
    }
    Slot& slot = slots[index];
    if (slot.kind != Kind::kAbsent) {
      return reject(RejectReason::kInvalidJson, fmt::format("duplicate field: {}", names[index]));
    }
    err = read_slot(field.value(), index == metadata_index, slot);
    if (err == simdjson::DEPTH_ERROR) {
      const int limit =
          index == metadata_index ? metadata_limits_.max_depth : unknown_limits_.max_depth;
      return reject(
          RejectReason::kTooLarge,
          fmt::format("too large: {}: nested deeper than {} levels", names[index], limit));
    }
    if (err) return invalid_json(err, names[index]);
  }
  // On-Demand stops at the end of the object; anything after it is not JSON.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return reject(RejectReason::kInvalidJson,
                  "invalid JSON: trailing content after the top-level object");
  }
  return std::nullopt;
}

error_code EventParser::Impl::read_slot(od::value& value, bool is_metadata, Slot& slot) {
  od::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  switch (type) {
    case od::json_type::string:
      slot.kind = Kind::kString;
      return value.get_string().get(slot.text);
    case od::json_type::number:
      slot.kind = Kind::kNumber;
      slot.text = trim_right(value.raw_json_token());
      return is_json_number(slot.text) ? simdjson::SUCCESS : simdjson::NUMBER_ERROR;
    case od::json_type::object:
      slot.kind = Kind::kObject;
      if (is_metadata) {
        // Stored as jsonb from its raw text: from its '{' to just before the next token.
        const char* begin = value.raw_json_token().data();
        SIMDJSON_TRY(walk(value, 0, metadata_limits_, slot.has_nul));
        const char* end = nullptr;
        SIMDJSON_TRY(value.current_location().get(end));
        slot.text = trim_right(std::string_view(begin, static_cast<size_t>(end - begin)));
        return simdjson::SUCCESS;
      }
      return walk(value, 0, unknown_limits_, slot.has_nul);
    case od::json_type::array:
      slot.kind = Kind::kArray;
      return walk(value, 0, unknown_limits_, slot.has_nul);
    case od::json_type::boolean:
      slot.kind = Kind::kBoolean;
      return walk(value, 0, unknown_limits_, slot.has_nul);
    case od::json_type::null:
      slot.kind = Kind::kNull;
      return walk(value, 0, unknown_limits_, slot.has_nul);
  }
  return simdjson::TAPE_ERROR;
}

std::optional<Rejection> EventParser::Impl::not_an_object(od::document& doc, od::json_type type,
                                                          const char* json, size_t size) {
  // Still valid JSON? Walk it; a scalar must also be the only thing in the message.
  error_code err = simdjson::SUCCESS;
  bool ignored = false;
  std::string_view kind = "array";
  const char* scalar_end = nullptr;
  switch (type) {
    case od::json_type::array: {
      od::array array;
      if (!(err = doc.get_array().get(array))) {
        for (auto element_result : array) {
          od::value element;
          if ((err = std::move(element_result).get(element))) break;
          if ((err = walk(element, 1, unknown_limits_, ignored))) break;
        }
      }
      break;
    }
    case od::json_type::string: {
      kind = "string";
      std::string_view s;
      err = doc.get_string().get(s);
      break;
    }
    case od::json_type::number:
    case od::json_type::boolean:
    case od::json_type::null: {
      kind = type == od::json_type::number    ? "number"
             : type == od::json_type::boolean ? "boolean"
                                              : "null";
      std::string_view token;
      if (!(err = doc.raw_json_token().get(token))) {
        token = trim_right(token);
        const bool ok = type == od::json_type::number    ? is_json_number(token)
                        : type == od::json_type::boolean ? token == "true" || token == "false"
                                                         : token == "null";
        if (!ok) err = simdjson::INCORRECT_TYPE;
        scalar_end = token.data() + token.size();
      }
      break;
    }
    case od::json_type::object:
      break;
  }
  if (err == simdjson::DEPTH_ERROR) {
    return reject(RejectReason::kTooLarge, fmt::format("too large: nested deeper than {} levels",
                                                       unknown_limits_.max_depth));
  }
  if (err) return invalid_json(err);
  const bool at_end = scalar_end != nullptr
                          ? std::all_of(scalar_end, json + size, is_json_space)
                          : doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
  if (!at_end) {
    return reject(RejectReason::kInvalidJson,
                  "invalid JSON: trailing content after the top-level value");
  }
  return reject(RejectReason::kNotAnObject,
                fmt::format("not an object: the message is a JSON {}", kind));
}

std::optional<Rejection> EventParser::Impl::required_text(const Slot& s, std::string_view name,
                                                          size_t max_chars) const {
  if (s.missing()) return missing(name);
  if (s.kind != Kind::kString) return wrong_type(name, "string", s.kind);
  if (s.text.empty()) return invalid_value(name, "empty");
  if (s.text.size() > max_chars) {  // bytes >= code points: count only when it can matter
    const size_t chars = utf8_length(s.text);
    if (chars > max_chars) {
      return invalid_value(name,
                           fmt::format("{} characters, at most {} allowed", chars, max_chars));
    }
  }
  if (has_nul(s.text)) return contains_nul(name);
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::optional_text(const Slot& s,
                                                          std::string_view name) const {
  if (s.missing()) return std::nullopt;
  if (s.kind != Kind::kString) return wrong_type(name, "string", s.kind);
  if (has_nul(s.text)) return contains_nul(name);
  return std::nullopt;
}

template <size_t N>
std::optional<Rejection> EventParser::Impl::enum_text(
    const Slot& s, std::string_view name, bool required,
    const std::array<std::string_view, N>& allowed, std::string_view expected) const {
  if (s.missing()) return required ? std::optional(missing(name)) : std::nullopt;
  if (s.kind != Kind::kString) return wrong_type(name, "string", s.kind);
  if (!one_of(allowed, s.text)) {
    return invalid_value(name, fmt::format("expected {}, got {}", expected, quoted(s.text)));
  }
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::uuid(const Slot& s, std::string_view name,
                                                 bool required, std::array<uint8_t, 16>& id) const {
  if (s.missing()) return required ? std::optional(missing(name)) : std::nullopt;
  if (s.kind != Kind::kString) return wrong_type(name, "UUID string", s.kind);
  const auto parsed = parse_uuid(s.text);
  if (!parsed) {
    return invalid_value(
        name, fmt::format("expected a UUID (8-4-4-4-12 hex digits), got {}", quoted(s.text)));
  }
  id = *parsed;
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::inet(const Slot& s, std::string_view name,
                                                 InetAddress& address) const {
  if (s.missing()) return std::nullopt;
  if (s.kind != Kind::kString) return wrong_type(name, "IP address string", s.kind);
  const auto parsed = parse_inet(s.text);
  if (!parsed) {
    return invalid_value(name,
                         fmt::format("expected an IPv4 or IPv6 address, got {}", quoted(s.text)));
  }
  address = *parsed;
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::timestamp(const Slot& s, const MessageContext& ctx,
                                                      int64_t& unix_micros) const {
  constexpr std::string_view kName = "ts";
  if (s.missing()) return missing(kName);
  if (s.kind == Kind::kString) {
    const TimestampResult r = parse_timestamp(s.text);
    if (!r.ok()) {
      return invalid_value(kName, fmt::format("{}: {}", describe(r.error), quoted(s.text)));
    }
    unix_micros = r.unix_micros;
  } else if (s.kind == Kind::kNumber) {
    const IntegerResult r = parse_json_integer(s.text);
    int64_t micros = 0;
    if (r.error == IntegerError::kNotInteger) {
      return invalid_value(kName,
                           fmt::format("epoch milliseconds must be an integer, got {}", s.text));
    }
    if (!r.ok() || __builtin_mul_overflow(r.value, int64_t{1000}, &micros)) {
      return reject(RejectReason::kTsOutOfRange,
                    fmt::format("ts out of range: {} epoch milliseconds is not a representable "
                                "time",
                                s.text));
    }
    unix_micros = micros;
  } else {
    return wrong_type(kName, "RFC 3339 string or integer epoch milliseconds", s.kind);
  }
  const __int128 delta = static_cast<__int128>(unix_micros) - ctx.now_unix_micros;
  const bool too_old = delta < -static_cast<__int128>(limits_.max_age_micros);
  const bool too_new = delta > static_cast<__int128>(limits_.max_future_micros);
  if (too_old || too_new) {
    const std::string shown =
        s.kind == Kind::kString ? std::string(s.text) : fmt::format("{} (epoch ms)", s.text);
    return reject(RejectReason::kTsOutOfRange,
                  too_old ? fmt::format("ts out of range: {} is older than {}", shown,
                                        describe_duration(limits_.max_age_micros))
                          : fmt::format("ts out of range: {} is more than {} in the future", shown,
                                        describe_duration(limits_.max_future_micros)));
  }
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::int32_field(const Slot& s, std::string_view name,
                                                        bool required, int32_t& value) const {
  if (s.missing()) return required ? std::optional(missing(name)) : std::nullopt;
  if (s.kind != Kind::kNumber) return wrong_type(name, "integer", s.kind);
  const IntegerResult r = parse_json_integer(s.text);
  if (r.error == IntegerError::kNotInteger) {
    return invalid_value(name, fmt::format("expected an integer, got {}", s.text));
  }
  if (!r.ok() || r.value < 0 || r.value > kInt32Max) {
    return invalid_value(name, fmt::format("{} is out of range 0..{}", s.text, kInt32Max));
  }
  value = static_cast<int32_t>(r.value);
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::cost(const Slot& s, int64_t& nanos) const {
  constexpr std::string_view kName = "cost_usd";
  if (s.missing()) return missing(kName);
  if (s.kind != Kind::kNumber && s.kind != Kind::kString) {
    return wrong_type(kName, "number or decimal string", s.kind);
  }
  const DecimalResult r = parse_decimal_nanos(s.text);
  if (!r.ok()) {
    return invalid_value(
        kName, fmt::format("{}: {}", describe(r.error),
                           s.kind == Kind::kString ? quoted(s.text) : std::string(s.text)));
  }
  if (r.nanos > limits_.max_cost_nanos) {
    return invalid_value(kName,
                         fmt::format("{} is above the limit {} (--max-cost-usd)",
                                     s.kind == Kind::kString ? quoted(s.text) : std::string(s.text),
                                     format_decimal_nanos(limits_.max_cost_nanos)));
  }
  nanos = r.nanos;
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::metadata(const Slot& s) const {
  constexpr std::string_view kName = "metadata";
  if (s.missing()) return std::nullopt;
  if (s.kind != Kind::kObject) return wrong_type(kName, "object", s.kind);
  if (s.text.size() > limits_.max_metadata_bytes) {
    return reject(RejectReason::kTooLarge, fmt::format("too large: metadata: {} bytes, limit {}",
                                                       s.text.size(), limits_.max_metadata_bytes));
  }
  if (s.has_nul) return contains_nul(kName);
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::parse_audit(const char* json, size_t size,
                                                        const MessageContext& ctx, std::string& out,
                                                        ParsedEvent& event) {
  namespace f = audit;
  std::array<Slot, f::kCount> s{};
  if (auto r = scan(json, size, f::kNames, kAuditLookup, f::kMetadata, s)) return r;

  std::array<uint8_t, 16> event_id{}, session_id{};
  int64_t ts = 0;
  InetAddress source_ip;
  if (auto r = uuid(s[f::kEventId], f::kNames[f::kEventId], true, event_id)) return r;
  if (auto r = timestamp(s[f::kTs], ctx, ts)) return r;
  if (auto r = required_text(s[f::kTenantId], f::kNames[f::kTenantId], 128)) return r;
  if (auto r = optional_text(s[f::kActorId], f::kNames[f::kActorId])) return r;
  if (auto r = enum_text(s[f::kActorType], f::kNames[f::kActorType], false, kActorTypes,
                         "user|service|system")) {
    return r;
  }
  if (auto r = required_text(s[f::kAction], f::kNames[f::kAction], 256)) return r;
  if (auto r = optional_text(s[f::kResource], f::kNames[f::kResource])) return r;
  if (auto r = enum_text(s[f::kOutcome], f::kNames[f::kOutcome], true, kOutcomes,
                         "success|failure|denied")) {
    return r;
  }
  if (auto r = inet(s[f::kSourceIp], f::kNames[f::kSourceIp], source_ip)) return r;
  if (auto r = optional_text(s[f::kUserAgent], f::kNames[f::kUserAgent])) return r;
  if (auto r = uuid(s[f::kSessionId], f::kNames[f::kSessionId], false, session_id)) return r;
  if (auto r = metadata(s[f::kMetadata])) return r;

  // Valid: encode in the order of the spec's columns.
  CopyEncoder e(out);
  auto text_or_null = [&](const Slot& slot) {
    slot.kind == Kind::kString ? e.text(slot.text) : e.null();
  };
  e.begin_row(event_spec(EventTable::kAudit).field_count);
  e.uuid(event_id);
  e.timestamptz(ts);
  e.text(s[f::kTenantId].text);
  text_or_null(s[f::kActorId]);
  text_or_null(s[f::kActorType]);
  e.text(s[f::kAction].text);
  text_or_null(s[f::kResource]);
  e.text(s[f::kOutcome].text);
  s[f::kSourceIp].kind == Kind::kString ? e.inet(source_ip) : e.null();
  text_or_null(s[f::kUserAgent]);
  s[f::kSessionId].kind == Kind::kString ? e.uuid(session_id) : e.null();
  s[f::kMetadata].kind == Kind::kObject ? e.jsonb(s[f::kMetadata].text) : e.null();
  e.int4(ctx.kafka_partition);
  e.int8(ctx.kafka_offset);
  event.ts_unix_micros = ts;
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::parse_invocation(const char* json, size_t size,
                                                             const MessageContext& ctx,
                                                             std::string& out, ParsedEvent& event) {
  namespace f = invocation;
  std::array<Slot, f::kCount> s{};
  if (auto r = scan(json, size, f::kNames, kInvocationLookup, f::kMetadata, s)) return r;

  std::array<uint8_t, 16> invocation_id{}, session_id{};
  int64_t ts = 0;
  int64_t cost_nanos = 0;
  int32_t prompt_tokens = 0, completion_tokens = 0, latency_ms = 0;
  if (auto r = uuid(s[f::kInvocationId], f::kNames[f::kInvocationId], true, invocation_id)) {
    return r;
  }
  if (auto r = timestamp(s[f::kTs], ctx, ts)) return r;
  if (auto r = required_text(s[f::kTenantId], f::kNames[f::kTenantId], 128)) return r;
  if (auto r = optional_text(s[f::kUserId], f::kNames[f::kUserId])) return r;
  if (auto r = uuid(s[f::kSessionId], f::kNames[f::kSessionId], false, session_id)) return r;
  if (auto r = required_text(s[f::kProvider], f::kNames[f::kProvider], 128)) return r;
  if (auto r = required_text(s[f::kModel], f::kNames[f::kModel], 256)) return r;
  if (auto r = int32_field(s[f::kPromptTokens], f::kNames[f::kPromptTokens], true, prompt_tokens)) {
    return r;
  }
  if (auto r = int32_field(s[f::kCompletionTokens], f::kNames[f::kCompletionTokens], true,
                           completion_tokens)) {
    return r;
  }
  if (auto r = int32_field(s[f::kLatencyMs], f::kNames[f::kLatencyMs], false, latency_ms)) {
    return r;
  }
  if (auto r = enum_text(s[f::kStatus], f::kNames[f::kStatus], true, kStatuses,
                         "ok|error|timeout|cancelled")) {
    return r;
  }
  if (auto r = cost(s[f::kCostUsd], cost_nanos)) return r;
  if (auto r = optional_text(s[f::kErrorCode], f::kNames[f::kErrorCode])) return r;
  if (auto r = metadata(s[f::kMetadata])) return r;

  // Valid: encode in the order of the spec's columns.
  CopyEncoder e(out);
  auto text_or_null = [&](const Slot& slot) {
    slot.kind == Kind::kString ? e.text(slot.text) : e.null();
  };
  e.begin_row(event_spec(EventTable::kInvocations).field_count);
  e.uuid(invocation_id);
  e.timestamptz(ts);
  e.text(s[f::kTenantId].text);
  text_or_null(s[f::kUserId]);
  s[f::kSessionId].kind == Kind::kString ? e.uuid(session_id) : e.null();
  e.text(s[f::kProvider].text);
  e.text(s[f::kModel].text);
  e.int4(prompt_tokens);
  e.int4(completion_tokens);
  s[f::kLatencyMs].kind == Kind::kNumber ? e.int4(latency_ms) : e.null();
  e.text(s[f::kStatus].text);
  e.numeric_nanos(cost_nanos);
  text_or_null(s[f::kErrorCode]);
  s[f::kMetadata].kind == Kind::kObject ? e.jsonb(s[f::kMetadata].text) : e.null();
  e.int4(ctx.kafka_partition);
  e.int8(ctx.kafka_offset);

  event.ts_unix_micros = ts;
  event.cost.tenant_id = s[f::kTenantId].text;
  event.cost.ts_unix_micros = ts;
  event.cost.cost_nanos = cost_nanos;
  event.cost.prompt_tokens = prompt_tokens;
  event.cost.completion_tokens = completion_tokens;
  return std::nullopt;
}

EventParser::EventParser(ParserLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
EventParser::~EventParser() = default;
EventParser::EventParser(EventParser&&) noexcept = default;
EventParser& EventParser::operator=(EventParser&&) noexcept = default;

std::optional<Rejection> EventParser::parse(EventTable table, const char* json, size_t size,
                                            const MessageContext& ctx, std::string& out,
                                            ParsedEvent& event) {
  static constexpr auto kParsers = Impl::parsers();
  static_assert(
      std::none_of(kParsers.begin(), kParsers.end(), [](Impl::ParseFn f) { return f == nullptr; }),
      "every EventTable needs its parse function in Impl::parsers()");
  return (impl_.get()->*kParsers[static_cast<size_t>(table)])(json, size, ctx, out, event);
}

std::optional<Rejection> EventParser::parse_audit(const char* json, size_t size,
                                                  const MessageContext& ctx, std::string& out,
                                                  int64_t& ts_unix_micros) {
  ParsedEvent event;
  auto rejection = parse(EventTable::kAudit, json, size, ctx, out, event);
  if (!rejection) ts_unix_micros = event.ts_unix_micros;
  return rejection;
}

std::optional<Rejection> EventParser::parse_invocation(const char* json, size_t size,
                                                       const MessageContext& ctx, std::string& out,
                                                       InvocationCost& cost) {
  ParsedEvent event;
  auto rejection = parse(EventTable::kInvocations, json, size, ctx, out, event);
  if (!rejection) cost = event.cost;
  return rejection;
}

const ParserLimits& EventParser::limits() const { return impl_->limits(); }

}  // namespace sentinel
