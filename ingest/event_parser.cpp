#include "ingest/event_parser.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string_view>

#include "ingest/event_plan.h"
#include "ingest/scalars.h"
#include "rows/copy_encoder.h"
#include "rows/tables.h"

namespace sentinel {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

/// Nesting allowed in fields that are not stored (unknown fields, wrong-typed known ones).
constexpr int kMinUnknownDepth = 256;

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

// ---- reject path: allocation allowed from here on ----

/// A value from the message, quoted for a detail: at most 64 bytes (cut on a code point
/// boundary) with quotes, backslashes and control characters escaped, so that the detail is
/// always valid text for PostgreSQL.
[[gnu::cold]] std::string quoted(std::string_view v) {
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

[[gnu::cold]] std::string describe_duration(int64_t micros) {
  constexpr int64_t kSecond = 1'000'000, kHour = 3600 * kSecond, kDay = 24 * kHour;
  auto unit = [](int64_t n, std::string_view name) {
    return fmt::format("{} {}{}", n, name, n == 1 ? "" : "s");
  };
  if (micros % kDay == 0) return unit(micros / kDay, "day");
  if (micros % kHour == 0) return unit(micros / kHour, "hour");
  if (micros % kSecond == 0) return unit(micros / kSecond, "second");
  return unit(micros, "microsecond");
}

[[gnu::cold]] Rejection reject(RejectReason reason, std::string detail) {
  return {reason, std::move(detail)};
}

[[gnu::cold]] Rejection invalid_json(error_code err, std::string_view field = {}) {
  if (field.empty()) {
    return reject(RejectReason::kInvalidJson,
                  fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  }
  return reject(
      RejectReason::kInvalidJson,
      fmt::format("invalid JSON: in field {}: {}", quoted(field), simdjson::error_message(err)));
}

[[gnu::cold]] Rejection missing(std::string_view name) {
  return reject(RejectReason::kMissingField, fmt::format("missing field: {}", name));
}

[[gnu::cold]] Rejection wrong_type(std::string_view name, std::string_view expected, Kind got) {
  return reject(RejectReason::kWrongType,
                fmt::format("wrong type: {}: expected {}, got {}", name, expected, kind_name(got)));
}

[[gnu::cold]] Rejection invalid_value(std::string_view name, std::string_view problem) {
  return reject(RejectReason::kInvalidValue, fmt::format("invalid value: {}: {}", name, problem));
}

[[gnu::cold]] Rejection contains_nul(std::string_view name) {
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
        od::value element = element_result.value_unsafe();  // a cursor: trivially copyable
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

/// What the scan kept of one container object of x-source paths.
struct NodeState {
  Kind kind = Kind::kAbsent;
  bool has_unknown = false;  ///< a member no property reads (the object then goes to `extra`)
  bool has_nul = false;      ///< a NUL in one of those members
};

/// What a valid property decoded to, besides its PropertyValue.
struct Decoded {
  std::array<uint8_t, 16> uuid{};
  std::array<char, 36> uuid_text{};
  InetAddress inet;
};

/// One type's plan and the buffers its parse fills: sized once, reused by every message.
struct TypeState {
  TypePlan plan;
  std::vector<Slot> slots;
  std::vector<NodeState> nodes;
  std::vector<PropertyValue> values;
  std::vector<Decoded> decoded;
};

/// The end of a key's raw text: `raw` is just after its opening quote (the key is valid JSON).
const char* raw_key_end(const char* raw) {
  while (*raw != '"') raw += *raw == '\\' ? 2 : 1;
  return raw;
}

void uuid_text(const std::array<uint8_t, 16>& id, std::array<char, 36>& out) {
  constexpr char kDigits[] = "0123456789abcdef";
  size_t o = 0;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = kDigits[id[i] >> 4];
    out[o++] = kDigits[id[i] & 15];
  }
}

/// True when a valid UUID text (36 bytes: hex digits and '-') has no upper-case digit: every
/// byte then has bit 0x20 set ('0'-'9', '-', 'a'-'f' do; 'A'-'F' do not). Checked by words.
bool lower_case_uuid(std::string_view text) {
  uint64_t all = ~uint64_t{0};
  for (size_t k = 0; k < 32; k += 8) {
    uint64_t w;
    std::memcpy(&w, text.data() + k, 8);
    all &= w;
  }
  uint32_t tail;
  std::memcpy(&tail, text.data() + 32, 4);
  constexpr uint64_t kBit = 0x2020202020202020ULL;
  return (all & kBit) == kBit && (tail & 0x20202020U) == 0x20202020U;
}

/// The value as a detail shows it: strings quoted, numbers as written.
[[gnu::cold]] std::string shown(const Slot& s) {
  return s.kind == Kind::kString ? quoted(s.text) : std::string(s.text);
}

}  // namespace

class EventParser::Impl {
 public:
  Impl(std::shared_ptr<const Catalog> catalog, ParserLimits limits);

  std::optional<Rejection> parse(int type, const char* json, size_t size, const MessageContext& ctx,
                                 std::string& out, ParsedEvent& event);
  const ParserLimits& limits() const { return limits_; }
  const Catalog& catalog() const { return *catalog_; }
  int builtin_index(EventTable t) const { return builtin_[static_cast<size_t>(t)]; }

 private:
  std::optional<Rejection> scan(TypeState& st, const char* json, size_t size);
  std::optional<Rejection> scan_object(TypeState& st, od::object& object, int node);
  std::optional<Rejection> read_container(TypeState& st, od::value& value, int child,
                                          const char* raw_key);
  void append_extra(const char* raw_key, std::string_view raw_value);
  std::optional<Rejection> read_unknown(TypeState& st, od::value& value, int node,
                                        std::string_view key, const char* raw_key);
  error_code read_slot(od::value& value, bool is_jsonb, Slot& slot);
  std::optional<Rejection> not_an_object(od::document& doc, od::json_type type, const char* json,
                                         size_t size);
  std::optional<Rejection> after_scan(const TypeState& st) const;

  std::optional<Rejection> check(const TypeState& st, size_t i, const MessageContext& ctx,
                                 PropertyValue& v, Decoded& d) const;
  std::optional<Rejection> check_text(const PropertyPlan& p, const Slot& s) const;
  std::optional<Rejection> check_uuid(const PropertyPlan& p, const Slot& s, PropertyValue& v,
                                      Decoded& d) const;
  std::optional<Rejection> check_timestamp(const TypePlan& plan, const PropertyPlan& p,
                                           const Slot& s, const MessageContext& ctx,
                                           int64_t& unix_micros) const;
  std::optional<Rejection> check_integer(const PropertyPlan& p, const Slot& s,
                                         int64_t& value) const;
  std::optional<Rejection> check_numeric(const PropertyPlan& p, const Slot& s,
                                         int64_t& units) const;
  std::optional<Rejection> check_jsonb(const PropertyPlan& p, const Slot& s) const;
  void encode(const TypeState& st, const MessageContext& ctx, std::string& out) const;
  void fill_event(const TypeState& st, ParsedEvent& event) const;

  std::shared_ptr<const Catalog> catalog_;
  ParserLimits limits_;
  WalkLimits unknown_limits_;
  WalkLimits metadata_limits_;
  std::vector<TypeState> types_;
  std::array<int, kEventTableCount> builtin_{};
  od::parser parser_;

  // Unknown fields of the message being parsed.
  std::string extra_;         ///< keep: the `extra` object's text, while within its limit
  size_t extra_bytes_ = 0;    ///< its full size, also beyond the limit
  int extra_count_ = 0;       ///< members in it
  std::string_view nul_key_;  ///< keep: the first unknown field holding a NUL
  bool extra_nul_ = false;
  int unknown_node_ = -1;  ///< reject: where the first unknown field is
  std::string_view unknown_key_;
};

EventParser::Impl::Impl(std::shared_ptr<const Catalog> catalog, ParserLimits limits)
    : catalog_(std::move(catalog)),
      limits_(limits),
      unknown_limits_{std::max(kMinUnknownDepth, limits.max_depth), false},
      metadata_limits_{limits.max_depth, true} {
  if (!catalog_) throw std::invalid_argument("EventParser needs a catalog");
  for (const EventType& type : catalog_->types()) {
    TypeState st;
    st.plan = compile_plan(type, limits_);
    st.slots.resize(st.plan.properties.size());
    st.nodes.resize(st.plan.nodes.size());
    st.values.resize(st.plan.properties.size());
    st.decoded.resize(st.plan.properties.size());
    types_.push_back(std::move(st));
  }
  for (const EventSpec& spec : kEventSpecs) {
    builtin_[static_cast<size_t>(spec.table)] = catalog_->index_of(spec.noun);
  }
  // Size the buffers once for the largest message accepted: no allocation while parsing.
  if (parser_.allocate(std::max<size_t>(limits_.max_message_bytes, 64)) != simdjson::SUCCESS) {
    throw std::bad_alloc();
  }
  extra_.reserve(limits_.max_metadata_bytes + 2);
}

std::optional<Rejection> EventParser::Impl::scan(TypeState& st, const char* json, size_t size) {
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
  if (auto r = scan_object(st, object, 0)) return r;
  // On-Demand stops at the end of the object; anything after it is not JSON.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return reject(RejectReason::kInvalidJson,
                  "invalid JSON: trailing content after the top-level object");
  }
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::scan_object(TypeState& st, od::object& object,
                                                        int node) {
  const KeyLookup& lookup = st.plan.nodes[static_cast<size_t>(node)].lookup;
  error_code err = simdjson::SUCCESS;
  for (auto field_result : object) {
    if ((err = field_result.error())) return invalid_json(err);
    // Used in place: copying the field out (get()) cost ~10% of the parse with GCC, a 16-byte
    // load of two fields just stored separately, which the CPU cannot forward.
    od::field&& field = std::move(field_result).value_unsafe();
    const char* raw_key = field.key().raw();
    std::string_view key;
    if ((err = field.unescaped_key().get(key))) return invalid_json(err);
    const int target = lookup.find(key);
    if (target >= 0) {
      const PropertyPlan& p = st.plan.properties[static_cast<size_t>(target)];
      Slot& slot = st.slots[static_cast<size_t>(target)];
      if (slot.kind != Kind::kAbsent) {
        return reject(RejectReason::kInvalidJson, fmt::format("duplicate field: {}", p.name));
      }
      err = read_slot(field.value(), p.type == ColumnType::kJsonb, slot);
      if (err == simdjson::DEPTH_ERROR) {
        const int limit =
            p.type == ColumnType::kJsonb ? metadata_limits_.max_depth : unknown_limits_.max_depth;
        return reject(RejectReason::kTooLarge,
                      fmt::format("too large: {}: nested deeper than {} levels", p.name, limit));
      }
      if (err) return invalid_json(err, p.name);
    } else if (is_container_target(target)) {
      if (auto r = read_container(st, field.value(), container_of_target(target), raw_key)) {
        return r;
      }
    } else if (auto r = read_unknown(st, field.value(), node, key, raw_key)) {
      return r;
    }
  }
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::read_container(TypeState& st, od::value& value,
                                                           int child, const char* raw_key) {
  const NodePlan& plan = st.plan.nodes[static_cast<size_t>(child)];
  NodeState& ns = st.nodes[static_cast<size_t>(child)];
  if (ns.kind != Kind::kAbsent) {
    return reject(RejectReason::kInvalidJson, fmt::format("duplicate field: {}", plan.path));
  }
  od::json_type type;
  error_code err = value.type().get(type);
  if (!err && type == od::json_type::object) {
    ns.kind = Kind::kObject;
    const char* begin = value.raw_json_token().data();
    od::object object;
    if ((err = value.get_object().get(object))) return invalid_json(err, plan.path);
    if (auto r = scan_object(st, object, child)) return r;
    const char* end = nullptr;
    if ((err = value.current_location().get(end))) return invalid_json(err, plan.path);
    if (ns.has_unknown) {
      if (plan.parent > 0) {  // the outermost container goes to `extra` whole
        NodeState& parent = st.nodes[static_cast<size_t>(plan.parent)];
        parent.has_unknown = true;
        parent.has_nul = parent.has_nul || ns.has_nul;
      } else if (st.plan.type->unknown_fields == UnknownFields::kKeep) {
        append_extra(raw_key,
                     trim_right(std::string_view(begin, static_cast<size_t>(end - begin))));
        if (ns.has_nul && !extra_nul_) {
          extra_nul_ = true;
          nul_key_ = plan.key;
        }
      }
    }
    return std::nullopt;
  }
  Slot slot;
  err = read_slot(value, false, slot);
  ns.kind = slot.kind;
  if (err == simdjson::DEPTH_ERROR) {
    return reject(RejectReason::kTooLarge,
                  fmt::format("too large: {}: nested deeper than {} levels", plan.path,
                              unknown_limits_.max_depth));
  }
  if (err) return invalid_json(err, plan.path);
  return std::nullopt;
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
          if ((err = element_result.error())) break;
          element = element_result.value_unsafe();
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
void EventParser::Impl::append_extra(const char* raw_key, std::string_view raw_value) {
  const std::string_view key(raw_key, static_cast<size_t>(raw_key_end(raw_key) - raw_key));
  // {"k":v,"k2":v2}: the braces, each member's quotes and colon, the commas between.
  const size_t grows = (extra_count_ == 0 ? 2 : 1) + key.size() + 3 + raw_value.size();
  extra_bytes_ += grows;
  ++extra_count_;
  if (extra_bytes_ > limits_.max_metadata_bytes) return;  // too large: reported after the scan
  if (extra_.empty()) {
    extra_ += '{';
  } else {
    extra_.back() = ',';
  }
  extra_ += '"';
  extra_ += key;
  extra_ += "\":";
  extra_ += raw_value;
  extra_ += '}';
}

std::optional<Rejection> EventParser::Impl::read_unknown(TypeState& st, od::value& value, int node,
                                                         std::string_view key,
                                                         const char* raw_key) {
  const UnknownFields mode = st.plan.type->unknown_fields;
  const bool keep = mode == UnknownFields::kKeep;
  const char* begin = nullptr;
  std::string_view token;
  bool nul = false;
  error_code err = simdjson::SUCCESS;
  if (keep && node == 0) {
    token = value.raw_json_token();
    begin = token.data();
  }
  od::json_type type = od::json_type::null;
  if (!(err = value.type().get(type))) {
    err = walk(value, 0, {unknown_limits_.max_depth, keep}, nul);
  }
  if (err == simdjson::DEPTH_ERROR) {
    return reject(RejectReason::kTooLarge,
                  fmt::format("too large: field {}: nested deeper than {} levels", quoted(key),
                              unknown_limits_.max_depth));
  }
  if (err) return invalid_json(err, key);
  // Its key is stored too (in `extra`, as written): a NUL there is as unstorable as in a value.
  nul = nul || (keep && has_nul(key));
  if (mode == UnknownFields::kReject) {
    if (unknown_node_ < 0) {
      unknown_node_ = node;
      unknown_key_ = key;
    }
  } else if (keep && node > 0) {
    NodeState& ns = st.nodes[static_cast<size_t>(node)];
    ns.has_unknown = true;
    ns.has_nul = ns.has_nul || nul;
  } else if (keep) {
    if (type == od::json_type::object || type == od::json_type::array) {
      const char* end = nullptr;
      if ((err = value.current_location().get(end))) return invalid_json(err, key);
      token = std::string_view(begin, static_cast<size_t>(end - begin));
    }
    append_extra(raw_key, trim_right(token));
    if (nul && !extra_nul_) {
      extra_nul_ = true;
      nul_key_ = key;
    }
  }
  return std::nullopt;
}

error_code EventParser::Impl::read_slot(od::value& value, bool is_jsonb, Slot& slot) {
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
    case od::json_type::array:
      slot.kind = type == od::json_type::object ? Kind::kObject : Kind::kArray;
      if (is_jsonb) {
        // Stored as jsonb from its raw text: from its '{' to just before the next token.
        const char* begin = value.raw_json_token().data();
        SIMDJSON_TRY(walk(value, 0, metadata_limits_, slot.has_nul));
        const char* end = nullptr;
        SIMDJSON_TRY(value.current_location().get(end));
        slot.text = trim_right(std::string_view(begin, static_cast<size_t>(end - begin)));
        return simdjson::SUCCESS;
      }
      return walk(value, 0, unknown_limits_, slot.has_nul);
    case od::json_type::boolean:
      slot.kind = Kind::kBoolean;
      slot.text = trim_right(value.raw_json_token());
      return walk(value, 0, unknown_limits_, slot.has_nul);
    case od::json_type::null:
      slot.kind = Kind::kNull;
      return walk(value, 0, unknown_limits_, slot.has_nul);
  }
  return simdjson::TAPE_ERROR;
}

std::optional<Rejection> EventParser::Impl::after_scan(const TypeState& st) const {
  if (unknown_node_ >= 0) {
    const std::string& path = st.plan.nodes[static_cast<size_t>(unknown_node_)].path;
    const std::string name =
        path.empty() ? std::string(unknown_key_) : fmt::format("{}.{}", path, unknown_key_);
    return reject(RejectReason::kInvalidValue,
                  fmt::format("unknown field: {}", quoted(std::string_view(name))));
  }
  if (extra_bytes_ > limits_.max_metadata_bytes) {
    return reject(RejectReason::kTooLarge,
                  fmt::format("too large: {}: {} bytes, limit {}", kExtraColumn, extra_bytes_,
                              limits_.max_metadata_bytes));
  }
  if (extra_nul_) return contains_nul(fmt::format("{}: field {}", kExtraColumn, quoted(nul_key_)));
  return std::nullopt;
}

[[gnu::always_inline]] inline std::optional<Rejection> EventParser::Impl::check_text(
    const PropertyPlan& p, const Slot& s) const {
  if (!p.enum_values.empty() &&
      std::find(p.enum_values.begin(), p.enum_values.end(), s.text) == p.enum_values.end()) {
    return invalid_value(p.name,
                         fmt::format("expected {}, got {}", p.enum_expected, quoted(s.text)));
  }
  if (p.min_length > 0 && s.text.empty()) return invalid_value(p.name, "empty");
  // Bytes >= code points: count only when it can matter.
  if (p.max_length >= 0 && s.text.size() > static_cast<size_t>(p.max_length)) {
    const size_t chars = utf8_length(s.text);
    if (chars > static_cast<size_t>(p.max_length)) {
      return invalid_value(p.name,
                           fmt::format("{} characters, at most {} allowed", chars, p.max_length));
    }
  }
  if (p.min_length > 1) {
    const size_t chars = utf8_length(s.text);
    if (chars < static_cast<size_t>(p.min_length)) {
      return invalid_value(p.name,
                           fmt::format("{} characters, at least {} required", chars, p.min_length));
    }
  }
  if (has_nul(s.text)) return contains_nul(p.name);
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::check_timestamp(const TypePlan& plan,
                                                            const PropertyPlan& p, const Slot& s,
                                                            const MessageContext& ctx,
                                                            int64_t& unix_micros) const {
  if (s.kind == Kind::kString) {
    const TimestampResult r = parse_timestamp(s.text);
    if (!r.ok()) {
      return invalid_value(p.name, fmt::format("{}: {}", describe(r.error), quoted(s.text)));
    }
    unix_micros = r.unix_micros;
  } else if (s.kind == Kind::kNumber && (p.json_types & kJsonInteger) != 0) {
    const IntegerResult r = parse_json_integer(s.text);
    int64_t micros = 0;
    if (r.error == IntegerError::kNotInteger) {
      return invalid_value(p.name,
                           fmt::format("epoch milliseconds must be an integer, got {}", s.text));
    }
    if (!r.ok() || __builtin_mul_overflow(r.value, int64_t{1000}, &micros)) {
      const std::string detail = fmt::format(
          "{} out of range: {} epoch milliseconds is not a representable time", p.name, s.text);
      return p.partition ? reject(RejectReason::kTsOutOfRange, detail)
                         : reject(RejectReason::kInvalidValue, "invalid value: " + detail);
    }
    unix_micros = micros;
  } else {
    return wrong_type(p.name, p.expected, s.kind);
  }
  if (!p.partition) return std::nullopt;
  const __int128 delta = static_cast<__int128>(unix_micros) - ctx.now_unix_micros;
  const bool too_old = delta < -static_cast<__int128>(plan.max_age_micros);
  const bool too_new = delta > static_cast<__int128>(plan.max_future_micros);
  if (too_old || too_new) {
    const std::string value =
        s.kind == Kind::kString ? std::string(s.text) : fmt::format("{} (epoch ms)", s.text);
    return reject(RejectReason::kTsOutOfRange,
                  too_old ? fmt::format("{} out of range: {} is older than {}", p.name, value,
                                        describe_duration(plan.max_age_micros))
                          : fmt::format("{} out of range: {} is more than {} in the future", p.name,
                                        value, describe_duration(plan.max_future_micros)));
  }
  return std::nullopt;
}

[[gnu::always_inline]] inline std::optional<Rejection> EventParser::Impl::check_integer(
    const PropertyPlan& p, const Slot& s, int64_t& value) const {
  if (s.kind != Kind::kNumber) return wrong_type(p.name, p.expected, s.kind);
  const IntegerResult r = parse_json_integer(s.text);
  if (r.error == IntegerError::kNotInteger) {
    return invalid_value(p.name, fmt::format("expected an integer, got {}", s.text));
  }
  if (!r.ok() || r.value < p.lower || r.value > p.upper) {
    return invalid_value(p.name,
                         fmt::format("{} is out of range {}..{}", s.text, p.lower, p.upper));
  }
  value = r.value;
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::check_numeric(const PropertyPlan& p, const Slot& s,
                                                          int64_t& units) const {
  if (s.kind != Kind::kNumber && (s.kind != Kind::kString || (p.json_types & kJsonString) == 0)) {
    return wrong_type(p.name, p.expected, s.kind);
  }
  const ScaledDecimal r = parse_decimal(s.text, p.scale);
  const bool below =
      p.has_lower && (r.error == DecimalError::kOverflow
                          ? r.negative
                          : r.units < p.lower || (r.units == p.lower && r.rounding > 0));
  if (r.error == DecimalError::kSyntax) {
    return invalid_value(p.name, fmt::format("{}: {}", describe(r.error), shown(s)));
  }
  if (below) {
    if (p.lower == 0) return invalid_value(p.name, fmt::format("negative: {}", shown(s)));
    return invalid_value(p.name, fmt::format("{} is below the minimum {}", shown(s),
                                             format_decimal(p.lower, p.scale)));
  }
  if (r.error == DecimalError::kOverflow ||
      (p.precision_limit > 0 && (r.units >= p.precision_limit || r.units <= -p.precision_limit))) {
    return invalid_value(p.name, fmt::format("too large: {} {}", shown(s), p.too_large));
  }
  if (p.has_upper && (r.units > p.upper || (r.units == p.upper && r.rounding < 0))) {
    return invalid_value(p.name, fmt::format("{} is above the maximum {}", shown(s),
                                             format_decimal(p.upper, p.scale)));
  }
  if (p.capped && r.units > p.cap_units) {
    return invalid_value(p.name, fmt::format("{} is above the limit {} (--max-cost-usd)", shown(s),
                                             format_decimal(p.cap_units, p.scale)));
  }
  units = r.units;
  return std::nullopt;
}

std::optional<Rejection> EventParser::Impl::check_jsonb(const PropertyPlan& p,
                                                        const Slot& s) const {
  const bool ok = (s.kind == Kind::kObject && (p.json_types & kJsonObject) != 0) ||
                  (s.kind == Kind::kArray && (p.json_types & kJsonArray) != 0);
  if (!ok) return wrong_type(p.name, p.expected, s.kind);
  if (s.text.size() > limits_.max_metadata_bytes) {
    return reject(RejectReason::kTooLarge, fmt::format("too large: {}: {} bytes, limit {}", p.name,
                                                       s.text.size(), limits_.max_metadata_bytes));
  }
  if (s.has_nul) return contains_nul(p.name);
  return std::nullopt;
}

// One case per column type, each a few lines: splitting it would only move the switch.
// NOLINTNEXTLINE(readability-function-size)
[[gnu::always_inline]] inline std::optional<Rejection> EventParser::Impl::check(
    const TypeState& st, size_t i, const MessageContext& ctx, PropertyValue& v, Decoded& d) const {
  const PropertyPlan& p = st.plan.properties[i];
  const Slot& s = st.slots[i];
  for (int n = p.container; n > 0; n = st.plan.nodes[static_cast<size_t>(n)].parent) {
    const Kind k = st.nodes[static_cast<size_t>(n)].kind;
    if (k != Kind::kAbsent && k != Kind::kNull && k != Kind::kObject) {
      return reject(RejectReason::kWrongType,
                    fmt::format("wrong type: {}: expected {} to be an object, got {}", p.name,
                                st.plan.nodes[static_cast<size_t>(n)].path, kind_name(k)));
    }
  }
  if (s.missing()) {
    v.present = false;
    return p.required ? std::optional(missing(p.name)) : std::nullopt;
  }
  // Present unless rejected, and a rejected message's values are never read: set it first, so
  // that each case returns its check's result directly (no optional<Rejection> moved around).
  v.present = true;
  if (p.type == ColumnType::kText) {  // the most common type, before the switch's jump
    if (s.kind != Kind::kString) return wrong_type(p.name, p.expected, s.kind);
    v.text = s.text;
    return check_text(p, s);
  }
  switch (p.type) {
    case ColumnType::kText:
      if (s.kind != Kind::kString) return wrong_type(p.name, p.expected, s.kind);
      v.text = s.text;
      return check_text(p, s);
    case ColumnType::kUuid:
      return check_uuid(p, s, v, d);
    case ColumnType::kTimestamptz:
      return check_timestamp(st.plan, p, s, ctx, v.number);
    case ColumnType::kInt4:
    case ColumnType::kInt8:
      return check_integer(p, s, v.number);
    case ColumnType::kNumeric:
      return check_numeric(p, s, v.number);
    case ColumnType::kBool:
      if (s.kind != Kind::kBoolean) return wrong_type(p.name, p.expected, s.kind);
      v.number = s.text.front() == 't' ? 1 : 0;
      return std::nullopt;
    case ColumnType::kInet: {
      if (s.kind != Kind::kString) return wrong_type(p.name, p.expected, s.kind);
      const auto parsed = parse_inet(s.text);
      if (!parsed) {
        return invalid_value(
            p.name, fmt::format("expected an IPv4 or IPv6 address, got {}", quoted(s.text)));
      }
      d.inet = *parsed;
      v.text = s.text;  // a rollup key: the server's cast makes equal addresses one key
      return std::nullopt;
    }
    case ColumnType::kJsonb:
      return check_jsonb(p, s);
    case ColumnType::kCount:
      break;
  }
  return std::nullopt;
}

[[gnu::always_inline]] inline std::optional<Rejection> EventParser::Impl::check_uuid(
    const PropertyPlan& p, const Slot& s, PropertyValue& v, Decoded& d) const {
  if (s.kind != Kind::kString) return wrong_type(p.name, p.expected, s.kind);
  const auto parsed = parse_uuid(s.text);
  if (!parsed) {
    return invalid_value(
        p.name, fmt::format("expected a UUID (8-4-4-4-12 hex digits), got {}", quoted(s.text)));
  }
  d.uuid = *parsed;
  // The text is canonical already unless it has upper-case digits (parse_uuid checked the rest).
  if (lower_case_uuid(s.text)) {
    v.text = s.text;
  } else {
    uuid_text(d.uuid, d.uuid_text);
    v.text = std::string_view(d.uuid_text.data(), d.uuid_text.size());
  }
  return std::nullopt;
}

void EventParser::Impl::encode(const TypeState& st, const MessageContext& ctx,
                               std::string& out) const {
  CopyEncoder e(out);
  e.begin_row(st.plan.field_count);
  for (size_t i = 0; i < st.plan.properties.size(); ++i) {
    const PropertyValue& v = st.values[i];
    if (!v.present) {
      e.null();
      continue;
    }
    const PropertyPlan& p = st.plan.properties[i];
    // An if-chain, most common types first, not a switch: a jump table's one indirect branch
    // shared by every property mispredicts where these conditional branches do not.
    const ColumnType t = p.type;
    if (t == ColumnType::kText) {
      e.text(v.text);
    } else if (t == ColumnType::kUuid) {
      e.uuid(st.decoded[i].uuid);
    } else if (t == ColumnType::kInt4) {
      e.int4(static_cast<int32_t>(v.number));
    } else if (t == ColumnType::kTimestamptz) {
      e.timestamptz(v.number);
    } else if (t == ColumnType::kJsonb) {
      e.jsonb(st.slots[i].text);
    } else if (t == ColumnType::kNumeric) {
      e.numeric(v.number, p.scale);
    } else if (t == ColumnType::kInt8) {
      e.int8(v.number);
    } else if (t == ColumnType::kBool) {
      e.boolean(v.number != 0);
    } else {
      e.inet(st.decoded[i].inet);
    }
  }
  if (st.plan.type->unknown_fields == UnknownFields::kKeep) {
    extra_count_ > 0 ? e.jsonb(extra_) : e.null();
  }
  e.int4(ctx.kafka_partition);
  e.int8(ctx.kafka_offset);
}

void EventParser::Impl::fill_event(const TypeState& st, ParsedEvent& event) const {
  const TypePlan& plan = st.plan;
  event.values = std::span<const PropertyValue>(st.values);
  event.ts_unix_micros = st.values[static_cast<size_t>(plan.partition_index)].number;
  if (!plan.rolls_up_costs) return;
  auto number = [&](int i) { return i < 0 ? 0 : st.values[static_cast<size_t>(i)].number; };
  event.cost.tenant_id = plan.cost_tenant < 0
                             ? std::string_view{}
                             : st.values[static_cast<size_t>(plan.cost_tenant)].text;
  event.cost.ts_unix_micros = event.ts_unix_micros;
  event.cost.cost_nanos = number(plan.cost_value);
  event.cost.prompt_tokens = static_cast<int32_t>(number(plan.cost_prompt));
  event.cost.completion_tokens = static_cast<int32_t>(number(plan.cost_completion));
}

std::optional<Rejection> EventParser::Impl::parse(int type, const char* json, size_t size,
                                                  const MessageContext& ctx, std::string& out,
                                                  ParsedEvent& event) {
  if (type < 0 || static_cast<size_t>(type) >= types_.size()) {
    throw std::out_of_range(fmt::format("EventParser: no event type number {}", type));
  }
  TypeState& st = types_[static_cast<size_t>(type)];
  std::fill(st.slots.begin(), st.slots.end(), Slot{});
  std::fill(st.nodes.begin(), st.nodes.end(), NodeState{});
  extra_.clear();
  extra_bytes_ = 0;
  extra_count_ = 0;
  extra_nul_ = false;
  unknown_node_ = -1;
  if (auto r = scan(st, json, size)) return r;
  if (auto r = after_scan(st)) return r;
  for (size_t i = 0; i < st.slots.size(); ++i) {
    PropertyValue& v = st.values[i];
    // Absent and null (the common case of optional properties) without a call.
    if (st.slots[i].missing() && st.plan.properties[i].container < 0) {
      if (st.plan.properties[i].required) return missing(st.plan.properties[i].name);
      v.present = false;
      continue;
    }
    if (auto r = check(st, i, ctx, v, st.decoded[i])) return r;
  }
  encode(st, ctx, out);
  fill_event(st, event);
  return std::nullopt;
}

EventParser::EventParser(std::shared_ptr<const Catalog> catalog, ParserLimits limits)
    : impl_(std::make_unique<Impl>(std::move(catalog), limits)) {}
EventParser::EventParser(ParserLimits limits) : EventParser(load_catalog(), limits) {}
EventParser::~EventParser() = default;
EventParser::EventParser(EventParser&&) noexcept = default;
EventParser& EventParser::operator=(EventParser&&) noexcept = default;

std::optional<Rejection> EventParser::parse(int type, const char* json, size_t size,
                                            const MessageContext& ctx, std::string& out,
                                            ParsedEvent& event) {
  return impl_->parse(type, json, size, ctx, out, event);
}

std::optional<Rejection> EventParser::parse(EventTable table, const char* json, size_t size,
                                            const MessageContext& ctx, std::string& out,
                                            ParsedEvent& event) {
  const int type = impl_->builtin_index(table);
  if (type < 0) {
    throw std::logic_error(fmt::format("EventParser: the catalog has no built-in type \"{}\"",
                                       event_spec(table).noun));
  }
  return impl_->parse(type, json, size, ctx, out, event);
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

const Catalog& EventParser::catalog() const { return impl_->catalog(); }
const ParserLimits& EventParser::limits() const { return impl_->limits(); }

}  // namespace sentinel
